/* int<W>: every operator on signed fixed-width integers, for
 * tests/signed.rs (expected bytes worked out by hand there from P4_16
 * section 8.7 and the cast rules of 8.11) and the differential test.
 * Input: in_t (a, b signed; s a shift amount; u unsigned). Output: out_t,
 * one field per result. */
#include <core.p4>
#include <v1model.p4>

header in_t { int<8> a; int<8> b; bit<8> s; bit<8> u; }
header out_t {
    int<8> add; int<8> sub; int<8> mul; int<8> sadd; int<8> ssub;
    int<8> shr; int<8> shl; bit<8> flags; int<16> wide; bit<16> zext;
    int<4> trunc; bit<4> hi; int<16> cat_s; bit<16> cat_u; int<8> neg; int<8> inv;
    bit<8> usadd; bit<8> ussub;
    int<64> sat64a; int<64> sat64b; int<64> shr64;
    bit<8> sw;
}
struct headers { in_t i; out_t o; }
struct meta_t { int<8> m; }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.i);
        /* A negative select label on a signed key: -128 is 0x80. */
        transition select(hdr.i.a) {
            -128: min_a;
            default: accept;
        }
    }
    state min_a {
        meta.m = -1;
        transition accept;
    }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action set_sw(bit<8> v) { hdr.o.sw = v; }
    table by_b {
        key = { hdr.i.b: exact; }
        actions = { set_sw; NoAction; }
        const entries = { -3 : set_sw(9); }
        default_action = NoAction();
    }
    apply {
        hdr.o.setValid();
        int<8> a = hdr.i.a;
        int<8> b = hdr.i.b;
        hdr.o.add = a + b;
        hdr.o.sub = a - b;
        hdr.o.mul = a * b;
        hdr.o.sadd = a |+| b;
        hdr.o.ssub = a |-| b;
        hdr.o.shr = a >> hdr.i.s;
        hdr.o.shl = a << 1;
        bit<8> f = 0;
        if (a < b) { f = f | 1; }
        if (a <= b) { f = f | 2; }
        if (a > b) { f = f | 4; }
        if (a >= b) { f = f | 8; }
        if (a == b) { f = f | 16; }
        if (a < 0) { f = f | 32; }
        if ((bit<8>)a < (bit<8>)b) { f = f | 64; }
        if (b == -1) { f = f | 128; }
        hdr.o.flags = f;
        hdr.o.wide = (int<16>)a;
        hdr.o.zext = (bit<16>)(bit<8>)a;
        hdr.o.trunc = (int<4>)a;
        hdr.o.hi = a[7:4];
        hdr.o.cat_s = a ++ hdr.i.u;
        hdr.o.cat_u = hdr.i.u ++ a;
        hdr.o.neg = -a;
        hdr.o.inv = ~a;
        hdr.o.usadd = hdr.i.u |+| 200;
        hdr.o.ussub = hdr.i.u |-| 200;
        int<64> x = (int<64>)a;
        hdr.o.sat64a = x |+| 64s9223372036854775800;
        hdr.o.sat64b = x |-| 64s9223372036854775800;
        hdr.o.shr64 = (x << 56) >> hdr.i.s;
        switch (a) {
            -1: { hdr.o.sw = 1; }
            0: { hdr.o.sw = 2; }
            default: { hdr.o.sw = 3; }
        }
        by_b.apply();
        if (meta.m == -1) {
            hdr.o.sw = hdr.o.sw | 0x80;
        }
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.i); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
