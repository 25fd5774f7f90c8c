//! No front-end, no answer (issue 10, point 3). With no live front-end
//! (`frontend_count` 0) the switch refuses a new connection at once with
//! RST|ACK, so a client's connect fails with "connection refused" instead
//! of completing a handshake nobody will finish (seen before: the client
//! waited 3–15 s for its own timeout). With `switchyard-frontends`
//! watching, a front-end that dies is taken out of the switch by itself,
//! within one probe interval, and put back when it returns.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use switchyard_e2e::{assert_no_namespaces, example_config};
use switchyard_frontend_dpdk::afpacket::in_netns;
use switchyard_testbed::lb::{self, Frontend, FrontendDriver, FrontendWatcher};
use switchyard_testbed::{addr, clients, SwitchMode, Testbed, TestbedSpec};

const TRIES: usize = 10;
/// A refusal is one round trip through the switch; well under this.
const REFUSED_WITHIN: Duration = Duration::from_secs(1);
/// Long enough that a SYN-ACK nobody follows up would show as a success.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn fetch_ok(tb: &Testbed, what: &str) {
    let f = clients::fetch(&tb.client, &format!("http://{}/1k", addr::VIP), &tb.dir.join(what), 20, &[]).unwrap();
    assert_eq!((f.status, &f.verified), (200, &Ok(())), "{what}: {f:?}");
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, eBPF"]
fn without_a_live_frontend_connects_are_refused_at_once() {
    let tag = "nf1";
    let (path, _cfg) = example_config();
    {
        // The front-end programs the services itself over P4Runtime; they
        // stay in the switch when it stops.
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        fetch_ok(&tb, "before");
        let log = fe.stop();
        assert!(!log.contains("panicked"), "{log}");

        // The front-end is gone; whoever runs the switch says so.
        lb::set_frontend_count(&tb, 0).unwrap();
        let before = lb::switch_counters(&tb).unwrap();
        let vip = SocketAddr::from((addr::VIP, 80));
        let tries = in_netns(tb.client.name(), move || {
            (0..TRIES)
                .map(|_| {
                    let t = Instant::now();
                    let r = TcpStream::connect_timeout(&vip, CONNECT_TIMEOUT).map(drop).map_err(|e| e.kind());
                    (r, t.elapsed())
                })
                .collect::<Vec<_>>()
        })
        .unwrap();
        let after = lb::switch_counters(&tb).unwrap();
        println!("connects with frontend_count 0: {tries:?}");
        for (i, (r, took)) in tries.iter().enumerate() {
            assert_eq!(*r, Err(ErrorKind::ConnectionRefused), "connect #{i} after {took:?}");
            assert!(*took < REFUSED_WITHIN, "connect #{i} refused only after {took:?}");
        }
        let refused = after["path.syn_refused"] - before.get("path.syn_refused").copied().unwrap_or(0);
        assert_eq!(refused, TRIES as u64, "the switch's syn_refused counter: one per connect");
        assert_eq!(after["path.syn_answered"], before["path.syn_answered"], "no cookie SYN-ACK while no front-end is live");

        // A front-end is back: connections are answered and served again.
        lb::set_frontend_count(&tb, 1).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        fetch_ok(&tb, "after");
        let log = fe.stop();
        assert!(!log.contains("panicked"), "{log}");
    }
    assert_no_namespaces(tag);
}

/// The watcher's probe interval in this test.
const PROBE_MS: u64 = 500;

/// Connects until the switch refuses (bounded): how long it took.
fn until_refused(tb: &Testbed, within: Duration) -> Duration {
    let vip = SocketAddr::from((addr::VIP, 80));
    in_netns(tb.client.name(), move || {
        let start = Instant::now();
        while start.elapsed() < within {
            match TcpStream::connect_timeout(&vip, Duration::from_millis(300)) {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => return start.elapsed(),
                // Answered by the switch's SYN cookie: the set still names
                // the dead front-end.
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        panic!("connects still answered {within:?} after the front-end died");
    })
    .unwrap()
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, eBPF"]
fn the_watcher_takes_a_dead_frontend_out_and_puts_it_back() {
    let tag = "nf2";
    let (path, _cfg) = example_config();
    {
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        let admin = "127.0.0.1:9180".parse().unwrap();
        let watcher = FrontendWatcher::start(&tb, admin, PROBE_MS).unwrap();
        watcher.wait_log("switch updated: 63 slots rewritten, frontend_count 64", Duration::from_secs(10)).unwrap();
        fetch_ok(&tb, "before");

        // SIGKILL: its admin port refuses, the next probe takes it out.
        fe.kill();
        let took = until_refused(&tb, Duration::from_secs(10));
        println!("front-end killed: connects refused after {took:?} (probe interval {PROBE_MS} ms)");
        assert!(took < Duration::from_millis(2 * PROBE_MS + 1000), "detection took {took:?}");
        assert!(watcher.log().contains("front-end fe0 is out: connect: "), "{}", watcher.log());
        let before = lb::switch_counters(&tb).unwrap();
        let refused = until_refused(&tb, Duration::from_secs(1));
        assert!(refused < REFUSED_WITHIN, "{refused:?}");
        let after = lb::switch_counters(&tb).unwrap();
        assert!(after["path.syn_refused"] > before["path.syn_refused"], "the switch counts its refusals");

        // Back: after `rise` probes new connections are served again.
        let restart = Instant::now();
        let fe = Frontend::start(&tb, &path, FrontendDriver::AfPacket, false).unwrap();
        watcher.wait_log("front-end fe0 is live", Duration::from_secs(10)).unwrap();
        let back = restart.elapsed();
        watcher.wait_log("switch updated: 0 slots rewritten, frontend_count 64", Duration::from_secs(10)).unwrap();
        println!("front-end restarted: in the switch again {back:?} after its start began");
        fetch_ok(&tb, "after");
        let log = fe.stop();
        assert!(!log.contains("panicked"), "{log}");
        let wlog = watcher.stop();
        assert!(!wlog.contains("panicked") && !wlog.contains("writing the front-end set"), "{wlog}");
    }
    assert_no_namespaces(tag);
}
