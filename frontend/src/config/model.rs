//! The validated configuration: every name resolved to an index, every
//! address parsed, every regex compiled. The engine and the route table are
//! built only from this.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use switchyard_wire::cookie::{CookieKeyring, CookieSecret};
use switchyard_wire::ethernet::MacAddr;
use switchyard_wire::flow::{BackendIndex, VipId};

#[derive(Debug, Clone)]
pub struct Config {
    pub frontend: FrontendSettings,
    pub switch: SwitchSettings,
    pub cookie: CookieSettings,
    pub dpdk: DpdkSettings,
    pub timeouts: Timeouts,
    /// Index = `VipId` (the switch's VIP table is numbered the same way).
    pub services: Vec<Service>,
    pub pools: Vec<PoolSpec>,
    /// Index = `BackendIndex`; one entry per distinct address:port.
    pub backends: Vec<BackendSpec>,
    /// `[admin]`; None: no admin API (docs/OPERATIONS.md).
    pub admin: Option<AdminSettings>,
    /// `[access_log]`; None: no access log (docs/OPERATIONS.md).
    pub access_log: Option<AccessLogSettings>,
    /// Backends a hot reload gave to another service while flows of their
    /// old one may be on them (never from a file): the switch maps a
    /// backend's packets back to one VIP, so it goes on mapping them to
    /// `from`, and they take no new flows until those flows end.
    pub moving: Vec<BackendMove>,
}

/// A backend on its way to another service (`Config::moving`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendMove {
    pub backend: BackendIndex,
    /// The service its `backend_address` entry still names.
    pub from: VipId,
}

/// Where the access log's JSON lines go, and how many decisions make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogSettings {
    pub target: AccessLogTarget,
    /// 1 in `sample` routing decisions is written (≥ 1).
    pub sample: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// `path = "-"`.
    Stdout,
    /// Appended to (created mode 0640 when missing).
    File(PathBuf),
}

/// The admin API's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    /// Serve clients from non-loopback addresses too (default: 403).
    pub allow_remote: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct FrontendSettings {
    pub mac: MacAddr,
    pub switch_mac: MacAddr,
    pub workers: u16,
    /// Per worker.
    pub flow_table_capacity: u32,
    /// Hold a flow's response (zero window to the backend) until its switch
    /// entry is in: see docs/FRONTEND.md, "Holding the response".
    pub hold_until_offloaded: bool,
    /// Last-request connections whose response is at most this many bytes
    /// stay on the front-end, never offloaded (0: offload every flow): see
    /// docs/FRONTEND.md, "Small responses".
    pub carry_responses_up_to: u32,
    /// The front-end host's own address on the port's network, when its
    /// kernel shares the port (AF_PACKET, the testbed): its traffic (the
    /// health checks) is left to the kernel, not counted as drops.
    pub host_address: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Copy)]
pub struct SynAckParams {
    pub mss: u16,
    pub wscale: u8,
    pub window: u16,
}

#[derive(Debug, Clone)]
pub struct SwitchSettings {
    pub p4runtime: SocketAddrV4,
    pub device_id: u64,
    pub syn_ack: SynAckParams,
    /// How the control plane talks to the switch; None: the file chose
    /// neither TLS nor `insecure`, and the front-end refuses to connect
    /// (`--no-switch` needs neither).
    pub transport: Option<SwitchTransport>,
}

/// The P4Runtime channel to the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchTransport {
    /// Mutual TLS: the CA the switch's certificate must chain to, the
    /// front-end's certificate and key (PEM), and the name the switch's
    /// certificate must carry (None: the `p4runtime` address).
    MutualTls { ca: PathBuf, cert: PathBuf, key: PathBuf, server_name: Option<String> },
    /// `insecure = true`: plain gRPC, nothing authenticated.
    Insecure,
}

#[derive(Debug, Clone)]
pub struct CookieSettings {
    /// Current first, then the previous one if given.
    pub secrets: Vec<CookieSecret>,
    pub rotation: Duration,
    /// Rotated secrets persisted here (absolute path), loaded at start in
    /// place of `secrets`.
    pub rotated_secrets_file: Option<PathBuf>,
}

impl CookieSettings {
    /// The keyring the front-end validates with. Config order is current
    /// then previous; the keyring takes the previous first and rotates the
    /// current in, so with two secrets the current one has generation 1.
    /// The switch must sign with the same (secret, generation) pair.
    pub fn keyring(&self) -> CookieKeyring {
        match self.secrets.as_slice() {
            [cur] => CookieKeyring::new(*cur),
            [cur, prev, ..] => {
                let mut k = CookieKeyring::new(*prev);
                k.rotate(*cur);
                k
            }
            [] => CookieKeyring::new(CookieSecret { k0: 0, k1: 0 }),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct DpdkSettings {
    pub eal_args: Vec<String>,
    pub ports: Vec<PortSettings>,
}

#[derive(Debug, Clone)]
pub struct PortSettings {
    pub name: String,
    /// A PCI address or a vdev spec such as `net_af_packet0,iface=veth1`.
    pub device: String,
    pub rx_queues: u16,
}

/// All in milliseconds of the engine's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub request_ms: u64,
    pub backend_syn_rto_ms: u64,
    pub backend_syn_retries: u8,
    pub request_rto_ms: u64,
    pub request_retries: u8,
    pub closing_ms: u64,
    pub idle_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        use crate::limits::*;
        Self {
            request_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            backend_syn_rto_ms: DEFAULT_BACKEND_SYN_RTO_MS,
            backend_syn_retries: DEFAULT_BACKEND_SYN_RETRIES,
            request_rto_ms: DEFAULT_REQUEST_RTO_MS,
            request_retries: DEFAULT_REQUEST_RETRIES,
            closing_ms: DEFAULT_CLOSING_MS,
            idle_ms: DEFAULT_IDLE_MS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffloadMode {
    /// The switch carries both directions after the first decision.
    Connection,
    /// The switch carries backend->client bytes and bare ACKs; every
    /// request is routed by the front-end.
    Request,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub id: VipId,
    pub vip: Ipv4Addr,
    pub port: u16,
    pub offload: OffloadMode,
    pub routes: Vec<RouteSpec>,
    pub state: ServiceState,
}

/// A service's life across hot reloads. A reload removes a service in two
/// steps, because its VIP's entry in the switch is what steers its
/// established connections: first the VIP refuses new connections while
/// its flows finish, then its entry is deleted. Its VIP id is never given
/// to another service before a restart (entries and flows name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceState {
    /// In the file: routes requests.
    #[default]
    Active,
    /// Gone from the file: no routes, the switch refuses its new
    /// connections (`set_vip_draining`), its flows go on.
    Draining,
    /// Its last flow ended and its VIP entry is deleted.
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// Lower-cased, compared without a `:port` suffix.
    Exact(String),
    /// `*.example.com`: stored as `.example.com`; matches one or more labels
    /// in front of it, not the bare domain.
    Wildcard(String),
}

#[derive(Debug, Clone)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    Regex(regex::Regex),
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub host: Option<HostMatch>,
    pub path: Option<PathMatch>,
    /// Upper-case method token.
    pub method: Option<String>,
    /// Lower-case name, exact value.
    pub headers: Vec<(String, String)>,
    pub pool: usize,
    pub offload: OffloadMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    ClientIp,
    /// Lower-case header name.
    Header(String),
    Cookie(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    RoundRobin,
    LeastFlows,
    Maglev(HashKey),
}

#[derive(Debug, Clone)]
pub struct PoolSpec {
    pub name: String,
    pub policy: Policy,
    /// (backend, weight); weights are at least 1.
    pub members: Vec<(BackendIndex, u32)>,
    /// `[pools.health]`: active HTTP checks of every member (None: none).
    pub health: Option<HealthCheck>,
}

/// An active HTTP health check: `GET path` to the backend's address:port
/// every `interval`, a response with `expect_status` within `timeout`
/// passes. `fall` failures in a row take a backend out, `rise` passes in a
/// row bring it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    /// Checked port instead of each backend's own (a status port; see
    /// docs/OPERATIONS.md on several front-ends).
    pub port: Option<u16>,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub expect_status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendSpec {
    pub address: Ipv4Addr,
    pub port: u16,
    pub agent: Option<SocketAddrV4>,
}
