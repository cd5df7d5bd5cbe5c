//! "Did you mean" suggestions for misspelt names in rule files.

/// The closest candidate to `name`, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A hint sentence for an unknown name: the close match, else the list of known names.
pub fn unknown_name_hint<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    match did_you_mean(name, candidates.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let known: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
            if known.is_empty() {
                "none are defined".to_string()
            } else {
                format!("known names: {}", known.join(", "))
            }
        }
    }
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("chat_txt", ["chat_text", "email"]),
            Some("chat_text")
        );
        assert_eq!(did_you_mean("windw", ["window", "mode"]), Some("window"));
        assert_eq!(did_you_mean("zzz", ["chat_text"]), None);
        assert_eq!(
            unknown_name_hint("zzz", ["a", "b"]),
            "known names: `a`, `b`"
        );
    }
}
