//! The dedup section of the rules: a default window plus one per channel, and fingerprinting.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::store::{Fingerprint, WindowPolicy};
use crate::decision::EvalError;
use crate::document::Document;
use crate::duration::DurationStr;
use crate::events::EventView;
use crate::limit::Limit;
use crate::normalize::{Normalizer, StepSpec};

/// Whether a repeated message extends its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// Each duplicate restarts the window (the original service's behaviour).
    #[default]
    Sliding,
    /// The window runs from the first sighting, whatever repeats.
    Fixed,
}

/// How duplicates are suppressed. On a channel, every field left out is taken from `default`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// How long a message is remembered, e.g. `45s`.
    #[serde(default)]
    pub window: Option<DurationStr>,
    /// `sliding` (a duplicate extends the window) or `fixed`. Default: `sliding`.
    #[serde(default)]
    pub mode: Option<WindowMode>,
    /// The fields that make a message "the same". Default: `[sender, content]`.
    #[serde(default)]
    pub fingerprint: Option<Vec<String>>,
    /// The normalizer (under `normalizers:`) applied to `content` before fingerprinting.
    #[serde(default)]
    pub normalizer: Option<String>,
    /// Most interactions remembered at once; the oldest is evicted beyond it. Default: 1000000;
    /// from 1 to 10000000.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10_000_000))]
    pub max_interactions: Option<u64>,
    /// Most messages remembered per interaction; the oldest is forgotten beyond it. Default: 256;
    /// from 1 to 4096.
    #[serde(default)]
    #[schemars(range(min = 1, max = 4096))]
    pub max_fingerprints_per_interaction: Option<u32>,
}

/// The `dedup:` section: a default window and optional per-channel windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupSpec {
    /// The window for channels without their own entry. Must set `window`.
    #[serde(default)]
    pub default: Option<WindowSpec>,
    /// Windows per channel name (`chat`, `sms`, `email`, …), matched against the event's channel.
    #[serde(default)]
    pub channels: BTreeMap<String, WindowSpec>,
}

pub(crate) const DEFAULT_FIELDS: &[&str] = &["sender", "content"];

/// `max_interactions`. The memory store takes at most about 136 bytes per interaction it
/// remembers (see `dedup::memory`), so the top, ten times the default, is under 1.4 GB per
/// channel.
pub(crate) const MAX_INTERACTIONS: Limit<u64> = Limit {
    key: "max_interactions",
    range: 1..=10_000_000,
    default: 1_000_000,
};

/// `max_fingerprints_per_interaction`. Each message an interaction remembers beyond its first
/// takes a 20-byte slot in the interaction's list, so the top, sixteen times the default, is
/// about 80 KB per interaction.
pub(crate) const MAX_FINGERPRINTS: Limit<u32> = Limit {
    key: "max_fingerprints_per_interaction",
    range: 1..=4096,
    default: 256,
};

/// One compiled channel window.
#[derive(Debug, Clone)]
pub struct Channel {
    pub(crate) name: String,
    pub(crate) policy: WindowPolicy,
    pub(crate) fields: Vec<String>,
    pub(crate) normalizer: Option<Arc<Normalizer>>,
}

/// Everything that gives a channel's remembered fingerprints their meaning: the window policy,
/// the fingerprint fields and the normalizer's steps (by what they do, not the normalizer's
/// name). A channel's store survives a reload only while this stays equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChannelIdentity {
    policy: WindowPolicy,
    fields: Vec<String>,
    steps: Option<Vec<StepSpec>>,
}

impl ChannelIdentity {
    /// A digest of the identity that is the same in every process and build (it hashes the
    /// settings as JSON, not their in-memory form), for names that outlive a process, such as a
    /// shared store's key prefix.
    #[cfg(feature = "redis")]
    pub(crate) fn digest(&self) -> [u8; 32] {
        let p = &self.policy;
        let canonical = serde_json::json!({
            "window_ms": p.window.as_millis() as u64,
            "sliding": p.sliding,
            "max_interactions": p.max_interactions,
            "max_fingerprints": p.max_fingerprints,
            "fields": self.fields,
            "steps": self.steps,
        });
        Sha256::digest(canonical.to_string().as_bytes()).into()
    }
}

impl Channel {
    /// The channel's name (`default` or a channel).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The window policy.
    pub fn policy(&self) -> &WindowPolicy {
        &self.policy
    }

    /// What the channel's store depends on, to tell whether a reload may keep it.
    pub(crate) fn identity(&self) -> ChannelIdentity {
        ChannelIdentity {
            policy: self.policy.clone(),
            fields: self.fields.clone(),
            steps: self.normalizer.as_ref().map(|n| n.spec().to_vec()),
        }
    }

    /// SHA-256 over the fingerprint fields, each length-prefixed so no two field lists collide
    /// (`a|b` + `c` and `a` + `b|c` hash differently); an absent field is marked as absent.
    pub(crate) fn fingerprint<D: Document + ?Sized>(
        &self,
        view: &EventView<'_, '_, D>,
    ) -> Result<Fingerprint, EvalError> {
        self.fingerprint_with(|field| view.text(field))
    }

    /// The fingerprint of one message, given a way to read its fields (`Ok(None)`: the event
    /// lacks the field): the channel's fields in order, `content` through the channel's
    /// normalizer, each length-prefixed so no two field lists collide (`a|b` + `c` and `a` +
    /// `b|c` hash differently), an absent field marked as absent. `evaluate` computes it this
    /// way after reading the fields from the event.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use std::convert::Infallible;
    ///
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    /// let rules = cxrules_engine::compile::load_dir(&dir).expect("the default rules compile");
    /// let chat = rules.dedup().expect("a dedup section").all().next().expect("a channel");
    /// let fingerprint = |text: &'static str| {
    ///     chat.fingerprint_with(|field| {
    ///         Ok::<_, Infallible>(match field {
    ///             "sender" => Some(Cow::Borrowed("cust-1")),
    ///             "content" => Some(Cow::Borrowed(text)),
    ///             _ => None,
    ///         })
    ///     })
    /// };
    /// // The default normalizer trims, lowercases and collapses white space.
    /// assert_eq!(fingerprint("  Hello   WORLD "), fingerprint("hello world"));
    /// assert_ne!(fingerprint("hello world"), fingerprint("hello, world"));
    /// ```
    pub fn fingerprint_with<'v, E>(
        &self,
        mut field: impl FnMut(&str) -> Result<Option<Cow<'v, str>>, E>,
    ) -> Result<Fingerprint, E> {
        let mut hasher = Sha256::new();
        for name in &self.fields {
            match field(name)? {
                None => hasher.update([0u8]),
                Some(v) => {
                    let mut add = |v: &str| {
                        hasher.update([1u8]);
                        hasher.update((v.len() as u64).to_le_bytes());
                        hasher.update(v.as_bytes());
                    };
                    match (&self.normalizer, name.as_str()) {
                        (Some(n), "content") => n.with_applied(&v, add),
                        _ => add(&v),
                    }
                }
            }
        }
        Ok(hasher.finalize().into())
    }
}

/// The compiled dedup section.
#[derive(Debug, Clone)]
pub struct DedupConfig {
    pub(crate) default: Channel,
    pub(crate) channels: BTreeMap<String, Channel>,
}

impl DedupConfig {
    /// The channel entry for `channel`, else the default.
    pub(crate) fn channel(&self, channel: Option<&str>) -> &Channel {
        channel
            .and_then(|c| self.channels.get(c))
            .unwrap_or(&self.default)
    }

    /// Every channel, default first.
    pub fn all(&self) -> impl Iterator<Item = &Channel> {
        std::iter::once(&self.default).chain(self.channels.values())
    }
}

/// Lowercase hex of a fingerprint, without the per-character iterator `hex::encode` uses
/// (it showed up at 10% of a decision's cost).
pub(crate) fn to_hex(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    std::str::from_utf8(&out)
        .expect("hex digits are ASCII")
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_matches_the_hex_crate() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        assert_eq!(super::to_hex(&bytes), hex::encode(bytes));
    }
}
