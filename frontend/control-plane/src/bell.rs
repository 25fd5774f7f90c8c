//! The worker's doorbell: an eventfd the control thread rings after it
//! queued completions or a cookie secret, so a worker blocked in poll(2) on
//! its packet socket (AF_PACKET) wakes at once instead of at its next
//! timeout: a held response is released as soon as its entry is in.
//!
//! The bell is rung only while the worker is parked (about to block), so a
//! busy worker costs the control thread no system call. The worker parks,
//! then looks at its queues once more before it blocks; the control thread
//! queues, then looks at `parked`: with both orders sequentially
//! consistent, one of the two always sees the other.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

pub struct WorkerBell {
    fd: OwnedFd,
    parked: AtomicBool,
}

impl WorkerBell {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain system call; the descriptor is owned from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(fd) }, parked: AtomicBool::new(false) })
    }

    /// Readable while rung: the worker polls it beside its packet socket.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The worker is about to block: from now on a ring writes the fd.
    pub fn park(&self) {
        self.parked.store(true, SeqCst);
    }

    /// The worker is running again; clears a ring it did not consume.
    pub fn unpark(&self) {
        if self.parked.swap(false, SeqCst) {
            return;
        }
        // A ring came (it cleared `parked`): empty the counter.
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into v; non-blocking.
        unsafe { libc::read(self.fd.as_raw_fd(), &mut v as *mut u64 as *mut libc::c_void, 8) };
    }

    /// Control thread, after queueing for the worker.
    pub fn ring(&self) {
        fence(SeqCst);
        if self.parked.swap(false, SeqCst) {
            let one = 1u64;
            // SAFETY: writes 8 bytes from one; non-blocking.
            unsafe { libc::write(self.fd.as_raw_fd(), &one as *const u64 as *const libc::c_void, 8) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(b: &WorkerBell) -> bool {
        switchyard_afpacket::batch::poll_readable(&[b.fd()], 0).unwrap()[0]
    }

    #[test]
    fn rings_only_a_parked_worker_and_unpark_clears_it() {
        let b = WorkerBell::new().unwrap();
        b.ring();
        assert!(!readable(&b), "a running worker is not rung");
        b.park();
        b.ring();
        b.ring();
        assert!(readable(&b), "a parked worker is");
        b.unpark();
        assert!(!readable(&b), "unpark consumed the ring");
        b.park();
        b.unpark();
        assert!(!readable(&b));
    }

    /// A ring from another thread wakes a worker blocked in poll.
    #[test]
    fn wakes_a_blocked_poll() {
        let b = std::sync::Arc::new(WorkerBell::new().unwrap());
        b.park();
        let r = b.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            r.ring();
        });
        let start = std::time::Instant::now();
        assert_eq!(switchyard_afpacket::batch::poll_readable(&[b.fd()], 5000).unwrap(), vec![true]);
        assert!(start.elapsed() < std::time::Duration::from_secs(4));
        t.join().unwrap();
        b.unpark();
    }
}
