//! `switchyard`: the operator's CLI over the front-end's admin API
//! (docs/OPERATIONS.md, "The switchyard CLI").

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use switchyard_control_plane::cli::http::{encode, request};
use switchyard_control_plane::cli::render;

#[derive(Parser)]
#[command(version, about = "Switchyard's operator CLI (talks to the front-end's admin API)")]
struct Args {
    /// The front-end's admin API (its config's `[admin] listen`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9180", global = true)]
    admin: SocketAddr,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Version, uptime, switch reachability, counters.
    Status,
    /// Every backend: pools and weights, health, draining, active flows.
    Backends,
    /// Give a backend (ADDR:PORT, or ADDR when unique) no new flows; its flows go on.
    Drain { name: String },
    /// Let a drained backend take new flows again.
    Undrain { name: String },
    /// The worker's flows (at most 1000 listed), filtered.
    Flows {
        #[arg(long, value_name = "IP")]
        client: Option<Ipv4Addr>,
        #[arg(long, value_name = "NAME")]
        backend: Option<String>,
    },
    /// The switch's connection entries (read from the switch).
    Table,
    /// Rotate the SYN cookie secret now.
    RotateSecret,
    /// Re-read the front-end's config file and apply what changed (or say
    /// why not).
    Reload,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<String> {
    let (method, path, show): (&str, String, fn(&serde_json::Value) -> String) = match &args.command {
        Command::Status => ("GET", "/status".into(), render::status),
        Command::Backends => ("GET", "/backends".into(), render::backends),
        Command::Drain { name } => ("POST", format!("/backends/{}/drain", encode(name)), render::backend),
        Command::Undrain { name } => ("POST", format!("/backends/{}/undrain", encode(name)), render::backend),
        Command::Flows { client, backend } => {
            let mut q: Vec<String> = Vec::new();
            q.extend(client.map(|c| format!("client={c}")));
            q.extend(backend.as_ref().map(|b| format!("backend={}", encode(b))));
            ("GET", format!("/flows{}{}", if q.is_empty() { "" } else { "?" }, q.join("&")), render::flows)
        }
        Command::Table => ("GET", "/table".into(), render::table),
        Command::RotateSecret => ("POST", "/rotate-secret".into(), render::rotated),
        Command::Reload => ("POST", "/reload".into(), render::reloaded),
    };
    let (status, body) = request(args.admin, method, &path)?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| anyhow::anyhow!("the admin API answered {status} with no JSON ({e}): {body}"))?;
    if status != 200 {
        anyhow::bail!("{} (HTTP {status})", v["error"].as_str().unwrap_or(body.trim()));
    }
    Ok(if args.json { format!("{}\n", serde_json::to_string_pretty(&v)?) } else { show(&v) })
}
