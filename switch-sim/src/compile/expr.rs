//! Expressions: places (lvalues), operators, method calls in
//! expressions, field lists, into IR expressions.

use super::*;

impl Compiler {
    pub(super) fn place(&mut self, e: &Expr) -> SrcResult<Option<Place>> {
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
                    Ty::Struct(i) | Ty::Union(i) => {
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
                            format!(
                                "`{f}` of a header stack is supported in `extract(stack.next)` and read in a parser \
                                 (`stack.{f}.field`, `stack.{f}.isValid()`), not assigned or used as a whole header"
                            ),
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
                let elem = self.elem_ty(h);
                let stride = self.size_of(&elem);
                Ok(Some(Place { ty: elem, slot: bp.slot + 1 + i as u32 * stride }))
            }
            _ => Ok(None),
        }
    }

    pub fn expr(&mut self, e: &Expr) -> SrcResult<(Ex, Ty)> {
        let pos = e.pos;
        match &e.kind {
            ExprKind::Int { value, width, signed } => {
                if *value > u128::from(u64::MAX) {
                    return err(pos, "literal wider than 64 bits");
                }
                match width {
                    Some(w) if *w == 0 || *w > 64 => err(pos, format!("width {w} not supported (1..=64)")),
                    Some(w) => {
                        if *value as u64 & !mask(*w) != 0 {
                            return err(pos, format!("value {value} does not fit in {w} bits"));
                        }
                        // `8s0b1010_1010` is -86 (the spec's example): a
                        // signed literal's digits are its bit pattern.
                        let t = if *signed { Ty::Int(*w) } else { Ty::Bit(*w) };
                        Ok((Ex::K(*value as u64), t))
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
                if let Some(x) = self.stack_elem(base, Some(f))? {
                    return Ok(x);
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
                // A slice of an int<W> is unsigned (P4_16 8.7).
                let Some(w) = fixed_width(&tb) else { return err(pos, "slices need a bit<N> or int<N> operand") };
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
                    ("~", Ty::Bit(w) | Ty::Int(w)) => Ok((fold(Ex::Not(Box::new(ea), mask(*w))), ta)),
                    ("-", Ty::Bit(w) | Ty::Int(w)) => Ok((fold(Ex::Neg(Box::new(ea), mask(*w))), ta)),
                    ("-", Ty::IntLit) => Ok((fold(Ex::Neg(Box::new(ea), u64::MAX)), ta)),
                    ("+", Ty::Bit(_) | Ty::Int(_) | Ty::IntLit) => Ok((ea, ta)),
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
                Ok((self.cast(ea, &ta, &to, pos)?, to))
            }
            ExprKind::List(_) => err(pos, "a list expression is only allowed as an extern argument or struct value"),
            ExprKind::Default | ExprKind::Mask(..) | ExprKind::Range(..) => {
                err(pos, "keyset expression outside a select or entries")
            }
        }
    }

    pub(super) fn binary(&mut self, pos: Pos, op: &str, a: &Expr, b: &Expr) -> SrcResult<(Ex, Ty)> {
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
                if tb == Ty::IntLit && const_eval(&eb).is_some_and(|v| (v as i64) < 0) {
                    return err(pos, "shift amount must be unsigned (a negative literal)");
                }
                let m = match ta {
                    Ty::Bit(w) | Ty::Int(w) => mask(w),
                    Ty::IntLit => u64::MAX,
                    _ => return err(pos, "shift of a non-integer"),
                };
                // `>>` of an int<W> is arithmetic: the sign bit fills in.
                let o = match (op, &ta) {
                    ("<<", _) => BinOp::Shl,
                    (_, Ty::Int(_)) => BinOp::SShr,
                    _ => BinOp::Shr,
                };
                Ok((bin(o, ea, eb, m), ta))
            }
            "++" => {
                let (Some(wa), Some(wb)) = (fixed_width(&la.1), fixed_width(&lb.1)) else {
                    return err(pos, "`++` needs sized bit<N> or int<N> operands");
                };
                if wa + wb > 64 {
                    return err(pos, "concatenation wider than 64 bits is not supported");
                }
                let w = wa + wb;
                // The result has the left operand's signedness (P4_16 8.7);
                // both patterns are already masked to their widths.
                let t = if matches!(la.1, Ty::Int(_)) { Ty::Int(w) } else { Ty::Bit(w) };
                Ok((fold(Ex::Concat(Box::new(la.0), Box::new(lb.0), wb)), t))
            }
            _ => {
                let (ea, eb, t) = self.unify(la, lb, pos)?;
                let m = match &t {
                    Ty::Bit(w) | Ty::Int(w) => mask(*w),
                    _ => u64::MAX,
                };
                let cmp = matches!(op, "==" | "!=" | "<" | "<=" | ">" | ">=");
                if !cmp && !matches!(t, Ty::Bit(_) | Ty::Int(_) | Ty::IntLit) {
                    return err(pos, format!("`{op}` needs bit<N> operands, found {}", self.ty_name(&t)));
                }
                if matches!(op, "<" | "<=" | ">" | ">=") && !matches!(t, Ty::Bit(_) | Ty::Int(_) | Ty::IntLit) {
                    return err(pos, format!("`{op}` needs bit<N> operands"));
                }
                if matches!(t, Ty::Int(_)) {
                    return Ok((self.signed_binary(pos, op, ea, eb, m)?, if cmp { Ty::Bool } else { t }));
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

    /// `stack.last.f`, `stack.next.f` (and with `field` None, their
    /// `isValid()`) read in a parser: an element chosen by nextIndex at run
    /// time (`Ex::Elem`). P4_16 8.18 allows both only in parsers.
    fn stack_elem(&mut self, base: &Expr, field: Option<&str>) -> SrcResult<Option<(Ex, Ty)>> {
        let ExprKind::Member(sb, which) = &base.kind else { return Ok(None) };
        if which != "last" && which != "next" {
            return Ok(None);
        }
        let Some(sp) = self.place(sb)? else { return Ok(None) };
        let Ty::Stack(h, n) = sp.ty else { return Ok(None) };
        if self.tinfo[h].union {
            return err(base.pos, format!("`{which}` of a stack of header_union read in a parser is not supported (extract into it is)"));
        }
        if self.ctx != Ctx::Parser {
            return err(base.pos, format!("`{which}` of a header stack is allowed only in a parser (P4_16 8.18); use an index"));
        }
        let (off, ty) = match field {
            None => (0, Ty::Bool),
            Some(f) => match self.tinfo[h].fields.iter().position(|(x, _)| x == f) {
                Some(k) => (1 + k as u32, self.tinfo[h].fields[k].1.clone()),
                None => return err(base.pos, format!("`{}` has no field `{f}`", self.tinfo[h].name)),
            },
        };
        let stride = self.size_of(&Ty::Header(h));
        let r = ElemRef { next: sp.slot, size: n, stride, slot: sp.slot + 1 + off, last: which == "last" };
        Ok(Some((Ex::Elem(Box::new(r)), ty)))
    }

    /// A binary operator on int<W> operands (two's complement patterns
    /// masked to W bits): `+ - * & | ^ == !=` are the unsigned operations
    /// on the patterns; comparisons and saturation are signed.
    fn signed_binary(&self, pos: Pos, op: &str, ea: Ex, eb: Ex, m: u64) -> SrcResult<Ex> {
        let o = match op {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "&" => BinOp::And,
            "|" => BinOp::Or,
            "^" => BinOp::Xor,
            "|+|" => BinOp::SSatAdd,
            "|-|" => BinOp::SSatSub,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::SLt,
            "<=" => BinOp::SLe,
            ">" => BinOp::SGt,
            ">=" => BinOp::SGe,
            "/" | "%" => {
                // P4_16 8.7 defines `/` and `%` on int<W> for positive
                // values only; a run-time int<W> may be negative, and
                // bmv2's result for one is C++'s (truncated) while p4c
                // folds constants as undefined. Refused, not guessed.
                return err(pos, format!("`{op}` on int<N> is not supported (P4 defines it for positive values only; cast to bit<N>)"));
            }
            _ => return err(pos, format!("operator `{op}` is not supported")),
        };
        Ok(fold(Ex::Bin(o, Box::new(ea), Box::new(eb), m)))
    }

    pub(super) fn call_expr(&mut self, pos: Pos, func: &Expr, targs: &[TypeRef], args: &[Arg]) -> SrcResult<(Ex, Ty)> {
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
            if m == "minSizeInBits" || m == "minSizeInBytes" {
                // A header's size without its varbit (P4_16 8.9): a
                // compile-time `int`.
                if let Some(Place { ty: Ty::Header(h), slot }) = self.place(obj)? {
                    let bits = u64::from(self.header_ref(h, slot).bits);
                    return Ok((Ex::K(if m == "minSizeInBits" { bits } else { bits.div_ceil(8) }), Ty::IntLit));
                }
                return err(pos, format!("{m}() needs a header"));
            }
            if m == "isValid" {
                if let Some(x) = self.stack_elem(obj, None)? {
                    return Ok(x);
                }
                let Some(p) = self.place(obj)? else { return err(pos, "isValid on something that is not a header") };
                if let Ty::Union(_) = p.ty {
                    // A union is valid when one of its members is.
                    let any = self.union_valids(&p, None).into_iter().map(Ex::S).reduce(|a, b| Ex::Bin(BinOp::LOr, Box::new(a), Box::new(b), 1));
                    return Ok((any.unwrap_or(Ex::K(0)), Ty::Bool));
                }
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

    pub(super) fn field_list(&mut self, e: &Expr) -> SrcResult<(FieldList, Vec<String>)> {
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
                            if let Ty::Varbit(max) = t {
                                list.push((Ex::Var(VarField { len: p.slot + off, data: p.slot + off + 1, max }), 0));
                                names.push(n);
                                continue;
                            }
                            if !is_scalar(&t) {
                                return err(it.pos, "nested headers in a field list are not supported");
                            }
                            list.push((Ex::S(p.slot + off), width_of(&t)));
                            names.push(n);
                            off += 1;
                        }
                        continue;
                    }
                    Ty::Varbit(max) => {
                        list.push((Ex::Var(VarField { len: p.slot, data: p.slot + 1, max: *max }), 0));
                        names.push(expr_text(it));
                        continue;
                    }
                    _ => {}
                }
            }
            let (ex, t) = self.expr(it)?;
            let w = match t {
                Ty::Bit(w) | Ty::Int(w) => w,
                Ty::Bool => 1,
                _ => return err(it.pos, "field list items must be sized bit<N> values (write 8w0, not 0)"),
            };
            list.push((ex, w));
            names.push(expr_text(it));
        }
        Ok((list, names))
    }

    pub(super) fn algo(&mut self, e: &Expr) -> SrcResult<HashAlgo> {
        if let ExprKind::Member(b, m) = &e.kind {
            if matches!(&b.kind, ExprKind::Name(n) if n == "HashAlgorithm") {
                return match m.as_str() {
                    "crc32" => Ok(HashAlgo::Crc32),
                    "crc16" => Ok(HashAlgo::Crc16),
                    "identity" => Ok(HashAlgo::Identity),
                    "csum16" => Ok(HashAlgo::Csum16),
                    "xor16" => Ok(HashAlgo::Xor16),
                    // bmv2's custom CRCs start with the parameters of
                    // crc16 / crc32 (simple_switch_CLI's set_crc16_parameters
                    // / set_crc32_parameters change them; switch-sim has no
                    // such command, so they stay those).
                    "crc16_custom" => Ok(HashAlgo::Crc16),
                    "crc32_custom" => Ok(HashAlgo::Crc32),
                    // p4c-bm2-ss emits the calculation "random", but bmv2
                    // registers no hash of that name (calculations.cpp):
                    // simple_switch refuses the program at load
                    // (P4Objects::check_hash, "Unknown hash algorithm:
                    // random"). switch-sim refuses it too, rather than run
                    // what bmv2 would not load.
                    "random" => err(
                        e.pos,
                        "HashAlgorithm.random: simple_switch refuses the program at load (\"Unknown hash algorithm: \
                         random\": bmv2 implements no such hash); v1model's random(result, lo, hi) draws a random value",
                    ),
                    other => err(e.pos, format!("HashAlgorithm.{other} is not supported")),
                };
            }
        }
        err(e.pos, "expected HashAlgorithm.<name>")
    }

    pub(super) fn rvalue_to(&mut self, e: &Expr, t: &Ty) -> SrcResult<Ex> {
        let (x, tx) = self.expr(e)?;
        self.coerce(x, &tx, t, e.pos)
    }
}
