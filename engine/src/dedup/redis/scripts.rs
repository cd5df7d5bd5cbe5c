//! The Lua scripts behind the Redis store, one per decision: check and commit (each for one
//! check, or a batch of them), rollback.
//!
//! Each is `lua/common.lua` followed by its own file, sent as `EVALSHA` by `redis::Script`
//! (which loads it again after `NOSCRIPT`, as after a server restart or failover).

use std::sync::LazyLock;

use redis::Script;

const COMMON: &str = include_str!("lua/common.lua");

fn script(own: &str) -> Script {
    Script::new(&format!("{COMMON}\n{own}"))
}

const CHECK_ONE: &str = include_str!("lua/check_one.lua");

/// Checks a message and claims it when new.
pub(super) static CHECK: LazyLock<Script> =
    LazyLock::new(|| script(&format!("{CHECK_ONE}\n{}", include_str!("lua/check.lua"))));

/// Checks several messages, of any interactions, in one run (not on a cluster: see
/// `check_many.lua`).
pub(super) static CHECK_MANY: LazyLock<Script> = LazyLock::new(|| {
    script(&format!(
        "{CHECK_ONE}\n{}",
        include_str!("lua/check_many.lua")
    ))
});

const COMMIT_ONE: &str = include_str!("lua/commit_one.lua");

/// Turns a check's claims into records that last the window.
pub(super) static COMMIT: LazyLock<Script> =
    LazyLock::new(|| script(&format!("{COMMIT_ONE}\n{}", include_str!("lua/commit.lua"))));

/// Commits several checks, of any interactions, in one run (not on a cluster: see
/// `commit_many.lua`).
pub(super) static COMMIT_MANY: LazyLock<Script> = LazyLock::new(|| {
    script(&format!(
        "{COMMIT_ONE}\n{}",
        include_str!("lua/commit_many.lua")
    ))
});

/// Adds an event's entries to a stream and commits its checks in one run (not on a cluster:
/// see `commit_append.lua`).
pub(super) static COMMIT_APPEND: LazyLock<Script> = LazyLock::new(|| {
    script(&format!(
        "{COMMIT_ONE}\n{}",
        include_str!("lua/commit_append.lua")
    ))
});

/// Removes a check's own claims and restores the highest order key when no check came after.
pub(super) static ROLLBACK: LazyLock<Script> =
    LazyLock::new(|| script(include_str!("lua/rollback.lua")));

/// The check script's verdict codes.
pub(super) mod verdict {
    pub(crate) const UNIQUE: i64 = 0;
    pub(crate) const OUT_OF_ORDER: i64 = 1;
    pub(crate) const DUPLICATE: i64 = 2;
    pub(crate) const REDELIVERY: i64 = 3;
}
