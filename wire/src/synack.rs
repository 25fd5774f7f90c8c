//! What the switch's cookie SYN-ACK advertises to clients (the P4 program's
//! `SYNACK_*` defines; switch-sim's tests compare them with these). The
//! front-end and the backend agents translate windows against these values.

use crate::tcp_option::{SynOptions, TcpOption};

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

/// The SYN-ACK's fixed 12-byte option block for a client that offered
/// `offered` (p4/switchyard.p4 `answer_syn`): MSS; NOP + window scale, or 4
/// NOPs; NOP NOP + SACK-permitted, or 4 NOPs. Returns the options and how
/// many of them are used. `mss` and `wscale` are what the switch advertises
/// (`MSS`, `WSCALE`, or the front-end's config of them).
pub fn option_block(offered: &SynOptions, mss: u16, wscale: u8) -> ([TcpOption<'static>; 9], usize) {
    let nop = TcpOption::NoOp;
    let mut o = [nop; 9];
    o[0] = TcpOption::Mss(mss);
    let mut n = 1;
    if offered.wscale.is_some() {
        o[n + 1] = TcpOption::WindowScale(wscale);
        n += 2;
    } else {
        n += 4;
    }
    if offered.sack_permitted {
        o[n + 2] = TcpOption::SackPermitted;
        n += 3;
    } else {
        n += 4;
    }
    (o, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_block_is_always_twelve_bytes() {
        for (ws, sack) in [(None, false), (Some(9), false), (None, true), (Some(2), true)] {
            let offered = SynOptions { mss: Some(1400), wscale: ws, sack_permitted: sack, timestamps: true };
            let (o, n) = option_block(&offered, MSS, WSCALE);
            assert_eq!(o[..n].iter().map(|o| o.wire_len()).sum::<usize>(), TCP_HEADER_LEN - 20, "{offered:?}");
            assert_eq!(o[..n].contains(&TcpOption::WindowScale(WSCALE)), ws.is_some());
            assert_eq!(o[..n].contains(&TcpOption::SackPermitted), sack);
        }
    }
}
