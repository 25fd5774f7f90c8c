//! The one error type of the wire crate: every parser returns it instead of
//! panicking, so malformed input from the network is a value, not a crash.

use core::fmt;

/// Which header an error is about (the drop reasons are per header:
/// `From<WireError> for DropReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    Ethernet,
    Ipv4,
    Tcp,
    TcpOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer ends before the header (or the length it announces) does.
    Truncated { header: Header, what: &'static str, need: usize, have: usize },
    /// A field holds a value the format forbids.
    Malformed { header: Header, what: &'static str, why: &'static str },
    /// The output buffer is too small for what we were asked to emit.
    NoSpace { what: &'static str, need: usize, have: usize },
    /// An Ethernet frame of another protocol than IPv4 (an ARP, a VLAN tag).
    NotIpv4 { ethertype: u16 },
    /// An IPv4 packet of another protocol than TCP.
    NotTcp { protocol: u8 },
    /// An IPv4 fragment: only the first holds the TCP header, so no
    /// fragment is a frame view.
    Ipv4Fragment,
    /// A checksum does not verify (checked only when asked:
    /// `frame::TcpFrame::check_checksums`).
    BadChecksum { header: Header },
}

pub type WireResult<T> = Result<T, WireError>;

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { what, need, have, .. } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            WireError::Malformed { what, why, .. } => write!(f, "malformed {what}: {why}"),
            WireError::NoSpace { what, need, have } => {
                write!(f, "no space to emit {what}: need {need} bytes, have {have}")
            }
            WireError::NotIpv4 { ethertype } => write!(f, "not IPv4: ethertype {ethertype:#06x}"),
            WireError::NotTcp { protocol } => write!(f, "not TCP: IP protocol {protocol}"),
            WireError::Ipv4Fragment => write!(f, "IPv4 fragment"),
            WireError::BadChecksum { header } => write!(f, "bad {header:?} checksum"),
        }
    }
}

impl std::error::Error for WireError {}

pub(crate) fn need(header: Header, what: &'static str, need: usize, have: usize) -> WireResult<()> {
    if have < need {
        Err(WireError::Truncated { header, what, need, have })
    } else {
        Ok(())
    }
}
