//! Lowering of the checked IR to Cranelift IR, one function per v1model
//! block. Every value lives in the slot array (loaded and stored around
//! each statement, as the interpreter does), so statements translate one
//! by one and control flow needs no SSA variables except the parser's
//! step count. Actions are inlined where they are called and, for a
//! table, in a dispatch on the action index the lookup returns.
//!
//! This module makes the functions and holds what every part uses (slot and
//! context access, helper calls); `expr`, `stmt`, `headers` and `parser`
//! lower their constructs.

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

mod expr;
mod headers;
mod parser;
mod stmt;

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

/// Whether evaluating `e` can raise a parser error: a lookahead, or a
/// stack's `last`/`next` element (which the interpreter evaluates, see
/// `look_guarded`).
fn has_look(e: &Ex) -> bool {
    match e {
        Ex::Look(_) | Ex::Elem(_) => true,
        Ex::Not(a, _) | Ex::Neg(a, _) | Ex::LNot(a) | Ex::Slice(a, _, _) | Ex::Mask(a, _) | Ex::SExt(a, ..) => has_look(a),
        Ex::Bin(_, a, b, _) | Ex::Concat(a, b, _) => has_look(a) || has_look(b),
        Ex::Cond(c, a, b) => has_look(c) || has_look(a) || has_look(b),
        Ex::K(_) | Ex::S(_) | Ex::BinSK(..) | Ex::BinSS(..) | Ex::Var(_) => false,
    }
}

/// A `lookahead` whose evaluation depends on other values (right of `&&`
/// or `||`, a branch of `?:`) or wider than one load: such an expression
/// goes to the interpreter, which evaluates it lazily. Any other lookahead
/// is compiled (it is always evaluated, as in the interpreter).
fn look_guarded(e: &Ex) -> bool {
    match e {
        Ex::Look(w) => *w > 64,
        // A parser reads `stack.last` rarely enough (an MPLS bottom-of-stack
        // test) that the interpreter's bounds check serves it.
        Ex::Elem(_) => true,
        // A varbit in a field list: the interpreter serializes that list.
        Ex::Var(_) => true,
        Ex::Bin(BinOp::LAnd | BinOp::LOr, a, b, _) => look_guarded(a) || has_look(b),
        Ex::Cond(c, a, b) => look_guarded(c) || has_look(a) || has_look(b),
        Ex::Not(a, _) | Ex::Neg(a, _) | Ex::LNot(a) | Ex::Slice(a, _, _) | Ex::Mask(a, _) | Ex::SExt(a, ..) => look_guarded(a),
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
}

const _: () = assert!(FLOW_NEXT == 0, "the compiled code tests flow codes against zero");
