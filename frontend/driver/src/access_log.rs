//! The access log's writing side: the worker hands the engine's records to
//! a bounded queue (never waiting: a full queue drops the record and counts
//! it), and a writer thread turns each into one JSON line (serde_json)
//! through a buffered writer, flushed whenever the queue is empty.
//! `[access_log]` in the config; docs/OPERATIONS.md, "Access log".

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use switchyard_frontend::access_log::AccessRecord;
use switchyard_frontend::config::{AccessLogSettings, AccessLogTarget};
use switchyard_frontend::limits::ACCESS_LOG_QUEUE;

/// One line: the wall-clock time first, then the record's fields.
#[derive(Serialize)]
struct AccessLine<'a> {
    /// RFC 3339, UTC, milliseconds.
    time: String,
    #[serde(flatten)]
    record: &'a AccessRecord,
}

/// RFC 3339 UTC with milliseconds: `2026-12-03T07:05:09.123Z`.
/// Always 24 characters, so the lines sort by time as text.
fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The JSON line of `record` (no newline). `start` is the wall-clock time
/// of the engine's 0 ms.
pub fn json_line(record: &AccessRecord, start: SystemTime) -> String {
    let line = AccessLine { time: rfc3339(start + Duration::from_millis(record.at_ms)), record };
    serde_json::to_string(&line).expect("an access record always serializes")
}

/// The worker's end of the queue.
pub struct AccessLogQueue {
    tx: SyncSender<AccessRecord>,
    dropped: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl AccessLogQueue {
    /// Queues a record for the writer; drops and counts it when the queue
    /// is full (the writer is behind) or the writer is gone.
    pub fn offer(&self, record: AccessRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records dropped on the way to the file (queue full, writer gone).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Lines the writer wrote.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// The opened target, before its writer starts: opened at start, so that a
/// path that cannot be written stops the front-end before it is up.
pub struct AccessLogTargetFile {
    out: Box<dyn Write + Send>,
}

impl AccessLogTargetFile {
    /// A file is appended to (created mode 0640); `-` is stdout.
    pub fn open(settings: &AccessLogSettings) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = match &settings.target {
            AccessLogTarget::Stdout => Box::new(io::stdout()),
            AccessLogTarget::File(path) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o640)
                    .open(path)
                    .map_err(|e| io::Error::new(e.kind(), format!("access_log.path {}: {e}", path.display())))?;
                Box::new(f)
            }
        };
        Ok(Self { out })
    }
}

/// The writer thread; joined after the queue is dropped (it writes what is
/// left and flushes).
pub struct AccessLogWriter {
    handle: JoinHandle<()>,
}

impl AccessLogWriter {
    /// Opens the target and starts the writer thread at once (tests).
    pub fn spawn(settings: &AccessLogSettings, start: SystemTime) -> io::Result<(AccessLogQueue, AccessLogWriter)> {
        Self::start(AccessLogTargetFile::open(settings)?, start)
    }

    /// Starts the writer thread on an opened target. `start`: the
    /// wall-clock time of the engine's 0 ms (the worker's start).
    pub fn start(target: AccessLogTargetFile, start: SystemTime) -> io::Result<(AccessLogQueue, AccessLogWriter)> {
        let out = target.out;
        let (tx, rx) = mpsc::sync_channel(ACCESS_LOG_QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let count = written.clone();
        let handle = std::thread::Builder::new()
            .name("sy-access-log".into())
            .spawn(move || write_lines(rx, BufWriter::with_capacity(64 * 1024, out), start, &count))?;
        Ok((AccessLogQueue { tx, dropped: Arc::default(), written }, AccessLogWriter { handle }))
    }

    pub fn join(self) {
        let _ = self.handle.join();
    }
}

fn write_lines(rx: Receiver<AccessRecord>, mut out: impl Write, start: SystemTime, written: &AtomicU64) {
    let mut failed = false;
    let mut write = |out: &mut dyn Write, r: &AccessRecord| {
        if failed {
            return;
        }
        if let Err(e) = writeln!(out, "{}", json_line(r, start)) {
            eprintln!("access log: write failed, no more lines are written: {e}");
            failed = true;
        } else {
            written.fetch_add(1, Ordering::Relaxed);
        }
    };
    // Blocks for the first record, writes what else is queued, flushes.
    while let Ok(r) = rx.recv() {
        write(&mut out, &r);
        while let Ok(r) = rx.try_recv() {
            write(&mut out, &r);
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_frontend::access_log::{OffloadField, Outcome};

    fn record() -> AccessRecord {
        AccessRecord {
            at_ms: 1_500,
            client: "198.18.0.2:40000".parse().unwrap(),
            service: "web".into(),
            method: Some("GET".into()),
            host: Some("example.test".into()),
            path: Some("/index.html".into()),
            route: Some(1),
            pool: Some("web".into()),
            backend: Some("198.18.10.2:80".parse().unwrap()),
            offload: Some(OffloadField::Connection),
            setup_ms: Some(2),
            outcome: Outcome::Routed,
        }
    }

    #[test]
    fn a_record_is_one_json_line_with_every_field() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_745_500);
        let line = json_line(&record(), start);
        assert_eq!(
            line,
            r#"{"time":"2025-12-03T07:05:01.500Z","client":"198.18.0.2:40000","service":"web","method":"GET","host":"example.test","path":"/index.html","route":1,"pool":"web","backend":"198.18.10.2:80","offload":"connection","setup_ms":2,"outcome":"routed"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["outcome"], "routed");
    }

    #[test]
    fn a_reply_has_its_status_as_outcome_and_nulls() {
        let r = AccessRecord { route: None, backend: None, offload: None, method: None, path: None, host: None, outcome: Outcome::Replied(503), ..record() };
        let v: serde_json::Value = serde_json::from_str(&json_line(&r, SystemTime::UNIX_EPOCH)).unwrap();
        assert_eq!(v["outcome"], "503");
        assert!(v["backend"].is_null() && v["route"].is_null() && v["path"].is_null());
        assert_eq!(v["time"], "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn the_writer_appends_lines_and_a_full_queue_drops_them() {
        let dir = std::env::temp_dir().join(format!("sy-access-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let _ = std::fs::remove_file(&path);
        let settings = AccessLogSettings { target: AccessLogTarget::File(path.clone()), sample: 1 };
        let (queue, writer) = AccessLogWriter::spawn(&settings, SystemTime::UNIX_EPOCH).unwrap();
        for _ in 0..3 {
            queue.offer(record());
        }
        let written = queue.written.clone();
        drop(queue);
        writer.join();
        assert_eq!(written.load(Ordering::Relaxed), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));

        // No writer draining: the queue fills, then drops and counts.
        let (tx, _rx) = mpsc::sync_channel(2);
        let q = AccessLogQueue { tx, dropped: Arc::default(), written: Arc::default() };
        for _ in 0..5 {
            q.offer(record());
        }
        assert_eq!(q.dropped(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_path_is_a_clear_error() {
        let settings = AccessLogSettings { target: AccessLogTarget::File("/nonexistent-dir/access.log".into()), sample: 1 };
        let e = AccessLogWriter::spawn(&settings, SystemTime::UNIX_EPOCH).err().expect("refused");
        assert!(e.to_string().starts_with("access_log.path /nonexistent-dir/access.log: "), "{e}");
    }
}
