/* Controls instantiated inside controls (tests/subcontrol.rs, expected
 * bytes worked out there): constructor arguments, apply with header,
 * scalar and struct arguments, a table and an action per instance,
 * `return` ending only the sub-control, `exit` ending the pipeline, and
 * an instance nested two deep. */
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> a; bit<8> b; bit<8> c; bit<8> d; }
struct headers { h_t h; }
struct meta_t { bit<8> m; }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}

control Adder(inout h_t h, in bit<8> k2, inout meta_t meta)(bit<8> k) {
    action add(bit<8> v) { h.b = h.b + v + k; }
    table t {
        key = { h.a: exact; }
        actions = { add; NoAction; }
        default_action = NoAction();
        const entries = { 1 : add(10); }
    }
    apply {
        h.c = h.c + k + k2;
        if (h.a == 2) {
            return;
        }
        t.apply();
        meta.m = 0x55;
        if (h.a == 3) {
            exit;
        }
    }
}

control Wrap(inout h_t h, inout meta_t meta) {
    Adder(8w3) inner;
    apply {
        inner.apply(h, 8w1, meta);
        h.d = h.d | 0x80;
    }
}

control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Adder(8w5) first;
    Wrap() second;
    apply {
        first.apply(hdr.h, hdr.h.a, meta);
        second.apply(hdr.h, meta);
        hdr.h.d = hdr.h.d + meta.m;
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
