/* varbit (tests/varbit.rs, expected bytes worked out there): IPv4 with
 * options in a varbit<160>, extracted with the two-argument extract (the
 * length from IHL by lookahead), verified and updated with csum16, a
 * checksum with payload over the options, minSizeInBits/minSizeInBytes. */
#include <core.p4>
#include <v1model.p4>

header ipv4_t {
    bit<4> version; bit<4> ihl; bit<8> diffserv; bit<16> totalLen;
    bit<16> identification; bit<3> flags; bit<13> fragOffset;
    bit<8> ttl; bit<8> protocol; bit<16> hdrChecksum;
    bit<32> srcAddr; bit<32> dstAddr;
    varbit<160> options;
}
header out_t { bit<8> flags; bit<16> minbits; bit<8> minbytes; bit<16> psum; }
struct headers { ipv4_t ip; out_t o; }
struct meta_t { }

parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start {
        /* IHL counts 32-bit words; 5 of them are the fixed part. */
        pkt.extract(hdr.ip, (bit<32>)pkt.lookahead<bit<8>>()[3:0] * 32 - 160);
        transition accept;
    }
}
control V(inout headers hdr, inout meta_t meta) {
    apply {
        verify_checksum(hdr.ip.isValid(),
            { hdr.ip.version, hdr.ip.ihl, hdr.ip.diffserv, hdr.ip.totalLen, hdr.ip.identification,
              hdr.ip.flags, hdr.ip.fragOffset, hdr.ip.ttl, hdr.ip.protocol, hdr.ip.srcAddr,
              hdr.ip.dstAddr, hdr.ip.options },
            hdr.ip.hdrChecksum, HashAlgorithm.csum16);
    }
}
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.o.setValid();
        if (sm.checksum_error == 1) {
            hdr.o.flags = 1;
        }
        if (sm.parser_error == error.HeaderTooShort) {
            hdr.o.flags = 2;
        } else if (sm.parser_error == error.PacketTooShort) {
            hdr.o.flags = 3;
        }
        hdr.o.minbits = (bit<16>)hdr.ip.minSizeInBits();
        hdr.o.minbytes = (bit<8>)hdr.ip.minSizeInBytes();
        hdr.ip.ttl = hdr.ip.ttl - 1;
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) {
    apply {
        update_checksum(hdr.ip.isValid(),
            { hdr.ip.version, hdr.ip.ihl, hdr.ip.diffserv, hdr.ip.totalLen, hdr.ip.identification,
              hdr.ip.flags, hdr.ip.fragOffset, hdr.ip.ttl, hdr.ip.protocol, hdr.ip.srcAddr,
              hdr.ip.dstAddr, hdr.ip.options },
            hdr.ip.hdrChecksum, HashAlgorithm.csum16);
        update_checksum_with_payload(hdr.o.isValid(), { hdr.ip.options }, hdr.o.psum, HashAlgorithm.csum16);
    }
}
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.ip); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
