//! A raw AF_PACKET socket bound to one interface: the portable driver
//! (no DPDK needed) and the tests' way to put crafted frames on a veth.
//! The worker's bursts move with one recvmmsg/sendmmsg each
//! (`switchyard_afpacket::batch`, the calls switch-sim's ports use) through
//! a small pool of frame buffers; the idle wait is one poll(2) on the
//! socket and the control thread's bell. Single-frame recv/send remain for
//! the tests.
//! Buffers are sized like switch-sim's ports (`switchyard_afpacket`,
//! several MB) and the kernel's drops on this socket (PACKET_STATISTICS)
//! are counted in `stats_line`.
//! Frames are received through a memory-mapped ring
//! (`switchyard_afpacket::ring`, TPACKET_V2) unless the environment turns
//! it off: a burst is taken without a system call and an empty ring costs
//! nothing to look at (docs/FRONTEND.md, "Where the time goes").

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use switchyard_afpacket::ring::{self, RxRing};
use switchyard_afpacket::{batch, Buffers, KernelCounter, KernelStats};

use crate::io::{Frame, FrameIo};

/// Largest frame we receive: Ethernet MTU 1500 plus header; the testbed
/// turns GRO off, so nothing larger arrives.
pub const MAX_FRAME: usize = 1514 + 4;
const BURST: usize = batch::BATCH;
/// Frame buffers kept for reuse: a few bursts in flight between receive,
/// the engine and send; more are freed.
const POOL: usize = 8 * BURST;

pub struct AfPacket {
    fd: OwnedFd,
    pub rx: u64,
    pub tx: u64,
    pub tx_errors: u64,
    pub rx_errors: u64,
    /// Frames the ring cut to its slot size (dropped: a partial frame is
    /// no frame).
    pub rx_truncated: u64,
    buffers: Buffers,
    /// The receive ring; None when turned off (recvmmsg is used then).
    ring: Option<RxRing>,
    kernel: KernelCounter,
    /// Buffers for the next recvmmsg (each `MAX_FRAME` long).
    rx_bufs: Vec<Vec<u8>>,
    rx_lens: Vec<usize>,
    pool: Vec<Vec<u8>>,
}

impl Frame for Vec<u8> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

fn last_err(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl AfPacket {
    /// Opens a raw socket on `iface` that sees every frame arriving on it
    /// (not the ones we send), with switch-sized buffers (a warning on
    /// stderr when they could not be forced).
    pub fn open(iface: &str) -> io::Result<Self> {
        let name = CString::new(iface).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has NUL"))?;
        // SAFETY: plain libc calls with valid arguments; the fd is owned below.
        unsafe {
            let ifindex = libc::if_nametoindex(name.as_ptr());
            if ifindex == 0 {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface `{iface}` in this network namespace")));
            }
            let proto = (libc::ETH_P_ALL as u16).to_be();
            // Protocol 0 until bound: the socket sees no frame (of any
            // interface) before its ring is in place.
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(e.kind(), format!("AF_PACKET socket (needs root or CAP_NET_RAW): {e}")));
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let ring = match ring::configured_bytes() {
                Some(bytes) => Some(RxRing::attach(fd.as_raw_fd(), bytes).map_err(|e| io::Error::new(e.kind(), format!("af_packet on {iface}: {e}")))?),
                None => None,
            };
            let one: libc::c_int = 1;
            // Our own transmissions are not input (Linux >= 4.20).
            libc::setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one as *const _ as *const libc::c_void, 4);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            if libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32) < 0 {
                return Err(last_err("bind AF_PACKET socket"));
            }
            let buffers = switchyard_afpacket::size_buffers(fd.as_raw_fd());
            if let Some(w) = buffers.warning(&format!("af_packet on {iface}")) {
                eprintln!("{w}");
            }
            Ok(Self { fd, rx: 0, tx: 0, tx_errors: 0, rx_errors: 0, rx_truncated: 0, buffers, ring, kernel: KernelCounter::default(), rx_bufs: Vec::new(), rx_lens: Vec::new(), pool: Vec::new() })
        }
    }

    /// Sets the receive buffer to `bytes` (SO_RCVBUFFORCE: root may exceed
    /// rmem_max; the send buffer keeps its size). Fails when the forced
    /// option is refused.
    pub fn set_rcvbuf(&mut self, bytes: i32) -> io::Result<()> {
        let b = switchyard_afpacket::size_buffers_to(self.fd.as_raw_fd(), bytes.max(0) as usize, self.buffers.sndbuf / 2);
        if !b.forced {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "SO_RCVBUFFORCE refused"));
        }
        self.buffers = b;
        Ok(())
    }

    /// The socket's buffer sizes as the kernel reports them.
    pub fn buffers(&self) -> Buffers {
        self.buffers
    }

    /// The kernel's counts on this socket since it was opened (frames
    /// offered, frames dropped on a full receive queue), accumulated from
    /// PACKET_STATISTICS, which resets on every read.
    pub fn kernel_stats(&mut self) -> KernelStats {
        self.kernel.update(self.fd.as_raw_fd())
    }

    /// The next whole frame of the ring, copied into a pool buffer; frames
    /// the ring cut to its slot are skipped and counted. None when the ring
    /// is empty (or off).
    fn take_whole(&mut self) -> Option<Vec<u8>> {
        let (ring, pool) = (self.ring.as_mut()?, &mut self.pool);
        loop {
            let whole = ring.take(|f| {
                (!f.truncated()).then(|| {
                    let mut b = pool.pop().unwrap_or_default();
                    b.clear();
                    b.extend_from_slice(f.bytes);
                    b
                })
            })?;
            match whole {
                Some(b) => return Some(b),
                None => self.rx_truncated += 1,
            }
        }
    }

    /// One frame if one is waiting (never blocks).
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        if self.ring.is_some() {
            let frame = self.take_whole()?;
            self.rx += 1;
            return Some(frame);
        }
        let mut buf = vec![0u8; MAX_FRAME];
        // SAFETY: buf is valid for MAX_FRAME bytes.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, MAX_FRAME, libc::MSG_DONTWAIT) };
        if n <= 0 {
            return None;
        }
        buf.truncate(n as usize);
        self.rx += 1;
        Some(buf)
    }

    /// Waits up to `timeout` for a frame.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        if let Some(f) = self.try_recv() {
            return Some(f);
        }
        self.wait_readable(timeout);
        self.try_recv()
    }

    fn wait_readable(&self, timeout: Duration) {
        let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, timeout.as_millis().min(i32::MAX as u128) as i32) };
    }

    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is a valid buffer of its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr() as *const libc::c_void, frame.len(), 0) };
        if n < 0 {
            self.tx_errors += 1;
            return Err(last_err("send on AF_PACKET socket"));
        }
        self.tx += 1;
        Ok(())
    }
}

impl FrameIo for AfPacket {
    type Frame = Vec<u8>;

    fn rx_burst(&mut self, out: &mut Vec<Vec<u8>>) -> usize {
        if self.ring.is_some() {
            let mut n = 0;
            while n < BURST {
                let Some(b) = self.take_whole() else { break };
                out.push(b);
                n += 1;
            }
            self.rx += n as u64;
            return n;
        }
        while self.rx_bufs.len() < BURST {
            let mut b = self.pool.pop().unwrap_or_default();
            b.resize(MAX_FRAME, 0);
            self.rx_bufs.push(b);
        }
        let n = match batch::recv_batch(self.fd.as_raw_fd(), &mut self.rx_bufs, &mut self.rx_lens) {
            Ok(n) => n,
            Err(_) => {
                self.rx_errors += 1;
                0
            }
        };
        for (mut b, len) in self.rx_bufs.drain(..n).zip(&self.rx_lens) {
            b.truncate(*len);
            out.push(b);
        }
        self.rx += n as u64;
        n
    }

    fn tx_burst(&mut self, frames: &mut Vec<Vec<u8>>) -> usize {
        let sent = match batch::send_batch(self.fd.as_raw_fd(), frames) {
            Ok(n) => n,
            Err(_) => 0,
        };
        self.tx += sent as u64;
        self.tx_errors += (frames.len() - sent) as u64;
        for f in frames.drain(..) {
            self.recycle(f);
        }
        sent
    }

    fn frame_from(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(bytes);
        Some(b)
    }

    fn recycle(&mut self, frame: Vec<u8>) {
        if self.pool.len() < POOL {
            self.pool.push(frame);
        }
    }

    fn can_block(&self) -> bool {
        true
    }

    fn idle(&mut self, wake: std::os::fd::RawFd, timeout: Duration) {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // Either way the worker looks at both again right after.
        let _ = batch::poll_readable(&[self.fd.as_raw_fd(), wake], ms);
    }

    fn stats_line(&mut self) -> String {
        let k = self.kernel_stats();
        format!(
            "driver af_packet rx {} tx {} tx_errors {} rx_errors {} rx_truncated {} kernel_rx {} kernel_rx_drops {} rcvbuf {} sndbuf {} rx_ring_slots {}",
            self.rx,
            self.tx,
            self.tx_errors,
            self.rx_errors,
            self.rx_truncated,
            k.packets,
            k.drops,
            self.buffers.rcvbuf,
            self.buffers.sndbuf,
            self.ring.as_ref().map_or(0, RxRing::slots)
        )
    }
}

/// Runs `f` on a thread that has entered the network namespace `ns`
/// (`/run/netns/<ns>`): a test opens its AF_PACKET sockets there without
/// moving the whole process.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd affects only this thread.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(last_err("setns"));
        }
        Ok(f())
    })
    .join()
    .map_err(|_| io::Error::other("thread in netns panicked"))?
}
