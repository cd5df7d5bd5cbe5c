//! `serve --capture DIR`: the events the host accepts (authenticated and parsed, before they are
//! decided) written to rotated JSONL files that `cxrules replay DIR` reads, each with the time it
//! was received. Capture never sits on the answer path and never refuses an event: the handler
//! offers the body to a bounded channel (`try_send`, nothing else) and a writer thread of its own
//! does the parsing, the optional redaction and the file IO. A full channel or a failing disk
//! drops captured lines, counted in `cxrules_capture_dropped_total` and said in the log; the
//! events themselves are decided as usual.

mod files;

pub use files::capture_files;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use axum::body::Bytes;
use cxrules_engine::Engine;

pub use crate::config::{CaptureArgs, CaptureConfig};
use crate::metrics::CaptureCounters;

/// The key every captured line carries its receive time under (RFC 3339, milliseconds, UTC);
/// `cxrules replay` reads event time from it first.
pub const RECEIVED_AT: &str = "_received_at";

/// The JSON pointer of [`RECEIVED_AT`].
pub const RECEIVED_AT_POINTER: &str = "/_received_at";

/// Prefix and suffix of capture file names: `capture-20261203T184855.123Z-000001.jsonl`, so
/// their names sort in the order they were written.
pub const FILE_PREFIX: &str = "capture-";
/// See [`FILE_PREFIX`].
pub const FILE_SUFFIX: &str = ".jsonl";

/// One accepted event on its way to the writer.
struct Record {
    received: SystemTime,
    body: Bytes,
}

/// The running capture: the channel's sending side and the writer thread.
pub struct Capture {
    tx: SyncSender<Record>,
    counters: CaptureCounters,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Capture")
    }
}

impl Capture {
    /// Starts the writer thread. `engine` gives the rules redaction reads the message text
    /// through (the ones in force when each event is written).
    pub fn start(config: CaptureConfig, engine: Engine, counters: CaptureCounters) -> Self {
        let (tx, rx) = sync_channel(config.queue);
        let stop = Arc::new(AtomicBool::new(false));
        let writer = files::Writer::new(config, engine, counters.clone());
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cxrules-capture".into())
            .spawn(move || writer.run(rx, &flag))
            .map_err(|e| tracing::warn!(error = %e, "capture off: cannot start its writer"))
            .ok();
        counters.set_writing(thread.is_some());
        Self {
            tx,
            counters,
            stop,
            thread: Mutex::new(thread),
        }
    }

    /// Offers an accepted event's body to the writer; never waits and never fails the event.
    pub fn offer(&self, body: &Bytes) {
        let record = Record {
            received: SystemTime::now(),
            body: body.clone(),
        };
        match self.tx.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.counters.dropped("queue_full", 1),
            Err(TrySendError::Disconnected(_)) => self.counters.dropped("stopped", 1),
        }
    }

    /// Writes what is queued, closes the file and stops the writer (at shutdown).
    pub fn close(&self) {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}
