//! Benchmark: packets per second per core through p4/switchyard.p4,
//! in-process, one thread: the offloaded forwarding path (client -> VIP
//! packets that hit a connection entry and are rewritten to their backend)
//! or, with `--path syn`, client SYNs answered with a cookie SYN-ACK.
//!
//! `cargo run --release -p switchyard-switch-sim --bin switch-sim-bench --
//! [--p4 p4/switchyard.p4] [--engine fast|interp] [--path offloaded|syn]
//! [--flows N] [--packets N] [--payload BYTES] [--veth SECS [--rate PPS,...]
//! [--latency PPS]]`

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use switchyard_switch_sim::{Engine, FieldMatch, Switch, TableEntry};
use switchyard_wire::frame::{FrameRepr, TcpFrame};
use switchyard_wire::tcp::{TcpRepr, ACK, PSH, SYN};
use switchyard_wire::tcp_option::{TcpOption, TcpOptions};

#[path = "bench/tx_ring.rs"]
mod tx_ring;
#[path = "bench/veth.rs"]
mod veth;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/switchyard.p4"))]
    p4: PathBuf,
    /// Connection entries installed (and flows cycled through).
    #[arg(long, default_value_t = 10_000)]
    flows: u32,
    #[arg(long, default_value_t = 2_000_000)]
    packets: u64,
    /// TCP payload bytes per packet.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Also forward over veth for this many seconds per rate (root:
    /// creates the network namespace sy-swbench-<pid> and removes it
    /// afterwards; bench/veth.rs).
    #[arg(long)]
    veth: Option<f64>,
    /// Offered rates for --veth, frames per second, comma-separated (a
    /// paced sender; default: one unpaced run).
    #[arg(long, value_delimiter = ',')]
    rate: Vec<u64>,
    /// With --veth: also the delay through the switch at this rate.
    #[arg(long)]
    latency: Option<u64>,
    /// With --veth: instead of forwarding, send this many frames with
    /// sendmmsg and then with a PACKET_TX_RING, and compare their CPU.
    #[arg(long)]
    tx_compare: Option<usize>,
    /// The engine running the program: the compiled one or the interpreter.
    #[arg(long, default_value = "fast")]
    engine: Engine,
    /// `offloaded` (default) or `syn`: SYNs with MSS, window scale and
    /// SACK-permitted, each answered with a cookie SYN-ACK.
    #[arg(long, default_value = "offloaded")]
    path: String,
}

/// CPU time of this thread: the per-core figure, immune to other load.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn e(matches: Vec<FieldMatch>, action: &str, params: Vec<u64>) -> TableEntry {
    TableEntry { matches, action: action.into(), params, priority: 0, idle_timeout_ns: 0 }
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let mut sw = Switch::load(&a.p4, &[])?;
    sw.set_engine(a.engine).map_err(|e| anyhow::anyhow!("engine {}: {e}", a.engine))?;
    // What a load or a pipeline push spends compiling for the fast engine.
    let t = Instant::now();
    switchyard_switch_sim::fast::FastEngine::compile(std::sync::Arc::new(sw.program().clone())).map_err(anyhow::Error::msg)?;
    println!("fast engine: {} compiled to native code in {:.1} ms", a.p4.display(), t.elapsed().as_secs_f64() * 1e3);
    let syn_path = match a.path.as_str() {
        "offloaded" => false,
        "syn" => true,
        p => anyhow::bail!("--path {p}: offloaded or syn"),
    };
    let vip = u32::from(Ipv4Addr::new(198, 18, 100, 1));
    let backend = u32::from(Ipv4Addr::new(198, 18, 1, 10));
    sw.insert("vip", &e(vec![FieldMatch::Exact(vip.into()), FieldMatch::Exact(80)], "set_vip", vec![1]))?;
    sw.insert("backend", &e(vec![FieldMatch::Exact(0)], "rewrite_to_backend", vec![backend.into(), 8080]))?;
    sw.insert(
        "ipv4_route",
        &e(vec![FieldMatch::Lpm { value: backend.into(), prefix_len: 24 }], "route", vec![2, 0x0200_0000_0101, 0x0200_0000_0010]),
    )?;
    let client = |i: u32| Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 64, 0)) + (i >> 10));
    let cport = |i: u32| 10_000 + (i & 1023) as u16;
    for i in 0..a.flows {
        sw.insert(
            "connection",
            &e(vec![FieldMatch::Exact(u32::from(client(i)).into()), FieldMatch::Exact(cport(i).into()), FieldMatch::Exact(1)], "set_conn_backend", vec![0]),
        )?;
    }
    // SYNs are answered only while a front-end is live (frontend_count > 0).
    sw.set_default("frontend_count", "set_frontend_count", &[1])?;
    sw.set_default("cookie_secrets", "set_cookie_secrets", &[0x0302_0100, 0x0706_0504, 0, 0, 0])?;
    let payload = vec![0xabu8; if syn_path { 0 } else { a.payload }];
    let syn_opts = [TcpOption::Mss(1460), TcpOption::SackPermitted, TcpOption::WindowScale(7)];
    let frames: Vec<Vec<u8>> = (0..a.flows.min(4096))
        .map(|i| {
            let t = if syn_path {
                // Clients without a connection entry.
                TcpRepr { src_port: 20_000 + (i & 1023) as u16, dst_port: 80, seq: i, ack: 0, flags: SYN, window: 64240, options: (&syn_opts).into(), payload: &[] }
            } else {
                TcpRepr { src_port: cport(i), dst_port: 80, seq: 1, ack: 1, flags: ACK | PSH, window: 1000, options: TcpOptions::NONE, payload: &payload }
            };
            let repr = FrameRepr { ident: 1, ..FrameRepr::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 1], client(i), Ipv4Addr::from(vip), t) };
            repr.to_vec().unwrap()
        })
        .collect();
    // Warm-up and a correctness check: the path must be the one measured.
    if syn_path {
        assert_eq!(sw.process_ref(1, &frames[0]), Some(1), "bench SYNs must be answered on their port");
        let answer = TcpFrame::new_checked(sw.output()).expect("the answer is a TCP frame");
        assert_eq!(answer.tcp().flags(), SYN | ACK, "bench SYNs must be answered with a SYN-ACK");
    } else {
        assert_eq!(sw.process_ref(1, &frames[0]), Some(2), "bench frames must be offloaded to port 2");
    }
    let cpu0 = thread_cpu_ns();
    let start = Instant::now();
    let mut out_bytes = 0usize;
    for k in 0..a.packets {
        let f = &frames[(k % frames.len() as u64) as usize];
        if sw.process_ref(1, f).is_some() {
            out_bytes += sw.output().len();
        }
    }
    let dt = start.elapsed().as_secs_f64();
    let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e9;
    let path = if syn_path { switchyard_wire::reason::PathCounter::SynAnswered } else { switchyard_wire::reason::PathCounter::OffloadedIn };
    let (on_path, _) = sw.counter("path_counter", path as usize)?;
    println!(
        "switch-sim in-process ({} engine), {} path: {} packets ({}-byte frames, {} flows, {} slots/packet) in {:.3} s wall, {:.3} s CPU = {:.0} packets/s per core ({:.0} ns/packet CPU; {:.0} packets/s wall); {} counter {}, {} bytes out",
        sw.engine(),
        a.path,
        a.packets,
        frames[0].len(),
        a.flows,
        sw.program().n_slots,
        dt,
        cpu,
        a.packets as f64 / cpu,
        cpu * 1e9 / a.packets as f64,
        a.packets as f64 / dt,
        path.reason().name,
        on_path,
        out_bytes
    );
    if let Some(secs) = a.veth {
        veth::run(sw, &frames, &veth::Options { secs, tx_compare: a.tx_compare, rates: a.rate, latency_pps: a.latency })?;
    }
    Ok(())
}
