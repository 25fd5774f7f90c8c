//! `switchyard-frontends`: keeps the switch's set of live front-ends.
//! It probes each front-end's `/healthz` and writes `frontend_count` and
//! `frontend_port` over P4Runtime so that new connections go only to
//! live front-ends (slots move as little as the change forces), and the
//! switch refuses them with a RST when none is live. Run one (or two, the
//! second a standby with a lower `--election-id`) where the switch's
//! P4Runtime port and the front-ends' admin ports are reachable:
//!
//!   switchyard-frontends --switch 198.18.254.1:9559 --tls-ca ca.pem --tls-cert ctl.pem --tls-key ctl.key \
//!       --frontend fe0=2,02:53:59:00:00:10,198.18.254.2:9180 --frontend fe1=3,02:53:59:00:00:11,198.18.254.3:9180
//!
//! docs/OPERATIONS.md, "Front-end liveness".

use std::time::Duration;

use clap::Parser;
use switchyard_control::cli::SwitchArgs;
use switchyard_control::client::{BackoffPolicy, P4rtClient};
use switchyard_control_plane::frontend_set::liveness::Thresholds;
use switchyard_control_plane::frontend_set::watch::{self, WatchOptions};
use switchyard_control_plane::frontend_set::{check_specs, FrontendSpec};

#[derive(Parser)]
#[command(version, about = "Keep a Switchyard switch's set of live front-ends (frontend_count, frontend_port) from their /healthz probes")]
struct Args {
    #[command(flatten)]
    switch: SwitchArgs,
    /// A front-end: NAME=SWITCH_PORT,MAC,ADMIN_ADDR:PORT (repeatable; the
    /// MAC it has on that port, its admin API's `[admin] listen`).
    #[arg(long = "frontend", required = true)]
    frontends: Vec<FrontendSpec>,
    /// The P4Runtime role it writes as: the front-ends write as the default
    /// role, so this never takes the switch from them.
    #[arg(long, default_value = "switchyard-frontends")]
    role: String,
    /// Election id within the role: the highest connected watcher writes,
    /// the others stand by.
    #[arg(long, default_value_t = 10)]
    election_id: u128,
    /// Probe every front-end this often (ms). A front-end whose admin port
    /// refuses the connection (its process is gone) is out at the next
    /// probe.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// A probe's timeout (ms).
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Slow or wrong answers in a row that take a front-end out.
    #[arg(long, default_value_t = 3)]
    fall: u32,
    /// Passes in a row that bring it back.
    #[arg(long, default_value_t = 2)]
    rise: u32,
    /// Read the tables back this often (s), to repair what someone else
    /// wrote or a switch that restarted empty.
    #[arg(long, default_value_t = 30)]
    resync_s: u64,
}

fn main() {
    switchyard_control_plane::init_logging();
    if let Err(e) = run() {
        eprintln!("switchyard-frontends: {e}");
        std::process::exit(1);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn run() -> Result<(), String> {
    let a = Args::parse();
    check_specs(&a.frontends)?;
    if a.interval_ms == 0 || a.timeout_ms == 0 {
        return Err("--interval-ms and --timeout-ms must be at least 1".into());
    }
    let mut opts = a.switch.client_options(a.election_id, &a.role)?;
    // A daemon outlives switch restarts: it reconnects for ever.
    opts.backoff = BackoffPolicy { max_attempts: None, ..BackoffPolicy::default() };
    let client = P4rtClient::connect(&a.switch.endpoint(), opts).await.map_err(|e| format!("{}: {e}", a.switch.switch))?;
    let watch = WatchOptions {
        interval: Duration::from_millis(a.interval_ms),
        timeout: Duration::from_millis(a.timeout_ms),
        thresholds: Thresholds { rise: a.rise, fall: a.fall },
        resync: Duration::from_secs(a.resync_s.max(1)),
    };
    tokio::select! {
        r = watch::run(client, a.frontends, watch) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
