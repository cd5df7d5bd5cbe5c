//! The status page in headless Chromium against a running host: it loads and shows the rules
//! version, its try box returns a decision from both rule sets, a failed reload appears with its
//! file and line, and with an admin token it shows nothing until given the token.

use std::time::Duration;

use cxrules_tests::chromium::Chromium;
use cxrules_tests::{message, routing_rules, Harness, Options, DEDUP_RULES};
use serde_json::Value;

const TOKEN: &str = "page-token";

/// Every byte but letters and digits as `%XX`, for a URL fragment.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The text of the element with `id` (tags stripped), up to its first closing `</div>`.
fn element(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in:\n{dom}"));
    let end = dom[start..].find("</div>").map_or(dom.len(), |e| start + e);
    let mut text = String::new();
    let mut in_tag = true;
    for c in dom[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

async fn wait_for_reload_error(h: &Harness) -> Value {
    for _ in 0..100 {
        let (_, status) = h.get_json("/rules/status").await;
        if !status["last_error"].is_null() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for the reload error");
}

#[tokio::test]
async fn the_page_shows_the_rules_tries_an_event_and_shows_a_failed_reload() {
    let Some(chromium) = Chromium::find() else {
        return;
    };
    let h = Harness::with(Options {
        watch: true,
        admin_token: Some(TOKEN.into()),
        rules: Some(vec![
            ("dedup.yaml".into(), DEDUP_RULES.into()),
            ("routing.yaml".into(), routing_rules("@INVENTORY@")),
        ]),
        shadow_rules: Some(vec![(
            "dedup.yaml".into(),
            DEDUP_RULES.replace("fingerprint: [sender, content]", "fingerprint: [content]"),
        )]),
        ..Options::default()
    })
    .await;
    let (_, before) = h.get_json("/rules/status").await;
    let version = before["version"].as_str().expect("version").to_owned();
    std::fs::write(
        h.rules_dir.path().join("routing.yaml"),
        "version: 1\nrouting: [not, a, map\n",
    )
    .unwrap();
    let broken = wait_for_reload_error(&h).await;
    let line = broken["last_diagnostics"][0]["line"]
        .as_u64()
        .unwrap_or_else(|| panic!("no located diagnostic: {broken:#}"));

    let event = message("int-7", "customer-1", "where is my order?", 1).to_string();
    let url = format!("{}/#token={TOKEN}&try={}", h.base, encode(&event));
    let dom = chromium.dump_dom(&url, Duration::from_secs(8)).await;

    assert!(
        dom.contains(&format!("id=\"rules-version\">{version}<")),
        "the rules version is shown:\n{dom}"
    );
    let live = element(&dom, "try-live");
    assert!(
        live.contains("processed") && live.contains("new message"),
        "the try box shows the live decision: {live}"
    );
    let shadow = element(&dom, "try-shadow");
    assert!(shadow.contains("processed"), "and the shadow's: {shadow}");
    let reloads = element(&dom, "reload-error");
    assert!(
        reloads.contains(&format!("routing.yaml:{line}")),
        "the failed reload shows its file and line ({line}): {reloads}"
    );
    assert!(
        dom.contains("id=\"shadow-title\""),
        "the shadow section is there"
    );

    // Without the token the page shows nothing but the token prompt.
    let dom = chromium
        .dump_dom(&format!("{}/", h.base), Duration::from_secs(3))
        .await;
    assert!(
        !dom.contains("<section id=\"login\" hidden"),
        "the token prompt is shown:\n{dom}"
    );
    assert!(
        dom.contains("id=\"rules-version\">…<"),
        "no data without the token"
    );
}
