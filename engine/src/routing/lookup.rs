//! A route's `inventory:` settings, compiled: the URL, the deadline, the status pointer, the
//! headers, the cache and the breaker, each checked in a function of its own.
//!
//! The compiled settings are also what a route's breaker and cache depend on: a reload keeps
//! them while the settings compare equal.

use std::time::Duration;

use super::breaker::BreakerPolicy;
use super::spec::InventorySpec;
use crate::duration::DurationStr;
use crate::events::check_pointer;
use crate::limit::Limit;

/// A located compile problem: (path below the route, message, hint).
pub(crate) type RouteError = (Vec<String>, String, String);

/// `cache_max_entries`. A cached status takes a few hundred bytes (the SKU twice, the status,
/// the expiry), so the top, ten times the default, is some tens of megabytes per route.
const CACHE_ENTRIES: Limit<usize> = Limit {
    key: "cache_max_entries",
    range: 1..=100_000,
    default: 10_000,
};

/// The compiled `inventory:` settings of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LookupSettings {
    /// The URL with `${ENV}` substituted; `{sku}` is replaced per lookup.
    pub(crate) url: String,
    pub(crate) timeout: Duration,
    pub(crate) status_at: String,
    pub(crate) headers: Vec<(String, String)>,
    /// How long a status is cached and how many SKUs at most, when caching is on.
    pub(crate) cache: Option<(Duration, usize)>,
    pub(crate) breaker: BreakerPolicy,
}

impl LookupSettings {
    /// Compiles the settings, pushing every problem to `errors` (the value returned then holds
    /// stand-ins and is not used).
    pub(crate) fn compile(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> Self {
        Self {
            url: url(inv, errors),
            timeout: timeout(inv, errors),
            status_at: status_at(inv, errors),
            headers: headers(inv, errors),
            cache: cache(inv, errors),
            breaker: breaker(inv, errors),
        }
    }
}

/// A path below the route, from its keys.
pub(crate) fn at(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

/// `text` with `${ENV}` substituted, or `None` with the problem pushed.
pub(crate) fn substituted(
    text: &str,
    path: Vec<String>,
    errors: &mut Vec<RouteError>,
) -> Option<String> {
    crate::env::substitute_env(text)
        .map_err(|e| {
            errors.push((
                path,
                e,
                "set the variable, or give a default: `${NAME:-value}`".into(),
            ))
        })
        .ok()
}

/// The URL: an http(s) URL with a `{sku}` placeholder, after `${ENV}` substitution.
fn url(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> String {
    let path = at(&["inventory", "url"]);
    let Some(url) = substituted(&inv.url, path.clone(), errors) else {
        return String::new();
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        errors.push((
            path,
            format!("the inventory url `{url}` is not an http(s) URL"),
            "write a URL such as `${INVENTORY_API_URL}/{sku}`".into(),
        ));
    } else if !url.contains("{sku}") {
        errors.push((
            path,
            "the inventory url has no `{sku}` placeholder".into(),
            "add `{sku}` where the SKU goes, e.g. `https://inventory.example.com/products/{sku}`"
                .into(),
        ));
    }
    url
}

/// The lookup deadline, after `${ENV}` substitution; a bare number is milliseconds.
fn timeout(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> Duration {
    let path = at(&["inventory", "timeout"]);
    let Some(written) = substituted(&inv.timeout, path.clone(), errors) else {
        return Duration::default();
    };
    let written = if !written.is_empty() && written.chars().all(|c| c.is_ascii_digit()) {
        format!("{written}ms")
    } else {
        written
    };
    DurationStr(written)
        .parse()
        .map_err(|e| errors.push((path, e, DurationStr::HINT.into())))
        .unwrap_or_default()
}

/// The JSON pointer to the status in the inventory's answer.
fn status_at(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> String {
    if let Err((message, hint)) = check_pointer(&inv.status_at) {
        errors.push((at(&["inventory", "status_at"]), message, hint));
    }
    inv.status_at.clone()
}

/// The extra headers: valid names, values without control characters after substitution.
fn headers(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> Vec<(String, String)> {
    inv.headers
        .iter()
        .filter_map(|(name, value)| header(name, value, errors))
        .collect()
}

fn header(name: &str, value: &str, errors: &mut Vec<RouteError>) -> Option<(String, String)> {
    let path = at(&["inventory", "headers", name]);
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        errors.push((
            path,
            format!("`{name}` is not a valid HTTP header name"),
            "use letters, digits and `-`, e.g. `X-Api-Key`".into(),
        ));
        return None;
    }
    let value = substituted(value, path.clone(), errors)?;
    if value.chars().any(char::is_control) {
        errors.push((
            path,
            format!("the value of header `{name}` contains control characters"),
            "remove line breaks and other control characters from the value".into(),
        ));
        return None;
    }
    Some((name.to_string(), value))
}

/// The status cache: on when `cache_ttl` is written, holding at most `cache_max_entries`.
fn cache(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> Option<(Duration, usize)> {
    if let Err((message, hint)) = CACHE_ENTRIES.check(inv.cache_max_entries) {
        errors.push((at(&["inventory", CACHE_ENTRIES.key]), message, hint));
    }
    let ttl = inv
        .cache_ttl
        .as_ref()?
        .parse()
        .map_err(|e| errors.push((at(&["inventory", "cache_ttl"]), e, DurationStr::HINT.into())))
        .ok()?;
    Some((ttl, inv.cache_max_entries.unwrap_or(CACHE_ENTRIES.default)))
}

/// The breaker: at least one failure to open, and how long it stays open.
fn breaker(inv: &InventorySpec, errors: &mut Vec<RouteError>) -> BreakerPolicy {
    let open_for = DurationStr(inv.breaker.open_for.clone())
        .parse()
        .map_err(|e| {
            errors.push((
                at(&["inventory", "breaker", "open_for"]),
                e,
                DurationStr::HINT.into(),
            ))
        })
        .unwrap_or_default();
    if inv.breaker.failures == 0 {
        errors.push((
            at(&["inventory", "breaker", "failures"]),
            "the breaker needs at least 1 failure to open".into(),
            "write `failures: 5`".into(),
        ));
    }
    BreakerPolicy {
        failures: inv.breaker.failures,
        open_for,
    }
}
