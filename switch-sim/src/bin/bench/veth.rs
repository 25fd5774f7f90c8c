//! `switch-sim-bench --veth SECS`: the binaries' forwarding loop between two
//! veth pairs in the namespace `sy-swbench-<pid>` (root; removed
//! afterwards). A sender writes the benchmark's frames into a0 in sendmmsg
//! batches, paced to each `--rate` in turn (none: as fast as it can); the
//! switch forwards a1 -> b1 on its own thread; b0 counts what arrives (its
//! veth counter). Per rate: frames offered, forwarded, dropped (kernel
//! ring or queue, send), and the switch thread's forwarded packets per
//! second of its CPU time.
//!
//! As in the testbed, every interface drops frames at tc ingress after the
//! packet sockets had them (a1 and b1 are the switch's, b0 stands for a
//! receiving host), so no IP stack in the namespace spends CPU on them:
//! without IRQ time accounting the kernel charges that softirq work to
//! whichever thread sent the frame.
//!
//! `--latency PPS`: one frame every 1/PPS s for SECS, each timestamped when
//! sent and when a packet socket on b0 sees it; prints the percentiles of
//! that delay (the ring's and the loop's wake-up included).

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_switch_sim::forward::{self, Stats};
use switchyard_switch_sim::ports::{poll_readable, AfPacketPort, PortConfig};
use switchyard_switch_sim::Switch;

use crate::thread_cpu_ns;

/// Frames per sendmmsg of the sender, as the switch's own batches.
const SEND_BATCH: usize = 32;

/// Time the switch gets to drain what was sent before it is stopped.
const DRAIN: Duration = Duration::from_millis(300);

/// Removes the benchmark namespace, also when the benchmark fails.
struct NsGuard(String);

impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run_cmd(cmd: &str, args: &[&str]) -> anyhow::Result<()> {
    let st = Command::new(cmd).args(args).status()?;
    anyhow::ensure!(st.success(), "{cmd} {args:?} failed");
    Ok(())
}

fn enter(ns: &str) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(format!("/var/run/netns/{ns}"))?;
    // SAFETY: setns on a valid namespace fd; affects the calling thread.
    anyhow::ensure!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } == 0, "setns failed");
    Ok(())
}

/// (user, system) CPU seconds of the calling thread (tick-sampled).
fn thread_rusage() -> (f64, f64) {
    // SAFETY: ru is a valid rusage for the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

/// CPU seconds the kernel's softirq threads (ksoftirqd/N) have used: the
/// receive work the kernel defers from the threads that raised it.
fn ksoftirqd_cpu() -> f64 {
    // SAFETY: sysconf has no memory arguments.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0u64;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        if let Some((_, rest)) = stat.split_once("(ksoftirqd/") {
            // After "comm)": state ppid ... utime (14th field) stime (15th).
            let f: Vec<&str> = rest.split_once(") ").map_or("", |x| x.1).split_whitespace().collect();
            total += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total as f64 / ticks
}

/// Frames b0 received, from its veth counter (`ip -s -j link`).
fn rx_packets(ns: &str, iface: &str) -> anyhow::Result<u64> {
    let out = Command::new("ip").args(["-n", ns, "-s", "-j", "link", "show", "dev", iface]).output()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v[0]["stats64"]["rx"]["packets"].as_u64().ok_or_else(|| anyhow::anyhow!("no rx packets for {iface} in `ip -s -j link`"))
}

fn setup(ns: &str) -> anyhow::Result<()> {
    run_cmd("ip", &["netns", "add", ns])?;
    for key in ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] {
        run_cmd("ip", &["netns", "exec", ns, "sysctl", "-qw", key])?;
    }
    for (x, y) in [("a0", "a1"), ("b0", "b1")] {
        run_cmd("ip", &["-n", ns, "link", "add", x, "type", "veth", "peer", "name", y])?;
    }
    for d in ["a0", "a1", "b0", "b1"] {
        run_cmd("ip", &["-n", ns, "link", "set", d, "up"])?;
        if d != "a0" {
            run_cmd("ip", &["netns", "exec", ns, "tc", "qdisc", "add", "dev", d, "clsact"])?;
            // Classic BPF returning TC_ACT_SHOT.
            run_cmd("ip", &["netns", "exec", ns, "tc", "filter", "add", "dev", d, "ingress", "bpf", "da", "bytecode", "1,6 0 0 2"])?;
        }
    }
    Ok(())
}

/// The switch forwarding on a1 (port 1) and b1 (port 2) until `stop`;
/// returns it with the loop's counts, its thread's CPU seconds and the
/// system part of them.
type SwitchRun = (Switch, Stats, f64, f64);

fn spawn_switch(mut sw: Switch, ns: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<anyhow::Result<SwitchRun>> {
    // Named, so that perf tells its samples from the sender's.
    let thread = std::thread::Builder::new().name("switch".into());
    thread.spawn(move || {
        enter(&ns)?;
        let mut ports = [AfPacketPort::open(1, "a1")?, AfPacketPort::open(2, "b1")?];
        let (cpu0, sys0) = (thread_cpu_ns(), thread_rusage().1);
        let stats = forward::run(&mut ports, &mut sw, &stop)?;
        Ok((sw, stats, (thread_cpu_ns() - cpu0) as f64 / 1e9, thread_rusage().1 - sys0))
    })
    .expect("spawn the switch thread")
}

/// One measurement at `rate` frames per second (0: unpaced).
fn one_rate(sw: Switch, ns: &str, frames: &[Vec<u8>], a0: &AfPacketPort, rate: u64, secs: f64) -> anyhow::Result<Switch> {
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = spawn_switch(sw, ns.to_string(), stop.clone());
    std::thread::sleep(Duration::from_millis(200));
    let arrived0 = rx_packets(ns, "b0")?;
    let (mut offered, mut refused, mut k) = (0u64, 0u64, 0usize);
    let mut batch: Vec<&[u8]> = Vec::with_capacity(SEND_BATCH);
    // SAFETY: prctl with integer arguments; a 1 us timer slack (default
    // 50 us) keeps the paced sleeps short.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000, 0, 0, 0) };
    let (soft0, sender0) = (ksoftirqd_cpu(), thread_cpu_ns());
    let start = Instant::now();
    loop {
        let now = start.elapsed().as_secs_f64();
        if now >= secs {
            break;
        }
        if rate > 0 {
            let due = (offered + refused) as f64 / rate as f64;
            if now < due {
                // Sleep, never spin: the sender's CPU time is then its real
                // work (sends, and the receive work its softirq does for
                // a1's socket), comparable between receive paths. A late
                // wake-up sends the batches due back to back.
                std::thread::sleep(Duration::from_secs_f64(due - now));
                continue;
            }
        }
        batch.clear();
        for _ in 0..SEND_BATCH {
            batch.push(&frames[k % frames.len()]);
            k += 1;
        }
        let n = a0.send_batch(&batch).unwrap_or(0) as u64;
        offered += n;
        refused += SEND_BATCH as u64 - n;
    }
    let wall = start.elapsed().as_secs_f64();
    let sender = (thread_cpu_ns() - sender0) as f64 / 1e9;
    std::thread::sleep(DRAIN);
    stop.store(true, Ordering::Relaxed);
    let (sw, st, cpu, sys) = fwd.join().map_err(|_| anyhow::anyhow!("forwarder panicked"))??;
    let soft = ksoftirqd_cpu() - soft0;
    let arrived = rx_packets(ns, "b0")? - arrived0;
    let p1 = &st.ports[0];
    println!(
        "veth rate {}: offered {offered} ({:.0}/s; {refused} refused by the veth), switch received {} kernel_rx_drops {} rx_truncated {} sent {} send_dropped {}, b0 got {arrived}; \
         {:.0} forwarded/s wall, switch thread {:.2} s CPU ({:.0} % of {wall:.1} s, {:.0} % of it system) = {:.0} packets/s per CPU-second; sender thread {:.2} s, ksoftirqd {:.2} s: {:.0} ns of CPU per frame in all; ring slots {}",
        if rate == 0 { "unpaced".to_string() } else { rate.to_string() },
        offered as f64 / wall,
        st.received,
        st.kernel_rx_drops(),
        st.rx_truncated(),
        st.sent,
        st.send_dropped,
        st.sent as f64 / wall,
        cpu,
        100.0 * cpu / wall,
        100.0 * sys / cpu.max(1e-9),
        st.sent as f64 / cpu.max(1e-9),
        sender,
        soft,
        (cpu + sender + soft) * 1e9 / st.sent.max(1) as f64,
        p1.rx_ring_slots,
    );
    Ok(sw)
}

/// Latency at a low rate: the delay from a0's send to b0's packet socket.
fn latency(sw: Switch, ns: &str, frames: &[Vec<u8>], a0: &AfPacketPort, pps: u64, secs: f64) -> anyhow::Result<Switch> {
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = spawn_switch(sw, ns.to_string(), stop.clone());
    let count = ((pps as f64 * secs) as usize).min(frames.len());
    // Frames are told apart by their client address and port (bytes
    // 26..30 and 34..36, which the offloaded path keeps).
    let key = |f: &[u8]| -> [u8; 6] { [f[26], f[27], f[28], f[29], f[34], f[35]] };
    let index: std::collections::HashMap<[u8; 6], usize> = frames[..count].iter().enumerate().map(|(i, f)| (key(f), i)).collect();
    let epoch = Instant::now();
    let rx = {
        let (ns, stop) = (ns.to_string(), stop.clone());
        std::thread::spawn(move || -> anyhow::Result<Vec<(usize, f64)>> {
            enter(&ns)?;
            let mut b0 = AfPacketPort::open_with(2, "b0", PortConfig::from_env())?;
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if poll_readable(&[b0.raw_fd()], 50)?[0] {
                    b0.recv_batch(|f| {
                        let t = epoch.elapsed().as_secs_f64();
                        if f.len() > 36 {
                            if let Some(i) = index.get(&key(f)) {
                                seen.push((*i, t));
                            }
                        }
                    })?;
                }
            }
            Ok(seen)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut sent_at = vec![0f64; count];
    let start = Instant::now();
    for (i, f) in frames[..count].iter().enumerate() {
        let due = i as f64 / pps as f64;
        while start.elapsed().as_secs_f64() < due {
            std::thread::sleep(Duration::from_micros(50));
        }
        sent_at[i] = epoch.elapsed().as_secs_f64();
        a0.send_batch(&[f])?;
    }
    std::thread::sleep(DRAIN);
    stop.store(true, Ordering::Relaxed);
    let seen = rx.join().map_err(|_| anyhow::anyhow!("receiver panicked"))??;
    let (sw, st, _, _) = fwd.join().map_err(|_| anyhow::anyhow!("forwarder panicked"))??;
    let mut us: Vec<f64> = seen.iter().map(|(i, t)| (t - sent_at[*i]) * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let pct = |p: f64| us.get(((us.len() as f64 * p) as usize).min(us.len().saturating_sub(1))).copied().unwrap_or(f64::NAN);
    println!(
        "veth latency at {pps} frames/s: {} of {count} arrived; a0 -> switch -> b0 socket: median {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us; ring slots {}",
        us.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        us.last().copied().unwrap_or(f64::NAN),
        st.ports[0].rx_ring_slots
    );
    Ok(sw)
}

/// The send side alone: `n` frames out of b1 (b0 drops them at tc
/// ingress) with sendmmsg batches, then with a transmit ring (a batch
/// pushed, one flush); the sending thread's CPU per frame (its softirq,
/// which carries the frame across the veth, included) for each.
fn tx_compare(ns: &str, frames: &[Vec<u8>], n: usize) -> anyhow::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let port = AfPacketPort::open_with(2, "b1", PortConfig { ring_bytes: None, max_frame: None })?;
    let measure = |what: &str, send: &mut dyn FnMut(&[&[u8]]) -> usize| -> anyhow::Result<()> {
        let before = rx_packets(ns, "b0")?;
        let (cpu0, soft0) = (thread_cpu_ns(), ksoftirqd_cpu());
        let (mut sent, mut k) = (0usize, 0usize);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut batch: Vec<&[u8]> = Vec::with_capacity(SEND_BATCH);
        while sent < n && Instant::now() < deadline {
            batch.clear();
            for _ in 0..SEND_BATCH {
                batch.push(&frames[k % frames.len()]);
                k += 1;
            }
            sent += send(&batch);
        }
        let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e9;
        let soft = ksoftirqd_cpu() - soft0;
        std::thread::sleep(Duration::from_millis(100));
        let arrived = rx_packets(ns, "b0")? - before;
        println!(
            "send side, {what}: {sent} frames taken, {arrived} arrived on b0; sending thread {cpu:.2} s CPU, ksoftirqd {soft:.2} s: {:.0} ns per frame",
            (cpu + soft) * 1e9 / sent.max(1) as f64
        );
        Ok(())
    };
    measure("sendmmsg (32 a call)", &mut |b| port.send_batch(b).unwrap_or(0))?;
    // The ring on a socket of its own, bound to b1 with protocol 0.
    // SAFETY: plain socket calls; the fd is owned right away.
    let fd = unsafe { OwnedFd::from_raw_fd(libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0)) };
    // SAFETY: sll is a valid sockaddr_ll for the call.
    unsafe {
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = libc::if_nametoindex(c"b1".as_ptr()) as i32;
        anyhow::ensure!(
            libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, std::mem::size_of::<libc::sockaddr_ll>() as u32) == 0,
            "bind the transmit ring's socket"
        );
    }
    let mut ring = crate::tx_ring::TxRing::attach(fd.as_raw_fd(), 4 << 20, 1518)?;
    measure("transmit ring (32 pushed, one flush)", &mut |b| {
        let mut took = 0;
        for f in b {
            // A full ring: flush and wait for the slot (bounded).
            let deadline = Instant::now() + Duration::from_secs(1);
            while !ring.push(f) && Instant::now() < deadline {
                let _ = ring.flush();
                std::thread::yield_now();
            }
            took += 1;
        }
        ring.flush().map(|_| took).unwrap_or(0)
    })?;
    anyhow::ensure!(ring.wrong_format() == 0, "the kernel refused {} frames of the transmit ring as malformed", ring.wrong_format());
    Ok(())
}

pub struct Options {
    pub secs: f64,
    /// Instead of forwarding: compare the two ways to send this many frames.
    pub tx_compare: Option<usize>,
    /// Offered rates, one measurement each (empty: one unpaced run).
    pub rates: Vec<u64>,
    /// Also measure the delay at this rate.
    pub latency_pps: Option<u64>,
}

pub fn run(mut sw: Switch, frames: &[Vec<u8>], o: &Options) -> anyhow::Result<()> {
    let ns = format!("sy-swbench-{}", std::process::id());
    let _guard = NsGuard(ns.clone());
    setup(&ns)?;
    enter(&ns)?;
    if let Some(n) = o.tx_compare {
        return tx_compare(&ns, frames, n);
    }
    let a0 = AfPacketPort::open_with(1, "a0", PortConfig { ring_bytes: None, max_frame: None })?;
    let rates = if o.rates.is_empty() { vec![0] } else { o.rates.clone() };
    for rate in rates {
        sw = one_rate(sw, &ns, frames, &a0, rate, o.secs)?;
    }
    if let Some(pps) = o.latency_pps {
        latency(sw, &ns, frames, &a0, pps, o.secs)?;
    }
    Ok(())
}
