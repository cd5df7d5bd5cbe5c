//! One tracked interaction: its remembered keys (fingerprints and event ids) and highest order key.
//!
//! Times are `u32` milliseconds on the store's clock, compared with wrapping arithmetic (see
//! [`later`]). That is sound because every time held is within two windows of the shard's clock
//! and windows are capped at [`MAX_WINDOW_MS`]; the shard clears itself after an idle gap longer
//! than a window, so no stale time survives long enough to wrap around.

/// Longest window the store honours, in ms (about 12.4 days). Two windows must fit in `i32` ms for
/// the wrapping comparisons to be unambiguous.
pub(super) const MAX_WINDOW_MS: u64 = 1 << 30;

/// True when `a` is strictly after `b` on the wrapping `u32` millisecond clock.
pub(super) fn later(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// A remembered key: the first 16 bytes of a fingerprint, or a 128-bit keyed hash of an event id.
///
/// Why 16 bytes are enough: a false duplicate needs two different messages of one interaction to
/// share 128 bits. With at most `max_fingerprints` keys per interaction the chance per check is
/// about `max_fingerprints / 2^128` (below 10^-35 for a thousand keys), and forging a collision
/// with a message not yet sent is a second preimage on truncated SHA-256 (2^128 work). Fingerprints
/// and event ids share one key space for the same reason: a clash between them is as unlikely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    /// The 128-bit key.
    pub(super) key: [u8; 16],
    /// When the key is forgotten (store clock, ms, wrapping).
    pub(super) expires: u32,
}

/// Bit of [`Interaction::flags`] set when `highest` holds a value.
const HAS_HIGHEST: u32 = 1;

/// The other 31 bits of [`Interaction::flags`]: the stamp of the interaction's latest check.
pub(super) const STAMP_MASK: u32 = u32::MAX >> 1;

/// A key no message has: what a rolled-back last key becomes, so the interaction (and the
/// highest order key that checks already answered with) lives on until the key's expiry. A
/// real key equal to it is as unlikely as any other 128-bit collision (see [`Slot`]).
const TOMBSTONE: [u8; 16] = [0; 16];

/// What the store keeps per interaction: 40 bytes, plus the heap list only once it holds two keys.
///
/// Layout (x86_64): `first` 20 (16-byte key + 4-byte expiry) + `flags` 4 + `highest` 8 +
/// `rest` 8 (a thin `Option<Box<Vec>>`, null when unused) = 40 bytes. An interaction always holds
/// at least one key (an empty one is removed), so `first` is always valid.
#[derive(Debug)]
pub(super) struct Interaction {
    first: Slot,
    flags: u32,
    highest: i64,
    // A boxed `Vec` is an 8-byte thin pointer where a bare `Vec` would put 24 bytes in every
    // interaction, most of which hold a single key.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Slot>>>,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 20);
const _: () = assert!(std::mem::size_of::<Interaction>() == 40);

impl Interaction {
    /// A new interaction remembering one key.
    pub(super) fn new(first: Slot, highest: Option<i64>) -> Self {
        let mut it = Self {
            first,
            flags: 0,
            highest: 0,
            rest: None,
        };
        it.set_highest(highest);
        it
    }

    /// The highest order key seen.
    pub(super) fn highest(&self) -> Option<i64> {
        (self.flags & HAS_HIGHEST != 0).then_some(self.highest)
    }

    /// Replaces the highest order key.
    pub(super) fn set_highest(&mut self, value: Option<i64>) {
        match value {
            Some(v) => {
                self.highest = v;
                self.flags |= HAS_HIGHEST;
            }
            None => {
                self.highest = 0;
                self.flags &= !HAS_HIGHEST;
            }
        }
    }

    /// The stamp of the latest check of this interaction (its shard's check count, 31 bits).
    pub(super) fn stamp(&self) -> u32 {
        self.flags >> 1
    }

    /// Records which check was the latest.
    pub(super) fn set_stamp(&mut self, stamp: u32) {
        self.flags = (self.flags & HAS_HIGHEST) | ((stamp & STAMP_MASK) << 1);
    }

    /// When the key at `i` expires.
    pub(super) fn expires(&self, i: usize) -> u32 {
        self.get(i).expires
    }

    /// Makes the key at `i` match nothing, keeping its expiry (for the last key, which
    /// [`Interaction::remove`] cannot take).
    pub(super) fn forget(&mut self, i: usize) {
        self.get_mut(i).key = TOMBSTONE;
    }

    /// Raises the highest order key with `order`; returns the result.
    pub(super) fn raise_highest(&mut self, order: Option<i64>) -> Option<i64> {
        let raised = match (self.highest(), order) {
            (Some(h), Some(o)) => Some(h.max(o)),
            (h, o) => h.or(o),
        };
        self.set_highest(raised);
        raised
    }

    /// How many keys are remembered.
    pub(super) fn len(&self) -> usize {
        1 + self.rest.as_ref().map_or(0, |r| r.len())
    }

    fn get(&self, i: usize) -> &Slot {
        if i == 0 {
            &self.first
        } else {
            &self.rest.as_ref().expect("index within len")[i - 1]
        }
    }

    fn get_mut(&mut self, i: usize) -> &mut Slot {
        if i == 0 {
            &mut self.first
        } else {
            &mut self.rest.as_mut().expect("index within len")[i - 1]
        }
    }

    /// Where `key` is held, if it is.
    pub(super) fn find(&self, key: &[u8; 16]) -> Option<usize> {
        (0..self.len()).find(|&i| &self.get(i).key == key)
    }

    /// Moves the expiry of the key at `i` to `expires`, never backwards.
    pub(super) fn extend(&mut self, i: usize, expires: u32) {
        let slot = self.get_mut(i);
        if later(expires, slot.expires) {
            slot.expires = expires;
        }
    }

    /// The latest expiry of any key: when the whole interaction runs out.
    pub(super) fn deadline(&self) -> u32 {
        (1..self.len())
            .map(|i| self.get(i).expires)
            .fold(self.first.expires, |a, b| if later(b, a) { b } else { a })
    }

    /// Removes the key at `i`. Returns false, leaving `self` unchanged, when it is the last key:
    /// the caller then drops the whole interaction.
    pub(super) fn remove(&mut self, i: usize) -> bool {
        let Some(rest) = self.rest.as_mut() else {
            return false;
        };
        let last = rest.pop().expect("a present rest list is never empty");
        let emptied = rest.is_empty();
        if i < self.len() {
            *self.get_mut(i) = last;
        }
        if emptied {
            self.rest = None;
        }
        true
    }

    /// Drops every key that has expired by `now`. Returns how many went, or `None` when all of
    /// them have (the interaction is dead and left untouched).
    pub(super) fn prune(&mut self, now: u32) -> Option<usize> {
        if !later(self.deadline(), now) {
            return None;
        }
        let mut removed = 0;
        let mut i = 0;
        while i < self.len() {
            if later(self.get(i).expires, now) {
                i += 1;
            } else {
                // The deadline is later than `now`, so a live key remains and this never fails.
                self.remove(i);
                removed += 1;
            }
        }
        Some(removed)
    }

    /// Remembers `slot`. When `cap` keys are already held the one expiring first goes; returns
    /// true then.
    pub(super) fn insert(&mut self, slot: Slot, cap: usize) -> bool {
        let evict = self.len() >= cap;
        if evict {
            let oldest = (1..self.len()).fold(0, |best, i| {
                if later(self.get(best).expires, self.get(i).expires) {
                    i
                } else {
                    best
                }
            });
            if !self.remove(oldest) {
                self.first = slot;
                return true;
            }
        }
        self.rest
            .get_or_insert_with(|| Box::new(Vec::with_capacity(3)))
            .push(slot);
        evict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(n: u8, expires: u32) -> Slot {
        Slot {
            key: [n; 16],
            expires,
        }
    }

    #[test]
    fn wrapping_order_survives_the_u32_wrap() {
        assert!(later(5, u32::MAX - 5));
        assert!(!later(u32::MAX - 5, 5));
        assert!(!later(7, 7));
    }

    #[test]
    fn insert_find_remove_keep_the_list_consistent() {
        let mut it = Interaction::new(slot(1, 10), None);
        assert!(!it.insert(slot(2, 20), 8));
        assert!(!it.insert(slot(3, 30), 8));
        assert_eq!(it.len(), 3);
        assert_eq!(it.deadline(), 30);
        assert!(it.remove(0));
        assert_eq!(it.find(&[1; 16]), None);
        assert!(it.find(&[3; 16]).is_some());
        assert!(it.remove(it.find(&[3; 16]).unwrap()));
        assert_eq!(it.len(), 1);
        assert!(it.rest.is_none(), "an emptied list frees its heap block");
        assert!(!it.remove(0), "the last key is never removed in place");
    }

    #[test]
    fn insert_at_cap_drops_the_key_expiring_first() {
        let mut it = Interaction::new(slot(1, 50), None);
        it.insert(slot(2, 10), 3);
        it.insert(slot(3, 30), 3);
        assert!(it.insert(slot(4, 60), 3));
        assert_eq!(it.find(&[2; 16]), None);
        assert_eq!(it.len(), 3);
        let mut one = Interaction::new(slot(1, 50), None);
        assert!(one.insert(slot(2, 60), 1));
        assert_eq!((one.len(), one.find(&[2; 16])), (1, Some(0)));
    }

    #[test]
    fn prune_drops_expired_keys_or_reports_death() {
        let mut it = Interaction::new(slot(1, 10), Some(4));
        it.insert(slot(2, 40), 8);
        it.insert(slot(3, 15), 8);
        assert_eq!(it.prune(20), Some(2));
        assert_eq!((it.len(), it.first.key), (1, [2; 16]));
        assert_eq!(it.prune(40), None);
        assert_eq!(it.highest(), Some(4));
    }

    #[test]
    fn highest_distinguishes_none_from_any_value() {
        let mut it = Interaction::new(slot(1, 10), None);
        assert_eq!(it.raise_highest(None), None);
        assert_eq!(it.raise_highest(Some(i64::MIN)), Some(i64::MIN));
        assert_eq!(it.raise_highest(Some(3)), Some(3));
        assert_eq!(it.raise_highest(Some(1)), Some(3));
    }
}
