//! The order guard: the highest `lastSequence` queued per interaction, so an update decided
//! before a newer one but queued after it is refused instead of moving CXone's value back.
//!
//! A dedup check and the queueing of its update are separate steps, and an event may wait for the
//! inventory between them: events of one interaction can reach the queue in another order than
//! they were checked. The `lastSequence` an update carries is the highest order key its check saw,
//! which never decreases in check order; an update below the mark left by one already queued was
//! overtaken, and the newer one carries the newer message's status.
//!
//! A mark only matters while a decision that began before it was set may still be running, so
//! marks live in two generations: a mark set in one generation is dropped when the generation after
//! it ends. A generation lasts at least [`GENERATION`], and ends only once every decision that
//! began before it has finished, however long its inventory lookup takes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// The shortest life of a generation.
pub(super) const GENERATION: Duration = Duration::from_secs(1);

/// The marks and the decisions in flight, by generation.
pub(super) struct Marks {
    current: HashMap<String, i64>,
    previous: HashMap<String, i64>,
    generation: u64,
    /// Decisions running that began in the current generation (index `generation % 2`) and in
    /// the one before it (the other index).
    deciding: [usize; 2],
    started: Instant,
}

impl Marks {
    pub(super) fn new() -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            generation: 0,
            deciding: [0, 0],
            started: Instant::now(),
        }
    }

    fn slot(generation: u64) -> usize {
        (generation % 2) as usize
    }

    /// Starts a new generation when the current one is old enough and no decision that began
    /// before it is still running: the marks it drops can no longer be raced.
    fn rotate(&mut self) {
        let earlier = Self::slot(self.generation + 1);
        if self.deciding[earlier] > 0 || self.started.elapsed() < GENERATION {
            return;
        }
        self.previous = std::mem::take(&mut self.current);
        self.generation += 1;
        self.started = Instant::now();
    }

    /// Whether an update carrying `last_sequence` may be queued for `id`; when it may, the mark
    /// is raised to it. Updates without one are neither refused nor marked.
    pub(super) fn admit(&mut self, id: &str, last_sequence: Option<i64>) -> bool {
        let Some(seq) = last_sequence else {
            return true;
        };
        let mark = self.current.get(id).or_else(|| self.previous.get(id));
        if mark.is_some_and(|&m| seq < m) {
            return false;
        }
        match self.current.get_mut(id) {
            Some(m) => *m = seq,
            None => {
                self.current.insert(id.to_owned(), seq);
            }
        }
        true
    }

    /// Marks held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// The guard shared by the queue and the decisions it tracks.
pub(super) type Shared = Arc<Mutex<Marks>>;

pub(super) fn lock(marks: &Mutex<Marks>) -> MutexGuard<'_, Marks> {
    marks.lock().unwrap_or_else(|e| e.into_inner())
}

/// One decision in flight, from before its dedup check until its updates are queued (or it is
/// refused): while it lives, no mark set since it began is dropped. See [`Effects::deciding`].
///
/// [`Effects::deciding`]: super::Effects::deciding
#[derive(Debug)]
#[must_use = "hold it from before the event is evaluated until its updates are queued"]
pub struct Deciding {
    held: Option<(Shared, u64)>,
}

impl Deciding {
    /// A decision that queues nothing (dry-run) needs no guard.
    pub(super) fn none() -> Self {
        Self { held: None }
    }

    pub(super) fn begin(marks: &Shared) -> Self {
        let mut m = lock(marks);
        m.rotate();
        let generation = m.generation;
        m.deciding[Marks::slot(generation)] += 1;
        drop(m);
        Self {
            held: Some((marks.clone(), generation)),
        }
    }
}

impl Drop for Deciding {
    fn drop(&mut self) {
        if let Some((marks, generation)) = self.held.take() {
            let mut m = lock(&marks);
            // A generation ends only when the decisions begun before it are done, so this one
            // began in the current generation or the one before.
            let slot = &mut m.deciding[Marks::slot(generation)];
            *slot = slot.saturating_sub(1);
            m.rotate();
        }
    }
}

impl std::fmt::Debug for Marks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marks")
            .field("generation", &self.generation)
            .field("marks", &(self.current.len() + self.previous.len()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_below_the_mark_is_refused_and_equal_or_higher_ones_pass() {
        let mut m = Marks::new();
        assert!(m.admit("a", Some(5)));
        assert!(!m.admit("a", Some(4)), "overtaken by 5");
        assert!(m.admit("a", Some(5)), "the same message's resend");
        assert!(m.admit("a", None), "no order key: nothing to compare");
        assert!(m.admit("b", Some(1)), "marks are per interaction");
        assert!(m.admit("a", Some(9)));
        assert!(!m.admit("a", Some(5)));
    }

    #[tokio::test(start_paused = true)]
    async fn marks_outlive_every_decision_that_began_before_them() {
        let marks: Shared = Arc::new(Mutex::new(Marks::new()));
        let slow = Deciding::begin(&marks);
        assert!(lock(&marks).admit("a", Some(6)));
        for _ in 0..5 {
            tokio::time::advance(GENERATION * 2).await;
            drop(Deciding::begin(&marks));
        }
        assert!(
            !lock(&marks).admit("a", Some(5)),
            "a decision that began before the mark still runs: the mark stays"
        );
        drop(slow);
        for _ in 0..2 {
            tokio::time::advance(GENERATION).await;
            drop(Deciding::begin(&marks));
        }
        assert_eq!(lock(&marks).len(), 0, "with nothing in flight, marks go");
    }
}
