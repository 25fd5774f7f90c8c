//! `switchyard-ctl`: an operator's read-only view of a Switchyard switch
//! over P4Runtime. It connects as a backup controller (election id 1), so
//! it never takes the switch from the front-end's control task.
//!
//!   switchyard-ctl --switch 198.18.254.1:9559 counters
//!   switchyard-ctl --switch 198.18.254.1:9559 connections [--limit 20]

use std::time::Duration;

use clap::{Parser, Subcommand};
use switchyard_control::client::{ClientOptions, P4rtClient};
use switchyard_control::p4info::{ObjectKind, P4InfoIndex};
use switchyard_control::proto::p4::config::v1 as p4info;
use switchyard_control::proto::p4::v1 as p4;
use switchyard_control::switchyard::SwitchyardTables;
use switchyard_wire::reason::{DROP_REASONS, PATH_COUNTERS};

#[derive(Parser)]
#[command(version, about = "Read a Switchyard switch's counters and connection table over P4Runtime")]
struct Args {
    /// The switch's P4Runtime address, host:port.
    #[arg(long, default_value = "127.0.0.1:9559")]
    switch: String,
    #[arg(long, default_value_t = 1)]
    device_id: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
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
    let opts = ClientOptions { device_id: a.device_id, election_id: 1, connect_timeout: Duration::from_secs(3), ..ClientOptions::default() };
    let client = P4rtClient::connect(&format!("http://{}", a.switch), opts).await?;
    let cfg = client.get_pipeline(p4::get_forwarding_pipeline_config_request::ResponseType::P4infoAndCookie).await?;
    let info: p4info::P4Info = cfg.p4info.ok_or("the switch has no pipeline loaded")?;
    let index = P4InfoIndex::new(info)?;
    match a.cmd {
        Cmd::Counters { plain } => {
            let rows = [("path_counter", PATH_COUNTERS, "path"), ("drop_counter", DROP_REASONS, "drop")];
            for (counter, registry, prefix) in rows {
                let id = index.object(ObjectKind::Counter, counter)?.id;
                let got = client
                    .read(vec![p4::Entity { entity: Some(p4::entity::Entity::CounterEntry(p4::CounterEntry { counter_id: id, ..Default::default() })) }])
                    .await?;
                if !plain {
                    println!("{counter}:");
                }
                for e in got {
                    let Some(p4::entity::Entity::CounterEntry(c)) = e.entity else { continue };
                    let (Some(i), Some(d)) = (c.index, c.data) else { continue };
                    let Some(r) = registry.iter().find(|r| i64::from(r.code) == i.index) else { continue };
                    if plain {
                        println!("{prefix}.{} {}", r.name, d.packet_count);
                    } else if d.packet_count > 0 {
                        println!("  {:<18} {:>12} packets  {:>14} bytes  ({})", r.name, d.packet_count, d.byte_count, r.what);
                    }
                }
            }
        }
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
