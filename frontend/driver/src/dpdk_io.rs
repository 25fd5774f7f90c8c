//! FrameIo over a DPDK port (queue 0) and its mempool.

use switchyard_dpdk::port::MAX_BURST;
use switchyard_dpdk::{Mbuf, Mempool, Port};

use switchyard_afpacket::KernelCounter;

use crate::io::{Frame, FrameIo};

impl Frame for Mbuf<'_> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.data_mut()
    }
}

pub struct DpdkIo<'a, 'eal> {
    pub port: &'a Port<'eal>,
    pub pool: &'a Mempool<'eal>,
    /// With `net_af_packet` (the testbed): the PMD's own AF_PACKET sockets,
    /// whose kernel drops DPDK 22.11 does not put in `imissed`.
    kernel: Vec<(i32, KernelCounter)>,
}

impl<'a, 'eal> DpdkIo<'a, 'eal> {
    /// Call after the port started: the AF_PACKET sockets the process then
    /// holds are the PMD's (none on a PCI NIC).
    pub fn new(port: &'a Port<'eal>, pool: &'a Mempool<'eal>) -> Self {
        let kernel = switchyard_afpacket::own_packet_sockets().into_iter().map(|fd| (fd, KernelCounter::default())).collect();
        Self { port, pool, kernel }
    }
}

impl<'a, 'eal> FrameIo for DpdkIo<'a, 'eal> {
    type Frame = Mbuf<'a>;

    fn rx_burst(&mut self, out: &mut Vec<Mbuf<'a>>) -> usize {
        if out.capacity() - out.len() < MAX_BURST {
            out.reserve(MAX_BURST);
        }
        self.port.rx_burst(0, out)
    }

    fn tx_burst(&mut self, frames: &mut Vec<Mbuf<'a>>) -> usize {
        self.port.tx_burst(0, frames)
    }

    fn frame_from(&mut self, bytes: &[u8]) -> Option<Mbuf<'a>> {
        Mbuf::from_bytes(self.pool, bytes)
    }

    fn stats_line(&mut self) -> String {
        let kernel = if self.kernel.is_empty() {
            String::new()
        } else {
            let (rx, drops) = self.kernel.iter_mut().map(|(fd, c)| c.update(*fd)).fold((0, 0), |(r, d), k| (r + k.packets, d + k.drops));
            format!(" kernel_rx {rx} kernel_rx_drops {drops}")
        };
        let line = match self.port.stats() {
            // imissed: dropped by the port for want of room in its rx ring
            // (net_af_packet: the kernel's drops on its socket); rx_nombuf:
            // no mbuf in the pool to receive into.
            Ok(s) => format!(
                "driver dpdk port {} rx_packets {} tx_packets {} imissed {} rx_nombuf {} ierrors {} oerrors {}",
                self.port.id, s.rx_packets, s.tx_packets, s.rx_missed, s.rx_nombuf, s.rx_errors, s.tx_errors
            ),
            Err(e) => format!("driver dpdk port {} (stats: {e})", self.port.id),
        };
        line + &kernel
    }
}
