//! Controls instantiated inside controls (`Sub(8w3) s;` then
//! `s.apply(hdr, meta);`), compiled inline where they are applied, as p4c's
//! inliner does before bmv2 sees the program: the callee's parameters bind
//! the argument places (by reference; copy-in/copy-out only differs when
//! two arguments alias, which p4c rejects for inout), its constructor
//! parameters the instance's constant arguments, and its actions and
//! tables get the control-plane prefix `Outer.instance.` (p4c's names).
//! `return` in its apply block ends that block (`St::Inline`), `exit`
//! ends the pipeline. Sub-parsers: below.

use super::*;

impl Compiler {
    /// Whether `i` instantiates a top-level control; binds it if so.
    pub(super) fn sub_instance(&mut self, i: &Instance) -> SrcResult<bool> {
        let TypeRef::Named(tn, _) = &i.ty else { return Ok(false) };
        let Some(decl) = self.blocks.get(tn).cloned() else { return Ok(false) };
        let (kind, ctor) = match &decl {
            Decl::Parser { ctor, .. } => ("parser", ctor),
            Decl::Control { ctor, .. } => ("control", ctor),
            _ => return Ok(false),
        };
        match (kind, self.ctx) {
            ("parser", Ctx::Parser) | ("control", Ctx::Control) => {}
            ("parser", _) => return err(i.pos, format!("`{tn}` is a parser: a parser is instantiated only inside a parser (P4_16 sub-parsers)")),
            _ => return err(i.pos, format!("`{tn}` is a control: a control cannot be instantiated inside a parser")),
        }
        if ctor.len() != i.args.len() {
            return err(i.pos, format!("{kind} `{tn}` takes {} constructor argument(s), {} given", ctor.len(), i.args.len()));
        }
        let prefix = format!("{}{}.", self.prefix, un_name(&i.annotations).unwrap_or_else(|| i.name.clone()));
        self.subs.push(SubInstance { inst: i.clone(), decl, prefix, applied: false });
        let k = self.subs.len() - 1;
        self.bind(&i.name, if kind == "parser" { Bind::SubParser(k) } else { Bind::SubControl(k) });
        Ok(true)
    }

    /// `s.apply(args)`: the instance's control body inline.
    pub(super) fn sub_apply(&mut self, pos: Pos, k: usize, args: &[Arg], out: &mut Vec<St>) -> SrcResult<()> {
        let SubInstance { inst, decl, prefix, applied } = self.subs[k].clone();
        let Decl::Control { name, params, ctor, locals, body, .. } = decl else { unreachable!("sub_instance keeps controls") };
        if applied {
            return err(pos, format!("`{}` is applied more than once (switch-sim compiles a control instance where it is applied)", inst.name));
        }
        if self.subs.iter().filter(|s| s.applied).any(|s| matches!(&s.decl, Decl::Control { name: n, .. } if *n == name) && s.prefix.len() < prefix.len() && prefix.starts_with(&s.prefix)) {
            return err(pos, format!("control `{name}` instantiates itself"));
        }
        self.subs[k].applied = true;
        if params.len() != args.len() {
            return err(pos, format!("`{}.apply` takes {} argument(s), {} given", inst.name, params.len(), args.len()));
        }
        // Arguments, in the caller's scope.
        let mut binds = Vec::new();
        let mut init = Vec::new();
        for (p, a) in params.iter().zip(args) {
            let t = self.resolve_type(&p.ty, p.pos)?;
            let place = self.place(&a.value)?;
            match place {
                Some(pl) if pl.ty == t => binds.push((p.name.clone(), Bind::Place(pl))),
                _ if p.dir == Direction::In || p.dir == Direction::None => {
                    if !is_scalar(&t) {
                        return err(a.value.pos, format!("argument `{}` must be a {}", p.name, self.ty_name(&t)));
                    }
                    let e = self.rvalue_to(&a.value, &t)?;
                    let slot = self.alloc(&t);
                    init.push(St::Set(slot, e));
                    binds.push((p.name.clone(), Bind::Place(Place { ty: t, slot })));
                }
                _ => return err(a.value.pos, format!("out/inout argument `{}` must be a {} place", p.name, self.ty_name(&t))),
            }
        }
        // Constructor arguments: constants, in the caller's scope.
        for (p, a) in ctor.iter().zip(&inst.args) {
            let t = self.resolve_type(&p.ty, p.pos)?;
            let x = self.rvalue_to(&a.value, &t)?;
            let Some(v) = const_eval(&x) else { return err(a.value.pos, "constructor arguments must be compile-time constants") };
            binds.push((p.name.clone(), Bind::Const(v, t)));
        }
        // The callee sees the top-level names and its own only.
        let caller_scopes = self.scopes.split_off(1);
        let caller_prefix = std::mem::replace(&mut self.prefix, prefix);
        let caller_ctx = self.ctx;
        self.ctx = Ctx::Control;
        self.scopes.push(HashMap::new());
        for (n, b) in binds {
            self.bind(&n, b);
        }
        let r = self.sub_body(&locals, &body, &mut init);
        self.scopes.truncate(1);
        self.scopes.extend(caller_scopes);
        self.prefix = caller_prefix;
        self.ctx = caller_ctx;
        r?;
        out.push(St::Inline(init));
        Ok(())
    }

    fn sub_body(&mut self, locals: &[Local], body: &[Stmt], out: &mut Vec<St>) -> SrcResult<()> {
        for l in locals {
            match l {
                Local::Action(a) => {
                    self.action_decl(a)?;
                }
                Local::Table(t) => self.table_decl(t)?,
                Local::Instance(i) => self.instance(i)?,
                Local::Var(s) => self.stmt(s, out)?,
            }
        }
        out.extend(self.block(body)?);
        Ok(())
    }
}

// ---- sub-parsers ----------------------------------------------------------
//
// A parser instantiated inside a parser (`Sub(8w2) p;`) and applied in a
// state (`p.apply(packet, hdr.x, meta);`) is inlined as p4c's
// `GeneralInliner` does it, which is also P4_16's definition (13.8.1): the
// calling state is split at the call; its first half (with the copy-in)
// goes to the callee's start state, the callee's `accept` is the second
// half (the copy-out, the statements after the call and the state's own
// transition), its `reject` the caller's reject. Each `apply` inlines its
// own copy of the callee's states (an instance may be applied several
// times; its states get the prefix `instance.`, `instance_2.`, ...).
//
// Arguments as p4c binds them: when every `apply` of the instance in the
// calling parser has the same arguments and no two arguments overlap, the
// callee works on the arguments themselves; otherwise on temporaries,
// copied in at the call (`in`/`inout`) and back in the second half
// (`out`/`inout`), so a callee that rejects leaves those arguments as
// they were. An `out` argument's headers are made invalid at the call
// (p4c's DoResetHeaders; its other fields keep their values). A non-place
// `in` argument is evaluated once, at the call. The callee's local
// variables are fresh slots per `apply` (zero at the start of a packet;
// P4_16 leaves an uninitialized local undefined), their initializers run
// at the call after the copy-in.

/// Positions stripped from an expression's syntax: two `apply` calls have
/// "the same arguments" when these are equal.
fn canon(args: &[Arg]) -> String {
    let s = format!("{:?}", args.iter().map(|a| &a.value).collect::<Vec<_>>());
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("Pos {") {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let j = rest.find('}').map(|j| j + 1).unwrap_or(rest.len());
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

fn overlap(a: Option<(Slot, Slot)>, b: Option<(Slot, Slot)>) -> bool {
    matches!((a, b), (Some((a0, a1)), Some((b0, b1))) if a0 < b1 && b0 < a1)
}

impl Compiler {
    /// `st` as `p.apply(args)` of a sub-parser instance.
    fn sub_parser_call<'s>(&self, st: &'s Stmt) -> Option<(usize, &'s [Arg], Pos)> {
        let Stmt::Call { call: Expr { kind: ExprKind::Call { func, args, .. }, .. }, pos } = st else { return None };
        let ExprKind::Member(o, m) = &func.kind else { return None };
        let ExprKind::Name(n) = &o.kind else { return None };
        match self.lookup(n) {
            Some(Bind::SubParser(k)) if m == "apply" => Some((*k, args, *pos)),
            _ => None,
        }
    }

    /// Compiles a parser's states into `out`, their indices reserved first
    /// (`start` first), `accept` standing for its accept state and `init`
    /// put at the head of its start state. Returns the start state's index.
    pub(super) fn parser_states(&mut self, pos: Pos, states: &[ParserState], prefix: &str, accept: Target, init: Vec<St>, out: &mut Vec<StateDef>) -> SrcResult<usize> {
        let Some(start) = states.iter().find(|s| s.name == "start") else { return err(pos, "parser has no start state") };
        let mut order = vec![start];
        order.extend(states.iter().filter(|s| s.name != "start"));
        let base = out.len();
        let index: HashMap<String, usize> = order.iter().enumerate().map(|(i, s)| (s.name.clone(), base + i)).collect();
        for s in &order {
            out.push(StateDef { name: format!("{prefix}{}", s.name), body: Vec::new(), trans: Trans::Go(Target::Reject) });
        }
        let target = |pos: Pos, n: &str| -> SrcResult<Target> {
            match n {
                "accept" => Ok(accept.clone()),
                "reject" => Ok(Target::Reject),
                _ => index.get(n).map(|i| Target::State(*i)).ok_or_else(|| SrcError { pos, message: format!("unknown state `{n}`") }),
            }
        };
        // Instances whose every apply has the same arguments.
        let mut calls: HashMap<usize, Option<String>> = HashMap::new();
        for s in &order {
            for st in &s.stmts {
                if let Some((k, args, _)) = self.sub_parser_call(st) {
                    let c = canon(args);
                    let e = calls.entry(k).or_insert_with(|| Some(c.clone()));
                    if e.as_deref() != Some(c.as_str()) {
                        *e = None;
                    }
                }
            }
        }
        let mut init = Some(init);
        for (k, s) in order.iter().enumerate() {
            let mut cur = base + k;
            let mut body = if k == 0 { init.take().unwrap_or_default() } else { Vec::new() };
            self.scopes.push(HashMap::new());
            let mut halves = 0;
            for st in &s.stmts {
                let Some((j, args, cpos)) = self.sub_parser_call(st) else {
                    self.stmt(st, &mut body)?;
                    continue;
                };
                halves += 1;
                let cont = out.len();
                out.push(StateDef { name: format!("{prefix}{}_{halves}", s.name), body: Vec::new(), trans: Trans::Go(Target::Reject) });
                let mut after = Vec::new();
                let uniform = matches!(calls.get(&j), Some(Some(_)));
                let first = self.sub_parser_apply(cpos, j, args, uniform, Target::State(cont), &mut body, &mut after, out)?;
                out[cur].body = std::mem::take(&mut body);
                out[cur].trans = Trans::Go(Target::State(first));
                cur = cont;
                body = after;
            }
            let trans = self.transition(s, &target)?;
            self.scopes.pop();
            out[cur].body = body;
            out[cur].trans = trans;
        }
        Ok(base)
    }

    /// The headers inside a value of type `t` at `slot` made invalid.
    fn reset_headers(&self, t: &Ty, slot: Slot, out: &mut Vec<St>) {
        match t {
            Ty::Header(_) => out.push(St::Set(slot, Ex::K(0))),
            Ty::Struct(i) | Ty::Union(i) => {
                let mut off = 0;
                for (_, f) in &self.tinfo[*i].fields {
                    self.reset_headers(f, slot + off, out);
                    off += self.size_of(f);
                }
            }
            Ty::Stack(h, n) => {
                let e = self.elem_ty(*h);
                let stride = self.size_of(&e);
                for k in 0..*n {
                    self.reset_headers(&e, slot + 1 + k * stride, out);
                }
            }
            _ => {}
        }
    }

    /// `p.apply(args)` in a parser state: the argument bindings (copy-in
    /// appended to `pre`, copy-out to `post`) and the callee's states
    /// appended to `out`, its accept going to `accept`. Returns the index
    /// of the callee's start state.
    #[allow(clippy::too_many_arguments)]
    fn sub_parser_apply(&mut self, pos: Pos, k: usize, args: &[Arg], uniform: bool, accept: Target, pre: &mut Vec<St>, post: &mut Vec<St>, out: &mut Vec<StateDef>) -> SrcResult<usize> {
        let SubInstance { inst, decl, prefix, .. } = self.subs[k].clone();
        let Decl::Parser { name, params, ctor, locals, states, .. } = decl else { unreachable!("a SubParser binds a parser") };
        if self.parser_stack.contains(&name) {
            return err(pos, format!("parser `{name}` instantiates itself"));
        }
        if params.len() != args.len() {
            return err(pos, format!("`{}.apply` takes {} argument(s), {} given", inst.name, params.len(), args.len()));
        }
        let is_packet = |p: &Param| matches!(&p.ty, TypeRef::Named(n, _) if n == "packet_in");
        let mut places = Vec::new();
        for (p, a) in params.iter().zip(args) {
            places.push(if is_packet(p) { None } else { self.place(&a.value)? });
        }
        let ranges: Vec<Option<(Slot, Slot)>> = places.iter().map(|p| p.as_ref().map(|p| (p.slot, p.slot + self.size_of(&p.ty)))).collect();
        let mut binds = Vec::new();
        for (i, (p, a)) in params.iter().zip(args).enumerate() {
            if is_packet(p) {
                if !matches!(&a.value.kind, ExprKind::Name(n) if matches!(self.lookup(n), Some(Bind::PacketIn))) {
                    return err(a.value.pos, format!("argument `{}` must be the parser's packet_in", p.name));
                }
                binds.push((p.name.clone(), Bind::PacketIn));
                continue;
            }
            if p.dir == Direction::None {
                return err(p.pos, format!("parameter `{}`: a sub-parser's directionless parameters other than packet_in are not supported", p.name));
            }
            let t = self.resolve_type(&p.ty, p.pos)?;
            let aliased = (0..ranges.len()).any(|j| j != i && overlap(ranges[i], ranges[j]));
            let place = places[i].clone().filter(|pl| pl.ty == t);
            let n = self.size_of(&t);
            match place {
                Some(pl) if uniform && !aliased => {
                    if p.dir == Direction::Out {
                        self.reset_headers(&t, pl.slot, pre);
                    }
                    binds.push((p.name.clone(), Bind::Place(pl)));
                }
                Some(pl) => {
                    let slot = self.alloc(&t);
                    if p.dir == Direction::Out {
                        self.reset_headers(&t, slot, pre);
                    } else {
                        pre.push(St::Copy { dst: slot, src: pl.slot, n });
                    }
                    if p.dir != Direction::In {
                        post.push(St::Copy { dst: pl.slot, src: slot, n });
                    }
                    binds.push((p.name.clone(), Bind::Place(Place { ty: t, slot })));
                }
                None if p.dir == Direction::In => {
                    if !is_scalar(&t) {
                        return err(a.value.pos, format!("argument `{}` must be a {}", p.name, self.ty_name(&t)));
                    }
                    let e = self.rvalue_to(&a.value, &t)?;
                    let slot = self.alloc(&t);
                    pre.push(St::Set(slot, e));
                    binds.push((p.name.clone(), Bind::Place(Place { ty: t, slot })));
                }
                None => return err(a.value.pos, format!("out/inout argument `{}` must be a {} place", p.name, self.ty_name(&t))),
            }
        }
        for (p, a) in ctor.iter().zip(&inst.args) {
            let t = self.resolve_type(&p.ty, p.pos)?;
            let x = self.rvalue_to(&a.value, &t)?;
            let Some(v) = const_eval(&x) else { return err(a.value.pos, "constructor arguments must be compile-time constants") };
            binds.push((p.name.clone(), Bind::Const(v, t)));
        }
        // Each apply's states get their own names.
        let mut names = prefix.clone();
        let mut n = 1;
        while out.iter().any(|s| s.name.starts_with(&names)) {
            n += 1;
            names = format!("{}_{n}.", prefix.trim_end_matches('.'));
        }
        // The callee sees the top-level names and its own only.
        let caller_scopes = self.scopes.split_off(1);
        let caller_prefix = std::mem::replace(&mut self.prefix, prefix);
        self.scopes.push(HashMap::new());
        for (n, b) in binds {
            self.bind(&n, b);
        }
        self.parser_stack.push(name);
        let r = self.parser_locals(&locals, pre).and_then(|_| self.parser_states(pos, &states, &names, accept, Vec::new(), out));
        self.parser_stack.pop();
        self.scopes.truncate(1);
        self.scopes.extend(caller_scopes);
        self.prefix = caller_prefix;
        r
    }
}
