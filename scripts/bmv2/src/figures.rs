//! The figures a report prints, each read from a named source. A figure
//! that could not be read comes back as the reason, never as a zero.

use std::collections::HashMap;

/// Named counters read from one place (a log, a command's output).
pub struct Counters {
    what: String,
    read: Result<HashMap<String, u64>, String>,
}

impl Counters {
    /// `read` is what the source gave: an error, or its counters (an empty
    /// map means the source had nothing to read yet, an error too).
    pub fn new(what: &str, read: Result<HashMap<String, u64>, String>) -> Self {
        let read = read.and_then(|m| if m.is_empty() { Err(format!("{what}: nothing to read")) } else { Ok(m) });
        Self { what: what.into(), read }
    }

    /// One counter, or why it could not be read.
    pub fn get(&self, key: &str) -> Result<u64, String> {
        match &self.read {
            Err(e) => Err(e.clone()),
            Ok(m) => m.get(key).copied().ok_or_else(|| format!("{}: no `{key}`", self.what)),
        }
    }

    /// Every counter whose name starts with `prefix` (prefix removed), sorted.
    pub fn with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, String> {
        let m = self.read.as_ref().map_err(Clone::clone)?;
        let mut v: Vec<(String, u64)> = m.iter().filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), *v))).collect();
        v.sort();
        Ok(v)
    }
}

/// A figure as printed: the number, or `not read (<reason>)`.
pub fn show<T: std::fmt::Display>(f: &Result<T, String>) -> String {
    match f {
        Ok(v) => v.to_string(),
        Err(e) => format!("not read ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_figure_is_its_reason_not_zero() {
        let ok = Counters::new("the log", Ok(HashMap::from([("rx".to_string(), 5), ("drop.a".to_string(), 2)])));
        assert_eq!(show(&ok.get("rx")), "5");
        assert_eq!(show(&ok.get("tx")), "not read (the log: no `tx`)");
        assert_eq!(ok.with_prefix("drop.").unwrap(), vec![("a".to_string(), 2)]);
        let failed = Counters::new("switchyard-ctl", Err("connection refused".into()));
        assert_eq!(show(&failed.get("rx")), "not read (connection refused)");
        assert!(failed.with_prefix("drop.").is_err());
        let empty = Counters::new("switch.log", Ok(HashMap::new()));
        assert_eq!(show(&empty.get("rx")), "not read (switch.log: nothing to read)");
    }
}
