/* switch statements (tests/switch.rs, expected bytes worked out there):
 * on t.apply().action_run (P4_16 12.7.1: labels are the table's actions,
 * a miss runs the default action and switches on it; labels without a
 * body fall through to the next body; `default` is last and runs for an
 * action no label names) and on values (12.7.2: bit<8>, a serializable
 * enum's members, fall-through, nested, `exit` in an arm); @defaultonly
 * and @tableonly actions of the table. */
#include <core.p4>
#include <v1model.p4>

enum bit<8> Kind { A = 1, B = 2, C = 3 }

header h_t { bit<8> key; bit<8> v; bit<8> out1; bit<8> out2; }
struct headers { h_t h; }
struct meta_t { bit<8> m; }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    action set1() { hdr.h.out1 = 0x11; }
    action set2(bit<8> x) { hdr.h.out1 = x; }
    action set3() { hdr.h.out1 = 0x33; }
    action never() { }
    action dflt() { hdr.h.out1 = 0xdd; }
    table t {
        key = { hdr.h.key : exact; }
        actions = { set1; set2; @tableonly set3; never; @defaultonly dflt; }
        default_action = dflt();
    }
    apply {
        sm.egress_spec = 1;
        switch (t.apply().action_run) {
            set1: { hdr.h.out2 = 0x01; }
            set2:
            set3: { hdr.h.out2 = 0x23; }
            dflt: {
                hdr.h.out2 = 0xd0;
                switch (hdr.h.v) {
                    0: { hdr.h.out2 = 0xd1; }
                    1:
                    2: { hdr.h.out2 = 0xd2; }
                    3: { sm.egress_spec = 2; exit; }
                    default: { hdr.h.out2 = 0xdf; }
                }
            }
            default: { hdr.h.out2 = 0xee; }
        }
        switch (hdr.h.key) {
            Kind.A: { hdr.h.v = hdr.h.v + 1; }
            Kind.B:
            Kind.C: { hdr.h.v = hdr.h.v + 2; }
        }
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
