//! Located diagnostics: every problem in a rule set names its file, position or path, and a hint.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The rule file (or directory) concerned.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Path inside the document (`dedup.channels.sms.window`), when known.
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// The offending source line, for the caret display.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            column: None,
            path: None,
            message: message.into(),
            hint: None,
            source_line: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the document path and, when the text shows where it is, the position.
    pub fn at_path(mut self, text: &str, path: &[String]) -> Self {
        if !path.is_empty() {
            self.path = Some(dotted(path));
        }
        if let Some((line, column)) = crate::locate::locate(text, path) {
            self = self.at_position(text, line, column);
        }
        self
    }

    /// Sets the position (1-based) and remembers the source line.
    pub fn at_position(mut self, text: &str, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self.source_line = text.lines().nth(line.saturating_sub(1)).map(str::to_string);
        self
    }

    /// `file:line:column`, or as much of it as is known.
    pub fn location(&self) -> String {
        let mut s = self.file.display().to_string();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = self.column {
                s.push_str(&format!(":{col}"));
            }
        }
        s
    }
}

impl fmt::Display for Diagnostic {
    /// Renders like a compiler: `error: message`, the location, the line with a caret, the hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        write!(f, "  --> {}", self.location())?;
        if let Some(path) = &self.path {
            write!(f, " (at `{path}`)")?;
        }
        if let (Some(line), Some(src)) = (self.line, &self.source_line) {
            let gutter = " ".repeat(line.to_string().len());
            write!(f, "\n{gutter} |\n{line} | {src}")?;
            if let Some(col) = self.column {
                write!(f, "\n{gutter} | {}^", " ".repeat(col.saturating_sub(1)))?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every diagnostic of a failed load, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{} in the rules", if n == 1 { "" } else { "s" })
    }
}

/// A document path as written in messages: keys joined by dots, list positions in brackets
/// (`routing.inventory.statuses.in_stock.skills[1]`).
fn dotted(path: &[String]) -> String {
    let mut text = String::new();
    for segment in path {
        if segment.parse::<usize>().is_ok() {
            text.push_str(&format!("[{segment}]"));
        } else {
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(segment);
        }
    }
    text
}
