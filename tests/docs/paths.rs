//! Which words of a document name a repository path, and whether it exists.
//!
//! The rules (kept simple on purpose; a false positive is fixed by
//! rewording the doc or by a rule here, never by a list of exceptions):
//!
//! * Every word counts, in prose, code spans and code blocks, once the
//!   punctuation around it (`()[]{},;:.'"*!?|<>`), a `#anchor` and a
//!   `:line:col` suffix are cut off.
//! * It is a path when it holds a `/` and either starts with an entry of
//!   the repository root (`frontend/…`, `docs/…`, `.ci/…`) or ends in a
//!   file name with a known extension (`src/probe.rs`, `include/tables.p4`).
//! * Not paths: absolute paths (`/proc`, `/sys`, `/run`, `/tmp`, `/etc` …),
//!   URLs, anything under `target/`, words holding `..`, `*`, `<`, `>`,
//!   `{`, `}`, `$`, `…`, `=` or `|` (globs, placeholders, alternatives).
//! * It exists when it is a file or folder from the repository root, or
//!   from some folder of the repository: docs name a crate's files from
//!   the crate's folder (AGENT.md's `tests/abi.rs`), the benchmark report
//!   its results from docs/ (`bench/results.csv`).
//!
//! Links (`[text](target)`) are checked apart, as GitHub resolves them:
//! from the document's folder, and a `#anchor` must be a heading there.

use std::collections::HashSet;
use std::path::Path;

const EXTENSIONS: &[&str] = &["rs", "md", "toml", "p4", "json", "csv", "c", "h", "proto", "py", "sh", "txt", "svg", "png", "lock"];
const NOT_IN_A_PATH: &[&str] = &["..", "*", "<", ">", "{", "}", "$", "…", "=", "|", "://"];

/// Every file and folder of the repository, relative to its root, without
/// `.git`, build output (`target`) and the Python venv.
pub struct Tree {
    entries: HashSet<String>,
    top: HashSet<String>,
}

impl Tree {
    pub fn walk(repo: &Path) -> Tree {
        let mut entries = HashSet::new();
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(repo.join(&dir)).unwrap_or_else(|e| panic!("{dir}: {e}")) {
                let e = e.expect("directory entry");
                let name = e.file_name().to_string_lossy().into_owned();
                if matches!(name.as_str(), ".git" | "target" | ".venv") {
                    continue;
                }
                let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
                if e.file_type().expect("file type").is_dir() {
                    stack.push(rel.clone());
                }
                entries.insert(rel);
            }
        }
        let top = entries.iter().filter(|e| !e.contains('/')).cloned().collect();
        Tree { entries, top }
    }

    /// A file or folder from the root, or from some folder of the repository.
    pub fn has(&self, path: &str) -> bool {
        let p = path.trim_end_matches('/');
        let tail = format!("/{p}");
        self.entries.contains(p) || self.entries.iter().any(|e| e.ends_with(&tail))
    }

    /// The repository path `word` names, if it names one (the rules above).
    pub fn path_in(&self, word: &str) -> Option<String> {
        let mut w = word.trim_matches(|c: char| "()[]{},;:.'\"*!?|<>".contains(c));
        if let Some(i) = w.find('#') {
            w = &w[..i];
        }
        // `p4/include/cookie.p4:60:1`: a location in a file.
        while let Some((head, num)) = w.rsplit_once(':') {
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                break;
            }
            w = head;
        }
        if !w.contains('/') || w.starts_with('/') || NOT_IN_A_PATH.iter().any(|s| w.contains(s)) {
            return None;
        }
        let first = w.split('/').next().unwrap();
        if first == "target" {
            return None;
        }
        let last = w.trim_end_matches('/').rsplit('/').next().unwrap();
        let known_file = last.rsplit_once('.').is_some_and(|(_, ext)| EXTENSIONS.contains(&ext));
        (self.top.contains(first) || known_file).then(|| w.to_string())
    }
}

/// The words of `text`: split at white space, backticks and link openings.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == '`').flat_map(|w| w.split("](")).filter(|w| !w.is_empty())
}

/// Paths of `text` (a whole document) that do not exist.
pub fn missing_paths(tree: &Tree, text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    words(text).filter_map(|w| tree.path_in(w)).filter(|p| !tree.has(p) && seen.insert(p.clone())).collect()
}

/// Links of `doc_path`'s `text` whose file (from the document's folder) or
/// heading does not exist. URLs and `mailto:` are not followed.
pub fn broken_links(repo: &Path, doc_path: &Path, text: &str) -> Vec<String> {
    let (prose, _) = super::markdown::split_fences(text);
    let dir = doc_path.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for t in super::markdown::link_targets(&prose) {
        if t.contains("://") || t.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = t.split_once('#').unwrap_or((&t, ""));
        let target = if file.is_empty() { doc_path.to_path_buf() } else { dir.join(file) };
        let full = repo.join(&target);
        if !full.exists() {
            out.push(format!("{t}: no {}", target.display()));
        } else if !anchor.is_empty() && full.extension().is_some_and(|x| x == "md") {
            let text = std::fs::read_to_string(&full).expect("linked doc");
            if !super::markdown::anchors(&text).contains(anchor) {
                out.push(format!("{t}: no heading `#{anchor}` in {}", target.display()));
            }
        }
    }
    out
}
