//! The command-line arguments every Switchyard tool that talks to a switch
//! over P4Runtime takes (`switchyard-ctl`, `switchyard-frontends`): where
//! the switch is and how the channel is authenticated. One definition, so
//! the flags and their errors are the same in every tool.

use std::path::PathBuf;
use std::time::Duration;

use crate::client::{BackoffPolicy, ClientOptions, ClientTls};
use crate::proto::tls::TlsFiles;

#[derive(clap::Args, Debug, Clone)]
pub struct SwitchArgs {
    /// The switch's P4Runtime address, host:port.
    #[arg(long, default_value = "127.0.0.1:9559")]
    pub switch: String,
    #[arg(long, default_value_t = 1)]
    pub device_id: u64,
    /// Mutual TLS: the CA certificate (PEM) the switch's certificate must
    /// chain to.
    #[arg(long, requires_all = ["tls_cert", "tls_key"], conflicts_with = "insecure")]
    pub tls_ca: Option<PathBuf>,
    /// Mutual TLS: this client's certificate (PEM), signed by the CA the
    /// switch trusts.
    #[arg(long, requires = "tls_ca")]
    pub tls_cert: Option<PathBuf>,
    /// Mutual TLS: this client's private key (PEM).
    #[arg(long, requires = "tls_ca")]
    pub tls_key: Option<PathBuf>,
    /// The name the switch's certificate must carry (default: the host of
    /// --switch).
    #[arg(long, requires = "tls_ca")]
    pub tls_server_name: Option<String>,
    /// Plain gRPC, for a switch started without TLS: nothing authenticates
    /// either end.
    #[arg(long)]
    pub insecure: bool,
}

impl SwitchArgs {
    /// The gRPC endpoint of `--switch`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.switch)
    }

    /// The TLS material, or why the command line does not say how to
    /// reach the switch (neither TLS files nor `--insecure`).
    pub fn tls(&self) -> Result<Option<ClientTls>, String> {
        match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Ok(Some(ClientTls {
                files: TlsFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() },
                server_name: self.tls_server_name.clone(),
            })),
            _ if self.insecure => Ok(None),
            _ => Err("the switch's P4Runtime channel is mutual TLS: give --tls-ca, --tls-cert and --tls-key, or --insecure for a switch serving plain gRPC".into()),
        }
    }

    /// Client options for a command line: it fails fast (three tries, not
    /// the front-end's patience).
    pub fn client_options(&self, election_id: u128, role: &str) -> Result<ClientOptions, String> {
        Ok(ClientOptions {
            device_id: self.device_id,
            election_id,
            role: role.into(),
            connect_timeout: Duration::from_secs(3),
            tls: self.tls()?,
            backoff: BackoffPolicy { max_attempts: Some(3), ..BackoffPolicy::default() },
            ..ClientOptions::default()
        })
    }
}
