//! Just enough Markdown for the docs check: the project's documents, their
//! fenced code blocks, inline code spans, link targets and heading anchors.
//! Hand-written (no Markdown or regex crate) because the docs use a small,
//! regular subset: ``` fences at the start of a line, single-backtick spans,
//! `[text](target)` links and `#` headings.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One document: its path relative to the repository root, and its text.
pub struct Doc {
    pub path: PathBuf,
    pub text: String,
}

/// The repository root (this package lives in `tests/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("repository root")
}

/// README.md and every docs/*.md, in name order.
pub fn project_docs(repo: &Path) -> Vec<Doc> {
    let mut paths = vec![PathBuf::from("README.md")];
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(repo.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| PathBuf::from("docs").join(p.file_name().unwrap()))
        .collect();
    in_docs.sort();
    paths.extend(in_docs);
    paths
        .into_iter()
        .map(|p| Doc { text: std::fs::read_to_string(repo.join(&p)).unwrap_or_else(|e| panic!("{}: {e}", p.display())), path: p })
        .collect()
}

/// The text outside fenced blocks, and the blocks' logical lines (a line
/// ending in `\` continues on the next, as in a shell).
pub fn split_fences(text: &str) -> (String, Vec<String>) {
    let (mut prose, mut lines, mut fenced, mut cont) = (String::new(), Vec::new(), false, String::new());
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            prose.push('\n');
            continue;
        }
        if !fenced {
            prose.push_str(line);
            prose.push('\n');
        } else if let Some(head) = line.trim_end().strip_suffix('\\') {
            cont.push_str(head);
            cont.push(' ');
        } else {
            cont.push_str(line);
            lines.push(std::mem::take(&mut cont));
        }
    }
    (prose, lines)
}

/// Inline code spans of `prose` (text outside fences). A span may wrap
/// onto the next line but never crosses a blank line.
pub fn code_spans(prose: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = prose;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        let span = &after[..close];
        if span.contains("\n\n") {
            // An unmatched backtick: resynchronise after it.
            rest = after;
            continue;
        }
        out.push(span.to_string());
        rest = &after[close + 1..];
    }
    out
}

/// Targets of `[text](target)` links in `prose`.
pub fn link_targets(prose: &str) -> Vec<String> {
    prose
        .split("](")
        .skip(1)
        .filter_map(|s| s.find(')').map(|end| s[..end].to_string()))
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .collect()
}

/// GitHub's anchors of the headings of `text`: lower case, spaces to `-`,
/// punctuation other than `-` and `_` dropped, `-1`, `-2` … for repeats.
pub fn anchors(text: &str) -> HashSet<String> {
    let (prose, _) = split_fences(text);
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = HashSet::new();
    for line in prose.lines() {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while !seen.insert(unique.clone()) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        out.insert(unique);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_spans_links_and_anchors() {
        let md = "# A title\n\nSee `x/y.rs` and [B](b.md#the-part).\n\n```sh\nrun --a \\\n  --b\n```\n## The part\n## The part\n";
        let (prose, lines) = split_fences(md);
        assert_eq!(lines.iter().map(|l| l.split_whitespace().collect::<Vec<_>>()).collect::<Vec<_>>(), vec![vec!["run", "--a", "--b"]]);
        assert_eq!(code_spans(&prose), vec!["x/y.rs"]);
        assert_eq!(link_targets(&prose), vec!["b.md#the-part"]);
        let a = anchors(md);
        assert!(a.contains("a-title") && a.contains("the-part") && a.contains("the-part-1"), "{a:?}");
    }
}
