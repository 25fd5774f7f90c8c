//! What the switch's cookie SYN-ACK advertises to clients (the P4 program's
//! `SYNACK_*` defines; switch-sim's tests compare them with these). The
//! front-end and the backend agents translate windows against these values.

/// MSS the switch advertises.
pub const MSS: u16 = 1460;
/// Window scale the switch advertises (only when the client offered one).
pub const WSCALE: u8 = 7;
/// Raw window field of the SYN-ACK.
pub const WINDOW: u16 = 65_535;
/// IP TTL of the SYN-ACK.
pub const TTL: u8 = 64;
/// TCP header length of the SYN-ACK: 20 bytes + a fixed 12-byte option
/// block (MSS; NOP + window scale or 4 NOPs; NOP NOP + SACK-permitted or
/// 4 NOPs). No timestamps.
pub const TCP_HEADER_LEN: usize = 32;
