//! A memory-mapped receive ring (PACKET_RX_RING, TPACKET_V2) on a packet
//! socket: the kernel copies each frame into a slot shared with the
//! process, so taking a frame is a few loads and a copy, not a system
//! call, and finding the ring empty costs nothing (a recvmmsg that finds
//! nothing is still a system call, and a busy worker makes one per loop).
//!
//! Why V2 and not V3: V3 hands frames over a block at a time, and a block
//! is retired to the reader only when full or when its timeout (at least
//! 1 ms) fires. At a few thousand frames per second that timeout is the
//! latency of every frame — a load balancer waiting 1 ms on a 100 µs
//! handshake. V2 releases every frame on its own.
//!
//! Only the ring lives here; opening and binding the socket stay with the
//! caller. The kernel's drop count (`PACKET_STATISTICS`) counts frames
//! that found the ring full, as it counts a full receive queue without
//! one.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes of one slot: a full Ethernet frame (1518 bytes with a VLAN tag)
/// plus the kernel's slot header (`TPACKET2_HDRLEN`, 52 bytes, and the
/// alignment of the MAC header after it) fits in 2 KiB.
pub const FRAME_BYTES: usize = 2048;

/// Bytes of one ring block: 32 slots. The kernel allocates each block as
/// one run of pages (order 4) and falls back to vmalloc when memory is
/// fragmented, so blocks stay small.
pub const BLOCK_BYTES: usize = 64 << 10;

/// Ring size asked for by default, in bytes: 8,192 slots. A ring holds
/// frames, not bytes, so its burst capacity is the slot count; 8,192
/// frames is what a 32 MiB receive buffer holds of mid-size frames and
/// several times the deepest queue seen at the front-end during the
/// benchmark's 256-connection runs.
pub const RING_BYTES: usize = 16 << 20;

/// Environment override of the ring size in bytes; `0` turns the ring off
/// (the socket is read with recvmmsg, as without this module).
pub const RING_ENV: &str = "SWITCHYARD_AFPACKET_RING";

/// The ring size to ask for: the environment's override or [`RING_BYTES`];
/// `None` when the override turns the ring off.
pub fn configured_bytes() -> Option<usize> {
    let bytes = std::env::var(RING_ENV).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(RING_BYTES);
    (bytes > 0).then_some(bytes)
}

/// A frame taken from the ring: its bytes (possibly cut to the slot) and
/// the length it had on the wire.
pub struct RingFrame<'a> {
    pub bytes: &'a [u8],
    pub wire_len: usize,
}

impl RingFrame<'_> {
    /// The kernel cut the frame to fit the slot (a frame larger than
    /// [`FRAME_BYTES`] minus the header: never on an MTU-1500 link without
    /// GRO).
    pub fn truncated(&self) -> bool {
        self.bytes.len() < self.wire_len
    }
}

pub struct RxRing {
    map: *mut u8,
    map_len: usize,
    slots: usize,
    slots_per_block: usize,
    head: usize,
}

// SAFETY: the mapping belongs to this value alone; the kernel is the only
// other party and synchronises through each slot's status word.
unsafe impl Send for RxRing {}

fn sockopt<T>(fd: RawFd, opt: libc::c_int, v: &T, what: &str) -> io::Result<()> {
    // SAFETY: v is a valid value of the option's type for the call.
    let r = unsafe { libc::setsockopt(fd, libc::SOL_PACKET, opt, v as *const T as *const libc::c_void, std::mem::size_of::<T>() as libc::socklen_t) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

impl RxRing {
    /// Puts a receive ring of about `bytes` (rounded down to whole blocks,
    /// at least one) on the packet socket `fd` and maps it. Best before
    /// the socket is bound, so that no frame waits in the old queue.
    pub fn attach(fd: RawFd, bytes: usize) -> io::Result<Self> {
        let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        sockopt(fd, libc::PACKET_VERSION, &version, "PACKET_VERSION TPACKET_V2")?;
        let blocks = (bytes / BLOCK_BYTES).max(1);
        let slots_per_block = BLOCK_BYTES / FRAME_BYTES;
        let slots = blocks * slots_per_block;
        let req = libc::tpacket_req {
            tp_block_size: BLOCK_BYTES as libc::c_uint,
            tp_block_nr: blocks as libc::c_uint,
            tp_frame_size: FRAME_BYTES as libc::c_uint,
            tp_frame_nr: slots as libc::c_uint,
        };
        sockopt(fd, libc::PACKET_RX_RING, &req, "PACKET_RX_RING")?;
        let map_len = blocks * BLOCK_BYTES;
        // SAFETY: maps the ring the kernel just made for this socket; the
        // mapping is unmapped in Drop.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), map_len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_LOCKED, fd, 0) };
        let map = if map == libc::MAP_FAILED {
            // MAP_LOCKED fails under a small RLIMIT_MEMLOCK; the ring's
            // pages are the kernel's and never swapped anyway.
            // SAFETY: as above.
            unsafe { libc::mmap(std::ptr::null_mut(), map_len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0) }
        } else {
            map
        };
        if map == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("mmap of the receive ring ({map_len} bytes): {e}")));
        }
        Ok(Self { map: map as *mut u8, map_len, slots, slots_per_block, head: 0 })
    }

    /// How many frames the ring holds.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn slot(&self, i: usize) -> *mut u8 {
        let offset = (i / self.slots_per_block) * BLOCK_BYTES + (i % self.slots_per_block) * FRAME_BYTES;
        // SAFETY: offset < map_len by construction of i < slots.
        unsafe { self.map.add(offset) }
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: tp_status is the slot's first field, 4-byte aligned (slots
        // are FRAME_BYTES-aligned), and the kernel writes it as a u32.
        unsafe { &*(self.slot(i) as *const AtomicU32) }
    }

    /// Whether a frame is waiting.
    pub fn has_frame(&self) -> bool {
        self.status(self.head).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Hands the next waiting frame to `f` and gives its slot back to the
    /// kernel; `None` when the ring is empty.
    pub fn take<T>(&mut self, f: impl FnOnce(RingFrame<'_>) -> T) -> Option<T> {
        if !self.has_frame() {
            return None;
        }
        let slot = self.slot(self.head);
        // SAFETY: the status says the kernel handed this slot to us; its
        // header and the frame at tp_mac lie inside the slot (the kernel
        // keeps tp_mac + tp_snaplen <= FRAME_BYTES).
        let out = unsafe {
            let hdr = &*(slot as *const libc::tpacket2_hdr);
            let mac = usize::from(hdr.tp_mac).min(FRAME_BYTES);
            let len = (hdr.tp_snaplen as usize).min(FRAME_BYTES - mac);
            f(RingFrame { bytes: std::slice::from_raw_parts(slot.add(mac), len), wire_len: hdr.tp_len as usize })
        };
        self.status(self.head).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.head = (self.head + 1) % self.slots;
        Some(out)
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in attach, not used after this.
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.map_len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A packet socket on loopback with a small ring that sees only frames
    /// of `ethertype` (each test its own: tests run side by side), or None
    /// without CAP_NET_RAW. Loopback frames are seen twice (out and in)
    /// unless outgoing ones are ignored.
    fn ring_on_lo(bytes: usize, ethertype: u16) -> Option<(OwnedFd, RxRing)> {
        // SAFETY: plain socket call; the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let ring = RxRing::attach(fd.as_raw_fd(), bytes).expect("ring");
        let one: libc::c_int = 1;
        // SAFETY: valid option value; sll is a valid sockaddr_ll.
        unsafe {
            libc::setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one as *const _ as *const libc::c_void, 4);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ethertype.to_be();
            sll.sll_ifindex = libc::if_nametoindex(c"lo".as_ptr()) as i32;
            assert_eq!(libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32), 0);
        }
        Some((fd, ring))
    }

    /// Frames sent on loopback come out of the ring whole, in order, and
    /// the ring wraps: more frames pass than it has slots.
    #[test]
    fn frames_pass_through_the_ring_and_it_wraps() {
        let Some((fd, mut ring)) = ring_on_lo(BLOCK_BYTES, 0x88b5) else {
            eprintln!("skipped: AF_PACKET needs CAP_NET_RAW");
            return;
        };
        assert_eq!(ring.slots(), BLOCK_BYTES / FRAME_BYTES);
        assert!(!ring.has_frame());
        let mut seen = 0usize;
        for round in 0..3u8 {
            let frames: Vec<Vec<u8>> = (0..20u8)
                .map(|i| {
                    // Ethernet to 00:..:00 with an experimental ethertype:
                    // loopback passes it up, no stack answers it.
                    let mut f = vec![0u8; 14];
                    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                    f.extend(std::iter::repeat_n(round * 20 + i, 60 + usize::from(i) * 50));
                    f
                })
                .collect();
            assert_eq!(crate::batch::send_batch(fd.as_raw_fd(), &frames).unwrap(), frames.len());
            let mut got = Vec::new();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while got.len() < frames.len() && std::time::Instant::now() < deadline {
                match ring.take(|f| {
                    assert!(!f.truncated());
                    f.bytes.to_vec()
                }) {
                    Some(b) => got.push(b),
                    None => {
                        let _ = crate::batch::poll_readable(&[fd.as_raw_fd()], 50);
                    }
                }
            }
            assert!(got == frames, "round {round}: {} of {} frames, or other bytes", got.len(), frames.len());
            seen += got.len();
        }
        assert!(seen > ring.slots());
    }

    /// A full ring drops, and the kernel counts the drops like those of a
    /// full receive queue.
    #[test]
    fn a_full_ring_drops_and_counts() {
        let Some((fd, mut ring)) = ring_on_lo(BLOCK_BYTES, 0x88b6) else {
            eprintln!("skipped: AF_PACKET needs CAP_NET_RAW");
            return;
        };
        let mut counter = crate::KernelCounter::default();
        counter.update(fd.as_raw_fd());
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&0x88b6u16.to_be_bytes());
        f.resize(100, 7);
        let extra = 10;
        let frames = vec![f; ring.slots() + extra];
        assert_eq!(crate::batch::send_batch(fd.as_raw_fd(), &frames).unwrap(), frames.len());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let stats = counter.update(fd.as_raw_fd());
        assert_eq!(stats.drops, extra as u64, "{stats:?}");
        let mut taken = 0;
        while ring.take(|_| ()).is_some() {
            taken += 1;
        }
        assert_eq!(taken, ring.slots());
    }
}
