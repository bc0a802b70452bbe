//! Retention round (M2): deletes alarms that turned `ok` longer ago than
//! the server's retention age ([`coc_domain::alarm::Retention`], `coc
//! server --alarm-retention-days`), tenant by tenant, a small batch per
//! transaction ([`coc_store::Store::delete_expired_alarms`]); and the
//! SMS reply codes that have ended.
//!
//! Loop: its own ([`super`]): a pass at start and then every ten minutes;
//! within a pass it yields between batches, so ingest never waits on more
//! than one batch.
//!
//! Across replicas: every replica may run it; a batch deletes rows another
//! replica already deleted as nothing, so the work is never done twice to
//! any effect.

use std::time::Duration;

use coc_domain::alarm::Retention;

use crate::AppState;

/// Time between passes.
const EVERY: Duration = Duration::from_secs(600);

/// One pass: every tenant until none of its alarms is due. Returns how
/// many alarms were deleted.
///
/// Errors: a store error; the next pass retries.
pub async fn round(state: &AppState, retention: Retention) -> Result<usize, coc_store::StoreError> {
    let mut deleted = 0;
    // SMS reply codes past their end go whatever the alarm retention.
    state.store.purge_sms_replies(state.store.now()).await?;
    if retention.cutoff(state.store.now()).is_none() {
        return Ok(0);
    }
    for tenant in state.store.list_tenants().await? {
        loop {
            let n = state
                .store
                .delete_expired_alarms(&tenant, retention, state.store.now())
                .await?;
            deleted += n;
            if n < coc_store::retention::RETENTION_BATCH as usize {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, days = retention.days, "expired alarms deleted");
    }
    Ok(deleted)
}

/// The loop: a pass, then wait [`EVERY`].
pub async fn run(state: AppState) {
    let retention = Retention {
        days: state.alarm_retention_days,
    };
    loop {
        crate::metrics::round("retention", round(&state, retention)).await;
        tokio::time::sleep(EVERY).await;
    }
}
