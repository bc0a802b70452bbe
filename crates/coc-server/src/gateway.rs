//! Agent gateway (R1, R3): agents dial `GET /api/v1/agent/connect` with a
//! bearer token and speak [`coc_proto`] over WebSocket. The gateway
//! registers the host, records heartbeats, stores streamed output and task
//! results (acknowledging each), and delivers commands from the executor.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use coc_domain::ticket::TaskStatus;
use coc_proto::{
    AgentMessage, ExecOutcome, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION, ServerMessage,
};
use coc_store::agent::AgentAdmission;
use coc_store::audit::NewAudit;
use coc_store::report::Report;
use coc_store::resource::HostFacts;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::api::catalog::{RouteDoc, route};
use crate::{ApiError, AppState, LiveEvent, bearer};

/// A connected agent: its connection's generation, its queue, the
/// protocol version it speaks.
type Link = (u64, mpsc::Sender<ServerMessage>, u32);

/// Connected agents by host id. Each connection has a generation number so
/// a stale connection's cleanup never removes a newer one.
#[derive(Default)]
pub struct Agents {
    /// Per host: its connection.
    inner: Mutex<HashMap<String, Link>>,
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
            .map(|(_, tx, _)| tx.clone());
        tx.is_some_and(|tx| tx.try_send(m).is_ok())
    }

    /// Whether the host's agent is connected to this server.
    pub fn is_connected(&self, host_id: &str) -> bool {
        self.inner.lock().unwrap().contains_key(host_id)
    }

    /// Tells a host's agent it is refused (`reason`) and closes its
    /// connection (a revoked identity, a deleted host); `false` when it is
    /// not connected here.
    pub fn refuse(&self, host_id: &str, reason: &str) -> bool {
        self.send(
            host_id,
            ServerMessage::Refused {
                reason: reason.to_string(),
            },
        )
    }

    /// The protocol version of a host's agent, when it is connected here.
    pub fn protocol(&self, host_id: &str) -> Option<u32> {
        self.inner.lock().unwrap().get(host_id).map(|(_, _, v)| *v)
    }

    /// Number of connected agents.
    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().len()
    }

    fn register(&self, host_id: &str, tx: mpsc::Sender<ServerMessage>, version: u32) -> u64 {
        let g = self.generation.fetch_add(1, Ordering::Relaxed);
        self.inner
            .lock()
            .unwrap()
            .insert(host_id.to_string(), (g, tx, version));
        g
    }

    fn unregister(&self, host_id: &str, g: u64) {
        let mut m = self.inner.lock().unwrap();
        if m.get(host_id).is_some_and(|(cur, _, _)| *cur == g) {
            m.remove(host_id);
        }
    }
}

/// Read buffer of an agent connection, bytes (grows for larger frames).
pub const WS_READ_BUFFER: usize = 4 * 1024;
/// Largest message an agent may send, bytes.
pub const WS_MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// Longest time an agent has for each handshake step (hello, proof).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections in their handshake at once; more are answered 503.
pub const MAX_HANDSHAKES: usize = 1024;

/// The gateway route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agent/connect", get(connect))
}

async fn connect(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // An enrollment token, if the agent sent one: used only when its key
    // is not bound to a host yet.
    let token = bearer(&headers)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .map(str::to_string);
    let Ok(permit) = s.handshakes.clone().try_acquire_owned() else {
        return ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "too many agents are connecting; retry later",
        )
        .into_response();
    };
    match ws {
        Ok(ws) => ws
            // Small buffers: a thousand idle agents must not cost a
            // 128 KiB read buffer each (the default).
            .read_buffer_size(WS_READ_BUFFER)
            .write_buffer_size(0)
            .max_message_size(WS_MAX_MESSAGE)
            .on_upgrade(move |socket| session(s, socket, token, addr, permit))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn reply(m: &ServerMessage) -> Message {
    Message::Text(serde_json::to_string(m).unwrap_or_default().into())
}

/// The next text message of the handshake, within [`HANDSHAKE_TIMEOUT`].
async fn next_agent_message(
    rx: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Option<AgentMessage> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, rx.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str(&t).ok(),
        _ => None,
    }
}

/// Checks the size of what an agent reports about its host; `Err` says
/// which fact is out of bounds.
fn check_facts(f: &coc_proto::Facts) -> Result<(), String> {
    let short = |name: &str, v: &str, max: usize| {
        if v.len() > max || v.chars().any(|c| c.is_control()) {
            Err(format!(
                "{name} must be at most {max} bytes without control characters"
            ))
        } else {
            Ok(())
        }
    };
    if f.agent_id.is_empty() {
        return Err("agent_id is empty".into());
    }
    short("agent_id", &f.agent_id, 128)?;
    short("hostname", &f.hostname, 255)?;
    short("os", &f.os, 256)?;
    short("arch", &f.arch, 64)?;
    short("agent_version", &f.agent_version, 64)?;
    short("boot_id", &f.boot_id, 128)?;
    short("agent_sha256", &f.agent_sha256, 64)?;
    short("proxy", f.proxy.as_deref().unwrap_or_default(), 256)?;
    short(
        "proxy_listen",
        f.proxy_listen.as_deref().unwrap_or_default(),
        256,
    )?;
    if f.ips.len() > 64 {
        return Err("at most 64 IP addresses".into());
    }
    for ip in &f.ips {
        short("an IP address", ip, 64)?;
    }
    Ok(())
}

/// Verifies an Ed25519 proof: `public_key` and `signature` in hex.
fn proof_verifies(nonce: &str, agent_id: &str, public_key: &str, signature: &str) -> bool {
    let (Ok(pk), Ok(sig)) = (hex::decode(public_key), hex::decode(signature)) else {
        return false;
    };
    pk.len() == 32
        && ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk)
            .verify(&coc_proto::proof_message(nonce, agent_id, public_key), &sig)
            .is_ok()
}

/// The handshake: `hello` (facts, public key) → `challenge` → `proof` →
/// admission by the store ([`coc_domain::agent::admit`]) → `welcome` or
/// `refused`. Returns the host the connection speaks for.
async fn handshake(
    s: &AppState,
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    rx: &mut futures_util::stream::SplitStream<WebSocket>,
    token: Option<&str>,
    addr: SocketAddr,
) -> Option<(String, coc_proto::Facts, u32)> {
    let refuse = |reason: String| reply(&ServerMessage::Refused { reason });
    let (facts, public_key, version) = match next_agent_message(rx).await? {
        AgentMessage::Hello {
            version,
            facts,
            public_key,
        } if (OLDEST_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) => {
            (*facts, public_key, version)
        }
        AgentMessage::Hello { version, .. } => {
            let reason = format!(
                "protocol version {version} is not supported; this server speaks {OLDEST_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
            );
            let _ = tx.send(refuse(reason)).await;
            return None;
        }
        _ => return None,
    };
    if let Err(why) = check_facts(&facts) {
        let _ = tx.send(refuse(why)).await;
        return None;
    }
    let nonce = hex::encode(rand::random::<[u8; coc_proto::NONCE_LEN]>());
    tx.send(reply(&ServerMessage::Challenge {
        nonce: nonce.clone(),
    }))
    .await
    .ok()?;
    let AgentMessage::Proof { signature } = next_agent_message(rx).await? else {
        return None;
    };
    let audit = |tenant: &str, host: Option<&str>, trace: &str, status: i64, why: Option<&str>| {
        let a = NewAudit {
            trace: trace.into(),
            action: coc_domain::access::Action::AgentEnroll.as_str().into(),
            user_name: format!("agent:{}", facts.agent_id),
            source_ip: Some(addr.ip().to_string()),
            method: "GET".into(),
            path: "/api/v1/agent/connect".into(),
            resource_type: "resource".into(),
            resource_id: host.map(str::to_string),
            request: serde_json::json!({"hostname": facts.hostname,
                "fingerprint": coc_domain::agent::key_fingerprint(&public_key), "refused": why}),
            status,
        };
        let (store, tenant) = (s.store.clone(), tenant.to_string());
        async move {
            if let Err(e) = store.append_audit(&tenant, &a).await {
                tracing::error!(error = %e, "audit record not written");
            }
        }
    };
    if !proof_verifies(&nonce, &facts.agent_id, &public_key, &signature) {
        let why = "the proof of the agent's key does not verify";
        tracing::warn!(agent_id = %facts.agent_id, %addr, "agent refused: {why}");
        // Someone claims an enrolled host's key without holding it.
        if let Ok(Some((host, tenant))) = s.store.host_by_agent_key(&public_key).await {
            audit(&tenant, Some(&host), "refuseAgent", 403, Some(why)).await;
        }
        let _ = tx.send(refuse(why.into())).await;
        return None;
    }
    let host_facts = HostFacts {
        agent_id: facts.agent_id.clone(),
        hostname: facts.hostname.clone(),
        ips: facts.ips.clone(),
        os: facts.os.clone(),
        arch: facts.arch.clone(),
        cpu_cores: i64::from(facts.cpu_cores),
        memory_bytes: i64::try_from(facts.memory_bytes).unwrap_or(i64::MAX),
        agent_version: facts.agent_version.clone(),
        boot_id: facts.boot_id.clone(),
        proxy: facts.proxy.clone(),
        proxy_listen: facts.proxy_listen.clone(),
        agent_sha256: facts.agent_sha256.clone(),
    };
    let now = s.store.now();
    let admitted = match s
        .store
        .admit_agent(&host_facts, &public_key, token, now)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot register host");
            return None;
        }
    };
    match admitted {
        AgentAdmission::Admitted(a) => {
            if a.enrolled_with.is_some() {
                tracing::info!(host_id = %a.host_id, hostname = %facts.hostname, %addr, "agent enrolled");
                audit(&a.tenant, Some(&a.host_id), "enrollAgent", 201, None).await;
            }
            tx.send(reply(&ServerMessage::Welcome {
                host_id: a.host_id.clone(),
                heartbeat_interval_ms: s.heartbeat_ms,
            }))
            .await
            .ok()?;
            Some((a.host_id, facts, version))
        }
        AgentAdmission::Refused {
            why,
            tenant,
            host_id,
        } => {
            tracing::warn!(agent_id = %facts.agent_id, %addr, reason = %why, "agent refused");
            if let Some(t) = &tenant {
                let text = why.to_string();
                audit(t, host_id.as_deref(), "refuseAgent", 403, Some(&text)).await;
            }
            let _ = tx.send(refuse(why.to_string())).await;
            None
        }
    }
}

async fn session(
    s: AppState,
    socket: WebSocket,
    token: Option<String>,
    addr: SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let (mut tx, mut rx) = socket.split();
    let Some((host_id, facts, version)) =
        handshake(&s, &mut tx, &mut rx, token.as_deref(), addr).await
    else {
        return;
    };
    drop(permit);
    tracing::info!(%host_id, hostname = %facts.hostname, "agent connected");
    let (out_tx, mut out_rx) = mpsc::channel::<ServerMessage>(1024);
    let generation = s.agents.register(&host_id, out_tx.clone(), version);
    drop(out_tx);
    // Runs the server still waits for are sent again (X8); the agent
    // ignores ids it already knows and re-sends results it still holds.
    match s.store.redispatch(&host_id).await {
        Ok(cmds) => crate::engine::jobticket::carry_out(&s, cmds).await,
        Err(e) => tracing::warn!(%host_id, error = %e, "cannot list runs to send again"),
    }
    s.store.work.notify_one();
    // Drift (R5): the agent is told again what to watch.
    if let Some(w) = crate::drift::current_watch(&s, &host_id).await {
        s.agents.send(&host_id, ServerMessage::Watch(w));
    }
    let mut closing = s.closing.clone();
    loop {
        tokio::select! {
            _ = closing.changed() => {
                let _ = tx.send(Message::Close(None)).await;
                break;
            }
            m = out_rx.recv() => {
                let Some(m) = m else { break };
                // A revoked or deleted host's agent is told why, then cut off.
                let last = matches!(m, ServerMessage::Refused { .. });
                if tx.send(reply(&m)).await.is_err() || last { break; }
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
        AgentMessage::Discovery {
            listeners,
            connections,
        } => {
            if let Err(e) = s
                .store
                .record_discovery(host_id, &listeners, &connections)
                .await
            {
                tracing::warn!(%host_id, error = %e, "discovery report not stored");
            }
            None
        }
        AgentMessage::State {
            packages,
            services,
            files,
        } => {
            let seen = coc_domain::drift::Observed {
                packages,
                services,
                files,
            };
            match s.store.record_drift_state(host_id, seen).await {
                Ok(out) => {
                    if let Err(e) = crate::drift::raise(s, out.alarm).await {
                        tracing::warn!(%host_id, error = %e, "drift alarm not raised");
                    }
                    // It answered an older watch: the current one again.
                    return out.resend.map(ServerMessage::Watch);
                }
                Err(e) => tracing::warn!(%host_id, error = %e, "drift report not stored"),
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
                        host_id: host_id.to_string(),
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
            patches,
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
                    patches,
                })
                .await;
            match stored {
                Ok(ticket) => {
                    if let Some(ticket_id) = ticket {
                        let _ = s.live.send(LiveEvent {
                            ticket_id,
                            task_id: task_id.clone(),
                            host_id: host_id.to_string(),
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
        // An upgrading agent pulls its new build (R3), piece by piece.
        AgentMessage::Fetch { task_id, offset } => {
            let answer = match s.store.agent_upgrade_chunk(&task_id, host_id, offset).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(%host_id, error = %e, "agent build piece not read");
                    Err("the server cannot read the build now".to_string())
                }
            };
            let (data, error) = match answer {
                Ok(d) => (d, None),
                Err(e) => (String::new(), Some(e)),
            };
            Some(ServerMessage::Chunk {
                task_id,
                offset,
                data,
                error,
            })
        }
        AgentMessage::Hello { .. } | AgentMessage::Proof { .. } => None,
    }
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[route!(
    "GET",
    "/api/v1/agent/connect",
    "agent",
    "Agent gateway (WebSocket, agent token)",
    public,
    media = "application/octet-stream"
)];
