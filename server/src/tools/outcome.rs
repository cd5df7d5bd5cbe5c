//! The tools' exit statuses and their error reports (`error: …` and a `= hint: …` line).

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// How a tool ended; becomes the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit 0: all is well.
    Ok,
    /// Exit 1: the command found a problem (invalid rules, a failing case, a stale file).
    Failed,
    /// Exit 2: a usage or IO error kept the command from doing its job.
    Error,
}

impl Status {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::Error => 2,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s.code())
    }
}

/// An error with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hinted {
    /// What went wrong (lowercase, no trailing period).
    pub message: String,
    /// What to do next.
    pub hint: String,
}

impl Hinted {
    /// An error with its hint, ready for `?`.
    pub fn error(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self {
            message: message.into(),
            hint: hint.into(),
        })
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Prints `error: <the whole chain>` and, when some error in the chain has one, its hint.
pub fn print_error(out: &mut dyn Write, e: &anyhow::Error) {
    let _ = writeln!(out, "error: {e:#}");
    if let Some(h) = e.chain().find_map(|c| c.downcast_ref::<Hinted>()) {
        let _ = writeln!(out, "  = hint: {}", h.hint);
    }
}

/// A directory shown the way users type it: with one trailing slash.
pub(crate) fn dir_label(dir: &std::path::Path) -> String {
    let mut s = dir.display().to_string();
    if !s.ends_with('/') {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_is_found_below_added_context() {
        use anyhow::Context;
        let e: anyhow::Result<()> = Err(Hinted::error("no such file", "pass an existing file"));
        let e = e.context("cannot read the events").unwrap_err();
        let mut out = Vec::new();
        print_error(&mut out, &e);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "error: cannot read the events: no such file\n  = hint: pass an existing file\n"
        );
    }

    #[test]
    fn statuses_map_to_the_documented_codes() {
        assert_eq!(
            [Status::Ok, Status::Failed, Status::Error].map(Status::code),
            [0, 1, 2]
        );
        assert_eq!(dir_label(std::path::Path::new("rules")), "rules/");
        assert_eq!(dir_label(std::path::Path::new("rules/")), "rules/");
    }
}
