//! Statements of parsers, controls and actions: assignments, locals,
//! if/switch, table application, extern and action calls, emit.

use super::*;

impl Compiler {
    pub(super) fn lvalue_assign(&mut self, pos: Pos, lhs: &Expr, rhs: &Expr, out: &mut Vec<St>) -> SrcResult<()> {
        if let ExprKind::Slice(b, h, l) = &lhs.kind {
            let Some(p) = self.place(b)? else { return err(pos, "slice assignment needs a field") };
            let Some(w) = fixed_width(&p.ty) else { return err(pos, "slice of a non-bit field") };
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
            if Some(p.slot) == self.mcast_grp && const_eval(&er) != Some(0) {
                return err(
                    pos,
                    "standard_metadata.mcast_grp: multicast needs simple_switch's packet replication engine \
                     (multicast groups), which switch-sim does not implement (only 0, no multicast, can be assigned)",
                );
            }
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
                let others = self.union_others_invalid(lhs)?;
                out.extend(others);
            }
            return Ok(());
        }
        let Some(src) = self.place(rhs)? else { return err(rhs.pos, "right side must be a header or struct of the same type") };
        if src.ty != p.ty {
            return err(pos, format!("assigning {} to {}", self.ty_name(&src.ty), self.ty_name(&p.ty)));
        }
        let n = self.size_of(&p.ty);
        out.push(St::Copy { dst: p.slot, src: src.slot, n });
        // A union member assigned a valid header invalidates the others.
        let others = self.union_others_invalid(lhs)?;
        if !others.is_empty() {
            out.push(St::If(Ex::S(p.slot), others, Vec::new()));
        }
        Ok(())
    }

    pub(super) fn block(&mut self, b: &[Stmt]) -> SrcResult<Vec<St>> {
        self.scopes.push(HashMap::new());
        let mut out = Vec::new();
        let r = b.iter().try_for_each(|s| self.stmt(s, &mut out));
        self.scopes.pop();
        r.map(|_| out)
    }

    pub(super) fn var_decl(&mut self, pos: Pos, ty: &TypeRef, name: &str, init: Option<&Expr>, out: &mut Vec<St>) -> SrcResult<()> {
        let t = self.resolve_type(ty, pos)?;
        if let Ty::Varbit(_) = t {
            return err(pos, "switch-sim supports a varbit only as the last field of a header, not as a variable");
        }
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

    pub(super) fn stmt(&mut self, s: &Stmt, out: &mut Vec<St>) -> SrcResult<()> {
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
    pub(super) fn table_hit_pattern(&mut self, cond: &Expr) -> SrcResult<Option<(usize, bool)>> {
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

    pub(super) fn table_apply(&mut self, e: &Expr) -> SrcResult<Option<usize>> {
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

    pub(super) fn switch(&mut self, pos: Pos, expr: &Expr, cases: &[SwitchCase], out: &mut Vec<St>) -> SrcResult<()> {
        if let ExprKind::Member(call, m) = &expr.kind {
            if m == "action_run" {
                let Some(t) = self.table_apply(call)? else { return err(pos, "action_run of something that is not a table") };
                let mut by_action = Vec::new();
                let mut default_arm = None;
                let mut pending: Vec<usize> = Vec::new();
                let mut seen: Vec<usize> = Vec::new();
                for (k, c) in cases.iter().enumerate() {
                    match &c.label {
                        None => {
                            if k + 1 != cases.len() {
                                return err(c.pos, "default label must be the last switch label (p4c)");
                            }
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
                            if seen.contains(&a) {
                                return err(l.pos, format!("duplicate switch label `{an}` (p4c)"));
                            }
                            seen.push(a);
                            pending.push(a);
                            if let Some(b) = &c.body {
                                by_action.push((std::mem::take(&mut pending), self.block(b)?));
                            }
                        }
                    }
                }
                // Labels falling through past the last body: nothing runs
                // for them (not the default, which is last when present).
                if !pending.is_empty() {
                    by_action.push((pending, Vec::new()));
                }
                out.push(St::Apply(Box::new(ApplySt { table: t, on_hit: None, on_miss: None, by_action, default_arm })));
                return Ok(());
            }
        }
        let (e, te) = self.expr(expr)?;
        if !matches!(te, Ty::Bit(_) | Ty::Int(_) | Ty::Enum(_) | Ty::Error) {
            return err(pos, "switch needs a bit<N>, enum or error value");
        }
        let mut arms = Vec::new();
        let mut default = Vec::new();
        let mut pending = Vec::new();
        let mut seen = Vec::new();
        for (k, c) in cases.iter().enumerate() {
            match &c.label {
                None => {
                    if k + 1 != cases.len() {
                        return err(c.pos, "default label must be the last switch label (p4c)");
                    }
                    if let Some(b) = &c.body {
                        default = self.block(b)?;
                    }
                }
                Some(l) => {
                    let (le, lt) = self.expr(l)?;
                    let le = self.coerce(le, &lt, &te, l.pos)?;
                    let Some(v) = const_eval(&le) else { return err(l.pos, "switch label must be a constant") };
                    if seen.contains(&v) {
                        return err(l.pos, "duplicate switch label (p4c)");
                    }
                    seen.push(v);
                    pending.push(v);
                    if let Some(b) = &c.body {
                        arms.push((std::mem::take(&mut pending), self.block(b)?));
                    }
                }
            }
        }
        if !pending.is_empty() {
            arms.push((pending, Vec::new()));
        }
        out.push(St::Switch(e, arms, default));
        Ok(())
    }

    pub(super) fn call_stmt(&mut self, pos: Pos, call: &Expr, out: &mut Vec<St>) -> SrcResult<()> {
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
                    if n.starts_with("clone") || n.starts_with("resubmit") || n.starts_with("recirculate") {
                        // No silent difference: bmv2 would send (or
                        // re-process) another copy of the packet.
                        return err(
                            pos,
                            format!(
                                "`{n}` needs simple_switch's packet replication engine (clone sessions, resubmit, \
                                 recirculate), which switch-sim does not implement: the packet bmv2 would add cannot \
                                 be produced"
                            ),
                        );
                    }
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
                    "random" => {
                        // v1model: random<T>(out T result, in T lo, in T hi), T a bit<W>.
                        let Some(dst) = self.place(a(0)?)? else { return err(pos, "random's result must be a field or variable") };
                        let Ty::Bit(w) = dst.ty else { return err(pos, "random's result must be bit<N> (v1model: T is a bit<W>)") };
                        let lo = self.rvalue_to(a(1)?, &Ty::Bit(w))?;
                        let hi = self.rvalue_to(a(2)?, &Ty::Bit(w))?;
                        out.push(St::Random(Box::new(RandomSt { dst: dst.slot, lo, hi })));
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
                        if data.iter().any(|(_, w)| *w == 0) {
                            return err(pos, "a varbit in a digest is not supported");
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
                if let ExprKind::Name(n) = &obj.kind {
                    if let (Some(Bind::SubControl(k)), "apply") = (self.lookup(n).cloned(), m.as_str()) {
                        return self.sub_apply(pos, k, args, out);
                    }
                    if let Some(Bind::SubParser(_)) = self.lookup(n) {
                        return err(pos, format!("`{n}` is a sub-parser: it is applied as a statement of a parser state, not inside a block or `if`"));
                    }
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
                                    let target = a(0)?;
                                    if args.len() == 2 {
                                        let Some(p) = self.place(target)? else { return err(pos, "extract needs a header") };
                                        let Ty::Header(h) = p.ty else { return err(pos, "extract needs a header") };
                                        let hr = self.header_ref(h, p.slot);
                                        if hr.var.is_none() {
                                            return err(pos, "two-argument extract needs a header with a varbit field");
                                        }
                                        let bits = self.rvalue_to(a(1)?, &Ty::Bit(32))?;
                                        out.push(St::ExtractVar(hr, bits));
                                        let others = self.union_others_invalid(target)?;
                                        out.extend(others);
                                        return Ok(());
                                    }
                                    if args.len() != 1 {
                                        return err(pos, "extract takes one or two arguments");
                                    }
                                    if let Some(sr) = self.union_stack_next(target)? {
                                        if sr.first.var.is_some() {
                                            return err(pos, "a stack of headers with a varbit field is not supported");
                                        }
                                        out.push(St::ExtractNext(Box::new(sr)));
                                        return Ok(());
                                    }
                                    if let ExprKind::Member(st, nx) = &target.kind {
                                        if nx == "next" {
                                            if let Some(sp) = self.place(st)? {
                                                if let Ty::Stack(h, sz) = sp.ty {
                                                    if self.tinfo[h].union {
                                                        return err(pos, "extract into a member of a stack of header_union: `stack.next.member`");
                                                    }
                                                    if self.header_ref(h, 0).var.is_some() {
                                                        return err(pos, "a stack of headers with a varbit field is not supported");
                                                    }
                                                    out.push(St::ExtractNext(Box::new(self.stack_ref(h, sz, sp.slot))));
                                                    return Ok(());
                                                }
                                            }
                                        }
                                    }
                                    let Some(p) = self.place(target)? else { return err(pos, "extract needs a header") };
                                    let Ty::Header(h) = p.ty else { return err(pos, "extract needs a header") };
                                    let hr = self.header_ref(h, p.slot);
                                    if hr.var.is_some() {
                                        return err(pos, "a header with a varbit field needs extract(h, bits)");
                                    }
                                    out.push(St::Extract(hr));
                                    // A failed extract ends the parser before these.
                                    let others = self.union_others_invalid(target)?;
                                    out.extend(others);
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
                        Some(Bind::Meter(k)) => {
                            if m != "execute_meter" {
                                return err(pos, format!("meter.{m} is not supported"));
                            }
                            let idx = self.meter_index.get(&k).cloned();
                            let index = self.index_arg(a(0)?, idx, "execute_meter")?;
                            let Some(dst) = self.place(a(1)?)? else { return err(pos, "execute_meter's result must be a field or variable") };
                            let Ty::Bit(w) = dst.ty else { return err(pos, "execute_meter's result must be bit<N>") };
                            out.push(St::ExecuteMeter(Box::new(MeterSt { meter: k, index, dst: dst.slot, dst_mask: mask(w) })));
                            return Ok(());
                        }
                        Some(Bind::DirectMeter(k)) => {
                            // p4c-bm2-ss turns read() into the meter's
                            // "result_target": bmv2 writes the colour there
                            // on every hit of the meter's table, before the
                            // action; the call itself does nothing.
                            if m != "read" {
                                return err(pos, format!("direct_meter.{m} is not supported"));
                            }
                            if self.ctx != Ctx::Action {
                                return err(pos, "direct_meter.read() is called in an action of the meter's table (p4c-bm2-ss)");
                            }
                            let Some(dst) = self.place(a(0)?)? else { return err(pos, "read's result must be a field or variable") };
                            let Ty::Bit(w) = dst.ty else { return err(pos, "direct_meter.read's result must be bit<N>") };
                            let target = (dst.slot, mask(w));
                            match self.meters[k].target {
                                Some(t) if t != target => {
                                    return err(pos, format!("`{}`: every read() of a direct meter must write the same field (p4c-bm2-ss keeps one result field per meter)", self.meters[k].name))
                                }
                                _ => self.meters[k].target = Some(target),
                            }
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
                    (Ty::Header(_), "setValid") => {
                        out.push(St::Set(p.slot, Ex::K(1)));
                        let others = self.union_others_invalid(obj)?;
                        out.extend(others);
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

    pub(super) fn emit(&mut self, pos: Pos, p: &Place, out: &mut Vec<St>) -> SrcResult<()> {
        match &p.ty {
            Ty::Header(h) => out.push(St::Emit(self.header_ref(*h, p.slot))),
            Ty::Stack(h, n) if !self.tinfo[*h].union => out.push(St::EmitStack(Box::new(self.stack_ref(*h, *n, p.slot)))),
            // A stack of unions: each element's valid member, in order.
            Ty::Stack(u, n) => {
                let stride = self.size_of(&Ty::Union(*u));
                for i in 0..*n {
                    self.emit(pos, &Place { ty: Ty::Union(*u), slot: p.slot + 1 + i * stride }, out)?;
                }
            }
            // A union emits its valid member (at most one is valid).
            Ty::Struct(s) | Ty::Union(s) => {
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

    pub(super) fn action_call(&mut self, pos: Pos, act: usize, args: &[Arg], out: &mut Vec<St>) -> SrcResult<()> {
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
}

impl Compiler {
    /// The validity slots of a union's members, all or all but `except`
    /// (the slot of one member).
    pub(super) fn union_valids(&self, u: &Place, except: Option<Slot>) -> Vec<Slot> {
        let Ty::Union(i) = u.ty else { return Vec::new() };
        let mut off = 0;
        let mut out = Vec::new();
        for (_, t) in &self.tinfo[i].fields {
            if Some(u.slot + off) != except {
                out.push(u.slot + off);
            }
            off += self.size_of(t);
        }
        out
    }

    /// `extract(stack.next.member)` on a stack of header_union: the stack
    /// reference for that member (the others become invalid with it).
    fn union_stack_next(&mut self, target: &Expr) -> SrcResult<Option<StackRef>> {
        let ExprKind::Member(nb, member) = &target.kind else { return Ok(None) };
        let ExprKind::Member(st, nx) = &nb.kind else { return Ok(None) };
        if nx != "next" {
            return Ok(None);
        }
        let Some(sp) = self.place(st)? else { return Ok(None) };
        let Ty::Stack(u, n) = sp.ty else { return Ok(None) };
        if !self.tinfo[u].union {
            return Ok(None);
        }
        let Some(k) = self.tinfo[u].fields.iter().position(|(f, _)| f == member) else {
            return err(target.pos, format!("`{}` has no member `{member}`", self.tinfo[u].name));
        };
        Ok(Some(self.stack_ref_member(u, n, sp.slot, k)))
    }

    /// When `target` is a member of a header_union: the statements that make
    /// every other member invalid (P4_16 8.20: a member made valid by
    /// setValid, extract or an assignment invalidates the others).
    pub(super) fn union_others_invalid(&mut self, target: &Expr) -> SrcResult<Vec<St>> {
        let ExprKind::Member(base, _) = &target.kind else { return Ok(Vec::new()) };
        let Some(u) = self.place(base)? else { return Ok(Vec::new()) };
        let Some(member) = self.place(target)? else { return Ok(Vec::new()) };
        Ok(self.union_valids(&u, Some(member.slot)).into_iter().map(|s| St::SetK(s, 0)).collect())
    }
}
