//! Size limits written in rule files (how many interactions, messages or SKUs to remember).
//! Each has a range, so no rule file can make a store or a cache grow until memory runs out.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// One limit: its key in the rule file, the values it may take, and its default.
#[derive(Debug, Clone)]
pub(crate) struct Limit<T> {
    pub(crate) key: &'static str,
    pub(crate) range: RangeInclusive<T>,
    pub(crate) default: T,
}

impl<T: Copy + PartialOrd + Display> Limit<T> {
    /// `Err((message, hint))` when `written` lies outside the range.
    pub(crate) fn check(&self, written: Option<T>) -> Result<(), (String, String)> {
        match written {
            Some(value) if !self.range.contains(&value) => Err((
                format!(
                    "`{}` is {value}; it must be between {} and {}",
                    self.key,
                    self.range.start(),
                    self.range.end()
                ),
                format!(
                    "write a number in that range, or leave `{}` out for the default {}",
                    self.key, self.default
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOME: Limit<u32> = Limit {
        key: "max_things",
        range: 1..=10,
        default: 5,
    };

    #[test]
    fn values_in_range_and_absent_values_pass() {
        for written in [None, Some(1), Some(10)] {
            assert_eq!(SOME.check(written), Ok(()), "{written:?}");
        }
    }

    #[test]
    fn a_value_out_of_range_names_the_range_and_the_default() {
        let (message, hint) = SOME.check(Some(0)).unwrap_err();
        assert_eq!(message, "`max_things` is 0; it must be between 1 and 10");
        assert!(hint.contains("the default 5"), "{hint}");
        assert!(SOME.check(Some(11)).is_err());
    }
}
