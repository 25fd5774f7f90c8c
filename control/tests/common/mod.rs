//! Shared by the client tests: the real switch-sim P4Runtime server,
//! in-process on 127.0.0.1 (ephemeral port), the Switchyard program's
//! pipeline config, and packet vectors.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

use switchyard_control::client::{ClientOptions, P4rtClient};
use switchyard_control::p4info::P4InfoIndex;
use switchyard_control::tls::Generated;
use switchyard_control::proto::p4::config::v1::P4Info;
use switchyard_control::proto::p4::v1::set_forwarding_pipeline_config_request::Action;
use switchyard_p4rt_server::{Device, DeviceOptions, Server};
use switchyard_wire::frame::FrameRepr;
use switchyard_wire::tcp::TcpRepr;
use switchyard_wire::tcp_option::TcpOptions;

pub fn p4_path() -> PathBuf {
    std::fs::canonicalize(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../p4/switchyard.p4")).expect("p4/switchyard.p4")
}

/// The device config naming the program (with -D defines) and its P4Info,
/// as the switch-sim generator (p4c's id scheme) writes it.
pub fn pipeline(defines: &[(&str, &str)]) -> (P4Info, Vec<u8>) {
    let defs: Vec<(String, String)> = defines.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let sw = switchyard_switch_sim::Switch::load(&p4_path(), &defs).expect("switchyard.p4 loads");
    let info = switchyard_p4rt_server::p4info_gen::generate(sw.program());
    let cfg = serde_json::json!({ "p4_path": p4_path(), "defines": defs.into_iter().collect::<std::collections::BTreeMap<_, _>>() });
    (info, cfg.to_string().into_bytes())
}

pub struct TestSwitch {
    pub server: Server,
    pub endpoint: String,
    pub addr: std::net::SocketAddr,
}

pub async fn start_switch(opts: DeviceOptions) -> TestSwitch {
    let server = Server::new(Device::new(opts));
    let (addr, _task) = switchyard_p4rt_server::serve(server.clone(), "127.0.0.1:0".parse().unwrap()).await.expect("bind 127.0.0.1:0");
    TestSwitch { server, endpoint: format!("http://{addr}"), addr }
}

/// A scratch directory, removed on drop.
pub struct TempDir(pub PathBuf);
impl TempDir {
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("sy-ctl-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The switch-sim server over mutual TLS, with a CA and certificates
/// generated into `dir` (server names `localhost`, `127.0.0.1`; clients
/// `frontend` and `ctl`).
pub async fn start_switch_tls(opts: DeviceOptions, dir: &std::path::Path) -> (TestSwitch, Generated) {
    let certs = switchyard_control::tls::generate(dir, &["localhost".into(), "127.0.0.1".into()], &["frontend", "ctl"]).expect("certificates");
    let server = Server::new(Device::new(opts));
    let tls = certs.switch.server_config().expect("server TLS config");
    let (addr, _task) = switchyard_p4rt_server::serve_with(server.clone(), "127.0.0.1:0".parse().unwrap(), Some(tls)).await.expect("bind 127.0.0.1:0");
    (TestSwitch { server, endpoint: format!("https://{addr}"), addr }, certs)
}

pub async fn client(endpoint: &str, election_id: u128) -> P4rtClient {
    P4rtClient::connect(endpoint, ClientOptions { election_id, ..Default::default() }).await.expect("connect")
}

/// Connects as primary and pushes the Switchyard pipeline.
pub async fn primary_with_pipeline(endpoint: &str, election_id: u128, defines: &[(&str, &str)]) -> (P4rtClient, Arc<P4InfoIndex>) {
    let c = client(endpoint, election_id).await;
    assert!(c.is_primary());
    let (info, cfg) = pipeline(defines);
    c.set_pipeline(info.clone(), cfg, 42, Action::VerifyAndCommit).await.expect("pipeline push");
    (c, Arc::new(P4InfoIndex::new(info).expect("valid P4Info")))
}

/// Ethernet + IPv4 + TCP (seq 1000, ack 2000, no options) + payload,
/// both checksums right.
pub fn tcp_frame(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let tcp = TcpRepr { src_port: sport, dst_port: dport, seq: 1000, ack: 2000, flags, window: 0xffff, options: TcpOptions::NONE, payload };
    let repr = FrameRepr::new([0x02, 0, 0, 0, 0, 0xbb], [0x02, 0, 0, 0, 0, 0xaa], src, dst, tcp);
    FrameRepr { ident: 1, ..repr }.to_vec().expect("a small frame")
}

pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 5);
pub const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 100, 1);
pub const BACKEND: Ipv4Addr = Ipv4Addr::new(198, 19, 2, 10);
