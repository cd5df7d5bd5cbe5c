//! Finds the line and column of a document path (`dedup.channels.sms.window`) in YAML text.
//!
//! The YAML parser reports positions only for syntax and type errors; validation errors know the
//! path of the offending value instead, and this turns that path back into a position by reading
//! the block structure of the text. Flow collections (`{a: 1}`) are searched within their line.

/// One line reduced to what the search needs.
struct Line<'a> {
    indent: usize,
    body: &'a str,
}

fn lines(text: &str) -> Vec<Option<Line<'_>>> {
    text.lines()
        .map(|raw| {
            let body = raw.trim_start();
            if body.is_empty() || body.starts_with('#') {
                return None;
            }
            Some(Line {
                indent: raw.len() - body.len(),
                body,
            })
        })
        .collect()
}

/// The key a line (or the part of a sequence item after `- `) starts with.
fn key_of(body: &str) -> Option<&str> {
    let end = body.find(':')?;
    let key = body[..end].trim();
    Some(key.trim_matches(|c| c == '"' || c == '\''))
}

/// Position (1-based line and column) of `path` in `text`, or of its deepest findable prefix.
pub fn locate(text: &str, path: &[String]) -> Option<(usize, usize)> {
    let lines = lines(text);
    // The current node: its line, the column its own content starts at, and its indent.
    let mut at: Option<(usize, usize)> = None;
    let mut parent_indent: isize = -1;
    for seg in path {
        let from = at.map_or(0, |(l, _)| l);
        let next = match seg.parse::<usize>() {
            Ok(index) => find_item(&lines, from, at.is_some(), parent_indent, index),
            Err(_) => find_key(&lines, from, at, parent_indent, seg),
        };
        match next {
            Some((line, col)) => {
                parent_indent = col as isize;
                at = Some((line, col));
            }
            None => break,
        }
    }
    at.map(|(l, c)| (l + 1, c + 1))
}

fn find_item(
    lines: &[Option<Line<'_>>],
    from: usize,
    skip_first: bool,
    parent_indent: isize,
    index: usize,
) -> Option<(usize, usize)> {
    let mut seen = 0;
    let mut item_indent = None;
    for (i, line) in lines
        .iter()
        .enumerate()
        .skip(from + usize::from(skip_first))
    {
        let Some(line) = line else { continue };
        if (line.indent as isize) <= parent_indent && !line.body.starts_with('-') {
            break;
        }
        if (line.indent as isize) < parent_indent {
            break;
        }
        if !line.body.starts_with('-') {
            continue;
        }
        let indent = *item_indent.get_or_insert(line.indent);
        if line.indent != indent {
            continue;
        }
        if seen == index {
            return Some((i, line.indent));
        }
        seen += 1;
    }
    None
}

fn find_key(
    lines: &[Option<Line<'_>>],
    from: usize,
    at: Option<(usize, usize)>,
    parent_indent: isize,
    key: &str,
) -> Option<(usize, usize)> {
    let mut child_indent = None;
    if let Some((l, c)) = at {
        let line = lines[l].as_ref()?;
        let rest = &line.body[c.saturating_sub(line.indent).min(line.body.len())..];
        // A sequence item's first key sits on the item's own line, and its other keys line up
        // with it (not with the first indented line below, which may belong to the first key).
        if let Some(item) = rest.strip_prefix("- ") {
            let col = line.indent + line.body.len() - item.trim_start().len();
            if key_of(item.trim_start()) == Some(key) {
                return Some((l, col));
            }
            if key_of(item.trim_start()).is_some() {
                child_indent = Some(col);
            }
        }
        // A flow mapping on the node's line.
        if let Some(pos) = rest
            .find('{')
            .and_then(|b| rest[b..].find(&format!("{key}:")).map(|p| p + b))
        {
            return Some((l, c + pos));
        }
    }
    for (i, line) in lines
        .iter()
        .enumerate()
        .skip(from + usize::from(at.is_some()))
    {
        let Some(line) = line else { continue };
        if (line.indent as isize) <= parent_indent {
            break;
        }
        let indent = *child_indent.get_or_insert(line.indent);
        if line.indent == indent && key_of(line.body) == Some(key) {
            return Some((i, line.indent));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    const DOC: &str = "\
# comment
version: 1
dedup:
  default:
    window: 45s
  channels:
    sms:
      window: 2m
      normalizer: chat_txt
normalizers:
  chat_text:
    - trim
    - regex_replace: { pattern: \"(\", replacement: x }
tests:
  - name: first
    steps: []
  - name: second
    steps:
      - at: 0s
";

    #[test]
    fn finds_nested_keys() {
        assert_eq!(
            locate(DOC, &path("dedup.channels.sms.normalizer")),
            Some((9, 7))
        );
        assert_eq!(locate(DOC, &path("dedup.default.window")), Some((5, 5)));
    }

    #[test]
    fn finds_sequence_items_and_their_keys() {
        assert_eq!(locate(DOC, &path("normalizers.chat_text.1")), Some((13, 5)));
        assert_eq!(locate(DOC, &path("tests.1.name")), Some((17, 5)));
        assert_eq!(locate(DOC, &path("tests.1.steps.0.at")), Some((19, 9)));
    }

    #[test]
    fn finds_a_later_key_of_an_item_whose_first_key_holds_a_mapping() {
        let doc = "\
tests:
  - name: a case
    steps:
      - event:
          type: x
          data: { a: 1 }
        expect: { outcome: processed, verdikt: unique }
";
        assert_eq!(locate(doc, &path("tests.0.steps.0.expect")), Some((7, 9)));
        let (line, col) = locate(doc, &path("tests.0.steps.0.expect.verdikt")).unwrap();
        assert_eq!((line, col), (7, 39));
    }

    #[test]
    fn finds_keys_in_flow_mappings() {
        let (line, col) =
            locate(DOC, &path("normalizers.chat_text.1.regex_replace.pattern")).unwrap();
        assert_eq!(line, 13);
        assert!(col > 20, "{col}");
    }

    #[test]
    fn falls_back_to_the_deepest_prefix() {
        assert_eq!(
            locate(DOC, &path("dedup.channels.email.window")),
            Some((6, 3))
        );
        assert_eq!(locate(DOC, &path("nothing")), None);
    }
}
