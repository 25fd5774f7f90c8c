//! `p4_device_config` for switch-sim: what program to run. It either names
//! the P4 source or carries it:
//!
//! - JSON `{"p4_path": "/path/switchyard.p4", "defines": {"NAME": "VALUE"}}`
//!   (includes resolve next to the file), or
//! - JSON `{"p4_source": "<text>", "include_dir": "/dir", "defines": {…}}`, or
//! - the P4 source text itself (includes resolve in the server's
//!   `--include-dir`).
//!
//! `defines` act as `-DNAME=VALUE` (e.g. a small CONNECTION_TABLE_SIZE in tests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_switch_sim::front::{lex::Lexer, parse::parse_program};
use switchyard_switch_sim::{ir::Program, Switch};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    p4_path: Option<PathBuf>,
    p4_source: Option<String>,
    include_dir: Option<PathBuf>,
    #[serde(default)]
    defines: BTreeMap<String, String>,
}

/// Compiles the program a device config describes.
pub fn load(config: &[u8], default_include_dir: Option<&Path>) -> Result<Arc<Program>, String> {
    let text = std::str::from_utf8(config).map_err(|_| "p4_device_config is neither JSON nor P4 source (not UTF-8)".to_string())?;
    if text.trim().is_empty() {
        return Err("p4_device_config is empty: it must name or carry the P4 source".into());
    }
    let json: Option<Json> = if text.trim_start().starts_with('{') {
        Some(serde_json::from_str(text).map_err(|e| format!("p4_device_config JSON: {e}"))?)
    } else {
        None
    };
    let (source, dir, defines) = match json {
        Some(Json { p4_path: Some(p), p4_source: None, defines, .. }) => {
            let defines: Vec<(String, String)> = defines.into_iter().collect();
            return Switch::load_program(&p, &defines).map(Arc::new).map_err(|e| e.to_string());
        }
        Some(Json { p4_path: None, p4_source: Some(s), include_dir, defines }) => {
            (s, include_dir.or_else(|| default_include_dir.map(Path::to_path_buf)), defines)
        }
        Some(_) => return Err("p4_device_config JSON needs exactly one of p4_path and p4_source".into()),
        None => (text.to_string(), default_include_dir.map(Path::to_path_buf), BTreeMap::new()),
    };
    // Defines for carried source become #define lines ahead of it.
    let mut full = String::new();
    for (k, v) in &defines {
        if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || v.contains('\n') {
            return Err(format!("bad define {k}={v}"));
        }
        full.push_str(&format!("#define {k} {v}\n"));
    }
    full.push_str(&source);
    let (toks, files) = Lexer::run_text("<p4_device_config>", &full, dir).map_err(|e| e.to_string())?;
    let decls = parse_program(&toks).map_err(|e| files.resolve(e).to_string())?;
    let prog = switchyard_switch_sim::compile::compile(&decls).map_err(|e| files.resolve(e).to_string())?;
    for w in &prog.warnings {
        eprintln!("switchyard-p4rt: warning: {}", files.resolve(w.clone()));
    }
    Ok(Arc::new(prog))
}
