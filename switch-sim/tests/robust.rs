//! Bad input never panics: random and mutated frames through
//! switchyard.p4, and mutated program text through the front end.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use switchyard_switch_sim::{FieldMatch, Switch, TableEntry};
use switchyard_wire::frame::FrameRepr;
use switchyard_wire::tcp::{TcpRepr, SYN};
use switchyard_wire::tcp_option::TcpOption;

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
    // A SYN to the VIP with options, the seed for mutations (checksums
    // right: the switch answers only SYNs whose TCP checksum is).
    let opts = [TcpOption::Mss(1460), TcpOption::NoOp, TcpOption::WindowScale(7), TcpOption::SackPermitted, TcpOption::NoOp];
    let tcp = TcpRepr { src_port: 40000, dst_port: 80, seq: 1, ack: 0, flags: SYN, window: 0xffff, options: (&opts).into(), payload: &[] };
    let repr = FrameRepr::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 1], Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 100, 1), tcp);
    let syn = FrameRepr { ident: 1, ..repr }.to_vec().unwrap();
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
