//! Packet-buffer pools.

use std::ffi::CString;
use std::marker::PhantomData;

use crate::eal::Eal;
use crate::error::DpdkError;

pub struct Mempool<'eal> {
    pub(crate) raw: *mut dpdk_sys::rte_mempool,
    _eal: PhantomData<&'eal Eal>,
}

impl<'eal> Mempool<'eal> {
    /// A pool of `n` mbufs of DPDK's default data size (2 KB + headroom),
    /// enough for one Ethernet frame each; `cache` per-lcore cache size.
    pub fn create(_eal: &'eal Eal, name: &str, n: u32, cache: u32) -> Result<Self, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError { what: "mempool".into(), errno: 22, text: "name contains NUL".into() })?;
        // SAFETY: EAL is up (borrowed); the name is a valid C string.
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
                dpdk_sys::rte_socket_id() as i32,
            )
        };
        if raw.is_null() {
            return Err(DpdkError::from_rte_errno(format!("rte_pktmbuf_pool_create({name}, {n})")));
        }
        Ok(Self { raw, _eal: PhantomData })
    }

    pub fn available(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw) }
    }
}

impl Drop for Mempool<'_> {
    fn drop(&mut self) {
        // SAFETY: the pool outlives every mbuf (they borrow it).
        unsafe { dpdk_sys::rte_mempool_free(self.raw) };
    }
}
