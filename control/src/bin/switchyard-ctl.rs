//! `switchyard-ctl`: an operator's tool for a Switchyard switch over
//! P4Runtime (switch-sim, bmv2 simple_switch_grpc, any P4Runtime target).
//!
//! Read-only (as a backup controller, election id 1, so they never take the
//! switch from the front-end's control task):
//!   switchyard-ctl --switch 198.18.254.1:9559 counters
//!   switchyard-ctl --switch 198.18.254.1:9559 connections [--limit 20]
//!
//! Writers (as the primary, `--election-id`, default 100 > the front-end's
//! 10; they connect, write and disconnect, before the front-end starts):
//!   switchyard-ctl --switch ADDR push-pipeline --p4info sw.p4info.bin --device-config sw.json
//!   switchyard-ctl --switch ADDR apply-entries infra.json
//!
//! The channel is mutual TLS (`--tls-ca`, `--tls-cert`, `--tls-key`, the
//! files `gen-certs` writes), or plain gRPC with an explicit `--insecure`:
//!   switchyard-ctl gen-certs /etc/switchyard/tls --switch-name 198.18.254.1
//!
//! The logic is in `switchyard_control::provision`.

use std::time::Duration;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use switchyard_control::client::{BackoffPolicy, ClientOptions, ClientTls, P4rtClient};
use switchyard_control::counters;
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::provision::{self, WRITER_ELECTION_ID};
use switchyard_control::proto::p4::config::v1 as p4info;
use switchyard_control::proto::p4::v1 as p4;
use switchyard_control::proto::tls::TlsFiles;
use switchyard_control::switchyard::SwitchyardTables;

#[derive(Parser)]
#[command(version, about = "Read a Switchyard switch's counters and connection table, push its pipeline and write its entries, over P4Runtime")]
struct Args {
    /// The switch's P4Runtime address, host:port.
    #[arg(long, default_value = "127.0.0.1:9559")]
    switch: String,
    #[arg(long, default_value_t = 1)]
    device_id: u64,
    /// Mutual TLS: the CA certificate (PEM) the switch's certificate must
    /// chain to.
    #[arg(long, requires_all = ["tls_cert", "tls_key"], conflicts_with = "insecure")]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: this client's certificate (PEM), signed by the CA the
    /// switch trusts.
    #[arg(long, requires = "tls_ca")]
    tls_cert: Option<PathBuf>,
    /// Mutual TLS: this client's private key (PEM).
    #[arg(long, requires = "tls_ca")]
    tls_key: Option<PathBuf>,
    /// The name the switch's certificate must carry (default: the host of
    /// --switch).
    #[arg(long, requires = "tls_ca")]
    tls_server_name: Option<String>,
    /// Plain gRPC, for a switch started without TLS: nothing authenticates
    /// either end.
    #[arg(long)]
    insecure: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes a new private CA (`ca.pem`; its key is not kept), the switch's
    /// certificate (`switch.pem`, `switch.key`) and one certificate per
    /// client (`NAME.pem`, `NAME.key`) into DIR, every file mode 0600.
    GenCerts {
        dir: PathBuf,
        /// A DNS name or IP address the switch is reached by (repeatable).
        #[arg(long = "switch-name", required = true)]
        switch_names: Vec<String>,
        /// A client certificate to write (repeatable).
        #[arg(long = "client", default_values_t = ["frontend".to_string(), "ctl".to_string()])]
        clients: Vec<String>,
    },
    /// Per-path packet counters and drop reasons of the P4 program, named
    /// by the shared registry (wire::reason).
    Counters {
        /// One `name value` per line, for scripts.
        #[arg(long)]
        plain: bool,
    },
    /// Installed connection entries (client, port, VIP id -> backend).
    Connections {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// SetForwardingPipelineConfig as the primary controller: the P4Info and
    /// the target's device config (bmv2: p4c-bm2-ss's JSON; switch-sim: the
    /// P4 source or its JSON). An empty program: every table starts empty.
    PushPipeline {
        /// P4Info file: binary protobuf (p4c `--p4runtime-files x.p4info.bin`,
        /// `switchyard-p4info -o`), or text format if the name ends in
        /// .txt, .txtpb, .pbtxt or .prototxt.
        #[arg(long)]
        p4info: PathBuf,
        /// The device config, sent as the file's bytes.
        #[arg(long)]
        device_config: PathBuf,
        #[arg(long, value_enum, default_value_t = PipelineAction::VerifyAndCommit)]
        action: PipelineAction,
        /// Cookie stored with the pipeline (GetForwardingPipelineConfig returns it).
        #[arg(long, default_value_t = 0)]
        cookie: u64,
        /// Election id; must be the highest connected (the front-end uses 10).
        #[arg(long, default_value_t = WRITER_ELECTION_ID)]
        election_id: u128,
    },
    /// Writes a switch-sim entries file (`{"entries": [...]}`,
    /// docs/SWITCH-SIM.md) as the primary controller: INSERT per entry,
    /// MODIFY of the default entry for `"default": true`; names resolved
    /// through the P4Info the switch runs. Nothing is written if an entry is
    /// malformed; entries the switch refuses are listed with their index.
    ApplyEntries {
        file: PathBuf,
        /// Election id; must be the highest connected (the front-end uses 10).
        #[arg(long, default_value_t = WRITER_ELECTION_ID)]
        election_id: u128,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum PipelineAction {
    Verify,
    VerifyAndSave,
    VerifyAndCommit,
    Commit,
    ReconcileAndCommit,
}

impl From<PipelineAction> for p4::set_forwarding_pipeline_config_request::Action {
    fn from(a: PipelineAction) -> Self {
        use p4::set_forwarding_pipeline_config_request::Action as A;
        match a {
            PipelineAction::Verify => A::Verify,
            PipelineAction::VerifyAndSave => A::VerifyAndSave,
            PipelineAction::VerifyAndCommit => A::VerifyAndCommit,
            PipelineAction::Commit => A::Commit,
            PipelineAction::ReconcileAndCommit => A::ReconcileAndCommit,
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("switchyard-ctl: {e}");
        std::process::exit(1);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let election_id = match a.cmd {
        Cmd::PushPipeline { election_id, .. } | Cmd::ApplyEntries { election_id, .. } => election_id,
        Cmd::Counters { .. } | Cmd::Connections { .. } | Cmd::GenCerts { .. } => 1,
    };
    if let Cmd::GenCerts { dir, switch_names, clients } = &a.cmd {
        let clients: Vec<&str> = clients.iter().map(String::as_str).collect();
        let g = switchyard_control::tls::generate(dir, switch_names, &clients)?;
        println!("CA: {}", g.switch.ca.display());
        println!("switch ({}): {} {}", switch_names.join(", "), g.switch.cert.display(), g.switch.key.display());
        for (name, f) in &g.clients {
            println!("client {name}: {} {}", f.cert.display(), f.key.display());
        }
        return Ok(());
    }
    let tls = match (&a.tls_ca, &a.tls_cert, &a.tls_key) {
        (Some(ca), Some(cert), Some(key)) => Some(ClientTls {
            files: TlsFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() },
            server_name: a.tls_server_name.clone(),
        }),
        _ if a.insecure => None,
        _ => return Err("the switch's P4Runtime channel is mutual TLS: give --tls-ca, --tls-cert and --tls-key, or --insecure for a switch serving plain gRPC".into()),
    };
    // A command line fails fast: three tries, not the front-end's patience.
    let backoff = BackoffPolicy { max_attempts: Some(3), ..BackoffPolicy::default() };
    let opts = ClientOptions { device_id: a.device_id, election_id, connect_timeout: Duration::from_secs(3), tls, backoff, ..ClientOptions::default() };
    match &a.cmd {
        Cmd::PushPipeline { p4info, device_config, action, cookie, .. } => {
            // Read both files before connecting: a bad file never touches the switch.
            let info = provision::read_p4info(p4info)?;
            let (tables, actions) = (info.tables.len(), info.actions.len());
            let config = std::fs::read(device_config).map_err(|e| format!("{}: {e}", device_config.display()))?;
            let client = P4rtClient::connect(&format!("http://{}", a.switch), opts).await?;
            provision::push_pipeline(&client, info, config, *cookie, (*action).into()).await?;
            println!("pipeline pushed to {} (device {}): {tables} tables, {actions} actions, cookie {cookie}", a.switch, a.device_id);
            return Ok(());
        }
        Cmd::ApplyEntries { file, .. } => {
            let entries = provision::read_entries(file)?;
            let client = P4rtClient::connect(&format!("http://{}", a.switch), opts).await?;
            let done = provision::apply_entries(&client, &entries).await?;
            println!("{} entries inserted, {} default actions set on {} (device {})", done.inserted, done.defaults_modified, a.switch, a.device_id);
            return Ok(());
        }
        Cmd::Counters { .. } | Cmd::Connections { .. } | Cmd::GenCerts { .. } => {}
    }
    let client = P4rtClient::connect(&format!("http://{}", a.switch), opts).await?;
    let cfg = client.get_pipeline(p4::get_forwarding_pipeline_config_request::ResponseType::P4infoAndCookie).await?;
    let info: p4info::P4Info = cfg.p4info.ok_or("the switch has no pipeline loaded")?;
    let index = P4InfoIndex::new(info)?;
    match a.cmd {
        Cmd::Counters { plain } => {
            let read = counters::read_switch_counters(&client, &index).await?;
            for (counter, prefix, rows) in read.tables() {
                if !plain {
                    println!("{counter}:");
                }
                for row in rows {
                    let r = row.reason;
                    if plain {
                        println!("{prefix}.{} {}", r.name, row.packets);
                    } else if row.packets > 0 {
                        println!("  {:<18} {:>12} packets  {:>14} bytes  ({})", r.name, row.packets, row.bytes, r.what);
                    }
                }
            }
        }
        Cmd::PushPipeline { .. } | Cmd::ApplyEntries { .. } | Cmd::GenCerts { .. } => {} // returned above
        Cmd::Connections { limit } => {
            let tables = SwitchyardTables::new(index)?;
            let entries = client.read_table(tables.connection_table_id()).await?;
            println!("{} connection entries", entries.len());
            for e in entries.iter().take(limit) {
                if let Ok(Some((key, backend))) = tables.decode_connection(e) {
                    println!(
                        "  {}:{} vip {} -> backend {}  ({:?})",
                        key.client_ip,
                        key.client_port,
                        key.vip_id,
                        backend.map(|b| b.to_string()).unwrap_or("-".into()),
                        tables.connection_mode(e)
                    );
                }
            }
        }
    }
    Ok(())
}
