//! The AF_PACKET socket options Switchyard's two raw-socket users share:
//! switch-sim's ports (`switch-sim/src/ports.rs`) and the front-end's
//! AF_PACKET driver (`frontend/driver/src/afpacket.rs`).
//!
//! * Buffers sized like a switch's ([`RCVBUF_BYTES`], [`SNDBUF_BYTES`]),
//!   set with SO_RCVBUFFORCE/SO_SNDBUFFORCE (root or CAP_NET_ADMIN may
//!   exceed `net.core.rmem_max`/`wmem_max`), falling back to
//!   SO_RCVBUF/SO_SNDBUF (capped by those sysctls) with a warning.
//! * The kernel's own per-socket counts (`PACKET_STATISTICS`: frames
//!   offered to the socket and frames dropped because its queue was full),
//!   accumulated, since the kernel resets them on every read.
//!
//! * Batched I/O (`batch`): recvmmsg/sendmmsg bursts and the poll between
//!   them.
//! * A memory-mapped receive ring (`ring`, TPACKET_V2): frames taken
//!   without a system call, slots sized per user (jumbo frames for
//!   switch-sim's ports).
//!
//! Only calls on a descriptor the caller owns; opening and binding stay
//! with each user, and so do the frame buffers.

pub mod batch;
pub mod ring;

use std::io;
use std::os::fd::RawFd;

/// Receive buffer asked for on every port, in bytes.
///
/// Why this size: the kernel charges each queued frame its skb truesize
/// (about 2,300 bytes for a full 1514-byte frame off a veth) and doubles
/// the value asked for to cover that bookkeeping, so the default 212,992
/// bytes held about 90 full-size frames: during 32 parallel 10 MB
/// downloads each backend port dropped 26,000-30,000 frames (one TCP
/// retransmission each, 25 % of the backends' segments). A real switch
/// buffers megabytes, and TCP fills any buffer up to its receivers'
/// windows, so a port must hold the windows of every flow behind it. In
/// that run the deepest queue was about 5 MB (~2,200 frames); 32 MiB asked
/// (64 MiB charged, about 29,000 full frames) leaves room for many more
/// flows. Memory is only used while frames wait (docs/SWITCH-SIM.md,
/// "Ports: buffers and drop counters").
pub const RCVBUF_BYTES: usize = 32 << 20;

/// Send buffer asked for on every port, in bytes: a frame sent on a veth
/// stays charged to the sending socket until the peer's stack frees it, so
/// a burst to one port (a whole receive batch of several ports) needs room
/// as well; the same size as the receive side.
pub const SNDBUF_BYTES: usize = 32 << 20;

/// Environment variables that override the two sizes (bytes), for
/// experiments and for hosts that must keep the memory small.
pub const RCVBUF_ENV: &str = "SWITCHYARD_AFPACKET_RCVBUF";
pub const SNDBUF_ENV: &str = "SWITCHYARD_AFPACKET_SNDBUF";

/// The buffer sizes a socket ended up with (what the kernel reports with
/// getsockopt: twice the value set, its bookkeeping included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffers {
    pub rcvbuf: usize,
    pub sndbuf: usize,
    /// False when SO_*BUFFORCE was refused (not root) and the plain options,
    /// capped by net.core.rmem_max / wmem_max, were used instead.
    pub forced: bool,
}

impl Buffers {
    /// A one-line warning when the sizes are below what was asked for.
    pub fn warning(&self, what: &str) -> Option<String> {
        (!self.forced).then(|| {
            format!(
                "{what}: SO_RCVBUFFORCE/SO_SNDBUFFORCE refused (needs CAP_NET_ADMIN); buffers are rcvbuf {} sndbuf {} bytes \
                 (capped by net.core.rmem_max/wmem_max), bursts beyond them are dropped and counted as kernel drops",
                self.rcvbuf, self.sndbuf
            )
        })
    }
}

fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn set_int(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: a valid int option on a descriptor the caller owns.
    let r = unsafe { libc::setsockopt(fd, level, opt, &v as *const _ as *const libc::c_void, std::mem::size_of::<libc::c_int>() as u32) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn get_int(fd: RawFd, opt: libc::c_int) -> usize {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid for the call.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, opt, &mut v as *mut _ as *mut libc::c_void, &mut len) };
    if r < 0 {
        0
    } else {
        v.max(0) as usize
    }
}

/// Sizes the socket's buffers: [`RCVBUF_BYTES`] / [`SNDBUF_BYTES`] (or the
/// environment's overrides) with SO_RCVBUFFORCE/SO_SNDBUFFORCE, else the
/// plain options. Never fails: a socket keeps working with smaller buffers,
/// and `Buffers::warning` says so.
pub fn size_buffers(fd: RawFd) -> Buffers {
    size_buffers_to(fd, env_size(RCVBUF_ENV, RCVBUF_BYTES), env_size(SNDBUF_ENV, SNDBUF_BYTES))
}

/// `size_buffers` with explicit sizes.
pub fn size_buffers_to(fd: RawFd, rcv: usize, snd: usize) -> Buffers {
    let clamp = |v: usize| v.min(i32::MAX as usize / 2) as libc::c_int;
    let mut forced = true;
    for (force, plain, v) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, rcv), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, snd)] {
        if set_int(fd, libc::SOL_SOCKET, force, clamp(v)).is_err() {
            forced = false;
            let _ = set_int(fd, libc::SOL_SOCKET, plain, clamp(v));
        }
    }
    Buffers { rcvbuf: get_int(fd, libc::SO_RCVBUF), sndbuf: get_int(fd, libc::SO_SNDBUF), forced }
}

/// The kernel's receive counts of one packet socket (PACKET_STATISTICS).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelStats {
    /// Frames the kernel offered the socket, dropped ones included
    /// (`tp_packets`).
    pub packets: u64,
    /// Frames dropped because the socket's receive queue was full
    /// (`tp_drops`): lost before the program could read them.
    pub drops: u64,
}

/// PACKET_STATISTICS since the previous read (the kernel resets both
/// counts on every read, so one reader per socket must accumulate them:
/// see [`KernelCounter`]).
pub fn read_stats(fd: RawFd) -> io::Result<KernelStats> {
    let mut st = libc::tpacket_stats { tp_packets: 0, tp_drops: 0 };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: st and len are valid for the call.
    let r = unsafe { libc::getsockopt(fd, libc::SOL_PACKET, libc::PACKET_STATISTICS, &mut st as *mut _ as *mut libc::c_void, &mut len) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(KernelStats { packets: u64::from(st.tp_packets), drops: u64::from(st.tp_drops) })
}

/// Totals of a socket's PACKET_STATISTICS since it was opened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelCounter {
    pub total: KernelStats,
}

impl KernelCounter {
    /// Reads the kernel's counts since the last read, adds them, and
    /// returns the totals (unchanged if the read fails).
    pub fn update(&mut self, fd: RawFd) -> KernelStats {
        if let Ok(d) = read_stats(fd) {
            self.total.packets += d.packets;
            self.total.drops += d.drops;
        }
        self.total
    }
}

/// The AF_PACKET sockets this process holds (from `/proc/self/fd`, kept
/// when SO_DOMAIN is AF_PACKET): for reading PACKET_STATISTICS of sockets
/// a library opened, such as DPDK's `net_af_packet` PMD, whose
/// `rte_eth_stats.imissed` (DPDK 22.11) does not include the kernel's drops.
/// Reading resets the kernel's counts, so nobody else should read them.
pub fn own_packet_sockets() -> Vec<RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
    let mut fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| {
            let mut v: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: v and len are valid; a non-socket or closed fd fails.
            let r = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN, &mut v as *mut _ as *mut libc::c_void, &mut len) };
            r == 0 && v == libc::AF_PACKET
        })
        .collect();
    fds.sort_unstable();
    fds
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// An unbound AF_PACKET socket (needs CAP_NET_RAW), or None.
    fn packet_socket() -> Option<OwnedFd> {
        // SAFETY: plain socket call; the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        // SAFETY: fd is a fresh descriptor we own.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    }

    #[test]
    fn buffers_and_stats_on_a_packet_socket() {
        let Some(fd) = packet_socket() else {
            eprintln!("skipped: AF_PACKET needs CAP_NET_RAW");
            return;
        };
        let b = size_buffers_to(fd.as_raw_fd(), 4 << 20, 2 << 20);
        if b.forced {
            // The kernel reports twice the value set.
            assert_eq!((b.rcvbuf, b.sndbuf), (8 << 20, 4 << 20));
            assert!(b.warning("t").is_none());
        } else {
            assert!(b.warning("t").unwrap().contains("refused"));
        }
        let mut c = KernelCounter::default();
        assert_eq!(c.update(fd.as_raw_fd()), KernelStats::default());
        assert!(own_packet_sockets().contains(&fd.as_raw_fd()));
    }

    #[test]
    fn a_non_packet_socket_reports_an_error_and_counts_nothing() {
        // SAFETY: plain socket call; the fd is owned below.
        let fd = unsafe { OwnedFd::from_raw_fd(libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)) };
        assert!(read_stats(fd.as_raw_fd()).is_err());
        assert!(!own_packet_sockets().contains(&fd.as_raw_fd()));
        let mut c = KernelCounter::default();
        assert_eq!(c.update(fd.as_raw_fd()), KernelStats::default());
        // Plain buffer options work on any socket.
        let b = size_buffers_to(fd.as_raw_fd(), 1 << 20, 1 << 20);
        assert!(b.rcvbuf > 0 && b.sndbuf > 0);
    }
}
