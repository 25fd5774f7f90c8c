//! The point of the co-design, measured: the front-end handles a handful
//! of packets per connection whatever the response size; the switch
//! carries the bulk; offloaded flows survive the front-end's death; a full
//! connection table leaves flows on the (slower, still correct) front-end
//! path.

use std::time::Duration;

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_testbed::clients::{self, fetch_many, Request};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, SwitchMode, Testbed, TestbedSpec};

const CONNS: usize = 10;

struct Phase {
    fe_packets_per_conn: f64,
    fe_rx: u64,
    client_packets: u64,
}

/// `CONNS` sequential connections (one curl each) for `path`, under a
/// front-end started for this phase alone so its counters are the phase's.
fn phase(tb: &Testbed, path: &str) -> Phase {
    let (cfg_path, _) = example_config();
    let fe = Frontend::start(tb, &cfg_path, FrontendDriver::Dpdk, false).unwrap();
    let (rx0, tx0) = tb.client.link_packets("eth0").unwrap();
    for i in 0..CONNS {
        let f = clients::fetch(&tb.client, &format!("http://{}{path}?n={i}", addr::VIP), &tb.dir.join("ph"), 60, &[]).unwrap();
        assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");
    }
    let (rx1, tx1) = tb.client.link_packets("eth0").unwrap();
    // Let the closes (FIN both ways, carried by the switch) settle.
    std::thread::sleep(Duration::from_millis(500));
    let log = fe.stop();
    let c = lb::frontend_counters(&log);
    assert_eq!(c["setups"], CONNS as u64, "{log}");
    assert!(c["engine_offloads_installed"] >= CONNS as u64, "every connection offloaded:\n{log}");
    // The host's own frames (its health checks, which the DPDK port sees
    // too) are not the connections' work.
    let rx = c["rx"] - c["host_frames"];
    Phase { fe_packets_per_conn: (rx + c["tx"]) as f64 / CONNS as f64, fe_rx: rx, client_packets: rx1 - rx0 + tx1 - tx0 }
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn switch_carries_the_bulk_of_large_responses() {
    let tag = "of1";
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let small = phase(&tb, "/1k");
        let large = phase(&tb, "/10m");
        let carried = 1.0 - large.fe_rx as f64 / large.client_packets as f64;
        println!(
            "front-end packets per connection: 1 KB {:.1}, 10 MB {:.1}; 10 MB connections: {} packets at the client, {} through the front-end, switch carried {:.3}%",
            small.fe_packets_per_conn,
            large.fe_packets_per_conn,
            large.client_packets,
            large.fe_rx,
            carried * 100.0
        );
        assert!(carried >= 0.99, "switch carried {:.3}% of the 10 MB connections' packets", carried * 100.0);
        // The target: the front-end's work per connection does not
        // grow with the response. The engine holds each response (zero
        // window to the backend) until the switch's entry is in
        // (`hold_until_offloaded`, docs/FRONTEND.md), so a 10 MB connection
        // costs the front-end what a 1 KB one does: the handshake, the
        // request and the window update.
        let ratio = large.fe_packets_per_conn / small.fe_packets_per_conn;
        assert!(
            (0.8..=1.2).contains(&ratio),
            "front-end packets per connection: 10 MB {:.1} / 1 KB {:.1} = {ratio:.2}, want within 20%",
            large.fe_packets_per_conn,
            small.fe_packets_per_conn
        );
    }
    assert_no_namespaces(tag);
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn offloaded_downloads_survive_the_frontend_dying() {
    let tag = "of2";
    let (cfg_path, _) = example_config();
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 3, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start_with(&tb, &cfg_path, FrontendDriver::Dpdk, false, &["--stats-interval", "1"]).unwrap();
        // 50 downloads of 1 MB, paced by the client so they are all in
        // flight (about 5 s each) when the front-end dies.
        let reqs: Vec<Request> =
            (0..50).map(|i| Request::get(format!("http://{}/1m?d={i}", addr::VIP)).arg("--limit-rate").arg("200k")).collect();
        std::thread::scope(|s| {
            let tb = &tb;
            let downloads = s.spawn(move || fetch_many(&tb.client, &reqs, &tb.dir.join("dl"), 60, true).unwrap());
            fe.wait_counters(Duration::from_secs(30), |c| c.get("engine_offloads_installed").copied().unwrap_or(0) >= 50).unwrap();
            fe.kill();
            let got = downloads.join().unwrap();
            for f in &got {
                assert_eq!((f.status, f.bytes, &f.verified), (200, 1024 * 1024, &Ok(())), "{}", f.url);
            }
        });
        // A new front-end takes over the switch; new connections work.
        let fe = Frontend::start(&tb, &cfg_path, FrontendDriver::Dpdk, false).unwrap();
        let f = clients::fetch(&tb.client, &format!("http://{}/10k", addr::VIP), &tb.dir.join("after"), 30, &[]).unwrap();
        assert_eq!((f.status, &f.verified), (200, &Ok(())), "{f:?}");
        fe.stop();
    }
    assert_no_namespaces(tag);
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, DPDK, eBPF"]
fn a_full_connection_table_keeps_flows_on_the_frontend_path() {
    let tag = "of3";
    let (cfg_path, _) = example_config();
    {
        let mut spec = TestbedSpec::new(tag, 3, SwitchMode::Sim);
        spec.p4_defines = vec![("CONNECTION_TABLE_SIZE".into(), "4".into())];
        let tb = Testbed::up(spec).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &cfg_path, FrontendDriver::Dpdk, false).unwrap();
        let reqs: Vec<Request> =
            (0..20).map(|i| Request::get(format!("http://{}/1m?t={i}", addr::VIP)).arg("--limit-rate").arg("500k")).collect();
        let got = fetch_many(&tb.client, &reqs, &tb.dir.join("tf"), 60, true).unwrap();
        let log = fe.stop();
        println!("{log}");
        for f in &got {
            assert_eq!((f.status, &f.verified), (200, &Ok(())), "{}", f.url);
        }
        let c = lb::frontend_counters(&log);
        assert!(c["switch.refused_full"] >= 10, "installs refused as table full: {}", c["switch.refused_full"]);
        assert!(c["switch.ok"] >= 4, "the table's 4 entries were used: {}", c["switch.ok"]);
    }
    assert_no_namespaces(tag);
}
