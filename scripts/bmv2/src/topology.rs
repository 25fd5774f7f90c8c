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

use crate::addr;
use crate::netns::Netns;
use crate::nginx::{self, NginxBackend};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchMode {
    /// Kernel IP forwarding in the switch namespace.
    Router,
}

impl std::str::FromStr for SwitchMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "router" => Ok(SwitchMode::Router),
            "sim" | "bmv2" => bail!("switch mode `{s}` is not available yet (the switch simulator and bmv2 drivers are being built; see docs/TESTBED.md)"),
            _ => bail!("unknown switch mode `{s}` (router)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestbedSpec {
    /// Short tag making this testbed's names unique (tests run in parallel).
    pub tag: String,
    pub backends: usize,
    pub mode: SwitchMode,
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
}

fn ns_name(tag: &str, role: &str) -> String {
    format!("{}{tag}-{role}", crate::NS_PREFIX)
}

impl Testbed {
    pub fn up(spec: TestbedSpec) -> Result<Self> {
        crate::require_root()?;
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
        for (ns, l) in &links {
            wire_link(&switch, ns, l, spec.mode).with_context(|| format!("link {} <-> {}", switch.name(), ns.name()))?;
        }
        match spec.mode {
            SwitchMode::Router => {
                switch.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
            }
        }
        let www = nginx::write_bodies(&dir)?;
        let mut backends = Vec::new();
        for (i, ns) in backend_ns.iter().enumerate() {
            let name = format!("b{i}");
            let bdir = dir.join(&name);
            backends.push(NginxBackend::start(ns, &name, addr::backend(i), 80, &bdir, &www)?);
        }
        Ok(Self { spec, backends, client, frontend, switch, backend_ns, dir })
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
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_with_clear_errors() {
        assert_eq!("router".parse::<SwitchMode>().unwrap(), SwitchMode::Router);
        assert!("sim".parse::<SwitchMode>().unwrap_err().to_string().contains("not available yet"));
        assert!("foo".parse::<SwitchMode>().is_err());
    }

    #[test]
    fn names_carry_prefix_and_tag() {
        assert_eq!(ns_name("t1", "cli"), "sy-t1-cli");
    }
}
