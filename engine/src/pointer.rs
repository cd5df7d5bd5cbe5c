//! JSON pointers (RFC 6901) parsed once at compile time, so reading a field allocates nothing;
//! with one extension, keyed array selection: `customFields[ident=sku]` picks the element of
//! the array `customFields` whose `ident` is `sku`.

use serde_json::Value as Json;

/// One step of a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object key, or an array index when the value there is an array.
    Key(String),
    /// The first element of an array that is an object whose `key` holds `value` (a string, or
    /// a number written as `value`).
    Select {
        key: String,
        value: String,
        /// The pointer text naming the array, for errors.
        array: String,
    },
}

/// A parsed JSON pointer such as `/data/message/content` or
/// `/data/case/customFields[ident=sku]/value`.
///
/// ```
/// use cxrules_engine::pointer::Pointer;
/// use serde_json::json;
///
/// let event = json!({"data": {"case": {"customFields": [
///     {"ident": "colour", "value": "red"},
///     {"ident": "sku", "value": "SKU-42"},
/// ]}}});
/// let sku = Pointer::compile("/data/case/customFields[ident=sku]/value").unwrap();
/// assert_eq!(sku.get(&event), Some(&json!("SKU-42")));
/// let size = Pointer::compile("/data/case/customFields[ident=size]/value").unwrap();
/// assert_eq!(size.get(&event), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    steps: Box<[Step]>,
}

/// Why a pointer's text is not a pointer: a message and a hint on how to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerError {
    /// What is wrong.
    pub message: String,
    /// How to write it.
    pub hint: String,
}

/// A selection step reached a value that is not an array: the event is not shaped as the
/// pointer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnArray {
    /// The pointer as written.
    pub pointer: String,
    /// The part of the pointer that names the value that should have been an array.
    pub at: String,
}

impl std::fmt::Display for NotAnArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} selects an array element, but the value at {} is not an array",
            self.pointer, self.at
        )
    }
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

/// The steps of one `/`-separated token.
fn token_steps(token: &str, whole: &str, before: &str) -> Result<Vec<Step>, PointerError> {
    let Some(open) = token.find('[') else {
        if token.contains(']') {
            return Err(PointerError {
                message: format!("`{whole}`: `]` without its `[` in `{token}`"),
                hint: "select an array element with `name[key=value]`".into(),
            });
        }
        return Ok(vec![Step::Key(unescape(token))]);
    };
    let bad = |why: &str| PointerError {
        message: format!("`{whole}`: `{token}` {why}"),
        hint: "select an array element with `name[key=value]`, e.g. \
               `/data/case/customFields[ident=sku]/value`"
            .into(),
    };
    let name = &token[..open];
    let inner = token[open + 1..]
        .strip_suffix(']')
        .ok_or_else(|| bad("does not end with `]`"))?;
    if inner.contains(['[', ']']) {
        return Err(bad("holds more than one selection"));
    }
    let (key, value) = inner
        .split_once('=')
        .ok_or_else(|| bad("has no `=` between the key and the value"))?;
    if key.is_empty() {
        return Err(bad("names no key before `=`"));
    }
    let mut steps = Vec::with_capacity(2);
    if !name.is_empty() {
        steps.push(Step::Key(unescape(name)));
    }
    let array = if name.is_empty() {
        before.to_string()
    } else {
        format!("{before}/{name}")
    };
    steps.push(Step::Select {
        key: unescape(key),
        value: unescape(value),
        array,
    });
    Ok(steps)
}

impl Pointer {
    /// Compiles a pointer; the text must be empty or start with `/`. A token may end with a
    /// selection, `name[key=value]`.
    pub fn compile(text: &str) -> Result<Pointer, PointerError> {
        if text.is_empty() {
            return Ok(Pointer::root());
        }
        let Some(rest) = text.strip_prefix('/') else {
            let fixed = format!("/{}", text.replace('.', "/"));
            return Err(PointerError {
                message: format!("`{text}` is not a JSON pointer"),
                hint: format!(
                    "JSON pointers start with `/` and use `/` between names: write `{fixed}`"
                ),
            });
        };
        let mut steps = Vec::new();
        let mut before = String::new();
        for token in rest.split('/') {
            steps.extend(token_steps(token, text, &before)?);
            before.push('/');
            before.push_str(token);
        }
        Ok(Pointer {
            text: text.to_string(),
            steps: steps.into(),
        })
    }

    /// Parses a pointer; `None` when [`Pointer::compile`] refuses it.
    pub fn parse(text: &str) -> Option<Pointer> {
        Self::compile(text).ok()
    }

    /// The empty pointer: the whole document.
    pub fn root() -> Pointer {
        Pointer {
            text: String::new(),
            steps: Box::new([]),
        }
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pointer selects array elements by a key.
    pub fn selects(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Select { .. }))
    }

    fn not_an_array(&self, step: &Step) -> NotAnArray {
        let at = match step {
            Step::Select { array, .. } if !array.is_empty() => array.clone(),
            _ => "the root".into(),
        };
        NotAnArray {
            pointer: self.text.clone(),
            at,
        }
    }

    /// The value the pointer names in `value`, if any; an error when a selection meets a
    /// value that is not an array.
    pub fn lookup<'v>(&self, value: &'v Json) -> Result<Option<&'v Json>, NotAnArray> {
        let mut at = value;
        for step in self.steps.iter() {
            let next = match (step, at) {
                (Step::Key(k), Json::Object(map)) => map.get(k.as_str()),
                (Step::Key(k), Json::Array(items)) => index(k).and_then(|i| items.get(i)),
                (Step::Key(_), _) => None,
                (Step::Select { key, value, .. }, Json::Array(items)) => {
                    items.iter().find(|item| {
                        item.get(key.as_str()).is_some_and(|v| match v {
                            Json::String(s) => s == value,
                            Json::Number(num) => num.to_string() == *value,
                            _ => false,
                        })
                    })
                }
                (Step::Select { .. }, _) => return Err(self.not_an_array(step)),
            };
            match next {
                Some(v) => at = v,
                None => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// The value the pointer names in `value`, if any (a selection that meets no array finds
    /// nothing).
    pub fn get<'v>(&self, value: &'v Json) -> Option<&'v Json> {
        self.lookup(value).ok().flatten()
    }

    /// The value this pointer names in a borrowed document (see [`crate::document`]), found as
    /// [`Pointer::lookup`] finds it in a `serde_json::Value`: where an object repeats a key, the
    /// last one counts, as serde_json keeps the last.
    pub fn lookup_borrowed<'v, 'c>(
        &self,
        value: &'v serde_json_borrow::Value<'c>,
    ) -> Result<Option<&'v serde_json_borrow::Value<'c>>, NotAnArray> {
        use serde_json_borrow::Value as B;
        let last = |map: &'v serde_json_borrow::ObjectAsVec<'c>, k: &str| {
            map.iter().filter(|(key, _)| *key == k).last().map(|e| e.1)
        };
        let mut at = value;
        for step in self.steps.iter() {
            let next = match (step, at) {
                (Step::Key(k), B::Object(map)) => last(map, k),
                (Step::Key(k), B::Array(items)) => index(k).and_then(|i| items.get(i)),
                (Step::Key(_), _) => None,
                (Step::Select { key, value, .. }, B::Array(items)) => items.iter().find(|item| {
                    let B::Object(map) = item else { return false };
                    last(map, key).is_some_and(|v| match v {
                        B::Str(s) => s == value,
                        B::Number(num) => number(num).is_some_and(|num| num.to_string() == *value),
                        _ => false,
                    })
                }),
                (Step::Select { .. }, _) => return Err(self.not_an_array(step)),
            };
            match next {
                Some(v) => at = v,
                None => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// Like [`Pointer::lookup_borrowed`], a selection that meets no array finding nothing.
    pub fn get_borrowed<'v, 'c>(
        &self,
        value: &'v serde_json_borrow::Value<'c>,
    ) -> Option<&'v serde_json_borrow::Value<'c>> {
        self.lookup_borrowed(value).ok().flatten()
    }
}

/// The serde_json number serde_json would have parsed from the same text.
pub(crate) fn number(n: &serde_json_borrow::Number) -> Option<serde_json::Number> {
    if let Some(u) = n.as_u64() {
        Some(u.into())
    } else if let Some(i) = n.as_i64() {
        Some(i.into())
    } else {
        n.as_f64().and_then(serde_json::Number::from_f64)
    }
}

/// An array index as RFC 6901 writes it: digits, no leading zero (except `0` itself).
fn index(token: &str) -> Option<usize> {
    if token.is_empty()
        || (token.len() > 1 && token.starts_with('0'))
        || !token.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests;
