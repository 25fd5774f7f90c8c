//! v1model meters (tests/programs/meters.p4) on both engines, colours
//! worked out by hand from bmv2's marker (src/bm_sim/meters.cpp, RFC 2698
//! colour-blind; switch-sim's `meter` module): buckets full when
//! configured, refilled by `(u64)(t_us * rate / 1e6)` since the clock's
//! zero, the peak bucket looked at first (short: RED, nothing taken),
//! then the committed one (short: YELLOW). GREEN 0, YELLOW 1, RED 2; an
//! unconfigured meter is GREEN. Rates are set here with the in-process API
//! (`Switch::set_meter`, `set_direct_meter`); p4rt-server's device test
//! sets them with MeterEntry / DirectMeterEntry.

#[path = "common/dual.rs"]
mod dual;
use dual::{hex, refused, Dual};
use switchyard_switch_sim::{FieldMatch, MeterConfig, Switch, TableEntry};

fn both(sw: &mut Dual, f: impl Fn(&mut Switch)) {
    f(&mut sw.sw);
    f(&mut sw.reference);
}

/// (colour, dcolour) of a frame with meter index `idx`, table key `key`
/// and `pad` payload bytes.
fn colours(sw: &mut Dual, idx: u8, key: u8, pad: usize) -> (u8, u8) {
    let mut f = vec![idx, key];
    f.resize(2 + pad, 0);
    let (_, out) = sw.process(0, &f).unwrap();
    assert_eq!(&out[..2], &[idx, key]);
    (out[2], out[3])
}

const GREEN: u8 = 0;
const YELLOW: u8 = 1;
const RED: u8 = 2;

fn cfg(cir: u64, cburst: u64, pir: u64, pburst: u64) -> Option<MeterConfig> {
    Some(MeterConfig { cir, cburst, pir, pburst })
}

#[test]
fn indexed_meters_by_hand() {
    let mut sw = Dual::program("meters.p4");
    // pm[0]: CIR 1,000 packets/s (1 a ms), CBS 2; PIR 2,000/s, PBS 3.
    both(&mut sw, |s| s.set_meter("pm", 0, cfg(1000, 2, 2000, 3)).unwrap());
    both(&mut sw, |s| s.set_time(0));
    // t = 0, buckets P 3, C 2: P 2 C 1, P 1 C 0 green; P 0 and C short
    // yellow; P short red.
    let seq: Vec<u8> = (0..4).map(|_| colours(&mut sw, 0, 9, 0).0).collect();
    assert_eq!(seq, [GREEN, GREEN, YELLOW, RED]);
    // t = 1 ms: P gains 1000 * 0.002 = 2 (2, then 1), C gains 1 (then 0):
    // green; then P 0 and C short: yellow; then red.
    both(&mut sw, |s| s.set_time(1_000_000));
    let seq: Vec<u8> = (0..3).map(|_| colours(&mut sw, 0, 9, 0).0).collect();
    assert_eq!(seq, [GREEN, YELLOW, RED]);
    // t = 10 ms: both refill to their bursts (18 and 9 gained, capped at 3
    // and 2).
    both(&mut sw, |s| s.set_time(10_000_000));
    let seq: Vec<u8> = (0..4).map(|_| colours(&mut sw, 0, 9, 0).0).collect();
    assert_eq!(seq, [GREEN, GREEN, YELLOW, RED]);
    // pm[1] is not configured: green, always.
    assert!((0..5).all(|_| colours(&mut sw, 1, 9, 0).0 == GREEN));

    // bm[0], bytes: CIR 10,000 B/s, CBS 15, PIR 20,000, PBS 25; frames of
    // 10 bytes (packet_length): P 15 C 5 green, P 5 and C short yellow,
    // P short red.
    both(&mut sw, |s| s.set_meter("bm", 0, cfg(10_000, 15, 20_000, 25)).unwrap());
    let seq: Vec<u8> = (0..3).map(|_| colours(&mut sw, 4, 9, 8).0).collect();
    assert_eq!(seq, [GREEN, YELLOW, RED]);
    // 1 ms later: P gains 20 (5 + 20 = 25, capped), C 10 (5 + 10 = 15):
    // a 20-byte frame takes P to 5, C is short: yellow.
    both(&mut sw, |s| s.set_time(11_000_000));
    assert_eq!(colours(&mut sw, 4, 9, 18).0, YELLOW);
    // bm[1] unconfigured; idx 6 is bm[2], outside the meter: colour keeps
    // its ee (simple_switch writes nothing).
    assert_eq!(colours(&mut sw, 5, 9, 0).0, GREEN);
    assert_eq!(colours(&mut sw, 6, 9, 0).0, 0xee);

    // Reset to unconfigured: green again; reading back the rates.
    assert_eq!(sw.sw.meter("pm", 0).unwrap(), cfg(1000, 2, 2000, 3));
    both(&mut sw, |s| s.set_meter("pm", 0, None).unwrap());
    assert_eq!(sw.sw.meter("I.pm", 0).unwrap(), None);
    assert!((0..5).all(|_| colours(&mut sw, 0, 9, 0).0 == GREEN));
    // bmv2 refuses a committed rate above the peak rate; indices and
    // names are checked.
    assert!(sw.sw.set_meter("pm", 0, cfg(10, 1, 5, 1)).unwrap_err().to_string().contains("above its peak rate"));
    assert!(sw.sw.set_meter("pm", 4, cfg(1, 1, 1, 1)).is_err());
    assert!(sw.sw.set_meter("dm", 0, cfg(1, 1, 1, 1)).unwrap_err().to_string().contains("direct meter"));
    assert!(sw.sw.set_meter("nope", 0, None).is_err());
}

#[test]
fn direct_meter_by_hand() {
    let mut sw = Dual::program("meters.p4");
    let e = |k: u64, a: &str| TableEntry { matches: vec![FieldMatch::Exact(k)], action: a.into(), params: vec![], priority: 0, idle_timeout_ns: 0 };
    both(&mut sw, |s| {
        s.insert("t", &e(1, "mark")).unwrap();
        s.insert("t", &e(2, "other")).unwrap();
        s.set_time(0);
    });
    let k1 = [FieldMatch::Exact(1)];
    // Entry 1: CIR 1,000/s CBS 1, PIR 1,000/s PBS 2: green, yellow, red.
    both(&mut sw, |s| s.set_direct_meter("t", &k1, 0, cfg(1000, 1, 1000, 2)).unwrap());
    let seq: Vec<u8> = (0..3).map(|_| colours(&mut sw, 1, 1, 0).1).collect();
    assert_eq!(seq, [GREEN, YELLOW, RED]);
    // Entry 2 runs `other` (no read()): the hit still writes the colour of
    // its meter, unconfigured, so green. A miss writes nothing (ff).
    assert_eq!(colours(&mut sw, 1, 2, 0).1, GREEN);
    assert_eq!(colours(&mut sw, 1, 3, 0).1, 0xff);
    // 2 ms later the buckets are full again (2 each gained, capped at 2
    // and 1); modifying the entry's action keeps its meter.
    both(&mut sw, |s| {
        s.set_time(2_000_000);
        s.modify("t", &e(1, "other")).unwrap();
    });
    let seq: Vec<u8> = (0..3).map(|_| colours(&mut sw, 1, 1, 0).1).collect();
    assert_eq!(seq, [GREEN, YELLOW, RED]);
    assert!(sw.sw.set_direct_meter("t", &[FieldMatch::Exact(7)], 0, None).is_err());
    // Deleting and inserting an entry again gives it a new, unconfigured
    // meter.
    both(&mut sw, |s| {
        s.delete("t", &k1, 0).unwrap();
        s.insert("t", &e(1, "mark")).unwrap();
    });
    assert!((0..4).all(|_| colours(&mut sw, 1, 1, 0).1 == GREEN));
}

#[test]
fn meter_refusals() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/meters.p4")).unwrap();
    let line = |s: &str, needle: &str| s.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1;
    let cases = [
        ("t.apply();", "t.apply(); dm.read(hdr.o.colour);", "called in an action of the meter's table", "dm.read(hdr.o.colour);"),
        ("action other() { }", "action other() { dm.read(hdr.o.colour); }", "must write the same field", "action other() { dm.read"),
        ("meters = dm;", "meters = pm;", "`pm` is not a direct_meter", "meters = pm;"),
        ("pm.execute_meter((bit<32>)hdr.h.idx, hdr.o.colour);", "pm.execute_meter(hdr.h.idx, hdr.o.colour);", "takes bit<32>", "pm.execute_meter(hdr.h.idx"),
        ("meter(32w2, MeterType.bytes) bm;", "meter(32w2, CounterType.bytes) bm;", "expected MeterType", "CounterType.bytes"),
    ];
    for (from, to, want, at) in cases {
        assert!(src.contains(from), "`{from}` is in the program");
        let s = src.replacen(from, to, 1);
        let e = refused(&s);
        assert!(e.message.contains(want), "`{to}`: `{e}` lacks `{want}`");
        assert_eq!(e.line, line(&s, at), "`{to}`: {e}");
    }
    // At V1MODEL_VERSION 20200408 meter<I> indexes with I; without a type
    // argument no index converts (as p4c says of counter<I>).
    let v2020 = format!("#define V1MODEL_VERSION 20200408\n{}", src.replace("meter(32w4, MeterType.packets) pm;", "meter<bit<8>>(32w4, MeterType.packets) pm;").replace("pm.execute_meter((bit<32>)hdr.h.idx", "pm.execute_meter(hdr.h.idx"));
    let e = refused(&v2020);
    assert!(e.message.contains("cannot cast implicitly type 'bit<32>' to type 'I'"), "{e}");
    assert_eq!(e.line, line(&v2020, "bm.execute_meter("), "{e}");
    let s = v2020.replace("meter(32w2, MeterType.bytes) bm;", "meter<bit<32>>(32w2, MeterType.bytes) bm;");
    let mut sw = Dual::load_str("t.p4", &s).unwrap();
    assert_eq!(sw.process(0, &hex("00 00")), Some((1, hex("00 00 00 ff"))));
}
