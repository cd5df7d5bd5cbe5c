//! Metric handles found by their label values without building a label set: every label set of
//! a family owns its strings, so looking one up through the family allocates each value anew,
//! on every event. Label values here are the rules' own names and a few fixed words, so after
//! the first event of each kind every lookup finds its handle and allocates nothing.

use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use hashbrown::{Equivalent, HashMap};

/// The label values of one series, owned.
#[derive(Debug, PartialEq, Eq)]
struct Key(Box<[Box<str>]>);

/// The same values, borrowed; hashes and compares like the [`Key`] it stands for.
struct Query<'a>(&'a [&'a str]);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for value in self.0.iter() {
            value.as_ref().hash(state);
        }
    }
}

impl Hash for Query<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for value in self.0 {
            value.hash(state);
        }
    }
}

impl Equivalent<Key> for Query<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        key.0.len() == self.0.len() && key.0.iter().zip(self.0).all(|(k, q)| k.as_ref() == *q)
    }
}

/// The handles (counters, histograms: clones that record into the family's own series) of one
/// family, by label values.
pub(super) struct Handles<M> {
    map: RwLock<HashMap<Key, M>>,
}

impl<M> Default for Handles<M> {
    fn default() -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<M> Handles<M> {
    /// Runs `record` on the handle for `values`; `create` makes it (in the family) the first
    /// time these values are seen.
    pub(super) fn with(
        &self,
        values: &[&str],
        create: impl FnOnce() -> M,
        record: impl FnOnce(&M),
    ) {
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if let Some(handle) = map.get(&Query(values)) {
                record(handle);
                return;
            }
        }
        let handle = create();
        record(&handle);
        let key = Key(values.iter().map(|v| Box::from(*v)).collect());
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(key).or_insert(handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn the_same_values_find_the_same_handle_and_others_do_not() {
        let handles: Handles<Arc<AtomicU32>> = Handles::default();
        let created = AtomicU32::new(0);
        let bump = |values: &[&str]| {
            handles.with(
                values,
                || {
                    created.fetch_add(1, Ordering::Relaxed);
                    Arc::new(AtomicU32::new(0))
                },
                |h| {
                    h.fetch_add(1, Ordering::Relaxed);
                },
            )
        };
        bump(&["message_created", "chat", "processed"]);
        bump(&["message_created", "chat", "processed"]);
        bump(&["message_created", "chat", "suppressed"]);
        // The same characters split differently are other values.
        bump(&["message_createdchat", "", "processed"]);
        bump(&["message_created", "chat"]);
        assert_eq!(created.load(Ordering::Relaxed), 4);
        let map = handles.map.read().unwrap();
        let count = |values: &[&str]| map.get(&Query(values)).unwrap().load(Ordering::Relaxed);
        assert_eq!(count(&["message_created", "chat", "processed"]), 2);
        assert_eq!(count(&["message_created", "chat", "suppressed"]), 1);
        assert_eq!(count(&["message_createdchat", "", "processed"]), 1);
    }
}
