//! switchyard-switch-sim: loads a P4 program and forwards frames between
//! real interfaces (AF_PACKET), one switch port per `--port N=IFACE`.
//!
//! Table entries come from `--entries FILE` (JSON, see docs/SWITCH-SIM.md);
//! `switchyard-p4rt` is the same switch and loop with a P4Runtime server.
//! Digests and idle-timeout expiries are printed as JSON lines on stdout;
//! frames sent to the CPU port are counted and reported on stderr.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use switchyard_switch_sim::entries::EntriesFile;
use switchyard_switch_sim::forward::{self, Datapath, OutBatch};
use switchyard_switch_sim::ports::AfPacketPort;
use switchyard_switch_sim::vectors::VectorFile;
use switchyard_switch_sim::{Engine, Switch};

#[derive(Parser)]
#[command(about = "Software switch executing a P4_16 v1model program")]
struct Args {
    /// The P4 program (e.g. p4/switchyard.p4); not needed with --replay.
    #[arg(long, required_unless_present = "replay")]
    p4: Option<PathBuf>,
    /// A switch port bound to an interface: N=IFACE (repeatable).
    #[arg(long = "port", value_name = "N=IFACE")]
    ports: Vec<String>,
    /// Port number that stands for the control plane (packets sent to it
    /// are counted, not forwarded).
    #[arg(long)]
    cpu_port: Option<u16>,
    /// Preprocessor define NAME=VALUE (repeatable), like p4c -D.
    #[arg(short = 'D', value_name = "NAME=VALUE")]
    defines: Vec<String>,
    /// JSON table entries applied at start.
    #[arg(long)]
    entries: Option<PathBuf>,
    /// Only load the program (and entries) and report; do not forward.
    #[arg(long)]
    check: bool,
    /// Refuse a program that loads with warnings (an action p4c cannot
    /// compile in reasonable time, docs/P4.md): exit 1 with the position.
    #[arg(long)]
    strict: bool,
    /// Replay a packet-vector file in-process and exit (non-zero on mismatch).
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Repository root for --replay (program paths are relative to it).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Print the `switch stats:` line (frame counts, the kernel's per-port
    /// drops) on stderr every this many seconds (0: only at exit).
    #[arg(long, default_value_t = 0)]
    stats_interval: u64,
    /// The engine running the program: `fast` (compiled to native code at
    /// load) or `interp` (the reference interpreter).
    #[arg(long, default_value = "fast")]
    engine: Engine,
    /// Seed of the generator behind v1model's `random(result, lo, hi)`
    /// (SplitMix64; the same seed and packets give the same values).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// The switch run directly by the forwarding loop; frames to the CPU port
/// are counted, digests and idle expiries printed as JSON lines.
struct SimPath {
    sw: Switch,
    cpu_port: Option<u16>,
    to_cpu: u64,
    start: Instant,
    last_expiry_check: u64,
    /// Idle expiries already printed (each is reported once while it lasts).
    reported: HashSet<String>,
}

impl Datapath for SimPath {
    fn process<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, out: &mut OutBatch) {
        self.sw.set_time(self.start.elapsed().as_nanos() as u64);
        for frame in frames {
            match self.sw.process_ref(port, frame) {
                Some(egress) if Some(egress) == self.cpu_port => self.to_cpu += 1,
                Some(egress) => out.push(egress, self.sw.output()),
                None => {}
            }
        }
    }

    fn after_round(&mut self) {
        for d in self.sw.take_digests() {
            let fields: serde_json::Map<String, serde_json::Value> =
                d.fields.iter().map(|(n, _, v)| (n.clone(), serde_json::Value::from(*v))).collect();
            println!("{}", serde_json::json!({"digest": d.type_name, "receiver": d.receiver, "fields": fields}));
        }
        let now = self.start.elapsed().as_millis() as u64;
        if now < self.last_expiry_check + 500 {
            return;
        }
        self.last_expiry_check = now;
        self.sw.set_time(self.start.elapsed().as_nanos() as u64);
        // Report each expiry once while it lasts (an entry that is hit
        // again, or deleted and re-added, is reported again later).
        let mut now_expired = HashSet::new();
        for (table, e) in self.sw.idle_expired() {
            let key = format!("{table}{:?}", e.matches);
            if !self.reported.contains(&key) {
                println!("{}", serde_json::json!({"idle_timeout": table, "match": format!("{:?}", e.matches)}));
            }
            now_expired.insert(key);
        }
        self.reported = now_expired;
    }
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if let Some(v) = &a.replay {
        let text = std::fs::read_to_string(v).with_context(|| format!("{}", v.display()))?;
        let file: VectorFile = serde_json::from_str(&text).with_context(|| format!("{}", v.display()))?;
        let fails = switchyard_switch_sim::vectors::run_on(&a.root, &file, a.engine).map_err(anyhow::Error::msg)?;
        for f in &fails {
            eprintln!("FAIL {f}");
        }
        println!("{}: {} cases, {} failures", v.display(), file.cases.len(), fails.len());
        if !fails.is_empty() {
            std::process::exit(1);
        }
        return Ok(());
    }
    let defines: Vec<(String, String)> = a
        .defines
        .iter()
        .map(|d| match d.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (d.clone(), "1".to_string()),
        })
        .collect();
    let p4 = a.p4.clone().context("--p4 is required")?;
    let mut sw = Switch::load(&p4, &defines).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in sw.warnings() {
        eprintln!("{}: {w}", if a.strict { "error" } else { "warning" });
    }
    if a.strict && !sw.warnings().is_empty() {
        bail!("{} refused under --strict ({} warning(s) above)", p4.display(), sw.warnings().len());
    }
    if let Err(e) = sw.set_engine(a.engine) {
        eprintln!("warning: the fast engine refused the program, running the interpreter: {e}");
    }
    sw.set_seed(a.seed);
    if let Some(path) = &a.entries {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let f: EntriesFile = serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        for (i, e) in f.entries.iter().enumerate() {
            sw.apply_text(e).with_context(|| format!("{}: entry {i} ({})", path.display(), e.table))?;
        }
        eprintln!("switch-sim: {} entries from {}", f.entries.len(), path.display());
    }
    let mut ports = Vec::new();
    for p in &a.ports {
        let Some((n, iface)) = p.split_once('=') else { bail!("--port wants N=IFACE, got {p}") };
        let n: u16 = n.parse().with_context(|| format!("port number in {p}"))?;
        if n >= 511 {
            bail!("port {n}: 511 is the drop port, use 0..=510");
        }
        if ports.iter().any(|x: &AfPacketPort| x.port == n) {
            bail!("port {n} given twice");
        }
        ports.push(AfPacketPort::open(n, iface).with_context(|| format!("opening {iface}"))?);
    }
    eprintln!(
        "switch-sim: {} loaded: {} tables, {} ports{}, {} engine",
        p4.display(),
        sw.program().tables.len(),
        ports.len(),
        a.cpu_port.map(|c| format!(", cpu port {c}")).unwrap_or_default(),
        sw.engine()
    );
    if a.check {
        return Ok(());
    }
    // SAFETY: installing an async-signal-safe handler that stores an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as usize);
        libc::signal(libc::SIGTERM, on_signal as *const () as usize);
    }
    let mut dp = SimPath { sw, cpu_port: a.cpu_port, to_cpu: 0, start: Instant::now(), last_expiry_check: 0, reported: HashSet::new() };
    let opts = forward::Options { stats_every: (a.stats_interval > 0).then(|| std::time::Duration::from_secs(a.stats_interval)) };
    let stats = forward::run_with(&mut ports, &mut dp, &STOP, opts)?;
    eprintln!("switch-sim: stopping; {} frames were sent to the CPU port; switch stats: {stats}", dp.to_cpu);
    Ok(())
}
