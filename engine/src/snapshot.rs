//! The rules and the state made for them (dedup stores, breakers, caches), swapped as one.
//!
//! A snapshot is what one event is evaluated on. A new snapshot keeps the previous one's state
//! where the settings that give it meaning did not change: windows are state, rules a program.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::compile::CompiledRules;
use crate::dedup::config::{Channel, ChannelIdentity};
use crate::dedup::memory::MemoryStore;
use crate::dedup::store::DedupStore;
use crate::routing::route::RouteState;

/// Makes the store for one dedup channel (in memory by default).
pub type StoreFactory = Arc<dyn Fn(&Channel) -> Arc<dyn DedupStore> + Send + Sync>;

/// The default store factory: a [`MemoryStore`] per channel.
pub(crate) fn memory_stores() -> StoreFactory {
    Arc::new(|ch| Arc::new(MemoryStore::new(ch.policy().clone())) as Arc<dyn DedupStore>)
}

/// The rules and the state that goes with them.
pub(crate) struct Snapshot {
    pub(crate) rules: Arc<CompiledRules>,
    /// Dedup store per channel name, with the identity of the channel it was made for.
    pub(crate) stores: BTreeMap<String, (ChannelIdentity, Arc<dyn DedupStore>)>,
    /// Breaker and cache per route name.
    pub(crate) routes: BTreeMap<String, Arc<RouteState>>,
}

impl Snapshot {
    /// A snapshot for `rules`, keeping the stores and route states of `previous` whose settings
    /// did not change.
    pub(crate) fn new(
        rules: Arc<CompiledRules>,
        previous: Option<&Snapshot>,
        factory: &StoreFactory,
    ) -> Self {
        Self {
            stores: stores(&rules, previous, factory),
            routes: routes(&rules, previous),
            rules,
        }
    }
}

/// A store per channel: the previous one while the channel's identity holds, else a new one.
fn stores(
    rules: &CompiledRules,
    previous: Option<&Snapshot>,
    factory: &StoreFactory,
) -> BTreeMap<String, (ChannelIdentity, Arc<dyn DedupStore>)> {
    let Some(dedup) = rules.dedup() else {
        return BTreeMap::new();
    };
    dedup
        .all()
        .map(|ch| {
            let identity = ch.identity();
            let kept = previous
                .and_then(|p| p.stores.get(ch.name()))
                .filter(|(kept_for, _)| *kept_for == identity);
            let store = match kept {
                Some((_, store)) => store.clone(),
                None => factory(ch),
            };
            (ch.name().to_string(), (identity, store))
        })
        .collect()
}

/// A breaker and cache per route: the previous ones while the route's lookup settings hold.
fn routes(rules: &CompiledRules, previous: Option<&Snapshot>) -> BTreeMap<String, Arc<RouteState>> {
    rules
        .routes
        .iter()
        .map(|(name, route)| {
            let kept = previous
                .and_then(|p| p.routes.get(name))
                .filter(|state| state.fits(route));
            let state = kept
                .cloned()
                .unwrap_or_else(|| Arc::new(RouteState::new(route)));
            (name.clone(), state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile_sources;

    const BASE: &str = r#"
version: 1
normalizers:
  text: [trim, lowercase]
events:
  message:
    type: message.created
    dedup: true
    route: stock
dedup:
  default: { window: 45s, normalizer: text }
routing:
  stock:
    sku: { template: "SKU-{interaction_id}" }
    inventory: { url: "https://inventory.example/{sku}", cache_ttl: 5s }
    statuses:
      in_stock: { skills: [premium] }
    unknown: { queues: [general] }
    fallback: { queues: [general] }
"#;

    fn snapshot(text: &str, previous: Option<&Snapshot>) -> Snapshot {
        let rules = compile_sources(vec![("rules.yaml".into(), text.to_string())], Vec::new())
            .expect("the rules compile");
        Snapshot::new(Arc::new(rules), previous, &memory_stores())
    }

    fn kept(before: &Snapshot, after: &Snapshot) -> (bool, bool) {
        let store = |s: &Snapshot| s.stores["default"].1.clone();
        let route = |s: &Snapshot| s.routes["stock"].clone();
        (
            Arc::ptr_eq(&store(before), &store(after)),
            Arc::ptr_eq(&route(before), &route(after)),
        )
    }

    #[test]
    fn state_survives_a_change_that_leaves_its_settings_alone() {
        let before = snapshot(BASE, None);
        // A renamed normalizer with the same steps, and another target: both survive.
        let edited = BASE
            .replace("text:", "plain:")
            .replace("normalizer: text", "normalizer: plain")
            .replace("skills: [premium]", "skills: [gold]");
        let after = snapshot(&edited, Some(&before));
        assert_eq!(kept(&before, &after), (true, true));
    }

    #[test]
    fn a_changed_channel_or_lookup_starts_afresh() {
        let before = snapshot(BASE, None);
        let steps = snapshot(&BASE.replace("[trim, lowercase]", "[trim]"), Some(&before));
        assert_eq!(kept(&before, &steps), (false, true));
        let window = snapshot(&BASE.replace("window: 45s", "window: 1m"), Some(&before));
        assert_eq!(kept(&before, &window), (false, true));
        let url = snapshot(
            &BASE.replace("inventory.example/", "stock.example/"),
            Some(&before),
        );
        assert_eq!(kept(&before, &url), (true, false));
        let cache = snapshot(
            &BASE.replace("cache_ttl: 5s", "cache_ttl: 6s"),
            Some(&before),
        );
        assert_eq!(kept(&before, &cache), (true, false));
    }
}
