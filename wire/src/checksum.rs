//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Every rewrite in Switchyard (switch, front-end, agent) changes a few
//! 16- or 32-bit fields; recomputing the TCP checksum over a 1500-byte
//! segment for that is waste, so rewrites use `update16`/`update32`, and tests
//! compare them against the full computation.

use core::net::Ipv4Addr;

/// One's-complement sum of `data` as 16-bit big-endian words, a partial
/// sum (not yet complemented). An odd trailing byte is padded with zero, as
/// RFC 1071 says.
///
/// The bulk is summed 8 bytes at a time in the machine's byte order and
/// swapped once at the end: the one's-complement sum commutes with byte
/// swapping (RFC 1071 section 2(B)), and without a swap per word the loop
/// vectorizes (this sum is most of the front-end's per-frame validation).
pub fn sum(data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    let mut acc: u64 = 0;
    for c in &mut chunks {
        let w = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Two 32-bit halves: at most 2^33 per step, no overflow before 16 GiB.
        acc += (w & 0xffff_ffff) + (w >> 32);
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    let native = acc as u16;
    let mut s = u32::from(if cfg!(target_endian = "little") { native.swap_bytes() } else { native });
    let rest = chunks.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        s += u32::from(u16::from_be_bytes([rest[i], rest[i + 1]]));
        i += 2;
    }
    if i < rest.len() {
        s += u32::from(rest[i]) << 8;
    }
    s
}

/// Folds a 32-bit partial sum to 16 bits (end-around carry).
pub fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Adds two partial sums.
pub fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s + carry as u32
}

/// The finished checksum of a set of partial sums: fold, then complement.
pub fn finish(s: u32) -> u16 {
    !fold(s)
}

/// Partial sum of the TCP/UDP pseudo header over IPv4.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4_len: u16) -> u32 {
    let s = u32::from_be_bytes(src.octets());
    let d = u32::from_be_bytes(dst.octets());
    let mut acc = (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff);
    acc += u32::from(protocol) + u32::from(l4_len);
    acc
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered
/// data changed from `old` to `new`. `HC' = ~(~HC + ~m + m')`.
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let s = u32::from(!check) + u32::from(!old) + u32::from(new);
    !fold(s)
}

/// The new checksum after a 32-bit field (an address, a sequence number)
/// changed; two 16-bit updates folded into one.
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let s = u32::from(!check)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new >> 16)
        + (new & 0xffff);
    !fold(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // The example of RFC 1071 section 3: sum is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(&[0xab])), 0xab00);
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn bulk_and_tail_agree_with_word_by_word() {
        // Every length up to a few bulk steps, with carries: compare with
        // the plain RFC 1071 loop.
        let data: Vec<u8> = (0..64u32).map(|i| (i * 97 + 0xf1) as u8).collect();
        for n in 0..data.len() {
            let d = &data[..n];
            let mut plain: u32 = d.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
            while plain >> 16 != 0 {
                plain = (plain & 0xffff) + (plain >> 16);
            }
            assert_eq!(fold(sum(d)), plain as u16, "{n} bytes");
        }
        assert_eq!(fold(sum(&[0xff; 1500])), 0xffff);
    }

    #[test]
    fn update16_matches_recompute() {
        let mut data = [0x45u8, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00];
        let before = finish(sum(&data));
        data[2..4].copy_from_slice(&0x1234u16.to_be_bytes());
        assert_eq!(update16(before, 0x003c, 0x1234), finish(sum(&data)));
    }
}
