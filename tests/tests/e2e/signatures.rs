//! Inbound authentication: valid, tampered, missing, expired and rotated signatures.

use std::time::{SystemTime, UNIX_EPOCH};

use cxrules_server::signature::{
    decode_whsec, sign_hmac_hex, sign_standard, SignatureEncoding, WebhookAuth, MAX_SIGNATURES,
};
use cxrules_server::Secret;
use cxrules_tests::{message, Harness, Options};

const ROUTE: &str = "/webhook/cxone/events";
const JSON: (&str, &str) = ("content-type", "application/json");

fn body(n: i64) -> Vec<u8> {
    serde_json::to_vec(&message("int-sig", "c", &format!("m{n}"), n)).unwrap()
}

/// A host checking hex HMAC signatures with a current and a previous secret.
async fn hmac_host() -> Harness {
    let auth = WebhookAuth::Hmac {
        header: "x-webhook-signature".into(),
        encoding: SignatureEncoding::Hex,
        secrets: vec![Secret::new("current"), Secret::new("previous")],
    };
    Harness::with(Options {
        webhook_auth: auth,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn hmac_signatures() {
    let h = hmac_host().await;
    let b = body(1);
    let good = sign_hmac_hex(b"current", &b);
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            h.post_raw(ROUTE, b.clone(), &[JSON, ("x-webhook-signature", &good)])
                .await
        ),
        200
    );
    let tampered = body(2);
    assert_eq!(
        status(
            h.post_raw(ROUTE, tampered, &[JSON, ("x-webhook-signature", &good)])
                .await
        ),
        401
    );
    assert_eq!(status(h.post_raw(ROUTE, body(3), &[JSON]).await), 401);
    let b4 = body(4);
    let old = format!("sha256={}", sign_hmac_hex(b"previous", &b4));
    assert_eq!(
        status(
            h.post_raw(ROUTE, b4, &[JSON, ("x-webhook-signature", &old)])
                .await
        ),
        200
    );
    let b5 = body(5);
    let wrong = sign_hmac_hex(b"someone else", &b5);
    let response = h
        .post_raw(ROUTE, b5, &[JSON, ("x-webhook-signature", &wrong)])
        .await;
    assert_eq!(response.status().as_u16(), 401);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(answer["error"].as_str().unwrap().contains("signature"));
    h.settle().await;
    assert_eq!(
        h.api_calls().await.len(),
        2,
        "only the two signed events had effects"
    );
}

#[tokio::test]
async fn standard_webhooks_signatures() {
    let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let key = decode_whsec(&secret).unwrap();
    let auth = WebhookAuth::Standard {
        keys: vec![key.clone()],
        tolerance: std::time::Duration::from_secs(300),
    };
    let h = Harness::with(Options {
        webhook_auth: auth,
        ..Options::default()
    })
    .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let send = |b: Vec<u8>, id: &'static str, ts: u64, sig: String| {
        let h = &h;
        async move {
            let ts = ts.to_string();
            let headers = [
                JSON,
                ("webhook-id", id),
                ("webhook-timestamp", ts.as_str()),
                ("webhook-signature", sig.as_str()),
            ];
            h.post_raw(ROUTE, b, &headers).await.status().as_u16()
        }
    };
    let b = body(1);
    assert_eq!(
        send(
            b.clone(),
            "msg_1",
            now,
            sign_standard(&key, "msg_1", now, &b)
        )
        .await,
        200
    );
    let b = body(2);
    let stale = now - 600;
    assert_eq!(
        send(
            b.clone(),
            "msg_2",
            stale,
            sign_standard(&key, "msg_2", stale, &b)
        )
        .await,
        401
    );
    let b = body(3);
    let rotated = format!(
        "{} {}",
        sign_standard(b"retired key", "msg_3", now, &b),
        sign_standard(&key, "msg_3", now, &b)
    );
    assert_eq!(send(b, "msg_3", now, rotated).await, 200);
    let b = body(4);
    let sig = sign_standard(&key, "msg_4", now, &b);
    assert_eq!(send(body(5), "msg_4", now, sig).await, 401, "tampered");
    assert_eq!(
        h.post_raw(ROUTE, body(6), &[JSON]).await.status().as_u16(),
        401,
        "missing"
    );
}

#[tokio::test]
async fn bearer_tokens() {
    let auth = WebhookAuth::Bearer {
        tokens: vec![Secret::new("let-me-in")],
    };
    let h = Harness::with(Options {
        webhook_auth: auth,
        ..Options::default()
    })
    .await;
    let ok = h
        .post_raw(
            ROUTE,
            body(1),
            &[JSON, ("authorization", "Bearer let-me-in")],
        )
        .await;
    assert_eq!(ok.status().as_u16(), 200);
    let bad = h
        .post_raw(
            ROUTE,
            body(2),
            &[JSON, ("authorization", "Bearer let-me-out")],
        )
        .await;
    assert_eq!(bad.status().as_u16(), 401);
}

#[tokio::test]
async fn a_header_with_more_signatures_than_any_sender_needs_is_refused() {
    let h = hmac_host().await;
    let b = body(1);
    let good = sign_hmac_hex(b"current", &b);
    let stranger = sign_hmac_hex(b"stranger", &b);
    let post = |signatures: Vec<String>| {
        let (h, b) = (&h, b.clone());
        async move {
            let value = signatures.join(",");
            let headers = [JSON, ("x-webhook-signature", value.as_str())];
            h.post_raw(ROUTE, b, &headers).await.status().as_u16()
        }
    };
    // The most a header may carry, ours last: accepted.
    let mut most = vec![stranger.clone(); MAX_SIGNATURES - 1];
    most.push(good.clone());
    assert_eq!(post(most).await, 200);
    // One more: refused, though ours is among them.
    let mut too_many = vec![stranger; MAX_SIGNATURES];
    too_many.push(good);
    let value = too_many.join(",");
    let response = h
        .post_raw(ROUTE, b.clone(), &[JSON, ("x-webhook-signature", &value)])
        .await;
    assert_eq!(response.status().as_u16(), 401);
    let answer: serde_json::Value = response.json().await.unwrap();
    let error = answer["error"].as_str().unwrap();
    let hint = format!("send at most {MAX_SIGNATURES}");
    assert!(error.contains(&hint), "{answer}");
}
