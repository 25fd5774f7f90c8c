//! Match-field values for table keys, built from field names with the specification's rules:
//! the field's kind and width, canonical values, no bits outside an LPM prefix or ternary mask,
//! and no match that matches everything (P4Runtime requires such a field to be omitted).

use p4runtime_proto::p4::v1::{field_match, FieldMatch};

use super::{MatchFieldInfo, MatchKind, P4InfoError, TableInfo};
use crate::bitstring::{self, Value};

impl TableInfo {
    pub fn exact(&self, field: &str, value: impl Into<Value>) -> Result<FieldMatch, P4InfoError> {
        let f = self.field_of_kind(field, MatchKind::Exact, "exact")?;
        let value = self.encode(f, value.into())?;
        Ok(field_match_of(
            f.id,
            field_match::FieldMatchType::Exact(field_match::Exact { value }),
        ))
    }

    pub fn optional(
        &self,
        field: &str,
        value: impl Into<Value>,
    ) -> Result<FieldMatch, P4InfoError> {
        let f = self.field_of_kind(field, MatchKind::Optional, "optional")?;
        let value = self.encode(f, value.into())?;
        Ok(field_match_of(
            f.id,
            field_match::FieldMatchType::Optional(field_match::Optional { value }),
        ))
    }

    /// `value/prefix_len`. The bits after the prefix must be zero; a /0 prefix is a wildcard,
    /// which P4Runtime expresses by omitting the field.
    pub fn lpm(
        &self,
        field: &str,
        value: impl Into<Value>,
        prefix_len: u32,
    ) -> Result<FieldMatch, P4InfoError> {
        let f = self.field_of_kind(field, MatchKind::Lpm, "lpm")?;
        let value = self.encode(f, value.into())?;
        if prefix_len > f.bitwidth {
            return Err(self.bad(
                f,
                format!(
                    "prefix /{prefix_len} is longer than the width {}",
                    f.bitwidth
                ),
            ));
        }
        if prefix_len == 0 {
            return Err(self.dont_care(f, "a /0 prefix"));
        }
        let padded = bitstring::padded(&value, f.bitwidth);
        if (0..f.bitwidth - prefix_len).any(|i| bitstring::bit(&padded, i)) {
            return Err(self.bad(
                f,
                format!("value has bits set after the /{prefix_len} prefix"),
            ));
        }
        Ok(field_match_of(
            f.id,
            field_match::FieldMatchType::Lpm(field_match::Lpm {
                value,
                prefix_len: prefix_len as i32,
            }),
        ))
    }

    /// `value &&& mask`. Bits of the value outside the mask must be zero; an all-zero mask is
    /// a wildcard (omit the field).
    pub fn ternary(
        &self,
        field: &str,
        value: impl Into<Value>,
        mask: impl Into<Value>,
    ) -> Result<FieldMatch, P4InfoError> {
        let f = self.field_of_kind(field, MatchKind::Ternary, "ternary")?;
        let value = self.encode(f, value.into())?;
        let mask = self.encode(f, mask.into())?;
        if mask == [0] {
            return Err(self.dont_care(f, "an all-zero mask"));
        }
        let (v, m) = (
            bitstring::padded(&value, f.bitwidth),
            bitstring::padded(&mask, f.bitwidth),
        );
        if v.iter().zip(&m).any(|(v, m)| v & !m != 0) {
            return Err(self.bad(f, "value has bits set outside the mask".into()));
        }
        Ok(field_match_of(
            f.id,
            field_match::FieldMatchType::Ternary(field_match::Ternary { value, mask }),
        ))
    }

    /// `low..=high`. The full range is a wildcard (omit the field).
    pub fn range(
        &self,
        field: &str,
        low: impl Into<Value>,
        high: impl Into<Value>,
    ) -> Result<FieldMatch, P4InfoError> {
        let f = self.field_of_kind(field, MatchKind::Range, "range")?;
        let low = self.encode(f, low.into())?;
        let high = self.encode(f, high.into())?;
        let (lo, hi) = (
            bitstring::padded(&low, f.bitwidth),
            bitstring::padded(&high, f.bitwidth),
        );
        // Equal-length big-endian strings compare like the numbers they hold.
        if lo > hi {
            return Err(self.bad(f, "low is above high".into()));
        }
        // `high` fits the width, so it is all ones exactly when it has `bitwidth` set bits.
        let high_is_max = hi.iter().map(|b| b.count_ones()).sum::<u32>() == f.bitwidth;
        if low == [0] && high_is_max {
            return Err(self.dont_care(f, "the full range"));
        }
        Ok(field_match_of(
            f.id,
            field_match::FieldMatchType::Range(field_match::Range { low, high }),
        ))
    }

    fn field_of_kind(
        &self,
        name: &str,
        kind: MatchKind,
        requested: &'static str,
    ) -> Result<&MatchFieldInfo, P4InfoError> {
        let f = self.field(name)?;
        if f.kind != kind {
            return Err(P4InfoError::MatchKind {
                owner: self.name.clone(),
                field: f.name.clone(),
                actual: f.kind.to_string(),
                requested,
            });
        }
        Ok(f)
    }

    fn encode(&self, f: &MatchFieldInfo, value: Value) -> Result<Vec<u8>, P4InfoError> {
        bitstring::encode(&value, f.bitwidth).map_err(|source| P4InfoError::Value {
            owner: self.name.clone(),
            field: f.name.clone(),
            source,
        })
    }

    fn bad(&self, f: &MatchFieldInfo, reason: String) -> P4InfoError {
        P4InfoError::BadMatch {
            owner: self.name.clone(),
            field: f.name.clone(),
            reason,
        }
    }

    fn dont_care(&self, f: &MatchFieldInfo, what: &'static str) -> P4InfoError {
        P4InfoError::DontCare {
            owner: self.name.clone(),
            field: f.name.clone(),
            what,
        }
    }
}

fn field_match_of(field_id: u32, m: field_match::FieldMatchType) -> FieldMatch {
    FieldMatch {
        field_id,
        field_match_type: Some(m),
    }
}
