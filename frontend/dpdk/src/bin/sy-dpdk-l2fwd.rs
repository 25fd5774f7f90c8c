//! A two-port DPDK forwarder: every frame received on one port leaves on
//! the other, unchanged. It proves the DPDK layer end to end (EAL, pools,
//! ports, bursts over net_af_packet) and gives a packet-rate baseline for
//! the front-end's driver.
//!
//! `sy-dpdk-l2fwd [--seconds N] -- <EAL args with two ports>`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use switchyard_dpdk::{Eal, Mempool, Port, PortConfig};

#[derive(Parser)]
#[command(about = "Forward frames between two DPDK ports")]
struct Args {
    /// Stop after this many seconds (0: until SIGINT/SIGTERM).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
    /// Port names (vdev or PCI).
    #[arg(long, default_value = "net_af_packet0")]
    port_a: String,
    #[arg(long, default_value = "net_af_packet1")]
    port_b: String,
    /// EAL arguments, after `--`.
    #[arg(last = true)]
    eal: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut eal_args = vec!["sy-dpdk-l2fwd".to_string()];
    eal_args.extend(args.eal.iter().cloned());
    let eal = Eal::init(&eal_args)?;
    let pool = Mempool::create(&eal, "l2fwd", 8191, 256)?;
    let mut a = Port::by_name(&eal, &args.port_a)?;
    let mut b = Port::by_name(&eal, &args.port_b)?;
    a.start(PortConfig::default(), &pool)?;
    b.start(PortConfig::default(), &pool)?;
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))?;
    println!("forwarding {} <-> {}", args.port_a, args.port_b);
    let deadline = (args.seconds > 0).then(|| Instant::now() + Duration::from_secs(args.seconds));
    let mut burst = Vec::with_capacity(switchyard_dpdk::port::MAX_BURST);
    let (mut ab, mut ba) = (0u64, 0u64);
    let mut spins = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let mut moved = 0;
        if a.rx_burst(0, &mut burst) > 0 {
            moved += burst.len();
            ab += b.tx_burst(0, &mut burst) as u64;
        }
        if b.rx_burst(0, &mut burst) > 0 {
            moved += burst.len();
            ba += a.tx_burst(0, &mut burst) as u64;
        }
        // Checking the clock every spin would cost more than the forwarding.
        spins = spins.wrapping_add(1);
        if moved == 0 && spins % 4096 == 0 {
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    break;
                }
            }
        }
    }
    let (sa, sb) = (a.stats()?, b.stats()?);
    println!("forwarded a->b {ab} b->a {ba}");
    println!("port a: {sa:?}");
    println!("port b: {sb:?}");
    Ok(())
}
