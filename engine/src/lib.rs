//! cxrules-engine: compiles YAML rules for NICE CXone events and evaluates them — duplicate
//! suppression and inventory routing — with hot reload, for embedding in any tokio service.
//!
//! # Layout
//!
//! - [`rulefile`], [`events`], [`dedup::config`], [`routing::route`], [`normalize`],
//!   [`testcase`]: the rule format. The serde types *are* the YAML; their doc comments become
//!   the JSON Schema's descriptions ([`schema`]).
//! - [`compile`]: load → validate → compile a directory into an immutable [`CompiledRules`],
//!   collecting every located [`diag::Diagnostic`].
//! - [`engine`]: [`Engine`] holds one `ArcSwap` of the compiled rules and their state (dedup
//!   stores, breakers, caches) and evaluates events into a [`Decision`].
//! - [`dedup`]: fingerprints, the [`dedup::store::DedupStore`] trait and the in-memory store.
//! - [`routing`]: SKU templates, the [`routing::source::InventorySource`] trait and its HTTP
//!   implementation, circuit breaker, status cache.
//! - [`reload`] (feature `watch`): the directory watcher; [`status`]: reload status and errors.
//! - [`testrun`]: runs the rule files' own test cases (the reload gate and `cxrules test`).
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

pub mod compile;
pub mod decision;
pub mod dedup;
pub mod diag;
pub mod duration;
pub mod engine;
pub mod env;
pub mod evaluation;
pub mod events;
pub mod hint;
mod locate;
pub mod normalize;
pub mod pointer;
#[cfg(feature = "watch")]
pub mod reload;
pub mod replay;
pub mod routing;
pub mod rulefile;
pub mod schema;
pub mod sources;
pub mod status;
pub mod testcase;
pub mod testrun;
pub mod timestamp;
pub mod yaml;

pub use compile::CompiledRules;
pub use decision::{Decision, DedupDecision, EvalError, Outcome, RoutingDecision};
pub use engine::{Engine, EngineBuilder};
pub use evaluation::Evaluation;
pub use status::{LoadError, ReloadReport, ReloadStatus};
