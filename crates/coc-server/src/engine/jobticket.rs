//! Tickets round (X2, X4, X7, X8) — the one engine that runs all work on
//! hosts. Script tickets are one-step job tickets; new kinds of work are
//! atoms of it. Each pass advances every unfinished ticket ([`coc_store::Store::advance_job_ticket`]: the domain's
//! [`coc_domain::jobticket::step`] decides, the store commits the new
//! state first) and then carries out what it returned: sends scripts,
//! patch work, reboots and cancels to agents, and makes the HTTP calls of `http`
//! atoms.
//!
//! Loop: the work loop ([`super`]), woken by [`coc_store::Store::work`]
//! or every second.
//!
//! Across replicas: every writer of a ticket first locks its row, so two
//! replicas stepping one ticket take turns and the second sees the first
//! one's runs; a run is created once and its id is the agent's
//! idempotency key. Commands go only to agents connected to this replica
//! (relaying is not built yet).

use std::time::{Duration, Instant};

use coc_domain::resource::AgentStatus;
use coc_domain::ticket::TaskStatus;
use coc_proto::ServerMessage;
use coc_store::jobticket::JobCommand;
use coc_store::wake::Relay;

use crate::AppState;

/// Most response body kept in an HTTP run's output, bytes.
const HTTP_BODY_KEPT: usize = 4096;

/// Before the first pass: HTTP calls of job runs interrupted by a
/// previous server process are failed (they are not repeated).
///
/// Over PostgreSQL another replica may be making those calls right now, so
/// nothing is failed at start: a call that was cut off fails by the
/// engine's rule once its timeout and grace have passed.
pub async fn recover(state: &AppState) {
    if state.store.backend() == coc_store::Backend::Postgres {
        return;
    }
    match state.store.fail_interrupted_http_runs().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            runs = n,
            "HTTP job runs interrupted by a restart marked failed"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot check interrupted HTTP job runs"),
    }
}

/// One pass over all unfinished tickets (job and script tickets).
///
/// Errors: a store error; the next pass retries.
pub async fn round(state: &AppState) -> Result<(), coc_store::StoreError> {
    let now = state.store.now();
    for id in state.store.active_job_ticket_ids().await? {
        let agents = state.agents.clone();
        let cmds = state
            .store
            .advance_job_ticket(&id, now, &move |h| agents.is_connected(h))
            .await?;
        carry_out(state, cmds).await;
    }
    Ok(())
}

/// Carries out the commands of an executor step or an operator action. A
/// run whose host's agent is connected to another replica is relayed to it
/// ([`super::relay`]); one whose agent is not connected anywhere stays
/// waiting (it is sent when the agent connects) unless the host is
/// offline, then it fails.
pub async fn carry_out(state: &AppState, cmds: Vec<JobCommand>) {
    if cmds.iter().any(|c| {
        matches!(
            c,
            JobCommand::Exec { .. }
                | JobCommand::Reboot { .. }
                | JobCommand::Upgrade { .. }
                | JobCommand::Patch { .. }
        )
    }) {
        crate::crash_point("before_dispatch");
    }
    for c in cmds {
        // An agent older than patch work would ignore the task: it fails
        // now, saying why, instead of after its timeout.
        if let JobCommand::Patch {
            run_id, host_id, ..
        } = &c
            && state
                .agents
                .protocol(host_id)
                .is_some_and(|v| v < coc_proto::PATCH_SINCE)
        {
            let why = "the host's agent is too old for patch work: upgrade it (coc agent-upgrade)";
            if let Err(e) = state
                .store
                .finish_job_run(run_id, None, TaskStatus::Failed, None, Some(why), None)
                .await
            {
                tracing::warn!(run = %run_id, error = %e, "run failure not stored");
            }
            continue;
        }
        let (run_id, host_id, msg) = match c {
            JobCommand::Exec {
                run_id,
                host_id,
                script_type,
                content,
                env,
                secret_env,
                run_as,
                timeout_s,
            } => (
                run_id.clone(),
                host_id,
                ServerMessage::Exec {
                    task_id: run_id,
                    script_type,
                    content,
                    env,
                    redact: secret_env,
                    run_as,
                    timeout_s,
                },
            ),
            JobCommand::Reboot { run_id, host_id } => (
                run_id.clone(),
                host_id,
                ServerMessage::Reboot { task_id: run_id },
            ),
            JobCommand::Upgrade {
                run_id,
                host_id,
                version,
                sha256,
                size_bytes,
                rollback_after_s,
            } => (
                run_id.clone(),
                host_id,
                ServerMessage::Upgrade {
                    task_id: run_id,
                    version,
                    sha256,
                    size_bytes,
                    rollback_after_s,
                },
            ),
            JobCommand::Patch {
                run_id,
                host_id,
                action,
                timeout_s,
            } => (
                run_id.clone(),
                host_id,
                ServerMessage::Patch {
                    task_id: run_id,
                    action,
                    timeout_s,
                },
            ),
            JobCommand::Cancel { run_id, host_id } => {
                if !state.agents.send(
                    &host_id,
                    ServerMessage::Cancel {
                        task_id: run_id.clone(),
                    },
                ) && let Err(e) = state.store.relay(&Relay::Cancel { host_id, run_id }).await
                {
                    tracing::warn!(error = %e, "cancel not relayed");
                }
                continue;
            }
            JobCommand::Cloud {
                run_id,
                tenant,
                action,
                server,
                image,
                key_pair,
                wait_s,
            } => {
                let s = state.clone();
                tokio::spawn(async move {
                    let rebuild = crate::cloud::Rebuild {
                        image: image.as_deref(),
                        key_pair: key_pair.as_deref(),
                    };
                    let (status, out, err) =
                        crate::cloud::operate(&s, &tenant, action, &server, rebuild, wait_s).await;
                    if let Err(e) = s
                        .store
                        .finish_job_run(&run_id, None, status, None, err.as_deref(), Some(&out))
                        .await
                    {
                        tracing::warn!(run = %run_id, error = %e, "cloud run result not stored");
                    }
                });
                continue;
            }
            JobCommand::Http {
                run_id,
                method,
                url,
                body,
                expected_status,
                timeout_s,
            } => {
                let s = state.clone();
                tokio::spawn(async move {
                    let (status, out, err) =
                        http_call(&s, &method, &url, body, expected_status, timeout_s).await;
                    if let Err(e) = s
                        .store
                        .finish_job_run(&run_id, None, status, None, err.as_deref(), Some(&out))
                        .await
                    {
                        tracing::warn!(run = %run_id, error = %e, "HTTP run result not stored");
                    }
                });
                continue;
            }
        };
        if state.agents.send(&host_id, msg) {
            continue;
        }
        let offline = match state.store.host_tenant(&host_id).await {
            Ok(tenant) => state
                .store
                .get_host(&tenant, &host_id, state.heartbeat_ms as i64)
                .await
                .map(|h| h.agent_status == AgentStatus::Offline)
                .unwrap_or(true),
            Err(_) => true,
        };
        if !offline {
            // Connected to another replica (its heartbeats are fresh).
            if let Err(e) = state.store.relay(&Relay::Runs { host_id }).await {
                tracing::warn!(run = %run_id, error = %e, "run not relayed");
            }
            continue;
        }
        if let Err(e) = state
            .store
            .finish_job_run(
                &run_id,
                None,
                TaskStatus::Failed,
                None,
                Some("the host's agent is offline"),
                None,
            )
            .await
        {
            tracing::warn!(run = %run_id, error = %e, "run failure not stored");
        }
    }
}

/// Makes an HTTP atom's call under the egress policy: `(status, output,
/// error)`. The output says the status and time and keeps the start of
/// the body (at most [`HTTP_BODY_KEPT`] characters are read).
async fn http_call(
    state: &AppState,
    method: &str,
    url: &str,
    body: Option<String>,
    expected: u16,
    timeout_s: u32,
) -> (TaskStatus, String, Option<String>) {
    let refused = |why: String| (TaskStatus::Failed, format!("{method} {url}\n"), Some(why));
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return refused(format!("not a URL: {e}")),
    };
    if let Err(e) = crate::egress::check_url(&state.egress, &parsed) {
        return refused(e);
    }
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut rb = state
        .outbound
        .request(m, parsed)
        .timeout(Duration::from_secs(u64::from(timeout_s)));
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let started = Instant::now();
    match rb.send().await {
        Ok(mut r) => {
            let code = r.status().as_u16();
            // Only the start of the body is read: a huge answer costs nothing.
            let mut bytes = Vec::new();
            let mut more = false;
            while let Ok(Some(chunk)) = r.chunk().await {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > HTTP_BODY_KEPT * 4 {
                    more = true;
                    break;
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let mut kept: String = text.chars().take(HTTP_BODY_KEPT).collect();
            if more || kept.len() < text.len() {
                kept.push_str("\n… (truncated)");
            }
            let out = format!(
                "{method} {url} → HTTP {code} in {} ms\n{kept}\n",
                started.elapsed().as_millis()
            );
            if code == expected {
                (TaskStatus::Successful, out, None)
            } else {
                (
                    TaskStatus::Failed,
                    out,
                    Some(format!("expected HTTP {expected}, got {code}")),
                )
            }
        }
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {timeout_s} s")
            } else {
                format!("the call failed: {}", crate::egress::describe(&e))
            };
            (TaskStatus::Failed, format!("{method} {url}\n"), Some(why))
        }
    }
}
