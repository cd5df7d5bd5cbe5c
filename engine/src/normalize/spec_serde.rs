//! Reading and writing [`StepSpec`] as a bare step name or a single-key map.
//!
//! serde_yaml 0.9 expects `!tag` syntax for enum variants with data, which nobody writes by
//! hand; rule files say `- unicode_normalize: nfc`. These impls accept that map form (and the
//! tag form, and JSON's identical map form) and write the map form back, so YAML round-trips.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, IgnoredAny, MapAccess, VariantAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StepSpec;

const TRIM: &str = "trim";
const LOWERCASE: &str = "lowercase";
const COLLAPSE_WHITESPACE: &str = "collapse_whitespace";
const NFKC: &str = "nfkc";
const UNICODE_NORMALIZE: &str = "unicode_normalize";
const REGEX_REPLACE: &str = "regex_replace";
const STRIP: &str = "strip";

const STEP_NAMES: &[&str] = &[
    TRIM,
    LOWERCASE,
    COLLAPSE_WHITESPACE,
    NFKC,
    UNICODE_NORMALIZE,
    REGEX_REPLACE,
    STRIP,
];

impl Serialize for StepSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn entry<S: Serializer, T: Serialize>(
            s: S,
            name: &str,
            value: &T,
        ) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry(name, value)?;
            map.end()
        }
        match self {
            Self::Trim => serializer.serialize_str(TRIM),
            Self::Lowercase => serializer.serialize_str(LOWERCASE),
            Self::CollapseWhitespace => serializer.serialize_str(COLLAPSE_WHITESPACE),
            Self::Nfkc => serializer.serialize_str(NFKC),
            Self::UnicodeNormalize(form) => entry(serializer, UNICODE_NORMALIZE, form),
            Self::RegexReplace(spec) => entry(serializer, REGEX_REPLACE, spec),
            Self::Strip(classes) => entry(serializer, STRIP, classes),
        }
    }
}

impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StepVisitor)
    }
}

struct StepVisitor;

/// The step for a bare name; `None` for an unknown name or one that needs settings.
fn unit_step(name: &str) -> Option<StepSpec> {
    match name {
        TRIM => Some(StepSpec::Trim),
        LOWERCASE => Some(StepSpec::Lowercase),
        COLLAPSE_WHITESPACE => Some(StepSpec::CollapseWhitespace),
        NFKC => Some(StepSpec::Nfkc),
        _ => None,
    }
}

fn unknown_or_bare<E: de::Error>(name: &str) -> E {
    if STEP_NAMES.contains(&name) {
        E::custom(format_args!(
            "step `{name}` needs settings: write `{name}: ...`"
        ))
    } else {
        E::unknown_variant(name, STEP_NAMES)
    }
}

impl<'de> Visitor<'de> for StepVisitor {
    type Value = StepSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a step name such as `trim`, or a step with settings such as `unicode_normalize: nfc`",
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<StepSpec, E> {
        unit_step(name).ok_or_else(|| unknown_or_bare(name))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepSpec, A::Error> {
        let name: String = map
            .next_key()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let step = match name.as_str() {
            UNICODE_NORMALIZE => StepSpec::UnicodeNormalize(map.next_value()?),
            REGEX_REPLACE => StepSpec::RegexReplace(map.next_value()?),
            STRIP => StepSpec::Strip(map.next_value()?),
            other => {
                let step = unit_step(other)
                    .ok_or_else(|| de::Error::unknown_variant(other, STEP_NAMES))?;
                map.next_value_seed(NoSettings(other))?;
                step
            }
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "a step has exactly one name; start each step on its own `- ` line",
            ));
        }
        Ok(step)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<StepSpec, A::Error> {
        let (name, variant): (String, _) = data.variant()?;
        match name.as_str() {
            UNICODE_NORMALIZE => variant.newtype_variant().map(StepSpec::UnicodeNormalize),
            REGEX_REPLACE => variant.newtype_variant().map(StepSpec::RegexReplace),
            STRIP => variant.newtype_variant().map(StepSpec::Strip),
            other => {
                let step = unit_step(other)
                    .ok_or_else(|| de::Error::unknown_variant(other, STEP_NAMES))?;
                variant.unit_variant()?;
                Ok(step)
            }
        }
    }
}

/// The value after a step that has no settings, as in `trim: ~`: only null is accepted.
struct NoSettings<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for NoSettings<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoSettings<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no settings (step `{0}` takes none: write `- {0}`)",
            self.0
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{CharClass, UnicodeForm};

    fn parse(yaml: &str) -> Result<StepSpec, String> {
        crate::yaml::from_str(yaml).map_err(|error| error.to_string())
    }

    #[test]
    fn reads_bare_names_maps_and_tags() {
        assert_eq!(parse("trim"), Ok(StepSpec::Trim));
        assert_eq!(parse("nfkc: ~"), Ok(StepSpec::Nfkc));
        assert_eq!(
            parse("unicode_normalize: nfd"),
            Ok(StepSpec::UnicodeNormalize(UnicodeForm::Nfd))
        );
        assert_eq!(
            parse("!unicode_normalize nfd"),
            Ok(StepSpec::UnicodeNormalize(UnicodeForm::Nfd))
        );
        assert_eq!(parse("!lowercase"), Ok(StepSpec::Lowercase));
        assert_eq!(
            parse("strip: [digits]"),
            Ok(StepSpec::Strip(vec![CharClass::Digits]))
        );
    }

    #[test]
    fn explains_mistakes() {
        let cases = [
            (
                "uppercase",
                "unknown variant `uppercase`, expected one of `trim`",
            ),
            ("strip", "step `strip` needs settings"),
            (
                "{trim: ~, lowercase: ~}",
                "start each step on its own `- ` line",
            ),
            ("{}", "invalid length 0"),
            ("trim: yes", "step `trim` takes none: write `- trim`"),
            (
                "unicode_normalize: NFC",
                "unknown variant `NFC`, expected one of `nfc`",
            ),
            ("42", "expected a step name such as `trim`"),
        ];
        for (yaml, expected) in cases {
            let error = parse(yaml).unwrap_err();
            assert!(error.contains(expected), "{yaml:?}: {error}");
        }
    }

    #[test]
    fn yaml_round_trips_in_map_form() {
        let steps = vec![
            StepSpec::CollapseWhitespace,
            StepSpec::UnicodeNormalize(UnicodeForm::Nfc),
            StepSpec::Strip(vec![CharClass::Emoji, CharClass::Symbols]),
        ];
        let yaml = crate::yaml::to_string(&steps).unwrap();
        assert_eq!(
            yaml,
            "- collapse_whitespace\n- unicode_normalize: nfc\n- strip:\n  - emoji\n  - symbols\n"
        );
        assert_eq!(
            crate::yaml::from_str::<Vec<StepSpec>>(&yaml).unwrap(),
            steps
        );
    }
}
