//! Mutual TLS material for the P4Runtime channel: a private CA and the
//! certificates it signs, generated with rcgen, for the testbed (a fresh CA
//! per run) and `switchyard-ctl gen-certs` (an operator's first set).
//!
//! Written into one directory in the [`TlsFiles::in_dir`] layout:
//! `ca.pem`; `switch.pem` + `switch.key` (the server, valid for the given
//! names and addresses); one `NAME.pem` + `NAME.key` per client (the
//! testbed: `frontend` and `ctl`). Every file is mode 0600. The CA's key is
//! not written: nobody can sign another certificate for this CA afterwards
//! (generate a new set, or use your own CA, to add a client).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use p4runtime_proto::tls::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

use crate::client::ClientTls;

/// The server's file name stem in the directory.
pub const SWITCH: &str = "switch";

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The switch's files: `--tls-ca`, `--tls-cert`, `--tls-key` of
    /// `switchyard-p4rt` (or simple_switch_grpc's `--grpc-server-*`).
    pub switch: TlsFiles,
    /// Each client's files, in the order of the names given.
    pub clients: Vec<(String, TlsFiles)>,
}

impl Generated {
    /// A client's side of the channel, checking the switch's certificate for
    /// `server_name` (one of the names it was generated for).
    pub fn client(&self, name: &str, server_name: &str) -> Option<ClientTls> {
        self.clients.iter().find(|(n, _)| n == name).map(|(_, files)| ClientTls { files: files.clone(), server_name: Some(server_name.to_string()) })
    }
}

/// Writes `bytes` to `path`, created (or truncated) with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // An existing file keeps its mode through open: set it.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(bytes)
}

fn leaf(names: &[String], cn: &str, usage: ExtendedKeyUsagePurpose, ca: &CertifiedIssuer<'_, KeyPair>) -> Result<(String, String), String> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = CertificateParams::new(names.to_vec()).map_err(|e| e.to_string())?;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![usage];
    let cert = p.signed_by(&key, ca).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Generates a CA, the switch's certificate for `switch_names` (DNS names
/// and IP addresses, e.g. `switch`, `198.18.254.1`) and one client
/// certificate per name in `clients`, into `dir` (created, mode 0700).
pub fn generate(dir: &Path, switch_names: &[String], clients: &[&str]) -> Result<Generated, String> {
    let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(|e| io(dir, e))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    ca.distinguished_name.push(DnType::CommonName, "Switchyard P4Runtime CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let ca_path = dir.join("ca.pem");
    write_private(&ca_path, ca.pem().as_bytes()).map_err(|e| io(&ca_path, e))?;
    let write_pair = |name: &str, names: &[String], usage| -> Result<TlsFiles, String> {
        let files = TlsFiles::in_dir(dir, name);
        let (cert, key) = leaf(names, &format!("switchyard {name}"), usage, &ca)?;
        write_private(&files.cert, cert.as_bytes()).map_err(|e| io(&files.cert, e))?;
        write_private(&files.key, key.as_bytes()).map_err(|e| io(&files.key, e))?;
        Ok(files)
    };
    let switch = write_pair(SWITCH, switch_names, ExtendedKeyUsagePurpose::ServerAuth)?;
    let mut out = Vec::new();
    for c in clients {
        if *c == SWITCH || c.is_empty() || c.contains('/') {
            return Err(format!("client name `{c}`: must be non-empty, without `/`, and not `{SWITCH}`"));
        }
        out.push((c.to_string(), write_pair(c, &[], ExtendedKeyUsagePurpose::ClientAuth)?));
    }
    Ok(Generated { switch, clients: out })
}
