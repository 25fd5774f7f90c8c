//! Expressions: machine arithmetic with the interpreter's masks and
//! edge cases (`exec::binop`), `lookahead` inline.

use super::*;

impl Lower<'_, '_> {
    pub(super) fn ev(&mut self, e: &Ex) -> Value {
        if look_guarded(e) {
            // The interpreter's code, for the whole expression.
            return self.call_k(helpers::eval, e as *const Ex as u64, 0);
        }
        self.pure(e)
    }

    /// `lookahead<bit<w>>()`: the bits at the cursor, or 0 and
    /// PacketTooShort raised when the frame is shorter.
    pub(super) fn look(&mut self, w: u32) -> Value {
        let (p, cur_off) = self.pkt_field(offset_of!(Packet, cursor));
        let cur = self.b.ins().load(I64, MemFlagsData::trusted(), p, cur_off);
        let len = self.ctx_load(offset_of!(Ctx, data_len));
        let curb = self.b.ins().ishl_imm_s(cur, 3);
        let need = self.b.ins().iadd_imm_s(curb, i64::from(w));
        let lenb = self.b.ins().ishl_imm_s(len, 3);
        let short = self.b.ins().icmp(IntCC::UnsignedGreaterThan, need, lenb);
        let (fail, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(short, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        let code = self.k(self.err("PacketTooShort"));
        self.b.ins().store(MemFlagsData::trusted(), code, p, offset_of!(Packet, pending) as i32);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
        // The cursor never passes the end: the 8-byte load stays in the
        // frame copy's slack.
        let data = self.ctx_load(offset_of!(Ctx, data));
        let at = self.b.ins().iadd(data, cur);
        let v = self.b.ins().load(I64, unaligned(), at, 0);
        let v = self.b.ins().bswap(v);
        let v = if w < 64 { self.b.ins().ushr_imm_s(v, i64::from(64 - w)) } else { v };
        let zero = self.k(0);
        self.b.ins().select(short, zero, v)
    }

    pub(super) fn pure(&mut self, e: &Ex) -> Value {
        match e {
            Ex::K(v) => self.k(*v),
            Ex::S(s) => self.load(*s),
            Ex::Not(a, m) => {
                let x = self.pure(a);
                let n = self.b.ins().bnot(x);
                self.and_k(n, *m)
            }
            Ex::Neg(a, m) => {
                let x = self.pure(a);
                let n = self.b.ins().ineg(x);
                self.and_k(n, *m)
            }
            Ex::LNot(a) => {
                let x = self.pure(a);
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                self.bool64(c)
            }
            Ex::Bin(op, a, b, m) => {
                let x = self.pure(a);
                let y = self.pure(b);
                self.binop(*op, x, y, *m)
            }
            Ex::BinSK(op, s, k, m) => {
                let x = self.load(*s);
                let y = self.k(*k);
                self.binop(*op, x, y, *m)
            }
            Ex::BinSS(op, s, t, m) => {
                let x = self.load(*s);
                let y = self.load(*t);
                self.binop(*op, x, y, *m)
            }
            Ex::Slice(a, lo, m) => {
                let x = self.pure(a);
                let x = if *lo > 0 { self.b.ins().ushr_imm_s(x, i64::from(*lo)) } else { x };
                self.and_k(x, *m)
            }
            Ex::Concat(a, b, rw) => {
                let x = self.pure(a);
                let y = self.pure(b);
                let x = self.b.ins().ishl_imm_s(x, i64::from(*rw));
                self.b.ins().bor(x, y)
            }
            Ex::Cond(c, a, b) => {
                let c = self.pure(c);
                let x = self.pure(a);
                let y = self.pure(b);
                self.b.ins().select(c, x, y)
            }
            Ex::Mask(a, m) => {
                let x = self.pure(a);
                self.and_k(x, *m)
            }
            Ex::SExt(a, w, m) => {
                let x = self.pure(a);
                let x = self.sext(x, *w);
                self.and_k(x, *m)
            }
            Ex::Look(w) => self.look(*w),
            // The interpreter's bounds check (`ev` already sends every
            // expression holding one there).
            Ex::Elem(_) | Ex::Var(_) => self.call_k(helpers::eval, e as *const Ex as u64, 0),
        }
    }

    /// A `w`-bit two's complement pattern sign-extended to 64 bits
    /// (`exec::sext`).
    fn sext(&mut self, x: Value, w: u32) -> Value {
        if w >= 64 {
            return x;
        }
        let s = i64::from(64 - w);
        let up = self.b.ins().ishl_imm_s(x, s);
        self.b.ins().sshr_imm_s(up, s)
    }

    /// int<W> `|+|` / `|-|` (`exec::binop`'s SSatAdd / SSatSub): the
    /// 64-bit sum of the sign-extended operands, saturated on a 64-bit
    /// overflow (only possible for W = 64), then clamped to W bits.
    fn sat_signed(&mut self, add: bool, x: Value, y: Value, m: u64) -> Value {
        let w = m.count_ones();
        let (a, c) = (self.sext(x, w), self.sext(y, w));
        let s = if add { self.b.ins().iadd(a, c) } else { self.b.ins().isub(a, c) };
        // Overflow: add, both operands' signs differ from the sum's; sub,
        // the operands' signs differ and the sum's differs from a's.
        let t1 = self.b.ins().bxor(a, s);
        let t2 = if add { self.b.ins().bxor(c, s) } else { self.b.ins().bxor(a, c) };
        let t = self.b.ins().band(t1, t2);
        let ovf = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, t, 0);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, a, 0);
        let (min, max) = (self.k(i64::MIN as u64), self.k(i64::MAX as u64));
        let edge = self.b.ins().select(neg, min, max);
        let s = self.b.ins().select(ovf, edge, s);
        let lo = self.k(crate::exec::sext(1 << (w - 1), w) as u64);
        let hi = self.k(m >> 1);
        let s = self.b.ins().smin(s, hi);
        let s = self.b.ins().smax(s, lo);
        self.and_k(s, m)
    }

    /// `exec::binop` in machine instructions.
    pub(super) fn binop(&mut self, op: BinOp, x: Value, y: Value, m: u64) -> Value {
        let cmp = |l: &mut Self, cc: IntCC| {
            let c = l.b.ins().icmp(cc, x, y);
            l.bool64(c)
        };
        match op {
            BinOp::Add => {
                let r = self.b.ins().iadd(x, y);
                self.and_k(r, m)
            }
            BinOp::Sub => {
                let r = self.b.ins().isub(x, y);
                self.and_k(r, m)
            }
            BinOp::Mul => {
                let r = self.b.ins().imul(x, y);
                self.and_k(r, m)
            }
            BinOp::Div | BinOp::Mod => {
                // x / 0 and x % 0 are 0 (the interpreter's choice).
                let z = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                let one = self.k(1);
                let d = self.b.ins().select(z, one, y);
                let q = if op == BinOp::Div { self.b.ins().udiv(x, d) } else { self.b.ins().urem(x, d) };
                let zero = self.k(0);
                let r = self.b.ins().select(z, zero, q);
                self.and_k(r, m)
            }
            BinOp::Shl | BinOp::Shr => {
                let big = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, y, 64);
                let s = if op == BinOp::Shl {
                    let s = self.b.ins().ishl(x, y);
                    self.and_k(s, m)
                } else {
                    self.b.ins().ushr(x, y)
                };
                let zero = self.k(0);
                self.b.ins().select(big, zero, s)
            }
            BinOp::And => self.b.ins().band(x, y),
            BinOp::Or => self.b.ins().bor(x, y),
            BinOp::Xor => self.b.ins().bxor(x, y),
            BinOp::Eq => cmp(self, IntCC::Equal),
            BinOp::Ne => cmp(self, IntCC::NotEqual),
            BinOp::Lt => cmp(self, IntCC::UnsignedLessThan),
            BinOp::Le => cmp(self, IntCC::UnsignedLessThanOrEqual),
            BinOp::Gt => cmp(self, IntCC::UnsignedGreaterThan),
            BinOp::Ge => cmp(self, IntCC::UnsignedGreaterThanOrEqual),
            BinOp::LAnd | BinOp::LOr => {
                // Both sides are pure here (no lookahead): no short circuit needed.
                let a = self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0);
                let c = self.b.ins().icmp_imm_s(IntCC::NotEqual, y, 0);
                let r = if op == BinOp::LAnd { self.b.ins().band(a, c) } else { self.b.ins().bor(a, c) };
                self.bool64(r)
            }
            BinOp::SatAdd => {
                let s = self.b.ins().iadd(x, y);
                let over = self.b.ins().icmp(IntCC::UnsignedLessThan, s, x);
                let max = self.k(u64::MAX);
                let s = self.b.ins().select(over, max, s);
                let mk = self.k(m);
                let gt = self.b.ins().icmp(IntCC::UnsignedGreaterThan, s, mk);
                self.b.ins().select(gt, mk, s)
            }
            BinOp::SatSub => {
                let lt = self.b.ins().icmp(IntCC::UnsignedLessThan, x, y);
                let d = self.b.ins().isub(x, y);
                let zero = self.k(0);
                self.b.ins().select(lt, zero, d)
            }
            BinOp::SShr => {
                let a = self.sext(x, m.count_ones());
                // Shifting by 63 or more leaves only sign bits.
                let k63 = self.k(63);
                let n = self.b.ins().umin(y, k63);
                let r = self.b.ins().sshr(a, n);
                self.and_k(r, m)
            }
            BinOp::SLt | BinOp::SLe | BinOp::SGt | BinOp::SGe => {
                let w = m.count_ones();
                let (a, c) = (self.sext(x, w), self.sext(y, w));
                let cc = match op {
                    BinOp::SLt => IntCC::SignedLessThan,
                    BinOp::SLe => IntCC::SignedLessThanOrEqual,
                    BinOp::SGt => IntCC::SignedGreaterThan,
                    _ => IntCC::SignedGreaterThanOrEqual,
                };
                let r = self.b.ins().icmp(cc, a, c);
                self.bool64(r)
            }
            BinOp::SSatAdd => self.sat_signed(true, x, y, m),
            BinOp::SSatSub => self.sat_signed(false, x, y, m),
        }
    }
}
