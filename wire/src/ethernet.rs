//! Ethernet II frames (no VLAN tags: the testbed and the switch program
//! carry untagged frames; a tagged frame is reported with its ethertype and
//! left to the caller).

use crate::error::{need, Header, WireResult};

pub const HEADER_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;

pub type MacAddr = [u8; 6];

/// A typed view over an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buf` after checking it holds at least a full header.
    #[inline]
    pub fn new_checked(buf: T) -> WireResult<Self> {
        need(Header::Ethernet, "ethernet header", HEADER_LEN, buf.as_ref().len())?;
        Ok(Self { buf })
    }

    /// Wraps a buffer a caller in this crate has checked already
    /// (`frame::TcpFrame`).
    #[inline]
    pub(crate) fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buf
    }

    #[inline]
    pub fn dst(&self) -> MacAddr {
        self.buf.as_ref()[0..6].try_into().unwrap()
    }

    #[inline]
    pub fn src(&self) -> MacAddr {
        self.buf.as_ref()[6..12].try_into().unwrap()
    }

    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[12], b[13]])
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    #[inline]
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buf.as_mut()[0..6].copy_from_slice(&mac);
    }

    #[inline]
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buf.as_mut()[6..12].copy_from_slice(&mac);
    }

    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        self.buf.as_mut()[12..14].copy_from_slice(&t.to_be_bytes());
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// The fields of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: u16,
}

impl EthernetRepr {
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Self {
        Self { src: frame.src(), dst: frame.dst(), ethertype: frame.ethertype() }
    }

    /// Writes the header at the start of `out`.
    #[inline]
    pub fn emit(&self, out: &mut [u8]) -> WireResult<()> {
        if out.len() < HEADER_LEN {
            return Err(crate::WireError::NoSpace { what: "ethernet header", need: HEADER_LEN, have: out.len() });
        }
        out[0..6].copy_from_slice(&self.dst);
        out[6..12].copy_from_slice(&self.src);
        out[12..14].copy_from_slice(&self.ethertype.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = [0u8; 20];
        let repr = EthernetRepr { dst: [1, 2, 3, 4, 5, 6], src: [7, 8, 9, 10, 11, 12], ethertype: ETHERTYPE_IPV4 };
        repr.emit(&mut buf).unwrap();
        let f = EthernetFrame::new_checked(&buf[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&f), repr);
        assert_eq!(f.dst(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(f.src(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.payload().len(), 6);
    }

    #[test]
    fn truncated() {
        assert!(EthernetFrame::new_checked(&[0u8; 13][..]).is_err());
        assert!(EthernetRepr { src: [0; 6], dst: [0; 6], ethertype: 0 }.emit(&mut [0u8; 13]).is_err());
    }
}
