//! Reading one entry past its first mistake: serde stops at the first error, so after each one
//! the offending key is set aside (a misspelt key renamed to the key it was meant to be, any
//! other removed) and the entry is read again, until it reads or cannot be repaired.
//!
//! What was set aside is remembered, so the errors it causes downstream (a field now missing, a
//! window now unset) are not reported as mistakes of their own.

use crate::hint::did_you_mean;
use crate::yaml::{ShapeError, Value};

/// What was changed in an entry to read it past its mistakes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Repairs {
    /// Paths below the entry whose value was removed or renamed to, as read after the repair.
    pub set_aside: Vec<Vec<String>>,
    /// Renamed keys: the path as read (ending in the new key) and the key as written.
    renamed: Vec<(Vec<String>, String)>,
}

impl Repairs {
    /// True when a problem at `path` (below the entry) may come from a setting set aside: it is
    /// at, inside or around one.
    pub fn touches(&self, path: &[String]) -> bool {
        self.set_aside
            .iter()
            .any(|s| s.starts_with(path) || path.starts_with(s))
    }

    /// The path as written in the file: renamed keys get their written name back.
    pub fn as_written(&self, path: &[String]) -> Vec<String> {
        let mut out = path.to_vec();
        for (renamed, written) in &self.renamed {
            if out.starts_with(renamed) {
                out[renamed.len() - 1] = written.clone();
            }
        }
        out
    }

    /// True when `e` only says that a setting set aside is now missing.
    pub fn explains(&self, e: &ShapeError) -> bool {
        let Some(field) = e.message.strip_prefix("missing field `") else {
            return false;
        };
        let field = field.trim_end_matches('`');
        let mut path = e.path.clone();
        path.push(field.to_string());
        self.set_aside.contains(&path)
    }

    /// Changes `value` so that it reads past `e`; false when it cannot.
    pub fn repair(&mut self, value: &mut Value, e: &ShapeError) -> bool {
        if let Some(rest) = e.message.strip_prefix("unknown field `") {
            return self.unknown_key(value, &e.path, rest);
        }
        let removable = [
            "unknown variant",
            "invalid type",
            "invalid value",
            "invalid length",
        ];
        if !removable.iter().any(|p| e.message.starts_with(p)) {
            return false;
        }
        let Some((key, parent)) = e.path.split_last() else {
            return false;
        };
        let Some(map) = mapping_at(value, parent).and_then(Value::as_mapping_mut) else {
            return false;
        };
        if map.remove(key.as_str()).is_none() {
            return false;
        }
        self.set_aside.push(e.path.clone());
        true
    }

    /// `unknown field `k`, expected one of `a`, `b``: renamed to the key it resembles when that
    /// key is not written too, else removed.
    fn unknown_key(&mut self, value: &mut Value, path: &[String], rest: &str) -> bool {
        let mut parts = rest.split('`').step_by(2);
        let Some(key) = parts.next() else {
            return false;
        };
        let expected: Vec<&str> = parts.skip(1).collect();
        let parent = path.strip_suffix(&[key.to_string()]).unwrap_or(path);
        let Some(map) = mapping_at(value, parent).and_then(Value::as_mapping_mut) else {
            return false;
        };
        let Some(moved) = map.remove(key) else {
            return false;
        };
        let mut at = parent.to_vec();
        match did_you_mean(key, expected.iter().copied()) {
            Some(meant) if !map.contains_key(meant) => {
                map.insert(Value::String(meant.to_string()), moved);
                at.push(meant.to_string());
                self.renamed.push((at.clone(), key.to_string()));
            }
            _ => at.push(key.to_string()),
        }
        self.set_aside.push(at);
        true
    }
}

/// The value at `path` inside `value`, when it is a mapping.
fn mapping_at<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut here = value;
    for seg in path {
        here = match here {
            Value::Mapping(m) => m.get_mut(seg.as_str())?,
            Value::Sequence(s) => s.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    here.is_mapping().then_some(here)
}
