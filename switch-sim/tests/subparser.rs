//! Sub-parsers (tests/programs/subparser.p4) on both engines, expected
//! frames by hand. A parser applied in a state runs as p4c's inliner
//! makes it run on bmv2 (P4_16 13.8.1): the calling state is split at the
//! call, the callee's `accept` continues with the rest of the state and
//! its `reject` (an explicit one or a parser error) is the whole parser's.
//! The spec's copy-in/copy-out leaves a choice only where p4c makes one:
//! when every apply of an instance has the same arguments (and none
//! overlaps another) p4c binds the arguments themselves, so headers the
//! callee extracted before a reject stay valid; otherwise it copies
//! through temporaries and a rejecting callee changes none of them. An
//! `out` argument's headers are invalid at the call (p4c's reset).

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

#[test]
fn sub_parsers_by_hand() {
    let mut sw = Dual::program("subparser.p4");
    // Emitted: h (kind, x), a, b, c, r (= meta.last), then the payload.
    // byte (k 2): a = 05, sum = 0 + 5 + 2; the state goes on: x = 07.
    assert_eq!(sw.process(0, &hex("01 00 05")), Some((1, hex("01 07 05 00"))));
    // The same, verify fails in the callee: error.Bad (kind bb), the
    // rest of one_byte never runs (x stays 00); `a` was the argument
    // itself (byte's three applies are alike), so it stays valid.
    assert_eq!(sw.process(0, &hex("01 00 ee")), Some((1, hex("bb 00 ee 00"))));
    // Two applies in one state: a = 05 then 06, sum = 7, then 7 + 6 + 2.
    assert_eq!(sw.process(0, &hex("02 00 05 06 aa")), Some((1, hex("02 0f 06 00 aa"))));
    // Nested: two (bias = x + 1 = 5) applies one (k 1) to hdr.b: b = 09,
    // sum = 0 + 9 + 1 = 0a; seen = 10 + 5 = 15 (its initializer runs at
    // the call), more: last = 15; back in P: x = sum.
    assert_eq!(sw.process(0, &hex("03 04 09")), Some((1, hex("03 0a 09 15"))));
    // b = ff: two's select rejects (an explicit reject keeps NoError):
    // P's continuation does not run (x stays 04), last stays 0, b stays.
    assert_eq!(sw.process(0, &hex("03 04 ff")), Some((1, hex("03 04 ff 00"))));
    // No byte for one's extract: PacketTooShort (kind cc) from two levels down.
    assert_eq!(sw.process(0, &hex("03 04")), Some((1, hex("cc 04 00"))));
    // other (k 3) is applied with hdr.a and with hdr.c: temporaries.
    // a = 07, sum = 0 + 7 + 3 = 0a, both copied out at accept.
    assert_eq!(sw.process(0, &hex("04 00 07")), Some((1, hex("04 0a 07 00"))));
    // verify fails inside other: nothing is copied out, a stays invalid
    // (compare 01 00 ee above); the byte was consumed, no payload.
    assert_eq!(sw.process(0, &hex("04 00 ee")), Some((1, hex("bb 00 00"))));
    assert_eq!(sw.process(0, &hex("05 00 08")), Some((1, hex("05 0b 08 00"))));
    // hdr.c set valid (77), then passed to skip's `out` parameter: invalid
    // at the call, never extracted, so not emitted; 42 is payload.
    assert_eq!(sw.process(0, &hex("06 00 42")), Some((1, hex("06 00 00 42"))));
    assert_eq!(sw.process(0, &hex("09 01 02")), Some((1, hex("09 01 00 02"))));
}

#[test]
fn sub_parser_refusals() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/subparser.p4")).unwrap();
    let line = |s: &str, needle: &str| s.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let cases = [
        // (replace, with, message, the line holding)
        ("        byte.apply(pkt, hdr.a, meta);\n        hdr.h.x = meta.sum;\n        transition accept;\n    }\n    state twice",
         "        if (hdr.h.x == 0) { byte.apply(pkt, hdr.a, meta); }\n        hdr.h.x = meta.sum;\n        transition accept;\n    }\n    state twice",
         "applied as a statement of a parser state", "if (hdr.h.x == 0) { byte.apply"),
        ("Byte(8w3) other;", "Byte() other;", "parser `Byte` takes 1 constructor argument(s), 0 given", "Byte() other;"),
        ("Byte(8w3) other;", "Byte(hdr.h.x) other;", "compile-time constants", "Byte(hdr.h.x) other;"),
        ("skip.apply(pkt, hdr.c);", "skip.apply(pkt);", "`skip.apply` takes 2 argument(s), 1 given", "skip.apply(pkt);"),
        ("skip.apply(pkt, hdr.c);", "skip.apply(pkt, hdr.h);", "must be a b_t place", "skip.apply(pkt, hdr.h);"),
        ("Skip() skip;", "Skip() skip; V() v;", "a control cannot be instantiated inside a parser", "Skip() skip; V() v;"),
        ("control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {\n",
         "control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {\n    Skip() s;\n",
         "a parser is instantiated only inside a parser", "Skip() s;"),
        ("    state start { transition accept; }\n}\n\nparser Two",
         "    Skip() again;\n    state start { again.apply(pkt, o); transition accept; }\n}\n\nparser Two",
         "parser `Skip` instantiates itself", "again.apply(pkt, o);"),
        ("    Byte(8w2) byte;", "    Byte(8w2) byte; counter(4, CounterType.packets) cnt;", "only sub-parsers", "counter(4"),
    ];
    for (from, to, want, at) in cases {
        assert!(src.contains(from), "`{from}` is in the program");
        let s = src.replacen(from, to, 1);
        let e = refused(&s);
        assert!(e.message.contains(want), "`{to}`: `{e}` lacks `{want}`");
        assert_eq!(e.line, line(&s, at), "`{to}`: {e}");
    }
}
