//! A small JUnit XML writer for `cxrules test --junit FILE`, with the escaping XML 1.0 needs.

use std::fmt::Write as _;

/// One test case of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JunitCase {
    /// The case's name.
    pub name: String,
    /// The group it belongs to (the rules directory).
    pub classname: String,
    /// `(message, details)` when it failed.
    pub failure: Option<(String, String)>,
}

/// The whole report: one `<testsuite>` inside `<testsuites>`.
pub(crate) fn render(suite: &str, cases: &[JunitCase], seconds: f64) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let head = format!(
        "name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3}\"",
        escape(suite),
        cases.len()
    );
    let _ = writeln!(xml, "<testsuites {head}>");
    let _ = writeln!(xml, "  <testsuite {head}>");
    for case in cases {
        let attrs = format!(
            "name=\"{}\" classname=\"{}\"",
            escape(&case.name),
            escape(&case.classname)
        );
        match &case.failure {
            None => {
                let _ = writeln!(xml, "    <testcase {attrs}/>");
            }
            Some((message, details)) => {
                let _ = writeln!(xml, "    <testcase {attrs}>");
                let _ = writeln!(
                    xml,
                    "      <failure message=\"{}\" type=\"mismatch\">{}</failure>",
                    escape(message),
                    escape(details)
                );
                let _ = writeln!(xml, "    </testcase>");
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Escapes text for an attribute or element; drops characters XML 1.0 cannot carry at all.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Keep line breaks and tabs even inside attributes.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b> & \"c\" 'd'\n\u{1}"),
            "a&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;&#10;\u{FFFD}"
        );
    }

    #[test]
    fn a_report_counts_failures_and_nests_them() {
        let cases = vec![
            JunitCase {
                name: "ok case".into(),
                classname: "rules/".into(),
                failure: None,
            },
            JunitCase {
                name: "bad <case>".into(),
                classname: "rules/".into(),
                failure: Some(("step 1: verdict".into(), "- duplicate\n+ unique".into())),
            },
        ];
        let xml = render("cxrules", &cases, 0.25);
        assert!(
            xml.contains(
                r#"<testsuite name="cxrules" tests="2" failures="1" errors="0" time="0.250">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="ok case" classname="rules/"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="bad &lt;case&gt;" classname="rules/">"#),
            "{xml}"
        );
        assert!(xml.contains("- duplicate&#10;+ unique</failure>"), "{xml}");
    }
}
