//! A memory-mapped transmit ring (PACKET_TX_RING, TPACKET_V2), for
//! `switch-sim-bench --tx-compare` only: frames are copied into slots
//! shared with the kernel, and one `send(fd, NULL, 0)` hands every filled
//! slot to the driver. sendmmsg(2) also sends a burst per call, but copies
//! in and checks one `msghdr` per frame; the benchmark measures which costs
//! less.
//!
//! Not used by the ports, whatever it costs: the kernel builds each frame's
//! buffer from the slot's pages (no copy) and gives the slot back when the
//! buffer is orphaned, which a veth or loopback does as it hands the frame
//! to the peer, before the peer has consumed it. A slot reused while a
//! receiver still queues the frame rewrites that frame: on loopback, a
//! receiving socket read frame 0 with frame 28's bytes (the same slot of a
//! 14-slot ring). Across a veth into a backend's TCP stack that is silent
//! data corruption (docs/SWITCH-SIM.md, "Ports").
//!
//! The ring goes on a socket of its own, bound to the interface with
//! protocol 0 so that it receives nothing: a socket with both rings must
//! map them in one piece, and the receive ring is `ring::RxRing`'s.
//!
//! A slot comes back (status `TP_STATUS_AVAILABLE`) when the kernel frees
//! the frame's buffer; a ring whose next slot is still the kernel's is
//! full, and `push` refuses the frame (a full NIC queue).

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use switchyard_afpacket::ring::{slot_bytes_for, BLOCK_BYTES};

/// Where a frame starts in a V2 transmit slot: after the header, where a
/// received frame's `sockaddr_ll` would be (`TPACKET2_HDRLEN` minus
/// `sizeof(sockaddr_ll)`, 32 bytes), unless PACKET_TX_HAS_OFF is set.
const DATA_OFFSET: usize = 32;

pub struct TxRing {
    fd: RawFd,
    map: *mut u8,
    map_len: usize,
    slots: usize,
    slot_bytes: usize,
    block_bytes: usize,
    slots_per_block: usize,
    head: usize,
    /// Slots filled since the last `flush`.
    pending: usize,
    /// Frames the kernel refused as malformed (TP_STATUS_WRONG_FORMAT).
    wrong_format: u64,
}

// SAFETY: the mapping belongs to this value alone; the kernel is the only
// other party and synchronises through each slot's status word.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Puts a transmit ring of about `bytes` (whole blocks, at least one)
    /// with slots for frames of up to `max_frame` bytes on the packet socket
    /// `fd`, which should be bound to its interface and have no receive
    /// ring; the caller keeps `fd` open for the ring's life.
    pub fn attach(fd: RawFd, bytes: usize, max_frame: usize) -> io::Result<Self> {
        let slot_bytes = slot_bytes_for(max_frame);
        let mut block_bytes = BLOCK_BYTES;
        while block_bytes / slot_bytes < 8 {
            block_bytes *= 2;
        }
        let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        setopt(fd, libc::PACKET_VERSION, &version, "PACKET_VERSION TPACKET_V2")?;
        // A malformed frame is marked and skipped instead of stopping the
        // ring at it.
        let one: libc::c_int = 1;
        setopt(fd, libc::PACKET_LOSS, &one, "PACKET_LOSS")?;
        let blocks = (bytes / block_bytes).max(1);
        let slots_per_block = block_bytes / slot_bytes;
        let slots = blocks * slots_per_block;
        let req = libc::tpacket_req {
            tp_block_size: block_bytes as libc::c_uint,
            tp_block_nr: blocks as libc::c_uint,
            tp_frame_size: slot_bytes as libc::c_uint,
            tp_frame_nr: slots as libc::c_uint,
        };
        setopt(fd, libc::PACKET_TX_RING, &req, "PACKET_TX_RING")?;
        let map_len = blocks * block_bytes;
        // SAFETY: maps the ring the kernel just made for this socket; Drop
        // unmaps it.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), map_len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0) };
        if map == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("mmap of the transmit ring ({map_len} bytes): {e}")));
        }
        let map = map as *mut u8;
        Ok(Self { fd, map, map_len, slots, slot_bytes, block_bytes, slots_per_block, head: 0, pending: 0, wrong_format: 0 })
    }

    /// The longest frame a slot takes.
    pub fn max_frame(&self) -> usize {
        self.slot_bytes - DATA_OFFSET
    }

    /// Frames the kernel marked malformed and did not send.
    pub fn wrong_format(&self) -> u64 {
        self.wrong_format
    }

    fn slot(&self, i: usize) -> *mut u8 {
        let offset = (i / self.slots_per_block) * self.block_bytes + (i % self.slots_per_block) * self.slot_bytes;
        // SAFETY: offset < map_len since i < slots.
        unsafe { self.map.add(offset) }
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: tp_status is the slot's first field, 16-byte aligned, and
        // the kernel writes it as a u32.
        unsafe { &*(self.slot(i) as *const AtomicU32) }
    }

    /// Copies `frame` into the next free slot, to leave at the next
    /// `flush`. False when the ring is full (the kernel still holds the
    /// slot) or the frame is longer than a slot: the frame is dropped.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if frame.len() > self.max_frame() {
            return false;
        }
        let status = self.status(self.head).load(Ordering::Acquire);
        if status & libc::TP_STATUS_WRONG_FORMAT != 0 {
            self.wrong_format += 1;
        } else if status != libc::TP_STATUS_AVAILABLE {
            return false;
        }
        let slot = self.slot(self.head);
        // SAFETY: the slot is ours (status AVAILABLE or WRONG_FORMAT) and
        // DATA_OFFSET + frame.len() <= slot_bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(frame.as_ptr(), slot.add(DATA_OFFSET), frame.len());
            let hdr = &mut *(slot as *mut libc::tpacket2_hdr);
            hdr.tp_len = frame.len() as u32;
            hdr.tp_snaplen = frame.len() as u32;
        }
        self.status(self.head).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = (self.head + 1) % self.slots;
        self.pending += 1;
        true
    }

    /// Asks the kernel to send every filled slot (one system call, none
    /// when nothing was pushed). Does not wait for the frames to leave.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.pending = 0;
        // SAFETY: a zero-length send on our socket: the kernel reads the
        // ring, not a buffer.
        let r = unsafe { libc::send(self.fd, std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if r < 0 {
            let e = io::Error::last_os_error();
            // ENOBUFS: the device refused a frame; it stays in its slot and
            // leaves with the next flush. EAGAIN: nothing more to do now.
            if matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN)) {
                return Ok(());
            }
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in attach, not used after this.
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.map_len) };
    }
}

fn setopt<T>(fd: RawFd, opt: libc::c_int, v: &T, what: &str) -> io::Result<()> {
    // SAFETY: v is a valid value of the option's type for the call.
    let r = unsafe { libc::setsockopt(fd, libc::SOL_PACKET, opt, v as *const T as *const libc::c_void, std::mem::size_of::<T>() as libc::socklen_t) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}
