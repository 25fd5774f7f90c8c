//! A program loaded on both engines: the fast engine (what a test's
//! assertions check) and the interpreter (the reference); every packet's
//! output must agree between them.
#![allow(dead_code)] // each test file uses its own part of it

use std::path::Path;

use switchyard_switch_sim::{Engine, LoadError, Switch};

pub struct Dual {
    pub sw: Switch,
    pub reference: Switch,
}

impl Dual {
    /// `tests/programs/<name>`.
    pub fn program(name: &str) -> Dual {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs").join(name);
        Dual::from(|| Switch::load(&p, &[])).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn load_str(name: &str, text: &str) -> Result<Dual, LoadError> {
        Dual::from(|| Switch::load_str(name, text))
    }

    fn from(load: impl Fn() -> Result<Switch, LoadError>) -> Result<Dual, LoadError> {
        let sw = load()?;
        assert_eq!(sw.engine(), Engine::Fast, "the fast engine refused the program: {:?}", sw.fast_error());
        let mut reference = load()?;
        reference.set_engine(Engine::Interp).unwrap();
        Ok(Dual { sw, reference })
    }

    pub fn process(&mut self, port: u16, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        let out = self.sw.process(port, frame);
        assert_eq!(out, self.reference.process(port, frame), "engines differ on port {port} frame {frame:02x?}");
        out
    }
}

/// Bytes from hex text, spaces and `_` ignored (expected frames written
/// field by field).
pub fn hex(s: &str) -> Vec<u8> {
    let d: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    assert!(d.len() % 2 == 0, "odd hex `{s}`");
    (0..d.len()).step_by(2).map(|i| u8::from_str_radix(&d[i..i + 2], 16).unwrap()).collect()
}

/// A refused program's message and position.
pub fn refused(text: &str) -> LoadError {
    match Switch::load_str("t.p4", text) {
        Ok(_) => panic!("program was accepted:\n{text}"),
        Err(e) => e,
    }
}
