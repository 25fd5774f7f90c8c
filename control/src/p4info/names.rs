//! One kind of P4Info object, indexed by fully qualified name, by alias and by id, with the
//! checks every kind shares (preamble present, id non-zero with the kind's prefix, no
//! duplicate names or ids).

use std::collections::HashMap;

use p4runtime_proto::p4::config::v1::{p4_ids::Prefix, Preamble};

use super::P4InfoError;

#[derive(Clone, Debug)]
pub(crate) struct Names<T> {
    kind: &'static str,
    prefix: Prefix,
    items: Vec<T>,
    by_name: HashMap<String, usize>,
    /// None: the alias is shared by several objects and resolves to none of them.
    by_alias: HashMap<String, Option<usize>>,
    by_id: HashMap<u32, usize>,
}

impl<T> Names<T> {
    pub(crate) fn new(kind: &'static str, prefix: Prefix) -> Self {
        Names {
            kind,
            prefix,
            items: Vec::new(),
            by_name: HashMap::new(),
            by_alias: HashMap::new(),
            by_id: HashMap::new(),
        }
    }

    pub(crate) fn insert(
        &mut self,
        preamble: Option<&Preamble>,
        item: T,
    ) -> Result<(), P4InfoError> {
        let kind = self.kind;
        let p =
            preamble.ok_or_else(|| P4InfoError::Invalid(format!("a {kind} has no preamble")))?;
        if p.name.is_empty() {
            return Err(P4InfoError::Invalid(format!(
                "{kind} {:#010x} has no name",
                p.id
            )));
        }
        let prefix = self.prefix as u32;
        if p.id == 0 || p.id >> 24 != prefix {
            return Err(P4InfoError::Invalid(format!(
                "{kind} {}: id {:#010x} does not carry the {kind} prefix {prefix:#04x}",
                p.name, p.id
            )));
        }
        if self.by_name.contains_key(&p.name) {
            return Err(P4InfoError::Invalid(format!(
                "two {kind}s named {}",
                p.name
            )));
        }
        if self.by_id.contains_key(&p.id) {
            return Err(P4InfoError::Invalid(format!(
                "two {kind}s with id {:#010x}",
                p.id
            )));
        }
        let index = self.items.len();
        self.items.push(item);
        self.by_name.insert(p.name.clone(), index);
        self.by_id.insert(p.id, index);
        if !p.alias.is_empty() && p.alias != p.name {
            self.by_alias
                .entry(p.alias.clone())
                .and_modify(|slot| *slot = None)
                .or_insert(Some(index));
        }
        Ok(())
    }

    /// By fully qualified name; failing that, by an alias that names exactly one object.
    pub(crate) fn by_name(&self, name: &str) -> Result<&T, P4InfoError> {
        self.by_name
            .get(name)
            .or_else(|| self.by_alias.get(name).and_then(Option::as_ref))
            .map(|&i| &self.items[i])
            .ok_or_else(|| P4InfoError::UnknownName {
                kind: self.kind,
                name: name.to_string(),
            })
    }

    pub(crate) fn by_id(&self, id: u32) -> Result<&T, P4InfoError> {
        self.by_id
            .get(&id)
            .map(|&i| &self.items[i])
            .ok_or(P4InfoError::UnknownId {
                kind: self.kind,
                id,
            })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

/// The checks every numbered member of an object shares (action parameters,
/// match fields, controller-header fields): named, id non-zero, id and name
/// unique within the object, width within what P4Runtime can carry.
#[derive(Default)]
pub(crate) struct Members<'a> {
    ids: std::collections::HashSet<u32>,
    names: std::collections::HashSet<&'a str>,
}

impl<'a> Members<'a> {
    /// The member's checked bit width, or a message naming it as `what`
    /// (e.g. "parameter", "match field"); the caller adds its own context.
    pub(crate) fn check(&mut self, what: &str, id: u32, name: &'a str, bitwidth: i32) -> Result<u32, String> {
        if id == 0 || name.is_empty() || !self.ids.insert(id) || !self.names.insert(name) {
            return Err(format!("{what} `{name}` (id {id}) is unnamed, has id 0 or repeats another"));
        }
        crate::bitstring::check_width(bitwidth.into()).map_err(|e| format!("{what} {name}: {e}"))
    }
}
