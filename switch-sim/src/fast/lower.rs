//! Lowering of the checked IR to Cranelift IR, one function per v1model
//! block. Every value lives in the slot array (loaded and stored around
//! each statement, as the interpreter does), so statements translate one
//! by one and control flow needs no SSA variables except the parser's
//! step count. Actions are inlined where they are called and, for a
//! table, in a dispatch on the action index the lookup returns.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, Block, InstBuilder, MemFlagsData, SigRef, UserFuncName, Value};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Switch};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};

use super::helpers::{self, Helper, FLOW_EXIT, FLOW_NEXT};
use super::limits::{INLINE_COPY_SLOTS, INLINE_STACK_SLOTS, MAX_KEYS, MAX_PARSER_STEPS, SCRATCH_BYTES};
use super::Ctx;
use crate::exec::{Packet, DROP_PORT};
use crate::ir::*;

pub struct Compiled {
    pub module: JITModule,
    pub parse: *const u8,
    /// verify, ingress, egress, compute, deparser.
    pub blocks: [*const u8; 5],
    pub max_out: usize,
}

pub fn compile(prog: &Program) -> Result<Compiled, String> {
    if let Some(t) = prog.tables.iter().find(|t| t.keys.len() > MAX_KEYS) {
        return Err(format!("table {} has more than {MAX_KEYS} key fields", t.name));
    }
    let mut flags = settings::builder();
    for (k, v) in [("opt_level", "speed"), ("use_colocated_libcalls", "false"), ("is_pic", "false")] {
        flags.set(k, v).map_err(|e| e.to_string())?;
    }
    let isa = cranelift_native::builder()
        .map_err(|e| format!("no native code generator for this machine: {e}"))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    match define_all(&mut module, prog) {
        Ok((parse, blocks, max_out)) => Ok(Compiled { module, parse, blocks, max_out }),
        Err(e) => {
            // SAFETY: nothing points into the module's code yet.
            unsafe { module.free_memory() };
            Err(e)
        }
    }
}

type Entries = (*const u8, [*const u8; 5], usize);

fn define_all(module: &mut JITModule, prog: &Program) -> Result<Entries, String> {
    let mut cctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut max_out = 0usize;
    let parse = define(module, &mut cctx, &mut fctx, prog, "parse", Body::Parser, &mut max_out)?;
    if max_out != 0 {
        return Err("emit inside a parser".into());
    }
    let mut ids = Vec::new();
    for (name, b) in [
        ("verify", &prog.verify),
        ("ingress", &prog.ingress),
        ("egress", &prog.egress),
        ("compute", &prog.compute),
        ("deparser", &prog.deparser),
    ] {
        ids.push(define(module, &mut cctx, &mut fctx, prog, name, Body::Control(b), &mut max_out)?);
    }
    module.finalize_definitions().map_err(|e| e.to_string())?;
    let blocks = [0, 1, 2, 3, 4].map(|i| module.get_finalized_function(ids[i]));
    let parse = module.get_finalized_function(parse);
    Ok((parse, blocks, max_out))
}

enum Body<'a> {
    Parser,
    Control(&'a [St]),
}

fn define(
    module: &mut JITModule,
    cctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    prog: &Program,
    name: &str,
    body: Body<'_>,
    max_out: &mut usize,
) -> Result<FuncId, String> {
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(I64));
    if matches!(body, Body::Parser) {
        sig.returns.push(AbiParam::new(I64));
    }
    let id = module.declare_function(name, Linkage::Local, &sig).map_err(|e| e.to_string())?;
    let mut hsig = module.make_signature();
    hsig.params.extend([AbiParam::new(I64), AbiParam::new(I64), AbiParam::new(I64)]);
    hsig.returns.push(AbiParam::new(I64));
    cctx.func.signature = sig;
    cctx.func.name = UserFuncName::user(0, id.as_u32());
    let target = module.target_config();
    {
        let mut b = FunctionBuilder::new(&mut cctx.func, fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let cx = b.block_params(entry)[0];
        let slots = b.ins().load(I64, MemFlagsData::trusted(), cx, offset_of!(Ctx, slots) as i32);
        let hsig = b.import_signature(hsig);
        let mut l = Lower { prog, b, cx, slots, hsig, out_bytes: 0, bad_slot: None };
        match body {
            Body::Parser => l.parser(),
            Body::Control(sts) => {
                let end = l.b.create_block();
                l.block(sts, Targets { ret: end, exit: end });
                l.b.ins().jump(end, &[]);
                l.b.switch_to_block(end);
                l.b.ins().return_(&[]);
            }
        }
        if let Some(s) = l.bad_slot {
            return Err(format!("slot {s} outside the program's {} slots", prog.n_slots));
        }
        *max_out += l.out_bytes;
        l.b.seal_all_blocks();
        l.b.finalize(target);
    }
    module.define_function(id, cctx).map_err(|e| format!("{name}: {e:?}"))?;
    module.clear_context(cctx);
    Ok(id)
}

/// Where `return` and `exit` jump from the code being lowered.
#[derive(Clone, Copy)]
struct Targets {
    ret: Block,
    exit: Block,
}

/// One run of fields stored (or serialized) with one 8-byte store: whole
/// bytes, at most 64 bits, the last run of a list padded with `pad` zero
/// bits as `exec::write_bits` pads.
struct Run<T> {
    byte: u32,
    bits: u32,
    pad: u32,
    fields: Vec<(T, u32)>,
}

/// Groups fields (in wire order) into runs starting and ending on a byte
/// boundary, at most 64 bits each. None when a field straddles two runs.
fn runs<T: Copy>(fields: impl Iterator<Item = (T, u32)>) -> Option<Vec<Run<T>>> {
    let mut out: Vec<Run<T>> = Vec::new();
    let mut cur = Run { byte: 0, bits: 0, pad: 0, fields: Vec::new() };
    let mut pos = 0u32;
    for (f, w) in fields {
        if cur.bits % 8 == 0 && cur.bits + w > 64 && !cur.fields.is_empty() {
            out.push(std::mem::replace(&mut cur, Run { byte: pos / 8, bits: 0, pad: 0, fields: Vec::new() }));
        }
        if cur.bits + w > 64 {
            return None;
        }
        cur.fields.push((f, w));
        cur.bits += w;
        pos += w;
    }
    if !cur.fields.is_empty() {
        cur.pad = (8 - cur.bits % 8) % 8;
        if cur.bits + cur.pad > 64 {
            return None;
        }
        cur.bits += cur.pad;
        out.push(cur);
    }
    Some(out)
}

fn has_look(e: &Ex) -> bool {
    match e {
        Ex::Look(_) => true,
        Ex::Not(a, _) | Ex::Neg(a, _) | Ex::LNot(a) | Ex::Slice(a, _, _) | Ex::Mask(a, _) => has_look(a),
        Ex::Bin(_, a, b, _) | Ex::Concat(a, b, _) => has_look(a) || has_look(b),
        Ex::Cond(c, a, b) => has_look(c) || has_look(a) || has_look(b),
        Ex::K(_) | Ex::S(_) | Ex::BinSK(..) | Ex::BinSS(..) => false,
    }
}

/// A `lookahead` whose evaluation depends on other values (right of `&&`
/// or `||`, a branch of `?:`) or wider than one load: such an expression
/// goes to the interpreter, which evaluates it lazily. Any other lookahead
/// is compiled (it is always evaluated, as in the interpreter).
fn look_guarded(e: &Ex) -> bool {
    match e {
        Ex::Look(w) => *w > 64,
        Ex::Bin(BinOp::LAnd | BinOp::LOr, a, b, _) => look_guarded(a) || has_look(b),
        Ex::Cond(c, a, b) => look_guarded(c) || has_look(a) || has_look(b),
        Ex::Not(a, _) | Ex::Neg(a, _) | Ex::LNot(a) | Ex::Slice(a, _, _) | Ex::Mask(a, _) => look_guarded(a),
        Ex::Bin(_, a, b, _) | Ex::Concat(a, b, _) => look_guarded(a) || look_guarded(b),
        Ex::K(_) | Ex::S(_) | Ex::BinSK(..) | Ex::BinSS(..) => false,
    }
}

/// Statements the compiled code runs itself and that cannot raise a
/// parser error (no pending check after them in a parser state).
fn never_pends(s: &St) -> bool {
    match s {
        St::Set(_, e) | St::SetSlice(_, _, _, e) => !has_look(e),
        St::Mov(..) | St::SetK(..) | St::Copy { .. } | St::Clear { .. } => true,
        _ => false,
    }
}

struct Lower<'a, 'f> {
    prog: &'a Program,
    b: FunctionBuilder<'f>,
    cx: Value,
    slots: Value,
    hsig: SigRef,
    out_bytes: usize,
    bad_slot: Option<Slot>,
}

fn unaligned() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl Lower<'_, '_> {
    fn k(&mut self, v: u64) -> Value {
        self.b.ins().iconst(I64, v as i64)
    }

    fn off(&mut self, s: Slot) -> i32 {
        if s as usize >= self.prog.n_slots {
            self.bad_slot = Some(s);
            return 0;
        }
        s as i32 * 8
    }

    fn load(&mut self, s: Slot) -> Value {
        let o = self.off(s);
        self.b.ins().load(I64, MemFlagsData::trusted(), self.slots, o)
    }

    fn store(&mut self, s: Slot, v: Value) {
        let o = self.off(s);
        self.b.ins().store(MemFlagsData::trusted(), v, self.slots, o);
    }

    fn ctx_load(&mut self, off: usize) -> Value {
        self.b.ins().load(I64, MemFlagsData::trusted(), self.cx, off as i32)
    }

    fn ctx_store(&mut self, off: usize, v: Value) {
        self.b.ins().store(MemFlagsData::trusted(), v, self.cx, off as i32);
    }

    fn pkt_field(&mut self, off: usize) -> (Value, i32) {
        let p = self.ctx_load(offset_of!(Ctx, pkt));
        (p, off as i32)
    }

    fn call(&mut self, h: Helper, a: Value, b: Value) -> Value {
        let f = self.k(h as usize as u64);
        let call = self.b.ins().call_indirect(self.hsig, f, &[self.cx, a, b]);
        self.b.inst_results(call)[0]
    }

    fn call_k(&mut self, h: Helper, a: u64, b: u64) -> Value {
        let (a, b) = (self.k(a), self.k(b));
        self.call(h, a, b)
    }

    fn and_k(&mut self, x: Value, m: u64) -> Value {
        if m == u64::MAX {
            x
        } else {
            self.b.ins().band_imm_s(x, m as i64)
        }
    }

    fn bool64(&mut self, c: Value) -> Value {
        self.b.ins().uextend(I64, c)
    }

    fn err(&self, name: &str) -> u64 {
        self.prog.error_code(name).unwrap_or(1)
    }

    // ---- expressions ------------------------------------------------

    fn ev(&mut self, e: &Ex) -> Value {
        if look_guarded(e) {
            // The interpreter's code, for the whole expression.
            return self.call_k(helpers::eval, e as *const Ex as u64, 0);
        }
        self.pure(e)
    }

    /// `lookahead<bit<w>>()`: the bits at the cursor, or 0 and
    /// PacketTooShort raised when the frame is shorter.
    fn look(&mut self, w: u32) -> Value {
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

    fn pure(&mut self, e: &Ex) -> Value {
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
            Ex::Look(w) => self.look(*w),
        }
    }

    /// `exec::binop` in machine instructions.
    fn binop(&mut self, op: BinOp, x: Value, y: Value, m: u64) -> Value {
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
        }
    }

    // ---- statements -------------------------------------------------

    fn block(&mut self, sts: &[St], t: Targets) {
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
    fn stmt(&mut self, s: &St, t: Targets) -> bool {
        match s {
            St::Set(d, e) if !look_guarded(e) => {
                let v = self.pure(e);
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
                self.store(*slot, new);
            }
            St::Copy { dst, src, n } if *n <= INLINE_COPY_SLOTS => self.copy(*dst, *src, *n),
            St::PopFront(sr, n) if sr.size * sr.stride <= INLINE_STACK_SLOTS => self.pop_front(sr, *n),
            St::PushFront(sr, n) if sr.size * sr.stride <= INLINE_STACK_SLOTS => self.push_front(sr, *n),
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

    fn any_eq(&mut self, v: Value, vals: impl Iterator<Item = u64>) -> Value {
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
    fn action_body(&mut self, a: usize, t: Targets) {
        let prog = self.prog;
        self.block(&prog.actions[a].body, t);
    }

    fn call_action(&mut self, c: &CallSt, t: Targets) {
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

    fn copy_out(&mut self, c: &CallSt) {
        for (from, to) in &c.copy_out {
            let v = self.load(*from);
            self.store(*to, v);
        }
    }

    fn apply(&mut self, a: &ApplySt, t: Targets) {
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

    // ---- headers and field lists ------------------------------------

    fn serializable(&self, list: &FieldList) -> bool {
        let bits: u64 = list.iter().map(|(_, w)| u64::from(*w)).sum();
        bits.div_ceil(8) as usize <= SCRATCH_BYTES
            && list.iter().all(|(e, _)| !look_guarded(e))
            && runs(list.iter().map(|(_, w)| ((), *w))).is_some()
    }

    /// Serializes a field list into `ctx.scratch` as `exec::write_bits`
    /// does; returns the byte length.
    fn serialize(&mut self, list: &FieldList) -> u64 {
        let runs = runs(list.iter().enumerate().map(|(i, (_, w))| (i, *w))).expect("checked by serializable");
        let base = self.b.ins().iadd_imm_s(self.cx, offset_of!(Ctx, scratch) as i64);
        let mut len = 0;
        for r in &runs {
            let mut acc = None;
            for (i, w) in &r.fields {
                let v = self.field_value(&list[*i].0, *w);
                acc = Some(self.append(acc, v, *w));
            }
            let v = acc.expect("runs are not empty");
            let v = if r.pad > 0 { self.b.ins().ishl_imm_s(v, i64::from(r.pad)) } else { v };
            self.store_run(base, r.byte as i32, v, r.bits);
            len = u64::from(r.byte + r.bits / 8);
        }
        len
    }

    fn field_value(&mut self, e: &Ex, w: u32) -> Value {
        let v = self.pure(e);
        self.and_k(v, mask(w))
    }

    fn append(&mut self, acc: Option<Value>, v: Value, w: u32) -> Value {
        match acc {
            None => v,
            Some(a) => {
                let a = self.b.ins().ishl_imm_s(a, i64::from(w));
                self.b.ins().bor(a, v)
            }
        }
    }

    /// Stores the `bits` low bits of `v` big-endian at `base + byte`, as
    /// one 8-byte store (the bytes after them are overwritten later or
    /// lie past the written length).
    fn store_run(&mut self, base: Value, byte: i32, v: Value, bits: u32) {
        let v = if bits < 64 { self.b.ins().ishl_imm_s(v, i64::from(64 - bits)) } else { v };
        let v = self.b.ins().bswap(v);
        self.b.ins().store(unaligned(), v, base, byte);
    }

    fn emit(&mut self, h: &HeaderRef, delta: u32) {
        let bytes = (h.bits as usize).div_ceil(8);
        self.out_bytes += bytes;
        let Some(runs) = runs(h.fields.iter().map(|f| (f.slot, f.width))).filter(|_| h.bits % 8 == 0) else {
            let (hp, d) = (self.k(h as *const HeaderRef as u64), self.k(u64::from(delta)));
            self.call(helpers::emit, hp, d);
            return;
        };
        let valid = self.load(h.valid + delta);
        let (yes, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(valid, yes, &[], cont, &[]);
        self.b.switch_to_block(yes);
        let len = self.ctx_load(offset_of!(Ctx, out_len));
        let out = self.ctx_load(offset_of!(Ctx, out));
        let base = self.b.ins().iadd(out, len);
        for r in &runs {
            let mut acc = None;
            for (slot, w) in &r.fields {
                let v = self.load(slot + delta);
                let v = self.and_k(v, mask(*w));
                acc = Some(self.append(acc, v, *w));
            }
            let v = acc.expect("runs are not empty");
            self.store_run(base, r.byte as i32, v, r.bits);
        }
        let len = self.b.ins().iadd_imm_s(len, bytes as i64);
        self.ctx_store(offset_of!(Ctx, out_len), len);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// `exec::extract_at` for a header at a parser state's top level
    /// (where no error is pending): bounds check, one load per field.
    fn extract(&mut self, h: &HeaderRef) {
        let slots = self.slots;
        self.extract_into(h, slots, 0, |_| {});
    }

    /// `extract(stack.next)`: StackOutOfBounds past the last element, else
    /// the element at nextIndex, and nextIndex + 1 once it is extracted.
    fn extract_next(&mut self, sr: &StackRef) {
        let idx = self.load(sr.next);
        let over = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, idx, i64::from(sr.size));
        let (oob, inb, cont) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().brif(over, oob, &[], inb, &[]);
        self.b.switch_to_block(oob);
        let (p, off) = self.pkt_field(offset_of!(Packet, pending));
        let code = self.k(self.err("StackOutOfBounds"));
        self.b.ins().store(MemFlagsData::trusted(), code, p, off);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(inb);
        let shift = self.b.ins().imul_imm_s(idx, i64::from(sr.stride) * 8);
        let base = self.b.ins().iadd(self.slots, shift);
        // The last element's slots bound every element's.
        let last = (sr.size.max(1) - 1) * sr.stride;
        self.extract_into(&sr.first, base, last, |l| {
            let n = l.b.ins().iadd_imm_s(idx, 1);
            l.store(sr.next, n);
        });
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Extracts `h` into the slots at `base` (the slot array, or a stack
    /// element's place in it, at most `reach` slots further), then runs
    /// `done` when it succeeded.
    fn extract_into(&mut self, h: &HeaderRef, base: Value, reach: u32, done: impl FnOnce(&mut Self)) {
        let bytes = i64::from(h.bits / 8);
        let (p, cur_off) = self.pkt_field(offset_of!(Packet, cursor));
        let cur = self.b.ins().load(I64, MemFlagsData::trusted(), p, cur_off);
        let need = self.b.ins().iadd_imm_s(cur, bytes);
        let len = self.ctx_load(offset_of!(Ctx, data_len));
        let short = self.b.ins().icmp(IntCC::UnsignedGreaterThan, need, len);
        let (fail, ok, cont) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().brif(short, fail, &[], ok, &[]);
        self.b.switch_to_block(fail);
        let code = self.k(self.err("PacketTooShort"));
        self.b.ins().store(MemFlagsData::trusted(), code, p, offset_of!(Packet, pending) as i32);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(ok);
        let data = self.ctx_load(offset_of!(Ctx, data));
        let at = self.b.ins().iadd(data, cur);
        let mut bit = 0u32;
        for f in &h.fields {
            let w = self.b.ins().load(I64, unaligned(), at, (bit / 8) as i32);
            let w = self.b.ins().bswap(w);
            let w = if bit % 8 > 0 { self.b.ins().ishl_imm_s(w, i64::from(bit % 8)) } else { w };
            let v = if f.width < 64 { self.b.ins().ushr_imm_s(w, i64::from(64 - f.width)) } else { w };
            self.off(f.slot + reach);
            let o = self.off(f.slot);
            self.b.ins().store(MemFlagsData::trusted(), v, base, o);
            bit += f.width;
        }
        let one = self.k(1);
        self.off(h.valid + reach);
        let o = self.off(h.valid);
        self.b.ins().store(MemFlagsData::trusted(), one, base, o);
        self.b.ins().store(MemFlagsData::trusted(), need, p, cur_off);
        done(self);
        self.b.ins().jump(cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// `stack.pop_front(n)` as `exec` does it: elements move down by n,
    /// the last n become invalid, nextIndex drops by n (not below 0).
    fn pop_front(&mut self, sr: &StackRef, n: u32) {
        let (size, stride, base) = (sr.size, sr.stride, sr.first.valid);
        for i in 0..size {
            if i + n < size {
                self.copy(base + i * stride, base + (i + n) * stride, stride);
            } else {
                let z = self.k(0);
                self.store(base + i * stride, z);
            }
        }
        let next = self.load(sr.next);
        let low = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, next, i64::from(n));
        let d = self.b.ins().iadd_imm_s(next, -i64::from(n));
        let z = self.k(0);
        let v = self.b.ins().select(low, z, d);
        self.store(sr.next, v);
    }

    /// `stack.push_front(n)`: elements move up by n, the first n become
    /// invalid, nextIndex grows by n (not past the size).
    fn push_front(&mut self, sr: &StackRef, n: u32) {
        let (size, stride, base) = (sr.size, sr.stride, sr.first.valid);
        for i in (0..size.saturating_sub(n)).rev() {
            self.copy(base + (i + n) * stride, base + i * stride, stride);
        }
        for i in 0..n.min(size) {
            let z = self.k(0);
            self.store(base + i * stride, z);
        }
        let next = self.load(sr.next);
        let up = self.b.ins().iadd_imm_s(next, i64::from(n));
        let max = self.k(u64::from(size));
        let over = self.b.ins().icmp(IntCC::UnsignedGreaterThan, up, max);
        let v = self.b.ins().select(over, max, up);
        self.store(sr.next, v);
    }

    /// `n` slots from `src` to `dst`, all loads first (copy_within).
    fn copy(&mut self, dst: Slot, src: Slot, n: u32) {
        let vals: Vec<Value> = (0..n).map(|i| self.load(src + i)).collect();
        for (i, v) in vals.into_iter().enumerate() {
            self.store(dst + i as u32, v);
        }
    }

    fn extractable(h: &HeaderRef) -> bool {
        let mut bit = 0u32;
        h.fields.iter().all(|f| {
            let ok = bit % 8 + f.width <= 64;
            bit += f.width;
            ok
        }) && h.bits % 8 == 0
    }

    // ---- the parser -------------------------------------------------

    fn parser(&mut self) {
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
                    St::ExtractNext(sr) if Self::extractable(&sr.first) => self.extract_next(sr),
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

    fn return_if_pending(&mut self, rv: cranelift_frontend::Variable, ret: Block) {
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

const _: () = assert!(FLOW_NEXT == 0, "the compiled code tests flow codes against zero");
