//! Redaction of recorded events: the message text an event rule reads as `content` is replaced
//! by a keyed digest of its *normalized* form, written as letters, so a replay of the redacted
//! events fingerprints them as the live host did (equal after normalization stays equal,
//! different stays different) while the text itself is gone.
//!
//! What is kept and why: the event type, the interaction, sender, channel, sequence, event id
//! and timestamps (dedup and routing read them, and they are ids, not prose) and every other
//! field, unchanged. What is replaced: the value at the first `content` pointer of the rule the
//! event matches (the rule's own pointers, or the default ones when no rule matches), when it
//! is a string. The replacement is the digest of the text after the dedup channel's normalizer
//! (the raw text when the rule has no dedup or the channel no normalizer), encoded with the
//! letters `a`–`p`: trimming, Unicode normalization, lowercasing, stripping punctuation, emoji,
//! symbols, digits, control characters or white space and collapsing white space all leave such
//! a word unchanged, so on replay the normalizer maps it to itself and the fingerprint's input is
//! a function of the normalized text alone. A `regex_replace` step whose pattern matches
//! lowercase letters could still change it; [`Redacted::stable`] says whether the normalizer
//! left this replacement unchanged, so the caller can count the events where it did not.
//!
//! ```
//! use cxrules_engine::redact::redact_content;
//! use serde_json::json;
//!
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
//! let rules = cxrules_engine::compile::load_dir(&dir).expect("the default rules compile");
//! let seal = |text: &str| {
//!     use sha2::Digest;
//!     sha2::Sha256::digest(text.as_bytes()).into()
//! };
//! let message = |text: &str| json!({"type": "conversations.messages.messageCreated",
//!     "data": {"message": {"interactionId": "i-1", "senderId": "c-1", "content": text}}});
//! let (mut a, mut b) = (message("Where is my order?"), message("  where is MY order? "));
//! assert!(redact_content(&rules, &mut a, &seal).replaced);
//! redact_content(&rules, &mut b, &seal);
//! // Equal after the rules' normalizer: equal after redaction; the text is gone.
//! assert_eq!(a, b);
//! assert!(!a.to_string().contains("order"));
//! ```

use serde_json::Value;

use crate::compile::CompiledRules;
use crate::events::defaults;
use crate::pointer::Pointer;

/// Letters of the replacement per digest byte pair: 16 bytes of the digest, 32 letters.
const DIGEST_BYTES: usize = 16;

/// What [`redact_content`] did to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Redacted {
    /// A message text was found and replaced.
    pub replaced: bool,
    /// The channel's normalizer leaves the replacement as it is (true when nothing was
    /// replaced): a replay fingerprints it as the live host fingerprinted the text.
    pub stable: bool,
}

/// Replaces the message text of `event` (see the module's documentation) by the letters of
/// `seal(normalized text)`; `seal` is a keyed digest such as HMAC-SHA256 under a secret key.
pub fn redact_content(
    rules: &CompiledRules,
    event: &mut Value,
    seal: &dyn Fn(&str) -> [u8; 32],
) -> Redacted {
    let untouched = Redacted {
        replaced: false,
        stable: true,
    };
    let rule = rules.events.iter().find(|r| r.matches(&*event).is_some());
    let default_pointers;
    let pointers: &[Pointer] = match rule.and_then(|r| r.fields.get("content")) {
        Some(list) => list,
        None => {
            default_pointers = defaults("content")
                .iter()
                .filter_map(|p| Pointer::parse(p))
                .collect::<Vec<_>>();
            &default_pointers
        }
    };
    let Some(pointer) = pointers.iter().find(|p| p.get(event).is_some()) else {
        return untouched;
    };
    let Some(Value::String(text)) = event.pointer(pointer.as_str()) else {
        return untouched;
    };
    let normalizer: Option<&crate::normalize::Normalizer> = match (rule, rules.dedup()) {
        (Some(rule), Some(dedup)) if rule.dedup => {
            let view = rule.view(&*event);
            let channel = view.id("channel").ok().flatten();
            dedup.channel(channel.as_deref()).normalizer.as_deref()
        }
        _ => None,
    };
    let digest = match &normalizer {
        Some(n) => seal(&n.apply(text)),
        None => seal(text),
    };
    let word = letters(&digest[..DIGEST_BYTES]);
    let stable = normalizer.as_ref().is_none_or(|n| n.apply(&word) == word);
    if let Some(slot) = event.pointer_mut(pointer.as_str()) {
        *slot = Value::String(word);
    }
    Redacted {
        replaced: true,
        stable,
    }
}

/// Each half byte as one of the letters `a`–`p`.
fn letters(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| char::from(b'a' + n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sha2::Digest;

    fn seal(text: &str) -> [u8; 32] {
        sha2::Sha256::digest(text.as_bytes()).into()
    }

    fn rules(yaml: &str) -> CompiledRules {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.yaml"), yaml).unwrap();
        crate::compile::load_dir(dir.path()).unwrap()
    }

    const RULES: &str = r#"
version: 1
normalizers:
  loud: [trim, lowercase, { strip: [punctuation, digits] }, collapse_whitespace]
  eats_letters: [{ regex_replace: { pattern: "[a-e]", replacement: "" } }]
events:
  chat:
    type: chat
    fields: { content: /text, sender: /from, interaction_id: /id, channel: /ch }
    dedup: true
  note:
    type: note
    fields: { content: /text, interaction_id: /id }
dedup:
  default: { window: 45s, normalizer: loud }
  channels:
    odd: { normalizer: eats_letters }
"#;

    #[test]
    fn equal_after_normalization_stays_equal_and_different_stays_different() {
        let rules = rules(RULES);
        let redact = |text: &str| {
            let mut e = json!({"type": "chat", "id": "i", "from": "s", "text": text});
            let r = redact_content(&rules, &mut e, &seal);
            assert_eq!(
                r,
                Redacted {
                    replaced: true,
                    stable: true
                }
            );
            e["text"].as_str().unwrap().to_string()
        };
        assert_eq!(redact("Hello,  World!"), redact("  hello world"));
        assert_ne!(redact("hello world"), redact("hello there"));
        assert!(redact("x").bytes().all(|b| (b'a'..=b'p').contains(&b)));
    }

    #[test]
    fn a_rule_without_dedup_hashes_the_raw_text_and_unmatched_events_use_the_defaults() {
        let rules = rules(RULES);
        let mut a = json!({"type": "note", "id": "i", "text": "Hi"});
        let mut b = json!({"type": "note", "id": "i", "text": "hi"});
        redact_content(&rules, &mut a, &seal);
        redact_content(&rules, &mut b, &seal);
        assert_ne!(a, b);
        let mut other = json!({"type": "else", "data": {"message": {"content": "secret"}}});
        assert!(redact_content(&rules, &mut other, &seal).replaced);
        assert!(!other.to_string().contains("secret"));
        let mut absent = json!({"type": "chat", "id": "i"});
        let kept = absent.clone();
        assert!(!redact_content(&rules, &mut absent, &seal).replaced);
        assert_eq!(absent, kept);
        let mut number = json!({"type": "chat", "id": "i", "text": 5});
        assert!(!redact_content(&rules, &mut number, &seal).replaced);
    }

    proptest::proptest! {
        /// On the default rules: two messages get the same replacement exactly when their
        /// normalized texts are equal, and the normalizer keeps every replacement as it is.
        #[test]
        fn replacements_are_equal_exactly_when_normalized_texts_are(
            a in "[a-zA-Z0-9 ,.!?\u{e9}\u{ff21}\u{1f600}\t]{0,24}",
            flips in proptest::collection::vec(proptest::bool::ANY, 24),
            pad in 0usize..3,
            independent in "[a-zA-Z ,.!?]{0,24}",
            same in proptest::bool::ANY,
        ) {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
            let rules = crate::compile::load_dir(&dir).unwrap();
            let b = if same {
                let flipped: String = a
                    .chars()
                    .zip(flips.iter().chain(std::iter::repeat(&false)))
                    .map(|(c, f)| if *f { c.to_uppercase().next().unwrap_or(c) } else { c })
                    .collect();
                format!("{}{flipped}{}", " ".repeat(pad), " ".repeat(pad))
            } else {
                independent
            };
            let message = |text: &str| json!({"type": "conversations.messages.messageCreated",
                "data": {"message": {"interactionId": "i", "senderId": "s", "content": text}}});
            let (mut ea, mut eb) = (message(&a), message(&b));
            let ra = redact_content(&rules, &mut ea, &seal);
            let rb = redact_content(&rules, &mut eb, &seal);
            proptest::prop_assert!(ra.replaced && ra.stable && rb.replaced && rb.stable);
            let chat = rules.dedup().unwrap().all().next().unwrap();
            let normalizer = chat.normalizer.as_ref().unwrap();
            proptest::prop_assert_eq!(
                ea == eb,
                normalizer.apply(&a) == normalizer.apply(&b),
                "{:?} / {:?}", a, b
            );
        }
    }

    #[test]
    fn a_normalizer_that_rewrites_letters_is_reported_unstable() {
        let rules = rules(RULES);
        let mut e = json!({"type": "chat", "id": "i", "from": "s", "ch": "odd", "text": "t"});
        let r = redact_content(&rules, &mut e, &seal);
        assert!(r.replaced && !r.stable, "{r:?}");
    }
}
