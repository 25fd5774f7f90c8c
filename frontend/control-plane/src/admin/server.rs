//! The admin API's listener and request handling (hyper 1, HTTP/1.1).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use switchyard_frontend::config::{AdminSettings, Config};

use super::routes::{self, Endpoint, Refusal};
use super::{access, views, Reloader};
use crate::command::{CommandError, CommandSender, EngineSnapshot, FlowFilter};
use crate::metrics::{self, AdminCounters, Scrape};
use crate::requests::{ControlRequests, SwitchState};

/// Connections served at once: an operator, a scraper and a few scripts.
/// More wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 32;
/// A client that sends no complete request head within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Request bodies are not used; a larger one is refused.
const MAX_BODY: usize = 4096;
/// How long a request waits for the worker's answer. It answers between
/// bursts, so this is only reached when it is stuck or gone.
pub(crate) const WORKER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `/healthz` waits for the worker's answer to a ping: a worker
/// that has not run its commands for this long is stuck, and the answer
/// (503) must reach the prober before its own timeout.
const HEALTH_WORKER_TIMEOUT: Duration = Duration::from_millis(500);
/// `/healthz` answers 200 with this line while the worker turns.
pub const HEALTH_OK: &str = "switchyard-frontend ok";
/// How long /rotate-secret waits for the switch to sign with the new
/// secret (a worker acknowledgement and one switch write).
const ROTATION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a scrape waits for the switch's counters before it answers
/// without them.
const SWITCH_COUNTERS_TIMEOUT: Duration = Duration::from_secs(1);
/// The accept loop looks at the stop flag this often.
const STOP_POLL: Duration = Duration::from_millis(100);

/// What the handlers use.
pub struct AdminContext {
    /// The running config (a reload replaces it).
    pub config: std::sync::RwLock<Arc<Config>>,
    /// None: no listener (SIGHUP still reloads).
    pub settings: Option<AdminSettings>,
    pub commands: CommandSender,
    pub control: ControlRequests,
    pub counters: AdminCounters,
    pub started: Instant,
    pub reloader: Reloader,
}

impl AdminContext {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_config(&self, c: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = c;
    }
}

pub struct AdminServer {
    /// Where the API listens (None without `[admin]`).
    pub local_addr: Option<SocketAddr>,
    handle: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `ctx.settings`' listen address (failing here, at start, when
    /// it cannot), with `take_signals` takes over the process's SIGINT,
    /// SIGTERM (both set `stop`) and SIGHUP (reload) — the front-end does,
    /// in-process tests do not — and serves on a thread until `stop`.
    pub fn spawn(ctx: AdminContext, stop: Arc<AtomicBool>, take_signals: bool) -> Result<Self> {
        let listener = match ctx.settings {
            Some(s) => {
                let l = std::net::TcpListener::bind(s.listen).with_context(|| format!("admin API: cannot listen on {} ([admin] listen)", s.listen))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let local_addr = listener.as_ref().map(|l| l.local_addr()).transpose()?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // Registered before the thread starts, so a signal right after the
        // start is handled instead of killing the process.
        let signals = if take_signals { Some(rt.block_on(async { Signals::new() }).context("signal handlers")?) } else { None };
        let handle = std::thread::Builder::new().name("sy-admin".into()).spawn(move || {
            rt.block_on(async move {
                let ctx = Arc::new(ctx);
                if let Some(signals) = signals {
                    tokio::spawn(on_signals(ctx.clone(), signals, stop.clone()));
                }
                // The health checks of the running config (none without
                // `[pools.health]` or agent addresses).
                tokio::spawn(crate::health::checker::run(ctx.clone(), stop.clone()));
                let served = match listener {
                    Some(l) => serve(l, ctx, stop).await,
                    None => {
                        while !stop.load(Relaxed) {
                            tokio::time::sleep(STOP_POLL).await;
                        }
                        Ok(())
                    }
                };
                if let Err(e) = served {
                    eprintln!("admin API stopped: {e}");
                }
            })
        })?;
        Ok(AdminServer { local_addr, handle })
    }

    pub fn join(self) {
        let _ = self.handle.join();
    }
}

/// The process's signals, all handled here: one crate's handler each (a
/// second crate's SIGHUP handler would run beside this one: ctrlc's
/// termination handler made SIGHUP stop the front-end).
struct Signals {
    hangup: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals { hangup: signal(SignalKind::hangup())?, interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }
}

/// SIGINT and SIGTERM stop the front-end (it prints its counters on the
/// way out); every SIGHUP reloads, its outcome in the log.
async fn on_signals(ctx: Arc<AdminContext>, mut s: Signals, stop: Arc<AtomicBool>) {
    loop {
        tokio::select! {
            _ = s.interrupt.recv() => break,
            _ = s.terminate.recv() => break,
            _ = s.hangup.recv() => match super::reloader::reload(&ctx).await {
                Ok(v) => println!("reload (SIGHUP): {v}"),
                Err(r) => eprintln!("reload (SIGHUP) refused: {}", r.message),
            },
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
}

async fn serve(listener: std::net::TcpListener, ctx: Arc<AdminContext>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    while !stop.load(Relaxed) {
        // Both waits give way to the stop flag every STOP_POLL.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = tokio::time::sleep(STOP_POLL) => continue,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = tokio::time::sleep(STOP_POLL) => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                eprintln!("admin API: accept: {e}");
                tokio::time::sleep(STOP_POLL).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(ctx.clone(), peer, req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            let _ = conn.await;
            drop(permit);
        });
    }
    Ok(())
}

type Reply = Response<Full<Bytes>>;

fn reply(status: u16, content_type: &str, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_str(content_type).expect("a valid content type"));
    r
}

fn json_reply(status: u16, v: &Value) -> Reply {
    reply(status, "application/json", format!("{v}\n"))
}

fn error_reply(r: Refusal) -> Reply {
    json_reply(r.status, &json!({ "error": r.message }))
}

fn worker_refusal(e: CommandError) -> Refusal {
    Refusal { status: 503, message: format!("the worker did not answer: {e}") }
}

async fn handle(ctx: Arc<AdminContext>, peer: SocketAddr, req: Request<Incoming>) -> Result<Reply, Infallible> {
    ctx.counters.requests.fetch_add(1, Relaxed);
    // Liveness tells nothing and changes nothing: served to the prober
    // wherever it runs (the switch's side of a management network).
    let liveness = req.uri().path() == "/healthz";
    if !liveness && !access::allowed(peer.ip(), ctx.settings.is_some_and(|s| s.allow_remote)) {
        ctx.counters.refused_remote.fetch_add(1, Relaxed);
        return Ok(error_reply(Refusal {
            status: 403,
            message: format!("the admin API serves loopback clients only, not {} (set [admin] allow_remote = true)", peer.ip()),
        }));
    }
    let (method, path, query) = (req.method().as_str().to_string(), req.uri().path().to_string(), req.uri().query().map(str::to_string));
    if Limited::new(req.into_body(), MAX_BODY).collect().await.is_err() {
        return Ok(error_reply(Refusal { status: 413, message: format!("the admin API takes no request body over {MAX_BODY} bytes") }));
    }
    let answer = match routes::route(&method, &path, query.as_deref()) {
        Ok(endpoint) => answer(&ctx, endpoint).await,
        Err(r) => Err(r),
    };
    Ok(answer.unwrap_or_else(error_reply))
}

/// A worker snapshot without blocking the runtime (the wait is a
/// crossbeam receive).
async fn snapshot(commands: &CommandSender, filter: FlowFilter) -> Result<EngineSnapshot, Refusal> {
    let c = commands.clone();
    tokio::task::spawn_blocking(move || c.snapshot(filter, WORKER_TIMEOUT))
        .await
        .map_err(|e| Refusal { status: 500, message: format!("snapshot task: {e}") })?
        .map_err(worker_refusal)
}

/// The switch entries per backend (None without a switch).
async fn switch_entries(ctx: &AdminContext, cfg: &Config) -> Result<Option<Vec<u64>>, Refusal> {
    ctx.control.entries_per_backend(cfg.backends.len()).await.map_err(|message| Refusal { status: 503, message })
}

async fn answer(ctx: &Arc<AdminContext>, endpoint: Endpoint) -> Result<Reply, Refusal> {
    let cfg = &ctx.config();
    let uptime = ctx.started.elapsed().as_secs_f64();
    Ok(match endpoint {
        Endpoint::Health => {
            let c = ctx.commands.clone();
            match tokio::task::spawn_blocking(move || c.ping(HEALTH_WORKER_TIMEOUT)).await {
                Ok(Ok(())) => reply(200, "text/plain", format!("{HEALTH_OK}\n")),
                Ok(Err(e)) => reply(503, "text/plain", format!("switchyard-frontend unhealthy: {e}\n")),
                Err(e) => reply(500, "text/plain", format!("switchyard-frontend unhealthy: ping task: {e}\n")),
            }
        }
        Endpoint::Status => {
            let snap = snapshot(&ctx.commands, FlowFilter::default()).await?;
            let refused = ctx.counters.refused_remote.load(Relaxed);
            json_reply(200, &views::status(cfg, &snap, ctx.control.stats(), ctx.control.switch_state(), uptime, refused))
        }
        Endpoint::Backends => {
            let snap = snapshot(&ctx.commands, FlowFilter::default()).await?;
            json_reply(200, &views::backends(cfg, &snap, &ctx.control.health(), switch_entries(ctx, cfg).await?.as_deref()))
        }
        Endpoint::SetDraining { backend, draining } => {
            let b = views::backend_index(cfg, &backend)?;
            let c = ctx.commands.clone();
            let snap = tokio::task::spawn_blocking(move || c.set_backend_and_wait(b, None, Some(draining), WORKER_TIMEOUT))
                .await
                .map_err(|e| Refusal { status: 500, message: format!("drain task: {e}") })?
                .map_err(worker_refusal)?;
            json_reply(200, &views::backend(cfg, &snap, &ctx.control.health(), switch_entries(ctx, cfg).await?.as_deref(), b))
        }
        Endpoint::Flows { client, backend } => {
            let backend = backend.map(|n| views::backend_index(cfg, &n)).transpose()?;
            json_reply(200, &views::flows(cfg, &snapshot(&ctx.commands, FlowFilter { client, backend, vip: None }).await?))
        }
        Endpoint::Table => {
            let t = ctx.control.connection_table().await.map_err(|message| Refusal { status: 503, message })?;
            json_reply(200, &views::table(cfg, &t))
        }
        Endpoint::RotateSecret => {
            if ctx.control.switch_state() == SwitchState::Disabled {
                return Err(Refusal { status: 409, message: "no switch (--no-switch): no cookie secret is in use to rotate".into() });
            }
            let n = ctx.control.rotate_secret(ROTATION_TIMEOUT).await.map_err(|message| Refusal { status: 504, message })?;
            json_reply(200, &json!({ "rotations": n, "persisted_to": cfg.cookie.rotated_secrets_file }))
        }
        Endpoint::Reload => json_reply(200, &super::reloader::reload(ctx).await?),
        Endpoint::Metrics => {
            let snap = snapshot(&ctx.commands, FlowFilter::default()).await?;
            // A busy control task costs the scrape this family, not the scrape.
            let entries = ctx.control.entries_per_backend(cfg.backends.len()).await.ok().flatten();
            // Likewise a slow or unreachable switch: its counters are left out.
            let switch_counters =
                tokio::time::timeout(SWITCH_COUNTERS_TIMEOUT, ctx.control.switch_counters()).await.ok().and_then(Result::ok).flatten();
            let text = metrics::render(&Scrape {
                config: cfg,
                engine: &snap,
                backend_entries: entries.as_deref(),
                switch_counters: switch_counters.as_ref(),
                health: &ctx.control.health(),
                control: ctx.control.stats(),
                switch: ctx.control.switch_state(),
                admin: &ctx.counters,
                uptime_seconds: uptime,
            });
            reply(200, metrics::CONTENT_TYPE, text)
        }
    })
}
