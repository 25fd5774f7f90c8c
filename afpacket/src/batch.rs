//! Batched frame I/O on a packet socket: one recvmmsg(2) or sendmmsg(2)
//! per burst instead of one system call per frame, and the poll that waits
//! for the next burst. Shared by switch-sim's ports and the front-end's
//! AF_PACKET driver; each keeps its own buffers.

use std::io;
use std::os::fd::RawFd;

/// Most frames one call moves: the burst size both users poll with.
pub const BATCH: usize = 32;

/// Reads up to `bufs.len()` (at most `BATCH`) frames without blocking, one
/// per buffer; `lens` gets the length of each frame read (truncated to its
/// buffer). Returns how many (0 when none is waiting).
pub fn recv_batch<B: AsMut<[u8]>>(fd: RawFd, bufs: &mut [B], lens: &mut Vec<usize>) -> io::Result<usize> {
    lens.clear();
    let n = bufs.len().min(BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: all-zero iovec/mmsghdr are valid (null pointers, zero lengths).
    let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for ((b, iov), m) in bufs.iter_mut().zip(iovs.iter_mut()).zip(msgs.iter_mut()).take(n) {
        let b = b.as_mut();
        *iov = libc::iovec { iov_base: b.as_mut_ptr() as *mut libc::c_void, iov_len: b.len() };
        m.msg_hdr.msg_iov = iov as *mut libc::iovec;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: msgs point into iovs, which point into bufs; all outlive the call.
    let r = unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
    }
    let r = r as usize;
    lens.extend(msgs[..r].iter().zip(iovs.iter()).map(|(m, iov)| (m.msg_len as usize).min(iov.iov_len)));
    Ok(r)
}

/// Sends `frames` with one sendmmsg(2) per `BATCH`; returns how many the
/// kernel took (the rest are dropped, as a full NIC queue would).
pub fn send_batch<B: AsRef<[u8]>>(fd: RawFd, frames: &[B]) -> io::Result<usize> {
    let mut sent = 0;
    for chunk in frames.chunks(BATCH) {
        // SAFETY: as in recv_batch.
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for ((f, iov), m) in chunk.iter().zip(iovs.iter_mut()).zip(msgs.iter_mut()) {
            let f = f.as_ref();
            *iov = libc::iovec { iov_base: f.as_ptr() as *mut libc::c_void, iov_len: f.len() };
            m.msg_hdr.msg_iov = iov as *mut libc::iovec;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: msgs point into iovs, which point into frames; all outlive
        // the call, and the kernel only reads them.
        let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), chunk.len() as u32, libc::MSG_DONTWAIT) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(sent);
            }
            return Err(e);
        }
        sent += r as usize;
        if (r as usize) < chunk.len() {
            break;
        }
    }
    Ok(sent)
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: no
/// bound); which ones are. An interrupted wait reports none.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds.iter().map(|fd| libc::pollfd { fd: *fd, events: libc::POLLIN, revents: 0 }).collect();
    // SAFETY: p is a valid array of pollfd.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(p.iter().map(|x| x.revents & (libc::POLLIN | libc::POLLERR) != 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixDatagram;

    /// The batch calls on a datagram socket pair (no privileges needed):
    /// every frame arrives whole and in order, lengths are reported, an
    /// empty socket gives 0 without blocking.
    #[test]
    fn frames_cross_in_batches() {
        let (a, b) = UnixDatagram::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let frames: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 60 + usize::from(i)]).collect();
        assert_eq!(send_batch(a.as_raw_fd(), &frames).unwrap(), 40);
        assert_eq!(poll_readable(&[b.as_raw_fd()], 0).unwrap(), vec![true]);
        let mut bufs = vec![vec![0u8; 128]; BATCH];
        let mut lens = Vec::new();
        let mut got = Vec::new();
        loop {
            let n = recv_batch(b.as_raw_fd(), &mut bufs, &mut lens).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= BATCH);
            got.extend(lens.iter().zip(&bufs).map(|(n, b)| b[..*n].to_vec()));
        }
        assert_eq!(got, frames);
        assert_eq!(poll_readable(&[b.as_raw_fd()], 0).unwrap(), vec![false]);
    }
}
