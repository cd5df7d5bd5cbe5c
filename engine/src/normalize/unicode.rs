//! The `nfkc` and `unicode_normalize` steps: bring text into one of the four Unicode normal forms.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// A Unicode normal form.
///
/// The same visible text can be stored with different characters, for example "é" as one
/// character or as "e" plus an accent. Normalizing makes such messages compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnicodeForm {
    /// Canonical composition: accents are joined to their letter where possible ("e" + accent
    /// becomes "é"). Changes nothing that looks different.
    Nfc,
    /// Canonical decomposition: accented letters are split into letter + accent.
    Nfd,
    /// Compatibility composition: like `nfc`, and also folds look-alike variants into their
    /// plain form (full-width "Ａ" → "A", "ﬁ" → "fi", "²" → "2", "①" → "1"). The usual choice
    /// for comparing messages.
    Nfkc,
    /// Compatibility decomposition: like `nfkc` but leaves accents split from their letters.
    Nfkd,
}

/// Normalizes `input` to `form`, borrowing when it already is in that form.
pub(super) fn apply(form: UnicodeForm, input: Cow<'_, str>) -> Cow<'_, str> {
    // Plain ASCII is in every normal form; this is the common case for chat text.
    if input.is_ascii() || quick_check(form, &input) == IsNormalized::Yes {
        return input;
    }
    let normalized = normalize(form, &input);
    // The quick check may answer "maybe"; keep the original when it was normalized after all.
    if normalized == *input {
        input
    } else {
        Cow::Owned(normalized)
    }
}

fn quick_check(form: UnicodeForm, text: &str) -> IsNormalized {
    use unicode_normalization::{is_nfc_quick, is_nfd_quick, is_nfkc_quick, is_nfkd_quick};
    match form {
        UnicodeForm::Nfc => is_nfc_quick(text.chars()),
        UnicodeForm::Nfd => is_nfd_quick(text.chars()),
        UnicodeForm::Nfkc => is_nfkc_quick(text.chars()),
        UnicodeForm::Nfkd => is_nfkd_quick(text.chars()),
    }
}

fn normalize(form: UnicodeForm, text: &str) -> String {
    match form {
        UnicodeForm::Nfc => text.nfc().collect(),
        UnicodeForm::Nfd => text.nfd().collect(),
        UnicodeForm::Nfkc => text.nfkc().collect(),
        UnicodeForm::Nfkd => text.nfkd().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::UnicodeForm::{Nfc, Nfd, Nfkc, Nfkd};
    use super::*;

    const CASES: &[(UnicodeForm, &str, &str)] = &[
        (Nfc, "e\u{301}", "\u{E9}"),
        (Nfc, "\u{E9}", "\u{E9}"),
        (Nfd, "\u{E9}", "e\u{301}"),
        (Nfc, "Ａ", "Ａ"),
        (Nfkc, "ＡＢＣ１２３", "ABC123"),
        (Nfkc, "ｈｅｌｌｏ　ｗｏｒｌｄ", "hello world"),
        (Nfkc, "ﬁne ①²", "fine 12"),
        (Nfkc, "e\u{301}", "\u{E9}"),
        (Nfkd, "ﬁ\u{E9}", "fie\u{301}"),
        // Hangul syllables decompose into jamo and back.
        (Nfd, "한", "\u{1112}\u{1161}\u{11AB}"),
        (Nfc, "\u{1112}\u{1161}\u{11AB}", "한"),
        // Turkish dotted I: NFD splits it, NFC keeps it whole; i + dot has no precomposed form.
        (Nfd, "İ", "I\u{307}"),
        (Nfc, "I\u{307}", "İ"),
        (Nfkc, "i\u{307}", "i\u{307}"),
        // Emoji and their modifiers are untouched by every form.
        (Nfkc, "👍🏽👨‍👩‍👧", "👍🏽👨‍👩‍👧"),
    ];

    #[test]
    fn normalizes_each_form() {
        for &(form, input, expected) in CASES {
            assert_eq!(
                apply(form, Cow::Borrowed(input)),
                expected,
                "{form:?} {input:?}"
            );
        }
    }

    #[test]
    fn text_already_in_form_is_not_copied() {
        for &(form, input, expected) in CASES {
            let output = apply(form, Cow::Borrowed(expected));
            assert!(matches!(output, Cow::Borrowed(_)), "{form:?} {input:?}");
        }
    }

    #[test]
    fn parses_lowercase_names() {
        let form: UnicodeForm = crate::yaml::from_str("nfkd").unwrap();
        assert_eq!(form, Nfkd);
        assert!(crate::yaml::from_str::<UnicodeForm>("NFKC").is_err());
    }
}
