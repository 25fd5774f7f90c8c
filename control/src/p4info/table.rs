//! Tables: match fields with their kinds and widths, the actions a table allows, and the
//! construction of keys and entries that a P4Runtime server accepts (every exact field
//! present, the priority rule, allowed actions only). Match-field values: matching.rs.

use std::fmt;

use p4runtime_proto::p4::config::v1::{self as cfg, action_ref::Scope, match_field};
use p4runtime_proto::p4::v1::{
    field_match, table_action, Action, FieldMatch, TableAction, TableEntry,
};

use super::names::{Members, Names};
use super::{ActionInfo, P4InfoError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    Lpm,
    Ternary,
    Range,
    Optional,
    /// An architecture-specific match kind (P4Info `other_match_type`).
    Other(String),
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchKind::Exact => f.write_str("exact"),
            MatchKind::Lpm => f.write_str("lpm"),
            MatchKind::Ternary => f.write_str("ternary"),
            MatchKind::Range => f.write_str("range"),
            MatchKind::Optional => f.write_str("optional"),
            MatchKind::Other(s) => f.write_str(s),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchFieldInfo {
    pub id: u32,
    pub name: String,
    pub bitwidth: u32,
    pub kind: MatchKind,
}

/// Where a table may use an action (P4Info `ActionRef.scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionScope {
    TableAndDefault,
    TableOnly,
    DefaultOnly,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRefInfo {
    pub id: u32,
    pub name: String,
    pub scope: ActionScope,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub id: u32,
    pub name: String,
    pub size: i64,
    pub match_fields: Vec<MatchFieldInfo>,
    pub actions: Vec<ActionRefInfo>,
    /// Set when the program fixes the default action (`const default_action`).
    pub const_default_action: Option<u32>,
    /// The table supports idle timeout (`support_timeout = true`): entries may carry a TTL.
    pub idle_timeout: bool,
    /// `const entries`: the controller cannot write this table.
    pub is_const: bool,
}

impl TableInfo {
    pub(super) fn from_p4info(
        t: &cfg::Table,
        actions: &Names<ActionInfo>,
    ) -> Result<Self, P4InfoError> {
        let (id, name) = t
            .preamble
            .as_ref()
            .map(|p| (p.id, p.name.clone()))
            .ok_or_else(|| P4InfoError::Invalid("a table has no preamble".into()))?;
        let invalid = |what: String| P4InfoError::Invalid(format!("table {name}: {what}"));

        let mut members = Members::default();
        let mut match_fields = Vec::with_capacity(t.match_fields.len());
        for m in &t.match_fields {
            let bitwidth = members.check("match field", m.id, &m.name, m.bitwidth).map_err(invalid)?;
            let kind = match &m.r#match {
                Some(match_field::Match::MatchType(t)) => {
                    match match_field::MatchType::try_from(*t) {
                        Ok(match_field::MatchType::Exact) => MatchKind::Exact,
                        Ok(match_field::MatchType::Lpm) => MatchKind::Lpm,
                        Ok(match_field::MatchType::Ternary) => MatchKind::Ternary,
                        Ok(match_field::MatchType::Range) => MatchKind::Range,
                        Ok(match_field::MatchType::Optional) => MatchKind::Optional,
                        _ => {
                            return Err(invalid(format!("match field {}: match type {t}", m.name)))
                        }
                    }
                }
                Some(match_field::Match::OtherMatchType(s)) => MatchKind::Other(s.clone()),
                None => return Err(invalid(format!("match field {} has no match type", m.name))),
            };
            match_fields.push(MatchFieldInfo {
                id: m.id,
                name: m.name.clone(),
                bitwidth,
                kind,
            });
        }

        let mut refs = Vec::with_capacity(t.action_refs.len());
        for r in &t.action_refs {
            let action = actions
                .by_id(r.id)
                .map_err(|_| invalid(format!("refers to unknown action {:#010x}", r.id)))?;
            let scope = match Scope::try_from(r.scope) {
                Ok(Scope::TableAndDefault) => ActionScope::TableAndDefault,
                Ok(Scope::TableOnly) => ActionScope::TableOnly,
                Ok(Scope::DefaultOnly) => ActionScope::DefaultOnly,
                Err(_) => {
                    return Err(invalid(format!(
                        "action {}: scope {}",
                        action.name, r.scope
                    )))
                }
            };
            refs.push(ActionRefInfo {
                id: r.id,
                name: action.name.clone(),
                scope,
            });
        }

        let const_default_action = match t.const_default_action_id {
            0 => None,
            id => {
                actions
                    .by_id(id)
                    .map_err(|_| invalid(format!("const default action {id:#010x} is unknown")))?;
                Some(id)
            }
        };

        Ok(TableInfo {
            id,
            name,
            size: t.size,
            match_fields,
            actions: refs,
            const_default_action,
            idle_timeout: t.idle_timeout_behavior
                == cfg::table::IdleTimeoutBehavior::NotifyControl as i32,
            is_const: t.is_const_table,
        })
    }

    pub fn field(&self, name: &str) -> Result<&MatchFieldInfo, P4InfoError> {
        self.match_fields
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| P4InfoError::UnknownMatchField {
                table: self.name.clone(),
                field: name.to_string(),
            })
    }

    pub fn field_by_id(&self, id: u32) -> Option<&MatchFieldInfo> {
        self.match_fields.iter().find(|m| m.id == id)
    }

    /// Entries need a priority (> 0) exactly when the key has a ternary, range or optional
    /// field (P4Runtime specification, TableEntry priority).
    pub fn needs_priority(&self) -> bool {
        self.match_fields.iter().any(|m| {
            matches!(
                m.kind,
                MatchKind::Ternary | MatchKind::Range | MatchKind::Optional
            )
        })
    }

    /// The key of an entry, for DELETE and for reading one entry back: match fields sorted by
    /// id, every exact field present, the priority rule checked.
    pub fn key(
        &self,
        mut matches: Vec<FieldMatch>,
        priority: i32,
    ) -> Result<TableEntry, P4InfoError> {
        if self.is_const {
            return Err(P4InfoError::ConstTable {
                table: self.name.clone(),
            });
        }
        matches.sort_by_key(|m| m.field_id);
        for pair in matches.windows(2) {
            if pair[0].field_id == pair[1].field_id {
                let name = self
                    .field_by_id(pair[0].field_id)
                    .map_or_else(String::new, |f| f.name.clone());
                return Err(P4InfoError::Duplicate {
                    owner: self.name.clone(),
                    name,
                });
            }
        }
        for m in &matches {
            let f = self.field_by_id(m.field_id).ok_or(P4InfoError::UnknownId {
                kind: "match field",
                id: m.field_id,
            })?;
            let given = match &m.field_match_type {
                Some(field_match::FieldMatchType::Exact(_)) => MatchKind::Exact,
                Some(field_match::FieldMatchType::Lpm(_)) => MatchKind::Lpm,
                Some(field_match::FieldMatchType::Ternary(_)) => MatchKind::Ternary,
                Some(field_match::FieldMatchType::Range(_)) => MatchKind::Range,
                Some(field_match::FieldMatchType::Optional(_)) => MatchKind::Optional,
                Some(field_match::FieldMatchType::Other(_)) | None => {
                    MatchKind::Other(String::new())
                }
            };
            let same = match (&f.kind, &given) {
                (MatchKind::Other(_), MatchKind::Other(_)) => true,
                (a, b) => a == b,
            };
            if !same {
                return Err(P4InfoError::MatchKind {
                    owner: self.name.clone(),
                    field: f.name.clone(),
                    actual: f.kind.to_string(),
                    requested: "the kind given",
                });
            }
        }
        for f in self
            .match_fields
            .iter()
            .filter(|f| f.kind == MatchKind::Exact)
        {
            if !matches.iter().any(|m| m.field_id == f.id) {
                return Err(P4InfoError::Missing {
                    owner: self.name.clone(),
                    name: f.name.clone(),
                });
            }
        }
        match (self.needs_priority(), priority) {
            (true, p) if p <= 0 => {
                return Err(P4InfoError::Priority {
                    table: self.name.clone(),
                    reason: "a key with ternary, range or optional fields needs a priority > 0",
                })
            }
            (false, p) if p != 0 => {
                return Err(P4InfoError::Priority {
                    table: self.name.clone(),
                    reason: "a key of exact and lpm fields takes no priority (0)",
                })
            }
            _ => {}
        }
        Ok(TableEntry {
            table_id: self.id,
            r#match: matches,
            priority,
            ..Default::default()
        })
    }

    /// A complete entry for INSERT or MODIFY: [`key`](Self::key) plus an action this table
    /// allows in entries.
    pub fn entry(
        &self,
        matches: Vec<FieldMatch>,
        priority: i32,
        action: Action,
    ) -> Result<TableEntry, P4InfoError> {
        let mut entry = self.key(matches, priority)?;
        let r = self.action_ref(action.action_id)?;
        if r.scope == ActionScope::DefaultOnly {
            return Err(self.not_allowed(r.name.clone(), "in entries (default only)"));
        }
        entry.action = Some(TableAction {
            r#type: Some(table_action::Type::Action(action)),
        });
        Ok(entry)
    }

    /// The entry that sets the table's default action (MODIFY only, per the specification).
    pub fn default_entry(&self, action: Action) -> Result<TableEntry, P4InfoError> {
        let r = self.action_ref(action.action_id)?;
        if self.const_default_action.is_some() {
            return Err(
                self.not_allowed(r.name.clone(), "as default (the default action is const)")
            );
        }
        if r.scope == ActionScope::TableOnly {
            return Err(self.not_allowed(r.name.clone(), "as default (entries only)"));
        }
        Ok(TableEntry {
            table_id: self.id,
            action: Some(TableAction {
                r#type: Some(table_action::Type::Action(action)),
            }),
            is_default_action: true,
            ..Default::default()
        })
    }

    fn action_ref(&self, id: u32) -> Result<&ActionRefInfo, P4InfoError> {
        self.actions
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| self.not_allowed(format!("{id:#010x}"), "at all"))
    }

    fn not_allowed(&self, action: String, scope: &'static str) -> P4InfoError {
        P4InfoError::ActionNotAllowed {
            table: self.name.clone(),
            action,
            scope,
        }
    }
}
