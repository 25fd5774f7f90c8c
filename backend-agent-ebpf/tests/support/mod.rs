//! Helpers of the kernel end-to-end test: running code inside a network
//! namespace, a raw AF_PACKET port, and a guard for the agent daemon.

#![allow(dead_code)]

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Runs `f` on a thread that joined network namespace `ns` (sockets made
/// there stay in that namespace afterwards).
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // SAFETY: a valid namespace fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread panicked")
    })
}

/// A raw Ethernet port (AF_PACKET) bound to one interface.
pub struct RawPort {
    fd: OwnedFd,
}

const PACKET_OUTGOING: u8 = 4;

impl RawPort {
    /// Opens the port inside namespace `ns`.
    pub fn open(ns: &str, iface: &str) -> std::io::Result<Self> {
        let iface = iface.to_string();
        in_netns(ns, move || {
            let name = std::ffi::CString::new(iface).unwrap();
            // SAFETY: plain socket syscalls on values we own.
            unsafe {
                let idx = libc::if_nametoindex(name.as_ptr());
                if idx == 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let proto = (libc::ETH_P_ALL as u16).to_be();
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto));
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let fd = OwnedFd::from_raw_fd(fd);
                let mut sll: libc::sockaddr_ll = core::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_protocol = proto;
                sll.sll_ifindex = idx as i32;
                let rc = libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const _ as *const libc::sockaddr,
                    core::mem::size_of::<libc::sockaddr_ll>() as u32,
                );
                if rc != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // A 10 MB response arrives faster than a debug build reads.
                let big: i32 = 64 << 20;
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUFFORCE,
                    &big as *const _ as *const libc::c_void,
                    4,
                );
                let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    &tv as *const _ as *const libc::c_void,
                    core::mem::size_of::<libc::timeval>() as u32,
                );
                Ok(RawPort { fd })
            }
        })
    }

    pub fn send(&self, frame: &[u8]) {
        // SAFETY: valid buffer and fd.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(n, frame.len() as isize, "raw send: {}", std::io::Error::last_os_error());
    }

    /// Next frame received from the wire (not our own sends), or None after
    /// the 100 ms socket timeout.
    pub fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let mut from: libc::sockaddr_ll = unsafe { core::mem::zeroed() };
            let mut len = core::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: valid buffers and fd.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    &mut from as *mut _ as *mut libc::sockaddr,
                    &mut len,
                )
            };
            if n < 0 {
                return None;
            }
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            return Some(n as usize);
        }
    }
}

/// The agent daemon, started with `nsenter --net` (not `ip netns exec`, so
/// it keeps the host's /sys/fs/bpf and its pins are visible to the test).
/// Drop sends SIGTERM, then SIGKILL.
pub struct AgentProc {
    child: Option<Child>,
}

impl AgentProc {
    pub fn start(ns: &str, args: &[&str], log: &Path) -> std::io::Result<Self> {
        let f = File::create(log)?;
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{ns}"))
            .arg(env!("CARGO_BIN_EXE_switchyard-agent"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()?;
        Ok(Self { child: Some(child) })
    }

    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGKILL and reap: no cleanup code of the agent runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait; the exit status if it stopped in time.
    pub fn stop(&mut self, within: Duration) -> Option<ExitStatus> {
        self.stop_with(libc::SIGTERM, within)
    }

    /// `signal` and wait; the exit status if it stopped in time.
    pub fn stop_with(&mut self, signal: i32, within: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
