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
        let n = targets.len() as u32;
        for (i, t) in targets.into_iter().enumerate() {
            let offset = t.check.interval * i as u32 / n.max(1);
            let name = names[usize::from(t.backend)].clone();
            tasks.spawn(check_loop(t, name, offset, board.clone()));
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

async fn check_loop(t: CheckTarget, name: String, offset: Duration, board: Arc<Mutex<HealthBoard>>) {
    let expect = match t.kind {
        CheckKind::Agent => Expect { status: 200, body_prefix: Some(AGENT_OK) },
        CheckKind::Http { .. } => Expect { status: t.check.expect_status, body_prefix: None },
    };
    let mut tick = tokio::time::interval_at(Instant::now() + offset, t.check.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = probe(t.addr, &t.check.path, expect, t.check.timeout).await;
        let change = lock(&board).observe(&t, outcome);
        if let Some(c) = change {
            log(&name, &t, &c);
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
