//! The table entries that make the testbed's topology work in a P4 switch
//! mode: routes to every host subnet, which port faces the front-end, the
//! front-end selection, and (optionally) the services. Written in
//! switch-sim's `--entries` JSON (docs/SWITCH-SIM.md), whose table and
//! field names are the P4Runtime names of p4/switchyard.p4 (docs/P4.md).

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use crate::addr;

/// P4 port numbers: host number as in `addr::mac` (client 1, front-end 2,
/// backend i 10+i). Port 0 is avoided: some targets reserve it.
pub fn port_of(host: u8) -> u16 {
    match host {
        0 => 1,
        1 => 2,
        h => u16::from(h),
    }
}

/// A virtual service the switch answers SYNs for.
#[derive(Debug, Clone)]
pub struct ServiceEntries {
    pub vip: Ipv4Addr,
    pub port: u16,
    pub vip_id: u16,
    /// (backend index, address, port) in the front-end config's order.
    pub backends: Vec<(u16, Ipv4Addr, u16)>,
}

/// The cookie secrets the switch signs with (current) and carries
/// (previous), as the front-end's config lists them.
#[derive(Debug, Clone, Copy)]
pub struct SecretEntries {
    pub cur: (u32, u32),
    pub cur_gen: u8,
    pub prev: (u32, u32),
}

/// What the switch's client-facing ports may not send (the edge guards of
/// p4/include/tables.p4): backend ports are marked (port_role 2) so only
/// they may source the backend networks.
#[derive(Debug, Clone, Default)]
pub struct EdgeGuards {
    pub backend_ports: Vec<u16>,
    /// Networks only backend and front-end ports may source.
    pub protected_sources: Vec<(Ipv4Addr, u8)>,
    /// Backend address:port pairs a client-facing port may not reach
    /// directly (only the switch's VIP rewrite may).
    pub backend_services: Vec<(Ipv4Addr, u16)>,
}

/// port_role's roles (p4/include/constants.p4).
pub const PORT_ROLE_FRONTEND: u8 = 1;
pub const PORT_ROLE_BACKEND: u8 = 2;

pub struct Route {
    pub net: Ipv4Addr,
    pub len: u8,
    pub port: u16,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
}

fn mac(m: [u8; 6]) -> String {
    addr::mac_str(m)
}

/// The JSON entries file.
pub fn entries_json(routes: &[Route], frontend_host: u8, guards: &EdgeGuards, services: &[ServiceEntries], secrets: Option<SecretEntries>) -> String {
    let mut e: Vec<Value> = Vec::new();
    for r in routes {
        e.push(json!({"table": "ipv4_route", "match": {"dst_addr": format!("{}/{}", r.net, r.len)}, "action": "route",
                      "params": {"port": r.port, "src_mac": mac(r.src_mac), "dst_mac": mac(r.dst_mac)}}));
    }
    let fe_port = port_of(frontend_host);
    e.push(json!({"table": "port_role", "match": {"port": fe_port}, "action": "set_port_role", "params": {"role": PORT_ROLE_FRONTEND}}));
    for p in &guards.backend_ports {
        e.push(json!({"table": "port_role", "match": {"port": p}, "action": "set_port_role", "params": {"role": PORT_ROLE_BACKEND}}));
    }
    for (net, len) in &guards.protected_sources {
        e.push(json!({"table": "protected_source", "match": {"src_addr": format!("{net}/{len}")}, "action": "drop_spoofed_source", "params": {}}));
    }
    for (a, p) in &guards.backend_services {
        e.push(json!({"table": "backend_service", "match": {"backend_addr": a.to_string(), "backend_port": p},
                      "action": "drop_direct_to_backend", "params": {}}));
    }
    e.push(json!({"table": "frontend_count", "default": true, "action": "set_frontend_count", "params": {"count": 1}}));
    e.push(json!({"table": "frontend_port", "match": {"index": 0}, "action": "to_frontend",
                  "params": {"port": fe_port, "dst_mac": mac(addr::mac(frontend_host, false))}}));
    for s in services {
        e.push(json!({"table": "vip", "match": {"vip_addr": s.vip.to_string(), "vip_port": s.port}, "action": "set_vip",
                      "params": {"vip_id": s.vip_id}}));
        for (i, a, p) in &s.backends {
            e.push(json!({"table": "backend", "match": {"backend_index": i}, "action": "rewrite_to_backend",
                          "params": {"addr": a.to_string(), "port": p}}));
            e.push(json!({"table": "backend_address", "match": {"backend_addr": a.to_string(), "backend_port": p},
                          "action": "set_backend_origin",
                          "params": {"vip_id": s.vip_id, "backend_index": i, "vip_addr": s.vip.to_string(), "vip_port": s.port}}));
        }
    }
    if let Some(k) = secrets {
        e.push(json!({"table": "cookie_secrets", "default": true, "action": "set_cookie_secrets",
                      "params": {"cur_k0": k.cur.0, "cur_k1": k.cur.1, "cur_gen": k.cur_gen, "prev_k0": k.prev.0, "prev_k1": k.prev.1}}));
    }
    serde_json::to_string_pretty(&json!({ "entries": e })).expect("entries serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_json_with_every_table() {
        let routes = [Route { net: Ipv4Addr::new(198, 18, 0, 0), len: 24, port: 1, src_mac: [2, 0, 0, 0, 0, 1], dst_mac: [2, 0, 0, 0, 0, 2] }];
        let svc = ServiceEntries { vip: addr::VIP, port: 80, vip_id: 1, backends: vec![(0, addr::backend(0), 80)] };
        let guards = EdgeGuards {
            backend_ports: vec![10],
            protected_sources: vec![(Ipv4Addr::new(198, 18, 10, 0), 24)],
            backend_services: vec![(addr::backend(0), 80)],
        };
        let j = entries_json(&routes, 1, &guards, &[svc], Some(SecretEntries { cur: (1, 2), cur_gen: 1, prev: (3, 4) }));
        for t in ["ipv4_route", "port_role", "frontend_count", "frontend_port", "protected_source", "backend_service", "\"vip\"", "\"backend\"", "backend_address", "cookie_secrets"] {
            assert!(j.contains(t), "{t} missing in {j}");
        }
        let v: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["entries"][0]["match"]["dst_addr"], "198.18.0.0/24");
        assert_eq!(v["entries"].as_array().unwrap().len(), 1 + 3 + 3 + 3 + 1);
        assert_eq!(v["entries"][2]["params"]["role"], 2, "the backend port's role");
        assert_eq!(v["entries"][3]["match"]["src_addr"], "198.18.10.0/24");
    }
}
