//! The run-to-completion loop: rx burst -> engine -> tx burst, completions
//! and timers in between. Time is read once per burst and passed to the
//! engine in milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use switchyard_frontend::engine::{Action, Engine, Verdict};

use crate::control::ControlLink;
use crate::io::{Frame, FrameIo};

/// Frames moved per poll: DPDK's customary burst.
const BURST: usize = 32;

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub rx: u64,
    pub tx: u64,
    pub built: u64,
    pub no_mbuf: u64,
    pub seconds: f64,
}

pub fn run<I: FrameIo>(
    engine: &mut Engine,
    io: &mut I,
    control: &ControlLink,
    stop: &AtomicBool,
    limit: Option<Duration>,
    stats_every: Option<Duration>,
) -> Report {
    let start = Instant::now();
    let mut last_stats = start;
    let mut rep = Report::default();
    let mut rx: Vec<I::Frame> = Vec::with_capacity(BURST);
    let mut tx: Vec<I::Frame> = Vec::with_capacity(4 * BURST);
    let mut actions = Vec::with_capacity(4 * BURST);
    while !stop.load(Ordering::Relaxed) {
        let now_inst = Instant::now();
        let now = now_inst.duration_since(start).as_millis() as u64;
        for ev in control.poll() {
            engine.on_offload(ev, now, &mut actions);
        }
        if let Some(secret) = control.take_rotation() {
            // Accept the new generation first; the control task lets the
            // switch sign with it only after this acknowledgement.
            engine.rotate_cookie_secret(secret);
            control.rotation_applied();
        }
        if engine.next_deadline().is_some_and(|d| d <= now) {
            engine.on_timer(now, &mut actions);
        }
        let n = io.rx_burst(&mut rx);
        rep.rx += n as u64;
        for mut m in rx.drain(..) {
            match engine.handle_frame(m.bytes_mut(), now, &mut actions) {
                Verdict::Forward => tx.push(m),
                Verdict::Consumed | Verdict::Drop(_) => drop(m),
            }
        }
        for a in actions.drain(..) {
            match a {
                Action::Transmit(frame) => {
                    match io.frame_from(&frame) {
                        Some(m) => {
                            rep.built += 1;
                            tx.push(m)
                        }
                        None => rep.no_mbuf += 1,
                    }
                    // The copy is in the driver's buffer: the engine reuses its own.
                    engine.recycle(frame);
                }
                Action::Offload(r) => {
                    if let Some(ev) = control.submit(r) {
                        // Handled next round with the other completions.
                        engine.on_offload(ev, now, &mut Vec::new());
                    }
                }
            }
        }
        if !tx.is_empty() {
            rep.tx += io.tx_burst(&mut tx) as u64;
        }
        if n == 0 {
            io.idle();
            if let Some(l) = limit {
                if now_inst.duration_since(start) >= l {
                    break;
                }
            }
            if let Some(every) = stats_every {
                if now_inst.duration_since(last_stats) >= every {
                    last_stats = now_inst;
                    println!("stats rx {} tx {} {}\n{}", rep.rx, rep.tx, counters_line(engine), control.stats().line());
                }
            }
        }
    }
    rep.seconds = start.elapsed().as_secs_f64();
    rep
}

fn counters_line(e: &Engine) -> String {
    let c = e.counters();
    format!(
        "flows {} new {} replayed_syns {} requests {} fwd_in {} fwd_out {} offload req {} ok {} refused {} closed {} aborted {}",
        e.flow_count(),
        c.new_flows,
        c.replayed_syns,
        c.requests_sent,
        c.forwarded_to_backend,
        c.forwarded_to_client,
        c.offload_requested,
        c.offload_installed,
        c.offload_refused,
        c.flows_closed,
        c.flows_aborted
    )
}

pub fn summary(e: &Engine, r: &Report, io_stats: &str, control: &ControlLink) -> String {
    let drops: Vec<String> = switchyard_wire::reason::DROP_REASONS
        .iter()
        .filter(|d| e.counters().drops[usize::from(d.code)] > 0)
        .map(|d| format!("{}={}", d.name, e.counters().drops[usize::from(d.code)]))
        .collect();
    format!(
        "front-end stopped after {:.1}s: rx {} tx {} built {} no_buffer {}; {}\n{}\n{}\ndrops: {}",
        r.seconds,
        r.rx,
        r.tx,
        r.built,
        r.no_mbuf,
        io_stats,
        counters_line(e),
        control.stats().line(),
        if drops.is_empty() { "none".into() } else { drops.join(" ") }
    )
}
