//! From the switch's tables as last read or written, and who is live, to
//! the writes that bring the tables there, sans I/O. Order matters to the
//! packets in flight: when front-ends are live the slots are written
//! before `frontend_count` (a count naming slots not yet written would send
//! flows to `no_frontend` drops); when none is, only the count (0) is.

use super::slots::{assign, FrontendId, SlotOwners};

/// The two tables as the watcher believes the switch holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchView {
    pub owners: SlotOwners,
    /// Slots that have an entry (a MODIFY changes it, else INSERT).
    pub installed: Vec<bool>,
    /// `frontend_count`'s value; None until written or read.
    pub count: Option<u16>,
}

impl SwitchView {
    pub fn empty(slots: usize) -> Self {
        SwitchView { owners: vec![None; slots], installed: vec![false; slots], count: None }
    }
}

/// One slot's new owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWrite {
    pub slot: u16,
    pub owner: FrontendId,
    /// INSERT (no entry yet) rather than MODIFY.
    pub insert: bool,
}

/// The writes, in order: `slots` first (one Write), then `count`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub slots: Vec<SlotWrite>,
    pub count: Option<u16>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.count.is_none()
    }
}

pub fn plan(view: &SwitchView, live: &[bool]) -> Plan {
    if !live.iter().any(|&l| l) {
        return Plan { slots: Vec::new(), count: (view.count != Some(0)).then_some(0) };
    }
    let owners = assign(&view.owners, live);
    let slots = owners
        .iter()
        .enumerate()
        .filter(|&(s, o)| *o != view.owners[s] || !view.installed[s])
        .map(|(s, o)| SlotWrite { slot: s as u16, owner: o.expect("every slot has a live owner"), insert: !view.installed[s] })
        .collect();
    let n = owners.len() as u16;
    Plan { slots, count: (view.count != Some(n)).then_some(n) }
}

/// The view once `p` is written.
pub fn applied(view: &SwitchView, p: &Plan) -> SwitchView {
    let mut v = view.clone();
    for w in &p.slots {
        v.owners[usize::from(w.slot)] = Some(w.owner);
        v.installed[usize::from(w.slot)] = true;
    }
    if let Some(c) = p.count {
        v.count = Some(c);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_fail_return() {
        let v = SwitchView::empty(8);
        // The testbed's operator entries: slot 0 to front-end 0, count 1.
        let v = SwitchView { owners: { let mut o = v.owners; o[0] = Some(0); o }, installed: { let mut i = v.installed; i[0] = true; i }, count: Some(1) };
        let p = plan(&v, &[true]);
        assert_eq!(p.slots.len(), 7, "slot 0 is already right");
        assert!(p.slots.iter().all(|w| w.insert && w.owner == 0));
        assert_eq!(p.count, Some(8));
        let v = applied(&v, &p);
        assert!(plan(&v, &[true]).is_empty(), "nothing to do twice");
        // The only front-end dies: the count goes to 0, the slots stay.
        let p = plan(&v, &[false]);
        assert_eq!(p, Plan { slots: vec![], count: Some(0) });
        let v = applied(&v, &p);
        assert!(plan(&v, &[false]).is_empty());
        // It is back: only the count is written.
        assert_eq!(plan(&v, &[true]), Plan { slots: vec![], count: Some(8) });
    }

    #[test]
    fn a_second_front_end_takes_half_by_modify() {
        let v = applied(&SwitchView::empty(8), &plan(&SwitchView::empty(8), &[true, false]));
        let p = plan(&v, &[true, true]);
        assert_eq!(p.slots.len(), 4);
        assert!(p.slots.iter().all(|w| !w.insert && w.owner == 1));
        assert_eq!(p.count, None, "the count does not change");
    }
}
