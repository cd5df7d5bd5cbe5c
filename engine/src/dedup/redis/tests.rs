//! What the Redis store decides without a server: keys, prefixes, arguments and error kinds.
//! The store against a real server is in `tests/redis_store/`.

use std::time::Duration;

use super::*;
use crate::dedup::store::StoreErrorKind;

fn policy() -> WindowPolicy {
    WindowPolicy {
        window: Duration::from_millis(1500),
        sliding: true,
        max_interactions: 10,
        max_fingerprints: 4,
    }
}

fn channel(name: &str, window_secs: u64) -> Channel {
    Channel {
        name: name.into(),
        policy: WindowPolicy {
            window: Duration::from_secs(window_secs),
            ..policy()
        },
        fields: vec!["content".into()],
        normalizer: None,
    }
}

#[tokio::test]
async fn keys_put_the_interaction_in_the_hash_tag() {
    let conn = connect("redis://127.0.0.1:1", Duration::from_millis(50)).unwrap();
    let store = RedisStore::new(conn, "cx:d", policy(), RedisOptions::default()).unwrap();
    assert_eq!(store.key("int-1"), "cx:d:{int-1}");
    assert_eq!(
        store.key("a}b"),
        "cx:d:{a}b}",
        "still one key per id, tagged `a`"
    );
    assert_eq!(store.window_ms, 1500);
}

#[tokio::test]
async fn a_prefix_with_braces_or_none_is_refused() {
    for prefix in ["", "cx:{d}", "cx}"] {
        let conn = connect("redis://127.0.0.1:1", Duration::from_millis(50)).unwrap();
        let e = RedisStore::new(conn, prefix, policy(), RedisOptions::default()).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Other, "{prefix}: {e}");
    }
}

#[test]
fn channel_prefixes_change_with_the_definition_and_carry_no_braces() {
    let a = channel_prefix("cxrules:dedup", &channel("chat", 45));
    let b = channel_prefix("cxrules:dedup", &channel("chat", 60));
    assert!(a.starts_with("cxrules:dedup:chat:"), "{a}");
    assert_ne!(a, b);
    let odd = channel_prefix("x", &channel("{sms}", 45));
    assert!(!odd.contains(['{', '}']), "{odd}");
}

#[test]
fn event_fields_are_16_bytes_and_the_same_on_every_replica() {
    assert_eq!(event_field(Some("e1")).len(), 16);
    assert_eq!(event_field(Some("e1")), event_field(Some("e1")));
    assert_ne!(event_field(Some("e1")), event_field(Some("e2")));
    assert!(event_field(None).is_empty());
}

#[test]
fn connecting_outside_a_runtime_is_an_error_not_a_panic() {
    let e = connect("redis://127.0.0.1:1", Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Other);
    assert!(e.to_string().contains("tokio runtime"), "{e}");
}

#[tokio::test]
async fn a_bad_url_says_what_a_good_one_looks_like() {
    let e = connect("http://nowhere", Duration::from_millis(50)).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Other);
    assert!(e.to_string().contains("hint: redis://"), "{e}");
}

#[tokio::test]
async fn nothing_listening_is_unavailable_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis+unix://{}", dir.path().join("none.sock").display());
    let options = RedisOptions {
        timeout: Duration::from_millis(200),
        ..RedisOptions::default()
    };
    let conn = connect(&url, Duration::from_millis(100)).unwrap();
    let store = RedisStore::new(conn, "cx", policy(), options).unwrap();
    let started = tokio::time::Instant::now();
    let req = CheckRequest {
        interaction: "i1",
        fingerprint: [7; 32],
        event_id: None,
        order: None,
        now: tokio::time::Instant::now(),
    };
    let e = store.check(req).await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        (store.counters().errors, store.stats()),
        (1, StoreStats::default())
    );
}
