//! `switchyard-agent`: attach the splice programs to a backend interface
//! (`run`) and inspect a running agent (`status`). See docs/AGENT.md.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_agent::abi::flags;
use switchyard_agent::attach::{self, Attached};
use switchyard_agent::object::limits;
use switchyard_agent::pins::PinnedAgent;
use switchyard_agent::{probe, AgentError, AgentSettings};
use tracing::info;

#[derive(Parser)]
#[command(name = "switchyard-agent", version, about = "Switchyard backend agent: eBPF TCP sequence splicing")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Attach to an interface and run until SIGTERM/SIGINT.
    Run {
        #[arg(long)]
        iface: String,
        /// TCP port the backend serves (repeatable).
        #[arg(long = "service-port", required = true)]
        service_ports: Vec<u16>,
        /// Window scale the switch's SYN-ACK advertises to clients
        /// (default: wire's synack::WSCALE, the P4 program's SYNACK_WSCALE).
        #[arg(long, default_value_t = switchyard_wire::synack::WSCALE)]
        switch_wscale: u8,
        /// Capacity of the LRU flow map.
        #[arg(long, default_value_t = limits::DEFAULT_MAP_SIZE)]
        map_size: u32,
        /// Address of the presence probe for the control plane's health checks.
        #[arg(long)]
        status_listen: Option<SocketAddr>,
    },
    /// Print counters and live flows of a running agent.
    Status {
        #[arg(long)]
        iface: String,
        /// Print at most this many flows.
        #[arg(long, default_value_t = 50)]
        flows: usize,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match Cli::parse().cmd {
        Cmd::Run { iface, service_ports, switch_wscale, map_size, status_listen } => {
            run(&iface, AgentSettings { service_ports, switch_wscale, map_size }, status_listen)
        }
        Cmd::Status { iface, flows } => status(&iface, flows),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Blocks SIGTERM and SIGINT in every thread (call before spawning any), so
/// `wait_for_signal` receives them synchronously and Drop guards run.
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-set manipulation on a local set.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, core::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    let mut sig = 0;
    // SAFETY: set is initialised; sig is a valid out pointer.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

fn run(iface: &str, settings: AgentSettings, listen: Option<SocketAddr>) -> Result<(), AgentError> {
    let set = block_signals();
    let attached = Attached::start(iface, &settings)?;
    if let Some(addr) = listen {
        let pinned = PinnedAgent::open(iface)?;
        let (name, mode) = (iface.to_string(), attached.mode());
        let local = probe::spawn(addr, iface.to_string(), settings.map_size, move || probe::Health {
            attached: attach::still_attached(&name, mode),
            flows: pinned.flow_count(),
            counters: pinned
                .counters()
                .inspect_err(|e| tracing::warn!(error = %e, "read counters for /metrics"))
                .ok(),
        })?;
        info!(%local, "presence probe (and /metrics) listening");
    }
    info!(iface, ports = ?settings.service_ports, switch_wscale = settings.switch_wscale,
          map_size = settings.map_size, "running; SIGTERM or SIGINT detaches");
    let sig = wait_for_signal(&set);
    info!(sig, "signal received, detaching");
    drop(attached);
    Ok(())
}

/// `println!` into a String (writing to a String cannot fail).
macro_rules! outln {
    ($o:expr) => { $o.push('\n') };
    ($o:expr, $($arg:tt)*) => {{ let _ = writeln!($o, $($arg)*); }};
}

fn status(iface: &str, max_flows: usize) -> Result<(), AgentError> {
    let agent = PinnedAgent::open(iface)?;
    let mut o = String::new();
    outln!(o, "interface      {iface}");
    outln!(o, "service ports  {:?}", agent.service_ports()?);
    outln!(o, "switch wscale  {}", agent.switch_wscale()?);
    outln!(o, "live flows     {}", agent.flow_count());
    outln!(o);
    outln!(o, "{:<8} {:<26} {:>14}", "kind", "counter", "packets");
    for (kind, name, v) in agent.counters()?.rows() {
        outln!(o, "{kind:<8} {name:<26} {v:>14}");
    }
    outln!(o);
    outln!(o, "{:<22} {:<22} {:>10} {:>10} {:>10} {:>4} {:>4}  state", "client", "backend", "S", "b", "delta", "cws", "bws");
    for (k, f) in agent.flows(max_flows) {
        let (cip, cport) = k.client();
        let (bip, bport) = k.backend();
        let b = f.backend_isn().map(|b| b.to_string()).unwrap_or_else(|| "-".into());
        let mut state = Vec::new();
        for (bit, name) in [
            (flags::SPLICED, "spliced"),
            (flags::WSCALE, "ws"),
            (flags::BACKEND_WS, "backend-ws"),
            (flags::FIN_IN, "fin-in"),
            (flags::FIN_OUT, "fin-out"),
            (flags::FIN_IN_ACKED, "fin-in-acked"),
            (flags::FIN_OUT_ACKED, "fin-out-acked"),
        ] {
            if f.has(bit) {
                state.push(name);
            }
        }
        outln!(o, 
            "{:<22} {:<22} {:>10} {:>10} {:>10} {:>4} {:>4}  {}",
            format!("{cip}:{cport}"),
            format!("{bip}:{bport}"),
            f.switch_isn,
            b,
            f.delta,
            f.client_ws,
            f.backend_ws,
            state.join(",")
        );
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    match std::io::stdout().write_all(o.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(AgentError::Io { what: "write status".into(), source: e })
        }
        _ => Ok(()),
    }
}
