/* One program using most of the P4_16 subset switch-sim runs, for the
 * differential test (tests/differential.rs): random and mutated frames
 * through it must give the same results on the fast engine and on the
 * interpreter. Not a program with a meaning: every branch is chosen by
 * bytes of the frame so random frames reach all of them. */
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<16> c; bit<32> d; }
/* Fields off byte boundaries; the 60-bit one cannot be grouped into 64-bit
 * runs, so its header is emitted by the fallback helper. */
header odd_t { bit<3> x; bit<13> y; bit<5> p; bit<11> q; bit<4> r; bit<60> w; bit<8> s; }
header byte_t { bit<8> v; }
struct headers { h_t h; odd_t o; byte_t[4] bs; }
struct meta_t { bit<32> x; bit<16> y; bit<8> z; bit<8> n; bit<64> big; bit<16> sum; }
struct dg_t { bit<8> a; bit<16> c; bit<64> big; }

error { Custom }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        verify(hdr.h.a != 8w0xee, error.Custom);
        transition select(hdr.h.a[3:0], hdr.h.b) {
            (4w1, 8w0x10 &&& 8w0xf0): with_odd;
            (4w2, 8w5 .. 8w9): stack;
            (4w3, _): peek;
            (4w4, _): skip;
            (4w5, _): reject;
            (4w6, 8w0x66): spin;
            (4w7, _): with_odd;
            (4w8, _): stack;
            (4w9, _): stack;
            default: accept;
        }
    }
    state with_odd {
        pkt.extract(hdr.o);
        transition accept;
    }
    state stack {
        meta.n = (hdr.h.b & 8w7) + 1;
        transition more;
    }
    state more {
        pkt.extract(hdr.bs.next);
        meta.n = meta.n - 1;
        transition select(meta.n) {
            0: accept;
            default: more;
        }
    }
    state peek {
        bit<16> next = pkt.lookahead<bit<16>>();
        meta.x = (bit<32>)next;
        transition select(pkt.lookahead<bit<8>>()) {
            0: accept;
            default: with_odd;
        }
    }
    state skip {
        pkt.advance(32w16);
        transition accept;
    }
    state spin {
        transition spin;
    }
}

control V(inout headers hdr, inout meta_t meta) {
    apply {
        verify_checksum(hdr.o.isValid(), { hdr.o.x, hdr.o.y, hdr.o.p, hdr.o.q }, hdr.h.c, HashAlgorithm.csum16);
    }
}

control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    counter(8, CounterType.packets_and_bytes) cnt;
    register<bit<16>>(4) reg;
    direct_counter(CounterType.packets) ex_hits;

    action bump() {
        bit<16> r;
        reg.read(r, (bit<32>)hdr.h.a[1:0]);
        reg.write((bit<32>)hdr.h.a[1:0], r + 1);
        meta.y = r + 1;
    }
    action set_x(bit<32> v) { meta.x = v; }
    action set_y(bit<16> v) {
        meta.y = v;
        if (v == 16w3) { return; }
        meta.z = 8w1;
    }
    action miss() { meta.x = 32w0xdead; }
    action stop() { exit; }
    action twice(in bit<8> x, out bit<8> y, inout bit<16> z) { y = x + x; z = z + 1; }

    table ex {
        key = { hdr.h.a : exact; hdr.h.b : exact; }
        actions = { set_x; set_y; miss; stop; }
        default_action = miss();
        size = 64;
        counters = ex_hits;
    }
    table lp {
        key = { hdr.h.d : lpm; }
        actions = { set_x; NoAction; }
    }
    table tern {
        key = { hdr.h.c : ternary; }
        actions = { set_y; }
        default_action = set_y(7);
    }
    table rng {
        key = { hdr.h.a : range; hdr.h.b : optional; }
        actions = { set_y; }
        default_action = set_y(1);
    }

    apply {
        cnt.count((bit<32>)hdr.h.a[2:0]);
        bump();
        switch (ex.apply().action_run) {
            set_x: { hdr.h.d = meta.x; }
            miss: {
                if (lp.apply().hit) { hdr.h.d = meta.x; } else { hdr.h.d = 32w1; }
            }
            default: { }
        }
        tern.apply();
        rng.apply();
        bit<8> y = 0;
        twice(hdr.h.b, y, meta.y);
        meta.big = hdr.h.d ++ (hdr.h.d ^ 32w0x5a5a5a5a);
        meta.big = meta.big |+| (bit<64>)hdr.h.c;
        hdr.h.c = meta.y + (bit<16>)y;
        /* Wrap-around made observable: a compare after the subtraction. */
        bit<8> diff = hdr.h.b - hdr.h.a;
        if (diff > 8w128) { hdr.h.c = hdr.h.c ^ 16w0x8000; }
        if (meta.big - 64w1 < 64w7) { hdr.h.c = hdr.h.c ^ 16w0x4000; }
        meta.z = hdr.h.a |-| hdr.h.b;
        meta.x = hdr.h.d / (bit<32>)hdr.h.b + hdr.h.d % (bit<32>)hdr.h.a;
        meta.x = meta.x + (hdr.h.d << 5) - (hdr.h.d >> 3) * 32w3;
        meta.sum = (hdr.h.a > hdr.h.b) ? (bit<16>)hdr.h.a : ~((bit<16>)hdr.h.b);
        switch (hdr.h.b) {
            1: { bit<16> h16; hash(h16, HashAlgorithm.crc16, 16w0, { hdr.h.a, hdr.h.c }, 17w65536); hdr.h.c = h16; }
            2: { hash(meta.y, HashAlgorithm.identity, 16w10, { hdr.h.a, hdr.h.b }, 16w1000); hdr.h.c = meta.y; }
            3: { digest<dg_t>(5, { hdr.h.a, hdr.h.c, meta.big }); }
            4: { mark_to_drop(sm); }
            5: { truncate(32w3); }
            10:
            11: { hash(meta.sum, HashAlgorithm.xor16, 16w0, { hdr.h.c, hdr.h.d }, 32w0); }
            12: { hash(meta.sum, HashAlgorithm.csum16, 16w1, { hdr.h.a, hdr.h.b, hdr.h.d }, 32w50000); }
            default: { hash(meta.x, HashAlgorithm.crc32, 32w0, { hdr.h.a, hdr.h.b, meta.z }, 64w0x100000000); }
        }
        if (hdr.h.a == 8) {
            hdr.bs.pop_front(1);
        } else if (hdr.h.a == 9) {
            hdr.bs.push_front(2);
            hdr.bs[0].setValid();
            hdr.bs[0].v = hdr.h.b;
        }
        if (sm.parser_error == error.PacketTooShort) {
            hdr.h.b = 1;
        } else if (sm.parser_error == error.StackOutOfBounds) {
            hdr.h.b = 2;
        } else if (sm.parser_error == error.Custom) {
            hdr.h.b = 3;
        } else if (sm.parser_error == error.ParserTimeout) {
            hdr.h.b = 4;
        } else if (sm.parser_error == error.NoMatch) {
            hdr.h.b = 5;
        }
        if (sm.checksum_error == 1) { hdr.h.a = 0xcc; }
        if (hdr.o.isValid()) {
            hdr.o.w = hdr.o.w + 60w1;
            hdr.o.r = ~hdr.o.r;
            hdr.o.y[12:5] = hdr.h.b;
            hdr.o.s = meta.big[63:56];
        }
        if (hdr.h.a == 7) { hdr.o.setInvalid(); }
        if (hdr.h.b == 9) { assert(hdr.h.a != 8w0xab); }
        sm.egress_spec = (bit<9>)hdr.h.a[1:0];
        if (hdr.h.b == 6) { exit; }
        hdr.h.d = hdr.h.d - 32w1;
        hdr.h.a = hdr.h.a ^ meta.z;
    }
}

control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.h.a == 10) { mark_to_drop(sm); }
        if (hdr.h.b == 8w0x77) { hdr.h.b = 0; }
    }
}

control C(inout headers hdr, inout meta_t meta) {
    apply {
        update_checksum(hdr.h.a == 8w0x42, { hdr.h.a, hdr.h.b, hdr.h.d }, hdr.h.c, HashAlgorithm.csum16);
        update_checksum_with_payload(hdr.h.b == 8w0x43, { hdr.h.a, hdr.o.x, hdr.o.y }, hdr.h.c, HashAlgorithm.csum16);
    }
}

control D(packet_out pkt, in headers hdr) {
    apply {
        pkt.emit(hdr.h);
        pkt.emit(hdr.o);
        pkt.emit(hdr.bs);
    }
}

V1Switch(P(), V(), I(), E(), C(), D()) main;
