//! Type checking and compilation of the syntax tree into the slot IR.
//!
//! Every storage location (headers, structs, metadata, locals, action
//! parameters) gets fixed slot numbers here, every name is resolved to a
//! slot, table, action or extern index, and widths are checked with P4's
//! rules (operands of a binary operator have equal widths; unsized integer
//! literals take the other operand's width). What switch-sim does not
//! implement is refused here with its position. The checked IR is the
//! input of both backends: the interpreter (`exec`) and the fast engine
//! (`fast`).
//!
//! One pass per construct checks and lowers it; the passes are split by
//! what they handle: `types` (type names, layouts, conversions, width
//! rules), `externs` (extern index types per V1MODEL_VERSION), `expr`
//! (expressions and places), `stmt` (statements), `decl` (actions, tables,
//! instances, control and parser bodies); this module holds the compiler's
//! state (scopes, slot allocation) and `compile`, the entry point.

use std::collections::{HashMap, HashSet};

use crate::error::{err, Pos, SrcError, SrcResult};
use crate::front::ast::*;
use crate::ir::*;

mod decl;
mod expr;
mod externs;
mod stmt;
mod sub;
mod types;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Bit(u32),
    /// A signed `int<W>`: held as its W-bit two's complement pattern
    /// (masked like a bit<W>), so storage, emit and table keys treat it as
    /// bits; the operators that differ (`>>`, comparisons, saturation,
    /// widening casts) use the signed IR operations.
    Int(u32),
    Bool,
    /// An unsized integer literal (P4's arbitrary-precision `int`).
    IntLit,
    Error,
    Enum(String),
    Header(usize),
    Struct(usize),
    /// A header_union: its members (headers) laid out one after the other.
    Union(usize),
    Stack(usize, u32),
    /// `varbit<N>`: a header's last field (its width slot, then its bytes).
    Varbit(u32),
    Str,
    MatchKind,
}

#[derive(Debug, Clone)]
struct TypeInfo {
    name: String,
    #[allow(dead_code)]
    header: bool,
    union: bool,
    fields: Vec<(String, Ty)>,
}

#[derive(Debug, Clone)]
struct Place {
    ty: Ty,
    slot: Slot,
}

#[derive(Debug, Clone)]
enum Bind {
    Place(Place),
    Const(u64, Ty),
    Action(usize),
    Table(usize),
    Counter(usize),
    DirectCounter(usize),
    Register(usize),
    Meter(usize),
    DirectMeter(usize),
    /// A control instantiated inside another (`Sub(4) s;`), by its index
    /// in `Compiler::subs`.
    SubControl(usize),
    /// A parser instantiated inside a parser (`Sub() p;`), by its index in
    /// `Compiler::subs`: its states are inlined at each `p.apply(...)`.
    SubParser(usize),
    PacketIn,
    PacketOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Parser,
    Control,
    Action,
}

/// Extern functions switch-sim implements (the v1model/core subset).
const EXTERN_FUNCS: &[&str] = &[
    "mark_to_drop",
    "hash",
    "digest",
    "verify_checksum",
    "update_checksum",
    "verify_checksum_with_payload",
    "update_checksum_with_payload",
    "truncate",
    "verify",
    "assert",
    "assume",
    "log_msg",
    "random",
];

/// An extern object type as the included v1model.p4 declares it (at the
/// program's V1MODEL_VERSION): its type parameters and methods.
#[derive(Debug, Clone)]
struct ExternType {
    type_params: Vec<String>,
    methods: Vec<ExternMethod>,
}

/// The index type of a counter or register instance.
#[derive(Debug, Clone)]
enum IndexTy {
    Bits(u32),
    /// The extern is generic in its index (`counter<I>`) and the instance
    /// gave no type argument: p4c cannot convert any index to `I`.
    Unbound(String),
}

pub struct Compiler {
    types: HashMap<String, Ty>,
    tinfo: Vec<TypeInfo>,
    enums: HashMap<String, Vec<(String, u64, Ty)>>,
    errors: Vec<String>,
    match_kinds: HashSet<String>,
    extern_funcs: HashSet<String>,
    extern_types: HashSet<String>,
    extern_decls: HashMap<String, ExternType>,
    /// Load warnings (the p4c compile-time guard).
    warnings: Vec<SrcError>,
    /// Per action: the fields it (or an action it calls) assigns, by slot,
    /// as written in the source (for the guard's message).
    action_fields: Vec<HashMap<Slot, String>>,
    /// Index types of counters and registers, by their index in `counters`
    /// / `registers`.
    counter_index: HashMap<usize, (String, IndexTy)>,
    register_index: HashMap<usize, (String, IndexTy)>,
    meter_index: HashMap<usize, (String, IndexTy)>,
    meters: Vec<MeterDef>,
    scopes: Vec<HashMap<String, Bind>>,
    n_slots: u32,
    actions: Vec<ActionDef>,
    action_dirs: Vec<Vec<Direction>>,
    tables: Vec<TableDef>,
    counters: Vec<CounterDef>,
    registers: Vec<RegisterDef>,
    ctx: Ctx,
    prefix: String,
    /// Tables applied so far: p4c-bm2-ss rejects a second application of
    /// a table (its pipeline is a graph with one node per table).
    applied: HashSet<usize>,
    /// standard_metadata.mcast_grp's slot: assigning it is refused (no
    /// replication engine).
    mcast_grp: Option<Slot>,
    /// Every parser and control declared at top level, by name.
    blocks: HashMap<String, Decl>,
    /// Controls instantiated inside controls and parsers inside parsers
    /// (`sub::sub_instance`).
    subs: Vec<SubInstance>,
    /// The parsers being inlined, outermost first (a parser may not
    /// instantiate itself).
    parser_stack: Vec<String>,
}

/// A control instance inside another: compiled where it is applied (its
/// parameters bind the `apply` arguments, its actions and tables take the
/// prefix `Outer.instance.`), so it is applied at most once.
#[derive(Debug, Clone)]
struct SubInstance {
    inst: Instance,
    decl: Decl,
    prefix: String,
    applied: bool,
}

fn is_scalar(t: &Ty) -> bool {
    matches!(t, Ty::Bit(_) | Ty::Int(_) | Ty::Bool | Ty::Error | Ty::Enum(_))
}

/// The width of a fixed-width integer type (bit<W> or int<W>).
fn fixed_width(t: &Ty) -> Option<u32> {
    match t {
        Ty::Bit(w) | Ty::Int(w) => Some(*w),
        _ => None,
    }
}

fn width_of(t: &Ty) -> u32 {
    match t {
        Ty::Bit(w) | Ty::Int(w) => *w,
        Ty::Bool => 1,
        _ => 32,
    }
}

/// Constant evaluation of a compiled expression (None if it reads state).
pub fn const_eval(e: &Ex) -> Option<u64> {
    Some(match e {
        Ex::K(v) => *v,
        Ex::S(_) | Ex::Look(_) | Ex::Elem(_) | Ex::Var(_) => return None,
        Ex::Not(a, m) => !const_eval(a)? & m,
        Ex::Neg(a, m) => const_eval(a)?.wrapping_neg() & m,
        Ex::LNot(a) => (const_eval(a)? == 0) as u64,
        Ex::Bin(op, a, b, m) => {
            let (x, y) = (const_eval(a)?, const_eval(b)?);
            // A constant division by zero is left to run time (where the
            // executor defines it as 0) rather than folded.
            if matches!(op, BinOp::Div | BinOp::Mod) && y == 0 {
                return None;
            }
            crate::exec::binop(*op, x, y, *m)
        }
        Ex::Slice(a, lo, m) => (const_eval(a)? >> lo) & m,
        Ex::Concat(a, b, rw) => (const_eval(a)? << rw) | const_eval(b)?,
        Ex::Cond(c, a, b) => {
            if const_eval(c)? != 0 {
                const_eval(a)?
            } else {
                const_eval(b)?
            }
        }
        Ex::Mask(a, m) => const_eval(a)? & m,
        Ex::SExt(a, w, m) => crate::exec::sext(const_eval(a)?, *w) as u64 & m,
        Ex::BinSK(..) | Ex::BinSS(..) => return None,
    })
}

/// Folds constant subexpressions (keeps the IR small on the packet path).
fn fold(e: Ex) -> Ex {
    match const_eval(&e) {
        Some(v) => Ex::K(v),
        None => e,
    }
}

fn un_name(a: &[Annotation]) -> Option<String> {
    a.iter().find(|x| x.name == "name").and_then(|x| x.string.clone())
}

impl Compiler {
    fn new() -> Self {
        Compiler {
            types: HashMap::new(),
            tinfo: Vec::new(),
            enums: HashMap::new(),
            errors: Vec::new(),
            match_kinds: HashSet::new(),
            extern_funcs: HashSet::new(),
            extern_types: HashSet::new(),
            extern_decls: HashMap::new(),
            warnings: Vec::new(),
            action_fields: Vec::new(),
            counter_index: HashMap::new(),
            register_index: HashMap::new(),
            meter_index: HashMap::new(),
            meters: Vec::new(),
            scopes: vec![HashMap::new()],
            n_slots: 0,
            actions: Vec::new(),
            action_dirs: Vec::new(),
            tables: Vec::new(),
            counters: Vec::new(),
            registers: Vec::new(),
            ctx: Ctx::Control,
            prefix: String::new(),
            applied: HashSet::new(),
            mcast_grp: None,
            blocks: HashMap::new(),
            subs: Vec::new(),
            parser_stack: Vec::new(),
        }
    }

    fn lookup(&self, n: &str) -> Option<&Bind> {
        self.scopes.iter().rev().find_map(|s| s.get(n))
    }

    fn bind(&mut self, n: &str, b: Bind) {
        self.scopes.last_mut().expect("a scope is always open").insert(n.to_string(), b);
    }

    fn size_of(&self, t: &Ty) -> u32 {
        match t {
            Ty::Header(i) => 1 + self.tinfo[*i].fields.iter().map(|(_, f)| self.size_of(f)).sum::<u32>(),
            Ty::Varbit(n) => 1 + n.div_ceil(64),
            Ty::Struct(i) | Ty::Union(i) => self.tinfo[*i].fields.iter().map(|(_, f)| self.size_of(f)).sum(),
            Ty::Stack(h, n) => 1 + n * self.size_of(&self.elem_ty(*h)),
            _ => 1,
        }
    }

    /// The element type of a stack of `tinfo[i]`: a header or a union.
    fn elem_ty(&self, i: usize) -> Ty {
        if self.tinfo[i].union {
            Ty::Union(i)
        } else {
            Ty::Header(i)
        }
    }

    fn alloc(&mut self, t: &Ty) -> Slot {
        let s = self.n_slots;
        self.n_slots += self.size_of(t);
        s
    }
}

fn expr_text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Name(n) => n.clone(),
        ExprKind::Member(b, f) => format!("{}.{f}", expr_text(b)),
        _ => "value".into(),
    }
}

/// Compiles a parsed program (declarations in source order) for v1model.
pub fn compile(decls: &[Decl]) -> SrcResult<Program> {
    let mut c = Compiler::new();
    let mut blocks: HashMap<String, &Decl> = HashMap::new();
    let mut main = None;
    for d in decls {
        match d {
            Decl::Typedef { pos, ty, name } => {
                let t = c.resolve_type(ty, *pos)?;
                c.types.insert(name.clone(), t);
            }
            Decl::Header { pos, name, fields } | Decl::Struct { pos, name, fields } => {
                let header = matches!(d, Decl::Header { .. });
                let mut fs = Vec::new();
                for f in fields {
                    let t = c.resolve_type(&f.ty, f.pos)?;
                    if header && !matches!(t, Ty::Bit(_) | Ty::Int(_) | Ty::Varbit(_)) {
                        return err(f.pos, "header fields must be bit<N>, int<N> or varbit<N> in switch-sim");
                    }
                    if matches!(t, Ty::Varbit(_)) && (!header || f.pos != fields.last().expect("a field").pos) {
                        return err(f.pos, "switch-sim supports a varbit only as the last field of a header");
                    }
                    fs.push((f.name.clone(), t));
                }
                if header {
                    // A varbit's width is a multiple of 8 at run time.
                    let bits: u32 = fs.iter().filter(|f| !matches!(f.1, Ty::Varbit(_))).map(|f| width_of(&f.1)).sum();
                    if bits % 8 != 0 {
                        return err(*pos, format!("header {name} is {bits} bits, not whole bytes"));
                    }
                }
                c.tinfo.push(TypeInfo { name: name.clone(), header, union: false, fields: fs });
                let i = c.tinfo.len() - 1;
                c.types.insert(name.clone(), if header { Ty::Header(i) } else { Ty::Struct(i) });
            }
            Decl::HeaderUnion { pos, name, fields } => {
                // Laid out as a struct of its member headers; what makes it
                // a union is in the statements (one member valid at most).
                let mut fs = Vec::new();
                for f in fields {
                    let t = c.resolve_type(&f.ty, f.pos)?;
                    if !matches!(t, Ty::Header(_)) {
                        return err(f.pos, format!("header_union {name}: member `{}` must be a header", f.name));
                    }
                    fs.push((f.name.clone(), t));
                }
                if fs.is_empty() {
                    return err(*pos, format!("header_union {name} has no members"));
                }
                c.tinfo.push(TypeInfo { name: name.clone(), header: false, union: true, fields: fs });
                c.types.insert(name.clone(), Ty::Union(c.tinfo.len() - 1));
            }
            Decl::Enum { pos, name, underlying, members } => {
                let ut = match underlying {
                    Some(u) => Some(c.resolve_type(u, *pos)?),
                    None => None,
                };
                let mut ms = Vec::new();
                for (k, (m, v)) in members.iter().enumerate() {
                    match (&ut, v) {
                        (Some(t), Some(v)) => {
                            let x = c.rvalue_to(v, t)?;
                            let Some(val) = const_eval(&x) else { return err(v.pos, "enum value must be constant") };
                            ms.push((m.clone(), val, t.clone()));
                        }
                        (Some(_), None) => return err(*pos, "serializable enum members need values"),
                        (None, _) => ms.push((m.clone(), k as u64, Ty::Enum(name.clone()))),
                    }
                }
                c.enums.insert(name.clone(), ms);
                c.types.insert(name.clone(), ut.unwrap_or(Ty::Enum(name.clone())));
            }
            Decl::Error { names, .. } => {
                for n in names {
                    if !c.errors.contains(n) {
                        c.errors.push(n.clone());
                    }
                }
            }
            Decl::MatchKind { names, .. } => c.match_kinds.extend(names.iter().cloned()),
            Decl::Const { pos, ty, name, value } => {
                let t = c.resolve_type(ty, *pos)?;
                let x = c.rvalue_to(value, &t)?;
                let Some(v) = const_eval(&x) else { return err(*pos, "const must be a constant") };
                c.bind(name, Bind::Const(v, t));
            }
            Decl::Extern { name, type_params, methods, .. } => {
                c.extern_types.insert(name.clone());
                c.extern_decls.insert(name.clone(), ExternType { type_params: type_params.clone(), methods: methods.clone() });
            }
            Decl::ExternFunction { name, .. } => {
                c.extern_funcs.insert(name.clone());
            }
            Decl::Prototype { .. } => {}
            Decl::Action(a) => {
                c.action_decl(a)?;
            }
            Decl::Parser { name, .. } | Decl::Control { name, .. } => {
                blocks.insert(name.clone(), d);
                c.blocks.insert(name.clone(), d.clone());
            }
            Decl::Function { pos, .. } => return err(*pos, "functions are not supported"),
            Decl::ValueSet { pos, .. } => return err(*pos, "value_set is not supported"),
            Decl::Instance(i) => {
                if i.name == "main" {
                    main = Some(i.clone());
                } else {
                    return err(i.pos, "top-level extern instances are not supported (declare them inside a control)");
                }
            }
        }
    }
    let Some(main) = main else { return err(Pos::default(), "no `main` package instance") };
    let TypeRef::Named(pkg, _) = &main.ty else { return err(main.pos, "bad main") };
    if pkg != "V1Switch" {
        return err(main.pos, format!("package {pkg}: switch-sim implements V1Switch only"));
    }
    if main.args.len() != 6 {
        return err(main.pos, "V1Switch takes 6 blocks");
    }
    let mut names = Vec::new();
    for a in &main.args {
        let ExprKind::Call { func, args, .. } = &a.value.kind else { return err(a.value.pos, "expected Block()") };
        let ExprKind::Name(n) = &func.kind else { return err(a.value.pos, "expected Block()") };
        if !args.is_empty() {
            return err(a.value.pos, "constructor arguments are not supported");
        }
        if !blocks.contains_key(n) {
            return err(a.value.pos, format!("no parser or control named `{n}`"));
        }
        names.push(n.clone());
    }
    // Roots: H and M from the parser's parameter types; standard_metadata.
    let Decl::Parser { params: pp, locals: pl, states, pos: ppos, ctor: pctor, .. } = blocks[&names[0]] else {
        return err(main.pos, "V1Switch's first block must be a parser");
    };
    if let Some(p) = pctor.first() {
        return err(p.pos, "constructor parameters of a V1Switch parser are not supported");
    }
    if pp.len() != 4 {
        return err(*ppos, "the parser must take (packet_in, out H, inout M, inout standard_metadata_t)");
    }
    let h_ty = c.resolve_type(&pp[1].ty, pp[1].pos)?;
    let m_ty = c.resolve_type(&pp[2].ty, pp[2].pos)?;
    let s_ty = c.resolve_type(&pp[3].ty, pp[3].pos)?;
    let h = Bind::Place(Place { ty: h_ty.clone(), slot: c.alloc(&h_ty) });
    let m = Bind::Place(Place { ty: m_ty.clone(), slot: c.alloc(&m_ty) });
    let s_slot = c.alloc(&s_ty);
    let s = Bind::Place(Place { ty: s_ty.clone(), slot: s_slot });
    let Ty::Struct(si) = s_ty else { return err(pp[3].pos, "standard_metadata_t must be a struct") };
    let field_slot = |c: &Compiler, n: &str| -> Option<Slot> {
        let mut off = 0;
        for (f, t) in &c.tinfo[si].fields {
            if f == n {
                return Some(s_slot + off);
            }
            off += c.size_of(t);
        }
        None
    };
    let need = |c: &Compiler, n: &str| -> SrcResult<Slot> {
        field_slot(c, n).ok_or_else(|| SrcError { pos: pp[3].pos, message: format!("standard_metadata_t lacks `{n}`") })
    };
    let std = StdSlots {
        ingress_port: need(&c, "ingress_port")?,
        egress_spec: need(&c, "egress_spec")?,
        egress_port: need(&c, "egress_port")?,
        instance_type: need(&c, "instance_type")?,
        packet_length: need(&c, "packet_length")?,
        checksum_error: need(&c, "checksum_error")?,
        parser_error: need(&c, "parser_error")?,
        ingress_ts: field_slot(&c, "ingress_global_timestamp"),
    };
    c.mcast_grp = field_slot(&c, "mcast_grp");
    let check_types = |c: &mut Compiler, params: &[Param], want: &[&Ty]| -> SrcResult<()> {
        for (p, w) in params.iter().zip(want) {
            let t = c.resolve_type(&p.ty, p.pos)?;
            if &t != *w {
                return err(p.pos, format!("parameter `{}` is {}, V1Switch needs {}", p.name, c.ty_name(&t), c.ty_name(w)));
            }
        }
        Ok(())
    };
    c.parser_stack.push(names[0].clone());
    let states = c.parser_body(pp, &[Bind::PacketIn, h.clone(), m.clone(), s.clone()], pl, states)?;
    let ctl = |c: &mut Compiler, i: usize, roots: Vec<Bind>, want: Vec<&Ty>| -> SrcResult<Vec<St>> {
        let Decl::Control { name, params, locals, body, pos, ctor } = blocks[&names[i]] else {
            return err(main.args[i].value.pos, format!("V1Switch block {} must be a control", i + 1));
        };
        let typed: Vec<Param> = params.iter().filter(|p| !matches!(&p.ty, TypeRef::Named(n, _) if n == "packet_out")).cloned().collect();
        check_types(c, &typed, &want)?;
        let _ = pos;
        if let Some(p) = ctor.first() {
            return err(p.pos, format!("{name} is a V1Switch block: its constructor parameters would need arguments there"));
        }
        c.control_body(name, params, &roots, locals, body)
    };
    let verify = ctl(&mut c, 1, vec![h.clone(), m.clone()], vec![&h_ty, &m_ty])?;
    let ingress = ctl(&mut c, 2, vec![h.clone(), m.clone(), s.clone()], vec![&h_ty, &m_ty, &s_ty])?;
    let egress = ctl(&mut c, 3, vec![h.clone(), m.clone(), s.clone()], vec![&h_ty, &m_ty, &s_ty])?;
    let compute = ctl(&mut c, 4, vec![h.clone(), m.clone()], vec![&h_ty, &m_ty])?;
    let deparser = ctl(&mut c, 5, vec![Bind::PacketOut, h.clone()], vec![&h_ty])?;
    let mut prog = Program {
        n_slots: c.n_slots as usize,
        states,
        verify,
        ingress,
        egress,
        compute,
        deparser,
        actions: c.actions,
        tables: c.tables,
        counters: c.counters,
        registers: c.registers,
        meters: c.meters,
        std,
        errors: c.errors,
        warnings: c.warnings,
    };
    prog.optimize();
    Ok(prog)
}
