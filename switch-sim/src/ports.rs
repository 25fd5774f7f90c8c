//! AF_PACKET ports: one raw socket per named interface. Frames arrive in
//! a memory-mapped receive ring (`switchyard_afpacket::ring`, TPACKET_V2,
//! slots sized to the interface's MTU) and are handed to the switch in
//! place, a burst at a time; they leave in batches with sendmmsg(2). The
//! I/O around the sans-IO `Switch`: it owns no packet logic (`forward`
//! runs the loop).
//!
//! Each socket's buffers are sized like a switch's (the ring:
//! [`PORT_RING_BYTES`], 32 MiB; the send buffer `SNDBUF_BYTES`), and the
//! kernel's own drop count of each socket (PACKET_STATISTICS: with a ring,
//! frames that found it full) is read with `kernel_stats`. `SWITCHYARD_AFPACKET_RING=0` turns the ring off
//! (recvmmsg batches into the port's buffers, as before the ring).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

pub use switchyard_afpacket::batch::{poll_readable, BATCH};
use switchyard_afpacket::ring::{self, RxRing};
pub use switchyard_afpacket::{Buffers, KernelStats, RCVBUF_BYTES, SNDBUF_BYTES};
use switchyard_afpacket::{batch, KernelCounter};
/// Largest frame accepted (jumbo frames up to 9216 bytes of payload).
pub const MAX_FRAME: usize = 9238;

/// What the MTU leaves out of a frame: the Ethernet header and one VLAN
/// tag (the frame check sequence never reaches a packet socket).
const L2_OVERHEAD: usize = 18;

/// How a port receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    /// Receive ring size in bytes; None: no ring, recvmmsg batches.
    pub ring_bytes: Option<usize>,
    /// Longest frame received whole; None: the interface's MTU plus the
    /// Ethernet header and a VLAN tag, at most [`MAX_FRAME`]. Like a
    /// switch port's configured MTU: a longer frame is dropped and counted
    /// as `rx_truncated` (ring slots are sized to it), so raise an
    /// interface's MTU before the switch opens it.
    pub max_frame: Option<usize>,
}

/// Receive ring of a port, in bytes: 20,480 slots at MTU 1500 (1,600-byte
/// slots), 51 ms of frames at 400,000 frames per second.
///
/// Why this size: a ring holds frames, not bytes, and small frames waste
/// most of their slot, so it must be larger than the front-end's 16 MiB to
/// hold what the 32 MiB receive buffer it replaces held (64 MiB charged:
/// ~29,000 full frames, more small ones). On the shared 2-core test
/// machine the switch thread is descheduled for tens of milliseconds at a
/// time; over veth at 400,000 frames per second a 16 MiB ring (10,240
/// slots, 26 ms) dropped 29,000 frames in 3 s where 64 MiB dropped none
/// (docs/SWITCH-SIM.md, "Ports"). The pages are the kernel's, allocated
/// when the port opens, whether frames wait or not.
pub const PORT_RING_BYTES: usize = 32 << 20;

impl PortConfig {
    /// The ring size from `SWITCHYARD_AFPACKET_RING` (default
    /// [`PORT_RING_BYTES`]; `0`: no ring), frames sized by the MTU.
    pub fn from_env() -> Self {
        PortConfig { ring_bytes: ring::configured_bytes_or(PORT_RING_BYTES), max_frame: None }
    }
}

pub struct AfPacketPort {
    pub port: u16,
    pub name: String,
    fd: Arc<OwnedFd>,
    /// The receive ring; None when turned off (then `bufs` and recvmmsg).
    ring: Option<RxRing>,
    /// Longest frame received whole.
    max_frame: usize,
    /// Frames longer than `max_frame` (with the ring), dropped.
    rx_truncated: u64,
    bufs: Vec<Vec<u8>>,
    /// Lengths of the frames the last recvmmsg left in `bufs`.
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
    /// switch-sized buffers (a warning on stderr if they could not be
    /// forced) and the receive ring `PortConfig::from_env` asks for.
    pub fn open(port: u16, iface: &str) -> io::Result<Self> {
        Self::open_with(port, iface, PortConfig::from_env())
    }

    /// `open` with an explicit receive configuration.
    pub fn open_with(port: u16, iface: &str, cfg: PortConfig) -> io::Result<Self> {
        let cname = CString::new(iface).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: plain libc calls with valid arguments; the fd is owned below.
        unsafe {
            let ifindex = libc::if_nametoindex(cname.as_ptr());
            if ifindex == 0 {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface {iface}")));
            }
            // Protocol 0 until bound: no frame is queued before the ring
            // is in place.
            let fd = cvt(libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0))?;
            let fd = OwnedFd::from_raw_fd(fd);
            let max_frame = match cfg.max_frame {
                Some(m) => m,
                None => (interface_mtu(fd.as_raw_fd(), &cname)? + L2_OVERHEAD).min(MAX_FRAME),
            };
            let ring = match cfg.ring_bytes {
                Some(bytes) => Some(
                    RxRing::attach_for_frames(fd.as_raw_fd(), bytes, max_frame).map_err(|e| io::Error::new(e.kind(), format!("port {port} ({iface}): {e}")))?,
                ),
                None => None,
            };
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            let one: libc::c_int = 1;
            // PACKET_IGNORE_OUTGOING (Linux 4.20): do not read back our sends.
            cvt(libc::setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, 23, &one as *const _ as *const libc::c_void, 4))?;
            cvt(libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32))?;
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
            // Without the ring, frames are read as before it: cut at MAX_FRAME.
            let bufs = if ring.is_some() { Vec::new() } else { vec![vec![0u8; MAX_FRAME]; BATCH] };
            Ok(AfPacketPort {
                port,
                name: iface.to_string(),
                fd: Arc::new(fd),
                ring,
                max_frame,
                rx_truncated: 0,
                bufs,
                lens: Vec::with_capacity(BATCH),
                buffers,
                kernel: KernelCounter::default(),
            })
        }
    }

    /// Frames the receive ring holds (0: no ring, recvmmsg).
    pub fn ring_slots(&self) -> usize {
        self.ring.as_ref().map_or(0, RxRing::slots)
    }

    /// Longest frame received whole.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Frames longer than `max_frame` that arrived and were dropped (with
    /// the ring; recvmmsg cuts them at MAX_FRAME).
    pub fn rx_truncated(&self) -> u64 {
        self.rx_truncated
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

    /// Hands the next burst of waiting frames (up to BATCH; never blocks)
    /// to `f`, and returns how many (0: none waited, `f` was not called;
    /// a burst of cut frames only calls it on none). With the ring
    /// the frames are read in place and their slots given back when `f`
    /// returns; frames longer than `max_frame` (cut by the ring, or not)
    /// are skipped and counted (`rx_truncated`). Without it, one recvmmsg into the port's buffers.
    pub fn receive(&mut self, f: impl FnOnce(&mut dyn Iterator<Item = &[u8]>)) -> io::Result<usize> {
        if let Some(ring) = &mut self.ring {
            if !ring.has_frame() {
                return Ok(0);
            }
            let (mut cut, max_frame) = (0u64, self.max_frame);
            let (n, ()) = ring.take_burst(BATCH, |burst| {
                let mut whole = burst.filter_map(|fr| {
                    // The slot may hold a few bytes more than max_frame
                    // (its size is rounded up): the port's limit is
                    // max_frame, as a switch port's is its MTU.
                    if fr.truncated() || fr.wire_len > max_frame {
                        cut += 1;
                        None
                    } else {
                        Some(fr.bytes)
                    }
                });
                f(&mut whole);
                // Whatever `f` left unread is still counted below.
                whole.for_each(drop);
            });
            self.rx_truncated += cut;
            return Ok(n - cut as usize);
        }
        let n = batch::recv_batch(self.fd.as_raw_fd(), &mut self.bufs, &mut self.lens)?;
        if n == 0 {
            return Ok(0);
        }
        f(&mut self.lens.iter().zip(&self.bufs).map(|(n, b)| &b[..*n]));
        Ok(n)
    }

    /// `receive`, calling `f` for each frame.
    pub fn recv_batch(&mut self, mut f: impl FnMut(&[u8])) -> io::Result<usize> {
        self.receive(|frames| frames.for_each(&mut f))
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

/// The MTU of the interface (SIOCGIFMTU on `fd`: in the socket's network
/// namespace, which /sys of a thread that entered one with setns is not).
fn interface_mtu(fd: i32, name: &CString) -> io::Result<usize> {
    // SAFETY: ifr is a valid ifreq; the name (checked by if_nametoindex,
    // so shorter than IFNAMSIZ) is copied with its NUL.
    unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(name.as_bytes_with_nul()) {
            *d = *s as libc::c_char;
        }
        cvt(libc::ioctl(fd, libc::SIOCGIFMTU, &mut ifr))?;
        Ok(ifr.ifr_ifru.ifru_mtu.max(0) as usize)
    }
}
