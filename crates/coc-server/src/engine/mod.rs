//! The engine: all background work, as rounds. A round is one pass over
//! one kind of due work; it reads what is due from the store, lets the
//! domain decide, commits, and only then acts (sends to agents, calls
//! channels). Three loops run the rounds:
//!
//! | loop | rounds, in order | wakes on | at least every |
//! | --- | --- | --- | --- |
//! | work | [`jobticket`] (every ticket: job and script tickets) | [`coc_store::Store::work`] (a ticket was created, a result or an operator action came) | 1 s |
//! | events | [`events`], [`escalation`], [`delayed`], [`sla`], [`parameters`], [`schedules`], [`handoffs`] (every 30 s) | [`coc_store::Store::events`] (a commit wrote incident events) | 1 s |
//! | deliveries | [`deliveries`] | [`coc_store::Store::deliveries`] (a delivery was queued or an attempt ended) | 0.5 s |
//! | relay | [`relay`] | a replica asked this one to reach an agent it holds | 15 s |
//! | heartbeats | [`heartbeats`] | the earliest deadline of a heartbeat monitor | 1 s |
//! | retention | [`retention`] | — | 10 min |
//! | cloud | [`cloud`] | — | 15 s |
//!
//! Over PostgreSQL every wake-up reaches every replica
//! ([`coc_store::wake`]: `LISTEN`/`NOTIFY`), so any number of `coc server`
//! processes share the work; no replica owns a ticket, and each round's
//! module says what keeps its work from being done twice.
//!
//! Every pass of every round is timed into `coc_round_seconds{round}` and
//! its errors counted in `coc_round_errors_total{round}` ([`crate::metrics`]);
//! a failed pass changes nothing that was not committed and the next pass
//! retries. Each round's module says how it stays correct when several
//! replicas run it over one database.

pub mod cloud;
pub mod delayed;
pub mod deliveries;
pub mod escalation;
pub mod events;
pub mod handoffs;
pub mod heartbeats;
pub mod jobticket;
pub mod parameters;
pub mod relay;
pub mod retention;
pub mod schedules;
pub mod sla;

use std::sync::Arc;
use std::time::Duration;

use crate::AppState;
use deliveries::Senders;

/// Starts the engine's loops; they run until the process ends.
///
/// Errors: the channel senders cannot be built (bad SMTP URL, send
/// timeout out of range).
pub fn start(state: &AppState) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let senders = Arc::new(Senders::new(state.notify.clone(), state.egress.clone())?);
    Ok(vec![
        tokio::spawn(work_loop(state.clone())),
        tokio::spawn(events_loop(state.clone(), senders.clone())),
        tokio::spawn(deliveries::run(state.clone(), senders)),
        tokio::spawn(relay::run(state.clone())),
        tokio::spawn(heartbeats::run(state.clone())),
        tokio::spawn(retention::run(state.clone())),
        tokio::spawn(cloud::run(state.clone())),
    ])
}

/// The work loop: every ticket.
async fn work_loop(state: AppState) {
    jobticket::recover(&state).await;
    loop {
        crate::metrics::round("tickets", jobticket::round(&state)).await;
        tokio::select! {
            _ = state.store.work.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The events loop: incident events, then the timers.
async fn events_loop(state: AppState, senders: Arc<Senders>) {
    let mut last_handoffs = None;
    loop {
        let now = state.store.now_utc();
        let more = crate::metrics::round("incident_events", events::round(&state, &senders, now))
            .await
            .unwrap_or(false);
        if more {
            continue;
        }
        crate::metrics::round("escalation", escalation::round(&state, now)).await;
        crate::metrics::round("delayed_alarms", delayed::round(&state)).await;
        crate::metrics::round("sla", sla::round(&state, now)).await;
        crate::metrics::round("parameters", parameters::round(&state, now)).await;
        crate::metrics::round("schedules", schedules::round(&state, now)).await;
        crate::metrics::round("handoffs", handoffs::round(&state, now, &mut last_handoffs)).await;
        tokio::select! {
            _ = state.store.events.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
