/* v1model's random(result, lo, hi) (tests/random.rs): bounds from the
 * packet, constant bounds, lo == hi, lo > hi (simple_switch writes nothing
 * then: the field keeps 0xee) and a 64-bit full range. The values come from
 * switch-sim's seeded generator (exec::Rng), not bmv2's: the test checks
 * the ranges, the seed's determinism and the generator's documented
 * definition. */
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> lo; bit<8> hi; }
header o_t { bit<8> r; bit<16> c; bit<8> same; bit<8> none; bit<64> wide; }
struct headers { h_t h; o_t o; }
struct meta_t { bit<8> m; }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action draw() {
        random(hdr.o.r, hdr.h.lo, hdr.h.hi);
    }
    apply {
        hdr.o.setValid();
        draw();
        random(hdr.o.c, 16w1000, 16w1999);
        random(hdr.o.same, 8w7, 8w7);
        hdr.o.none = 0xee;
        random(hdr.o.none, 8w9, 8w8);
        random(hdr.o.wide, 64w0, 64w0xffffffffffffffff);
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
