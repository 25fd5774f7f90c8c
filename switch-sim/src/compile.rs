//! Type checking and compilation of the syntax tree into the slot IR.
//!
//! Every storage location (headers, structs, metadata, locals, action
//! parameters) gets fixed slot numbers here, every name is resolved to a
//! slot, table, action or extern index, and widths are checked with P4's
//! rules (operands of a binary operator have equal widths; unsized integer
//! literals take the other operand's width). What the interpreter does not
//! implement is refused here with its position.

use std::collections::{HashMap, HashSet};

use crate::error::{err, Pos, SrcError, SrcResult};
use crate::front::ast::{self, *};
use crate::ir::*;
use crate::table::{EntrySpec, FieldMatch};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Bit(u32),
    Bool,
    /// An unsized integer literal (P4's arbitrary-precision `int`).
    IntLit,
    Error,
    Enum(String),
    Header(usize),
    Struct(usize),
    Stack(usize, u32),
    Str,
    MatchKind,
}

#[derive(Debug, Clone)]
struct TypeInfo {
    name: String,
    #[allow(dead_code)]
    header: bool,
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
}

fn is_scalar(t: &Ty) -> bool {
    matches!(t, Ty::Bit(_) | Ty::Bool | Ty::Error | Ty::Enum(_))
}

fn width_of(t: &Ty) -> u32 {
    match t {
        Ty::Bit(w) => *w,
        Ty::Bool => 1,
        _ => 32,
    }
}

/// Constant evaluation of a compiled expression (None if it reads state).
pub fn const_eval(e: &Ex) -> Option<u64> {
    Some(match e {
        Ex::K(v) => *v,
        Ex::S(_) | Ex::Look(_) => return None,
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
            Ty::Header(i) => 1 + self.tinfo[*i].fields.len() as u32,
            Ty::Struct(i) => self.tinfo[*i].fields.iter().map(|(_, f)| self.size_of(f)).sum(),
            Ty::Stack(h, n) => 1 + n * self.size_of(&Ty::Header(*h)),
            _ => 1,
        }
    }

    fn alloc(&mut self, t: &Ty) -> Slot {
        let s = self.n_slots;
        self.n_slots += self.size_of(t);
        s
    }

    fn ty_name(&self, t: &Ty) -> String {
        match t {
            Ty::Bit(w) => format!("bit<{w}>"),
            Ty::Bool => "bool".into(),
            Ty::IntLit => "int".into(),
            Ty::Error => "error".into(),
            Ty::Enum(n) => n.clone(),
            Ty::Header(i) | Ty::Struct(i) => self.tinfo[*i].name.clone(),
            Ty::Stack(h, n) => format!("{}[{n}]", self.tinfo[*h].name),
            Ty::Str => "string".into(),
            Ty::MatchKind => "match_kind".into(),
        }
    }

    fn resolve_type(&mut self, t: &TypeRef, pos: Pos) -> SrcResult<Ty> {
        Ok(match t {
            TypeRef::Bit(w) => {
                if *w == 0 || *w > 64 {
                    return err(pos, format!("bit<{w}>: switch-sim supports widths 1..=64"));
                }
                Ty::Bit(*w)
            }
            TypeRef::Int(w) => return err(pos, format!("int<{w}>: signed integers are not supported")),
            TypeRef::Varbit(_) => return err(pos, "varbit is not supported"),
            TypeRef::Bool => Ty::Bool,
            TypeRef::Error => Ty::Error,
            TypeRef::String => Ty::Str,
            TypeRef::Void | TypeRef::DontCare => return err(pos, "this type is not supported here"),
            TypeRef::Named(n, _) => match self.types.get(n) {
                Some(t) => t.clone(),
                None if n == "PortId_t" => {
                    return err(
                        pos,
                        format!(
                            "unknown type `PortId_t`: v1model.p4 declares it only when V1MODEL_VERSION >= 20200408, \
                             and this program is at {} (p4c's default is 20180101; p4c says: syntax error, \
                             unexpected IDENTIFIER \"PortId_t\"); use bit<9>",
                            self.v1model_version()
                        ),
                    )
                }
                None => return err(pos, format!("unknown type `{n}`")),
            },
            TypeRef::Stack(base, size) => {
                let b = self.resolve_type(base, pos)?;
                let Ty::Header(h) = b else {
                    return err(pos, "only stacks of headers are supported");
                };
                let (ex, _) = self.expr(size)?;
                let Some(n) = const_eval(&ex) else { return err(size.pos, "stack size must be a constant") };
                if n == 0 || n > 4096 {
                    return err(size.pos, "stack size must be 1..=4096");
                }
                Ty::Stack(h, n as u32)
            }
        })
    }

    // ---- places ---------------------------------------------------------

    fn place(&mut self, e: &Expr) -> SrcResult<Option<Place>> {
        match &e.kind {
            ExprKind::Name(n) => match self.lookup(n) {
                Some(Bind::Place(p)) => Ok(Some(p.clone())),
                _ => Ok(None),
            },
            ExprKind::Member(base, f) => {
                let Some(bp) = self.place(base)? else { return Ok(None) };
                match &bp.ty {
                    Ty::Header(i) => {
                        let Some(k) = self.tinfo[*i].fields.iter().position(|(n, _)| n == f) else {
                            if matches!(f.as_str(), "isValid" | "setValid" | "setInvalid") {
                                return Ok(None);
                            }
                            return err(e.pos, format!("`{}` has no field `{f}`", self.tinfo[*i].name));
                        };
                        Ok(Some(Place { ty: self.tinfo[*i].fields[k].1.clone(), slot: bp.slot + 1 + k as u32 }))
                    }
                    Ty::Struct(i) => {
                        let mut off = 0;
                        for (n, t) in self.tinfo[*i].fields.clone() {
                            if &n == f {
                                return Ok(Some(Place { ty: t, slot: bp.slot + off }));
                            }
                            off += self.size_of(&t);
                        }
                        err(e.pos, format!("`{}` has no field `{f}`", self.tinfo[*i].name))
                    }
                    Ty::Stack(h, n) => match f.as_str() {
                        "next" | "last" => err(
                            e.pos,
                            format!("`{f}` of a header stack is supported only as `extract(stack.next)` in a parser"),
                        ),
                        _ => {
                            let _ = (h, n);
                            Ok(None)
                        }
                    },
                    _ => Ok(None),
                }
            }
            ExprKind::Index(base, idx) => {
                let Some(bp) = self.place(base)? else { return Ok(None) };
                let Ty::Stack(h, n) = bp.ty else { return err(e.pos, "indexing something that is not a header stack") };
                let (ix, _) = self.expr(idx)?;
                let Some(i) = const_eval(&ix) else {
                    return err(idx.pos, "header stack index must be a compile-time constant");
                };
                if i >= u64::from(n) {
                    return err(idx.pos, format!("index {i} out of bounds for a stack of {n}"));
                }
                let stride = self.size_of(&Ty::Header(h));
                Ok(Some(Place { ty: Ty::Header(h), slot: bp.slot + 1 + i as u32 * stride }))
            }
            _ => Ok(None),
        }
    }

    fn header_ref(&self, h: usize, slot: Slot) -> HeaderRef {
        let fields: Vec<WireField> = self.tinfo[h]
            .fields
            .iter()
            .enumerate()
            .map(|(k, (_, t))| WireField { slot: slot + 1 + k as u32, width: width_of(t) })
            .collect();
        let bits = fields.iter().map(|f| f.width).sum();
        HeaderRef { valid: slot, fields, bits }
    }

    fn stack_ref(&self, h: usize, n: u32, slot: Slot) -> StackRef {
        let stride = self.size_of(&Ty::Header(h));
        StackRef { next: slot, size: n, stride, first: self.header_ref(h, slot + 1) }
    }

    // ---- expressions ----------------------------------------------------

    fn coerce(&self, ex: Ex, from: &Ty, to: &Ty, pos: Pos) -> SrcResult<Ex> {
        if from == to {
            return Ok(ex);
        }
        match (from, to) {
            (Ty::IntLit, Ty::Bit(w)) => Ok(fold(Ex::Mask(Box::new(ex), mask(*w)))),
            _ => err(pos, format!("type mismatch: expected {}, found {}", self.ty_name(to), self.ty_name(from))),
        }
    }

    /// Brings two operands to one type (P4: equal widths; a literal takes
    /// the other side's type).
    fn unify(&self, a: (Ex, Ty), b: (Ex, Ty), pos: Pos) -> SrcResult<(Ex, Ex, Ty)> {
        let (ea, ta) = a;
        let (eb, tb) = b;
        if ta == tb {
            return Ok((ea, eb, ta));
        }
        match (&ta, &tb) {
            (Ty::IntLit, _) => Ok((self.coerce(ea, &ta, &tb, pos)?, eb, tb)),
            (_, Ty::IntLit) => Ok((ea, self.coerce(eb, &tb, &ta, pos)?, ta)),
            _ => err(pos, format!("operands have different types: {} and {}", self.ty_name(&ta), self.ty_name(&tb))),
        }
    }

    pub fn expr(&mut self, e: &Expr) -> SrcResult<(Ex, Ty)> {
        let pos = e.pos;
        match &e.kind {
            ExprKind::Int { value, width, signed } => {
                if *signed {
                    return err(pos, "signed literals are not supported");
                }
                if *value > u128::from(u64::MAX) {
                    return err(pos, "literal wider than 64 bits");
                }
                match width {
                    Some(w) if *w == 0 || *w > 64 => err(pos, format!("width {w} not supported (1..=64)")),
                    Some(w) => {
                        if *value as u64 & !mask(*w) != 0 {
                            return err(pos, format!("value {value} does not fit in {w} bits"));
                        }
                        Ok((Ex::K(*value as u64), Ty::Bit(*w)))
                    }
                    None => Ok((Ex::K(*value as u64), Ty::IntLit)),
                }
            }
            ExprKind::Bool(b) => Ok((Ex::K(*b as u64), Ty::Bool)),
            ExprKind::Str(_) => Ok((Ex::K(0), Ty::Str)),
            ExprKind::Name(n) => {
                if let Some(b) = self.lookup(n).cloned() {
                    return match b {
                        Bind::Place(p) if is_scalar(&p.ty) => Ok((Ex::S(p.slot), p.ty)),
                        Bind::Place(p) => err(pos, format!("`{n}` ({}) used as a value", self.ty_name(&p.ty))),
                        Bind::Const(v, t) => Ok((Ex::K(v), t)),
                        _ => err(pos, format!("`{n}` is not a value")),
                    };
                }
                err(pos, format!("unknown name `{n}`"))
            }
            ExprKind::Member(base, f) => {
                // Type members: error.X, Enum.X.
                if let ExprKind::Name(tn) = &base.kind {
                    if self.lookup(tn).is_none() {
                        if tn == "error" {
                            return match self.errors.iter().position(|x| x == f) {
                                Some(c) => Ok((Ex::K(c as u64), Ty::Error)),
                                None => err(pos, format!("unknown error `{f}`")),
                            };
                        }
                        if let Some(ms) = self.enums.get(tn) {
                            return match ms.iter().find(|m| &m.0 == f) {
                                Some((_, v, t)) => Ok((Ex::K(*v), t.clone())),
                                None => err(pos, format!("enum `{tn}` has no member `{f}`")),
                            };
                        }
                    }
                }
                if let Some(p) = self.place(e)? {
                    if is_scalar(&p.ty) {
                        return Ok((Ex::S(p.slot), p.ty));
                    }
                    return err(pos, format!("`{f}` ({}) used as a value", self.ty_name(&p.ty)));
                }
                if let Some(bp) = self.place(base)? {
                    if let Ty::Stack(_, n) = bp.ty {
                        return match f.as_str() {
                            "size" => Ok((Ex::K(u64::from(n)), Ty::Bit(32))),
                            "nextIndex" | "lastIndex" => {
                                let ex = Ex::S(bp.slot);
                                if f == "nextIndex" {
                                    Ok((ex, Ty::Bit(32)))
                                } else {
                                    Ok((Ex::Bin(BinOp::Sub, Box::new(ex), Box::new(Ex::K(1)), mask(32)), Ty::Bit(32)))
                                }
                            }
                            _ => err(pos, format!("header stacks have no member `{f}` in switch-sim")),
                        };
                    }
                    return err(pos, format!("`{}` has no field `{f}`", self.ty_name(&bp.ty)));
                }
                if self.table_apply(base)?.is_some() {
                    return err(pos, "table application is supported as a statement, `if (t.apply().hit)`, `if (t.apply().miss)` or `switch (t.apply().action_run)`");
                }
                err(pos, format!("cannot resolve `.{f}`"))
            }
            ExprKind::Index(..) => {
                let p = self.place(e)?.ok_or_else(|| SrcError { pos, message: "bad index expression".into() })?;
                if is_scalar(&p.ty) {
                    Ok((Ex::S(p.slot), p.ty))
                } else {
                    err(pos, "a header used as a value")
                }
            }
            ExprKind::Slice(b, h, l) => {
                let (eb, tb) = self.expr(b)?;
                let Ty::Bit(w) = tb else { return err(pos, "slices need a bit<N> operand") };
                let (eh, _) = self.expr(h)?;
                let (el, _) = self.expr(l)?;
                let (Some(hi), Some(lo)) = (const_eval(&eh), const_eval(&el)) else {
                    return err(pos, "slice bounds must be constants");
                };
                if hi < lo || hi >= u64::from(w) {
                    return err(pos, format!("slice [{hi}:{lo}] out of range for bit<{w}>"));
                }
                let rw = (hi - lo + 1) as u32;
                Ok((fold(Ex::Slice(Box::new(eb), lo as u32, mask(rw))), Ty::Bit(rw)))
            }
            ExprKind::Call { func, type_args, args } => self.call_expr(pos, func, type_args, args),
            ExprKind::Unary(op, a) => {
                let (ea, ta) = self.expr(a)?;
                match (*op, &ta) {
                    ("!", Ty::Bool) => Ok((fold(Ex::LNot(Box::new(ea))), Ty::Bool)),
                    ("~", Ty::Bit(w)) => Ok((fold(Ex::Not(Box::new(ea), mask(*w))), ta)),
                    ("-", Ty::Bit(w)) => Ok((fold(Ex::Neg(Box::new(ea), mask(*w))), ta)),
                    ("-", Ty::IntLit) => Ok((fold(Ex::Neg(Box::new(ea), u64::MAX)), ta)),
                    ("+", Ty::Bit(_) | Ty::IntLit) => Ok((ea, ta)),
                    ("~", Ty::IntLit) => err(pos, "`~` needs a sized operand"),
                    _ => err(pos, format!("operator `{op}` does not apply to {}", self.ty_name(&ta))),
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(pos, op, a, b),
            ExprKind::Cond(c, a, b) => {
                let (ec, tc) = self.expr(c)?;
                if tc != Ty::Bool {
                    return err(c.pos, "condition must be bool");
                }
                let (xa, xb) = (self.expr(a)?, self.expr(b)?);
                let (ea, eb, t) = self.unify(xa, xb, pos)?;
                if t == Ty::IntLit {
                    return err(pos, "`?:` with two unsized literals: give one a width");
                }
                Ok((fold(Ex::Cond(Box::new(ec), Box::new(ea), Box::new(eb))), t))
            }
            ExprKind::Cast(t, a) => {
                let to = self.resolve_type(t, pos)?;
                let (ea, ta) = self.expr(a)?;
                match (&ta, &to) {
                    (Ty::Bit(_), Ty::Bit(w)) | (Ty::IntLit, Ty::Bit(w)) => Ok((fold(Ex::Mask(Box::new(ea), mask(*w))), to)),
                    (Ty::Bool, Ty::Bit(1)) | (Ty::Bit(1), Ty::Bool) => Ok((ea, to)),
                    (Ty::IntLit, Ty::Bool) => Ok((fold(Ex::Mask(Box::new(ea), 1)), to)),
                    _ if ta == to => Ok((ea, to)),
                    _ => err(pos, format!("cannot cast {} to {}", self.ty_name(&ta), self.ty_name(&to))),
                }
            }
            ExprKind::List(_) => err(pos, "a list expression is only allowed as an extern argument or struct value"),
            ExprKind::Default | ExprKind::Mask(..) | ExprKind::Range(..) => {
                err(pos, "keyset expression outside a select or entries")
            }
        }
    }

    fn binary(&mut self, pos: Pos, op: &str, a: &Expr, b: &Expr) -> SrcResult<(Ex, Ty)> {
        let la = self.expr(a)?;
        let lb = self.expr(b)?;
        let bin = |o: BinOp, x: Ex, y: Ex, m: u64| fold(Ex::Bin(o, Box::new(x), Box::new(y), m));
        match op {
            "&&" | "||" => {
                if la.1 != Ty::Bool || lb.1 != Ty::Bool {
                    return err(pos, format!("`{op}` needs bool operands"));
                }
                let o = if op == "&&" { BinOp::LAnd } else { BinOp::LOr };
                Ok((bin(o, la.0, lb.0, 1), Ty::Bool))
            }
            "<<" | ">>" => {
                let (ea, ta) = la;
                let (eb, tb) = lb;
                if !matches!(tb, Ty::Bit(_) | Ty::IntLit) {
                    return err(pos, "shift amount must be unsigned");
                }
                let m = match ta {
                    Ty::Bit(w) => mask(w),
                    Ty::IntLit => u64::MAX,
                    _ => return err(pos, "shift of a non-integer"),
                };
                let o = if op == "<<" { BinOp::Shl } else { BinOp::Shr };
                Ok((bin(o, ea, eb, m), ta))
            }
            "++" => {
                let (Ty::Bit(wa), Ty::Bit(wb)) = (&la.1, &lb.1) else {
                    return err(pos, "`++` needs sized bit<N> operands");
                };
                if wa + wb > 64 {
                    return err(pos, "concatenation wider than 64 bits is not supported");
                }
                let w = wa + wb;
                Ok((fold(Ex::Concat(Box::new(la.0), Box::new(lb.0), *wb)), Ty::Bit(w)))
            }
            _ => {
                let (ea, eb, t) = self.unify(la, lb, pos)?;
                let m = match &t {
                    Ty::Bit(w) => mask(*w),
                    _ => u64::MAX,
                };
                let cmp = matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=");
                if !cmp && !matches!(t, Ty::Bit(_) | Ty::IntLit) {
                    return err(pos, format!("`{op}` needs bit<N> operands, found {}", self.ty_name(&t)));
                }
                if matches!(op, "<" | "<=" | ">" | ">=") && !matches!(t, Ty::Bit(_) | Ty::IntLit) {
                    return err(pos, format!("`{op}` needs bit<N> operands"));
                }
                if cmp && !is_scalar(&t) && t != Ty::IntLit {
                    return err(pos, format!("`{op}` on {} is not supported", self.ty_name(&t)));
                }
                let o = match op {
                    "+" => BinOp::Add,
                    "-" => BinOp::Sub,
                    "*" => BinOp::Mul,
                    "/" => BinOp::Div,
                    "%" => BinOp::Mod,
                    "&" => BinOp::And,
                    "|" => BinOp::Or,
                    "^" => BinOp::Xor,
                    "|+|" => BinOp::SatAdd,
                    "|-|" => BinOp::SatSub,
                    "==" => BinOp::Eq,
                    "!=" => BinOp::Ne,
                    "<" => BinOp::Lt,
                    "<=" => BinOp::Le,
                    ">" => BinOp::Gt,
                    ">=" => BinOp::Ge,
                    _ => return err(pos, format!("operator `{op}` is not supported")),
                };
                Ok((bin(o, ea, eb, m), if cmp { Ty::Bool } else { t }))
            }
        }
    }

    fn call_expr(&mut self, pos: Pos, func: &Expr, targs: &[TypeRef], args: &[Arg]) -> SrcResult<(Ex, Ty)> {
        if let ExprKind::Member(obj, m) = &func.kind {
            if let ExprKind::Name(n) = &obj.kind {
                if matches!(self.lookup(n), Some(Bind::PacketIn)) && m == "lookahead" {
                    if self.ctx != Ctx::Parser {
                        return err(pos, "lookahead outside a parser");
                    }
                    let [t] = targs else { return err(pos, "lookahead needs one type argument") };
                    let ty = self.resolve_type(t, pos)?;
                    let Ty::Bit(w) = ty else {
                        return err(pos, "lookahead<T>: switch-sim supports only bit<N> (take fields with slices)");
                    };
                    return Ok((Ex::Look(w), ty));
                }
                if matches!(self.lookup(n), Some(Bind::Table(_))) {
                    return err(pos, "table application is supported as a statement, `if (t.apply().hit)`, `if (t.apply().miss)` or `switch (t.apply().action_run)`");
                }
            }
            if m == "isValid" {
                let Some(p) = self.place(obj)? else { return err(pos, "isValid on something that is not a header") };
                if !matches!(p.ty, Ty::Header(_)) {
                    return err(pos, "isValid on something that is not a header");
                }
                return Ok((Ex::S(p.slot), Ty::Bool));
            }
        }
        if let ExprKind::Member(inner, m) = &func.kind {
            let _ = (inner, m);
        }
        let _ = args;
        err(pos, "this call cannot be used as a value (only isValid() and lookahead<bit<N>>() can)")
    }

    // ---- statements -----------------------------------------------------

    fn lvalue_assign(&mut self, pos: Pos, lhs: &Expr, rhs: &Expr, out: &mut Vec<St>) -> SrcResult<()> {
        if let ExprKind::Slice(b, h, l) = &lhs.kind {
            let Some(p) = self.place(b)? else { return err(pos, "slice assignment needs a field") };
            let Ty::Bit(w) = p.ty else { return err(pos, "slice of a non-bit field") };
            let (eh, _) = self.expr(h)?;
            let (el, _) = self.expr(l)?;
            let (Some(hi), Some(lo)) = (const_eval(&eh), const_eval(&el)) else {
                return err(pos, "slice bounds must be constants");
            };
            if hi < lo || hi >= u64::from(w) {
                return err(pos, "slice out of range");
            }
            let rw = (hi - lo + 1) as u32;
            let (er, tr) = self.expr(rhs)?;
            let er = self.coerce(er, &tr, &Ty::Bit(rw), rhs.pos)?;
            out.push(St::SetSlice(p.slot, lo as u32, mask(rw), er));
            return Ok(());
        }
        let Some(p) = self.place(lhs)? else { return err(lhs.pos, "left side of `=` is not assignable") };
        if is_scalar(&p.ty) {
            let (er, tr) = self.expr(rhs)?;
            let er = self.coerce(er, &tr, &p.ty, rhs.pos)?;
            out.push(St::Set(p.slot, er));
            return Ok(());
        }
        // Header / struct assignment.
        if let ExprKind::List(items) = &rhs.kind {
            let fields = match &p.ty {
                Ty::Struct(i) | Ty::Header(i) => self.tinfo[*i].fields.clone(),
                _ => return err(pos, "list assigned to a non-struct"),
            };
            if items.len() != fields.len() {
                return err(rhs.pos, format!("{} values for {} fields", items.len(), fields.len()));
            }
            for ((fname, _), item) in fields.iter().zip(items) {
                let target = Expr { pos, kind: ExprKind::Member(Box::new(lhs.clone()), fname.clone()) };
                self.lvalue_assign(pos, &target, item, out)?;
            }
            if matches!(p.ty, Ty::Header(_)) {
                out.push(St::Set(p.slot, Ex::K(1)));
            }
            return Ok(());
        }
        let Some(src) = self.place(rhs)? else { return err(rhs.pos, "right side must be a header or struct of the same type") };
        if src.ty != p.ty {
            return err(pos, format!("assigning {} to {}", self.ty_name(&src.ty), self.ty_name(&p.ty)));
        }
        let n = self.size_of(&p.ty);
        out.push(St::Copy { dst: p.slot, src: src.slot, n });
        Ok(())
    }

    fn block(&mut self, b: &[Stmt]) -> SrcResult<Vec<St>> {
        self.scopes.push(HashMap::new());
        let mut out = Vec::new();
        let r = b.iter().try_for_each(|s| self.stmt(s, &mut out));
        self.scopes.pop();
        r.map(|_| out)
    }

    fn var_decl(&mut self, pos: Pos, ty: &TypeRef, name: &str, init: Option<&Expr>, out: &mut Vec<St>) -> SrcResult<()> {
        let t = self.resolve_type(ty, pos)?;
        if let Some(i) = init {
            // Evaluate the initializer before the name is visible.
            let slot = self.n_slots;
            let target = Place { ty: t.clone(), slot };
            self.alloc(&t);
            let mut tmp = Vec::new();
            self.scopes.push(HashMap::new());
            self.bind("$init", Bind::Place(target));
            let lhs = Expr { pos, kind: ExprKind::Name("$init".into()) };
            let r = self.lvalue_assign(pos, &lhs, i, &mut tmp);
            self.scopes.pop();
            r?;
            out.extend(tmp);
            self.bind(name, Bind::Place(Place { ty: t, slot }));
        } else {
            let slot = self.alloc(&t);
            out.push(St::Clear { dst: slot, n: self.size_of(&t) });
            self.bind(name, Bind::Place(Place { ty: t, slot }));
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt, out: &mut Vec<St>) -> SrcResult<()> {
        match s {
            Stmt::Empty => {}
            Stmt::Assign { pos, lhs, rhs } => self.lvalue_assign(*pos, lhs, rhs, out)?,
            Stmt::Var { pos, ty, name, init } => self.var_decl(*pos, ty, name, init.as_ref(), out)?,
            Stmt::Const { pos, ty, name, init } => {
                let t = self.resolve_type(ty, *pos)?;
                let (e, te) = self.expr(init)?;
                let e = self.coerce(e, &te, &t, init.pos)?;
                let Some(v) = const_eval(&e) else { return err(*pos, "const initializer must be a constant") };
                self.bind(name, Bind::Const(v, t));
            }
            Stmt::Block(b) => out.push(St::Block(self.block(b)?)),
            Stmt::If { pos, cond, then, els } => {
                if let Some((table, hit)) = self.table_hit_pattern(cond)? {
                    let t = self.block(std::slice::from_ref(then))?;
                    let e = match els {
                        Some(e) => self.block(std::slice::from_ref(e))?,
                        None => Vec::new(),
                    };
                    let (on_hit, on_miss) = if hit { (t, e) } else { (e, t) };
                    out.push(St::Apply(Box::new(ApplySt {
                        table,
                        on_hit: Some(on_hit),
                        on_miss: Some(on_miss),
                        by_action: Vec::new(),
                        default_arm: None,
                    })));
                    return Ok(());
                }
                let (c, tc) = self.expr(cond)?;
                if tc != Ty::Bool {
                    return err(*pos, format!("if condition must be bool, found {}", self.ty_name(&tc)));
                }
                let t = self.block(std::slice::from_ref(then))?;
                let e = match els {
                    Some(e) => self.block(std::slice::from_ref(e))?,
                    None => Vec::new(),
                };
                match const_eval(&c) {
                    Some(0) => out.push(St::Block(e)),
                    Some(_) => out.push(St::Block(t)),
                    None => out.push(St::If(c, t, e)),
                }
            }
            Stmt::Switch { pos, expr, cases } => self.switch(*pos, expr, cases, out)?,
            Stmt::Exit(_) => out.push(St::Exit),
            Stmt::Return(pos, v) => {
                if v.is_some() {
                    return err(*pos, "return with a value (functions are not supported)");
                }
                out.push(St::Return)
            }
            Stmt::Call { pos, call } => self.call_stmt(*pos, call, out)?,
        }
        Ok(())
    }

    /// `t.apply().hit`, `t.apply().miss`, `!t.apply().hit`.
    fn table_hit_pattern(&mut self, cond: &Expr) -> SrcResult<Option<(usize, bool)>> {
        if let ExprKind::Unary("!", inner) = &cond.kind {
            return Ok(self.table_hit_pattern(inner)?.map(|(t, h)| (t, !h)));
        }
        if let ExprKind::Member(call, m) = &cond.kind {
            if m == "hit" || m == "miss" {
                if let Some(t) = self.table_apply(call)? {
                    return Ok(Some((t, m == "hit")));
                }
            }
        }
        Ok(None)
    }

    fn table_apply(&mut self, e: &Expr) -> SrcResult<Option<usize>> {
        if let ExprKind::Call { func, args, .. } = &e.kind {
            if let ExprKind::Member(obj, m) = &func.kind {
                if m == "apply" {
                    if let ExprKind::Name(n) = &obj.kind {
                        if let Some(Bind::Table(t)) = self.lookup(n).cloned() {
                            if !args.is_empty() {
                                return err(e.pos, "apply() takes no arguments");
                            }
                            if !self.applied.insert(t) {
                                return err(e.pos, format!("table `{n}` is applied more than once; bmv2 (p4c-bm2-ss) allows one application per table"));
                            }
                            return Ok(Some(t));
                        }
                        if self.lookup(n).is_none() {
                            return err(obj.pos, format!("unknown table `{n}`"));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    fn switch(&mut self, pos: Pos, expr: &Expr, cases: &[SwitchCase], out: &mut Vec<St>) -> SrcResult<()> {
        if let ExprKind::Member(call, m) = &expr.kind {
            if m == "action_run" {
                let Some(t) = self.table_apply(call)? else { return err(pos, "action_run of something that is not a table") };
                let mut by_action = Vec::new();
                let mut default_arm = None;
                let mut pending: Vec<usize> = Vec::new();
                for c in cases {
                    match &c.label {
                        None => {
                            let Some(b) = &c.body else { return err(c.pos, "default needs a body") };
                            default_arm = Some(self.block(b)?);
                        }
                        Some(l) => {
                            let ExprKind::Name(an) = &l.kind else { return err(l.pos, "switch label must be an action name") };
                            let Some(a) = self.tables[t]
                                .actions
                                .iter()
                                .copied()
                                .find(|a| self.actions[*a].name.rsplit('.').next() == Some(an.as_str()))
                            else {
                                return err(l.pos, format!("`{an}` is not an action of table {}", self.tables[t].name));
                            };
                            pending.push(a);
                            if let Some(b) = &c.body {
                                by_action.push((std::mem::take(&mut pending), self.block(b)?));
                            }
                        }
                    }
                }
                out.push(St::Apply(Box::new(ApplySt { table: t, on_hit: None, on_miss: None, by_action, default_arm })));
                return Ok(());
            }
        }
        let (e, te) = self.expr(expr)?;
        if !matches!(te, Ty::Bit(_) | Ty::Enum(_) | Ty::Error) {
            return err(pos, "switch needs a bit<N>, enum or error value");
        }
        let mut arms = Vec::new();
        let mut default = Vec::new();
        let mut pending = Vec::new();
        for c in cases {
            match &c.label {
                None => {
                    if let Some(b) = &c.body {
                        default = self.block(b)?;
                    }
                }
                Some(l) => {
                    let (le, lt) = self.expr(l)?;
                    let le = self.coerce(le, &lt, &te, l.pos)?;
                    let Some(v) = const_eval(&le) else { return err(l.pos, "switch label must be a constant") };
                    pending.push(v);
                    if let Some(b) = &c.body {
                        arms.push((std::mem::take(&mut pending), self.block(b)?));
                    }
                }
            }
        }
        out.push(St::Switch(e, arms, default));
        Ok(())
    }

    fn field_list(&mut self, e: &Expr) -> SrcResult<(FieldList, Vec<String>)> {
        let mut list = Vec::new();
        let mut names = Vec::new();
        let items: Vec<Expr> = match &e.kind {
            ExprKind::List(items) => items.clone(),
            _ => vec![e.clone()],
        };
        for it in &items {
            if let Some(p) = self.place(it)? {
                match &p.ty {
                    Ty::Header(h) | Ty::Struct(h) => {
                        let fields = self.tinfo[*h].fields.clone();
                        let mut off = if matches!(p.ty, Ty::Header(_)) { 1 } else { 0 };
                        for (n, t) in fields {
                            if !is_scalar(&t) {
                                return err(it.pos, "nested headers in a field list are not supported");
                            }
                            list.push((Ex::S(p.slot + off), width_of(&t)));
                            names.push(n);
                            off += 1;
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            let (ex, t) = self.expr(it)?;
            let w = match t {
                Ty::Bit(w) => w,
                Ty::Bool => 1,
                _ => return err(it.pos, "field list items must be sized bit<N> values (write 8w0, not 0)"),
            };
            list.push((ex, w));
            names.push(expr_text(it));
        }
        Ok((list, names))
    }

    fn algo(&mut self, e: &Expr) -> SrcResult<HashAlgo> {
        if let ExprKind::Member(b, m) = &e.kind {
            if matches!(&b.kind, ExprKind::Name(n) if n == "HashAlgorithm") {
                return match m.as_str() {
                    "crc32" => Ok(HashAlgo::Crc32),
                    "crc16" => Ok(HashAlgo::Crc16),
                    "identity" => Ok(HashAlgo::Identity),
                    "csum16" => Ok(HashAlgo::Csum16),
                    "xor16" => Ok(HashAlgo::Xor16),
                    other => err(e.pos, format!("HashAlgorithm.{other} is not supported")),
                };
            }
        }
        err(e.pos, "expected HashAlgorithm.<name>")
    }

    fn rvalue_to(&mut self, e: &Expr, t: &Ty) -> SrcResult<Ex> {
        let (x, tx) = self.expr(e)?;
        self.coerce(x, &tx, t, e.pos)
    }

    fn call_stmt(&mut self, pos: Pos, call: &Expr, out: &mut Vec<St>) -> SrcResult<()> {
        let ExprKind::Call { func, type_args, args } = &call.kind else { return err(pos, "expected a call") };
        let a = |i: usize| -> SrcResult<&Expr> {
            args.get(i).map(|x| &x.value).ok_or_else(|| SrcError { pos, message: format!("missing argument {}", i + 1) })
        };
        match &func.kind {
            ExprKind::Name(n) => {
                if let Some(Bind::Action(act)) = self.lookup(n).cloned() {
                    return self.action_call(pos, act, args, out);
                }
                if self.lookup(n).is_some() {
                    return err(pos, format!("`{n}` is not callable"));
                }
                if !EXTERN_FUNCS.contains(&n.as_str()) && self.extern_funcs.contains(n) {
                    return err(
                        pos,
                        format!("`{n}` (a v1model extern) is not supported by switch-sim (it implements {})", EXTERN_FUNCS.join(", ")),
                    );
                }
                if !EXTERN_FUNCS.contains(&n.as_str()) || !self.extern_funcs.contains(n) {
                    return err(
                        pos,
                        format!("unknown function `{n}` (switch-sim implements {})", EXTERN_FUNCS.join(", ")),
                    );
                }
                match n.as_str() {
                    "mark_to_drop" => out.push(St::MarkToDrop),
                    "verify" => {
                        if self.ctx != Ctx::Parser {
                            return err(pos, "verify() outside a parser");
                        }
                        let c = self.rvalue_to(a(0)?, &Ty::Bool)?;
                        let (e, t) = self.expr(a(1)?)?;
                        if t != Ty::Error {
                            return err(pos, "verify needs an error");
                        }
                        let Some(code) = const_eval(&e) else { return err(pos, "error must be constant") };
                        out.push(St::Verify(c, code));
                    }
                    "assert" | "assume" => {
                        let c = self.rvalue_to(a(0)?, &Ty::Bool)?;
                        out.push(St::Assert(c));
                    }
                    "log_msg" => {}
                    "truncate" => {
                        let e = self.rvalue_to(a(0)?, &Ty::Bit(32))?;
                        out.push(St::Truncate(e));
                    }
                    "hash" => {
                        let Some(dst) = self.place(a(0)?)? else { return err(pos, "hash result must be a field") };
                        let Ty::Bit(w) = dst.ty else { return err(pos, "hash result must be bit<N>") };
                        let algo = self.algo(a(1)?)?;
                        let (base, tb) = self.expr(a(2)?)?;
                        if !matches!(tb, Ty::Bit(_) | Ty::IntLit) {
                            return err(pos, "hash base must be bit<N>");
                        }
                        let (data, _) = self.field_list(a(3)?)?;
                        let bits: u32 = data.iter().map(|d| d.1).sum();
                        if bits % 8 != 0 {
                            return err(pos, format!("hash input of {bits} bits: switch-sim needs whole bytes"));
                        }
                        let (max, tm) = self.expr(a(4)?)?;
                        if !matches!(tm, Ty::Bit(_) | Ty::IntLit) {
                            return err(pos, "hash max must be bit<N>");
                        }
                        out.push(St::Hash(Box::new(HashSt { dst: dst.slot, dst_mask: mask(w), algo, base, data, max })));
                    }
                    "digest" => {
                        let receiver = self.rvalue_to(a(0)?, &Ty::Bit(32))?;
                        let (data, mut names) = self.field_list(a(1)?)?;
                        let mut type_name = String::from("digest");
                        if let Some(t) = type_args.first() {
                            let ty = self.resolve_type(t, pos)?;
                            if let Ty::Struct(i) = ty {
                                type_name = self.tinfo[i].name.clone();
                                if self.tinfo[i].fields.len() == names.len() {
                                    names = self.tinfo[i].fields.iter().map(|f| f.0.clone()).collect();
                                } else {
                                    return err(pos, format!("digest data has {} values, {} has {} fields", names.len(), type_name, self.tinfo[i].fields.len()));
                                }
                            }
                        } else if let Some(p) = self.place(a(1)?)? {
                            if let Ty::Struct(i) = p.ty {
                                type_name = self.tinfo[i].name.clone();
                            }
                        }
                        out.push(St::Digest(Box::new(DigestSt { receiver, type_name, names, data })));
                    }
                    "verify_checksum" | "update_checksum" | "verify_checksum_with_payload" | "update_checksum_with_payload" => {
                        let cond = self.rvalue_to(a(0)?, &Ty::Bool)?;
                        let (data, _) = self.field_list(a(1)?)?;
                        let Some(f) = self.place(a(2)?)? else { return err(pos, "checksum must be a field") };
                        let Ty::Bit(w) = f.ty else { return err(pos, "checksum must be bit<N>") };
                        let algo = self.algo(a(3)?)?;
                        out.push(St::Checksum(Box::new(ChecksumSt {
                            verify: n.starts_with("verify"),
                            with_payload: n.ends_with("payload"),
                            cond,
                            data,
                            field: f.slot,
                            width: w,
                            algo,
                        })));
                    }
                    _ => unreachable!("every EXTERN_FUNCS name is handled"),
                }
                Ok(())
            }
            ExprKind::Member(obj, m) => {
                if let Some(t) = self.table_apply(call)? {
                    out.push(St::Apply(Box::new(ApplySt { table: t, on_hit: None, on_miss: None, by_action: Vec::new(), default_arm: None })));
                    return Ok(());
                }
                // Extern object methods.
                if let ExprKind::Name(n) = &obj.kind {
                    match self.lookup(n).cloned() {
                        Some(Bind::PacketIn) => {
                            if self.ctx != Ctx::Parser {
                                return err(pos, "packet_in used outside the parser");
                            }
                            match m.as_str() {
                                "extract" => {
                                    if args.len() != 1 {
                                        return err(pos, "two-argument extract (varbit) is not supported");
                                    }
                                    let target = a(0)?;
                                    if let ExprKind::Member(st, nx) = &target.kind {
                                        if nx == "next" {
                                            if let Some(sp) = self.place(st)? {
                                                if let Ty::Stack(h, sz) = sp.ty {
                                                    out.push(St::ExtractNext(Box::new(self.stack_ref(h, sz, sp.slot))));
                                                    return Ok(());
                                                }
                                            }
                                        }
                                    }
                                    let Some(p) = self.place(target)? else { return err(pos, "extract needs a header") };
                                    let Ty::Header(h) = p.ty else { return err(pos, "extract needs a header") };
                                    out.push(St::Extract(self.header_ref(h, p.slot)));
                                }
                                "advance" => {
                                    let e = self.rvalue_to(a(0)?, &Ty::Bit(32))?;
                                    out.push(St::Advance(e));
                                }
                                "lookahead" => {}
                                other => return err(pos, format!("packet_in.{other} is not supported")),
                            }
                            return Ok(());
                        }
                        Some(Bind::PacketOut) => {
                            if m != "emit" {
                                return err(pos, format!("packet_out.{m} is not supported"));
                            }
                            let target = a(0)?;
                            let Some(p) = self.place(target)? else { return err(pos, "emit needs a header, stack or struct") };
                            self.emit(pos, &p, out)?;
                            return Ok(());
                        }
                        Some(Bind::Counter(c)) => {
                            if m != "count" {
                                return err(pos, format!("counter.{m} is not supported"));
                            }
                            let idx = self.counter_index.get(&c).cloned();
                            let e = self.index_arg(a(0)?, idx, "count")?;
                            out.push(St::Count(c, e));
                            return Ok(());
                        }
                        Some(Bind::DirectCounter(_)) => {
                            // bmv2 counts direct counters on every hit; count() is a no-op.
                            if m != "count" {
                                return err(pos, format!("direct_counter.{m} is not supported"));
                            }
                            return Ok(());
                        }
                        Some(Bind::Register(r)) => {
                            let w = self.registers[r].width;
                            match m.as_str() {
                                "read" => {
                                    let Some(dst) = self.place(a(0)?)? else { return err(pos, "read needs a field") };
                                    if dst.ty != Ty::Bit(w) {
                                        return err(pos, format!("register holds bit<{w}>, destination is {}", self.ty_name(&dst.ty)));
                                    }
                                    let idx = self.register_index.get(&r).cloned();
                                    let i = self.index_arg(a(1)?, idx, "read")?;
                                    out.push(St::RegRead(dst.slot, mask(w), r, i));
                                }
                                "write" => {
                                    let idx = self.register_index.get(&r).cloned();
                                    let i = self.index_arg(a(0)?, idx, "write")?;
                                    let v = self.rvalue_to(a(1)?, &Ty::Bit(w))?;
                                    out.push(St::RegWrite(r, i, v));
                                }
                                other => return err(pos, format!("register.{other} is not supported")),
                            }
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                let Some(p) = self.place(obj)? else { return err(pos, format!("cannot call `.{m}` here")) };
                match (&p.ty, m.as_str()) {
                    (Ty::Header(h), "setValid") => {
                        let _ = h;
                        out.push(St::Set(p.slot, Ex::K(1)));
                    }
                    (Ty::Header(_), "setInvalid") => out.push(St::Set(p.slot, Ex::K(0))),
                    (Ty::Header(_), "isValid") => {}
                    (Ty::Stack(h, n), "push_front" | "pop_front") => {
                        let (e, _) = self.expr(a(0)?)?;
                        let Some(k) = const_eval(&e) else { return err(pos, "push/pop count must be a constant") };
                        let sr = Box::new(self.stack_ref(*h, *n, p.slot));
                        out.push(if m == "push_front" { St::PushFront(sr, k as u32) } else { St::PopFront(sr, k as u32) });
                    }
                    (t, _) => return err(pos, format!("`{}` has no method `{m}` in switch-sim", self.ty_name(t))),
                }
                Ok(())
            }
            _ => err(pos, "unsupported call"),
        }
    }

    fn emit(&mut self, pos: Pos, p: &Place, out: &mut Vec<St>) -> SrcResult<()> {
        match &p.ty {
            Ty::Header(h) => out.push(St::Emit(self.header_ref(*h, p.slot))),
            Ty::Stack(h, n) => out.push(St::EmitStack(Box::new(self.stack_ref(*h, *n, p.slot)))),
            Ty::Struct(s) => {
                let mut off = 0;
                for (_, t) in self.tinfo[*s].fields.clone() {
                    self.emit(pos, &Place { ty: t.clone(), slot: p.slot + off }, out)?;
                    off += self.size_of(&t);
                }
            }
            t => return err(pos, format!("cannot emit {}", self.ty_name(t))),
        }
        Ok(())
    }

    fn action_call(&mut self, pos: Pos, act: usize, args: &[Arg], out: &mut Vec<St>) -> SrcResult<()> {
        if self.ctx == Ctx::Parser {
            return err(pos, "actions cannot be called from a parser");
        }
        let params = self.actions[act].params.clone();
        let dirs = self.action_dirs[act].clone();
        if args.len() != params.len() {
            return err(pos, format!("{} takes {} arguments, {} given", self.actions[act].name, params.len(), args.len()));
        }
        let mut exs = Vec::new();
        let mut copy_out = Vec::new();
        for ((pd, d), arg) in params.iter().zip(&dirs).zip(args) {
            let ty = Ty::Bit(pd.width);
            match d {
                Direction::Out | Direction::InOut => {
                    let Some(pl) = self.place(&arg.value)? else { return err(arg.value.pos, "out/inout argument must be a field") };
                    if !is_scalar(&pl.ty) || width_of(&pl.ty) != pd.width {
                        return err(arg.value.pos, "out/inout argument type mismatch");
                    }
                    exs.push(Ex::S(pl.slot));
                    copy_out.push((pd.slot, pl.slot));
                }
                _ => exs.push(self.rvalue_to(&arg.value, &ty)?),
            }
        }
        out.push(St::Call(Box::new(CallSt { action: act, args: exs, copy_out })));
        Ok(())
    }

    // ---- declarations ---------------------------------------------------

    fn action_decl(&mut self, a: &ActionDecl) -> SrcResult<usize> {
        let name = match un_name(&a.annotations) {
            Some(n) if n.starts_with('.') => n[1..].to_string(),
            Some(n) => format!("{}{n}", self.prefix),
            None => format!("{}{}", self.prefix, a.name),
        };
        self.scopes.push(HashMap::new());
        let saved = self.ctx;
        self.ctx = Ctx::Action;
        let mut params = Vec::new();
        let mut dirs = Vec::new();
        for p in &a.params {
            let t = self.resolve_type(&p.ty, p.pos)?;
            let w = match t {
                Ty::Bit(w) => w,
                Ty::Bool => 1,
                _ => return err(p.pos, "action parameters must be bit<N> or bool"),
            };
            let slot = self.alloc(&t);
            self.bind(&p.name, Bind::Place(Place { ty: t, slot }));
            params.push(ParamDef { name: p.name.clone(), slot, width: w });
            dirs.push(p.dir);
        }
        let body = self.block(&a.body);
        let mut fields = HashMap::new();
        if body.is_ok() {
            self.assigned_fields(&a.body, &mut fields);
        }
        self.ctx = saved;
        self.scopes.pop();
        let body = body?;
        if let Some((slot, n)) = crate::guard::worst_chain(&body, &self.actions) {
            if n > crate::guard::MAX_CHAINED_REASSIGNMENTS {
                let field = fields.get(&slot).map(|f| format!("`{f}`")).unwrap_or_else(|| "one field".into());
                self.warnings.push(SrcError {
                    pos: a.pos,
                    message: format!(
                        "action `{}`: {field} is reassigned {n} times in a chain (each time from fields the action \
                         assigned before, actions it calls inlined); p4c's LocalCopyPropagation is exponential in \
                         such chains and does not finish in reasonable time beyond {} (4 SipRounds; p4c 1.2.4.9: \
                         2 rounds 1 s, 4 rounds 8 s, 6 rounds over 300 s): split it into actions the apply block \
                         calls one after the other (docs/P4.md)",
                        a.name,
                        crate::guard::MAX_CHAINED_REASSIGNMENTS
                    ),
                });
            }
        }
        self.actions.push(ActionDef { name, params, body });
        self.action_fields.push(fields);
        self.action_dirs.push(dirs);
        let idx = self.actions.len() - 1;
        self.bind(&a.name, Bind::Action(idx));
        Ok(idx)
    }

    /// The fields `body` assigns (and those of the actions it calls), by
    /// slot, with their source text: names for the guard's message.
    fn assigned_fields(&mut self, body: &[Stmt], out: &mut HashMap<Slot, String>) {
        for s in body {
            match s {
                Stmt::Assign { lhs, .. } => {
                    if let Ok(Some(p)) = self.place(lhs) {
                        let t = expr_text(lhs);
                        out.entry(p.slot).or_insert(t);
                    }
                }
                Stmt::Call { call, .. } => {
                    if let ExprKind::Call { func, .. } = &call.kind {
                        if let ExprKind::Name(n) = &func.kind {
                            if let Some(Bind::Action(k)) = self.lookup(n) {
                                for (slot, t) in self.action_fields.get(*k).cloned().unwrap_or_default() {
                                    out.entry(slot).or_insert(t);
                                }
                            }
                        }
                    }
                }
                Stmt::If { then, els, .. } => {
                    self.assigned_fields(std::slice::from_ref(then), out);
                    if let Some(e) = els {
                        self.assigned_fields(std::slice::from_ref(e), out);
                    }
                }
                Stmt::Block(b) => self.assigned_fields(b, out),
                _ => {}
            }
        }
    }

    fn const_arg(&mut self, e: &Expr, w: u32) -> SrcResult<u64> {
        let x = self.rvalue_to(e, &Ty::Bit(w))?;
        const_eval(&x).ok_or_else(|| SrcError { pos: e.pos, message: "action data must be a constant".into() })
    }

    fn action_ref(&mut self, r: &ActionRef, allowed: &[usize]) -> SrcResult<(usize, Vec<u64>)> {
        let name = r.name.trim_start_matches('.');
        let Some(Bind::Action(a)) = self.lookup(name).cloned() else {
            return err(r.pos, format!("unknown action `{}`", r.name));
        };
        if !allowed.is_empty() && !allowed.contains(&a) {
            return err(r.pos, format!("action `{}` is not in the table's actions", r.name));
        }
        let params = self.actions[a].params.clone();
        if r.args.len() != params.len() {
            return err(r.pos, format!("`{}` takes {} arguments", r.name, params.len()));
        }
        let mut vals = Vec::new();
        for (p, arg) in params.iter().zip(&r.args) {
            vals.push(self.const_arg(&arg.value, p.width)?);
        }
        Ok((a, vals))
    }

    fn table_decl(&mut self, t: &TableDecl) -> SrcResult<()> {
        let name = match un_name(&t.annotations) {
            Some(n) if n.starts_with('.') => n[1..].to_string(),
            Some(n) => format!("{}{n}", self.prefix),
            None => format!("{}{}", self.prefix, t.name),
        };
        let mut keys = Vec::new();
        let mut actions = Vec::new();
        let mut default_only = Vec::new();
        let mut table_only = Vec::new();
        let mut default_action = None;
        let mut const_default = false;
        let mut size = 1024usize;
        let mut support_timeout = false;
        let mut direct_counter = None;
        let mut entries_ast = None;
        let mut const_entries = false;
        for p in &t.props {
            match p {
                TableProp::Key(ks) => {
                    for k in ks {
                        let (ex, ty) = self.expr(&k.expr)?;
                        let width = match ty {
                            Ty::Bit(w) => w,
                            Ty::Bool => 1,
                            Ty::Error | Ty::Enum(_) => 32,
                            _ => return err(k.pos, "table keys must be bit<N>, bool, error or enum values"),
                        };
                        let kind = match k.match_kind.as_str() {
                            "exact" => MatchKind::Exact,
                            "lpm" => MatchKind::Lpm,
                            "ternary" => MatchKind::Ternary,
                            "range" => MatchKind::Range,
                            "optional" => MatchKind::Optional,
                            other => return err(k.pos, format!("match kind `{other}` is not supported")),
                        };
                        let kname = un_name(&k.annotations).unwrap_or_else(|| k.text.clone());
                        keys.push(KeyDef { name: kname, kind, width, expr: ex });
                    }
                    let total: u32 = keys.iter().map(|k| k.width).sum();
                    if total > 128 {
                        return err(t.pos, format!("table {name}: keys of {total} bits; switch-sim supports up to 128"));
                    }
                }
                TableProp::Actions(refs) => {
                    for r in refs {
                        if !r.args.is_empty() {
                            return err(r.pos, "action arguments in an actions list are not supported");
                        }
                        let (a, _) = match self.lookup(r.name.trim_start_matches('.')).cloned() {
                            Some(Bind::Action(a)) => (a, ()),
                            _ => return err(r.pos, format!("unknown action `{}`", r.name)),
                        };
                        actions.push(a);
                        if r.annotations.iter().any(|x| x.name == "defaultonly") {
                            default_only.push(a);
                        }
                        if r.annotations.iter().any(|x| x.name == "tableonly") {
                            table_only.push(a);
                        }
                    }
                }
                TableProp::DefaultAction { is_const, action, .. } => {
                    default_action = Some(action.clone());
                    const_default = *is_const;
                }
                TableProp::Entries { pos, is_const, entries } => {
                    if !is_const {
                        let _ = pos;
                    }
                    const_entries = *is_const;
                    entries_ast = Some(entries.clone());
                }
                TableProp::Other { pos, name: pn, value } => match pn.as_str() {
                    "size" => {
                        let (e, _) = self.expr(value)?;
                        size = const_eval(&e).ok_or_else(|| SrcError { pos: *pos, message: "size must be a constant".into() })? as usize;
                    }
                    "support_timeout" => {
                        let (e, _) = self.expr(value)?;
                        support_timeout = const_eval(&e) == Some(1);
                    }
                    "counters" => {
                        let ExprKind::Name(n) = &value.kind else { return err(*pos, "counters = <direct_counter name>") };
                        match self.lookup(n) {
                            Some(Bind::DirectCounter(c)) => direct_counter = Some(*c),
                            _ => return err(*pos, format!("`{n}` is not a direct_counter")),
                        }
                    }
                    other => return err(*pos, format!("table property `{other}` is not supported")),
                },
            }
        }
        let default_action = match default_action {
            Some(r) => self.action_ref(&r, &actions)?,
            None => {
                let Some(Bind::Action(a)) = self.lookup("NoAction").cloned() else {
                    return err(t.pos, "no default_action and no NoAction");
                };
                (a, Vec::new())
            }
        };
        let mut def = TableDef {
            name,
            keys,
            actions,
            default_only,
            table_only,
            default_action,
            const_default,
            size,
            support_timeout,
            direct_counter,
            const_entries,
            entries: Vec::new(),
        };
        if let Some(es) = entries_ast {
            let n = es.len() as i32;
            for (i, ce) in es.iter().enumerate() {
                if ce.keys.len() != def.keys.len() {
                    return err(ce.pos, format!("{} key values for {} keys", ce.keys.len(), def.keys.len()));
                }
                let mut matches = Vec::new();
                for (k, kd) in ce.keys.iter().zip(&def.keys) {
                    matches.push(self.entry_match(k, kd.kind, kd.width)?);
                }
                let (action, args) = self.action_ref(&ce.action, &def.actions)?;
                let priority = match &ce.priority {
                    Some(p) => self.const_arg(p, 31)? as i32,
                    // Earlier entries win: P4Runtime priorities are highest first.
                    None => n - i as i32,
                };
                def.entries.push(EntrySpec { matches, priority, action, args, idle_timeout_ns: 0 });
            }
        }
        self.tables.push(def);
        self.bind(&t.name, Bind::Table(self.tables.len() - 1));
        Ok(())
    }

    fn entry_match(&mut self, k: &Expr, kind: MatchKind, w: u32) -> SrcResult<FieldMatch> {
        Ok(match (&k.kind, kind) {
            (ExprKind::Default, MatchKind::Ternary) => FieldMatch::Ternary { value: 0, mask: 0 },
            (ExprKind::Default, MatchKind::Lpm) => FieldMatch::Lpm { value: 0, prefix_len: 0 },
            (ExprKind::Default, MatchKind::Optional) => FieldMatch::Optional(None),
            (ExprKind::Default, MatchKind::Range) => FieldMatch::Range { low: 0, high: mask(w) },
            (ExprKind::Mask(v, m), MatchKind::Ternary) => {
                let (v, m) = (self.const_arg(v, w)?, self.const_arg(m, w)?);
                FieldMatch::Ternary { value: v & m, mask: m }
            }
            (ExprKind::Mask(v, m), MatchKind::Lpm) => {
                let (v, m) = (self.const_arg(v, w)?, self.const_arg(m, w)?);
                let plen = m.count_ones();
                if m != (if plen == 0 { 0 } else { mask(w) & !mask(w - plen) }) {
                    return err(k.pos, "lpm mask must be a prefix");
                }
                FieldMatch::Lpm { value: v & m, prefix_len: plen }
            }
            (ExprKind::Range(a, b), MatchKind::Range) => {
                FieldMatch::Range { low: self.const_arg(a, w)?, high: self.const_arg(b, w)? }
            }
            (_, MatchKind::Exact) => FieldMatch::Exact(self.const_arg(k, w)?),
            (_, MatchKind::Ternary) => FieldMatch::Ternary { value: self.const_arg(k, w)?, mask: mask(w) },
            (_, MatchKind::Lpm) => FieldMatch::Lpm { value: self.const_arg(k, w)?, prefix_len: w },
            (_, MatchKind::Optional) => FieldMatch::Optional(Some(self.const_arg(k, w)?)),
            (_, MatchKind::Range) => {
                let v = self.const_arg(k, w)?;
                FieldMatch::Range { low: v, high: v }
            }
        })
    }

    /// V1MODEL_VERSION as the included v1model.p4 recorded it.
    fn v1model_version(&self) -> String {
        match self.scopes.first().and_then(|s| s.get("__v1model_version")) {
            Some(Bind::Const(v, _)) => v.to_string(),
            _ => "an unknown V1MODEL_VERSION (no v1model.p4 included)".into(),
        }
    }

    /// Checks an instance's type arguments against its extern's declaration
    /// and returns the index type of `method` (its parameter `index`): a
    /// type parameter takes the matching type argument, or stays unbound
    /// when the instance gave none (`counter(...)` of a generic `counter<I>`).
    fn index_ty(&mut self, ext: &str, method: &str, targs: &[TypeRef], pos: Pos) -> SrcResult<(String, IndexTy)> {
        let Some(decl) = self.extern_decls.get(ext).cloned() else {
            return err(pos, format!("extern `{ext}` is not declared (#include <v1model.p4>)"));
        };
        let tp = &decl.type_params;
        let form = if tp.is_empty() { ext.to_string() } else { format!("{ext}<{}>", tp.join(", ")) };
        let at = format!("v1model.p4 at V1MODEL_VERSION {} declares `{form}`", self.v1model_version());
        if !targs.is_empty() && targs.len() != tp.len() {
            return err(
                pos,
                format!("type {ext} has {} type parameter(s), but it is specialized with {} ({at})", tp.len(), targs.len()),
            );
        }
        let Some(m) = decl.methods.iter().find(|m| m.name == method) else {
            return err(pos, format!("extern `{ext}` has no method `{method}` ({at})"));
        };
        let Some(p) = m.params.iter().find(|p| p.name == "index") else {
            return err(pos, format!("`{ext}.{method}` has no `index` parameter"));
        };
        let ty = match &p.ty {
            TypeRef::Named(n, a) if a.is_empty() && tp.contains(n) => {
                let k = tp.iter().position(|t| t == n).expect("checked above");
                match targs.get(k) {
                    Some(t) => self.resolve_type(t, pos)?,
                    None => return Ok((form, IndexTy::Unbound(n.clone()))),
                }
            }
            t => {
                let t = t.clone();
                self.resolve_type(&t, pos)?
            }
        };
        match ty {
            Ty::Bit(w) => Ok((form, IndexTy::Bits(w))),
            t => err(pos, format!("`{ext}` index type {} is not supported (bit<N> only)", self.ty_name(&t))),
        }
    }

    /// An index argument of counter.count / register.read / write, of
    /// exactly the declared index type (an integer literal converts), as
    /// p4c's type checker demands.
    fn index_arg(&mut self, arg: &Expr, idx: Option<(String, IndexTy)>, method: &str) -> SrcResult<Ex> {
        let (form, idx) = idx.unwrap_or_else(|| (String::from("extern"), IndexTy::Bits(32)));
        let (e, t) = self.expr(arg)?;
        match idx {
            IndexTy::Unbound(n) => err(
                arg.pos,
                format!(
                    "{method}: cannot cast implicitly type '{}' to type '{n}': v1model.p4 at V1MODEL_VERSION {} \
                     declares the generic `{form}`, and this instance has no type argument for `{n}` \
                     (instantiate it with one, or build at the default V1MODEL_VERSION)",
                    self.ty_name(&t),
                    self.v1model_version()
                ),
            ),
            IndexTy::Bits(w) => match t {
                Ty::Bit(x) if x == w => Ok(e),
                Ty::IntLit => self.rvalue_to(arg, &Ty::Bit(w)),
                t => err(
                    arg.pos,
                    format!(
                        "{method}: the index is {}, `{form}` takes bit<{w}> (v1model.p4 at V1MODEL_VERSION {}); cast it",
                        self.ty_name(&t),
                        self.v1model_version()
                    ),
                ),
            },
        }
    }

    fn instance(&mut self, i: &Instance) -> SrcResult<()> {
        let TypeRef::Named(tn, targs) = &i.ty else { return err(i.pos, "unsupported instantiation") };
        let name = format!("{}{}", self.prefix, un_name(&i.annotations).unwrap_or_else(|| i.name.clone()));
        let arg = |k: usize| i.args.get(k).map(|a| a.value.clone());
        match tn.as_str() {
            "counter" | "direct_counter" => {
                let direct = tn == "direct_counter";
                let (size, kind_e) = if direct {
                    (0, arg(0))
                } else {
                    let Some(s) = arg(0) else { return err(i.pos, "counter(size, type)") };
                    (self.const_arg(&s, 32)? as usize, arg(1))
                };
                let Some(k) = kind_e else { return err(i.pos, "counter needs a CounterType") };
                let kind = match &k.kind {
                    ExprKind::Member(_, m) if m == "packets" => CounterKind::Packets,
                    ExprKind::Member(_, m) if m == "bytes" => CounterKind::Bytes,
                    ExprKind::Member(_, m) if m == "packets_and_bytes" => CounterKind::PacketsAndBytes,
                    _ => return err(k.pos, "expected CounterType.<kind>"),
                };
                let idx = if direct {
                    if !targs.is_empty() {
                        return err(i.pos, format!("type direct_counter has 0 type parameter(s), but it is specialized with {}", targs.len()));
                    }
                    None
                } else {
                    Some(self.index_ty(tn, "count", targs, i.pos)?)
                };
                self.counters.push(CounterDef { name, size, kind, direct });
                let c = self.counters.len() - 1;
                if let Some(idx) = idx {
                    self.counter_index.insert(c, idx);
                }
                self.bind(&i.name, if direct { Bind::DirectCounter(c) } else { Bind::Counter(c) });
            }
            "register" => {
                let Some(TypeRef::Bit(w)) = targs.first() else { return err(i.pos, "register<bit<N>> is required") };
                if *w > 64 {
                    return err(i.pos, "registers wider than 64 bits are not supported");
                }
                let Some(s) = arg(0) else { return err(i.pos, "register(size)") };
                let size = self.const_arg(&s, 32)? as usize;
                let idx = self.index_ty(tn, "read", targs, i.pos)?;
                self.register_index.insert(self.registers.len(), idx);
                self.registers.push(RegisterDef { name, size, width: *w });
                self.bind(&i.name, Bind::Register(self.registers.len() - 1));
            }
            other => {
                return err(i.pos, format!("extern `{other}` is not supported by switch-sim"));
            }
        }
        Ok(())
    }

    fn control_body(&mut self, name: &str, params: &[Param], roots: &[Bind], locals: &[Local], body: &[Stmt]) -> SrcResult<Vec<St>> {
        self.scopes.push(HashMap::new());
        self.prefix = format!("{name}.");
        self.ctx = Ctx::Control;
        if params.len() != roots.len() {
            return err(params.first().map(|p| p.pos).unwrap_or_default(), format!("{name}: expected {} parameters for its V1Switch position", roots.len()));
        }
        for (p, r) in params.iter().zip(roots) {
            self.bind(&p.name, r.clone());
        }
        let mut init = Vec::new();
        for l in locals {
            match l {
                Local::Action(a) => {
                    self.action_decl(a)?;
                }
                Local::Table(t) => self.table_decl(t)?,
                Local::Instance(i) => self.instance(i)?,
                Local::Var(s) => self.stmt(s, &mut init)?,
            }
        }
        let mut out = init;
        out.extend(self.block(body)?);
        self.scopes.pop();
        self.prefix.clear();
        Ok(out)
    }

    fn parser_body(&mut self, params: &[Param], roots: &[Bind], locals: &[Local], states: &[ast::ParserState]) -> SrcResult<Vec<StateDef>> {
        self.scopes.push(HashMap::new());
        self.ctx = Ctx::Parser;
        for (p, r) in params.iter().zip(roots) {
            self.bind(&p.name, r.clone());
        }
        let mut init = Vec::new();
        for l in locals {
            match l {
                Local::Var(s) => self.stmt(s, &mut init)?,
                Local::Instance(i) => return err(i.pos, "instantiations inside a parser are not supported"),
                Local::Action(a) => return err(a.pos, "actions inside a parser are not supported"),
                Local::Table(t) => return err(t.pos, "tables inside a parser"),
            }
        }
        let mut order: Vec<&ast::ParserState> = Vec::new();
        let Some(start) = states.iter().find(|s| s.name == "start") else {
            return err(params.first().map(|p| p.pos).unwrap_or_default(), "parser has no start state");
        };
        order.push(start);
        order.extend(states.iter().filter(|s| s.name != "start"));
        let index: HashMap<&str, usize> = order.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let target = |pos: Pos, n: &str| -> SrcResult<Target> {
            match n {
                "accept" => Ok(Target::Accept),
                "reject" => Ok(Target::Reject),
                _ => index.get(n).map(|i| Target::State(*i)).ok_or_else(|| SrcError { pos, message: format!("unknown state `{n}`") }),
            }
        };
        let mut out = Vec::new();
        for (k, s) in order.iter().enumerate() {
            let mut body = if k == 0 { std::mem::take(&mut init) } else { Vec::new() };
            self.scopes.push(HashMap::new());
            for st in &s.stmts {
                if let Stmt::Call { call: Expr { kind: ExprKind::Call { func, .. }, .. }, pos } = st {
                    if let ExprKind::Member(o, m) = &func.kind {
                        if m == "apply" {
                            if let ExprKind::Name(_) = &o.kind {
                                return err(*pos, "sub-parser calls are not supported");
                            }
                        }
                    }
                }
                self.stmt(st, &mut body)?;
            }
            let trans = match &s.transition {
                None => Trans::Go(Target::Reject),
                Some(Transition::Goto(p, n)) => Trans::Go(target(*p, n)?),
                Some(Transition::Select { keys, cases, .. }) => {
                    let mut kx = Vec::new();
                    let mut widths = Vec::new();
                    for k in keys {
                        let (e, t) = self.expr(k)?;
                        if !is_scalar(&t) {
                            return err(k.pos, "select keys must be bit<N>, bool, error or enum values");
                        }
                        widths.push(t);
                        kx.push(e);
                    }
                    if kx.len() > 8 {
                        return err(keys[8].pos, "more than 8 select keys");
                    }
                    let mut cs = Vec::new();
                    for (ks, p, tname) in cases {
                        let items: Vec<Expr> = match &ks.kind {
                            ExprKind::List(v) => v.clone(),
                            ExprKind::Default => vec![ks.clone(); kx.len()],
                            _ => vec![ks.clone()],
                        };
                        if items.len() != kx.len() {
                            return err(ks.pos, format!("keyset has {} values for {} keys", items.len(), kx.len()));
                        }
                        let mut ms = Vec::new();
                        for (it, t) in items.iter().zip(&widths) {
                            let m = match &it.kind {
                                ExprKind::Default => KeyMatch::Any,
                                ExprKind::Mask(v, mk) => {
                                    let v = self.rvalue_to(v, t)?;
                                    let mk = self.rvalue_to(mk, t)?;
                                    match (const_eval(&v), const_eval(&mk)) {
                                        (Some(v), Some(m)) => KeyMatch::Mask(v, m),
                                        _ => return err(it.pos, "keyset values must be constants"),
                                    }
                                }
                                ExprKind::Range(a, b) => {
                                    let a = self.rvalue_to(a, t)?;
                                    let b = self.rvalue_to(b, t)?;
                                    match (const_eval(&a), const_eval(&b)) {
                                        (Some(a), Some(b)) => KeyMatch::Range(a, b),
                                        _ => return err(it.pos, "keyset values must be constants"),
                                    }
                                }
                                _ => {
                                    let v = self.rvalue_to(it, t)?;
                                    match const_eval(&v) {
                                        Some(v) => KeyMatch::Mask(v, u64::MAX),
                                        None => return err(it.pos, "keyset values must be constants (value_set is not supported)"),
                                    }
                                }
                            };
                            ms.push(m);
                        }
                        cs.push((ms, target(*p, tname)?));
                    }
                    Trans::Select(kx, cs)
                }
            };
            self.scopes.pop();
            out.push(StateDef { name: s.name.clone(), body, trans });
        }
        self.scopes.pop();
        Ok(out)
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
                    if header && !matches!(t, Ty::Bit(_)) {
                        return err(f.pos, "header fields must be bit<N> in switch-sim");
                    }
                    fs.push((f.name.clone(), t));
                }
                if header {
                    let bits: u32 = fs.iter().map(|f| width_of(&f.1)).sum();
                    if bits % 8 != 0 {
                        return err(*pos, format!("header {name} is {bits} bits, not whole bytes"));
                    }
                }
                c.tinfo.push(TypeInfo { name: name.clone(), header, fields: fs });
                let i = c.tinfo.len() - 1;
                c.types.insert(name.clone(), if header { Ty::Header(i) } else { Ty::Struct(i) });
            }
            Decl::HeaderUnion { pos, name } => return err(*pos, format!("header_union {name} is not supported")),
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
    let Decl::Parser { params: pp, locals: pl, states, pos: ppos, .. } = blocks[&names[0]] else {
        return err(main.pos, "V1Switch's first block must be a parser");
    };
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
    let check_types = |c: &mut Compiler, params: &[Param], want: &[&Ty]| -> SrcResult<()> {
        for (p, w) in params.iter().zip(want) {
            let t = c.resolve_type(&p.ty, p.pos)?;
            if &t != *w {
                return err(p.pos, format!("parameter `{}` is {}, V1Switch needs {}", p.name, c.ty_name(&t), c.ty_name(w)));
            }
        }
        Ok(())
    };
    let states = c.parser_body(pp, &[Bind::PacketIn, h.clone(), m.clone(), s.clone()], pl, states)?;
    let ctl = |c: &mut Compiler, i: usize, roots: Vec<Bind>, want: Vec<&Ty>| -> SrcResult<Vec<St>> {
        let Decl::Control { name, params, locals, body, pos } = blocks[&names[i]] else {
            return err(main.args[i].value.pos, format!("V1Switch block {} must be a control", i + 1));
        };
        let typed: Vec<Param> = params.iter().filter(|p| !matches!(&p.ty, TypeRef::Named(n, _) if n == "packet_out")).cloned().collect();
        check_types(c, &typed, &want)?;
        let _ = pos;
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
        std,
        errors: c.errors,
        warnings: c.warnings,
    };
    prog.optimize();
    Ok(prog)
}
