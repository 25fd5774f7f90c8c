//! The hash and checksum algorithms as bmv2 computes them over a field
//! list's bytes.

use crate::ir::HashAlgo;

/// CRC-16/ARC (bmv2 `crc16`: poly 0x8005 reflected, init 0, no xor-out).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            let m = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xa001 & m);
        }
    }
    crc
}

/// Ones'-complement sum, complemented (the Internet checksum); an odd
/// trailing byte is padded with zero. The wire crate's sum adds 32-bit
/// words, which folds to the same 16-bit sum in a quarter of the steps.
pub fn csum16(data: &[u8]) -> u16 {
    switchyard_wire::checksum::finish(switchyard_wire::checksum::sum(data))
}

pub fn xor16(data: &[u8]) -> u16 {
    let mut x = 0u16;
    for c in data.chunks(2) {
        x ^= if c.len() == 2 { u16::from_be_bytes([c[0], c[1]]) } else { u16::from(c[0]) << 8 };
    }
    x
}

pub fn compute(algo: HashAlgo, data: &[u8]) -> u64 {
    match algo {
        HashAlgo::Crc32 => u64::from(switchyard_wire::flow::crc32(data)),
        HashAlgo::Crc16 => u64::from(crc16(data)),
        HashAlgo::Csum16 => u64::from(csum16(data)),
        HashAlgo::Xor16 => u64::from(xor16(data)),
        // bmv2 identity: the bytes as a big-endian number (low 64 bits).
        HashAlgo::Identity => data.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_check_values() {
        assert_eq!(crc16(b"123456789"), 0xbb3d);
        assert_eq!(compute(HashAlgo::Crc32, b"123456789"), 0xcbf4_3926);
        assert_eq!(compute(HashAlgo::Identity, &[1, 2, 3]), 0x010203);
        // RFC 1071 example words 0001 f203 f4f5 f6f7 sum to ddf2.
        assert_eq!(csum16(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
        // Odd length: the last byte is the high byte of a zero-padded word.
        assert_eq!(csum16(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x01]), !0xdef2);
        // 16-bit word by word, the definition, on a longer input.
        let data: Vec<u8> = (0..75u32).map(|i| (i * 37 + 11) as u8).collect();
        let mut s = 0u32;
        for c in data.chunks(2) {
            s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        assert_eq!(csum16(&data), !(s as u16));
    }
}
