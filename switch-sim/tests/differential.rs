//! The fast engine against the interpreter (the reference): the same
//! program loaded twice, the same table writes, the same frames, and
//! everything observable compared: outputs (egress port and bytes), the
//! digests of every packet, and every few thousand packets all counters,
//! registers and table entries (action data, hit times, direct counts).
//!
//! Programs: every packet-vector file under tests/vectors/ (the P4 program
//! and the entries it names, read at test time, so the test follows
//! whatever p4/ is), tests/programs/features.p4, and the language-feature
//! programs of tests/programs (`LANGUAGE_PROGRAMS`). Frames: each file's
//! own inputs, then random and mutated ones. SWITCHYARD_DIFF_FRAMES sets
//! the total number of random and mutated frames (default 100,000).

use std::path::{Path, PathBuf};

use switchyard_switch_sim::vectors::{from_hex, to_hex, VectorFile};
use switchyard_switch_sim::{Engine, FieldMatch, Switch, TableEntry};

const DEFAULT_FRAMES: u64 = 100_000;
/// Packets between two full comparisons of counters, registers and entries.
const STATE_EVERY: u64 = 2_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn frames_total() -> u64 {
    std::env::var("SWITCHYARD_DIFF_FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_FRAMES)
}

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// One program on both engines.
struct Pair {
    fast: Switch,
    interp: Switch,
    what: String,
    packets: u64,
}

impl Pair {
    fn new(what: &str, load: impl Fn() -> Switch) -> Pair {
        let fast = load();
        assert_eq!(fast.engine(), Engine::Fast, "{what}: the fast engine refused the program: {:?}", fast.fast_error());
        let mut interp = load();
        interp.set_engine(Engine::Interp).unwrap();
        Pair { fast, interp, what: what.to_string(), packets: 0 }
    }

    /// Applies the same change to both; both must succeed or fail alike.
    fn both<T: PartialEq + std::fmt::Debug>(&mut self, f: impl Fn(&mut Switch) -> T) -> T {
        let a = f(&mut self.fast);
        let b = f(&mut self.interp);
        assert_eq!(a, b, "{}: a table write differs between the engines", self.what);
        a
    }

    fn set_time(&mut self, ns: u64) {
        self.fast.set_time(ns);
        self.interp.set_time(ns);
    }

    fn packet(&mut self, port: u16, frame: &[u8]) -> Option<(u16, Vec<u8>)> {
        let a = self.fast.process(port, frame);
        let b = self.interp.process(port, frame);
        assert_eq!(a, b, "{}: outputs differ for port {port} frame {}", self.what, to_hex(frame));
        let (da, db) = (self.fast.take_digests(), self.interp.take_digests());
        assert_eq!(da, db, "{}: digests differ for port {port} frame {}", self.what, to_hex(frame));
        self.packets += 1;
        if self.packets % STATE_EVERY == 0 {
            self.same_state();
        }
        a
    }

    /// Counters, registers and every table entry, compared cell by cell.
    fn same_state(&self) {
        let prog = self.fast.program();
        for c in &prog.counters {
            if c.direct {
                continue;
            }
            for i in 0..c.size {
                assert_eq!(self.fast.counter(&c.name, i), self.interp.counter(&c.name, i), "{}: counter {}[{i}]", self.what, c.name);
            }
        }
        for r in &prog.registers {
            assert_eq!(self.fast.register(&r.name), self.interp.register(&r.name), "{}: register {}", self.what, r.name);
        }
        for t in &prog.tables {
            let key = |e: &&switchyard_switch_sim::table::Entry| (e.spec.clone(), e.last_hit_ns, e.packets, e.bytes);
            let a: Vec<_> = self.fast.entries(&t.name).unwrap().iter().map(key).collect();
            let b: Vec<_> = self.interp.entries(&t.name).unwrap().iter().map(key).collect();
            assert_eq!(a, b, "{}: entries of {}", self.what, t.name);
        }
    }
}

/// Rewrites the IPv4 header checksum (IHL words) and, for TCP, the TCP
/// checksum, so a mutated frame gets past the checksum checks and reaches
/// the deeper paths.
fn fix_checksums(f: &mut [u8]) {
    if f.len() < 34 || f[12] != 8 || f[13] != 0 {
        return;
    }
    let ihl = usize::from(f[14] & 0xf) * 4;
    if ihl < 20 || f.len() < 14 + ihl {
        return;
    }
    f[24] = 0;
    f[25] = 0;
    let c = switchyard_wire::checksum::finish(switchyard_wire::checksum::sum(&f[14..14 + ihl]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    if f[23] != 6 || total < ihl + 20 || f.len() < 14 + total {
        return;
    }
    let seg = 14 + ihl..14 + total;
    f[seg.start + 16] = 0;
    f[seg.start + 17] = 0;
    let src = std::net::Ipv4Addr::new(f[26], f[27], f[28], f[29]);
    let dst = std::net::Ipv4Addr::new(f[30], f[31], f[32], f[33]);
    let ph = switchyard_wire::checksum::pseudo_header_v4(src, dst, 6, (total - ihl) as u16);
    let c = switchyard_wire::checksum::finish(switchyard_wire::checksum::add(ph, switchyard_wire::checksum::sum(&f[seg.clone()])));
    f[seg.start + 16..seg.start + 18].copy_from_slice(&c.to_be_bytes());
}

/// A frame derived from one of `seeds` (or from nothing): bits flipped,
/// bytes set, cut, extended; half of them with checksums made right again.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut f = if seeds.is_empty() || rng.below(10) == 0 {
        (0..rng.below(160)).map(|_| rng.next() as u8).collect()
    } else {
        seeds[rng.below(seeds.len() as u64) as usize].clone()
    };
    for _ in 0..1 + rng.below(3) {
        if f.is_empty() {
            break;
        }
        let i = rng.below(f.len() as u64) as usize;
        match rng.below(6) {
            0 | 1 => f[i] ^= 1 << rng.below(8),
            2 | 3 => f[i] = rng.next() as u8,
            4 => f.truncate(i),
            _ => f.extend((0..rng.below(24)).map(|_| rng.next() as u8)),
        }
    }
    if rng.below(2) == 0 {
        fix_checksums(&mut f);
    }
    f
}

/// Runs `n` random and mutated frames through a pair, on random ports,
/// with the clock moving; returns how many were forwarded.
fn fuzz(pair: &mut Pair, seeds: &[(u16, Vec<u8>)], ports: u64, n: u64, seed: u64) -> u64 {
    let mut rng = Rng(seed | 1);
    let frames: Vec<Vec<u8>> = seeds.iter().map(|s| s.1.clone()).collect();
    let mut forwarded = 0;
    for i in 0..n {
        let f = mutate(&mut rng, &frames);
        let port = if !seeds.is_empty() && rng.below(4) != 0 {
            seeds[rng.below(seeds.len() as u64) as usize].0
        } else {
            rng.below(ports) as u16
        };
        if i % 1000 == 0 {
            pair.set_time(i * 1_000_000);
        }
        forwarded += u64::from(pair.packet(port, &f).is_some());
    }
    pair.same_state();
    eprintln!("{}: {n} random and mutated frames, {forwarded} forwarded, same results on both engines", pair.what);
    forwarded
}

fn vector_files() -> Vec<(String, VectorFile)> {
    let dir = root().join("tests/vectors");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no vector files in {}", dir.display());
    v.into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&text).unwrap())
        })
        .collect()
}

#[test]
fn engines_agree_on_every_vector_and_on_mutations_of_them() {
    let files = vector_files();
    let per_file = frames_total() / 2 / files.len() as u64;
    for (k, (name, v)) in files.iter().enumerate() {
        let defines: Vec<(String, String)> = v.defines.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
        let program = root().join(&v.program);
        let mut pair = Pair::new(name, || Switch::load(&program, &defines).unwrap());
        for e in &v.entries {
            pair.both(|sw| sw.apply_text(e).map_err(|e| e.to_string())).unwrap();
        }
        let mut seeds = Vec::new();
        for c in &v.cases {
            for w in &c.entries {
                pair.both(|sw| sw.apply_text(&w.entry).map_err(|e| e.to_string())).ok();
            }
            if let Some(input) = &c.input {
                let frame = from_hex(&input.hex).unwrap();
                pair.packet(input.port, &frame);
                seeds.push((input.port, frame));
            }
        }
        pair.same_state();
        assert!(!seeds.is_empty(), "{name}: no input frames");
        let forwarded = fuzz(&mut pair, &seeds, 8, per_file, 0x5eed + k as u64);
        // Mutations must also reach the forwarding paths, not only drops.
        assert!(forwarded * 100 >= per_file, "{name}: only {forwarded} of {per_file} frames forwarded");
    }
}

fn features() -> Pair {
    let p = root().join("switch-sim/tests/programs/features.p4");
    let mut pair = Pair::new("features.p4", || Switch::load(&p, &[]).unwrap());
    let e = |m: Vec<FieldMatch>, action: &str, params: Vec<u64>, priority: i32| TableEntry {
        matches: m,
        action: action.into(),
        params,
        priority,
        idle_timeout_ns: 0,
    };
    let x = FieldMatch::Exact;
    let writes = [
        ("ex", e(vec![x(1), x(0x12)], "set_x", vec![0x11], 0)),
        ("ex", e(vec![x(2), x(6)], "set_y", vec![3], 0)),
        ("ex", e(vec![x(3), x(0)], "stop", vec![], 0)),
        ("ex", e(vec![x(0), x(1)], "set_y", vec![9], 0)),
        ("lp", e(vec![FieldMatch::Lpm { value: 0x0a00_0000, prefix_len: 8 }], "set_x", vec![8], 0)),
        ("lp", e(vec![FieldMatch::Lpm { value: 0x0a01_0000, prefix_len: 16 }], "set_x", vec![16], 0)),
        ("lp", e(vec![FieldMatch::Lpm { value: 0, prefix_len: 1 }], "NoAction", vec![], 0)),
        ("tern", e(vec![FieldMatch::Ternary { value: 0x0100, mask: 0xff00 }], "set_y", vec![100], 1)),
        ("tern", e(vec![FieldMatch::Ternary { value: 0x0101, mask: 0xffff }], "set_y", vec![3], 5)),
        ("rng", e(vec![FieldMatch::Range { low: 10, high: 20 }, FieldMatch::Optional(None)], "set_y", vec![77], 1)),
        ("rng", e(vec![FieldMatch::Range { low: 15, high: 15 }, FieldMatch::Optional(Some(1))], "set_y", vec![3], 2)),
    ];
    for (t, w) in &writes {
        pair.both(|sw| sw.insert(t, w).map_err(|e| e.to_string())).unwrap();
    }
    pair
}

/// Hand-made seeds reaching each parser branch of features.p4.
fn feature_seeds() -> Vec<(u16, Vec<u8>)> {
    let h = |a: u8, b: u8, rest: &[u8]| {
        let mut v = vec![a, b, 0x01, 0x00, 0x0a, 0x01, 0x02, 0x03];
        v.extend_from_slice(rest);
        v
    };
    let odd = [0xa5u8, 0x5a, 0x33, 0xcc, 0x0f, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0x01, 0x02];
    vec![
        (0, h(1, 0x12, &odd)),
        (1, h(2, 6, &[1, 2, 3, 4, 5, 6, 7, 8, 9])),
        (2, h(0x12, 7, &[1, 2, 3, 4, 5, 6, 7, 8])),
        (3, h(3, 0, &[0, 9, 9])),
        (0, h(3, 1, &odd)),
        (1, h(4, 2, &[0xff; 20])),
        (2, h(5, 3, &[])),
        (3, h(6, 0x66, &[1])),
        (0, h(7, 4, &odd)),
        (1, h(8, 5, &[1, 2, 3])),
        (2, h(9, 9, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])),
        (3, h(0xee, 10, &[])),
        (0, h(0x42, 11, &[5, 6])),
        (1, h(0x11, 0x43, &odd)),
        (2, h(0xab, 12, &[])),
        (3, h(10, 0x77, &[])),
        (0, h(0x13, 9, &[])),
        (1, h(0, 1, &[])),
    ]
}

#[test]
fn engines_agree_on_the_feature_program() {
    let mut pair = features();
    let seeds = feature_seeds();
    let outputs = seeds.iter().filter(|(port, f)| pair.packet(*port, f).is_some()).count();
    assert!(outputs >= seeds.len() / 2, "most seeds are forwarded ({outputs} of {})", seeds.len());
    let n = frames_total() / 2;
    let forwarded = fuzz(&mut pair, &seeds, 4, n, 0xfea7);
    assert!(forwarded * 10 >= n, "only {forwarded} of {n} frames forwarded");
}

/// The language-feature programs (tests/programs), each with seed frames
/// reaching its branches; random frames exercise every operand pattern.
const LANGUAGE_PROGRAMS: &[(&str, &[&str])] = &[
    // signed.p4: a b s u; negative, positive, -1/-3 (a const entry), -128.
    ("signed.p4", &["9c320364", "64ff0907", "fffdc800", "800107ff", "00000000"]),
    // stacks.p4: kind, pad, labels (bos in bit 8): 2 labels, 3 then `next`,
    // 4 without a bottom, `last` of an empty stack, push, pop, short.
    (
        "stacks.p4",
        &[
            "0000111110402222213faabb",
            "0200111110402222203f33333101aabb",
            "0000111110402222203f3333300144444100aabb",
            "030011111040aabb",
            "0400111110402222213faabb",
            "0500111110402222213faabb",
            "000011111040aabb",
        ],
    ),
    // unions.p4: kind (which members the parser extracts), op (what
    // ingress does to them), the members' bytes.
    (
        "unions.p4",
        &[
            "01000a1111ee",
            "02000b22222222ee",
            "03000a11110b22222222ee",
            "01020a1111ee",
            "02010b22222222ee",
            "01030a1111ee",
            "02040b22222222ee",
            "0000ee",
            "03000a11110b2222",
        ],
    ),
    // union_stack.p4: pad, op (push, pop, setValid), tagged elements.
    ("union_stack.p4", &["00000a110b2222ee", "00010a110b2222ee", "00020a110b2222ee", "00030a110a33ee", "00000a010a020a030a04ee"]),
    // varbit.p4: IPv4 with IHL 6, 5, 12 (too long for the varbit), 7 (cut).
    (
        "varbit.p4",
        &[
            "4600001a123440004011119c0a0000010a00000201010100dead",
            "4500001612344000401114a10a0000010a000002dead",
            "4c00003a12344000401100000a0000010a00000201010101010101010101010101010101010101010101010101010101dead",
            "4700001e12344000401100000a0000010a00000201010100",
        ],
    ),
    // subcontrol.p4: a picks a table hit (1), a return (2), an exit (3).
    ("subcontrol.p4", &["01000000", "02070100", "03000001", "00010203"]),
    // subparser.p4: kind picks the state: one apply, two in one state,
    // nested (accept, reject), temporaries (accept, verify failing), an
    // out argument reset.
    // switch.p4 (no entries: every packet runs the default action's arm
    // and the nested value switch; v 3 exits).
    ("switch.p4", &["09000000", "09010000", "09030000", "09070000", "01000000", "02050000"]),
    // random.p4: random() from the packet's bounds (both engines draw
    // from the same seed, so their values agree packet by packet).
    ("random.p4", &["0010", "00ff", "0505", "ff00"]),
    ("subparser.p4", &["010005", "0100ee", "02000506aa", "030409", "0304ff", "040007", "0400ee", "050008", "060042"]),
];

#[test]
fn engines_agree_on_the_language_programs() {
    // Each program its own share, so adding one does not thin the others.
    let n = frames_total() / 8;
    for (k, (name, seeds)) in LANGUAGE_PROGRAMS.iter().enumerate() {
        let p = root().join("switch-sim/tests/programs").join(name);
        let mut pair = Pair::new(name, || Switch::load(&p, &[]).unwrap());
        let seeds: Vec<(u16, Vec<u8>)> = seeds.iter().map(|s| (0, from_hex(s).unwrap())).collect();
        for (port, f) in &seeds {
            assert!(pair.packet(*port, f).is_some(), "{name}: seed {f:02x?} is forwarded");
        }
        let forwarded = fuzz(&mut pair, &seeds, 4, n, 0x1a6 + k as u64);
        assert!(forwarded * 10 >= n, "{name}: only {forwarded} of {n} frames forwarded");
    }
}

/// meters.p4 with configured meters (an indexed packet and byte meter and
/// two entries' direct meters) while the clock moves: both engines must
/// give every packet the same colours, and all three colours occur.
#[test]
fn engines_agree_on_meters() {
    use switchyard_switch_sim::MeterConfig;
    let p = root().join("switch-sim/tests/programs/meters.p4");
    let mut pair = Pair::new("meters.p4", || Switch::load(&p, &[]).unwrap());
    let cfg = |cir, cburst, pir, pburst| Some(MeterConfig { cir, cburst, pir, pburst });
    let entry = |k: u64, a: &str| TableEntry { matches: vec![FieldMatch::Exact(k)], action: a.into(), params: vec![], priority: 0, idle_timeout_ns: 0 };
    pair.both(|sw| {
        for i in 0..4 {
            sw.set_meter("pm", i, cfg(5_000 * (i as u64 + 1), 5, 10_000 * (i as u64 + 1), 10)).unwrap();
        }
        sw.set_meter("bm", 0, cfg(2_000_000, 3000, 4_000_000, 6000)).unwrap();
        sw.insert("t", &entry(1, "mark")).unwrap();
        sw.insert("t", &entry(2, "other")).unwrap();
        sw.set_direct_meter("t", &[FieldMatch::Exact(1)], 0, cfg(20_000, 10, 40_000, 20)).unwrap();
    });
    let seeds: Vec<(u16, Vec<u8>)> = [[0u8, 1], [1, 2], [2, 1], [3, 3], [4, 1], [5, 2], [6, 1]].iter().map(|f| (0, f.to_vec())).collect();
    let mut seen = [false; 3];
    for i in 0..20_000u64 {
        if i % 100 == 0 {
            pair.set_time(i * 10_000);
        }
        let (port, f) = &seeds[(i % 7) as usize];
        let out = pair.packet(*port, f).unwrap().1;
        for c in [out[2], out[3]] {
            if c < 3 {
                seen[c as usize] = true;
            }
        }
    }
    assert_eq!(seen, [true; 3], "green, yellow and red all occur");
    let n = frames_total() / 8;
    let forwarded = fuzz(&mut pair, &seeds, 4, n, 0x3e7e);
    assert!(forwarded * 10 >= n, "meters.p4: only {forwarded} of {n} frames forwarded");
}

/// The engine choice is honoured and the check above is not vacuous: the
/// fast engine really runs (it is the default) and can be switched off.
#[test]
fn engine_selection() {
    let p = root().join("p4/switchyard.p4");
    let mut sw = Switch::load(&p, &[]).unwrap();
    assert_eq!(sw.engine(), Engine::Fast);
    sw.set_engine(Engine::Interp).unwrap();
    assert_eq!(sw.engine(), Engine::Interp);
    sw.set_engine(Engine::Fast).unwrap();
    assert_eq!(sw.engine(), Engine::Fast);
    assert_eq!("interp".parse::<Engine>(), Ok(Engine::Interp));
    assert!("jit".parse::<Engine>().is_err());
}
