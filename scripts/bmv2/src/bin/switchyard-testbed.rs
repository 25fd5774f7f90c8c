//! `switchyard-testbed`: bring the namespace testbed up, run the demo on
//! it, or remove what a crashed run left behind.

use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use switchyard_testbed::{demo, netns, SwitchMode, Testbed, TestbedSpec, NS_PREFIX};

#[derive(Parser)]
#[command(version, about = "Switchyard's network-namespace testbed")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Bring the testbed up and keep it until Ctrl-C.
    Up {
        #[arg(long, default_value = "router")]
        mode: SwitchMode,
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

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Up { mode, backends, tag } => {
            let _stop = netns::cleanup_on_signal(&tag)?;
            let tb = Testbed::up(TestbedSpec::new(&tag, backends, mode))?;
            println!("testbed up ({mode:?}); namespaces:");
            for ns in tb.namespaces() {
                println!("  {}", ns.name());
            }
            println!("try: ip netns exec {} curl -si http://{}/1k | head", tb.client.name(), tb.backend_addr(0));
            println!("Ctrl-C tears it down.");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Cmd::Demo { mode, config, backends, tag, ab_requests } => {
            let _stop = netns::cleanup_on_signal(&tag)?;
            let config = config.unwrap_or_else(|| switchyard_testbed::repo_root().join("frontend/examples/switchyard.toml"));
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

