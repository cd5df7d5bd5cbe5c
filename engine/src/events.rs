//! Event rules: which events a rule applies to, the conditions an event must meet, and where
//! each field lives (JSON pointers, with keyed array selection).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::document::{Document, Field};
use crate::pointer::{NotAnArray, Pointer};
use crate::segment;
use crate::EvalError;

/// One JSON pointer, or several tried in order (the first present wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Pointers {
    /// A single JSON pointer such as `/data/message/content`.
    One(String),
    /// Pointers tried in order; the first one present in the event is used.
    Many(Vec<String>),
}

impl Pointers {
    fn list(&self) -> Vec<String> {
        match self {
            Pointers::One(p) => vec![p.clone()],
            Pointers::Many(v) => v.clone(),
        }
    }
}

/// Where the fields of an event are. Every field has a default that matches the seed services'
/// event shapes; set a field to read it from somewhere else (for example the real CXone digital
/// events: `interaction_id: /data/case/interactionId`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldsSpec {
    /// The interaction (conversation) id. Default: `/data/message/interactionId`, then `/data/interactionId`.
    #[serde(default)]
    pub interaction_id: Option<Pointers>,
    /// The id outbound calls address (CXone digital: the contact number, `/data/case/id`),
    /// when it is not the interaction id. Default: the interaction id. Set, it must be in every
    /// event of the rule. Call templates name it `{contact}`.
    #[serde(default)]
    pub contact_id: Option<Pointers>,
    /// Who sent the message. Default: `/data/message/senderId`.
    #[serde(default)]
    pub sender: Option<Pointers>,
    /// The message text. Default: `/data/message/content`.
    #[serde(default)]
    pub content: Option<Pointers>,
    /// The channel (chat, sms, email…) that picks the dedup window. Default: `/data/message/channel`, then `/data/channel`.
    #[serde(default)]
    pub channel: Option<Pointers>,
    /// The message's sequence number (an integer). Default: `/data/message/sequenceNumber`.
    #[serde(default)]
    pub sequence: Option<Pointers>,
    /// A unique id of the delivery: the same id again is an exact re-delivery. Default: `/eventId`.
    #[serde(default)]
    pub event_id: Option<Pointers>,
    /// When the event was created: RFC 3339 text with an offset, or whole epoch milliseconds (a number or a string of digits). Default: `/createdAtWithMilliseconds`, `/timestamp`.
    #[serde(default)]
    pub timestamp: Option<Pointers>,
    /// The media type (voice, chat, email…). Default: `/data/mediaType`.
    #[serde(default)]
    pub media_type: Option<Pointers>,
    /// More named fields, usable in fingerprints and SKU templates.
    #[serde(default)]
    pub extra: BTreeMap<String, Pointers>,
}

/// What orders the messages of an interaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderBy {
    /// The sequence number when the event has one, else the timestamp, else nothing.
    #[default]
    Auto,
    /// Only the sequence number.
    Sequence,
    /// Only the timestamp (for events without sequence numbers, such as CXone digital events).
    Timestamp,
    /// No ordering: out-of-order detection is off.
    None,
}

/// How to recognise one kind of event, where its fields are, and what to do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// The event type value(s) this rule applies to, e.g. `conversations.messages.messageCreated`.
    #[serde(rename = "type")]
    pub types: Pointers,
    /// Where the event type is. Default: `/type`, then `/event_type`, then `/eventType`.
    #[serde(default)]
    pub type_at: Option<Pointers>,
    /// Where the fields are.
    #[serde(default)]
    pub fields: FieldsSpec,
    /// Suppress duplicate messages of this event type.
    #[serde(default)]
    pub dedup: bool,
    /// The name of the routing rule (under `routing:`) to apply to this event type.
    #[serde(default)]
    pub route: Option<String>,
    /// What orders messages: `auto` (default), `sequence`, `timestamp` or `none`.
    #[serde(default)]
    pub order_by: OrderBy,
    /// Conditions the event must meet, all of them, keyed by a field name or a JSON pointer
    /// (e.g. `/data/message/direction: inbound`). An event of the rule's type that does not
    /// meet them is ignored, with the reason in its decision.
    #[serde(default)]
    pub when: BTreeMap<String, Condition>,
}

/// A value a condition compares with: text, or an integer (compared as its decimal text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    Text(String),
    /// An integer.
    Integer(i64),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Integer(n) => n.to_string(),
        }
    }
}

/// What a field must be for the event to count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    /// Equal to this value: `/data/message/direction: inbound`.
    Equals(Scalar),
    /// Equal to one of these values: `channel: [sms, email]`.
    OneOf(Vec<Scalar>),
    /// Present (`{exists: true}`) or absent or null (`{exists: false}`).
    Exists {
        /// True: the field must be there; false: it must not.
        exists: bool,
    },
}

impl<'de> Deserialize<'de> for Condition {
    /// Read by hand rather than as an untagged enum, so a mistake gets a message saying what a
    /// condition may be instead of "no variant matched".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_json::Value;
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(Scalar::Text(s.clone())),
            Value::Number(n) => n.as_i64().map(Scalar::Integer),
            _ => None,
        };
        let expected = "a condition is a value (`inbound`), a list of values (`[sms, email]`), \
                        or `{exists: true}` / `{exists: false}`";
        let value = Value::deserialize(d)?;
        match &value {
            Value::Array(items) => items
                .iter()
                .map(|v| {
                    scalar(v).ok_or_else(|| {
                        D::Error::custom(format!(
                            "`{v}` in the list is not text or an integer; {expected}"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Condition::OneOf),
            Value::Object(map) => match (map.len(), map.get("exists")) {
                (1, Some(Value::Bool(exists))) => Ok(Condition::Exists { exists: *exists }),
                _ => Err(D::Error::custom(format!(
                    "`{value}` is not a condition; {expected}"
                ))),
            },
            other => scalar(other).map(Condition::Equals).ok_or_else(|| {
                D::Error::custom(format!("`{other}` is not a condition; {expected}"))
            }),
        }
    }
}

/// A condition compiled: where to look and what to want.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    /// The field name or pointer as written (named in the reason).
    subject: String,
    pointers: Vec<Pointer>,
    want: Want,
}

#[derive(Debug, Clone)]
enum Want {
    OneOf(Vec<String>),
    Exists(bool),
}

/// The field names a fingerprint or a SKU template may name.
pub const FIELD_NAMES: &[&str] = &[
    "interaction_id",
    "contact_id",
    "sender",
    "content",
    "channel",
    "sequence",
    "event_id",
    "timestamp",
    "media_type",
];

/// The default pointers of a field (`type` included), as the seed services' events have them.
pub(crate) fn defaults(field: &str) -> &'static [&'static str] {
    match field {
        "interaction_id" => &["/data/message/interactionId", "/data/interactionId"],
        "sender" => &["/data/message/senderId"],
        "content" => &["/data/message/content"],
        "channel" => &["/data/message/channel", "/data/channel"],
        "sequence" => &["/data/message/sequenceNumber"],
        "event_id" => &["/eventId"],
        "timestamp" => &["/createdAtWithMilliseconds", "/timestamp"],
        "media_type" => &["/data/mediaType"],
        "type" => &["/type", "/event_type", "/eventType"],
        _ => &[],
    }
}

/// A compiled event rule.
#[derive(Debug, Clone)]
pub struct EventRule {
    pub(crate) name: String,
    pub(crate) types: Vec<String>,
    pub(crate) type_at: Vec<Pointer>,
    /// Pointers per field (the known fields, then the extra fields).
    pub(crate) fields: BTreeMap<String, Vec<Pointer>>,
    /// The pointers of the [`FIELD_NAMES`] fields, in that order, for lookups without a map.
    known: Box<[Vec<Pointer>]>,
    pub(crate) dedup: bool,
    pub(crate) route: Option<String>,
    pub(crate) order_by: OrderBy,
    /// True when `fields.contact_id` is set: calls address it, and it must be there.
    pub(crate) contact_set: bool,
    pub(crate) conditions: Vec<CompiledCondition>,
}

/// Checks that a pointer is a JSON pointer (keyed selections allowed); the error carries a hint.
pub(crate) fn check_pointer(p: &str) -> Result<(), (String, String)> {
    Pointer::compile(p)
        .map(drop)
        .map_err(|e| (e.message, e.hint))
}

impl EventRule {
    /// Compiles a spec; pointer errors come back as (document path below the event, message, hint).
    pub(crate) fn compile(
        name: &str,
        spec: &EventSpec,
    ) -> Result<Self, Vec<(Vec<String>, String, String)>> {
        let mut errors = Vec::new();
        // `${VAR}` / `${VAR:-default}` in a field's pointers are read from the environment
        // (a custom field's ident, say, differs between tenants).
        let mut check = |path: Vec<String>, pointers: &mut Vec<String>| {
            for p in pointers.iter_mut() {
                if p.contains("${") {
                    match crate::env::substitute_env(p) {
                        Ok(text) => *p = text,
                        Err(e) => {
                            let hint = "set the variable, or give a default: `${NAME:-value}`";
                            errors.push((path.clone(), e, hint.into()));
                            continue;
                        }
                    }
                }
                if let Err((m, h)) = check_pointer(p) {
                    errors.push((path.clone(), m, h));
                }
            }
        };
        let mut type_at = spec
            .type_at
            .as_ref()
            .map(Pointers::list)
            .unwrap_or_else(|| owned(defaults("type")));
        check(vec!["type_at".into()], &mut type_at);
        let mut fields = BTreeMap::new();
        let f = &spec.fields;
        let given = [
            ("interaction_id", &f.interaction_id),
            ("contact_id", &f.contact_id),
            ("sender", &f.sender),
            ("content", &f.content),
            ("channel", &f.channel),
            ("sequence", &f.sequence),
            ("event_id", &f.event_id),
            ("timestamp", &f.timestamp),
            ("media_type", &f.media_type),
        ];
        for (field, value) in given {
            let mut list = value
                .as_ref()
                .map(Pointers::list)
                .unwrap_or_else(|| owned(defaults(field)));
            check(vec!["fields".into(), field.into()], &mut list);
            fields.insert(field.to_string(), list);
        }
        let mut shadowing = Vec::new();
        for (field, value) in &f.extra {
            let path = vec!["fields".into(), "extra".into(), field.clone()];
            if FIELD_NAMES.contains(&field.as_str()) {
                // It would silently replace the built-in field's pointers.
                shadowing.push((
                    path,
                    format!("`{field}` is a built-in field; an extra field cannot take its name"),
                    format!(
                        "set its pointers with `fields.{field}`, or name the extra field otherwise"
                    ),
                ));
                continue;
            }
            let mut list = value.list();
            check(path, &mut list);
            fields.insert(field.clone(), list);
        }
        errors.extend(shadowing);
        let parsed = |list: &[String]| -> Vec<Pointer> {
            list.iter().filter_map(|p| Pointer::parse(p)).collect()
        };
        let mut conditions = Vec::new();
        for (subject, condition) in &spec.when {
            let path = vec!["when".to_string(), subject.clone()];
            let pointers = if subject.starts_with('/') {
                match Pointer::compile(subject) {
                    Ok(p) => vec![p],
                    Err(e) => {
                        errors.push((path, e.message, e.hint));
                        continue;
                    }
                }
            } else if let Some(list) = fields.get(subject) {
                parsed(list)
            } else {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                errors.push((
                    path,
                    format!("`{subject}` is neither a field of this event rule nor a JSON pointer"),
                    format!(
                        "name a field ({}) or write a JSON pointer such as `/data/message/direction`",
                        names.join(", ")
                    ),
                ));
                continue;
            };
            let want = match condition {
                Condition::Equals(v) => Want::OneOf(vec![v.text()]),
                Condition::OneOf(list) if list.is_empty() => {
                    errors.push((
                        path,
                        "an empty list of values: no event could meet it".into(),
                        "list the values the field may have, e.g. `[sms, email]`".into(),
                    ));
                    continue;
                }
                Condition::OneOf(list) => Want::OneOf(list.iter().map(Scalar::text).collect()),
                Condition::Exists { exists } => Want::Exists(*exists),
            };
            conditions.push(CompiledCondition {
                subject: subject.clone(),
                pointers,
                want,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let type_at = parsed(&type_at);
        let fields: BTreeMap<String, Vec<Pointer>> =
            fields.into_iter().map(|(k, v)| (k, parsed(&v))).collect();
        let known = FIELD_NAMES
            .iter()
            .map(|f| fields.get(*f).cloned().unwrap_or_default())
            .collect();
        Ok(Self {
            name: name.to_string(),
            types: match &spec.types {
                Pointers::One(t) => vec![t.clone()],
                Pointers::Many(v) => v.clone(),
            },
            type_at,
            fields,
            known,
            dedup: spec.dedup,
            route: spec.route.clone(),
            order_by: spec.order_by,
            contact_set: f.contact_id.is_some(),
            conditions,
        })
    }

    /// Why `event` does not meet this rule's conditions; `None` when it meets them all.
    pub(crate) fn unmet<D: Document + ?Sized>(
        &self,
        event: &D,
    ) -> Result<Option<String>, EvalError> {
        for c in &self.conditions {
            let mut found = None;
            for p in &c.pointers {
                match event.lookup(p) {
                    Ok(Some(Field::Null)) | Ok(None) => continue,
                    Ok(Some(v)) => {
                        found = Some(v);
                        break;
                    }
                    Err(e) => return Err(shape(&c.subject, e)),
                }
            }
            let subject = &c.subject;
            let reason = match (&c.want, found) {
                (Want::Exists(true), None) => format!("`{subject}` is absent"),
                (Want::Exists(false), Some(_)) => format!("`{subject}` is present"),
                (Want::Exists(_), _) => continue,
                (Want::OneOf(values), None) => {
                    format!("`{subject}` is absent, not {}", listed(values))
                }
                (Want::OneOf(values), Some(v)) => {
                    let text = match &v {
                        Field::Str(s) => Some(s.to_string()),
                        Field::Number(n) => Some(n.to_string()),
                        _ => None,
                    };
                    match text {
                        Some(t) if values.contains(&t) => continue,
                        Some(t) => format!("`{subject}` is `{t}`, not {}", listed(values)),
                        None => format!(
                            "`{subject}` is not text or a number, not {}",
                            listed(values)
                        ),
                    }
                }
            };
            return Ok(Some(reason));
        }
        Ok(None)
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The event type values this rule applies to.
    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// True when `event` is of one of this rule's types.
    pub(crate) fn matches<D: Document + ?Sized>(&self, event: &D) -> Option<String> {
        let Field::Str(t) = self.type_at.iter().find_map(|p| event.get(p))? else {
            return None;
        };
        self.types.iter().any(|x| x == t).then(|| t.to_string())
    }

    /// A reader of `event`'s fields under this rule, each field looked up at most once.
    pub(crate) fn view<'r, 'e, D: Document + ?Sized>(
        &'r self,
        event: &'e D,
    ) -> EventView<'r, 'e, D> {
        EventView {
            rule: self,
            event,
            found: Default::default(),
        }
    }

    /// The error for a required field that is absent.
    pub(crate) fn missing(&self, field: &str) -> EvalError {
        EvalError::MissingField {
            field: field.to_string(),
            pointers: self
                .fields
                .get(field)
                .map(|ps| ps.iter().map(|p| p.as_str().to_string()).collect())
                .unwrap_or_default(),
        }
    }
}

/// Where a field was found: the pointer that matched and the value there; an error when a
/// keyed selection met a value that is not an array.
type Found<'r, 'e> = Result<Option<(&'r str, Field<'e>)>, NotAnArray>;

/// The values a condition wants, for its reason: `` `a` `` or one of `` `a`, `b` ``.
fn listed(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// The error for an event not shaped as a field's pointer says.
fn shape(field: &str, e: NotAnArray) -> EvalError {
    EvalError::NotAnArray {
        field: field.to_string(),
        reason: e.to_string(),
    }
}

/// One event read through one rule. The [`FIELD_NAMES`] fields are looked up once and
/// remembered, so dedup, fingerprinting and routing can all ask for `content` or `sender`
/// without walking the JSON again.
pub(crate) struct EventView<'r, 'e, D: ?Sized> {
    rule: &'r EventRule,
    event: &'e D,
    found: [OnceCell<Found<'r, 'e>>; FIELD_COUNT],
}

const FIELD_COUNT: usize = 9;
const _: () = assert!(FIELD_NAMES.len() == FIELD_COUNT);

impl<'r, 'e, D: Document + ?Sized> EventView<'r, 'e, D> {
    /// The rule this view reads through.
    pub(crate) fn rule(&self) -> &'r EventRule {
        self.rule
    }

    /// The event itself.
    pub(crate) fn event(&self) -> &'e D {
        self.event
    }

    /// Reads a text field (ids may also be integers); `None` when absent or JSON null.
    pub(crate) fn text(&self, field: &str) -> Result<Option<Cow<'e, str>>, EvalError> {
        let Some((pointer, value)) = self.find(field)? else {
            return Ok(None);
        };
        match value {
            Field::Null => Ok(None),
            Field::Str(s) => Ok(Some(Cow::Borrowed(s))),
            Field::Number(n) if field != "content" => Ok(Some(Cow::Owned(n.to_string()))),
            _ => Err(EvalError::WrongType {
                field: field.to_string(),
                pointer: pointer.to_string(),
                expected: if field == "content" {
                    "a string"
                } else {
                    "a string or an integer"
                },
            }),
        }
    }

    /// Reads an id-like field and rejects what must never reach a URL or a log line.
    pub(crate) fn id(&self, field: &str) -> Result<Option<Cow<'e, str>>, EvalError> {
        let value = self.text(field)?;
        if let Some(v) = &value {
            check_id(field, v)?;
        }
        Ok(value)
    }

    /// Like [`EventView::id`], but the field must be there.
    pub(crate) fn required_id(&self, field: &str) -> Result<Cow<'e, str>, EvalError> {
        match self.id(field)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(self.rule.missing(field)),
        }
    }

    /// The order key: sequence number, or timestamp in epoch ms, as `order_by` says.
    pub(crate) fn order(&self) -> Result<Option<i64>, EvalError> {
        let seq = || self.integer("sequence");
        let ts = || self.timestamp();
        match self.rule.order_by {
            OrderBy::None => Ok(None),
            OrderBy::Sequence => seq(),
            OrderBy::Timestamp => ts(),
            OrderBy::Auto => match seq()? {
                Some(s) => Ok(Some(s)),
                None => ts(),
            },
        }
    }

    fn integer(&self, field: &str) -> Result<Option<i64>, EvalError> {
        let Some((pointer, value)) = self.find(field)? else {
            return Ok(None);
        };
        match value {
            Field::Null => Ok(None),
            Field::Number(n) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong(field, pointer, "an integer")),
            _ => Err(wrong(field, pointer, "an integer")),
        }
    }

    fn timestamp(&self) -> Result<Option<i64>, EvalError> {
        let field = "timestamp";
        let Some((pointer, value)) = self.find(field)? else {
            return Ok(None);
        };
        let expected = "RFC 3339 text with an offset, or whole epoch milliseconds";
        match value {
            Field::Null => Ok(None),
            Field::Number(_) | Field::Str(_) => crate::timestamp::field_epoch_ms(&value)
                .map(Some)
                .ok_or_else(|| wrong(field, pointer, expected)),
            Field::Other => Err(wrong(field, pointer, expected)),
        }
    }

    fn find(&self, field: &str) -> Result<Option<(&'r str, Field<'e>)>, EvalError> {
        let search = |pointers: &'r [Pointer]| -> Found<'r, 'e> {
            for p in pointers {
                if let Some(v) = self.event.lookup(p)? {
                    return Ok(Some((p.as_str(), v)));
                }
            }
            Ok(None)
        };
        let found = match FIELD_NAMES.iter().position(|f| *f == field) {
            Some(slot) => self.found[slot]
                .get_or_init(|| search(&self.rule.known[slot]))
                .clone(),
            None => match self.rule.fields.get(field) {
                Some(pointers) => search(pointers),
                None => Ok(None),
            },
        };
        found.map_err(|e| shape(field, e))
    }
}

fn wrong(field: &str, pointer: &str, expected: &'static str) -> EvalError {
    EvalError::WrongType {
        field: field.to_string(),
        pointer: pointer.to_string(),
        expected,
    }
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Rejects ids that could smuggle anything into a URL, a header or a log line.
pub(crate) fn check_id(field: &str, value: &str) -> Result<(), EvalError> {
    let checked = segment::check_text(value).and_then(|()| match field {
        // Goes into URL paths, where a dot segment is a step even when percent-encoded.
        "interaction_id" | "contact_id" => segment::check_not_dot(value),
        _ => Ok(()),
    });
    checked.map_err(|e| EvalError::InvalidId {
        field: field.to_string(),
        reason: e.reason(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> EventSpec {
        crate::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn an_extra_field_cannot_shadow_a_built_in_one() {
        let spec = spec("type: a\nfields:\n  extra:\n    sender: /x\n    product: /p\n");
        let errors = EventRule::compile("rule", &spec).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (path, message, hint) = &errors[0];
        assert_eq!(path, &["fields", "extra", "sender"]);
        assert!(
            message.contains("`sender` is a built-in field"),
            "{message}"
        );
        assert!(hint.contains("fields.sender"), "{hint}");
    }

    #[test]
    fn extra_fields_with_their_own_names_compile() {
        let spec = spec("type: a\nfields:\n  extra:\n    product: /p\n");
        let rule = EventRule::compile("rule", &spec).unwrap();
        assert_eq!(rule.fields["product"][0].as_str(), "/p");
        assert_eq!(rule.fields["sender"][0].as_str(), "/data/message/senderId");
    }
}
