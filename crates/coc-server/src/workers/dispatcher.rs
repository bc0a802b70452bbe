//! The notification dispatcher (O3, I7, O5): turns incident events into
//! deliveries and SLA records ([`coc_store::Store::dispatch_incident_events`]),
//! fires due escalation levels ([`coc_store::Store::run_escalations`]) and
//! SLA pre-warnings and breaches ([`coc_store::Store::run_sla`]),
//! parameter expiry and notices ([`coc_store::Store::run_parameters`]), and
//! scheduled O&M ([`coc_store::Store::run_schedules`]). It wakes
//! as soon as a commit writes incident events, and at least once a second
//! for escalation timers.

use std::sync::Arc;
use std::time::Duration;

use super::notifier::{Senders, spawn_send};
use crate::AppState;

/// Runs forever; fresh incident notifications are sent at once with the
/// notifier's `senders` (their queue entries are leased, so the queue
/// poller only picks them up if this process dies before recording).
pub async fn run(state: AppState, senders: Arc<Senders>) {
    loop {
        let now = chrono::Utc::now();
        match state.store.dispatch_incident_events(now, 200).await {
            Ok(d) => {
                let full = d.events == 200;
                for due in d.ready {
                    spawn_send(&state, &senders, due, || {});
                }
                if full {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "incident event dispatch failed"),
        }
        if let Err(e) = state.store.run_escalations(now).await {
            tracing::warn!(error = %e, "escalation round failed");
        }
        if let Err(e) = state.store.run_sla(now).await {
            tracing::warn!(error = %e, "SLA round failed");
        }
        if let Err(e) = state.store.run_parameters(now).await {
            tracing::warn!(error = %e, "parameter expiry round failed");
        }
        if let Err(e) = state
            .store
            .run_schedules(now, state.heartbeat_ms as i64)
            .await
        {
            tracing::warn!(error = %e, "scheduled O&M round failed");
        }
        tokio::select! {
            _ = state.store.events.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
