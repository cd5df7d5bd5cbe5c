//! Queue behaviour with a recording sink and paused time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::*;
use crate::cxone::{
    DedupStatus, Delivered, MetadataUpdate, PreparedCall, ProfileName, RoutingUpdate, SendError,
};

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<PreparedCall>>,
    /// When each call was delivered (wall clock), for pacing tests.
    delivered_at: Mutex<Vec<std::time::Instant>>,
    delay: Duration,
    hang: bool,
    /// Deliveries begun (the sink entered).
    entered: std::sync::atomic::AtomicUsize,
    /// Says it paces itself, as the CXone client does: the queue then takes no in-flight slot.
    paces: bool,
}

impl Sink for Recorder {
    fn deliver<'a>(
        &'a self,
        call: &'a PreparedCall,
    ) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            self.entered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.delay).await;
            self.delivered_at
                .lock()
                .unwrap()
                .push(std::time::Instant::now());
            self.calls.lock().unwrap().push(call.clone());
            Ok(Delivered {
                status: 200,
                attempts: 1,
            })
        })
    }

    fn paces_itself(&self) -> bool {
        self.paces
    }
}

impl Recorder {
    fn bodies(&self) -> Vec<(String, serde_json::Value)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| (c.path.clone(), serde_json::from_str(&c.body).unwrap()))
            .collect()
    }
}

fn meta(status: DedupStatus, seq: i64) -> Update {
    Update::Metadata(MetadataUpdate {
        status,
        last_sequence: Some(seq),
        fingerprint: format!("fp{seq}"),
        channel: "chat".into(),
        event_type: None,
    })
}

fn routing(skill: &str) -> Update {
    Update::Routing(RoutingUpdate {
        route: "inventory".into(),
        sku: "SKU".into(),
        inventory_status: None,
        skills: vec![skill.into()],
        queues: vec![],
        skill_id: None,
        reason: None,
    })
}

fn queue(capacity: usize, window_ms: u64, sink: Arc<Recorder>) -> Effects {
    let config = EffectsConfig {
        capacity,
        coalesce_window: Duration::from_millis(window_ms),
        rate_limit: None,
        max_in_flight: 8,
    };
    Effects::new(
        config,
        Profile::builtin(ProfileName::Seed),
        sink,
        Metrics::new(),
    )
}

async fn settle(effects: &Effects) {
    for _ in 0..200 {
        if effects.depth() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("queue did not empty: {}", effects.depth());
}

#[tokio::test(start_paused = true)]
async fn one_interaction_keeps_its_order() {
    let sink = Arc::new(Recorder {
        delay: Duration::from_millis(5),
        ..Recorder::default()
    });
    let effects = queue(100, 0, sink.clone());
    for skill in ["s1", "s2", "s3", "s4"] {
        effects
            .try_enqueue("i-1", vec![routing(skill)], Instant::now())
            .unwrap();
    }
    settle(&effects).await;
    let skills: Vec<_> = sink
        .bodies()
        .iter()
        .map(|(_, b)| b["routing"]["skills"][0]["id"].clone())
        .collect();
    assert_eq!(skills, [json!("s1"), json!("s2"), json!("s3"), json!("s4")]);
}

#[tokio::test(start_paused = true)]
async fn metadata_inside_the_window_becomes_one_call_with_the_highest_sequence() {
    let sink = Arc::new(Recorder::default());
    let effects = queue(100, 100, sink.clone());
    effects
        .try_enqueue("i-1", vec![meta(DedupStatus::Processed, 1)], Instant::now())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    effects
        .try_enqueue("i-1", vec![meta(DedupStatus::Processed, 3)], Instant::now())
        .unwrap();
    effects
        .try_enqueue(
            "i-1",
            vec![meta(DedupStatus::Suppressed, 3)],
            Instant::now(),
        )
        .unwrap();
    effects
        .try_enqueue("i-2", vec![meta(DedupStatus::Processed, 7)], Instant::now())
        .unwrap();
    settle(&effects).await;
    let mut calls = sink.bodies();
    calls.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].0, "/api/v2/interactions/i-1");
    assert_eq!(
        calls[0].1["attributes"],
        json!({"deduplication:status": "suppressed", "deduplication:lastSequence": 3})
    );
    assert_eq!(
        calls[1].1["attributes"]["deduplication:lastSequence"],
        json!(7)
    );
}

#[tokio::test(start_paused = true)]
async fn an_update_overtaken_by_a_newer_one_is_not_queued_even_after_the_lane_emptied() {
    let sink = Arc::new(Recorder::default());
    let effects = queue(100, 0, sink.clone());
    let older = effects.deciding();
    let newer = effects.deciding();
    let queued = effects.try_enqueue(
        "i-1",
        vec![meta(DedupStatus::Suppressed, 6)],
        Instant::now(),
    );
    assert_eq!(queued, Ok(vec![Endpoint::Metadata]));
    drop(newer);
    settle(&effects).await;
    for _ in 0..3 {
        tokio::time::sleep(order::GENERATION).await;
        drop(effects.deciding());
    }
    let stale = vec![meta(DedupStatus::Processed, 5), routing("a")];
    let queued = effects.try_enqueue("i-1", stale, Instant::now());
    assert_eq!(
        queued,
        Ok(vec![Endpoint::Routing]),
        "the routing update still goes"
    );
    drop(older);
    let queued = effects.try_enqueue("i-1", vec![meta(DedupStatus::Processed, 6)], Instant::now());
    assert_eq!(
        queued,
        Ok(vec![Endpoint::Metadata]),
        "the same sequence again passes"
    );
    settle(&effects).await;
    let seqs: Vec<_> = sink
        .bodies()
        .iter()
        .filter_map(|(_, b)| b["attributes"]["deduplication:lastSequence"].as_i64())
        .collect();
    assert_eq!(seqs, [6, 6]);
    assert_eq!(effects.depth(), 0, "the refused update's room came back");
}

#[tokio::test(start_paused = true)]
async fn metadata_further_apart_than_the_window_is_sent_separately() {
    let sink = Arc::new(Recorder::default());
    let effects = queue(100, 100, sink.clone());
    effects
        .try_enqueue("i-1", vec![meta(DedupStatus::Processed, 1)], Instant::now())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    effects
        .try_enqueue("i-1", vec![meta(DedupStatus::Processed, 2)], Instant::now())
        .unwrap();
    settle(&effects).await;
    assert_eq!(sink.bodies().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_whole_events_and_frees_up_after_delivery() {
    let sink = Arc::new(Recorder {
        delay: Duration::from_millis(50),
        ..Recorder::default()
    });
    let effects = queue(2, 0, sink.clone());
    effects
        .try_enqueue("i-1", vec![routing("a")], Instant::now())
        .unwrap();
    let both = vec![meta(DedupStatus::Processed, 1), routing("b")];
    assert_eq!(
        effects.try_enqueue("i-2", both, Instant::now()),
        Err(EnqueueError::Full)
    );
    assert_eq!(effects.depth(), 1, "a refused event holds no slot");
    settle(&effects).await;
    effects
        .try_enqueue("i-2", vec![routing("c")], Instant::now())
        .unwrap();
    settle(&effects).await;
    assert_eq!(sink.bodies().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn drain_reports_what_could_not_be_sent() {
    let sink = Arc::new(Recorder {
        hang: true,
        ..Recorder::default()
    });
    let effects = queue(10, 0, sink.clone());
    effects
        .try_enqueue("i-1", vec![routing("a"), routing("b")], Instant::now())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let left = effects.drain(Duration::from_secs(2)).await;
    assert_eq!(left, 2, "one in flight, one queued");
    assert_eq!(
        effects.try_enqueue("i-3", vec![routing("x")], Instant::now()),
        Err(EnqueueError::Closed)
    );
}

#[tokio::test(start_paused = true)]
async fn drain_waits_for_delivery_and_flushes_coalescing_windows() {
    let sink = Arc::new(Recorder {
        delay: Duration::from_millis(20),
        ..Recorder::default()
    });
    let effects = queue(10, 10_000, sink.clone());
    effects
        .try_enqueue("i-1", vec![meta(DedupStatus::Processed, 1)], Instant::now())
        .unwrap();
    effects
        .try_enqueue("i-2", vec![routing("a")], Instant::now())
        .unwrap();
    assert_eq!(effects.drain(Duration::from_secs(20)).await, 0);
    assert_eq!(sink.bodies().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_update_the_profile_cannot_express_is_skipped() {
    let sink = Arc::new(Recorder::default());
    let config = EffectsConfig {
        rate_limit: None,
        coalesce_window: Duration::ZERO,
        ..EffectsConfig::default()
    };
    let metrics = Metrics::new();
    let effects = Effects::new(
        config,
        Profile::builtin(ProfileName::Dfo),
        sink.clone(),
        metrics.clone(),
    );
    effects
        .try_enqueue("123", vec![routing("no-numeric-skill")], Instant::now())
        .unwrap();
    settle(&effects).await;
    assert!(sink.bodies().is_empty());
    assert!(metrics.encode().contains("reason=\"missing_value\"} 1"));
}

#[tokio::test]
async fn the_rate_limit_spaces_calls_out() {
    let sink = Arc::new(Recorder::default());
    let config = EffectsConfig {
        capacity: 100,
        coalesce_window: Duration::ZERO,
        rate_limit: std::num::NonZeroU32::new(10),
        max_in_flight: 8,
    };
    let effects = Effects::new(
        config,
        Profile::builtin(ProfileName::Seed),
        sink.clone(),
        Metrics::new(),
    );
    for n in 0..15 {
        effects
            .try_enqueue(&format!("i-{n}"), vec![routing("a")], Instant::now())
            .unwrap();
    }
    settle(&effects).await;
    assert_eq!(sink.bodies().len(), 15);
    // A burst of 10 goes at once, the 5 others at 10 per second: measured between the calls
    // themselves, so a slow poll cannot make the test pass.
    let at = sink.delivered_at.lock().unwrap().clone();
    let spread = at[14].duration_since(at[0]);
    assert!(spread >= Duration::from_millis(400), "{spread:?}");
}

#[tokio::test(start_paused = true)]
async fn a_reservation_holds_room_and_outlives_the_start_of_a_drain() {
    let sink = Arc::new(Recorder::default());
    let effects = queue(2, 0, sink.clone());
    let first = effects.reserve().unwrap();
    let second = effects.reserve().unwrap();
    assert_eq!(effects.depth(), 2, "reserved room counts as used");
    assert_eq!(effects.reserve().unwrap_err(), EnqueueError::Full);
    drop(second);
    assert_eq!(effects.depth(), 1, "unused room comes back");
    // Shutdown begins while an event holding `first` is still being decided.
    let draining = tokio::spawn({
        let effects = effects.clone();
        async move { effects.drain(Duration::from_secs(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(effects.reserve().unwrap_err(), EnqueueError::Closed);
    assert!(
        !draining.is_finished(),
        "the drain waits for the reservation"
    );
    effects
        .enqueue("i-1", vec![routing("late")], Instant::now(), first)
        .unwrap();
    assert_eq!(
        draining.await.unwrap(),
        0,
        "delivered before the drain ended"
    );
    assert_eq!(sink.bodies().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_second_update_needs_room_of_its_own() {
    let sink = Arc::new(Recorder {
        hang: true,
        ..Recorder::default()
    });
    let effects = queue(1, 0, sink.clone());
    let reservation = effects.reserve().unwrap();
    let both = vec![routing("a"), routing("b")];
    assert_eq!(
        effects.enqueue("i-1", both, Instant::now(), reservation),
        Err(EnqueueError::Full)
    );
    assert_eq!(
        effects.depth(),
        0,
        "nothing queued, the reserved room given back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restored_backlog_is_delivered_whole_and_a_new_update_waits_behind_it() {
    let sink = Arc::new(Recorder {
        delay: Duration::from_millis(1),
        ..Recorder::default()
    });
    let effects = queue(100, 0, sink.clone());
    // More interactions than one step of workers and than the lanes allowed in a delivery at
    // once, so both bounds are crossed.
    let n = delivering_bound(8) + 3 * RESUME_STEP + 7;
    let backlog: Vec<Restored> = (0..n)
        .map(|i| Restored {
            id: i as u64,
            interaction: format!("i-{i}"),
            update: routing("old"),
        })
        .collect();
    assert_eq!(effects.restore(backlog), n);
    // Before the restore's workers have all started: the last interaction's new update joins
    // its lane behind the restored one.
    let last = format!("i-{}", n - 1);
    effects
        .try_enqueue(&last, vec![routing("new")], Instant::now())
        .unwrap();
    settle(&effects).await;
    let bodies = sink.bodies();
    assert_eq!(bodies.len(), n + 1, "every restored update and the new one");
    let of_last: Vec<_> = bodies
        .iter()
        .filter(|(path, _)| path.contains(&last))
        .map(|(_, b)| b["routing"]["skills"][0]["id"].clone())
        .collect();
    assert_eq!(of_last, [json!("old"), json!("new")]);
}

#[tokio::test(start_paused = true)]
async fn a_large_backlog_enters_the_sink_a_bounded_number_at_a_time() {
    // A sink that paces itself (as the CXone client does) gets every lane the bound lets in.
    let sink = Arc::new(Recorder {
        hang: true,
        paces: true,
        ..Recorder::default()
    });
    let effects = queue(100, 0, sink.clone());
    let bound = delivering_bound(8);
    let backlog: Vec<Restored> = (0..bound * 2)
        .map(|i| Restored {
            id: i as u64,
            interaction: format!("i-{i}"),
            update: routing("old"),
        })
        .collect();
    effects.restore(backlog);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let entered = sink.entered.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        entered, bound,
        "as many lanes as the bound, each waiting in the sink"
    );
}
