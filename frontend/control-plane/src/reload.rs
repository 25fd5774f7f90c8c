//! Hot reload's plan (plain functions): from the running config and the
//! file read again, the config to apply, what it changes, and what it
//! does not apply.
//!
//! Applied: services (routes, offload modes; new services at the end),
//! pools (members, weights, policies) and backends (new ones, agent
//! addresses). Numbers stay: the engine's flows and the switch's entries
//! name backends by index and services by VIP id, so a kept backend keeps
//! its index wherever it now appears in the file, a new one is numbered
//! after the last, and one no pool names any more stays numbered (its
//! flows finish; its switch entries stay). A service is its VIP:port: one
//! the file no longer names drains (`ServiceState`: its VIP refuses new
//! connections, its flows finish, then its entry is deleted), one it names
//! again is restored with its old VIP id, and one moved to another VIP:port
//! is a removal plus an addition. Not applied
//! (kept as running, listed in the answer): `[frontend]`, `[switch]`,
//! `[cookie]`, `[dpdk]`, `[timeouts]`, `[admin]`, `[access_log]`: a restart
//! applies them.

use switchyard_frontend::config::{BackendMove, Config, Service, ServiceState};
use switchyard_wire::flow::{BackendIndex, VipId};

/// A reload that can be applied.
#[derive(Debug)]
pub struct Plan {
    /// The running config with the new services, pools and backends.
    pub config: Config,
    /// What changes, one line each (empty: nothing to do).
    pub applied: Vec<String>,
    /// Sections the file changed that a reload does not apply.
    pub not_applied: Vec<String>,
    /// Backends a service reached before and none reaches now: their
    /// `backend_address` entry (which maps their packets back to the VIP)
    /// is deleted once their last flow is gone (`admin::reloader`).
    pub retired: Vec<BackendIndex>,
    /// Services removed by this reload (VIP ids): their `vip` entry refuses
    /// new connections now and is deleted once their last flow is gone.
    pub draining: Vec<VipId>,
    /// Backends this reload starts moving to another service
    /// (`Config::moving`): they take new flows once their old service's
    /// flows are gone (`admin::reloader`).
    pub moves: Vec<BackendIndex>,
}

fn debug<T: std::fmt::Debug>(t: &T) -> String {
    format!("{t:?}")
}

/// Plans applying `new` (parsed from `file`) over `running`.
/// `last_file` is the config as last read from the file (before the
/// rotated secrets replaced its `[cookie] secrets`), to tell which of the
/// sections a reload does not apply the file changed.
pub fn plan(running: &Config, last_file: &Config, new: &Config, file: &str) -> Result<Plan, String> {
    // Backends: the running numbering first, then the new ones.
    let mut backends = running.backends.clone();
    let mut index_of_new: Vec<BackendIndex> = Vec::with_capacity(new.backends.len());
    for b in &new.backends {
        let at = match backends.iter().position(|r| (r.address, r.port) == (b.address, b.port)) {
            Some(i) => {
                backends[i] = *b;
                i
            }
            None => {
                backends.push(*b);
                backends.len() - 1
            }
        };
        let at = BackendIndex::try_from(at).map_err(|_| format!("{file}: reload refused: more than 65536 backends over the running ones"))?;
        index_of_new.push(at);
    }
    let mut pools = new.pools.clone();
    for p in &mut pools {
        for m in &mut p.members {
            m.0 = index_of_new[usize::from(m.0)];
        }
    }

    let mut applied = Vec::new();
    // Services: a service is its VIP:port, which keeps its VIP id (the
    // switch's entries and the engine's flows name it). One the file no
    // longer has drains; one it names again is restored in place.
    let mut services = running.services.clone();
    for s in &new.services {
        match services.iter_mut().find(|r| (r.vip, r.port) == (s.vip, s.port)) {
            Some(r) => {
                let line = if r.state != ServiceState::Active {
                    Some(format!("service `{}` restored ({}:{})", s.name, s.vip, s.port))
                } else if r.name != s.name {
                    Some(format!("service `{}` renamed `{}`", r.name, s.name))
                // Pool indices may shift with the pools: compare by names.
                } else if route_view(r, running) != route_view(s, new) {
                    Some(format!("service `{}`: routes changed", s.name))
                } else {
                    None
                };
                applied.extend(line);
                *r = Service { id: r.id, state: ServiceState::Active, ..s.clone() };
            }
            None => {
                let id = VipId::try_from(services.len()).map_err(|_| format!("{file}: reload refused: more than 65536 services over the running ones"))?;
                applied.push(format!("service `{}` added ({}:{})", s.name, s.vip, s.port));
                services.push(Service { id, ..s.clone() });
            }
        }
    }
    let mut draining = Vec::new();
    for r in &mut services {
        if r.state == ServiceState::Active && !new.services.iter().any(|s| (s.vip, s.port) == (r.vip, r.port)) {
            applied.push(format!(
                "service `{}` ({}:{}) removed: its VIP refuses new connections, its flows finish, then its switch entry is deleted",
                r.name, r.vip, r.port
            ));
            r.state = ServiceState::Draining;
            r.routes.clear();
            draining.push(r.id);
        }
    }
    let pool_view = |p: &switchyard_frontend::config::PoolSpec, bs: &[switchyard_frontend::config::BackendSpec]| {
        let members: Vec<String> = p.members.iter().map(|(b, w)| format!("{:?}*{w}", bs[usize::from(*b)])).collect();
        format!("{:?} {members:?} {:?}", p.policy, p.health)
    };
    for p in &pools {
        match running.pools.iter().find(|o| o.name == p.name) {
            None => applied.push(format!("pool `{}` added", p.name)),
            Some(o) if pool_view(o, &running.backends) != pool_view(p, &backends) => applied.push(format!("pool `{}` changed", p.name)),
            Some(_) => {}
        }
    }
    for o in &running.pools {
        if !pools.iter().any(|p| p.name == o.name) {
            applied.push(format!("pool `{}` removed", o.name));
        }
    }
    for b in &backends[running.backends.len()..] {
        applied.push(format!("backend {}:{} added", b.address, b.port));
    }
    for (i, b) in running.backends.iter().enumerate() {
        let named = pools.iter().any(|p| p.members.iter().any(|(m, _)| usize::from(*m) == i));
        let was = running.pools.iter().any(|p| p.members.iter().any(|(m, _)| usize::from(*m) == i));
        if was && !named {
            applied.push(format!("backend {}:{} in no pool now: no new flows; its flows finish, its switch entries stay", b.address, b.port));
        }
    }

    let mut not_applied = Vec::new();
    let sections: [(&str, String, String); 7] = [
        ("[frontend]", debug(&last_file.frontend), debug(&new.frontend)),
        ("[switch]", debug(&last_file.switch), debug(&new.switch)),
        ("[cookie]", debug(&last_file.cookie), debug(&new.cookie)),
        ("[dpdk]", debug(&last_file.dpdk), debug(&new.dpdk)),
        ("[timeouts]", debug(&last_file.timeouts), debug(&new.timeouts)),
        ("[admin]", debug(&last_file.admin), debug(&new.admin)),
        ("[access_log]", debug(&last_file.access_log), debug(&new.access_log)),
    ];
    for (name, was, now) in sections {
        if was != now {
            not_applied.push(format!("{name} changed: not applied by a reload (restart to apply it)"));
        }
    }

    let mut config = Config { services, pools, backends, moving: Vec::new(), ..running.clone() };
    let (before, after) = (crate::services::vip_of_backends(running), crate::services::vip_of_backends(&config));
    let retired: Vec<BackendIndex> =
        (0..running.backends.len()).filter(|&i| !before[i].is_empty() && after[i].is_empty()).map(|i| i as BackendIndex).collect();
    // A backend whose entry maps it back to a service that no longer
    // reaches it, but another does: rewriting the entry now would send
    // the old service's offloaded flows' packets to the new VIP.
    let mut moves = Vec::new();
    for i in 0..running.backends.len() {
        let b = i as BackendIndex;
        let Some(from) = crate::services::return_vip(running, &before, b) else { continue };
        if after[i].is_empty() || after[i].contains(&from) {
            continue; // retired (above), or still reached by it
        }
        let m = BackendMove { backend: b, from };
        if !running.moving.contains(&m) {
            let (spec, old, new) = (config.backends[i], &config.services[usize::from(from)], &config.services[usize::from(after[i][0])]);
            applied.push(format!(
                "backend {}:{} moves from service `{}` to `{}`: no new flows until its flows of `{}` end, then the switch maps it to `{}`",
                spec.address, spec.port, old.name, new.name, old.name, new.name
            ));
            moves.push(b);
        }
        config.moving.push(m);
    }
    Ok(Plan { config, applied, not_applied, retired, draining, moves })
}

/// A service's routes with pools named, for comparing across reloads.
fn route_view(s: &switchyard_frontend::config::Service, cfg: &Config) -> String {
    let routes: Vec<String> = s
        .routes
        .iter()
        .map(|r| format!("{:?} {:?} {:?} {:?} {} {:?}", r.host, r.path, r.method, r.headers, cfg.pools[r.pool].name, r.offload))
        .collect();
    format!("{:?} {routes:?}", s.offload)
}

#[cfg(test)]
mod tests {
    use switchyard_frontend::config;

    use super::*;

    const BASE: &str = r#"
[frontend]
mac = "02:53:59:00:00:10"
switch_mac = "02:53:59:01:00:10"
[switch]
p4runtime = "127.0.0.1:9559"
[cookie]
secrets = [{ k0 = 1, k1 = 2 }]
rotation_secs = 60
[[services]]
name = "web"
vip = "198.18.100.1"
port = 80
[[services.routes]]
path_prefix = "/api/"
pool = "api"
[[services.routes]]
pool = "web"
[[pools]]
name = "web"
backends = [{ address = "198.18.10.2", port = 80 }, { address = "198.18.11.2", port = 80 }]
[[pools]]
name = "api"
backends = [{ address = "198.18.12.2", port = 80 }]
"#;

    fn parse(src: &str) -> Config {
        config::parse(src, "t.toml").unwrap()
    }

    fn plan_of(new_src: &str) -> Result<Plan, String> {
        let old = parse(BASE);
        plan(&old, &old, &parse(new_src), "t.toml")
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let p = plan_of(BASE).unwrap();
        assert!(p.applied.is_empty() && p.not_applied.is_empty(), "{p:?}");
    }

    /// The file lists 12.2 first now and adds 13.2: kept backends keep
    /// their numbers, the new one comes after them.
    #[test]
    fn backends_keep_their_numbers() {
        let src = BASE.replace(
            "[[pools]]\nname = \"web\"\nbackends = [{ address = \"198.18.10.2\", port = 80 }, { address = \"198.18.11.2\", port = 80 }]\n[[pools]]\nname = \"api\"\nbackends = [{ address = \"198.18.12.2\", port = 80 }]",
            "[[pools]]\nname = \"api\"\nbackends = [{ address = \"198.18.12.2\", port = 80 }, { address = \"198.18.13.2\", port = 80 }]\n[[pools]]\nname = \"web\"\nbackends = [{ address = \"198.18.11.2\", port = 80, weight = 3 }]",
        );
        let new = parse(&src);
        assert_eq!(new.backends[0].address.octets()[2], 12, "the file's own numbering differs");
        let p = plan_of(&src).unwrap();
        let addrs: Vec<u8> = p.config.backends.iter().map(|b| b.address.octets()[2]).collect();
        assert_eq!(addrs, vec![10, 11, 12, 13]);
        let api = p.config.pools.iter().find(|x| x.name == "api").unwrap();
        assert_eq!(api.members, vec![(2, 1), (3, 1)]);
        let web = p.config.pools.iter().find(|x| x.name == "web").unwrap();
        assert_eq!(web.members, vec![(1, 3)]);
        for want in ["pool `web` changed", "pool `api` changed", "backend 198.18.13.2:80 added", "backend 198.18.10.2:80 in no pool now"] {
            assert!(p.applied.iter().any(|a| a.starts_with(want)), "{want}: {:?}", p.applied);
        }
        assert_eq!(p.retired, vec![0], "10.2 is reached by no service now");
        // Pools swapped places, routes name the same pools: unchanged.
        assert!(!p.applied.iter().any(|a| a.contains("routes changed")), "{:?}", p.applied);
    }

    #[test]
    fn routes_and_new_services_apply() {
        let src = BASE.replace("path_prefix = \"/api/\"", "path_prefix = \"/v2/\"")
            + "[[services]]\nname = \"gw\"\nvip = \"198.18.100.2\"\nport = 8080\n[[services.routes]]\npool = \"api\"\n";
        let p = plan_of(&src).unwrap();
        assert_eq!(p.applied, vec!["service `web`: routes changed".to_string(), "service `gw` added (198.18.100.2:8080)".to_string()]);
        assert_eq!(p.config.services[1].id, 1);
        assert!(p.retired.is_empty());
    }

    #[test]
    fn other_sections_are_kept_and_listed() {
        let src = BASE.replace("rotation_secs = 60", "rotation_secs = 30").replace("switch_mac = \"02:53:59:01:00:10\"", "switch_mac = \"02:53:59:01:00:11\"");
        let p = plan_of(&src).unwrap();
        assert!(p.applied.is_empty());
        assert_eq!(p.not_applied.len(), 2, "{:?}", p.not_applied);
        assert!(p.not_applied[0].starts_with("[frontend] changed"));
        assert_eq!(p.config.cookie.rotation.as_secs(), 60, "the running value stays");
        let logged = plan_of(&format!("{BASE}\n[access_log]\npath = \"-\"\n")).unwrap();
        assert_eq!(logged.not_applied, ["[access_log] changed: not applied by a reload (restart to apply it)"]);
        assert_eq!(logged.config.access_log, None, "the running value stays");
    }

    const GW: &str = "[[services]]\nname = \"gw\"\nvip = \"198.18.100.2\"\nport = 8080\n[[services.routes]]\npool = \"api\"\n";

    #[test]
    fn a_removed_service_drains_and_a_returning_one_keeps_its_id() {
        let old = parse(&format!("{BASE}{GW}"));
        // `web` leaves the file: it drains at id 0, `gw` keeps id 1.
        let gone = BASE.split("[[services]]").next().unwrap().to_string()
            + GW
            + "[[pools]]\nname = \"web\"\nbackends = [{ address = \"198.18.10.2\", port = 80 }]\n[[pools]]\nname = \"api\"\nbackends = [{ address = \"198.18.12.2\", port = 80 }]\n";
        let p = plan(&old, &old, &parse(&gone), "t.toml").unwrap();
        assert_eq!(p.draining, vec![0]);
        let web = &p.config.services[0];
        assert_eq!((web.id, web.state, web.routes.len()), (0, ServiceState::Draining, 0));
        assert_eq!((p.config.services[1].name.as_str(), p.config.services[1].id), ("gw", 1));
        assert!(p.applied.iter().any(|a| a.starts_with("service `web` (198.18.100.1:80) removed")), "{:?}", p.applied);
        // 10.2 and 11.2 were reached only through `web`; 12.2 still is
        // through `gw`.
        assert_eq!(p.retired, vec![0, 1]);
        // Back in the file: restored at id 0, nothing drains.
        let back = plan(&p.config, &parse(&gone), &old, "t.toml").unwrap();
        assert_eq!((back.config.services[0].id, back.config.services[0].state), (0, ServiceState::Active));
        assert_eq!(back.config.services.len(), 2);
        assert!(back.draining.is_empty());
        assert!(back.applied.iter().any(|a| a == "service `web` restored (198.18.100.1:80)"), "{:?}", back.applied);
    }

    /// 10.2 leaves pool `web` (service `web`) for pool `api` (service
    /// `gw`): its entry keeps naming `web` until its flows of `web` end.
    #[test]
    fn a_backend_given_to_another_service_moves_once_its_flows_end() {
        let old = parse(&format!("{BASE}{GW}"));
        let web_pool = "backends = [{ address = \"198.18.10.2\", port = 80 }, { address = \"198.18.11.2\", port = 80 }]";
        let api_pool = "backends = [{ address = \"198.18.12.2\", port = 80 }]";
        let src = format!("{BASE}{GW}")
            .replace(web_pool, "backends = [{ address = \"198.18.11.2\", port = 80 }]")
            .replace(api_pool, "backends = [{ address = \"198.18.12.2\", port = 80 }, { address = \"198.18.10.2\", port = 80 }]");
        // web's /api/ route names pool api too: 10.2 stays in web's reach,
        // its entry keeps naming web, nothing moves.
        let p = plan(&old, &old, &parse(&src), "t.toml").unwrap();
        assert!(p.moves.is_empty() && p.config.moving.is_empty() && p.retired.is_empty(), "{p:?}");
        let vips = crate::services::vip_of_backends(&p.config);
        assert_eq!((vips[0].as_slice(), crate::services::return_vip(&p.config, &vips, 0)), (&[0u16, 1][..], Some(0)));
        // Without that route it leaves web for gw.
        let only_gw = src.replace("[[services.routes]]\npath_prefix = \"/api/\"\npool = \"api\"\n", "");
        let old = parse(&format!("{BASE}{GW}").replace("[[services.routes]]\npath_prefix = \"/api/\"\npool = \"api\"\n", ""));
        let p = plan(&old, &old, &parse(&only_gw), "t.toml").unwrap();
        assert_eq!((p.moves.as_slice(), p.config.moving.as_slice()), (&[0][..], &[BackendMove { backend: 0, from: 0 }][..]));
        assert!(p.retired.is_empty());
        assert!(p.applied.iter().any(|a| a.starts_with("backend 198.18.10.2:80 moves from service `web` to `gw`")), "{:?}", p.applied);
        let vips = crate::services::vip_of_backends(&p.config);
        assert_eq!((vips[0].as_slice(), crate::services::return_vip(&p.config, &vips, 0)), (&[1u16][..], Some(0)));
        // The same file again: the move goes on, not started twice.
        let again = plan(&p.config, &parse(&only_gw), &parse(&only_gw), "t.toml").unwrap();
        assert!(again.moves.is_empty() && again.applied.is_empty(), "{:?}", again.applied);
        assert_eq!(again.config.moving, p.config.moving);
        // Given back to web before its flows ended: no move any more.
        let back = plan(&p.config, &parse(&only_gw), &old, "t.toml").unwrap();
        assert!(back.config.moving.is_empty() && back.moves.is_empty());
    }

    #[test]
    fn a_moved_service_is_a_removal_and_an_addition() {
        let moved = BASE.replace("vip = \"198.18.100.1\"", "vip = \"198.18.100.9\"");
        let p = plan_of(&moved).unwrap();
        assert_eq!(p.draining, vec![0]);
        let s = &p.config.services[1];
        assert_eq!((s.name.as_str(), s.id, s.vip.octets()[3], s.state), ("web", 1, 9, ServiceState::Active));
        assert!(p.applied.iter().any(|a| a == "service `web` added (198.18.100.9:80)"), "{:?}", p.applied);
        let renamed = plan_of(&BASE.replace("name = \"web\"\nvip", "name = \"www\"\nvip")).unwrap();
        assert_eq!(renamed.applied, vec!["service `web` renamed `www`".to_string()]);
        assert!(renamed.draining.is_empty());
    }
}
