//! Signature checks: valid, tampered, missing, expired, rotated.

use super::*;
use axum::http::HeaderValue;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn hmac_auth(encoding: SignatureEncoding) -> WebhookAuth {
    WebhookAuth::Hmac {
        header: "x-webhook-signature".into(),
        encoding,
        secrets: vec![Secret::new("new"), Secret::new("old")],
    }
}

const NOW: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn hmac_hex_and_base64() {
    let body = br#"{"a":1}"#;
    let sig = sign_hmac_hex(b"new", body);
    let auth = hmac_auth(SignatureEncoding::Hex);
    let now = at(NOW);
    assert_eq!(
        auth.verify(&headers(&[("x-webhook-signature", &sig)]), body, now),
        Ok(())
    );
    let prefixed = format!("sha256={}", sig.to_uppercase());
    assert_eq!(
        auth.verify(&headers(&[("x-webhook-signature", &prefixed)]), body, now),
        Ok(())
    );
    let old = sign_hmac_hex(b"old", body);
    assert_eq!(
        auth.verify(&headers(&[("x-webhook-signature", &old)]), body, now),
        Ok(())
    );
    let tampered = br#"{"a":2}"#;
    let h = headers(&[("x-webhook-signature", &sig)]);
    assert_eq!(
        auth.verify(&h, tampered, now),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        auth.verify(&HeaderMap::new(), body, now),
        Err(SignatureError::Missing("x-webhook-signature".into()))
    );
    let b64 = B64.encode(hex::decode(&sig).unwrap());
    let auth = hmac_auth(SignatureEncoding::Base64);
    assert_eq!(
        auth.verify(&headers(&[("x-webhook-signature", &b64)]), body, now),
        Ok(())
    );
    assert_eq!(
        auth.verify(&headers(&[("x-webhook-signature", "%%%")]), body, now),
        Err(SignatureError::Malformed("x-webhook-signature".into()))
    );
}

fn standard() -> (WebhookAuth, Vec<u8>) {
    let key = decode_whsec(&Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
    let auth = WebhookAuth::Standard {
        keys: vec![key.clone()],
        tolerance: Duration::from_secs(300),
    };
    (auth, key)
}

#[test]
fn standard_webhooks_valid_rotated_and_expired() {
    let (auth, key) = standard();
    let body = b"{}";
    let sig = sign_standard(&key, "msg_1", NOW, body);
    let ts = NOW.to_string();
    let ok = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &ts),
        ("webhook-signature", &sig),
    ]);
    assert_eq!(auth.verify(&ok, body, at(NOW + 299)), Ok(()));
    assert_eq!(
        auth.verify(&ok, body, at(NOW + 301)),
        Err(SignatureError::Expired(301))
    );
    assert_eq!(
        auth.verify(&ok, body, at(NOW - 400)),
        Err(SignatureError::Expired(400))
    );

    let other = sign_standard(b"another key", "msg_1", NOW, body);
    let rotated = format!("{other} {sig}");
    let two = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &ts),
        ("webhook-signature", &rotated),
    ]);
    assert_eq!(auth.verify(&two, body, at(NOW)), Ok(()));

    let wrong_id = headers(&[
        ("webhook-id", "msg_2"),
        ("webhook-timestamp", &ts),
        ("webhook-signature", &sig),
    ]);
    assert_eq!(
        auth.verify(&wrong_id, body, at(NOW)),
        Err(SignatureError::Mismatch)
    );
    let missing = headers(&[("webhook-id", "msg_1"), ("webhook-signature", &sig)]);
    assert_eq!(
        auth.verify(&missing, body, at(NOW)),
        Err(SignatureError::Missing("webhook-timestamp".into()))
    );
}

#[test]
fn bearer_tokens() {
    let auth = WebhookAuth::Bearer {
        tokens: vec![Secret::new("t0ken")],
    };
    let now = at(NOW);
    assert_eq!(
        auth.verify(&headers(&[("authorization", "Bearer t0ken")]), b"", now),
        Ok(())
    );
    assert_eq!(
        auth.verify(&headers(&[("authorization", "Bearer t0ke")]), b"", now),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        auth.verify(&headers(&[("authorization", "Basic dTpw")]), b"", now),
        Err(SignatureError::Malformed("authorization".into()))
    );
}

#[test]
fn bad_whsec_secrets_are_reported() {
    assert_eq!(decode_whsec(&Secret::new("whsec_!!!")), Err(BadSecret));
}
