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

/// tests/programs/union_stack.p4: out_t.v holds, from bit 5 down,
/// s[0] valid, s[0].a valid, s[1] valid, s[1].a valid, s[2], s[2].a.
#[test]
fn a_stack_of_unions_by_hand() {
    let mut sw = Dual::program("union_stack.p4");
    // s[0].a = 0a11, s[1].b = 0b2222, then a byte no state takes: 111000.
    assert_eq!(run(&mut sw, "0000 0a11 0b2222 ee"), hex("0000 0a11 0b2222 38 ee"));
    // push_front(1): [invalid, a, b]: 001110; the new element has no
    // valid member, so nothing of it is emitted.
    assert_eq!(run(&mut sw, "0001 0a11 0b2222 ee"), hex("0001 0a11 0b2222 0e ee"));
    // pop_front(1): [b, invalid, invalid]: 100000.
    assert_eq!(run(&mut sw, "0002 0a11 0b2222 ee"), hex("0002 0b2222 20 ee"));
    // s[1] parsed as a, then s[1].b.setValid(): a invalid, b emitted.
    assert_eq!(run(&mut sw, "0003 0a11 0a33 ee"), hex("0003 0a11 0bbeef 38 ee"));
    // A fourth element: StackOutOfBounds, the first three stay; the fourth
    // stays in the payload.
    assert_eq!(run(&mut sw, "0000 0a01 0a02 0a03 0a04 ee"), hex("0000 0a01 0a02 0a03 3f 0a04 ee"));
}

#[test]
fn union_refusals() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/union_stack.p4")).unwrap();
    let s = src.replace("pkt.extract(hdr.s.next.a);", "pkt.extract(hdr.s.next);");
    let e = refused(&s);
    assert!(e.message.contains("`stack.next.member`"), "{e}");
    assert_eq!(e.line, s.lines().position(|l| l.contains("pkt.extract(hdr.s.next);")).unwrap() as u32 + 1, "{e}");
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/unions.p4")).unwrap();
    let s = src.replace("header_union ab_t { a_t a; b_t b; }", "header_union ab_t { a_t a; bit<8> b; }");
    let e = refused(&s);
    assert!(e.message.contains("member `b` must be a header"), "{e}");
}
