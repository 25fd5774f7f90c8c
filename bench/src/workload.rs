//! The benchmark's workloads (the Miresga evaluation's): fixed response
//! sizes and three mixes, each a list of (path, weight in percent).

/// A named request mix.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: &'static str,
    /// (testbed body path, weight); weights sum to 100.
    pub mix: &'static [(&'static str, u32)],
}

pub const WORKLOADS: &[Workload] = &[
    Workload { name: "1k", mix: &[("/1k", 100)] },
    Workload { name: "10k", mix: &[("/10k", 100)] },
    Workload { name: "100k", mix: &[("/100k", 100)] },
    Workload { name: "1m", mix: &[("/1m", 100)] },
    Workload { name: "10m", mix: &[("/10m", 100)] },
    // Traffic 1 is 100 % 1 KB: the same requests as `1k`.
    Workload { name: "t1", mix: &[("/1k", 100)] },
    Workload { name: "t2", mix: &[("/1k", 70), ("/10k", 20), ("/1m", 8), ("/10m", 2)] },
    Workload { name: "t3", mix: &[("/1k", 50), ("/10k", 30), ("/1m", 15), ("/10m", 5)] },
];

pub fn by_name(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

impl Workload {
    /// The path for a uniform draw `r` in 0..100.
    pub fn pick(&self, r: u32) -> &'static str {
        let mut acc = 0;
        for (p, w) in self.mix {
            acc += w;
            if r < acc {
                return p;
            }
        }
        self.mix.last().map(|(p, _)| *p).unwrap_or("/1k")
    }

    /// Mean response body size in bytes.
    pub fn mean_bytes(&self) -> f64 {
        self.mix.iter().map(|(p, w)| *w as f64 / 100.0 * size_of(p) as f64).sum()
    }

    /// The response size of a fixed-size workload (None for a mix).
    pub fn fixed_size(&self) -> Option<usize> {
        match self.mix {
            [(p, 100)] => Some(size_of(p)),
            _ => None,
        }
    }
}

/// The body size of a testbed path.
pub fn size_of(path: &str) -> usize {
    switchyard_testbed::bodies::SIZES.iter().find(|(p, _)| *p == path).map(|(_, n)| *n).unwrap_or(0)
}

/// A small deterministic generator (xorshift64*), one per connection.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn percent(&mut self) -> u32 {
        (self.next() >> 33) as u32 % 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_sum_to_100_and_pick_by_weight() {
        for w in WORKLOADS {
            assert_eq!(w.mix.iter().map(|(_, w)| w).sum::<u32>(), 100, "{}", w.name);
            for (p, _) in w.mix {
                assert!(size_of(p) > 0, "{p} is a testbed body");
            }
        }
        let t2 = by_name("t2").unwrap();
        assert_eq!((t2.pick(0), t2.pick(69), t2.pick(70), t2.pick(89), t2.pick(90), t2.pick(97), t2.pick(98), t2.pick(99)),
                   ("/1k", "/1k", "/10k", "/10k", "/1m", "/1m", "/10m", "/10m"));
        let mut r = Rng::new(1);
        let mut n = [0u32; 4];
        for _ in 0..100_000 {
            let got = t2.pick(r.percent());
            n[["/1k", "/10k", "/1m", "/10m"].iter().position(|p| *p == got).unwrap()] += 1;
        }
        assert!((69_000..71_000).contains(&n[0]) && (1_700..2_300).contains(&n[3]), "{n:?}");
        assert_eq!(by_name("100k").unwrap().fixed_size(), Some(100 * 1024));
        assert_eq!(t2.fixed_size(), None);
    }
}
