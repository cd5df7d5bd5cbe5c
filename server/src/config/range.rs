//! The accepted range of each numeric and duration flag, checked by clap as it parses (a flag
//! and its environment variable alike), so a value the host cannot work with (a zero timeout,
//! a zero push interval, a queue larger than a semaphore holds) stops `serve` at start with a
//! message naming the flag, instead of failing every call or panicking later.

use std::time::Duration;

const MS: u64 = 1;
const S: u64 = 1000 * MS;
const M: u64 = 60 * S;
const H: u64 = 60 * M;

/// `--cxone-timeout`: one CXone request.
pub fn cxone_timeout(s: &str) -> Result<Duration, String> {
    duration_in(s, 100 * MS, 10 * M)
}

/// `--cxone-backoff`: the first retry's ceiling.
pub fn cxone_backoff(s: &str) -> Result<Duration, String> {
    duration_in(s, MS, 10 * M)
}

/// `--cxone-backoff-max`: the largest ceiling (also at least `--cxone-backoff`, checked later).
pub fn cxone_backoff_max(s: &str) -> Result<Duration, String> {
    duration_in(s, MS, H)
}

/// `--cxone-max-retry-after`: the longest Retry-After honoured.
pub fn cxone_max_retry_after(s: &str) -> Result<Duration, String> {
    duration_in(s, S, H)
}

/// `--coalesce-window`: 0 turns merging off.
pub fn coalesce_window(s: &str) -> Result<Duration, String> {
    duration_in(s, 0, 10 * S)
}

/// `--outbox-commit-window`: how long the outbox writer gathers a batch.
pub fn commit_window(s: &str) -> Result<Duration, String> {
    duration_in(s, 0, 100 * MS)
}

/// `--outbox-lease`: how long a replica's unconfirmed updates are left to it.
pub fn outbox_lease(s: &str) -> Result<Duration, String> {
    duration_in(s, 500 * MS, H)
}

/// `--drain-timeout`: the shutdown drain.
pub fn drain_timeout(s: &str) -> Result<Duration, String> {
    duration_in(s, 100 * MS, H)
}

/// `--retry-after`: sent in whole seconds.
pub fn retry_after(s: &str) -> Result<Duration, String> {
    duration_in(s, S, H)
}

/// `--webhook-tolerance`: the Standard Webhooks clock window.
pub fn webhook_tolerance(s: &str) -> Result<Duration, String> {
    duration_in(s, S, H)
}

/// `--metrics-interval`: a zero interval cannot tick.
pub fn metrics_interval(s: &str) -> Result<Duration, String> {
    duration_in(s, 100 * MS, H)
}

/// `--dedup-store-timeout`: one call to the shared dedup store.
pub fn dedup_store_timeout(s: &str) -> Result<Duration, String> {
    duration_in(s, 10 * MS, 10 * S)
}

/// `--dedup-store`: a Redis URL; anything else is refused before the host starts.
pub fn dedup_store_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let scheme = s.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("redis" | "rediss" | "redis+unix") => Ok(s.to_owned()),
        _ => Err(
            "expected redis://host:6379, rediss://host:6380 or redis+unix:///path/to/sock"
                .to_owned(),
        ),
    }
}

/// `--body-limit`: a CXone event fits in the least.
pub fn body_limit(s: &str) -> Result<usize, String> {
    size_in(s, 1024, 64 << 20)
}

/// `--capture-max-file-size`.
pub fn capture_file_size(s: &str) -> Result<usize, String> {
    size_in(s, 1024, 1024 << 20)
}

/// `--capture-max-files`.
pub fn capture_max_files(s: &str) -> Result<usize, String> {
    number_in(s, 1, 100_000)
}

/// `--capture-max-age`.
pub fn capture_max_age(s: &str) -> Result<Duration, String> {
    duration_in(s, M, 90 * 24 * H)
}

/// `--capture-rotate-after`.
pub fn capture_rotate_after(s: &str) -> Result<Duration, String> {
    duration_in(s, S, 24 * H)
}

/// `--capture-queue`.
pub fn capture_queue(s: &str) -> Result<usize, String> {
    number_in(s, 1, 1_000_000)
}

/// `--cxone-rate-limit`: 0 means no limit.
pub fn cxone_rate_limit(s: &str) -> Result<u32, String> {
    number_in(s, 0, 100_000)
}

/// `--cxone-rate-min`: the adaptive rate's floor.
pub fn cxone_rate_min(s: &str) -> Result<u32, String> {
    number_in(s, 1, 100_000)
}

/// `--cxone-rate-spread`: contacts with a 429 in one second that lower the rate.
pub fn cxone_rate_spread(s: &str) -> Result<u32, String> {
    number_in(s, 1, 10_000)
}

/// `--cxone-contact-burst`: 0 turns the per-contact limit off.
pub fn cxone_contact_burst(s: &str) -> Result<u32, String> {
    number_in(s, 0, 1_000_000)
}

/// `--cxone-contact-per-minute`.
pub fn cxone_contact_per_minute(s: &str) -> Result<u32, String> {
    number_in(s, 1, 6_000_000)
}

/// `--cxone-contact-max`: contacts kept in memory.
pub fn cxone_contact_max(s: &str) -> Result<usize, String> {
    number_in(s, 1, 10_000_000)
}

/// `--cxone-api-host-prefix`: letters, digits and `-` (it goes in front of `{area}.{domain}`).
pub fn api_host_prefix(s: &str) -> Result<String, String> {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}` may hold only letters, digits and `-` (such as api-de-)"
        ))
    }
}

/// `--cxone-max-in-flight`.
pub fn cxone_max_in_flight(s: &str) -> Result<usize, String> {
    number_in(s, 1, 10_000)
}

/// `--cxone-max-attempts`, the first included.
pub fn cxone_max_attempts(s: &str) -> Result<u32, String> {
    number_in(s, 1, 100)
}

/// `--effects-capacity`: far below the most a tokio semaphore holds.
pub fn effects_capacity(s: &str) -> Result<usize, String> {
    number_in(s, 1, 1_000_000)
}

/// `--unready-after-failed-reloads`.
pub fn unready_after_failed_reloads(s: &str) -> Result<u32, String> {
    number_in(s, 1, 10_000)
}

/// `--metrics-batch-size`.
pub fn metrics_batch_size(s: &str) -> Result<usize, String> {
    number_in(s, 1, 10_000)
}

fn show(ms: u64) -> String {
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

/// A duration from `min` to `max` milliseconds.
fn duration_in(s: &str, min: u64, max: u64) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(min) || d > Duration::from_millis(max) {
        return Err(format!(
            "`{}` is out of range; give a duration from {} to {}",
            s.trim(),
            show(min),
            show(max)
        ));
    }
    Ok(d)
}

/// A whole number from `min` to `max`.
fn number_in<T: TryFrom<u64>>(s: &str, min: u64, max: u64) -> Result<T, String> {
    let out_of_range = || {
        format!(
            "`{}` is out of range; give a whole number from {min} to {max}",
            s.trim()
        )
    };
    let n: u64 = s.trim().parse().map_err(|_| out_of_range())?;
    if !(min..=max).contains(&n) {
        return Err(out_of_range());
    }
    T::try_from(n).map_err(|_| out_of_range())
}

/// A size (`1MiB`, `65536`) from `min` to `max` bytes.
fn size_in(s: &str, min: u64, max: u64) -> Result<usize, String> {
    let n = parse_size(s)?;
    if !(min..=max).contains(&(n as u64)) {
        return Err(format!(
            "`{}` is out of range; give a size from {min} bytes to {} MiB",
            s.trim(),
            max >> 20
        ));
    }
    Ok(n)
}

/// Parses a duration such as `100ms`, `5s` or `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. 100ms, 5s, 2m"))
}

/// Parses a size such as `1MiB`, `512KiB`, `64kb` or `1048576`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. 1MiB or 65536"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown size unit `{other}`; use B, KiB or MiB")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large"))
}
