//! Errors of name resolution and value building. Each names the P4 objects involved, so an
//! operator sees "SwitchyardIngress.conn: no match field `hdr.ipv4.dst`", not a bare id.

use crate::bitstring::BitstringError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum P4InfoError {
    /// The P4Info itself is unusable (duplicate names or ids, wrong id prefix, bad widths…).
    #[error("invalid P4Info: {0}")]
    Invalid(String),

    #[error("no {kind} named `{name}` in the P4Info")]
    UnknownName { kind: &'static str, name: String },

    #[error("no {kind} with id {id:#010x} in the P4Info")]
    UnknownId { kind: &'static str, id: u32 },

    #[error("{table}: no match field `{field}`")]
    UnknownMatchField { table: String, field: String },

    #[error("{action}: no parameter `{param}`")]
    UnknownParam { action: String, param: String },

    #[error("{owner}: `{field}` is a {actual} match field, not {requested}")]
    MatchKind {
        owner: String,
        field: String,
        actual: String,
        requested: &'static str,
    },

    #[error("{owner}.{field}: {source}")]
    Value {
        owner: String,
        field: String,
        source: BitstringError,
    },

    /// A match that matches everything: P4Runtime requires such fields to be omitted.
    #[error("{owner}.{field}: {what} matches everything; omit the field instead")]
    DontCare {
        owner: String,
        field: String,
        what: &'static str,
    },

    #[error("{owner}.{field}: {reason}")]
    BadMatch {
        owner: String,
        field: String,
        reason: String,
    },

    #[error("{owner}: `{name}` given more than once")]
    Duplicate { owner: String, name: String },

    #[error("{owner}: `{name}` is required but missing")]
    Missing { owner: String, name: String },

    #[error("table {table} does not allow action {action} {scope}")]
    ActionNotAllowed {
        table: String,
        action: String,
        scope: &'static str,
    },

    #[error("table {table} is const: its entries cannot be written")]
    ConstTable { table: String },

    #[error("table {table}: {reason}")]
    Priority { table: String, reason: &'static str },
}
