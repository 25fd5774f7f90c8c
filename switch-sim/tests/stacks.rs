//! Header stacks (tests/programs/stacks.p4) on both engines, with the
//! expected frames written by hand from P4_16 section 8.18: `next` in
//! extract, `last` and `next` read in a parser (out of range:
//! error.StackOutOfBounds, the packet goes on to ingress with the error, as
//! v1model passes parser errors on), `lastIndex`, push_front / pop_front,
//! isValid per element, and emit of the whole stack (valid elements in
//! index order; invalid ones are skipped as for any header).
//!
//! Where the spec leaves a choice: reading a field of `next` that is in
//! range but not extracted yet gives an invalid header's field, which the
//! spec leaves undefined; switch-sim gives 0 (fields start at zero for
//! each packet, as bmv2's do).

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

// Labels as bytes: label(20) tc(3) bos(1) ttl(8).
const L1: &str = "11111040"; // 0x11111, bos 0, ttl 0x40
const L2_BOS: &str = "2222213f"; // 0x22222, bos 1, ttl 0x3f
const L2: &str = "2222203f"; // 0x22222, bos 0
const L3_BOS: &str = "33333101"; // 0x33333, bos 1, ttl 1
const L3: &str = "33333001"; // 0x33333, bos 0
const L4: &str = "44444100";
const PAYLOAD: &str = "aabb";

fn run(sw: &mut Dual, input: &str) -> Vec<u8> {
    let (port, out) = sw.process(0, &hex(input)).expect("forwarded");
    assert_eq!(port, 1);
    out
}

#[test]
fn stacks_by_hand() {
    let mut sw = Dual::program("stacks.p4");
    // Two labels, the second bottom of stack: last_label 0x22222,
    // lastIndex 1; ls[0], ls[1] valid: 0b110.
    // out_t: flags valid last_label last_index next_ttl.
    let o = |flags: &str, valid: &str, label: &str, index: &str, ttl: &str| format!("{flags}{valid}{label}{index}{ttl}");
    assert_eq!(
        run(&mut sw, &format!("0000 {L1} {L2_BOS} {PAYLOAD}")),
        hex(&format!("0000 {L1} {L2_BOS} {} {PAYLOAD}", o("00", "06", "00022222", "00000001", "00")))
    );
    // Three labels, kind 2: `next` after a full stack is out of bounds:
    // StackOutOfBounds (flags 1); what the parser stored before stays.
    assert_eq!(
        run(&mut sw, &format!("0200 {L1} {L2} {L3_BOS} {PAYLOAD}")),
        hex(&format!("0200 {L1} {L2} {L3_BOS} {} {PAYLOAD}", o("01", "07", "00033333", "00000002", "00")))
    );
    // Kind 2 with two labels: `next` (ls[2]) is in range, not extracted:
    // its field reads 0, no error.
    assert_eq!(
        run(&mut sw, &format!("0200 {L1} {L2_BOS} {PAYLOAD}")),
        hex(&format!("0200 {L1} {L2_BOS} {} {PAYLOAD}", o("00", "06", "00022222", "00000001", "00")))
    );
    // Four labels without a bottom: the fourth extract overflows the
    // stack: StackOutOfBounds, the fourth label stays in the payload.
    assert_eq!(
        run(&mut sw, &format!("0000 {L1} {L2} {L3} {L4} {PAYLOAD}")),
        hex(&format!("0000 {L1} {L2} {L3} {} {L4} {PAYLOAD}", o("01", "07", "00000000", "00000000", "00")))
    );
    // Kind 3: `last` with nextIndex 0 (its isValid() too) is out of bounds.
    assert_eq!(
        run(&mut sw, &format!("0300 {L1} {PAYLOAD}")),
        hex(&format!("0300 {} {L1} {PAYLOAD}", o("01", "00", "00000000", "00000000", "00")))
    );
    // Kind 4: push_front(1) moves both labels up, the new ls[0] is
    // 0xABCDE ttl 64 (abcde040); all three valid.
    assert_eq!(
        run(&mut sw, &format!("0400 {L1} {L2_BOS} {PAYLOAD}")),
        hex(&format!("0400 abcde040 {L1} {L2_BOS} {} {PAYLOAD}", o("00", "07", "00022222", "00000001", "00")))
    );
    // Kind 5: pop_front(1) drops L1; only ls[0] (the old ls[1]) is valid.
    assert_eq!(
        run(&mut sw, &format!("0500 {L1} {L2_BOS} {PAYLOAD}")),
        hex(&format!("0500 {L2_BOS} {} {PAYLOAD}", o("00", "04", "00022222", "00000001", "00")))
    );
    // One label and two bytes: the second extract is short:
    // PacketTooShort (flags 2); L1 stays valid (0b100).
    assert_eq!(
        run(&mut sw, &format!("0000 {L1} {PAYLOAD}")),
        hex(&format!("0000 {L1} {} {PAYLOAD}", o("02", "04", "00000000", "00000000", "00")))
    );
}

#[test]
fn last_and_next_outside_a_parser_are_refused() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/stacks.p4"))
        .unwrap()
        .replace("hdr.o.next_ttl = meta.next_ttl;", "hdr.o.next_ttl = hdr.ls.last.ttl;");
    let e = refused(&src);
    assert!(e.message.contains("`last` of a header stack is allowed only in a parser"), "{e}");
    assert_eq!(e.line, src.lines().position(|l| l.contains("hdr.ls.last.ttl")).unwrap() as u32 + 1, "{e}");
    let src = src.replace("hdr.o.next_ttl = hdr.ls.last.ttl;", "hdr.ls.next.ttl = 1;");
    let e = refused(&src);
    assert!(e.message.contains("not assigned"), "{e}");
}
