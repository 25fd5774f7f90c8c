//! P4Runtime byte strings (specification v1.4, "Bytestrings"): a `bit<W>` value travels as a
//! big-endian byte string. The canonical form, which servers return in Reads and compare
//! against, is the shortest one: no leading zero bytes, except that 0 is one zero byte. A value
//! whose significant bits exceed W is rejected by servers with INVALID_ARGUMENT, so we reject it
//! here first, with the names attached by the caller.
//!
//! Only unsigned `bit<W>` semantics are implemented: every field and parameter of the
//! Switchyard program is `bit<W>`. Signed `int<W>` values would need sign-aware widths.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An unsigned integer as a big-endian byte string of any length (padded or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value(Vec<u8>);

impl Value {
    /// A value from big-endian bytes, e.g. a MAC address or a byte string read from a server.
    pub fn from_be_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Value(bytes.into())
    }

    pub fn as_be_bytes(&self) -> &[u8] {
        &self.0
    }
}

macro_rules! value_from_uint {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value(v.to_be_bytes().to_vec())
            }
        }
    )*};
}
value_from_uint!(u8, u16, u32, u64, u128);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value(vec![v as u8])
    }
}

impl From<Ipv4Addr> for Value {
    fn from(v: Ipv4Addr) -> Self {
        Value(v.octets().to_vec())
    }
}

impl From<Ipv6Addr> for Value {
    fn from(v: Ipv6Addr) -> Self {
        Value(v.octets().to_vec())
    }
}

impl<const N: usize> From<[u8; N]> for Value {
    fn from(v: [u8; N]) -> Self {
        Value(v.to_vec())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value(v.to_vec())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value(v)
    }
}

/// Why a byte string cannot stand for a `bit<W>` value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BitstringError {
    #[error("empty byte string (P4Runtime requires at least one byte)")]
    Empty,
    #[error("value needs {bits} bits, more than the width {bitwidth}")]
    TooWide { bits: u32, bitwidth: u32 },
    #[error("width {0} is not a valid bit<W> width")]
    BadWidth(i64),
}

/// The canonical form of a big-endian byte string: leading zero bytes removed, 0 as `[0]`.
/// The empty string is returned as is (it is invalid, see [`encode`]).
pub fn canonical(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None if bytes.is_empty() => bytes,
        None => &bytes[bytes.len() - 1..],
    }
}

/// Number of significant bits of a big-endian unsigned value (0 for zero).
pub fn significant_bits(bytes: &[u8]) -> u32 {
    let c = canonical(bytes);
    match c.first() {
        None | Some(0) => 0,
        Some(&first) => (c.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
    }
}

/// Checks that `bitwidth` (a P4Info `int32` width) is usable.
pub fn check_width(bitwidth: i64) -> Result<u32, BitstringError> {
    // The spec has no upper bound; 1 << 16 bits keeps padding arithmetic far from overflow
    // and is far beyond any real field.
    if (1..=65_536).contains(&bitwidth) {
        Ok(bitwidth as u32)
    } else {
        Err(BitstringError::BadWidth(bitwidth))
    }
}

/// The canonical byte string of `value` as a `bit<bitwidth>`.
pub fn encode(value: &Value, bitwidth: u32) -> Result<Vec<u8>, BitstringError> {
    let bytes = value.as_be_bytes();
    if bytes.is_empty() {
        return Err(BitstringError::Empty);
    }
    let bits = significant_bits(bytes);
    if bits > bitwidth {
        return Err(BitstringError::TooWide { bits, bitwidth });
    }
    Ok(canonical(bytes).to_vec())
}

/// The value of a byte string received for a `bit<bitwidth>` (canonical or padded), as u128.
pub fn decode_u128(bytes: &[u8], bitwidth: u32) -> Result<u128, BitstringError> {
    if bytes.is_empty() {
        return Err(BitstringError::Empty);
    }
    let bits = significant_bits(bytes);
    if bits > bitwidth || bits > 128 {
        return Err(BitstringError::TooWide {
            bits,
            bitwidth: bitwidth.min(128),
        });
    }
    Ok(canonical(bytes)
        .iter()
        .fold(0u128, |acc, &b| (acc << 8) | b as u128))
}

/// `bytes` (already checked to fit) left-padded with zeros to ceil(bitwidth / 8) bytes: the
/// fixed-size form used for bitwise checks on masks and prefixes.
pub(crate) fn padded(bytes: &[u8], bitwidth: u32) -> Vec<u8> {
    let c = canonical(bytes);
    let len = bitwidth.div_ceil(8) as usize;
    let mut out = vec![0u8; len.saturating_sub(c.len())];
    out.extend_from_slice(&c[c.len().saturating_sub(len)..]);
    out
}

/// Whether bit `i` (0 = least significant) of the padded big-endian string is set.
pub(crate) fn bit(padded: &[u8], i: u32) -> bool {
    let byte = padded.len() - 1 - (i / 8) as usize;
    padded[byte] >> (i % 8) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_strips_leading_zeros_and_keeps_one_for_zero() {
        assert_eq!(canonical(&[0, 0, 0x0a, 0]), [0x0a, 0]);
        assert_eq!(canonical(&[0, 0, 0]), [0]);
        assert_eq!(canonical(&[0x80]), [0x80]);
        assert_eq!(canonical(&[]), [] as [u8; 0]);
    }

    #[test]
    fn encode_checks_width_on_significant_bits_not_length() {
        // A padded 4-byte 9-bit port number is fine: only 9 significant bits count.
        assert_eq!(encode(&Value::from(0x1ffu32), 9), Ok(vec![0x01, 0xff]));
        assert_eq!(
            encode(&Value::from(0x200u32), 9),
            Err(BitstringError::TooWide {
                bits: 10,
                bitwidth: 9
            })
        );
        assert_eq!(encode(&Value::from(0u64), 1), Ok(vec![0]));
        assert_eq!(
            encode(&Value::from_be_bytes(vec![]), 8),
            Err(BitstringError::Empty)
        );
        assert_eq!(encode(&Value::from(true), 1), Ok(vec![1]));
    }

    #[test]
    fn addresses_encode_canonically() {
        assert_eq!(
            encode(&Value::from(Ipv4Addr::new(0, 0, 1, 2)), 32),
            Ok(vec![1, 2])
        );
        assert_eq!(encode(&Value::from(Ipv6Addr::LOCALHOST), 128), Ok(vec![1]));
        let mac = [0x00, 0x1b, 0x21, 0x00, 0x00, 0x01];
        assert_eq!(encode(&Value::from(mac), 48), Ok(vec![0x1b, 0x21, 0, 0, 1]));
    }

    #[test]
    fn decode_accepts_padded_and_canonical() {
        assert_eq!(decode_u128(&[0, 0, 0x12, 0x34], 16), Ok(0x1234));
        assert_eq!(decode_u128(&[0x12, 0x34], 16), Ok(0x1234));
        assert_eq!(
            decode_u128(&[0x01, 0x00, 0x00], 16),
            Err(BitstringError::TooWide {
                bits: 17,
                bitwidth: 16
            })
        );
        assert_eq!(decode_u128(&[], 8), Err(BitstringError::Empty));
        assert_eq!(decode_u128(&[0xff; 16], 128), Ok(u128::MAX));
    }

    #[test]
    fn widths_outside_the_valid_range_are_errors() {
        assert_eq!(check_width(0), Err(BitstringError::BadWidth(0)));
        assert_eq!(check_width(-3), Err(BitstringError::BadWidth(-3)));
        assert_eq!(check_width(48), Ok(48));
    }

    #[test]
    fn padded_and_bit_address_from_the_least_significant_end() {
        let p = padded(&[0x01, 0x80], 12);
        assert_eq!(p, [0x01, 0x80]);
        assert!(bit(&p, 7) && bit(&p, 8) && !bit(&p, 0) && !bit(&p, 9));
        assert_eq!(padded(&[0x05], 20), [0, 0, 5]);
    }
}
