//! A private network namespace `sy-<tag>-<pid>` with veth pairs, removed
//! on drop (also when the test fails), for root tests of the ports. IPv6
//! is off inside it, so the interfaces send nothing of their own (router
//! solicitations, MLD) and every frame a port counts is the test's.

use std::os::fd::AsRawFd;
use std::process::Command;

pub struct Netns {
    pub name: String,
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip(8) runs");
    assert!(st.success(), "ip {args:?} failed");
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        let name = format!("sy-{tag}-{}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        for key in ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] {
            let st = Command::new("ip").args(["netns", "exec", &ns.name, "sysctl", "-qw", key]).status().expect("sysctl runs");
            assert!(st.success(), "sysctl {key}");
        }
        ns
    }

    /// A veth pair `a`-`b`, both up, with `mtu` on both if given.
    pub fn veth(&self, a: &str, b: &str, mtu: Option<u32>) {
        ip(&["-n", &self.name, "link", "add", a, "type", "veth", "peer", "name", b]);
        for x in [a, b] {
            if let Some(m) = mtu {
                ip(&["-n", &self.name, "link", "set", x, "mtu", &m.to_string()]);
            }
            ip(&["-n", &self.name, "link", "set", x, "up"]);
        }
    }

    /// Sets the MTU of one interface.
    pub fn mtu(&self, iface: &str, mtu: u32) {
        ip(&["-n", &self.name, "link", "set", iface, "mtu", &mtu.to_string()]);
    }

    /// Moves the calling thread (and the threads it spawns afterwards)
    /// into the namespace.
    pub fn enter(&self) {
        let f = std::fs::File::open(format!("/var/run/netns/{}", self.name)).unwrap();
        // SAFETY: setns on a valid namespace fd affects only this thread.
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
