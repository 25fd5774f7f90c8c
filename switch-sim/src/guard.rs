//! The compile-time guard: actions p4c cannot compile in reasonable time.
//!
//! p4c's midend pass `LocalCopyPropagation` substitutes, inside one action
//! body (after the actions it calls are inlined), every use of a field by
//! the expression last assigned to it. When a field is reassigned again and
//! again from fields the same action assigned before (as HalfSipHash's
//! SipRounds do with v0..v3), the substituted expressions and the pass's
//! work grow exponentially with the length of that chain. Measured on
//! `compute_cookie` with p4c 1.2.4.9 (`p4c-bm2-ss`, issue 16): 2 SipRounds
//! in one action 1 s, 4 rounds 8 s, 6 rounds over 300 s, the 16 rounds of
//! HalfSipHash-2-4 never finished (killed after 10 minutes of CPU).
//!
//! A SipRound reassigns v1 and v3 four times each (v0, v2 three times), each
//! time from values assigned before in the action. The rule: an action in
//! which one field is reassigned, from fields the action already assigned,
//! more than [`MAX_CHAINED_REASSIGNMENTS`] times (16 = four SipRounds, the
//! largest measured size that still compiled in seconds) is reported: a
//! warning at load, an error with `--strict` (`Switch::load_strict`).
//! Counting is conservative: both branches of an `if` count, as if in
//! sequence.

use std::collections::{HashMap, HashSet};

use crate::ir::{ActionDef, Ex, FieldList, Slot, St};

/// More chained reassignments of one field than this in one action (after
/// inlining) is more than p4c's copy propagation finishes in seconds.
pub const MAX_CHAINED_REASSIGNMENTS: u32 = 16;

/// The worst field of an action: (slot, chained reassignments of it).
pub fn worst_chain(body: &[St], actions: &[ActionDef]) -> Option<(Slot, u32)> {
    let mut w = Walk::default();
    w.stmts(body, actions, 0);
    w.count.into_iter().max_by_key(|&(s, n)| (n, std::cmp::Reverse(s)))
}

#[derive(Default)]
struct Walk {
    written: HashSet<Slot>,
    count: HashMap<Slot, u32>,
}

/// Inlining depth bound (actions cannot call themselves; this is a guard).
const MAX_INLINE: usize = 64;

impl Walk {
    fn assign(&mut self, dst: Slot, reads: &[Slot]) {
        if reads.iter().any(|r| self.written.contains(r)) {
            *self.count.entry(dst).or_insert(0) += 1;
        }
        self.written.insert(dst);
    }

    fn stmts(&mut self, body: &[St], actions: &[ActionDef], depth: usize) {
        for s in body {
            self.stmt(s, actions, depth);
        }
    }

    fn stmt(&mut self, s: &St, actions: &[ActionDef], depth: usize) {
        match s {
            St::Set(d, e) => self.assign(*d, &reads(e)),
            St::Mov(d, src) => self.assign(*d, &[*src]),
            St::SetK(d, _) => self.assign(*d, &[]),
            St::SetSlice(d, _, _, e) => {
                let mut r = reads(e);
                r.push(*d);
                self.assign(*d, &r);
            }
            St::Copy { dst, src, n } => {
                for k in 0..*n {
                    self.assign(dst + k, &[src + k]);
                }
            }
            St::Clear { dst, n } => {
                for k in 0..*n {
                    self.assign(dst + k, &[]);
                }
            }
            St::If(_, a, b) => {
                self.stmts(a, actions, depth);
                self.stmts(b, actions, depth);
            }
            St::Block(b) | St::Inline(b) => self.stmts(b, actions, depth),
            St::Switch(_, arms, d) => {
                for (_, b) in arms {
                    self.stmts(b, actions, depth);
                }
                self.stmts(d, actions, depth);
            }
            St::Call(c) => {
                let Some(a) = actions.get(c.action) else { return };
                if depth >= MAX_INLINE {
                    return;
                }
                // Arguments bind the callee's parameters, then its body
                // runs inline, then out parameters copy back.
                for (p, arg) in a.params.iter().zip(&c.args) {
                    self.assign(p.slot, &reads(arg));
                }
                self.stmts(&a.body, actions, depth + 1);
                for (param, caller) in &c.copy_out {
                    self.assign(*caller, &[*param]);
                }
            }
            St::Hash(h) => {
                let mut r = reads(&h.base);
                r.extend(list_reads(&h.data));
                r.extend(reads(&h.max));
                self.assign(h.dst, &r);
            }
            St::RegRead(d, ..) => self.assign(*d, &[]),
            _ => {}
        }
    }
}

fn list_reads(l: &FieldList) -> Vec<Slot> {
    let mut out = Vec::new();
    for (e, _) in l {
        collect(e, &mut out);
    }
    out
}

fn reads(e: &Ex) -> Vec<Slot> {
    let mut out = Vec::new();
    collect(e, &mut out);
    out
}

fn collect(e: &Ex, out: &mut Vec<Slot>) {
    match e {
        Ex::K(_) | Ex::Look(_) | Ex::Elem(_) | Ex::Var(_) => {}
        Ex::S(s) => out.push(*s),
        Ex::Not(a, _) | Ex::Neg(a, _) | Ex::LNot(a) | Ex::Slice(a, ..) | Ex::Mask(a, _) | Ex::SExt(a, ..) => collect(a, out),
        Ex::Bin(_, a, b, _) | Ex::Concat(a, b, _) => {
            collect(a, out);
            collect(b, out);
        }
        Ex::Cond(c, a, b) => {
            collect(c, out);
            collect(a, out);
            collect(b, out);
        }
        Ex::BinSK(_, s, _, _) => out.push(*s),
        Ex::BinSS(_, a, b, _) => {
            out.push(*a);
            out.push(*b);
        }
    }
}
