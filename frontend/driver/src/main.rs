//! `switchyard-frontend`: the front-end. One worker polls the interface
//! facing the switch (DPDK, or AF_PACKET where DPDK is not available) and
//! runs every frame through the sans-IO engine; a control thread turns the
//! engine's offload requests into switch writes and feeds completions back.
//! The worker never blocks: both directions go over bounded queues.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use switchyard_dpdk::{Eal, Mempool, Port, PortConfig};
use switchyard_frontend::config;
use switchyard_frontend::engine::Engine;
use switchyard_frontend_dpdk::access_log::{AccessLogQueue, AccessLogTargetFile, AccessLogWriter};
use switchyard_frontend_dpdk::afpacket::AfPacket;
use switchyard_control_plane::admin::{AdminContext, AdminServer, Reloader};
use switchyard_control_plane::{secret_store, ControlLink, P4rtLink, P4rtOptions, SwitchLink};
use switchyard_frontend_dpdk::dpdk_io::DpdkIo;
use switchyard_frontend_dpdk::io::FrameIo;
use switchyard_frontend_dpdk::worker;

#[derive(Clone, Copy, ValueEnum)]
enum Driver {
    /// DPDK with the [dpdk] section of the config.
    Dpdk,
    /// A raw AF_PACKET socket on --iface (no DPDK needed).
    AfPacket,
}

#[derive(Parser)]
#[command(version, about = "Switchyard front-end")]
struct Args {
    /// The TOML config (see docs/FRONTEND.md).
    #[arg(long)]
    config: PathBuf,
    #[arg(long, value_enum, default_value = "dpdk")]
    driver: Driver,
    /// Interface for --driver af-packet.
    #[arg(long)]
    iface: Option<String>,
    /// Stop after this many seconds (0: until SIGINT/SIGTERM).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
    /// Print counters every this many seconds (0: only at exit).
    #[arg(long, default_value_t = 0)]
    stats_interval: u64,
    /// Run without a switch control plane: every offload is refused and
    /// each flow stays on the front-end path (correct, not offloaded).
    #[arg(long, conflicts_with = "p4runtime")]
    no_switch: bool,
    /// The switch's P4Runtime server (ip:port), instead of the config's
    /// `[switch] p4runtime`.
    #[arg(long, value_name = "ADDR")]
    p4runtime: Option<std::net::SocketAddr>,
    /// P4Runtime election id of this front-end; it must be the switch's
    /// primary controller (the highest id) to write entries.
    #[arg(long, default_value_t = 10)]
    election_id: u64,
    /// Microseconds the AF_PACKET driver keeps polling after its last frame
    /// before it blocks (0: block at once). More CPU, lower latency at low
    /// rates: docs/FRONTEND.md, "The worker loop".
    #[arg(long, default_value_t = 0)]
    idle_spin_us: u64,
    /// How long to keep trying to reach the switch at start before failing.
    #[arg(long, default_value_t = 30)]
    switch_timeout: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    switchyard_control_plane::init_logging();
    let mut cfg = config::load(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A reload compares the file with what it held at start.
    let as_loaded = cfg.clone();
    // Before the engine and the switch are given their secrets.
    if let Some(note) = secret_store::apply(&mut cfg).map_err(|e| anyhow::anyhow!("{e}"))? {
        println!("{note}");
    }
    if cfg.frontend.workers != 1 {
        bail!("{}: workers = {}: this build runs one worker (see docs/FRONTEND.md)", args.config.display(), cfg.frontend.workers);
    }
    let link = if args.no_switch {
        SwitchLink::Disabled
    } else {
        let mut options = P4rtOptions::from_config(&cfg, u128::from(args.election_id));
        if let Some(addr) = args.p4runtime {
            options.endpoint = format!("http://{addr}");
        }
        options.start_timeout = Duration::from_secs(args.switch_timeout);
        SwitchLink::P4Runtime(Box::new(P4rtLink { config: cfg.clone(), options }))
    };
    // SIGINT/SIGTERM set it once the admin thread runs (it owns the
    // process's signals, SIGHUP being a reload); before that, while the
    // switch is being reached, they end the process as usual.
    let stop = Arc::new(AtomicBool::new(false));
    // "front-end up" is printed once the switch is reached and programmed
    // (the testbed waits for it), just before the worker starts polling.
    // Opened now: a path that cannot be written stops the start here.
    let access_target = match &cfg.access_log {
        Some(settings) => Some(AccessLogTargetFile::open(settings).map_err(|e| anyhow::anyhow!("{}: {e}", args.config.display()))?),
        None => None,
    };
    let run = |up: String, io: &mut dyn FnMut(&mut Engine, &ControlLink, Option<&AccessLogQueue>) -> (worker::Report, String)| -> Result<()> {
        let (control, handle) = ControlLink::spawn(link, stop.clone())?;
        // Always started: it also handles SIGHUP (hot reload).
        let ctx = AdminContext {
            config: std::sync::RwLock::new(Arc::new(cfg.clone())),
            settings: cfg.admin,
            commands: control.commands(),
            control: control.control_requests(),
            counters: Default::default(),
            started: std::time::Instant::now(),
            reloader: Reloader::new(args.config.clone(), as_loaded.clone()),
        };
        let admin = AdminServer::spawn(ctx, stop.clone(), true)?;
        if let Some(addr) = admin.local_addr {
            println!("admin API on http://{addr}");
        }
        println!("front-end up: {up}");
        let mut engine = Engine::new(&cfg);
        // Its times count from the worker's start, which follows at once.
        let access = match access_target {
            Some(target) => Some(AccessLogWriter::start(target, SystemTime::now()).context("access log writer thread")?),
            None => None,
        };
        let (report, io_stats) = io(&mut engine, &control, access.as_ref().map(|(queue, _)| queue));
        stop.store(true, Ordering::SeqCst);
        let _ = handle.join();
        admin.join();
        println!("{}", worker::summary(&engine, &report, &io_stats, &control));
        if let Some((queue, writer)) = access {
            let line = worker::access_log_line(&engine, &queue);
            // The writer writes what is queued, flushes and ends.
            drop(queue);
            writer.join();
            println!("{line}");
        }
        Ok(())
    };
    let limit = (args.seconds > 0).then(|| Duration::from_secs(args.seconds));
    let every = (args.stats_interval > 0).then(|| Duration::from_secs(args.stats_interval));
    let opts = worker::RunOptions { limit, stats_every: every, idle_spin: Duration::from_micros(args.idle_spin_us) };
    match args.driver {
        Driver::Dpdk => {
            let port_cfg = cfg.dpdk.ports.first().context("config has no [[dpdk.ports]]")?;
            let mut eal_args = vec!["switchyard-frontend".to_string()];
            eal_args.extend(cfg.dpdk.eal_args.iter().cloned());
            let eal = Eal::init(&eal_args).context("DPDK EAL init (check [dpdk] eal_args)")?;
            let pool = Mempool::create(&eal, "frontend", 8191, 256)?;
            let mut port = Port::by_name(&eal, &port_cfg.device)
                .with_context(|| format!("DPDK port `{}` (is the vdev/PCI device in eal_args?)", port_cfg.device))?;
            port.start(PortConfig::default(), &pool)?;
            let up = format!("dpdk port {} ({})", port_cfg.device, port_cfg.name);
            let mut io = DpdkIo::new(&port, &pool);
            run(up, &mut |e, c, a| (worker::run(e, &mut io, c, &stop, opts, a), io.stats_line()))
        }
        Driver::AfPacket => {
            let iface = args.iface.as_deref().context("--driver af-packet needs --iface")?;
            let mut io = AfPacket::open(iface)?;
            run(format!("af_packet on {iface}"), &mut |e, c, a| (worker::run(e, &mut io, c, &stop, opts, a), io.stats_line()))
        }
    }
}
