//! Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4),
//! with weights, over a fixed and documented hash so every Switchyard
//! component and every Rust version build the same table.
//!
//! - Permutation of backend `i` named by bytes `n`: offset =
//!   `crc32(n) % M` (wire's CRC-32, the one bmv2 uses), skip =
//!   `fnv1a32(n) % (M - 1) + 1`; M is prime so every skip is a full cycle.
//! - Weights: each round every backend earns its weight in credit and fills
//!   one slot per `max_weight` of credit, so slot shares follow weights.
//! - Lookup: `fnv1a64(key) % M`.

use switchyard_wire::flow::crc32;

pub const FNV64_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits: the lookup hash of keys (client IP, header, cookie).
pub fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(FNV64_OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV64_PRIME))
}

/// FNV-1a, 32 bits: the permutation skip.
pub fn fnv1a32(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// A lookup table mapping hash slots to positions in the caller's backend
/// list.
#[derive(Debug, Clone)]
pub struct MaglevTable {
    slots: Vec<u16>,
}

impl MaglevTable {
    /// `backends`: (name bytes, weight >= 1) of the eligible backends, in a
    /// stable order; `size` must be prime and larger than the backend count.
    /// Returns `None` when there is no backend.
    pub fn build(backends: &[(&[u8], u32)], size: usize) -> Option<Self> {
        let n = backends.len();
        if n == 0 || n > usize::from(u16::MAX) || size <= n {
            return None;
        }
        let m = size as u64;
        let perm: Vec<(u64, u64)> = backends
            .iter()
            .map(|(name, _)| (u64::from(crc32(name)) % m, u64::from(fnv1a32(name)) % (m - 1) + 1))
            .collect();
        let max_w = u64::from(backends.iter().map(|b| b.1.max(1)).max().unwrap_or(1));
        let mut next = vec![0u64; n];
        let mut credit = vec![0u64; n];
        let mut slots = vec![u16::MAX; size];
        let mut filled = 0;
        'outer: loop {
            for i in 0..n {
                credit[i] += u64::from(backends[i].1.max(1));
                while credit[i] >= max_w {
                    credit[i] -= max_w;
                    // Walk i's permutation to its next free slot.
                    let (off, skip) = perm[i];
                    let mut c = (off + next[i] * skip) % m;
                    while slots[c as usize] != u16::MAX {
                        next[i] += 1;
                        c = (off + next[i] * skip) % m;
                    }
                    slots[c as usize] = i as u16;
                    next[i] += 1;
                    filled += 1;
                    if filled == size {
                        break 'outer;
                    }
                }
            }
        }
        Some(Self { slots })
    }

    /// Position (in the build list) of the backend for `key`.
    pub fn lookup(&self, key: &[u8]) -> usize {
        usize::from(self.slots[(fnv1a64(key) % self.slots.len() as u64) as usize])
    }

    pub fn slots(&self) -> &[u16] {
        &self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
    }

    #[test]
    fn every_slot_filled_and_empty_refused() {
        let t = MaglevTable::build(&[(b"a", 1), (b"b", 3)], 13).unwrap();
        assert!(t.slots().iter().all(|&s| s < 2));
        assert!(MaglevTable::build(&[], 13).is_none());
    }
}
