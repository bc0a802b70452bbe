//! Scheduled O&M round (X5): starts the ticket of every scheduled task
//! that is due, records a missed run for times that passed while COC was
//! down, and reports finished runs to the task's recipients
//! ([`coc_store::Store::run_schedules`]).
//!
//! Loop: the events loop ([`super`]), every second at least.
//!
//! Across replicas: a due time is claimed by moving the task's
//! `next_run_at` on in an update conditioned on the value read; only the
//! replica whose update took effect starts the ticket, so a schedule fires
//! once per due time.

use chrono::{DateTime, Utc};

use crate::AppState;

/// One pass. Errors: a store error; the next pass retries.
pub async fn round(state: &AppState, now: DateTime<Utc>) -> Result<usize, coc_store::StoreError> {
    state
        .store
        .run_schedules(now, state.heartbeat_ms as i64)
        .await
}
