//! One rule file: the top-level YAML type, and a loader that reports every mistake in it.
//!
//! The file is parsed once into a generic YAML value; then each section entry (a normalizer, an
//! event, a channel, a route, a test case) is read on its own, so a file with three broken
//! entries gets three located diagnostics instead of the first one only.

mod repair;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::dedup::config::{DedupSpec, WindowSpec};
use crate::diag::Diagnostic;
use crate::events::EventSpec;
use crate::hint::did_you_mean;
use crate::normalize::StepSpec;
use crate::routing::spec::RouteSpec;
use crate::testcase::TestCaseSpec;
use crate::yaml::{self, ShapeError, Value};
pub(crate) use repair::Repairs;

/// A cxrules rule file. Several files in one directory merge into one rule set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cxrules rule file")]
pub struct RuleFile {
    /// The rule format version. Always `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Named normalization pipelines: ordered steps applied to message content.
    #[serde(default)]
    pub normalizers: BTreeMap<String, Vec<StepSpec>>,
    /// Named event rules: which event types to handle and where their fields are.
    #[serde(default)]
    pub events: BTreeMap<String, EventSpec>,
    /// Duplicate suppression windows.
    #[serde(default)]
    pub dedup: Option<DedupSpec>,
    /// Named routing rules: inventory status → skills and queues.
    #[serde(default)]
    pub routing: BTreeMap<String, RouteSpec>,
    /// Test cases; every one must pass before a change of the rules goes live.
    #[serde(default)]
    pub tests: Vec<TestCaseSpec>,
}

const SECTIONS: &[&str] = &[
    "version",
    "normalizers",
    "events",
    "dedup",
    "routing",
    "tests",
];

/// A named entry and the document path it came from.
#[derive(Debug, Clone)]
pub(crate) struct Entry<T> {
    pub name: String,
    pub path: Vec<String>,
    pub spec: T,
    /// What was set aside to read it (its mistakes are reported already).
    pub repairs: Repairs,
}

/// What one file contributes, entry by entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedFile {
    pub path: PathBuf,
    pub text: String,
    pub normalizers: Vec<Entry<Vec<StepSpec>>>,
    pub events: Vec<Entry<EventSpec>>,
    pub dedup_default: Option<Entry<WindowSpec>>,
    /// True when the file has a `dedup.default` key, even one that failed to read.
    pub has_dedup_default: bool,
    pub channels: Vec<Entry<WindowSpec>>,
    pub routes: Vec<Entry<RouteSpec>>,
    pub tests: Vec<Entry<TestCaseSpec>>,
    /// The paths of entries written but too broken to read (their mistakes reported), so a
    /// reference to one is not reported as unknown as well.
    pub unreadable: Vec<Vec<String>>,
}

impl ParsedFile {
    /// A diagnostic located at a document path of this file.
    pub fn diag(&self, path: &[String], message: impl Into<String>) -> Diagnostic {
        Diagnostic::file(&self.path, message).at_path(&self.text, path)
    }
}

/// Reads one file's text; every problem found is pushed to `diags`.
pub(crate) fn parse_file(path: &Path, text: String, diags: &mut Vec<Diagnostic>) -> ParsedFile {
    let mut file = ParsedFile {
        path: path.to_path_buf(),
        text,
        ..Default::default()
    };
    if file
        .text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        diags.push(
            Diagnostic::file(path, "the rule file is empty")
                .with_hint("start it with `version: 1`, or delete the file"),
        );
        return file;
    }
    let value = match yaml::parse(&file.text) {
        Ok(v) => v,
        Err(e) => {
            let mut d = Diagnostic::file(path, format!("invalid YAML: {}", e.message));
            if let (Some(l), Some(c)) = (e.line, e.column) {
                d = d.at_position(&file.text, l, c);
            }
            diags.push(d.with_hint("check the indentation and the quoting near this position"));
            return file;
        }
    };
    let Some(entries) = yaml::mapping_entries(&value) else {
        diags.push(
            file.diag(&[], "a rule file must be a mapping of sections")
                .with_hint("start with `version: 1`, then sections such as `events:` and `dedup:`"),
        );
        return file;
    };
    let mut has_version = false;
    for (key, value) in entries {
        match key.as_str() {
            "version" => {
                has_version = true;
                if value.as_u64() != Some(1) {
                    diags.push(
                        file.diag(&[key], "unsupported rule format version")
                            .with_hint("write `version: 1`"),
                    );
                }
            }
            "normalizers" => file.normalizers = named(&mut file, &key, value, diags),
            "events" => file.events = named(&mut file, &key, value, diags),
            "routing" => file.routes = named(&mut file, &key, value, diags),
            "dedup" => read_dedup(&mut file, value, diags),
            "tests" => file.tests = read_tests(&mut file, value, diags),
            _ => {
                let mut d = file.diag(
                    std::slice::from_ref(&key),
                    format!("unknown section `{key}`"),
                );
                d = d.with_hint(match did_you_mean(&key, SECTIONS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the sections are {}", quoted(SECTIONS)),
                });
                diags.push(d);
            }
        }
    }
    if !has_version {
        diags.push(
            Diagnostic::file(path, "missing `version`")
                .with_hint("add `version: 1` at the top of the file"),
        );
    }
    file
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a mapping of named entries, each on its own so every bad entry is reported.
fn named<T: DeserializeOwned>(
    file: &mut ParsedFile,
    section: &str,
    value: Value,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Entry<T>> {
    if value.is_null() {
        return Vec::new();
    }
    let Some(entries) = yaml::mapping_entries(&value) else {
        diags.push(
            file.diag(
                &[section.to_string()],
                format!("`{section}` must be a mapping of names to entries"),
            )
            .with_hint(format!(
                "write `{section}:` then one indented `name:` per entry"
            )),
        );
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|(name, v)| {
            let path = vec![section.to_string(), name.clone()];
            entry(file, path, name, v, diags)
        })
        .collect()
}

/// At most this many mistakes are reported per entry (each costs one more read of it).
const MAX_MISTAKES_PER_ENTRY: usize = 16;

/// Reads one entry, reporting each of its mistakes: after one, what caused it is set aside
/// and the entry is read again. An entry that cannot be read is remembered as unreadable.
fn entry<T: DeserializeOwned>(
    file: &mut ParsedFile,
    path: Vec<String>,
    name: String,
    mut value: Value,
    diags: &mut Vec<Diagnostic>,
) -> Option<Entry<T>> {
    let mut repairs = Repairs::default();
    for _ in 0..MAX_MISTAKES_PER_ENTRY {
        let e = match yaml::from_value::<T>(value.clone()) {
            Ok(spec) => {
                return Some(Entry {
                    name,
                    path,
                    spec,
                    repairs,
                })
            }
            Err(e) => e,
        };
        if repairs.explains(&e) {
            break;
        }
        let written = ShapeError {
            path: repairs.as_written(&e.path),
            message: e.message.clone(),
        };
        diags.push(shape_diag(file, &path, written));
        if !repairs.repair(&mut value, &e) {
            break;
        }
    }
    file.unreadable.push(path);
    None
}

fn read_dedup(file: &mut ParsedFile, value: Value, diags: &mut Vec<Diagnostic>) {
    let Some(entries) = yaml::mapping_entries(&value) else {
        diags.push(
            file.diag(&["dedup".into()], "`dedup` must be a mapping")
                .with_hint("write `dedup:` then `default:` and `channels:`"),
        );
        return;
    };
    for (key, v) in entries {
        match key.as_str() {
            "default" => {
                file.has_dedup_default = true;
                let path = vec!["dedup".to_string(), key.clone()];
                file.dedup_default = entry(file, path, "default".into(), v, diags);
            }
            "channels" => {
                let mut channels: Vec<Entry<WindowSpec>> = named(file, "channels", v, diags);
                for c in &mut channels {
                    c.path.insert(0, "dedup".into());
                }
                file.channels = channels;
            }
            _ => diags.push(
                file.diag(
                    &["dedup".into(), key.clone()],
                    format!("unknown field `{key}` in `dedup`"),
                )
                .with_hint("`dedup` has `default` and `channels`"),
            ),
        }
    }
}

fn read_tests(
    file: &mut ParsedFile,
    value: Value,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Entry<TestCaseSpec>> {
    let Some(items) = value.as_sequence() else {
        diags.push(
            file.diag(&["tests".into()], "`tests` must be a list of cases")
                .with_hint("write each case as `- name: ...`"),
        );
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let path = vec!["tests".to_string(), i.to_string()];
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            entry(file, path, name, v.clone(), diags)
        })
        .collect()
}

/// Turns a shape error into a located diagnostic with a hint drawn from the message.
fn shape_diag(file: &ParsedFile, base: &[String], e: ShapeError) -> Diagnostic {
    let mut path: Vec<String> = base.iter().cloned().chain(e.path.iter().cloned()).collect();
    let (unknown, expected) = unknown_and_expected(&e.message);
    if let Some(u) = &unknown {
        if e.message.starts_with("unknown field") && path.last() != Some(u) {
            path.push(u.clone());
        }
    }
    let hint = match (&unknown, expected.is_empty()) {
        (Some(u), false) => match did_you_mean(u, expected.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "expected one of {}",
                expected
                    .iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        _ if is_duration_path(&path) && e.message.contains("invalid type") => {
            crate::duration::DurationStr::HINT.to_string()
        }
        _ if e.message.starts_with("missing field") => {
            "add the field; see the rule format in README.md".to_string()
        }
        _ => {
            "see the rule format in README.md, or let your editor check the file against the schema"
                .to_string()
        }
    };
    file.diag(&path, e.message).with_hint(hint)
}

fn is_duration_path(path: &[String]) -> bool {
    matches!(
        path.last().map(String::as_str),
        Some("window" | "open_for" | "cache_ttl" | "timeout" | "at")
    )
}

/// From "unknown field `x`, expected one of `a`, `b`" takes `x` and `[a, b]`.
fn unknown_and_expected(message: &str) -> (Option<String>, Vec<String>) {
    if !message.starts_with("unknown field") && !message.starts_with("unknown variant") {
        return (None, Vec::new());
    }
    let mut parts = message.split('`').skip(1).step_by(2).map(str::to_string);
    let unknown = parts.next();
    (unknown, parts.collect())
}
