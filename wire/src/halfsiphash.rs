//! HalfSipHash-2-4 with a 32-bit tag (Aumasson & Bernstein's reference
//! variant of SipHash on 32-bit words).
//!
//! Why this function: the SYN cookie's MAC must be a keyed PRF an observer
//! cannot forge from cookies he has seen (a CRC is linear and can), and it
//! must be computable by a P4 pipeline, which has only 32-bit additions,
//! xors and shifts. HalfSipHash is exactly that (SmartCookie uses it on
//! Tofino). `hash_words` is the form the P4 program computes: its message is
//! a list of 32-bit words, each read as the reference reads 4 little-endian
//! bytes, so P4 never swaps bytes.

const C_ROUNDS: usize = 2;
const D_ROUNDS: usize = 4;

#[derive(Clone, Copy)]
struct State([u32; 4]);

impl State {
    fn new(k0: u32, k1: u32) -> Self {
        State([k0, k1, 0x6c79_6765 ^ k0, 0x7465_6462 ^ k1])
    }

    #[inline(always)]
    fn round(&mut self) {
        let v = &mut self.0;
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(5) ^ v[0];
        v[0] = v[0].rotate_left(16);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(8) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(7) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[2];
        v[2] = v[2].rotate_left(16);
    }

    #[inline(always)]
    fn absorb(&mut self, m: u32) {
        self.0[3] ^= m;
        for _ in 0..C_ROUNDS {
            self.round();
        }
        self.0[0] ^= m;
    }

    fn finish(mut self) -> u32 {
        self.0[2] ^= 0xff;
        for _ in 0..D_ROUNDS {
            self.round();
        }
        self.0[1] ^ self.0[3]
    }
}

/// The reference function over bytes with an 8-byte key; returns the tag as
/// the reference's 4 output bytes read little-endian.
pub fn hash_bytes(key: &[u8; 8], msg: &[u8]) -> u32 {
    let k0 = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
    let k1 = u32::from_le_bytes([key[4], key[5], key[6], key[7]]);
    let mut s = State::new(k0, k1);
    let mut chunks = msg.chunks_exact(4);
    for c in &mut chunks {
        s.absorb(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut last = (msg.len() as u32 & 0xff) << 24;
    for (i, &byte) in chunks.remainder().iter().enumerate() {
        last |= u32::from(byte) << (8 * i);
    }
    s.absorb(last);
    s.finish()
}

/// The same function over whole 32-bit words: equal to `hash_bytes` on the
/// little-endian bytes of `words` with key bytes `k0.to_le_bytes() ++
/// k1.to_le_bytes()`. This is the form the P4 program computes.
pub fn hash_words(k0: u32, k1: u32, words: &[u32]) -> u32 {
    let mut s = State::new(k0, k1);
    for &w in words {
        s.absorb(w);
    }
    s.absorb(((words.len() as u32 * 4) & 0xff) << 24);
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation's `vectors_hsip32`: key 00..07, message
    /// 00..len-1; tags as the 4 output bytes.
    const VECTORS: &[(usize, [u8; 4])] = &[
        (0, [0xa9, 0x35, 0x9f, 0x5b]),
        (1, [0x27, 0x47, 0x5a, 0xb8]),
        (2, [0xfa, 0x62, 0xa6, 0x03]),
        (3, [0x8a, 0xfe, 0xe7, 0x04]),
        (4, [0x2a, 0x6e, 0x46, 0x89]),
        (7, [0x8b, 0xcf, 0x63, 0xc5]),
        (8, [0xd0, 0xb8, 0x84, 0x8f]),
        (11, [0x08, 0x08, 0x30, 0x50]),
        (12, [0x57, 0xf0, 0x87, 0x2f]),
        (13, [0x77, 0xe6, 0x63, 0xff]),
        (16, [0xd9, 0xb5, 0xac, 0x84]),
        (20, [0xe3, 0x4d, 0x10, 0x45]),
        (24, [0x27, 0x40, 0x0c, 0x63]),
    ];

    fn key() -> [u8; 8] {
        [0, 1, 2, 3, 4, 5, 6, 7]
    }

    #[test]
    fn reference_vectors() {
        let msg: Vec<u8> = (0..64).collect();
        for &(len, tag) in VECTORS {
            assert_eq!(hash_bytes(&key(), &msg[..len]), u32::from_le_bytes(tag), "length {len}");
        }
    }

    #[test]
    fn words_form_equals_bytes_form() {
        let msg: Vec<u8> = (0..24).collect();
        for n in 0..=6 {
            let words: Vec<u32> = msg[..4 * n]
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let k = key();
            let k0 = u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
            let k1 = u32::from_le_bytes([k[4], k[5], k[6], k[7]]);
            assert_eq!(hash_words(k0, k1, &words), hash_bytes(&k, &msg[..4 * n]));
        }
    }
}
