/* Sub-parsers (tests/subparser.rs, expected bytes worked out there): a
 * parser declared at top level, instantiated inside a parser with
 * constructor arguments and applied in a state, as p4c inlines it (P4_16
 * 13.8.1: the state is split at the call, the callee's accept continues
 * with the rest of the state, its reject is the caller's reject). `byte`
 * is applied three times with the same arguments (p4c then binds the
 * arguments themselves), `other` in two states with different arguments
 * (p4c copies through temporaries: a callee that rejects leaves them
 * unchanged), `two` nests an instance of its own, `skip` shows an `out`
 * header made invalid at the call. */
#include <core.p4>
#include <v1model.p4>

error { Bad }

header h_t { bit<8> kind; bit<8> x; }
header b_t { bit<8> v; }
struct headers { h_t h; b_t a; b_t b; b_t c; b_t r; }
struct meta_t { bit<8> sum; bit<8> last; }

parser Byte(packet_in pkt, out b_t o, inout meta_t meta)(bit<8> k) {
    state start {
        pkt.extract(o);
        verify(o.v != 0xee, error.Bad);
        meta.sum = meta.sum + o.v + k;
        transition accept;
    }
}

parser Skip(packet_in pkt, out b_t o) {
    state start { transition accept; }
}

parser Two(packet_in pkt, inout headers hdr, inout meta_t meta, in bit<8> bias) {
    Byte(8w1) one;
    bit<8> seen = 8w0x10;
    state start {
        one.apply(pkt, hdr.b, meta);
        seen = seen + bias;
        transition select(hdr.b.v) {
            0xff: reject;
            default: more;
        }
    }
    state more {
        meta.last = seen;
        transition accept;
    }
}

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    Byte(8w2) byte;
    Byte(8w3) other;
    Two() two;
    Skip() skip;
    state start {
        pkt.extract(hdr.h);
        transition select(hdr.h.kind) {
            1: one_byte;
            2: twice;
            3: nested;
            4: diff_a;
            5: diff_c;
            6: skipped;
            default: accept;
        }
    }
    state one_byte {
        byte.apply(pkt, hdr.a, meta);
        hdr.h.x = meta.sum;
        transition accept;
    }
    state twice {
        byte.apply(pkt, hdr.a, meta);
        byte.apply(pkt, hdr.a, meta);
        hdr.h.x = meta.sum;
        transition accept;
    }
    state nested {
        two.apply(pkt, hdr, meta, hdr.h.x + 8w1);
        hdr.h.x = meta.sum;
        transition accept;
    }
    state diff_a {
        other.apply(pkt, hdr.a, meta);
        hdr.h.x = meta.sum;
        transition accept;
    }
    state diff_c {
        other.apply(pkt, hdr.c, meta);
        hdr.h.x = meta.sum;
        transition accept;
    }
    state skipped {
        hdr.c.setValid();
        hdr.c.v = 0x77;
        skip.apply(pkt, hdr.c);
        transition accept;
    }
}

control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        if (sm.parser_error == error.Bad) {
            hdr.h.kind = 0xbb;
        } else if (sm.parser_error == error.PacketTooShort) {
            hdr.h.kind = 0xcc;
        }
        hdr.r.setValid();
        hdr.r.v = meta.last;
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) {
    apply { pkt.emit(hdr.h); pkt.emit(hdr.a); pkt.emit(hdr.b); pkt.emit(hdr.c); pkt.emit(hdr.r); }
}
V1Switch(P(), V(), I(), E(), C(), D()) main;
