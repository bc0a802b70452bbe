//! Handoff round (O2): tells each person coming on call for a role of a
//! scenario — up to 15 minutes ahead, or up to 10 minutes late after a
//! restart — on their confirmed contacts
//! ([`coc_store::Store::run_handoffs`]).
//!
//! Loop: the events loop ([`super`]), at most every 30 s (working out
//! four-week slots of every scenario each second would be waste).
//!
//! Across replicas: each notice is recorded under a key of (scenario,
//! role, person, start) in the transaction that queues it; a second
//! replica's insert does nothing, so nobody is told twice.

use chrono::{DateTime, Duration, Utc};

use crate::AppState;

/// How often the round runs, seconds.
pub const EVERY_S: i64 = 30;
/// How late a notice may still go out (after a restart), minutes.
pub const LATE_MINUTES: i64 = 10;

/// One pass when `last` (the previous pass) is at least [`EVERY_S`] ago;
/// returns the instant of this pass (or `last` when skipped).
///
/// Errors: a store error; the next pass retries within the late window.
pub async fn round(
    state: &AppState,
    now: DateTime<Utc>,
    last: &mut Option<DateTime<Utc>>,
) -> Result<usize, coc_store::StoreError> {
    if last.is_some_and(|l| now - l < Duration::seconds(EVERY_S)) {
        return Ok(0);
    }
    *last = Some(now);
    state
        .store
        .run_handoffs(now - Duration::minutes(LATE_MINUTES), now)
        .await
}
