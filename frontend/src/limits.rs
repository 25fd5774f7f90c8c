//! Every constant and limit of the front-end, each with its reason.
//! Timeouts here are defaults; the config's `[timeouts]` overrides them.

/// Largest HTTP request header block the engine assembles (the issue's
/// contract; nginx's default `large_client_header_buffers` is 4 x 8 KiB).
/// A header block that does not end within this many bytes gets 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Request bytes (headers plus the start of a body) the engine buffers per
/// flow before the backend connection exists. Past this the client's
/// segments are dropped and the client retransmits once the splice is up.
pub const MAX_BUFFERED_BYTES: usize = 48 * 1024;

/// Out-of-order segments kept per flow while assembling; more are dropped
/// (the client retransmits them). Bounds the per-flow bookkeeping.
pub const MAX_OOO_SEGMENTS: usize = 16;

/// Headers httparse is given room for; more is treated as 431.
pub const MAX_HEADERS: usize = 64;

/// Default per-worker flow table size. 64 Ki flows x ~200 B of entry plus
/// assembly buffers only while assembling; see docs/FRONTEND.md.
pub const DEFAULT_FLOW_TABLE_CAPACITY: u32 = 65_536;

/// The cookie SYN-ACK the switch sends (contract with p4/, defined once in
/// `wire::synack`, whose values switch-sim's tests check against the P4
/// program): the config's defaults. The engine scales its own window field
/// with the window scale when it ACKs in the switch's sequence space.
pub const SWITCH_SYN_ACK_MSS: u16 = switchyard_wire::synack::MSS;
pub const SWITCH_SYN_ACK_WSCALE: u8 = switchyard_wire::synack::WSCALE;
pub const SWITCH_SYN_ACK_WINDOW: u16 = switchyard_wire::synack::WINDOW;

/// TTL of frames the engine originates (replayed SYN, ACKs, error replies).
pub const TTL: u8 = 64;

/// Maglev lookup table size: a prime well above 100 x the largest pool so
/// weights resolve to within about 1% (Maglev paper, section 3.4).
pub const MAGLEV_TABLE_SIZE: usize = 65_537;

/// A client that opened a connection but has not completed its header
/// block within this time gets 408 and a FIN (slowloris bound).
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Retransmission timeout of the replayed SYN (RFC 6298's initial RTO).
pub const DEFAULT_BACKEND_SYN_RTO_MS: u64 = 1_000;
/// Replayed-SYN retransmissions before the client gets 504.
pub const DEFAULT_BACKEND_SYN_RETRIES: u8 = 3;
/// Retransmission timeout of the buffered request towards the backend; a
/// LAN RTT is far below it, and it doubles per retry.
pub const DEFAULT_REQUEST_RTO_MS: u64 = 200;
pub const DEFAULT_REQUEST_RETRIES: u8 = 5;
/// How long a flow that is closing (FINs exchanged, or an engine error
/// reply sent) keeps state to absorb retransmissions and last ACKs.
pub const DEFAULT_CLOSING_MS: u64 = 2_000;
/// A flow the front-end forwards itself (install refused or pending) with
/// no packet for this long is forgotten.
pub const DEFAULT_IDLE_MS: u64 = 300_000;
/// Longest a flow's response is held (zero window to the backend, see
/// `[frontend] hold_until_offloaded`) after its install was requested when
/// no completion comes: a slow or lost completion costs at most this much
/// time to first byte. 50 ms is over ten times the install latency
/// measured (p99 2.8 ms, docs/P4RUNTIME.md; ~4 ms in a debug build on
/// shared cores), and well under Linux's 200 ms minimum RTO, which is when
/// the backend's persist timer first probes the zero window: the release
/// comes first.
pub const HOLD_TIMEOUT_MS: u64 = 50;
/// Default of `[frontend] carry_responses_up_to`: a last-request
/// connection (`Connection: close`, HTTP/1.0) whose response head says at
/// most this many bytes is carried by the front-end and never offloaded.
/// Offloading costs one install, two teardown digests and one delete on
/// the control channel (plus the switch's own work for each), about 45 us
/// of front-end CPU per connection measured (docs/FRONTEND.md); carrying
/// 16 KiB costs about a dozen more frames (11 data segments and the ACKs).
pub const DEFAULT_CARRY_RESPONSES_UP_TO: u32 = 16 * 1024;
/// The window the engine advertises to the backend of a last-request
/// connection until the response head is seen: room for the head (and a
/// small body) so the decision needs no extra round trip, while a large
/// response sends at most this much through the front-end before its
/// install holds it.
pub const PEEK_WINDOW_BYTES: u32 = 4 * 1024;
/// Above this share of the flow table (percent), a new flow has
/// `PRESSURE_REQUEST_MS` to complete its request head (`engine::pressure`):
/// idle handshakes then leave in 1 s instead of 10.
pub const PRESSURE_PERCENT: usize = 75;
/// A real client sends its request in the same round trip as the handshake
/// ACK (microseconds to milliseconds); a second is generous even for a slow
/// mobile link and ten times shorter than the default request timeout.
pub const PRESSURE_REQUEST_MS: u64 = 1_000;
/// RSTs a worker sends per second for client segments of no connection
/// (`engine::stateless`), and the burst it may send at once. Real clients
/// need one each (a FIN retransmitted after the flow was forgotten: one
/// every few hundred ms per socket, thousands at most after a mass 408);
/// the bound keeps a flood of forged ACKs from turning the front-end into
/// a reflector at line rate.
pub const STATELESS_RESETS_PER_S: u32 = 10_000;
pub const STATELESS_RESETS_BURST: u32 = 1_000;
/// After `Installed`, the front-end keeps a tombstone this long so packets
/// already in flight are still forwarded correctly.
pub const OFFLOADED_GRACE_MS: u64 = 5_000;

/// Client SYNs on a reused port waiting for the old switch entry's detach
/// (`engine::reuse`). A detach takes about one P4Runtime write (p99 under
/// 3 ms): 4,096 covers well over 100,000 reused ports per second. Past it
/// the SYN is dropped and the client retransmits it (1 s).
pub const REOPENING_CAPACITY: usize = 4096;
/// A waiting SYN older than this is dropped to make room: the client has
/// retransmitted it by then (Linux's initial SYN RTO is 1 s).
pub const REOPENING_STALE_MS: u64 = 1_000;

/// `[pools.health]` defaults, HAProxy's (`inter 2s fall 3 rise 2`, the
/// check timeout = the interval): a refused backend is out within about
/// 6 s, at a cost per backend of one short HTTP exchange every 2 s.
pub const DEFAULT_HEALTH_PATH: &str = "/";
pub const DEFAULT_HEALTH_INTERVAL_MS: u64 = 2_000;
/// A busy backend's answer, not a LAN round trip: 500 ms took healthy
/// nginx backends out on the 2-core testbed under 256 parallel 10 MB
/// downloads, and a pool whose members all fail its checks answers 503.
/// At most the interval, so checks of one backend never overlap.
pub const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 2_000;
/// Two passes in a row: one lucky answer of a flapping backend does not
/// bring it back.
pub const DEFAULT_HEALTH_RISE: u32 = 2;
/// Three failures in a row: one lost packet (a retransmitted SYN takes
/// 1 s) does not take a healthy backend out.
pub const DEFAULT_HEALTH_FALL: u32 = 3;
pub const DEFAULT_HEALTH_EXPECT_STATUS: u16 = 200;
/// Checks closer than this are refused: 10 checks a second per backend is
/// already more load than a health signal needs.
pub const MIN_HEALTH_INTERVAL_MS: u64 = 100;
/// Rise and fall above this would keep a dead backend in (or a recovered
/// one out) for minutes at the default interval.
pub const MAX_HEALTH_THRESHOLD: u32 = 100;

/// Passive ejection (`Router::backend_failed`): this many failed backend
/// handshakes in a row (a RST to the replayed SYN: nothing listens; no
/// SYN-ACK after every retransmission; a SYN-ACK no agent rewrote) take the
/// backend out of every pool. Three, as the active checks' default `fall`:
/// one refused connection (a backend's accept queue overflowing once) is
/// not an outage, three in a row with no success between are.
pub const PASSIVE_EJECT_FAILURES: u32 = 3;
/// How long a passively ejected backend stays out before new flows try it
/// again (a success then clears its count, three more failures eject it
/// again). Ten seconds: longer than the active checks need to take a dead
/// backend out for good (3.5 s at their defaults), so the two do not flap
/// against each other, and short enough that a restarted backend without
/// active checks is back soon.
pub const PASSIVE_EJECT_COOLDOWN_MS: u64 = 10_000;

/// Access-log records a worker keeps between two drains (the worker drains
/// them after every round): 4,096 covers a burst of 32 frames many times
/// over; its text is at most 10 MiB (five fields of at most
/// `ACCESS_LOG_MAX_FIELD` each), a few hundred KiB for ordinary requests.
/// Beyond, records are dropped and counted.
pub const ACCESS_LOG_BUFFER: usize = 4096;
/// Longest host, path, method, service or pool name written to the access
/// log, in bytes (cut at a character boundary): a request head may be
/// 32 KiB, a log line should not.
pub const ACCESS_LOG_MAX_FIELD: usize = 512;
/// Access-log lines queued from the worker to its writer thread; beyond,
/// lines are dropped and counted (the worker never waits for the disk).
pub const ACCESS_LOG_QUEUE: usize = 8192;
