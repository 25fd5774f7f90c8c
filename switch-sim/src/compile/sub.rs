//! Controls instantiated inside controls (`Sub(8w3) s;` then
//! `s.apply(hdr, meta);`), compiled inline where they are applied, as p4c's
//! inliner does before bmv2 sees the program: the callee's parameters bind
//! the argument places (by reference; copy-in/copy-out only differs when
//! two arguments alias, which p4c rejects for inout), its constructor
//! parameters the instance's constant arguments, and its actions and
//! tables get the control-plane prefix `Outer.instance.` (p4c's names).
//! `return` in its apply block ends that block (`St::Inline`), `exit`
//! ends the pipeline. Sub-parsers are refused.

use super::*;

impl Compiler {
    /// Whether `i` instantiates a top-level control; binds it if so.
    pub(super) fn sub_instance(&mut self, i: &Instance) -> SrcResult<bool> {
        let TypeRef::Named(tn, _) = &i.ty else { return Ok(false) };
        let Some(decl) = self.blocks.get(tn).cloned() else { return Ok(false) };
        if let Decl::Parser { .. } = decl {
            return err(i.pos, format!("`{tn}` is a parser: sub-parsers are not supported by switch-sim"));
        }
        let Decl::Control { ctor, .. } = &decl else { return Ok(false) };
        if ctor.len() != i.args.len() {
            return err(i.pos, format!("control `{tn}` takes {} constructor argument(s), {} given", ctor.len(), i.args.len()));
        }
        let prefix = format!("{}{}.", self.prefix, un_name(&i.annotations).unwrap_or_else(|| i.name.clone()));
        self.subs.push(SubInstance { inst: i.clone(), decl, prefix, applied: false });
        self.bind(&i.name, Bind::SubControl(self.subs.len() - 1));
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
