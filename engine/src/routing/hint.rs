//! "Did you mean …?" hints: the closest known name to a misspelt one.

/// The number of single-character insertions, deletions and substitutions that turn `a`
/// into `b` (Levenshtein distance), counted in `char`s so multi-byte text is one unit per
/// character.
///
/// ```
/// use cxrules_engine::routing::hint::edit_distance;
///
/// assert_eq!(edit_distance("media_typ", "media_type"), 1);
/// assert_eq!(edit_distance("kitten", "sitting"), 3);
/// ```
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // One row of the classic table is enough: each cell needs only its left, upper and
    // upper-left neighbours.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The candidate closest to `name`, if any is close enough to be a plausible typo.
///
/// "Close enough" is at most one edit per three characters of `name` (at least one edit),
/// after ignoring ASCII case; a case-only difference always qualifies. Ties go to the
/// earliest candidate, so callers control the preference by the order they pass.
///
/// ```
/// use cxrules_engine::routing::hint::did_you_mean;
///
/// let fields = ["interaction_id", "media_type", "channel"];
/// assert_eq!(did_you_mean("media_typ", fields), Some("media_type"));
/// assert_eq!(did_you_mean("Channel", fields), Some("channel"));
/// assert_eq!(did_you_mean("sku", fields), None);
/// ```
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted = name.to_ascii_lowercase();
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| {
            (
                edit_distance(&wanted, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_table() {
        let cases = [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("abc", "abc", 0),
            ("abc", "abd", 1),
            ("abc", "ab", 1),
            ("ab", "abc", 1),
            ("flaw", "lawn", 2),
            ("intention", "execution", 5),
            ("ünïcode", "unicode", 2),
        ];
        for (a, b, want) in cases {
            assert_eq!(edit_distance(a, b), want, "{a:?} → {b:?}");
            assert_eq!(edit_distance(b, a), want, "{b:?} → {a:?} (symmetry)");
        }
    }

    #[test]
    fn picks_the_closest_not_the_first_close_one() {
        let names = ["interaction_id", "interaction_ids"];
        assert_eq!(
            did_you_mean("interaction_idss", names),
            Some("interaction_ids")
        );
        assert_eq!(did_you_mean("interactionid", names), Some("interaction_id"));
    }

    #[test]
    fn short_names_allow_one_edit() {
        assert_eq!(did_you_mean("upr", ["upper", "lower"]), None);
        assert_eq!(did_you_mean("uper", ["upper", "lower"]), Some("upper"));
        assert_eq!(did_you_mean("x", ["y"]), Some("y"));
    }

    #[test]
    fn far_names_get_no_hint() {
        assert_eq!(
            did_you_mean("customer_email", ["media_type", "interaction_id"]),
            None
        );
        assert_eq!(did_you_mean("anything", std::iter::empty()), None);
    }
}
