//! Delayed-alarm round (I7): opens the incidents of alarms whose forwarding
//! rule waits (`after_minutes`) once the wait is over and the alarm is still
//! firing and unhandled ([`coc_store::Store::run_delayed_alarms`]).
//!
//! Loop: the events loop ([`super`]), every second at least, so an incident
//! opens within a second of the end of its wait.
//!
//! Across replicas: a waiting alarm is claimed by deleting its row in the
//! transaction that opens the incident; of two replicas, one opens it and
//! the other finds nothing to delete.

use crate::AppState;

/// One pass at the store's time. Errors: a store error; the next pass
/// retries.
pub async fn round(state: &AppState) -> Result<usize, coc_store::StoreError> {
    state.store.run_delayed_alarms(state.store.now()).await
}
