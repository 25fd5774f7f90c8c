//! Fixture table: a transmit batch (frames in order) and which of them are
//! redundant.

use std::net::Ipv4Addr;

use switchyard_wire::tcp::{ACK, FIN, PSH, RST, SYN};

use super::AckCoalescer;
use crate::engine::packet::{emit, Out};

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const BACKEND: Ipv4Addr = Ipv4Addr::new(198, 18, 11, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);

/// A segment of the flow client:40000 -> backend:80 (`to_backend`) or of
/// the VIP's side towards the client, or of another client port.
#[derive(Clone, Copy)]
enum Dir {
    ToBackend,
    ToClient,
    OtherClientPort,
}

fn frame(dir: Dir, seq: u32, ack: u32, flags: u8, window: u16, payload: &[u8]) -> Vec<u8> {
    let (src, sport, dst, dport) = match dir {
        Dir::ToBackend => (CLIENT, 40000, BACKEND, 80),
        Dir::ToClient => (VIP, 80, CLIENT, 40000),
        Dir::OtherClientPort => (CLIENT, 40001, BACKEND, 80),
    };
    emit(&Out { src, sport, dst, dport, seq, ack, flags, window, options: &[], payload }, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
}

struct Case {
    what: &'static str,
    batch: Vec<Vec<u8>>,
    redundant: Vec<usize>,
}

fn cases() -> Vec<Case> {
    use Dir::*;
    vec![
        Case {
            what: "a backend's quick ACK of the request, then its response with the same ack: the ACK goes",
            batch: vec![frame(ToClient, 100, 500, ACK, 500, b""), frame(ToClient, 100, 500, ACK | PSH | FIN, 500, b"HTTP/1.1 200 OK\r\n\r\n")],
            redundant: vec![0],
        },
        Case {
            what: "a client's ACK, then its FIN: the ACK goes",
            batch: vec![frame(ToBackend, 500, 1400, ACK, 500, b""), frame(ToBackend, 500, 1400, ACK | FIN, 500, b"")],
            redundant: vec![0],
        },
        Case {
            what: "an ACK, then a pure ACK acknowledging more: the first goes, the last stays",
            batch: vec![frame(ToBackend, 500, 1000, ACK, 500, b""), frame(ToBackend, 500, 1400, ACK, 500, b"")],
            redundant: vec![0],
        },
        Case {
            what: "two pure ACKs with the same number (duplicate ACKs or a window update): both stay",
            batch: vec![frame(ToBackend, 500, 1000, ACK, 500, b""), frame(ToBackend, 500, 1000, ACK, 900, b"")],
            redundant: vec![],
        },
        Case {
            what: "a later segment acknowledging less covers nothing",
            batch: vec![frame(ToBackend, 500, 1400, ACK, 500, b""), frame(ToBackend, 500, 1000, ACK | FIN, 500, b"")],
            redundant: vec![],
        },
        Case {
            what: "the other direction's segment covers nothing",
            batch: vec![frame(ToClient, 100, 500, ACK, 500, b""), frame(ToBackend, 500, 900, ACK | PSH, 500, b"GET / HTTP/1.1\r\n\r\n")],
            redundant: vec![],
        },
        Case {
            what: "another client port's segment covers nothing",
            batch: vec![frame(ToBackend, 500, 1000, ACK, 500, b""), frame(OtherClientPort, 500, 1400, ACK | FIN, 500, b"")],
            redundant: vec![],
        },
        Case {
            what: "data, FIN and RST are never dropped, whatever follows",
            batch: vec![
                frame(ToBackend, 500, 1000, ACK | PSH, 500, b"x"),
                frame(ToBackend, 501, 1000, ACK | FIN, 500, b""),
                frame(ToBackend, 502, 1000, ACK | RST, 0, b""),
                frame(ToBackend, 502, 2000, ACK, 500, b""),
            ],
            redundant: vec![],
        },
        Case {
            what: "a SYN is not an ACK to drop",
            batch: vec![frame(ToBackend, 499, 7, SYN, 65535, b""), frame(ToBackend, 500, 1000, ACK | PSH, 500, b"x")],
            redundant: vec![],
        },
        Case {
            what: "an ACK is covered by a later segment past other flows' frames, across sequence wrap",
            batch: vec![
                frame(ToBackend, 500, u32::MAX - 10, ACK, 500, b""),
                frame(ToClient, 100, 500, ACK | PSH, 500, b"y"),
                frame(OtherClientPort, 9, 9, ACK, 500, b""),
                frame(ToBackend, 500, 20, ACK | FIN, 500, b""),
            ],
            redundant: vec![0],
        },
        Case {
            what: "a frame too short to read, or not TCP, is left alone",
            batch: vec![vec![0u8; 20], { let mut f = frame(ToBackend, 500, 1000, ACK, 500, b""); f[23] = 17; f }, frame(ToBackend, 500, 2000, ACK | FIN, 500, b"")],
            redundant: vec![],
        },
    ]
}

#[test]
fn redundant_acks_per_fixture() {
    let mut c = AckCoalescer::default();
    for case in cases() {
        let n = c.mark(case.batch.iter().map(|f| f.as_slice()));
        let got: Vec<usize> = (0..case.batch.len()).filter(|&i| c.redundant(i)).collect();
        assert_eq!(got, case.redundant, "{}", case.what);
        assert_eq!(n, case.redundant.len(), "{}", case.what);
    }
    assert!(!c.redundant(99));
}
