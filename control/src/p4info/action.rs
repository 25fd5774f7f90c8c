//! Actions and their parameters, and building a `p4.v1.Action` call from parameter names.


use p4runtime_proto::p4::config::v1 as cfg;
use p4runtime_proto::p4::v1::{action::Param, Action};

use super::names::Members;
use super::P4InfoError;
use crate::bitstring::{self, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    pub id: u32,
    pub name: String,
    pub bitwidth: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionInfo {
    pub id: u32,
    pub name: String,
    /// In P4Info order (declaration order, ids 1, 2, 3… for p4c).
    pub params: Vec<ParamInfo>,
}

impl ActionInfo {
    pub(super) fn from_p4info(a: &cfg::Action) -> Result<Self, P4InfoError> {
        let (id, name) = a
            .preamble
            .as_ref()
            .map(|p| (p.id, p.name.clone()))
            .ok_or_else(|| P4InfoError::Invalid("an action has no preamble".into()))?;
        let mut members = Members::default();
        let mut params = Vec::with_capacity(a.params.len());
        for p in &a.params {
            let bitwidth = members
                .check("parameter", p.id, &p.name, p.bitwidth)
                .map_err(|e| P4InfoError::Invalid(format!("action {name}: {e}")))?;
            params.push(ParamInfo {
                id: p.id,
                name: p.name.clone(),
                bitwidth,
            });
        }
        Ok(ActionInfo { id, name, params })
    }

    pub fn param(&self, name: &str) -> Result<&ParamInfo, P4InfoError> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| P4InfoError::UnknownParam {
                action: self.name.clone(),
                param: name.to_string(),
            })
    }

    pub fn param_by_id(&self, id: u32) -> Option<&ParamInfo> {
        self.params.iter().find(|p| p.id == id)
    }

    /// A call of this action: every parameter given exactly once, by name, each value
    /// checked against its width and sent in canonical form.
    pub fn call<'a, V: Into<Value>>(
        &self,
        args: impl IntoIterator<Item = (&'a str, V)>,
    ) -> Result<Action, P4InfoError> {
        let mut given: Vec<Option<Vec<u8>>> = vec![None; self.params.len()];
        for (name, value) in args {
            let slot = self
                .params
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| P4InfoError::UnknownParam {
                    action: self.name.clone(),
                    param: name.to_string(),
                })?;
            if given[slot].is_some() {
                return Err(P4InfoError::Duplicate {
                    owner: self.name.clone(),
                    name: name.to_string(),
                });
            }
            let bytes =
                bitstring::encode(&value.into(), self.params[slot].bitwidth).map_err(|source| {
                    P4InfoError::Value {
                        owner: self.name.clone(),
                        field: name.to_string(),
                        source,
                    }
                })?;
            given[slot] = Some(bytes);
        }
        let mut params = Vec::with_capacity(self.params.len());
        for (info, value) in self.params.iter().zip(given) {
            let value = value.ok_or_else(|| P4InfoError::Missing {
                owner: self.name.clone(),
                name: info.name.clone(),
            })?;
            params.push(Param {
                param_id: info.id,
                value,
            });
        }
        Ok(Action {
            action_id: self.id,
            params,
        })
    }
}
