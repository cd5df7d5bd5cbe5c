//! `cxrules schema --into DIR`: writes the schema into a rules directory and points the rule
//! files' editor modelines at it, so a copy of the rules (a ConfigMap's repository, a tenant's
//! folder) keeps its validation in the editor without the repository's `../schemas/` path.

use std::io::Write;
use std::path::Path;

use crate::tools::outcome::{Hinted, Status};

/// The schema's file name inside the rules directory (not a rule file: only `*.yaml` / `*.yml`
/// are loaded).
pub const FILE_NAME: &str = "cxrules.schema.json";

/// The modeline that points at [`FILE_NAME`] beside the rule file.
pub const MODELINE: &str = "# yaml-language-server: $schema=cxrules.schema.json";

const MODELINE_PREFIX: &str = "# yaml-language-server:";

/// `text` with its modeline pointing at the schema beside it: the first line that is a
/// `yaml-language-server` modeline naming a `$schema` is replaced (its line ending kept);
/// without one, the modeline is added as the first line. Everything else is kept byte for byte.
pub fn point_modeline(text: &str) -> String {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if body.trim_start().starts_with(MODELINE_PREFIX) && body.contains("$schema=") {
            let ending = &line[body.len()..];
            return format!(
                "{}{MODELINE}{ending}{}",
                &text[..start],
                &text[start + line.len()..]
            );
        }
        start += line.len();
    }
    format!("{MODELINE}\n{text}")
}

/// Writes the schema into `dir` and rewrites each rule file's modeline; reports to `out`.
pub fn execute(dir: &Path, out: &mut dyn Write) -> anyhow::Result<Status> {
    if !dir.is_dir() {
        return Err(Hinted::usage(
            format!("{} is not a directory", dir.display()),
            "pass the directory that holds the *.yaml rule files",
        ));
    }
    let files = cxrules_engine::compile::rule_files(dir)
        .map_err(|d| Hinted::error(d.message.clone(), "check that the directory is readable"))?;
    let target = dir.join(FILE_NAME);
    let cannot_write = |path: &Path, e: std::io::Error| {
        Hinted::error(
            format!("cannot write {}: {e}", path.display()),
            "check that the directory and its files are writable",
        )
    };
    std::fs::write(&target, cxrules_engine::schema::schema_json())
        .map_err(|e| cannot_write(&target, e))?;
    writeln!(out, "wrote {}", target.display())?;
    let mut changed = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Hinted::error(
                format!("cannot read {}: {e}", file.display()),
                "check that the rule files are readable UTF-8 text",
            )
        })?;
        let pointed = point_modeline(&text);
        if pointed != text {
            std::fs::write(file, &pointed).map_err(|e| cannot_write(file, e))?;
            changed += 1;
            writeln!(out, "pointed {} at {FILE_NAME}", file.display())?;
        }
    }
    writeln!(
        out,
        "{} rule files, {changed} changed; editors with the YAML language server now validate \
         them against {FILE_NAME} (rerun after upgrading cxrules)",
        files.len()
    )?;
    Ok(Status::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_repository_modeline_is_replaced_and_a_missing_one_added() {
        let text =
            "# yaml-language-server: $schema=../schemas/cxrules.schema.json\r\n#\nversion: 1\n";
        assert_eq!(
            point_modeline(text),
            format!("{MODELINE}\r\n#\nversion: 1\n")
        );
        assert_eq!(
            point_modeline("version: 1\n"),
            format!("{MODELINE}\nversion: 1\n")
        );
        assert_eq!(point_modeline(""), format!("{MODELINE}\n"));
    }

    proptest! {
        /// Whatever the file holds: the result has exactly one modeline pointing beside it,
        /// pointing again changes nothing, and every other line is kept.
        #[test]
        fn pointing_is_idempotent_and_keeps_the_other_lines(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("# yaml-language-server: $schema=../schemas/cxrules.schema.json".to_string()),
                    Just("# yaml-language-server: $schema=https://example.invalid/s.json".to_string()),
                    "[ -~]{0,30}",
                    "\\PC{0,10}",
                ],
                0..8,
            ),
            crlf in any::<bool>(),
        ) {
            let ending = if crlf { "\r\n" } else { "\n" };
            let text: String = lines.iter().map(|l| format!("{l}{ending}")).collect();
            let once = point_modeline(&text);
            prop_assert_eq!(point_modeline(&once), once.clone());
            prop_assert!(once.lines().any(|l| l.trim_end_matches('\r') == MODELINE));
            let others = |t: &str| -> Vec<String> {
                t.lines()
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .filter(|l| !(l.trim_start().starts_with(MODELINE_PREFIX) && l.contains("$schema=")))
                    .collect()
            };
            // Only the first modeline is replaced; later ones stay, as do all other lines.
            let first_modeline_removed = |t: &str| -> Vec<String> {
                let mut seen = false;
                t.lines()
                    .map(|l| l.trim_end_matches('\r').to_string())
                    .filter(|l| {
                        let is = l.trim_start().starts_with(MODELINE_PREFIX) && l.contains("$schema=");
                        if is && !seen { seen = true; return false; }
                        true
                    })
                    .collect()
            };
            prop_assert_eq!(first_modeline_removed(&once), first_modeline_removed(&text));
            prop_assert!(others(&once) == others(&text));
        }
    }
}
