//! Who may use the admin API: by default only clients on a loopback
//! address (the host itself), since it can drain backends and rotate
//! secrets and has no authentication of its own. `allow_remote = true`
//! serves everyone (put it behind a firewall or a proxy that
//! authenticates).

use std::net::IpAddr;

/// True when a client at `peer` is served.
pub fn allowed(peer: IpAddr, allow_remote: bool) -> bool {
    allow_remote || is_loopback(peer)
}

/// 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack listener
/// sees 127.0.0.1 as ::ffff:127.0.0.1).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        for ok in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(allowed(ok.parse().unwrap(), false), "{ok}");
        }
        for no in ["198.18.0.2", "0.0.0.0", "::ffff:198.18.0.2", "fe80::1", "10.0.0.1"] {
            assert!(!allowed(no.parse().unwrap(), false), "{no}");
            assert!(allowed(no.parse().unwrap(), true), "{no} with allow_remote");
        }
    }
}
