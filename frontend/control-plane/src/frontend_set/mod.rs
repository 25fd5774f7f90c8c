//! The switch's set of live front-ends (`switchyard-frontends`): probe
//! every front-end's `/healthz`, and keep the switch's `frontend_count`
//! and `frontend_port` tables to the live ones, so new connections go only
//! to front-ends that can finish them, and none at all (the switch answers
//! SYNs with a RST) when no front-end is live. docs/OPERATIONS.md,
//! "Front-end liveness".
//!
//! `slots` (who owns each `frontend_port` slot) and `liveness` (probe
//! counting) are sans I/O; `plan` turns them into table writes; `watch`
//! is the tokio driver.

pub mod liveness;
pub mod plan;
pub mod slots;
pub mod watch;

use std::net::SocketAddrV4;
use std::str::FromStr;

/// One front-end as the switch sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendSpec {
    pub name: String,
    /// The switch port that leads to it.
    pub port: u16,
    /// Its MAC on that port (the switch rewrites the destination to it).
    pub mac: [u8; 6],
    /// Its admin API (`[admin] listen`), where `/healthz` is probed.
    pub admin: SocketAddrV4,
}

impl FromStr for FrontendSpec {
    type Err = String;

    /// `NAME=PORT,MAC,ADMIN_ADDR:PORT`, e.g.
    /// `fe0=2,02:53:59:00:00:10,198.18.254.2:9180`.
    fn from_str(s: &str) -> Result<Self, String> {
        let want = "want NAME=PORT,MAC,ADMIN_ADDR:PORT (e.g. fe0=2,02:53:59:00:00:10,198.18.254.2:9180)";
        let (name, rest) = s.split_once('=').ok_or_else(|| format!("`{s}`: {want}"))?;
        let parts: Vec<&str> = rest.split(',').collect();
        let [port, mac, admin] = parts.as_slice() else { return Err(format!("`{s}`: {want}")) };
        if name.is_empty() {
            return Err(format!("`{s}`: the name is empty; {want}"));
        }
        let port: u16 = port.parse().map_err(|_| format!("`{s}`: switch port `{port}` is not a number"))?;
        let mac = parse_mac(mac).ok_or_else(|| format!("`{s}`: `{mac}` is not a MAC address (aa:bb:cc:dd:ee:ff)"))?;
        let admin = admin.parse().map_err(|_| format!("`{s}`: `{admin}` is not an IPv4 ADDR:PORT"))?;
        Ok(FrontendSpec { name: name.into(), port, mac, admin })
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Checks a list: names and (port, MAC) pairs unique (a slot's owner is
/// recognised by its port and MAC when the watcher reads the table back).
pub fn check_specs(specs: &[FrontendSpec]) -> Result<(), String> {
    if specs.is_empty() {
        return Err("no --frontend given: the watcher needs at least one front-end".into());
    }
    for (i, a) in specs.iter().enumerate() {
        for b in &specs[..i] {
            if a.name == b.name {
                return Err(format!("front-end `{}` is given twice", a.name));
            }
            if (a.port, a.mac) == (b.port, b.mac) {
                return Err(format!("front-ends `{}` and `{}` have the same switch port and MAC", b.name, a.name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_why() {
        let f: FrontendSpec = "fe0=2,02:53:59:00:00:10,198.18.254.2:9180".parse().unwrap();
        assert_eq!((f.name.as_str(), f.port, f.mac, f.admin.to_string()), ("fe0", 2, [2, 0x53, 0x59, 0, 0, 0x10], "198.18.254.2:9180".into()));
        for (bad, says) in [
            ("fe0", "want NAME=PORT"),
            ("=2,02:53:59:00:00:10,1.2.3.4:5", "name is empty"),
            ("fe0=x,02:53:59:00:00:10,1.2.3.4:5", "switch port `x`"),
            ("fe0=2,02:53:59:00:10,1.2.3.4:5", "not a MAC"),
            ("fe0=2,02:53:59:00:00:10,1.2.3.4", "not an IPv4 ADDR:PORT"),
            ("fe0=2,02:53:59:00:00:10", "want NAME=PORT"),
        ] {
            let e = bad.parse::<FrontendSpec>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let g: FrontendSpec = "fe1=3,02:53:59:00:00:11,198.18.254.3:9180".parse().unwrap();
        assert!(check_specs(&[f.clone(), g.clone()]).is_ok());
        assert!(check_specs(&[]).unwrap_err().contains("no --frontend"));
        assert!(check_specs(&[f.clone(), FrontendSpec { admin: g.admin, ..f.clone() }]).unwrap_err().contains("twice"));
        assert!(check_specs(&[f.clone(), FrontendSpec { name: "x".into(), ..f }]).unwrap_err().contains("same switch port"));
    }
}
