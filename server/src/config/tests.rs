//! Flag parsing and resolution.

use clap::Parser;

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn config(args: &[&str]) -> Result<Config, ConfigError> {
    let cli = Cli::try_parse_from(std::iter::once("cxrules").chain(args.iter().copied())).unwrap();
    Config::from_args(cli.serve)
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_size("1MiB"), Ok(1 << 20));
    assert_eq!(parse_size("64 kb"), Ok(64 << 10));
    assert_eq!(parse_size("123"), Ok(123));
    assert!(parse_size("1GiB").is_err());
    assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
    assert!(parse_duration("soon").unwrap_err().contains("100ms"));
}

#[test]
fn credentials_turn_dry_run_off() {
    let c = config(&[
        "--cxone-client-id",
        "id",
        "--cxone-client-secret",
        "s3cret",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ])
    .unwrap();
    assert!(!c.is_dry_run());
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "secrets never appear in Debug"
    );
    let c = config(&[
        "--cxone-client-id",
        "id",
        "--cxone-client-secret",
        "s",
        "--dry-run",
    ])
    .unwrap();
    assert!(c.is_dry_run());
    let c = config(&[
        "--cxone-profile",
        "dfo",
        "--cxone-client-id",
        "id",
        "--cxone-client-secret",
        "s",
    ])
    .unwrap();
    assert!(c.dry_run_reason.unwrap().contains("CXONE_ACCESS_KEY_ID"));
}

#[test]
fn webhook_auth_needs_a_usable_secret() {
    assert!(matches!(
        config(&["--webhook-auth", "hmac"]),
        Err(ConfigError::MissingWebhookSecret("hmac"))
    ));
    assert!(matches!(
        config(&["--webhook-auth", "standard", "--webhook-secret", "whsec_%%"]),
        Err(ConfigError::BadWebhookSecret(_))
    ));
    let c = config(&[
        "--webhook-auth",
        "hmac",
        "--webhook-secret",
        "a",
        "--webhook-secret-previous",
        "b",
    ])
    .unwrap();
    assert!(
        matches!(c.webhook_auth, WebhookAuth::Hmac { ref secrets, ref header, .. }
        if secrets.len() == 2 && header == "x-webhook-signature")
    );
}

#[test]
fn queue_and_push_settings() {
    let c = config(&[
        "--coalesce-window",
        "0ms",
        "--cxone-rate-limit",
        "0",
        "--metrics-endpoint",
        "http://127.0.0.1:9/x",
    ])
    .unwrap();
    assert_eq!(c.effects.coalesce_window, Duration::ZERO);
    assert_eq!(c.effects.rate_limit, None);
    assert_eq!(c.push.unwrap().endpoint, "http://127.0.0.1:9/x");
}

#[test]
fn token_path_and_scope_flags() {
    let c = config(&["--cxone-token-path", "/oauth/token", "--cxone-scope", "a b"]).unwrap();
    assert_eq!(
        c.profile.auth,
        crate::cxone::AuthFlow::ClientCredentials {
            token_path: "/oauth/token".into(),
            scope: Some("a b".into())
        }
    );
}

#[test]
fn parsed_flags_never_print_their_secrets() {
    let argv = [
        "cxrules",
        "--cxone-client-id",
        "id",
        "--cxone-client-secret",
        "client-s3cret",
        "--cxone-access-key-secret",
        "key-s3cret",
        "--webhook-auth",
        "hmac",
        "--webhook-secret",
        "hook-s3cret",
        "--webhook-secret-previous",
        "old-s3cret",
        "--admin-token",
        "admin-s3cret",
    ];
    let cli = Cli::try_parse_from(argv).unwrap();
    let printed = format!("{:?}", cli.serve);
    for secret in [
        "client-s3cret",
        "key-s3cret",
        "hook-s3cret",
        "old-s3cret",
        "admin-s3cret",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    let config = Config::from_args(cli.serve).unwrap();
    let cxone = config.cxone.as_ref().expect("credentials given");
    assert_eq!(cxone.client_secret.expose(), "client-s3cret");
    assert_eq!(
        config.admin_token.as_ref().map(Secret::expose),
        Some("admin-s3cret")
    );
    assert!(!format!("{config:?}").contains("s3cret"));
}

/// Each numeric and duration flag: (flag, values outside its range, its bounds).
const RANGES: &[(&str, &[&str], &[&str])] = &[
    ("--cxone-timeout", &["0s", "99ms", "11m"], &["100ms", "10m"]),
    ("--cxone-backoff", &["0ms", "11m"], &["1ms", "10m"]),
    ("--cxone-backoff-max", &["0ms", "61m"], &["1h"]),
    (
        "--cxone-max-retry-after",
        &["0s", "999ms", "2h"],
        &["1s", "1h"],
    ),
    ("--coalesce-window", &["11s"], &["0ms", "10s"]),
    ("--drain-timeout", &["0s", "99ms", "2h"], &["100ms", "1h"]),
    ("--retry-after", &["0s", "500ms", "2h"], &["1s", "1h"]),
    ("--webhook-tolerance", &["0s", "2h"], &["1s", "1h"]),
    (
        "--metrics-interval",
        &["0s", "99ms", "2h"],
        &["100ms", "1h"],
    ),
    ("--body-limit", &["0", "1023", "65MiB"], &["1KiB", "64MiB"]),
    ("--cxone-rate-limit", &["-1", "100001"], &["0", "100000"]),
    ("--cxone-max-in-flight", &["0", "10001"], &["1", "10000"]),
    ("--cxone-max-attempts", &["0", "101"], &["1", "100"]),
    (
        "--effects-capacity",
        &["0", "1000001", "2305843009213693952"],
        &["1", "1000000"],
    ),
    (
        "--unready-after-failed-reloads",
        &["0", "10001"],
        &["1", "10000"],
    ),
    ("--metrics-batch-size", &["0", "10001"], &["1", "10000"]),
];

#[test]
fn every_numeric_flag_refuses_values_outside_its_range_and_names_itself() {
    for (flag, bad, bounds) in RANGES {
        for value in *bad {
            let argv = ["cxrules".to_owned(), format!("{flag}={value}")];
            let error = match Cli::try_parse_from(argv) {
                Ok(cli) => panic!(
                    "{flag}={value} accepted: {:?}",
                    Config::from_args(cli.serve)
                ),
                Err(e) => e.to_string(),
            };
            assert!(error.contains(flag), "{flag}={value}: {error}");
            assert!(error.contains("give "), "{flag}={value}: no hint: {error}");
        }
        for value in *bounds {
            // The first backoff's upper bound is above the ceiling's default (30s).
            let given = format!("{flag}={value}");
            let c = match *flag {
                "--cxone-backoff" => config(&[&given, "--cxone-backoff-max=1h"]),
                _ => config(&[&given]),
            };
            assert!(c.is_ok(), "{flag}={value} refused: {c:?}");
        }
    }
}

#[test]
fn the_backoff_ceiling_is_not_below_the_first_backoff() {
    let error = config(&["--cxone-backoff", "2s", "--cxone-backoff-max", "1s"]).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("--cxone-backoff-max is below --cxone-backoff"),
        "{text}"
    );
    let c = config(&["--cxone-backoff", "2s", "--cxone-backoff-max", "2s"]).unwrap();
    assert_eq!(c.retry.max_backoff, Duration::from_secs(2));
}

const LIVE: &[&str] = &["--cxone-client-id", "id", "--cxone-client-secret", "s"];

fn live(extra: &[&str]) -> Result<Config, ConfigError> {
    config(&[LIVE, extra].concat())
}

#[test]
fn live_without_inbound_auth_on_a_public_address_is_refused_unless_allowed() {
    let err = live(&[]).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("0.0.0.0"), "{err}");
    assert!(
        err.hint().contains("--allow-unauthenticated"),
        "{}",
        err.hint()
    );
    assert!(live(&["--bind", "10.1.2.3"]).is_err());
    assert!(
        live(&["--bind", "127.0.0.1"]).is_ok(),
        "loopback: a proxy in front"
    );
    assert!(live(&["--bind", "::1"]).is_ok());
    assert!(live(&["--allow-unauthenticated"]).is_ok());
    assert!(live(&["--webhook-auth", "bearer", "--webhook-secret", "t"]).is_ok());
    assert!(config(&["--dry-run"]).is_ok(), "dry-run sends nothing");
    assert!(config(&[]).is_ok(), "no credentials: dry-run");
}

#[test]
fn a_standard_webhooks_secret_needs_its_prefix_and_base64() {
    let standard =
        |secret: &str| config(&["--webhook-auth", "standard", "--webhook-secret", secret]);
    assert!(standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    let err = standard("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
    assert!(err.to_string().contains("`whsec_`"), "{err}");
    assert!(matches!(
        standard("whsec_%%"),
        Err(ConfigError::BadWebhookSecret(_))
    ));
    let previous = config(&[
        "--webhook-auth",
        "standard",
        "--webhook-secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "--webhook-secret-previous",
        "plain",
    ]);
    assert!(matches!(previous, Err(ConfigError::BadWebhookSecret(_))));
}

#[test]
fn dedup_store_is_memory_unless_a_redis_url_is_given() {
    assert_eq!(config(&[]).unwrap().dedup_store, None);
    let c = config(&[
        "--dedup-store",
        "redis+unix:///tmp/r.sock",
        "--on-store-error",
        "local",
        "--dedup-store-timeout",
        "50ms",
    ])
    .unwrap();
    let store = c.dedup_store.unwrap();
    assert_eq!(store.url, "redis+unix:///tmp/r.sock");
    assert_eq!(store.key_prefix, "cxrules:dedup");
    assert_eq!(store.timeout, Duration::from_millis(50));
    assert_eq!(store.on_error, OnStoreError::Local);
    let c = config(&["--dedup-store", "rediss://r:6380/0"]).unwrap();
    assert_eq!(c.dedup_store.unwrap().on_error, OnStoreError::Reject);
}

#[test]
fn dedup_store_refuses_what_is_not_redis_naming_the_flag() {
    for url in ["http://r:6379", "r:6379", "memcached://r"] {
        let parsed = Cli::try_parse_from(["cxrules", "--dedup-store", url]);
        let err = parsed.err().expect("refused").to_string();
        assert!(err.contains("--dedup-store"), "{err}");
        assert!(err.contains("redis://"), "{err}");
    }
    let err = Cli::try_parse_from(["cxrules", "--dedup-store-timeout", "5ms"])
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("--dedup-store-timeout"), "{err}");
    let err = config(&["--dedup-store", "redis://r", "--dedup-key-prefix", "a{b}"]).unwrap_err();
    assert!(err.to_string().contains("--dedup-key-prefix"), "{err}");
}

#[test]
fn shadow_rules_flag() {
    let with = config(&["--shadow-rules", "candidate"]).unwrap();
    assert_eq!(
        with.shadow_rules.as_deref(),
        Some(std::path::Path::new("candidate"))
    );
    assert_eq!(config(&[]).unwrap().shadow_rules, None);
}
