//! The TOML file as serde sees it. Fields that can be wrong in ways serde
//! cannot see (names that must exist, weights, regexes, addresses) are
//! `Spanned` so `validate` can point at the exact place.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub frontend: FrontendSection,
    pub switch: SwitchSection,
    pub cookie: CookieSection,
    #[serde(default)]
    pub dpdk: DpdkSection,
    #[serde(default)]
    pub timeouts: TimeoutsSection,
    #[serde(default)]
    pub services: Vec<ServiceSection>,
    #[serde(default)]
    pub pools: Vec<PoolSection>,
    /// Absent: no admin API.
    pub admin: Option<AdminSection>,
    /// Absent: no access log.
    pub access_log: Option<AccessLogSection>,
}

/// `[access_log]`: one JSON line per routing decision.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogSection {
    /// An absolute file path, or `-` for stdout.
    pub path: Spanned<String>,
    /// 1 in N decisions (default 1: every one).
    pub sample: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    pub listen: Spanned<String>,
    #[serde(default)]
    pub allow_remote: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendSection {
    pub mac: Spanned<String>,
    pub switch_mac: Spanned<String>,
    #[serde(default = "default_workers")]
    pub workers: Spanned<u16>,
    #[serde(default = "default_flow_table_capacity")]
    pub flow_table_capacity: Spanned<u32>,
    /// Off unless set (the example config and the testbed set it): see
    /// docs/FRONTEND.md step 7a.
    #[serde(default)]
    pub hold_until_offloaded: bool,
    #[serde(default = "default_carry_responses_up_to")]
    pub carry_responses_up_to: Spanned<u32>,
    /// The host's own address when its kernel shares the port (AF_PACKET).
    pub host_address: Option<Spanned<String>>,
}

fn default_carry_responses_up_to() -> Spanned<u32> {
    Spanned::new(0..0, crate::limits::DEFAULT_CARRY_RESPONSES_UP_TO)
}

fn default_workers() -> Spanned<u16> {
    Spanned::new(0..0, 1)
}
fn default_flow_table_capacity() -> Spanned<u32> {
    Spanned::new(0..0, crate::limits::DEFAULT_FLOW_TABLE_CAPACITY)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchSection {
    pub p4runtime: Spanned<String>,
    #[serde(default = "default_device_id")]
    pub device_id: u64,
    #[serde(default = "default_syn_ack_mss")]
    pub syn_ack_mss: Spanned<u16>,
    #[serde(default = "default_syn_ack_wscale")]
    pub syn_ack_wscale: Spanned<u8>,
    #[serde(default = "default_syn_ack_window")]
    pub syn_ack_window: u16,
    /// Mutual TLS to the switch's P4Runtime server (absolute paths, PEM).
    pub tls_ca: Option<Spanned<String>>,
    pub tls_cert: Option<Spanned<String>>,
    pub tls_key: Option<Spanned<String>>,
    pub tls_server_name: Option<Spanned<String>>,
    /// Plain gRPC, explicitly.
    pub insecure: Option<Spanned<bool>>,
}

fn default_device_id() -> u64 {
    1
}
fn default_syn_ack_mss() -> Spanned<u16> {
    Spanned::new(0..0, crate::limits::SWITCH_SYN_ACK_MSS)
}
fn default_syn_ack_wscale() -> Spanned<u8> {
    Spanned::new(0..0, crate::limits::SWITCH_SYN_ACK_WSCALE)
}
fn default_syn_ack_window() -> u16 {
    crate::limits::SWITCH_SYN_ACK_WINDOW
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieSection {
    pub secrets: Spanned<Vec<SecretEntry>>,
    pub rotation_secs: Spanned<u64>,
    /// Where rotated secrets are kept across restarts (absent: not kept).
    pub rotated_secrets_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEntry {
    pub k0: u32,
    pub k1: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpdkSection {
    #[serde(default)]
    pub eal_args: Vec<String>,
    #[serde(default)]
    pub ports: Vec<PortSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSection {
    pub name: Spanned<String>,
    pub device: String,
    #[serde(default = "default_queues")]
    pub rx_queues: Spanned<u16>,
}

fn default_queues() -> Spanned<u16> {
    Spanned::new(0..0, 1)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSection {
    pub request_ms: Option<Spanned<u64>>,
    pub backend_syn_rto_ms: Option<Spanned<u64>>,
    pub backend_syn_retries: Option<u8>,
    pub request_rto_ms: Option<Spanned<u64>>,
    pub request_retries: Option<u8>,
    pub closing_ms: Option<Spanned<u64>>,
    pub idle_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    pub name: Spanned<String>,
    pub vip: Spanned<String>,
    pub port: Spanned<u16>,
    #[serde(default)]
    pub offload: OffloadModeRaw,
    #[serde(default)]
    pub routes: Vec<RouteSection>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OffloadModeRaw {
    #[default]
    Connection,
    Request,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    pub host: Option<Spanned<String>>,
    pub path_exact: Option<Spanned<String>>,
    pub path_prefix: Option<Spanned<String>>,
    pub path_regex: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    pub pool: Spanned<String>,
    pub offload: Option<OffloadModeRaw>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSection {
    pub name: Spanned<String>,
    #[serde(default = "default_policy")]
    pub policy: Spanned<String>,
    /// For `maglev`: `client_ip`, `header:NAME` or `cookie:NAME`.
    pub hash: Option<Spanned<String>>,
    pub backends: Spanned<Vec<BackendSection>>,
    /// `[pools.health]`: active HTTP checks of each member (absent: none).
    pub health: Option<Spanned<HealthSection>>,
}

/// `[pools.health]`; every key has a default (`limits::DEFAULT_HEALTH_*`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    pub path: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
    pub interval_ms: Option<Spanned<u64>>,
    pub timeout_ms: Option<Spanned<u64>>,
    pub rise: Option<Spanned<u32>>,
    pub fall: Option<Spanned<u32>>,
    pub expect_status: Option<Spanned<u16>>,
}

fn default_policy() -> Spanned<String> {
    Spanned::new(0..0, "round_robin".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSection {
    pub address: Spanned<String>,
    pub port: Spanned<u16>,
    #[serde(default = "default_weight")]
    pub weight: Spanned<u32>,
    /// The backend agent's presence probe (ip:port, its `--status-listen`):
    /// polled by the control plane; a backend whose agent does not answer
    /// takes no new flows.
    pub agent: Option<Spanned<String>>,
}

fn default_weight() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
