//! A network namespace owned by the testbed: created on `create`, and on
//! drop every process inside it is killed and the namespace deleted (which
//! also deletes the veth ends inside it).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd;

#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn create(name: &str) -> Result<Self> {
        if !name.starts_with(crate::NS_PREFIX) {
            bail!("namespace {name} lacks the project prefix {}", crate::NS_PREFIX);
        }
        if exists(name) {
            bail!("namespace {name} already exists: a previous run left it; `switchyard-testbed down` removes it");
        }
        cmd::run(&["ip", "netns", "add", name])?;
        let ns = Self { name: name.to_string() };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn argv<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["ip", "netns", "exec", self.name.as_str()];
        v.extend_from_slice(args);
        v
    }

    /// Runs a command inside the namespace, returning stdout.
    pub fn exec(&self, args: &[&str]) -> Result<String> {
        cmd::run(&self.argv(args))
    }

    /// Runs a command inside the namespace, returning the raw output.
    pub fn output(&self, args: &[&str]) -> Result<std::process::Output> {
        cmd::output(&self.argv(args))
    }

    /// A static neighbour entry (`ip neigh replace ... nud permanent`): the
    /// testbed's hosts never ARP (switch-sim and DPDK answer no ARP).
    pub fn pin_neighbour(&self, ip: &str, mac: &str, dev: &str) -> Result<()> {
        self.exec(&["ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"]).map(|_| ())
    }

    /// Starts a long-running process inside the namespace with stdout and
    /// stderr appended to `log`. It is killed when the namespace is dropped.
    pub fn spawn(&self, args: &[&str], log: &Path) -> Result<Child> {
        spawn_logged(&self.argv(args), log)
    }

    /// Like `spawn`, but entered with `nsenter --net` instead of `ip netns
    /// exec`: the latter remounts /sys, giving the process a private bpffs,
    /// so BPF objects it pins would be invisible outside.
    pub fn spawn_nsenter(&self, args: &[&str], log: &Path) -> Result<Child> {
        let net = format!("--net=/run/netns/{}", self.name);
        let mut argv = vec!["nsenter", net.as_str()];
        argv.extend_from_slice(args);
        spawn_logged(&argv, log)
    }

    /// A veth pair, `name` here and `peer_name` in `peer`, with the given
    /// MACs, offloads off on both ends (see `no_offloads`), both up.
    pub fn add_veth(&self, name: &str, mac: &str, peer: &Netns, peer_name: &str, peer_mac: &str) -> Result<()> {
        self.exec(&["ip", "link", "add", name, "address", mac, "type", "veth", "peer", "name", peer_name, "address", peer_mac, "netns", peer.name()])?;
        for (ns, ifname) in [(self, name), (peer, peer_name)] {
            no_offloads(ns, ifname)?;
            ns.exec(&["ip", "link", "set", "dev", ifname, "up"])?;
        }
        Ok(())
    }

    /// (rx, tx) packets of an interface in this namespace, from the kernel's
    /// link statistics.
    pub fn link_packets(&self, ifname: &str) -> Result<(u64, u64)> {
        let out = self.exec(&["ip", "-s", "-j", "link", "show", "dev", ifname])?;
        let v: serde_json::Value = serde_json::from_str(&out).with_context(|| format!("ip -s -j link: {out}"))?;
        let s = &v[0]["stats64"];
        match (s["rx"]["packets"].as_u64(), s["tx"]["packets"].as_u64()) {
            (Some(rx), Some(tx)) => Ok((rx, tx)),
            _ => bail!("no packet counters for {ifname} in {}", self.name),
        }
    }

    /// Waits until something listens on TCP `port` inside the namespace.
    pub fn wait_listening(&self, port: u16, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let filter = format!("sport = :{port}");
        while Instant::now() < deadline {
            let out = self.exec(&["ss", "-Hltn", &filter])?;
            if !out.trim().is_empty() {
                return Ok(());
            }
            sleep(Duration::from_millis(50));
        }
        bail!("nothing listens on port {port} in {} after {timeout:?}", self.name)
    }
}

/// Turns off checksum and segmentation offloads: kernel-sent TCP over veth
/// otherwise carries partial checksums and 64 KB super-frames that a packet
/// forwarder (switch-sim, DPDK) cannot pass on. Router mode uses the same
/// settings so comparisons are fair.
fn no_offloads(ns: &Netns, ifname: &str) -> Result<()> {
    ns.exec(&["ethtool", "-K", ifname, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]).map(|_| ())
}

fn spawn_logged(argv: &[&str], log: &Path) -> Result<Child> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open log {}", log.display()))?;
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .spawn()
        .with_context(|| format!("start `{}`", argv.join(" ")))
}

impl Drop for Netns {
    fn drop(&mut self) {
        remove(&self.name);
    }
}

pub fn exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Kills every process in the namespace (TERM, then KILL after a grace
/// period) and deletes it. Best effort: used from Drop and from `down`.
pub fn remove(name: &str) {
    for sig in ["-TERM", "-KILL"] {
        let pids = cmd::run(&["ip", "netns", "pids", name]).unwrap_or_default();
        let pids: Vec<&str> = pids.split_whitespace().collect();
        if pids.is_empty() {
            break;
        }
        let mut argv = vec!["kill", sig];
        argv.extend(pids.iter());
        let _ = cmd::output(&argv);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline
            && !cmd::run(&["ip", "netns", "pids", name]).unwrap_or_default().trim().is_empty()
        {
            sleep(Duration::from_millis(50));
        }
    }
    let _ = cmd::output(&["ip", "netns", "del", name]);
}

/// The project's namespaces now present (those named with `prefix`).
pub fn list(prefix: &str) -> Vec<String> {
    let out = cmd::run(&["ip", "netns", "list"]).unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Removes every namespace named with `prefix`, with its processes.
pub fn remove_all(prefix: &str) -> Vec<String> {
    let names = list(prefix);
    for n in &names {
        remove(n);
    }
    names
}

/// True when no namespace named with `prefix` is left.
pub fn none_left(prefix: &str) -> bool {
    list(prefix).is_empty()
}

/// Ctrl-C / SIGTERM: remove the namespaces of testbed `tag`, then exit.
/// A `Testbed`'s own Drop does the same on a normal exit or an error. The
/// flag is set by the first signal (a second one during cleanup is ignored).
pub fn cleanup_on_signal(tag: &str) -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let prefix = format!("{}{tag}-", crate::NS_PREFIX);
    ctrlc::set_handler(move || {
        if s.swap(true, Ordering::SeqCst) {
            return;
        }
        eprintln!("\ninterrupted: removing {prefix}* ...");
        remove_all(&prefix);
        std::process::exit(130);
    })?;
    Ok(stop)
}
