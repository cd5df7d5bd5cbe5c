//! `serve`'s capture flags and their checked settings (`--capture DIR` and its bounds, the
//! redaction key); the capture itself is the top-level `capture` module.

use std::path::PathBuf;
use std::time::Duration;

use super::range;
use crate::Secret;

/// Shortest redaction key accepted, in bytes.
const MIN_KEY_LEN: usize = 16;

/// `serve`'s capture flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Write every accepted event to rotated JSONL files in DIR, for `cxrules replay DIR`
    /// (off when unset).
    #[arg(long, env = "CXRULES_CAPTURE", value_name = "DIR")]
    pub capture: Option<PathBuf>,
    /// Largest capture file; the next event starts a new one.
    #[arg(long, env = "CXRULES_CAPTURE_MAX_FILE_SIZE", default_value = "64MiB", value_parser = range::capture_file_size)]
    pub capture_max_file_size: usize,
    /// Most capture files kept (the oldest is removed first): with the file size, the bound on
    /// the directory's size.
    #[arg(long, env = "CXRULES_CAPTURE_MAX_FILES", default_value_t = 16, value_parser = range::capture_max_files)]
    pub capture_max_files: usize,
    /// Capture files older than this (by their last write) are removed.
    #[arg(long, env = "CXRULES_CAPTURE_MAX_AGE", default_value = "24h", value_parser = range::capture_max_age)]
    pub capture_max_age: Duration,
    /// A capture file open this long is closed and a new one started, so old events age out
    /// even when few arrive.
    #[arg(long, env = "CXRULES_CAPTURE_ROTATE_AFTER", default_value = "1h", value_parser = range::capture_rotate_after)]
    pub capture_rotate_after: Duration,
    /// Events waiting for the capture writer; beyond it they are not captured (counted).
    #[arg(long, env = "CXRULES_CAPTURE_QUEUE", default_value_t = 8192, value_parser = range::capture_queue)]
    pub capture_queue: usize,
    /// Replace message text by a keyed hash of its normalized form (README: "Capturing events
    /// for replay"); needs CXRULES_CAPTURE_REDACT_KEY or --capture-redact-key-file.
    #[arg(long, env = "CXRULES_CAPTURE_REDACT")]
    pub capture_redact: bool,
    /// The redaction key (at least 16 bytes).
    #[arg(long, env = "CXRULES_CAPTURE_REDACT_KEY", hide_env_values = true)]
    pub capture_redact_key: Option<Secret>,
    /// A file holding the redaction key (trailing white space ignored).
    #[arg(
        long,
        env = "CXRULES_CAPTURE_REDACT_KEY_FILE",
        conflicts_with = "capture_redact_key"
    )]
    pub capture_redact_key_file: Option<PathBuf>,
}

/// Capture settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// The directory (created at start).
    pub dir: PathBuf,
    /// Largest file, in bytes.
    pub max_file_size: u64,
    /// Most files kept.
    pub max_files: usize,
    /// Files last written longer ago are removed.
    pub max_age: Duration,
    /// A file open this long is rotated.
    pub rotate_after: Duration,
    /// Channel capacity, in events.
    pub queue: usize,
    /// The redaction key; `None`: events are written as received.
    pub redact_key: Option<Secret>,
}

impl CaptureConfig {
    /// Settings with the flags' defaults, no redaction.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_file_size: 64 << 20,
            max_files: 16,
            max_age: Duration::from_secs(24 * 3600),
            rotate_after: Duration::from_secs(3600),
            queue: 8192,
            redact_key: None,
        }
    }

    /// The settings of the flags (`Ok(None)` without `--capture`); creates the directory. The
    /// error is a message and a hint.
    pub fn from_args(args: &CaptureArgs) -> Result<Option<Self>, (String, String)> {
        let Some(dir) = args.capture.clone().filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(None);
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            (
                format!("--capture: cannot create {}: {e}", dir.display()),
                "give a directory this process can write to".to_string(),
            )
        })?;
        let key_hint = "set CXRULES_CAPTURE_REDACT_KEY or --capture-redact-key-file to a random \
                        secret of at least 16 bytes (e.g. `openssl rand -hex 32`)";
        let redact_key = if args.capture_redact {
            let key = match (&args.capture_redact_key, &args.capture_redact_key_file) {
                (Some(key), _) => key.expose().to_string(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| {
                        (
                            format!("--capture-redact-key-file {}: {e}", path.display()),
                            key_hint.to_string(),
                        )
                    })?
                    .trim_end()
                    .to_string(),
                (None, None) => {
                    return Err((
                        "--capture-redact needs a key".to_string(),
                        key_hint.to_string(),
                    ))
                }
            };
            if key.len() < MIN_KEY_LEN {
                return Err((
                    format!(
                        "the capture redaction key has {} bytes; at least {MIN_KEY_LEN} are needed",
                        key.len()
                    ),
                    key_hint.to_string(),
                ));
            }
            Some(Secret::new(key))
        } else {
            None
        };
        Ok(Some(Self {
            dir,
            max_file_size: args.capture_max_file_size as u64,
            max_files: args.capture_max_files,
            max_age: args.capture_max_age,
            rotate_after: args.capture_rotate_after,
            queue: args.capture_queue,
            redact_key,
        }))
    }
}
