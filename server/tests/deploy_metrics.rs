//! The alert rules and the dashboard in `deploy/` name only series the host exposes: every
//! `cxrules_*` name in them is a sample name of the host's `/metrics` text (a counter's
//! `_total`, a histogram's `_bucket`/`_sum`/`_count`), taken from the registry itself.

mod cli_support;

use std::collections::BTreeSet;

use cli_support::workspace;

/// Every sample name the registry exposes once each family has a series (a family without one
/// is not listed), from its `# TYPE` lines.
fn exposed() -> BTreeSet<String> {
    let m = cxrules_server::Metrics::new();
    m.event("message_created", "default", "processed");
    m.suppressed("default", "duplicate");
    m.routing("inventory", "in_stock", "status", "none");
    m.rejected("events", "queue_full");
    m.outbound("metadata", "200");
    m.retry("metadata", "429");
    m.effect_failed("metadata", "gave_up");
    m.effect_skipped("metadata", "overtaken");
    m.token_refresh("ok");
    m.reload("loaded");
    m.push("ok");
    m.dedup_store([("timeout", 1)].into_iter(), false);
    m.ack_latency("metadata", 0.01);
    m.capture().dropped("queue_full", 1);
    let text = m.encode();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        for s in suffixes {
            names.insert(format!("{name}{s}"));
        }
    }
    names
}

/// The `cxrules_…` words of a text.
fn named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("cxrules_") {
        let start = i + at;
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if before_ok {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn alerts_and_dashboard_use_only_metrics_the_host_exposes() {
    let exposed = exposed();
    assert!(exposed.contains("cxrules_events_total"), "{exposed:?}");
    for file in [
        "deploy/prometheus/alerts.yaml",
        "deploy/grafana/cxrules-dashboard.json",
    ] {
        let text = std::fs::read_to_string(workspace().join(file)).unwrap();
        let used = named(&text);
        assert!(!used.is_empty(), "{file} names no cxrules metric");
        let unknown: Vec<_> = used.difference(&exposed).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the host does not expose: {unknown:?}\nexposed: {exposed:?}"
        );
    }
}

#[test]
fn the_word_scanner_finds_whole_names_only() {
    let found = named("rate(cxrules_events_total[5m]) my_cxrules_x {cxrules_capture_writing}");
    let want: BTreeSet<String> = ["cxrules_events_total", "cxrules_capture_writing"]
        .map(String::from)
        .into();
    assert_eq!(found, want);
}
