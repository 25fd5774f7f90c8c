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
    /// Called when a poll found nothing and nothing else is due: a socket
    /// driver blocks until a frame arrives, `wake` is readable (the control
    /// thread's bell, which the driver then leaves to the worker) or
    /// `timeout` passes; a polling driver (DPDK) returns at once and the
    /// worker backs off itself.
    fn idle(&mut self, _wake: std::os::fd::RawFd, _timeout: std::time::Duration) {}
    /// Whether `idle` blocks (a socket driver); false: the worker backs off
    /// itself after a run of empty polls.
    fn can_block(&self) -> bool {
        false
    }
    /// A received frame the worker is done with (consumed or dropped by the
    /// engine): a driver may reuse its buffer.
    fn recycle(&mut self, frame: Self::Frame) {
        drop(frame);
    }
    /// Driver statistics for the periodic stats and the exit summary, one
    /// line `driver <name>` + `name value` pairs (the testbed parses it):
    /// what the kernel or NIC dropped before the worker could read it
    /// (AF_PACKET `kernel_rx_drops`, DPDK `imissed` / `rx_nombuf`).
    fn stats_line(&mut self) -> String;
}
