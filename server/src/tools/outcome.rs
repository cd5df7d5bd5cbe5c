//! The tools' exit statuses and their error reports (`error: …` and a `= hint: …` line).

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// How a command ended; becomes the process exit code. One meaning per code, whatever the
/// command (README's CLI table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit 0: all is well.
    Ok,
    /// Exit 1: the thing checked failed (invalid rules, a failing case, a stale schema, a
    /// registration refused).
    Failed,
    /// Exit 2: usage: a flag, a setting or an input file that cannot be used as given.
    Usage,
    /// Exit 3: the command could not do its job: the rules do not load, a file cannot be read
    /// or written, a service cannot be reached.
    CannotRun,
}

impl Status {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::Usage => 2,
            Status::CannotRun => 3,
        }
    }

    /// The status an error calls for: [`Status::Usage`] when it says so (a [`Hinted::usage`]
    /// error, or a configuration that cannot be used), else [`Status::CannotRun`].
    pub fn of(e: &anyhow::Error) -> Status {
        let usage = e.chain().any(|c| {
            c.downcast_ref::<Hinted>().is_some_and(|h| h.usage)
                || c.downcast_ref::<crate::ConfigError>().is_some()
        });
        if usage {
            Status::Usage
        } else {
            Status::CannotRun
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
    /// True for a usage error (exit 2), false for one that kept the command from running (3).
    pub usage: bool,
}

impl Hinted {
    /// An error that kept the command from doing its job (exit 3), ready for `?`.
    pub fn error(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self {
            message: message.into(),
            hint: hint.into(),
            usage: false,
        })
    }

    /// A usage error: a flag, setting or input file that cannot be used as given (exit 2).
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Self {
            message: message.into(),
            hint: hint.into(),
            usage: true,
        })
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Prints `error: <the whole chain>` and, when some error in the chain has one, its hint (never
/// a backtrace, whatever `RUST_BACKTRACE` says).
pub fn print_error(out: &mut dyn Write, e: &anyhow::Error) {
    let _ = writeln!(out, "error: {e:#}");
    let hint = e.chain().find_map(|c| {
        c.downcast_ref::<Hinted>()
            .map(|h| h.hint.clone())
            .or_else(|| c.downcast_ref::<crate::ConfigError>().map(|c| c.hint()))
    });
    if let Some(hint) = hint {
        let _ = writeln!(out, "  = hint: {hint}");
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
            [Status::Ok, Status::Failed, Status::Usage, Status::CannotRun].map(Status::code),
            [0, 1, 2, 3]
        );
        let usage = Hinted::usage("bad flag", "fix it").context("while starting");
        assert_eq!(Status::of(&usage), Status::Usage);
        assert_eq!(Status::of(&anyhow::anyhow!("disk gone")), Status::CannotRun);
        assert_eq!(dir_label(std::path::Path::new("rules")), "rules/");
        assert_eq!(dir_label(std::path::Path::new("rules/")), "rules/");
    }
}
