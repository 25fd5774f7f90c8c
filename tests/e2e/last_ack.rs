//! Clients left in LAST-ACK (issue 10, point 2): real kernel clients that
//! get the front-end's 408 for an idle connection and close their end only
//! after the front-end has forgotten the flow (`closing_ms`). Before, their
//! FINs were dropped as `bad_cookie` and each socket retransmitted its FIN
//! from LAST-ACK until it gave up (minutes); now the front-end answers the
//! segment of no connection with a RST (docs/FRONTEND.md step 1) and the
//! socket is gone at once. Timeouts are shortened in a copy of the example
//! config so the test takes seconds.

use std::time::Duration;

use switchyard_e2e::{assert_no_namespaces, example_config_with};
use switchyard_testbed::lb::{self, Frontend, FrontendDriver};
use switchyard_testbed::{addr, SwitchMode, Testbed, TestbedSpec};

const CLIENTS: usize = 20;
const REQUEST_MS: u64 = 500;
const CLOSING_MS: u64 = 500;

/// Opens `n` idle connections, reads each one's 408 to the end (the
/// front-end's FIN), waits `late` seconds (past `closing_ms`), then closes
/// them all and waits `after` seconds; prints how many got the 408.
const LATE_CLOSER: &str = r#"
import socket, sys, time
vip, n, late, after = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
socks = [socket.create_connection((vip, 80), timeout=5) for _ in range(n)]
got = 0
for s in socks:
    data = b''
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    got += data.startswith(b'HTTP/1.1 408')
print(got, flush=True)
time.sleep(late)
for s in socks:
    s.close()
time.sleep(after)
"#;

fn last_ack_sockets(tb: &Testbed) -> usize {
    let out = tb.client.exec(&["ss", "-Htn", "state", "last-ack"]).unwrap_or_default();
    out.lines().filter(|l| l.contains(&addr::VIP.to_string())).count()
}

#[test]
#[ignore = "needs root: namespaces, switch-sim, eBPF"]
fn a_late_fin_after_a_408_gets_a_reset_not_silence() {
    let tag = "la1";
    let (left, got, log) = {
        let tb = Testbed::up(TestbedSpec::new(tag, 2, SwitchMode::Sim)).unwrap();
        let _agents = lb::start_agents(&tb).unwrap();
        let edits = [("request_ms = 10000", format!("request_ms = {REQUEST_MS}")), ("closing_ms = 2000", format!("closing_ms = {CLOSING_MS}"))];
        let cfg = example_config_with(&tb.dir, "frontend-last-ack.toml", &edits);
        let fe = Frontend::start(&tb, &cfg, FrontendDriver::AfPacket, false).unwrap();
        let script = tb.dir.join("late_closer.py");
        std::fs::write(&script, LATE_CLOSER).unwrap();
        let late = Duration::from_millis(CLOSING_MS * 3).as_secs_f64().to_string();
        let mut closer = tb.client.spawn(&["python3", &script.to_string_lossy(), &addr::VIP.to_string(), &CLIENTS.to_string(), &late, "3"], &tb.dir.join("late_closer.log")).unwrap();
        // The sockets closed at about request_ms + 3 x closing_ms; look 1 s
        // later, while the script still holds the process (its sockets are
        // closed: only the kernel's LAST-ACK state can remain).
        std::thread::sleep(Duration::from_millis(REQUEST_MS + 3 * CLOSING_MS + 1000));
        let left = last_ack_sockets(&tb);
        let _ = closer.wait();
        let got = std::fs::read_to_string(tb.dir.join("late_closer.log")).unwrap_or_default().trim().to_string();
        (left, got, fe.stop())
    };
    assert_no_namespaces(tag);
    eprintln!("{log}");
    assert_eq!(got, CLIENTS.to_string(), "every idle client got its 408");
    assert_eq!(left, 0, "sockets still in LAST-ACK a second after their FIN");
    let c = lb::frontend_counters(&log);
    assert!(c.get("stateless_resets").copied().unwrap_or(0) >= CLIENTS as u64, "each late FIN answered with a RST: {c:?}");
}
