//! An owned packet buffer: freed back to its pool on drop unless it was
//! handed to a transmit queue.

use std::marker::PhantomData;

use crate::mempool::Mempool;

pub struct Mbuf<'pool> {
    raw: *mut dpdk_sys::rte_mbuf,
    _pool: PhantomData<&'pool Mempool<'pool>>,
}

impl<'pool> Mbuf<'pool> {
    /// # Safety
    /// `raw` must be a valid mbuf this value may own.
    pub(crate) unsafe fn from_raw(raw: *mut dpdk_sys::rte_mbuf) -> Self {
        Self { raw, _pool: PhantomData }
    }

    pub(crate) fn into_raw(self) -> *mut dpdk_sys::rte_mbuf {
        let r = self.raw;
        std::mem::forget(self);
        r
    }

    /// A fresh, empty mbuf from `pool`, or None when it is exhausted.
    pub fn alloc(pool: &'pool Mempool<'_>) -> Option<Self> {
        // SAFETY: pool is live.
        let raw = unsafe { dpdk_sys::sy_pktmbuf_alloc(pool.raw) };
        (!raw.is_null()).then(|| unsafe { Self::from_raw(raw) })
    }

    /// The first segment's bytes. Multi-segment mbufs (jumbo frames with
    /// scatter) are not produced by our port setup.
    pub fn data(&self) -> &[u8] {
        // SAFETY: data points at data_len initialised bytes of this mbuf.
        unsafe {
            let p = dpdk_sys::sy_mbuf_data(self.raw) as *const u8;
            std::slice::from_raw_parts(p, usize::from(dpdk_sys::sy_mbuf_data_len(self.raw)))
        }
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we own the mbuf exclusively.
        unsafe {
            let p = dpdk_sys::sy_mbuf_data(self.raw) as *mut u8;
            std::slice::from_raw_parts_mut(p, usize::from(dpdk_sys::sy_mbuf_data_len(self.raw)))
        }
    }

    /// Grows the data by `len` bytes at the end; returns the new bytes, or
    /// None when the buffer has no room.
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        // SAFETY: append returns NULL or a pointer to `len` writable bytes.
        unsafe {
            let p = dpdk_sys::sy_pktmbuf_append(self.raw, len) as *mut u8;
            (!p.is_null()).then(|| std::slice::from_raw_parts_mut(p, usize::from(len)))
        }
    }

    /// Copies `frame` into a fresh mbuf.
    pub fn from_bytes(pool: &'pool Mempool<'_>, frame: &[u8]) -> Option<Self> {
        let mut m = Self::alloc(pool)?;
        m.append(u16::try_from(frame.len()).ok()?)?.copy_from_slice(frame);
        Some(m)
    }

    pub fn segments(&self) -> u16 {
        // SAFETY: reads a field of a live mbuf.
        unsafe { dpdk_sys::sy_mbuf_nb_segs(self.raw) }
    }
}

impl Drop for Mbuf<'_> {
    fn drop(&mut self) {
        // SAFETY: we own it; it goes back to its pool.
        unsafe { dpdk_sys::sy_pktmbuf_free(self.raw) };
    }
}
