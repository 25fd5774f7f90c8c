//! What the bench reads around each run: the load balancer's CPU time,
//! backend TCP retransmissions (nstat), the switch's kernel drops.
//! Every reader returns `None` when it could not read: the report prints
//! "n/a", never a zero it did not measure.


use switchyard_testbed::Netns;

/// CPU time of a set of processes (every thread of each).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    /// utime + stime from /proc/<pid>/stat, in clock ticks (USER_HZ, 100/s).
    pub ticks: u64,
    /// Time on CPU from /proc/<pid>/task/*/schedstat, nanoseconds (precise;
    /// threads that already exited are not in it).
    pub sched_ns: u64,
}

/// Children of `pid` (by the ppid field of /proc/*/stat).
pub fn children(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return v };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if let Some(f) = stat_fields(p) {
            // fields after the comm: state ppid ...
            if f.get(1).and_then(|s| s.parse::<u32>().ok()) == Some(pid) {
                v.push(p);
            }
        }
    }
    v
}

/// The fields of /proc/<pid>/stat after `(comm)`: index 0 is the state
/// (field 3 of proc(5)), so utime (field 14) is index 11.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The CPU time of `pids` so far; `None` if any of them is gone.
pub fn cpu(pids: &[u32]) -> Option<Cpu> {
    let mut c = Cpu::default();
    for &pid in pids {
        let f = stat_fields(pid)?;
        let ut: u64 = f.get(11)?.parse().ok()?;
        let st: u64 = f.get(12)?.parse().ok()?;
        c.ticks += ut + st;
        for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                c.sched_ns += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    Some(c)
}

/// On-CPU nanoseconds of every thread of `pids`, summed by thread name
/// (`/proc/<pid>/task/<tid>/comm`): where a process's time goes (the
/// front-end: its worker `switchyard-fron…` and its control runtime
/// `sy-control`).
pub fn cpu_by_thread(pids: &[u32]) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for &pid in pids {
        let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for t in rd.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default().trim().to_string();
            let ns = std::fs::read_to_string(t.path().join("schedstat")).ok().and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok()).unwrap_or(0);
            *m.entry(comm).or_default() += ns;
        }
    }
    m
}

/// `(TcpRetransSegs, TcpOutSegs)` of a namespace, absolute (nstat -asz:
/// no history file is read or written).
pub fn tcp_retrans(ns: &Netns) -> Option<(u64, u64)> {
    let m = switchyard_testbed::tcpstat::segments(ns).ok()?;
    Some((*m.get("TcpRetransSegs")?, *m.get("TcpOutSegs")?))
}

/// The kernel's drop count summed over every packet socket in the switch
/// namespace (`ss -f link -a -m`, the `d` field of `skmem`): frames the
/// kernel dropped because switch-sim's receive buffer was full.
pub fn packet_socket_drops(ns: &Netns) -> Option<u64> {
    let out = ns.exec(&["ss", "-f", "link", "-a", "-m", "-n"]).ok()?;
    parse_skmem_drops(&out)
}

pub fn parse_skmem_drops(ss: &str) -> Option<u64> {
    let mut total = None;
    for part in ss.split("skmem:(").skip(1) {
        let inner = part.split(')').next()?;
        for f in inner.split(',') {
            if let Some(d) = f.strip_prefix('d') {
                *total.get_or_insert(0) += d.parse::<u64>().ok()?;
            }
        }
    }
    total
}

/// Totals from switch-sim's latest `switch stats:` line (when this
/// switch-sim prints one): `kernel_rx_drops` and `send_dropped`.
pub fn switch_sim_drops(log: &str) -> Option<(u64, u64)> {
    let line = log.lines().filter_map(|l| l.split_once("switch stats: ").map(|(_, r)| r)).last()?;
    let totals = line.split(" | ").next()?;
    let w: Vec<&str> = totals.split_whitespace().collect();
    let get = |k: &str| w.chunks(2).find(|c| c[0] == k).and_then(|c| c.get(1)?.parse::<u64>().ok());
    Some((get("kernel_rx_drops")?, get("send_dropped")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu() {
        let me = std::process::id();
        let a = cpu(&[me]).unwrap();
        // Spin until 30 ms of CPU show up (bounded: a loaded machine gives
        // this thread only a share of the wall clock).
        let t = std::time::Instant::now();
        let mut x = 0u64;
        let mut b = a;
        while b.sched_ns < a.sched_ns + 30_000_000 && t.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
            b = cpu(&[me]).unwrap();
        }
        assert!(b.sched_ns >= a.sched_ns + 30_000_000, "{a:?} {b:?} {x}");
        assert!(cpu(&[u32::MAX - 1]).is_none());
        let t = cpu_by_thread(&[me]);
        assert!(!t.is_empty() && t.values().sum::<u64>() > 0, "{t:?}");
    }

    #[test]
    fn parses_drops() {
        let ss = "p_raw UNCONN 0 0 *:s-cli * \n\t skmem:(r0,rb33554432,t0,tb212992,f0,w0,o0,bl0,d7)\np_raw UNCONN 0 0 *:s-b0 *\n\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d55613)\n";
        assert_eq!(parse_skmem_drops(ss), Some(55620));
        assert_eq!(parse_skmem_drops("nothing"), None);
        let log = "x\nswitch stats: received 10 sent 9 send_dropped 1 no_interface 0 kernel_rx 12 kernel_rx_drops 2 | port 1 (s-cli): kernel_rx 4 kernel_rx_drops 0\n";
        assert_eq!(switch_sim_drops(log), Some((2, 1)));
        assert_eq!(switch_sim_drops("none"), None);
    }
}
