//! AF_PACKET ports: one raw socket per named interface, frames received in
//! batches with recvmmsg(2) and sent in batches with sendmmsg(2). The I/O
//! around the sans-IO `Switch`: it owns no packet logic (`forward` runs the
//! loop).
//!
//! Each socket's buffers are sized like a switch's (`switchyard_afpacket::
//! RCVBUF_BYTES` / `SNDBUF_BYTES`, several MB: a burst waits instead of being
//! dropped), and the kernel's own drop count of each socket
//! (PACKET_STATISTICS) is read with `kernel_stats`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

pub use switchyard_afpacket::batch::{poll_readable, BATCH};
pub use switchyard_afpacket::{Buffers, KernelStats, RCVBUF_BYTES, SNDBUF_BYTES};
use switchyard_afpacket::{batch, KernelCounter};
/// Largest frame accepted (jumbo frames up to 9216 bytes of payload).
pub const MAX_FRAME: usize = 9238;

pub struct AfPacketPort {
    pub port: u16,
    pub name: String,
    fd: Arc<OwnedFd>,
    bufs: Vec<Vec<u8>>,
    /// Lengths of the frames the last `recv` left in `bufs`.
    lens: Vec<usize>,
    buffers: Buffers,
    kernel: KernelCounter,
}

/// The sending half of a port, for another thread (the P4Runtime server
/// sends PacketOut frames while the forwarding thread owns the port).
/// It shares the socket: concurrent sendmmsg calls on one socket are safe.
#[derive(Clone)]
pub struct PortSender {
    pub port: u16,
    fd: Arc<OwnedFd>,
}

impl PortSender {
    /// See `AfPacketPort::send_batch`.
    pub fn send_batch<B: AsRef<[u8]>>(&self, frames: &[B]) -> io::Result<usize> {
        batch::send_batch(self.fd.as_raw_fd(), frames)
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl AfPacketPort {
    /// Opens a raw socket bound to `iface` that sees every frame arriving
    /// on it (promiscuous) and none of its own transmissions, with
    /// switch-sized buffers (a warning on stderr if they could not be forced).
    pub fn open(port: u16, iface: &str) -> io::Result<Self> {
        let cname = CString::new(iface).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: plain libc calls with valid arguments; the fd is owned below.
        unsafe {
            let ifindex = libc::if_nametoindex(cname.as_ptr());
            if ifindex == 0 {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface {iface}")));
            }
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let fd = cvt(libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto.into()))?;
            let fd = OwnedFd::from_raw_fd(fd);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            cvt(libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32))?;
            let one: libc::c_int = 1;
            // PACKET_IGNORE_OUTGOING (Linux 4.20): do not read back our sends.
            cvt(libc::setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, 23, &one as *const _ as *const libc::c_void, 4))?;
            let mut mreq: libc::packet_mreq = std::mem::zeroed();
            mreq.mr_ifindex = ifindex as i32;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            cvt(libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::packet_mreq>() as u32,
            ))?;
            let buffers = switchyard_afpacket::size_buffers(fd.as_raw_fd());
            if let Some(w) = buffers.warning(&format!("switch-sim: port {port} ({iface})")) {
                eprintln!("{w}");
            }
            Ok(AfPacketPort {
                port,
                name: iface.to_string(),
                fd: Arc::new(fd),
                bufs: vec![vec![0u8; MAX_FRAME]; BATCH],
                lens: Vec::with_capacity(BATCH),
                buffers,
                kernel: KernelCounter::default(),
            })
        }
    }

    /// The socket's buffer sizes as the kernel reports them.
    pub fn buffers(&self) -> Buffers {
        self.buffers
    }

    /// The kernel's counts for this socket since it was opened: frames
    /// offered and frames dropped on a full receive queue
    /// (PACKET_STATISTICS, accumulated here since the kernel resets them on
    /// every read; call it from one thread, the forwarding loop's).
    pub fn kernel_stats(&mut self) -> KernelStats {
        self.kernel.update(self.fd.as_raw_fd())
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    pub fn sender(&self) -> PortSender {
        PortSender { port: self.port, fd: self.fd.clone() }
    }

    /// Reads up to BATCH frames without blocking into the port's buffers;
    /// `frames()` yields them until the next call. Returns how many.
    pub fn recv(&mut self) -> io::Result<usize> {
        batch::recv_batch(self.fd.as_raw_fd(), &mut self.bufs, &mut self.lens)
    }

    /// The frames of the last `recv`.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.lens.iter().zip(&self.bufs).map(|(n, b)| &b[..*n])
    }

    /// `recv`, then calls `f` for each frame.
    pub fn recv_batch(&mut self, mut f: impl FnMut(&[u8])) -> io::Result<usize> {
        let n = self.recv()?;
        self.frames().for_each(&mut f);
        Ok(n)
    }

    /// Sends frames with one sendmmsg(2) call per BATCH; returns how many
    /// the kernel took (the rest are dropped, as a full NIC queue would).
    pub fn send_batch<B: AsRef<[u8]>>(&self, frames: &[B]) -> io::Result<usize> {
        batch::send_batch(self.fd.as_raw_fd(), frames)
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is a valid buffer for the duration of the call.
        let r = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr() as *const libc::c_void, frame.len(), libc::MSG_DONTWAIT) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
