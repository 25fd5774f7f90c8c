//! Load-time errors: every refusal names the file, line and column and says
//! what is wrong or missing.

use std::fmt;

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub file: u16,
    pub line: u32,
    pub col: u32,
}

/// An error while loading a P4 program, rendered as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

/// An error carrying an unresolved position; `Files` turns it into a
/// `LoadError` with the file name.
#[derive(Debug, Clone)]
pub struct SrcError {
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for SrcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

pub type SrcResult<T> = Result<T, SrcError>;

pub fn err<T>(pos: Pos, message: impl Into<String>) -> SrcResult<T> {
    Err(SrcError { pos, message: message.into() })
}
