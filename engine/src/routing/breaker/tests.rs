//! Circuit breaker behaviour under paused tokio time.

use std::sync::Barrier;
use std::time::Duration;

use tokio::time::{advance, Instant};

use super::*;

const OPEN_FOR: Duration = Duration::from_secs(30);

fn breaker(failures: u32) -> CircuitBreaker {
    CircuitBreaker::new(BreakerPolicy {
        failures,
        open_for: OPEN_FOR,
    })
}

fn fail(breaker: &CircuitBreaker) {
    let now = Instant::now();
    let permit = breaker
        .try_acquire(now)
        .expect("breaker should let this call through");
    breaker.record(permit, false, now);
}

fn succeed(breaker: &CircuitBreaker) {
    let now = Instant::now();
    let permit = breaker
        .try_acquire(now)
        .expect("breaker should let this call through");
    breaker.record(permit, true, now);
}

/// Opens `breaker` (threshold 1) and waits out the open period.
async fn open_then_wait(breaker: &CircuitBreaker) {
    fail(breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
    advance(OPEN_FOR).await;
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures_only() {
    let breaker = breaker(3);
    fail(&breaker);
    fail(&breaker);
    succeed(&breaker);
    fail(&breaker);
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "a success resets the count"
    );
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn open_rejects_until_the_open_period_has_passed() {
    let breaker = breaker(1);
    fail(&breaker);
    advance(OPEN_FOR - Duration::from_millis(1)).await;
    assert_eq!(
        breaker.try_acquire(Instant::now()).unwrap_err(),
        BreakerOpen
    );
    advance(Duration::from_millis(1)).await;
    let trial = breaker
        .try_acquire(Instant::now())
        .expect("trial after the open period");
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    breaker.record(trial, true, Instant::now());
}

#[tokio::test(start_paused = true)]
async fn half_open_grants_exactly_one_trial() {
    let breaker = breaker(1);
    open_then_wait(&breaker).await;
    let trial = breaker
        .try_acquire(Instant::now())
        .expect("first caller gets the trial");
    for _ in 0..5 {
        assert!(
            breaker.try_acquire(Instant::now()).is_err(),
            "others wait for the trial"
        );
    }
    breaker.record(trial, true, Instant::now());
}

#[tokio::test(start_paused = true)]
async fn trial_success_closes_and_resets_the_count() {
    let breaker = breaker(2);
    fail(&breaker);
    fail(&breaker);
    advance(OPEN_FOR).await;
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed);
    fail(&breaker);
    assert_eq!(
        breaker.state(),
        BreakerState::Closed,
        "one failure is below the threshold"
    );
    for _ in 0..3 {
        succeed(&breaker);
    }
}

#[tokio::test(start_paused = true)]
async fn trial_failure_reopens_for_another_period() {
    let breaker = breaker(1);
    open_then_wait(&breaker).await;
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
    advance(OPEN_FOR - Duration::from_millis(1)).await;
    assert!(breaker.try_acquire(Instant::now()).is_err());
    advance(Duration::from_millis(1)).await;
    assert!(breaker.try_acquire(Instant::now()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn dropped_trial_counts_as_failure() {
    let breaker = breaker(1);
    open_then_wait(&breaker).await;
    let trial = breaker.try_acquire(Instant::now()).unwrap();
    drop(trial);
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(breaker.try_acquire(Instant::now()).is_err());
    advance(OPEN_FOR).await;
    succeed(&breaker);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn stuck_trial_gives_way_after_the_open_period() {
    let breaker = breaker(1);
    open_then_wait(&breaker).await;
    let stuck = breaker.try_acquire(Instant::now()).unwrap();
    advance(OPEN_FOR).await;
    let fresh = breaker
        .try_acquire(Instant::now())
        .expect("a stuck trial must not wedge");
    breaker.record(stuck, true, Instant::now());
    assert_eq!(
        breaker.state(),
        BreakerState::HalfOpen,
        "the stale trial's result is ignored"
    );
    breaker.record(fresh, true, Instant::now());
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn results_from_before_opening_are_ignored() {
    let breaker = breaker(2);
    let now = Instant::now();
    let permits: Vec<Permit> = (0..3).map(|_| breaker.try_acquire(now).unwrap()).collect();
    let mut permits = permits.into_iter();
    breaker.record(permits.next().unwrap(), false, now);
    breaker.record(permits.next().unwrap(), false, now);
    assert_eq!(breaker.state(), BreakerState::Open);
    breaker.record(permits.next().unwrap(), true, now);
    assert_eq!(
        breaker.state(),
        BreakerState::Open,
        "a late success must not close it"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_closed_permit_changes_nothing() {
    let breaker = breaker(1);
    drop(breaker.try_acquire(Instant::now()).unwrap());
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn zero_failures_means_one() {
    let breaker = breaker(0);
    assert_eq!(breaker.policy().failures, 1);
    fail(&breaker);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[test]
fn concurrent_callers_share_one_trial() {
    let breaker = breaker(1);
    fail(&breaker);
    let later = Instant::now() + OPEN_FOR;
    let start = Barrier::new(8);
    let granted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    // Keep the permit alive until every thread has tried.
                    let permit = breaker.try_acquire(later);
                    start.wait();
                    usize::from(permit.is_ok())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(granted, 1);
}

#[test]
fn state_serializes_in_snake_case() {
    let states = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
    ];
    let json = serde_json::to_string(&states).unwrap();
    assert_eq!(json, r#"["closed","open","half_open"]"#);
}
