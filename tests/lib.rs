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
