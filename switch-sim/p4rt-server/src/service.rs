//! The tonic `P4Runtime` service: decode, lock the device, call it, encode.
//! A background task drives digest timeouts and idle-timeout sweeps.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use p4runtime_proto::google::rpc;
use p4runtime_proto::p4::v1::{self as p4, p4_runtime_server::P4Runtime};
use p4runtime_proto::prost::Message;
use tokio::sync::mpsc;
use tokio_stream::{wrappers::ReceiverStream, Stream};
use tonic::{Code, Request, Response, Status, Streaming};

use crate::device::Device;

/// Read replies are split so no message approaches gRPC's 4 MB default.
const READ_CHUNK: usize = 4096;
/// Per-stream outbound queue; a controller that stops reading loses messages
/// (counted in `Stats::stream_messages_dropped`) instead of stalling the switch.
const STREAM_QUEUE: usize = 4096;
/// How often digests and idle timeouts are checked.
pub const TICK: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct Server {
    device: Arc<Mutex<Device>>,
}

impl Server {
    pub fn new(device: Device) -> Server {
        Server { device: Arc::new(Mutex::new(device)) }
    }

    /// The device, for the port driver and tests (inject packets, stats).
    pub fn device(&self) -> MutexGuard<'_, Device> {
        // A panic while holding the lock is a bug; keep serving with the state.
        self.device.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the periodic work until the runtime stops.
    pub fn spawn_ticker(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            let mut iv = tokio::time::interval(TICK);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                iv.tick().await;
                s.device().tick();
            }
        })
    }
}

/// The Write error as the specification defines it: code UNKNOWN, and a
/// `google.rpc.Status` in the details with one `p4.v1.Error` per update.
fn write_error(results: &[Result<(), crate::translate::Fail>]) -> Status {
    let details = results
        .iter()
        .map(|r| {
            let e = match r {
                Ok(()) => p4::Error { canonical_code: Code::Ok as i32, ..Default::default() },
                Err(f) => p4::Error { canonical_code: f.code as i32, message: f.message.clone(), ..Default::default() },
            };
            p4runtime_proto::prost_types::Any { type_url: "type.googleapis.com/p4.v1.Error".into(), value: e.encode_to_vec() }
        })
        .collect();
    let failed = results.iter().filter(|r| r.is_err()).count();
    let msg = format!("Write failure: {failed} of {} updates failed", results.len());
    let st = rpc::Status { code: Code::Unknown as i32, message: msg.clone(), details };
    Status::with_details(Code::Unknown, msg, st.encode_to_vec().into())
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl P4Runtime for Server {
    async fn write(&self, req: Request<p4::WriteRequest>) -> Result<Response<p4::WriteResponse>, Status> {
        let peer = req.remote_addr();
        let req = req.into_inner();
        let results = self.device().write(peer, &req)?;
        if results.iter().all(|r| r.is_ok()) {
            Ok(Response::new(p4::WriteResponse {}))
        } else {
            Err(write_error(&results))
        }
    }

    type ReadStream = BoxStream<p4::ReadResponse>;

    async fn read(&self, req: Request<p4::ReadRequest>) -> Result<Response<Self::ReadStream>, Status> {
        let entities = self.device().read(&req.into_inner())?;
        let mut chunks: Vec<Result<p4::ReadResponse, Status>> =
            entities.chunks(READ_CHUNK).map(|c| Ok(p4::ReadResponse { entities: c.to_vec() })).collect();
        if chunks.is_empty() {
            chunks.push(Ok(p4::ReadResponse { entities: vec![] }));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn set_forwarding_pipeline_config(
        &self,
        req: Request<p4::SetForwardingPipelineConfigRequest>,
    ) -> Result<Response<p4::SetForwardingPipelineConfigResponse>, Status> {
        let peer = req.remote_addr();
        self.device().set_pipeline(peer, &req.into_inner())?;
        Ok(Response::new(p4::SetForwardingPipelineConfigResponse {}))
    }

    async fn get_forwarding_pipeline_config(
        &self,
        req: Request<p4::GetForwardingPipelineConfigRequest>,
    ) -> Result<Response<p4::GetForwardingPipelineConfigResponse>, Status> {
        Ok(Response::new(self.device().get_pipeline(&req.into_inner())?))
    }

    type StreamChannelStream = BoxStream<p4::StreamMessageResponse>;

    async fn stream_channel(&self, req: Request<Streaming<p4::StreamMessageRequest>>) -> Result<Response<Self::StreamChannelStream>, Status> {
        let peer = req.remote_addr();
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let id = self.device().open_stream(tx.clone(), peer);
        let server = self.clone();
        tokio::spawn(async move {
            loop {
                match inbound.message().await {
                    Ok(Some(msg)) => {
                        let r = server.device().stream_message(id, msg);
                        if let Err(st) = r {
                            let _ = tx.send(Err(st)).await;
                            break;
                        }
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            server.device().close_stream(id);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn capabilities(&self, _req: Request<p4::CapabilitiesRequest>) -> Result<Response<p4::CapabilitiesResponse>, Status> {
        Ok(Response::new(p4::CapabilitiesResponse { p4runtime_api_version: p4runtime_proto::P4RUNTIME_API_VERSION.into() }))
    }
}

/// Binds `addr` and serves plain gRPC (no authentication: the in-process
/// tests and `switchyard-p4rt --insecure`) until the task is aborted;
/// returns the bound address (port 0 picks a free one) and the serving task.
pub async fn serve(server: Server, addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_with(server, addr, None).await
}

/// As [`serve`]; with `tls` the server speaks only TLS and, with the config
/// of `p4runtime_proto::tls::TlsFiles::server_config`, admits only clients
/// whose certificate its CA signed (mutual TLS).
pub async fn serve_with(
    server: Server,
    addr: SocketAddr,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).map_err(|e| std::io::Error::other(format!("TLS: {e}")))?;
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    server.spawn_ticker();
    let svc = p4runtime_proto::p4::v1::p4_runtime_server::P4RuntimeServer::new(server)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    // TCP_NODELAY on every accepted connection: without it Nagle holds the
    // small trailing frames of a Write answer until the controller's delayed
    // ACK (40 ms on Linux), which showed up as 42-46 ms Write round trips.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let task = tokio::spawn(async move {
        if let Err(e) = builder.add_service(svc).serve_with_incoming(incoming).await {
            tracing::error!("P4Runtime server stopped: {e}");
        }
    });
    Ok((local, task))
}
