//! switch statements and @defaultonly / @tableonly (tests/programs/
//! switch.p4) on both engines, expected frames by hand from P4_16 12.7:
//! on `t.apply().action_run` the arm of the action that ran (a miss runs
//! the default action, so its arm), labels without a body fall through to
//! the next body, `default` runs for an action no label names; on values
//! the same with constants (a serializable enum's members). Where the
//! spec leaves nothing open, p4c's checks: a duplicate label and a
//! `default` that is not last are refused. At Write, an entry with a
//! @defaultonly action is refused (PI: INVALID_ARGUMENT; the P4Runtime
//! side is checked in p4rt-server's device tests), as is a @tableonly
//! action as the default.

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};
use switchyard_switch_sim::{ApiError, FieldMatch, Switch, TableEntry};

fn both<T: PartialEq + std::fmt::Debug>(sw: &mut Dual, f: impl Fn(&mut Switch) -> T) -> T {
    let a = f(&mut sw.sw);
    assert_eq!(a, f(&mut sw.reference));
    a
}

fn entry(k: u64, a: &str, params: Vec<u64>) -> TableEntry {
    TableEntry { matches: vec![FieldMatch::Exact(k)], action: a.into(), params, priority: 0, idle_timeout_ns: 0 }
}

#[test]
fn switch_statements_by_hand() {
    let mut sw = Dual::program("switch.p4");
    both(&mut sw, |s| s.insert("t", &entry(1, "set1", vec![])).map_err(|e| e.to_string())).unwrap();
    both(&mut sw, |s| s.insert("t", &entry(2, "set2", vec![0x22])).map_err(|e| e.to_string())).unwrap();
    both(&mut sw, |s| s.insert("t", &entry(3, "set3", vec![])).map_err(|e| e.to_string())).unwrap();
    both(&mut sw, |s| s.insert("t", &entry(4, "never", vec![])).map_err(|e| e.to_string())).unwrap();
    // Frame: key v out1 out2. set1: its arm; key 1 is Kind.A: v + 1.
    assert_eq!(sw.process(0, &hex("01 00 00 00")), Some((1, hex("01 01 11 01"))));
    // set2 (x = 22) falls through to set3's body; Kind.B falls to C: v + 2.
    assert_eq!(sw.process(0, &hex("02 05 00 00")), Some((1, hex("02 07 22 23"))));
    assert_eq!(sw.process(0, &hex("03 05 00 00")), Some((1, hex("03 07 33 23"))));
    // `never` has no label: the default arm; key 4 is no Kind: nothing.
    assert_eq!(sw.process(0, &hex("04 09 00 00")), Some((1, hex("04 09 00 ee"))));
    // A miss runs dflt, the default action, and its arm: the nested switch
    // on v (0; 1 falls to 2; default).
    assert_eq!(sw.process(0, &hex("09 00 00 00")), Some((1, hex("09 00 dd d1"))));
    assert_eq!(sw.process(0, &hex("09 01 00 00")), Some((1, hex("09 01 dd d2"))));
    assert_eq!(sw.process(0, &hex("09 02 00 00")), Some((1, hex("09 02 dd d2"))));
    assert_eq!(sw.process(0, &hex("09 07 00 00")), Some((1, hex("09 07 dd df"))));
    // v = 3: exit in the nested arm ends the ingress (port 2 was set).
    assert_eq!(sw.process(0, &hex("09 03 00 00")), Some((2, hex("09 03 dd d0"))));
    // The default action changed to set1: a miss now takes set1's arm.
    both(&mut sw, |s| s.set_default("t", "set1", &[]).map_err(|e| e.to_string())).unwrap();
    assert_eq!(sw.process(0, &hex("09 00 00 00")), Some((1, hex("09 00 11 01"))));
}

#[test]
fn defaultonly_and_tableonly_at_write() {
    let mut sw = Dual::program("switch.p4");
    // An entry may not run a @defaultonly action (PI: INVALID_ARGUMENT)...
    let e = both(&mut sw, |s| s.insert("t", &entry(5, "dflt", vec![])).map_err(|e| e.to_string())).unwrap_err();
    assert!(e.contains("@defaultonly"), "{e}");
    assert!(matches!(sw.sw.insert("t", &entry(5, "dflt", vec![])), Err(ApiError::Invalid(_))));
    // ...nor be modified to one.
    both(&mut sw, |s| s.insert("t", &entry(5, "set1", vec![])).map_err(|e| e.to_string())).unwrap();
    let e = both(&mut sw, |s| s.modify("t", &entry(5, "dflt", vec![])).map_err(|e| e.to_string())).unwrap_err();
    assert!(e.contains("@defaultonly"), "{e}");
    assert_eq!(sw.process(0, &hex("05 00 00 00")), Some((1, hex("05 00 11 01"))), "the entry kept set1");
    // A @tableonly action is refused as the default, accepted in an entry.
    let e = both(&mut sw, |s| s.set_default("t", "set3", &[]).map_err(|e| e.to_string())).unwrap_err();
    assert!(e.contains("@tableonly"), "{e}");
    both(&mut sw, |s| s.set_default("t", "dflt", &[]).map_err(|e| e.to_string())).unwrap();
    assert_eq!(sw.process(0, &hex("08 00 00 00")), Some((1, hex("08 00 dd d1"))));
    // The program's own view (P4Info scopes come from these).
    let t = &sw.sw.program().tables[0];
    let names = |v: &[usize]| v.iter().map(|a| sw.sw.program().actions[*a].name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&t.default_only), ["I.dflt"]);
    assert_eq!(names(&t.table_only), ["I.set3"]);
}

#[test]
fn switch_refusals() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/switch.p4")).unwrap();
    let line = |s: &str, needle: &str| s.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let cases = [
        ("            set2:\n", "            set2:\n            set1:\n", "duplicate switch label `set1`", "            set1:\n"),
        ("                    1:\n", "                    0:\n", "duplicate switch label", "                    0:\n"),
        ("            default: { hdr.h.out2 = 0xee; }\n", "", "", ""),
        ("            set1: { hdr.h.out2 = 0x01; }\n", "            default: { }\n            set1: { hdr.h.out2 = 0x01; }\n", "default label must be the last", "            default: { }"),
        ("                    default: { hdr.h.out2 = 0xdf; }\n", "                    default: { hdr.h.out2 = 0xdf; }\n                    4: { }\n", "default label must be the last", "                    default: { hdr.h.out2 = 0xdf; }"),
        ("            set1: { hdr.h.out2 = 0x01; }", "            nope: { hdr.h.out2 = 0x01; }", "`nope` is not an action of table I.t", "nope:"),
        ("                    0: { hdr.h.out2 = 0xd1; }", "                    hdr.h.key: { hdr.h.out2 = 0xd1; }", "switch label must be a constant", "hdr.h.key:"),
    ];
    for (from, to, want, at) in cases {
        assert!(src.contains(from), "`{from}` is in the program");
        let s = src.replacen(from, to, 1);
        if want.is_empty() {
            // Without a default arm, `never` runs no arm at all.
            let mut sw = Dual::load_str("t.p4", &s).unwrap();
            for x in [&mut sw.sw, &mut sw.reference] {
                x.insert("t", &entry(4, "never", vec![])).unwrap();
            }
            assert_eq!(sw.process(0, &hex("04 09 00 00")), Some((1, hex("04 09 00 00"))));
            continue;
        }
        let e = refused(&s);
        assert!(e.message.contains(want), "`{to}`: `{e}` lacks `{want}`");
        let at_line = if at.ends_with('\n') {
            // The label standing alone on its line (the second of two equal ones).
            s.lines().enumerate().filter(|(_, l)| l.trim() == at.trim()).last().map(|(i, _)| i as u32 + 1).unwrap()
        } else {
            line(&s, at)
        };
        assert_eq!(e.line, at_line, "`{to}`: {e}");
    }
}
