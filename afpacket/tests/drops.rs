//! The kernel's drop count is read and accumulated: a packet socket with a
//! tiny receive buffer that nobody reads, on `lo` of the namespace
//! `sy-afp-<pid>` (root only; removed afterwards).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;

use switchyard_afpacket::{read_stats, size_buffers_to, KernelCounter};

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip runs");
    assert!(st.success(), "ip {args:?}");
}

/// A packet socket bound to `lo` (ETH_P_ALL).
fn bound_to_lo() -> OwnedFd {
    // SAFETY: plain libc calls with valid arguments; the fd is owned.
    unsafe {
        let proto = (libc::ETH_P_ALL as u16).to_be();
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, i32::from(proto));
        assert!(fd >= 0, "AF_PACKET socket");
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = libc::if_nametoindex(c"lo".as_ptr()) as i32;
        let r = libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32);
        assert_eq!(r, 0, "bind to lo");
        fd
    }
}

#[test]
#[ignore = "needs root: a network namespace"]
fn drops_on_a_full_queue_are_counted_and_accumulated() {
    let name = format!("sy-afp-{}", std::process::id());
    ip(&["netns", "add", &name]);
    let ns = Ns(name);
    ip(&["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"]);
    let path = format!("/run/netns/{}", ns.0);
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on a valid namespace fd affects only this thread.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
        let rx = bound_to_lo();
        let tx = bound_to_lo();
        // The smallest buffer the kernel allows holds a handful of frames.
        let b = size_buffers_to(rx.as_raw_fd(), 1, 1 << 20);
        assert!(b.forced && b.rcvbuf < 16 * 1024, "{b:?}");
        assert_eq!(read_stats(rx.as_raw_fd()).unwrap().packets, 0);
        let frame = [0u8; 1000];
        const N: u64 = 200;
        for _ in 0..N {
            // SAFETY: frame is valid for its length.
            let r = unsafe { libc::send(tx.as_raw_fd(), frame.as_ptr() as *const libc::c_void, frame.len(), 0) };
            assert_eq!(r, frame.len() as isize);
        }
        let mut c = KernelCounter::default();
        let t = c.update(rx.as_raw_fd());
        // On lo a frame is seen leaving and arriving: 2 N offered.
        assert!(t.packets >= N, "{t:?}");
        assert!(t.drops > N, "most frames found the queue full: {t:?}");
        // The kernel reset its counts; the totals stay.
        assert_eq!(read_stats(rx.as_raw_fd()).unwrap().drops, 0);
        assert_eq!(c.update(rx.as_raw_fd()), t);
    })
    .join()
    .unwrap();
}
