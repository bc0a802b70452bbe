//! Heartbeat round (M1): raises `HeartbeatMissed` for every heartbeat
//! monitor whose interval passed without a ping
//! ([`coc_domain::heartbeat::Monitor::missed`]); the ping itself
//! ([`crate::ingest`]) resolves it.
//!
//! Loop: its own ([`super`]): after each pass it sleeps until the earliest
//! deadline of a monitor, at most a second, so an alarm comes within a few
//! milliseconds of the deadline.
//!
//! Across replicas: a monitor's alarm is raised only by the replica whose
//! claim ([`coc_store::Store::claim_heartbeat_missed`]: set while unset and
//! no ping came since the pass read it) took effect; a repeat would fold
//! into the same alarm anyway (one fingerprint per integration).

use coc_domain::alarm::AlarmStatus;
use coc_domain::heartbeat;

use crate::AppState;

/// One pass at the store's current time. Returns the earliest deadline
/// still ahead (Unix ms), if any monitor is waiting for a ping.
///
/// Errors: a store error; the next pass retries.
pub async fn round(state: &AppState) -> Result<Option<i64>, coc_store::StoreError> {
    let now = state.store.now();
    let mut next: Option<i64> = None;
    for (tenant, integ, m) in state.store.heartbeat_monitors().await? {
        if m.missed(now) {
            if state
                .store
                .claim_heartbeat_missed(&integ.id, m.last_ping_at, now)
                .await?
            {
                let a = heartbeat::alarm(&integ.name, m.interval_ms, AlarmStatus::Alarm, now);
                state.store.ingest(&tenant, &integ.id, vec![a]).await?;
                tracing::warn!(integration = %integ.name, "heartbeat missed");
            }
        } else if m.missed_at.is_none() {
            next = Some(next.map_or(m.deadline(), |n| n.min(m.deadline())));
        }
    }
    Ok(next)
}

/// The loop: a pass, then sleep until the next deadline (≤ 1 s).
pub async fn run(state: AppState) {
    loop {
        let next = crate::metrics::round("heartbeats", round(&state))
            .await
            .flatten();
        let wait = next
            .map(|d| (d - state.store.now()).clamp(0, 1000))
            .unwrap_or(1000);
        tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    }
}
