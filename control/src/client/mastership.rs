//! The client's view of arbitration, from the MasterArbitrationUpdates the
//! server sends: primary when the status is OK, backup otherwise (the
//! update carries the primary's election id). Plain state: the stream task
//! feeds it and publishes the result; `write` consults it so a backup's
//! writes are refused locally with a clear error instead of a round trip.

use p4runtime_proto::p4::v1::MasterArbitrationUpdate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mastership {
    /// No arbitration answer yet (connecting, or the stream is down).
    Unknown,
    Primary,
    /// Another controller is primary; its election id, when the server said.
    Backup { primary_election_id: Option<u128> },
}

/// What changed with an update: the new state, and whether primacy was lost
/// (the caller must stop writing and is told through an event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub now: Mastership,
    pub lost_primacy: bool,
    pub gained_primacy: bool,
}

pub fn apply(prev: Mastership, update: &MasterArbitrationUpdate) -> Transition {
    let code = update.status.as_ref().map(|s| s.code).unwrap_or(0);
    let election = update.election_id.as_ref().map(|e| (u128::from(e.high) << 64) | u128::from(e.low));
    let now = if code == 0 { Mastership::Primary } else { Mastership::Backup { primary_election_id: election } };
    Transition {
        now,
        lost_primacy: prev == Mastership::Primary && now != Mastership::Primary,
        gained_primacy: prev != Mastership::Primary && now == Mastership::Primary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p4runtime_proto::google::rpc::Status;
    use p4runtime_proto::p4::v1::Uint128;

    fn upd(code: i32, id: u64) -> MasterArbitrationUpdate {
        MasterArbitrationUpdate {
            election_id: Some(Uint128 { high: 0, low: id }),
            status: Some(Status { code, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn primary_then_preempted() {
        let t = apply(Mastership::Unknown, &upd(0, 5));
        assert_eq!(t.now, Mastership::Primary);
        assert!(t.gained_primacy && !t.lost_primacy);
        let t = apply(t.now, &upd(6, 9));
        assert_eq!(t.now, Mastership::Backup { primary_election_id: Some(9) });
        assert!(t.lost_primacy);
    }
}
