//! The switch entries the front-end owns for its config's services: VIPs,
//! backends, backend addresses, backend services (the edge guard that
//! keeps client-facing ports from reaching a backend directly) and cookie
//! secrets. The pipeline, routes,
//! port roles and front-end ports belong to whoever runs the switch (the
//! testbed or the operator); this front-end never pushes a pipeline.
//!
//! Numbering is the config's: VIP id = the service's index, backend index =
//! the backend's index in `config.backends` — the engine uses the same
//! numbers in its `ConnKey`s and offload requests.

use switchyard_control::p4info::P4InfoError;
use switchyard_control::proto::p4::v1 as p4;
use switchyard_control::switchyard::{CookieSecret as SwitchSecret, SwitchyardTables};
use switchyard_frontend::config::{Config, ServiceState};
use switchyard_wire::cookie::CookieSecret;
use switchyard_wire::flow::{BackendIndex, VipId};

/// Entries to INSERT (or MODIFY when they exist), the default entry of
/// cookie_secrets to MODIFY, and what a person should know.
pub struct ServiceEntries {
    pub entries: Vec<p4::TableEntry>,
    pub cookie_secrets: p4::TableEntry,
    pub warnings: Vec<String>,
}

/// The switch's view of the config's secrets: (current, generation,
/// previous), the same pair the engine's keyring derives
/// (`CookieSettings::keyring`). With one secret it is also the previous one
/// (the switch only signs with the current).
pub fn initial_secrets(cfg: &Config) -> (CookieSecret, u8, CookieSecret) {
    let ring = cfg.cookie.keyring();
    let previous = cfg.cookie.secrets.get(1).copied().unwrap_or(ring.current());
    (ring.current(), ring.current_generation(), previous)
}

pub fn switch_secret(s: CookieSecret, generation: u8) -> SwitchSecret {
    SwitchSecret { k0: s.k0, k1: s.k1, generation }
}

/// The service a backend serves (the switch's backend_address table maps a
/// backend address to exactly one VIP): the first service, in config
/// order, with a route to a pool holding it.
pub(crate) fn vip_of_backends(cfg: &Config) -> Vec<Vec<VipId>> {
    let mut vips: Vec<Vec<VipId>> = vec![Vec::new(); cfg.backends.len()];
    for s in &cfg.services {
        for r in &s.routes {
            for &(b, _) in &cfg.pools[r.pool].members {
                let v = &mut vips[usize::from(b)];
                if !v.contains(&s.id) {
                    v.push(s.id);
                }
            }
        }
    }
    vips
}

/// The VIP the backend's `backend_address` entry names: the service a
/// reload is moving it away from while it is moving, else the first that
/// reaches it (`vips` is `vip_of_backends(cfg)`).
pub(crate) fn return_vip(cfg: &Config, vips: &[Vec<VipId>], b: BackendIndex) -> Option<VipId> {
    match cfg.moving.iter().find(|m| m.backend == b) {
        Some(m) => Some(m.from),
        None => vips[usize::from(b)].first().copied(),
    }
}

pub fn service_entries(cfg: &Config, t: &SwitchyardTables) -> Result<ServiceEntries, P4InfoError> {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for s in &cfg.services {
        match s.state {
            ServiceState::Active => entries.push(t.vip(s.vip, s.port, s.id)?),
            ServiceState::Draining => entries.push(t.vip_draining(s.vip, s.port, s.id)?),
            ServiceState::Removed => {}
        }
    }
    let vips = vip_of_backends(cfg);
    for (i, b) in cfg.backends.iter().enumerate() {
        let index = i as BackendIndex;
        entries.push(t.backend(index, b.address, b.port)?);
        // Every configured backend, served or not: clients reach backends
        // only through a VIP.
        entries.push(t.backend_service(b.address, b.port)?);
        match return_vip(cfg, &vips, index) {
            None => warnings.push(format!("backend {}:{} is in no service's pools: no backend_address entry", b.address, b.port)),
            Some(id) => {
                let s = &cfg.services[usize::from(id)];
                let moving = cfg.moving.iter().any(|m| m.backend == index);
                if vips[i].len() > 1 && !moving {
                    warnings.push(format!(
                        "backend {}:{} serves {} services; the switch maps a backend address to one VIP, so only `{}` is offloaded for it",
                        b.address,
                        b.port,
                        vips[i].len(),
                        s.name
                    ));
                }
                entries.push(t.backend_address(b.address, b.port, s.id, index, s.vip, s.port)?);
            }
        }
    }
    let (cur, generation, prev) = initial_secrets(cfg);
    let cookie_secrets = t.cookie_secrets(switch_secret(cur, generation), switch_secret(prev, generation ^ 1))?;
    Ok(ServiceEntries { entries, cookie_secrets, warnings })
}
