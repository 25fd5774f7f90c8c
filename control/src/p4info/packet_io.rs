//! `@controller_header` headers: the metadata fields that travel with PacketOut (controller
//! to switch) and PacketIn (switch to controller).


use p4runtime_proto::p4::config::v1 as cfg;
use p4runtime_proto::p4::v1::PacketMetadata;

use super::names::Members;
use super::P4InfoError;
use crate::bitstring::{self, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketMetadataInfo {
    pub id: u32,
    pub name: String,
    pub bitwidth: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerHeaderInfo {
    pub id: u32,
    pub name: String,
    pub metadata: Vec<PacketMetadataInfo>,
}

impl ControllerHeaderInfo {
    pub(super) fn from_p4info(h: &cfg::ControllerPacketMetadata) -> Result<Self, P4InfoError> {
        let (id, name) = h
            .preamble
            .as_ref()
            .map(|p| (p.id, p.name.clone()))
            .ok_or_else(|| P4InfoError::Invalid("a controller header has no preamble".into()))?;
        let mut members = Members::default();
        let mut metadata = Vec::new();
        for m in &h.metadata {
            let bitwidth = members
                .check("field", m.id, &m.name, m.bitwidth)
                .map_err(|e| P4InfoError::Invalid(format!("controller header {name}: {e}")))?;
            metadata.push(PacketMetadataInfo {
                id: m.id,
                name: m.name.clone(),
                bitwidth,
            });
        }
        Ok(ControllerHeaderInfo { id, name, metadata })
    }

    pub fn field(&self, name: &str) -> Result<&PacketMetadataInfo, P4InfoError> {
        self.metadata
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| P4InfoError::UnknownParam {
                action: self.name.clone(),
                param: name.to_string(),
            })
    }

    /// The metadata of a PacketOut: every field exactly once, canonical values.
    pub fn encode<'a, V: Into<Value>>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, V)>,
    ) -> Result<Vec<PacketMetadata>, P4InfoError> {
        let mut given: Vec<Option<Vec<u8>>> = vec![None; self.metadata.len()];
        for (name, value) in fields {
            let slot = self
                .metadata
                .iter()
                .position(|m| m.name == name)
                .ok_or_else(|| P4InfoError::UnknownParam {
                    action: self.name.clone(),
                    param: name.to_string(),
                })?;
            if given[slot].is_some() {
                return Err(P4InfoError::Duplicate {
                    owner: self.name.clone(),
                    name: name.into(),
                });
            }
            given[slot] = Some(
                bitstring::encode(&value.into(), self.metadata[slot].bitwidth).map_err(
                    |source| P4InfoError::Value {
                        owner: self.name.clone(),
                        field: name.to_string(),
                        source,
                    },
                )?,
            );
        }
        self.metadata
            .iter()
            .zip(given)
            .map(|(info, value)| {
                let value = value.ok_or_else(|| P4InfoError::Missing {
                    owner: self.name.clone(),
                    name: info.name.clone(),
                })?;
                Ok(PacketMetadata {
                    metadata_id: info.id,
                    value,
                })
            })
            .collect()
    }

    /// The value of field `name` in the metadata of a PacketIn.
    pub fn value_of(&self, metadata: &[PacketMetadata], name: &str) -> Result<u128, P4InfoError> {
        let info = self.field(name)?;
        let m = metadata
            .iter()
            .find(|m| m.metadata_id == info.id)
            .ok_or_else(|| P4InfoError::Missing {
                owner: self.name.clone(),
                name: name.into(),
            })?;
        bitstring::decode_u128(&m.value, info.bitwidth).map_err(|source| P4InfoError::Value {
            owner: self.name.clone(),
            field: name.to_string(),
            source,
        })
    }
}
