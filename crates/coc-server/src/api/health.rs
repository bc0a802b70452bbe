//! Health check API (M7): start a check of hosts (one click: the probe
//! runs on each host through the one engine), list the checks (including
//! those scheduled tasks made), read a check's report — every host's
//! items and COC's own, each pass, warn or fail against its threshold —
//! and export it as a self-contained HTML file that prints well, as JSON
//! or as CSV. Hosts are named by id or host name; starting a check needs
//! `coc:health:check` on every host.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::health::{HealthCheckSpec, Report};
use coc_store::Page;
use coc_store::access::Principal;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/health-checks",
        "health",
        "Start a health check (M7) of hosts (ids or names): each host's agent runs the read-only probe COC-HEALTH-PROBE (disk and inode use, memory and swap, load, time sync, failed services, TLS certificates of listening ports, pending reboot); the report adds each host's patch compliance and agent version, and COC's own database size and latency, queues, offline agents and failed notifications. thresholds: {disk_pct: {warn, fail}, …} (each optional); batch_size and success_rate_threshold as for job tickets. Answers the report (hosts waiting); the check's id is its job ticket's",
        HealthCheck,
        body = coc_domain::health::HealthCheckSpec,
        created = coc_domain::health::Report
    ),
    route!(
        "GET",
        "/api/v1/health-checks",
        "health",
        "Health checks, newest first (the job tickets of COC-Health-Check: started here, or by a scheduled task running that job)",
        HealthList,
        query = ListQuery,
        ok = coc_store::Paged<coc_store::jobticket::JobTicket>
    ),
    route!(
        "GET",
        "/api/v1/health-checks/{id}",
        "health",
        "A health check's report (by id or ticket number): the worst verdict, counts per verdict, each host's items (waiting while its probe runs) and COC's items, with the thresholds used",
        HealthGet,
        ok = coc_domain::health::Report
    ),
    route!(
        "GET",
        "/api/v1/health-checks/{id}/export",
        "health",
        "A health check's report as a file: format=html (default: one self-contained page that prints well), json, or csv (scope, item, value, threshold, verdict)",
        HealthGet,
        query = ExportQuery,
        media = "text/html"
    ),
];

/// Query of the list.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Rows per page, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Query of an export.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `html` (default), `json` or `csv`.
    pub format: Option<String>,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health-checks", post(start).get(list))
        .route("/api/v1/health-checks/{id}", get(report))
        .route("/api/v1/health-checks/{id}/export", get(export))
}

/// The version agents are compared with: the server's own.
pub(crate) const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

async fn start(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<HealthCheckSpec>,
) -> ApiResult<(StatusCode, Json<Report>)> {
    super::resource::require_hosts(&s, &p, &c, &b.hosts).await?;
    let r = s
        .store
        .start_health_check(
            &p.tenant,
            &b,
            s.heartbeat_ms as i64,
            SERVER_VERSION,
            &p.user_name,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<coc_store::Paged<coc_store::jobticket::JobTicket>>> {
    let page = Page {
        limit: q.limit.unwrap_or(0),
        cursor: q.cursor,
    };
    Ok(Json(s.store.list_health_checks(&p.tenant, &page).await?))
}

/// The report of check `id` for the caller.
pub(crate) async fn read(s: &AppState, p: &Principal, id: &str) -> ApiResult<Report> {
    Ok(s.store
        .health_report(&p.tenant, id, s.heartbeat_ms as i64, SERVER_VERSION)
        .await?)
}

async fn report(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Report>> {
    Ok(Json(read(&s, &p, &id).await?))
}

/// The report as a page of its own: inline styles, no script, printable.
#[derive(Template)]
#[template(path = "health_report.html")]
pub(crate) struct ReportFile<'a> {
    pub(crate) r: &'a Report,
    pub(crate) created: String,
    pub(crate) finished: String,
}

impl<'a> ReportFile<'a> {
    /// The page of `r`, its times in UTC.
    pub(crate) fn of(r: &'a Report) -> Self {
        ReportFile {
            r,
            created: utc(r.created_at),
            finished: r.finished_at.map(utc).unwrap_or_else(|| "running".into()),
        }
    }
}

/// Unix ms as `2026-11-30 01:02:03 UTC`.
pub(crate) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

async fn export(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let r = read(&s, &p, &id).await?;
    let file = format!("health-check-{}", r.number);
    let internal = |e: &dyn std::fmt::Display| ApiError::new(ErrorCode::Internal, e.to_string());
    let attach = |kind: &str, ext: &str, body: Vec<u8>| {
        Response::builder()
            .header(axum::http::header::CONTENT_TYPE, kind)
            .header(
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.{ext}\""),
            )
            .body(axum::body::Body::from(body))
            .map_err(|e| internal(&e))
    };
    match q.format.as_deref().unwrap_or("html") {
        "html" => {
            let html = ReportFile::of(&r).render().map_err(|e| internal(&e))?;
            attach("text/html; charset=utf-8", "html", html.into_bytes())
        }
        "json" => attach(
            "application/json",
            "json",
            serde_json::to_vec_pretty(&r).map_err(|e| internal(&e))?,
        ),
        "csv" => super::csv_download(
            &format!("{file}.csv"),
            &["scope", "item", "value", "threshold", "verdict"],
            r.rows().into_iter().map(Vec::from),
        ),
        other => Ok(ApiError::new(
            ErrorCode::ValidationFailed,
            format!("'{other}' is no export format: html, json or csv"),
        )
        .into_response()),
    }
}
