/* header_union (tests/unions.rs, expected bytes worked out there from
 * P4_16 section 8.20): extract into a member, a second extract into the
 * other member, setValid / setInvalid / assignment of a member in ingress,
 * isValid of the union and of each member, emit of the union. */
#include <core.p4>
#include <v1model.p4>

header a_t { bit<8> tag; bit<16> x; }
header b_t { bit<8> tag; bit<32> y; }
header_union ab_t { a_t a; b_t b; }
header h_t { bit<8> kind; bit<8> op; }
header out_t { bit<8> valid; }
struct headers { h_t h; ab_t u; out_t o; }
struct meta_t { }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.kind) {
            1: pa;
            2: pb;
            3: pab;
            default: accept;
        }
    }
    state pa { pkt.extract(hdr.u.a); transition accept; }
    state pb { pkt.extract(hdr.u.b); transition accept; }
    state pab {
        pkt.extract(hdr.u.a);
        pkt.extract(hdr.u.b);
        transition accept;
    }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.h.op == 1) {
            hdr.u.a.setValid();
            hdr.u.a.tag = 0xaa;
            hdr.u.a.x = 0x1234;
        } else if (hdr.h.op == 2) {
            hdr.u.b.setValid();
            hdr.u.b.tag = 0xbb;
            hdr.u.b.y = 0xdeadbeef;
        } else if (hdr.h.op == 3) {
            hdr.u.a.setInvalid();
        } else if (hdr.h.op == 4) {
            a_t t;
            t.setValid();
            t.tag = 0xcc;
            t.x = 0x5678;
            hdr.u.a = t;
        }
        hdr.o.setValid();
        hdr.o.valid = (bit<8>)((bit<1>)hdr.u.isValid() ++ (bit<1>)hdr.u.a.isValid() ++ (bit<1>)hdr.u.b.isValid());
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.u); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
