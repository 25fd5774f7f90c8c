//! Bad input never panics: random and mutated frames through
//! switchyard.p4, and mutated program text through the front end.

use std::path::PathBuf;

use switchyard_switch_sim::{FieldMatch, Switch, TableEntry};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

fn p4() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../p4/switchyard.p4")
}

#[test]
fn random_and_mutated_frames_never_panic() {
    let mut sw = Switch::load(&p4(), &[]).unwrap();
    let vip = u64::from(u32::from_be_bytes([198, 18, 100, 1]));
    sw.insert("vip", &TableEntry { matches: vec![FieldMatch::Exact(vip), FieldMatch::Exact(80)], action: "set_vip".into(), params: vec![1], priority: 0, idle_timeout_ns: 0 })
        .unwrap();
    sw.set_default("frontend_count", "set_frontend_count", &[2]).unwrap();
    // A SYN to the VIP with options, the seed for mutations.
    let mut syn = vec![2, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 2, 8, 0];
    syn.extend_from_slice(&[0x45, 0, 0, 52, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 100, 1]);
    syn.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    syn.extend_from_slice(&[2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 1, 0]);
    let c = switchyard_wire::checksum::finish(switchyard_wire::checksum::sum(&syn[14..34]));
    syn[24..26].copy_from_slice(&c.to_be_bytes());
    // The switch answers only SYNs whose TCP checksum is right.
    let ph = switchyard_wire::checksum::pseudo_header_v4([198, 18, 0, 2].into(), [198, 18, 100, 1].into(), 6, 32);
    let c = switchyard_wire::checksum::finish(switchyard_wire::checksum::add(ph, switchyard_wire::checksum::sum(&syn[34..])));
    syn[50..52].copy_from_slice(&c.to_be_bytes());
    assert_eq!(sw.process(1, &syn).map(|(p, _)| p), Some(1), "the seed SYN is answered");
    let mut rng = Rng(0x5eed);
    let mut forwarded = 0;
    for i in 0..20_000 {
        let frame: Vec<u8> = if i % 2 == 0 {
            let len = rng.below(120) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            let mut f = syn.clone();
            for _ in 0..1 + rng.below(4) {
                let k = rng.below(f.len() as u64) as usize;
                f[k] = rng.next() as u8;
            }
            f.truncate(rng.below(f.len() as u64 + 1) as usize + 10);
            f
        };
        if sw.process(rng.below(4) as u16, &frame).is_some() {
            forwarded += 1;
        }
    }
    // Dropped packets are counted by reason; some mutated SYNs still pass.
    let (dropped, _) = sw.counter("path_counter", 6).unwrap();
    assert!(dropped > 10_000, "{dropped}");
    assert!(forwarded > 0);
}

#[test]
fn mutated_program_text_is_refused_not_panicked() {
    let src_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../p4");
    let dir = std::env::temp_dir().join(format!("sy-mut-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("include")).unwrap();
    let files = ["switchyard.p4", "include/tables.p4", "include/headers.p4", "include/constants.p4", "include/cookie.p4"];
    let originals: Vec<String> = files.iter().map(|f| std::fs::read_to_string(src_dir.join(f)).unwrap()).collect();
    for (f, t) in files.iter().zip(&originals) {
        std::fs::write(dir.join(f), t).unwrap();
    }
    assert!(Switch::load(&dir.join("switchyard.p4"), &[]).is_ok(), "the copy loads unmutated");
    let mut rng = Rng(42);
    let mut refused = 0;
    for _ in 0..150 {
        let k = rng.below(2) as usize; // the main file or tables.p4
        let b = originals[k].as_bytes();
        let (x, y) = (rng.below(b.len() as u64) as usize, rng.below(b.len() as u64) as usize);
        let (lo, hi) = (x.min(y), x.max(y).min(x.min(y) + 40));
        let mut m = b[..lo].to_vec();
        if rng.below(2) == 0 {
            m.extend_from_slice(&b[hi..]);
        } else {
            m.extend_from_slice(b"}{)(;<>=@#");
            m.extend_from_slice(&b[lo..]);
        }
        std::fs::write(dir.join(files[k]), &m).unwrap();
        if Switch::load(&dir.join("switchyard.p4"), &[]).is_err() {
            refused += 1;
        }
        std::fs::write(dir.join(files[k]), &originals[k]).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(refused > 75, "most mutations must be refused, {refused} were");
}
