//! The `strip` step: delete every character of the chosen classes.

use std::borrow::Cow;

use super::charset::{CharClass, CharSet};
use super::Invalid;

/// A `strip` step ready to run.
#[derive(Debug, Clone)]
pub(super) struct Strip {
    chars: CharSet,
}

impl Strip {
    /// Builds the set of characters to delete.
    pub(super) fn compile(classes: &[CharClass]) -> Result<Self, Invalid> {
        if classes.is_empty() {
            return Err(Invalid::new(
                "strip needs at least one character class",
                "list one or more of: punctuation, control, emoji, symbols, digits, whitespace \
                 (e.g. strip: [punctuation, emoji]), or remove the step",
            ));
        }
        let chars = CharSet::new(classes).ok_or_else(|| {
            Invalid::new(
                format!("strip classes {classes:?} could not be compiled"),
                "report this as a bug in cxrules, listing the classes of this step",
            )
        })?;
        Ok(Self { chars })
    }

    /// Deletes the listed characters, borrowing when there are none.
    pub(super) fn apply<'a>(&self, input: Cow<'a, str>) -> Cow<'a, str> {
        let stripped = if input.is_ascii() {
            self.strip_ascii(&input)
        } else {
            self.strip_chars(&input)
        };
        match stripped {
            Some(stripped) => Cow::Owned(stripped),
            None => input,
        }
    }

    /// ASCII text without the listed characters, or `None` when it has none.
    fn strip_ascii(&self, text: &str) -> Option<String> {
        // No early exit: a branch per byte costs more than reading the rest of the text.
        let found = text
            .bytes()
            .fold(false, |found, byte| found | self.chars.contains_ascii(byte));
        if !found {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (at, byte) in text.bytes().enumerate() {
            if self.chars.contains_ascii(byte) {
                out.push_str(&text[copied..at]);
                copied = at + 1;
            }
        }
        out.push_str(&text[copied..]);
        Some(out)
    }

    /// Any text without the listed characters, or `None` when it has none. ASCII bytes are
    /// looked up directly; only other characters are decoded.
    fn strip_chars(&self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut at = 0;
        while let Some(&byte) = bytes.get(at) {
            let (found, width) = if byte.is_ascii() {
                (self.chars.contains_ascii(byte), 1)
            } else {
                let c = text[at..].chars().next().unwrap_or_default();
                (self.chars.contains(c), c.len_utf8())
            };
            if found {
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..at]);
                copied = at + width;
            }
            at += width;
        }
        let mut out = out?;
        out.push_str(&text[copied..]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::CharClass::*;
    use super::*;

    fn strip(classes: &[CharClass], input: &str) -> String {
        Strip::compile(classes)
            .unwrap()
            .apply(Cow::Borrowed(input))
            .into_owned()
    }

    #[test]
    fn strips_each_class() {
        let cases: &[(&[CharClass], &str, &str)] = &[
            (
                &[Punctuation],
                "Hi, there! (ok?) ¿qué? «oui» 「はい」。",
                "Hi there ok qué oui はい",
            ),
            (&[Punctuation], "$5 + 3 = 8", "$5 + 3 = 8"),
            (&[Symbols], "$5 + 3 = 8 € © ™ ^", "5  3  8    "),
            (&[Digits], "room 101, ٣ apples", "room ,  apples"),
            (&[Whitespace], "a b\tc\nd\u{A0}e\u{3000}f", "abcdef"),
            // Zero-width space, RTL and LTR marks, soft hyphen, byte-order mark and bell.
            (
                &[Control],
                "a\u{200B}b\u{200F}c\u{200E}d\u{AD}e\u{FEFF}f\u{7}g",
                "abcdefg",
            ),
            (
                &[Control],
                "line one\nline\ttwo\r\n",
                "line one\nline\ttwo\r\n",
            ),
            (&[Emoji], "ok 👍🏽 fine", "ok  fine"),
            (&[Emoji], "family 👨‍👩‍👧‍👦!", "family !"),
            (
                &[Emoji],
                "heart ❤️ flag 🇫🇷 keycap #️⃣",
                "heart  flag  keycap #",
            ),
            (&[Emoji], "scotland 🏴󠁧󠁢󠁳󠁣󠁴󠁿.", "scotland ."),
            (&[Emoji], "plain 123 #*", "plain 123 #*"),
            (
                &[Punctuation, Emoji, Whitespace],
                "Great!! 👍🏽 Thanks.",
                "GreatThanks",
            ),
        ];
        for &(classes, input, expected) in cases {
            assert_eq!(strip(classes, input), expected, "{classes:?} on {input:?}");
        }
    }

    #[test]
    fn ascii_and_unicode_paths_agree() {
        let ascii: String = (0u8..128).map(char::from).collect();
        let mixed = format!("{ascii}é");
        for class in CharClass::ALL {
            let step = Strip::compile(&[class]).unwrap();
            let by_bytes = step.apply(Cow::Borrowed(&ascii)).into_owned();
            let by_chars = step.apply(Cow::Borrowed(&mixed)).into_owned();
            assert_eq!(format!("{by_bytes}é"), by_chars, "{class:?}");
        }
    }

    #[test]
    fn every_combination_strips_its_members_together() {
        let text = "Ab1 ٣, «x» $€ \t\u{200B}\u{200F} 👨‍👩‍👧 🇫🇷 ＡＢ！ 한글 \u{E0067}.";
        let all = CharClass::ALL;
        for mask in 1u32..(1 << all.len()) {
            let classes: Vec<_> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect();
            let one_by_one = classes
                .iter()
                .fold(text.to_owned(), |text, class| strip(&[*class], &text));
            assert_eq!(strip(&classes, text), one_by_one, "{classes:?}");
        }
    }

    #[test]
    fn nothing_to_strip_borrows() {
        let step = Strip::compile(&[Punctuation, Emoji]).unwrap();
        for text in ["plain words", "ünïcödé wörds"] {
            assert!(
                matches!(step.apply(Cow::Borrowed(text)), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn empty_list_is_rejected() {
        let error = Strip::compile(&[]).unwrap_err();
        assert!(error.message.contains("at least one"), "{}", error.message);
        assert!(error.hint.contains("punctuation"), "{}", error.hint);
    }
}
