//! Parameter round (X6): deletes parameters at their expiry and sends the
//! expiry and change notices ([`coc_store::Store::run_parameters`]).
//!
//! Loop: the events loop ([`super`]), every second at least.
//!
//! Across replicas: deleting an expired parameter twice is harmless; a
//! notice is sent only by the replica whose insert of (parameter, notice,
//! version) into `parameter_notices` took effect.

use chrono::{DateTime, Utc};

use crate::AppState;

/// One pass. Errors: a store error; the next pass retries.
pub async fn round(state: &AppState, now: DateTime<Utc>) -> Result<usize, coc_store::StoreError> {
    state.store.run_parameters(now).await
}
