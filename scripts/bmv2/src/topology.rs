//! The testbed's shape: a switch namespace in the middle, one veth link to
//! it from the client, the front-end and each backend.
//!
//! ```text
//!   client ──s-cli┐
//!   front-end ─s-fe┤ switch ├s-b0── backend b0 (nginx)
//!                  │        ├s-b1── backend b1 (nginx)
//!                  └        └s-bN── ...
//! ```
//!
//! Switch modes: `router` has the kernel of the switch namespace forward
//! IP (the baseline for nginx/HAProxy comparisons). Later modes put
//! switch-sim or bmv2 on the switch's interfaces instead; they need the
//! interfaces address-less and forwarding off (see NOTES on AF_PACKET), so
//! the address plan keeps the gateway addresses on the hosts' side only as
//! static neighbour entries.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use switchyard_control::tls::Generated;

use crate::addr;
use crate::netns::Netns;
use crate::nginx::{self, NginxBackend};
use crate::switch_entries::{self, EdgeGuards, Route, SecretEntries, ServiceEntries};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchMode {
    /// Kernel IP forwarding in the switch namespace.
    Router,
    /// switch-sim executing p4/switchyard.p4 on the switch's interfaces,
    /// with its P4Runtime server on the management address.
    Sim,
    /// Real bmv2: `p4c-bm2-ss` compiles the same source, `simple_switch_grpc`
    /// runs it; when they are not on PATH the testbed says so and runs `sim`.
    Bmv2,
}

/// True when both bmv2 tools are on PATH.
pub fn bmv2_available() -> bool {
    crate::cmd::require_tools(&BMV2_TOOLS).is_ok()
}

/// What bmv2 mode runs: the compiler and the switch with its P4Runtime server.
pub const BMV2_TOOLS: [&str; 2] = ["p4c-bm2-ss", "simple_switch_grpc"];

/// The environment variable that puts every P4-mode testbed (the e2e
/// tests, the demo, the benchmarks) on real bmv2: `SWITCHYARD_SWITCH=bmv2`
/// (`sim`, or unset, keeps switch-sim).
pub const SWITCH_ENV: &str = "SWITCHYARD_SWITCH";

/// The switch mode a testbed runs in: `SWITCHYARD_SWITCH=bmv2` turns a
/// `sim` request into `bmv2` (router mode stays router: it has no P4
/// switch). A bmv2 request fails, naming the missing tools, when
/// p4c-bm2-ss or simple_switch_grpc is not on PATH.
pub fn effective_mode(asked: SwitchMode, env: Option<&str>) -> Result<SwitchMode> {
    let mode = match (asked, env.map(str::trim)) {
        (SwitchMode::Router, _) => SwitchMode::Router,
        (m, None | Some("")) => m,
        (SwitchMode::Sim, Some("sim")) => SwitchMode::Sim,
        (_, Some("bmv2")) | (SwitchMode::Bmv2, Some("sim")) => SwitchMode::Bmv2,
        (_, Some(other)) => bail!("{SWITCH_ENV}={other}: expected `sim` or `bmv2`"),
    };
    if mode == SwitchMode::Bmv2 {
        crate::cmd::require_tools(&BMV2_TOOLS).with_context(|| {
            format!(
                "switch mode bmv2 (--mode bmv2 or {SWITCH_ENV}=bmv2) needs p4c-bm2-ss (p4c) and simple_switch_grpc \
                 (behavioral-model built with PI/gRPC) on PATH; no Debian or PyPI package provides them"
            )
        })?;
    }
    Ok(mode)
}

impl std::str::FromStr for SwitchMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "router" => Ok(SwitchMode::Router),
            "sim" => Ok(SwitchMode::Sim),
            "bmv2" => Ok(SwitchMode::Bmv2),
            _ => bail!("unknown switch mode `{s}` (router, sim, bmv2)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestbedSpec {
    /// Short tag making this testbed's names unique (tests run in parallel).
    pub tag: String,
    pub backends: usize,
    pub mode: SwitchMode,
    /// P4 modes: services the switch answers SYNs for (router mode has none).
    pub services: Vec<ServiceEntries>,
    pub secrets: Option<SecretEntries>,
    /// P4 modes: preprocessor defines, like `p4c -D` (e.g. a tiny
    /// CONNECTION_TABLE_SIZE for the table-full test).
    pub p4_defines: Vec<(String, String)>,
}

impl TestbedSpec {
    pub fn new(tag: &str, backends: usize, mode: SwitchMode) -> Self {
        Self { tag: tag.into(), backends, mode, services: Vec::new(), secrets: None, p4_defines: Vec::new() }
    }
}

/// One host's link to the switch.
struct Link {
    host: u8,
    switch_if: String,
    host_ip: Ipv4Addr,
    gw_ip: Ipv4Addr,
}

/// A running testbed. Dropping it stops every process and removes every
/// namespace (with their veths).
pub struct Testbed {
    pub spec: TestbedSpec,
    /// Backends first so nginx stops before the namespaces go.
    pub backends: Vec<NginxBackend>,
    pub client: Netns,
    pub frontend: Netns,
    pub switch: Netns,
    pub backend_ns: Vec<Netns>,
    pub dir: PathBuf,
    /// The switch process in P4 modes (killed with the switch namespace).
    pub switch_proc: Option<std::process::Child>,
    /// P4 modes: the CA and certificates of the P4Runtime channel (mutual
    /// TLS), new at every start, in `dir/tls` (files 0600): the switch's,
    /// the front-end's (`frontend`) and `switchyard-ctl`'s (`ctl`).
    pub tls: Option<Generated>,
}

/// The TLS subdirectory of a testbed's run directory.
pub const TLS_DIR: &str = "tls";

/// `switchyard-ctl`'s global arguments for the testbed's switch: its
/// management address and, with `tls`, the `ctl` certificate.
pub fn ctl_switch_args(tls: Option<&Generated>) -> Vec<String> {
    let mut a = vec!["--switch".to_string(), format!("{}:{}", addr::MGMT_SWITCH, addr::P4RUNTIME_PORT)];
    match tls.and_then(|g| g.clients.iter().find(|(n, _)| n == "ctl")) {
        Some((_, f)) => a.extend(tls_flags(f, TLS_FLAGS)),
        None => a.push("--insecure".into()),
    }
    a
}

/// switch-sim's and switchyard-ctl's flags for the CA, certificate and key.
const TLS_FLAGS: [&str; 3] = ["--tls-ca", "--tls-cert", "--tls-key"];

/// `flags[0] CA flags[1] CERT flags[2] KEY`.
fn tls_flags(f: &switchyard_control::proto::tls::TlsFiles, flags: [&str; 3]) -> Vec<String> {
    [(flags[0], &f.ca), (flags[1], &f.cert), (flags[2], &f.key)]
        .into_iter()
        .flat_map(|(flag, p)| [flag.to_string(), p.to_string_lossy().into_owned()])
        .collect()
}

fn ns_name(tag: &str, role: &str) -> String {
    format!("{}{tag}-{role}", crate::NS_PREFIX)
}

impl Testbed {
    pub fn up(mut spec: TestbedSpec) -> Result<Self> {
        crate::require_root()?;
        spec.mode = effective_mode(spec.mode, std::env::var(SWITCH_ENV).ok().as_deref())?;
        crate::cmd::require_tools(&["ip", "ethtool", "nginx", "ss"])?;
        if spec.backends == 0 || spec.backends > addr::MAX_BACKENDS {
            bail!("backends must be 1..={}", addr::MAX_BACKENDS);
        }
        if spec.tag.is_empty() || spec.tag.len() > 8 || !spec.tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!("tag must be 1-8 ASCII letters/digits");
        }
        let dir = std::env::temp_dir().join(format!("switchyard-testbed-{}", spec.tag));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        // Namespaces are created one by one: if a later step fails, the
        // ones made so far are dropped (and removed) by `?`.
        let switch = Netns::create(&ns_name(&spec.tag, "sw"))?;
        let client = Netns::create(&ns_name(&spec.tag, "cli"))?;
        let frontend = Netns::create(&ns_name(&spec.tag, "fe"))?;
        let mut backend_ns = Vec::new();
        for i in 0..spec.backends {
            backend_ns.push(Netns::create(&ns_name(&spec.tag, &format!("b{i}")))?);
        }
        let mut links = vec![
            (&client, Link { host: 0, switch_if: "s-cli".into(), host_ip: addr::CLIENT, gw_ip: addr::CLIENT_GW }),
            (&frontend, Link { host: 1, switch_if: "s-fe".into(), host_ip: addr::FRONTEND, gw_ip: addr::FRONTEND_GW }),
        ];
        for (i, ns) in backend_ns.iter().enumerate() {
            links.push((ns, Link { host: 10 + i as u8, switch_if: format!("s-b{i}"), host_ip: addr::backend(i), gw_ip: addr::backend_gw(i) }));
        }
        for ns in [&switch, &client, &frontend].into_iter().chain(backend_ns.iter()) {
            // IPv4 only: IPv6 neighbour discovery would be noise on every port.
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])?;
        }
        for (ns, l) in &links {
            wire_link(&switch, ns, l, spec.mode).with_context(|| format!("link {} <-> {}", switch.name(), ns.name()))?;
        }
        if spec.mode != SwitchMode::Router {
            // The management link carries P4Runtime between the front-end
            // and the switch; the data ports stay address-less.
            switch.add_veth("mgmt0", &addr::mac_str(addr::mac(254, true)), &frontend, "mgmt0", &addr::mac_str(addr::mac(254, false)))?;
            switch.exec(&["ip", "addr", "add", &format!("{}/30", addr::MGMT_SWITCH), "dev", "mgmt0"])?;
            frontend.exec(&["ip", "addr", "add", &format!("{}/30", addr::MGMT_FRONTEND), "dev", "mgmt0"])?;
        }
        // A fresh CA per run: the switch admits only the front-end's and
        // switchyard-ctl's certificates of this run.
        let tls = match spec.mode {
            SwitchMode::Router => None,
            SwitchMode::Sim | SwitchMode::Bmv2 => Some(
                switchyard_control::tls::generate(&dir.join(TLS_DIR), &[addr::MGMT_SWITCH.to_string(), "switch".into()], &["frontend", "ctl"])
                    .map_err(|e| anyhow::anyhow!("generating the P4Runtime certificates: {e}"))?,
            ),
        };
        let switch_proc = match (spec.mode, &tls) {
            (SwitchMode::Router, _) | (_, None) => {
                switch.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
                None
            }
            (SwitchMode::Sim, Some(tls)) => Some(start_switch_sim(&switch, &links.iter().map(|(_, l)| l).collect::<Vec<_>>(), &spec, &dir, tls)?),
            (SwitchMode::Bmv2, Some(tls)) => Some(start_bmv2(&switch, &frontend, &links.iter().map(|(_, l)| l).collect::<Vec<_>>(), &spec, &dir, tls)?),
        };
        let www = nginx::write_bodies(&dir)?;
        let mut backends = Vec::new();
        for (i, ns) in backend_ns.iter().enumerate() {
            let name = format!("b{i}");
            let bdir = dir.join(&name);
            backends.push(NginxBackend::start(ns, &name, addr::backend(i), 80, &bdir, &www)?);
        }
        Ok(Self { spec, backends, client, frontend, switch, backend_ns, dir, switch_proc, tls })
    }

    pub fn backend_addr(&self, i: usize) -> Ipv4Addr {
        addr::backend(i)
    }

    /// Every namespace of this testbed.
    pub fn namespaces(&self) -> Vec<&Netns> {
        let mut v = vec![&self.switch, &self.client, &self.frontend];
        v.extend(self.backend_ns.iter());
        v
    }
}

impl Drop for Testbed {
    /// The switch stops first, while its ports are still up, so it exits
    /// cleanly and logs its final counters; the namespaces go after.
    fn drop(&mut self) {
        if let Some(mut p) = self.switch_proc.take() {
            crate::cmd::stop_child(&mut p, "-TERM", std::time::Duration::from_secs(3));
        }
    }
}

/// The topology's entries file (routes, port roles, front-end ports and
/// any static services), written for a P4 switch.
fn write_entries(links: &[&Link], spec: &TestbedSpec, dir: &std::path::Path) -> Result<PathBuf> {
    let routes: Vec<Route> = links
        .iter()
        .map(|l| Route {
            net: Ipv4Addr::from(u32::from(l.host_ip) & 0xffff_ff00),
            len: 24,
            port: switch_entries::port_of(l.host),
            src_mac: addr::mac(l.host, true),
            dst_mac: addr::mac(l.host, false),
        })
        .collect();
    let entries = dir.join("switch-entries.json");
    std::fs::write(&entries, switch_entries::entries_json(&routes, 1, &edge_guards(links), &spec.services, spec.secrets))?;
    Ok(entries)
}

/// The client port may source neither a backend's network, the
/// front-end's nor the VIP (only the front-end and the switch's rewrite
/// speak for it), nor reach a backend's nginx ports directly: in P4 modes
/// everything for a backend goes through the VIP (or the front-end).
fn edge_guards(links: &[&Link]) -> EdgeGuards {
    let net24 = |a: Ipv4Addr| (Ipv4Addr::from(u32::from(a) & 0xffff_ff00), 24);
    let backends: Vec<&&Link> = links.iter().filter(|l| l.host >= 10).collect();
    EdgeGuards {
        backend_ports: backends.iter().map(|l| switch_entries::port_of(l.host)).collect(),
        protected_sources: backends.iter().map(|l| net24(l.host_ip)).chain([net24(addr::FRONTEND), (addr::VIP, 32)]).collect(),
        backend_services: backends.iter().flat_map(|l| [(l.host_ip, 80), (l.host_ip, nginx::ALT_PORT)]).collect(),
    }
}

/// Waits until `log` shows `ready` (or the process exits, or 60 s pass).
fn wait_ready(child: &mut std::process::Child, log: &std::path::Path, ready: &str, what: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(ready) {
            return Ok(());
        }
        if let Some(st) = child.try_wait()? {
            bail!("{what} exited ({st}):\n{text}");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            bail!("{what} not ready within 60 s:\n{text}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Starts switch-sim with its P4Runtime server (`switchyard-p4rt`) on the
/// switch's interfaces and the topology's entries; waits until its ports
/// are open and the server listens.
fn start_switch_sim(switch: &Netns, links: &[&Link], spec: &TestbedSpec, dir: &std::path::Path, tls: &Generated) -> Result<std::process::Child> {
    let entries = write_entries(links, spec, dir)?;
    let bin = crate::find_bin("switchyard-p4rt")?;
    let p4 = crate::repo_root().join("p4/switchyard.p4");
    let mut argv = vec![
        bin.to_string_lossy().into_owned(),
        "--addr".into(),
        format!("{}:{}", addr::MGMT_SWITCH, addr::P4RUNTIME_PORT),
        "--p4".into(),
        p4.to_string_lossy().into_owned(),
        // A `switch stats:` line every second (lb::switch_stats reads it).
        "--stats-interval".into(),
        "1".into(),
    ];
    argv.extend(tls_flags(&tls.switch, TLS_FLAGS));
    for (k, v) in &spec.p4_defines {
        argv.push(format!("-D{k}={v}"));
    }
    for l in links {
        argv.push("--port".into());
        argv.push(format!("{}={}", switch_entries::port_of(l.host), l.switch_if));
    }
    argv.push("--entries".into());
    argv.push(entries.to_string_lossy().into_owned());
    let log = dir.join("switch.log");
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut child = switch.spawn(&args, &log)?;
    wait_ready(&mut child, &log, "listening on", "switch-sim")?;
    Ok(child)
}

/// Real bmv2: compiles p4/switchyard.p4 with p4c-bm2-ss, runs
/// simple_switch_grpc on the switch's interfaces, then pushes the pipeline
/// and the topology's entries over P4Runtime with `switchyard-ctl` from the
/// front-end namespace (the management link). Not exercised in this
/// project's CI: no package provides bmv2 here.
fn start_bmv2(switch: &Netns, frontend: &Netns, links: &[&Link], spec: &TestbedSpec, dir: &std::path::Path, tls: &Generated) -> Result<std::process::Child> {
    let entries = write_entries(links, spec, dir)?;
    let p4 = crate::repo_root().join("p4/switchyard.p4");
    let (p4info, json) = (dir.join("switchyard.p4info.bin"), dir.join("switchyard.json"));
    let mut argv: Vec<String> = vec!["p4c-bm2-ss".into(), "--p4runtime-files".into(), p4info.to_string_lossy().into_owned()];
    for (k, v) in &spec.p4_defines {
        argv.push(format!("-D{k}={v}"));
    }
    argv.extend(["-o".into(), json.to_string_lossy().into_owned(), p4.to_string_lossy().into_owned()]);
    crate::cmd::run(&argv.iter().map(String::as_str).collect::<Vec<_>>()).context("p4c-bm2-ss")?;
    let mut argv: Vec<String> = vec!["simple_switch_grpc".into(), "--device-id".into(), "1".into(), "--no-p4".into()];
    for l in links {
        argv.push("-i".into());
        argv.push(format!("{}@{}", switch_entries::port_of(l.host), l.switch_if));
    }
    argv.extend(["--".into(), "--grpc-server-addr".into(), format!("{}:{}", addr::MGMT_SWITCH, addr::P4RUNTIME_PORT)]);
    // PI's gRPC server options for mutual TLS: the same files switch-sim gets.
    argv.extend(["--grpc-server-ssl".into(), "--grpc-server-with-client-auth".into()]);
    argv.extend(tls_flags(&tls.switch, ["--grpc-server-cacert", "--grpc-server-cert", "--grpc-server-key"]));
    let log = dir.join("switch.log");
    let mut child = switch.spawn(&argv.iter().map(String::as_str).collect::<Vec<_>>(), &log)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while switch.wait_listening(addr::P4RUNTIME_PORT, std::time::Duration::from_secs(1)).is_err() {
        if let Some(st) = child.try_wait()? {
            bail!("simple_switch_grpc exited ({st}): {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        if std::time::Instant::now() > deadline {
            bail!("simple_switch_grpc did not listen within 60 s");
        }
    }
    let ctl = crate::find_bin("switchyard-ctl")?;
    let mut push = vec![ctl.to_string_lossy().into_owned()];
    push.extend(ctl_switch_args(Some(tls)));
    let mut apply = push.clone();
    push.extend(["push-pipeline".into(), "--p4info".into(), p4info.to_string_lossy().into_owned(), "--device-config".into(), json.to_string_lossy().into_owned()]);
    apply.extend(["apply-entries".into(), entries.to_string_lossy().into_owned()]);
    frontend.exec(&push.iter().map(String::as_str).collect::<Vec<_>>())?;
    frontend.exec(&apply.iter().map(String::as_str).collect::<Vec<_>>())?;
    Ok(child)
}

/// One veth pair: `s-<host>` in the switch namespace, `eth0` in the host's,
/// deterministic MACs, offloads off, and static neighbours both ways so no
/// ARP is ever needed (switch-sim and DPDK do not answer ARP).
fn wire_link(switch: &Netns, host: &Netns, l: &Link, mode: SwitchMode) -> Result<()> {
    let host_mac = addr::mac_str(addr::mac(l.host, false));
    let sw_mac = addr::mac_str(addr::mac(l.host, true));
    switch.add_veth(&l.switch_if, &sw_mac, host, "eth0", &host_mac)?;
    let host_cidr = format!("{}/24", l.host_ip);
    let gw = l.gw_ip.to_string();
    host.exec(&["ip", "addr", "add", &host_cidr, "dev", "eth0"])?;
    host.exec(&["ip", "neigh", "replace", &gw, "lladdr", &sw_mac, "dev", "eth0", "nud", "permanent"])?;
    // Every other testbed subnet (and the VIP) is reached through the
    // switch; nothing else is routable, so nothing leaves the testbed.
    host.exec(&["ip", "route", "add", "198.18.0.0/15", "via", &gw, "dev", "eth0"])?;
    match mode {
        SwitchMode::Router => {
            let gw_cidr = format!("{gw}/24");
            switch.exec(&["ip", "addr", "add", &gw_cidr, "dev", &l.switch_if])?;
            let hip = l.host_ip.to_string();
            switch.exec(&["ip", "neigh", "replace", &hip, "lladdr", &host_mac, "dev", &l.switch_if, "nud", "permanent"])?;
        }
        // The P4 program routes; the switch's kernel must neither answer
        // nor forward (no addresses, ip_forward stays 0), nor spend time on
        // the frames: without this, every frame the simulator reads also
        // goes up the namespace's IP stack (ip_rcv, a route lookup, a drop
        // as "no route"), about a fifth of the cost of each send into the
        // switch. A tc ingress filter runs after the packet taps (the
        // simulator's and bmv2's sockets already have the frame) and
        // before the IP stack; classic BPF `ret #2` in direct-action mode
        // is TC_ACT_SHOT, so no eBPF object is needed.
        SwitchMode::Sim | SwitchMode::Bmv2 => {
            switch.exec(&["tc", "qdisc", "add", "dev", &l.switch_if, "clsact"])?;
            switch.exec(&["tc", "filter", "add", "dev", &l.switch_if, "ingress", "bpf", "da", "bytecode", "1,6 0 0 2"])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_with_clear_errors() {
        assert_eq!("router".parse::<SwitchMode>().unwrap(), SwitchMode::Router);
        assert_eq!("sim".parse::<SwitchMode>().unwrap(), SwitchMode::Sim);
        assert_eq!("bmv2".parse::<SwitchMode>().unwrap(), SwitchMode::Bmv2);
        assert!("foo".parse::<SwitchMode>().is_err());
    }

    #[test]
    fn switch_env_selects_bmv2_and_names_missing_tools() {
        assert_eq!(effective_mode(SwitchMode::Sim, None).unwrap(), SwitchMode::Sim);
        assert_eq!(effective_mode(SwitchMode::Sim, Some("sim")).unwrap(), SwitchMode::Sim);
        assert_eq!(effective_mode(SwitchMode::Router, Some("bmv2")).unwrap(), SwitchMode::Router);
        assert!(effective_mode(SwitchMode::Sim, Some("tofino")).unwrap_err().to_string().contains("SWITCHYARD_SWITCH=tofino"));
        match effective_mode(SwitchMode::Sim, Some("bmv2")) {
            Ok(m) => assert!(bmv2_available() && m == SwitchMode::Bmv2),
            Err(e) => {
                let e = format!("{e:#}");
                assert!(!bmv2_available());
                assert!(e.contains("missing tools") && e.contains("simple_switch_grpc"), "{e}");
            }
        }
    }

    #[test]
    fn names_carry_prefix_and_tag() {
        assert_eq!(ns_name("t1", "cli"), "sy-t1-cli");
    }
}
