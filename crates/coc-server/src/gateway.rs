//! Agent gateway (R1, R3): agents dial `GET /api/v1/agent/connect` with a
//! bearer token and speak [`coc_proto`] over WebSocket. The gateway
//! registers the host, records heartbeats, stores streamed output and task
//! results (acknowledging each), and delivers commands from the executor.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use coc_domain::DEFAULT_TENANT;
use coc_domain::ticket::TaskStatus;
use coc_proto::{AgentMessage, ExecOutcome, PROTOCOL_VERSION, ServerMessage};
use coc_store::report::Report;
use coc_store::resource::HostFacts;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::{ApiError, AppState, LiveEvent, bearer};

/// Connected agents by host id. Each connection has a generation number so
/// a stale connection's cleanup never removes a newer one.
#[derive(Default)]
pub struct Agents {
    inner: Mutex<HashMap<String, (u64, mpsc::Sender<ServerMessage>)>>,
    generation: AtomicU64,
}

impl Agents {
    /// Sends a message to a host's agent; `false` when it is not connected
    /// or its queue is full.
    pub fn send(&self, host_id: &str, m: ServerMessage) -> bool {
        let tx = self
            .inner
            .lock()
            .unwrap()
            .get(host_id)
            .map(|(_, tx)| tx.clone());
        tx.is_some_and(|tx| tx.try_send(m).is_ok())
    }

    /// Whether the host's agent is connected to this server.
    pub fn is_connected(&self, host_id: &str) -> bool {
        self.inner.lock().unwrap().contains_key(host_id)
    }

    /// Number of connected agents.
    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().len()
    }

    fn register(&self, host_id: &str, tx: mpsc::Sender<ServerMessage>) -> u64 {
        let g = self.generation.fetch_add(1, Ordering::Relaxed);
        self.inner
            .lock()
            .unwrap()
            .insert(host_id.to_string(), (g, tx));
        g
    }

    fn unregister(&self, host_id: &str, g: u64) {
        let mut m = self.inner.lock().unwrap();
        if m.get(host_id).is_some_and(|(cur, _)| *cur == g) {
            m.remove(host_id);
        }
    }
}

/// Read buffer of an agent connection, bytes (grows for larger frames).
pub const WS_READ_BUFFER: usize = 4 * 1024;
/// Largest message an agent may send, bytes.
pub const WS_MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The gateway route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agent/connect", get(connect))
}

async fn connect(
    State(s): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // The server's agent token (or the admin token) enrolls into the
    // default tenant; a tenant's enrollment token into that tenant.
    let tenant = match bearer(&headers) {
        Some(t) if s.may_connect_agent(t) => Some(DEFAULT_TENANT.to_string()),
        Some(t) => match s.store.enrollment_tenant(t).await {
            Ok(t) => t,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    match tenant {
        Some(tenant) => match ws {
            Ok(ws) => ws
                // Small buffers: a thousand idle agents must not cost a
                // 128 KiB read buffer each (the default).
                .read_buffer_size(WS_READ_BUFFER)
                .write_buffer_size(0)
                .max_message_size(WS_MAX_MESSAGE)
                .on_upgrade(move |socket| session(s, socket, tenant))
                .into_response(),
            Err(e) => e.into_response(),
        },
        None => ApiError::new(
            "unauthorized",
            "agents connect with an agent enrollment token",
        )
        .into_response(),
    }
}

async fn session(s: AppState, socket: WebSocket, tenant: String) {
    let (mut tx, mut rx) = socket.split();
    let reply =
        |m: &ServerMessage| Message::Text(serde_json::to_string(m).unwrap_or_default().into());
    let hello = tokio::time::timeout(Duration::from_secs(10), rx.next()).await;
    let facts = match hello {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<AgentMessage>(&t) {
            Ok(AgentMessage::Hello { version, facts }) if version == PROTOCOL_VERSION => facts,
            Ok(AgentMessage::Hello { version, .. }) => {
                let reason = format!(
                    "protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}"
                );
                let _ = tx.send(reply(&ServerMessage::Refused { reason })).await;
                return;
            }
            _ => return,
        },
        _ => return,
    };
    let host_facts = HostFacts {
        agent_id: facts.agent_id.clone(),
        hostname: facts.hostname.clone(),
        ips: facts.ips.clone(),
        os: facts.os.clone(),
        arch: facts.arch.clone(),
        cpu_cores: i64::from(facts.cpu_cores),
        memory_bytes: facts.memory_bytes as i64,
        agent_version: facts.agent_version.clone(),
        boot_id: facts.boot_id.clone(),
    };
    let host_id = match s.store.upsert_host(&tenant, &host_facts).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "cannot register host");
            return;
        }
    };
    if tx
        .send(reply(&ServerMessage::Welcome {
            host_id: host_id.clone(),
            heartbeat_interval_ms: s.heartbeat_ms,
        }))
        .await
        .is_err()
    {
        return;
    }
    tracing::info!(%host_id, hostname = %facts.hostname, "agent connected");
    let (out_tx, mut out_rx) = mpsc::channel::<ServerMessage>(1024);
    let generation = s.agents.register(&host_id, out_tx.clone());
    // Runs the server still waits for are sent again (X8); the agent
    // ignores ids it already knows and re-sends results it still holds.
    match s.store.redispatch(&host_id).await {
        Ok(cmds) => crate::workers::jobs::carry_out(&s, cmds).await,
        Err(e) => tracing::warn!(%host_id, error = %e, "cannot list runs to send again"),
    }
    s.store.work.notify_one();
    let mut closing = s.closing.clone();
    loop {
        tokio::select! {
            _ = closing.changed() => {
                let _ = tx.send(Message::Close(None)).await;
                break;
            }
            m = out_rx.recv() => {
                let Some(m) = m else { break };
                if tx.send(reply(&m)).await.is_err() { break; }
            }
            m = rx.next() => {
                let text = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<AgentMessage>(&text) {
                    Ok(m) => {
                        if let Some(ack) = handle(&s, &host_id, m).await
                            && tx.send(reply(&ack)).await.is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!(%host_id, error = %e, "unreadable agent message"),
                }
            }
        }
    }
    s.agents.unregister(&host_id, generation);
    tracing::info!(%host_id, "agent disconnected");
}

async fn handle(s: &AppState, host_id: &str, m: AgentMessage) -> Option<ServerMessage> {
    match m {
        AgentMessage::Heartbeat { .. } => {
            if let Err(e) = s
                .store
                .report(Report::Heartbeat {
                    host_id: host_id.to_string(),
                })
                .await
            {
                tracing::warn!(error = %e, "heartbeat not stored");
            }
            None
        }
        AgentMessage::Output { task_id, data, .. } => {
            let stored = s
                .store
                .report(Report::Output {
                    task_id: task_id.clone(),
                    host_id: host_id.to_string(),
                    data: data.clone(),
                })
                .await;
            match stored {
                Ok(Some(ticket_id)) => {
                    let _ = s.live.send(LiveEvent {
                        ticket_id,
                        task_id,
                        data: Some(data),
                        done: false,
                    });
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "output not stored"),
            }
            None
        }
        AgentMessage::Result {
            task_id,
            outcome,
            exit_code,
            error,
        } => {
            crate::crash_point("before_result_store");
            let status = match outcome {
                ExecOutcome::Success => TaskStatus::Successful,
                ExecOutcome::Cancelled => TaskStatus::Cancelled,
                _ => TaskStatus::Failed,
            };
            // A script-ticket task or a job run, stored with other agents'
            // reports in one commit.
            let stored = s
                .store
                .report(Report::Result {
                    task_id: task_id.clone(),
                    host_id: host_id.to_string(),
                    status,
                    exit_code: exit_code.map(i64::from),
                    error,
                })
                .await;
            match stored {
                Ok(ticket) => {
                    if let Some(ticket_id) = ticket {
                        let _ = s.live.send(LiveEvent {
                            ticket_id,
                            task_id: task_id.clone(),
                            data: None,
                            done: true,
                        });
                    }
                    crate::crash_point("before_ack");
                    Some(ServerMessage::Ack { task_id })
                }
                Err(e) => {
                    // No ack: the agent re-sends the result after reconnect.
                    tracing::error!(error = %e, "task result not stored");
                    None
                }
            }
        }
        AgentMessage::Hello { .. } => None,
    }
}
