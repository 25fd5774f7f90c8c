//! Preprocessor and lexer in one pass: `#include`, object-like `#define`,
//! `#undef`, `#ifdef`/`#ifndef`/`#if 0|1`/`#else`/`#endif`, then tokens with
//! their file positions. Function-like macros and other directives are
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
                        let v = match rest {
                            "0" => false,
                            "1" => true,
                            _ => return err(pos, format!("#if {rest}: only `#if 0` and `#if 1` are supported")),
                        };
                        conds.push((parent && v, parent && v, parent));
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
