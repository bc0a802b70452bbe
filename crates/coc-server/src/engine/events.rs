//! Incident events round (O3, I7, O5): turns new incident events (the
//! outbox every incident change writes in its own transaction) into
//! deliveries by the notification rules, starts escalations and SLA
//! records ([`coc_store::Store::dispatch_incident_events`]); fresh
//! notifications are sent at once with the deliveries round's senders
//! (their queue entries are leased, so the deliveries round only picks
//! them up if this process dies before recording).
//!
//! Loop: the events loop ([`super`]), up to 200 events a pass, again at
//! once while passes come back full.
//!
//! Across replicas: each event is claimed inside its own transaction
//! (`done` flips from 0 to 1 once); a replica that read the same event
//! finds it claimed and skips it, so an event is processed once.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::deliveries::{Senders, spawn_send};
use crate::AppState;

/// Events taken per pass.
const BATCH: i64 = 200;

/// One pass; `true` when the pass was full and more may wait.
///
/// Errors: a store error reading the events.
pub async fn round(
    state: &AppState,
    senders: &Arc<Senders>,
    now: DateTime<Utc>,
) -> Result<bool, coc_store::StoreError> {
    let d = state.store.dispatch_incident_events(now, BATCH).await?;
    for due in d.ready {
        spawn_send(state, senders, due, || {});
    }
    Ok(d.events as i64 == BATCH)
}
