/* A stack of header_union (tests/unions.rs, expected bytes there): each
 * element extracted into the member its tag names (`stack.next.member`),
 * push_front / pop_front, setValid of a member of an element, isValid of
 * elements and members, emit of the stack. */
#include <core.p4>
#include <v1model.p4>

header a_t { bit<8> tag; bit<8> x; }
header b_t { bit<8> tag; bit<16> y; }
header_union ab_t { a_t a; b_t b; }
header h_t { bit<8> pad; bit<8> op; }
header out_t { bit<8> v; }
struct headers { h_t h; ab_t[3] s; out_t o; }
struct meta_t { }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        transition next_one;
    }
    state next_one {
        transition select(pkt.lookahead<bit<8>>()) {
            0x0a: pa;
            0x0b: pb;
            default: accept;
        }
    }
    state pa { pkt.extract(hdr.s.next.a); transition next_one; }
    state pb { pkt.extract(hdr.s.next.b); transition next_one; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (hdr.h.op == 1) {
            hdr.s.push_front(1);
        } else if (hdr.h.op == 2) {
            hdr.s.pop_front(1);
        } else if (hdr.h.op == 3) {
            hdr.s[1].b.setValid();
            hdr.s[1].b.tag = 0x0b;
            hdr.s[1].b.y = 0xbeef;
        }
        hdr.o.setValid();
        hdr.o.v = (bit<8>)((bit<1>)hdr.s[0].isValid() ++ (bit<1>)hdr.s[0].a.isValid()
            ++ (bit<1>)hdr.s[1].isValid() ++ (bit<1>)hdr.s[1].a.isValid()
            ++ (bit<1>)hdr.s[2].isValid() ++ (bit<1>)hdr.s[2].a.isValid());
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.s); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
