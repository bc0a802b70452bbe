//! The notification dispatcher (O3, I7, O5): turns incident events into
//! deliveries and SLA records ([`coc_store::Store::dispatch_incident_events`]),
//! fires due escalation levels ([`coc_store::Store::run_escalations`]) and
//! SLA pre-warnings and breaches ([`coc_store::Store::run_sla`]). It wakes
//! as soon as a commit writes incident events, and at least once a second
//! for escalation timers.

use std::time::Duration;

use crate::AppState;

/// Runs forever.
pub async fn run(state: AppState) {
    loop {
        let now = chrono::Utc::now();
        match state.store.dispatch_incident_events(now, 200).await {
            Ok(200) => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "incident event dispatch failed"),
        }
        if let Err(e) = state.store.run_escalations(now).await {
            tracing::warn!(error = %e, "escalation round failed");
        }
        if let Err(e) = state.store.run_sla(now).await {
            tracing::warn!(error = %e, "SLA round failed");
        }
        tokio::select! {
            _ = state.store.events.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
