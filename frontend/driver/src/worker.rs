//! The run-to-completion loop: rx burst -> engine -> tx burst, completions
//! and timers in between. Time is read once per burst and passed to the
//! engine in milliseconds.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use switchyard_frontend::ack_coalesce::AckCoalescer;
use switchyard_frontend::engine::{Action, Engine, Verdict};
use switchyard_frontend::http::ErrorReply;
use switchyard_wire::reason::{DropReason, FrontendCounter};

use switchyard_control_plane::ControlLink;
use crate::access_log::AccessLogQueue;
use crate::io::{Frame, FrameIo};

/// Frames moved per poll: DPDK's customary burst.
const BURST: usize = 32;

/// Empty polls in a row before a polling driver (DPDK) backs off: about
/// 20 µs of spinning, so a burst that pauses briefly is still met at once.
const SPIN_POLLS: u32 = 256;
/// The back-off: short against a LAN round trip (the testbed's is ~60 µs)
/// and Linux's timer slack, long enough that an idle front-end costs
/// almost no CPU, so its CPU time measures the work it did.
const IDLE_SLEEP: Duration = Duration::from_micros(50);
/// Longest a blocking driver waits with nothing due: the stop flag, the
/// stats interval and the run limit are looked at this often. The engine's
/// timers and the control thread's bell wake it sooner.
const MAX_IDLE_WAIT_MS: u64 = 50;

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub rx: u64,
    pub tx: u64,
    pub built: u64,
    pub no_mbuf: u64,
    pub seconds: f64,
    /// The worker thread's CPU time in rounds that had work (frames,
    /// completions, timers), wake-ups included: its CPU time minus its
    /// spinning. Thread CPU, not wall time, so that being preempted on a
    /// shared core is not counted as work.
    pub busy_seconds: f64,
    /// Back-off sleeps after `SPIN_POLLS` empty polls.
    pub idle_sleeps: u64,
    /// Pure ACKs not sent because a later frame of the same batch covered
    /// them (`switchyard_frontend::ack_coalesce`).
    pub acks_coalesced: u64,
}

/// How the loop runs besides its I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Stop after this long (None: until `stop`).
    pub limit: Option<Duration>,
    /// Print the stats lines this often.
    pub stats_every: Option<Duration>,
    /// A blocking driver polls this long after its last work before it
    /// blocks (`--idle-spin-us`): trades CPU for latency at low rates (a
    /// wake-up from poll costs several µs in a VM). 0: block at once.
    pub idle_spin: Duration,
}

/// `access`: where the engine's access-log records go (`[access_log]`);
/// None when the log is off.
pub fn run<I: FrameIo>(engine: &mut Engine, io: &mut I, control: &ControlLink, stop: &AtomicBool, opts: RunOptions, access: Option<&AccessLogQueue>) -> Report {
    let RunOptions { limit, stats_every, idle_spin } = opts;
    let start = Instant::now();
    let mut last_stats = start;
    let mut rep = Report::default();
    let mut rx: Vec<I::Frame> = Vec::with_capacity(BURST);
    let mut tx: Vec<I::Frame> = Vec::with_capacity(4 * BURST);
    let mut actions = Vec::with_capacity(4 * BURST);
    let mut immediate = Vec::new();
    let mut coalescer = AckCoalescer::default();
    let mut kept: Vec<I::Frame> = Vec::with_capacity(4 * BURST);
    let mut empty_polls = 0u32;
    let mut last_work = Instant::now();
    let mut busy = Duration::ZERO;
    let mut cpu_mark = thread_cpu();
    while !stop.load(Ordering::Relaxed) {
        let now_inst = Instant::now();
        let now = now_inst.duration_since(start).as_millis() as u64;
        let mut worked = false;
        for ev in control.poll() {
            engine.on_offload(ev, now, &mut actions);
            worked = true;
        }
        if let Some(secret) = control.take_rotation() {
            // Accept the new generation first; the control task lets the
            // switch sign with it only after this acknowledgement.
            engine.rotate_cookie_secret(secret);
            control.rotation_applied();
        }
        while let Some(cmd) = control.take_command() {
            cmd.apply(engine);
            worked = true;
        }
        if engine.next_deadline().is_some_and(|d| d <= now) {
            engine.on_timer(now, &mut actions);
            worked = true;
        }
        let n = io.rx_burst(&mut rx);
        rep.rx += n as u64;
        for mut m in rx.drain(..) {
            match engine.handle_frame(m.bytes_mut(), now, &mut actions) {
                Verdict::Forward => tx.push(m),
                Verdict::Consumed | Verdict::Drop(_) => io.recycle(m),
            }
        }
        // An immediate answer (the control queue is full) may make the
        // engine emit more (a released hold's window update, a SYN-ACK):
        // drain until nothing is left, never dropping engine output.
        while !actions.is_empty() {
            worked = true;
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
                    Action::Offload(r) => immediate.extend(control.submit(r)),
                }
            }
            for ev in immediate.drain(..) {
                engine.on_offload(ev, now, &mut actions);
            }
        }
        if let Some(queue) = access {
            // Off the hot path: the writer thread serializes and writes.
            for record in engine.drain_access_records() {
                queue.offer(record);
            }
        }
        if tx.len() > 1 && coalescer.mark(tx.iter_mut().map(|f| &*f.bytes_mut())) > 0 {
            for (i, f) in tx.drain(..).enumerate() {
                if coalescer.redundant(i) {
                    rep.acks_coalesced += 1;
                    io.recycle(f);
                } else {
                    kept.push(f);
                }
            }
            std::mem::swap(&mut tx, &mut kept);
        }
        if !tx.is_empty() {
            rep.tx += io.tx_burst(&mut tx) as u64;
        }
        let cpu_now = thread_cpu();
        if n > 0 || worked {
            last_work = Instant::now();
            busy += cpu_now.saturating_sub(cpu_mark);
            empty_polls = 0;
        }
        cpu_mark = cpu_now;
        if n == 0 {
            if !worked {
                empty_polls += 1;
                if !io.can_block() {
                    if empty_polls >= SPIN_POLLS {
                        std::thread::sleep(IDLE_SLEEP);
                        rep.idle_sleeps += 1;
                    }
                } else if last_work.elapsed() >= idle_spin && control.park() {
                    // By default blocking at once: spinning first costs CPU at
                    // any load and helps latency only at low rates
                    // (docs/FRONTEND.md, "The worker loop").
                    // Until the engine's next timer (ms clock), a frame or the bell.
                    let wait = engine.next_deadline().map_or(MAX_IDLE_WAIT_MS, |d| d.saturating_sub(now)).min(MAX_IDLE_WAIT_MS);
                    io.idle(control.bell_fd(), Duration::from_millis(wait));
                    control.unpark();
                    rep.idle_sleeps += 1;
                }
            }
            if let Some(l) = limit {
                if now_inst.duration_since(start) >= l {
                    break;
                }
            }
            if let Some(every) = stats_every {
                if now_inst.duration_since(last_stats) >= every {
                    last_stats = now_inst;
                    println!("stats rx {} tx {} busy_ms {} acks_coalesced {} {}\n{}\n{}", rep.rx, rep.tx, busy.as_millis(), rep.acks_coalesced, counters_line(engine), control.stats().line(), io.stats_line());
                    if let Some(queue) = access {
                        println!("{}", access_log_line(engine, queue));
                    }
                }
            }
        }
    }
    rep.seconds = start.elapsed().as_secs_f64();
    rep.busy_seconds = busy.as_secs_f64();
    rep
}

/// `access_log lines N dropped N`: lines written, and records lost to a
/// full buffer or queue (the engine's and the writer's).
pub fn access_log_line(e: &Engine, queue: &AccessLogQueue) -> String {
    format!("access_log lines {} dropped {}", queue.written(), e.access_log().dropped() + queue.dropped())
}

/// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID; zero if unreadable).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec for the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// `flows N` and every counter of the registry as `name value`, in its
/// order (`wire::reason::FRONTEND_COUNTERS`: the metrics' names).
fn counters_line(e: &Engine) -> String {
    let c = e.counters();
    let mut line = format!("flows {}", e.flow_count());
    for &k in FrontendCounter::ALL {
        let _ = write!(line, " {} {}", k.row().name, c[k]);
    }
    line
}

pub fn summary(e: &Engine, r: &Report, io_stats: &str, control: &ControlLink) -> String {
    let drops: Vec<String> = switchyard_wire::reason::DROP_REASONS
        .iter()
        .filter_map(|d| Some((d.name, e.counters().dropped(DropReason::from_code(d.code)?))))
        .filter(|&(_, n)| n > 0)
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    let replies: Vec<String> =
        ErrorReply::ALL.iter().filter(|&&r| e.counters().replied(r) > 0).map(|&r| format!("{}={}", r.status(), e.counters().replied(r))).collect();
    format!(
        "front-end stopped after {:.1}s: rx {} tx {} built {} no_buffer {} busy_ms {} idle_sleeps {} acks_coalesced {}\n{}\n{}\n{}\ndrops: {}\nreplies: {}",
        r.seconds,
        r.rx,
        r.tx,
        r.built,
        r.no_mbuf,
        (r.busy_seconds * 1000.0) as u64,
        r.idle_sleeps,
        r.acks_coalesced,
        io_stats,
        counters_line(e),
        control.stats().line(),
        if drops.is_empty() { "none".into() } else { drops.join(" ") },
        if replies.is_empty() { "none".into() } else { replies.join(" ") }
    )
}
