//! Reading a rules directory: which files count, their texts, and the content hash.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, Diagnostics};

/// The rule files of a directory: `*.yaml` and `*.yml`, sorted, hidden entries skipped (a
/// Kubernetes ConfigMap mount keeps its real files under `..data`, linked from visible names).
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        Box::new(
            Diagnostic::file(dir, format!("cannot read the rules directory: {e}"))
                .with_hint("pass the directory that holds the *.yaml rule files"),
        )
    })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.')
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && p.is_file()
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Box::new(
            Diagnostic::file(dir, "no rule files (*.yaml, *.yml) in the rules directory")
                .with_hint("add a rule file, for example a copy of the project's rules/dedup.yaml"),
        ));
    }
    Ok(files)
}

/// The texts of a directory's rule files, with the read errors met on the way.
#[derive(Debug, Clone)]
pub struct Sources {
    /// (path, text) of every file read.
    pub files: Vec<(PathBuf, String)>,
    /// Files that could not be read.
    pub problems: Vec<Diagnostic>,
}

impl Sources {
    /// The content hash the compiled rules will carry as their version.
    pub fn version(&self) -> String {
        content_hash(&self.files)
    }
}

/// Reads the rule files of `dir` without compiling them.
pub fn read_sources(dir: &Path) -> Result<Sources, Diagnostics> {
    let paths = rule_files(dir).map_err(|d| Diagnostics(vec![*d]))?;
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push((path, text)),
            Err(e) => problems.push(
                Diagnostic::file(&path, format!("cannot read the rule file: {e}"))
                    .with_hint("check the file's permissions"),
            ),
        }
    }
    Ok(Sources { files, problems })
}

pub(crate) fn content_hash(sources: &[(PathBuf, String)]) -> String {
    let mut h = Sha256::new();
    for (path, text) in sources {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}
