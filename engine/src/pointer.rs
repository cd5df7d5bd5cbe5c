//! JSON pointers (RFC 6901) parsed once at compile time, so reading a field allocates nothing.

use serde_json::Value as Json;

/// A parsed JSON pointer such as `/data/message/content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    tokens: Box<[String]>,
}

impl Pointer {
    /// Parses a pointer; the text must be empty or start with `/`.
    pub fn parse(text: &str) -> Option<Pointer> {
        if text.is_empty() {
            return Some(Pointer::root());
        }
        let rest = text.strip_prefix('/')?;
        let tokens = rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Some(Pointer {
            text: text.to_string(),
            tokens,
        })
    }

    /// The empty pointer: the whole document.
    pub fn root() -> Pointer {
        Pointer {
            text: String::new(),
            tokens: Box::new([]),
        }
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value the pointer names in `value`, if any.
    pub fn get<'v>(&self, value: &'v Json) -> Option<&'v Json> {
        let mut at = value;
        for token in self.tokens.iter() {
            at = match at {
                Json::Object(map) => map.get(token.as_str())?,
                Json::Array(items) => items.get(index(token)?)?,
                _ => return None,
            };
        }
        Some(at)
    }

    /// The value this pointer names in a borrowed document (see [`crate::document`]), found as
    /// [`Pointer::get`] finds it in a `serde_json::Value`: where an object repeats a key, the
    /// last one counts, as serde_json keeps the last.
    pub fn get_borrowed<'v, 'c>(
        &self,
        value: &'v serde_json_borrow::Value<'c>,
    ) -> Option<&'v serde_json_borrow::Value<'c>> {
        use serde_json_borrow::Value as B;
        let mut at = value;
        for token in self.tokens.iter() {
            at = match at {
                B::Object(map) => map.iter().filter(|(k, _)| *k == token).last()?.1,
                B::Array(items) => items.get(index(token)?)?,
                _ => return None,
            };
        }
        Some(at)
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_serde_json() {
        let doc = json!({"a": {"b/c": [10, {"d~e": "x"}], "": 1}, "0": "zero"});
        for p in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/1/d~0e",
            "/a/b~1c/0",
            "/a/b~1c/01",
            "/a/b~1c/9",
            "/a/",
            "/0",
            "/missing/x",
        ] {
            assert_eq!(Pointer::parse(p).unwrap().get(&doc), doc.pointer(p), "{p}");
        }
        assert!(Pointer::parse("a/b").is_none());
    }
}
