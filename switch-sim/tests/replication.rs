//! v1model's packet replication and the hash algorithms: what switch-sim
//! refuses at load, with the construct's position, because it would
//! otherwise differ silently from simple_switch (clone, resubmit,
//! recirculate, a multicast group, HashAlgorithm.random), and the custom
//! CRCs, which start as crc16 / crc32 in bmv2.

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};

const SHELL: &str = r#"#include <core.p4>
#include <v1model.p4>
header h_t { bit<32> t0; bit<32> t1; bit<8> t2; }
header o_t { bit<16> c16; bit<32> c32; bit<16> a16; bit<32> a32; }
struct headers { h_t h; o_t o; }
struct meta_t { bit<8> f; }
parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    state start { pkt.extract(hdr.h); transition accept; }
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
    apply {
        hdr.o.setValid();
        hash(hdr.o.c16, HashAlgorithm.crc16_custom, 16w0, { hdr.h.t0, hdr.h.t1, hdr.h.t2 }, 32w65536);
        hash(hdr.o.c32, HashAlgorithm.crc32_custom, 32w0, { hdr.h.t0, hdr.h.t1, hdr.h.t2 }, 0x100000000);
        hash(hdr.o.a16, HashAlgorithm.crc16, 16w0, { hdr.h.t0, hdr.h.t1, hdr.h.t2 }, 32w65536);
        hash(hdr.o.a32, HashAlgorithm.crc32, 32w0, { hdr.h.t0, hdr.h.t1, hdr.h.t2 }, 0x100000000);
        BODY
        sm.egress_spec = 1;
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.o); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"#;

#[test]
fn custom_crcs_are_bmv2_defaults() {
    let mut sw = Dual::load_str("t.p4", &SHELL.replace("BODY", "")).unwrap();
    // "123456789": the CRC catalogue's check values, CRC-16/ARC bb3d and
    // CRC-32/ISO-HDLC cbf43926 (bmv2's crc16 and crc32, and its custom
    // CRCs before the CLI changes their parameters).
    let text = "313233343536373839";
    assert_eq!(sw.process(0, &hex(text)), Some((1, hex(&format!("{text} bb3d cbf43926 bb3d cbf43926")))));
}

#[test]
fn replication_and_random_hash_are_refused_with_positions() {
    let cases = [
        ("clone(CloneType.I2E, 32w5);", "`clone` needs simple_switch's packet replication engine"),
        ("clone_preserving_field_list(CloneType.E2E, 32w5, 8w1);", "`clone_preserving_field_list` needs"),
        ("resubmit_preserving_field_list(8w1);", "`resubmit_preserving_field_list` needs"),
        ("recirculate_preserving_field_list(8w1);", "`recirculate_preserving_field_list` needs"),
        ("sm.mcast_grp = 16w3;", "multicast needs simple_switch's packet replication engine"),
        ("hash(meta.f, HashAlgorithm.random, 8w0, { hdr.h.t0, hdr.h.t1, hdr.h.t2 }, 8w4);", "HashAlgorithm.random: simple_switch refuses the program at load"),
    ];
    for (body, want) in cases {
        let src = SHELL.replace("BODY", body);
        let e = refused(&src);
        assert!(e.message.contains(want), "`{body}`: `{e}` lacks `{want}`");
        assert_eq!(e.line, src.lines().position(|l| l.contains(body)).unwrap() as u32 + 1, "{e}");
    }
    // Setting no multicast group is what every program without multicast
    // does implicitly; it stays accepted.
    Dual::load_str("t.p4", &SHELL.replace("BODY", "sm.mcast_grp = 0;")).unwrap();
}
