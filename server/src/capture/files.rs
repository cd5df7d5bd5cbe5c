//! The capture writer: drains the channel in batches, turns each body into one JSONL line (with
//! its receive time, redacted if asked), appends the batch with one write, rotates files by size
//! and age, and removes the oldest beyond the count and age bounds. A failed write (disk full, a
//! file-size limit, a directory gone or not writable) truncates the file back to its last whole
//! line, counts the batch as dropped, logs once, and pauses writing for a while before trying a
//! new file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use cxrules_engine::redact::redact_content;
use cxrules_engine::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{CaptureConfig, Record, FILE_PREFIX, FILE_SUFFIX, RECEIVED_AT};
use crate::metrics::CaptureCounters;

/// How often the writer wakes without events (to rotate by age and to see the stop flag).
const TICK: Duration = Duration::from_millis(200);
/// Most events written with one write.
const BATCH: usize = 1024;
/// The writer's rest after a batch smaller than [`BATCH`] (see `run`).
const PAUSE: Duration = Duration::from_millis(10);
/// How long writing pauses after a failed write before a new file is tried.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(10);
/// How often the directory is listed for files past their age when no file is opened (opening
/// one always prunes).
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// The file being written.
struct Current {
    file: File,
    path: PathBuf,
    size: u64,
    opened: Instant,
}

/// The writer thread's state.
pub(super) struct Writer {
    config: CaptureConfig,
    engine: Engine,
    counters: CaptureCounters,
    current: Option<Current>,
    /// Lines not yet written, and how many events they hold.
    pending: Vec<u8>,
    pending_events: u64,
    /// While set, events are dropped without trying the disk.
    paused_until: Option<Instant>,
    /// Files opened by this process, for unique names within one millisecond.
    sequence: u64,
    /// When the directory was last pruned.
    pruned: Instant,
}

impl Writer {
    pub(super) fn new(config: CaptureConfig, engine: Engine, counters: CaptureCounters) -> Self {
        Self {
            config,
            engine,
            counters,
            current: None,
            pending: Vec::with_capacity(1 << 16),
            pending_events: 0,
            paused_until: None,
            sequence: 0,
            pruned: Instant::now(),
        }
    }

    /// Runs until `stop` is set, then writes what is left in the channel and returns.
    pub(super) fn run(mut self, rx: Receiver<Record>, stop: &AtomicBool) {
        loop {
            let first = match rx.recv_timeout(TICK) {
                Ok(record) => Some(record),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let stopping = stop.load(Ordering::Acquire);
            let limit = if stopping { usize::MAX } else { BATCH };
            let mut taken = 0usize;
            for record in first.into_iter().chain(rx.try_iter().take(limit)) {
                self.append(&record);
                taken += 1;
            }
            self.flush();
            self.housekeeping();
            if stopping {
                break;
            }
            if taken > 0 && taken < limit {
                // A pause before waiting again: under load the queue fills meanwhile and is
                // taken as one batch, and a handler's send seldom finds the writer parked (each
                // wake-up is a system call and a thread switch on the handlers' core).
                // This is the writer's own thread, never a tokio worker.
                #[allow(clippy::disallowed_methods)]
                std::thread::sleep(PAUSE);
            }
        }
        self.flush();
        self.current = None;
    }

    /// One event as one line, added to the pending batch (written first when it would not fit
    /// the current file).
    fn append(&mut self, record: &Record) {
        if self.paused() {
            self.counters.dropped("write_error", 1);
            return;
        }
        let Some(line) = self.line(record) else {
            return;
        };
        let max = self.config.max_file_size;
        if line.len() as u64 > max {
            self.counters.dropped("too_large", 1);
            return;
        }
        let used = self.current.as_ref().map_or(0, |c| c.size) + self.pending.len() as u64;
        if used + line.len() as u64 > max {
            self.flush();
            self.close_current();
        }
        self.pending.extend_from_slice(&line);
        self.pending_events += 1;
    }

    /// The JSONL line of one body; `None` for a body that is not a JSON object (the host refuses
    /// it; there is nothing to replay).
    fn line(&self, record: &Record) -> Option<Vec<u8>> {
        if self.config.redact_key.is_none() {
            if let Some(line) = spliced(&record.body, &rfc3339(record.received)) {
                return Some(line);
            }
        }
        let mut event = match serde_json::from_slice::<Value>(&record.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                self.counters.dropped("not_an_object", 1);
                return None;
            }
        };
        if let Some(key) = &self.config.redact_key {
            let seal = |text: &str| -> [u8; 32] {
                let mut mac = <Hmac<Sha256>>::new_from_slice(key.expose().as_bytes())
                    .expect("HMAC takes keys of any length");
                mac.update(text.as_bytes());
                mac.finalize().into_bytes().into()
            };
            let done = redact_content(&self.engine.rules(), &mut event, &seal);
            if !done.stable {
                self.counters.redaction_unstable();
            }
        }
        if let Value::Object(map) = &mut event {
            map.insert(RECEIVED_AT.into(), Value::String(rfc3339(record.received)));
        }
        let mut line = serde_json::to_vec(&event).ok()?;
        line.push(b'\n');
        Some(line)
    }

    /// Writes the pending batch in one write, opening a file first if none is open.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending_events);
        if self.paused() {
            self.pending.clear();
            self.counters.dropped("write_error", events);
            return;
        }
        if self.current.is_none() {
            match self.open() {
                Ok(c) => self.current = Some(c),
                Err(e) => {
                    self.pending.clear();
                    self.fail(events, &e, None);
                    return;
                }
            }
        }
        let Some(current) = self.current.as_mut() else {
            return;
        };
        match current.file.write_all(&self.pending) {
            Ok(()) => {
                current.size += self.pending.len() as u64;
                self.counters.written(events, self.pending.len() as u64);
            }
            Err(e) => {
                // Cut a partly written batch off, so the file ends with a whole line.
                let _ = current.file.set_len(current.size);
                let path = current.path.clone();
                self.fail(events, &e, Some(&path));
                self.current = None;
            }
        }
        self.pending.clear();
    }

    fn fail(&mut self, events: u64, error: &std::io::Error, file: Option<&Path>) {
        self.counters.dropped("write_error", events);
        self.counters.set_writing(false);
        self.paused_until = Some(Instant::now() + PAUSE_AFTER_FAILURE);
        let dir = self.config.dir.display();
        let file = file.map(|f| f.display().to_string()).unwrap_or_default();
        tracing::warn!(
            %dir, %file, %error,
            "capture stopped: cannot write events (they are still decided and answered); \
             trying a new file in {}s",
            PAUSE_AFTER_FAILURE.as_secs()
        );
    }

    /// True while writing pauses after a failure; the first call after the pause resumes.
    fn paused(&mut self) -> bool {
        match self.paused_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                self.paused_until = None;
                self.counters.set_writing(true);
                tracing::info!(dir = %self.config.dir.display(), "capture resumed");
                false
            }
            None => false,
        }
    }

    fn open(&mut self) -> std::io::Result<Current> {
        self.sequence += 1;
        let name = format!(
            "{FILE_PREFIX}{}-{:06}{FILE_SUFFIX}",
            file_stamp(SystemTime::now()),
            self.sequence
        );
        let path = self.config.dir.join(name);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        let current = Current {
            file,
            path,
            size: 0,
            opened: Instant::now(),
        };
        // A new file may push the oldest past the count bound.
        self.prune(Some(&current.path));
        Ok(current)
    }

    fn close_current(&mut self) {
        self.current = None;
    }

    /// Rotates a file open for too long, removes files past the bounds.
    fn housekeeping(&mut self) {
        let old = self
            .current
            .as_ref()
            .is_some_and(|c| c.opened.elapsed() >= self.config.rotate_after);
        if old {
            self.close_current();
        }
        if self.pruned.elapsed() >= PRUNE_EVERY {
            let current = self.current.as_ref().map(|c| c.path.clone());
            self.prune(current.as_deref());
        }
    }

    /// Removes capture files beyond `max_files` (the oldest first; the open one counts and is
    /// kept) and those last written before `max_age`.
    fn prune(&mut self, current: Option<&Path>) {
        self.pruned = Instant::now();
        let mut files = capture_files(&self.config.dir);
        let now = SystemTime::now();
        let keep = self.config.max_files;
        let excess = files.len().saturating_sub(keep);
        let mut removed = 0u64;
        for (i, path) in files.drain(..).enumerate() {
            if Some(path.as_path()) == current {
                continue;
            }
            let expired = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > self.config.max_age);
            if (i < excess || expired) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            self.counters.files_removed(removed);
        }
    }
}

/// The capture files of `dir`, oldest first (their names sort by the time they were opened).
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    files.sort();
    files
}

/// `2026-12-03T18:48:55.123Z`.
fn rfc3339(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => "1970-01-01T00:00:00.000Z".into(),
    }
}

/// `20261203T184855.123Z`: the time in a file name, sortable as text.
fn file_stamp(t: SystemTime) -> String {
    rfc3339(t).replace(['-', ':'], "")
}

/// The line of a body kept as received, with `_received_at` put in front of its first key,
/// without parsing it again (the handler parsed it before offering it, so a body that starts
/// with `{` is an object). `None` when that cannot be done byte-wise, and the caller parses:
/// line breaks between its tokens (a line is one event), a `\u` escape (a key could spell
/// `_received_at` that way) or a key of that name (it is replaced, not repeated).
fn spliced(body: &[u8], received_at: &str) -> Option<Vec<u8>> {
    let body = body.trim_ascii();
    let rest = body.strip_prefix(b"{")?;
    let awkward = body.iter().any(|b| matches!(b, b'\n' | b'\r'))
        || body.windows(2).any(|w| w == b"\\u")
        || body.windows(RECEIVED_AT.len() + 2).any(|w| {
            w[0] == b'"' && w[w.len() - 1] == b'"' && &w[1..w.len() - 1] == RECEIVED_AT.as_bytes()
        });
    if awkward {
        return None;
    }
    let empty = rest.trim_ascii_start().starts_with(b"}");
    let mut line = Vec::with_capacity(body.len() + RECEIVED_AT.len() + received_at.len() + 8);
    line.extend_from_slice(b"{\"");
    line.extend_from_slice(RECEIVED_AT.as_bytes());
    line.extend_from_slice(b"\":\"");
    line.extend_from_slice(received_at.as_bytes());
    line.extend_from_slice(if empty { b"\"" } else { b"\"," });
    line.extend_from_slice(rest);
    line.push(b'\n');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_with_milliseconds_and_names_sort_by_time() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_787_735_120);
        assert_eq!(rfc3339(t), "2025-12-03T18:48:55.120Z");
        assert_eq!(file_stamp(t), "20251203T184855.120Z");
        let later = file_stamp(t + Duration::from_millis(1));
        assert!(later > file_stamp(t));
        assert_eq!(
            cxrules_engine::timestamp::epoch_ms(&Value::String(rfc3339(t))),
            Some(1_764_787_735_120)
        );
    }

    proptest::proptest! {
        /// A spliced line is the parsed event with `_received_at` added, whatever the object;
        /// bodies it cannot splice (line breaks, escapes, the key itself) are left to the parse.
        #[test]
        fn a_spliced_line_is_the_event_with_its_receive_time(
            pairs in proptest::collection::vec(("[a-z_]{1,12}|_received_at", "\\PC{0,12}"), 0..6),
            pretty in proptest::bool::ANY,
        ) {
            let mut event = serde_json::Map::new();
            for (k, v) in pairs {
                event.insert(k, Value::String(v));
            }
            let event = Value::Object(event);
            let body = if pretty {
                serde_json::to_vec_pretty(&event).unwrap()
            } else {
                serde_json::to_vec(&event).unwrap()
            };
            let at = "2026-12-04T10:00:00.000Z";
            if let Some(line) = spliced(&body, at) {
                proptest::prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
                let got: Value = serde_json::from_slice(&line).unwrap();
                let mut want = event.clone();
                want.as_object_mut().unwrap().insert(RECEIVED_AT.into(), Value::String(at.into()));
                proptest::prop_assert_eq!(got, want);
            } else {
                let compact = serde_json::to_vec(&event).unwrap();
                proptest::prop_assert!(
                    pretty && !event.as_object().unwrap().is_empty()
                        || compact.windows(2).any(|w| w == b"\\u")
                        || event.get(RECEIVED_AT).is_some()
                );
            }
        }
    }
}
