//! `switchyard-testbed`: bring the namespace testbed up, run the demo on
//! it, or remove what a crashed run left behind.

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use switchyard_testbed::{demo, netns, up, SwitchMode, TestbedSpec, NS_PREFIX};

#[derive(Parser)]
#[command(version, about = "Switchyard's network-namespace testbed")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Bring the testbed up and keep it until Ctrl-C. `sim` (default) and
    /// `bmv2`: the whole load balancer (switch, agents, the AF_PACKET
    /// front-end), then the VIP and ready-to-paste curl and wrk lines.
    /// `router`: the bare topology, a kernel router, no load balancer.
    Up {
        #[arg(long, default_value = "sim")]
        mode: SwitchMode,
        /// Front-end config (sim and bmv2 modes).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 3)]
        backends: usize,
        #[arg(long, default_value = "demo")]
        tag: String,
    },
    /// The main job. `sim` (default): the load balancer (switch-sim running
    /// the P4 program, the DPDK front-end, agents, nginx) with curl and ab
    /// against the VIP. `router`: the baseline, curl straight to each backend
    /// through a kernel router. Every body is verified byte for byte.
    Demo {
        #[arg(long, default_value = "sim")]
        mode: SwitchMode,
        /// Front-end config (sim mode).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 3)]
        backends: usize,
        #[arg(long, default_value = "demo")]
        tag: String,
        /// Requests for the ab run.
        #[arg(long, default_value_t = 5000)]
        ab_requests: u32,
    },
    /// Remove every namespace (and its processes) named sy-*.
    Down,
}

fn example_config() -> std::path::PathBuf {
    switchyard_testbed::repo_root().join("frontend/examples/switchyard.toml")
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Up { mode, config, backends, tag } => {
            let _stop = netns::cleanup_on_signal(&tag)?;
            let config = config.unwrap_or_else(example_config);
            let _running = up::run(TestbedSpec::new(&tag, backends, mode), &config)?;
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Cmd::Demo { mode, config, backends, tag, ab_requests } => {
            let _stop = netns::cleanup_on_signal(&tag)?;
            let config = config.unwrap_or_else(example_config);
            demo::run(TestbedSpec::new(&tag, backends, mode), &config, ab_requests)
        }
        Cmd::Down => {
            let removed = netns::remove_all(NS_PREFIX);
            if removed.is_empty() {
                println!("nothing to remove");
            } else {
                println!("removed {}", removed.join(" "));
            }
            Ok(())
        }
    }
}

