//! One bucket per contact, bounded: CXone limits each contact on its own (a burst of 250
//! refilling 17 per minute by default), and a 429 holds back only the contact it answered.
//!
//! The map holds at most `cap` contacts. When a new contact finds it full, every idle contact
//! (full bucket, no pause in force) is dropped first: forgetting a full bucket loses nothing. If
//! that frees too little, arbitrary contacts are dropped until an eighth of the room is free
//! (counted as `evicted_busy`): such a contact starts again with a full bucket, and CXone's 429
//! for it, if any, is honoured as usual.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::gcra::{is_full, Gcra};

#[derive(Debug, Clone, Copy)]
struct Contact {
    tat: Instant,
    paused_until: Option<Instant>,
}

impl Contact {
    fn idle(&self, now: Instant) -> bool {
        is_full(self.tat, now) && self.paused_until.is_none_or(|until| until <= now)
    }
}

/// The contacts' buckets and pauses.
#[derive(Debug)]
pub struct Contacts {
    gcra: Gcra,
    cap: usize,
    map: HashMap<String, Contact>,
    /// Busy contacts dropped to keep under the cap, since start.
    pub evicted_busy: u64,
}

impl Contacts {
    /// Buckets shaped by `gcra` (`None`: no per-contact limit, only 429 pauses), at most `cap`.
    pub fn new(gcra: Gcra, cap: usize) -> Self {
        Self {
            gcra,
            cap: cap.max(1),
            map: HashMap::new(),
            evicted_busy: 0,
        }
    }

    /// Contacts tracked.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// How long a 429 still holds this contact back.
    pub fn paused(&self, key: &str, now: Instant) -> Option<Duration> {
        let until = self.map.get(key)?.paused_until?;
        (until > now).then(|| until - now)
    }

    /// How long until this contact's bucket has a call (`None`: it has one now), taking nothing.
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let contact = self.map.get(key)?;
        self.gcra.admit(contact.tat, now).err()
    }

    /// Takes one call from the contact's bucket (the caller checked [`Contacts::wait`]).
    pub fn take(&mut self, key: &str, now: Instant) {
        let gcra = self.gcra;
        let contact = self.entry(key, now);
        if let Ok(tat) = gcra.admit(contact.tat, now) {
            contact.tat = tat;
        }
    }

    /// Holds the contact's calls back until `until` (a later pause already set stays).
    pub fn pause(&mut self, key: &str, until: Instant, now: Instant) {
        let contact = self.entry(key, now);
        if contact.paused_until.is_none_or(|current| current < until) {
            contact.paused_until = Some(until);
        }
    }

    fn entry(&mut self, key: &str, now: Instant) -> &mut Contact {
        if !self.map.contains_key(key) {
            self.make_room(now);
            let fresh = Contact {
                tat: now,
                paused_until: None,
            };
            self.map.insert(key.to_owned(), fresh);
        }
        self.map.get_mut(key).expect("just inserted")
    }

    fn make_room(&mut self, now: Instant) {
        if self.map.len() < self.cap {
            return;
        }
        self.map.retain(|_, c| !c.idle(now));
        let target = self.cap - self.cap.div_ceil(8);
        if self.map.len() <= target {
            return;
        }
        let excess = self.map.len() - target;
        let dropped: Vec<String> = self.map.keys().take(excess).cloned().collect();
        for key in dropped {
            self.map.remove(&key);
        }
        self.evicted_busy += excess as u64;
    }
}
