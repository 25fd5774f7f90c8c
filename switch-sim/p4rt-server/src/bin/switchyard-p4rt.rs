//! switch-sim with its ports and the P4Runtime server:
//! `switchyard-p4rt --addr 0.0.0.0:9559 --p4 p4/switchyard.p4 --port 1=veth1 --port 2=veth2`.
//! Without `--p4` the switch waits for SetForwardingPipelineConfig.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use switchyard_p4rt_server::{Device, DeviceOptions, Server};

#[derive(Parser)]
#[command(about = "switch-sim with a P4Runtime server")]
struct Args {
    #[arg(long, default_value = "0.0.0.0:9559")]
    addr: SocketAddr,
    /// P4 program to load at start (else wait for a pipeline push).
    #[arg(long)]
    p4: Option<PathBuf>,
    /// -D NAME=VALUE for --p4
    #[arg(short = 'D', value_parser = parse_kv)]
    define: Vec<(String, String)>,
    /// PORT=IFNAME, repeated: front-panel ports on AF_PACKET sockets.
    #[arg(long = "port", value_parser = parse_port)]
    ports: Vec<(u16, String)>,
    #[arg(long, default_value_t = 1)]
    device_id: u64,
    /// Port number whose egress goes to the controller (PacketIn).
    #[arg(long)]
    cpu_port: Option<u16>,
    /// Include directory for pushed device configs that carry P4 source.
    #[arg(long)]
    include_dir: Option<PathBuf>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| format!("{s}: expected NAME=VALUE"))
}

fn parse_port(s: &str) -> Result<(u16, String), String> {
    let (n, i) = s.split_once('=').ok_or_else(|| format!("{s}: expected PORT=IFNAME"))?;
    Ok((n.parse().map_err(|e| format!("{s}: {e}"))?, i.to_string()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let a = Args::parse();
    let mut device = Device::new(DeviceOptions { device_id: a.device_id, cpu_port: a.cpu_port, include_dir: a.include_dir.clone() });
    if let Some(p) = &a.p4 {
        let sw = switchyard_switch_sim::Switch::load(p, &a.define)?;
        let cfg = serde_json::json!({ "p4_path": std::fs::canonicalize(p)?, "defines": a.define.iter().cloned().collect::<std::collections::BTreeMap<_, _>>() });
        device.install_program(Arc::new(sw.program().clone()), cfg.to_string().into_bytes()).map_err(anyhow::Error::msg)?;
    }
    let server = Server::new(device);
    switchyard_p4rt_server::ports::run(server.clone(), &a.ports)?;
    let (addr, task) = switchyard_p4rt_server::serve(server, a.addr).await?;
    eprintln!("P4Runtime on {addr}, device {}, {} ports", a.device_id, a.ports.len());
    task.await?;
    Ok(())
}
