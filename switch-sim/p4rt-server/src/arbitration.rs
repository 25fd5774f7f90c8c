//! Primary/backup election per (device, role), as a plain state machine: the
//! stream with the highest election id of a role is its primary. The server
//! feeds it stream arrivals, updates and departures and sends the notices it
//! returns; nothing here does I/O.
//!
//! Notices follow the specification (and bmv2): when the primary of a role
//! changes, every stream of that role is told (OK to the primary,
//! ALREADY_EXISTS to backups, both carrying the primary's election id);
//! otherwise only the stream that sent the update gets an answer.

use std::collections::BTreeMap;

pub type StreamId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    device_id: u64,
    role: String,
    election_id: u128,
}

/// What one stream must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub stream: StreamId,
    pub device_id: u64,
    pub role: String,
    /// The primary's election id.
    pub primary_election_id: u128,
    /// True for the primary (status OK), false for a backup (ALREADY_EXISTS).
    pub is_primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArbitrationError {
    #[error("election id {0} is already used by another controller of role `{1}`")]
    ElectionIdInUse(u128, String),
    #[error("a stream cannot change its device id or role (was device {0}, role `{1}`)")]
    Rebind(u64, String),
}

#[derive(Debug, Default)]
pub struct Arbiter {
    members: BTreeMap<StreamId, Member>,
}

impl Arbiter {
    /// The primary of `role`: (stream, election id).
    pub fn primary(&self, device_id: u64, role: &str) -> Option<(StreamId, u128)> {
        self.members
            .iter()
            .filter(|(_, m)| m.device_id == device_id && m.role == role)
            .max_by_key(|(_, m)| m.election_id)
            .map(|(s, m)| (*s, m.election_id))
    }

    /// Whether a Write/SetForwardingPipelineConfig with this election id
    /// comes from the primary of `role`.
    pub fn is_primary(&self, device_id: u64, role: &str, election_id: u128) -> bool {
        self.primary(device_id, role).is_some_and(|(_, e)| e == election_id)
    }

    /// Whether the stream has sent an arbitration update.
    pub fn is_member(&self, stream: StreamId) -> bool {
        self.members.contains_key(&stream)
    }

    pub fn stream_is_primary(&self, stream: StreamId) -> bool {
        match self.members.get(&stream) {
            Some(m) => self.primary(m.device_id, &m.role).is_some_and(|(s, _)| s == stream),
            None => false,
        }
    }

    fn notices(&self, device_id: u64, role: &str, only: Option<StreamId>) -> Vec<Notice> {
        let Some((pstream, pid)) = self.primary(device_id, role) else { return Vec::new() };
        self.members
            .iter()
            .filter(|(s, m)| m.device_id == device_id && m.role == role && only.is_none_or(|o| o == **s))
            .map(|(s, _)| Notice {
                stream: *s,
                device_id,
                role: role.to_string(),
                primary_election_id: pid,
                is_primary: *s == pstream,
            })
            .collect()
    }

    /// A MasterArbitrationUpdate from `stream`.
    pub fn update(&mut self, stream: StreamId, device_id: u64, role: &str, election_id: u128) -> Result<Vec<Notice>, ArbitrationError> {
        if let Some(m) = self.members.get(&stream) {
            if m.device_id != device_id || m.role != role {
                return Err(ArbitrationError::Rebind(m.device_id, m.role.clone()));
            }
        }
        let clash = self
            .members
            .iter()
            .any(|(s, m)| *s != stream && m.device_id == device_id && m.role == role && m.election_id == election_id);
        if clash {
            return Err(ArbitrationError::ElectionIdInUse(election_id, role.to_string()));
        }
        let before = self.primary(device_id, role);
        self.members.insert(stream, Member { device_id, role: role.to_string(), election_id });
        let after = self.primary(device_id, role);
        let changed = before.map(|p| p.0) != after.map(|p| p.0);
        Ok(self.notices(device_id, role, if changed { None } else { Some(stream) }))
    }

    /// The stream ended; if it was a primary, the role's streams learn the new one.
    pub fn remove(&mut self, stream: StreamId) -> Vec<Notice> {
        let Some(m) = self.members.get(&stream).cloned() else { return Vec::new() };
        let before = self.primary(m.device_id, &m.role);
        self.members.remove(&stream);
        let after = self.primary(m.device_id, &m.role);
        if before.map(|p| p.0) != after.map(|p| p.0) {
            self.notices(m.device_id, &m.role, None)
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_election_id_is_primary_and_everyone_learns_changes() {
        let mut a = Arbiter::default();
        let n = a.update(1, 1, "", 10).unwrap();
        assert_eq!(n, vec![Notice { stream: 1, device_id: 1, role: "".into(), primary_election_id: 10, is_primary: true }]);
        // A lower id joins: only it hears back, as a backup.
        let n = a.update(2, 1, "", 5).unwrap();
        assert_eq!(n.len(), 1);
        assert!(!n[0].is_primary);
        assert_eq!(n[0].primary_election_id, 10);
        // A higher id takes over: both are told.
        let n = a.update(3, 1, "", 20).unwrap();
        assert_eq!(n.len(), 3);
        assert!(n.iter().all(|x| x.primary_election_id == 20));
        assert!(n.iter().find(|x| x.stream == 3).unwrap().is_primary);
        assert!(!a.is_primary(1, "", 10));
        assert!(a.is_primary(1, "", 20));
        // The primary leaves: 1 (id 10) becomes primary again.
        let n = a.remove(3);
        assert_eq!(n.len(), 2);
        assert!(n.iter().find(|x| x.stream == 1).unwrap().is_primary);
        // A backup leaving changes nothing.
        assert!(a.remove(2).is_empty());
    }

    #[test]
    fn duplicate_election_id_and_rebinding_are_refused() {
        let mut a = Arbiter::default();
        a.update(1, 1, "", 7).unwrap();
        assert!(matches!(a.update(2, 1, "", 7), Err(ArbitrationError::ElectionIdInUse(7, _))));
        assert!(matches!(a.update(1, 2, "", 8), Err(ArbitrationError::Rebind(1, _))));
        // Roles are independent.
        assert!(a.update(3, 1, "other", 7).unwrap()[0].is_primary);
    }
}
