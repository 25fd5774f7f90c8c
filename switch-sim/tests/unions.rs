//! header_union (tests/programs/unions.p4) on both engines, expected
//! frames written by hand from P4_16 section 8.20: at most one member is
//! valid; setValid, a successful extract or the assignment of a valid
//! header to a member makes the other members invalid; the union is valid
//! when a member is; emit writes the valid member.
//!
//! Where the spec leaves a choice: a failed extract into a member (too
//! short) leaves the other members as they were (the error ends the
//! parser before anything else happens, as bmv2's exception does).

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

fn run(sw: &mut Dual, input: &str) -> Vec<u8> {
    let (port, out) = sw.process(0, &hex(input)).expect("forwarded");
    assert_eq!(port, 1);
    out
}

#[test]
fn unions_by_hand() {
    let mut sw = Dual::program("unions.p4");
    // The last byte before the payload (ee) is out_t.valid: bit 2 the
    // union, bit 1 member a, bit 0 member b.
    // Extract a: the union and a valid.
    assert_eq!(run(&mut sw, "0100 0a1111 ee"), hex("0100 0a1111 06 ee"));
    // Extract b.
    assert_eq!(run(&mut sw, "0200 0b22222222 ee"), hex("0200 0b22222222 05 ee"));
    // a then b: b's extract invalidates a; a's bytes are consumed and not
    // emitted again.
    assert_eq!(run(&mut sw, "0300 0a1111 0b22222222 ee"), hex("0300 0b22222222 05 ee"));
    // a parsed, b.setValid(): a invalid, b emitted with its new fields.
    assert_eq!(run(&mut sw, "0102 0a1111 ee"), hex("0102 bbdeadbeef 05 ee"));
    // b parsed, a.setValid().
    assert_eq!(run(&mut sw, "0201 0b22222222 ee"), hex("0201 aa1234 06 ee"));
    // a parsed, a.setInvalid(): nothing valid, nothing emitted.
    assert_eq!(run(&mut sw, "0103 0a1111 ee"), hex("0103 00 ee"));
    // b parsed, a = a valid local header: b invalid.
    assert_eq!(run(&mut sw, "0204 0b22222222 ee"), hex("0204 cc5678 06 ee"));
    // No member extracted.
    assert_eq!(run(&mut sw, "0000 ee"), hex("0000 00 ee"));
    // a, then b too short: PacketTooShort, a stays valid, b's bytes stay
    // in the payload.
    assert_eq!(run(&mut sw, "0300 0a1111 0b2222"), hex("0300 0a1111 06 0b2222"));
}

#[test]
fn stacks_of_unions_and_non_header_members_are_refused() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/unions.p4")).unwrap();
    let s = src.replace("struct headers { h_t h; ab_t u; out_t o; }", "struct headers { h_t h; ab_t u; out_t o; ab_t[2] us; }");
    let e = refused(&s);
    assert!(e.message.contains("a stack of header_union is not"), "{e}");
    assert_eq!(e.line, s.lines().position(|l| l.contains("ab_t[2] us")).unwrap() as u32 + 1, "{e}");
    let s = src.replace("header_union ab_t { a_t a; b_t b; }", "header_union ab_t { a_t a; bit<8> b; }");
    let e = refused(&s);
    assert!(e.message.contains("member `b` must be a header"), "{e}");
}
