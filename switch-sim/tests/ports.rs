//! The ports' receive ring over veth (root only): p4/switchyard.p4 routes
//! frames from port 1 (a1) to port 2 (b1) through the binaries' forwarding
//! loop, in a private namespace. Every frame is accounted for: those the
//! kernel offered port 1 = those the switch received + the ring's counted
//! drops (full, or cut to its slot), and those received = those sent on
//! port 2 + those its queue refused; what arrives on b0 is what was sent.

#[path = "common/netns.rs"]
mod netns;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netns::Netns;
use switchyard_switch_sim::forward::{self, Datapath, OutBatch, Stats};
use switchyard_switch_sim::ports::{AfPacketPort, PortConfig, MAX_FRAME};
use switchyard_switch_sim::{FieldMatch, Switch, TableEntry};
use switchyard_wire::checksum;

const ROUTED_TO: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 9);

/// A TCP ACK from 198.18.0.2 to ROUTED_TO:22 of exactly `len` bytes
/// (payload bytes `seq as u8`), checksums valid: the routed path.
fn routed_frame(len: usize, seq: u32) -> Vec<u8> {
    let src = Ipv4Addr::new(198, 18, 0, 2);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 1, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[8, 0]);
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[20] = 0x40; // DF
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&src.octets());
    f[30..34].copy_from_slice(&ROUTED_TO.octets());
    let c = checksum::finish(checksum::sum(&f[14..34]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&22u16.to_be_bytes());
    f[38..42].copy_from_slice(&seq.to_be_bytes());
    f[46] = 5 << 4;
    f[47] = 0x10; // ACK
    f[48..50].copy_from_slice(&1000u16.to_be_bytes());
    f[54..].fill(seq as u8);
    let l4 = ip_len - 20;
    let c = checksum::finish(checksum::add(checksum::pseudo_header_v4(src, ROUTED_TO, 6, l4), checksum::sum(&f[34..])));
    f[50..52].copy_from_slice(&c.to_be_bytes());
    f
}

fn switch() -> Switch {
    let mut sw = Switch::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../p4/switchyard.p4").as_ref(), &[]).expect("switchyard.p4 loads");
    let route = TableEntry {
        matches: vec![FieldMatch::Lpm { value: u32::from(ROUTED_TO).into(), prefix_len: 24 }],
        action: "route".into(),
        params: vec![2, 0x0200_0000_0101, 0x0200_0000_0055],
        priority: 0,
        idle_timeout_ns: 0,
    };
    sw.insert("ipv4_route", &route).unwrap();
    sw
}

/// The switch with a gate: the first burst waits inside the datapath until
/// the gate opens, holding its ring slots, so the ring fills.
struct Gated {
    sw: Switch,
    open: Arc<AtomicBool>,
}

impl Datapath for Gated {
    fn process<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, out: &mut OutBatch) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.open.load(Ordering::Acquire) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        Datapath::process(&mut self.sw, port, frames, out);
    }
}

/// A forwarding thread on a1 (port 1) and b1 (port 2) of the namespace the
/// caller is in; stop it with the flag, join for its counts.
fn spawn_forwarder(mut dp: impl Datapath + Send + 'static, cfg: PortConfig, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Stats> {
    let mut ports = [AfPacketPort::open_with(1, "a1", cfg).unwrap(), AfPacketPort::open_with(2, "b1", cfg).unwrap()];
    std::thread::spawn(move || forward::run(&mut ports, &mut dp, &stop).unwrap())
}

/// Sends every frame on `tx` (sendmmsg batches; a batch the veth refused
/// in part is retried, bounded by 5 s): all of them are offered.
fn offer(tx: &AfPacketPort, frames: &[Vec<u8>]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut done = 0;
    while done < frames.len() {
        assert!(Instant::now() < deadline, "only {done} of {} frames offered", frames.len());
        let end = (done + 32).min(frames.len());
        done += tx.send_batch(&frames[done..end]).unwrap_or(0);
        if done < end {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Collects routed frames arriving on `rx` until `want` came or `within`
/// passed, then keeps looking 100 ms for extra ones.
fn collect(rx: &mut AfPacketPort, want: usize, within: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + within;
    let mut settle: Option<Instant> = None;
    loop {
        let n = rx
            .recv_batch(|f| {
                if f.len() >= 54 && f[30..34] == ROUTED_TO.octets() {
                    got.push(f.to_vec());
                }
            })
            .unwrap();
        if got.len() >= want && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_millis(100));
        }
        if settle.is_some_and(|s| Instant::now() > s) || Instant::now() > deadline {
            return got;
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// What the switch does to a routed frame: new MACs, TTL 63, IPv4
/// checksum updated; the rest (TCP, payload) unchanged.
fn assert_routed(got: &[u8], sent: &[u8]) {
    assert_eq!(got.len(), sent.len());
    assert_eq!(got[0..6], [2, 0, 0, 0, 0, 0x55]);
    assert_eq!(got[22], 63);
    assert_eq!(checksum::finish(checksum::sum(&got[14..34])), 0, "IPv4 checksum");
    assert!(got[34..] == sent[34..], "TCP header and payload unchanged");
}

fn ring_config(bytes: usize) -> PortConfig {
    PortConfig { ring_bytes: Some(bytes), max_frame: None }
}

/// A bounded burst of mixed sizes, smaller than the ring: all of it is
/// forwarded, in order, none dropped, and the counts add up exactly.
#[test]
#[ignore = "needs root: network namespace, veth, AF_PACKET"]
fn a_burst_crosses_the_ring_with_exact_counts() {
    let ns = Netns::new("ports-burst");
    ns.veth("a0", "a1", None);
    ns.veth("b0", "b1", None);
    ns.enter();
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = spawn_forwarder(switch(), ring_config(16 << 20), stop.clone());
    let tx = AfPacketPort::open_with(1, "a0", PortConfig { ring_bytes: None, max_frame: None }).unwrap();
    let mut rx = AfPacketPort::open_with(2, "b0", ring_config(16 << 20)).unwrap();
    const N: usize = 5000;
    let frames: Vec<Vec<u8>> = (0..N).map(|i| routed_frame([60, 118, 590, 1514][i % 4], i as u32)).collect();
    offer(&tx, &frames);
    let got = collect(&mut rx, N, Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let st = fwd.join().unwrap();
    let (p1, p2) = (&st.ports[0], &st.ports[1]);
    assert!(p1.rx_ring_slots >= N, "{st}");
    assert_eq!(p1.max_frame, 1518, "MTU 1500 + Ethernet header + a VLAN tag: {st}");
    assert_eq!(p1.kernel.packets, N as u64, "port 1 offered exactly the burst: {st}");
    assert_eq!(st.received + p1.kernel.drops + p1.rx_truncated, p1.kernel.packets, "{st}");
    assert_eq!(st.sent + st.send_dropped + st.no_interface, st.received, "{st}");
    assert_eq!((p1.kernel.drops, p1.rx_truncated, st.send_dropped), (0, 0, 0), "a burst within the ring loses nothing: {st}");
    assert_eq!(p2.kernel.packets, 0, "b1 saw nothing but its own sends (ignored): {st}");
    assert_eq!(got.len(), N, "{st}");
    for (g, s) in got.iter().zip(&frames) {
        assert_routed(g, s);
    }
}

/// Jumbo frames up to MAX_FRAME cross whole when the MTU allows them; one
/// longer than the port's largest frame arrives cut, is counted as
/// `rx_truncated` and not forwarded.
#[test]
#[ignore = "needs root: network namespace, veth, AF_PACKET"]
fn jumbo_frames_cross_whole_and_longer_ones_are_counted() {
    let ns = Netns::new("ports-jumbo");
    // An MTU that lets a MAX_FRAME frame in (9238 - 14), and the sender's
    // large enough to send a frame 4 bytes longer (veth admits MTU + 18).
    let mtu = (MAX_FRAME - 14) as u32;
    ns.veth("a0", "a1", Some(mtu));
    ns.veth("b0", "b1", Some(mtu));
    ns.mtu("a0", mtu + 100);
    ns.enter();
    let stop = Arc::new(AtomicBool::new(false));
    let fwd = spawn_forwarder(switch(), ring_config(4 << 20), stop.clone());
    let tx = AfPacketPort::open_with(1, "a0", PortConfig { ring_bytes: None, max_frame: None }).unwrap();
    let mut rx = AfPacketPort::open_with(2, "b0", ring_config(4 << 20)).unwrap();
    assert_eq!(rx.max_frame(), MAX_FRAME);
    let sizes = [MAX_FRAME, 60, 9000, 1514, 4000, MAX_FRAME];
    let frames: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| routed_frame(*n, i as u32)).collect();
    offer(&tx, &frames);
    offer(&tx, &[routed_frame(MAX_FRAME + 4, 99)]);
    let got = collect(&mut rx, frames.len(), Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let st = fwd.join().unwrap();
    let p1 = &st.ports[0];
    assert_eq!(p1.max_frame, MAX_FRAME, "{st}");
    assert_eq!(p1.kernel.packets, frames.len() as u64 + 1, "{st}");
    assert_eq!((p1.rx_truncated, p1.kernel.drops), (1, 0), "{st}");
    assert_eq!((st.received, st.sent), (frames.len() as u64, frames.len() as u64), "{st}");
    assert_eq!(got.len(), frames.len(), "{st}");
    for (g, s) in got.iter().zip(&frames) {
        assert_routed(g, s);
    }
}

/// A ring that fills while the switch is held drops the rest, and the
/// kernel's count of those drops is reported: exactly the ring's slots are
/// forwarded and every other frame is a counted drop.
#[test]
#[ignore = "needs root: network namespace, veth, AF_PACKET"]
fn a_full_ring_drops_are_counted() {
    let ns = Netns::new("ports-full");
    ns.veth("a0", "a1", None);
    ns.veth("b0", "b1", None);
    ns.enter();
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicBool::new(false));
    // One 64 KiB block: 40 slots of 1,600 bytes.
    let fwd = spawn_forwarder(Gated { sw: switch(), open: open.clone() }, ring_config(64 << 10), stop.clone());
    let tx = AfPacketPort::open_with(1, "a0", PortConfig { ring_bytes: None, max_frame: None }).unwrap();
    let mut rx = AfPacketPort::open_with(2, "b0", ring_config(4 << 20)).unwrap();
    const SLOTS: usize = 40;
    const N: usize = 300;
    let frames: Vec<Vec<u8>> = (0..N).map(|i| routed_frame(118, i as u32)).collect();
    offer(&tx, &frames);
    std::thread::sleep(Duration::from_millis(100));
    open.store(true, Ordering::Release);
    let got = collect(&mut rx, SLOTS, Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let st = fwd.join().unwrap();
    let p1 = &st.ports[0];
    assert_eq!(p1.rx_ring_slots, SLOTS, "{st}");
    assert_eq!(p1.kernel.packets, N as u64, "{st}");
    assert_eq!(st.received, SLOTS as u64, "the ring holds its slots, the held burst included: {st}");
    assert_eq!(p1.kernel.drops, (N - SLOTS) as u64, "every other frame is a counted drop: {st}");
    assert_eq!(st.sent, SLOTS as u64, "{st}");
    assert_eq!(got.len(), SLOTS, "{st}");
    // The frames that got in are the first ones, in order.
    for (g, s) in got.iter().zip(&frames) {
        assert_routed(g, s);
    }
}
