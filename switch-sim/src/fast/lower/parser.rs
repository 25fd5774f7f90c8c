//! The parser: states as blocks, `select` as compares, the step bound,
//! a pending error checked after each statement that can raise one.

use super::*;

impl Lower<'_, '_> {
    pub(super) fn parser(&mut self) {
        let prog = self.prog;
        let steps = self.b.declare_var(I64);
        let rv = self.b.declare_var(I64);
        let zero = self.k(0);
        self.b.def_var(steps, zero);
        let ret = self.b.create_block();
        let states: Vec<Block> = prog.states.iter().map(|_| self.b.create_block()).collect();
        let accept = self.b.create_block();
        let timeout = self.b.create_block();
        let no_match = self.b.create_block();
        match states.first() {
            Some(s) => self.b.ins().jump(*s, &[]),
            None => self.b.ins().jump(accept, &[]),
        };
        let target = |t: &Target| match t {
            Target::Accept | Target::Reject => accept,
            Target::State(s) => states[*s],
        };
        for (i, def) in prog.states.iter().enumerate() {
            self.b.switch_to_block(states[i]);
            let n = self.b.use_var(steps);
            let over = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, n, MAX_PARSER_STEPS as i64);
            let body = self.b.create_block();
            self.b.ins().brif(over, timeout, &[], body, &[]);
            self.b.switch_to_block(body);
            let n = self.b.ins().iadd_imm_s(n, 1);
            self.b.def_var(steps, n);
            for s in &def.body {
                match s {
                    St::Extract(h) if Self::extractable(h) => self.extract(h),
                    St::ExtractNext(sr) if Self::extractable(&sr.first) && sr.siblings.is_empty() => self.extract_next(sr),
                    _ => {
                        // return/exit in a parser state: the interpreter
                        // goes on with the next statement.
                        let next = self.b.create_block();
                        if !self.stmt(s, Targets { ret: next, exit: next }) {
                            self.b.ins().jump(next, &[]);
                        }
                        self.b.switch_to_block(next);
                    }
                }
                if !never_pends(s) {
                    self.return_if_pending(rv, ret);
                }
            }
            match &def.trans {
                Trans::Go(t) => {
                    self.b.ins().jump(target(t), &[]);
                }
                Trans::Select(keys, cases) => {
                    let vals: Vec<Value> = keys.iter().take(8).map(|k| self.ev(k)).collect();
                    if keys.iter().any(has_look) {
                        self.return_if_pending(rv, ret);
                    }
                    for (ks, t) in cases {
                        let next = self.b.create_block();
                        let mut all = None;
                        for (j, km) in ks.iter().enumerate().take(8) {
                            let v = match vals.get(j) {
                                Some(v) => *v,
                                None => self.k(0),
                            };
                            let c = match km {
                                KeyMatch::Any => continue,
                                KeyMatch::Mask(x, m) => {
                                    let vm = self.b.ins().band_imm_s(v, *m as i64);
                                    self.b.ins().icmp_imm_s(IntCC::Equal, vm, (x & m) as i64)
                                }
                                KeyMatch::Range(lo, hi) => {
                                    let a = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, v, *lo as i64);
                                    let b = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThanOrEqual, v, *hi as i64);
                                    self.b.ins().band(a, b)
                                }
                            };
                            all = Some(match all {
                                None => c,
                                Some(a) => self.b.ins().band(a, c),
                            });
                        }
                        match all {
                            None => {
                                self.b.ins().jump(target(t), &[]);
                            }
                            Some(c) => {
                                self.b.ins().brif(c, target(t), &[], next, &[]);
                            }
                        }
                        self.b.switch_to_block(next);
                    }
                    self.b.ins().jump(no_match, &[]);
                }
            }
        }
        for (blk, code) in [(accept, 0), (timeout, self.err("ParserTimeout")), (no_match, self.err("NoMatch"))] {
            self.b.switch_to_block(blk);
            let v = self.k(code);
            self.b.def_var(rv, v);
            self.b.ins().jump(ret, &[]);
        }
        self.b.switch_to_block(ret);
        let v = self.b.use_var(rv);
        self.b.ins().return_(&[v]);
    }

    pub(super) fn return_if_pending(&mut self, rv: cranelift_frontend::Variable, ret: Block) {
        let (p, off) = self.pkt_field(offset_of!(Packet, pending));
        let pend = self.b.ins().load(I64, MemFlagsData::trusted(), p, off);
        let (out, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(pend, out, &[], cont, &[]);
        self.b.switch_to_block(out);
        self.b.def_var(rv, pend);
        self.b.ins().jump(ret, &[]);
        self.b.switch_to_block(cont);
    }
}
