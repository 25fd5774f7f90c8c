//! Language tests, one feature each, on small programs of their own; and
//! refusals, each with the position and what is missing. Every program
//! that processes packets runs on both engines (`Dual`).

use switchyard_switch_sim::{ApiError, Digest, Engine, FieldMatch, LoadError, Switch, TableEntry};

/// A program on the fast engine (what the assertions check) and on the
/// interpreter, the reference: every packet's output, every write's
/// result, the digests, counters, registers and entries read must agree.
struct Dual {
    sw: Switch,
    reference: Switch,
}

impl Dual {
    fn load_str(name: &str, text: &str) -> Result<Dual, LoadError> {
        let sw = Switch::load_str(name, text)?;
        assert_eq!(sw.engine(), Engine::Fast, "the fast engine refused the program: {:?}", sw.fast_error());
        let mut reference = Switch::load_str(name, text)?;
        reference.set_engine(Engine::Interp).unwrap();
        Ok(Dual { sw, reference })
    }

    fn process(&mut self, port: u16, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        let out = self.sw.process(port, frame);
        assert_eq!(out, self.reference.process(port, frame), "engines differ on port {port} frame {frame:02x?}");
        out
    }

    fn insert(&mut self, table: &str, e: &TableEntry) -> Result<(), ApiError> {
        let r = self.sw.insert(table, e);
        assert_eq!(r, self.reference.insert(table, e));
        r
    }

    fn modify(&mut self, table: &str, e: &TableEntry) -> Result<(), ApiError> {
        let r = self.sw.modify(table, e);
        assert_eq!(r, self.reference.modify(table, e));
        r
    }

    fn delete(&mut self, table: &str, m: &[FieldMatch], priority: i32) -> Result<(), ApiError> {
        let r = self.sw.delete(table, m, priority);
        assert_eq!(r, self.reference.delete(table, m, priority));
        r
    }

    fn set_default(&mut self, table: &str, action: &str, params: &[u64]) -> Result<(), ApiError> {
        let r = self.sw.set_default(table, action, params);
        assert_eq!(r, self.reference.set_default(table, action, params));
        r
    }

    fn set_time(&mut self, ns: u64) {
        self.sw.set_time(ns);
        self.reference.set_time(ns);
    }

    fn take_digests(&mut self) -> Vec<Digest> {
        let d = self.sw.take_digests();
        assert_eq!(d, self.reference.take_digests());
        d
    }

    fn counter(&self, name: &str, index: usize) -> Result<(u64, u64), ApiError> {
        let c = self.sw.counter(name, index);
        assert_eq!(c, self.reference.counter(name, index));
        c
    }

    fn register(&self, name: &str) -> Result<&[u64], ApiError> {
        let r = self.sw.register(name);
        assert_eq!(r, self.reference.register(name));
        r
    }

    fn entry(&self, table: &str, m: &[FieldMatch], priority: i32) -> Result<&switchyard_switch_sim::table::Entry, ApiError> {
        let e = self.sw.entry(table, m, priority);
        assert_eq!(format!("{e:?}"), format!("{:?}", self.reference.entry(table, m, priority)));
        e
    }

    fn idle_expired(&self) -> Vec<(String, switchyard_switch_sim::table::EntrySpec)> {
        let x = self.sw.idle_expired();
        assert_eq!(x, self.reference.idle_expired());
        x
    }

    fn program(&self) -> &switchyard_switch_sim::ir::Program {
        self.sw.program()
    }
}

const TEMPLATE: &str = r#"#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<16> c; bit<32> d; }
header byte_t { bit<8> v; }
struct headers { h_t h; byte_t[4] bs; }
struct meta_t { bit<32> x; bit<16> y; bit<8> z; bit<8> n; }
struct dg_t { bit<8> a; bit<16> c; }
TOP
parser P(packet_in pkt, out headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
PARSER
}
control V(inout headers hdr, inout meta_t meta) { apply { } }
control I(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) {
DECLS
    apply {
INGRESS
    }
}
control E(inout headers hdr, inout meta_t meta, inout standard_metadata_t sm) { apply { } }
control C(inout headers hdr, inout meta_t meta) { apply { COMPUTE } }
control D(packet_out pkt, in headers hdr) { apply { pkt.emit(hdr.h); pkt.emit(hdr.bs); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"#;

const SIMPLE_PARSER: &str = "state start { pkt.extract(hdr.h); transition accept; }";

fn program(parser: &str, decls: &str, ingress: &str, compute: &str) -> String {
    program_top("", parser, decls, ingress, compute)
}

fn program_top(top: &str, parser: &str, decls: &str, ingress: &str, compute: &str) -> String {
    TEMPLATE.replace("TOP", top).replace("PARSER", parser).replace("DECLS", decls).replace("INGRESS", ingress).replace("COMPUTE", compute)
}

fn load(parser: &str, decls: &str, ingress: &str) -> Dual {
    let src = program(parser, decls, ingress, "");
    Dual::load_str("t.p4", &src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// h = a b c(2) d(4), then the rest.
fn pkt(a: u8, b: u8, c: u16, d: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![a, b];
    v.extend_from_slice(&c.to_be_bytes());
    v.extend_from_slice(&d.to_be_bytes());
    v.extend_from_slice(rest);
    v
}

fn refuse(parser: &str, decls: &str, ingress: &str, want: &str) -> (u32, u32) {
    let src = program(parser, decls, ingress, "");
    match Switch::load_str("t.p4", &src) {
        Ok(_) => panic!("program was accepted, wanted a refusal containing `{want}`"),
        Err(e) => {
            assert!(e.message.contains(want), "refusal `{e}` lacks `{want}`");
            assert_eq!(e.file, "t.p4", "{e}");
            assert!(e.line > 0 && e.col > 0, "{e}");
            (e.line, e.col)
        }
    }
}

fn line_of(src: &str, needle: &str) -> u32 {
    src.lines().position(|l| l.contains(needle)).expect("needle in program") as u32 + 1
}

#[test]
fn arithmetic_wraps_saturates_slices_concats_casts() {
    let mut sw = load(
        SIMPLE_PARSER,
        "",
        "hdr.h.a = hdr.h.a + 200;
         hdr.h.b = hdr.h.b |-| 8w50;
         meta.z = 8w250 |+| 8w10;
         hdr.h.c = hdr.h.a ++ meta.z;
         hdr.h.d = ((bit<32>)hdr.h.c[15:8] << 4) | (bit<32>)hdr.h.d[3:0];
         hdr.h.d[31:28] = 4w0xA;
         meta.y = -hdr.h.c;
         sm.egress_spec = (bit<9>)(meta.y[3:0] * 3);",
    );
    let (port, out) = sw.process(1, &pkt(100, 20, 0, 0x0000_0007, &[9, 9])).unwrap();
    let a = 100u8.wrapping_add(200);
    let c = u16::from(a) << 8 | 255;
    let d = (u32::from(a) << 4 | 7) & 0x0fff_ffff | 0xa000_0000;
    assert_eq!(out, pkt(a, 0, c, d, &[9, 9]));
    assert_eq!(port, u16::from(c.wrapping_neg() & 0xf) * 3);
}

#[test]
fn if_else_exit_and_return() {
    let mut sw = load(
        SIMPLE_PARSER,
        "action set_b(bit<8> v) { hdr.h.b = v; if (v == 8w2) { return; } hdr.h.c = 16w99; }",
        "if (hdr.h.a == 1) { set_b(2); } else if (hdr.h.a == 2) { set_b(3); } else { set_b(4); exit; }
         hdr.h.d = 32w77;",
    );
    assert_eq!(sw.process(0, &pkt(1, 0, 0, 0, &[])).unwrap().1, pkt(1, 2, 0, 77, &[]));
    assert_eq!(sw.process(0, &pkt(2, 0, 0, 0, &[])).unwrap().1, pkt(2, 3, 99, 77, &[]));
    assert_eq!(sw.process(0, &pkt(5, 0, 0, 0, &[])).unwrap().1, pkt(5, 4, 99, 0, &[]), "exit skips the rest");
}

#[test]
fn select_masks_ranges_tuples_lookahead() {
    let parser = "state start {
            pkt.extract(hdr.h);
            transition select(hdr.h.a, hdr.h.b) {
                (8w1, 8w0x10 &&& 8w0xf0): one;
                (8w2, 8w5 .. 8w9): two;
                (_, 8w0xff): peek;
                default: accept;
            }
        }
        state one { meta.x = 1; transition accept; }
        state two { meta.x = 2; transition accept; }
        state peek {
            bit<16> next = pkt.lookahead<bit<16>>();
            meta.x = (bit<32>)next;
            transition accept;
        }";
    let mut sw = load(parser, "", "hdr.h.d = meta.x;");
    let d = |sw: &mut Dual, a, b| {
        let out = sw.process(0, &pkt(a, b, 0, 0, &[0xab, 0xcd])).unwrap().1;
        u32::from_be_bytes([out[4], out[5], out[6], out[7]])
    };
    assert_eq!(d(&mut sw, 1, 0x1f), 1);
    assert_eq!(d(&mut sw, 1, 0x20), 0);
    assert_eq!(d(&mut sw, 2, 5), 2);
    assert_eq!(d(&mut sw, 2, 9), 2);
    assert_eq!(d(&mut sw, 2, 10), 0);
    assert_eq!(d(&mut sw, 7, 0xff), 0xabcd, "lookahead does not consume");
}

#[test]
fn header_stacks_next_pop_push_and_parser_errors() {
    let parser = "state start {
            pkt.extract(hdr.h);
            meta.n = hdr.h.a;
            transition select(meta.n) { 0: accept; default: more; }
        }
        state more {
            pkt.extract(hdr.bs.next);
            meta.n = meta.n - 1;
            transition select(meta.n) { 0: accept; default: more; }
        }";
    let mut sw = load(
        parser,
        "",
        "if (sm.parser_error == error.StackOutOfBounds) { hdr.h.b = 0xee; }
         else if (sm.parser_error == error.PacketTooShort) { hdr.h.b = 0xdd; }
         else if (hdr.h.b == 1) { hdr.bs.pop_front(1); }
         else if (hdr.h.b == 2) { hdr.bs.push_front(1); hdr.bs[0].setValid(); hdr.bs[0].v = 0x77; }
         hdr.h.c = (bit<16>)(hdr.bs[1].isValid() ? 8w1 : 8w0);",
    );
    assert_eq!(sw.process(0, &pkt(3, 0, 0, 0, &[1, 2, 3, 4])).unwrap().1, pkt(3, 0, 1, 0, &[1, 2, 3, 4]));
    assert_eq!(sw.process(0, &pkt(3, 1, 0, 0, &[1, 2, 3, 4])).unwrap().1, pkt(3, 1, 1, 0, &[2, 3, 4]), "pop_front");
    assert_eq!(sw.process(0, &pkt(2, 2, 0, 0, &[1, 2, 9])).unwrap().1, pkt(2, 2, 1, 0, &[0x77, 1, 2, 9]), "push_front");
    // 5 elements into a stack of 4 / 3 elements from 2 bytes.
    assert_eq!(sw.process(0, &pkt(5, 0, 0, 0, &[1, 2, 3, 4, 5])).unwrap().1[1], 0xee);
    assert_eq!(sw.process(0, &pkt(3, 0, 0, 0, &[1, 2])).unwrap().1[1], 0xdd);
}

fn exact(v: u64) -> FieldMatch {
    FieldMatch::Exact(v)
}

fn te(m: Vec<FieldMatch>, action: &str, params: Vec<u64>, priority: i32) -> TableEntry {
    TableEntry { matches: m, action: action.into(), params, priority, idle_timeout_ns: 0 }
}

#[test]
fn tables_exact_lpm_ternary_defaults_and_switch() {
    let decls = "
        action set_x(bit<32> v) { meta.x = v; }
        action set_y(bit<16> v) { meta.y = v; }
        action miss() { meta.x = 32w0xdead; }
        direct_counter(CounterType.packets) ex_hits;
        table ex { key = { hdr.h.a : exact; hdr.h.b : exact @name(\"bee\"); } actions = { set_x; set_y; miss; } default_action = miss(); size = 2; counters = ex_hits; }
        table lp { key = { hdr.h.d : lpm; } actions = { set_x; NoAction; } }
        table tern { key = { hdr.h.c : ternary; } actions = { set_y; } default_action = set_y(7); }
        table consts { key = { hdr.h.a : exact; } actions = { set_y; } const entries = { 8w1 : set_y(11); 8w2 : set_y(22); } }";
    let ingress = "
        switch (ex.apply().action_run) {
            set_x: { hdr.h.d = meta.x; }
            miss: { if (lp.apply().hit) { hdr.h.d = meta.x; } else { hdr.h.d = 32w1; } }
            default: { }
        }
        tern.apply();
        hdr.h.c = meta.y;
        if (!consts.apply().miss) { hdr.h.b = (bit<8>)meta.y; }";
    let mut sw = load(SIMPLE_PARSER, decls, ingress);
    sw.insert("ex", &te(vec![exact(1), exact(2)], "set_x", vec![0x11], 0)).unwrap();
    sw.insert("ex", &te(vec![exact(1), exact(3)], "set_y", vec![5], 0)).unwrap();
    let full = sw.insert("ex", &te(vec![exact(9), exact(9)], "set_x", vec![1], 0)).unwrap_err();
    assert!(full.to_string().contains("full"), "{full}");
    sw.insert("lp", &te(vec![FieldMatch::Lpm { value: 0x0a00_0000, prefix_len: 8 }], "set_x", vec![8], 0)).unwrap();
    sw.insert("lp", &te(vec![FieldMatch::Lpm { value: 0x0a01_0000, prefix_len: 16 }], "set_x", vec![16], 0)).unwrap();
    sw.insert("tern", &te(vec![FieldMatch::Ternary { value: 0x0100, mask: 0xff00 }], "set_y", vec![100], 1)).unwrap();
    sw.insert("tern", &te(vec![FieldMatch::Ternary { value: 0x0101, mask: 0xffff }], "set_y", vec![200], 5)).unwrap();
    let run = |sw: &mut Dual, a, b, c, d| sw.process(0, &pkt(a, b, c, d, &[])).unwrap().1;
    assert_eq!(run(&mut sw, 1, 2, 0, 0), pkt(1, 11, 7, 0x11, &[]), "exact hit, tern default, const entry 1");
    assert_eq!(run(&mut sw, 3, 0, 0x0101, 0x0a01_0203), pkt(3, 0, 200, 16, &[]), "longest prefix, higher priority");
    assert_eq!(run(&mut sw, 3, 0, 0x01ff, 0x0a02_0000), pkt(3, 0, 100, 8, &[]));
    assert_eq!(run(&mut sw, 2, 0, 0, 0x0b00_0000), pkt(2, 22, 7, 1, &[]), "lpm miss");
    assert_eq!(run(&mut sw, 1, 3, 0, 0), pkt(1, 11, 7, 0, &[]), "set_y arm: default arm of switch runs nothing");
    assert_eq!(sw.entry("ex", &[exact(1), exact(2)], 0).unwrap().packets, 1, "direct counter");
    // Modify, delete, default action, const entries refused.
    sw.modify("ex", &te(vec![exact(1), exact(2)], "set_x", vec![0x22], 0)).unwrap();
    assert_eq!(run(&mut sw, 1, 2, 0, 0)[4..8], [0, 0, 0, 0x22]);
    sw.delete("ex", &[exact(1), exact(2)], 0).unwrap();
    assert_eq!(run(&mut sw, 1, 2, 0, 0)[4..8], [0, 0, 0, 1], "now a miss, lpm misses");
    sw.set_default("tern", "set_y", &[9]).unwrap();
    assert_eq!(run(&mut sw, 3, 0, 0, 0)[2..4], [0, 9]);
    assert!(sw.insert("consts", &te(vec![exact(5)], "set_y", vec![1], 0)).is_err());
    assert!(sw.insert("ex", &te(vec![exact(300), exact(1)], "set_x", vec![1], 0)).is_err(), "value wider than the key");
    assert!(sw.insert("ex", &te(vec![exact(1), exact(1)], "set_x", vec![1 << 33], 0)).is_err(), "param wider than bit<32>");
}

#[test]
fn counters_registers_hashes_digest_drop_truncate() {
    let decls = "
        counter(8, CounterType.packets_and_bytes) cnt;
        register<bit<16>>(4) reg;
        action bump() { bit<16> r; reg.read(r, (bit<32>)hdr.h.a); reg.write((bit<32>)hdr.h.a, r + 1); meta.y = r + 1; }";
    let ingress = "
        cnt.count((bit<32>)hdr.h.a);
        bump();
        hdr.h.c = meta.y;
        hash(meta.x, HashAlgorithm.crc32, 32w0, { hdr.h.a, hdr.h.b }, 64w0x100000000);
        hdr.h.d = meta.x;
        if (hdr.h.b == 1) { bit<16> h16; hash(h16, HashAlgorithm.crc16, 16w0, { hdr.h.a, hdr.h.b }, 17w65536); hdr.h.c = h16; }
        if (hdr.h.b == 2) { hash(meta.y, HashAlgorithm.identity, 16w10, { hdr.h.a, hdr.h.b }, 16w1000); hdr.h.c = meta.y; }
        if (hdr.h.b == 3) { digest<dg_t>(5, { hdr.h.a, hdr.h.c }); }
        if (hdr.h.b == 4) { mark_to_drop(sm); }
        if (hdr.h.b == 5) { truncate(32w3); }";
    let mut sw = load(SIMPLE_PARSER, decls, ingress);
    let out = sw.process(0, &pkt(2, 0, 0, 0, &[7])).unwrap().1;
    assert_eq!(out[2..4], [0, 1], "register starts at 0");
    assert_eq!(u32::from_be_bytes([out[4], out[5], out[6], out[7]]), switchyard_wire::flow::crc32(&[2, 0]), "max 2^32: the raw hash");
    let out = sw.process(0, &pkt(2, 0, 0, 0, &[])).unwrap().1;
    assert_eq!(out[2..4], [0, 2], "register persists across packets");
    assert_eq!(sw.register("reg").unwrap()[2], 2);
    assert_eq!(sw.counter("cnt", 2).unwrap(), (2, 9 + 8));
    let out = sw.process(0, &pkt(0x31, 1, 0, 0, &[])).unwrap().1;
    assert_eq!(u16::from_be_bytes([out[2], out[3]]), switchyard_switch_sim::hashes::crc16(&[0x31, 1]));
    let out = sw.process(0, &pkt(0x12, 2, 0, 0, &[])).unwrap().1;
    assert_eq!(u16::from_be_bytes([out[2], out[3]]), 10 + (0x1202 % 1000), "identity, base + h % max");
    sw.take_digests();
    sw.process(0, &pkt(9, 3, 0, 0, &[])).unwrap();
    let d = sw.take_digests();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].receiver, 5);
    assert_eq!(d[0].type_name, "dg_t");
    assert_eq!(d[0].fields, vec![("a".to_string(), 8, 9), ("c".to_string(), 16, 1)]);
    assert!(sw.process(0, &pkt(9, 4, 0, 0, &[])).is_none(), "mark_to_drop");
    assert_eq!(sw.process(0, &pkt(9, 5, 0, 0, &[1, 2])).unwrap().1.len(), 3, "truncate");
    // v1model: max = 0 yields base.
    let mut sw = load(SIMPLE_PARSER, "", "hash(meta.x, HashAlgorithm.crc32, 32w5, { hdr.h.a }, 32w0); hdr.h.d = meta.x;");
    assert_eq!(sw.process(0, &pkt(1, 0, 0, 0, &[])).unwrap().1[4..8], [0, 0, 0, 5]);
}

#[test]
fn checksums_with_payload() {
    let src = program(
        SIMPLE_PARSER,
        "",
        "if (hdr.h.b == 0) { hdr.h.a = 8w0x55; }",
        "update_checksum_with_payload(hdr.h.b == 0, { hdr.h.a, hdr.h.b, hdr.h.d }, hdr.h.c, HashAlgorithm.csum16);",
    );
    let mut sw = Dual::load_str("t.p4", &src).unwrap();
    let out = sw.process(0, &pkt(1, 0, 0, 0x0102_0304, &[0xf0, 0x0f, 0x11])).unwrap().1;
    let want = switchyard_switch_sim::hashes::csum16(&[0x55, 0, 1, 2, 3, 4, 0xf0, 0x0f, 0x11]);
    assert_eq!(u16::from_be_bytes([out[2], out[3]]), want);
    let out = sw.process(0, &pkt(1, 1, 0xabcd, 0, &[])).unwrap().1;
    assert_eq!(out[2..4], [0xab, 0xcd], "condition false: untouched");
}

#[test]
fn defines_ifdef_and_include_of_system_files() {
    let src = program(SIMPLE_PARSER, "#define SEVEN 8w7\n#ifdef SEVEN\n#define PICK SEVEN\n#else\n#define PICK 8w1\n#endif", "hdr.h.a = PICK;", "");
    let mut sw = Dual::load_str("t.p4", &src).unwrap();
    assert_eq!(sw.process(0, &pkt(0, 0, 0, 0, &[])).unwrap().1[0], 7);
}

#[test]
fn idle_timeout_timestamps() {
    let src = program(
        SIMPLE_PARSER,
        "action a() { } table t { key = { hdr.h.a : exact; } actions = { a; } support_timeout = true; }",
        "t.apply();",
        "",
    );
    let mut sw = Dual::load_str("t.p4", &src).unwrap();
    sw.set_time(1_000);
    sw.insert("t", &TableEntry { matches: vec![exact(1)], action: "a".into(), params: vec![], priority: 0, idle_timeout_ns: 500 }).unwrap();
    sw.set_time(1_400);
    assert!(sw.idle_expired().is_empty());
    sw.process(0, &pkt(1, 0, 0, 0, &[]));
    sw.set_time(1_800);
    assert!(sw.idle_expired().is_empty(), "the hit at 1400 renewed it");
    sw.set_time(1_900);
    assert_eq!(sw.idle_expired().len(), 1);
    assert_eq!(sw.entry("t", &[exact(1)], 0).unwrap().last_hit_ns, 1_400);
}

#[test]
fn refusals_name_position_and_what_is_missing() {
    let p = SIMPLE_PARSER;
    refuse(p, "", "int<8> x = 1; hdr.h.a = x;", "type mismatch: expected bit<8>, found int<8>");
    refuse(p, "", "varbit<32> x;", "varbit only as the last field of a header");
    refuse(p, "", "bit<65> x;", "widths 1..=64");
    refuse(p, "", "hdr.h.c = hdr.h.a;", "type mismatch: expected bit<16>, found bit<8>");
    refuse(p, "", "hdr.h.c = hdr.h.a + hdr.h.c;", "different types");
    refuse(p, "", "clone(CloneType.I2E, 32w1);", "`clone` needs simple_switch's packet replication engine");
    refuse(p, "", "hdr.h.zz = 1;", "no field `zz`");
    refuse(p, "", "resubmit_preserving_field_list(8w0);", "which switch-sim does not implement");
    refuse(p, "", "no_such_function(8w0);", "unknown function `no_such_function`");
    refuse(p, "action_profile(32w8) ap;", "", "extern `action_profile` is not supported");
    refuse(p, "action a() {} table t { key = { hdr.h.a : exact; } actions = { a; } implementation = foo; }", "", "table property `implementation`");
    refuse(p, "", "hdr.h.a = hdr.bs[meta.n].v;", "must be a compile-time constant");
    refuse(p, "", "hdr.h.a = (8w1 == 8w1) ? 8w1 : 8w2; hdr.h.b = hdr.h.a[8:1];", "out of range");
    refuse(p, "", "if (hdr.h.a) { }", "must be bool");
    refuse(p, "action a() {} table t { key = { hdr.h.a : exact; } actions = { a; } }", "hdr.h.a = t.apply().hit ? 8w1 : 8w0;", "table application");
    refuse(p, "", "hdr.h.a = hdr.h.a ++ hdr.h.b;", "type mismatch");
    refuse(p, "action a() {} table t { key = { hdr.h.a : exact; } actions = { a; } }", "t.apply(); if (hdr.h.a == 1) { t.apply(); }", "applied more than once");
    refuse("state start { pkt.extract(hdr.h); transition nowhere; }", "", "", "unknown state `nowhere`");
    refuse("state start { pkt.extract(hdr.h, 32w8); transition accept; }", "", "", "varbit");
    // The position points at the offending construct.
    let src = program(p, "", "hdr.h.a = 8w1;\n        hdr.h.c = 8w2;", "");
    let e = Switch::load_str("t.p4", &src).unwrap_err();
    assert_eq!(e.line, line_of(&src, "hdr.h.c = 8w2"), "{e}");
    let e = Switch::load_str("t.p4", "header_union u_t { }\n").unwrap_err();
    assert!(e.message.contains("header_union"), "{e}");
    let e = Switch::load_str("t.p4", "#include <psa.p4>\n").unwrap_err();
    assert!(e.message.contains("core.p4 and v1model.p4"), "{e}");
    let e = Switch::load_str("t.p4", "bit<8> f(in bit<8> x) { return x; }\n").unwrap_err();
    assert!(e.message.contains("functions are not supported"), "{e}");
    let e = Switch::load_str("t.p4", "#include <core.p4>\n#define F(x) x\n").unwrap_err();
    assert!(e.message.contains("function-like macros"), "{e}");
}

#[test]
fn out_params_structs_enums_consts_and_range_optional_keys() {
    let top = "
        enum Color { Red, Green }
        enum bit<8> Kind { A = 8w3, B = 8w9 }
        const bit<16> K = 16w0x0102;
        type bit<8> small_t;
        struct pair_t { bit<8> p; bit<8> q; }";
    let decls = "
        action twice(in bit<8> x, out bit<8> y, inout bit<16> z) { y = x + x; z = z + 1; }
        @name(\".renamed\") action r(bit<16> v) { hdr.h.c = v; }
        table rng { key = { hdr.h.a : range; hdr.h.b : optional; } actions = { r; } default_action = r(16w1); }";
    let ingress = "
        pair_t s1 = { 8w1, 8w2 };
        pair_t s2 = s1;
        s2.q = 8w5;
        Color c = Color.Green;
        small_t t = (small_t)8w4;
        bit<8> y = 0;
        twice(hdr.h.b, y, meta.y);
        hdr.h.d = (bit<32>)(s2.p ++ s2.q ++ y ++ t);
        if (c == Color.Green && hdr.h.b != Kind.B) { rng.apply(); }
        if (hdr.h.b == Kind.A) { hdr.h.c = K + meta.y; }";
    let src = program_top(top, SIMPLE_PARSER, decls, ingress, "");
    let mut sw = Dual::load_str("t.p4", &src).unwrap_or_else(|e| panic!("{e}"));
    let r = |lo, hi, opt: Option<u64>, v| TableEntry {
        matches: vec![FieldMatch::Range { low: lo, high: hi }, FieldMatch::Optional(opt)],
        action: "renamed".into(),
        params: vec![v],
        priority: 1,
        idle_timeout_ns: 0,
    };
    sw.insert("rng", &r(10, 20, None, 77)).unwrap();
    sw.insert("rng", &TableEntry { priority: 2, ..r(15, 15, Some(1), 88) }).unwrap();
    assert_eq!(sw.program().actions.iter().filter(|a| a.name == "renamed").count(), 1, "@name(\".x\") is global");
    let out = sw.process(0, &pkt(12, 1, 0, 0, &[])).unwrap().1;
    assert_eq!(out[4..8], [1, 5, 2, 4], "struct copy, out param, typedef cast");
    assert_eq!(out[2..4], [0, 77], "range hit, optional wildcard");
    assert_eq!(sw.process(0, &pkt(15, 1, 0, 0, &[])).unwrap().1[2..4], [0, 88], "higher priority wins");
    assert_eq!(sw.process(0, &pkt(30, 1, 0, 0, &[])).unwrap().1[2..4], [0, 1], "default action");
    assert_eq!(sw.process(0, &pkt(30, 3, 0, 0, &[])).unwrap().1[2..4], [1, 3], "serializable enum, const, inout");
    assert_eq!(sw.process(0, &pkt(12, 9, 0xaaaa, 0, &[])).unwrap().1[2..4], [0xaa, 0xaa], "Kind.B: table skipped");
}

#[test]
fn reject_and_verify_reach_ingress_with_the_error() {
    let parser = "state start {
            pkt.extract(hdr.h);
            verify(hdr.h.a != 0, error.NoMatch);
            transition select(hdr.h.a) { 1: reject; default: accept; }
        }";
    let mut sw = load(
        parser,
        "",
        "if (sm.parser_error == error.NoMatch) { hdr.h.b = 1; } else if (sm.parser_error == error.NoError) { hdr.h.b = 2; }",
    );
    assert_eq!(sw.process(0, &pkt(0, 0, 0, 0, &[])).unwrap().1[1], 1, "verify failure");
    assert_eq!(sw.process(0, &pkt(1, 0, 0, 0, &[])).unwrap().1[1], 2, "explicit reject keeps NoError");
    assert_eq!(sw.process(0, &pkt(2, 0, 0, 0, &[])).unwrap().1[1], 2);
}

/// The program text at V1MODEL_VERSION 20200408 (defined before the
/// include, as a p4c user does with -D).
fn at_2020(src: &str) -> String {
    format!("#define V1MODEL_VERSION 20200408\n{src}")
}

fn refusal(src: &str, want: &str) -> switchyard_switch_sim::LoadError {
    match Switch::load_str("t.p4", src) {
        Ok(_) => panic!("accepted, wanted a refusal containing `{want}`:\n{src}"),
        Err(e) => {
            assert!(e.message.contains(want), "refusal `{e}` lacks `{want}`");
            e
        }
    }
}

fn col_of(src: &str, line: u32, needle: &str) -> u32 {
    src.lines().nth(line as usize - 1).unwrap().find(needle).unwrap() as u32 + 1
}

#[test]
fn port_id_t_exists_only_from_v1model_20200408() {
    // p4c 1.2.4.9 at the default V1MODEL_VERSION (20180101): syntax error,
    // unexpected IDENTIFIER "PortId_t". switch-sim refuses it there too.
    let decls = "action fwd(PortId_t port) { sm.egress_spec = port; }\n    table t { key = { hdr.h.a : exact; } actions = { fwd; } }";
    let src = program(SIMPLE_PARSER, decls, "t.apply();", "");
    let e = refusal(&src, "unknown type `PortId_t`");
    assert!(e.message.contains("V1MODEL_VERSION >= 20200408") && e.message.contains("20180101"), "{e}");
    assert_eq!(e.file, "t.p4");
    let line = line_of(&src, "action fwd(PortId_t");
    assert_eq!((e.line, e.col), (line, col_of(&src, line, "PortId_t")), "{e}");
    // The same through a file and -D, and with the define the program loads.
    let dir = std::env::temp_dir().join(format!("sy-lang-portid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("p.p4");
    std::fs::write(&f, &src).unwrap();
    let e = Switch::load(&f, &[]).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), (f.to_str().unwrap(), line), "{e}");
    let v2020 = [("V1MODEL_VERSION".to_string(), "20200408".to_string())];
    Switch::load(&f, &v2020).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    Switch::load_str("t.p4", &at_2020(&src)).unwrap_or_else(|e| panic!("{e}"));
    // bit<9> works at every version.
    let plain = src.replace("PortId_t port", "bit<9> port");
    Switch::load_str("t.p4", &plain).unwrap();
    Switch::load_str("t.p4", &at_2020(&plain)).unwrap();
}

#[test]
fn counters_and_registers_follow_the_v1model_version() {
    let p = SIMPLE_PARSER;
    let old_ok = "counter(8, CounterType.packets) c;\n    register<bit<16>>(4) r;\n    \
                  action a() { bit<16> v; r.read(v, (bit<32>)hdr.h.a); r.write(32w1, v); c.count(3); }";
    let src = program(p, old_ok, "a(); c.count((bit<32>)hdr.h.a);", "");
    Switch::load_str("t.p4", &src).unwrap_or_else(|e| panic!("{e}"));
    // Default version: not generic, indexed with bit<32> exactly.
    let e = refusal(&program(p, "counter(8, CounterType.packets) c;", "c.count(hdr.h.a);", ""), "the index is bit<8>");
    assert!(e.message.contains("takes bit<32>") && e.message.contains("20180101"), "{e}");
    refusal(&program(p, "counter<bit<32>>(8, CounterType.packets) c;", "c.count(32w1);", ""), "type counter has 0 type parameter(s), but it is specialized with 1");
    refusal(&program(p, "register<bit<16>, bit<32>>(4) r;", "", ""), "type register has 1 type parameter(s), but it is specialized with 2");
    refusal(&program(p, "register<bit<16>>(4) r;", "bit<16> v; r.read(v, hdr.h.a);", ""), "the index is bit<8>");
    refusal(&program(p, "direct_counter<bit<32>>(CounterType.packets) d;", "", ""), "direct_counter has 0 type parameter(s)");

    // 20200408: generic counter<I> and register<T, I>. The old form of the
    // counter is accepted as a declaration but no index converts to I (what
    // p4c said about switchyard.p4's `.count((bit<32>)...)` at that version).
    let src = at_2020(&program(p, "counter(8, CounterType.packets) c;", "c.count((bit<32>)hdr.h.a);", ""));
    let e = refusal(&src, "cannot cast implicitly type 'bit<32>' to type 'I'");
    let line = line_of(&src, "c.count((bit<32>)");
    assert_eq!((e.line, e.col), (line, col_of(&src, line, "(bit<32>)hdr")), "{e}");
    refusal(&at_2020(&program(p, "register<bit<16>>(4) r;", "", "")), "type register has 2 type parameter(s), but it is specialized with 1");
    let new_ok = "counter<bit<8>>(8, CounterType.packets) c;\n    register<bit<16>, bit<8>>(4) r;\n    \
                  action a() { bit<16> v; r.read(v, hdr.h.a); r.write(8w1, v); c.count(hdr.h.a); }";
    let mut sw = Dual::load_str("t.p4", &at_2020(&program(p, new_ok, "a();", ""))).unwrap_or_else(|e| panic!("{e}"));
    sw.process(0, &pkt(2, 0, 0, 0, &[])).unwrap();
    assert_eq!(sw.counter("c", 2).unwrap().0, 1);
    refusal(&at_2020(&program(p, "counter<bit<8>>(8, CounterType.packets) c;", "c.count((bit<32>)hdr.h.a);", "")), "the index is bit<32>, `counter<I>` takes bit<8>");
}

#[test]
fn switchyard_p4_is_refused_at_v1model_20200408_as_p4c_refuses_it() {
    // The issue's report: at 20200408 the four `.count((bit<32>)...)` calls
    // fail in p4c; the first one in source order is report_teardown's.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let p4 = root.join("p4/switchyard.p4");
    Switch::load(&p4, &[]).unwrap_or_else(|e| panic!("{e}"));
    let e = Switch::load(&p4, &[("V1MODEL_VERSION".into(), "20200408".into())]).unwrap_err();
    assert!(e.message.contains("cannot cast implicitly type 'bit<32>' to type 'I'"), "{e}");
    let text = std::fs::read_to_string(&p4).unwrap();
    assert_eq!(e.line, line_of(&text, "path_counter.count((bit<32>)PATH_TEARDOWN_DIGEST)"), "{e}");
}

/// One SipRound on action locals v0..v3 (4 chained reassignments of v1 and v3).
const SIP_ROUND: &str = "v0 = v0 + v1; v1 = (v1 << 5) | (v1 >> 27); v1 = v1 ^ v0; v0 = (v0 << 16) | (v0 >> 16);
        v2 = v2 + v3; v3 = (v3 << 8) | (v3 >> 24); v3 = v3 ^ v2; v0 = v0 + v3;
        v3 = (v3 << 7) | (v3 >> 25); v3 = v3 ^ v0; v2 = v2 + v1; v1 = (v1 << 13) | (v1 >> 19);
        v1 = v1 ^ v2; v2 = (v2 << 16) | (v2 >> 16);\n";

fn sip_program(rounds_inline: usize, calls: usize) -> String {
    let decls = format!(
        "bit<32> v0; bit<32> v1; bit<32> v2; bit<32> v3;
    action sip_round() {{ {SIP_ROUND} }}
    action rounds() {{
        v0 = hdr.h.d; v1 = meta.x; v2 = hdr.h.d ^ 32w0x6c796765; v3 = meta.x ^ 32w0x74656462;
        {}{}        hdr.h.d = v0 ^ v1 ^ v2 ^ v3;
    }}",
        SIP_ROUND.repeat(rounds_inline),
        "sip_round();\n".repeat(calls)
    );
    program(SIMPLE_PARSER, &decls, "rounds();", "")
}

#[test]
fn the_p4c_copy_propagation_guard() {
    // 16 SipRounds in one action (the old compute_cookie): p4c never
    // finished. A warning at load, an error when strict, at the action.
    for (inline, calls) in [(16, 0), (0, 16), (3, 2)] {
        let src = sip_program(inline, calls);
        let sw = Switch::load_str("t.p4", &src).unwrap_or_else(|e| panic!("{e}"));
        let w = sw.warnings();
        assert_eq!(w.len(), 1, "{inline} inline + {calls} calls: {w:?}");
        assert!(w[0].message.contains("action `rounds`") && w[0].message.contains("LocalCopyPropagation"), "{}", w[0]);
        let line = line_of(&src, "action rounds()");
        assert_eq!((w[0].file.as_str(), w[0].line, w[0].col), ("t.p4", line, col_of(&src, line, "action rounds")), "{}", w[0]);
        let e = Switch::load_str_strict("t.p4", &src).unwrap_err();
        assert_eq!(&e, &w[0]);
    }
    // `v1`/`v3` by name when assigned in the action itself.
    let w = Switch::load_str("t.p4", &sip_program(16, 0)).unwrap().warnings()[0].clone();
    assert!(w.message.contains("`v1` is reassigned 64 times") || w.message.contains("`v3` is reassigned"), "{w}");
    // Four rounds (16 chained reassignments of v1 and v3) is the limit: accepted.
    for (inline, calls) in [(4, 0), (2, 2), (0, 4)] {
        let sw = Switch::load_str_strict("t.p4", &sip_program(inline, calls)).unwrap_or_else(|e| panic!("{inline}+{calls}: {e}"));
        assert!(sw.warnings().is_empty());
    }
    // Reassigning a field from constants or parameters is no chain.
    let src = program(SIMPLE_PARSER, &format!("action a() {{ {} }}", "meta.x = 32w1; meta.x = hdr.h.d;".repeat(20)), "a();", "");
    assert!(Switch::load_str_strict("t.p4", &src).is_ok());
}

#[test]
fn switchyard_p4_passes_the_guard() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sw = Switch::load_strict(&root.join("p4/switchyard.p4"), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(sw.warnings().is_empty());
}

#[test]
fn exact_keys_of_64_bits_and_wider() {
    // 64 bits of key (the u64 index) and 96 bits (the u128 index).
    let decls = "
        action set_c(bit<16> v) { hdr.h.c = v; }
        table k64 { key = { hdr.h.d : exact; hdr.h.c : exact; hdr.h.a : exact; hdr.h.b : exact; } actions = { set_c; NoAction; } default_action = NoAction(); }
        table k96 { key = { hdr.h.d : exact; hdr.h.c : exact; hdr.h.a : exact; hdr.h.b : exact; meta.x : exact; } actions = { set_c; NoAction; } default_action = NoAction(); }";
    let ingress = "meta.x = hdr.h.d ^ 32w0xffffffff; if (hdr.h.a == 1) { k64.apply(); } else { k96.apply(); }";
    let mut sw = load(SIMPLE_PARSER, decls, ingress);
    let d = 0xdead_beef_u64;
    sw.insert("k64", &te(vec![exact(d), exact(0x1234), exact(1), exact(0xff)], "set_c", vec![0x6464], 0)).unwrap();
    sw.insert("k96", &te(vec![exact(d), exact(0x1234), exact(2), exact(0xff), exact(d ^ 0xffff_ffff)], "set_c", vec![0x9696], 0)).unwrap();
    let c = |sw: &mut Dual, a, b, c| {
        let out = sw.process(0, &pkt(a, b, c, d as u32, &[])).unwrap().1;
        u16::from_be_bytes([out[2], out[3]])
    };
    assert_eq!(c(&mut sw, 1, 0xff, 0x1234), 0x6464, "64-bit key hit");
    assert_eq!(c(&mut sw, 1, 0xfe, 0x1234), 0x1234, "64-bit key miss in its lowest byte");
    assert_eq!(c(&mut sw, 2, 0xff, 0x1234), 0x9696, "96-bit key hit");
    assert_eq!(c(&mut sw, 2, 0xff, 0x1235), 0x1235, "96-bit key miss");
    sw.delete("k64", &[exact(d), exact(0x1234), exact(1), exact(0xff)], 0).unwrap();
    sw.delete("k96", &[exact(d), exact(0x1234), exact(2), exact(0xff), exact(d ^ 0xffff_ffff)], 0).unwrap();
    assert_eq!(c(&mut sw, 1, 0xff, 0x1234), 0x1234, "deleted");
    assert_eq!(c(&mut sw, 2, 0xff, 0x1234), 0x1234, "deleted");
}
