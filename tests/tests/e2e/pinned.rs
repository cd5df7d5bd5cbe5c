//! A reload refused because a rule test case pins the old value (the window 45 s → 60 s with a
//! case expecting a message 50 s later to be new): `POST /rules/reload` and `/rules/status` say
//! that the case pins it, and where it is written.

use cxrules_tests::{Harness, Options, DEDUP_RULES};

const TOKEN: &str = "reload-token";

const CASES: &str = r#"
version: 1
tests:
  - name: a repeat after 50 s is new
    steps:
      - at: 0s
        event: &hi
          type: conversations.messages.messageCreated
          data: { message: { interactionId: int-1, senderId: c, content: hi, sequenceNumber: 1 } }
        expect: { outcome: processed }
      - at: 50s
        event: *hi
        expect: { outcome: processed }
"#;

#[tokio::test]
async fn a_refused_reload_names_the_case_that_pins_the_old_value_and_where() {
    let h = Harness::with(Options {
        admin_token: Some(TOKEN.into()),
        rules: Some(vec![
            ("dedup.yaml".into(), DEDUP_RULES.into()),
            ("tests.yaml".into(), CASES.into()),
        ]),
        ..Options::default()
    })
    .await;
    let line = CASES
        .lines()
        .position(|l| l.contains("- name: a repeat after 50 s is new"))
        .expect("the case")
        + 1;
    let site = format!("tests.yaml:{line})");
    std::fs::write(
        h.rules_dir.path().join("dedup.yaml"),
        DEDUP_RULES.replace("window: 45s", "window: 60s"),
    )
    .unwrap();
    let response = h
        .http
        .post(format!("{}/rules/reload", h.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("reload");
    assert_eq!(response.status().as_u16(), 422);
    let body: serde_json::Value = response.json().await.expect("json");
    let pinned = body["pinned"].as_array().expect("pinned");
    assert_eq!(pinned.len(), 1, "{body:#}");
    let note = pinned[0].as_str().unwrap();
    assert!(
        note.contains("case `a repeat after 50 s is new`")
            && note.contains(&site)
            && note.contains("pins what this change alters"),
        "{note}"
    );
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("- outcome: processed\n"), "{error}");
    assert!(error.contains("+ outcome: suppressed\n"), "{error}");
    assert!(error.contains(&format!("note: {note}")), "{error}");

    let (_, status) = h.get_json("/rules/status").await;
    let last = status["last_error"].as_str().expect("last error");
    assert!(
        last.contains(&site) && last.contains("pins what this change alters"),
        "{last}"
    );
}
