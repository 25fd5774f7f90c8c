/* Header stacks (tests/stacks.rs, expected bytes worked out there from
 * P4_16 section 8.18): an MPLS-like label stack parsed with `next` until
 * `last.bos`, `lastIndex`, `next` and `last` read in the parser (out of
 * range: error.StackOutOfBounds), too many labels, push_front / pop_front
 * in ingress, isValid per element, and the whole stack emitted (valid
 * elements only, in index order). */
#include <core.p4>
#include <v1model.p4>

header h_t { bit<8> kind; bit<8> pad; }
header label_t { bit<20> label; bit<3> tc; bit<1> bos; bit<8> ttl; }
header out_t { bit<8> flags; bit<8> valid; bit<32> last_label; bit<32> last_index; bit<8> next_ttl; }
struct headers { h_t h; label_t[3] ls; out_t o; }
struct meta_t { bit<32> last_label; bit<32> last_index; bit<8> next_ttl; }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.kind) {
            3: peek_last_empty;
            default: label;
        }
    }
    state label {
        pkt.extract(hdr.ls.next);
        transition select(hdr.ls.last.bos) {
            1: done;
            default: label;
        }
    }
    state done {
        meta.last_label = (bit<32>)hdr.ls.last.label;
        meta.last_index = hdr.ls.lastIndex;
        transition select(hdr.h.kind) {
            2: peek_next;
            default: accept;
        }
    }
    /* nextIndex == size after three labels: out of bounds. */
    state peek_next {
        meta.next_ttl = hdr.ls.next.ttl;
        transition accept;
    }
    /* nextIndex == 0: `last` is out of bounds. */
    state peek_last_empty {
        meta.next_ttl = hdr.ls.last.isValid() ? 8w1 : 8w2;
        transition accept;
    }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.o.setValid();
        if (sm.parser_error == error.StackOutOfBounds) {
            hdr.o.flags = 1;
        } else if (sm.parser_error == error.PacketTooShort) {
            hdr.o.flags = 2;
        }
        if (hdr.h.kind == 4) {
            hdr.ls.push_front(1);
            hdr.ls[0].setValid();
            hdr.ls[0].label = 0xABCDE;
            hdr.ls[0].ttl = 64;
        } else if (hdr.h.kind == 5) {
            hdr.ls.pop_front(1);
        }
        hdr.o.valid = (bit<8>)((bit<1>)hdr.ls[0].isValid() ++ (bit<1>)hdr.ls[1].isValid() ++ (bit<1>)hdr.ls[2].isValid());
        hdr.o.last_label = meta.last_label;
        hdr.o.last_index = meta.last_index;
        hdr.o.next_ttl = meta.next_ttl;
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.ls); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
