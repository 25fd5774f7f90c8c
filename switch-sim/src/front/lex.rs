//! Preprocessor and lexer in one pass: `#include`, object-like `#define`,
//! `#undef`, `#ifdef`/`#ifndef`/`#if EXPR`/`#elif EXPR`/`#else`/`#endif`
//! (cpp's integer expressions with `defined`, as v1model.p4's
//! `#if V1MODEL_VERSION >= 20200408` needs), then tokens with their file
//! positions. Function-like macros and other directives are
//! refused with their position.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{err, Pos, SrcError, SrcResult};

/// The architecture files switch-sim ships (P4 spec core library and the
/// v1model subset it implements).
const SYSTEM_INCLUDES: &[(&str, &str)] = &[
    ("core.p4", include_str!("../../p4include/core.p4")),
    ("v1model.p4", include_str!("../../p4include/v1model.p4")),
];

/// Bound on nested includes and macro expansion depth (a cycle guard).
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// Integer literal; `width` is Some for `8w5`-style literals.
    Int { value: u128, width: Option<u32>, signed: bool },
    Str(String),
    Punct(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// True when the next token starts right after this one (no space):
    /// `>` `>` is a shift only when adjacent.
    pub joined: bool,
}

/// Source file names, indexed by `Pos::file`.
#[derive(Debug, Default, Clone)]
pub struct Files {
    pub names: Vec<String>,
}

impl Files {
    pub fn name(&self, pos: Pos) -> &str {
        self.names.get(usize::from(pos.file)).map(String::as_str).unwrap_or("?")
    }
    pub fn resolve(&self, e: SrcError) -> crate::error::LoadError {
        crate::error::LoadError {
            file: self.name(e.pos).to_string(),
            line: e.pos.line,
            col: e.pos.col,
            message: e.message,
        }
    }
}

const PUNCTS: &[&str] = &[
    "&&&", "|+|", "|-|", "<<", "++", "==", "!=", "<=", ">=", "&&", "||", "..", "{", "}", "(", ")", "[", "]", "<",
    ">", ";", ":", ",", ".", "=", "!", "~", "&", "|", "^", "+", "-", "*", "/", "%", "?", "@",
];

pub struct Lexer {
    pub files: Files,
    defines: HashMap<String, Vec<Token>>,
    pub tokens: Vec<Token>,
}

impl Lexer {
    /// Lexes `path` with `defines` (`-D NAME=VALUE`) predefined.
    pub fn run(path: &Path, defines: &[(String, String)]) -> Result<(Vec<Token>, Files), crate::error::LoadError> {
        let mut lx = Lexer { files: Files::default(), defines: HashMap::new(), tokens: Vec::new() };
        lx.files.names.push("<command line>".into());
        for (k, v) in defines {
            let toks = lx.lex_line(v, Pos { file: 0, line: 1, col: 1 }, &mut false).map_err(|e| lx.files.resolve(e))?;
            lx.defines.insert(k.clone(), toks);
        }
        let text = std::fs::read_to_string(path).map_err(|e| crate::error::LoadError {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            message: format!("cannot read: {e}"),
        })?;
        let r = lx.file(&path.display().to_string(), &text, path.parent().map(Path::to_path_buf), 0);
        r.map_err(|e| lx.files.resolve(e))?;
        let end = lx.tokens.last().map(|t| t.pos).unwrap_or_default();
        lx.tokens.push(Token { tok: Tok::Eof, pos: end, joined: false });
        Ok((lx.tokens, lx.files))
    }

    /// Lexes program text given in memory (tests); includes resolve against
    /// the shipped system files and `dir`.
    pub fn run_text(name: &str, text: &str, dir: Option<PathBuf>) -> Result<(Vec<Token>, Files), crate::error::LoadError> {
        let mut lx = Lexer { files: Files::default(), defines: HashMap::new(), tokens: Vec::new() };
        lx.files.names.push("<command line>".into());
        lx.file(name, text, dir, 0).map_err(|e| lx.files.resolve(e))?;
        let end = lx.tokens.last().map(|t| t.pos).unwrap_or_default();
        lx.tokens.push(Token { tok: Tok::Eof, pos: end, joined: false });
        Ok((lx.tokens, lx.files))
    }

    fn file(&mut self, name: &str, text: &str, dir: Option<PathBuf>, depth: usize) -> SrcResult<()> {
        let file = self.files.names.len() as u16;
        self.files.names.push(name.to_string());
        // Conditional stack: (this branch active, some branch taken, parent active).
        let mut conds: Vec<(bool, bool, bool)> = Vec::new();
        let mut in_comment = false;
        let active = |c: &Vec<(bool, bool, bool)>| c.last().map(|x| x.0).unwrap_or(true);
        let mut lines = text.lines().enumerate().peekable();
        while let Some((i, raw)) = lines.next() {
            let pos = Pos { file, line: i as u32 + 1, col: 1 };
            // Line continuations.
            let mut line = raw.to_string();
            while line.ends_with('\\') {
                line.pop();
                match lines.next() {
                    Some((_, l)) => line.push_str(l),
                    None => break,
                }
            }
            let trimmed = line.trim_start();
            if !in_comment && trimmed.starts_with('#') {
                let col = (line.len() - trimmed.len()) as u32 + 1;
                let pos = Pos { col, ..pos };
                let body = strip_line_comment(trimmed[1..].trim());
                let (dir_name, rest) = match body.find(|c: char| c.is_whitespace()) {
                    Some(k) => (&body[..k], body[k..].trim()),
                    None => (body, ""),
                };
                match dir_name {
                    "ifdef" | "ifndef" => {
                        let parent = active(&conds);
                        let def = self.defines.contains_key(rest);
                        let on = parent && (def == (dir_name == "ifdef"));
                        conds.push((on, on, parent));
                    }
                    "if" => {
                        let parent = active(&conds);
                        // An inactive group's condition is not evaluated
                        // (it may use macros defined only elsewhere).
                        let v = parent && self.condition(rest, pos, col_of(&line, rest, col))?;
                        conds.push((v, v, parent));
                    }
                    "elif" => {
                        let Some(&(_, taken, parent)) = conds.last() else { return err(pos, "#elif without #if") };
                        let v = parent && !taken && self.condition(rest, pos, col_of(&line, rest, col))?;
                        let c = conds.last_mut().expect("checked above");
                        c.0 = v;
                        c.1 = taken || v;
                    }
                    "else" => match conds.last_mut() {
                        Some(c) => {
                            c.0 = c.2 && !c.1;
                            c.1 = true;
                        }
                        None => return err(pos, "#else without #if"),
                    },
                    "endif" => {
                        if conds.pop().is_none() {
                            return err(pos, "#endif without #if");
                        }
                    }
                    _ if !active(&conds) => {}
                    "include" => {
                        if depth >= MAX_DEPTH {
                            return err(pos, "#include nested too deeply");
                        }
                        if let Some(sys) = rest.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
                            let Some((_, text)) = SYSTEM_INCLUDES.iter().find(|(n, _)| *n == sys) else {
                                return err(pos, format!("#include <{sys}>: switch-sim ships only core.p4 and v1model.p4"));
                            };
                            self.file(&format!("<{sys}>"), text, None, depth + 1)?;
                        } else if let Some(rel) = rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                            let p = dir.clone().unwrap_or_default().join(rel);
                            let text = std::fs::read_to_string(&p)
                                .or_else(|e| {
                                    SYSTEM_INCLUDES.iter().find(|(n, _)| *n == rel).map(|(_, t)| t.to_string()).ok_or(e)
                                })
                                .map_err(|e| SrcError { pos, message: format!("#include \"{rel}\": {e}") })?;
                            self.file(&p.display().to_string(), &text, p.parent().map(Path::to_path_buf), depth + 1)?;
                        } else {
                            return err(pos, "#include needs <file> or \"file\"");
                        }
                    }
                    "define" => {
                        let name_end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
                        let name = &rest[..name_end];
                        if name.is_empty() {
                            return err(pos, "#define without a name");
                        }
                        if rest[name_end..].starts_with('(') {
                            return err(pos, format!("#define {name}(...): function-like macros are not supported"));
                        }
                        let body_col = col + (line.len() - rest[name_end..].len()) as u32;
                        let toks = self.lex_line(&rest[name_end..], Pos { col: body_col, ..pos }, &mut false)?;
                        self.defines.insert(name.to_string(), toks);
                    }
                    "undef" => {
                        self.defines.remove(rest);
                    }
                    "error" => return err(pos, format!("#error {rest}")),
                    "pragma" | "line" => {}
                    other => return err(pos, format!("preprocessor directive #{other} is not supported")),
                }
                continue;
            }
            if !active(&conds) {
                continue;
            }
            let toks = self.lex_line(&line, pos, &mut in_comment)?;
            let mut out = Vec::with_capacity(toks.len());
            for t in toks {
                self.expand(t, &mut out, 0)?;
            }
            self.tokens.extend(out);
        }
        if !conds.is_empty() {
            return err(Pos { file, line: text.lines().count() as u32, col: 1 }, "missing #endif");
        }
        Ok(())
    }

    /// Evaluates a `#if` / `#elif` condition the way cpp does: macros
    /// expanded, `defined NAME` / `defined(NAME)`, names left after
    /// expansion are 0, integer arithmetic (`! ~ - * / % + - << >> < <= >
    /// >= == != & ^ | && || ?:` and parentheses); true when non-zero.
    fn condition(&self, text: &str, pos: Pos, col: u32) -> SrcResult<bool> {
        let raw = self.lex_line(text, Pos { col, ..pos }, &mut false)?;
        if raw.is_empty() {
            return err(pos, "#if without a condition");
        }
        // `defined` first (its operand is not expanded), then macros.
        let mut toks = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            if raw[i].tok == Tok::Ident("defined".into()) {
                let p = raw[i].pos;
                let paren = raw.get(i + 1).map(|t| t.tok == Tok::Punct("(")).unwrap_or(false);
                let k = if paren { i + 2 } else { i + 1 };
                let Some(Tok::Ident(name)) = raw.get(k).map(|t| &t.tok) else { return err(p, "`defined` needs a macro name") };
                if paren && raw.get(k + 1).map(|t| &t.tok) != Some(&Tok::Punct(")")) {
                    return err(p, "`defined(` needs a closing `)`");
                }
                let v = self.defines.contains_key(name) as u128;
                toks.push(Token { tok: Tok::Int { value: v, width: None, signed: false }, pos: p, joined: false });
                i = if paren { k + 2 } else { k + 1 };
                continue;
            }
            self.expand(raw[i].clone(), &mut toks, 0)?;
            i += 1;
        }
        let mut ev = CondEval { toks: &toks, i: 0, end: pos };
        let v = ev.ternary()?;
        if let Some(t) = toks.get(ev.i) {
            return err(t.pos, format!("#if: unexpected `{}` after the condition", tok_text(&t.tok)));
        }
        Ok(v != 0)
    }

    fn expand(&self, t: Token, out: &mut Vec<Token>, depth: usize) -> SrcResult<()> {
        if let Tok::Ident(name) = &t.tok {
            if let Some(body) = self.defines.get(name) {
                if depth > MAX_DEPTH {
                    return err(t.pos, format!("macro {name} expands recursively"));
                }
                let n = body.len();
                for (i, b) in body.iter().enumerate() {
                    // Expanded tokens take the use site's position.
                    let mut b = b.clone();
                    b.pos = t.pos;
                    if i + 1 == n {
                        b.joined = t.joined;
                    }
                    self.expand(b, out, depth + 1)?;
                }
                return Ok(());
            }
        }
        out.push(t);
        Ok(())
    }

    fn lex_line(&self, line: &str, pos: Pos, in_comment: &mut bool) -> SrcResult<Vec<Token>> {
        let b = line.as_bytes();
        let mut i = 0;
        let mut out: Vec<Token> = Vec::new();
        let col0 = pos.col;
        while i < b.len() {
            if *in_comment {
                match line[i..].find("*/") {
                    Some(k) => {
                        i += k + 2;
                        *in_comment = false;
                        continue;
                    }
                    None => break,
                }
            }
            let c = b[i];
            let p = Pos { col: col0 + i as u32, ..pos };
            if c.is_ascii_whitespace() {
                if let Some(l) = out.last_mut() {
                    l.joined = false;
                }
                i += 1;
                continue;
            }
            if line[i..].starts_with("//") {
                break;
            }
            if line[i..].starts_with("/*") {
                *in_comment = true;
                i += 2;
                continue;
            }
            let start = i;
            let tok = if c.is_ascii_alphabetic() || c == b'_' {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                Tok::Ident(line[start..i].to_string())
            } else if c.is_ascii_digit() {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                parse_int(&line[start..i]).ok_or_else(|| SrcError {
                    pos: p,
                    message: format!("bad integer literal `{}`", &line[start..i]),
                })?
            } else if c == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                if i >= b.len() {
                    return err(p, "unterminated string");
                }
                i += 1;
                Tok::Str(line[start + 1..i - 1].to_string())
            } else {
                let Some(pu) = PUNCTS.iter().find(|pu| line[i..].starts_with(**pu)) else {
                    return err(p, format!("unexpected character `{}`", c as char));
                };
                i += pu.len();
                Tok::Punct(pu)
            };
            out.push(Token { tok, pos: p, joined: true });
        }
        if let Some(l) = out.last_mut() {
            l.joined = false;
        }
        Ok(out)
    }
}

/// The column of `part` (a slice of `line`, or anything else: `fallback`).
fn col_of(line: &str, part: &str, fallback: u32) -> u32 {
    let (l, p) = (line.as_ptr() as usize, part.as_ptr() as usize);
    if p >= l && p + part.len() <= l + line.len() {
        (p - l) as u32 + 1
    } else {
        fallback
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.clone(),
        Tok::Int { value, .. } => value.to_string(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Punct(p) => p.to_string(),
        Tok::Eof => "end of line".into(),
    }
}

/// The `#if` expression evaluator: precedence climbing over the expanded
/// tokens, in i128 as cpp's intmax_t (comparisons and logic yield 0/1).
struct CondEval<'a> {
    toks: &'a [Token],
    i: usize,
    end: Pos,
}

impl CondEval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn pos(&self) -> Pos {
        self.toks.get(self.i).map(|t| t.pos).unwrap_or(self.end)
    }

    /// The binary operator at the cursor and its length in tokens: `>>`
    /// arrives as two adjacent `>` (the lexer keeps `>` single for generics).
    fn op(&self) -> Option<(&'static str, usize)> {
        let t = self.toks.get(self.i)?;
        let Tok::Punct(p) = t.tok else { return None };
        if p == ">" && t.joined && self.toks.get(self.i + 1).map(|n| n.tok == Tok::Punct(">")).unwrap_or(false) {
            return Some((">>", 2));
        }
        Some((p, 1))
    }

    fn ternary(&mut self) -> SrcResult<i128> {
        let c = self.binary(0)?;
        if self.peek() == Some(&Tok::Punct("?")) {
            self.i += 1;
            let a = self.ternary()?;
            if self.peek() != Some(&Tok::Punct(":")) {
                return err(self.pos(), "#if: `?` without `:`");
            }
            self.i += 1;
            let b = self.ternary()?;
            return Ok(if c != 0 { a } else { b });
        }
        Ok(c)
    }

    fn binary(&mut self, min: u8) -> SrcResult<i128> {
        let mut lhs = self.unary()?;
        loop {
            let Some((op, len)) = self.op() else { break };
            let prec = match op {
                "||" => 1,
                "&&" => 2,
                "|" => 3,
                "^" => 4,
                "&" => 5,
                "==" | "!=" => 6,
                "<" | "<=" | ">" | ">=" => 7,
                "<<" | ">>" => 8,
                "+" | "-" => 9,
                "*" | "/" | "%" => 10,
                _ => break,
            };
            if prec < min {
                break;
            }
            let at = self.pos();
            self.i += len;
            let rhs = self.binary(prec + 1)?;
            let b = |x: bool| x as i128;
            lhs = match op {
                "||" => b(lhs != 0 || rhs != 0),
                "&&" => b(lhs != 0 && rhs != 0),
                "|" => lhs | rhs,
                "^" => lhs ^ rhs,
                "&" => lhs & rhs,
                "==" => b(lhs == rhs),
                "!=" => b(lhs != rhs),
                "<" => b(lhs < rhs),
                "<=" => b(lhs <= rhs),
                ">" => b(lhs > rhs),
                ">=" => b(lhs >= rhs),
                "<<" => lhs.checked_shl(u32::try_from(rhs).unwrap_or(u32::MAX)).unwrap_or(0),
                ">>" => lhs.checked_shr(u32::try_from(rhs).unwrap_or(u32::MAX)).unwrap_or(0),
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "*" => lhs.wrapping_mul(rhs),
                _ if rhs == 0 => return err(at, "#if: division by zero"),
                "/" => lhs.wrapping_div(rhs),
                _ => lhs.wrapping_rem(rhs),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> SrcResult<i128> {
        let pos = self.pos();
        let Some(t) = self.peek().cloned() else { return err(pos, "#if: the condition ends too early") };
        self.i += 1;
        match t {
            Tok::Punct("!") => Ok((self.unary()? == 0) as i128),
            Tok::Punct("~") => Ok(!self.unary()?),
            Tok::Punct("-") => Ok(self.unary()?.wrapping_neg()),
            Tok::Punct("+") => self.unary(),
            Tok::Punct("(") => {
                let v = self.ternary()?;
                if self.peek() != Some(&Tok::Punct(")")) {
                    return err(self.pos(), "#if: missing `)`");
                }
                self.i += 1;
                Ok(v)
            }
            Tok::Int { value, width: None, .. } => Ok(value as i128),
            Tok::Int { .. } => err(pos, "#if: width-prefixed literals (8w1) are P4, not preprocessor, syntax"),
            // cpp: an identifier left after macro expansion is 0.
            Tok::Ident(_) => Ok(0),
            other => err(pos, format!("#if: unexpected `{}`", tok_text(&other))),
        }
    }
}

fn strip_line_comment(s: &str) -> &str {
    let s = match s.find("//") {
        Some(k) => &s[..k],
        None => s,
    };
    match s.find("/*") {
        Some(k) if s[k..].contains("*/") && s.trim_end().ends_with("*/") => s[..k].trim_end(),
        _ => s.trim_end(),
    }
}

/// `123`, `0x1F`, `0b101`, `0o7`, `8w5`, `16w0xffff`, `8s3` (signed).
fn parse_int(s: &str) -> Option<Tok> {
    let s = s.replace('_', "");
    let (width, signed, digits) = match s.find(['w', 's']) {
        Some(k) if !s.starts_with("0x") || k < 2 => {
            let w: u32 = s[..k].parse().ok()?;
            (Some(w), &s[k..k + 1] == "s", s[k + 1..].to_string())
        }
        _ => (None, false, s.clone()),
    };
    let d = digits.to_ascii_lowercase();
    let value = if let Some(h) = d.strip_prefix("0x") {
        u128::from_str_radix(h, 16).ok()?
    } else if let Some(h) = d.strip_prefix("0b") {
        u128::from_str_radix(h, 2).ok()?
    } else if let Some(h) = d.strip_prefix("0o") {
        u128::from_str_radix(h, 8).ok()?
    } else if let Some(h) = d.strip_prefix("0d") {
        h.parse().ok()?
    } else {
        d.parse().ok()?
    };
    Some(Tok::Int { value, width, signed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(parse_int("8w0x02"), Some(Tok::Int { value: 2, width: Some(8), signed: false }));
        assert_eq!(parse_int("0xFFFFFE00"), Some(Tok::Int { value: 0xFFFF_FE00, width: None, signed: false }));
        assert_eq!(parse_int("32w20"), Some(Tok::Int { value: 20, width: Some(32), signed: false }));
        assert_eq!(parse_int("4s3"), Some(Tok::Int { value: 3, width: Some(4), signed: true }));
        assert_eq!(parse_int("12x"), None);
    }

    fn idents(src: &str) -> Vec<String> {
        let (toks, _) = Lexer::run_text("t.p4", src, None).unwrap();
        toks.iter().filter_map(|t| if let Tok::Ident(s) = &t.tok { Some(s.clone()) } else { None }).collect()
    }

    #[test]
    fn if_expressions_as_cpp() {
        let src = "#define V 20180101\n#if V >= 20200408\nnew\n#else\nold\n#endif\n\
                   #if defined(V) && !defined UNDEF && (1 << 4) == 16 && (32 >> 1) == 16 && 7 % 4 == 3\nyes\n#endif\n\
                   #if UNDEF\nno1\n#elif V - 20180101\nno2\n#elif (V / 10000) == 2018 ? 1 : 0\nelif\n#else\nno3\n#endif\n\
                   #if 0\n#if garbage (((\n#endif\n#endif\n";
        assert_eq!(idents(src), ["old", "yes", "elif"]);
        let e = Lexer::run_text("t.p4", "\n  #if V >=\n#endif\n", None).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("ends too early"), "{e}");
        let e = Lexer::run_text("t.p4", "#if 1 2\n#endif\n", None).unwrap_err();
        assert_eq!((e.line, e.col), (1, 7), "{e}");
        let e = Lexer::run_text("t.p4", "#elif 1\n", None).unwrap_err();
        assert!(e.message.contains("#elif without #if"), "{e}");
    }

    #[test]
    fn v1model_version_defaults_and_follows_the_define() {
        let src = "#include <v1model.p4>\n#if V1MODEL_VERSION >= 20200408\nnew\n#else\nold\n#endif\n";
        assert_eq!(idents(src).last().map(String::as_str), Some("old"));
        let dir = std::env::temp_dir().join(format!("sy-lex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("v.p4");
        std::fs::write(&f, src).unwrap();
        let (toks, _) = Lexer::run(&f, &[("V1MODEL_VERSION".into(), "20200408".into())]).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(toks.iter().any(|t| t.tok == Tok::Ident("new".into())));
        assert!(!toks.iter().any(|t| t.tok == Tok::Ident("old".into())));
    }

    #[test]
    fn defines_ifdefs_and_refusals() {
        let src = "#define A 8w1\n#ifndef B\n#define B A\n#endif\nx = B; /* c\n c */ y\n#ifdef A\nz\n#else\nw\n#endif\n";
        let (toks, _) = Lexer::run_text("t.p4", src, None).unwrap();
        let ts: Vec<_> = toks.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(ts[2], Tok::Int { value: 1, width: Some(8), signed: false });
        assert_eq!(ts[4], Tok::Ident("y".into()));
        assert_eq!(ts[5], Tok::Ident("z".into()));
        assert_eq!(ts.len(), 7);
        let e = Lexer::run_text("t.p4", "\n#define F(x) x\n", None).unwrap_err();
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.contains("function-like"), "{e}");
    }
}
