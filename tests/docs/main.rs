//! The docs check (issue 14, point 5): README.md and docs/*.md stay true
//! to the repository. Every path they name exists, every link and anchor
//! resolves, and every `--flag` they show next to one of the workspace's
//! binaries is in that binary's `--help`. The rules are in `paths.rs` and
//! `flags.rs`. No root, no network; the flags test runs the binaries the
//! suite built (`cargo build --workspace --all-targets`, as scripts/test).

mod flags;
mod markdown;
mod paths;

use markdown::{project_docs, repo};
use paths::Tree;

#[test]
fn every_path_a_doc_names_exists() {
    let repo = repo();
    let tree = Tree::walk(&repo);
    let (mut bad, mut named) = (Vec::new(), 0);
    for d in project_docs(&repo) {
        named += paths::words(&d.text).filter_map(|w| tree.path_in(w)).count();
        bad.extend(paths::missing_paths(&tree, &d.text).into_iter().map(|p| format!("{}: `{p}`", d.path.display())));
    }
    // The rules still find the docs' paths (there are about 300).
    assert!(named > 150, "only {named} paths found in the docs: the rules no longer see them");
    assert!(bad.is_empty(), "paths the docs name that are not in the repository:\n{}", bad.join("\n"));
}

#[test]
fn the_path_rules_report_a_drifted_path_and_nothing_else() {
    let tree = Tree::walk(&repo());
    let text = "`frontend/src/engine/gone.rs` next to frontend/src/pool.rs, (docs/P4.md), \
                `src/probe.rs` (a crate's file), p4/include/cookie.p4:60:1, docs/OPERATIONS.md#7-known-limits, \
                198.18.0.0/15, /proc/net/dev, target/debug/x, docs/*.md, `<backend>/x`, tx/rx, https://example.com/a.rs";
    assert_eq!(paths::missing_paths(&tree, text), vec!["frontend/src/engine/gone.rs"]);
}

#[test]
fn every_link_resolves_to_a_file_and_heading() {
    let repo = repo();
    let mut bad = Vec::new();
    for d in project_docs(&repo) {
        bad.extend(paths::broken_links(&repo, &d.path, &d.text).into_iter().map(|l| format!("{}: {l}", d.path.display())));
    }
    let planted = paths::broken_links(&repo, std::path::Path::new("docs/X.md"), "[a](P4.md) [b](P4.md#no-such-heading) [c](gone.md)");
    assert_eq!(planted.len(), 2, "{planted:?}");
    assert!(bad.is_empty(), "links in the docs that do not resolve:\n{}", bad.join("\n"));
}

#[test]
fn every_flag_a_doc_shows_is_in_its_binarys_help() {
    let repo = repo();
    let bins = flags::workspace_bins(&repo);
    for b in ["switchyard-frontend", "switchyard-ctl", "switchyard-p4rt", "switchyard-agent", "switchyard-testbed", "switch-sim-bench"] {
        assert!(bins.iter().any(|x| x == b), "{b} not among the workspace's binaries {bins:?}");
    }
    let mut helps = flags::Helps::new();
    let (mut bad, mut checked) = (Vec::new(), 0);
    for d in project_docs(&repo) {
        for cmd in flags::commands(&d.text) {
            for s in flags::shown(&cmd, &bins) {
                let (b, n) = flags::unknown_flags(&s, &mut helps);
                checked += n;
                let cmd = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
                bad.extend(b.into_iter().map(|e| format!("{}: `{cmd}`: {e}", d.path.display())));
            }
        }
    }
    for d in project_docs(&repo) {
        for l in flags::listed_flags(&d.text, &bins) {
            checked += 1;
            match flags::any_help_mentions(&mut helps, &l.bin, &l.flag) {
                Ok(true) => {}
                Ok(false) => bad.push(format!("{}:{}: `{}` listed for {}, which has no such flag", d.path.display(), l.line, l.flag, l.bin)),
                Err(e) => bad.push(format!("{}:{}: {e}", d.path.display(), l.line)),
            }
        }
    }
    // A flag no binary has is reported, a subcommand's flag is looked up in
    // the subcommand's help, and a real one passes.
    let planted = flags::shown("switchyard-ctl --switch ADDR connections --limit 20 --no-such-flag", &bins);
    let (b, n) = flags::unknown_flags(&planted[0], &mut helps);
    assert_eq!((b.len(), n), (1, 3), "{b:?}");
    assert!(b[0].contains("switchyard-ctl connections --help") && b[0].contains("--no-such-flag"), "{b:?}");
    assert!(checked > 60, "only {checked} flags found in the docs: the rules no longer see them");
    assert!(bad.is_empty(), "flags the docs show that the binaries do not have:\n{}", bad.join("\n"));
}

#[test]
fn commands_are_cut_as_the_rules_say() {
    let bins: Vec<String> = ["switchyard-ctl", "switch-sim-bench", "switchyard-agent"].map(String::from).to_vec();
    let s = flags::shown("cargo run --release -p switchyard-switch-sim --bin switch-sim-bench -- [--engine fast|interp]", &bins);
    assert_eq!((s.len(), s[0].bin.as_str(), s[0].args.clone()), (1, "switch-sim-bench", vec!["[--engine".to_string(), "fast|interp]".into()]));
    assert!(flags::shown("cargo test -p switchyard-agent -- --include-ignored", &bins).is_empty());
    let s = flags::shown("target/debug/switchyard-ctl counters | head; switchyard-agent status --iface eth0 # why", &bins);
    assert_eq!(s.iter().map(|s| (s.bin.as_str(), s.args.len())).collect::<Vec<_>>(), vec![("switchyard-ctl", 1), ("switchyard-agent", 3)]);
    assert_eq!(flags::flags_of("[--mode=x"), vec!["--mode"]);
    assert!(flags::flags_of("a--b").is_empty() && flags::flags_of("--").is_empty());
    assert!(flags::mentions("  --iface <IFACE>\n", "--iface") && !flags::mentions("  --iface-name\n", "--iface"));
}

#[test]
fn list_items_document_the_flags_of_the_binary_above_them() {
    let bins: Vec<String> = ["switchyard-p4rt", "switchyard-switch-sim"].map(String::from).to_vec();
    let md = "## Running\n\n```\nswitchyard-switch-sim --p4 x\n```\n\n* `--port N=IF`: mentions `switchyard-p4rt` in passing\n  `--not-a-lead`\n* `--replay FILE --root REPO`: two\n\n`switchyard-p4rt` flags:\n\n- `--addr ADDR`\n- `-D X`, `--p4`: no leading --\n\n## Next\n\n- `--orphan`\n";
    let got: Vec<(String, String)> = flags::listed_flags(md, &bins).into_iter().map(|l| (l.bin, l.flag)).collect();
    let want: Vec<(String, String)> = [("switchyard-switch-sim", "--port"), ("switchyard-switch-sim", "--replay"), ("switchyard-switch-sim", "--root"), ("switchyard-p4rt", "--addr")]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .to_vec();
    assert_eq!(got, want);
}
