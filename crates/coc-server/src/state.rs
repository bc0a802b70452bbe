//! The server's settings and the state every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;

use coc_store::Store;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::{egress, gateway};

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks one).
    pub listen: SocketAddr,
    /// The admin API token.
    pub admin_token: String,
    /// Agent heartbeat interval, ms (default 5000).
    pub heartbeat_ms: u64,
    /// Days an alarm that turned `ok` is kept after it was last seen
    /// ([`coc_domain::alarm::Retention`]); 0 keeps alarms forever.
    pub alarm_retention_days: u32,
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
            .field("alarm_retention_days", &self.alarm_retention_days)
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
    /// Task id (the run's id).
    pub task_id: String,
    /// The host that ran it (a script ticket's page knows a host's row
    /// before the host's run exists).
    pub host_id: String,
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
    /// Alarm retention, days (0: forever).
    pub alarm_retention_days: u32,
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
    pub(crate) close_tx: Arc<tokio::sync::watch::Sender<bool>>,
    /// The application router the console calls in-process, built once
    /// ([`AppState::console_api`]).
    console_api: Arc<std::sync::OnceLock<axum::Router>>,
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

pub(crate) fn bearer(req_headers: &axum::http::HeaderMap) -> Option<&str> {
    req_headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl AppState {
    /// The application router the console's pages call in-process, built
    /// on first use (building it per call cost a console page most of its
    /// time). It holds a copy of this state with a cache of its own, so
    /// the router does not keep itself alive.
    pub(crate) fn console_api(&self) -> axum::Router {
        self.console_api
            .get_or_init(|| {
                let mut own = self.clone();
                own.console_api = Arc::default();
                crate::router(own)
            })
            .clone()
    }

    /// Builds the state from a store and a config.
    pub fn new(store: Store, cfg: &ServerConfig) -> Self {
        let (live, _) = broadcast::channel(4096);
        let (close_tx, closing) = tokio::sync::watch::channel(false);
        let public_url: Arc<str> = cfg
            .notify
            .public_url
            .clone()
            .unwrap_or_else(|| {
                let scheme = if cfg.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", cfg.listen)
            })
            .trim_end_matches('/')
            .into();
        store.set_public_url(&public_url);
        AppState {
            closing,
            close_tx: Arc::new(close_tx),
            console_api: Arc::default(),
            store,
            admin_hash: Arc::new(hash(&cfg.admin_token)),
            handshakes: Arc::new(tokio::sync::Semaphore::new(gateway::MAX_HANDSHAKES)),
            logins: Arc::new(tokio::sync::Semaphore::new(4)),
            agents: Arc::new(gateway::Agents::default()),
            live,
            heartbeat_ms: cfg.heartbeat_ms,
            alarm_retention_days: cfg.alarm_retention_days,
            notify: Arc::new(cfg.notify.clone()),
            tls: cfg.tls.is_some(),
            egress: Arc::new(cfg.egress.clone()),
            outbound: egress::client(Arc::new(cfg.egress.clone()), None)
                .unwrap_or_else(|_| reqwest::Client::new()),
            public_url,
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
