//! The one merged state per flow (both directions, no TCP sockets).

use core::net::Ipv4Addr;

use switchyard_wire::cookie::CookieOptions;
use switchyard_wire::flow::{BackendIndex, ConnKey};

use super::assembly::Assembly;
use crate::config::OffloadMode;
use crate::http::ErrorReply;

/// Where a flow is in the packet walk (docs/ARCHITECTURE.md steps 2-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpliceState {
    /// Cookie valid; gathering the request head from the client.
    Assembling,
    /// Replayed SYN sent to `backend`; waiting for its SYN-ACK.
    Connecting { backend: BackendIndex },
    /// Backend handshake done, request sent; the engine forwards with the
    /// switch's rewrite until the entry is installed (or forever if refused).
    Spliced { backend: BackendIndex },
    /// The engine answered the client itself (`reply`, or a bare FIN when
    /// `None`) starting at server-side sequence `seq`, then FIN. No backend:
    /// nothing of this flow is ever forwarded. Once the client has ACKed
    /// the reply and sent its FIN, kept for `closing_ms` to ACK its
    /// retransmitted FINs.
    Replied { reply: Option<ErrorReply>, seq: u32, acked: bool },
    /// A spliced flow with both FINs seen: kept for `closing_ms` to carry
    /// retransmissions between the two ends.
    Closing { backend: BackendIndex },
}

impl SpliceState {
    /// The backend the flow is on, if any.
    pub fn backend(self) -> Option<BackendIndex> {
        match self {
            Self::Connecting { backend } | Self::Spliced { backend } | Self::Closing { backend } => Some(backend),
            Self::Assembling | Self::Replied { .. } => None,
        }
    }

    /// The backend whose handshake is done: segments are forwarded to it.
    pub fn spliced_backend(self) -> Option<BackendIndex> {
        match self {
            Self::Spliced { backend } | Self::Closing { backend } => Some(backend),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffloadStatus {
    NotRequested,
    Pending,
    Installed,
    Refused,
    /// Request mode hand-over: `Detach` sent, the switch's entry (which
    /// still names the old backend) is being removed; nothing goes to the
    /// old or the new backend until `Detached`.
    Detaching,
    /// Never offloaded: a last-request connection whose response is small
    /// enough for the front-end to carry (`[frontend] carry_responses_up_to`).
    Declined,
}

/// The response held back until the switch's entry is in
/// (`[frontend] hold_until_offloaded`): while held, every segment the
/// engine sends or forwards to the backend in the client's name advertises
/// a zero window, so the backend sends no response bytes through the
/// front-end; the release is one window update (docs/FRONTEND.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Not held (hold disabled, no install to wait for, or released).
    Off,
    /// A last-request connection: `PEEK_WINDOW_BYTES` advertised to the
    /// backend from the ACK+request on and no install yet; the first
    /// response segment decides between carrying it (`Declined`) and
    /// offloading (`Until`, or `Off` without the hold).
    Peek,
    /// Window 0 from the ACK+request on; the install is not requested yet
    /// (the backend has not ACKed the request).
    Held,
    /// Install requested; released at `Installed`/`Refused`, or when the
    /// flow's timer fires (`HOLD_TIMEOUT_MS` after the request): while
    /// `Until`, `ConnEntry::deadline` is the hold's and later deadlines of
    /// the state wait (`release` restores them from `last_seen`). No time
    /// stored here: keeps `ConnEntry` within its 128 bytes.
    Until,
}

/// Request mode hand-over: the backend the engine closes in the client's
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrevBackend {
    pub backend: BackendIndex,
    /// Seq and ack of the FIN the engine sends it (the request boundary,
    /// and the client's ack when the hand-over was decided).
    pub fin_seq: u32,
    pub fin_ack: u32,
    /// False while the switch's entry is being detached (`Detaching`).
    pub fin_sent: bool,
}

#[derive(Debug, Clone)]
pub struct ConnEntry {
    pub key: ConnKey,
    pub vip: Ipv4Addr,
    pub vport: u16,
    /// The switch's ISN `S` (the cookie), and the client's options in it.
    pub cookie: u32,
    pub opts: CookieOptions,
    pub mode: OffloadMode,
    pub state: SpliceState,
    /// Request mode hand-over: the old backend, closed by the engine.
    pub prev_backend: Option<PrevBackend>,
    /// The current backend handshake: seq of the replayed SYN and the
    /// server-side ISN carried in its ack field.
    pub syn_seq: u32,
    pub server_isn: u32,
    /// Highest ACK and latest window the client sent (server-side space).
    pub client_ack: u32,
    pub client_window: u16,
    /// The client's next sequence number: the end (FIN included) of the
    /// furthest client segment seen.
    pub client_next: u32,
    pub hold: Hold,
    /// Request mode: where the next request starts; `None` when unknown
    /// (chunked body, pipelining) and the connection stays on its backend.
    pub next_request: Option<u32>,
    /// End (seq) of the bytes the engine sent to the backend itself and
    /// must see acknowledged.
    pub req_end: u32,
    pub backend_mss: u16,
    /// Seq of the client's FIN, once seen.
    pub client_fin: Option<u32>,
    pub backend_fin: bool,
    pub offload: OffloadStatus,
    /// Engine clock (ms) of the flow's one pending timer.
    pub deadline: u64,
    /// Deadline of the flow's live entry in the timer wheel (<= `deadline`;
    /// `u64::MAX` when none): the wheel fires then and re-arms if the
    /// deadline has moved later. Other entries of the flow are stale.
    pub armed: u64,
    pub last_seen: u64,
    pub retries: u8,
    /// Request bytes, only while assembling or until the backend ACKs them.
    pub asm: Option<Box<Assembly>>,
}

impl ConnEntry {
    pub fn backend(&self) -> Option<BackendIndex> {
        self.state.backend()
    }

    /// A value that is never a flow: fills the table once to touch its
    /// memory (`FlowTable::prefault`).
    pub fn placeholder() -> Self {
        let unspecified = Ipv4Addr::UNSPECIFIED;
        Self {
            key: ConnKey { client_ip: unspecified, client_port: 0, vip_id: u16::MAX },
            vip: unspecified,
            vport: 0,
            cookie: 0,
            opts: CookieOptions { mss: 0, wscale: None, sack_permitted: false },
            mode: OffloadMode::Connection,
            state: SpliceState::Assembling,
            prev_backend: None,
            syn_seq: 0,
            server_isn: 0,
            client_ack: 0,
            client_window: 0,
            client_next: 0,
            hold: Hold::Off,
            next_request: None,
            req_end: 0,
            backend_mss: 0,
            client_fin: None,
            backend_fin: false,
            offload: OffloadStatus::NotRequested,
            deadline: u64::MAX,
            armed: u64::MAX,
            last_seen: 0,
            retries: 0,
            asm: None,
        }
    }
}
