//! The watcher's I/O: probes over the host's TCP stack, the two tables
//! over P4Runtime. It writes as the primary of its own role (not the
//! front-ends' default role), so it never takes the switch from a
//! front-end's control task; a second watcher of the same role with a
//! lower election id is a hot standby (it probes, and writes once it is
//! primary).

use std::time::{Duration, Instant};

use switchyard_control::client::{Mastership, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::proto::p4::v1 as p4;
use switchyard_control::proto::p4::v1::get_forwarding_pipeline_config_request::ResponseType;
use switchyard_control::switchyard::{self as sy, SwitchyardTables};

use super::liveness::{Liveness, Outcome, Thresholds};
use super::plan::{applied, plan, Plan, SwitchView};
use super::FrontendSpec;
use crate::admin::server::HEALTH_OK;
use crate::health::probe::{probe_typed, Expect};

/// The front-ends' liveness endpoint (the admin API's `/healthz`).
pub const HEALTH_PATH: &str = "/healthz";
/// Most `frontend_port` slots used, whatever the table's size: 1/1024
/// of the flows per slot is finer than any front-end set needs, and a
/// change stays one Write of at most that many updates.
pub const MAX_SLOTS: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    pub interval: Duration,
    pub timeout: Duration,
    pub thresholds: Thresholds,
    /// The tables are read back this often (and after any failed write):
    /// someone else may have written them, or the switch restarted empty.
    pub resync: Duration,
}

/// The P4Info of the switch's pipeline, resolved (waits for one to be
/// loaded).
pub async fn switch_tables(client: &P4rtClient, wait: Duration) -> Result<SwitchyardTables, String> {
    let deadline = Instant::now() + wait;
    let info = loop {
        let last = match client.get_pipeline(ResponseType::P4infoAndCookie).await {
            Ok(cfg) if cfg.p4info.as_ref().is_some_and(|i| !i.tables.is_empty()) => break cfg.p4info.unwrap_or_default(),
            Ok(_) => "no pipeline loaded".to_string(),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!("the switch has no Switchyard pipeline ({last}): load p4/switchyard.p4 first"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let index = P4InfoIndex::new(info).map_err(|e| format!("the switch's P4Info: {e}"))?;
    SwitchyardTables::new(index).map_err(|e| format!("the switch does not run the Switchyard program: {e}"))
}

/// The number of slots the watcher uses: the whole table, up to MAX_SLOTS.
pub fn slot_count(tables: &SwitchyardTables) -> Result<usize, String> {
    let (_, size) = tables.frontend_port_table().map_err(|e| e.to_string())?;
    match usize::try_from(size) {
        Ok(n) if n > 0 => Ok(n.min(MAX_SLOTS)),
        _ => Err(format!("frontend_port has size {size}: the P4 program must give it FRONTEND_TABLE_SIZE slots")),
    }
}

/// Reads both tables back: `frontend_count`, and each `frontend_port`
/// slot's owner, recognised by its port and MAC (an entry of no
/// configured front-end is an orphan slot).
pub async fn read_view(client: &P4rtClient, tables: &SwitchyardTables, specs: &[FrontendSpec], slots: usize) -> Result<SwitchView, String> {
    let (id, _) = tables.frontend_port_table().map_err(|e| e.to_string())?;
    let entries = client.read_table(id).await.map_err(|e| format!("reading frontend_port: {e}"))?;
    let mut view = SwitchView::empty(slots);
    for e in &entries {
        let Ok(Some((slot, port, mac))) = tables.decode_frontend_port(e) else { continue };
        let Some(s) = view.installed.get_mut(usize::from(slot)) else { continue };
        *s = true;
        view.owners[usize::from(slot)] = specs.iter().position(|f| (f.port, f.mac) == (port, mac));
    }
    view.count = read_count(client, tables).await?;
    Ok(view)
}

/// `frontend_count`'s value on the switch.
pub async fn read_count(client: &P4rtClient, tables: &SwitchyardTables) -> Result<Option<u16>, String> {
    let q = tables.frontend_count_read().map_err(|e| e.to_string())?;
    let read = client.read(vec![p4::Entity { entity: Some(p4::entity::Entity::TableEntry(q)) }]).await.map_err(|e| format!("reading frontend_count: {e}"))?;
    Ok(read.iter().find_map(|e| match &e.entity {
        Some(p4::entity::Entity::TableEntry(t)) => tables.decode_frontend_count(t).ok().flatten(),
        _ => None,
    }))
}

/// The plan's updates: the slots' Write and the count's Write.
pub fn plan_updates(tables: &SwitchyardTables, specs: &[FrontendSpec], p: &Plan) -> Result<(Vec<p4::Update>, Vec<p4::Update>), String> {
    let mut slots = Vec::with_capacity(p.slots.len());
    for w in &p.slots {
        let f = &specs[w.owner];
        let e = tables.frontend_port(w.slot, f.port, f.mac).map_err(|e| e.to_string())?;
        slots.push(if w.insert { sy::insert(e) } else { sy::modify(e) });
    }
    let count = match p.count {
        Some(c) => vec![sy::modify(tables.frontend_count(c).map_err(|e| e.to_string())?)],
        None => Vec::new(),
    };
    Ok((slots, count))
}

async fn probe_all(specs: &[FrontendSpec], timeout: Duration) -> Vec<Outcome> {
    let expect = Expect { status: 200, body_prefix: Some(HEALTH_OK) };
    let tasks: Vec<_> = specs.iter().map(|f| tokio::spawn(probe_typed(f.admin, HEALTH_PATH, expect, timeout))).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(match t.await {
            Ok(Ok(())) => Outcome::Pass,
            Ok(Err(e)) if e.refused => Outcome::Refused(e.reason),
            Ok(Err(e)) => Outcome::Fail(e.reason),
            Err(e) => Outcome::Fail(format!("probe task: {e}")),
        });
    }
    out
}

fn owners_summary(specs: &[FrontendSpec], view: &SwitchView) -> String {
    specs
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{} {}", f.name, view.owners.iter().filter(|&&o| o == Some(i)).count()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs until the process is stopped (or the switch's program is not
/// Switchyard's).
pub async fn run(client: P4rtClient, specs: Vec<FrontendSpec>, opts: WatchOptions) -> Result<(), String> {
    let tables = switch_tables(&client, Duration::from_secs(30)).await?;
    let slots = slot_count(&tables)?;
    tracing::info!("watching {} front-ends over {slots} frontend_port slots, probe every {:?}", specs.len(), opts.interval);
    let mut live: Vec<Liveness> = vec![Liveness::default(); specs.len()];
    let mut view: Option<SwitchView> = None;
    let mut last_read = Instant::now();
    let mut was_primary = true;
    let mut tick = tokio::time::interval(opts.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for ((f, l), o) in specs.iter().zip(&mut live).zip(probe_all(&specs, opts.timeout).await) {
            match l.observe(o, opts.thresholds) {
                Some(true) => tracing::info!("front-end {} is live", f.name),
                Some(false) => tracing::warn!("front-end {} is out: {}", f.name, l.last_failure.as_deref().unwrap_or("its first probe failed")),
                None => {}
            }
        }
        let Some(up) = live.iter().map(|l| l.live).collect::<Option<Vec<bool>>>() else { continue };
        let primary = client.mastership() == Mastership::Primary;
        if primary != was_primary {
            tracing::info!("{} of role `{}`", if primary { "primary" } else { "backup (another watcher writes)" }, client.options().role);
            was_primary = primary;
            view = None;
        }
        if !primary {
            continue;
        }
        if view.is_none() || last_read.elapsed() >= opts.resync {
            match read_view(&client, &tables, &specs, slots).await {
                Ok(v) => view = Some(v),
                Err(e) => {
                    tracing::warn!("{e}");
                    continue;
                }
            }
            last_read = Instant::now();
        }
        let Some(cur) = view.as_ref() else { continue };
        let p = plan(cur, &up);
        if p.is_empty() {
            continue;
        }
        let written = async {
            let (slot_updates, count_updates) = plan_updates(&tables, &specs, &p)?;
            for updates in [slot_updates, count_updates].into_iter().filter(|u| !u.is_empty()) {
                client.write(updates, p4::write_request::Atomicity::ContinueOnError).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        }
        .await;
        match written {
            Ok(()) => {
                let next = applied(cur, &p);
                let live_names: Vec<&str> = specs.iter().zip(&up).filter(|(_, &u)| u).map(|(f, _)| f.name.as_str()).collect();
                tracing::info!(
                    "switch updated: {} slots rewritten, frontend_count {}; live: [{}]; slots: {}",
                    p.slots.len(),
                    next.count.unwrap_or(0),
                    live_names.join(", "),
                    owners_summary(&specs, &next)
                );
                view = Some(next);
            }
            Err(e) => {
                tracing::warn!("writing the front-end set: {e}; reading the tables back");
                view = None;
            }
        }
    }
}
