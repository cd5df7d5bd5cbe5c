//! cxrules-engine: compiles YAML rules for NICE CXone events and evaluates them — duplicate
//! suppression and inventory routing — with hot reload, for embedding in any tokio service.
//!
//! # Layout
//!
//! - [`document`]: what an event is read from: a `serde_json::Value`, or a
//!   [`document::ParsedEvent`] parsed from the JSON text without copying its strings.
//! - [`rulefile`], [`events`], [`dedup::config`], [`routing::route`], [`normalize`],
//!   [`testcase`]: the rule format. The serde types *are* the YAML; their doc comments become
//!   the JSON Schema's descriptions ([`schema`]).
//! - [`compile`]: load → validate → compile a directory into an immutable [`CompiledRules`],
//!   collecting every located [`diag::Diagnostic`].
//! - [`engine`]: [`Engine`] holds one `ArcSwap` of a snapshot: the compiled rules and their
//!   state (dedup stores, breakers, caches); [`evaluation`] evaluates one event on a snapshot
//!   into a [`Decision`]. The time comes from a [`clock::Clock`].
//! - [`dedup`]: fingerprints, the [`dedup::store::DedupStore`] trait and the in-memory store.
//! - [`routing`]: SKU templates, the [`routing::source::InventorySource`] trait and its HTTP
//!   implementation, circuit breaker, status cache.
//! - [`reload`] (feature `watch`): the directory watcher; [`status`]: reload status and errors.
//! - [`testrun`]: runs the rule files' own test cases (the reload gate and `cxrules test`).
//! - [`redact`]: an event's message text replaced by a keyed digest of its normalized form, so
//!   recorded events replay to the same dedup decisions without the text.
//! - [`segment`]: the id checks and the URL path-segment encoder the engine and its host share.
//! - [`yaml`]: the only module that names the YAML library.
//!
//! # Embedding
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! use cxrules_engine::{Engine, Outcome};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("dedup.yaml"), "
//! version: 1
//! normalizers:
//!   text: [trim, lowercase, collapse_whitespace]
//! events:
//!   message:
//!     type: conversations.messages.messageCreated
//!     dedup: true
//! dedup:
//!   default: { window: 45s, normalizer: text }
//! ").unwrap();
//!
//! let engine = Engine::from_dir(dir.path()).unwrap();
//! let event = |text: &str| serde_json::json!({
//!     "type": "conversations.messages.messageCreated",
//!     "data": {"message": {"interactionId": "i-1", "senderId": "c-9",
//!                          "content": text, "sequenceNumber": 1}}});
//! let first = engine.evaluate(&event("Hello  World")).await.unwrap().commit();
//! let resent = engine.evaluate(&event("  hello world ")).await.unwrap().commit();
//! assert_eq!(first.outcome, Outcome::Processed);
//! assert_eq!(resent.outcome, Outcome::Suppressed);
//! # });
//! ```
//!
//! # Routing, and rolling back what could not be acted on
//!
//! The service brings its own inventory client (or uses the HTTP one the rules describe), reads
//! the routing target from the decision, and commits only once its side effects are safely
//! queued. A rolled-back message is not remembered, so the sender's retry is processed again.
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! # rt.block_on(async {
//! use std::sync::Arc;
//!
//! use cxrules_engine::dedup::store::BoxFuture;
//! use cxrules_engine::routing::source::{InventorySource, LookupError, LookupRequest};
//! use cxrules_engine::{Engine, Outcome};
//!
//! /// The embedding service's own inventory.
//! struct Warehouse;
//!
//! impl InventorySource for Warehouse {
//!     fn lookup<'a>(
//!         &'a self,
//!         req: &'a LookupRequest<'a>,
//!     ) -> BoxFuture<'a, Result<String, LookupError>> {
//!         let status = if req.sku.ends_with("-7") { "in_stock" } else { "out_of_stock" };
//!         Box::pin(async move { Ok(status.to_owned()) })
//!     }
//! }
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("orders.yaml"), r#"
//! version: 1
//! events:
//!   order_message:
//!     type: order.message
//!     fields: { interaction_id: /id, sender: /from, content: /text }
//!     dedup: true
//!     route: stock
//! dedup:
//!   default: { window: 45s }
//! routing:
//!   stock:
//!     sku: { template: "SKU-{interaction_id}" }
//!     inventory: { url: "https://inventory.example/products/{sku}", timeout: 2s }
//!     statuses:
//!       in_stock: { skills: [premium] }
//!     unknown: { queues: [general] }
//!     fallback: { queues: [general] }
//! "#).unwrap();
//!
//! let engine = Engine::builder(dir.path())
//!     .inventory(Arc::new(Warehouse))
//!     .build()
//!     .unwrap();
//! let event = serde_json::json!({"type": "order.message", "id": "int-7", "from": "c-1",
//!                                "text": "Where is my order?"});
//!
//! let evaluation = engine.evaluate(&event).await.unwrap();
//! let routing = evaluation.decision.routing.clone().expect("a routed event");
//! assert_eq!((routing.sku.as_str(), routing.status.as_deref()), ("SKU-int-7", Some("in_stock")));
//! assert_eq!(routing.skills, ["premium"]);
//!
//! // Say the service's queue was full: it answers 503 and forgets the message.
//! evaluation.rollback().await;
//! // The sender retries: processed (not a duplicate), and committed this time.
//! let retry = engine.evaluate(&event).await.unwrap().commit();
//! assert_eq!(retry.outcome, Outcome::Processed);
//! // A third delivery is a duplicate.
//! let again = engine.evaluate(&event).await.unwrap().commit();
//! assert_eq!(again.outcome, Outcome::Suppressed);
//! # });
//! ```

pub mod clock;
pub mod compile;
pub mod decision;
pub mod dedup;
pub mod diag;
pub mod document;
pub mod duration;
pub mod engine;
pub mod env;
pub mod evaluation;
pub mod events;
pub mod hint;
mod limit;
mod locate;
pub mod normalize;
pub mod pointer;
pub mod redact;
#[cfg(feature = "watch")]
pub mod reload;
pub mod replay;
pub mod routing;
pub mod rulefile;
pub mod schema;
pub mod segment;
mod snapshot;
pub mod sources;
pub mod status;
pub mod testcase;
pub mod testrun;
pub mod timestamp;
pub mod yaml;

pub use compile::CompiledRules;
pub use decision::{Decision, DedupDecision, EvalError, Outcome, RoutingDecision};
pub use document::{Document, ParsedEvent};
pub use engine::{Engine, EngineBuilder};
pub use evaluation::Evaluation;
pub use status::{LoadError, ReloadReport, ReloadStatus};
