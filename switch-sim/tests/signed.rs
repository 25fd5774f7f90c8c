//! int<W> (tests/programs/signed.p4): each operator's result, worked out
//! by hand from P4_16 section 8.7 (operations on int<W>) and 8.11 (casts),
//! on both engines; and what is refused.
//!
//! Where the spec leaves a choice: `>>` on int<W> is arithmetic (8.7:
//! "arithmetic shift"), and a shift by W or more leaves only copies of the
//! sign bit (bmv2 shifts the sign-extended value). Saturating operations
//! clamp to [-2^(W-1), 2^(W-1)-1] (8.7). `/` and `%` are defined for
//! positive operands only, so switch-sim refuses them on int<W> rather than
//! pick bmv2's C++ truncation.

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

/// The output: the input header (a b s u) then out_t field by field, in
/// the order of its declaration.
#[allow(clippy::too_many_arguments)]
fn expect(input: &str, small: &str, sat64a: &str, sat64b: &str, shr64: &str, sw: &str) -> Vec<u8> {
    hex(&format!("{input} {small} {sat64a} {sat64b} {shr64} {sw}"))
}

#[test]
fn int_operators_by_hand() {
    let mut sw = Dual::program("signed.p4");
    // a = -100 (9c), b = 50 (32), s = 3, u = 100 (64).
    //   add -50 ce; sub -150 wraps to 106 6a; mul -5000 = 120 mod 256 78;
    //   sadd -50 ce; ssub -150 saturates to -128 80; shr -100>>3 = -13 f3
    //   (rounds toward -inf); shl -200 wraps to 56 38; flags: a<b 1, a<=b 2,
    //   a<0 32 = 23; wide ff9c; zext 009c; trunc (int<4>) = c, hi = a[7:4]
    //   = 9: c9; a ++ u = 9c64; u ++ a = 649c; neg 64; inv 63;
    //   u |+| 200 = ff; u |-| 200 = 00.
    //   int<64>: -100 + 9223372036854775800 = 7fffffffffffff94;
    //   -100 - 9223372036854775800 < min: 8000000000000000;
    //   (x << 56) >> 3 = 9c00.. >> 3 = f380..; switch default 3; by_b miss.
    let out = sw.process(0, &hex("9c 32 03 64")).unwrap();
    assert_eq!(out.0, 1);
    assert_eq!(
        out.1,
        expect(
            "9c 32 03 64",
            "ce 6a 78 ce 80  f3 38 23 ff9c 009c  c9 9c64 649c 64 63  ff 00",
            "7fffffffffffff94",
            "8000000000000000",
            "f380000000000000",
            "03"
        )
    );
    // a = 100 (64), b = -1 (ff), s = 9, u = 7.
    //   add 99 63; sub 101 65; mul -100 9c; sadd 63; ssub 65; shr 100>>9 = 0
    //   (a shift past the width); shl 200 c8; flags: a>b 4, a>=b 8,
    //   unsigned 64 < ff 64, b == -1 128 = cc; wide 0064; zext 0064;
    //   trunc 4, hi 6: 46; a ++ u = 6407; u ++ a = 0764; neg -100 9c;
    //   inv 9b; u |+| 200 = cf; u |-| 200 = 00.
    //   100 + 9223372036854775800 overflows: 7fffffffffffffff;
    //   100 - 9223372036854775800 = min + 108: 800000000000006c;
    //   64 << 56 >> 9 = 0032000000000000.
    let out = sw.process(0, &hex("64 ff 09 07")).unwrap();
    assert_eq!(
        out.1,
        expect(
            "64 ff 09 07",
            "63 65 9c 63 65  00 c8 cc 0064 0064  46 6407 0764 9c 9b  cf 00",
            "7fffffffffffffff",
            "800000000000006c",
            "0032000000000000",
            "03"
        )
    );
    // a = -1 (ff), b = -3 (fd), s = 200, u = 0.
    //   add -4 fc; sub 2; mul 3; sadd fc; ssub 02; shr -1 >> 200 = -1 ff;
    //   shl -2 fe; flags: a>b 4, a>=b 8, a<0 32 = 2c; wide ffff; zext 00ff;
    //   trunc f, hi f: ff; a ++ u = ff00; u ++ a = 00ff; neg 01; inv 00;
    //   u |+| 200 = c8; u |-| 200 = 00.
    //   -1 + 9223372036854775800 = 7ffffffffffffff7; -1 - it = min + 7;
    //   ff00.. >> 200 = all sign bits. switch: -1 -> 1, then by_b's const
    //   entry -3 -> set_sw(9).
    let out = sw.process(0, &hex("ff fd c8 00")).unwrap();
    assert_eq!(
        out.1,
        expect(
            "ff fd c8 00",
            "fc 02 03 fc 02  ff fe 2c ffff 00ff  ff ff00 00ff 01 00  c8 00",
            "7ffffffffffffff7",
            "8000000000000007",
            "ffffffffffffffff",
            "09"
        )
    );
    // a = -128 (80), b = 1, s = 7, u = 255.
    //   add -127 81; sub -129 wraps to 127 7f; mul -128 80; sadd 81;
    //   ssub -129 saturates to -128 80; shr -128 >> 7 = -1 ff; shl 00;
    //   flags a<b 1, a<=b 2, a<0 32 = 23; wide ff80; zext 0080; trunc 0,
    //   hi 8: 08; a ++ u = 80ff; u ++ a = ff80; neg -(-128) wraps to 80;
    //   inv 7f; u |+| 200 = ff; u |-| 200 = 37.
    //   -128 + 9223372036854775800 = 7fffffffffffff78; -128 - it: min;
    //   8000.. >> 7 = ff00..; switch default 3, and the parser's select on
    //   -128 set meta.m = -1: sw | 0x80 = 83.
    let out = sw.process(0, &hex("80 01 07 ff")).unwrap();
    assert_eq!(
        out.1,
        expect(
            "80 01 07 ff",
            "81 7f 80 81 80  ff 00 23 ff80 0080  08 80ff ff80 80 7f  ff 37",
            "7fffffffffffff78",
            "8000000000000000",
            "ff00000000000000",
            "83"
        )
    );
}

const SHELL: &str = r#"#include <core.p4>
#include <v1model.p4>
header h_t { int<8> a; bit<8> b; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    DECLS
    apply { BODY }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"#;

fn shell(decls: &str, body: &str) -> String {
    SHELL.replace("DECLS", decls).replace("BODY", body)
}

#[test]
fn int_refusals_have_positions() {
    // (declarations, apply body, the refusal, text on the refused line)
    let cases = [
        ("", "hdr.h.a = hdr.h.a / 2;", "`/` on int<N> is not supported", "hdr.h.a / 2"),
        ("", "hdr.h.a = hdr.h.a % 2;", "`%` on int<N> is not supported", "hdr.h.a % 2"),
        ("", "hdr.h.b = (bit<8>)hdr.h.a + hdr.h.a;", "different types", "(bit<8>)hdr.h.a"),
        ("", "bit<16> w = (bit<16>)hdr.h.a;", "cannot cast int<8> to bit<16>", "(bit<16>)"),
        ("", "hdr.h.a = hdr.h.a >> -1;", "shift amount must be unsigned", ">> -1"),
        ("action f(int<8> v) { hdr.h.a = v; }", "f(1);", "action parameters of type int<N>", "action f"),
        ("table t { key = { hdr.h.a: range; } actions = { NoAction; } }", "t.apply();", "`range` key of type int<N>", "table t"),
        ("", "int<65> x = 0;", "int<65>: switch-sim supports widths 1..=64", "int<65>"),
    ];
    for (decls, body, want, needle) in cases {
        let src = shell(decls, body);
        let e = refused(&src);
        assert!(e.message.contains(want), "`{body}`: refusal `{e}` lacks `{want}`");
        let line = src.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
        assert_eq!(e.line, line, "`{body}`: {e}");
        assert!(e.col > 0);
    }
}

#[test]
fn int_casts_both_ways_keep_or_extend_the_bits() {
    // int<8> -> int<16> -> bit<16> and bit<8> -> int<8> -> int<32> ->
    // bit<32>: sign extension happens only from a signed source.
    let src = shell(
        "",
        "bit<16> w = (bit<16>)(int<16>)hdr.h.a;
         int<32> x = (int<32>)(int<8>)hdr.h.b;
         hdr.h.b = (bit<8>)w[15:8] ^ (bit<8>)((bit<32>)x >> 24);
         hdr.h.a = (int<8>)((int<4>)hdr.h.a);
         sm.egress_spec = 2;",
    );
    let mut sw = Dual::load_str("t.p4", &src).unwrap();
    // a = 0xf0 (-16): w = fff0, w[15:8] = ff; b = 0x85 (-123 as int<8>):
    // x = ffffff85, >> 24 = ff; ff ^ ff = 00. (int<4>)a = 0 (low bits of
    // f0), back to int<8>: 00.
    assert_eq!(sw.process(0, &[0xf0, 0x85]).unwrap(), (2, vec![0x00, 0x00]));
    // a = 0x0b: w = 000b -> 00; b = 0x7f: x = 7f -> 00; 00 ^ 00 = 00.
    // (int<4>)0x0b = 0xb = -5, widened: fb.
    assert_eq!(sw.process(0, &[0x0b, 0x7f]).unwrap(), (2, vec![0xfb, 0x00]));
    // a = 0x80: w = ff80 -> ff; b = 0x01: x = 1 -> 00; ff. (int<4>)0x80
    // = 0 -> 00.
    assert_eq!(sw.process(0, &[0x80, 0x01]).unwrap(), (2, vec![0x00, 0xff]));
}
