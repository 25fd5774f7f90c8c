//! FrameIo over a DPDK port (queue 0) and its mempool.

use switchyard_dpdk::port::MAX_BURST;
use switchyard_dpdk::{Mbuf, Mempool, Port};

use crate::io::{Frame, FrameIo};

impl Frame for Mbuf<'_> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.data_mut()
    }
}

pub struct DpdkIo<'a, 'eal> {
    pub port: &'a Port<'eal>,
    pub pool: &'a Mempool<'eal>,
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

    fn stats_line(&self) -> String {
        match self.port.stats() {
            Ok(s) => format!("dpdk port {}: {s:?}", self.port.id),
            Err(e) => format!("dpdk port {}: {e}", self.port.id),
        }
    }
}
