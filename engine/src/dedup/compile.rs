//! Compiling the `dedup:` section: the default window, channels inheriting from it, and their
//! checks (window length, fingerprint fields, normalizer references).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::config::{
    Channel, DedupConfig, WindowMode, WindowSpec, DEFAULT_FIELDS, DEFAULT_MAX_FINGERPRINTS,
    DEFAULT_MAX_INTERACTIONS,
};
use super::store::WindowPolicy;
use crate::compile::Compiler;
use crate::events::FIELD_NAMES;
use crate::hint::unknown_name_hint;
use crate::normalize::Normalizer;
use crate::rulefile::{Entry, ParsedFile};

/// The longest dedup window accepted (the in-memory store keeps times as 32-bit milliseconds).
const MAX_WINDOW: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl Compiler<'_, '_> {
    pub(crate) fn dedup(
        &mut self,
        normalizers: &HashMap<String, Arc<Normalizer>>,
        extra: &[String],
    ) -> Option<DedupConfig> {
        let defaults: Vec<_> = self
            .parsed
            .iter()
            .filter_map(|f| f.dedup_default.as_ref().map(|d| (f, d)))
            .collect();
        if let Some((second, entry)) = defaults.get(1) {
            let first = defaults[0].0;
            self.diags.push(
                second
                    .diag(&entry.path, "`dedup.default` is defined twice")
                    .with_hint(format!(
                        "it is also defined in {}; keep one",
                        first.path.display()
                    )),
            );
        }
        let channels = self.unique("dedup channel", |f| &f.channels);
        let Some((file, default)) = defaults.first().copied() else {
            if self.parsed.iter().any(|f| f.has_dedup_default) {
                // The default failed to read (already reported); still report the channels' own
                // mistakes, against a stand-in window so no missing-window error is invented.
                let stand_in = WindowSpec {
                    window: Some("1s".into()),
                    ..WindowSpec::default()
                };
                for (f, entry) in channels {
                    self.channel(f, &entry.name, entry, &stand_in, normalizers, extra);
                }
                return None;
            }
            if let Some((file, entry)) = channels.first() {
                self.diags.push(
                    file.diag(&entry.path, "dedup channels need a `dedup.default`")
                        .with_hint("add `dedup:` → `default:` with at least `window: 45s`"),
                );
            }
            return None;
        };
        let base = WindowSpec::default();
        let default_ch = self.channel(file, "default", default, &base, normalizers, extra)?;
        let mut out = BTreeMap::new();
        for (f, entry) in channels {
            if let Some(ch) = self.channel(f, &entry.name, entry, &default.spec, normalizers, extra)
            {
                out.insert(entry.name.clone(), ch);
            }
        }
        Some(DedupConfig {
            default: default_ch,
            channels: out,
        })
    }

    fn channel(
        &mut self,
        file: &ParsedFile,
        name: &str,
        entry: &Entry<WindowSpec>,
        base: &WindowSpec,
        normalizers: &HashMap<String, Arc<Normalizer>>,
        extra: &[String],
    ) -> Option<Channel> {
        let spec = &entry.spec;
        let at = |key: &str| -> Vec<String> {
            entry
                .path
                .iter()
                .cloned()
                .chain([key.to_string()])
                .collect()
        };
        let window = match spec.window.as_ref().or(base.window.as_ref()) {
            None => {
                self.diags.push(
                    file.diag(&entry.path, "the dedup window is not set")
                        .with_hint("add `window: 45s`"),
                );
                return None;
            }
            Some(w) => match w.parse() {
                Ok(d) if d > MAX_WINDOW => {
                    self.diags.push(file.diag(&at("window"), "the dedup window is longer than 7 days").with_hint("a duplicate is a re-send within minutes or hours; write a window such as `45s` or `1h`"));
                    return None;
                }
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    self.diags.push(
                        file.diag(&at("window"), "the dedup window must be longer than zero")
                            .with_hint("write a window such as `45s`"),
                    );
                    return None;
                }
                Err(e) => {
                    self.diags.push(
                        file.diag(&at("window"), e)
                            .with_hint(crate::duration::DurationStr::HINT),
                    );
                    return None;
                }
            },
        };
        let fields: Vec<String> = spec
            .fingerprint
            .clone()
            .or_else(|| base.fingerprint.clone())
            .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect());
        let known: Vec<&str> = FIELD_NAMES
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .collect();
        let mut ok = true;
        for (i, f) in fields.iter().enumerate() {
            if !known.contains(&f.as_str()) {
                let path: Vec<String> = at("fingerprint")
                    .into_iter()
                    .chain([i.to_string()])
                    .collect();
                self.diags.push(
                    file.diag(&path, format!("unknown fingerprint field `{f}`"))
                        .with_hint(unknown_name_hint(f, known.iter().copied())),
                );
                ok = false;
            }
        }
        if fields.is_empty() {
            self.diags.push(
                file.diag(
                    &at("fingerprint"),
                    "the fingerprint needs at least one field",
                )
                .with_hint("write `fingerprint: [sender, content]`"),
            );
            ok = false;
        }
        let normalizer_name = spec.normalizer.clone().or_else(|| base.normalizer.clone());
        let normalizer = match &normalizer_name {
            None => None,
            Some(n) => match normalizers.get(n) {
                Some(norm) => Some(norm.clone()),
                None => {
                    let names: Vec<&str> = self
                        .parsed
                        .iter()
                        .flat_map(|f| f.normalizers.iter().map(|e| e.name.as_str()))
                        .collect();
                    self.diags.push(
                        file.diag(&at("normalizer"), format!("unknown normalizer `{n}`"))
                            .with_hint(unknown_name_hint(n, names.iter().copied())),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mode = spec.mode.or(base.mode).unwrap_or_default();
        let policy = WindowPolicy {
            window,
            sliding: mode == WindowMode::Sliding,
            max_interactions: spec
                .max_interactions
                .or(base.max_interactions)
                .unwrap_or(DEFAULT_MAX_INTERACTIONS) as usize,
            max_fingerprints: spec
                .max_fingerprints_per_interaction
                .or(base.max_fingerprints_per_interaction)
                .unwrap_or(DEFAULT_MAX_FINGERPRINTS) as usize,
        };
        let steps = normalizer_name
            .as_ref()
            .and_then(|n| {
                self.parsed
                    .iter()
                    .flat_map(|f| &f.normalizers)
                    .find(|e| &e.name == n)
            })
            .map(|e| format!("{:?}", e.spec));
        let identity = format!("{policy:?}|{fields:?}|{steps:?}");
        ok.then(|| Channel {
            name: name.to_string(),
            policy,
            fields,
            normalizer,
            identity,
        })
    }
}
