//! `switchyard-testbed up`: a testbed a person can use by hand. In `sim`
//! (and `bmv2`) mode the whole load balancer — switch, an agent on every
//! backend, the front-end — with every printed client line tried once
//! before it is shown; in `router` mode the bare topology.

use std::path::Path;

use anyhow::Result;

use crate::demo::{DemoRequest, REQUESTS};
use crate::lb::{self, Frontend, FrontendDriver};
use crate::{addr, clients, SwitchMode, Testbed, TestbedSpec};

/// Brings the testbed up and returns what must live until Ctrl-C.
pub fn run(spec: TestbedSpec, config: &Path) -> Result<Running> {
    if spec.mode == SwitchMode::Router {
        let tb = Testbed::up(spec)?;
        print_namespaces(&tb);
        println!("try: ip netns exec {} curl -si http://{}/1k | head", tb.client.name(), tb.backend_addr(0));
        return Ok(Running { _frontend: None, _agents: Vec::new(), _tb: tb });
    }
    switchyard_frontend::config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tb = Testbed::up(spec)?;
    let agents = lb::start_agents(&tb)?;
    // AF_PACKET: it sleeps in poll when idle, where DPDK's busy loop would
    // hold one core for as long as the testbed stays up.
    let fe = Frontend::start(&tb, config, FrontendDriver::AfPacket, false)?;
    print_namespaces(&tb);
    println!("load balancer up: {:?} switch, agents on {} backends, front-end (AF_PACKET) with {}", tb.spec.mode, tb.backends.len(), config.display());
    println!("logs in {}", tb.dir.display());
    println!("\nVIP {} (port 80: service web; 8080: service gateway, request mode). Tried once just now:", addr::VIP);
    for r in REQUESTS {
        println!("  # {} -> {}", r.what, tried(&tb, r));
        println!("  {}", curl_line(tb.client.name(), r));
    }
    println!("  # load, bounded to 10 s (wrk's summary counts errors and non-2xx):");
    println!("  ip netns exec {} wrk -t1 -c16 -d10s http://{}/1k", tb.client.name(), addr::VIP);
    print_admin(&tb, config);
    if tb.tls.is_some() {
        let args = crate::topology::ctl_switch_args(tb.tls.as_ref()).join(" ");
        println!("\nThe switch over P4Runtime (mutual TLS, the testbed's CA in {}):", tb.dir.join(crate::topology::TLS_DIR).display());
        println!("  ip netns exec {} switchyard-ctl {args} counters", tb.frontend.name());
    }
    println!("\nCtrl-C stops every process and removes the namespaces.");
    Ok(Running { _frontend: Some(fe), _agents: agents, _tb: tb })
}

/// The operator CLI's lines when the config has an admin API (the
/// front-end's namespace has a loopback of its own, so the CLI runs there).
fn print_admin(tb: &Testbed, config: &Path) {
    let Some(admin) = switchyard_frontend::config::load(config).ok().and_then(|c| c.admin) else { return };
    let cli = crate::find_bin("switchyard").map(|p| p.display().to_string()).unwrap_or_else(|_| "switchyard".into());
    println!("\nThe front-end's admin API on {} (docs/OPERATIONS.md):", admin.listen);
    for cmd in ["status", "backends", "flows", "table"] {
        println!("  ip netns exec {} {cli} --admin {} {cmd}", tb.frontend.name(), admin.listen);
    }
    println!("  ip netns exec {} curl -s http://{}/metrics | head", tb.frontend.name(), admin.listen);
}

/// What `up` keeps running (the signal handler removes the namespaces).
pub struct Running {
    _frontend: Option<Frontend>,
    _agents: Vec<std::process::Child>,
    _tb: Testbed,
}

fn print_namespaces(tb: &Testbed) {
    println!("testbed up ({:?}); namespaces:", tb.spec.mode);
    for ns in tb.namespaces() {
        println!("  {}", ns.name());
    }
}

/// A ready-to-paste curl for `r`: the response head (with the header naming
/// the backend) on the terminal, the body discarded.
pub fn curl_line(client_ns: &str, r: &DemoRequest) -> String {
    let headers: String = r.headers.iter().map(|h| format!(" -H '{h}'")).collect();
    format!("ip netns exec {client_ns} curl -sS -D - -o /dev/null{headers} {}", r.url())
}

/// The outcome of `r` from the client right now, said as it was.
fn tried(tb: &Testbed, r: &DemoRequest) -> String {
    let mut extra: Vec<&str> = Vec::new();
    for h in r.headers {
        extra.extend(["-H", h]);
    }
    match clients::fetch(&tb.client, &r.url(), &tb.dir.join("up-body"), 60, &extra) {
        Err(e) => format!("FAILED: {e:#}"),
        Ok(f) => {
            let body = match &f.verified {
                Ok(()) => "body verified".to_string(),
                Err(e) => format!("body NOT verified: {e}"),
            };
            format!("{} from {}, {} bytes, {body}", f.status, f.backend.as_deref().unwrap_or("no backend header"), f.bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_lines_carry_the_route_headers() {
        let r = REQUESTS.iter().find(|r| r.headers.len() == 2).expect("a header-routed request");
        let l = curl_line("sy-demo-cli", r);
        assert!(l.starts_with("ip netns exec sy-demo-cli curl "), "{l}");
        for h in r.headers {
            assert!(l.contains(&format!("-H '{h}'")), "{l}");
        }
        assert!(l.ends_with(&format!("http://{}{}", addr::VIP, r.path)), "{l}");
        let gw = REQUESTS.iter().find(|r| r.port == 8080).expect("a gateway request");
        assert!(curl_line("sy-demo-cli", gw).ends_with(&format!("http://{}:8080{}", addr::VIP, gw.path)));
    }
}
