//! Connection-entry installs per second through the batched writer against
//! the switch-sim P4Runtime server on loopback (in-process server, same
//! runtime), for batches of 1, 16 and 128, with p50/p99 time from submission
//! to the server's answer.
//!
//!   cargo run --release -p switchyard-control --example p4rt_bench [ENTRIES] [RATE] [IN_FLIGHT]
//!
//! Without RATE (or with 0) the producer submits as fast as the bounded
//! queue takes entries (throughput; latency then includes queueing). With
//! RATE (entries/s) submissions are paced in 1 ms steps: latency at that
//! load. IN_FLIGHT is the writer's window of Writes in flight (default
//! `DEFAULT_IN_FLIGHT`; 1 is the old one-at-a-time writer).
//! `P4RT_BENCH_TLS=1` runs it over mutual TLS.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use switchyard_control::client::{spawn_writer_window, ClientOptions, P4rtClient, WriteJob, WriterOptions, DEFAULT_IN_FLIGHT};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::proto::p4::v1::set_forwarding_pipeline_config_request::Action;
use switchyard_control::switchyard::{self as sy, SwitchyardTables};
use switchyard_p4rt_server::{Device, DeviceOptions, Server};
use switchyard_wire::flow::ConnKey;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(50_000);
    let rate: Option<u64> = std::env::args().nth(2).map(|s| s.parse()).transpose()?.filter(|r| *r > 0);
    let window: usize = std::env::args().nth(3).map(|s| s.parse()).transpose()?.unwrap_or(DEFAULT_IN_FLIGHT);
    let p4 = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/switchyard.p4"))?;
    let defines = vec![("CONNECTION_TABLE_SIZE".to_string(), "1048576".to_string())];
    let sw = switchyard_switch_sim::Switch::load(&p4, &defines)?;
    let info = switchyard_p4rt_server::p4info_gen::generate(sw.program());
    let cfg = format!("{{\"p4_path\": {:?}, \"defines\": {{\"CONNECTION_TABLE_SIZE\": \"1048576\"}}}}", p4);
    let server = Server::new(Device::new(DeviceOptions::default()));
    // P4RT_BENCH_TLS=1: the same run over mutual TLS (a CA made for the run).
    let tls_dir = std::env::temp_dir().join(format!("sy-p4rt-bench-{}", std::process::id()));
    let certs = match std::env::var("P4RT_BENCH_TLS").as_deref() {
        Ok("1") => Some(switchyard_control::tls::generate(&tls_dir, &["127.0.0.1".into()], &["bench"])?),
        _ => None,
    };
    let server_tls = certs.as_ref().map(|g| g.switch.server_config()).transpose()?;
    let (addr, _task) = switchyard_p4rt_server::serve_with(server.clone(), "127.0.0.1:0".parse()?, server_tls).await?;
    let tls = certs.as_ref().and_then(|g| g.client("bench", "127.0.0.1"));
    println!("transport: {}", if tls.is_some() { "mutual TLS" } else { "plain gRPC" });
    let client = P4rtClient::connect(&format!("http://{addr}"), ClientOptions { election_id: 1, tls, ..Default::default() }).await?;
    let _ = std::fs::remove_dir_all(&tls_dir);
    client.set_pipeline(info.clone(), cfg.into_bytes(), 1, Action::VerifyAndCommit).await?;
    let tables = SwitchyardTables::new(P4InfoIndex::new(info)?)?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "entries per run: {n}, rate: {}, writes in flight: {window}, load average: {}",
        rate.map_or("unpaced".to_string(), |r| format!("{r}/s")),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let mut base = 0u32;
    for batch in [1usize, 16, 128] {
        let count = if batch == 1 { n.min(20_000) } else { n };
        // Entries are built before the clock starts: the front-end builds them off the write path too.
        let ups: Vec<_> = (0..count as u32)
            .map(|i| {
                let k = base + i;
                let key = ConnKey { client_ip: Ipv4Addr::from(0xC612_0000 | (k >> 16)), client_port: k as u16, vip_id: 1 };
                sy::insert(tables.connection(&key, 1, None).unwrap())
            })
            .collect();
        base += count as u32;
        let (w, mut done) = spawn_writer_window(client.clone(), WriterOptions { max_batch: batch, linger: Duration::from_micros(100), capacity: 65536 }, window);
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            let t0 = Instant::now();
            for (i, u) in ups.into_iter().enumerate() {
                if let Some(r) = rate {
                    // Pace: entry i is due at i / rate seconds.
                    let due = t0 + Duration::from_nanos(i as u64 * 1_000_000_000 / r.max(1));
                    if due > Instant::now() + Duration::from_millis(1) {
                        tokio::time::sleep_until(due.into()).await;
                    }
                }
                w.submit(WriteJob { tag: i as u64, update: u }).await.expect("writer alive");
            }
        });
        let mut lat = Vec::with_capacity(count);
        let mut failed = 0;
        while lat.len() < count {
            let c = tokio::time::timeout(Duration::from_secs(30), done.recv()).await?.ok_or("writer stopped")?;
            if !c.status.is_ok() {
                failed += 1;
            }
            lat.push(c.latency);
        }
        producer.await?;
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "batch {batch:>3}: {:>8.0} entries/s  p50 {:>8.3} ms  p99 {:>8.3} ms  ({count} entries, {failed} failed)",
            count as f64 / secs,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3
        );
    }
    let installed = client.read_table(tables.connection_table_id()).await?.len();
    println!("connection entries installed (read back): {installed} of {base}");
    Ok(())
}
