//! Loading and validating `switchyard.toml`.
//!
//! Every error, syntactic (from `toml`) or semantic (a route naming an
//! unknown pool, a duplicate VIP, a weight of 0, a bad regex), is reported
//! as `file:line:col: what is wrong`, pointing at the offending value.

mod model;
mod raw;
mod validate;

use std::ops::Range;
use std::path::Path;

pub use model::*;

/// A refused configuration, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct ConfigError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub message: String,
}

/// A semantic error before it is located (byte span in the source).
#[derive(Debug)]
pub(crate) struct SpanError {
    pub span: Range<usize>,
    pub message: String,
}

impl SpanError {
    pub fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        Self { span, message: message.into() }
    }
}

/// 1-based line and column of byte offset `at` in `src`.
fn line_col(src: &str, at: usize) -> (usize, usize) {
    let at = at.min(src.len());
    let before = &src[..src.floor_char_boundary_compat(at)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Parses and validates `src`; `file` names it in errors.
pub fn parse(src: &str, file: &str) -> Result<Config, ConfigError> {
    let locate = |span: Option<Range<usize>>, message: String| {
        let (line, col) = line_col(src, span.map_or(0, |s| s.start));
        ConfigError { file: file.to_string(), line, col, message }
    };
    let raw: raw::ConfigFile = toml::from_str(src).map_err(|e| {
        // toml's message repeats the location as a snippet; keep the
        // first line, the what.
        let msg = e.message().lines().next().unwrap_or("invalid TOML").trim().to_string();
        locate(e.span(), msg)
    })?;
    validate::validate(raw).map_err(|e| locate(Some(e.span), e.message))
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: 1,
        col: 1,
        message: format!("cannot read: {e}"),
    })?;
    parse(&src, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let s = "a\nbc\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 3), (2, 2));
        assert_eq!(line_col(s, 99), (3, 1));
    }
}
