//! Name resolution over a P4Info: the control plane never hard-codes an id. Every table,
//! action, match field, parameter and extern is looked up by the fully qualified name p4c
//! writes (e.g. `SwitchyardIngress.conn`), so the same code drives switch-sim, bmv2 and Tofino,
//! whose ids differ. Lookups by id serve the other direction (digests, idle-timeout
//! notifications and Read replies carry ids).
//!
//! Building the index validates the P4Info once (unique names and ids, id prefixes as the
//! specification assigns them, usable bit widths, action references that exist), so later
//! lookups can only fail because the caller asked for something absent.

mod action;
mod error;
mod matching;
mod names;
mod packet_io;
mod table;
#[cfg(test)]
mod tests;

pub use action::{ActionInfo, ParamInfo};
pub use error::P4InfoError;
pub use packet_io::{ControllerHeaderInfo, PacketMetadataInfo};
pub use table::{ActionRefInfo, ActionScope, MatchFieldInfo, MatchKind, TableInfo};

use names::Names;
use p4runtime_proto::p4::config::v1::{self as cfg, p4_ids::Prefix, P4Info};

/// Kinds of P4Info objects that the index maps to ids without further structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    ActionProfile,
    Counter,
    DirectCounter,
    Meter,
    DirectMeter,
    Register,
    Digest,
    ValueSet,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 8] = [
        ObjectKind::ActionProfile,
        ObjectKind::Counter,
        ObjectKind::DirectCounter,
        ObjectKind::Meter,
        ObjectKind::DirectMeter,
        ObjectKind::Register,
        ObjectKind::Digest,
        ObjectKind::ValueSet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::ActionProfile => "action profile",
            ObjectKind::Counter => "counter",
            ObjectKind::DirectCounter => "direct counter",
            ObjectKind::Meter => "meter",
            ObjectKind::DirectMeter => "direct meter",
            ObjectKind::Register => "register",
            ObjectKind::Digest => "digest",
            ObjectKind::ValueSet => "value set",
        }
    }

    fn prefix(self) -> Prefix {
        match self {
            ObjectKind::ActionProfile => Prefix::ActionProfile,
            ObjectKind::Counter => Prefix::Counter,
            ObjectKind::DirectCounter => Prefix::DirectCounter,
            ObjectKind::Meter => Prefix::Meter,
            ObjectKind::DirectMeter => Prefix::DirectMeter,
            ObjectKind::Register => Prefix::Register,
            ObjectKind::Digest => Prefix::Digest,
            ObjectKind::ValueSet => Prefix::ValueSet,
        }
    }
}

/// A P4Info object known only by id and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub id: u32,
    pub name: String,
}

/// Everything in one P4Info, addressable by fully qualified name (or unambiguous alias) and
/// by id.
#[derive(Clone, Debug)]
pub struct P4InfoIndex {
    p4info: P4Info,
    tables: Names<TableInfo>,
    actions: Names<ActionInfo>,
    packet_headers: Names<ControllerHeaderInfo>,
    objects: Vec<(ObjectKind, Names<ObjectInfo>)>,
}

impl P4InfoIndex {
    /// Validates `p4info` and indexes it.
    pub fn new(p4info: P4Info) -> Result<Self, P4InfoError> {
        let mut actions = Names::new("action", Prefix::Action);
        for a in &p4info.actions {
            let info = ActionInfo::from_p4info(a)?;
            actions.insert(a.preamble.as_ref(), info)?;
        }

        let mut tables = Names::new("table", Prefix::Table);
        for t in &p4info.tables {
            let info = TableInfo::from_p4info(t, &actions)?;
            tables.insert(t.preamble.as_ref(), info)?;
        }

        let mut packet_headers = Names::new("controller packet header", Prefix::ControllerHeader);
        for h in &p4info.controller_packet_metadata {
            let info = ControllerHeaderInfo::from_p4info(h)?;
            packet_headers.insert(h.preamble.as_ref(), info)?;
        }

        let mut objects = Vec::new();
        for kind in ObjectKind::ALL {
            let mut names = Names::new(kind.name(), kind.prefix());
            for preamble in preambles(&p4info, kind) {
                let info = ObjectInfo {
                    id: preamble.map_or(0, |p| p.id),
                    name: preamble.map_or_else(String::new, |p| p.name.clone()),
                };
                names.insert(preamble, info)?;
            }
            objects.push((kind, names));
        }

        Ok(P4InfoIndex {
            p4info,
            tables,
            actions,
            packet_headers,
            objects,
        })
    }

    /// The P4Info the index was built from (to push with the pipeline config).
    pub fn p4info(&self) -> &P4Info {
        &self.p4info
    }

    pub fn table(&self, name: &str) -> Result<&TableInfo, P4InfoError> {
        self.tables.by_name(name)
    }

    pub fn table_by_id(&self, id: u32) -> Result<&TableInfo, P4InfoError> {
        self.tables.by_id(id)
    }

    pub fn action(&self, name: &str) -> Result<&ActionInfo, P4InfoError> {
        self.actions.by_name(name)
    }

    pub fn action_by_id(&self, id: u32) -> Result<&ActionInfo, P4InfoError> {
        self.actions.by_id(id)
    }

    /// A `@controller_header` header: `packet_in` or `packet_out` in p4c's naming.
    pub fn packet_header(&self, name: &str) -> Result<&ControllerHeaderInfo, P4InfoError> {
        self.packet_headers.by_name(name)
    }

    pub fn object(&self, kind: ObjectKind, name: &str) -> Result<&ObjectInfo, P4InfoError> {
        self.objects_of(kind).by_name(name)
    }

    pub fn object_by_id(&self, kind: ObjectKind, id: u32) -> Result<&ObjectInfo, P4InfoError> {
        self.objects_of(kind).by_id(id)
    }

    /// Shorthand for the id of a digest, the object the stream task subscribes to.
    pub fn digest_id(&self, name: &str) -> Result<u32, P4InfoError> {
        Ok(self.object(ObjectKind::Digest, name)?.id)
    }

    pub fn tables(&self) -> impl Iterator<Item = &TableInfo> {
        self.tables.iter()
    }

    pub fn actions(&self) -> impl Iterator<Item = &ActionInfo> {
        self.actions.iter()
    }

    fn objects_of(&self, kind: ObjectKind) -> &Names<ObjectInfo> {
        // Every kind is inserted by `new`, in ObjectKind::ALL order.
        &self.objects[ObjectKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)].1
    }
}

fn preambles(p4info: &P4Info, kind: ObjectKind) -> Vec<Option<&cfg::Preamble>> {
    match kind {
        ObjectKind::ActionProfile => p4info
            .action_profiles
            .iter()
            .map(|o| o.preamble.as_ref())
            .collect(),
        ObjectKind::Counter => p4info
            .counters
            .iter()
            .map(|o| o.preamble.as_ref())
            .collect(),
        ObjectKind::DirectCounter => p4info
            .direct_counters
            .iter()
            .map(|o| o.preamble.as_ref())
            .collect(),
        ObjectKind::Meter => p4info.meters.iter().map(|o| o.preamble.as_ref()).collect(),
        ObjectKind::DirectMeter => p4info
            .direct_meters
            .iter()
            .map(|o| o.preamble.as_ref())
            .collect(),
        ObjectKind::Register => p4info
            .registers
            .iter()
            .map(|o| o.preamble.as_ref())
            .collect(),
        ObjectKind::Digest => p4info.digests.iter().map(|o| o.preamble.as_ref()).collect(),
        ObjectKind::ValueSet => p4info
            .value_sets
            .iter()
            .map(|o| o.preamble.as_ref())
            .collect(),
    }
}
