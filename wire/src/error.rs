//! The one error type of the wire crate: every parser returns it instead of
//! panicking, so malformed input from the network is a value, not a crash.

use core::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer ends before the header (or the length it announces) does.
    Truncated { what: &'static str, need: usize, have: usize },
    /// A field holds a value the format forbids.
    Malformed { what: &'static str, why: &'static str },
    /// The output buffer is too small for what we were asked to emit.
    NoSpace { what: &'static str, need: usize, have: usize },
}

pub type WireResult<T> = Result<T, WireError>;

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { what, need, have } => {
                write!(f, "truncated {what}: need {need} bytes, have {have}")
            }
            WireError::Malformed { what, why } => write!(f, "malformed {what}: {why}"),
            WireError::NoSpace { what, need, have } => {
                write!(f, "no space to emit {what}: need {need} bytes, have {have}")
            }
        }
    }
}

impl std::error::Error for WireError {}

pub(crate) fn need(what: &'static str, need: usize, have: usize) -> WireResult<()> {
    if have < need {
        Err(WireError::Truncated { what, need, have })
    } else {
        Ok(())
    }
}
