//! Shared pieces of the end-to-end tests (the tests themselves are under
//! `e2e/`; packet vectors shared by every engine live under `vectors/`).

use switchyard_testbed::{netns, NS_PREFIX};

/// Asserts that no namespace of the testbed tagged `tag` is left.
pub fn assert_no_namespaces(tag: &str) {
    let left = netns::list(&format!("{NS_PREFIX}{tag}-"));
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

/// The example front-end config (the testbed's), with its path.
pub fn example_config() -> (std::path::PathBuf, switchyard_frontend::config::Config) {
    let path = switchyard_testbed::repo_root().join("frontend/examples/switchyard.toml");
    let cfg = switchyard_frontend::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    (path, cfg)
}

/// A copy of the example config in `dir` (as `name`) with each `(line,
/// replacement)` applied once; panics if a line is not there (the example
/// changed under the test). Parsed before it is returned.
pub fn example_config_with(dir: &std::path::Path, name: &str, edits: &[(&str, String)]) -> std::path::PathBuf {
    let (path, _) = example_config();
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (line, with) in edits {
        assert!(text.contains(line), "the example config has no `{line}` any more");
        text = text.replacen(line, with, 1);
    }
    let out = dir.join(name);
    std::fs::write(&out, &text).unwrap();
    switchyard_frontend::config::load(&out).unwrap_or_else(|e| panic!("{e}"));
    out
}
