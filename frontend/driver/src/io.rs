//! The I/O seam between the worker loop and a packet driver. DPDK is the
//! production driver; AF_PACKET runs the same engine on any Linux host
//! (and in tests) without DPDK.

/// A received or built frame the engine can rewrite in place.
pub trait Frame {
    fn bytes_mut(&mut self) -> &mut [u8];
}

pub trait FrameIo {
    type Frame: Frame;
    /// Appends up to a burst of received frames to `out`; returns how many.
    fn rx_burst(&mut self, out: &mut Vec<Self::Frame>) -> usize;
    /// Sends and drains `frames`; returns how many left (the rest dropped).
    fn tx_burst(&mut self, frames: &mut Vec<Self::Frame>) -> usize;
    /// A frame holding a copy of `bytes`, or None when buffers ran out.
    fn frame_from(&mut self, bytes: &[u8]) -> Option<Self::Frame>;
    /// Called when a poll found nothing: a polling driver spins on, a
    /// socket driver may sleep briefly in the kernel.
    fn idle(&mut self) {}
    /// Driver statistics for the periodic stats and the exit summary, one
    /// line `driver <name>` + `name value` pairs (the testbed parses it):
    /// what the kernel or NIC dropped before the worker could read it
    /// (AF_PACKET `kernel_rx_drops`, DPDK `imissed` / `rx_nombuf`).
    fn stats_line(&mut self) -> String;
}
