//! The REST API under `/api/v1`, one router per module. Every route listed
//! in [`ROUTES`] is served and documented in `/api/v1/openapi.json`.

pub mod alarm;
pub mod incident;
pub mod integration;
pub mod openapi;
pub mod resource;
pub mod rule;
pub mod script;
pub mod ticket;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;

/// One documented route: method, path (axum syntax), tag and summary.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Module.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Needs the bearer token.
    pub auth: bool,
}

macro_rules! r {
    ($m:literal, $p:literal, $t:literal, $s:literal) => {
        RouteDoc {
            method: $m,
            path: $p,
            tag: $t,
            summary: $s,
            auth: true,
        }
    };
    ($m:literal, $p:literal, $t:literal, $s:literal, public) => {
        RouteDoc {
            method: $m,
            path: $p,
            tag: $t,
            summary: $s,
            auth: false,
        }
    };
}

/// Every route of the server. The router test walks this table, so a
/// route missing here is caught.
pub const ROUTES: &[RouteDoc] = &[
    r!(
        "GET",
        "/healthz",
        "health",
        "Liveness: 200 while the process runs",
        public
    ),
    r!(
        "GET",
        "/readyz",
        "health",
        "Readiness: 200 once the database answers",
        public
    ),
    r!(
        "GET",
        "/api/v1/openapi.json",
        "health",
        "This OpenAPI document",
        public
    ),
    r!(
        "POST",
        "/api/v1/integrations",
        "integration",
        "Create an integration; the response carries its key (ref. 7.5)"
    ),
    r!(
        "GET",
        "/api/v1/integrations",
        "integration",
        "List integrations"
    ),
    r!(
        "GET",
        "/api/v1/integrations/{id}",
        "integration",
        "Show an integration"
    ),
    r!(
        "POST",
        "/api/v1/integrations/{id}/enable",
        "integration",
        "Enable an integration"
    ),
    r!(
        "POST",
        "/api/v1/integrations/{id}/disable",
        "integration",
        "Disable an integration: its key is refused with 403"
    ),
    r!(
        "POST",
        "/api/v1/integrations/{id}/rotate-key",
        "integration",
        "Replace the key (update the integration sign)"
    ),
    r!(
        "POST",
        "/ingest/{key}/api/v2/alerts",
        "ingest",
        "Alertmanager v2 alerts as posted by Prometheus",
        public
    ),
    r!(
        "POST",
        "/ingest/{key}/alertmanager",
        "ingest",
        "Alertmanager webhook payload version 4",
        public
    ),
    r!(
        "POST",
        "/ingest/{key}/generic",
        "ingest",
        "Generic JSON alarm object or list (ref. 7.4.2 fields)",
        public
    ),
    r!(
        "GET",
        "/api/v1/alarms",
        "alarm",
        "Alarm center list: filters status, level, name, source, region, since, until; limit, cursor"
    ),
    r!("GET", "/api/v1/alarms/{id}", "alarm", "Show an alarm"),
    r!(
        "GET",
        "/api/v1/alarms/{id}/history",
        "alarm",
        "History of an alarm (ref. 7.2.1.4)"
    ),
    r!(
        "POST",
        "/api/v1/alarms/clear",
        "alarm",
        "Clear alarms with a remark of at most 100 characters (ref. 7.2.1.3)"
    ),
    r!(
        "POST",
        "/api/v1/alarms/convert",
        "alarm",
        "Convert alarms of one region to an incident (ref. 7.2.1.2)"
    ),
    r!(
        "GET",
        "/api/v1/forwarding-rules",
        "rule",
        "List forwarding rules"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules",
        "rule",
        "Create a forwarding rule (ref. 7.4.2)"
    ),
    r!(
        "GET",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Show a forwarding rule"
    ),
    r!(
        "PUT",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Modify a forwarding rule"
    ),
    r!(
        "DELETE",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Delete a forwarding rule"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules/{id}/copy",
        "rule",
        "Copy a forwarding rule under a new name (the copy is disabled)"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules/{id}/enable",
        "rule",
        "Enable a forwarding rule"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules/{id}/disable",
        "rule",
        "Disable a forwarding rule"
    ),
    r!(
        "GET",
        "/api/v1/incidents",
        "incident",
        "List incidents: filters status, level, assignee; limit, cursor"
    ),
    r!(
        "POST",
        "/api/v1/incidents",
        "incident",
        "Create an incident (ref. 7.1.2)"
    ),
    r!(
        "GET",
        "/api/v1/incidents/{id}",
        "incident",
        "Show an incident with history and original alarms"
    ),
    r!(
        "POST",
        "/api/v1/incidents/{id}/actions",
        "incident",
        "Apply a lifecycle action (ref. 7.1.3, figure 7-1)"
    ),
    r!(
        "GET",
        "/api/v1/resources",
        "resource",
        "List hosts with agent status (ref. 3.1)"
    ),
    r!("GET", "/api/v1/resources/{id}", "resource", "Show a host"),
    r!("GET", "/api/v1/scripts", "script", "List scripts"),
    r!(
        "POST",
        "/api/v1/scripts",
        "script",
        "Create a script (ref. 5.1.1)"
    ),
    r!("GET", "/api/v1/scripts/{id}", "script", "Show a script"),
    r!(
        "PUT",
        "/api/v1/scripts/{id}",
        "script",
        "Modify a script (new version)"
    ),
    r!(
        "DELETE",
        "/api/v1/scripts/{id}",
        "script",
        "Delete a script"
    ),
    r!(
        "POST",
        "/api/v1/scripts/{id}/execute",
        "script",
        "Execute a script on hosts: a script ticket (ref. 5.1.3)"
    ),
    r!(
        "GET",
        "/api/v1/tickets",
        "ticket",
        "List script tickets (ref. 10.1.1)"
    ),
    r!(
        "GET",
        "/api/v1/tickets/{id}",
        "ticket",
        "Show a ticket with per-host status, exit code and output"
    ),
    r!(
        "POST",
        "/api/v1/tickets/{id}/actions",
        "ticket",
        "Pause, continue or forcibly end a ticket"
    ),
    r!(
        "POST",
        "/api/v1/tickets/{id}/tasks/{task_id}/cancel",
        "ticket",
        "Cancel one host of a ticket"
    ),
    r!(
        "GET",
        "/api/v1/tickets/{id}/events",
        "ticket",
        "Live output of a ticket (server-sent events)"
    ),
    r!(
        "GET",
        "/api/v1/agent/connect",
        "agent",
        "Agent gateway (WebSocket, agent token)",
        public
    ),
];

/// Routes that need the admin token.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(integration::router())
        .merge(alarm::router())
        .merge(rule::router())
        .merge(incident::router())
        .merge(resource::router())
        .merge(script::router())
        .merge(ticket::router())
}

/// Routes without authentication: health, readiness, OpenAPI, landing page.
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
}

async fn readyz(State(s): State<AppState>) -> axum::response::Response {
    match s.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(_) => ApiError::new("unavailable", "the database does not answer").into_response(),
    }
}

async fn landing() -> Html<String> {
    let mut rows = String::new();
    for r in ROUTES {
        rows.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            r.method, r.path, r.summary
        ));
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>COC</title></head>\
         <body><h1>COC — Cloud Operations Center</h1>\
         <p>The web console arrives with issue 6. The API is documented at \
         <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>; use the admin token from \
         <code>&lt;data-dir&gt;/admin.token</code> as <code>Authorization: Bearer</code>.</p>\
         <table><thead><tr><th>Method</th><th>Path</th><th>What</th></tr></thead><tbody>{rows}</tbody></table>\
         </body></html>"
    ))
}

/// Paging parameters shared by list endpoints: `limit` 1..=1000 (default
/// 100) and the previous page's `next_cursor`.
#[derive(Debug, Deserialize, Default)]
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
            Some(l) if l == 0 || l > 1000 => {
                Err(ApiError::new("bad_query", "limit must be 1 to 1000"))
            }
            l => Ok(coc_store::Page {
                limit: l.unwrap_or(100),
                cursor: self.cursor.clone(),
            }),
        }
    }
}
