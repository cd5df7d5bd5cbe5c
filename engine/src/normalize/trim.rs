//! The `trim` step: drop white space at both ends of the text.

use std::borrow::Cow;

/// Removes leading and trailing Unicode white space, in place when the text is already owned.
pub(super) fn apply(input: Cow<'_, str>) -> Cow<'_, str> {
    match input {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(mut text) => {
            let end = text.trim_end().len();
            text.truncate(end);
            let start = end - text.trim_start().len();
            text.drain(..start);
            Cow::Owned(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &[(&str, &str)] = &[
        ("", ""),
        ("hello", "hello"),
        ("  Hello   World \n", "Hello   World"),
        ("\t\r\n\u{0B}\u{0C}x\u{0B}", "x"),
        // No-break, ideographic and em spaces are white space too.
        ("\u{A0}\u{3000}\u{2003}mid\u{85}", "mid"),
        // Zero-width space is a format character, not white space: `strip: [control]` removes it.
        ("\u{200B}x\u{200B}", "\u{200B}x\u{200B}"),
        ("   ", ""),
    ];

    #[test]
    fn trims_borrowed_and_owned_alike() {
        for &(input, expected) in CASES {
            assert_eq!(apply(Cow::Borrowed(input)), expected, "borrowed {input:?}");
            assert_eq!(
                apply(Cow::Owned(input.to_owned())),
                expected,
                "owned {input:?}"
            );
        }
    }

    #[test]
    fn borrowed_input_stays_borrowed() {
        assert!(matches!(apply(Cow::Borrowed("  a  ")), Cow::Borrowed("a")));
    }
}
