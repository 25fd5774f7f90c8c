//! Install latency through the whole control path: a thread playing the
//! worker submits Installs into `ControlLink` at a paced rate, the control
//! task writes them to the real switch-sim P4Runtime server (in-process,
//! 127.0.0.1) and the completions come back; then every entry is deleted.
//! Prints the control task's stats line (latency from the worker's submit to
//! the switch's answer).
//!
//! `cargo run --release -p switchyard-control-plane --example control_bench [INSTALLS] [RATE_PER_S]`

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_frontend::config::OffloadMode;
use switchyard_frontend::offload::{OffloadEvent, OffloadRequest};
use switchyard_control_plane::{ControlLink, P4rtLink, P4rtOptions, SwitchLink};
use switchyard_p4rt_server::{Device, DeviceOptions, Server};
use switchyard_wire::flow::ConnKey;

const CONFIG: &str = r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
insecure = true
[cookie]
secrets = [{ k0 = 1, k1 = 2 }]
rotation_secs = 3600
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 80 }]
"#;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(20_000);
    let rate: f64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(10_000.0);
    let cfg = switchyard_frontend::config::parse(CONFIG, "bench.toml").map_err(|e| anyhow::anyhow!("{e}"))?;

    let p4 = std::fs::canonicalize(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../p4/switchyard.p4"))?;
    let defs = vec![("CONNECTION_TABLE_SIZE".to_string(), "1048576".to_string())];
    let sw = switchyard_switch_sim::Switch::load(&p4, &defs)?;
    let mut device = Device::new(DeviceOptions::default());
    let dc = serde_json::json!({ "p4_path": p4, "defines": defs.into_iter().collect::<std::collections::BTreeMap<_, _>>() });
    device.install_program(Arc::new(sw.program().clone()), dc.to_string().into_bytes()).map_err(anyhow::Error::msg)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let server = Server::new(device);
    let (addr, _task) = rt.block_on(switchyard_p4rt_server::serve(server, "127.0.0.1:0".parse()?))?;

    let mut o = P4rtOptions::from_config(&cfg, 10);
    o.endpoint = format!("http://{addr}");
    let stop = Arc::new(AtomicBool::new(false));
    let (link, thread) = ControlLink::spawn(SwitchLink::P4Runtime(Box::new(P4rtLink { config: cfg, options: o })), stop.clone())?;

    let key = |i: u32| ConnKey { client_ip: (0xC612_0000 + (i >> 16)).into(), client_port: i as u16, vip_id: 0 };
    let start = Instant::now();
    let (mut done, mut installed, mut sent) = (0u32, 0u32, 0u32);
    while done < n {
        let due = ((start.elapsed().as_secs_f64() * rate) as u32).min(n);
        while sent < due {
            if let Some(ev) = link.submit(OffloadRequest::Install { key: key(sent), backend: (sent % 2) as u16, mode: OffloadMode::Connection }) {
                println!("refused at submit: {ev:?}");
                done += 1;
            }
            sent += 1;
        }
        for ev in link.poll() {
            done += 1;
            installed += u32::from(matches!(ev, OffloadEvent::Installed { .. }));
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{n} installs offered at {rate:.0}/s: {installed} installed in {secs:.2} s ({:.0}/s)", f64::from(installed) / secs);
    println!("{}", link.stats().line());
    for i in 0..n {
        link.submit(OffloadRequest::Delete { key: key(i) });
        if i % 1024 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let _ = thread.join();
    Ok(())
}
