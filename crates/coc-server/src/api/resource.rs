//! Resources API (R1 hosts; A4 enterprise projects). Agent identity and
//! enrollment tokens: [`super::agent`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use coc_domain::resource::AgentStatus;
use coc_store::access::Principal;
use coc_store::resource::{EnterpriseProject, Host};
use serde::Deserialize;

use super::attributes;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// Body of `POST /api/v1/enterprise-projects`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// Body of `PUT /api/v1/resources/{id}/enterprise-project`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignProject {
    /// Project name; `null` removes the host from its project.
    pub name: Option<String>,
}

/// Query of `GET /api/v1/resources`: every filter optional, all given
/// must hold.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    /// Belongs to this application (id or name).
    pub application: Option<String>,
    /// In this module of its application (any case).
    pub module: Option<String>,
    /// In this enterprise project.
    pub project: Option<String>,
    /// Agent status: running, abnormal or offline.
    pub status: Option<String>,
    /// Host name (any case) or an address contains this.
    pub q: Option<String>,
    /// At most this many, by host name (1 to 10,000; default all).
    pub limit: Option<u32>,
}

/// Body of `PUT /api/v1/resources/{id}/application`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignApplication {
    /// Application id or name; `null` takes the host out of any.
    pub application: Option<String>,
    /// One of the application's modules, if any.
    #[serde(default)]
    pub module: Option<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/resources",
        "resource",
        "List hosts with agent status (ref. 3.1), by host name: filters application, module, project, status, q (name or address contains); limit",
        ResourceList,
        query = ResourceQuery,
        list = coc_store::resource::Host
    ),
    route!(
        "GET",
        "/api/v1/resources/export",
        "resource",
        "The hosts the list would show (same filters) as CSV, a header row first",
        ResourceList,
        query = ResourceQuery,
        media = "text/csv"
    ),
    route!(
        "GET",
        "/api/v1/resources/{id}",
        "resource",
        "Show a host",
        ResourceGet,
        ok = coc_store::resource::Host
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/enterprise-project",
        "resource",
        "Move a host into an enterprise project (or out)",
        ResourceUpdate,
        body = AssignProject,
        ok = coc_store::resource::Host
    ),
    route!(
        "GET",
        "/api/v1/enterprise-projects",
        "project",
        "List enterprise projects",
        ProjectList,
        list = coc_store::resource::EnterpriseProject
    ),
    route!(
        "POST",
        "/api/v1/enterprise-projects",
        "project",
        "Create an enterprise project",
        ProjectCreate,
        body = CreateProject,
        created = coc_store::resource::EnterpriseProject
    ),
    route!(
        "DELETE",
        "/api/v1/resources/{id}",
        "resource",
        "Delete a host; its agent is cut off and refused",
        ResourceDelete,
        no_content
    ),
    route!(
        "GET",
        "/api/v1/resources/{id}/services",
        "resource",
        "The services a host runs, found by its agent on its listening ports (PostgreSQL, Redis … as database, cache … resources)",
        ResourceGet,
        list = coc_domain::discovery::Service
    ),
    route!(
        "GET",
        "/api/v1/resources/{id}/dependencies",
        "resource",
        "The dependencies observed on a host: which of its processes talk to which service, on this host or another",
        ResourceGet,
        list = coc_domain::discovery::Dependency
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/application",
        "resource",
        "Put a host into an application and one of its modules (R6), or out",
        ResourceUpdate,
        body = AssignApplication,
        ok = coc_store::resource::Host
    ),
    route!(
        "PUT",
        "/api/v1/resources/{id}/tags",
        "resource",
        "Replace a host's tags (at most 20)",
        ResourceUpdate,
        body = Tags,
        ok = coc_store::resource::Host
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/resources", get(list))
        .route("/api/v1/resources/export", get(export))
        .route("/api/v1/resources/{id}", get(show).delete(delete))
        .route("/api/v1/resources/{id}/enterprise-project", put(assign))
        .route("/api/v1/resources/{id}/tags", put(set_tags))
        .route(
            "/api/v1/resources/{id}/application",
            put(assign_application),
        )
        .route("/api/v1/resources/{id}/services", get(host_services))
        .route(
            "/api/v1/resources/{id}/dependencies",
            get(host_dependencies),
        )
        .route(
            "/api/v1/enterprise-projects",
            get(list_projects).post(create_project),
        )
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<ResourceQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(listed(&s, &p, &c, q).await?)))
}

/// The hosts `q` selects that the caller may read, by host name.
async fn listed(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    q: ResourceQuery,
) -> ApiResult<Vec<Host>> {
    let status = q
        .status
        .as_deref()
        .map(|v| {
            AgentStatus::parse(v).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ValidationFailed,
                    format!("status '{v}': use running, abnormal or offline"),
                )
            })
        })
        .transpose()?;
    if q.limit.is_some_and(|l| !(1..=10_000).contains(&l)) {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "limit must be 1 to 10000",
        ));
    }
    let filter = coc_store::resource::HostFilter {
        application: q.application,
        module: q.module,
        enterprise_project: q.project,
        q: q.q,
    };
    let mut hosts = s
        .store
        .find_hosts(&p.tenant, s.heartbeat_ms as i64, &filter)
        .await?;
    if let Some(st) = status {
        hosts.retain(|h| h.agent_status == st);
    }
    // Only what the caller may read (A3): per-record attributes decide.
    hosts.retain(|h| {
        c.permits(
            &c.action,
            &format!("resource:{}", h.id),
            &attributes::as_refs(&attributes::host(h)),
        )
    });
    if let Some(l) = q.limit {
        hosts.truncate(l as usize);
    }
    Ok(hosts)
}

/// Columns of the CSV export, in order.
const CSV_COLUMNS: [&str; 13] = [
    "id",
    "hostname",
    "application",
    "module",
    "enterprise_project",
    "agent_status",
    "ips",
    "os",
    "arch",
    "cpu_cores",
    "memory_bytes",
    "last_heartbeat",
    "tags",
];

/// The hosts the list would show, as CSV (RFC 4180, a header row; times
/// RFC 3339 UTC; addresses separated by spaces; tags as `key=value;…`).
async fn export(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<ResourceQuery>,
) -> ApiResult<axum::response::Response> {
    let hosts = listed(&s, &p, &c, q).await?;
    let internal = |e: &dyn std::fmt::Display| ApiError::new(ErrorCode::Internal, e.to_string());
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(CSV_COLUMNS).map_err(|e| internal(&e))?;
    for h in &hosts {
        let when = h
            .last_heartbeat
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let tags: Vec<String> = h.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        w.write_record([
            h.id.as_str(),
            &h.facts.hostname,
            h.application.as_deref().unwrap_or(""),
            h.module.as_deref().unwrap_or(""),
            h.enterprise_project.as_deref().unwrap_or(""),
            h.agent_status.as_str(),
            &h.facts.ips.join(" "),
            &h.facts.os,
            &h.facts.arch,
            &h.facts.cpu_cores.to_string(),
            &h.facts.memory_bytes.to_string(),
            &when,
            &tags.join(";"),
        ])
        .map_err(|e| internal(&e))?;
    }
    let body = w.into_inner().map_err(|e| internal(&e))?;
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            axum::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"resources.csv\"",
        )
        .body(axum::body::Body::from(body))
        .map_err(|e| internal(&e))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Host>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    Ok(Json(h))
}

/// The host named by the path, when the caller may do the route's action
/// on it (its attributes decide, A3). Errors: `not_found`, `forbidden`.
pub(super) async fn readable_host(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    id: &str,
) -> ApiResult<Host> {
    let h = s
        .store
        .get_host(&p.tenant, id, s.heartbeat_ms as i64)
        .await?;
    c.require(&c.resource, &attributes::as_refs(&attributes::host(&h)))?;
    Ok(h)
}

async fn host_services(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    Ok(Json(super::listing(
        s.store.host_services(&p.tenant, &h.id).await?,
    )))
}

async fn host_dependencies(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    Ok(Json(super::listing(
        s.store.host_dependencies(&p.tenant, &h.id).await?,
    )))
}

/// Deletes a host; its agent is cut off and refused from then on (unless
/// it enrolls again with a token).
async fn delete(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    readable_host(&s, &p, &c, &id).await?;
    s.store.delete_host(&p.tenant, &id).await?;
    s.agents.refuse(&id, "this host was deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn assign(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignProject>,
) -> ApiResult<Json<Host>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    // Moving a host into a project needs the right there too (the host
    // keeps its tags).
    let mut there = attributes::host(&h);
    there[0].1 = b.name.clone();
    c.require(&c.resource, &attributes::as_refs(&there))?;
    s.store
        .set_host_enterprise_project(&p.tenant, &id, b.name.as_deref())
        .await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &id, s.heartbeat_ms as i64)
            .await?,
    ))
}

async fn assign_application(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AssignApplication>,
) -> ApiResult<Json<Host>> {
    let h = readable_host(&s, &p, &c, &id).await?;
    let app = b
        .application
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    s.store
        .set_host_application(&p.tenant, &h.id, app.map(|a| (a, b.module.as_deref())))
        .await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &h.id, s.heartbeat_ms as i64)
            .await?,
    ))
}

async fn list_projects(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    let v: Vec<EnterpriseProject> = s.store.list_enterprise_projects(&p.tenant).await?;
    Ok(Json(super::listing(v)))
}

async fn create_project(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateProject>,
) -> ApiResult<(StatusCode, Json<EnterpriseProject>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_enterprise_project(&p.tenant, &b.name, &b.description)
                .await?,
        ),
    ))
}

/// Body of `PUT /api/v1/resources/{id}/tags`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tags {
    /// All tags of the host (replaces the old set).
    pub tags: std::collections::BTreeMap<String, String>,
}

async fn set_tags(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Tags>,
) -> ApiResult<Json<Host>> {
    readable_host(&s, &p, &c, &id).await?;
    s.store.set_host_tags(&p.tenant, &id, &b.tags).await?;
    Ok(Json(
        s.store
            .get_host(&p.tenant, &id, s.heartbeat_ms as i64)
            .await?,
    ))
}
