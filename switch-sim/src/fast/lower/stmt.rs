//! Statements: assignments, control flow, actions inlined at calls and
//! in each table's dispatch, counters, checksums and hashes, and the
//! statements handed to the interpreter's code.

use super::*;

impl Lower<'_, '_> {
    pub(super) fn block(&mut self, sts: &[St], t: Targets) {
        for s in sts {
            if self.stmt(s, t) {
                // The rest is unreachable; keep an open (dead) block for
                // whatever the caller emits next.
                let dead = self.b.create_block();
                self.b.switch_to_block(dead);
                return;
            }
        }
    }

    /// Lowers one statement; true when it always jumps away.
    pub(super) fn stmt(&mut self, s: &St, t: Targets) -> bool {
        match s {
            St::Set(d, e) if !look_guarded(e) => {
                let v = self.pure(e);
                let v = self.unless_pending(e, *d, v);
                self.store(*d, v);
            }
            St::Mov(d, src) => {
                let v = self.load(*src);
                self.store(*d, v);
            }
            St::SetK(d, k) => {
                let v = self.k(*k);
                self.store(*d, v);
            }
            St::SetSlice(slot, lo, m, e) if !look_guarded(e) => {
                let v = self.pure(e);
                let v = self.and_k(v, *m);
                let old = self.load(*slot);
                let keep = self.and_k(old, !(m << lo));
                let v = self.b.ins().ishl_imm_s(v, i64::from(*lo));
                let new = self.b.ins().bor(keep, v);
                let new = self.unless_pending(e, *slot, new);
                self.store(*slot, new);
            }
            St::Copy { dst, src, n } if *n <= INLINE_COPY_SLOTS => self.copy(*dst, *src, *n),
            // A stack of unions (siblings to clear) runs the interpreter's code.
            St::PopFront(sr, n) if sr.size * sr.stride <= INLINE_STACK_SLOTS && sr.siblings.is_empty() => self.pop_front(sr, *n),
            St::PushFront(sr, n) if sr.size * sr.stride <= INLINE_STACK_SLOTS && sr.siblings.is_empty() => self.push_front(sr, *n),
            St::Clear { dst, n } if *n <= INLINE_COPY_SLOTS => {
                let z = self.k(0);
                for i in 0..*n {
                    self.store(dst + i, z);
                }
            }
            St::If(c, a, b) => {
                let c = self.ev(c);
                let (then, other, join) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
                self.b.ins().brif(c, then, &[], other, &[]);
                self.b.switch_to_block(then);
                self.block(a, t);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(other);
                self.block(b, t);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(join);
            }
            St::Block(b) => self.block(b, t),
            St::Inline(b) => {
                // `return` inside jumps here; `exit` still ends the block.
                let end = self.b.create_block();
                self.block(b, Targets { ret: end, exit: t.exit });
                self.b.ins().jump(end, &[]);
                self.b.switch_to_block(end);
            }
            St::Apply(a) => self.apply(a, t),
            St::Switch(e, arms, default) => {
                let v = self.ev(e);
                let join = self.b.create_block();
                for (vals, body) in arms {
                    let (yes, next) = (self.b.create_block(), self.b.create_block());
                    let c = self.any_eq(v, vals.iter().copied());
                    self.b.ins().brif(c, yes, &[], next, &[]);
                    self.b.switch_to_block(yes);
                    self.block(body, t);
                    self.b.ins().jump(join, &[]);
                    self.b.switch_to_block(next);
                }
                self.block(default, t);
                self.b.ins().jump(join, &[]);
                self.b.switch_to_block(join);
            }
            St::Call(c) => self.call_action(c, t),
            St::Verify(c, code) if !look_guarded(c) => {
                let c = self.pure(c);
                let (fail, cont) = (self.b.create_block(), self.b.create_block());
                self.b.ins().brif(c, cont, &[], fail, &[]);
                self.b.switch_to_block(fail);
                // The first error raised stays.
                let (p, off) = self.pkt_field(offset_of!(Packet, pending));
                let pend = self.b.ins().load(I64, MemFlagsData::trusted(), p, off);
                let none = self.b.ins().icmp_imm_s(IntCC::Equal, pend, 0);
                let code = self.k(*code);
                let v = self.b.ins().select(none, code, pend);
                self.b.ins().store(MemFlagsData::trusted(), v, p, off);
                self.b.ins().jump(cont, &[]);
                self.b.switch_to_block(cont);
            }
            St::Emit(h) => self.emit(h, 0),
            St::EmitStack(sr) => {
                for i in 0..sr.size {
                    self.emit(&sr.first, i * sr.stride);
                }
            }
            St::MarkToDrop => {
                let v = self.k(DROP_PORT);
                self.store(self.prog.std.egress_spec, v);
            }
            St::Count(c, idx) if !look_guarded(idx) => {
                let i = self.pure(idx);
                let c = self.k(*c as u64);
                self.call(helpers::count, c, i);
            }
            St::Checksum(cs) if !look_guarded(&cs.cond) && self.serializable(&cs.data) => {
                let c = self.pure(&cs.cond);
                let (yes, cont) = (self.b.create_block(), self.b.create_block());
                self.b.ins().brif(c, yes, &[], cont, &[]);
                self.b.switch_to_block(yes);
                let len = self.serialize(&cs.data);
                self.call_k(helpers::checksum, &**cs as *const ChecksumSt as u64, len);
                self.b.ins().jump(cont, &[]);
                self.b.switch_to_block(cont);
            }
            St::Hash(h) if !look_guarded(&h.base) && !look_guarded(&h.max) && self.serializable(&h.data) => {
                let len = self.serialize(&h.data);
                let hv = self.call_k(helpers::hash, helpers::algo_code(h.algo), len);
                let base = self.pure(&h.base);
                let max = self.pure(&h.max);
                // base + hash % max; max 0 yields base.
                let z = self.b.ins().icmp_imm_s(IntCC::Equal, max, 0);
                let one = self.k(1);
                let d = self.b.ins().select(z, one, max);
                let r = self.b.ins().urem(hv, d);
                let sum = self.b.ins().iadd(base, r);
                let v = self.b.ins().select(z, base, sum);
                let v = self.and_k(v, h.dst_mask);
                self.store(h.dst, v);
            }
            St::Exit => {
                self.b.ins().jump(t.exit, &[]);
                return true;
            }
            St::Return => {
                self.b.ins().jump(t.ret, &[]);
                return true;
            }
            _ => {
                // Registers, digests, stack shifts, advance, lookahead,
                // truncate, assert, extraction outside a parser state's
                // top level: the interpreter's code for this statement.
                let f = self.call_k(helpers::stmt, s as *const St as u64, 0);
                let (flow, cont) = (self.b.create_block(), self.b.create_block());
                self.b.ins().brif(f, flow, &[], cont, &[]);
                self.b.switch_to_block(flow);
                let is_exit = self.b.ins().icmp_imm_s(IntCC::Equal, f, FLOW_EXIT as i64);
                self.b.ins().brif(is_exit, t.exit, &[], t.ret, &[]);
                self.b.switch_to_block(cont);
            }
        }
        false
    }

    pub(super) fn any_eq(&mut self, v: Value, vals: impl Iterator<Item = u64>) -> Value {
        let mut acc = None;
        for k in vals {
            let c = self.b.ins().icmp_imm_s(IntCC::Equal, v, k as i64);
            acc = Some(match acc {
                None => c,
                Some(a) => self.b.ins().bor(a, c),
            });
        }
        acc.unwrap_or_else(|| self.b.ins().iconst(cranelift_codegen::ir::types::I8, 0))
    }

    /// The action body with its parameters already in their slots.
    pub(super) fn action_body(&mut self, a: usize, t: Targets) {
        let prog = self.prog;
        self.block(&prog.actions[a].body, t);
    }

    pub(super) fn call_action(&mut self, c: &CallSt, t: Targets) {
        let prog = self.prog;
        let def = &prog.actions[c.action];
        // Arguments are evaluated before any parameter is written.
        let vals: Vec<Value> = c.args.iter().take(16).map(|a| self.ev(a)).collect();
        for (pd, v) in def.params.iter().zip(vals) {
            self.store(pd.slot, v);
        }
        let (done, exited) = (self.b.create_block(), self.b.create_block());
        self.action_body(c.action, Targets { ret: done, exit: exited });
        self.b.ins().jump(done, &[]);
        // out/inout parameters are copied back also after an exit.
        self.b.switch_to_block(exited);
        self.copy_out(c);
        self.b.ins().jump(t.exit, &[]);
        self.b.switch_to_block(done);
        self.copy_out(c);
    }

    pub(super) fn copy_out(&mut self, c: &CallSt) {
        for (from, to) in &c.copy_out {
            let v = self.load(*from);
            self.store(*to, v);
        }
    }

    pub(super) fn apply(&mut self, a: &ApplySt, t: Targets) {
        let prog = self.prog;
        let def = &prog.tables[a.table];
        for (i, k) in def.keys.iter().enumerate() {
            let v = self.ev(&k.expr);
            self.ctx_store(offset_of!(Ctx, keys) + 8 * i, v);
        }
        let r = self.call_k(helpers::apply, a.table as u64, 0);
        let action = self.b.ins().band_imm_s(r, 0xffff_ffff);
        let hit = self.b.ins().ushr_imm_s(r, 32);
        let after = self.b.create_block();
        let mut acts = def.actions.clone();
        acts.push(def.default_action.0);
        acts.sort_unstable();
        acts.dedup();
        let blocks: Vec<Block> = acts.iter().map(|_| self.b.create_block()).collect();
        let other = self.b.create_block();
        let mut sw = Switch::new();
        for (a, b) in acts.iter().zip(&blocks) {
            sw.set_entry(*a as u128, *b);
        }
        sw.emit(&mut self.b, action, other);
        for (a, b) in acts.iter().zip(&blocks) {
            self.b.switch_to_block(*b);
            self.action_body(*a, Targets { ret: after, exit: t.exit });
            self.b.ins().jump(after, &[]);
        }
        self.b.switch_to_block(other);
        let f = self.call(helpers::action_body, action, action);
        let is_exit = self.b.ins().icmp_imm_s(IntCC::Equal, f, FLOW_EXIT as i64);
        self.b.ins().brif(is_exit, t.exit, &[], after, &[]);
        self.b.switch_to_block(after);

        // hit / miss bodies, else the action_run switch (as exec does).
        let (on_hit, on_miss, arms, end) =
            (self.b.create_block(), self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().brif(hit, on_hit, &[], on_miss, &[]);
        for (blk, body) in [(on_hit, &a.on_hit), (on_miss, &a.on_miss)] {
            self.b.switch_to_block(blk);
            match body {
                Some(b) => {
                    self.block(b, t);
                    self.b.ins().jump(end, &[]);
                }
                None => {
                    self.b.ins().jump(arms, &[]);
                }
            }
        }
        self.b.switch_to_block(arms);
        for (acts, body) in &a.by_action {
            let (yes, next) = (self.b.create_block(), self.b.create_block());
            let c = self.any_eq(action, acts.iter().map(|a| *a as u64));
            self.b.ins().brif(c, yes, &[], next, &[]);
            self.b.switch_to_block(yes);
            self.block(body, t);
            self.b.ins().jump(end, &[]);
            self.b.switch_to_block(next);
        }
        if let Some(b) = &a.default_arm {
            self.block(b, t);
        }
        self.b.ins().jump(end, &[]);
        self.b.switch_to_block(end);
    }

    /// `v`, or the slot's old value when evaluating `e` raised a parser
    /// error (a lookahead past the end): the interpreter then stores
    /// nothing.
    fn unless_pending(&mut self, e: &Ex, slot: Slot, v: Value) -> Value {
        if !has_look(e) {
            return v;
        }
        let (p, off) = self.pkt_field(offset_of!(Packet, pending));
        let pending = self.b.ins().load(I64, MemFlagsData::trusted(), p, off);
        let old = self.load(slot);
        self.b.ins().select(pending, old, v)
    }
}
