//! The extern objects' index types at the program's V1MODEL_VERSION
//! (counter/register/meter forms before and after 20200408).

use super::*;

impl Compiler {
    /// V1MODEL_VERSION as the included v1model.p4 recorded it.
    pub(super) fn v1model_version(&self) -> String {
        match self.scopes.first().and_then(|s| s.get("__v1model_version")) {
            Some(Bind::Const(v, _)) => v.to_string(),
            _ => "an unknown V1MODEL_VERSION (no v1model.p4 included)".into(),
        }
    }

    /// Checks an instance's type arguments against its extern's declaration
    /// and returns the index type of `method` (its parameter `index`): a
    /// type parameter takes the matching type argument, or stays unbound
    /// when the instance gave none (`counter(...)` of a generic `counter<I>`).
    pub(super) fn index_ty(&mut self, ext: &str, method: &str, targs: &[TypeRef], pos: Pos) -> SrcResult<(String, IndexTy)> {
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
    pub(super) fn index_arg(&mut self, arg: &Expr, idx: Option<(String, IndexTy)>, method: &str) -> SrcResult<Ex> {
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
}
