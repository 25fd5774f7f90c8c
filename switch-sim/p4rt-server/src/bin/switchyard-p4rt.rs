//! switch-sim with its ports and the P4Runtime server:
//! `switchyard-p4rt --p4 p4/switchyard.p4 --entries entries.json --port 1=veth1 --port 2=veth2`.
//! Without `--p4` the switch waits for SetForwardingPipelineConfig.
//! P4Runtime is served over mutual TLS (`--tls-ca`, `--tls-cert`,
//! `--tls-key`: only clients with a certificate the CA signed get in), or
//! plain gRPC with an explicit `--insecure`; one of the two is required.
//!
//! Prints `switchyard-p4rt: listening on ADDR, N ports, TRANSPORT` on stderr once the
//! program and entries are in, the ports are open and gRPC accepts
//! connections; exits 0 on SIGTERM/SIGINT, non-zero if a start-up step or
//! the forwarding loop fails.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use switchyard_p4rt_server::{dataplane, Device, DeviceOptions, Server};
use switchyard_switch_sim::entries::EntriesFile;
use switchyard_switch_sim::ports::AfPacketPort;
use switchyard_switch_sim::Engine;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(about = "switch-sim with a P4Runtime server")]
#[command(group = clap::ArgGroup::new("transport").required(true).args(["tls_ca", "insecure"]))]
struct Args {
    #[arg(long, default_value = "0.0.0.0:9559")]
    addr: SocketAddr,
    /// Mutual TLS: the CA certificate (PEM) that must have signed every
    /// client's certificate.
    #[arg(long, requires_all = ["tls_cert", "tls_key"])]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: the switch's certificate (PEM).
    #[arg(long, requires = "tls_ca")]
    tls_cert: Option<PathBuf>,
    /// Mutual TLS: the switch's private key (PEM).
    #[arg(long, requires = "tls_ca")]
    tls_key: Option<PathBuf>,
    /// Serve plain gRPC: no encryption, no authentication (anyone who
    /// reaches the address can read and, once primary, write every table).
    #[arg(long, conflicts_with = "tls_ca")]
    insecure: bool,
    /// P4 program to load at start (else wait for a pipeline push).
    #[arg(long)]
    p4: Option<PathBuf>,
    /// -D NAME=VALUE for --p4
    #[arg(short = 'D', value_parser = parse_kv)]
    define: Vec<(String, String)>,
    /// JSON table entries (switch-sim's --entries format) applied after --p4.
    #[arg(long, requires = "p4")]
    entries: Option<PathBuf>,
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
    /// Print the `switch stats:` line (frame counts, the kernel's per-port
    /// drops) on stderr every this many seconds (0: only at exit).
    #[arg(long, default_value_t = 0)]
    stats_interval: u64,
    /// The engine running the pipeline: `fast` (the program compiled to
    /// native code at load) or `interp` (the reference interpreter).
    #[arg(long, default_value = "fast")]
    engine: Engine,
    /// Seed of the generator behind v1model's `random(result, lo, hi)`
    /// in every installed pipeline.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| format!("{s}: expected NAME=VALUE"))
}

fn parse_port(s: &str) -> Result<(u16, String), String> {
    let (n, i) = s.split_once('=').ok_or_else(|| format!("{s}: expected PORT=IFNAME"))?;
    let n: u16 = n.parse().map_err(|e| format!("{s}: {e}"))?;
    if n >= 511 {
        return Err(format!("{s}: 511 is the drop port, use 0..=510"));
    }
    Ok((n, i.to_string()))
}

/// The program of `--p4`, installed as if pushed (Write and Read work,
/// GetForwardingPipelineConfig returns its P4Info), then `--entries`.
fn preload(device: &mut Device, a: &Args) -> anyhow::Result<()> {
    let Some(p) = &a.p4 else { return Ok(()) };
    let prog = switchyard_switch_sim::Switch::load_program(p, &a.define).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cfg = serde_json::json!({ "p4_path": std::fs::canonicalize(p)?, "defines": a.define.iter().cloned().collect::<std::collections::BTreeMap<_, _>>() });
    device.install_program(Arc::new(prog), cfg.to_string().into_bytes()).map_err(anyhow::Error::msg)?;
    if let Some(path) = &a.entries {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let f: EntriesFile = serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        device.apply_entries(&f.entries).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    let a = Args::parse();
    let mut device =
        Device::new(DeviceOptions { device_id: a.device_id, cpu_port: a.cpu_port, include_dir: a.include_dir.clone(), engine: a.engine, seed: a.seed });
    preload(&mut device, &a)?;
    let mut ports = Vec::new();
    for (n, iface) in &a.ports {
        if ports.iter().any(|p: &AfPacketPort| p.port == *n) {
            bail!("port {n} given twice");
        }
        ports.push(AfPacketPort::open(*n, iface).with_context(|| format!("opening {iface}"))?);
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let tls = match (&a.tls_ca, &a.tls_cert, &a.tls_key) {
        (Some(ca), Some(cert), Some(key)) => {
            let files = p4runtime_proto::tls::TlsFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() };
            Some(files.server_config().map_err(anyhow::Error::msg)?)
        }
        _ => None,
    };
    let transport = if tls.is_some() { "mutual TLS" } else { "plain gRPC (--insecure)" };
    let server = Server::new(device);
    let (addr, serving) =
        switchyard_p4rt_server::serve_with(server.clone(), a.addr, tls).await.with_context(|| format!("binding {}", a.addr))?;
    let stop = Arc::new(AtomicBool::new(false));
    let opts = switchyard_switch_sim::forward::Options { stats_every: (a.stats_interval > 0).then(|| Duration::from_secs(a.stats_interval)) };
    let forwarding = dataplane::spawn(server.clone(), ports, stop.clone(), opts)?;
    eprintln!("switchyard-p4rt: listening on {addr}, {} ports, {transport}", a.ports.len());
    // The loop only ends on its own when a port fails; check it often.
    let mut check = tokio::time::interval(Duration::from_millis(200));
    let why = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = check.tick() => if forwarding.is_finished() { break "the forwarding loop ended" },
        }
    };
    stop.store(true, Ordering::Relaxed);
    serving.abort();
    let stats = forwarding.join().map_err(|_| anyhow::anyhow!("the forwarding thread panicked"))?.context("forwarding")?;
    let d = server.device().stats;
    eprintln!("switchyard-p4rt: stopping ({why}); {d:?}; switch stats: {stats}");
    Ok(())
}
