//! Which front-end owns each slot of the switch's `frontend_port` table,
//! sans I/O. The switch sends a flow to slot `crc32(client ip, port) %
//! slots` (docs/P4.md), so a slot that changes owner moves every flow
//! hashed to it. The assignment therefore changes as little as the set of
//! live front-ends forces, and keeps the slots balanced:
//!
//! * a slot whose owner is live keeps it;
//! * each orphan slot (owner gone, or never assigned) goes to the live
//!   front-end that owns the fewest slots (ties: the first configured);
//! * then, while one front-end owns two slots more than another, the most
//!   loaded gives its highest slot to the least loaded.
//!
//! When one of N front-ends leaves, only its slots move (1/N of the flows,
//! the least any scheme can move); when one joins, it takes `slots / (N+1)`
//! slots from the others, again the least. The table is not a function of
//! the live set alone (Maglev's is): it depends on history, which is why
//! the watcher starts from the slots the switch holds.

/// Index of a front-end in the watcher's list.
pub type FrontendId = usize;

/// The owner of each slot (`None`: unassigned).
pub type SlotOwners = Vec<Option<FrontendId>>;

/// The assignment for `live` (indexed by `FrontendId`) starting from
/// `current`. With no live front-end the slots are kept as they are: the
/// switch refuses new connections then (`frontend_count` 0), and the
/// front-ends that come back find their old slots.
pub fn assign(current: &[Option<FrontendId>], live: &[bool]) -> SlotOwners {
    let is_live = |f: &Option<FrontendId>| f.is_some_and(|f| live.get(f).copied().unwrap_or(false));
    if !live.iter().any(|&l| l) {
        return current.to_vec();
    }
    let mut owners: SlotOwners = current.iter().map(|f| if is_live(f) { *f } else { None }).collect();
    let mut load = vec![0usize; live.len()];
    for f in owners.iter().flatten() {
        load[*f] += 1;
    }
    let least = |load: &[usize]| (0..live.len()).filter(|&f| live[f]).min_by_key(|&f| (load[f], f)).expect("one is live");
    for slot in owners.iter_mut().filter(|s| s.is_none()) {
        let f = least(&load);
        *slot = Some(f);
        load[f] += 1;
    }
    loop {
        let lo = least(&load);
        let hi = (0..live.len()).filter(|&f| live[f]).max_by_key(|&f| (load[f], std::cmp::Reverse(f))).expect("one is live");
        if load[hi] <= load[lo] + 1 {
            return owners;
        }
        let slot = owners.iter().rposition(|&o| o == Some(hi)).expect("hi owns a slot");
        owners[slot] = Some(lo);
        load[hi] -= 1;
        load[lo] += 1;
    }
}

/// The share of slots (so of flows, hashing being uniform) whose owner
/// differs between two assignments.
pub fn moved_share(a: &[Option<FrontendId>], b: &[Option<FrontendId>]) -> f64 {
    let moved = a.iter().zip(b).filter(|(x, y)| x != y).count();
    moved as f64 / a.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(o: &[Option<FrontendId>], n: usize) -> Vec<usize> {
        (0..n).map(|f| o.iter().filter(|&&x| x == Some(f)).count()).collect()
    }

    #[test]
    fn a_fresh_table_is_balanced() {
        let o = assign(&vec![None; 64], &[true, true, true]);
        assert_eq!(loads(&o, 3), vec![22, 21, 21]);
        assert!(o.iter().all(Option::is_some));
        // The same inputs give the same table.
        assert_eq!(o, assign(&vec![None; 64], &[true, true, true]));
    }

    #[test]
    fn nobody_live_keeps_the_slots() {
        let o = assign(&vec![None; 64], &[true, true]);
        assert_eq!(assign(&o, &[false, false]), o);
    }

    #[test]
    fn a_leaver_moves_only_its_slots_and_a_joiner_only_its_share() {
        for n in 2..=8usize {
            let all = vec![true; n];
            let full = assign(&vec![None; 64], &all);
            let mut some = all.clone();
            some[n - 1] = false;
            let less = assign(&full, &some);
            for (s, (a, b)) in full.iter().zip(&less).enumerate() {
                if *a != Some(n - 1) {
                    assert_eq!(a, b, "n={n}: slot {s} of a live front-end moved");
                }
            }
            let l = loads(&less, n);
            let live: Vec<usize> = l[..n - 1].to_vec();
            assert!(live.iter().max().unwrap() - live.iter().min().unwrap() <= 1, "n={n}: {l:?}");
            // Back again: it takes a fair share, from the others only.
            let back = assign(&less, &all);
            let lb = loads(&back, n);
            assert!(lb.iter().max().unwrap() - lb.iter().min().unwrap() <= 1, "n={n}: {lb:?}");
            for (a, b) in less.iter().zip(&back) {
                assert!(a == b || *b == Some(n - 1), "n={n}: a slot moved between two staying front-ends");
            }
            let (out, back_in) = (moved_share(&full, &less), moved_share(&less, &back));
            let ideal = 1.0 / n as f64;
            // 64 slots: shares are multiples of 1/64.
            assert!((out - ideal).abs() <= 1.0 / 64.0 + 1e-9, "n={n}: {out} moved out, ideal {ideal}");
            assert!((back_in - ideal).abs() <= 1.0 / 64.0 + 1e-9, "n={n}: {back_in} moved back, ideal {ideal}");
            println!("n={n}: one leaves: {:.1}% of flows move (ideal {:.1}%), it returns: {:.1}%", out * 100.0, ideal * 100.0, back_in * 100.0);
        }
    }

    #[test]
    fn a_front_end_that_is_not_configured_any_more_loses_its_slots() {
        // Slots owned by id 5 (a front-end since removed from the list).
        let cur = vec![Some(5); 8];
        let o = assign(&cur, &[true, true]);
        assert_eq!(loads(&o, 2), vec![4, 4]);
    }
}
