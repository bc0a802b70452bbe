//! SLA round (O5): sends the pre-warnings and records the breaches of SLA
//! records whose next check is due ([`coc_store::Store::run_sla`]).
//!
//! Loop: the events loop ([`super`]), every second at least.
//!
//! Across replicas: each record is moved on through an update conditioned
//! on its `updated_at` as read, so a pre-warning or breach is recorded
//! and notified once.

use chrono::{DateTime, Utc};

use crate::AppState;

/// One pass. Errors: a store error; the next pass retries.
pub async fn round(state: &AppState, now: DateTime<Utc>) -> Result<usize, coc_store::StoreError> {
    state.store.run_sla(now).await
}
