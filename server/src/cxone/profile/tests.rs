//! The built-in profiles make the seed and CXone digital calls; files override them.

use super::*;
use crate::cxone::update::{DedupStatus, MetadataUpdate, RoutingUpdate};

fn body(call: &PreparedCall) -> Value {
    serde_json::from_str(&call.body).expect("a prepared body is JSON")
}

fn meta() -> Update {
    Update::Metadata(MetadataUpdate {
        status: DedupStatus::Processed,
        last_sequence: Some(4),
        fingerprint: "ab".into(),
        channel: "chat".into(),
        event_type: None,
    })
}

fn routing(skill_id: Option<u64>) -> Update {
    Update::Routing(RoutingUpdate {
        route: "inventory".into(),
        sku: "SKU-1".into(),
        inventory_status: Some("in_stock".into()),
        skills: vec!["skill-premium".into()],
        queues: vec![],
        skill_id,
        reason: None,
    })
}

#[test]
fn seed_profile_makes_the_seed_calls() {
    let p = Profile::builtin(ProfileName::Seed);
    let m = p.prepare("i-1", &meta()).unwrap();
    assert_eq!(
        (m.method.clone(), m.path.as_str()),
        (Method::PATCH, "/api/v2/interactions/i-1")
    );
    assert_eq!(
        body(&m),
        json!({"attributes": {"deduplication:status": "processed", "deduplication:lastSequence": 4}})
    );
    let r = p.prepare("i-1", &routing(None)).unwrap();
    assert_eq!(r.path, "/api/v2/routing/interactions/i-1");
    assert_eq!(
        body(&r),
        json!({"routing": {"skills": [{"id": "skill-premium"}], "queues": []}})
    );
}

#[test]
fn dfo_profile_needs_a_numeric_skill() {
    let p = Profile::builtin(ProfileName::Dfo);
    let r = p.prepare("123", &routing(Some(42))).unwrap();
    assert_eq!(
        (r.method.clone(), r.path.as_str()),
        (Method::PUT, "/dfo/3.0/contacts/123/routing-queue")
    );
    assert_eq!(body(&r), json!({"skillId": 42}));
    let err = p.prepare("123", &routing(None)).unwrap_err();
    assert_eq!(err, PrepareError::Missing(MissingValue("skill_id".into())));
    let m = p.prepare("123", &meta()).unwrap();
    assert_eq!(
        body(&m)[1],
        json!({"ident": "deduplication-last-sequence", "value": "4"})
    );
}

#[test]
fn a_file_overrides_calls() {
    let p = Profile::from_yaml(
        "extends: seed\ntoken_path: /oauth/token\nmetadata: {disabled: true}\n\
         routing: {method: put, path: '/v9/route/{id}', body: {skill: '{skill_id}'}}\n",
    )
    .unwrap();
    assert!(p.metadata.is_none());
    assert!(
        matches!(&p.auth, AuthFlow::ClientCredentials { token_path, .. } if token_path == "/oauth/token")
    );
    let r = p.prepare("a b", &routing(Some(7))).unwrap();
    assert_eq!(
        (r.method.clone(), r.path.as_str()),
        (Method::PUT, "/v9/route/a%20b")
    );
    assert_eq!(
        p.prepare("x", &meta()).unwrap_err(),
        PrepareError::NoCall("metadata")
    );
}

#[test]
fn check_answers_as_prepare_does() {
    let text_skill = "routing: {body: {note: 'skill {skill_id} for {sku}'}}";
    let profiles = [
        Profile::builtin(ProfileName::Seed),
        Profile::builtin(ProfileName::Dfo),
        Profile::from_yaml("extends: seed\nmetadata: {disabled: true}").unwrap(),
        Profile::from_yaml(&format!("extends: seed\n{text_skill}")).unwrap(),
    ];
    let updates = [meta(), routing(None), routing(Some(42))];
    for (p, profile) in profiles.iter().enumerate() {
        for update in &updates {
            for id in ["i-1", "a/b?c#d", "..", "", "a\r\nb"] {
                let prepared = profile.prepare(id, update).map(|_| ());
                let checked = profile.check(id, update);
                assert_eq!(checked, prepared, "profile {p}, id {id:?}, {update:?}");
            }
        }
    }
}

#[test]
fn a_bad_file_says_what_is_wrong() {
    let err = Profile::from_yaml("routing: {body: {x: '{bogus}'}}").unwrap_err();
    assert!(err.to_string().contains("routing call") && err.to_string().contains("bogus"));
    assert!(Profile::from_yaml("nonsense: 1").is_err());
}

#[test]
fn dfo_calls_address_the_contact_and_seed_calls_the_interaction() {
    let mut decision = cxrules_engine::Decision {
        outcome: cxrules_engine::Outcome::Processed,
        event: Some("e".into()),
        event_type: Some("t".into()),
        interaction_id: Some("9a8b7c6d-1111-4222-8333-444455556666".into()),
        contact_id: Some("131988342510".into()),
        reason: None,
        channel: None,
        dedup: None,
        routing: None,
        rules_version: "v".into(),
        latency_us: 0,
    };
    let seed = Profile::builtin(ProfileName::Seed);
    let dfo = Profile::builtin(ProfileName::Dfo);
    assert_eq!(seed.address, CallAddress::Interaction);
    assert_eq!(dfo.address, CallAddress::Contact);
    assert_eq!(
        seed.address.id(&decision),
        Some("9a8b7c6d-1111-4222-8333-444455556666")
    );
    assert_eq!(dfo.address.id(&decision), Some("131988342510"));
    decision.contact_id = None;
    assert_eq!(
        dfo.address.id(&decision),
        Some("9a8b7c6d-1111-4222-8333-444455556666"),
        "no contact id: the interaction's"
    );
    let file = Profile::from_yaml("extends: dfo\naddress: interaction\n").unwrap();
    assert_eq!(file.address, CallAddress::Interaction);
    assert!(Profile::from_yaml("extends: dfo\naddress: case\n").is_err());
}
