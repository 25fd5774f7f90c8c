//! Controls instantiated inside controls (tests/programs/subcontrol.p4) on
//! both engines, expected frames by hand. The callee's parameters are the
//! caller's arguments (P4_16 copy-in/copy-out gives the same results: no
//! argument aliases another here), constructor parameters are constants,
//! each instance has its own table named by its instance path (p4c's
//! `I.first.t`, `I.second.inner.t`), `return` ends the sub-control's apply
//! block and `exit` the whole ingress.

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

#[test]
fn sub_controls_by_hand() {
    let mut sw = Dual::program("subcontrol.p4");
    let names: Vec<&str> = sw.sw.program().tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["I.first.t", "I.second.inner.t"]);
    let actions: Vec<&str> = sw.sw.program().actions.iter().map(|a| a.name.as_str()).collect();
    assert!(actions.contains(&"I.first.add") && actions.contains(&"I.second.inner.add"), "{actions:?}");
    // a = 1: first (k 5, k2 = a = 1): c = 0 + 5 + 1 = 6, its t hits
    // add(10): b = 0 + 10 + 5 = 15, m = 55. inner (k 3, k2 1): c = 6 + 3
    // + 1 = 10, b = 15 + 10 + 3 = 28 (1c); Wrap: d = 80; I: d + m = d5.
    assert_eq!(sw.process(0, &hex("01 00 00 00")), Some((1, hex("01 1c 0a d5"))));
    // a = 2: each Adder adds to c (1 + 5 + 2 = 8, + 3 + 1 = 12) and
    // returns before its table and m; Wrap and I go on: d = 80 + 0.
    assert_eq!(sw.process(0, &hex("02 07 01 00")), Some((1, hex("02 07 0c 80"))));
    // a = 3: first adds to c (0 + 5 + 3), misses, sets m, exits: nothing
    // else of the ingress runs, egress_spec stays 0.
    assert_eq!(sw.process(0, &hex("03 00 00 01")), Some((0, hex("03 00 08 01"))));
    // a = 0: both miss; c = 2 + 5 + 0 + 3 + 1 = 0b; d = (03 | 80) + 55.
    assert_eq!(sw.process(0, &hex("00 01 02 03")), Some((1, hex("00 01 0b d8"))));
}

#[test]
fn sub_control_refusals() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/subcontrol.p4")).unwrap();
    let line = |s: &str, needle: &str| s.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let s = src.replace("second.apply(hdr.h, meta);", "second.apply(hdr.h, meta); first.apply(hdr.h, 8w0, meta);");
    let e = refused(&s);
    assert!(e.message.contains("applied more than once"), "{e}");
    let s = src.replace("Adder(8w5) first;", "Adder() first;");
    let e = refused(&s);
    assert!(e.message.contains("takes 1 constructor argument(s), 0 given"), "{e}");
    assert_eq!(e.line, line(&s, "Adder() first;"), "{e}");
    let s = src.replace("Adder(8w5) first;", "Adder(hdr.h.a) first;");
    let e = refused(&s);
    assert!(e.message.contains("compile-time constants"), "{e}");
    let s = src.replace("Wrap() second;", "P() second;");
    let e = refused(&s);
    assert!(e.message.contains("a parser is instantiated only inside a parser"), "{e}");
    assert_eq!(e.line, line(&s, "P() second;"), "{e}");
    let s = src.replace("first.apply(hdr.h, hdr.h.a, meta);", "first.apply(hdr.h, hdr.h.a, hdr.h);");
    let e = refused(&s);
    assert!(e.message.contains("must be a meta_t place"), "{e}");
}
