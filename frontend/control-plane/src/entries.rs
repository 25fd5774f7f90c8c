//! Which connection entries the switch holds, as far as this control task
//! knows, and what to write for each offload request (plain state, no I/O).
//!
//! An Install for a key with an entry is a MODIFY (request mode moves the
//! entry to the new backend); otherwise an INSERT. The switch may know
//! better (entries left by a previous run of the front-end, or one its idle
//! timeout removed): INSERT answered ALREADY_EXISTS is retried once as
//! MODIFY, MODIFY answered NOT_FOUND once as INSERT — but only while the
//! operation is still the latest for its key, so a retry never overtakes a
//! later DELETE. Every operation gets a tag; the latest tag of a key is its
//! "epoch", which the teardown schedule uses to recognise a reused key.

use std::collections::HashMap;

use switchyard_control::client::Code;
use switchyard_frontend::config::OffloadMode;
use switchyard_frontend::offload::RefusedReason;
use switchyard_wire::flow::{BackendIndex, ConnKey, VipId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Insert,
    Modify,
    Delete,
    /// A DELETE the engine waits for (request-mode hand-over): answered
    /// with `OffloadEvent::Detached` whatever the outcome.
    Detach,
}

/// One write for the switch's connection table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub tag: u64,
    pub kind: OpKind,
    pub key: ConnKey,
    pub backend: BackendIndex,
    pub mode: OffloadMode,
    /// Already the second attempt (no further retry).
    pub retried: bool,
}

/// What a completion means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Installed,
    Refused(RefusedReason),
    /// Write this instead (the switch's view differed from ours).
    Retry(Op),
    Deleted,
    /// A DELETE failed: the entry's idle timeout removes it later.
    DeleteFailed,
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    last_tag: u64,
    /// The backend the latest write names (what a drain waits on).
    backend: BackendIndex,
}

#[derive(Debug)]
pub struct ConnEntries {
    tracked: HashMap<ConnKey, Tracked>,
    /// Tracked keys per backend (index = `BackendIndex`), kept with
    /// `tracked`, so a drain's remaining entries cost no scan.
    per_backend: Vec<u64>,
    capacity: usize,
    next_tag: u64,
}

/// The message real bmv2 (behavioral-model 1.15.5, PI's P4Runtime server)
/// answers an INSERT into a full table with, under code UNKNOWN (its log
/// says TABLE_FULL); the P4Runtime specification asks for
/// RESOURCE_EXHAUSTED, which switch-sim sends.
pub const BMV2_TABLE_FULL_MESSAGE: &str = "Error when adding match entry to target";

/// A write's status as this module judges it: bmv2's table-full answer
/// (UNKNOWN with [`BMV2_TABLE_FULL_MESSAGE`]) becomes RESOURCE_EXHAUSTED,
/// everything else is kept. The control task passes every completion
/// through this before [`ConnEntries::complete`].
pub fn switch_code(code: Code, message: &str) -> Code {
    if code == Code::Unknown && message.contains(BMV2_TABLE_FULL_MESSAGE) {
        Code::ResourceExhausted
    } else {
        code
    }
}

/// Completion codes meaning the switch could not be written at all.
fn unreachable(code: Code) -> bool {
    matches!(code, Code::Unavailable | Code::PermissionDenied | Code::DeadlineExceeded | Code::Cancelled | Code::FailedPrecondition)
}

impl ConnEntries {
    /// `capacity`: the most keys tracked (the switch table's size is the
    /// natural bound: beyond it the switch refuses anyway).
    pub fn new(capacity: usize) -> Self {
        ConnEntries { tracked: HashMap::new(), per_backend: Vec::new(), capacity: capacity.max(1), next_tag: 1 }
    }

    pub fn len(&self) -> usize {
        self.tracked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }

    fn tag(&mut self) -> u64 {
        let t = self.next_tag;
        self.next_tag += 1;
        t
    }

    /// The latest operation's tag for `key`, None when we know of no entry.
    pub fn epoch(&self, key: &ConnKey) -> Option<u64> {
        self.tracked.get(key).map(|t| t.last_tag)
    }

    /// The write for an Install; Err when more keys than `capacity` would
    /// be tracked (the switch table cannot hold them either).
    pub fn install(&mut self, key: ConnKey, backend: BackendIndex, mode: OffloadMode) -> Result<Op, RefusedReason> {
        let known = self.tracked.contains_key(&key);
        if !known && self.tracked.len() >= self.capacity {
            return Err(RefusedReason::TableFull);
        }
        let tag = self.tag();
        self.track(key, Tracked { last_tag: tag, backend });
        let kind = if known { OpKind::Modify } else { OpKind::Insert };
        Ok(Op { tag, kind, key, backend, mode, retried: false })
    }

    /// The write for a Delete (from the engine, a teardown or an idle
    /// timeout); the key is forgotten at once.
    pub fn delete(&mut self, key: ConnKey) -> Op {
        self.untrack(&key);
        Op { tag: self.tag(), kind: OpKind::Delete, key, backend: 0, mode: OffloadMode::Connection, retried: false }
    }

    /// The write for a Detach: a Delete whose completion the engine hears
    /// (the next Install for the key is an INSERT).
    pub fn detach(&mut self, key: ConnKey) -> Op {
        Op { kind: OpKind::Detach, ..self.delete(key) }
    }

    fn is_latest(&self, op: &Op) -> bool {
        self.epoch(&op.key) == Some(op.tag)
    }

    /// The switch answered `code` for `op`.
    pub fn complete(&mut self, op: &Op, code: Code) -> Outcome {
        if matches!(op.kind, OpKind::Delete | OpKind::Detach) {
            return match code {
                Code::Ok | Code::NotFound => Outcome::Deleted,
                _ => Outcome::DeleteFailed,
            };
        }
        let latest = self.is_latest(op);
        let retry = |me: &mut Self, kind| {
            let tag = me.tag();
            me.track(op.key, Tracked { last_tag: tag, backend: op.backend });
            Outcome::Retry(Op { tag, kind, retried: true, ..*op })
        };
        let refuse = |me: &mut Self, reason| {
            if latest {
                me.untrack(&op.key);
            }
            Outcome::Refused(reason)
        };
        match code {
            Code::Ok => Outcome::Installed,
            Code::AlreadyExists if op.kind == OpKind::Insert && latest && !op.retried => retry(self, OpKind::Modify),
            Code::NotFound if op.kind == OpKind::Modify && latest && !op.retried => retry(self, OpKind::Insert),
            Code::ResourceExhausted => refuse(self, RefusedReason::TableFull),
            c if unreachable(c) => refuse(self, RefusedReason::SwitchUnreachable),
            _ => refuse(self, RefusedReason::Failed),
        }
    }

    fn track(&mut self, key: ConnKey, t: Tracked) {
        if let Some(old) = self.tracked.insert(key, t) {
            self.per_backend[usize::from(old.backend)] -= 1;
        }
        let b = usize::from(t.backend);
        if self.per_backend.len() <= b {
            self.per_backend.resize(b + 1, 0);
        }
        self.per_backend[b] += 1;
    }

    fn untrack(&mut self, key: &ConnKey) {
        if let Some(old) = self.tracked.remove(key) {
            self.per_backend[usize::from(old.backend)] -= 1;
        }
    }

    /// Tracked entries per backend (index = `BackendIndex`, `backends`
    /// long): the offloaded flows a drained backend still carries.
    pub fn per_backend(&self, backends: usize) -> Vec<u64> {
        (0..backends).map(|b| self.per_backend.get(b).copied().unwrap_or(0)).collect()
    }

    /// Tracked entries of one service (its VIP id): the offloaded flows a
    /// removed service still carries. A scan: asked once a second while a
    /// service drains.
    pub fn of_vip(&self, vip: VipId) -> u64 {
        self.tracked.keys().filter(|k| k.vip_id == vip).count() as u64
    }

    /// The switch lost its state (a new pipeline, a restart): nothing is
    /// known any more.
    pub fn forget_all(&mut self) {
        self.tracked.clear();
        self.per_backend.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: u16) -> ConnKey {
        ConnKey { client_ip: [198, 18, 0, 2].into(), client_port: p, vip_id: 0 }
    }

    #[test]
    fn insert_then_move_then_delete() {
        let mut e = ConnEntries::new(8);
        let a = e.install(key(1), 3, OffloadMode::Request).unwrap();
        assert_eq!(a.kind, OpKind::Insert);
        assert_eq!(e.complete(&a, Code::Ok), Outcome::Installed);
        let b = e.install(key(1), 4, OffloadMode::Request).unwrap();
        assert_eq!(b.kind, OpKind::Modify, "a known key moves");
        assert_eq!(e.epoch(&key(1)), Some(b.tag));
        let d = e.delete(key(1));
        assert_eq!(d.kind, OpKind::Delete);
        assert_eq!(e.epoch(&key(1)), None);
        assert_eq!(e.complete(&d, Code::NotFound), Outcome::Deleted, "already gone is fine");
    }

    #[test]
    fn entries_are_counted_per_backend() {
        let mut e = ConnEntries::new(8);
        e.install(key(1), 0, OffloadMode::Connection).unwrap();
        e.install(key(2), 2, OffloadMode::Connection).unwrap();
        e.install(key(3), 2, OffloadMode::Request).unwrap();
        e.install(key(3), 0, OffloadMode::Request).unwrap();
        assert_eq!(e.per_backend(3), vec![2, 0, 1], "a moved entry counts for its new backend");
        e.delete(key(1));
        assert_eq!(e.per_backend(3), vec![1, 0, 1]);
        // A refusal forgets the key; a retry keeps it on its backend.
        let a = e.install(key(4), 1, OffloadMode::Connection).unwrap();
        assert_eq!(e.complete(&a, Code::ResourceExhausted), Outcome::Refused(RefusedReason::TableFull));
        let a = e.install(key(5), 1, OffloadMode::Connection).unwrap();
        assert!(matches!(e.complete(&a, Code::AlreadyExists), Outcome::Retry(_)));
        assert_eq!(e.per_backend(3), vec![1, 1, 1]);
        e.forget_all();
        assert_eq!(e.per_backend(2), vec![0, 0]);
    }

    #[test]
    fn detach_forgets_the_key_so_the_next_install_inserts() {
        let mut e = ConnEntries::new(8);
        let a = e.install(key(1), 3, OffloadMode::Request).unwrap();
        e.complete(&a, Code::Ok);
        let d = e.detach(key(1));
        assert_eq!((d.kind, d.key), (OpKind::Detach, key(1)));
        assert_eq!(e.epoch(&key(1)), None);
        assert_eq!(e.complete(&d, Code::Ok), Outcome::Deleted);
        assert_eq!(e.complete(&d, Code::Unavailable), Outcome::DeleteFailed);
        assert_eq!(e.install(key(1), 4, OffloadMode::Request).unwrap().kind, OpKind::Insert);
    }

    #[test]
    fn the_switch_knows_better_once() {
        let mut e = ConnEntries::new(8);
        let a = e.install(key(1), 3, OffloadMode::Connection).unwrap();
        let Outcome::Retry(m) = e.complete(&a, Code::AlreadyExists) else { panic!("retry as modify") };
        assert_eq!((m.kind, m.retried, m.backend), (OpKind::Modify, true, 3));
        assert_eq!(e.complete(&m, Code::NotFound), Outcome::Refused(RefusedReason::Failed), "no second retry");
        assert_eq!(e.epoch(&key(1)), None);

        let a = e.install(key(2), 3, OffloadMode::Connection).unwrap();
        e.complete(&a, Code::Ok);
        let b = e.install(key(2), 5, OffloadMode::Connection).unwrap();
        let Outcome::Retry(i) = e.complete(&b, Code::NotFound) else { panic!("retry as insert") };
        assert_eq!(i.kind, OpKind::Insert);
    }

    #[test]
    fn a_retry_never_overtakes_a_later_delete() {
        let mut e = ConnEntries::new(8);
        let a = e.install(key(1), 3, OffloadMode::Connection).unwrap();
        let _d = e.delete(key(1));
        assert_eq!(e.complete(&a, Code::AlreadyExists), Outcome::Refused(RefusedReason::Failed));
        assert_eq!(e.epoch(&key(1)), None);
    }

    #[test]
    fn refusals_by_code_and_capacity() {
        let mut e = ConnEntries::new(2);
        let a = e.install(key(1), 1, OffloadMode::Connection).unwrap();
        assert_eq!(e.complete(&a, Code::ResourceExhausted), Outcome::Refused(RefusedReason::TableFull));
        // Real bmv2's answer to an INSERT into a full table (UNKNOWN, PI's
        // message) is table-full too; another UNKNOWN is a plain failure.
        let a = e.install(key(1), 0, OffloadMode::Connection).unwrap();
        let bmv2 = switch_code(Code::Unknown, "Error when adding match entry to target");
        assert_eq!(e.complete(&a, bmv2), Outcome::Refused(RefusedReason::TableFull));
        let a = e.install(key(1), 0, OffloadMode::Connection).unwrap();
        assert_eq!(e.complete(&a, switch_code(Code::Unknown, "something else")), Outcome::Refused(RefusedReason::Failed));
        assert_eq!(switch_code(Code::InvalidArgument, BMV2_TABLE_FULL_MESSAGE), Code::InvalidArgument);
        let a = e.install(key(1), 1, OffloadMode::Connection).unwrap();
        assert_eq!(e.complete(&a, Code::Unavailable), Outcome::Refused(RefusedReason::SwitchUnreachable));
        let a = e.install(key(1), 1, OffloadMode::Connection).unwrap();
        assert_eq!(e.complete(&a, Code::PermissionDenied), Outcome::Refused(RefusedReason::SwitchUnreachable), "not primary");
        let a = e.install(key(1), 1, OffloadMode::Connection).unwrap();
        assert_eq!(e.complete(&a, Code::InvalidArgument), Outcome::Refused(RefusedReason::Failed));
        assert!(e.is_empty());
        e.install(key(1), 1, OffloadMode::Connection).unwrap();
        e.install(key(2), 1, OffloadMode::Connection).unwrap();
        assert_eq!(e.install(key(3), 1, OffloadMode::Connection), Err(RefusedReason::TableFull));
        assert!(e.install(key(2), 2, OffloadMode::Connection).is_ok(), "a known key still moves at capacity");
    }
}
