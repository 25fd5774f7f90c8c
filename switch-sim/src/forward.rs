//! The forwarding loop of both switch binaries (switchyard-switch-sim and
//! switchyard-p4rt): take one burst from each port (read in place from its
//! receive ring), hand the whole burst to the datapath in one call, and
//! send what it produced with one sendmmsg per egress port; wait in poll
//! only after a round found every port empty (a ring is looked at without
//! a system call, so a busy switch makes none to receive).
//!
//! One call per batch matters for the P4Runtime server, whose switch sits
//! behind the device lock: it locks once per batch (up to `ports::BATCH`
//! frames), not once per packet, so a Write waits at most one batch.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::ports::{poll_readable, AfPacketPort, KernelStats};

/// How long one poll waits, which bounds how late `stop` is noticed and
/// how often `Datapath::after_round` runs on an idle switch.
pub const POLL_MS: i32 = 100;

/// Port numbers are 9 bits in v1model; 511 is the drop port.
const PORT_SPACE: usize = 512;

/// What runs the frames: the switch itself, or the switch behind a lock.
pub trait Datapath {
    /// Runs the frames received on `port` (one batch) through the pipeline
    /// and pushes every frame leaving on a front-panel port into `out`.
    fn process<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, out: &mut OutBatch);

    /// Called after every poll round, with traffic or not (at least every
    /// `POLL_MS`): clocks, digests, idle timeouts.
    fn after_round(&mut self) {}
}

/// The bare switch: every output goes to its egress port (a CPU port, if
/// any, is treated like the others; the binaries handle it themselves).
impl Datapath for crate::Switch {
    fn process<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, out: &mut OutBatch) {
        for frame in frames {
            if let Some(egress) = self.process_ref(port, frame) {
                out.push(egress, self.output());
            }
        }
    }
}

/// The frames one batch produced, copied into one reused buffer.
#[derive(Default)]
pub struct OutBatch {
    data: Vec<u8>,
    /// (egress port, start in data, length), in production order.
    frames: Vec<(u16, usize, usize)>,
}

impl OutBatch {
    pub fn push(&mut self, port: u16, frame: &[u8]) {
        self.frames.push((port, self.data.len(), frame.len()));
        self.data.extend_from_slice(frame);
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }
}

/// Frame counts of one `run`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    /// Taken by the kernel on an egress socket.
    pub sent: u64,
    /// Refused by a full socket queue or a send error.
    pub send_dropped: u64,
    /// Sent by the program to a port no interface is bound to.
    pub no_interface: u64,
    /// What the kernel counted on each port's socket (filled when the
    /// stats are printed and at the end of `run`).
    pub ports: Vec<PortStats>,
}

/// One port as the kernel sees its socket.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PortStats {
    pub port: u16,
    pub name: String,
    /// PACKET_STATISTICS since the port was opened: `drops` are frames that
    /// arrived while the socket's receive queue was full, lost before the
    /// switch could read them.
    pub kernel: KernelStats,
    /// Buffer sizes as the kernel reports them (twice the value set).
    pub rcvbuf: usize,
    pub sndbuf: usize,
    /// Frames the receive ring holds (0: no ring) and the longest it
    /// takes whole.
    pub rx_ring_slots: usize,
    pub max_frame: usize,
    /// Frames longer than `max_frame`: cut by the kernel, dropped.
    pub rx_truncated: u64,
}

impl Stats {
    /// Frames the kernel dropped on full receive queues, every port.
    pub fn kernel_rx_drops(&self) -> u64 {
        self.ports.iter().map(|p| p.kernel.drops).sum()
    }

    /// Frames the kernel offered the ports (dropped ones included).
    pub fn kernel_rx(&self) -> u64 {
        self.ports.iter().map(|p| p.kernel.packets).sum()
    }

    /// Frames too long for their port's ring slots, every port.
    pub fn rx_truncated(&self) -> u64 {
        self.ports.iter().map(|p| p.rx_truncated).sum()
    }

    fn read_ports(&mut self, ports: &mut [AfPacketPort]) {
        self.ports = ports
            .iter_mut()
            .map(|p| {
                let b = p.buffers();
                PortStats {
                    port: p.port,
                    name: p.name.clone(),
                    kernel: p.kernel_stats(),
                    rcvbuf: b.rcvbuf,
                    sndbuf: b.sndbuf,
                    rx_ring_slots: p.ring_slots(),
                    max_frame: p.max_frame(),
                    rx_truncated: p.rx_truncated(),
                }
            })
            .collect();
    }
}

/// The stats line both binaries print (`switch stats: ` + this), one
/// segment per port after ` | `; the testbed parses it
/// (`switchyard_testbed::lb::parse_switch_stats`), so keep it `name value`
/// pairs.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received {} sent {} send_dropped {} no_interface {} kernel_rx {} kernel_rx_drops {} rx_truncated {}",
            self.received,
            self.sent,
            self.send_dropped,
            self.no_interface,
            self.kernel_rx(),
            self.kernel_rx_drops(),
            self.rx_truncated()
        )?;
        for p in &self.ports {
            write!(
                f,
                " | port {} ({}): kernel_rx {} kernel_rx_drops {} rx_truncated {} rcvbuf {} sndbuf {} rx_ring_slots {} max_frame {}",
                p.port, p.name, p.kernel.packets, p.kernel.drops, p.rx_truncated, p.rcvbuf, p.sndbuf, p.rx_ring_slots, p.max_frame
            )?;
        }
        Ok(())
    }
}

/// How `run_with` reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options {
    /// Print `switch stats: <Stats>` on stderr this often (checked after
    /// every poll round, so at most `POLL_MS` late).
    pub stats_every: Option<Duration>,
}

/// Forwards between `ports` until `stop` is set. Errors: a failing poll or
/// recvmmsg (an interface that disappeared); send errors are counted and the
/// first one per port is logged. The returned stats include every port's
/// kernel counts at the end.
pub fn run(ports: &mut [AfPacketPort], dp: &mut impl Datapath, stop: &AtomicBool) -> io::Result<Stats> {
    run_with(ports, dp, stop, Options::default())
}

/// `run`, printing the stats line as `opts` asks.
pub fn run_with(ports: &mut [AfPacketPort], dp: &mut impl Datapath, stop: &AtomicBool, opts: Options) -> io::Result<Stats> {
    let mut by_number: Vec<Option<usize>> = vec![None; PORT_SPACE];
    for (i, p) in ports.iter().enumerate() {
        by_number[usize::from(p.port) % PORT_SPACE] = Some(i);
    }
    let fds: Vec<i32> = ports.iter().map(|p| p.raw_fd()).collect();
    let mut warned = vec![false; PORT_SPACE];
    let mut stats = Stats::default();
    let mut out = OutBatch::default();
    let mut last_stats = Instant::now();
    // Which ports to look at this round: all of them after a round that
    // found frames (a ring is looked at for free), else those poll says.
    let mut ready = vec![true; ports.len()];
    while !stop.load(Ordering::Relaxed) {
        let mut found = false;
        for i in (0..ports.len()).filter(|i| ready[*i]) {
            let port = ports[i].port;
            let n = ports[i].receive(|frames| dp.process(port, frames, &mut out))?;
            stats.received += n as u64;
            found |= n > 0;
            // Stable sort: frames to one port keep their order.
            out.frames.sort_by_key(|f| f.0);
            for run in out.frames.chunk_by(|a, b| a.0 == b.0) {
                let egress = run[0].0;
                let Some(&Some(to)) = by_number.get(usize::from(egress)) else {
                    stats.no_interface += run.len() as u64;
                    if !std::mem::replace(&mut warned[usize::from(egress) % PORT_SPACE], true) {
                        eprintln!("switch-sim: egress port {egress} has no interface; its frames are dropped");
                    }
                    continue;
                };
                let group: Vec<&[u8]> = run.iter().map(|(_, s, n)| &out.data[*s..*s + *n]).collect();
                match ports[to].send_batch(&group) {
                    Ok(n) => {
                        stats.sent += n as u64;
                        stats.send_dropped += (run.len() - n) as u64;
                    }
                    Err(e) => {
                        stats.send_dropped += run.len() as u64;
                        if !std::mem::replace(&mut warned[usize::from(egress) % PORT_SPACE], true) {
                            eprintln!("switch-sim: send on {}: {e}", ports[to].name);
                        }
                    }
                }
            }
            out.clear();
        }
        dp.after_round();
        if let Some(every) = opts.stats_every {
            if last_stats.elapsed() >= every {
                last_stats = Instant::now();
                stats.read_ports(ports);
                eprintln!("switch stats: {stats}");
            }
        }
        if found {
            ready.iter_mut().for_each(|r| *r = true);
        } else {
            ready = poll_readable(&fds, POLL_MS)?;
        }
    }
    stats.read_ports(ports);
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stats_line_is_name_value_pairs_per_port() {
        let mut s = Stats { received: 10, sent: 9, send_dropped: 1, no_interface: 0, ports: Vec::new() };
        assert_eq!(s.to_string(), "received 10 sent 9 send_dropped 1 no_interface 0 kernel_rx 0 kernel_rx_drops 0 rx_truncated 0");
        let port = |port, name: &str, packets, drops, rx_truncated| PortStats {
            port,
            name: name.into(),
            kernel: KernelStats { packets, drops },
            rcvbuf: 64,
            sndbuf: 32,
            rx_ring_slots: 10240,
            max_frame: 1518,
            rx_truncated,
        };
        s.ports = vec![port(1, "s-cli", 4, 0, 0), port(10, "s-b0", 8, 2, 1)];
        assert_eq!((s.kernel_rx(), s.kernel_rx_drops(), s.rx_truncated()), (12, 2, 1));
        assert_eq!(
            s.to_string(),
            "received 10 sent 9 send_dropped 1 no_interface 0 kernel_rx 12 kernel_rx_drops 2 rx_truncated 1 \
             | port 1 (s-cli): kernel_rx 4 kernel_rx_drops 0 rx_truncated 0 rcvbuf 64 sndbuf 32 rx_ring_slots 10240 max_frame 1518 \
             | port 10 (s-b0): kernel_rx 8 kernel_rx_drops 2 rx_truncated 1 rcvbuf 64 sndbuf 32 rx_ring_slots 10240 max_frame 1518"
        );
    }
}
