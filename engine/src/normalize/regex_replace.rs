//! The `regex_replace` step: replace every match of a regular expression.

use std::borrow::Cow;

use regex::{Regex, RegexBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Invalid;

/// Compiled-size budget for a pattern when the rule sets none: plenty for ordinary patterns.
pub(super) const DEFAULT_SIZE_LIMIT: usize = 1 << 20;
/// Highest `size_limit` a rule may ask for, so one rule cannot eat the server's memory.
pub(super) const MAX_SIZE_LIMIT: usize = 10 << 20;

/// Find text with a regular expression and replace every match.
///
/// Example: `{ pattern: "https?://\\S+", replacement: "<url>" }` turns every link into `<url>`,
/// so two messages that differ only in a tracking link count as the same message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegexReplaceSpec {
    /// The regular expression to look for (Rust `regex` syntax:
    /// <https://docs.rs/regex/latest/regex/#syntax>). Matching is case-sensitive unless the
    /// pattern starts with `(?i)`. In YAML, single quotes keep backslashes as written:
    /// `'\d+'`; inside double quotes write them twice: `"\\d+"`.
    pub pattern: String,
    /// The text put in place of each match; empty (delete the match) when left out. `$1` or
    /// `${name}` insert what a group of the pattern matched; `$$` is a literal dollar sign.
    #[serde(default)]
    pub replacement: String,
    /// Memory budget in bytes for the compiled pattern. Leave it out (1 MiB) unless the rule
    /// is rejected as too large; at most 10485760 (10 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_SIZE_LIMIT), extend("default" = 1_048_576))]
    pub size_limit: Option<usize>,
}

/// A `regex_replace` step ready to run.
#[derive(Debug, Clone)]
pub(super) struct RegexReplace {
    regex: Regex,
    replacement: String,
}

impl RegexReplace {
    /// Checks the limit, compiles the pattern and verifies the replacement's group references.
    pub(super) fn compile(spec: &RegexReplaceSpec) -> Result<Self, Invalid> {
        let size_limit = checked_size_limit(spec.size_limit)?;
        if spec.pattern.is_empty() {
            return Err(Invalid::new(
                "regex_replace pattern is empty",
                "write the text to look for, e.g. pattern: 'https?://\\S+', or remove the step",
            ));
        }
        let regex = RegexBuilder::new(&spec.pattern)
            .size_limit(size_limit)
            .build()
            .map_err(|error| explain(&spec.pattern, &error))?;
        check_group_refs(&regex, &spec.replacement)?;
        Ok(Self {
            regex,
            replacement: spec.replacement.clone(),
        })
    }

    /// Replaces every match, borrowing when nothing matched.
    pub(super) fn apply<'a>(&self, input: Cow<'a, str>) -> Cow<'a, str> {
        match self.regex.replace_all(&input, self.replacement.as_str()) {
            Cow::Owned(replaced) => Cow::Owned(replaced),
            Cow::Borrowed(_) => input,
        }
    }
}

fn checked_size_limit(requested: Option<usize>) -> Result<usize, Invalid> {
    match requested {
        Some(limit) if limit > MAX_SIZE_LIMIT => Err(Invalid::new(
            format!("regex_replace size_limit {limit} is above the maximum of {MAX_SIZE_LIMIT}"),
            format!(
                "lower size_limit to at most {MAX_SIZE_LIMIT} (10 MiB) or simplify the pattern"
            ),
        )),
        Some(limit) => Ok(limit),
        None => Ok(DEFAULT_SIZE_LIMIT),
    }
}

/// Turns the regex crate's multi-line report into one line plus a hint.
fn explain(pattern: &str, error: &regex::Error) -> Invalid {
    match error {
        regex::Error::CompiledTooBig(limit) => Invalid::new(
            format!(
                "regex `{}` is too large: its compiled form exceeds the size limit of {limit} bytes",
                shown(pattern)
            ),
            format!(
                "simplify the pattern (large counted repetitions such as `\\w{{500}}` are costly; \
                 `(?-u:\\w)` is much smaller than `\\w` when only ASCII matters) \
                 or raise size_limit (at most {MAX_SIZE_LIMIT})"
            ),
        ),
        regex::Error::Syntax(report) => Invalid::new(
            format!(
                "invalid regex `{}`: {}",
                shown(pattern),
                condense(pattern, report)
            ),
            "fix the pattern (syntax: https://docs.rs/regex/latest/regex/#syntax); in YAML use \
             single quotes so backslashes stay as written, e.g. '\\d+'",
        ),
        other => Invalid::new(
            format!(
                "invalid regex `{}`: {}",
                shown(pattern),
                one_line(&other.to_string())
            ),
            "fix the pattern (syntax: https://docs.rs/regex/latest/regex/#syntax)",
        ),
    }
}

/// The `error: ...` line of a syntax report, with the column its caret points at.
fn condense(pattern: &str, report: &str) -> String {
    let what = report
        .lines()
        .find_map(|line| line.strip_prefix("error: "))
        .map_or_else(|| one_line(report), str::to_owned);
    // The report repeats a one-line pattern indented by four spaces, then a caret line under it.
    let column = match report.lines().nth(2) {
        Some(carets) if !pattern.contains('\n') => {
            carets.find('^').and_then(|at| at.checked_sub(3))
        }
        _ => None,
    };
    match column {
        Some(column) => format!("{what} at column {column}"),
        None => what,
    }
}

/// The pattern as it can be quoted in a one-line message: line breaks escaped, long ones cut.
fn shown(pattern: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut shown = String::with_capacity(pattern.len().min(MAX_CHARS * 4));
    for c in pattern.chars().take(MAX_CHARS) {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            c => shown.push(c),
        }
    }
    if pattern.chars().nth(MAX_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Rejects `$name` references to groups the pattern lacks: the regex crate would silently insert
/// nothing, and `$1a` (meaning group `1a`) is an easy slip for `${1}a`.
fn check_group_refs(regex: &Regex, replacement: &str) -> Result<(), Invalid> {
    for name in group_refs(replacement) {
        let known = match name.parse::<usize>() {
            Ok(number) => number < regex.captures_len(),
            Err(_) => regex.capture_names().flatten().any(|group| group == name),
        };
        if !known {
            return Err(Invalid::new(
                format!("regex_replace replacement refers to group `{name}`, which the pattern does not define"),
                "use `$1` for the first (...) group or `${name}` for a (?<name>...) group; write \
                 `${1}a` to put text right after a group and `$$` for a literal dollar sign",
            ));
        }
    }
    Ok(())
}

/// Group names and numbers referenced by a replacement, following the regex crate's rules.
fn group_refs(replacement: &str) -> Vec<&str> {
    let mut refs = Vec::new();
    let mut rest = replacement;
    while let Some(dollar) = rest.find('$') {
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
        } else if let Some(braced) = rest.strip_prefix('{') {
            if let Some(close) = braced.find('}') {
                refs.push(&braced[..close]);
                rest = &braced[close + 1..];
            }
        } else {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len > 0 {
                refs.push(&rest[..len]);
                rest = &rest[len..];
            }
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pattern: &str, replacement: &str) -> RegexReplaceSpec {
        RegexReplaceSpec {
            pattern: pattern.to_owned(),
            replacement: replacement.to_owned(),
            size_limit: None,
        }
    }

    fn run(pattern: &str, replacement: &str, input: &str) -> String {
        let step = RegexReplace::compile(&spec(pattern, replacement)).unwrap();
        step.apply(Cow::Borrowed(input)).into_owned()
    }

    #[test]
    fn replaces_every_match() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                r"https?://\S+",
                "<url>",
                "see https://x.io/a?b=1 and http://y.io",
                "see <url> and <url>",
            ),
            (r"\d{4,}", "#", "order 123456 ref 12", "order # ref 12"),
            (r"(?i)hello", "hi", "Hello HELLO", "hi hi"),
            (r"(\w+)@(\w+)", "$2 at ${1}x", "me@host", "host at mex"),
            (r"(?<user>\w+)@\w+", "${user}", "me@host", "me"),
            (r"\$\d+", "$$N", "costs $40", "costs $N"),
            (r"\p{Greek}+", "<greek>", "say γειά now", "say <greek> now"),
            (r"[\x{1F3FB}-\x{1F3FF}]", "", "👍🏽👍", "👍👍"),
            ("x", "", "no match here", "no match here"),
        ];
        for &(pattern, replacement, input, expected) in cases {
            assert_eq!(
                run(pattern, replacement, input),
                expected,
                "{pattern:?} on {input:?}"
            );
        }
    }

    #[test]
    fn no_match_borrows() {
        let step = RegexReplace::compile(&spec("zzz", "y")).unwrap();
        assert!(matches!(
            step.apply(Cow::Borrowed("abc")),
            Cow::Borrowed("abc")
        ));
    }

    #[test]
    fn syntax_error_is_one_line_with_column() {
        let error = RegexReplace::compile(&spec("ab(c", "")).unwrap_err();
        assert_eq!(
            error.message,
            "invalid regex `ab(c`: unclosed group at column 3"
        );
        assert!(error.hint.contains("single quotes"), "{}", error.hint);
        let error = RegexReplace::compile(&spec(r"\q", "")).unwrap_err();
        assert!(!error.message.contains('\n'));
        assert!(
            error.message.contains("unrecognized escape"),
            "{}",
            error.message
        );
    }

    #[test]
    fn multi_line_pattern_error_stays_on_one_line() {
        let error = RegexReplace::compile(&spec("(?x)\n a\n (b\n", "")).unwrap_err();
        assert_eq!(
            error.message,
            "invalid regex `(?x)\\n a\\n (b\\n`: unclosed group"
        );
    }

    #[test]
    fn too_large_pattern_is_rejected_with_hint() {
        let error = RegexReplace::compile(&spec(r"\w{1000}", "")).unwrap_err();
        assert!(error.message.contains("too large"), "{}", error.message);
        assert!(
            error.message.contains(&DEFAULT_SIZE_LIMIT.to_string()),
            "{}",
            error.message
        );
        assert!(error.hint.contains("size_limit"), "{}", error.hint);
    }

    #[test]
    fn size_limit_can_be_raised_up_to_the_cap() {
        let mut raised = spec(r"\w{100}", "");
        assert!(
            RegexReplace::compile(&raised).is_err(),
            "expected over the default limit"
        );
        raised.size_limit = Some(MAX_SIZE_LIMIT);
        assert!(RegexReplace::compile(&raised).is_ok());
        raised.size_limit = Some(MAX_SIZE_LIMIT + 1);
        let error = RegexReplace::compile(&raised).unwrap_err();
        assert!(
            error.message.contains("above the maximum"),
            "{}",
            error.message
        );
    }

    #[test]
    fn unknown_group_references_are_rejected() {
        for (pattern, replacement, group) in [
            (r"(\d+)", "$1a", "1a"),
            (r"(\d+)", "$2", "2"),
            (r"(?<n>\d+)", "${m}", "m"),
            ("x", "${}", ""),
        ] {
            let error = RegexReplace::compile(&spec(pattern, replacement)).unwrap_err();
            assert!(
                error.message.contains(&format!("group `{group}`")),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn finds_group_references_like_the_regex_crate() {
        assert_eq!(
            group_refs("a $1 ${x}y $$ $b_2-c $ ${open"),
            ["1", "x", "b_2"]
        );
        assert!(group_refs("no refs, $ alone, $$escaped").is_empty());
    }

    #[test]
    fn long_patterns_are_cut_in_messages() {
        let pattern = format!("{}(", "a".repeat(100));
        let error = RegexReplace::compile(&spec(&pattern, "")).unwrap_err();
        assert!(error
            .message
            .starts_with(&format!("invalid regex `{}…`", "a".repeat(60))));
        assert!(
            error.message.ends_with("unclosed group at column 101"),
            "{}",
            error.message
        );
    }

    #[test]
    fn empty_pattern_is_rejected() {
        let error = RegexReplace::compile(&spec("", "x")).unwrap_err();
        assert!(error.message.contains("empty"), "{}", error.message);
    }
}
