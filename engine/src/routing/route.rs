//! A routing rule: SKU from the event, inventory lookup, status → skills/queues, with fallbacks.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::document::{Document, Field};
use crate::pointer::Pointer;

use super::breaker::{BreakerPolicy, BreakerState, CircuitBreaker};
use super::cache::StatusCache;
use super::sku::{encode_path_segment, Placeholder, SkuTemplate};
use super::source::{InventorySource, LookupError, LookupRequest};
use super::target::{FallbackReason, RouteMatch, TargetSpec};
use crate::decision::{EvalError, RoutingDecision};
use crate::duration::DurationStr;
use crate::engine::Clock;
use crate::events::{check_pointer, EventView, FIELD_NAMES};

pub use super::spec::{InventorySpec, RouteSpec, SkuCase, SkuSpec};

/// A compiled routing rule.
#[derive(Debug, Clone)]
pub struct Route {
    name: String,
    sku: CompiledSku,
    url: String,
    timeout: Duration,
    status_at: String,
    headers: Vec<(String, String)>,
    cache: Option<(Duration, usize)>,
    breaker: BreakerPolicy,
    statuses: BTreeMap<String, TargetSpec>,
    unknown: TargetSpec,
    fallback: TargetSpec,
}

#[derive(Debug, Clone)]
struct CompiledSku {
    field: Option<String>,
    template: Option<SkuTemplate>,
    cases: Vec<(String, Vec<String>, SkuTemplate)>,
}

/// A located compile problem: (path below the route, message, hint).
type RouteError = (Vec<String>, String, String);

/// Breaker and cache of one route; kept across reloads while the route's inventory settings hold.
#[derive(Debug)]
pub struct RouteState {
    breaker: CircuitBreaker,
    cache: Option<StatusCache>,
    /// Everything that gives the cached statuses and the breaker's record their meaning.
    fits: String,
}

impl RouteState {
    pub(crate) fn new(route: &Route) -> Self {
        Self {
            breaker: CircuitBreaker::new(route.breaker),
            cache: route.cache.map(|(ttl, max)| StatusCache::new(ttl, max)),
            fits: route.identity(),
        }
    }

    /// True when this state was made for the same inventory settings.
    pub(crate) fn fits(&self, route: &Route) -> bool {
        self.fits == route.identity()
    }

    /// The breaker's state, for status pages.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }
}

fn at(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
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

fn substituted(text: &str, path: Vec<String>, errors: &mut Vec<RouteError>) -> Option<String> {
    crate::env::substitute_env(text)
        .map_err(|e| {
            errors.push((
                path,
                e,
                "set the variable, or give a default: `${NAME:-value}`".into(),
            ))
        })
        .ok()
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
    out
}

impl Route {
    /// The inventory settings a route's breaker and cache depend on: a reload that changes any
    /// of them starts both afresh.
    fn identity(&self) -> String {
        format!(
            "{:?}|{:?}|{}|{:?}|{}|{:?}",
            self.breaker, self.cache, self.url, self.timeout, self.status_at, self.headers
        )
    }

    /// Compiles a route; `extra` are the extra field names the events define.
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
        let inv = &spec.inventory;
        let url = substituted(&inv.url, at(&["inventory", "url"]), &mut errors).unwrap_or_default();
        if !errors
            .iter()
            .any(|(p, _, _)| p == &at(&["inventory", "url"]))
        {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                errors.push((
                    at(&["inventory", "url"]),
                    format!("the inventory url `{url}` is not an http(s) URL"),
                    "write a URL such as `${INVENTORY_API_URL}/{sku}`".into(),
                ));
            } else if !url.contains("{sku}") {
                errors.push((at(&["inventory", "url"]), "the inventory url has no `{sku}` placeholder".into(), "add `{sku}` where the SKU goes, e.g. `https://inventory.example.com/products/{sku}`".into()));
            }
        }
        let timeout = substituted(&inv.timeout, at(&["inventory", "timeout"]), &mut errors)
            .map(|t| {
                if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
                    format!("{t}ms")
                } else {
                    t
                }
            })
            .and_then(|t| {
                DurationStr(t)
                    .parse()
                    .map_err(|e| {
                        errors.push((at(&["inventory", "timeout"]), e, DurationStr::HINT.into()))
                    })
                    .ok()
            })
            .unwrap_or_default();
        if let Err((m, h)) = check_pointer(&inv.status_at) {
            errors.push((at(&["inventory", "status_at"]), m, h));
        }
        let mut headers = Vec::new();
        for (k, v) in &inv.headers {
            let valid_name = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid_name {
                errors.push((
                    at(&["inventory", "headers", k]),
                    format!("`{k}` is not a valid HTTP header name"),
                    "use letters, digits and `-`, e.g. `X-Api-Key`".into(),
                ));
                continue;
            }
            if let Some(v) = substituted(v, at(&["inventory", "headers", k]), &mut errors) {
                if v.chars().any(char::is_control) {
                    errors.push((
                        at(&["inventory", "headers", k]),
                        format!("the value of header `{k}` contains control characters"),
                        "remove line breaks and other control characters from the value".into(),
                    ));
                    continue;
                }
                headers.push((k.clone(), v));
            }
        }
        let cache = match &inv.cache_ttl {
            None => None,
            Some(ttl) => ttl
                .parse()
                .map_err(|e| {
                    errors.push((at(&["inventory", "cache_ttl"]), e, DurationStr::HINT.into()))
                })
                .ok()
                .map(|ttl| (ttl, inv.cache_max_entries.unwrap_or(10_000))),
        };
        let open_for = DurationStr(inv.breaker.open_for.clone())
            .parse()
            .map_err(|e| {
                errors.push((
                    at(&["inventory", "breaker", "open_for"]),
                    e,
                    DurationStr::HINT.into(),
                ))
            })
            .unwrap_or_default();
        if inv.breaker.failures == 0 {
            errors.push((
                at(&["inventory", "breaker", "failures"]),
                "the breaker needs at least 1 failure to open".into(),
                "write `failures: 5`".into(),
            ));
        }
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
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Route {
            name: name.to_string(),
            sku: sku.expect("no errors means the sku compiled"),
            url,
            timeout,
            status_at: inv.status_at.clone(),
            headers,
            cache,
            breaker: BreakerPolicy {
                failures: inv.breaker.failures,
                open_for,
            },
            statuses,
            unknown,
            fallback,
        })
    }

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
            if !f.starts_with('/') && !known.contains(&f.as_str()) {
                errors.push((
                    at(&["sku", "field"]),
                    format!("unknown field `{f}`"),
                    crate::hint::unknown_name_hint(f, known.iter().copied()),
                ));
            }
        }
        let main = spec
            .template
            .as_ref()
            .and_then(|t| template(t, known, at(&["sku", "template"]), errors));
        let mut cases = Vec::new();
        for (i, c) in spec.cases.iter().enumerate() {
            let base = ["sku".to_string(), "cases".to_string(), i.to_string()];
            if !known.contains(&c.field.as_str()) {
                let path: Vec<String> = base.iter().cloned().chain(["field".to_string()]).collect();
                errors.push((
                    path,
                    format!("unknown field `{}`", c.field),
                    crate::hint::unknown_name_hint(&c.field, known.iter().copied()),
                ));
            }
            let path: Vec<String> = base
                .iter()
                .cloned()
                .chain(["template".to_string()])
                .collect();
            if let Some(t) = template(&c.template, known, path, errors) {
                cases.push((c.field.clone(), c.equals.clone(), t));
            }
        }
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
        if super::sku::safe_path_segment(&sku).is_none() {
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
        let url = self.url.replace("{sku}", &encode_path_segment(&sku));
        let req = LookupRequest {
            sku: &sku,
            url: &url,
            timeout: self.timeout,
            status_pointer: &self.status_at,
            headers: &self.headers,
        };
        let started = std::time::Instant::now();
        // The deadline is enforced here as well, so an embedder's source cannot stall routing.
        let result = match tokio::time::timeout(self.timeout, inventory.lookup(&req)).await {
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
            skill_id: target.skill_id,
            lookup_ms: ms,
            cached,
            error,
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
