//! Normalization pipelines: named, ordered steps applied to message content before fingerprinting.
//!
//! A pipeline is written in YAML as a list of [`StepSpec`]s, compiled once into a
//! [`Normalizer`] (regexes are built and checked there) and then applied to every message.
//! Applying never fails and copies the text only when a step changes it.
//!
//! Each step kind lives in its own module with its compiled form and tests; a closed enum of
//! compiled steps dispatches to them.

mod charset;
mod fused;
mod lowercase;
mod regex_replace;
mod spec_serde;
mod strip;
mod trim;
mod unicode;
mod whitespace;

#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod timing;

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;

pub use charset::CharClass;
pub use regex_replace::RegexReplaceSpec;
pub use unicode::UnicodeForm;

/// One step of a normalization pipeline. Steps run in the order they are listed, each on the
/// result of the one before, and the result is what duplicate messages are compared by.
///
/// Steps without settings are written as a bare name (`- trim`); the others as the name
/// followed by their settings (`- unicode_normalize: nfc`).
// Serialize and Deserialize are written by hand in `spec_serde` (the single-key-map form that
// serde_yaml 0.9 lacks); the serde attributes describe that same format to the schema.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    /// Remove white space (spaces, tabs, line breaks, no-break spaces…) at the start and end.
    /// `"  Hello \n"` → `"Hello"`.
    Trim,
    /// Make all letters lowercase, in every script: `"HELLO Straße İ"` → `"hello straße i̇"`.
    /// This is not a full case-insensitive comparison: `ß` and `ss` stay different.
    Lowercase,
    /// Replace every run of white space (spaces, tabs, line breaks, no-break spaces…) with a
    /// single space: `"a \t\n b"` → `"a b"`. Leading and trailing runs become one space too, so
    /// add `trim` to remove them.
    CollapseWhitespace,
    /// Fold look-alike characters into their plain form, e.g. full-width `"ＡＢＣ１"` → `"ABC1"`,
    /// `"ﬁ"` → `"fi"`, `"①"` → `"1"`. Short for `unicode_normalize: nfkc`.
    Nfkc,
    /// Bring text into a Unicode normal form (`nfc`, `nfd`, `nfkc` or `nfkd`), so the same
    /// visible text written with different characters compares equal.
    UnicodeNormalize(UnicodeForm),
    /// Replace every match of a regular expression, e.g.
    /// `{ pattern: 'https?://\S+', replacement: "<url>" }`.
    RegexReplace(RegexReplaceSpec),
    /// Delete every character of the listed classes, e.g. `[punctuation, emoji]`.
    /// Characters are removed, not replaced by a space.
    Strip(#[schemars(length(min = 1))] Vec<CharClass>),
}

/// A located problem with one step of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// Position of the offending step in the pipeline, counting from 0 like a YAML path
    /// (`normalizers.chat_text[2]`).
    pub index: usize,
    /// What is wrong, on one line.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step [{}]: {}", self.index, self.message)
    }
}

impl std::error::Error for StepError {}

/// What is wrong with a step, before its position in the pipeline is attached.
#[derive(Debug)]
struct Invalid {
    message: String,
    hint: String,
}

impl Invalid {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn at(self, index: usize) -> StepError {
        StepError {
            index,
            message: self.message,
            hint: Some(self.hint),
        }
    }
}

/// A compiled step.
#[derive(Debug, Clone)]
enum Step {
    Trim,
    Lowercase,
    CollapseWhitespace,
    Unicode(UnicodeForm),
    RegexReplace(regex_replace::RegexReplace),
    Strip(strip::Strip),
}

impl Step {
    fn compile(spec: &StepSpec) -> Result<Self, Invalid> {
        Ok(match spec {
            StepSpec::Trim => Self::Trim,
            StepSpec::Lowercase => Self::Lowercase,
            StepSpec::CollapseWhitespace => Self::CollapseWhitespace,
            StepSpec::Nfkc => Self::Unicode(UnicodeForm::Nfkc),
            StepSpec::UnicodeNormalize(form) => Self::Unicode(*form),
            StepSpec::RegexReplace(spec) => {
                Self::RegexReplace(regex_replace::RegexReplace::compile(spec)?)
            }
            StepSpec::Strip(classes) => Self::Strip(strip::Strip::compile(classes)?),
        })
    }

    fn apply<'a>(&self, text: Cow<'a, str>) -> Cow<'a, str> {
        match self {
            Self::Trim => trim::apply(text),
            Self::Lowercase => lowercase::apply(text),
            Self::CollapseWhitespace => whitespace::apply(text),
            Self::Unicode(form) => unicode::apply(*form, text),
            Self::RegexReplace(step) => step.apply(text),
            Self::Strip(step) => step.apply(text),
        }
    }
}

/// Runs `collapse_whitespace` before a `lowercase` that directly precedes it. The result is the
/// same either way (lowercasing never turns white space into anything else, nor anything else
/// into white space: `lowercase_keeps_white_space_apart` checks every character), but in this
/// order, for ASCII text, the collapse's new string is lowercased in place instead of being copied
/// a second time.
fn commute_lowercase_after_collapse(steps: &mut [Step]) {
    for i in 1..steps.len() {
        if matches!(
            (&steps[i - 1], &steps[i]),
            (Step::Lowercase, Step::CollapseWhitespace)
        ) {
            steps.swap(i - 1, i);
        }
    }
}

/// A compiled pipeline, cheap to clone and safe to share between threads.
///
/// The default pipeline has no steps and returns its input unchanged.
///
/// ```
/// use cxrules_engine::normalize::{Normalizer, StepSpec};
///
/// let steps: Vec<StepSpec> = cxrules_engine::yaml::from_str("[trim, lowercase, collapse_whitespace]")?;
/// let normalizer = Normalizer::compile(&steps).expect("valid steps");
/// assert_eq!(normalizer.apply("  Hello   World \n"), "hello world");
/// # Ok::<(), cxrules_engine::yaml::SyntaxError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    /// The steps as written, kept so a pipeline can be compared with another by what it does.
    spec: Vec<StepSpec>,
    steps: Vec<Step>,
    /// The one-pass form, when the steps are only trim, lowercase and collapse_whitespace.
    ascii: Option<fused::AsciiPlan>,
}

/// The longest ASCII text [`Normalizer::with_applied`] normalizes in a stack buffer.
const STACK_TEXT: usize = 1024;

impl Normalizer {
    /// Compiles a pipeline, collecting every step's error rather than stopping at the first.
    ///
    /// ```
    /// use cxrules_engine::normalize::{Normalizer, StepSpec};
    ///
    /// let steps: Vec<StepSpec> =
    ///     cxrules_engine::yaml::from_str("[trim, {regex_replace: {pattern: '(oops'}}, {strip: []}]")?;
    /// let errors = Normalizer::compile(&steps).unwrap_err();
    /// assert_eq!(errors.iter().map(|e| e.index).collect::<Vec<_>>(), [1, 2]);
    /// # Ok::<(), cxrules_engine::yaml::SyntaxError>(())
    /// ```
    pub fn compile(steps: &[StepSpec]) -> Result<Self, Vec<StepError>> {
        let mut compiled = Vec::with_capacity(steps.len());
        let mut errors = Vec::new();
        for (index, spec) in steps.iter().enumerate() {
            match Step::compile(spec) {
                Ok(step) => compiled.push(step),
                Err(invalid) => errors.push(invalid.at(index)),
            }
        }
        if errors.is_empty() {
            commute_lowercase_after_collapse(&mut compiled);
            Ok(Self {
                spec: steps.to_vec(),
                ascii: fused::AsciiPlan::of(&compiled),
                steps: compiled,
            })
        } else {
            Err(errors)
        }
    }

    /// The steps it was compiled from, as written.
    ///
    /// ```
    /// use cxrules_engine::normalize::{Normalizer, StepSpec};
    ///
    /// let normalizer = Normalizer::compile(&[StepSpec::Trim, StepSpec::Lowercase]).unwrap();
    /// assert_eq!(normalizer.spec(), [StepSpec::Trim, StepSpec::Lowercase]);
    /// ```
    pub fn spec(&self) -> &[StepSpec] {
        &self.spec
    }

    /// Applies every step in order. Borrows `input` when no step changes it, and allocates at
    /// most once per changing step.
    pub fn apply<'a>(&self, input: &'a str) -> Cow<'a, str> {
        self.steps
            .iter()
            .fold(Cow::Borrowed(input), |text, step| step.apply(text))
    }

    /// Calls `f` with the text [`apply`](Self::apply) returns, built without a heap allocation
    /// where possible: when the pipeline holds only `trim`, `lowercase` and
    /// `collapse_whitespace` and the text is ASCII and at most 1 KiB, every step runs in one
    /// pass into a buffer on the stack. Fingerprints take this path.
    ///
    /// ```
    /// use cxrules_engine::normalize::{Normalizer, StepSpec};
    ///
    /// let steps: Vec<StepSpec> = cxrules_engine::yaml::from_str("[trim, lowercase, collapse_whitespace]")?;
    /// let normalizer = Normalizer::compile(&steps).expect("valid steps");
    /// let len = normalizer.with_applied("  Hello \t World ", |text| {
    ///     assert_eq!(text, "hello world");
    ///     text.len()
    /// });
    /// assert_eq!(len, 11);
    /// # Ok::<(), cxrules_engine::yaml::SyntaxError>(())
    /// ```
    pub fn with_applied<R>(&self, input: &str, f: impl FnOnce(&str) -> R) -> R {
        match self.ascii {
            Some(plan) if input.len() <= STACK_TEXT && input.is_ascii() => {
                let mut buffer = [0; STACK_TEXT];
                let len = plan.run(input.as_bytes(), &mut buffer);
                f(std::str::from_utf8(&buffer[..len]).expect("ASCII in, ASCII out"))
            }
            _ => f(&self.apply(input)),
        }
    }
}
