//! The MAC addresses of the frames the fixture tests, the benchmark and the
//! end-to-end peer build. Frames are built with `wire::frame::FrameRepr`
//! and checked with `wire::frame::TcpFrame` (`check_checksums` recomputes
//! both checksums from scratch): the agent's user space has no frame code
//! of its own.

pub const CLIENT_MAC: [u8; 6] = [0x02, 0x53, 0x59, 0, 0, 1];
pub const BACKEND_MAC: [u8; 6] = [0x02, 0x53, 0x59, 0, 0, 2];
