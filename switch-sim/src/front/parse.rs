//! Recursive-descent parser for the P4_16 subset (operator precedence as in
//! p4c's grammar: `&`, `^`, `|` bind tighter than comparisons; `++` sits
//! with `+`). Constructs outside the subset are refused with their position.

use std::collections::HashSet;

use super::ast::*;
use super::lex::{Tok, Token};
use crate::error::{err, Pos, SrcError, SrcResult};

pub struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    /// Names known to be types (needed to tell `T x;` and `(T) e` apart).
    types: HashSet<String>,
}

pub fn parse_program(toks: &[Token]) -> SrcResult<Vec<Decl>> {
    let mut p = Parser { toks, i: 0, types: HashSet::new() };
    for t in ["packet_in", "packet_out"] {
        p.types.insert(t.into());
    }
    let mut decls = Vec::new();
    while !p.at_eof() {
        if p.eat(";") {
            continue;
        }
        decls.push(p.decl()?);
    }
    Ok(decls)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> Pos {
        self.toks[self.i].pos
    }
    fn at_eof(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }
    fn bump(&mut self) -> &Token {
        let t = &self.toks[self.i];
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }
    fn is_kw(&self, k: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == k)
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.is(p) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if self.is_kw(k) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) -> SrcResult<()> {
        if self.eat(p) {
            Ok(())
        } else {
            err(self.pos(), format!("expected `{p}`, found {}", self.describe()))
        }
    }
    fn describe(&self) -> String {
        match self.peek() {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int { value, .. } => format!("`{value}`"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::Eof => "end of file".into(),
        }
    }
    fn ident(&mut self) -> SrcResult<String> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.bump();
                Ok(s)
            }
            _ => err(self.pos(), format!("expected a name, found {}", self.describe())),
        }
    }

    fn annotations(&mut self) -> SrcResult<Vec<Annotation>> {
        let mut out = Vec::new();
        while self.is("@") {
            let pos = self.pos();
            self.bump();
            let name = self.ident()?;
            let mut string = None;
            if self.is("(") && self.toks[self.i - 1].joined {
                self.bump();
                let mut depth = 1;
                while depth > 0 {
                    match self.bump().tok.clone() {
                        Tok::Punct("(") => depth += 1,
                        Tok::Punct(")") => depth -= 1,
                        Tok::Str(s) if string.is_none() => string = Some(s),
                        Tok::Eof => return err(pos, "unterminated annotation"),
                        _ => {}
                    }
                }
            }
            out.push(Annotation { name, pos, string });
        }
        Ok(out)
    }

    fn skip_balanced_until_semicolon(&mut self) -> SrcResult<()> {
        let pos = self.pos();
        let mut depth = 0i32;
        loop {
            match self.bump().tok.clone() {
                Tok::Punct("{") | Tok::Punct("(") => depth += 1,
                Tok::Punct("}") | Tok::Punct(")") => {
                    depth -= 1;
                    if depth == 0 && self.is(";") {
                        self.bump();
                        return Ok(());
                    }
                    if depth == 0 && matches!(self.toks[self.i - 1].tok, Tok::Punct("}")) {
                        return Ok(());
                    }
                }
                Tok::Punct(";") if depth == 0 => return Ok(()),
                Tok::Eof => return err(pos, "unterminated declaration"),
                _ => {}
            }
        }
    }

    fn decl(&mut self) -> SrcResult<Decl> {
        let annotations = self.annotations()?;
        let pos = self.pos();
        let kw = match self.peek() {
            Tok::Ident(s) => s.clone(),
            _ => return err(pos, format!("expected a declaration, found {}", self.describe())),
        };
        match kw.as_str() {
            "const" => {
                self.bump();
                let ty = self.type_ref()?;
                let name = self.ident()?;
                self.expect("=")?;
                let value = self.expr()?;
                self.expect(";")?;
                Ok(Decl::Const { pos, ty, name, value })
            }
            "typedef" | "type" => {
                self.bump();
                let ty = self.type_ref()?;
                let name = self.ident()?;
                self.expect(";")?;
                self.types.insert(name.clone());
                Ok(Decl::Typedef { pos, ty, name })
            }
            "header" | "struct" | "header_union" => {
                self.bump();
                let name = self.ident()?;
                self.types.insert(name.clone());
                self.expect("{")?;
                let mut fields = Vec::new();
                while !self.eat("}") {
                    self.annotations()?;
                    let fpos = self.pos();
                    let ty = self.type_ref()?;
                    let fname = self.ident()?;
                    self.expect(";")?;
                    fields.push(Field { ty, name: fname, pos: fpos });
                }
                Ok(match kw.as_str() {
                    "header" => Decl::Header { pos, name, fields },
                    "header_union" => Decl::HeaderUnion { pos, name, fields },
                    _ => Decl::Struct { pos, name, fields },
                })
            }
            "enum" => {
                self.bump();
                let underlying = if self.is_kw("bit") || self.is_kw("int") { Some(self.type_ref()?) } else { None };
                let name = self.ident()?;
                self.types.insert(name.clone());
                self.expect("{")?;
                let mut members = Vec::new();
                while !self.eat("}") {
                    let m = self.ident()?;
                    let v = if self.eat("=") { Some(self.expr()?) } else { None };
                    members.push((m, v));
                    if !self.eat(",") {
                        self.expect("}")?;
                        break;
                    }
                }
                Ok(Decl::Enum { pos, name, underlying, members })
            }
            "error" | "match_kind" => {
                self.bump();
                self.expect("{")?;
                let mut names = Vec::new();
                while !self.eat("}") {
                    names.push(self.ident()?);
                    if !self.eat(",") {
                        self.expect("}")?;
                        break;
                    }
                }
                Ok(if kw == "error" { Decl::Error { pos, names } } else { Decl::MatchKind { pos, names } })
            }
            "extern" => {
                self.bump();
                // `extern Name<T> { ... }` or `extern RetType name<T>(...);`
                let first = self.ident()?;
                if self.is("{") || (self.is("<") && self.extern_object_ahead()) {
                    self.types.insert(first.clone());
                    let mut type_params = Vec::new();
                    if self.eat("<") {
                        while !self.eat(">") {
                            type_params.push(self.ident()?);
                            if !self.eat(",") {
                                self.expect(">")?;
                                break;
                            }
                        }
                    }
                    let methods = self.extern_body(&first)?;
                    Ok(Decl::Extern { pos, name: first, type_params, methods })
                } else {
                    // A function: the return type may have been a keyword type.
                    if self.is("<") {
                        self.skip_angles()?;
                    }
                    let name = if self.is("(") { first } else { self.ident()? };
                    self.skip_balanced_until_semicolon()?;
                    Ok(Decl::ExternFunction { pos, name })
                }
            }
            "package" => {
                self.bump();
                let name = self.ident()?;
                self.types.insert(name.clone());
                self.skip_balanced_until_semicolon()?;
                Ok(Decl::Prototype { pos, name })
            }
            "parser" | "control" => {
                self.bump();
                let name = self.ident()?;
                self.types.insert(name.clone());
                if self.is("<") {
                    self.skip_angles()?;
                }
                let params = self.params()?;
                if self.eat(";") {
                    return Ok(Decl::Prototype { pos, name });
                }
                let ctor = if self.is("(") { self.params()? } else { Vec::new() };
                self.expect("{")?;
                let mut locals = Vec::new();
                let mut states = Vec::new();
                let mut body = Vec::new();
                loop {
                    if self.eat("}") {
                        break;
                    }
                    let ann = self.annotations()?;
                    let lpos = self.pos();
                    if kw == "parser" && self.eat_kw("state") {
                        states.push(self.parser_state(lpos)?);
                    } else if kw == "control" && self.eat_kw("apply") {
                        body = self.block()?;
                    } else if self.is_kw("action") {
                        locals.push(Local::Action(self.action(ann)?));
                    } else if self.is_kw("table") {
                        locals.push(Local::Table(self.table(ann)?));
                    } else if self.is_kw("value_set") {
                        return err(lpos, "value_set is not supported");
                    } else {
                        locals.push(self.local_decl(ann)?);
                    }
                }
                Ok(if kw == "parser" {
                    Decl::Parser { pos, name, params, ctor, locals, states }
                } else {
                    Decl::Control { pos, name, params, ctor, locals, body }
                })
            }
            "action" => Ok(Decl::Action(self.action(annotations)?)),
            "function" => err(pos, "functions are not supported (use actions)"),
            _ => {
                // Either a function declaration `T f(...) {...}` or an
                // instantiation `T(args) name;`.
                let ty = self.type_ref()?;
                if self.is("(") {
                    let args = self.args()?;
                    let name = self.ident()?;
                    self.expect(";")?;
                    return Ok(Decl::Instance(Instance { pos, ty, args, name, annotations }));
                }
                let name = self.ident()?;
                if self.is("(") || self.is("<") {
                    return err(pos, format!("function `{name}`: functions are not supported (use actions)"));
                }
                err(pos, format!("unexpected top-level declaration `{name}`"))
            }
        }
    }

    /// `{ Name(params); [abstract] RetType method<T>(params); ... }`.
    fn extern_body(&mut self, name: &str) -> SrcResult<Vec<ExternMethod>> {
        self.expect("{")?;
        let mut methods = Vec::new();
        while !self.eat("}") {
            if self.at_eof() {
                return err(self.pos(), format!("extern {name}: missing `}}`"));
            }
            self.annotations()?;
            let pos = self.pos();
            if matches!(self.peek(), Tok::Ident(n) if n == name) && matches!(self.peek_at(1), Tok::Punct("(")) {
                self.bump();
                self.params()?;
                self.expect(";")?;
                continue;
            }
            self.eat_kw("abstract");
            self.type_ref()?;
            let m = self.ident()?;
            if self.is("<") {
                self.skip_angles()?;
            }
            let params = self.params()?;
            self.expect(";")?;
            methods.push(ExternMethod { pos, name: m, params });
        }
        self.eat(";");
        Ok(methods)
    }

    fn extern_object_ahead(&self) -> bool {
        // `extern Name<T> {`: find the matching `>` then `{`.
        let mut k = self.i;
        let mut depth = 0;
        while k < self.toks.len() {
            match self.toks[k].tok {
                Tok::Punct("<") => depth += 1,
                Tok::Punct(">") => {
                    depth -= 1;
                    if depth == 0 {
                        return matches!(self.toks.get(k + 1).map(|t| &t.tok), Some(Tok::Punct("{")));
                    }
                }
                Tok::Punct(";") | Tok::Punct("(") => return false,
                _ => {}
            }
            k += 1;
        }
        false
    }

    fn skip_angles(&mut self) -> SrcResult<()> {
        let pos = self.pos();
        self.expect("<")?;
        let mut depth = 1;
        while depth > 0 {
            match self.bump().tok {
                Tok::Punct("<") => depth += 1,
                Tok::Punct(">") => depth -= 1,
                Tok::Eof => return err(pos, "unterminated `<`"),
                _ => {}
            }
        }
        Ok(())
    }

    fn params(&mut self) -> SrcResult<Vec<Param>> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.eat(")") {
            self.annotations()?;
            let pos = self.pos();
            let dir = if self.eat_kw("in") {
                Direction::In
            } else if self.eat_kw("out") {
                Direction::Out
            } else if self.eat_kw("inout") {
                Direction::InOut
            } else {
                Direction::None
            };
            let ty = self.type_ref()?;
            let name = self.ident()?;
            if self.is("=") {
                return err(self.pos(), "default parameter values are not supported");
            }
            out.push(Param { dir, ty, name, pos });
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(out)
    }

    fn args(&mut self) -> SrcResult<Vec<Arg>> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.eat(")") {
            let name = match (self.peek(), self.peek_at(1)) {
                (Tok::Ident(n), Tok::Punct("=")) => {
                    let n = n.clone();
                    self.bump();
                    self.bump();
                    Some(n)
                }
                _ => None,
            };
            let value = if self.is_kw("_") {
                let pos = self.pos();
                self.bump();
                Expr { pos, kind: ExprKind::Default }
            } else {
                self.expr()?
            };
            out.push(Arg { name, value });
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(out)
    }

    pub fn type_ref(&mut self) -> SrcResult<TypeRef> {
        let pos = self.pos();
        let base = match self.peek().clone() {
            Tok::Ident(s) => {
                self.bump();
                match s.as_str() {
                    "bit" | "int" | "varbit" => {
                        let w = if self.eat("<") {
                            let w = match self.peek().clone() {
                                Tok::Int { value, .. } => {
                                    self.bump();
                                    value as u32
                                }
                                Tok::Punct("(") => {
                                    let e = self.expr()?;
                                    match const_int(&e) {
                                        Some(v) => v as u32,
                                        None => return err(pos, "type width must be a constant"),
                                    }
                                }
                                _ => return err(self.pos(), "expected a width"),
                            };
                            self.expect(">")?;
                            w
                        } else if s == "bit" {
                            1
                        } else {
                            return err(pos, format!("`{s}` without a width (arbitrary-precision int) is not supported"));
                        };
                        match s.as_str() {
                            "bit" => TypeRef::Bit(w),
                            "int" => TypeRef::Int(w),
                            _ => TypeRef::Varbit(w),
                        }
                    }
                    "bool" => TypeRef::Bool,
                    "error" => TypeRef::Error,
                    "string" => TypeRef::String,
                    "void" => TypeRef::Void,
                    "_" => TypeRef::DontCare,
                    "tuple" => return err(pos, "tuple types are not supported"),
                    _ => {
                        let mut targs = Vec::new();
                        if self.is("<") {
                            self.bump();
                            while !self.eat(">") {
                                targs.push(self.type_ref()?);
                                if !self.eat(",") {
                                    self.expect(">")?;
                                    break;
                                }
                            }
                        }
                        TypeRef::Named(s, targs)
                    }
                }
            }
            Tok::Punct(".") => {
                self.bump();
                return self.type_ref();
            }
            _ => return err(pos, format!("expected a type, found {}", self.describe())),
        };
        if self.is("[") {
            self.bump();
            let size = self.expr()?;
            self.expect("]")?;
            return Ok(TypeRef::Stack(Box::new(base), Box::new(size)));
        }
        Ok(base)
    }

    fn action(&mut self, annotations: Vec<Annotation>) -> SrcResult<ActionDecl> {
        let pos = self.pos();
        self.bump(); // action
        let name = self.ident()?;
        let params = self.params()?;
        let body = self.block()?;
        Ok(ActionDecl { pos, name, annotations, params, body })
    }

    fn action_ref(&mut self) -> SrcResult<ActionRef> {
        let annotations = self.annotations()?;
        let pos = self.pos();
        let mut name = String::new();
        if self.eat(".") {
            name.push('.');
        }
        name.push_str(&self.ident()?);
        let args = if self.is("(") { self.args()? } else { Vec::new() };
        Ok(ActionRef { pos, name, args, annotations })
    }

    fn table(&mut self, annotations: Vec<Annotation>) -> SrcResult<TableDecl> {
        let pos = self.pos();
        self.bump(); // table
        let name = self.ident()?;
        self.expect("{")?;
        let mut props = Vec::new();
        while !self.eat("}") {
            self.annotations()?;
            let ppos = self.pos();
            let is_const = self.eat_kw("const");
            let pname = self.ident()?;
            match pname.as_str() {
                "key" => {
                    self.expect("=")?;
                    self.expect("{")?;
                    let mut keys = Vec::new();
                    while !self.eat("}") {
                        let kpos = self.pos();
                        let start = self.i;
                        let expr = self.expr()?;
                        let text = tokens_text(&self.toks[start..self.i]);
                        self.expect(":")?;
                        let match_kind = self.ident()?;
                        let annotations = self.annotations()?;
                        self.expect(";")?;
                        keys.push(KeyElem { pos: kpos, expr, match_kind, annotations, text });
                    }
                    props.push(TableProp::Key(keys));
                }
                "actions" => {
                    self.expect("=")?;
                    self.expect("{")?;
                    let mut acts = Vec::new();
                    while !self.eat("}") {
                        acts.push(self.action_ref()?);
                        self.expect(";")?;
                    }
                    props.push(TableProp::Actions(acts));
                }
                "default_action" => {
                    self.expect("=")?;
                    let action = self.action_ref()?;
                    self.expect(";")?;
                    props.push(TableProp::DefaultAction { pos: ppos, is_const, action });
                }
                "entries" => {
                    self.expect("=")?;
                    self.expect("{")?;
                    let mut entries = Vec::new();
                    while !self.eat("}") {
                        let epos = self.pos();
                        let priority = if self.eat_kw("priority") {
                            self.expect("=")?;
                            let p = self.expr()?;
                            self.expect(":")?;
                            Some(p)
                        } else {
                            None
                        };
                        let k = self.keyset_expr()?;
                        let keys = match k.kind {
                            ExprKind::List(v) => v,
                            _ => vec![k],
                        };
                        self.expect(":")?;
                        let action = self.action_ref()?;
                        self.expect(";")?;
                        entries.push(ConstEntry { pos: epos, keys, action, priority });
                    }
                    props.push(TableProp::Entries { pos: ppos, is_const, entries });
                }
                _ => {
                    self.expect("=")?;
                    let value = self.expr()?;
                    self.expect(";")?;
                    props.push(TableProp::Other { pos: ppos, name: pname, value });
                }
            }
        }
        Ok(TableDecl { pos, name, annotations, props })
    }

    /// A declaration inside a control or parser body, or a statement-level
    /// variable declaration.
    fn local_decl(&mut self, annotations: Vec<Annotation>) -> SrcResult<Local> {
        let pos = self.pos();
        if self.eat_kw("const") {
            let ty = self.type_ref()?;
            let name = self.ident()?;
            self.expect("=")?;
            let init = self.expr()?;
            self.expect(";")?;
            return Ok(Local::Var(Stmt::Const { pos, ty, name, init }));
        }
        let ty = self.type_ref()?;
        if self.is("(") {
            let args = self.args()?;
            let name = self.ident()?;
            self.expect(";")?;
            return Ok(Local::Instance(Instance { pos, ty, args, name, annotations }));
        }
        let name = self.ident()?;
        let init = if self.eat("=") { Some(self.expr()?) } else { None };
        self.expect(";")?;
        Ok(Local::Var(Stmt::Var { pos, ty, name, init }))
    }

    fn parser_state(&mut self, pos: Pos) -> SrcResult<ParserState> {
        let name = self.ident()?;
        self.expect("{")?;
        let mut stmts = Vec::new();
        let mut transition = None;
        while !self.eat("}") {
            if self.is_kw("transition") {
                let tpos = self.pos();
                self.bump();
                if self.eat_kw("select") {
                    self.expect("(")?;
                    let mut keys = Vec::new();
                    while !self.eat(")") {
                        keys.push(self.expr()?);
                        if !self.eat(",") {
                            self.expect(")")?;
                            break;
                        }
                    }
                    self.expect("{")?;
                    let mut cases = Vec::new();
                    while !self.eat("}") {
                        let k = self.keyset_expr()?;
                        self.expect(":")?;
                        let cpos = self.pos();
                        let target = self.ident()?;
                        self.expect(";")?;
                        cases.push((k, cpos, target));
                    }
                    transition = Some(Transition::Select { pos: tpos, keys, cases });
                } else {
                    let target = self.ident()?;
                    self.expect(";")?;
                    transition = Some(Transition::Goto(tpos, target));
                }
                continue;
            }
            stmts.push(self.stmt()?);
        }
        Ok(ParserState { pos, name, stmts, transition })
    }

    fn keyset_expr(&mut self) -> SrcResult<Expr> {
        let pos = self.pos();
        if self.is("(") {
            // A tuple keyset or a parenthesized expression.
            let save = self.i;
            self.bump();
            let mut items = vec![self.keyset_elem()?];
            if self.eat(",") {
                while !self.eat(")") {
                    items.push(self.keyset_elem()?);
                    if !self.eat(",") {
                        self.expect(")")?;
                        break;
                    }
                }
                return Ok(Expr { pos, kind: ExprKind::List(items) });
            }
            self.i = save;
        }
        self.keyset_elem()
    }

    fn keyset_elem(&mut self) -> SrcResult<Expr> {
        let pos = self.pos();
        if self.eat_kw("default") || self.eat_kw("_") {
            return Ok(Expr { pos, kind: ExprKind::Default });
        }
        let e = self.expr()?;
        if self.eat("&&&") {
            let m = self.expr()?;
            return Ok(Expr { pos, kind: ExprKind::Mask(Box::new(e), Box::new(m)) });
        }
        if self.eat("..") {
            let m = self.expr()?;
            return Ok(Expr { pos, kind: ExprKind::Range(Box::new(e), Box::new(m)) });
        }
        Ok(e)
    }

    pub fn block(&mut self) -> SrcResult<Vec<Stmt>> {
        self.expect("{")?;
        let mut out = Vec::new();
        while !self.eat("}") {
            out.push(self.stmt()?);
        }
        Ok(out)
    }

    fn starts_decl(&self) -> bool {
        match self.peek() {
            Tok::Ident(s) if matches!(s.as_str(), "bit" | "int" | "varbit" | "bool" | "error") => true,
            Tok::Ident(s) if self.types.contains(s) => {
                matches!(self.peek_at(1), Tok::Ident(_)) || matches!(self.peek_at(1), Tok::Punct("<"))
            }
            _ => false,
        }
    }

    fn stmt(&mut self) -> SrcResult<Stmt> {
        self.annotations()?;
        let pos = self.pos();
        if self.is("{") {
            return Ok(Stmt::Block(self.block()?));
        }
        if self.eat(";") {
            return Ok(Stmt::Empty);
        }
        if self.eat_kw("if") {
            self.expect("(")?;
            let cond = self.expr()?;
            self.expect(")")?;
            let then = Box::new(self.stmt()?);
            let els = if self.eat_kw("else") { Some(Box::new(self.stmt()?)) } else { None };
            return Ok(Stmt::If { pos, cond, then, els });
        }
        if self.eat_kw("exit") {
            self.expect(";")?;
            return Ok(Stmt::Exit(pos));
        }
        if self.eat_kw("return") {
            let v = if self.is(";") { None } else { Some(self.expr()?) };
            self.expect(";")?;
            return Ok(Stmt::Return(pos, v));
        }
        if self.eat_kw("switch") {
            self.expect("(")?;
            let expr = self.expr()?;
            self.expect(")")?;
            self.expect("{")?;
            let mut cases = Vec::new();
            while !self.eat("}") {
                let cpos = self.pos();
                let label = if self.eat_kw("default") { None } else { Some(self.expr()?) };
                self.expect(":")?;
                let body = if self.is("{") { Some(self.block()?) } else { None };
                cases.push(SwitchCase { pos: cpos, label, body });
            }
            return Ok(Stmt::Switch { pos, expr, cases });
        }
        if self.is_kw("for") || self.is_kw("while") {
            return err(pos, "loops are not part of P4_16 controls");
        }
        if self.is_kw("const") || self.starts_decl() {
            return match self.local_decl(Vec::new())? {
                Local::Var(s) => Ok(s),
                Local::Instance(i) => err(i.pos, "instantiation inside a block is not supported"),
                _ => unreachable!("local_decl returns vars or instances"),
            };
        }
        let lhs = self.expr()?;
        if self.eat("=") {
            let rhs = self.expr()?;
            self.expect(";")?;
            return Ok(Stmt::Assign { pos, lhs, rhs });
        }
        self.expect(";")?;
        match lhs.kind {
            ExprKind::Call { .. } => Ok(Stmt::Call { pos, call: lhs }),
            _ => err(pos, "expected an assignment or a call"),
        }
    }

    // ---- expressions ----------------------------------------------------

    pub fn expr(&mut self) -> SrcResult<Expr> {
        let c = self.binary(0)?;
        if self.is("?") {
            let pos = self.pos();
            self.bump();
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            return Ok(Expr { pos, kind: ExprKind::Cond(Box::new(c), Box::new(a), Box::new(b)) });
        }
        Ok(c)
    }

    /// The binary operator at the cursor and its precedence level.
    fn binop(&self) -> Option<(&'static str, u8, usize)> {
        let t = &self.toks[self.i];
        let Tok::Punct(p) = t.tok else { return None };
        // `>` `>` adjacent is a right shift; `>` `=` adjacent is >=.
        if p == ">" && t.joined {
            if let Tok::Punct(">") = self.toks[self.i + 1].tok {
                return Some((">>", 8, 2));
            }
        }
        let lvl = match p {
            "||" => 1,
            "&&" => 2,
            "==" | "!=" => 3,
            "<" | ">" | "<=" | ">=" => 4,
            "|" => 5,
            "^" => 6,
            "&" => 7,
            "<<" => 8,
            "++" | "+" | "-" | "|+|" | "|-|" => 9,
            "*" | "/" | "%" => 10,
            _ => return None,
        };
        Some((p, lvl, 1))
    }

    fn binary(&mut self, min: u8) -> SrcResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let Some((op, lvl, len)) = self.binop() else { break };
            // Left-associative: an operator binds only above `min`.
            if lvl <= min {
                break;
            }
            let pos = self.pos();
            self.i += len;
            let rhs = self.binary(lvl)?;
            lhs = Expr { pos, kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)) };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> SrcResult<Expr> {
        let pos = self.pos();
        for op in ["!", "~", "-", "+"] {
            if self.is(op) {
                self.bump();
                let e = self.unary()?;
                return Ok(Expr { pos, kind: ExprKind::Unary(op, Box::new(e)) });
            }
        }
        if self.is("(") && self.cast_ahead() {
            self.bump();
            let ty = self.type_ref()?;
            self.expect(")")?;
            let e = self.unary()?;
            return Ok(Expr { pos, kind: ExprKind::Cast(ty, Box::new(e)) });
        }
        self.postfix()
    }

    fn cast_ahead(&self) -> bool {
        match self.peek_at(1) {
            Tok::Ident(s) if matches!(s.as_str(), "bit" | "int" | "bool" | "varbit") => true,
            Tok::Ident(s) if self.types.contains(s) => matches!(self.peek_at(2), Tok::Punct(")")),
            _ => false,
        }
    }

    fn postfix(&mut self) -> SrcResult<Expr> {
        let mut e = self.primary()?;
        loop {
            let pos = self.pos();
            if self.eat(".") {
                let name = self.ident()?;
                e = Expr { pos, kind: ExprKind::Member(Box::new(e), name) };
            } else if self.is("[") {
                self.bump();
                let a = self.expr()?;
                if self.eat(":") {
                    let b = self.expr()?;
                    self.expect("]")?;
                    e = Expr { pos, kind: ExprKind::Slice(Box::new(e), Box::new(a), Box::new(b)) };
                } else {
                    self.expect("]")?;
                    e = Expr { pos, kind: ExprKind::Index(Box::new(e), Box::new(a)) };
                }
            } else if self.is("(") {
                let args = self.args()?;
                e = Expr { pos, kind: ExprKind::Call { func: Box::new(e), type_args: Vec::new(), args } };
            } else if self.is("<") && matches!(e.kind, ExprKind::Name(_) | ExprKind::Member(..)) {
                // Type arguments of a call (`lookahead<bit<8>>()`), tried
                // speculatively: otherwise `<` is less-than.
                let save = self.i;
                self.bump();
                let mut targs = Vec::new();
                let ok = loop {
                    match self.type_ref() {
                        Ok(t) => targs.push(t),
                        Err(_) => break false,
                    }
                    if self.eat(",") {
                        continue;
                    }
                    break self.eat(">") && self.is("(");
                };
                if !ok {
                    self.i = save;
                    break;
                }
                let args = self.args()?;
                e = Expr { pos, kind: ExprKind::Call { func: Box::new(e), type_args: targs, args } };
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> SrcResult<Expr> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Int { value, width, signed } => {
                self.bump();
                Ok(Expr { pos, kind: ExprKind::Int { value, width, signed } })
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr { pos, kind: ExprKind::Str(s) })
            }
            Tok::Ident(s) => {
                self.bump();
                Ok(Expr {
                    pos,
                    kind: match s.as_str() {
                        "true" => ExprKind::Bool(true),
                        "false" => ExprKind::Bool(false),
                        _ => ExprKind::Name(s),
                    },
                })
            }
            Tok::Punct("(") => {
                self.bump();
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Punct("{") => {
                self.bump();
                let mut items = Vec::new();
                while !self.eat("}") {
                    items.push(self.expr()?);
                    if !self.eat(",") {
                        self.expect("}")?;
                        break;
                    }
                }
                Ok(Expr { pos, kind: ExprKind::List(items) })
            }
            Tok::Punct(".") => {
                self.bump();
                let n = self.ident()?;
                Ok(Expr { pos, kind: ExprKind::Name(n) })
            }
            _ => Err(SrcError { pos, message: format!("expected an expression, found {}", self.describe()) }),
        }
    }
}

fn tokens_text(toks: &[Token]) -> String {
    let mut s = String::new();
    for t in toks {
        match &t.tok {
            Tok::Ident(x) => s.push_str(x),
            Tok::Int { value, .. } => s.push_str(&value.to_string()),
            Tok::Punct(p) => s.push_str(p),
            Tok::Str(x) => s.push_str(x),
            Tok::Eof => {}
        }
    }
    s
}

fn const_int(e: &Expr) -> Option<u128> {
    match &e.kind {
        ExprKind::Int { value, .. } => Some(*value),
        _ => None,
    }
}
