//! The inventory the shadow rules see: the live lookup's answer for the event being compared,
//! handed over in a task-local, so the shadow never calls the inventory itself.

use cxrules_engine::dedup::store::BoxFuture;
use cxrules_engine::routing::source::{InventorySource, LookupError, LookupRequest};
use cxrules_engine::routing::target::{FallbackReason, RouteMatch};
use cxrules_engine::Decision;

tokio::task_local! {
    /// The live answer of the event the shadow is evaluating now.
    static LIVE_ANSWER: LiveAnswer;
}

/// What the live rules' inventory lookup gave for one event: the SKU looked up and its answer,
/// rebuilt from the live decision (a status, or the failure behind a fallback). `None` when the
/// live rules made no lookup (no route, a re-delivery, an open breaker).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveAnswer {
    lookup: Option<(String, Result<String, LookupError>)>,
}

impl LiveAnswer {
    /// The answer the live decision was made with.
    pub fn of(live: &Decision) -> Self {
        let Some(r) = &live.routing else {
            return Self::default();
        };
        let error = || r.error.clone().unwrap_or_default();
        let answer = match (&r.status, r.reason) {
            (Some(status), _) => Ok(status.clone()),
            (None, Some(FallbackReason::Timeout)) => Err(LookupError::Timeout),
            (None, Some(FallbackReason::UpstreamError)) => {
                Err(LookupError::Upstream(status_code(&error()).unwrap_or(502)))
            }
            (None, Some(FallbackReason::RateLimited)) => Err(LookupError::Client(429)),
            (None, Some(FallbackReason::Unreachable)) => Err(LookupError::Unreachable(error())),
            (None, Some(FallbackReason::BadResponse)) => Err(LookupError::BadResponse(error())),
            (None, None) if r.matched == RouteMatch::Unknown => Err(LookupError::NoStatus(error())),
            // An open breaker or a re-delivery: no lookup was made.
            _ => return Self::default(),
        };
        Self {
            lookup: Some((r.sku.clone(), answer)),
        }
    }

    fn answer_for(&self, sku: &str) -> Result<String, LookupError> {
        match &self.lookup {
            Some((looked_up, answer)) if looked_up == sku => answer.clone(),
            _ => Err(LookupError::Unreachable(format!(
                "no live lookup for sku `{sku}`: the shadow rules ask no inventory of their own"
            ))),
        }
    }

    /// Runs `work` (a shadow evaluation) with this answer as the inventory's.
    pub async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        LIVE_ANSWER.scope(self, work).await
    }
}

/// The first three-digit number in an error text (`inventory answered 503`).
fn status_code(text: &str) -> Option<u16> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 3)
        .and_then(|w| w.parse().ok())
}

/// The shadow engine's inventory: answers from the [`LiveAnswer`] in scope, and with
/// "unreachable" outside one or for another SKU. Makes no call.
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedAnswers;

impl InventorySource for SharedAnswers {
    fn lookup<'a>(
        &'a self,
        req: &'a LookupRequest<'a>,
    ) -> BoxFuture<'a, Result<String, LookupError>> {
        // Read when polled, so the answer is the one in scope where the lookup is awaited.
        Box::pin(async move {
            LIVE_ANSWER
                .try_with(|live| live.answer_for(req.sku))
                .unwrap_or_else(|_| LiveAnswer::default().answer_for(req.sku))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_code_is_read_from_the_error_text() {
        assert_eq!(status_code("inventory answered 503"), Some(503));
        assert_eq!(status_code("no digits"), None);
        assert_eq!(status_code("port 8080 said 500"), Some(500));
    }

    #[tokio::test]
    async fn outside_a_scope_or_for_another_sku_the_answer_is_unreachable() {
        let req = LookupRequest {
            sku: "SKU-1",
            url: "http://127.0.0.1:9/SKU-1",
            timeout: std::time::Duration::from_secs(1),
            status_pointer: "/status",
            headers: &[],
        };
        assert!(matches!(
            SharedAnswers.lookup(&req).await,
            Err(LookupError::Unreachable(_))
        ));
        let live = LiveAnswer {
            lookup: Some(("SKU-1".into(), Ok("in_stock".into()))),
        };
        let got = live.clone().scope(SharedAnswers.lookup(&req)).await;
        assert_eq!(got, Ok("in_stock".into()));
        let other = LookupRequest {
            sku: "SKU-2",
            ..req
        };
        let got = live.scope(SharedAnswers.lookup(&other)).await;
        assert!(matches!(got, Err(LookupError::Unreachable(_))));
    }
}
