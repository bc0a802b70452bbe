//! Cloud synchronization round (R2): synchronizes every cloud account
//! whose due time has come ([`crate::cloud::sync`]): its provider lists
//! the servers, the store applies them to the inventory in one
//! transaction and sets the next due time from the account's interval.
//!
//! Loop: its own ([`super`]), every 15 s: a provider may take up to
//! [`crate::cloud::SYNC_TIMEOUT`] to answer, which must not hold up the
//! timers of the events loop.
//!
//! Across replicas: a due time is claimed by moving it on by a lease
//! ([`LEASE_MS`]) in an update conditioned on the value read; only the
//! replica whose update took effect synchronizes. One that dies mid-way
//! leaves the account due again when the lease ends.

use std::time::Duration;

use crate::AppState;

/// Time between passes.
const EVERY: Duration = Duration::from_secs(15);
/// How long a claimed synchronization is held before another replica may
/// take it over, Unix ms: longer than a synchronization may last.
pub const LEASE_MS: i64 = 10 * 60_000;

/// One pass: every account due now. Returns how many were synchronized
/// (or failed and were recorded so).
///
/// Errors: a store error; the next pass retries.
pub async fn round(state: &AppState) -> Result<usize, coc_store::StoreError> {
    let now = state.store.now();
    let mut done = 0;
    for (tenant, id, due) in state.store.due_cloud_accounts(now).await? {
        if !state
            .store
            .claim_cloud_sync(&id, due, now + LEASE_MS)
            .await?
        {
            continue;
        }
        match crate::cloud::sync(state, &tenant, &id).await {
            Ok(o) => tracing::info!(account = %id, outcome = %o, "cloud account synchronized"),
            Err(coc_store::StoreError::Conflict(why)) => {
                tracing::warn!(account = %id, %why, "cloud synchronization failed")
            }
            Err(e) => return Err(e),
        }
        done += 1;
    }
    Ok(done)
}

/// The loop: a pass, then wait [`EVERY`].
pub async fn run(state: AppState) {
    loop {
        crate::metrics::round("cloud", round(&state)).await;
        tokio::time::sleep(EVERY).await;
    }
}
