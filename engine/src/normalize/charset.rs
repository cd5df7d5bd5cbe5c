//! The character classes `strip` deletes, and fast membership tests for them.
//!
//! The classes are defined by the regex crate's Unicode tables, but asking a regex about each
//! match costs far more than the text is long. So each class is turned once per process into
//! a bit table covering the Basic and Supplementary Multilingual Planes (every script in
//! common use and all emoji); only characters beyond it ask the regex.

use std::sync::{Arc, OnceLock};

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A class of characters that `strip` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CharClass {
    /// Punctuation in every script: `. , ! ? ' " - ( ) [ ] @ # % & * / :` and also `¿ « » „ 。 、`.
    Punctuation,
    /// Invisible characters: control codes and formatting marks such as zero-width spaces,
    /// soft hyphens, byte-order marks and left-to-right / right-to-left marks. Tabs and line
    /// breaks are white space, not control: list `whitespace` to delete them too.
    Control,
    /// Emoji, including skin-tone modifiers, flags, keycaps and the invisible joiners and
    /// variation selectors inside emoji sequences, so that nothing is left behind.
    Emoji,
    /// Symbols: currency (`$ € £`), maths (`+ = < > ~`), and other signs such as `^ | © ™ °`.
    Symbols,
    /// Decimal digits in every script: `0-9`, and also e.g. Arabic-Indic `٠-٩`.
    Digits,
    /// White space of every kind, including tabs, line breaks and no-break spaces. This
    /// deletes it, joining the words around it; to keep words apart use `collapse_whitespace`.
    Whitespace,
}

impl CharClass {
    /// Every class, in declaration order (`class as usize` indexes it).
    pub(super) const ALL: [Self; 6] = [
        Self::Punctuation,
        Self::Control,
        Self::Emoji,
        Self::Symbols,
        Self::Digits,
        Self::Whitespace,
    ];

    /// The members as the inside of a regex bracket class.
    pub(super) fn regex_items(self) -> &'static str {
        match self {
            Self::Punctuation => r"\p{P}",
            // White space is left to its own class, so `strip: [control]` keeps lines apart.
            Self::Control => r"[[\p{Cc}\p{Cf}]--\s]",
            // Joiner, keycap, variation selectors and tags glue emoji sequences together.
            Self::Emoji => {
                r"\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\x{200D}\x{20E3}\x{FE0E}\x{FE0F}\x{E0020}-\x{E007F}"
            }
            Self::Symbols => r"\p{S}",
            Self::Digits => r"\p{Nd}",
            Self::Whitespace => r"\s",
        }
    }
}

/// Code points below this are answered by the bit table.
const TABLE_END: u32 = 0x2_0000;
const WORDS: usize = (TABLE_END / 64) as usize;

/// The union of some character classes.
#[derive(Debug, Clone)]
pub(super) struct CharSet {
    ascii: [bool; 128],
    table: Arc<[u64]>,
    /// Answers for code points from `TABLE_END` up.
    beyond: Regex,
}

impl CharSet {
    /// The union of `classes`; `None` if their regex does not compile, which would be a bug.
    pub(super) fn new(classes: &[CharClass]) -> Option<Self> {
        let items: String = classes.iter().map(|class| class.regex_items()).collect();
        let beyond = Regex::new(&format!("[{items}]")).ok()?;
        let mut table = vec![0u64; WORDS];
        for &class in classes {
            for (word, class_word) in table.iter_mut().zip(class_table(class).iter()) {
                *word |= class_word;
            }
        }
        let ascii = std::array::from_fn(|code| table[code / 64] >> (code % 64) & 1 == 1);
        Some(Self {
            ascii,
            table: table.into(),
            beyond,
        })
    }

    /// Whether the ASCII byte `byte` (below 0x80) is in the set.
    #[inline]
    pub(super) fn contains_ascii(&self, byte: u8) -> bool {
        self.ascii[usize::from(byte & 0x7F)]
    }

    /// Whether `c` is in the set.
    #[inline]
    pub(super) fn contains(&self, c: char) -> bool {
        let code = u32::from(c) as usize;
        match self.table.get(code / 64) {
            Some(word) => word >> (code % 64) & 1 == 1,
            None => self.beyond.is_match(c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// The bit table of one class, built on first use.
fn class_table(class: CharClass) -> Arc<[u64]> {
    static TABLES: [OnceLock<Arc<[u64]>>; CharClass::ALL.len()] =
        [const { OnceLock::new() }; CharClass::ALL.len()];
    TABLES[class as usize]
        .get_or_init(|| build_table(class))
        .clone()
}

/// Runs the class's regex once over every code point of the table's range and marks the
/// matches: one scan instead of a question per code point.
fn build_table(class: CharClass) -> Arc<[u64]> {
    let pattern = format!("[{}]+", class.regex_items());
    let regex = Regex::new(&pattern).expect("built-in class patterns compile (tested)");
    let every_char: String = (0..TABLE_END).filter_map(char::from_u32).collect();
    let mut table = vec![0u64; WORDS];
    for found in regex.find_iter(&every_char) {
        for c in found.as_str().chars() {
            let code = u32::from(c) as usize;
            table[code / 64] |= 1 << (code % 64);
        }
    }
    table.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code point of the table's start, then a spread sample up to the end of Unicode.
    fn sample() -> impl Iterator<Item = char> {
        let dense = 0..0x3100;
        let spread = (0x3100..=u32::from(char::MAX)).step_by(61);
        let edges = [
            0xFE0F, 0x1F3FB, 0x1F1E6, 0x1F9D1, 0x1FFFF, 0x20000, 0xE0020, 0xE007F,
        ];
        dense.chain(spread).chain(edges).filter_map(char::from_u32)
    }

    #[test]
    fn agrees_with_the_regex_for_each_class() {
        for class in CharClass::ALL {
            let set = CharSet::new(&[class]).unwrap();
            let regex = Regex::new(&format!("^[{}]$", class.regex_items())).unwrap();
            for c in sample() {
                let expected = regex.is_match(c.encode_utf8(&mut [0; 4]));
                assert_eq!(
                    set.contains(c),
                    expected,
                    "{class:?} U+{:04X}",
                    u32::from(c)
                );
            }
            for byte in 0..0x80u8 {
                assert_eq!(set.contains_ascii(byte), set.contains(char::from(byte)));
            }
        }
    }

    #[test]
    fn classes_index_their_tables_in_order() {
        for (index, class) in CharClass::ALL.into_iter().enumerate() {
            assert_eq!(class as usize, index, "{class:?}");
        }
    }

    #[test]
    fn union_holds_each_member() {
        let set = CharSet::new(&[CharClass::Digits, CharClass::Emoji]).unwrap();
        for c in ['7', '٣', '👍', '\u{1F3FD}', '\u{E0067}'] {
            assert!(set.contains(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', '!', ' ', '€'] {
            assert!(!set.contains(c), "U+{:04X}", u32::from(c));
        }
    }
}
