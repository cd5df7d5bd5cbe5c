//! SKU templates: how a SKU is built from an event, e.g. `SKU-{media_type|upper}-{interaction_id|last:6}`.
//!
//! A template is literal text with placeholders in braces. A placeholder names a known
//! event field (`{interaction_id}`) or a JSON pointer into the event (`{/data/product/sku}`),
//! optionally followed by filters applied left to right: `upper`, `lower`, `trim`,
//! `first:N`, `last:N` (N counts characters, not bytes). `{{` and `}}` are literal braces.
//! Pointer keys containing `|`, `{` or `}` cannot be written in a template.
//!
//! Compiling checks everything (fields, filters, pointers) so rendering can only fail for
//! a value the event does not have.

use std::fmt;

pub use crate::segment::{encode_path_segment, safe_path_segment};

mod parse;
#[cfg(test)]
mod tests;

/// What a placeholder refers to; the caller supplies its value when rendering.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// A named event field from the caller's list of known fields, e.g. `interaction_id`.
    Field(String),
    /// An RFC 6901 JSON pointer into the event, e.g. `/data/product/sku`.
    Pointer(String),
}

impl Placeholder {
    /// The field name or the pointer, as written.
    pub fn name(&self) -> &str {
        match self {
            Self::Field(name) | Self::Pointer(name) => name,
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// A located problem in a SKU template.
///
/// `Display` gives the column and message; print `hint` on its own line after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based column (in characters) of the offending text in the template.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// Rendering needed a value the event does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sku template needs {placeholder} but the event has no value for it")]
pub struct MissingField {
    /// The placeholder without a value.
    pub placeholder: Placeholder,
}

/// A compiled SKU template.
///
/// ```
/// use cxrules_engine::routing::sku::{Placeholder, SkuTemplate};
///
/// let template = SkuTemplate::compile(
///     "SKU-{media_type|upper}-{interaction_id|last:6}",
///     &["interaction_id", "media_type"],
/// )?;
/// let sku = template.render(|placeholder| match placeholder {
///     Placeholder::Field(name) if name == "media_type" => Some("chat"),
///     Placeholder::Field(name) if name == "interaction_id" => {
///         Some("a1b2c3d4-e5f6-7890-abcd-ef1234567890")
///     }
///     _ => None,
/// })?;
/// assert_eq!(sku, "SKU-CHAT-567890");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Slot {
        placeholder: Placeholder,
        filters: Vec<Filter>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Upper,
    Lower,
    Trim,
    First(usize),
    Last(usize),
}

impl SkuTemplate {
    /// Compiles `src`; placeholders that are not JSON pointers must name one of
    /// `known_fields`. Stops at the first problem.
    pub fn compile(src: &str, known_fields: &[&str]) -> Result<Self, TemplateError> {
        let parts = parse::parse(src, known_fields)?;
        Ok(Self {
            source: src.to_owned(),
            parts,
        })
    }

    /// Builds the SKU, asking `lookup` for each placeholder's value.
    pub fn render<V: AsRef<str>>(
        &self,
        mut lookup: impl FnMut(&Placeholder) -> Option<V>,
    ) -> Result<String, MissingField> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Slot {
                    placeholder,
                    filters,
                } => {
                    let value = lookup(placeholder).ok_or_else(|| MissingField {
                        placeholder: placeholder.clone(),
                    })?;
                    out.push_str(&apply(value.as_ref(), filters));
                }
            }
        }
        Ok(out)
    }

    /// Every placeholder, in template order (repeats included).
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.parts.iter().filter_map(|part| match part {
            Part::Slot { placeholder, .. } => Some(placeholder),
            Part::Literal(_) => None,
        })
    }

    /// The named fields the template reads, each once, in order of first use.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        for placeholder in self.placeholders() {
            if let Placeholder::Field(name) = placeholder {
                if !fields.contains(&name.as_str()) {
                    fields.push(name);
                }
            }
        }
        fields
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for SkuTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn apply(value: &str, filters: &[Filter]) -> String {
    let mut value = value.to_owned();
    for filter in filters {
        value = match *filter {
            Filter::Upper => value.to_uppercase(),
            Filter::Lower => value.to_lowercase(),
            Filter::Trim => value.trim().to_owned(),
            Filter::First(n) => value[..char_boundary_from_start(&value, n)].to_owned(),
            Filter::Last(n) => value[char_boundary_from_end(&value, n)..].to_owned(),
        };
    }
    value
}

/// Byte offset just after the first `n` chars (the whole string when shorter).
fn char_boundary_from_start(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(at, _)| at)
}

/// Byte offset where the last `n` chars start (0 when the string is shorter).
fn char_boundary_from_end(s: &str, n: usize) -> usize {
    match n.checked_sub(1) {
        None => s.len(),
        Some(skip) => s.char_indices().rev().nth(skip).map_or(0, |(at, _)| at),
    }
}
