//! Declarations: actions, tables (keys, actions, entries), extern
//! instances, and the bodies of controls and parser states.

use super::*;
use crate::front::ast;
use crate::table::{EntrySpec, FieldMatch};

impl Compiler {
    pub(super) fn action_decl(&mut self, a: &ActionDecl) -> SrcResult<usize> {
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
                Ty::Int(_) => return err(p.pos, "action parameters of type int<N> are not supported (pass a bit<N> and cast it)"),
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
    pub(super) fn assigned_fields(&mut self, body: &[Stmt], out: &mut HashMap<Slot, String>) {
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

    pub(super) fn const_arg(&mut self, e: &Expr, w: u32) -> SrcResult<u64> {
        // An int<w> constant (an entry's key of an int<w> field) gives its
        // bit pattern.
        let (x, t) = self.expr(e)?;
        let x = if t == Ty::Int(w) { x } else { self.coerce(x, &t, &Ty::Bit(w), e.pos)? };
        const_eval(&x).ok_or_else(|| SrcError { pos: e.pos, message: "action data must be a constant".into() })
    }

    pub(super) fn action_ref(&mut self, r: &ActionRef, allowed: &[usize]) -> SrcResult<(usize, Vec<u64>)> {
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

    pub(super) fn table_decl(&mut self, t: &TableDecl) -> SrcResult<()> {
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
        let mut direct_meter = None;
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
                            // An int<W> key matches its bit pattern; a
                            // range over it would need signed bounds.
                            Ty::Int(w) if k.match_kind != "range" => w,
                            Ty::Int(_) => return err(k.pos, "a `range` key of type int<N> is not supported (its bounds would compare signed)"),
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
                    "meters" => {
                        let ExprKind::Name(n) = &value.kind else { return err(*pos, "meters = <direct_meter name>") };
                        match self.lookup(n) {
                            Some(Bind::DirectMeter(m)) => direct_meter = Some(*m),
                            _ => return err(*pos, format!("`{n}` is not a direct_meter")),
                        }
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
            direct_meter,
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

    pub(super) fn entry_match(&mut self, k: &Expr, kind: MatchKind, w: u32) -> SrcResult<FieldMatch> {
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

    pub(super) fn instance(&mut self, i: &Instance) -> SrcResult<()> {
        if self.sub_instance(i)? {
            return Ok(());
        }
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
            "meter" | "direct_meter" => {
                let direct = tn == "direct_meter";
                let (size, kind_e) = if direct {
                    (0, arg(0))
                } else {
                    let Some(s) = arg(0) else { return err(i.pos, "meter(size, type)") };
                    (self.const_arg(&s, 32)? as usize, arg(1))
                };
                let Some(k) = kind_e else { return err(i.pos, "a meter needs a MeterType") };
                let is_type = |b: &Expr| matches!(&b.kind, ExprKind::Name(n) if n == "MeterType");
                let kind = match &k.kind {
                    ExprKind::Member(b, m) if m == "packets" && is_type(b) => MeterKind::Packets,
                    ExprKind::Member(b, m) if m == "bytes" && is_type(b) => MeterKind::Bytes,
                    _ => return err(k.pos, "expected MeterType.packets or MeterType.bytes"),
                };
                let idx = if direct {
                    // direct_meter<T>: T is the colour's type, read()'s.
                    if targs.len() > 1 {
                        return err(i.pos, format!("type direct_meter has 1 type parameter(s), but it is specialized with {}", targs.len()));
                    }
                    None
                } else {
                    Some(self.index_ty(tn, "execute_meter", targs, i.pos)?)
                };
                self.meters.push(MeterDef { name, size, kind, direct, target: None });
                let m = self.meters.len() - 1;
                if let Some(idx) = idx {
                    self.meter_index.insert(m, idx);
                }
                self.bind(&i.name, if direct { Bind::DirectMeter(m) } else { Bind::Meter(m) });
            }
            other => {
                return err(i.pos, format!("extern `{other}` is not supported by switch-sim"));
            }
        }
        Ok(())
    }

    pub(super) fn control_body(&mut self, name: &str, params: &[Param], roots: &[Bind], locals: &[Local], body: &[Stmt]) -> SrcResult<Vec<St>> {
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

    pub(super) fn parser_body(&mut self, params: &[Param], roots: &[Bind], locals: &[Local], states: &[ast::ParserState]) -> SrcResult<Vec<StateDef>> {
        self.scopes.push(HashMap::new());
        self.ctx = Ctx::Parser;
        for (p, r) in params.iter().zip(roots) {
            self.bind(&p.name, r.clone());
        }
        let mut init = Vec::new();
        self.parser_locals(locals, &mut init)?;
        let pos = params.first().map(|p| p.pos).unwrap_or_default();
        let mut out = Vec::new();
        self.parser_states(pos, states, "", Target::Accept, init, &mut out)?;
        self.scopes.pop();
        Ok(out)
    }

    /// A parser's local declarations: variables (their initializers go to
    /// `init`, run in the start state) and sub-parser instances.
    pub(super) fn parser_locals(&mut self, locals: &[Local], init: &mut Vec<St>) -> SrcResult<()> {
        for l in locals {
            match l {
                Local::Var(s) => self.stmt(s, init)?,
                Local::Instance(i) => {
                    if !self.sub_instance(i)? {
                        return err(i.pos, "instantiations of extern objects inside a parser are not supported (only sub-parsers)");
                    }
                }
                Local::Action(a) => return err(a.pos, "actions inside a parser are not supported"),
                Local::Table(t) => return err(t.pos, "tables inside a parser"),
            }
        }
        Ok(())
    }

    /// A state's transition, its targets resolved by `target`.
    pub(super) fn transition(&mut self, s: &ast::ParserState, target: &dyn Fn(Pos, &str) -> SrcResult<Target>) -> SrcResult<Trans> {
        Ok(match &s.transition {
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
                            ExprKind::Range(_, _) if matches!(t, Ty::Int(_)) => {
                                return err(it.pos, "a range over an int<N> select key is not supported (its bounds would compare signed)")
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
        })
    }
}
