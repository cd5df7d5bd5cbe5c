//! A routing rule: SKU from the event, inventory lookup, status → skills/queues, with fallbacks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::dedup::memory::MemoryStore;
use crate::dedup::store::{Fingerprint, WindowPolicy};
use crate::document::{Document, Field};
use crate::duration::DurationStr;
use crate::pointer::Pointer;

use super::breaker::{BreakerState, CircuitBreaker};
use super::cache::StatusCache;
use super::lookup::{at, substituted, LookupSettings, RouteError};
use super::sku::{Placeholder, SkuTemplate};
use super::source::{InventorySource, LookupError, LookupRequest};
use super::target::{FallbackReason, RouteMatch, SkillId, TargetSpec};
use crate::clock::Clock;
use crate::decision::{EvalError, RoutingDecision};
use crate::events::{EventView, FIELD_NAMES};
use crate::segment::{encode_path_segment, safe_path_segment};

pub use super::spec::{InventorySpec, RouteSpec, SkuCase, SkuSpec};

/// A compiled routing rule.
#[derive(Debug, Clone)]
pub struct Route {
    name: String,
    sku: CompiledSku,
    lookup: LookupSettings,
    statuses: BTreeMap<String, TargetSpec>,
    unknown: TargetSpec,
    fallback: TargetSpec,
    /// How long a routed interaction (or event id) is remembered, when re-deliveries are
    /// recognised.
    redelivery_window: Option<Duration>,
}

#[derive(Debug, Clone)]
struct CompiledSku {
    field: Option<String>,
    template: Option<SkuTemplate>,
    cases: Vec<(String, Vec<String>, SkuTemplate)>,
}

/// Most interactions a route remembers as routed; the oldest is forgotten beyond it (about 100
/// bytes each in the memory store).
const ROUTED_INTERACTIONS: usize = 1_000_000;

/// Breaker and cache of one route; kept across reloads while the route's lookup settings hold.
#[derive(Debug)]
pub struct RouteState {
    breaker: CircuitBreaker,
    cache: Option<StatusCache>,
    /// The interactions (and event ids) routed within the redelivery window.
    routed: Option<Arc<MemoryStore>>,
    /// The settings they were made for: everything that gives the cached statuses, the
    /// breaker's record and the routed interactions their meaning.
    fits: (LookupSettings, Option<Duration>),
}

impl RouteState {
    pub(crate) fn new(route: &Route) -> Self {
        let lookup = &route.lookup;
        let routed = route.redelivery_window.map(|window| {
            Arc::new(MemoryStore::new(WindowPolicy {
                window,
                sliding: false,
                max_interactions: ROUTED_INTERACTIONS,
                max_fingerprints: 16,
            }))
        });
        Self {
            breaker: CircuitBreaker::new(lookup.breaker),
            cache: lookup.cache.map(|(ttl, max)| StatusCache::new(ttl, max)),
            routed,
            fits: (lookup.clone(), route.redelivery_window),
        }
    }

    /// True when this state was made for the same settings.
    pub(crate) fn fits(&self, route: &Route) -> bool {
        self.fits.0 == route.lookup && self.fits.1 == route.redelivery_window
    }

    /// Where routed interactions are remembered, when the route recognises re-deliveries.
    pub(crate) fn routed(&self) -> Option<&Arc<MemoryStore>> {
        self.routed.as_ref()
    }

    /// The breaker's state, for status pages.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }
}

fn template(
    src: &str,
    known: &[&str],
    path: Vec<String>,
    errors: &mut Vec<RouteError>,
) -> Option<SkuTemplate> {
    SkuTemplate::compile(src, known)
        .map_err(|e| {
            let hint = e.hint.clone().unwrap_or_else(|| "placeholders are `{field}` or `{/json/pointer}`, filters `upper`, `lower`, `trim`, `first:N`, `last:N`".into());
            errors.push((path, format!("in template `{src}`: {e}"), hint))
        })
        .ok()
}

/// Pushes an error when `field` is not one of the `known` field names.
fn known_field(field: &str, known: &[&str], path: Vec<String>, errors: &mut Vec<RouteError>) {
    if !known.contains(&field) {
        errors.push((
            path,
            format!("unknown field `{field}`"),
            crate::hint::unknown_name_hint(field, known.iter().copied()),
        ));
    }
}

/// The `index`th SKU case: a known field and a template that compiles.
fn sku_case(
    index: usize,
    case: &SkuCase,
    known: &[&str],
    errors: &mut Vec<RouteError>,
) -> Option<(String, Vec<String>, SkuTemplate)> {
    let index = index.to_string();
    let field = at(&["sku", "cases", &index, "field"]);
    known_field(&case.field, known, field, errors);
    let path = at(&["sku", "cases", &index, "template"]);
    let template = template(&case.template, known, path, errors)?;
    Some((case.field.clone(), case.equals.clone(), template))
}

/// A target with `${VAR}` substituted in its skill and queue ids (ids often differ between a
/// test and a production tenant).
fn substituted_target(
    target: &TargetSpec,
    path: &[&str],
    errors: &mut Vec<RouteError>,
) -> TargetSpec {
    let mut out = target.clone();
    for (list, ids) in [("skills", &mut out.skills), ("queues", &mut out.queues)] {
        for (index, id) in ids.iter_mut().enumerate() {
            if !id.contains("${") {
                continue;
            }
            let index = index.to_string();
            let at_id = at(&[path, &[list, index.as_str()]].concat());
            if let Some(value) = substituted(id, at_id, errors) {
                *id = value;
            }
        }
    }
    if let Some(SkillId::Text(text)) = &out.skill_id {
        let at_id = at(&[path, &["skill_id"]].concat());
        out.skill_id = substituted(text, at_id.clone(), errors).and_then(|value| {
            match value.trim().parse::<u64>() {
                Ok(n) => Some(SkillId::Number(n)),
                Err(_) => {
                    errors.push((
                        at_id,
                        format!("skill_id `{value}` is not a whole number"),
                        "give the CXone skill's number, e.g. `4512` or `${SKILL_ID:-4512}`".into(),
                    ));
                    None
                }
            }
        });
    }
    out
}

/// The redelivery window: a duration of at least 1 s (a shorter one would not outlast a
/// sender's retry) and at most a day.
fn redelivery_window(
    written: Option<&DurationStr>,
    errors: &mut Vec<RouteError>,
) -> Option<Duration> {
    let window = written?
        .parse()
        .map_err(|e| errors.push((at(&["redelivery_window"]), e, DurationStr::HINT.into())))
        .ok()?;
    let range = Duration::from_secs(1)..=Duration::from_secs(86_400);
    if !range.contains(&window) {
        errors.push((
            at(&["redelivery_window"]),
            format!("a redelivery window of {window:?} is out of range"),
            "give a window from 1s to 24h, longer than the sender's retries last".into(),
        ));
        return None;
    }
    Some(window)
}

/// What a route remembers of a routed event: its event id when it has one, else only that the
/// interaction was routed (one key for every event of the interaction).
pub(crate) fn routed_key(event_id: Option<&str>) -> Fingerprint {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    match event_id {
        Some(id) => {
            hash.update(b"event id\0");
            hash.update(id.as_bytes());
        }
        None => hash.update(b"interaction"),
    }
    hash.finalize().into()
}

impl Route {
    /// Compiles a route; `extra` are the extra field names the events define. Every problem is
    /// reported, located below the route: the SKU, then each inventory setting, then the
    /// targets.
    pub(crate) fn compile(
        name: &str,
        spec: &RouteSpec,
        extra: &[String],
    ) -> Result<Route, Vec<RouteError>> {
        let mut errors = Vec::new();
        let known: Vec<&str> = FIELD_NAMES
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            .collect();
        let sku = Self::compile_sku(&spec.sku, &known, &mut errors);
        let lookup = LookupSettings::compile(&spec.inventory, &mut errors);
        let statuses = spec
            .statuses
            .iter()
            .map(|(status, target)| {
                let target = substituted_target(target, &["statuses", status], &mut errors);
                (status.clone(), target)
            })
            .collect();
        let unknown = substituted_target(&spec.unknown, &["unknown"], &mut errors);
        let fallback = substituted_target(&spec.fallback, &["fallback"], &mut errors);
        let redelivery_window = redelivery_window(spec.redelivery_window.as_ref(), &mut errors);
        match sku {
            Some(sku) if errors.is_empty() => Ok(Route {
                name: name.to_string(),
                sku,
                lookup,
                statuses,
                unknown,
                fallback,
                redelivery_window,
            }),
            _ => Err(errors),
        }
    }

    /// The SKU: exactly one of `field` and `template`, plus the cases, each naming known fields.
    fn compile_sku(
        spec: &SkuSpec,
        known: &[&str],
        errors: &mut Vec<RouteError>,
    ) -> Option<CompiledSku> {
        let before = errors.len();
        if spec.field.is_some() == spec.template.is_some() {
            errors.push((at(&["sku"]), "the sku needs exactly one of `field` and `template`".into(), "write `sku: { template: \"SKU-{interaction_id|last:6}\" }` or `sku: { field: media_type }`".into()));
        }
        if let Some(f) = &spec.field {
            if !f.starts_with('/') {
                known_field(f, known, at(&["sku", "field"]), errors);
            }
        }
        let main = spec
            .template
            .as_ref()
            .and_then(|t| template(t, known, at(&["sku", "template"]), errors));
        let cases: Vec<_> = spec
            .cases
            .iter()
            .enumerate()
            .filter_map(|(i, case)| sku_case(i, case, known, errors))
            .collect();
        (errors.len() == before).then(|| CompiledSku {
            field: spec.field.clone(),
            template: main,
            cases,
        })
    }

    /// The SKU for an event; a field the SKU needs that the event lacks is the sender's error.
    pub(crate) fn sku<D: Document + ?Sized>(
        &self,
        view: &EventView<'_, '_, D>,
    ) -> Result<String, EvalError> {
        let (rule, event) = (view.rule(), view.event());
        let value = |name: &str| -> Result<Option<String>, EvalError> {
            if name.starts_with('/') {
                let value = Pointer::parse(name).and_then(|p| event.get(&p));
                return Ok(value.and_then(|v| match v {
                    Field::Str(s) => Some(s.to_owned()),
                    Field::Number(n) => Some(n.to_string()),
                    _ => None,
                }));
            }
            Ok(view.text(name)?.map(|c| c.into_owned()))
        };
        let sku = if let Some(field) = &self.sku.field {
            value(field)?.ok_or_else(|| rule.missing(field))?
        } else {
            let mut chosen = self.sku.template.as_ref();
            for (field, equals, t) in &self.sku.cases {
                if value(field)?.is_some_and(|v| equals.contains(&v)) {
                    chosen = Some(t);
                    break;
                }
            }
            let t = chosen.expect("a compiled sku has a template when it has no field");
            let mut values: BTreeMap<String, String> = BTreeMap::new();
            for p in t.placeholders() {
                let name = match p {
                    Placeholder::Field(f) | Placeholder::Pointer(f) => f,
                };
                if let Some(v) = value(name)? {
                    values.insert(name.clone(), v);
                }
            }
            t.render(|p| match p {
                Placeholder::Field(f) | Placeholder::Pointer(f) => {
                    values.get(f).map(String::as_str)
                }
            })
            .map_err(|e| match e.placeholder {
                Placeholder::Field(field) => rule.missing(&field),
                Placeholder::Pointer(pointer) => EvalError::MissingField {
                    field: pointer.clone(),
                    pointers: vec![pointer],
                },
            })?
        };
        crate::events::check_id("sku", &sku)?;
        if safe_path_segment(&sku).is_none() {
            return Err(EvalError::InvalidId {
                field: "sku".into(),
                reason: format!("`{sku}` cannot be one URL path segment (empty, `.` or `..`)"),
            });
        }
        Ok(sku)
    }

    /// Looks the SKU up (cache, breaker, strict timeout) and maps the answer to a target.
    pub(crate) async fn evaluate(
        &self,
        sku: String,
        state: &RouteState,
        inventory: &dyn InventorySource,
        clock: &Clock,
    ) -> RoutingDecision {
        let now = clock();
        if let Some(status) = state.cache.as_ref().and_then(|c| c.get(&sku, now)) {
            return self.decide(sku, Ok(status), None, true);
        }
        let Ok(permit) = state.breaker.try_acquire(now) else {
            return self.fall_back(
                sku,
                FallbackReason::BreakerOpen,
                None,
                "circuit breaker open".into(),
            );
        };
        let lookup = &self.lookup;
        let url = lookup.url.replace("{sku}", &encode_path_segment(&sku));
        let req = LookupRequest {
            sku: &sku,
            url: &url,
            timeout: lookup.timeout,
            status_pointer: &lookup.status_at,
            headers: &lookup.headers,
        };
        let started = std::time::Instant::now();
        // The deadline is enforced here as well, so an embedder's source cannot stall routing.
        let result = match tokio::time::timeout(lookup.timeout, inventory.lookup(&req)).await {
            Ok(r) => r,
            Err(_) => Err(LookupError::Timeout),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        // The failures that lead to a fallback are the ones the breaker counts.
        let failed = result
            .as_ref()
            .err()
            .and_then(FallbackReason::for_lookup_error)
            .is_some();
        state.breaker.record(permit, !failed, clock());
        if let (Ok(status), Some(cache)) = (&result, &state.cache) {
            cache.insert(&sku, status.clone(), now);
        }
        self.decide(sku, result, Some(ms), false)
    }

    fn decide(
        &self,
        sku: String,
        result: Result<String, LookupError>,
        ms: Option<f64>,
        cached: bool,
    ) -> RoutingDecision {
        let (status, matched, target, reason, error) = match result {
            Ok(status) => match self.statuses.get(&status) {
                Some(t) => (Some(status), RouteMatch::Status, t, None, None),
                None => (Some(status), RouteMatch::Unknown, &self.unknown, None, None),
            },
            Err(e) => match FallbackReason::for_lookup_error(&e) {
                None => (
                    None,
                    RouteMatch::Unknown,
                    &self.unknown,
                    None,
                    Some(e.to_string()),
                ),
                Some(reason) => (
                    None,
                    RouteMatch::Fallback,
                    &self.fallback,
                    Some(reason),
                    Some(e.to_string()),
                ),
            },
        };
        RoutingDecision {
            route: self.name.clone(),
            sku,
            status,
            matched,
            reason,
            skills: target.skills.clone(),
            queues: target.queues.clone(),
            skill_id: target.skill_id.as_ref().and_then(SkillId::number),
            lookup_ms: ms,
            cached,
            error,
        }
    }

    /// The named event fields the SKU reads (its field, its templates, its cases), each once.
    pub(crate) fn fields(&self) -> Vec<&str> {
        let sku = &self.sku;
        let mut fields: Vec<&str> = Vec::new();
        let named = sku
            .field
            .iter()
            .map(String::as_str)
            .filter(|f| !f.starts_with('/'));
        let templates = sku
            .template
            .iter()
            .chain(sku.cases.iter().map(|(_, _, t)| t));
        let cases = sku.cases.iter().map(|(field, _, _)| field.as_str());
        for field in named
            .chain(cases)
            .chain(templates.flat_map(SkuTemplate::fields))
        {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields
    }

    /// True when the route recognises re-delivered events.
    pub(crate) fn recognises_redeliveries(&self) -> bool {
        self.redelivery_window.is_some()
    }

    /// The decision for an event whose interaction (or event id) was routed already.
    pub(crate) fn redelivered(&self, sku: String) -> RoutingDecision {
        RoutingDecision {
            route: self.name.clone(),
            sku,
            status: None,
            matched: RouteMatch::Redelivery,
            reason: None,
            skills: Vec::new(),
            queues: Vec::new(),
            skill_id: None,
            lookup_ms: None,
            cached: false,
            error: None,
        }
    }

    fn fall_back(
        &self,
        sku: String,
        reason: FallbackReason,
        ms: Option<f64>,
        error: String,
    ) -> RoutingDecision {
        let mut d = self.decide(sku, Err(LookupError::Timeout), ms, false);
        d.reason = Some(reason);
        d.error = Some(error);
        d
    }
}
