//! # coc-server — the COC control plane
//!
//! One axum application: the REST API under `/api/v1` ([`api`]), alarm
//! ingest under `/ingest/<key>/…` ([`ingest`]), the agent gateway
//! ([`gateway`]), and the engine of background rounds ([`engine`]).
//! [`state`] holds the settings and the state every handler shares;
//! [`startup::start`] binds a listener and runs all of it until the
//! returned [`Running`] is shut down.
//!
//! Every `/api/v1` route passes one middleware, [`guard::guard`]:
//! authentication by API token, authorization against IAM-style policies,
//! and the audit record. Agents prove their own key on the gateway
//! (enrolling once with an agent enrollment token).

#![warn(missing_docs)]

pub mod alertmanager;
pub mod api;
pub mod cloud;
pub mod console;
pub mod drift;
pub mod egress;
pub mod engine;
pub mod error;
pub mod extract;
pub mod gateway;
pub mod guard;
pub mod ingest;
pub mod metrics;
pub mod session;
pub mod startup;
pub mod state;
pub mod tls;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};

pub use error::{ApiError, ApiResult};
pub use startup::{Running, start};
pub(crate) use state::bearer;
pub use state::{AppState, LiveEvent, NotifyConfig, ServerConfig, SmsGateway};

/// Largest API request body, bytes (1 MiB).
pub const API_BODY_LIMIT: usize = 1024 * 1024;
/// Largest ingest request body, bytes (16 MiB; Prometheus batches ≤ 256 alerts).
pub const INGEST_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Test hook of the crash tests (X8): when the environment variable
/// `COC_CRASH_AT` is `NAME` or `NAME:N`, the process aborts — no cleanup,
/// like `SIGKILL` — the N-th time (default the first) it passes the point
/// called `NAME`. Points: `before_dispatch` (run states committed, nothing
/// sent yet), `before_result_store` (a result arrived, not stored),
/// `before_ack` (stored, not acknowledged), `after_send` (a notification
/// sent, its attempt not recorded). Unset, it costs one atomic load.
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
            guard::Guard {
                app: state.clone(),
                routes: api::routes(),
            },
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
        .merge(alertmanager::router())
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
