//! Drift (R5) wiring: the watch goes to a host's agent (from this replica
//! when it holds the connection, else relayed to the one that does,
//! [`coc_store::wake::Relay::Watch`]), and a drift alarm the store decided
//! on goes through the normal pipeline ([`coc_store::Store::ingest`]).

use coc_store::drift::DriftAlarm;
use coc_store::wake::Relay;

use crate::AppState;

/// Sends host `host_id`'s agent what to watch (an empty watch stops it).
pub async fn push_watch(s: &AppState, host_id: &str, watch: coc_proto::Watch) {
    if !s
        .agents
        .send(host_id, coc_proto::ServerMessage::Watch(watch))
        && let Err(e) = s
            .store
            .relay(&Relay::Watch {
                host_id: host_id.to_string(),
            })
            .await
    {
        tracing::warn!(%host_id, error = %e, "drift watch not relayed");
    }
}

/// The watch host `host_id` should have now (none: an empty one).
pub async fn current_watch(s: &AppState, host_id: &str) -> Option<coc_proto::Watch> {
    match s.store.drift_watch(host_id).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(%host_id, error = %e, "cannot read the drift watch");
            None
        }
    }
}

/// Ingests a drift alarm, if there is one.
///
/// Errors: a store error (the alarm is then logged and lost; the next
/// report that changes the differences raises it again).
pub async fn raise(s: &AppState, alarm: Option<DriftAlarm>) -> Result<(), coc_store::StoreError> {
    if let Some(a) = alarm {
        tracing::info!(host = ?a.alarm.resource_name, status = ?a.alarm.alarm_status, "drift alarm");
        s.store
            .ingest(&a.tenant, &a.integration_id, vec![a.alarm])
            .await?;
    }
    Ok(())
}
