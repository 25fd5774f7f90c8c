//! Hot reload, as the admin API (`POST /reload`) and SIGHUP run it: read
//! the config file again, validate it, plan (`crate::reload`), program
//! the switch, then the worker; an invalid or refused file changes
//! nothing and the answer says where and why.
//!
//! Order: the switch first, so a new backend or VIP has its entries before
//! the engine routes a flow to it; the worker second, so the running
//! config changes only once both took it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use switchyard_frontend::config::{self, Config, ServiceState};
use switchyard_wire::flow::{BackendIndex, VipId};

use super::routes::Refusal;
use super::server::{AdminContext, WORKER_TIMEOUT};
use crate::command::{FlowFilter, WorkerCommand};
use crate::reload;

/// How often a retired backend's flows are counted (an operator's pace:
/// the entry may stay this long after its last flow).
const RETIRE_POLL: Duration = Duration::from_secs(1);

/// The file and what was last read from it.
pub struct Reloader {
    pub path: PathBuf,
    /// As last accepted from the file (before the rotated secrets took the
    /// place of its `secrets`); held across a reload, so reloads run one
    /// at a time.
    last_file: tokio::sync::Mutex<Config>,
}

impl Reloader {
    pub fn new(path: PathBuf, as_loaded: Config) -> Self {
        Reloader { path, last_file: tokio::sync::Mutex::new(as_loaded) }
    }
}

fn refused(message: String) -> Refusal {
    Refusal { status: 422, message }
}

/// One reload; the answer lists what was applied and what was not.
pub async fn reload(ctx: &Arc<AdminContext>) -> Result<Value, Refusal> {
    let r = attempt(ctx).await;
    let counter = if r.is_ok() { &ctx.counters.reloads_applied } else { &ctx.counters.reloads_refused };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    r
}

async fn attempt(ctx: &Arc<AdminContext>) -> Result<Value, Refusal> {
    let r = &ctx.reloader;
    let mut last = r.last_file.lock().await;
    let file = r.path.display().to_string();
    let src = std::fs::read_to_string(&r.path).map_err(|e| refused(format!("{file}: cannot read: {e}; the running config stays")))?;
    let new = config::parse(&src, &file).map_err(|e| refused(format!("{e}; the running config stays")))?;
    let running = ctx.config();
    let plan = reload::plan(&running, &last, &new, &file).map_err(|e| refused(format!("{e}; the running config stays")))?;
    let mut warnings = Vec::new();
    if !plan.applied.is_empty() {
        warnings = apply(ctx, Arc::new(plan.config)).await?;
        for &b in &plan.retired {
            tokio::spawn(retire(ctx.clone(), b));
        }
        for &s in &plan.draining {
            tokio::spawn(retire_service(ctx.clone(), s));
        }
        for &b in &plan.moves {
            tokio::spawn(finish_move(ctx.clone(), b));
        }
    }
    *last = new;
    let retiring: Vec<String> = plan.retired.iter().map(|&b| super::views::backend_name(&ctx.config(), b)).collect();
    let draining: Vec<String> = plan.draining.iter().map(|&s| ctx.config().services[usize::from(s)].name.clone()).collect();
    Ok(json!({ "file": file, "applied": plan.applied, "not_applied": plan.not_applied, "warnings": warnings, "retiring": retiring, "draining": draining }))
}

/// The switch first, then the worker, then the running config; the
/// switch's warnings.
async fn apply(ctx: &Arc<AdminContext>, next: Arc<Config>) -> Result<Vec<String>, Refusal> {
    let warnings = ctx.control.reprogram(next.clone()).await.map_err(|e| Refusal {
        status: 503,
        message: format!("programming the switch failed: {e}; the worker keeps the running config (entries already written stay)"),
    })?;
    let c = ctx.commands.clone();
    let sent = next.clone();
    tokio::task::spawn_blocking(move || {
        c.send(WorkerCommand::Reconfigure(sent))?;
        // FIFO: answered once the worker applied it.
        c.snapshot(FlowFilter::default(), WORKER_TIMEOUT)
    })
    .await
    .map_err(|e| Refusal { status: 500, message: format!("reload task: {e}") })?
    .map_err(|e| Refusal { status: 503, message: format!("the worker did not take the reload: {e}") })?;
    ctx.set_config(next);
    Ok(warnings)
}

/// The flows the worker has on backend `b` (of service `vip` only, when
/// given) and the connection entries the control task holds for `b`;
/// None when either could not be asked.
async fn flows_on(ctx: &Arc<AdminContext>, b: BackendIndex, vip: Option<VipId>, backends: usize) -> Option<(u64, u64)> {
    let entries = ctx.control.entries_per_backend(backends).await.ok()??;
    let c = ctx.commands.clone();
    let filter = FlowFilter { backend: Some(b), vip, ..FlowFilter::default() };
    let snap = tokio::task::spawn_blocking(move || c.snapshot(filter, WORKER_TIMEOUT)).await.ok()?.ok()?;
    let active = if vip.is_some() { 0 } else { snap.backends.get(usize::from(b)).map_or(0, |f| f.active_flows) };
    Some((u64::from(active).max(snap.matched as u64), entries[usize::from(b)]))
}

/// A backend moving to another service (`Config::moving`): once no flow
/// is on it and no connection entry names it, its `backend_address` entry
/// is rewritten to the new service's VIP and it is offloaded again. A
/// later reload that gives it back to the old service, or retires it,
/// ends the move (and this wait).
async fn finish_move(ctx: Arc<AdminContext>, b: BackendIndex) {
    let moving = |cfg: &Config| cfg.moving.iter().find(|m| m.backend == b).copied();
    loop {
        tokio::time::sleep(RETIRE_POLL).await;
        let cfg = ctx.config();
        // The new service's flows on it are carried (never offloaded
        // meanwhile): only the old one's hold the move.
        let Some(m) = moving(&cfg) else { return };
        if flows_on(&ctx, b, Some(m.from), cfg.backends.len()).await != Some((0, 0)) {
            continue;
        }
        let _reloading = ctx.reloader.last_file.lock().await;
        let cfg = ctx.config();
        let Some(m) = moving(&cfg) else { return };
        let mut next = (*cfg).clone();
        next.moving.retain(|x| x.backend != b);
        let spec = cfg.backends[usize::from(b)];
        let to = crate::services::vip_of_backends(&next)[usize::from(b)].first().map(|&v| next.services[usize::from(v)].name.clone()).unwrap_or_default();
        match apply(&ctx, Arc::new(next)).await {
            Ok(_) => println!(
                "reload: backend {}:{} has no flows of service `{}` left; it is offloaded for `{to}` now",
                spec.address, spec.port, cfg.services[usize::from(m.from)].name
            ),
            Err(e) => {
                eprintln!("reload: finishing backend {}:{}'s move: {} (retrying)", spec.address, spec.port, e.message);
                continue;
            }
        }
        return;
    }
}

/// A removed service's `vip` entry stays while flows are on it (it steers
/// their client packets), refusing new connections; once the worker has
/// no flow of it and the control task no connection entry naming it, the
/// entry is deleted and the service is `Removed`. A later reload that
/// names its VIP:port again restores it and ends the wait.
async fn retire_service(ctx: Arc<AdminContext>, id: VipId) {
    let draining = |cfg: &Config| cfg.services.get(usize::from(id)).is_some_and(|s| s.state == ServiceState::Draining);
    loop {
        tokio::time::sleep(RETIRE_POLL).await;
        if !draining(&ctx.config()) {
            return;
        }
        let Ok(entries) = ctx.control.entries_of_vip(id).await else { continue };
        let c = ctx.commands.clone();
        let filter = FlowFilter { vip: Some(id), ..FlowFilter::default() };
        let Ok(Ok(snap)) = tokio::task::spawn_blocking(move || c.snapshot(filter, WORKER_TIMEOUT)).await else { continue };
        if entries.unwrap_or(0) > 0 || snap.matched > 0 {
            continue;
        }
        // Reloads are serialised by this lock: none restores the service
        // between the check and the delete.
        let _reloading = ctx.reloader.last_file.lock().await;
        let cfg = ctx.config();
        if !draining(&cfg) {
            return;
        }
        let s = &cfg.services[usize::from(id)];
        if let Err(e) = ctx.control.delete_vip(s.vip, s.port).await {
            eprintln!("reload: deleting service `{}`'s vip entry {}:{}: {e} (retrying)", s.name, s.vip, s.port);
            continue;
        }
        let mut next = (*cfg).clone();
        next.services[usize::from(id)].state = ServiceState::Removed;
        let next = Arc::new(next);
        // The control task programs from its copy after a switch restart:
        // it must not write the entry again.
        if let Err(e) = ctx.control.reprogram(next.clone()).await {
            eprintln!("reload: service `{}` removed, the control task not told: {e}", s.name);
        }
        ctx.set_config(next);
        println!("reload: service `{}` ({}:{}) has no flows left; its vip entry is deleted", s.name, s.vip, s.port);
        return;
    }
}

/// A backend no service reaches any more keeps its `backend_address`
/// entry while flows are on it (the switch maps its packets back to the
/// VIP with it); once the worker has no flow on it and the control task
/// no connection entry naming it, the entry is deleted. A later reload
/// that reaches it again ends the wait (and writes the entry again).
async fn retire(ctx: Arc<AdminContext>, b: BackendIndex) {
    loop {
        tokio::time::sleep(RETIRE_POLL).await;
        let cfg = ctx.config();
        if !crate::services::vip_of_backends(&cfg)[usize::from(b)].is_empty() {
            return;
        }
        if flows_on(&ctx, b, None, cfg.backends.len()).await != Some((0, 0)) {
            continue;
        }
        let spec = cfg.backends[usize::from(b)];
        match ctx.control.delete_backend_address(spec.address, spec.port).await {
            Ok(()) => println!("reload: backend {}:{} has no flows left; its backend_address entry is deleted", spec.address, spec.port),
            Err(e) => eprintln!("reload: deleting backend {}:{}'s backend_address entry: {e} (it stays)", spec.address, spec.port),
        }
        return;
    }
}
