/* v1model meters (tests/meters.rs, colours worked out there): an indexed
 * packet meter, an indexed byte meter and a direct packet meter on table
 * t, with bmv2's two-rate three-colour marking (GREEN 0, YELLOW 1, RED 2;
 * unconfigured: GREEN). `colour` is set to ee before execute_meter, so an
 * index outside the meter shows that nothing was written; `dcolour` is ff
 * before t.apply(): bmv2 writes the direct meter's colour only on a hit
 * (whatever action the entry runs: read() only names the field). */
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> idx; bit<8> key; }
header o_t { bit<8> colour; bit<8> dcolour; }
struct headers { h_t h; o_t o; }
struct meta_t { bit<8> unused; }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    meter(32w4, MeterType.packets) pm;
    meter(32w2, MeterType.bytes) bm;
    direct_meter<bit<8>>(MeterType.packets) dm;
    action mark() { dm.read(hdr.o.dcolour); }
    action other() { }
    table t {
        key = { hdr.h.key : exact; }
        actions = { mark; other; NoAction; }
        meters = dm;
        default_action = NoAction();
    }
    apply {
        hdr.o.setValid();
        hdr.o.colour = 0xee;
        hdr.o.dcolour = 0xff;
        if (hdr.h.idx < 4) {
            pm.execute_meter((bit<32>)hdr.h.idx, hdr.o.colour);
        } else {
            bm.execute_meter((bit<32>)(hdr.h.idx - 4), hdr.o.colour);
        }
        t.apply();
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
