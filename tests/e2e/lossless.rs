//! A lossless switch (issue 11, point 3): 32 parallel 10 MB downloads
//! through the load balancer in `sim` mode, every body verified; the
//! switch's AF_PACKET ports lose no frame (the kernel's PACKET_STATISTICS
//! drops the switch reports are 0, cross-checked with `ss -f link -m`) and
//! the backends retransmit under 0.5 % of their segments (`nstat`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::clients::{fetch_many, Request};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, Netns, SwitchMode, Testbed, TestbedSpec};

const DOWNLOADS: usize = 32;
const BYTES: usize = 10 * 1024 * 1024;
/// Retransmitted segments per segment sent, summed over the backends.
const MAX_RETRANS: f64 = 0.005;

/// `nstat` counters of a namespace (absolute, history not updated).
fn nstat(ns: &Netns) -> HashMap<String, u64> {
    switchyard_testbed::tcpstat::segments(ns).unwrap()
}

/// Drops of every packet socket in a namespace as the socket layer counts
/// them (`ss -f link -m`, skmem `d`): (interface, drops).
fn socket_drops(ns: &Netns) -> Vec<(String, u64)> {
    let out = ns.exec(&["ss", "-H", "-f", "link", "-m"]).unwrap_or_default();
    let mut v = Vec::new();
    let mut iface = String::new();
    for l in out.lines() {
        // `p_raw 0 0 *:s-b0 * skmem:(r0,rb..,d55613)`; skmem may wrap to its own line.
        if !l.trim_start().starts_with("skmem:") {
            if let Some(local) = l.split_whitespace().nth(3) {
                iface = local.rsplit(':').next().unwrap_or(local).to_string();
            }
        }
        if let Some(i) = l.find("skmem:(") {
            let d = l[i + 7..].split(|c| c == ',' || c == ')').find_map(|f| f.strip_prefix('d')).and_then(|d| d.parse().ok()).unwrap_or(0);
            v.push((iface.clone(), d));
        }
    }
    v
}

/// (rx_dropped, tx_dropped) of every link in a namespace (`ip -s link`).
fn link_drops(ns: &Netns) -> Vec<(String, u64, u64)> {
    let out = ns.exec(&["ip", "-s", "-j", "link", "show"]).unwrap();
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    v.iter()
        .filter_map(|l| {
            let s = &l["stats64"];
            Some((l["ifname"].as_str()?.to_string(), s["rx"]["dropped"].as_u64()?, s["tx"]["dropped"].as_u64()?))
        })
        .filter(|(n, _, _)| n != "lo")
        .collect()
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, eBPF"]
fn parallel_downloads_lose_no_frame() {
    let tag = "ll1";
    let (cfg_path, _) = example_config();
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        // The AF_PACKET driver sleeps in poll when idle; DPDK's busy loop
        // would take one of the machine's two cores from the switch.
        let fe = Frontend::start(&tb, &cfg_path, FrontendDriver::AfPacket, false).unwrap();
        let before: Vec<HashMap<String, u64>> = tb.backend_ns.iter().map(nstat).collect();
        let reqs: Vec<Request> = (0..DOWNLOADS).map(|i| Request::get(format!("http://{}/10m?ll={i}", addr::VIP))).collect();
        let start = Instant::now();
        let got = fetch_many(&tb.client, &reqs, &tb.dir.join("ll"), 180, true).unwrap();
        let secs = start.elapsed().as_secs_f64();
        // The switch prints its counters every second: let one more line out.
        std::thread::sleep(Duration::from_millis(1500));
        let after: Vec<HashMap<String, u64>> = tb.backend_ns.iter().map(nstat).collect();
        let (mut out, mut retrans) = (0u64, 0u64);
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            let d = |k: &str| a.get(k).copied().unwrap_or(0) - b.get(k).copied().unwrap_or(0);
            println!("b{i}: TcpOutSegs {} TcpRetransSegs {}", d("TcpOutSegs"), d("TcpRetransSegs"));
            out += d("TcpOutSegs");
            retrans += d("TcpRetransSegs");
        }
        let sw = lb::switch_stats(&tb);
        let ss = socket_drops(&tb.switch);
        let links: Vec<_> = tb.namespaces().iter().flat_map(|ns| link_drops(ns).into_iter().map(|(n, r, t)| (format!("{}/{n}", ns.name()), r, t))).collect();
        let fe_log = fe.stop();
        let fe_c = lb::frontend_counters(&fe_log);
        let rate = retrans as f64 / out.max(1) as f64;
        println!(
            "{DOWNLOADS} x 10 MB in {secs:.1} s: backends sent {out} segments, retransmitted {retrans} ({:.4} %)",
            rate * 100.0
        );
        println!("switch: {sw:?}");
        println!("switch packet sockets (ss, skmem d): {ss:?}");
        println!("link drops (rx, tx): {:?}", links.iter().filter(|l| l.1 + l.2 > 0).collect::<Vec<_>>());
        let fe_drops: Vec<_> = fe_c.iter().filter(|(k, _)| k.starts_with("driver.")).collect();
        println!("front-end driver: {fe_drops:?}");
        let ok = got.iter().filter(|f| f.status == 200 && f.bytes == BYTES && f.verified.is_ok()).count();
        for f in &got {
            assert_eq!((f.status, f.bytes, &f.verified), (200, BYTES, &Ok(())), "{}", f.url);
        }
        assert_eq!(ok, DOWNLOADS);
        assert!(ss.iter().all(|s| s.1 == 0), "switch sockets dropped frames: {ss:?}");
        assert_eq!(sw.get("kernel_rx_drops").copied(), Some(0), "switch's kernel drops: {sw:?}");
        assert_eq!(fe_c.get("driver.kernel_rx_drops").copied(), Some(0), "front-end's kernel drops: {fe_drops:?}");
        assert!(rate < MAX_RETRANS, "backends retransmitted {retrans} of {out} segments ({:.3} %)", rate * 100.0);
    }
    assert_no_namespaces(tag);
}
