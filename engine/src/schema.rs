//! The JSON Schema (draft-07, what yaml-language-server supports) of the rule format.

use crate::rulefile::RuleFile;

/// The schema as pretty-printed JSON, ending with a newline (the form kept in `schemas/`).
pub fn schema_json() -> String {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<RuleFile>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}
