//! The workspace's binaries, the commands the docs show them in, and
//! whether each `--flag` shown is one the binary's `--help` lists.
//!
//! The rules:
//!
//! * Binaries: the `[[bin]]` names of every workspace member's Cargo.toml,
//!   the files of its `src/bin/` no `[[bin]]` claims, and the package name
//!   for a `src/main.rs` no `[[bin]]` claims.
//! * Commands: every logical line of a fenced block (a trailing `\`
//!   continues it) and every inline code span.
//! * In a command, a word naming a binary (or a path ending in one,
//!   `target/debug/switchyard-ctl`) starts that binary's arguments; they
//!   end at the next binary, `|`, `;`, `&&`, `||`, `>` or a `#` comment.
//!   `cargo run … --bin B` / `-p B` shows B with the words after `--`;
//!   other cargo commands (test, build, `--example`) show no binary.
//! * Every `--flag` in the arguments (`[--mode` and `--x=1` count as
//!   `--mode`, `--x`) must appear in `B --help`. A word that is one of B's
//!   subcommands (the `Commands:` list of its help) switches to
//!   `B SUB --help` for the words after it.
//! * Flag lists: a list item (`* ` or `- `) whose first code span starts
//!   with `--` documents the flags of that span for the binary last named
//!   above it in its section, outside list items (a fenced command, or a
//!   lead-in such as "`switchyard-p4rt` flags:"). They must be in the
//!   binary's help or one of its subcommands'.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binaries of the workspace's members.
pub fn workspace_bins(repo: &Path) -> Vec<String> {
    let root = std::fs::read_to_string(repo.join("Cargo.toml")).expect("Cargo.toml");
    let members = root.split("members = [").nth(1).and_then(|s| s.split(']').next()).expect("workspace members");
    let mut bins = Vec::new();
    for member in members.split('"').skip(1).step_by(2) {
        let dir = repo.join(member);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_else(|e| panic!("{member}/Cargo.toml: {e}"));
        let (package, declared) = manifest_bins(&manifest);
        let claimed: Vec<&str> = declared.iter().filter_map(|(_, p)| p.as_deref()).collect();
        bins.extend(declared.iter().map(|(n, _)| n.clone()));
        if let Ok(dir) = std::fs::read_dir(dir.join("src/bin")) {
            for e in dir {
                let name = e.expect("src/bin entry").file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".rs") {
                    if !claimed.contains(&format!("src/bin/{name}").as_str()) {
                        bins.push(stem.to_string());
                    }
                }
            }
        }
        if repo.join(member).join("src/main.rs").is_file() && !claimed.contains(&"src/main.rs") {
            bins.push(package);
        }
    }
    bins.sort();
    bins.dedup();
    bins
}

/// The package name and the `[[bin]]` (name, path) pairs of a manifest.
fn manifest_bins(manifest: &str) -> (String, Vec<(String, Option<String>)>) {
    let value = |line: &str, key: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(key)?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    };
    let (mut section, mut package, mut bins) = (String::new(), String::new(), Vec::new());
    for line in manifest.lines() {
        if line.trim_start().starts_with('[') {
            section = line.trim().to_string();
            if section == "[[bin]]" {
                bins.push((String::new(), None));
            }
        } else if section == "[package]" && package.is_empty() {
            package = value(line, "name").unwrap_or_default();
        } else if section == "[[bin]]" {
            let last = bins.last_mut().unwrap();
            if let Some(n) = value(line, "name") {
                last.0 = n;
            } else if let Some(p) = value(line, "path") {
                last.1 = Some(p);
            }
        }
    }
    (package, bins)
}

/// Every command of a document: fenced lines and inline code spans.
pub fn commands(text: &str) -> Vec<String> {
    let (prose, mut lines) = super::markdown::split_fences(text);
    lines.extend(super::markdown::code_spans(&prose));
    lines
}

/// A binary as a command shows it.
pub struct Shown {
    pub bin: String,
    pub args: Vec<String>,
}

fn trimmed(w: &str) -> &str {
    w.trim_matches(|c: char| "()[],".contains(c))
}

/// The binaries `cmd` shows, each with its arguments.
pub fn shown(cmd: &str, bins: &[String]) -> Vec<Shown> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let is_bin = |w: &str| bins.iter().any(|b| b == trimmed(w).rsplit('/').next().unwrap());
    if let Some(k) = words.iter().position(|w| *w == "cargo") {
        if words.get(k + 1) != Some(&"run") || words.contains(&"--example") {
            return Vec::new();
        }
        let after = |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied();
        let Some(bin) = after("--bin").or_else(|| after("-p")).or_else(|| after("--package")).filter(|b| is_bin(b)) else {
            return Vec::new();
        };
        let args = words.iter().skip_while(|w| **w != "--").skip(1).map(|w| w.to_string()).collect();
        return vec![Shown { bin: trimmed(bin).to_string(), args }];
    }
    let mut out: Vec<Shown> = Vec::new();
    let mut open = false;
    for w in words {
        if is_bin(w) {
            out.push(Shown { bin: trimmed(w).rsplit('/').next().unwrap().to_string(), args: Vec::new() });
            open = true;
        } else if ["|", ";", "&&", "||"].contains(&w) || w.starts_with('#') || w.starts_with('>') || w.starts_with("2>") {
            open = false;
        } else if open {
            out.last_mut().unwrap().args.push(w.to_string());
        }
    }
    out
}

/// The `--flag`s of one word: `[--mode` → `--mode`, `--x=1` → `--x`.
pub fn flags_of(word: &str) -> Vec<String> {
    let b = word.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len().saturating_sub(2) {
        let starts = b[i] == b'-' && b[i + 1] == b'-' && b[i + 2].is_ascii_lowercase();
        let after_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-');
        if starts && !after_word {
            let len = b[i + 2..].iter().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'-').count();
            out.push(word[i..i + 2 + len].trim_end_matches('-').to_string());
        }
    }
    out
}

/// Whether `help` lists `flag` (not merely a longer flag starting with it).
pub fn mentions(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let next = help[i + flag.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The subcommands in a clap help's `Commands:` list.
pub fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Runs the built binaries' `--help`, once each.
pub struct Helps {
    dirs: Vec<PathBuf>,
    cache: HashMap<(String, Option<String>), Result<String, String>>,
}

impl Helps {
    /// Binaries next to this test's executable (target/debug/deps) or in
    /// its parent (target/debug), as the testbed's `find_bin` looks, or in
    /// `$SWITCHYARD_BIN_DIR`; not on PATH, which may hold an old install.
    pub fn new() -> Helps {
        let mut dirs: Vec<PathBuf> = std::env::var_os("SWITCHYARD_BIN_DIR").map(PathBuf::from).into_iter().collect();
        let exe = std::env::current_exe().expect("test executable");
        dirs.extend(exe.ancestors().skip(1).take(2).map(Path::to_path_buf));
        Helps { dirs, cache: HashMap::new() }
    }

    pub fn help(&mut self, bin: &str, sub: Option<&str>) -> Result<String, String> {
        let key = (bin.to_string(), sub.map(str::to_string));
        if !self.cache.contains_key(&key) {
            let found = self.dirs.iter().map(|d| d.join(bin)).find(|p| p.is_file());
            let got = match found {
                None => Err(format!("`{bin}` is not built: the docs check runs the workspace's binaries, build them first (cargo build --workspace --all-targets)")),
                Some(path) => run_help(&path, sub),
            };
            self.cache.insert(key.clone(), got);
        }
        self.cache[&key].clone()
    }
}

/// `path [sub] --help`: its stdout and stderr (a binary without clap may
/// print its usage as an error), within 30 s.
fn run_help(path: &Path, sub: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(path)
        .args(sub)
        .arg("--help")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(child.stdout.take().unwrap())), read(Box::new(child.stderr.take().unwrap())));
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} --help did not exit within 30 s", path.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = out.join().unwrap() + &err.join().unwrap();
    if !text.to_lowercase().contains("usage") {
        return Err(format!("{} {}--help printed no usage:\n{text}", path.display(), sub.map(|s| format!("{s} ")).unwrap_or_default()));
    }
    Ok(text)
}

/// The flags of `s` its binary's help does not list, each with a reason;
/// and how many flags were checked.
pub fn unknown_flags(s: &Shown, helps: &mut Helps) -> (Vec<String>, usize) {
    if !s.args.iter().any(|a| !flags_of(a).is_empty()) {
        return (Vec::new(), 0);
    }
    let mut help = match helps.help(&s.bin, None) {
        Ok(h) => h,
        Err(e) => return (vec![e], 0),
    };
    let subs = subcommands(&help);
    let (mut sub, mut bad, mut checked) = (None::<String>, Vec::new(), 0);
    for a in &s.args {
        if sub.is_none() && subs.iter().any(|c| c == trimmed(a)) {
            sub = Some(trimmed(a).to_string());
            help = match helps.help(&s.bin, sub.as_deref()) {
                Ok(h) => h,
                Err(e) => return (vec![e], checked),
            };
            continue;
        }
        for f in flags_of(a) {
            checked += 1;
            if !mentions(&help, &f) {
                let with_sub = sub.as_ref().map(|c| format!("{} {c}", s.bin)).unwrap_or_else(|| s.bin.clone());
                bad.push(format!("`{with_sub} --help` has no `{f}`"));
            }
        }
    }
    (bad, checked)
}

/// A flag a list item documents for a binary (the flag-list rule above).
pub struct Listed {
    pub bin: String,
    pub flag: String,
    pub line: usize,
}

/// The flags `text`'s list items document, each with its binary.
pub fn listed_flags(text: &str, bins: &[String]) -> Vec<Listed> {
    let bin_of = |w: &str| {
        let b = trimmed(w).rsplit('/').next().unwrap();
        bins.iter().find(|x| *x == b).cloned()
    };
    let (mut out, mut last, mut fenced) = (Vec::new(), None::<String>, false);
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            last = line.split_whitespace().filter_map(bin_of).last().or(last);
        } else if line.starts_with('#') {
            last = None;
        } else if let Some(item) = t.strip_prefix("* ").or_else(|| t.strip_prefix("- ")) {
            let span = item.strip_prefix('`').and_then(|r| r.split('`').next()).filter(|s| s.starts_with("--"));
            if let (Some(span), Some(bin)) = (span, &last) {
                for flag in span.split_whitespace().flat_map(flags_of) {
                    out.push(Listed { bin: bin.clone(), flag, line: i + 1 });
                }
            }
        } else if !line.starts_with(char::is_whitespace) {
            let spans = super::markdown::code_spans(line);
            last = spans.iter().flat_map(|s| s.split_whitespace()).filter_map(bin_of).last().or(last);
        }
    }
    out
}

/// Whether `bin`'s help, or one of its subcommands' helps, lists `flag`.
pub fn any_help_mentions(helps: &mut Helps, bin: &str, flag: &str) -> Result<bool, String> {
    let top = helps.help(bin, None)?;
    if mentions(&top, flag) {
        return Ok(true);
    }
    for sub in subcommands(&top).iter().filter(|s| *s != "help") {
        if mentions(&helps.help(bin, Some(sub))?, flag) {
            return Ok(true);
        }
    }
    Ok(false)
}
