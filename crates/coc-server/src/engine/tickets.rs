//! Script tickets round (X2, X7, X8).
//!
//! Loop: the work loop ([`super`]), woken by [`coc_store::Store::work`]
//! or every second; for each
//! unfinished ticket, load it, apply the pure planner
//! ([`coc_domain::ticket::plan`]), persist the new ticket status, persist
//! the tasks it starts as `executing` (before anything is sent), then send
//! each one to its host's agent. Because every decision is re-derived from
//! the stored state, a restarted server resumes every ticket where it was.
//!
//! A task whose host agent is not connected waits; if the host is offline
//! (missed heartbeats) it fails with that reason. A task with no result
//! [`RESULT_GRACE_S`] seconds past its timeout fails as lost.
//!
//! Across replicas: a task starts only through an update from `pending`
//! to `executing`, so one replica sends it; the task is sent only to an
//! agent connected to this replica (one connected elsewhere waits for
//! this replica's agent or fails when offline — relaying between replicas
//! is not built yet).

use coc_domain::resource::AgentStatus;
use coc_domain::ticket::{TaskStatus, TaskView, TicketStatus, plan};
use coc_proto::ServerMessage;

use crate::{AppState, LiveEvent};

/// Seconds after a task's timeout before the server gives up on its result.
pub const RESULT_GRACE_S: i64 = 60;

/// Before the first pass: HTTP calls of job runs interrupted by a
/// previous server process are failed (they are not repeated).
pub async fn recover(state: &AppState) {
    match state.store.fail_interrupted_http_runs().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            runs = n,
            "HTTP job runs interrupted by a restart marked failed"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot check interrupted HTTP job runs"),
    }
}

/// One pass over all unfinished tickets.
///
/// Errors: a store error; the next pass retries.
pub async fn round(state: &AppState) -> Result<(), coc_store::StoreError> {
    let store = &state.store;
    let now = coc_store::now_ms();
    for id in store.active_ticket_ids().await? {
        let d = store.ticket_progress(&id).await?;
        let mut lost = false;
        for t in d.tasks.iter().filter(|t| t.status == TaskStatus::Executing) {
            if t.started_at
                .is_some_and(|s| now - s > (d.timeout_s + RESULT_GRACE_S) * 1000)
            {
                let msg = "no result from the agent within the timeout";
                if store
                    .finish_task(&t.id, None, TaskStatus::Failed, None, Some(msg))
                    .await?
                    .is_some()
                {
                    lost = true;
                    let _ = state.live.send(LiveEvent {
                        ticket_id: id.clone(),
                        task_id: t.id.clone(),
                        data: None,
                        done: true,
                    });
                }
            }
        }
        let d = if lost {
            store.ticket_progress(&id).await?
        } else {
            d
        };
        let views: Vec<TaskView> = d
            .tasks
            .iter()
            .map(|t| TaskView {
                batch: t.batch as u32,
                status: t.status,
            })
            .collect();
        let p = plan(d.status, &views, d.threshold);
        if p.status != d.status && store.set_ticket_status(&id, d.status, p.status).await? {
            tracing::info!(ticket = %d.number, from = d.status.as_str(), to = p.status.as_str(), "ticket status");
            if let Some(inc) = &d.incident_id
                && (p.status.is_terminal() || p.status == TicketStatus::Abnormal)
            {
                let ok = d
                    .tasks
                    .iter()
                    .filter(|t| t.status == TaskStatus::Successful)
                    .count();
                let summary = format!(
                    "automatic repair ticket {} {}: {ok}/{} host(s) succeeded",
                    d.number,
                    p.status.as_str(),
                    d.tasks.len()
                );
                store
                    .record_ticket_outcome(&d.tenant, inc, &id, &summary)
                    .await?;
            }
        }
        if p.start.is_empty() {
            continue;
        }
        // Script text and parameters only when something starts.
        let full = store.dispatchable(&id).await?;
        let mut ready = Vec::new();
        for &i in &p.start {
            let t = &d.tasks[i];
            if state.agents.is_connected(&t.host_id) {
                ready.push(t.id.clone());
            } else {
                let host = store
                    .get_host(&d.tenant, &t.host_id, state.heartbeat_ms as i64)
                    .await;
                let offline = host
                    .map(|h| h.agent_status == AgentStatus::Offline)
                    .unwrap_or(true);
                if offline
                    && !store
                        .start_tasks(std::slice::from_ref(&t.id))
                        .await?
                        .is_empty()
                {
                    store
                        .finish_task(
                            &t.id,
                            None,
                            TaskStatus::Failed,
                            None,
                            Some("the host's agent is offline"),
                        )
                        .await?;
                }
            }
        }
        let started = store.start_tasks(&ready).await?;
        if !started.is_empty() {
            crate::crash_point("before_dispatch");
        }
        for task_id in started {
            let Some(t) = d.tasks.iter().find(|t| t.id == task_id) else {
                continue;
            };
            let m = ServerMessage::Exec {
                task_id: t.id.clone(),
                script_type: full.script_type.clone(),
                content: full.content.clone(),
                env: full.params.clone(),
                redact: full.secret_env.clone(),
                run_as: full.run_as.clone(),
                timeout_s: full.timeout_s as u64,
            };
            if !state.agents.send(&t.host_id, m) {
                store
                    .finish_task(
                        &t.id,
                        None,
                        TaskStatus::Failed,
                        None,
                        Some("the agent disconnected before dispatch"),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}
