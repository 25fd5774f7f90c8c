//! Front-panel ports on AF_PACKET sockets for the server binary: one
//! receive thread per interface runs frames through the device and sends
//! the output on the egress port's socket. (switch-sim's own binary has
//! its port driver; this one exists so the P4Runtime binary is complete
//! on its own.) Needs root (CAP_NET_RAW).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

/// A raw socket bound to one interface.
pub struct RawPort {
    fd: libc::c_int,
}

impl RawPort {
    pub fn open(ifname: &str) -> io::Result<RawPort> {
        let name = std::ffi::CString::new(ifname).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name"))?;
        // SAFETY: plain libc calls with checked results; the CString outlives them.
        unsafe {
            let ifindex = libc::if_nametoindex(name.as_ptr());
            if ifindex == 0 {
                return Err(io::Error::last_os_error());
            }
            let proto = (libc::ETH_P_ALL as u16).to_be() as libc::c_int;
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto as u16;
            sll.sll_ifindex = ifindex as i32;
            let r = libc::bind(fd, &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32);
            if r < 0 {
                let e = io::Error::last_os_error();
                libc::close(fd);
                return Err(e);
            }
            Ok(RawPort { fd })
        }
    }

    /// Receives one frame; skips frames this host sent (PACKET_OUTGOING).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is valid for its length; addr is a zeroed sockaddr_ll.
            let (n, pkttype) = unsafe {
                let mut addr: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                let n = libc::recvfrom(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0, &mut addr as *mut _ as *mut libc::sockaddr, &mut len);
                (n, addr.sll_pkttype)
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if pkttype != libc::PACKET_OUTGOING {
                return Ok(n as usize);
            }
        }
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: frame is valid for its length.
        let n = unsafe { libc::send(self.fd, frame.as_ptr().cast(), frame.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for RawPort {
    fn drop(&mut self) {
        // SAFETY: fd is owned by this value.
        unsafe { libc::close(self.fd) };
    }
}

/// Opens every (port number, interface) and starts one receive thread each.
pub fn run(server: crate::Server, ports: &[(u16, String)]) -> io::Result<()> {
    let mut map = HashMap::new();
    for (n, ifname) in ports {
        map.insert(*n, Arc::new(RawPort::open(ifname)?));
    }
    let map = Arc::new(map);
    let egress = map.clone();
    server.device().set_egress(Box::new(move |port, frame| {
        if let Some(p) = egress.get(&port) {
            let _ = p.send(frame);
        }
    }));
    for (n, port) in map.iter() {
        let (n, port, server, map) = (*n, port.clone(), server.clone(), map.clone());
        std::thread::Builder::new().name(format!("port{n}")).spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                let len = match port.recv(&mut buf) {
                    Ok(l) => l,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::error!("port {n}: {e}");
                        return;
                    }
                };
                let out = server.device().inject(n, &buf[..len]);
                if let Some((p, frame)) = out {
                    if let Some(tx) = map.get(&p) {
                        let _ = tx.send(&frame);
                    }
                }
            }
        })?;
    }
    Ok(())
}
