//! # coc-server — the COC control plane
//!
//! One axum application: the REST API under `/api/v1` ([`api`]), alarm
//! ingest under `/ingest/<key>/…` ([`ingest`]), the agent gateway
//! ([`gateway`]), and the engine of background rounds ([`engine`]). [`start`] binds a
//! listener and runs all of it until the returned [`Running`] is shut down.
//!
//! Every `/api/v1` route passes one middleware, [`guard::guard`]:
//! authentication by API token, authorization against IAM-style policies,
//! and the audit record. Agents prove their own key on the gateway
//! (enrolling once with an agent enrollment token).

#![warn(missing_docs)]

pub mod api;
pub mod console;
pub mod egress;
pub mod engine;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod guard;
pub mod ingest;
pub mod metrics;
pub mod session;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use coc_store::Store;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

pub use error::{ApiError, ApiResult};

/// Largest API request body, bytes (1 MiB).
pub const API_BODY_LIMIT: usize = 1024 * 1024;
/// Largest ingest request body, bytes (16 MiB; Prometheus batches ≤ 256 alerts).
pub const INGEST_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks one).
    pub listen: SocketAddr,
    /// The admin API token.
    pub admin_token: String,
    /// Agent heartbeat interval, ms (default 5000).
    pub heartbeat_ms: u64,
    /// Password of the `admin` user created at first start; `None`
    /// generates one, returned once in [`Running::bootstrap`].
    pub admin_password: Option<String>,
    /// Notification channels that need settings (SMTP, SMS gateway) and
    /// the public URL used in links sent to people.
    pub notify: NotifyConfig,
    /// Serve HTTPS with these settings ([`tls::load`]); `None`: plain HTTP
    /// (loopback, or behind a TLS-terminating proxy).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Where COC's own HTTP calls (HTTP atoms, webhooks) may go.
    pub egress: coc_domain::egress::Egress,
}

/// Settings of the channels that are not plain webhooks (ref. 11.3).
#[derive(Clone, Default)]
pub struct NotifyConfig {
    /// Base URL people reach COC at (`https://coc.example.com`), used in
    /// subscription confirmation links; default `http://<listen address>`.
    pub public_url: Option<String>,
    /// SMTP server as a URL: `smtp://host:25` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465`; `None`: email
    /// deliveries fail with "SMTP is not configured" and are retried.
    pub smtp_url: Option<String>,
    /// Sender address of email (`COC <coc@example.com>`).
    pub smtp_from: String,
    /// SMS and voice gateway speaking the Twilio REST API (Twilio itself
    /// or a compatible gateway); `None`: SMS and voice deliveries fail.
    pub sms: Option<SmsGateway>,
    /// Bound on one send on any channel, ms (default
    /// [`coc_domain::notify::DEFAULT_SEND_TIMEOUT_MS`], at most
    /// [`coc_domain::notify::MAX_SEND_TIMEOUT_MS`]: inside the delivery
    /// lease).
    pub send_timeout_ms: Option<u64>,
}

/// A Twilio-compatible SMS/voice gateway: `POST
/// {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` (form
/// `To`, `From`, `Body`) for SMS and `…/Calls.json` (form `To`, `From`,
/// `Twiml`) for voice, with HTTP basic auth `account_sid:auth_token`.
#[derive(Clone)]
pub struct SmsGateway {
    /// Base URL (`https://api.twilio.com`).
    pub base_url: String,
    /// Account SID (basic auth user).
    pub account_sid: String,
    /// Auth token (basic auth password; never logged).
    pub auth_token: String,
    /// Sender number, E.164.
    pub from: String,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "***"))
            .field("smtp_from", &self.smtp_from)
            .field("sms", &self.sms.as_ref().map(|g| &g.base_url))
            .field("send_timeout_ms", &self.send_timeout_ms)
            .finish()
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("admin_token", &"***")
            .field("heartbeat_ms", &self.heartbeat_ms)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field("notify", &self.notify)
            .field("tls", &self.tls.is_some())
            .field("egress", &self.egress)
            .finish()
    }
}

/// A live event for SSE subscribers: output of a task, or its end.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveEvent {
    /// Ticket id.
    pub ticket_id: String,
    /// Task id.
    pub task_id: String,
    /// Output chunk, if any.
    pub data: Option<String>,
    /// The task finished.
    pub done: bool,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    admin_hash: Arc<[u8; 32]>,
    /// Password checks at once per server (4): a burst of parallel guesses
    /// gets at most 4 past the throttle before failures are recorded, and
    /// cannot take every core.
    pub logins: Arc<tokio::sync::Semaphore>,
    /// Agent connections still in their handshake (at most
    /// [`gateway::MAX_HANDSHAKES`]).
    pub handshakes: Arc<tokio::sync::Semaphore>,
    /// Connected agents.
    pub agents: Arc<gateway::Agents>,
    /// Live output fan-out.
    pub live: broadcast::Sender<LiveEvent>,
    /// Heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// Channel settings.
    pub notify: Arc<NotifyConfig>,
    /// Base URL for links sent to people (no trailing slash).
    pub public_url: Arc<str>,
    /// Served over TLS (HSTS, `Secure` cookies, `coc:SecureTransport`).
    pub tls: bool,
    /// Where COC's own HTTP calls may go ([`egress`]).
    pub egress: Arc<coc_domain::egress::Egress>,
    /// The HTTP client of job HTTP atoms, under [`AppState::egress`].
    pub outbound: reqwest::Client,
    /// Becomes `true` when the server shuts down; long-lived connections
    /// (agent sessions) watch it and close.
    pub closing: tokio::sync::watch::Receiver<bool>,
    close_tx: Arc<tokio::sync::watch::Sender<bool>>,
}

fn hash(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time equality of two digests.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn bearer(req_headers: &axum::http::HeaderMap) -> Option<&str> {
    req_headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl AppState {
    /// Builds the state from a store and a config.
    pub fn new(store: Store, cfg: &ServerConfig) -> Self {
        let (live, _) = broadcast::channel(4096);
        let (close_tx, closing) = tokio::sync::watch::channel(false);
        AppState {
            closing,
            close_tx: Arc::new(close_tx),
            store,
            admin_hash: Arc::new(hash(&cfg.admin_token)),
            handshakes: Arc::new(tokio::sync::Semaphore::new(gateway::MAX_HANDSHAKES)),
            logins: Arc::new(tokio::sync::Semaphore::new(4)),
            agents: Arc::new(gateway::Agents::default()),
            live,
            heartbeat_ms: cfg.heartbeat_ms,
            notify: Arc::new(cfg.notify.clone()),
            tls: cfg.tls.is_some(),
            egress: Arc::new(cfg.egress.clone()),
            outbound: egress::client(Arc::new(cfg.egress.clone()), None)
                .unwrap_or_else(|_| reqwest::Client::new()),
            public_url: cfg
                .notify
                .public_url
                .clone()
                .unwrap_or_else(|| {
                    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
                    format!("{scheme}://{}", cfg.listen)
                })
                .trim_end_matches('/')
                .into(),
        }
    }

    /// An absolute link to `path` at the public URL.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Whether `token` is the admin token.
    pub fn is_admin(&self, token: &str) -> bool {
        same(&hash(token), &self.admin_hash)
    }
}

/// Test hook of the crash tests (X8): when the environment variable
/// `COC_CRASH_AT` is `NAME` or `NAME:N`, the process aborts — no cleanup,
/// like `SIGKILL` — the N-th time (default the first) it passes the point
/// called `NAME`. Points: `before_dispatch` (run states committed, nothing
/// sent yet), `before_result_store` (a result arrived, not stored),
/// `before_ack` (stored, not acknowledged). Unset, it costs one atomic
/// load.
pub fn crash_point(name: &str) {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SPEC: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var("COC_CRASH_AT").ok()?;
        let (n, at) = v.split_once(':').unwrap_or((&v, "1"));
        Some((n.to_string(), at.parse().unwrap_or(1)))
    });
    if let Some((n, at)) = spec
        && n == name
        && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *at
    {
        eprintln!("COC_CRASH_AT: aborting at {name}");
        std::process::abort();
    }
}

/// Content security policy of every answer: the console's own script and
/// styles only, no frames, forms posting to COC only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every answer (unless a handler set its
/// own): CSP, no framing, no MIME sniffing, no referrer to other sites,
/// and HSTS when served over TLS.
async fn security_headers(
    State(s): State<AppState>,
    mut r: axum::response::Response,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set("content-security-policy", CSP);
    set("x-frame-options", "DENY");
    set("x-content-type-options", "nosniff");
    set("referrer-policy", "same-origin");
    if s.tls {
        set("strict-transport-security", "max-age=31536000");
    }
    r
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let api = api::router()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT));
    Router::new()
        .merge(api)
        .merge(api::public_router())
        .merge(session::router())
        .merge(console::router())
        .merge(gateway::router())
        .merge(ingest::router().layer(DefaultBodyLimit::max(INGEST_BODY_LIMIT)))
        .fallback(|| async { ApiError::new(crate::error::ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|req: axum::extract::Request| async move {
            ApiError::new(
                crate::error::ErrorCode::MethodNotAllowed,
                format!("{} is not defined for {}", req.method(), req.uri().path()),
            )
        })
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` until `stop` completes, with the peer's
/// address as connect info.
async fn serve_on<L>(listener: L, app: Router, stop: impl Future<Output = ()> + Send + 'static)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use axum::serve::ListenerExt;
    let r = axum::serve(
        listener.tap_io(|_| {}),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "server stopped");
    }
}

/// A running server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// Shared state (for tests).
    pub state: AppState,
    /// What the first start created (the generated admin password, once).
    pub bootstrap: coc_store::access::Bootstrap,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Base URL, `http://addr` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.state.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests (≤ 5 s), stops workers.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let _ = self.state.close_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }

    /// Waits until the server stops (it runs until shut down).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Bootstraps the default tenant (admin user, system policies, the admin
/// token as admin's API token), binds `cfg.listen` and serves until shut
/// down; the ticket executor runs alongside.
///
/// Errors: the address cannot be bound, or the bootstrap failed.
pub async fn start(cfg: ServerConfig, store: Store) -> std::io::Result<Running> {
    let bootstrap = store
        .bootstrap(
            coc_domain::DEFAULT_TENANT,
            &cfg.admin_token,
            cfg.admin_password.as_deref(),
        )
        .await
        .map_err(|e| std::io::Error::other(format!("bootstrap failed: {e}")))?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let mut cfg = cfg;
    cfg.listen = addr;
    let state = AppState::new(store, &cfg);
    metrics::handle();
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    state
        .store
        .listen()
        .await
        .map_err(|e| std::io::Error::other(format!("cannot listen for other replicas: {e}")))?;
    let engine = engine::start(&state).map_err(std::io::Error::other)?;
    let stop = async move {
        let _ = rx.await;
    };
    let served = match cfg.tls.clone() {
        Some(t) => tokio::spawn(serve_on(tls::TlsListener::new(listener, t)?, app, stop)),
        None => tokio::spawn(serve_on(listener, app, stop)),
    };
    let task = tokio::spawn(async move {
        let _ = served.await;
        for t in engine {
            t.abort();
        }
    });
    Ok(Running {
        addr,
        state,
        bootstrap,
        shutdown: Some(tx),
        task,
    })
}
