//! Mutual TLS for the P4Runtime channel, shared by both ends: the switch's
//! server (switch-sim) and the controllers (the front-end, `switchyard-ctl`).
//! Three PEM files per party: the CA that signs every party's certificate,
//! the party's own certificate and its private key. The server accepts only
//! clients whose certificate the CA signed; a client accepts only a server
//! whose certificate the CA signed for the name it dials.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Where one party's TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate(s) the peer's certificate must chain to.
    pub ca: PathBuf,
    /// This party's certificate (chain), PEM.
    pub cert: PathBuf,
    /// This party's private key, PEM (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The layout `switchyard-ctl gen-certs` and the testbed write:
    /// `DIR/ca.pem`, `DIR/NAME.pem`, `DIR/NAME.key`.
    pub fn in_dir(dir: &Path, name: &str) -> TlsFiles {
        TlsFiles { ca: dir.join("ca.pem"), cert: dir.join(format!("{name}.pem")), key: dir.join(format!("{name}.key")) }
    }

    fn read(&self) -> Result<(Certificate, Identity), String> {
        let read = |p: &Path, what: &str| std::fs::read(p).map_err(|e| format!("reading the TLS {what} {}: {e}", p.display()));
        let ca = read(&self.ca, "CA certificate")?;
        let cert = read(&self.cert, "certificate")?;
        let key = read(&self.key, "private key")?;
        Ok((Certificate::from_pem(ca), Identity::from_pem(cert, key)))
    }

    /// The server side: present `cert`, require a client certificate that
    /// `ca` signed (a client without one, or with another CA's, fails the
    /// handshake).
    pub fn server_config(&self) -> Result<ServerTlsConfig, String> {
        let (ca, id) = self.read()?;
        Ok(ServerTlsConfig::new().identity(id).client_ca_root(ca).client_auth_optional(false))
    }

    /// The client side: present `cert`, trust only servers that `ca` signed
    /// for `server_name` (None: the host of the address dialled).
    pub fn client_config(&self, server_name: Option<&str>) -> Result<ClientTlsConfig, String> {
        let (ca, id) = self.read()?;
        let c = ClientTlsConfig::new().ca_certificate(ca).identity(id);
        Ok(match server_name {
            Some(n) => c.domain_name(n),
            None => c,
        })
    }
}
