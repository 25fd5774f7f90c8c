//! Rotated cookie secrets kept across restarts (`[cookie]
//! rotated_secrets_file`): without it a restarted front-end would go back
//! to the config's secrets, which the rotation was meant to retire.
//!
//! The file holds the switch's current and previous secret as JSON, mode
//! 0600 (whoever reads it can forge SYN cookies). It is written after each
//! completed rotation to a temporary file in the same directory, synced,
//! then renamed over the old one, so a crash leaves the old or the new
//! pair, never half of one. At start the pair replaces the config's
//! `secrets` (current, then previous), which both the engine's keyring and
//! the switch's programming are derived from.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use switchyard_frontend::config::Config;
use switchyard_wire::cookie::CookieSecret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Secret {
    k0: u32,
    k1: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    current: Secret,
    previous: Secret,
}

impl From<CookieSecret> for Secret {
    fn from(s: CookieSecret) -> Self {
        Secret { k0: s.k0, k1: s.k1 }
    }
}

impl From<Secret> for CookieSecret {
    fn from(s: Secret) -> Self {
        CookieSecret { k0: s.k0, k1: s.k1 }
    }
}

/// The stored (current, previous) pair; None when the file does not exist
/// (a first start).
pub fn load(path: &Path) -> Result<Option<(CookieSecret, CookieSecret)>, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read the rotated cookie secrets: {e}", path.display())),
    };
    let s: Stored = serde_json::from_str(&text).map_err(|e| {
        format!("{}: not a rotated-secrets file ({e}); remove it to start from the config's secrets", path.display())
    })?;
    Ok(Some((s.current.into(), s.previous.into())))
}

/// Replaces the file with (current, previous), atomically, mode 0600.
pub fn store(path: &Path, current: CookieSecret, previous: CookieSecret) -> io::Result<()> {
    let text = serde_json::to_string(&Stored { current: current.into(), previous: previous.into() }).map_err(io::Error::other)?;
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let tmp = path.with_file_name(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    // The rename itself reaches the disk with the directory.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// At start: the stored pair, if any, replaces `cfg.cookie.secrets`.
/// Returns what happened, for the log.
pub fn apply(cfg: &mut Config) -> Result<Option<String>, String> {
    let Some(path) = cfg.cookie.rotated_secrets_file.clone() else { return Ok(None) };
    match load(&path)? {
        Some((current, previous)) => {
            cfg.cookie.secrets = vec![current, previous];
            Ok(Some(format!("cookie secrets from {} (rotated by an earlier run)", path.display())))
        }
        None => Ok(Some(format!("cookie secrets from the config; rotations will be kept in {}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const A: CookieSecret = CookieSecret { k0: 1, k1: 0xffff_fffe };
    const B: CookieSecret = CookieSecret { k0: 3, k1: 4 };

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("sy-secrets-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_mode_0600_and_replace() {
        let d = dir("rt");
        let p = d.join("secrets.json");
        assert_eq!(load(&p), Ok(None), "no file: first start");
        store(&p, A, B).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&p), Ok(Some((A, B))));
        store(&p, B, A).unwrap();
        assert_eq!(load(&p), Ok(Some((B, A))));
        let left: Vec<_> = fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("secrets.json")], "no temporary file left");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_path() {
        let d = dir("bad");
        let p = d.join("secrets.json");
        fs::write(&p, "{\"current\": {\"k0\": 1}}").unwrap();
        let e = load(&p).unwrap_err();
        assert!(e.contains("secrets.json") && e.contains("remove it"), "{e}");
        assert!(store(&d.join("no-such-dir/x.json"), A, B).is_err());
        fs::remove_dir_all(&d).unwrap();
    }
}
