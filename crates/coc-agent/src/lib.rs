//! # coc-agent — the COC host agent ("UniAgent", R3)
//!
//! Runs on every managed host and dials out to the server's gateway
//! (`/api/v1/agent/connect`, WebSocket, over TLS for `https://` servers:
//! [`link`]); it never listens. On each connection it says `hello` with its
//! host facts and public key, proves its [`identity`] by signing the
//! server's challenge, then sends heartbeats,
//! runs the scripts it is sent ([`exec`]), streams their output, and reports
//! each result until the server acknowledges it — results of tasks that
//! finished while the server was unreachable are delivered after reconnect.
//!
//! A dispatch's task id is its idempotency key: an `exec` for a task the
//! agent is running, or has run, is not run again — the [`spool`] keeps
//! the ids and the unacknowledged results on disk, so this holds across an
//! agent restart too.
//!
//! Reconnects use a capped, jittered exponential backoff
//! ([`backoff_delay`]). A standalone agent replaces itself with another
//! build when asked, and rolls back when that build does not connect
//! ([`upgrade`]).

#![warn(missing_docs)]

pub mod cli;
pub mod discover;
pub mod drift;
pub mod exec;
pub mod facts;
pub mod identity;
pub mod link;
pub mod patch;
pub mod redact;
pub mod relay;
pub mod spool;
pub mod upgrade;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coc_proto::{AgentMessage, PROTOCOL_VERSION, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Agent settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Server base URL, `https://host:port` (or `http://` on a trusted
    /// network or loopback).
    pub server: String,
    /// More replicas of the same server: when the current one cannot be
    /// reached or drops the connection, the agent tries the next at its
    /// first reconnect (within a second), in turn.
    pub fallback_servers: Vec<String>,
    /// Enrollment token: needed until the agent's key is bound to its host
    /// (the first connection), ignored by the server afterwards.
    pub token: Option<String>,
    /// PEM file of the CA that signed the server's certificate
    /// (`https://` only); `None`: the system's trusted roots.
    pub ca_cert: Option<PathBuf>,
    /// Where the agent keeps its id, key, task markers and results
    /// (made private to its user, 0700).
    pub state_dir: PathBuf,
    /// Dev mode: run every script as the agent's own user.
    pub run_as_self: bool,
    /// Dev and test mode: a `reboot` does not reboot the machine; the
    /// agent reconnects as if the host had rebooted (a new boot id), and
    /// a power operation's shutdown only says what it would do.
    pub simulate_reboot: bool,
    /// Benchmark mode: a `patch` task does not run the package manager;
    /// it succeeds at once with this recorded report (what a host's apt
    /// and dpkg said), so many in-process agents can stand for many
    /// hosts. `None` (always in production): the package manager runs.
    pub recorded_patches: Option<Arc<coc_proto::PatchReport>>,
    /// Which package manager patch work drives (P2), and dnf's options.
    pub patching: patch::Patching,
    /// How often the agent looks at what the host listens on and talks to
    /// (R2, R4; [`discover`]); a report goes to the server when it changed,
    /// and every [`DISCOVERY_RESEND`] looks regardless. `None`: never.
    pub discovery: Option<Duration>,
    /// Proxy access (R3): reach the server through a proxy agent at this
    /// `host:port` (its `proxy_listen`); `None`: directly.
    pub proxy: Option<String>,
    /// Proxy mode (R3): relay other agents' connections to this agent's
    /// server from this address ([`relay`]); `None`: no relay.
    pub proxy_listen: Option<std::net::SocketAddr>,
    /// The agent runs as its own process from its own executable and may
    /// replace it ([`upgrade`], R3); `false` inside `coc dev`.
    pub upgradable: bool,
}

/// A discovery report is sent at least every this many looks, changed or
/// not (the server then knows it is current).
pub const DISCOVERY_RESEND: u32 = 10;

/// How often the agent stats what it watches for drift
/// ([`drift::stamp`]); a full check follows when something changed.
pub const DRIFT_LOOK: Duration = Duration::from_secs(2);

/// First reconnect delay, ms.
pub const BACKOFF_BASE_MS: u64 = 500;
/// Longest reconnect delay, ms.
pub const BACKOFF_CAP_MS: u64 = 30_000;
/// Recently finished task ids remembered in memory for idempotency (the
/// spool remembers them on disk for [`spool::KEEP_DAYS`]).
const RECENT: usize = 100_000;

/// Delay before reconnect attempt `attempt` (0-based): exponential from
/// [`BACKOFF_BASE_MS`], capped at [`BACKOFF_CAP_MS`], with "equal jitter"
/// (a uniform pick in the upper half), so a fleet does not reconnect in
/// lockstep after a server restart.
pub fn backoff_delay(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE_MS
        .saturating_mul(1u64 << attempt.min(16))
        .min(BACKOFF_CAP_MS);
    let half = exp / 2;
    Duration::from_millis(half + rand::random_range(0..=half))
}

/// Reads the agent id from `<state_dir>/agent_id`, creating it (random
/// 128-bit hex) on first start.
///
/// Errors: the state directory cannot be created or written.
pub fn agent_id(state_dir: &std::path::Path) -> std::io::Result<String> {
    identity::private_dir(state_dir)?;
    let p = state_dir.join("agent_id");
    if let Ok(s) = std::fs::read_to_string(&p) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let id = format!("{:032x}", rand::random::<u128>());
    std::fs::write(&p, &id)?;
    Ok(id)
}

#[derive(Default)]
struct Shared {
    running: Mutex<HashMap<String, oneshot::Sender<()>>>,
    unacked: Mutex<BTreeMap<String, AgentMessage>>,
    recent: Mutex<(VecDeque<String>, HashSet<String>)>,
    /// Simulated reboots so far (dev/test mode).
    reboots: std::sync::atomic::AtomicU64,
    /// Durable task markers and results.
    spool: Option<spool::Spool>,
    /// The agent build being received (R3 upgrade).
    download: Mutex<Option<upgrade::Download>>,
}

impl Shared {
    /// For a task it knows (running, or run): its result if it still
    /// holds one, to send again instead of running the task again.
    fn again(&self, id: &str) -> Option<Option<AgentMessage>> {
        self.known(id)
            .then(|| self.unacked.lock().unwrap().get(id).cloned())
    }

    /// Keeps a task's result (spool, unacknowledged, known) until the
    /// server acknowledges it.
    fn settle(&self, msg: &AgentMessage) {
        let AgentMessage::Result { task_id, .. } = msg else {
            return;
        };
        if let Some(sp) = &self.spool {
            let _ = sp.start(task_id);
            if let Err(e) = sp.finish(task_id, msg) {
                tracing::warn!(%task_id, error = %e, "result not written to the spool");
            }
        }
        self.unacked
            .lock()
            .unwrap()
            .insert(task_id.clone(), msg.clone());
        self.remember(task_id);
    }

    fn known(&self, id: &str) -> bool {
        self.running.lock().unwrap().contains_key(id)
            || self.unacked.lock().unwrap().contains_key(id)
            || self.recent.lock().unwrap().1.contains(id)
    }
    fn remember(&self, id: &str) {
        let mut r = self.recent.lock().unwrap();
        if r.1.insert(id.to_string()) {
            r.0.push_back(id.to_string());
            if r.0.len() > RECENT
                && let Some(old) = r.0.pop_front()
            {
                r.1.remove(&old);
            }
        }
    }
}

/// Runs the agent forever: connect, serve, reconnect with backoff.
///
/// Errors: only when the state directory is unusable, or the CA file of an
/// `https://` server cannot be read.
pub async fn run(cfg: AgentConfig) -> std::io::Result<()> {
    if let Some(dir) = std::env::var_os(upgrade::WATCH_ENV) {
        // This process is an upgrade's rollback watcher, not an agent.
        // It blocks: nothing else runs in this process.
        upgrade::watch(std::path::Path::new(&dir));
        return Ok(());
    }
    let identity = identity::Identity::load_or_create(&cfg.state_dir)?;
    let id = agent_id(&cfg.state_dir)?;
    let servers: Vec<&str> = std::iter::once(cfg.server.as_str())
        .chain(cfg.fallback_servers.iter().map(String::as_str))
        .collect();
    let tls = if servers.iter().any(|s| s.starts_with("https://")) {
        Some(link::tls_config(cfg.ca_cert.as_deref())?)
    } else {
        None
    };
    let who = Who {
        id: &id,
        identity: &identity,
        tls: tls.as_ref(),
    };
    if let Some(listen) = cfg.proxy_listen {
        let upstreams = servers
            .iter()
            .map(|s| link::endpoint(s).map_err(std::io::Error::other))
            .collect::<std::io::Result<Vec<_>>>()?;
        let listener = relay::bind(listen).await?;
        tracing::info!(%listen, "relaying agents to the server (proxy mode)");
        tokio::spawn(relay::serve(listener, upstreams));
    }
    let (sp, loaded) = spool::Spool::open(&cfg.state_dir)?;
    let shared = Arc::new(Shared {
        spool: Some(sp),
        ..Default::default()
    });
    for k in &loaded.known {
        shared.remember(k);
    }
    // An upgrade whose new build was rolled back: this old build reports it.
    if let Some(m) = upgrade::on_start(&cfg.state_dir) {
        shared.settle(&m);
    }
    if !loaded.unacked.is_empty() {
        tracing::info!(
            results = loaded.unacked.len(),
            "results from before the restart wait for the server"
        );
    }
    for m in loaded.unacked {
        if let AgentMessage::Result { task_id, .. } = &m {
            shared
                .unacked
                .lock()
                .unwrap()
                .insert(task_id.clone(), m.clone());
        }
    }
    let (events_tx, mut events_rx) = mpsc::channel::<AgentMessage>(4096);
    let mut attempt = 0u32;
    let mut current = 0usize;
    loop {
        let url = servers[current % servers.len()];
        match session(
            &cfg,
            url,
            &who,
            &shared,
            &events_tx,
            &mut events_rx,
            &mut attempt,
        )
        .await
        {
            Ok(()) => tracing::info!(server = url, "connection closed by server"),
            Err(e) => tracing::warn!(server = url, error = %e, "connection failed"),
        }
        // The next replica, if there are several.
        current = current.wrapping_add(1);
        let d = backoff_delay(attempt);
        attempt = attempt.saturating_add(1);
        tracing::info!(delay_ms = d.as_millis() as u64, "reconnecting");
        // Output produced while disconnected is dropped; results wait in `unacked`.
        let sleep = tokio::time::sleep(d);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                ev = events_rx.recv() => { if ev.is_none() { break; } }
            }
        }
    }
}

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

/// Who the agent is on every connection.
struct Who<'a> {
    id: &'a str,
    identity: &'a identity::Identity,
    tls: Option<&'a Arc<rustls::ClientConfig>>,
}

/// The next server message of the handshake.
async fn next_server_message<S>(rx: &mut S) -> Result<ServerMessage, BoxErr>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let m = tokio::time::timeout(link::CONNECT_TIMEOUT, rx.next())
        .await
        .map_err(|_| "the server did not answer the handshake")?;
    match m {
        Some(Ok(Message::Text(t))) => Ok(serde_json::from_str::<ServerMessage>(&t)?),
        other => Err(format!("the server closed the handshake: {other:?}").into()),
    }
}

async fn session(
    cfg: &AgentConfig,
    url: &str,
    who: &Who<'_>,
    shared: &Arc<Shared>,
    events_tx: &mpsc::Sender<AgentMessage>,
    events_rx: &mut mpsc::Receiver<AgentMessage>,
    attempt: &mut u32,
) -> Result<(), BoxErr> {
    let ws = link::connect(url, cfg.token.as_deref(), who.tls, cfg.proxy.as_deref()).await?;
    let (mut tx, mut rx) = ws.split();
    let send =
        |m: &AgentMessage| Message::Text(serde_json::to_string(m).unwrap_or_default().into());
    let mut facts = facts::collect(who.id);
    facts.proxy = cfg.proxy.clone();
    facts.proxy_listen = cfg.proxy_listen.map(|a| a.to_string());
    let sim = shared.reboots.load(std::sync::atomic::Ordering::Relaxed);
    if sim > 0 {
        facts.boot_id = format!("{}-sim{sim}", facts.boot_id);
    }
    tx.send(send(&AgentMessage::Hello {
        version: PROTOCOL_VERSION,
        facts: Box::new(facts),
        public_key: who.identity.public_key().to_string(),
    }))
    .await?;
    match next_server_message(&mut rx).await? {
        ServerMessage::Challenge { nonce } => {
            let signature = who.identity.prove(&nonce, who.id);
            tx.send(send(&AgentMessage::Proof { signature })).await?;
        }
        ServerMessage::Refused { reason } => return Err(format!("refused: {reason}").into()),
        other => return Err(format!("unexpected first message {other:?}").into()),
    }
    let interval = match next_server_message(&mut rx).await {
        Ok(ServerMessage::Welcome {
            host_id,
            heartbeat_interval_ms,
        }) => {
            tracing::info!(%host_id, "connected");
            heartbeat_interval_ms.max(100)
        }
        Ok(ServerMessage::Refused { reason }) => return Err(format!("refused: {reason}").into()),
        Ok(other) => return Err(format!("unexpected message {other:?}").into()),
        Err(e) => return Err(format!("no welcome: {e}").into()),
    };
    *attempt = 0;
    // The new build of an upgrade, connected: the upgrade worked.
    if let Some(m) = upgrade::on_welcome(&cfg.state_dir) {
        tracing::info!("upgraded: this build connected");
        shared.settle(&m);
    }
    let pending: Vec<AgentMessage> = shared.unacked.lock().unwrap().values().cloned().collect();
    for m in &pending {
        tx.send(send(m)).await?;
    }
    let mut hb = tokio::time::interval(Duration::from_millis(interval));
    // Discovery: looks every `cfg.discovery`; a new connection starts with
    // a report.
    let mut look = tokio::time::interval(cfg.discovery.unwrap_or(Duration::from_secs(86_400)));
    let mut last_found: Option<AgentMessage> = None;
    let mut unchanged = 0u32;
    // Drift (R5): what the server asked to watch (it says again on every
    // connection); stat every DRIFT_LOOK, a full check when a stamp moved
    // or `interval_s` passed; a report when the state changed, and after
    // every periodic check regardless.
    let mut watch: Option<coc_proto::Watch> = None;
    let mut stamp = drift::Stamp::default();
    let mut last_state: Option<AgentMessage> = None;
    let mut checked = tokio::time::Instant::now();
    let mut drift_look = tokio::time::interval(DRIFT_LOOK);
    loop {
        tokio::select! {
            _ = hb.tick() => {
                let at_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                tx.send(send(&AgentMessage::Heartbeat { at_ms })).await?;
            }
            _ = look.tick(), if cfg.discovery.is_some() => {
                let (listeners, connections) = tokio::task::spawn_blocking(discover::scan).await.unwrap_or_default();
                let found = AgentMessage::Discovery { listeners, connections };
                if last_found.as_ref() != Some(&found) || unchanged + 1 >= DISCOVERY_RESEND {
                    tx.send(send(&found)).await?;
                    last_found = Some(found);
                    unchanged = 0;
                } else {
                    unchanged += 1;
                }
            }
            _ = drift_look.tick(), if watch.is_some() => {
                let Some(w) = watch.clone() else { continue };
                let due = checked.elapsed() >= Duration::from_secs(w.interval_s.max(1));
                let w2 = w.clone();
                let now_stamp = tokio::task::spawn_blocking(move || drift::stamp(&w2)).await.unwrap_or_default();
                if due || now_stamp != stamp {
                    stamp = now_stamp;
                    checked = tokio::time::Instant::now();
                    let state = drift_state(w).await;
                    if due || last_state.as_ref() != Some(&state) {
                        tx.send(send(&state)).await?;
                        last_state = Some(state);
                    }
                }
            }
            ev = events_rx.recv() => {
                if let Some(m) = ev { tx.send(send(&m)).await?; }
            }
            msg = rx.next() => {
                let msg = match msg { None => return Ok(()), Some(m) => m? };
                let text = match msg {
                    Message::Text(t) => t,
                    Message::Close(_) => return Ok(()),
                    _ => continue,
                };
                let m: ServerMessage = match serde_json::from_str(&text) {
                    Ok(m) => m,
                    Err(e) => { tracing::warn!(error = %e, "unreadable server message"); continue; }
                };
                if let ServerMessage::Watch(w) = m {
                    // A new watch: check now and report.
                    if w.packages.is_empty() && w.services.is_empty() && w.files.is_empty() {
                        watch = None;
                        continue;
                    }
                    let w2 = w.clone();
                    stamp = tokio::task::spawn_blocking(move || drift::stamp(&w2)).await.unwrap_or_default();
                    checked = tokio::time::Instant::now();
                    let state = drift_state(w.clone()).await;
                    tx.send(send(&state)).await?;
                    last_state = Some(state);
                    watch = Some(w);
                    continue;
                }
                handle(cfg, shared, events_tx, m, &mut tx, &send).await?;
            }
        }
    }
}

/// A full drift check off the async threads, as a `state` message.
async fn drift_state(w: coc_proto::Watch) -> AgentMessage {
    let (packages, services, files) = tokio::task::spawn_blocking(move || drift::check(&w))
        .await
        .unwrap_or_default();
    AgentMessage::State {
        packages,
        services,
        files,
    }
}

/// Starts task `req` (a script, or with `patch` the package manager's
/// work), unless it is known: its result is sent again instead (X8). The
/// task runs in the background; its output and result go to `events_tx`.
#[allow(clippy::too_many_arguments)]
async fn start_task<S>(
    cfg: &AgentConfig,
    shared: &Arc<Shared>,
    events_tx: &mpsc::Sender<AgentMessage>,
    tx: &mut S,
    send: &impl Fn(&AgentMessage) -> Message,
    req: exec::ExecRequest,
    redact: Vec<String>,
    patch: Option<coc_proto::PatchAction>,
) -> Result<(), BoxErr>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let mut req = req;
    let task_id = req.task_id.clone();
    // Idempotent dispatch: re-send a stored result, never re-run.
    if let Some(stored) = shared.again(&task_id) {
        if let Some(r) = stored {
            tx.send(send(&r)).await?;
        }
        return Ok(());
    }
    let started = match &shared.spool {
        Some(sp) => {
            let (sp, id) = (sp.clone(), task_id.clone());
            tokio::task::spawn_blocking(move || sp.start(&id))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        }
        None => Ok(()),
    };
    if let Err(e) = started {
        // Without the marker a restart could run it twice: refuse.
        let msg = AgentMessage::Result {
            task_id: task_id.clone(),
            outcome: coc_proto::ExecOutcome::Error,
            exit_code: None,
            error: Some(format!(
                "the agent cannot record the task in its spool: {e}"
            )),
            patches: None,
        };
        shared.remember(&task_id);
        shared
            .unacked
            .lock()
            .unwrap()
            .insert(task_id.clone(), msg.clone());
        tx.send(send(&msg)).await?;
        return Ok(());
    }
    // Benchmark mode: a recorded report stands for the host's.
    if let (Some(_), Some(recorded)) = (&patch, &cfg.recorded_patches) {
        let msg = AgentMessage::Result {
            task_id: task_id.clone(),
            outcome: coc_proto::ExecOutcome::Success,
            exit_code: Some(0),
            error: None,
            patches: Some(Box::new(recorded.as_ref().clone())),
        };
        shared.settle(&msg);
        tx.send(send(&msg)).await?;
        return Ok(());
    }
    // Patch work: the package manager's script, and what an
    // installation is about to replace.
    let mut replaced = None;
    if let Some(action) = &patch {
        let prepared = tokio::task::spawn_blocking({
            let action = action.clone();
            let patching = cfg.patching.clone();
            move || patch::prepare(&action, &patching)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match prepared {
            Ok(p) => {
                req.content = p.content;
                req.env = p.env;
                replaced = Some(p.replaced);
            }
            Err(why) => {
                let msg = AgentMessage::Result {
                    task_id: task_id.clone(),
                    outcome: coc_proto::ExecOutcome::Error,
                    exit_code: None,
                    error: Some(why),
                    patches: None,
                };
                shared.settle(&msg);
                tx.send(send(&msg)).await?;
                return Ok(());
            }
        }
    }
    let (cancel_tx, cancel_rx) = oneshot::channel();
    shared
        .running
        .lock()
        .unwrap()
        .insert(task_id.clone(), cancel_tx);
    let shared = shared.clone();
    let events = events_tx.clone();
    let run_as_self = cfg.run_as_self;
    let patching = cfg.patching.clone();
    // What the agent tells every task about itself (R3: an
    // installation copies its binary; an uninstallation removes
    // it, its state, and stops it).
    let mut env = std::mem::take(&mut req.env);
    for (k, v) in [
        (
            "COC_AGENT_EXE",
            std::env::current_exe().unwrap_or_default().into_os_string(),
        ),
        (
            "COC_AGENT_STATE_DIR",
            cfg.state_dir.clone().into_os_string(),
        ),
        ("COC_AGENT_PID", std::process::id().to_string().into()),
    ] {
        env.insert(k.to_string(), v.to_string_lossy().into_owned());
    }
    // An agent that simulates reboots (tests, demos) tells the shutdown
    // of a power operation (P4) to simulate it too.
    if cfg.simulate_reboot {
        env.insert("COC_AGENT_SIMULATED_POWER".into(), "1".into());
    }
    tokio::spawn(async move {
        let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
        let fwd_events = events.clone();
        let tid = task_id.clone();
        // Secret parameter values never leave the agent in output.
        let mut redactor = redact::Redactor::new(redact.iter().filter_map(|k| env.get(k).cloned()));
        let fwd = tokio::spawn(async move {
            let mut seq = 0u64;
            let mut send = |data: String| {
                if !data.is_empty() {
                    let _ = fwd_events.try_send(AgentMessage::Output {
                        task_id: tid.clone(),
                        seq,
                        data,
                    });
                    seq += 1;
                }
            };
            while let Some(data) = out_rx.recv().await {
                send(redactor.push(&data));
            }
            send(redactor.finish());
        });
        req.env = env;
        let r = exec::run(req, out_tx, cancel_rx, run_as_self).await;
        let _ = fwd.await;
        // After patch work: the host's packages as they are now.
        let patches = match (patch, replaced) {
            (Some(_), Some(replaced)) => {
                tokio::task::spawn_blocking(move || patch::report(replaced, &patching))
                    .await
                    .ok()
                    .map(Box::new)
            }
            _ => None,
        };
        let msg = AgentMessage::Result {
            task_id: task_id.clone(),
            outcome: r.outcome,
            exit_code: r.exit_code,
            error: r.error,
            patches,
        };
        if let Some(sp) = &shared.spool {
            let (sp, id, m) = (sp.clone(), task_id.clone(), msg.clone());
            let r = tokio::task::spawn_blocking(move || sp.finish(&id, &m)).await;
            if let Ok(Err(e)) = r {
                tracing::warn!(%task_id, error = %e, "result not written to the spool");
            }
        }
        shared
            .unacked
            .lock()
            .unwrap()
            .insert(task_id.clone(), msg.clone());
        shared.running.lock().unwrap().remove(&task_id);
        shared.remember(&task_id);
        let _ = events.send(msg).await;
    });
    Ok(())
}

async fn handle<S>(
    cfg: &AgentConfig,
    shared: &Arc<Shared>,
    events_tx: &mpsc::Sender<AgentMessage>,
    m: ServerMessage,
    tx: &mut S,
    send: &impl Fn(&AgentMessage) -> Message,
) -> Result<(), BoxErr>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    match m {
        ServerMessage::Exec {
            task_id,
            script_type,
            content,
            env,
            redact,
            run_as,
            timeout_s,
        } => {
            let req = exec::ExecRequest {
                task_id,
                script_type,
                content,
                env,
                run_as,
                timeout_s,
            };
            start_task(cfg, shared, events_tx, tx, send, req, redact, None).await?;
        }
        // Patch work (P2) is a shell task of the package manager that
        // ends with a report of the host's packages.
        ServerMessage::Patch {
            task_id,
            action,
            timeout_s,
        } => {
            let req = exec::ExecRequest {
                task_id,
                script_type: "shell".into(),
                content: String::new(),
                env: BTreeMap::new(),
                run_as: "root".into(),
                timeout_s,
            };
            start_task(cfg, shared, events_tx, tx, send, req, vec![], Some(action)).await?;
        }
        ServerMessage::Reboot { task_id } => {
            // Idempotent dispatch: re-send a stored result, never re-run.
            if let Some(stored) = shared.again(&task_id) {
                if let Some(r) = stored {
                    tx.send(send(&r)).await?;
                }
                return Ok(());
            }
            let msg = AgentMessage::Result {
                task_id: task_id.clone(),
                outcome: coc_proto::ExecOutcome::Success,
                exit_code: Some(0),
                error: None,
                patches: None,
            };
            shared.settle(&msg);
            tx.send(send(&msg)).await?;
            if cfg.simulate_reboot {
                tracing::warn!(%task_id, "simulated reboot: reconnecting with a new boot id");
                shared
                    .reboots
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err("simulated reboot".into());
            }
            tracing::warn!(%task_id, "rebooting the host in 2 s");
            // Give the server time to store and acknowledge the result.
            let _ = std::process::Command::new("sh")
                .args(["-c", "sleep 2; systemctl reboot || /sbin/reboot"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        ServerMessage::Upgrade {
            task_id,
            version,
            sha256,
            size_bytes,
            rollback_after_s,
        } => {
            // Idempotent dispatch: re-send a stored result, never re-run.
            if let Some(stored) = shared.again(&task_id) {
                if let Some(r) = stored {
                    tx.send(send(&r)).await?;
                }
                return Ok(());
            }
            let running = shared.running.lock().unwrap().len();
            let refusal = if !cfg.upgradable {
                Some(
                    "this agent runs inside the server (coc dev) and cannot replace itself"
                        .to_string(),
                )
            } else if sha256.eq_ignore_ascii_case(facts::own_sha256()) {
                None
            } else if running > 0 {
                Some(format!(
                    "{running} task(s) are running: upgrade when they ended"
                ))
            } else {
                let exe = std::env::current_exe().unwrap_or_default();
                match upgrade::Download::begin(
                    &exe,
                    &task_id,
                    &version,
                    &sha256,
                    size_bytes,
                    rollback_after_s,
                ) {
                    Ok(d) => {
                        tracing::info!(%version, size_bytes, "fetching agent build");
                        if let Some(old) = shared.download.lock().unwrap().replace(d) {
                            old.abandon();
                        }
                        tx.send(send(&AgentMessage::Fetch { task_id, offset: 0 }))
                            .await?;
                        return Ok(());
                    }
                    Err(e) => Some(format!("cannot write next to {}: {e}", exe.display())),
                }
            };
            let msg = match refusal {
                Some(why) => upgrade::refused(&task_id, why),
                None => upgrade::already(&task_id),
            };
            shared.settle(&msg);
            tx.send(send(&msg)).await?;
        }
        ServerMessage::Chunk {
            task_id,
            offset,
            data,
            error,
        } => {
            let Some(mut d) = shared.download.lock().unwrap().take() else {
                return Ok(());
            };
            if d.task_id != task_id || d.offset != offset {
                // A stale answer: keep waiting for the current one.
                *shared.download.lock().unwrap() = Some(d);
                return Ok(());
            }
            let step = match error {
                Some(e) => Err(format!("the server did not send the build: {e}")),
                None => d.push(&data),
            };
            if let Err(why) = step {
                d.abandon();
                let msg = upgrade::refused(&task_id, why);
                shared.settle(&msg);
                tx.send(send(&msg)).await?;
                return Ok(());
            }
            if !d.complete() {
                let next = d.offset;
                *shared.download.lock().unwrap() = Some(d);
                tx.send(send(&AgentMessage::Fetch {
                    task_id,
                    offset: next,
                }))
                .await?;
                return Ok(());
            }
            let why = match d.finish() {
                Ok(staged) => match upgrade::swap_and_restart(&cfg.state_dir, &staged, &d) {
                    Ok(never) => match never {},
                    Err(why) => why,
                },
                Err(why) => why,
            };
            let msg = upgrade::refused(&task_id, why);
            shared.settle(&msg);
            tx.send(send(&msg)).await?;
        }
        ServerMessage::Cancel { task_id } => {
            if let Some(c) = shared.running.lock().unwrap().remove(&task_id) {
                let _ = c.send(());
            }
        }
        ServerMessage::Ack { task_id } => {
            shared.unacked.lock().unwrap().remove(&task_id);
            if let Some(sp) = &shared.spool {
                sp.acked(&task_id);
            }
        }
        ServerMessage::Refused { reason } => {
            // The server no longer accepts this identity (revoked, deleted).
            return Err(format!("refused: {reason}").into());
        }
        // `watch` is the session's own (see `session`).
        ServerMessage::Welcome { .. }
        | ServerMessage::Challenge { .. }
        | ServerMessage::Watch(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        for a in 0..40 {
            let d = backoff_delay(a).as_millis() as u64;
            let exp = (BACKOFF_BASE_MS << a.min(16)).min(BACKOFF_CAP_MS);
            assert!(d >= exp / 2 && d <= exp, "attempt {a}: {d}");
        }
        let distinct: HashSet<u128> = (0..20).map(|_| backoff_delay(10).as_millis()).collect();
        assert!(distinct.len() > 1, "no jitter");
    }

    #[test]
    fn agent_id_is_stable() {
        let d = std::env::temp_dir().join(format!("coc-agent-test-{}", rand::random::<u64>()));
        let a = agent_id(&d).unwrap();
        assert_eq!(a, agent_id(&d).unwrap());
        assert_eq!(a.len(), 32);
        let _ = std::fs::remove_dir_all(d);
    }
}
