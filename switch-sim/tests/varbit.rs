//! varbit (tests/programs/varbit.p4): IPv4 options in a varbit<160>, on
//! both engines. Expected frames by hand: the IPv4 checksum is the ones'
//! complement of the ones' complement sum of the 16-bit words (RFC 1071,
//! bmv2's csum16), options included; for the first frame the words are
//! 4600 001a 1234 4000 4011 0a00 0001 0a00 0002 0101 0100, sum ee63,
//! checksum 119c; with TTL 63 the 4011 word is 3f11: ed63, checksum 129c.
//! The checksum with payload sums the options' bytes, then the bytes after
//! the parser's cursor: 0101 + 0100 + dead = e0ae, checksum 1f51.
//!
//! bmv2's order of checks in a two-argument extract (simple_switch's
//! extract_VL): a width not a multiple of 8 is ParserInvalidArgument, then
//! a frame too short for the whole header PacketTooShort, then a width
//! above the varbit's maximum HeaderTooShort; switch-sim follows it. The
//! width is a bit<32> (the IHL arithmetic below wraps for IHL < 5, which
//! is then too long for the frame: PacketTooShort).

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

fn run(sw: &mut Dual, input: &str) -> Vec<u8> {
    let (port, out) = sw.process(0, &hex(input)).expect("forwarded");
    assert_eq!(port, 1);
    out
}

/// out_t: flags, minSizeInBits (160 = 00a0), minSizeInBytes (20 = 14),
/// the checksum with payload.
fn o(flags: &str, psum: &str) -> String {
    format!("{flags} 00a0 14 {psum}")
}

#[test]
fn varbit_options_by_hand() {
    let mut sw = Dual::program("varbit.p4");
    // IHL 6: four option bytes (NOP NOP NOP EOL), checksum right.
    assert_eq!(
        run(&mut sw, "4600001a 1234 4000 4011 119c 0a000001 0a000002 01010100 dead"),
        hex(&format!("4600001a 1234 4000 3f11 129c 0a000001 0a000002 01010100 {} dead", o("00", "1f51")))
    );
    // The same with a wrong checksum: checksum_error (flags 1); the
    // update computes it anyway.
    assert_eq!(
        run(&mut sw, "4600001a 1234 4000 4011 0000 0a000001 0a000002 01010100 dead"),
        hex(&format!("4600001a 1234 4000 3f11 129c 0a000001 0a000002 01010100 {} dead", o("01", "1f51")))
    );
    // IHL 5: an empty varbit. Checksums: 4500 0016 1234 4000 4011 0a00
    // 0001 0a00 0002 = eb5e -> 14a1, at TTL 63 15a1; payload alone ~dead =
    // 2152.
    assert_eq!(
        run(&mut sw, "45000016 1234 4000 4011 14a1 0a000001 0a000002 dead"),
        hex(&format!("45000016 1234 4000 3f11 15a1 0a000001 0a000002 {} dead", o("00", "2152")))
    );
    // IHL 12: 28 option bytes, more than varbit<160> holds, in a frame
    // long enough: HeaderTooShort (flags 2); the header stays invalid and
    // is not emitted, the cursor stays at 0, so the checksum with payload
    // covers the whole frame (sum of its words df3e -> 20c1).
    let long = format!("4c00003a 1234 4000 4011 0000 0a000001 0a000002 {} dead", "01".repeat(28));
    assert_eq!(run(&mut sw, &long), hex(&format!("{} {long}", o("02", "20c1"))));
    // IHL 7 with four option bytes only: PacketTooShort (flags 3); the
    // whole frame is payload again (words sum ef67 -> 1098).
    let short = "4700001e 1234 4000 4011 0000 0a000001 0a000002 01010100";
    assert_eq!(run(&mut sw, short), hex(&format!("{} {short}", o("03", "1098"))));
}

const SMALL: &str = r#"#include <core.p4>
#include <v1model.p4>
header v_t { bit<8> n; varbit<32> data; }
header e_t { bit<8> err; }
struct headers { v_t v; e_t e; }
struct meta_t { }
parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.v, (bit<32>)pkt.lookahead<bit<8>>()); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.e.setValid();
        if (sm.parser_error == error.ParserInvalidArgument) { hdr.e.err = 1; }
        if (sm.parser_error == error.HeaderTooShort) { hdr.e.err = 2; }
        if (sm.parser_error == error.PacketTooShort) { hdr.e.err = 3; }
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.v); pkt.emit(hdr.e); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"#;

#[test]
fn extract_errors_in_bmv2_order() {
    let mut sw = Dual::load_str("t.p4", SMALL).unwrap();
    // n is the varbit's width in bits.
    assert_eq!(sw.process(0, &hex("10 aabb cc")).unwrap().1, hex("10 aabb 00 cc"), "16 bits extracted");
    assert_eq!(sw.process(0, &hex("00 cc")).unwrap().1, hex("00 00 cc"), "an empty varbit");
    assert_eq!(sw.process(0, &hex("0c aabb")).unwrap().1, hex("01 0c aabb"), "12 bits: ParserInvalidArgument");
    assert_eq!(sw.process(0, &hex("28 0102030405")).unwrap().1, hex("02 28 0102030405"), "40 > 32 bits: HeaderTooShort");
    assert_eq!(sw.process(0, &hex("28 0102")).unwrap().1, hex("03 28 0102"), "40 bits, 2 bytes left: PacketTooShort first");
}

#[test]
fn varbit_refusals() {
    let e = refused(&SMALL.replace("pkt.extract(hdr.v, (bit<32>)pkt.lookahead<bit<8>>());", "pkt.extract(hdr.v);"));
    assert!(e.message.contains("needs extract(h, bits)"), "{e}");
    let e = refused(&SMALL.replace("header v_t { bit<8> n; varbit<32> data; }", "header v_t { varbit<32> data; bit<8> n; }"));
    assert!(e.message.contains("only as the last field"), "{e}");
    assert_eq!(e.line, 3, "{e}");
    let e = refused(&SMALL.replace("hdr.e.setValid();", "hdr.e.setValid(); bit<8> x = hdr.v.data;"));
    assert!(e.message.contains("used as a value"), "{e}");
}
