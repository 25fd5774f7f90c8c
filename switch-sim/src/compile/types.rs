//! Types and their rules: type names resolved, layouts (slots of a
//! header or stack), implicit conversions and the width rules of P4's
//! binary operators (operands of equal width; an unsized literal takes the
//! other operand's width).

use super::*;

impl Compiler {
    pub(super) fn ty_name(&self, t: &Ty) -> String {
        match t {
            Ty::Bit(w) => format!("bit<{w}>"),
            Ty::Int(w) => format!("int<{w}>"),
            Ty::Varbit(w) => format!("varbit<{w}>"),
            Ty::Bool => "bool".into(),
            Ty::IntLit => "int".into(),
            Ty::Error => "error".into(),
            Ty::Enum(n) => n.clone(),
            Ty::Header(i) | Ty::Struct(i) | Ty::Union(i) => self.tinfo[*i].name.clone(),
            Ty::Stack(h, n) => format!("{}[{n}]", self.tinfo[*h].name),
            Ty::Str => "string".into(),
            Ty::MatchKind => "match_kind".into(),
        }
    }

    /// An explicit cast `(to) e` with p4c's rule (`canCastBetween`):
    /// between fixed-width integers of the same width or the same
    /// signedness, bool <-> bit<1>, a literal to any fixed width. Widening
    /// an int<W> repeats its sign bit, widening a bit<W> adds zeros,
    /// narrowing keeps the low bits; same-width casts reinterpret the bits.
    pub(super) fn cast(&self, ea: Ex, ta: &Ty, to: &Ty, pos: Pos) -> SrcResult<Ex> {
        let m = |e: Ex, w: u32| fold(Ex::Mask(Box::new(e), mask(w)));
        Ok(match (ta, to) {
            (Ty::IntLit, Ty::Bit(w) | Ty::Int(w)) => m(ea, *w),
            (Ty::Int(a), Ty::Int(b)) if b > a => fold(Ex::SExt(Box::new(ea), *a, mask(*b))),
            (Ty::Bit(_), Ty::Bit(w)) | (Ty::Int(_), Ty::Int(w)) => m(ea, *w),
            (Ty::Bit(a), Ty::Int(b)) | (Ty::Int(a), Ty::Bit(b)) if a == b => ea,
            (Ty::Bit(_) | Ty::Int(_), Ty::Bit(_) | Ty::Int(_)) => {
                return err(
                    pos,
                    format!(
                        "cannot cast {} to {}: change the width and the signedness in two casts (p4c: illegal cast)",
                        self.ty_name(ta),
                        self.ty_name(to)
                    ),
                )
            }
            (Ty::Bool, Ty::Bit(1)) | (Ty::Bit(1), Ty::Bool) => ea,
            (Ty::IntLit, Ty::Bool) => m(ea, 1),
            _ if ta == to => ea,
            _ => return err(pos, format!("cannot cast {} to {}", self.ty_name(ta), self.ty_name(to))),
        })
    }

    pub(super) fn resolve_type(&mut self, t: &TypeRef, pos: Pos) -> SrcResult<Ty> {
        Ok(match t {
            TypeRef::Bit(w) => {
                if *w == 0 || *w > 64 {
                    return err(pos, format!("bit<{w}>: switch-sim supports widths 1..=64"));
                }
                Ty::Bit(*w)
            }
            TypeRef::Int(w) => {
                if *w == 0 || *w > 64 {
                    return err(pos, format!("int<{w}>: switch-sim supports widths 1..=64"));
                }
                Ty::Int(*w)
            }
            TypeRef::Varbit(w) => {
                if *w == 0 || *w > 4096 {
                    return err(pos, format!("varbit<{w}>: switch-sim supports widths 1..=4096"));
                }
                Ty::Varbit(*w)
            }
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
                let (Ty::Header(h) | Ty::Union(h)) = b else {
                    return err(pos, "only stacks of headers and of header_unions are supported");
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

    pub(super) fn header_ref(&self, h: usize, slot: Slot) -> HeaderRef {
        let mut fields = Vec::new();
        let mut var = None;
        for (k, (_, t)) in self.tinfo[h].fields.iter().enumerate() {
            let s = slot + 1 + k as u32;
            match t {
                // The last field (checked at the declaration).
                Ty::Varbit(max) => var = Some(VarField { len: s, data: s + 1, max: *max }),
                t => fields.push(WireField { slot: s, width: width_of(t) }),
            }
        }
        let bits = fields.iter().map(|f| f.width).sum();
        HeaderRef { valid: slot, fields, bits, var }
    }

    pub(super) fn stack_ref(&self, h: usize, n: u32, slot: Slot) -> StackRef {
        self.stack_ref_member(h, n, slot, 0)
    }

    /// A stack's reference for member `k` of its union elements (`k` is
    /// ignored for a stack of headers): `first` is that member in element
    /// 0, `siblings` the other members' validity slots.
    pub(super) fn stack_ref_member(&self, h: usize, n: u32, slot: Slot, k: usize) -> StackRef {
        let elem = self.elem_ty(h);
        let stride = self.size_of(&elem);
        let Ty::Union(u) = elem else {
            return StackRef { next: slot, size: n, stride, first: self.header_ref(h, slot + 1), siblings: Vec::new() };
        };
        let mut off = slot + 1;
        let (mut first, mut siblings) = (None, Vec::new());
        for (j, (_, t)) in self.tinfo[u].fields.iter().enumerate() {
            let Ty::Header(m) = t else { unreachable!("union members are headers") };
            if j == k {
                first = Some(self.header_ref(*m, off));
            } else {
                siblings.push(off);
            }
            off += self.size_of(t);
        }
        StackRef { next: slot, size: n, stride, first: first.expect("member k exists"), siblings }
    }

    // ---- expressions ----------------------------------------------------

    pub(super) fn coerce(&self, ex: Ex, from: &Ty, to: &Ty, pos: Pos) -> SrcResult<Ex> {
        if from == to {
            return Ok(ex);
        }
        match (from, to) {
            // A literal takes the type's width; a negative one its two's
            // complement (`-1` as bit<8> is 255, as int<8> is -1).
            (Ty::IntLit, Ty::Bit(w) | Ty::Int(w)) => Ok(fold(Ex::Mask(Box::new(ex), mask(*w)))),
            _ => err(pos, format!("type mismatch: expected {}, found {}", self.ty_name(to), self.ty_name(from))),
        }
    }

    /// Brings two operands to one type (P4: equal widths; a literal takes
    /// the other side's type).
    pub(super) fn unify(&self, a: (Ex, Ty), b: (Ex, Ty), pos: Pos) -> SrcResult<(Ex, Ex, Ty)> {
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
}
