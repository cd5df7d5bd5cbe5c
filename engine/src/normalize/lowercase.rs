//! The `lowercase` step: Unicode-aware lowercasing with an allocation-free path for text that is
//! already lowercase.

use std::borrow::Cow;

/// Lowercases with the full Unicode mapping (`str::to_lowercase`), borrowing when nothing changes.
pub(super) fn apply(input: Cow<'_, str>) -> Cow<'_, str> {
    let has_ascii_upper = has_ascii_uppercase(input.as_bytes());
    if input.is_ascii() {
        return match input {
            _ if !has_ascii_upper => input,
            Cow::Borrowed(text) => Cow::Owned(text.to_ascii_lowercase()),
            Cow::Owned(mut text) => {
                text.make_ascii_lowercase();
                Cow::Owned(text)
            }
        };
    }
    if !has_ascii_upper && non_ascii_chars(&input).all(lowers_to_itself) {
        return input;
    }
    // The whole text is lowered, not just from the first change on, because a final sigma
    // depends on the letters before it.
    Cow::Owned(input.to_lowercase())
}

/// Whether any byte is `A-Z`. No early exit, so it compiles to a vector loop.
fn has_ascii_uppercase(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |found, byte| found | byte.is_ascii_uppercase())
}

/// The non-ASCII characters of `text`, skipping ASCII sixteen bytes at a time.
fn non_ascii_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = first_non_ascii(rest.as_bytes())?;
        let c = rest[start..].chars().next()?;
        rest = &rest[start + c.len_utf8()..];
        Some(c)
    })
}

fn first_non_ascii(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(block) = bytes.get(at..at + 16) {
        if !block.is_ascii() {
            break;
        }
        at += 16;
    }
    bytes[at..]
        .iter()
        .position(|byte| !byte.is_ascii())
        .map(|offset| at + offset)
}

/// Whether lowercasing leaves `c` as it is. Most characters are settled by a cheap property
/// test; only capitals and titlecase letters need the mapping table.
fn lowers_to_itself(c: char) -> bool {
    if !may_lower(c) {
        return true;
    }
    let mut lowered = c.to_lowercase();
    lowered.next() == Some(c) && lowered.next().is_none()
}

/// Uppercase letters and the titlecase digraphs and Greek letters (`ǅ`, `ᾈ`…): every character
/// with a lowercase form is one of these (a test checks all of Unicode).
fn may_lower(c: char) -> bool {
    c.is_uppercase()
        || matches!(
            c,
            '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}' | '\u{1F88}'..='\u{1FFC}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &[(&str, &str)] = &[
        ("", ""),
        ("already lower 123", "already lower 123"),
        ("Hello WORLD", "hello world"),
        // Turkish dotted capital I lowers to i + combining dot above (no locale tailoring).
        ("İstanbul", "i\u{307}stanbul"),
        ("DİYARBAKIR", "di\u{307}yarbakir"),
        // Lowercasing is not case folding: sharp s stays, capital sharp s lowers to it.
        ("Straße", "straße"),
        ("STRAẞE", "straße"),
        ("ΟΔΥΣΣΕΥΣ", "οδυσσευς"),
        ("ＡＢＣ", "ａｂｃ"),
        // Titlecase digraph: not an uppercase letter, yet it has a lowercase form.
        ("ǅ", "ǆ"),
        ("👍🏽 OK", "👍🏽 ok"),
    ];

    #[test]
    fn lowercases_like_std() {
        for &(input, expected) in CASES {
            assert_eq!(
                input.to_lowercase(),
                expected,
                "table row {input:?} disagrees with std"
            );
            assert_eq!(apply(Cow::Borrowed(input)), expected, "borrowed {input:?}");
            assert_eq!(
                apply(Cow::Owned(input.to_owned())),
                expected,
                "owned {input:?}"
            );
        }
    }

    #[test]
    fn every_character_with_a_lowercase_form_is_checked() {
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            let mut lowered = c.to_lowercase();
            let changes = lowered.next() != Some(c) || lowered.next().is_some();
            assert!(
                !changes || may_lower(c),
                "U+{:04X} lowers but is not checked",
                u32::from(c)
            );
            assert_eq!(lowers_to_itself(c), !changes, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn finds_non_ascii_characters_across_blocks() {
        let text = format!(
            "{}é{}ß and Σ{}",
            "a".repeat(15),
            "b".repeat(20),
            "c".repeat(40)
        );
        assert_eq!(non_ascii_chars(&text).collect::<String>(), "éßΣ");
        assert_eq!(non_ascii_chars(&"x".repeat(50)).count(), 0);
    }

    #[test]
    fn unchanged_text_is_not_copied() {
        for text in ["plain ascii", "straße", "οδυσσευς", "👍🏽", "ǆ"] {
            assert!(
                matches!(apply(Cow::Borrowed(text)), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn owned_ascii_is_lowered_in_place() {
        let text = String::from("ABC");
        let pointer = text.as_ptr();
        match apply(Cow::Owned(text)) {
            Cow::Owned(lowered) => {
                assert_eq!(lowered, "abc");
                assert_eq!(lowered.as_ptr(), pointer);
            }
            Cow::Borrowed(_) => panic!("owned input came back borrowed"),
        }
    }
}
