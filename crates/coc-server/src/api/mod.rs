//! The REST API under `/api/v1`, one router per module, each with its
//! route table next to it. Every route in [`routes`] is served, guarded
//! and documented in `/api/v1/openapi.json`.

pub mod access;
pub mod action_link;
pub mod agent;
pub mod agent_install;
pub mod agent_upgrade;
pub mod alarm;
pub mod application;
pub mod attributes;
pub mod catalog;
pub mod cloud;
pub mod docs;
pub mod drift;
pub mod health;
pub mod incident;
pub mod inhibition;
pub mod integration;
pub mod job;
pub mod notify;
pub mod oncall;
pub mod openapi;
pub mod parameter;
pub mod patch;
pub mod people;
pub mod resource;
pub mod resource_op;
pub mod rule;
pub mod schedule;
pub mod script;
pub mod silence;
pub mod sms_reply;
pub mod ticket;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use catalog::route;

pub use catalog::RouteDoc;

/// Every route of the server: the union of the modules' tables. The
/// router test walks it, so a route missing from a table is caught.
pub fn routes() -> &'static [RouteDoc] {
    static ALL: std::sync::LazyLock<Vec<RouteDoc>> = std::sync::LazyLock::new(|| {
        [
            ROUTES,
            crate::ingest::ROUTES,
            crate::alertmanager::ROUTES,
            crate::session::ROUTES,
            crate::gateway::ROUTES,
            integration::ROUTES,
            alarm::ROUTES,
            rule::ROUTES,
            silence::ROUTES,
            inhibition::ROUTES,
            incident::ROUTES,
            action_link::ROUTES,
            sms_reply::ROUTES,
            resource::ROUTES,
            application::ROUTES,
            cloud::ROUTES,
            drift::ROUTES,
            patch::ROUTES,
            health::ROUTES,
            resource_op::ROUTES,
            agent::ROUTES,
            agent_install::ROUTES,
            agent_upgrade::ROUTES,
            script::ROUTES,
            job::ROUTES,
            ticket::ROUTES,
            access::ROUTES,
            people::ROUTES,
            oncall::ROUTES,
            oncall::feed::ROUTES,
            notify::ROUTES,
            parameter::ROUTES,
            schedule::ROUTES,
            docs::ROUTES,
        ]
        .concat()
    });
    &ALL
}

/// `rows` as a CSV download named `file`.
pub(crate) fn csv_download(
    file: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> ApiResult<axum::response::Response> {
    let internal = |e: &dyn std::fmt::Display| ApiError::new(ErrorCode::Internal, e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(|e| internal(&e))?;
    for r in rows {
        w.write_record(&r).map_err(|e| internal(&e))?;
    }
    let body = w.into_inner().map_err(|e| internal(&e))?;
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        )
        .body(axum::body::Body::from(body))
        .map_err(|e| internal(&e))
}

/// A complete (unpaged) list in the shape of every list answer:
/// `{"items": […], "next_cursor": null}`.
pub(crate) fn listing<T: serde::Serialize>(items: T) -> serde_json::Value {
    serde_json::json!({"items": items, "next_cursor": null})
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/metrics",
        "health",
        "Prometheus metrics: ingest, engine rounds, queues, tickets, deliveries, agents (aggregates only)",
        public,
        media = "text/plain"
    ),
    route!(
        "GET",
        "/healthz",
        "health",
        "Liveness: 200 while the process runs",
        public,
        media = "text/plain"
    ),
    route!(
        "GET",
        "/readyz",
        "health",
        "Readiness: 200 once the database answers",
        public,
        media = "text/plain"
    ),
    route!(
        "GET",
        "/api/v1/openapi.json",
        "health",
        "This OpenAPI document",
        public,
        ok = serde_json::Value
    ),
];

/// Routes that need the admin token.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(access::router())
        .merge(integration::router())
        .merge(oncall::router())
        .merge(notify::router())
        .merge(people::router())
        .merge(parameter::router())
        .merge(schedule::router())
        .merge(docs::routes::<coc_domain::notify::NotificationRule>(
            "/api/v1/notification-rules",
        ))
        .merge(docs::routes::<coc_domain::escalation::EscalationPolicy>(
            "/api/v1/escalation-policies",
        ))
        .merge(docs::routes::<coc_domain::sla::Sla>("/api/v1/slas"))
        .merge(docs::routes::<coc_domain::plan::Plan>("/api/v1/plans"))
        .merge(docs::routes::<coc_domain::patch::BaselineSpec>(
            "/api/v1/patch-baselines",
        ))
        .merge(notify::sla_router())
        .merge(alarm::router())
        .merge(rule::router())
        .merge(silence::router())
        .merge(inhibition::router())
        .merge(incident::router())
        .merge(resource::router())
        .merge(application::router())
        .merge(cloud::router())
        .merge(agent_install::router())
        .merge(agent_upgrade::router())
        .merge(drift::router())
        .merge(patch::router())
        .merge(health::router())
        .merge(resource_op::router())
        .merge(agent::router())
        .merge(script::router())
        .merge(job::router())
        .merge(ticket::router())
}

/// Routes without authentication: health, readiness, OpenAPI.
pub fn public_router() -> Router<AppState> {
    Router::new()
        .merge(people::public_router())
        .merge(action_link::public_router())
        .merge(sms_reply::public_router())
        .merge(oncall::feed::public_router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/readyz", get(readyz))
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
}

async fn readyz(State(s): State<AppState>) -> axum::response::Response {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(_) => ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "the database does not answer",
        )
        .into_response(),
    }
}

/// Paging parameters shared by list endpoints: `limit` 1..=1000 (default
/// 100) and the previous page's `next_cursor`.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct PageQuery {
    /// Rows per page.
    pub limit: Option<u32>,
    /// Opaque cursor.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Validates the limit.
    ///
    /// Errors: `bad_query` when outside 1..=1000.
    pub fn page(&self) -> Result<coc_store::Page, ApiError> {
        match self.limit {
            Some(l) if l == 0 || l > 1000 => Err(ApiError::new(
                crate::error::ErrorCode::BadQuery,
                "limit must be 1 to 1000",
            )),
            l => Ok(coc_store::Page {
                limit: l.unwrap_or(100),
                cursor: self.cursor.clone(),
            }),
        }
    }
}
