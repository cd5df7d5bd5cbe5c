//! One pass for pipelines made only of `trim`, `lowercase` and `collapse_whitespace`, on ASCII
//! text: the fingerprint path of the default rules.
//!
//! On ASCII text the three steps commute: lowercasing neither makes nor removes white space, and
//! trimming before or after collapsing leaves the same text. So which of them a pipeline holds
//! decides the result, not their order or repetition, and all three can run together, eight
//! bytes at a time, writing into a buffer the caller provides.

use super::whitespace::is_ascii_white_space;
use super::Step;

/// Which of the three steps a pipeline holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AsciiPlan {
    trim: bool,
    lowercase: bool,
    collapse: bool,
}

impl AsciiPlan {
    /// The plan for `steps`, or `None` when a step other than the three is present.
    pub(super) fn of(steps: &[Step]) -> Option<Self> {
        let mut plan = Self {
            trim: false,
            lowercase: false,
            collapse: false,
        };
        for step in steps {
            match step {
                Step::Trim => plan.trim = true,
                Step::Lowercase => plan.lowercase = true,
                Step::CollapseWhitespace => plan.collapse = true,
                _ => return None,
            }
        }
        Some(plan)
    }

    /// Writes the normalized form of ASCII `text` to the start of `out` and returns its length,
    /// which is at most `text.len()`.
    ///
    /// # Panics
    ///
    /// When `out` is shorter than `text`, or (in debug builds) when `text` is not ASCII.
    pub(super) fn run(self, text: &[u8], out: &mut [u8]) -> usize {
        debug_assert!(text.is_ascii());
        let text = if self.trim { trim(text) } else { text };
        let out = &mut out[..text.len()];
        let chunks = text.chunks_exact(8);
        let tail = chunks.remainder();
        let mut written = 0;
        let mut previous_white = 0;
        for chunk in chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
            let (word, dropped) = self.word(word, &mut previous_white);
            if dropped == 0 {
                out[written..written + 8].copy_from_slice(&word.to_le_bytes());
                written += 8;
            } else {
                written = compact(word, dropped, 8, out, written);
            }
        }
        if !tail.is_empty() {
            // Zero bytes pad the last word: not white space, and never written out.
            let mut last = [0; 8];
            last[..tail.len()].copy_from_slice(tail);
            let (word, dropped) = self.word(u64::from_le_bytes(last), &mut previous_white);
            written = compact(word, dropped, tail.len(), out, written);
        }
        written
    }

    /// One word of text transformed: letters lowered and white space turned into spaces as the
    /// plan says, with the mask of lanes to drop (white space right after white space).
    #[inline]
    fn word(self, word: u64, previous_white: &mut u64) -> (u64, u64) {
        let mut word = word;
        if self.lowercase {
            let upper = below(word, b'Z' + 1) & !below(word, b'A');
            // 0x80 shifted right twice is 0x20, the bit between `A` and `a`.
            word |= upper >> 2;
        }
        if !self.collapse {
            return (word, 0);
        }
        let breaks = below(word, b'\r' + 1) & !below(word, b'\t');
        let spaces = below(word ^ (ONES * u64::from(b' ')), 1);
        let white = breaks | spaces;
        let dropped = white & ((white << 8) | (*previous_white >> 56));
        *previous_white = white;
        // Breaks become spaces: a tab, line feed, vertical tab, form feed or carriage return
        // (0x09..=0x0D) xor its own value xor 0x20 is 0x20.
        let break_lanes = (breaks >> 7) * 0xFF;
        let word = word ^ (break_lanes & (word ^ (ONES * u64::from(b' '))));
        (word, dropped)
    }
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// High bit set in each byte lane of the ASCII `word` that is below `limit` (1..=0x80). Every
/// lane is at most 0x7F, so adding `0x80 - limit` never carries into the next lane.
#[inline]
fn below(word: u64, limit: u8) -> u64 {
    !(word + ONES * u64::from(0x80 - limit)) & HIGH_BITS
}

/// Writes the first `lanes` bytes of `word` to `out` from `at`, skipping the lanes marked in
/// `dropped`, and returns the new end.
fn compact(word: u64, dropped: u64, lanes: usize, out: &mut [u8], mut at: usize) -> usize {
    for (lane, byte) in word.to_le_bytes().into_iter().take(lanes).enumerate() {
        // Never out of bounds: at most as many bytes are written as were read.
        out[at] = byte;
        at += usize::from(dropped & (0x80 << (lane * 8)) == 0);
    }
    at
}

/// `text` without ASCII white space (vertical tab included, as for Unicode trim) at either end.
fn trim(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_ascii_white_space(b))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| !is_ascii_white_space(b))
        .map_or(start, |last| last + 1);
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::super::{Normalizer, StepSpec};
    use super::*;

    fn every_pipeline() -> Vec<Vec<StepSpec>> {
        let steps = [
            StepSpec::Trim,
            StepSpec::Lowercase,
            StepSpec::CollapseWhitespace,
        ];
        let mut pipelines = vec![vec![]];
        for a in &steps {
            pipelines.push(vec![a.clone()]);
            for b in &steps {
                pipelines.push(vec![a.clone(), b.clone()]);
                for c in &steps {
                    pipelines.push(vec![a.clone(), b.clone(), c.clone()]);
                }
            }
        }
        pipelines
    }

    fn fused(steps: &[StepSpec], text: &str) -> String {
        let normalizer = Normalizer::compile(steps).expect("valid steps");
        let plan = AsciiPlan::of(&normalizer.steps).expect("only the three steps");
        let mut out = vec![0; text.len()];
        let len = plan.run(text.as_bytes(), &mut out);
        String::from_utf8(out[..len].to_vec()).expect("ASCII in, ASCII out")
    }

    #[test]
    fn agrees_with_the_steps_one_by_one_on_every_pipeline() {
        let texts = [
            "",
            " ",
            "\t\u{0B}\u{0C}\r\n ",
            "A",
            "  Hi there!   I would like to CHECK my Order #12.\n Thanks  ",
            "exactly8",
            "exactly8 ",
            " 7 bytes",
            "NoSpaceAtAllInThisLongerLine",
            "a\u{0B}b\u{1C}c\u{1F}d", // 0x1C..=0x1F are not white space
            "@[`{ AZ az",             // the bytes around the letters
            "x                 y",    // a run across several words
        ];
        for steps in every_pipeline() {
            let normalizer = Normalizer::compile(&steps).expect("valid steps");
            for text in texts {
                assert_eq!(
                    fused(&steps, text),
                    normalizer.apply(text),
                    "{steps:?} {text:?}"
                );
            }
        }
    }

    #[test]
    fn every_ascii_byte_in_every_lane() {
        let pipeline = [
            StepSpec::Trim,
            StepSpec::Lowercase,
            StepSpec::CollapseWhitespace,
        ];
        let normalizer = Normalizer::compile(&pipeline).expect("valid steps");
        for byte in 0..0x80u8 {
            for lane in 0..9 {
                let mut text = b"ab cd  efGH\tij".to_vec();
                text.insert(lane, byte);
                text.insert(lane, byte);
                let text = String::from_utf8(text).expect("ASCII");
                assert_eq!(fused(&pipeline, &text), normalizer.apply(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn a_step_outside_the_three_has_no_plan() {
        let normalizer =
            Normalizer::compile(&[StepSpec::Trim, StepSpec::Nfkc]).expect("valid steps");
        assert_eq!(AsciiPlan::of(&normalizer.steps), None);
    }
}
