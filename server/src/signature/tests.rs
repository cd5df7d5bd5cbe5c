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

thread_local! {
    /// HMACs started on this thread (each test runs on a thread of its own).
    static MACS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one HMAC computation (called by `mac`).
pub(super) fn count_mac() {
    MACS.with(|m| m.set(m.get() + 1));
}

/// HMACs computed by `check`.
fn macs_for(check: impl FnOnce()) -> usize {
    MACS.with(|m| m.set(0));
    check();
    MACS.with(std::cell::Cell::get)
}

#[test]
fn one_mac_per_secret_however_many_signatures_a_header_carries() {
    let body = vec![b'x'; 1 << 20];
    let now = at(NOW);
    let signed_by = |n: usize| sign_hmac_hex(format!("stranger-{n}").as_bytes(), &body);
    let auth = hmac_auth(SignatureEncoding::Hex);
    // Two secrets, four signatures (none of ours): two MACs over the body, not eight.
    let four = (0..4).map(signed_by).collect::<Vec<_>>().join(",");
    let h = headers(&[("x-webhook-signature", &four)]);
    let macs = macs_for(|| assert_eq!(auth.verify(&h, &body, now), Err(SignatureError::Mismatch)));
    assert_eq!(macs, 2);
    // Ours last among them: still accepted.
    let with_ours = format!("{four},{}", sign_hmac_hex(b"old", &body));
    let h = headers(&[("x-webhook-signature", &with_ours)]);
    assert!(macs_for(|| assert_eq!(auth.verify(&h, &body, now), Ok(()))) <= 2);
    // More signatures than any sender needs: refused before any MAC is computed.
    let many = (0..=MAX_SIGNATURES)
        .map(signed_by)
        .collect::<Vec<_>>()
        .join(",");
    let h = headers(&[("x-webhook-signature", &many)]);
    let macs = macs_for(|| {
        assert_eq!(
            auth.verify(&h, &body, now),
            Err(SignatureError::TooMany("x-webhook-signature".into()))
        )
    });
    assert_eq!(macs, 0);
}

#[test]
fn one_mac_per_standard_webhooks_key_however_many_signatures() {
    let (_, key) = standard();
    let auth = WebhookAuth::Standard {
        keys: vec![key.clone(), b"previous key".to_vec()],
        tolerance: Duration::from_secs(300),
    };
    let body = vec![b'x'; 1 << 20];
    let ts = NOW.to_string();
    let signed_by = |n: usize| sign_standard(format!("k{n}").as_bytes(), "msg_1", NOW, &body);
    let verify = |signatures: &str| {
        let h = headers(&[
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", &ts),
            ("webhook-signature", signatures),
        ]);
        auth.verify(&h, &body, at(NOW))
    };
    let four = (0..4).map(signed_by).collect::<Vec<_>>().join(" ");
    assert_eq!(
        macs_for(|| assert_eq!(verify(&four), Err(SignatureError::Mismatch))),
        2
    );
    let with_ours = format!("{four} {}", sign_standard(&key, "msg_1", NOW, &body));
    assert!(macs_for(|| assert_eq!(verify(&with_ours), Ok(()))) <= 2);
    let many = (0..=MAX_SIGNATURES)
        .map(signed_by)
        .collect::<Vec<_>>()
        .join(" ");
    let refused = Err(SignatureError::TooMany("webhook-signature".into()));
    assert_eq!(macs_for(|| assert_eq!(verify(&many), refused)), 0);
}
