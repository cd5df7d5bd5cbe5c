//! The `collapse_whitespace` step: every run of white space becomes one ASCII space.

use std::borrow::Cow;

/// Replaces each run of Unicode white space with `' '`, borrowing when the text has no run to
/// change (no white space other than lone ASCII spaces).
pub(super) fn apply(input: Cow<'_, str>) -> Cow<'_, str> {
    let bytes = input.as_bytes();
    if !bytes.is_ascii() && has_wide_white_space(bytes) {
        return match collapse(&input) {
            Some(collapsed) => Cow::Owned(collapsed),
            None => input,
        };
    }
    // Only ASCII white space is left, so bytes can be tested one by one: the bytes of other
    // characters' UTF-8 sequences are never ASCII and pass through untouched.
    if !has_runs(bytes) {
        return input;
    }
    Cow::Owned(collapse_ascii_white_space(&input))
}

/// Collapses text whose only white space is ASCII. Eight bytes are tested at a time and the
/// text between changes is copied in one piece, so the cost follows the number of changes
/// rather than the number of bytes (a branch per byte is what makes byte loops slow here).
fn collapse_ascii_white_space(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut copied = 0;
    let mut previous_white = 0;
    for (index, word) in words(bytes).enumerate() {
        let white = white_mask(word);
        let white_before = (white << 8) | (previous_white >> 56);
        let mut changes = break_mask(word) | (white & white_before);
        previous_white = white;
        while changes != 0 {
            let lane = changes.trailing_zeros() / 8;
            let at = index * 8 + lane as usize;
            // Changes sit on ASCII bytes, so these slices start and end on char boundaries.
            out.push_str(&text[copied..at]);
            // A run's first byte becomes the space; the rest of the run is dropped.
            if white_before & (0x80 << (lane * 8)) == 0 {
                out.push(' ');
            }
            copied = at + 1;
            changes &= changes - 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The text as little-endian 64-bit words, the last one padded with zero bytes (not white space).
fn words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let chunks = bytes.chunks_exact(8);
    let mut last = [0; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    let tail = (!chunks.remainder().is_empty()).then(|| u64::from_le_bytes(last));
    chunks
        .map(|chunk| u64::from_le_bytes(chunk.try_into().expect("chunks of eight")))
        .chain(tail)
}

const LOW_BITS: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// High bit set in each byte lane of `word` that is below `limit` (at most 0x80). Exact: no
/// carry crosses lanes because the sum per lane stays below 0x100.
fn lanes_below(word: u64, limit: u8) -> u64 {
    !(((word & LOW_BITS) + ONES * u64::from(0x80 - limit)) | word) & HIGH_BITS
}

/// High bit set in each lane holding a tab, line feed, vertical tab, form feed or carriage return.
fn break_mask(word: u64) -> u64 {
    lanes_below(word, b'\r' + 1) & !lanes_below(word, b'\t')
}

/// High bit set in each lane holding ASCII white space.
fn white_mask(word: u64) -> u64 {
    let spaces = lanes_below(word ^ (ONES * u64::from(b' ')), 1);
    spaces | break_mask(word)
}

/// Whether the bytes hold ASCII white space other than lone spaces: a tab or line break, or
/// white space right after white space. Written without early exits or short-circuits so that
/// it compiles to a vector loop: it runs on every message.
fn has_runs(bytes: &[u8]) -> bool {
    let pairs = bytes.iter().zip(bytes.get(1..).unwrap_or_default());
    let found = pairs.fold(false, |found, (&byte, &next)| {
        found | is_ascii_break(byte) | (is_ascii_white_space(byte) & is_ascii_white_space(next))
    });
    found | bytes.last().is_some_and(|&last| is_ascii_break(last))
}

/// Whether UTF-8 `bytes` contain white space beyond ASCII (no-break, em, ideographic spaces,
/// line separators…). Branch-free like [`has_runs`]; only such text needs decoding.
fn has_wide_white_space(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n < 2 {
        return false;
    }
    // Equal-length slices let the compiler drop bounds checks and vectorize.
    let len = n.saturating_sub(2);
    let (first, second, third) = (&bytes[..len], &bytes[1..len + 1], &bytes[2..]);
    let triples = first.iter().zip(second).zip(third);
    let found = triples.fold(false, |found, ((&a, &b), &c)| {
        found | is_wide_white_space(a, b, c)
    });
    // A two-byte space can end the text, with no third byte after it.
    found | is_wide_white_space(bytes[n - 2], bytes[n - 1], 0)
}

/// Whether a UTF-8 sequence starting with these bytes encodes non-ASCII White_Space:
/// U+0085, U+00A0, U+1680, U+2000..=U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
fn is_wide_white_space(a: u8, b: u8, c: u8) -> bool {
    let latin1 = (a == 0xC2) & ((b == 0x85) | (b == 0xA0));
    let ogham = (a == 0xE1) & (b == 0x9A) & (c == 0x80);
    let spaces =
        (b == 0x80) & ((c.wrapping_sub(0x80) <= 0x0A) | (c == 0xA8) | (c == 0xA9) | (c == 0xAF));
    let punctuation = (a == 0xE2) & (spaces | ((b == 0x81) & (c == 0x9F)));
    let ideographic = (a == 0xE3) & (b == 0x80) & (c == 0x80);
    latin1 | ogham | punctuation | ideographic
}

/// The collapsed text, or `None` when it would equal `text`.
fn collapse(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut from = 0;
    while let Some((start, end)) = next_run(text, from) {
        if &text[start..end] != " " {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..start]);
            out.push(' ');
            copied = end;
        }
        from = end;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// The byte range of the first white-space run at or after `from`.
fn next_run(text: &str, from: usize) -> Option<(usize, usize)> {
    let start = from + scan(&text[from..], true)?;
    let end = scan(&text[start..], false).map_or(text.len(), |len| start + len);
    Some((start, end))
}

/// Byte offset of the first char whose white-space-ness equals `want`.
fn scan(text: &str, want: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte.is_ascii() {
            if is_ascii_white_space(byte) == want {
                return Some(at);
            }
            at += 1;
        } else {
            let c = text[at..].chars().next()?;
            if c.is_whitespace() == want {
                return Some(at);
            }
            at += c.len_utf8();
        }
    }
    None
}

/// ASCII part of Unicode White_Space; unlike `u8::is_ascii_whitespace` it includes vertical tab.
pub(super) fn is_ascii_white_space(byte: u8) -> bool {
    (byte == b' ') | is_ascii_break(byte)
}

/// Tab, line feed, vertical tab, form feed or carriage return: white space that is never kept.
fn is_ascii_break(byte: u8) -> bool {
    byte.wrapping_sub(b'\t') < 5
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const CASES: &[(&str, &str)] = &[
        ("", ""),
        ("a b c", "a b c"),
        ("  Hello   World \n", " Hello World "),
        ("a\tb", "a b"),
        ("a\r\n\r\nb", "a b"),
        ("a\u{0B}\u{0C}b", "a b"),
        ("a\u{A0}b", "a b"),
        ("日本\u{3000}\u{3000}語", "日本 語"),
        ("x\u{2028}\u{2029}\u{85}y", "x y"),
        ("tail  ", "tail "),
        // Zero-width space and BOM are format characters, not white space.
        ("a\u{200B}b\u{FEFF}c", "a\u{200B}b\u{FEFF}c"),
        ("é  é", "é é"),
    ];

    #[test]
    fn collapses_every_run() {
        for &(input, expected) in CASES {
            assert_eq!(apply(Cow::Borrowed(input)), expected, "{input:?}");
        }
    }

    #[test]
    fn agrees_with_a_split_based_reference() {
        for &(input, _) in CASES {
            assert_eq!(apply(Cow::Borrowed(input)), reference(input), "{input:?}");
        }
    }

    #[test]
    fn byte_path_agrees_with_the_char_path() {
        let long = format!("{}  {}\n{}", "x".repeat(31), "é".repeat(20), " ".repeat(40));
        let inputs = [
            "",
            " ",
            "  ",
            "a",
            "a ",
            "a  b",
            "\t",
            "a\r\nb",
            "x \u{0B}y\u{0C}",
            "é  ü\n",
            &long,
        ];
        for input in inputs {
            let by_chars = collapse(input).unwrap_or_else(|| input.to_owned());
            assert_eq!(has_runs(input.as_bytes()), by_chars != input, "{input:?}");
            assert_eq!(collapse_ascii_white_space(input), by_chars, "{input:?}");
        }
    }

    #[test]
    fn finds_exactly_the_wide_white_space_characters() {
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let wide = c.is_whitespace() && !c.is_ascii();
            assert_eq!(has_wide_white_space(bytes), wide, "U+{:04X}", u32::from(c));
            let framed = format!("a{c}b");
            assert_eq!(
                has_wide_white_space(framed.as_bytes()),
                wide,
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn unchanged_text_is_not_copied() {
        for text in ["", "one two three", " lead and trail ", "ünïcödé wörds"] {
            assert!(
                matches!(apply(Cow::Borrowed(text)), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
    }

    /// A slow but obviously right version for comparison.
    pub(in crate::normalize) fn reference(text: &str) -> String {
        let mut out = String::new();
        let mut in_run = false;
        for c in text.chars() {
            if c.is_whitespace() {
                if !in_run {
                    out.push(' ');
                }
                in_run = true;
            } else {
                out.push(c);
                in_run = false;
            }
        }
        out
    }
}
