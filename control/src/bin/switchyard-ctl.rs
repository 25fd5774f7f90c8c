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

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use switchyard_control::cli::SwitchArgs;
use switchyard_control::client::P4rtClient;
use switchyard_control::counters;
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::provision::{self, WRITER_ELECTION_ID};
use switchyard_control::proto::p4::config::v1 as p4info;
use switchyard_control::proto::p4::v1 as p4;
use switchyard_control::switchyard::SwitchyardTables;

#[derive(Parser)]
#[command(version, about = "Read a Switchyard switch's counters and connection table, push its pipeline and write its entries, over P4Runtime")]
struct Args {
    #[command(flatten)]
    switch: SwitchArgs,
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
    let opts = a.switch.client_options(election_id, "")?;
    let (endpoint, switch, device_id) = (a.switch.endpoint(), &a.switch.switch, a.switch.device_id);
    match &a.cmd {
        Cmd::PushPipeline { p4info, device_config, action, cookie, .. } => {
            // Read both files before connecting: a bad file never touches the switch.
            let info = provision::read_p4info(p4info)?;
            let (tables, actions) = (info.tables.len(), info.actions.len());
            let config = std::fs::read(device_config).map_err(|e| format!("{}: {e}", device_config.display()))?;
            let client = P4rtClient::connect(&endpoint, opts).await?;
            provision::push_pipeline(&client, info, config, *cookie, (*action).into()).await?;
            println!("pipeline pushed to {switch} (device {device_id}): {tables} tables, {actions} actions, cookie {cookie}");
            return Ok(());
        }
        Cmd::ApplyEntries { file, .. } => {
            let entries = provision::read_entries(file)?;
            let client = P4rtClient::connect(&endpoint, opts).await?;
            let done = provision::apply_entries(&client, &entries).await?;
            println!("{} entries inserted, {} default actions set on {switch} (device {device_id})", done.inserted, done.defaults_modified);
            return Ok(());
        }
        Cmd::Counters { .. } | Cmd::Connections { .. } | Cmd::GenCerts { .. } => {}
    }
    let client = P4rtClient::connect(&endpoint, opts).await?;
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
