//! `Secret`: a string that never shows up in logs or `Debug` output.

use std::fmt;

/// A credential, token or signing key. `Debug` and `Display` print `***`; read it with
/// [`Secret::expose`] only where it is sent or used to sign.
///
/// ```
/// use cxrules_server::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "***");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}
