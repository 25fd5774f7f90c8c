//! The batched writer: callers submit single updates into a bounded queue
//! (non-blocking `try_submit` from a data-plane thread, or `submit().await`);
//! one task packs them into WriteRequests (CONTINUE_ON_ERROR, so one bad
//! entry does not fail its neighbours) with `Batcher`, one Write in flight,
//! and reports each update's outcome as a `Completion` on a bounded channel.
//! While a Write is in flight new requests accumulate, so batches grow with
//! load by themselves.

use std::time::{Duration, Instant};

use p4runtime_proto::p4::v1 as p4;
use tokio::sync::mpsc;
use tonic::Code;

use super::batcher::Batcher;
use super::error::{ClientError, UpdateStatus};
use super::session::P4rtClient;

#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Most updates per WriteRequest.
    pub max_batch: usize,
    /// Longest an update waits for companions before a partial batch goes.
    pub linger: Duration,
    /// Bound of the submission queue (and of the completion queue).
    pub capacity: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { max_batch: 128, linger: Duration::from_micros(200), capacity: 65536 }
    }
}

/// One update to write, with the caller's tag for its completion.
#[derive(Debug, Clone)]
pub struct WriteJob {
    pub tag: u64,
    pub update: p4::Update,
}

/// The outcome of one submitted update.
#[derive(Debug, Clone)]
pub struct Completion {
    pub tag: u64,
    pub status: UpdateStatus,
    /// From submission to the server's answer.
    pub latency: Duration,
}

#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<(WriteJob, Instant)>,
}

impl WriterHandle {
    /// Never blocks: `QueueFull` when the bound is reached (the caller keeps
    /// the flow on its slow path), `WriterStopped` when the task has ended.
    pub fn try_submit(&self, job: WriteJob) -> Result<(), ClientError> {
        self.tx.try_send((job, Instant::now())).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ClientError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => ClientError::WriterStopped,
        })
    }

    pub async fn submit(&self, job: WriteJob) -> Result<(), ClientError> {
        self.tx.send((job, Instant::now())).await.map_err(|_| ClientError::WriterStopped)
    }
}

/// Starts the writer task on the current runtime.
pub fn spawn_writer(client: P4rtClient, opts: WriterOptions) -> (WriterHandle, mpsc::Receiver<Completion>) {
    let (tx, mut rx) = mpsc::channel::<(WriteJob, Instant)>(opts.capacity.max(1));
    let (done_tx, done_rx) = mpsc::channel(opts.capacity.max(1));
    tokio::spawn(async move {
        let epoch = Instant::now();
        let ns = |t: Instant| t.duration_since(epoch).as_nanos() as u64;
        let mut batcher: Batcher<(WriteJob, Instant)> = Batcher::new(opts.max_batch, opts.linger.as_nanos() as u64, opts.max_batch * 2);
        let mut open = true;
        while open || !batcher.is_empty() {
            // Fill from the queue without waiting, then wait for the first
            // item or the linger deadline.
            while batcher.has_room() {
                match rx.try_recv() {
                    Ok((job, at)) => {
                        let _ = batcher.push((job, at), ns(at));
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            let now = ns(Instant::now());
            if !batcher.ready(now) && open {
                let wait = match batcher.deadline() {
                    Some(d) => Duration::from_nanos(d.saturating_sub(now)),
                    None => Duration::from_secs(3600),
                };
                tokio::select! {
                    item = rx.recv() => match item {
                        Some((job, at)) => { let _ = batcher.push((job, at), ns(at)); }
                        None => open = false,
                    },
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
            let batch = batcher.take();
            if batch.is_empty() {
                continue;
            }
            let (jobs, updates): (Vec<(u64, Instant)>, Vec<p4::Update>) =
                batch.into_iter().map(|((job, at), _)| ((job.tag, at), job.update)).unzip();
            let n = updates.len();
            let statuses: Vec<UpdateStatus> = match client.write(updates, p4::write_request::Atomicity::ContinueOnError).await {
                Ok(()) => vec![UpdateStatus { code: Code::Ok, message: String::new() }; n],
                Err(ClientError::Updates(v)) if v.len() == n => v,
                Err(e) => {
                    let code = e.code().unwrap_or(Code::Unavailable);
                    vec![UpdateStatus { code, message: e.to_string() }; n]
                }
            };
            let answered = Instant::now();
            for ((tag, at), status) in jobs.into_iter().zip(statuses) {
                if done_tx.send(Completion { tag, status, latency: answered - at }).await.is_err() {
                    // Nobody listens for completions; keep writing anyway.
                }
            }
        }
    });
    (WriterHandle { tx }, done_rx)
}
