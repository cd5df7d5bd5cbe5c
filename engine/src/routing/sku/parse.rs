//! The SKU template parser: template text → parts, with errors located by column.

use super::{Filter, Part, Placeholder, TemplateError};
use crate::hint::did_you_mean;

const FILTER_NAMES: [&str; 5] = ["upper", "lower", "trim", "first", "last"];
const FILTER_LIST: &str = "upper, lower, trim, first:N, last:N";
const POINTER_EXAMPLE: &str = "{/data/interactionId}";

/// Parses `src`. Columns are 1-based and count characters.
pub(super) fn parse(src: &str, known: &[&str]) -> Result<Vec<Part>, TemplateError> {
    let chars: Vec<char> = src.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('{', Some('{')) | ('}', Some('}')) => {
                literal.push(chars[i]);
                i += 2;
            }
            ('{', _) => {
                let close = closing_brace(&chars, i)?;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(slot(&chars[i + 1..close], i + 2, known)?);
                i = close + 1;
            }
            ('}', _) => {
                return Err(error(
                    i + 1,
                    "unmatched `}`",
                    "write `}}` for a literal `}`",
                ));
            }
            (c, _) => {
                literal.push(c);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    if parts.is_empty() {
        let hint = "write a template such as `SKU-{interaction_id|last:6}`";
        return Err(error(1, "the sku template is empty", hint));
    }
    Ok(parts)
}

/// Index of the `}` closing the placeholder opened at `open`.
fn closing_brace(chars: &[char], open: usize) -> Result<usize, TemplateError> {
    for (at, c) in chars.iter().enumerate().skip(open + 1) {
        match c {
            '}' => return Ok(at),
            '{' => {
                let hint = format!(
                    "close the placeholder opened at column {} first; write `{{{{` for a literal `{{`",
                    open + 1
                );
                return Err(error(at + 1, "`{` inside a placeholder", hint));
            }
            _ => {}
        }
    }
    let hint = "close the placeholder with `}`, or write `{{` for a literal `{`";
    Err(error(open + 1, "unclosed `{`", hint))
}

/// One placeholder's inside (`name|filter|filter`), starting at `column`.
fn slot(content: &[char], column: usize, known: &[&str]) -> Result<Part, TemplateError> {
    let mut segments = segments(content, column).into_iter();
    let (name_column, name) = segments.next().unwrap_or((column, String::new()));
    let placeholder = placeholder(&name, name_column, known)?;
    let filters = segments
        .map(|(at, text)| filter(&text, at))
        .collect::<Result<_, _>>()?;
    Ok(Part::Slot {
        placeholder,
        filters,
    })
}

/// Splits on `|`; each piece is trimmed and paired with the column of its first character.
fn segments(content: &[char], column: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in (0..=content.len()).filter(|&at| at == content.len() || content[at] == '|') {
        let piece = &content[start..end];
        let leading = piece.iter().take_while(|c| c.is_whitespace()).count();
        let text: String = piece.iter().collect();
        out.push((column + start + leading, text.trim().to_owned()));
        start = end + 1;
    }
    out
}

fn placeholder(name: &str, column: usize, known: &[&str]) -> Result<Placeholder, TemplateError> {
    if name.is_empty() {
        let hint = "put a field name or a JSON pointer between the braces, e.g. \
                    `{interaction_id}`; write `{{` and `}}` for literal braces";
        return Err(error(column, "empty placeholder", hint));
    }
    if name.starts_with('/') {
        check_pointer(name, column)?;
        return Ok(Placeholder::Pointer(name.to_owned()));
    }
    if known.contains(&name) {
        return Ok(Placeholder::Field(name.to_owned()));
    }
    Err(error(
        column,
        format!("unknown field `{name}`"),
        unknown_field_hint(name, known),
    ))
}

fn unknown_field_hint(name: &str, known: &[&str]) -> String {
    if let Some(close) = did_you_mean(name, known.iter().copied()) {
        return format!("did you mean `{close}`?");
    }
    if name.contains('/') {
        return format!("a JSON pointer starts with `/`: did you mean `/{name}`?");
    }
    if known.is_empty() {
        return format!("use a JSON pointer into the event, e.g. `{POINTER_EXAMPLE}`");
    }
    let listed: Vec<String> = known.iter().map(|field| format!("`{field}`")).collect();
    format!(
        "known fields are {}; or use a JSON pointer into the event, e.g. `{POINTER_EXAMPLE}`",
        listed.join(", ")
    )
}

/// RFC 6901: `~` may only start the escapes `~0` (for `~`) and `~1` (for `/`).
fn check_pointer(pointer: &str, column: usize) -> Result<(), TemplateError> {
    let chars: Vec<char> = pointer.chars().collect();
    for (at, pair) in chars
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[0] == '~')
    {
        if !matches!(pair[1], '0' | '1') {
            return Err(bad_escape(pointer, column + at));
        }
    }
    if chars.last() == Some(&'~') {
        return Err(bad_escape(pointer, column + chars.len() - 1));
    }
    Ok(())
}

fn bad_escape(pointer: &str, column: usize) -> TemplateError {
    let hint = "inside a JSON pointer write `~0` for `~` and `~1` for `/`";
    error(
        column,
        format!("bad `~` escape in JSON pointer `{pointer}`"),
        hint,
    )
}

fn filter(text: &str, column: usize) -> Result<Filter, TemplateError> {
    let (name, arg) = match text.split_once(':') {
        Some((name, arg)) => (name.trim(), Some(arg.trim())),
        None => (text, None),
    };
    match (name, arg) {
        ("upper", None) => Ok(Filter::Upper),
        ("lower", None) => Ok(Filter::Lower),
        ("trim", None) => Ok(Filter::Trim),
        ("upper" | "lower" | "trim", Some(_)) => Err(error(
            column,
            format!("filter `{name}` takes no argument"),
            format!("write `{name}` alone"),
        )),
        ("first", arg) => count(name, arg, column).map(Filter::First),
        ("last", arg) => count(name, arg, column).map(Filter::Last),
        ("", _) => Err(error(
            column,
            "empty filter",
            format!("remove the extra `|` or name a filter: {FILTER_LIST}"),
        )),
        _ => Err(error(
            column,
            format!("unknown filter `{name}`"),
            unknown_filter_hint(name),
        )),
    }
}

fn unknown_filter_hint(name: &str) -> String {
    match did_you_mean(name, FILTER_NAMES) {
        Some(close) => format!("did you mean `{close}`? filters are {FILTER_LIST}"),
        None => format!("filters are {FILTER_LIST}"),
    }
}

/// The character count of `first:N` / `last:N`: digits only, at least 1.
fn count(name: &str, arg: Option<&str>, column: usize) -> Result<usize, TemplateError> {
    let hint = format!("write e.g. `{name}:6` (a count of characters, from 1 up)");
    let Some(arg) = arg else {
        return Err(error(
            column,
            format!("filter `{name}` needs a character count"),
            hint,
        ));
    };
    match arg.parse::<usize>() {
        Ok(n) if n >= 1 && arg.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(error(
            column,
            format!("filter `{name}` needs a character count from 1 up, not `{arg}`"),
            hint,
        )),
    }
}

fn error(column: usize, message: impl Into<String>, hint: impl Into<String>) -> TemplateError {
    TemplateError {
        column,
        message: message.into(),
        hint: Some(hint.into()),
    }
}
