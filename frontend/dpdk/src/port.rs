//! Ethernet ports: configuration, start/stop, bursts, statistics.

use std::ffi::CString;
use std::marker::PhantomData;

use crate::eal::Eal;
use crate::error::{check, DpdkError};
use crate::mbuf::Mbuf;
use crate::mempool::Mempool;

/// Largest burst we move at once: DPDK's customary 32 amortises the
/// per-call cost without holding packets long.
pub const MAX_BURST: usize = 32;

#[derive(Debug, Clone, Copy)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        Self { rx_queues: 1, tx_queues: 1, rx_desc: 1024, tx_desc: 1024, promiscuous: true }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

pub struct Port<'eal> {
    pub id: u16,
    started: bool,
    _eal: PhantomData<&'eal Eal>,
}

impl<'eal> Port<'eal> {
    /// The port DPDK registered under `name` (a PCI address or a vdev name
    /// such as `net_af_packet0`).
    pub fn by_name(_eal: &'eal Eal, name: &str) -> Result<Self, DpdkError> {
        let c = CString::new(name).map_err(|_| DpdkError { what: "port".into(), errno: 22, text: "name contains NUL".into() })?;
        let mut id = 0u16;
        // SAFETY: valid C string and out-pointer.
        check(&format!("rte_eth_dev_get_port_by_name({name})"), unsafe {
            dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id)
        })?;
        Ok(Self { id, started: false, _eal: PhantomData })
    }

    /// Configures queues (all fed from `pool`) and starts the port.
    pub fn start(&mut self, cfg: PortConfig, pool: &Mempool<'_>) -> Result<(), DpdkError> {
        let conf = dpdk_sys::rte_eth_conf::default();
        // SAFETY: port id is valid; conf is a zeroed default configuration.
        unsafe {
            check("rte_eth_dev_configure", dpdk_sys::rte_eth_dev_configure(self.id, cfg.rx_queues, cfg.tx_queues, &conf))?;
            let socket = dpdk_sys::rte_eth_dev_socket_id(self.id).max(0) as u32;
            for q in 0..cfg.rx_queues {
                check("rte_eth_rx_queue_setup", dpdk_sys::rte_eth_rx_queue_setup(self.id, q, cfg.rx_desc, socket, std::ptr::null(), pool.raw))?;
            }
            for q in 0..cfg.tx_queues {
                check("rte_eth_tx_queue_setup", dpdk_sys::rte_eth_tx_queue_setup(self.id, q, cfg.tx_desc, socket, std::ptr::null()))?;
            }
            check("rte_eth_dev_start", dpdk_sys::rte_eth_dev_start(self.id))?;
            self.started = true;
            if cfg.promiscuous {
                check("rte_eth_promiscuous_enable", dpdk_sys::rte_eth_promiscuous_enable(self.id))?;
            }
        }
        Ok(())
    }

    pub fn mac(&self) -> Result<[u8; 6], DpdkError> {
        let mut a = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port and out-pointer.
        check("rte_eth_macaddr_get", unsafe { dpdk_sys::rte_eth_macaddr_get(self.id, &mut a) })?;
        Ok(a.addr_bytes)
    }

    /// Receives up to `out`'s spare capacity (at most MAX_BURST) packets.
    pub fn rx_burst<'p>(&self, queue: u16, out: &mut Vec<Mbuf<'p>>) -> usize {
        let mut raw = [std::ptr::null_mut(); MAX_BURST];
        let want = (out.capacity() - out.len()).min(MAX_BURST) as u16;
        // SAFETY: raw has room for `want` pointers.
        let n = unsafe { dpdk_sys::sy_rx_burst(self.id, queue, raw.as_mut_ptr(), want) };
        for &m in &raw[..usize::from(n)] {
            // SAFETY: DPDK hands us ownership of each received mbuf.
            out.push(unsafe { Mbuf::from_raw(m) });
        }
        usize::from(n)
    }

    /// Transmits the packets; those the queue did not take are dropped
    /// (freed). Returns how many were sent.
    pub fn tx_burst(&self, queue: u16, pkts: &mut Vec<Mbuf<'_>>) -> usize {
        let mut sent = 0;
        while !pkts.is_empty() {
            let n = pkts.len().min(MAX_BURST);
            let mut raw: Vec<*mut dpdk_sys::rte_mbuf> = pkts.drain(..n).map(Mbuf::into_raw).collect();
            // SAFETY: raw holds n owned mbufs; the queue takes ownership of
            // the first `k` it accepts.
            let k = usize::from(unsafe { dpdk_sys::sy_tx_burst(self.id, queue, raw.as_mut_ptr(), n as u16) });
            sent += k;
            for &m in &raw[k..] {
                // SAFETY: not taken by the queue; we still own them.
                drop(unsafe { Mbuf::from_raw(m) });
            }
        }
        sent
    }

    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port and out-pointer.
        check("rte_eth_stats_get", unsafe { dpdk_sys::rte_eth_stats_get(self.id, &mut s) })?;
        Ok(PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }
}

impl Drop for Port<'_> {
    fn drop(&mut self) {
        if self.started {
            // SAFETY: valid, started port.
            unsafe {
                dpdk_sys::rte_eth_dev_stop(self.id);
                dpdk_sys::rte_eth_dev_close(self.id);
            }
        }
    }
}
