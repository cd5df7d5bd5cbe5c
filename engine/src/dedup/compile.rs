//! Compiling one dedup window (`dedup.default` or a channel): each setting is checked in a
//! function of its own, and a channel's unset settings are taken from the default. Merging the
//! section over several files is `compile`'s part.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::config::{
    Channel, WindowMode, WindowSpec, DEFAULT_FIELDS, MAX_FINGERPRINTS, MAX_INTERACTIONS,
};
use super::store::WindowPolicy;
use crate::duration::DurationStr;
use crate::events::FIELD_NAMES;
use crate::hint::unknown_name_hint;
use crate::limit::Limit;
use crate::normalize::Normalizer;

/// The longest dedup window accepted (the in-memory store keeps times as 32-bit milliseconds).
const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// A problem with one window: (path below the window's entry, message, hint).
pub(crate) type WindowError = (Vec<String>, String, String);

/// What the rule files define that a window may name.
pub(crate) struct Defined<'a> {
    /// The normalizers that compiled, by name.
    pub(crate) normalizers: &'a HashMap<String, Arc<Normalizer>>,
    /// Every normalizer name written, compiled or not (for the hint of an unknown one).
    pub(crate) normalizer_names: Vec<&'a str>,
    /// The extra field names the events define.
    pub(crate) extra: &'a [String],
}

fn at(key: &str) -> Vec<String> {
    vec![key.to_string()]
}

impl Channel {
    /// Compiles the window `spec` of channel `name`, taking what it leaves unset from `base`.
    /// A window that is missing or wrong is the only error reported for it: the other settings
    /// are checked once it is right.
    pub(crate) fn compile(
        name: &str,
        spec: &WindowSpec,
        base: &WindowSpec,
        defined: &Defined<'_>,
    ) -> Result<Channel, Vec<WindowError>> {
        let window = window(spec, base).map_err(|e| vec![e])?;
        let mut errors = Vec::new();
        let fields = fingerprint_fields(spec, base, defined.extra, &mut errors);
        let normalizer = normalizer(spec, base, defined, &mut errors);
        let max_interactions = limit(
            &MAX_INTERACTIONS,
            spec.max_interactions,
            base.max_interactions,
            &mut errors,
        );
        let max_fingerprints = limit(
            &MAX_FINGERPRINTS,
            spec.max_fingerprints_per_interaction,
            base.max_fingerprints_per_interaction,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        let mode = spec.mode.or(base.mode).unwrap_or_default();
        let policy = WindowPolicy {
            window,
            sliding: mode == WindowMode::Sliding,
            max_interactions: max_interactions as usize,
            max_fingerprints: max_fingerprints as usize,
        };
        Ok(Channel {
            name: name.to_string(),
            policy,
            fields,
            normalizer,
        })
    }
}

/// The window length: set here or in the default, longer than zero, at most [`MAX_WINDOW`].
fn window(spec: &WindowSpec, base: &WindowSpec) -> Result<Duration, WindowError> {
    let Some(written) = spec.window.as_ref().or(base.window.as_ref()) else {
        return Err((
            Vec::new(),
            "the dedup window is not set".into(),
            "add `window: 45s`".into(),
        ));
    };
    match written.parse() {
        Ok(d) if d > MAX_WINDOW => Err((
            at("window"),
            "the dedup window is longer than 7 days".into(),
            "a duplicate is a re-send within minutes or hours; write a window such as `45s` or \
             `1h`"
                .into(),
        )),
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err((
            at("window"),
            "the dedup window must be longer than zero".into(),
            "write a window such as `45s`".into(),
        )),
        Err(e) => Err((at("window"), e, DurationStr::HINT.into())),
    }
}

/// The fingerprint fields: at least one, each a built-in field or one the events define.
fn fingerprint_fields(
    spec: &WindowSpec,
    base: &WindowSpec,
    extra: &[String],
    errors: &mut Vec<WindowError>,
) -> Vec<String> {
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
    for (i, f) in fields.iter().enumerate() {
        if !known.contains(&f.as_str()) {
            errors.push((
                vec!["fingerprint".to_string(), i.to_string()],
                format!("unknown fingerprint field `{f}`"),
                unknown_name_hint(f, known.iter().copied()),
            ));
        }
    }
    if fields.is_empty() {
        errors.push((
            at("fingerprint"),
            "the fingerprint needs at least one field".into(),
            "write `fingerprint: [sender, content]`".into(),
        ));
    }
    fields
}

/// The normalizer, when one is named here or in the default: it must be defined and compile.
fn normalizer(
    spec: &WindowSpec,
    base: &WindowSpec,
    defined: &Defined<'_>,
    errors: &mut Vec<WindowError>,
) -> Option<Arc<Normalizer>> {
    let name = spec.normalizer.as_ref().or(base.normalizer.as_ref())?;
    let found = defined.normalizers.get(name).cloned();
    if found.is_none() {
        errors.push((
            at("normalizer"),
            format!("unknown normalizer `{name}`"),
            unknown_name_hint(name, defined.normalizer_names.iter().copied()),
        ));
    }
    found
}

/// A size limit: written here, else in the default, else the limit's default. A value written
/// here must lie in the limit's range (an inherited one was checked where it is written).
fn limit<T>(
    limit: &Limit<T>,
    own: Option<T>,
    inherited: Option<T>,
    errors: &mut Vec<WindowError>,
) -> T
where
    T: Copy + PartialOrd + std::fmt::Display,
{
    if let Err((message, hint)) = limit.check(own) {
        errors.push((at(limit.key), message, hint));
    }
    own.or(inherited).unwrap_or(limit.default)
}
