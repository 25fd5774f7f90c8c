//! Real DPDK over net_af_packet, as the testbed runs it: a forwarder in a
//! middle namespace joins two hosts; ping and a 1 MB HTTP download from a
//! real nginx must cross it intact.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use switchyard_testbed::{bodies, clients, nginx, Netns};

fn l2fwd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sy-dpdk-l2fwd"))
}

#[test]
#[ignore = "needs root: namespaces and DPDK"]
fn dpdk_forwards_ping_and_http_between_namespaces() {
    switchyard_testbed::cmd::require_tools(&["ping", "curl", "nginx"]).unwrap();
    let a = Netns::create("sy-dp1-a").unwrap();
    let m = Netns::create("sy-dp1-m").unwrap();
    let b = Netns::create("sy-dp1-b").unwrap();
    let (mac_a, mac_b) = ("02:53:59:00:01:01", "02:53:59:00:01:02");
    a.add_veth("eth0", mac_a, &m, "ma", "02:53:59:01:01:01").unwrap();
    b.add_veth("eth0", mac_b, &m, "mb", "02:53:59:01:01:02").unwrap();
    a.exec(&["ip", "addr", "add", "198.18.200.1/24", "dev", "eth0"]).unwrap();
    b.exec(&["ip", "addr", "add", "198.18.200.2/24", "dev", "eth0"]).unwrap();
    a.exec(&["ip", "neigh", "replace", "198.18.200.2", "lladdr", mac_b, "dev", "eth0", "nud", "permanent"]).unwrap();
    b.exec(&["ip", "neigh", "replace", "198.18.200.1", "lladdr", mac_a, "dev", "eth0", "nud", "permanent"]).unwrap();

    let dir = std::env::temp_dir().join("switchyard-dp1");
    std::fs::create_dir_all(&dir).unwrap();
    let www = nginx::write_bodies(&dir).unwrap();
    let _web = nginx::NginxBackend::start(&b, "b0", "198.18.200.2".parse().unwrap(), 80, &dir.join("b0"), &www).unwrap();

    // Without the forwarder nothing crosses: the test would notice a
    // kernel path that bypasses DPDK.
    let out = a.output(&["ping", "-c", "1", "-W", "1", "198.18.200.2"]).unwrap();
    assert!(!out.status.success(), "traffic crossed without the forwarder");

    let bin = l2fwd_bin();
    let log = dir.join("l2fwd.log");
    let _ = std::fs::remove_file(&log);
    let mut fwd = m
        .spawn(
            &[
                bin.to_str().unwrap(), "--seconds", "60", "--",
                "--no-huge", "-m", "256", "--no-pci", "--file-prefix=sy-dp1", "-l", "0",
                "--vdev=net_af_packet0,iface=ma", "--vdev=net_af_packet1,iface=mb",
            ],
            &log,
        )
        .unwrap();
    // Wait for the forwarder to come up (bounded).
    let mut up = false;
    for _ in 0..100 {
        if std::fs::read_to_string(&log).unwrap_or_default().contains("forwarding") {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(up, "l2fwd did not start: {}", std::fs::read_to_string(&log).unwrap_or_default());

    let out = a.output(&["ping", "-c", "20", "-i", "0.01", "-W", "2", "198.18.200.2"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(" 0% packet loss"), "{text}");

    let f = clients::fetch(&a, "http://198.18.200.2/1m", &dir.join("1m"), 30, &[]).unwrap();
    assert_eq!((f.status, f.bytes), (200, bodies::SIZES[2].1));
    assert_eq!(f.verified, Ok(()));

    // Stop it and read its counters: it must have moved the packets.
    Command::new("kill").args(["-INT", &fwd.id().to_string()]).status().unwrap();
    let status = fwd.wait().unwrap();
    assert!(status.success(), "l2fwd exit {status}");
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text.lines().find(|l| l.starts_with("forwarded")).expect("stats line");
    let nums: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(nums[0] >= 20 + 100 && nums[1] >= 20 + 700, "{line}");
}
