//! The async P4Runtime client: a gRPC channel, a stream task that keeps the
//! StreamChannel open (arbitration, reconnect with back-off) and fans
//! digests, idle-timeout notifications and packet-ins out to subscribers,
//! and the unary calls (pipeline, Write, Read, Capabilities).
//!
//! Losing primacy: the stream task sees the arbitration update, publishes
//! `Mastership::Backup` and an `Event::Mastership`; from then on `write` and
//! `set_pipeline` return `ClientError::NotPrimary` without a round trip.
//! A server PERMISSION_DENIED maps to the same error.

use std::time::Duration;

use p4runtime_proto::p4::config::v1::P4Info;
use p4runtime_proto::p4::v1::{
    self as p4, p4_runtime_client::P4RuntimeClient, stream_message_request::Update as In,
    stream_message_response::Update as Out,
};
use p4runtime_proto::tls::TlsFiles;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use super::backoff::{Backoff, BackoffPolicy};
use super::error::{write_error, ClientError};
use super::mastership::{self, Mastership};

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub device_id: u64,
    pub election_id: u128,
    /// Empty: the default role (full access).
    pub role: String,
    pub backoff: BackoffPolicy,
    pub connect_timeout: Duration,
    /// How long `connect` waits for the first arbitration answer.
    pub arbitration_timeout: Duration,
    /// Acknowledge every DigestList as soon as it is delivered to subscribers.
    pub auto_ack_digests: bool,
    /// Capacity of the event fan-out (a subscriber that falls this far
    /// behind misses events and is told how many).
    pub event_capacity: usize,
    /// Mutual TLS (the client's certificate, the CA the switch's must chain
    /// to); None: plain gRPC, for a switch started insecure.
    pub tls: Option<ClientTls>,
}

/// The client's side of mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub files: TlsFiles,
    /// The name the switch's certificate must carry; None: the host of the
    /// endpoint (an IP address is checked against the certificate's IP
    /// addresses).
    pub server_name: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            device_id: 1,
            election_id: 1,
            role: String::new(),
            backoff: BackoffPolicy::default(),
            connect_timeout: Duration::from_secs(3),
            arbitration_timeout: Duration::from_secs(5),
            auto_ack_digests: true,
            event_capacity: 4096,
            tls: None,
        }
    }
}

/// What the stream task delivers to subscribers.
#[derive(Debug, Clone)]
pub enum Event {
    Mastership(Mastership),
    Digest(p4::DigestList),
    IdleTimeout(p4::IdleTimeoutNotification),
    PacketIn(p4::PacketIn),
    StreamError(p4::StreamError),
    /// The stream broke; the task reconnects with back-off.
    Disconnected(String),
}

/// A connected controller. Cheap to clone; every clone shares the stream.
#[derive(Clone)]
pub struct P4rtClient {
    grpc: P4RuntimeClient<Channel>,
    opts: ClientOptions,
    outbound: mpsc::Sender<p4::StreamMessageRequest>,
    mastership: watch::Receiver<Mastership>,
    events: broadcast::Sender<Event>,
    election: watch::Sender<u128>,
}

/// An error with its sources (a TLS failure is several layers down).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s += &format!(": {t}");
        }
        src = x.source();
    }
    s
}

fn uint128(v: u128) -> p4::Uint128 {
    p4::Uint128 { high: (v >> 64) as u64, low: v as u64 }
}

fn arbitration(opts: &ClientOptions, election_id: u128) -> p4::StreamMessageRequest {
    p4::StreamMessageRequest {
        update: Some(In::Arbitration(p4::MasterArbitrationUpdate {
            device_id: opts.device_id,
            role: if opts.role.is_empty() { None } else { Some(p4::Role { name: opts.role.clone(), ..Default::default() }) },
            election_id: Some(uint128(election_id)),
            status: None,
        })),
    }
}

impl P4rtClient {
    /// Connects to `endpoint` (`http://host:port`; with `opts.tls` the
    /// connection is TLS whatever the scheme), retrying with back-off,
    /// opens the stream and waits for the first arbitration answer.
    pub async fn connect(endpoint: &str, opts: ClientOptions) -> Result<P4rtClient, ClientError> {
        let cerr = |reason: String| ClientError::Connect { endpoint: endpoint.to_string(), reason };
        let uri = match (&opts.tls, endpoint.strip_prefix("http://")) {
            (Some(_), Some(rest)) => format!("https://{rest}"),
            _ => endpoint.to_string(),
        };
        let mut ep = Endpoint::from_shared(uri).map_err(|e| cerr(e.to_string()))?.connect_timeout(opts.connect_timeout).tcp_nodelay(true);
        if let Some(tls) = &opts.tls {
            let cfg = tls.files.client_config(tls.server_name.as_deref()).map_err(&cerr)?;
            ep = ep.tls_config(cfg).map_err(|e| cerr(format!("TLS: {e}")))?;
        }
        let mut backoff = Backoff::new(opts.backoff, opts.election_id as u64);
        let channel = loop {
            match ep.connect().await {
                Ok(c) => break c,
                // The switch's certificate failed verification: trying again will not help.
                Err(e) if error_chain(&e).contains("invalid peer certificate") => return Err(cerr(error_chain(&e))),
                Err(e) => match backoff.next_delay() {
                    Some(d) => tokio::time::sleep(d).await,
                    None => return Err(cerr(format!("{} (after {} attempts)", error_chain(&e), backoff.failures()))),
                },
            }
        };
        let grpc = P4RuntimeClient::new(channel).max_decoding_message_size(64 << 20).max_encoding_message_size(64 << 20);
        let (outbound, outbound_rx) = mpsc::channel(1024);
        let (m_tx, mut m_rx) = watch::channel(Mastership::Unknown);
        let (events, mut early) = broadcast::channel(opts.event_capacity.max(16));
        let (election, election_rx) = watch::channel(opts.election_id);
        tokio::spawn(stream_task(grpc.clone(), opts.clone(), outbound_rx, m_tx, events.clone(), election_rx));
        let first = tokio::time::timeout(opts.arbitration_timeout, m_rx.wait_for(|m| *m != Mastership::Unknown)).await.map(|r| r.map(|_| ()));
        match first {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(cerr("the stream task stopped".into())),
            Err(_) => {
                // Why the stream broke, if it did (a switch refusing our certificate says so here).
                let mut last = None;
                while let Ok(ev) = early.try_recv() {
                    if let Event::Disconnected(r) = ev {
                        last = Some(r);
                    }
                }
                let hint = if opts.tls.is_some() { "; does the switch's CA accept this client's certificate?" } else { "" };
                return Err(cerr(match last {
                    Some(r) => format!("no arbitration answer (the stream broke: {r}){hint}"),
                    None => format!("no arbitration answer{hint}"),
                }));
            }
        }
        Ok(P4rtClient { grpc, opts, outbound, mastership: m_rx, events, election })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    pub fn mastership(&self) -> Mastership {
        *self.mastership.borrow()
    }

    pub fn is_primary(&self) -> bool {
        self.mastership() == Mastership::Primary
    }

    /// Waits until the mastership satisfies `f` (bounded by `timeout`).
    pub async fn wait_mastership(&self, timeout: Duration, f: impl Fn(&Mastership) -> bool) -> Option<Mastership> {
        let mut rx = self.mastership.clone();
        let r = tokio::time::timeout(timeout, rx.wait_for(|m| f(m))).await.ok()?.ok().map(|m| *m);
        r
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Sends a new election id (e.g. to take primacy back).
    pub fn set_election_id(&mut self, election_id: u128) {
        self.opts.election_id = election_id;
        let _ = self.election.send(election_id);
    }

    fn require_primary(&self) -> Result<(), ClientError> {
        match self.mastership() {
            Mastership::Primary => Ok(()),
            Mastership::Backup { primary_election_id } => Err(ClientError::NotPrimary { primary_election_id }),
            Mastership::Unknown => Err(ClientError::StreamDown),
        }
    }

    pub async fn capabilities(&self) -> Result<String, ClientError> {
        let r = self.grpc.clone().capabilities(p4::CapabilitiesRequest {}).await?;
        Ok(r.into_inner().p4runtime_api_version)
    }

    /// SetForwardingPipelineConfig with `action` (VERIFY_AND_COMMIT to push
    /// a new program, RECONCILE_AND_COMMIT to keep the tables).
    pub async fn set_pipeline(
        &self,
        p4info: P4Info,
        device_config: Vec<u8>,
        cookie: u64,
        action: p4::set_forwarding_pipeline_config_request::Action,
    ) -> Result<(), ClientError> {
        self.require_primary()?;
        let req = p4::SetForwardingPipelineConfigRequest {
            device_id: self.opts.device_id,
            role: self.opts.role.clone(),
            election_id: Some(uint128(self.opts.election_id)),
            action: action as i32,
            config: Some(p4::ForwardingPipelineConfig {
                p4info: Some(p4info),
                p4_device_config: device_config,
                cookie: Some(p4::forwarding_pipeline_config::Cookie { cookie }),
            }),
            ..Default::default()
        };
        self.grpc.clone().set_forwarding_pipeline_config(req).await.map_err(write_error)?;
        Ok(())
    }

    pub async fn get_pipeline(
        &self,
        response_type: p4::get_forwarding_pipeline_config_request::ResponseType,
    ) -> Result<p4::ForwardingPipelineConfig, ClientError> {
        let req = p4::GetForwardingPipelineConfigRequest { device_id: self.opts.device_id, response_type: response_type as i32 };
        let r = self.grpc.clone().get_forwarding_pipeline_config(req).await?;
        Ok(r.into_inner().config.unwrap_or_default())
    }

    /// One Write. `ClientError::Updates` carries every update's status.
    pub async fn write(&self, updates: Vec<p4::Update>, atomicity: p4::write_request::Atomicity) -> Result<(), ClientError> {
        self.require_primary()?;
        let req = p4::WriteRequest {
            device_id: self.opts.device_id,
            role: self.opts.role.clone(),
            election_id: Some(uint128(self.opts.election_id)),
            updates,
            atomicity: atomicity as i32,
            ..Default::default()
        };
        self.grpc.clone().write(req).await.map_err(write_error)?;
        Ok(())
    }

    /// A Read; entities with zero ids or no match fields are wildcards.
    pub async fn read(&self, entities: Vec<p4::Entity>) -> Result<Vec<p4::Entity>, ClientError> {
        let req = p4::ReadRequest { device_id: self.opts.device_id, entities, role: self.opts.role.clone() };
        let mut stream = self.grpc.clone().read(req).await?.into_inner();
        let mut out = Vec::new();
        while let Some(r) = stream.message().await? {
            out.extend(r.entities);
        }
        Ok(out)
    }

    /// Every entry of a table (table id 0: of every table).
    pub async fn read_table(&self, table_id: u32) -> Result<Vec<p4::TableEntry>, ClientError> {
        let e = p4::Entity { entity: Some(p4::entity::Entity::TableEntry(p4::TableEntry { table_id, ..Default::default() })) };
        Ok(self
            .read(vec![e])
            .await?
            .into_iter()
            .filter_map(|e| match e.entity {
                Some(p4::entity::Entity::TableEntry(t)) => Some(t),
                _ => None,
            })
            .collect())
    }

    pub async fn packet_out(&self, packet: p4::PacketOut) -> Result<(), ClientError> {
        self.outbound.send(p4::StreamMessageRequest { update: Some(In::Packet(packet)) }).await.map_err(|_| ClientError::StreamDown)
    }

    pub async fn ack_digest(&self, digest_id: u32, list_id: u64) -> Result<(), ClientError> {
        let ack = p4::DigestListAck { digest_id, list_id };
        self.outbound.send(p4::StreamMessageRequest { update: Some(In::DigestAck(ack)) }).await.map_err(|_| ClientError::StreamDown)
    }
}

/// Keeps one StreamChannel open: sends the arbitration update, forwards
/// outbound messages, publishes what arrives; on a break, reconnects with
/// back-off. Ends when every client handle is gone.
async fn stream_task(
    grpc: P4RuntimeClient<Channel>,
    opts: ClientOptions,
    mut outbound: mpsc::Receiver<p4::StreamMessageRequest>,
    mastership: watch::Sender<Mastership>,
    events: broadcast::Sender<Event>,
    mut election: watch::Receiver<u128>,
) {
    let mut backoff = Backoff::new(BackoffPolicy { max_attempts: None, ..opts.backoff }, opts.election_id as u64 ^ 0x5eed);
    loop {
        let (tx, rx) = mpsc::channel(1024);
        let current = *election.borrow_and_update();
        if tx.send(arbitration(&opts, current)).await.is_err() {
            return;
        }
        let reason = match grpc.clone().stream_channel(ReceiverStream::new(rx)).await {
            Err(e) => error_chain(&e),
            Ok(resp) => {
                let mut inbound = resp.into_inner();
                loop {
                    tokio::select! {
                        msg = outbound.recv() => match msg {
                            Some(m) => { if tx.send(m).await.is_err() { break "stream closed".to_string(); } }
                            None => return, // every client handle dropped
                        },
                        changed = election.changed() => {
                            if changed.is_err() { return; }
                            let e = *election.borrow_and_update();
                            if tx.send(arbitration(&opts, e)).await.is_err() { break "stream closed".to_string(); }
                        }
                        msg = inbound.message() => match msg {
                            Ok(Some(m)) => {
                                backoff.reset();
                                handle(m, &opts, &tx, &mastership, &events).await;
                            }
                            Ok(None) => break "the server closed the stream".to_string(),
                            Err(e) => break e.to_string(),
                        },
                    }
                }
            }
        };
        let _ = mastership.send(Mastership::Unknown);
        let _ = events.send(Event::Disconnected(reason));
        let delay = backoff.next_delay().unwrap_or(opts.backoff.max);
        if outbound.is_closed() {
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

async fn handle(
    m: p4::StreamMessageResponse,
    opts: &ClientOptions,
    tx: &mpsc::Sender<p4::StreamMessageRequest>,
    mastership: &watch::Sender<Mastership>,
    events: &broadcast::Sender<Event>,
) {
    match m.update {
        Some(Out::Arbitration(a)) => {
            let t = mastership::apply(*mastership.borrow(), &a);
            if t.lost_primacy {
                tracing::warn!("lost primacy: {:?}", t.now);
            }
            let _ = mastership.send(t.now);
            let _ = events.send(Event::Mastership(t.now));
        }
        Some(Out::Digest(d)) => {
            let (id, list) = (d.digest_id, d.list_id);
            let _ = events.send(Event::Digest(d));
            if opts.auto_ack_digests {
                let ack = p4::DigestListAck { digest_id: id, list_id: list };
                let _ = tx.send(p4::StreamMessageRequest { update: Some(In::DigestAck(ack)) }).await;
            }
        }
        Some(Out::IdleTimeoutNotification(n)) => {
            let _ = events.send(Event::IdleTimeout(n));
        }
        Some(Out::Packet(p)) => {
            let _ = events.send(Event::PacketIn(p));
        }
        Some(Out::Error(e)) => {
            let _ = events.send(Event::StreamError(e));
        }
        Some(Out::Other(_)) | None => {}
    }
}
