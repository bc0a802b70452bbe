//! Agent relay round (D3): gets commands to agents connected to another
//! replica. A replica with a run for an agent it does not hold asks over
//! the database ([`coc_store::Store::relay`], `NOTIFY coc_agent`); this
//! round, on every replica, takes those requests and — when it holds the
//! agent's connection — sends the agent the runs it should be running
//! ([`coc_store::Store::redispatch`]), the cancel, or its drift watch
//! (R5, [`crate::drift`]).
//!
//! Loop: its own; woken by each relay request, and every
//! [`SWEEP`] it re-sends the runs still waiting for the agents it holds,
//! which covers a replica that died between committing a run and
//! relaying it.
//!
//! Across replicas: only the replica holding a host's connection sends to
//! it; a run is sent possibly more than once (relay and sweep) but its id
//! is the agent's idempotency key, so it runs once.

use std::time::Duration;

use coc_store::wake::Relay;

use crate::AppState;

/// How often the runs still waiting for a held agent are sent again.
pub const SWEEP: Duration = Duration::from_secs(15);

/// Runs forever.
pub async fn run(state: AppState) {
    let mut rx = state.store.relayed();
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(r) => {
                    // Take every request waiting: hosts are served together.
                    let mut batch = vec![r];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    crate::metrics::round("agent_relay", relay(&state, batch)).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    crate::metrics::round("agent_relay", resend(&state)).await;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = sweep.tick() => {
                crate::metrics::round("agent_relay", resend(&state)).await;
            }
        }
    }
}

/// Carries out the relay requests for agents this replica holds.
async fn relay(state: &AppState, batch: Vec<Relay>) -> Result<(), coc_store::StoreError> {
    let mut hosts = std::collections::BTreeSet::new();
    for r in batch {
        match r {
            Relay::Runs { host_id } if state.agents.is_connected(&host_id) => {
                hosts.insert(host_id);
            }
            Relay::Watch { host_id } if state.agents.is_connected(&host_id) => {
                let w = crate::drift::current_watch(state, &host_id)
                    .await
                    .unwrap_or_default();
                state
                    .agents
                    .send(&host_id, coc_proto::ServerMessage::Watch(w));
            }
            Relay::Cancel { host_id, run_id } if state.agents.is_connected(&host_id) => {
                state.agents.send(
                    &host_id,
                    coc_proto::ServerMessage::Cancel { task_id: run_id },
                );
            }
            _ => {}
        }
    }
    if !hosts.is_empty() {
        let hosts: Vec<String> = hosts.into_iter().collect();
        let cmds = state.store.redispatch_many(&hosts).await?;
        super::jobticket::carry_out(state, cmds).await;
    }
    Ok(())
}

/// Sends every held agent the runs still waiting for it.
async fn resend(state: &AppState) -> Result<(), coc_store::StoreError> {
    let held: Vec<String> = state
        .store
        .hosts_with_agent_runs()
        .await?
        .into_iter()
        .filter(|h| state.agents.is_connected(h))
        .collect();
    if !held.is_empty() {
        let cmds = state.store.redispatch_many(&held).await?;
        super::jobticket::carry_out(state, cmds).await;
    }
    Ok(())
}
