//! The server's front-panel ports: switch-sim's AF_PACKET ports and
//! forwarding loop (`switch_sim::forward`) on one thread, with the device as
//! the datapath, locked once per received batch. PacketOut frames, injected
//! by the gRPC side, leave through the same sockets. Needs root (CAP_NET_RAW).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use switchyard_switch_sim::forward::{self, Datapath, Options, OutBatch, Stats};
use switchyard_switch_sim::ports::{AfPacketPort, PortSender};

use crate::Server;

impl Datapath for Server {
    fn process<'a>(&mut self, port: u16, frames: impl Iterator<Item = &'a [u8]>, out: &mut OutBatch) {
        self.device().inject_batch(port, frames, |egress, frame| out.push(egress, frame));
    }
}

/// Sends PacketOut results on the ports and starts the forwarding thread,
/// which runs until `stop` is set and returns the loop's counts (printing
/// them as `opts` asks).
pub fn spawn(server: Server, mut ports: Vec<AfPacketPort>, stop: Arc<AtomicBool>, opts: Options) -> io::Result<JoinHandle<io::Result<Stats>>> {
    let senders: HashMap<u16, PortSender> = ports.iter().map(|p| (p.port, p.sender())).collect();
    server.device().set_egress(Box::new(move |port, frame| {
        if let Some(tx) = senders.get(&port) {
            // A PacketOut to a full queue is lost, as on a NIC.
            let _ = tx.send_batch(&[frame]);
        }
    }));
    std::thread::Builder::new().name("forward".into()).spawn(move || {
        let mut dp = server;
        forward::run_with(&mut ports, &mut dp, &stop, opts)
    })
}
