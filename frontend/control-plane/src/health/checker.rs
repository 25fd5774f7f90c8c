//! The checks' tokio tasks, on the admin thread's runtime: one task per
//! check (its own interval, started at a staggered offset so checks of
//! many backends do not go out at once), and a supervisor that tells the
//! worker what changed and restarts the checks when a reload changed the
//! config.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_wire::flow::BackendIndex;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::probe::{probe, Expect};
use super::state::{targets, CheckKind, CheckTarget, HealthBoard, Transition};
use super::AGENT_OK;
use crate::admin::views::backend_name;
use crate::admin::AdminContext;
use crate::command::{CommandError, CommandSender, WorkerCommand};

/// How often the supervisor sends unreported changes to the worker and
/// looks for a reloaded config. A change reaches the worker within this
/// (the worker applies it between bursts); a send refused by a full
/// command queue is retried at the next turn.
const REPORT_EVERY: Duration = Duration::from_millis(100);

pub(crate) fn lock(board: &Mutex<HealthBoard>) -> std::sync::MutexGuard<'_, HealthBoard> {
    board.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs every check of the running config until `stop`.
pub async fn run(ctx: Arc<AdminContext>, stop: Arc<AtomicBool>) {
    let board = ctx.control.health_board();
    while !stop.load(Relaxed) {
        let cfg = ctx.config();
        let targets = targets(&cfg);
        lock(&board).retarget(cfg.backends.len(), &targets);
        let names: Vec<String> = (0..cfg.backends.len()).map(|i| backend_name(&cfg, i as BackendIndex)).collect();
        let mut tasks = JoinSet::new();
        let groups = probe_groups(targets);
        let n = groups.len() as u32;
        for (i, group) in groups.into_iter().enumerate() {
            let offset = group[0].check.interval * i as u32 / n.max(1);
            let names = group.iter().map(|t| names[usize::from(t.backend)].clone()).collect();
            tasks.spawn(check_loop(group, names, offset, board.clone()));
        }
        while !stop.load(Relaxed) && Arc::ptr_eq(&cfg, &ctx.config()) {
            tokio::time::sleep(REPORT_EVERY).await;
            report(&board, &ctx.commands, &names);
        }
        // A reload: the checks restart from the new config, their states kept.
        tasks.shutdown().await;
    }
}

/// Sends each change the worker has not been told.
fn report(board: &Mutex<HealthBoard>, commands: &CommandSender, names: &[String]) {
    let changes = lock(board).unreported();
    for (backend, healthy) in changes {
        match commands.send(WorkerCommand::SetBackend { backend, healthy: Some(healthy), draining: None }) {
            Ok(()) => lock(board).reported(backend, healthy),
            Err(CommandError::QueueFull) => {
                let name = names.get(usize::from(backend)).map_or("?", String::as_str);
                tracing::warn!(backend = name, "health: the worker's command queue is full; retrying");
            }
            Err(_) => return,
        }
    }
}

/// The checks that one probe answers for: an agent serves every backend
/// of its host (one per service port), so its probe runs once for all of
/// them; every HTTP check is its own.
fn probe_groups(targets: Vec<CheckTarget>) -> Vec<Vec<CheckTarget>> {
    let mut groups: Vec<Vec<CheckTarget>> = Vec::new();
    for t in targets {
        match groups.iter_mut().find(|g| t.kind == CheckKind::Agent && g[0].kind == CheckKind::Agent && g[0].addr == t.addr) {
            Some(g) => g.push(t),
            None => groups.push(vec![t]),
        }
    }
    groups
}

/// Probes `group[0]`'s address every interval; the outcome counts for
/// every check of the group (same kind, address and timing).
async fn check_loop(group: Vec<CheckTarget>, names: Vec<String>, offset: Duration, board: Arc<Mutex<HealthBoard>>) {
    let t = &group[0];
    let expect = match t.kind {
        CheckKind::Agent => Expect { status: 200, body_prefix: Some(AGENT_OK) },
        CheckKind::Http { .. } => Expect { status: t.check.expect_status, body_prefix: None },
    };
    let mut tick = tokio::time::interval_at(Instant::now() + offset, t.check.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = probe(t.addr, &t.check.path, expect, t.check.timeout).await;
        let changes: Vec<_> = {
            let mut b = lock(&board);
            group.iter().zip(&names).filter_map(|(t, name)| Some((t, name, b.observe(t, outcome.clone())?))).collect()
        };
        for (t, name, c) in changes {
            log(name, t, &c);
        }
    }
}

fn log(name: &str, t: &CheckTarget, c: &Transition) {
    let check = c.check.label();
    if c.healthy {
        tracing::info!(backend = name, check, "backend {name} is healthy again: {check} passed {} times in a row; it takes new flows", t.check.rise);
    } else {
        let reason = c.reason.as_deref().unwrap_or("failed");
        tracing::warn!(backend = name, check, reason, "backend {name} is down: {check} failed {} times in a row ({reason}); it takes no new flows", t.check.fall);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_probe_per_agent_one_per_http_check() {
        let cfg = switchyard_frontend::config::parse(include_str!("../../../examples/switchyard.toml"), "x.toml").unwrap();
        let groups = probe_groups(targets(&cfg));
        let agents: Vec<(String, usize)> =
            groups.iter().filter(|g| g[0].kind == CheckKind::Agent).map(|g| (g[0].addr.to_string(), g.len())).collect();
        // Three hosts, each with a backend on 80 and one on 8080.
        assert_eq!(agents, [("198.18.10.2:9100".to_string(), 2), ("198.18.11.2:9100".to_string(), 2), ("198.18.12.2:9100".to_string(), 2)]);
        assert_eq!(groups.iter().filter(|g| g[0].kind != CheckKind::Agent).map(Vec::len).collect::<Vec<_>>(), [1, 1], "pool web's two members");
    }
}
