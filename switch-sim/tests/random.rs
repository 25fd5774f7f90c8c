//! v1model's `random(result, lo, hi)` (tests/programs/random.p4) on both
//! engines. bmv2 draws from a generator seeded by its thread id, so its
//! values cannot be expected; what is checked is what switch-sim defines
//! (docs/SWITCH-SIM.md, `exec::Rng`): every value in [lo, hi] inclusive,
//! lo == hi gives lo, lo > hi writes nothing (simple_switch's rule), the
//! whole range is reached, and the values are SplitMix64 from the seed
//! mapped by Lemire's multiply-shift, the same on both engines and on
//! every run with the same seed.

#[path = "common/dual.rs"]
mod dual;
use dual::Dual;

/// The generator as docs/SWITCH-SIM.md defines it, written again here.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        let span = hi - lo + 1;
        lo + ((self.next() as u128 * span as u128) >> 64) as u64
    }
}

fn fields(out: &[u8]) -> (u8, u16, u8, u8, u64) {
    let o = &out[2..];
    (o[0], u16::from_be_bytes([o[1], o[2]]), o[3], o[4], u64::from_be_bytes(o[5..13].try_into().unwrap()))
}

#[test]
fn random_values_follow_the_documented_generator() {
    let mut sw = Dual::program("random.p4");
    // SplitMix64's first output from state 0 (the reference
    // implementation's well-known value).
    assert_eq!(SplitMix(0).next(), 0xe220a8397b1dcdaf);
    let mut g = SplitMix(0);
    for k in 0..200u8 {
        let (lo, hi) = (k / 2, 100 + k / 3);
        let (_, out) = sw.process(0, &[lo, hi]).unwrap();
        assert_eq!(out.len(), 15);
        let (r, c, same, none, wide) = fields(&out);
        // Program order: draw(), c, same (lo == hi draws too), none (lo >
        // hi: no draw, 0xee kept), wide.
        assert_eq!(r as u64, g.range(lo as u64, hi as u64), "packet {k}");
        assert!((lo..=hi).contains(&r));
        assert_eq!(c as u64, g.range(1000, 1999));
        assert!((1000..=1999).contains(&c));
        assert_eq!(same, 7);
        g.next();
        assert_eq!(none, 0xee);
        assert_eq!(wide, g.next());
    }
}

#[test]
fn random_covers_its_range_and_repeats_with_its_seed() {
    let mut sw = Dual::program("random.p4");
    let mut seen = [false; 256];
    let mut first = Vec::new();
    for _ in 0..4000 {
        let (_, out) = sw.process(0, &[0, 255]).unwrap();
        seen[out[2] as usize] = true;
        first.push(out);
    }
    // 4,000 draws over 256 values: each missed with probability
    // (255/256)^4000, about 1.6e-7.
    assert!(seen.iter().all(|s| *s), "values never drawn: {:?}", (0..256).filter(|v| !seen[*v]).collect::<Vec<_>>());
    // The same seed gives the same sequence again; another seed another.
    for s in [&mut sw.sw, &mut sw.reference] {
        s.set_seed(0);
    }
    for (k, want) in first.iter().take(100).enumerate() {
        assert_eq!(&sw.process(0, &[0, 255]).unwrap().1, want, "packet {k} after set_seed(0)");
    }
    for s in [&mut sw.sw, &mut sw.reference] {
        s.set_seed(42);
    }
    let other: Vec<Vec<u8>> = (0..100).map(|_| sw.process(0, &[0, 255]).unwrap().1).collect();
    assert_ne!(other, first[..100].to_vec());
    let mut g = SplitMix(42);
    assert_eq!(other[0][2] as u64, g.range(0, 255));
}
