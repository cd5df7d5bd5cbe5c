//! The outbox file: its tables, opening it with a clear error for every way a data dir can be
//! unusable, and the reads and edits the operator commands and the start-up recovery make.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, DatabaseError, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::cxone::Update;

/// The file inside the data dir.
pub const FILE_NAME: &str = "outbox.redb";
/// What the `format` entry of a cxrules outbox says; anything else is not ours.
pub const FORMAT: &str = "cxrules-outbox/1";

/// `format` → [`FORMAT`].
pub(super) const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// Update id → a [`Pending`] record (JSON). Ids grow, so key order is the order of acceptance.
pub(super) const PENDING: TableDefinition<u64, &[u8]> = TableDefinition::new("pending");
/// Dead-letter id → a [`DeadLetter`] (JSON).
pub(super) const DEAD: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
/// Record id → the wall-clock time (ms, 8 bytes big-endian), the interaction (a 2-byte length,
/// then the text) and the raw body of an event the dedup windows remembered; replayed at start
/// to rebuild the windows.
pub(super) const SEEN: TableDefinition<u64, &[u8]> = TableDefinition::new("seen");

/// One delivery of an update: when, how many calls it took, and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Wall-clock time of the answer, ms since the Unix epoch.
    pub at_ms: u64,
    /// Calls the client made in this delivery (retries included).
    pub calls: u32,
    /// The answer, as text (`cxone rejected the call with 400 …`).
    pub answer: String,
}

/// An update accepted and not yet delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The interaction the update is for.
    pub interaction: String,
    /// The update.
    pub update: Update,
    /// When its event was accepted, ms since the Unix epoch.
    pub accepted_ms: u64,
    /// Earlier deliveries that failed (kept when a dead letter is retried).
    #[serde(default)]
    pub history: Vec<Attempt>,
}

/// An update given up: the pending record with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The update and its history, the last failed delivery included.
    #[serde(flatten)]
    pub pending: Pending,
    /// Short reason (`rejected`, `exhausted`, `gone`, `forbidden`, `auth`, …).
    pub reason: String,
    /// Pending ids merged into this update (coalesced metadata updates).
    pub merged_ids: Vec<u64>,
}

/// Why the data dir cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The path exists and is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// Creating the directory failed.
    #[error("cannot create the data dir {0}: {1}")]
    Create(PathBuf, std::io::Error),
    /// Another process has the file open.
    #[error("{0} is in use by another cxrules process (the file is locked); stop it, or give this one its own --data-dir")]
    Locked(PathBuf),
    /// The file is not a redb database, or is damaged.
    #[error("{0} is not a readable outbox (corrupt or not a cxrules file): {1}")]
    Corrupt(PathBuf, String),
    /// A redb database of something else.
    #[error("{0} is a database of something else (its format is {1:?}, not {FORMAT:?})")]
    Foreign(PathBuf, String),
    /// Any other storage error (permissions, IO).
    #[error("cannot open {0}: {1}")]
    Storage(PathBuf, String),
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The outbox file of `dir`, created (with the directory) when missing.
pub fn open(dir: &Path) -> Result<(Database, PathBuf), OpenError> {
    let path = dir.join(FILE_NAME);
    unpanicked(&path, || open_unguarded(dir))
}

/// Runs a read of the file, turning a panic of the store (some damaged pages make redb panic
/// rather than answer an error) into [`OpenError::Corrupt`], so a damaged file is a clear
/// error at start, never a crash.
fn unpanicked<T>(path: &Path, read: impl FnOnce() -> Result<T, OpenError>) -> Result<T, OpenError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown failure".into());
        Err(OpenError::Corrupt(
            path.to_owned(),
            format!("the store failed reading it: {what}"),
        ))
    })
}

fn open_unguarded(dir: &Path) -> Result<(Database, PathBuf), OpenError> {
    if dir.exists() && !dir.is_dir() {
        return Err(OpenError::NotADirectory(dir.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(|e| OpenError::Create(dir.to_owned(), e))?;
    let path = dir.join(FILE_NAME);
    let db = Database::create(&path).map_err(|e| open_error(&path, e))?;
    check_format(&db, &path)?;
    Ok((db, path))
}

fn open_error(path: &Path, e: DatabaseError) -> OpenError {
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            OpenError::Locked(path.to_owned())
        }
        DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
            OpenError::Corrupt(path.to_owned(), m)
        }
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData
                || io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            OpenError::Corrupt(path.to_owned(), io.to_string())
        }
        DatabaseError::UpgradeRequired(v) => {
            OpenError::Foreign(path.to_owned(), format!("redb file format {v}"))
        }
        other => OpenError::Storage(path.to_owned(), other.to_string()),
    }
}

fn storage(path: &Path, e: impl std::fmt::Display) -> OpenError {
    OpenError::Storage(path.to_owned(), e.to_string())
}

/// A new file gets the format entry and the tables; an existing one must have ours.
fn check_format(db: &Database, path: &Path) -> Result<(), OpenError> {
    let mut tx = db.begin_write().map_err(|e| storage(path, e))?;
    tx.set_quick_repair(true);
    {
        let mut meta = tx.open_table(META).map_err(|e| storage(path, e))?;
        let format = meta
            .get("format")
            .map_err(|e| storage(path, e))?
            .map(|v| v.value().to_owned());
        match format {
            Some(f) if f == FORMAT => {}
            Some(f) => return Err(OpenError::Foreign(path.to_owned(), f)),
            None => {
                let tables = tx.list_tables().map_err(|e| storage(path, e))?;
                let others: Vec<String> = tables
                    .map(|t| redb::TableHandle::name(&t).to_owned())
                    .filter(|n| n != "meta")
                    .collect();
                if !others.is_empty() {
                    return Err(OpenError::Foreign(
                        path.to_owned(),
                        format!("no format entry; tables {}", others.join(", ")),
                    ));
                }
                meta.insert("format", FORMAT)
                    .map_err(|e| storage(path, e))?;
            }
        }
        tx.open_table(PENDING).map_err(|e| storage(path, e))?;
        tx.open_table(DEAD).map_err(|e| storage(path, e))?;
        tx.open_table(SEEN).map_err(|e| storage(path, e))?;
    }
    tx.commit().map_err(|e| storage(path, e))
}

/// What the recovery at start reads.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Pending updates in acceptance order.
    pub pending: Vec<(u64, Pending)>,
    /// Events to replay into the dedup windows, oldest first.
    pub seen: Vec<Remembered>,
    /// Dead letters kept.
    pub dead: u64,
    /// The next free id.
    pub next_id: u64,
}

/// Reads everything pending, and the remembered events accepted since `since_ms`; records
/// older than that are deleted (they are outside every window).
pub fn recover(db: &Database, path: &Path, since_ms: u64) -> Result<Recovered, OpenError> {
    unpanicked(path, || recover_unguarded(db, path, since_ms))
}

fn recover_unguarded(db: &Database, path: &Path, since_ms: u64) -> Result<Recovered, OpenError> {
    let err = |e: &dyn std::fmt::Display| storage(path, e);
    let mut out = Recovered::default();
    let mut max_id = 0u64;
    let mut tx = db.begin_write().map_err(|e| err(&e))?;
    tx.set_quick_repair(true);
    {
        let pending = tx.open_table(PENDING).map_err(|e| err(&e))?;
        for row in pending.iter().map_err(|e| err(&e))? {
            let (k, v) = row.map_err(|e| err(&e))?;
            max_id = max_id.max(k.value());
            match serde_json::from_slice::<Pending>(v.value()) {
                Ok(p) => out.pending.push((k.value(), p)),
                Err(e) => {
                    tracing::error!(id = k.value(), error = %e, "outbox: unreadable pending record skipped")
                }
            }
        }
        let dead = tx.open_table(DEAD).map_err(|e| err(&e))?;
        out.dead = dead.len().map_err(|e| err(&e))?;
        if let Some((k, _)) = dead.last().map_err(|e| err(&e))? {
            max_id = max_id.max(k.value());
        }
        let mut seen = tx.open_table(SEEN).map_err(|e| err(&e))?;
        if let Some((k, _)) = seen.last().map_err(|e| err(&e))? {
            max_id = max_id.max(k.value());
        }
        seen.retain(|_, v| seen_time(v) >= since_ms)
            .map_err(|e| err(&e))?;
        for row in seen.iter().map_err(|e| err(&e))? {
            let (_, v) = row.map_err(|e| err(&e))?;
            out.seen.push(parse_seen(v.value()));
        }
    }
    tx.commit().map_err(|e| err(&e))?;
    out.next_id = max_id + 1;
    Ok(out)
}

/// The wall-clock time a `seen` record starts with.
pub(super) fn seen_time(v: &[u8]) -> u64 {
    v.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

/// An event the dedup windows remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// When it was accepted, ms since the Unix epoch.
    pub at_ms: u64,
    /// Its interaction (events of one interaction are replayed in order).
    pub interaction: String,
    /// The body as received.
    pub body: Vec<u8>,
}

/// A `seen` record: the time, the interaction, then the body.
pub(super) fn seen_record(at_ms: u64, interaction: &str, body: &[u8]) -> Vec<u8> {
    let id = &interaction.as_bytes()[..interaction.len().min(u16::MAX as usize)];
    let mut v = Vec::with_capacity(10 + id.len() + body.len());
    v.extend_from_slice(&at_ms.to_be_bytes());
    v.extend_from_slice(&(id.len() as u16).to_be_bytes());
    v.extend_from_slice(id);
    v.extend_from_slice(body);
    v
}

fn parse_seen(v: &[u8]) -> Remembered {
    let len = v
        .get(8..10)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let id = v.get(10..10 + len).unwrap_or_default();
    Remembered {
        at_ms: seen_time(v),
        interaction: String::from_utf8_lossy(id).into_owned(),
        body: v.get(10 + len..).unwrap_or_default().to_vec(),
    }
}

/// Counts and the oldest pending update, for `cxrules outbox status`.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The file.
    pub path: PathBuf,
    /// Updates waiting for delivery.
    pub pending: u64,
    /// When the oldest of them was accepted (ms since the epoch).
    pub oldest_pending_ms: Option<u64>,
    /// Updates given up.
    pub dead_letters: u64,
    /// Events remembered for the dedup windows.
    pub remembered_events: u64,
}

/// The summary of an open outbox.
pub fn summary(db: &Database, path: &Path) -> Result<Summary, OpenError> {
    unpanicked(path, || {
        let err = |e: &dyn std::fmt::Display| storage(path, e);
        let tx = redb::ReadableDatabase::begin_read(db).map_err(|e| err(&e))?;
        let pending = tx.open_table(PENDING).map_err(|e| err(&e))?;
        let oldest = match pending.first().map_err(|e| err(&e))? {
            Some((_, v)) => serde_json::from_slice::<Pending>(v.value())
                .ok()
                .map(|p| p.accepted_ms),
            None => None,
        };
        Ok(Summary {
            path: path.to_owned(),
            pending: pending.len().map_err(|e| err(&e))?,
            oldest_pending_ms: oldest,
            dead_letters: tx
                .open_table(DEAD)
                .and_then(|t| Ok(t.len()?))
                .map_err(|e| err(&e))?,
            remembered_events: tx
                .open_table(SEEN)
                .and_then(|t| Ok(t.len()?))
                .map_err(|e| err(&e))?,
        })
    })
}

/// Up to `limit` pending updates, oldest first.
pub fn list_pending(
    db: &Database,
    path: &Path,
    limit: usize,
) -> Result<Vec<(u64, Pending)>, OpenError> {
    unpanicked(path, || list(db, path, PENDING, limit))
}

/// Up to `limit` dead letters, oldest first.
pub fn list_dead(
    db: &Database,
    path: &Path,
    limit: usize,
) -> Result<Vec<(u64, DeadLetter)>, OpenError> {
    unpanicked(path, || list(db, path, DEAD, limit))
}

fn list<T: for<'de> Deserialize<'de>>(
    db: &Database,
    path: &Path,
    table: TableDefinition<u64, &[u8]>,
    limit: usize,
) -> Result<Vec<(u64, T)>, OpenError> {
    let err = |e: &dyn std::fmt::Display| storage(path, e);
    let tx = redb::ReadableDatabase::begin_read(db).map_err(|e| err(&e))?;
    let t = tx.open_table(table).map_err(|e| err(&e))?;
    let mut out = Vec::new();
    for row in t.iter().map_err(|e| err(&e))?.take(limit) {
        let (k, v) = row.map_err(|e| err(&e))?;
        match serde_json::from_slice(v.value()) {
            Ok(r) => out.push((k.value(), r)),
            Err(e) => {
                return Err(OpenError::Corrupt(
                    path.to_owned(),
                    format!("record {}: {e}", k.value()),
                ))
            }
        }
    }
    Ok(out)
}

/// Moves dead letters back to pending (all of them, or those in `ids`), after every id in use,
/// so a running host delivers them in order after what it has. Returns how many moved.
pub fn retry(db: &Database, path: &Path, ids: &[u64]) -> Result<usize, OpenError> {
    unpanicked(path, || {
        let err = |e: &dyn std::fmt::Display| storage(path, e);
        let mut tx = db.begin_write().map_err(|e| err(&e))?;
        tx.set_quick_repair(true);
        let moved;
        {
            let mut dead = tx.open_table(DEAD).map_err(|e| err(&e))?;
            let mut pending = tx.open_table(PENDING).map_err(|e| err(&e))?;
            let seen = tx.open_table(SEEN).map_err(|e| err(&e))?;
            let mut next = [
                pending.last().map_err(|e| err(&e))?.map(|(k, _)| k.value()),
                dead.last().map_err(|e| err(&e))?.map(|(k, _)| k.value()),
                seen.last().map_err(|e| err(&e))?.map(|(k, _)| k.value()),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0)
                + 1;
            let mut taken = Vec::new();
            for row in dead.iter().map_err(|e| err(&e))? {
                let (k, v) = row.map_err(|e| err(&e))?;
                if ids.is_empty() || ids.contains(&k.value()) {
                    taken.push((k.value(), v.value().to_vec()));
                }
            }
            for (k, v) in &taken {
                let letter: DeadLetter = serde_json::from_slice(v)
                    .map_err(|e| OpenError::Corrupt(path.to_owned(), format!("record {k}: {e}")))?;
                let record = serde_json::to_vec(&letter.pending).map_err(|e| err(&e))?;
                pending
                    .insert(next, record.as_slice())
                    .map_err(|e| err(&e))?;
                dead.remove(*k).map_err(|e| err(&e))?;
                next += 1;
            }
            moved = taken.len();
        }
        tx.commit().map_err(|e| err(&e))?;
        Ok(moved)
    })
}

/// What `purge` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Every dead letter.
    DeadLetters,
    /// Every pending update (they will never be sent).
    Pending,
}

/// Deletes a table's records; returns how many.
pub fn purge(db: &Database, path: &Path, what: Purge) -> Result<u64, OpenError> {
    unpanicked(path, || {
        let err = |e: &dyn std::fmt::Display| storage(path, e);
        let mut tx = db.begin_write().map_err(|e| err(&e))?;
        tx.set_quick_repair(true);
        let n;
        {
            let mut t = tx
                .open_table(match what {
                    Purge::DeadLetters => DEAD,
                    Purge::Pending => PENDING,
                })
                .map_err(|e| err(&e))?;
            n = t.len().map_err(|e| err(&e))?;
            t.retain(|_, _| false).map_err(|e| err(&e))?;
        }
        tx.commit().map_err(|e| err(&e))?;
        Ok(n)
    })
}
