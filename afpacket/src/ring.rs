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

/// Bytes of one slot by default (the front-end's ring): a full Ethernet
/// frame (1518 bytes with a VLAN tag) plus the kernel's slot header
/// ([`SLOT_HEADROOM`]) fits in 2 KiB.
pub const FRAME_BYTES: usize = 2048;

/// Bytes the kernel puts before a frame in its slot: the V2 header and its
/// `sockaddr_ll` (`TPACKET2_HDRLEN`, 52 bytes), then the MAC header placed
/// so that the network header is 16-byte aligned (`tp_mac` is 66 for
/// Ethernet; 80 also covers a MAC header of up to 16 bytes). A slot of
/// `SLOT_HEADROOM + n` bytes holds frames of `n` bytes whole.
pub const SLOT_HEADROOM: usize = 80;

/// Slots are 16-byte aligned (TPACKET_ALIGNMENT).
const SLOT_ALIGN: usize = 16;

/// Bytes of one ring block by default: 32 slots of [`FRAME_BYTES`]. The
/// kernel allocates each block as one run of pages (order 4) and falls back
/// to vmalloc when memory is fragmented, so blocks stay small.
pub const BLOCK_BYTES: usize = 64 << 10;

/// Fewest slots a block holds when slots are large (jumbo frames): blocks
/// grow in powers of two (the kernel allocates a power of two of pages
/// anyway) until this many fit, so a 9.3 KB slot wastes under 1 % of its
/// 128 KiB block.
const MIN_SLOTS_PER_BLOCK: usize = 8;

/// The slot size that holds frames of up to `max_frame` bytes whole.
pub fn slot_bytes_for(max_frame: usize) -> usize {
    (SLOT_HEADROOM + max_frame).div_ceil(SLOT_ALIGN) * SLOT_ALIGN
}

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
    configured_bytes_or(RING_BYTES)
}

/// `configured_bytes` for a user whose default is `default` bytes.
pub fn configured_bytes_or(default: usize) -> Option<usize> {
    let bytes = std::env::var(RING_ENV).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default);
    (bytes > 0).then_some(bytes)
}

/// A frame taken from the ring: its bytes (possibly cut to the slot) and
/// the length it had on the wire.
pub struct RingFrame<'a> {
    pub bytes: &'a [u8],
    pub wire_len: usize,
}

impl RingFrame<'_> {
    /// The kernel cut the frame to fit the slot (a frame longer than
    /// `RxRing::max_frame`: never on an MTU-1500 link without GRO with the
    /// default slots).
    pub fn truncated(&self) -> bool {
        self.bytes.len() < self.wire_len
    }
}

pub struct RxRing {
    map: *mut u8,
    map_len: usize,
    slots: usize,
    slot_bytes: usize,
    block_bytes: usize,
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
    /// at least one) of [`FRAME_BYTES`] slots on the packet socket `fd` and
    /// maps it. Best before the socket is bound, so that no frame waits in
    /// the old queue.
    pub fn attach(fd: RawFd, bytes: usize) -> io::Result<Self> {
        Self::attach_slots(fd, bytes, FRAME_BYTES)
    }

    /// `attach` with slots that hold frames of up to `max_frame` bytes
    /// whole (switch-sim sizes them to the port's MTU; jumbo frames need
    /// 9.3 KB slots, which the front-end's 2 KiB would cut).
    pub fn attach_for_frames(fd: RawFd, bytes: usize, max_frame: usize) -> io::Result<Self> {
        Self::attach_slots(fd, bytes, slot_bytes_for(max_frame))
    }

    fn attach_slots(fd: RawFd, bytes: usize, slot_bytes: usize) -> io::Result<Self> {
        if slot_bytes < SLOT_HEADROOM + 64 || slot_bytes % SLOT_ALIGN != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("ring slot of {slot_bytes} bytes: at least {} and a multiple of {SLOT_ALIGN}", SLOT_HEADROOM + 64)));
        }
        let mut block_bytes = BLOCK_BYTES;
        while block_bytes / slot_bytes < MIN_SLOTS_PER_BLOCK {
            block_bytes *= 2;
        }
        let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        sockopt(fd, libc::PACKET_VERSION, &version, "PACKET_VERSION TPACKET_V2")?;
        let blocks = (bytes / block_bytes).max(1);
        let slots_per_block = block_bytes / slot_bytes;
        let slots = blocks * slots_per_block;
        let req = libc::tpacket_req {
            tp_block_size: block_bytes as libc::c_uint,
            tp_block_nr: blocks as libc::c_uint,
            tp_frame_size: slot_bytes as libc::c_uint,
            tp_frame_nr: slots as libc::c_uint,
        };
        sockopt(fd, libc::PACKET_RX_RING, &req, "PACKET_RX_RING")?;
        let map_len = blocks * block_bytes;
        let map = map_shared(fd, map_len).map_err(|e| io::Error::new(e.kind(), format!("mmap of the receive ring ({map_len} bytes): {e}")))?;
        Ok(Self { map, map_len, slots, slot_bytes, block_bytes, slots_per_block, head: 0 })
    }

    /// The longest frame a slot holds whole; longer ones arrive cut
    /// ([`RingFrame::truncated`]).
    pub fn max_frame(&self) -> usize {
        self.slot_bytes - SLOT_HEADROOM
    }

    /// Bytes of memory the ring maps.
    pub fn mapped_bytes(&self) -> usize {
        self.map_len
    }

    /// How many frames the ring holds.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn slot(&self, i: usize) -> *mut u8 {
        let offset = (i / self.slots_per_block) * self.block_bytes + (i % self.slots_per_block) * self.slot_bytes;
        // SAFETY: offset < map_len by construction of i < slots.
        unsafe { self.map.add(offset) }
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: tp_status is the slot's first field, 4-byte aligned (slots
        // are SLOT_ALIGN-aligned), and the kernel writes it as a u32.
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
        let out = f(self.frame(self.head));
        self.release(1);
        Some(out)
    }

    /// Hands up to `max` waiting frames to `f` at once, in arrival order,
    /// then gives all their slots back: the frames are read in place, with
    /// no copy, while the kernel fills the other slots. Returns how many
    /// frames there were (0: `f` still runs, on none) and what `f` returned.
    /// A burst holds its slots until `f` returns, so a ring of `slots()`
    /// frames stores `slots()` frames in all, the burst included.
    pub fn take_burst<T>(&mut self, max: usize, f: impl FnOnce(&mut dyn Iterator<Item = RingFrame<'_>>) -> T) -> (usize, T) {
        let mut n = 0;
        while n < max.min(self.slots) && self.status((self.head + n) % self.slots).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0 {
            n += 1;
        }
        let this = &*self;
        let out = f(&mut (0..n).map(|k| this.frame((this.head + k) % this.slots)));
        self.release(n);
        (n, out)
    }

    /// The frame in slot `i`, which the kernel handed over (its status
    /// said TP_STATUS_USER).
    fn frame(&self, i: usize) -> RingFrame<'_> {
        let slot = self.slot(i);
        // SAFETY: the kernel handed this slot to us; its header and the
        // frame at tp_mac lie inside the slot (the kernel keeps tp_mac +
        // tp_snaplen <= slot_bytes, and the bounds are clamped anyway).
        unsafe {
            let hdr = &*(slot as *const libc::tpacket2_hdr);
            let mac = usize::from(hdr.tp_mac).min(self.slot_bytes);
            let len = (hdr.tp_snaplen as usize).min(self.slot_bytes - mac);
            RingFrame { bytes: std::slice::from_raw_parts(slot.add(mac), len), wire_len: hdr.tp_len as usize }
        }
    }

    /// Gives the `n` slots from the head back to the kernel, in order.
    fn release(&mut self, n: usize) {
        for _ in 0..n {
            self.status(self.head).store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.head = (self.head + 1) % self.slots;
        }
    }
}

/// Maps a ring the kernel made for `fd` (locked if RLIMIT_MEMLOCK allows:
/// the ring's pages are the kernel's and never swapped anyway).
pub(crate) fn map_shared(fd: RawFd, len: usize) -> io::Result<*mut u8> {
    for flags in [libc::MAP_SHARED | libc::MAP_LOCKED, libc::MAP_SHARED] {
        // SAFETY: maps the ring the kernel made for this socket; the owner
        // unmaps it in its Drop.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, fd, 0) };
        if map != libc::MAP_FAILED {
            return Ok(map as *mut u8);
        }
    }
    Err(io::Error::last_os_error())
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
        ring_on_lo_for(bytes, ethertype, None)
    }

    /// `ring_on_lo` with slots for frames of `max_frame` bytes.
    fn ring_on_lo_for(bytes: usize, ethertype: u16, max_frame: Option<usize>) -> Option<(OwnedFd, RxRing)> {
        // SAFETY: plain socket call; the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let ring = match max_frame {
            Some(m) => RxRing::attach_for_frames(fd.as_raw_fd(), bytes, m),
            None => RxRing::attach(fd.as_raw_fd(), bytes),
        }
        .expect("ring");
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

    /// A burst is read in place and in order, its slots come back only
    /// after it (so a full ring stays full while a burst is held), and
    /// slots sized for jumbo frames carry a 9,238-byte frame whole.
    #[test]
    fn bursts_are_read_in_place_and_jumbo_slots_hold_jumbo_frames() {
        let max_frame = 9238;
        let Some((fd, mut ring)) = ring_on_lo_for(BLOCK_BYTES * 2, 0x88b7, Some(max_frame)) else {
            eprintln!("skipped: AF_PACKET needs CAP_NET_RAW");
            return;
        };
        assert_eq!(ring.max_frame(), slot_bytes_for(max_frame) - SLOT_HEADROOM);
        assert!(ring.max_frame() >= max_frame);
        // 128 KiB blocks of 14 slots of 9,328 bytes.
        assert_eq!((ring.slots(), ring.mapped_bytes()), (14, 128 << 10));
        let frames: Vec<Vec<u8>> = (0..10u8)
            .map(|i| {
                let mut f = vec![0u8; 14];
                f[12..14].copy_from_slice(&0x88b7u16.to_be_bytes());
                f.resize(if i % 2 == 0 { max_frame } else { 60 + usize::from(i) }, i);
                f
            })
            .collect();
        assert_eq!(crate::batch::send_batch(fd.as_raw_fd(), &frames).unwrap(), frames.len());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (n, got) = ring.take_burst(4, |burst| burst.map(|f| (f.truncated(), f.bytes.to_vec())).collect::<Vec<_>>());
        assert_eq!(n, 4);
        assert!(got.iter().zip(&frames).all(|((cut, b), f)| !cut && b == f));
        let (n, got) = ring.take_burst(64, |burst| burst.map(|f| f.bytes.to_vec()).collect::<Vec<_>>());
        assert_eq!((n, got.as_slice()), (6, &frames[4..]));
        assert_eq!(ring.take_burst(64, |burst| burst.count()), (0, 0));
    }

    #[test]
    fn slot_sizes() {
        assert_eq!(slot_bytes_for(1514), 1600);
        assert_eq!(slot_bytes_for(9238), 9328);
        assert!(slot_bytes_for(1518) <= FRAME_BYTES);
    }
}
