//! Escalation round (I7): fires the due level of every running escalation
//! whose incident is still unaccepted, and stops the others
//! ([`coc_store::Store::run_escalations`]).
//!
//! Loop: the events loop ([`super`]), every second at least, so a level
//! fires within a second of its time.
//!
//! Across replicas: a level fires only through an update conditioned on
//! the escalation's `updated_at` and state as read; of two replicas that
//! read the same due level, one fires it and the other changes nothing.

use chrono::{DateTime, Utc};

use crate::AppState;

/// One pass. Errors: a store error; the next pass retries.
pub async fn round(state: &AppState, now: DateTime<Utc>) -> Result<usize, coc_store::StoreError> {
    state.store.run_escalations(now).await
}
