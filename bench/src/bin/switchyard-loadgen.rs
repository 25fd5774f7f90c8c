//! `switchyard-loadgen`: the benchmark's load generator (bench/src/loadgen.rs).
//! Run it inside the client namespace:
//!   ip netns exec sy-bench-cli switchyard-loadgen --target 198.18.100.1:80 --workload t2 --mode keepalive -c 32 --seconds 5
//! Prints one JSON report on stdout.

use std::time::Duration;

use clap::Parser;
use switchyard_bench::loadgen::{self, ConnMode, LoadSpec};
use switchyard_bench::workload;

#[derive(Parser)]
#[command(version, about = "Verifying HTTP/1.1 load generator for the Switchyard testbed")]
struct Args {
    /// ip:port to connect to.
    #[arg(long)]
    target: std::net::SocketAddr,
    /// Host header (default: the target's address).
    #[arg(long)]
    host: Option<String>,
    /// 1k, 10k, 100k, 1m, 10m, t1, t2 or t3.
    #[arg(long, default_value = "1k")]
    workload: String,
    /// close (a new connection per request) or keepalive.
    #[arg(long, default_value = "keepalive")]
    mode: ConnMode,
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// At most this many requests.
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    requests: u64,
    /// No new request after this many seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// A connect or read without progress for this long is a timeout.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// A request taking longer than this in total is a timeout.
    #[arg(long, default_value_t = 60_000)]
    max_request_ms: u64,
    /// Pace the requests to this many per second over all connections
    /// (default: as fast as the connections go).
    #[arg(long)]
    rate: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let w = workload::by_name(&a.workload).ok_or_else(|| anyhow::anyhow!("unknown workload `{}`", a.workload))?;
    anyhow::ensure!(a.concurrency >= 1 && a.concurrency <= 4096, "concurrency must be 1..=4096");
    anyhow::ensure!(a.seconds > 0.0 && a.seconds <= 600.0, "seconds must be in (0, 600]");
    anyhow::ensure!(a.rate.map_or(true, |r| r > 0.0 && r <= 1e7), "rate must be in (0, 10000000] requests per second");
    let spec = LoadSpec {
        target: a.target,
        host: a.host.unwrap_or_else(|| a.target.ip().to_string()),
        workload: w,
        mode: a.mode,
        concurrency: a.concurrency,
        requests: a.requests,
        seconds: a.seconds,
        timeout: Duration::from_millis(a.timeout_ms),
        max_request: Duration::from_millis(a.max_request_ms),
        rate: a.rate,
    };
    println!("{}", loadgen::run(&spec));
    Ok(())
}
