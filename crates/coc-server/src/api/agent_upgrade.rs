//! Agent upgrade API (R3): agent builds — upload (the binary as the
//! request body), list, show, delete — and upgrading hosts' agents to a
//! build. An upgrade answers the job ticket that runs it; follow it like
//! any job ticket.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::agent_upgrade::{MAX_BUILD_BYTES, UpgradeSpec};
use coc_store::access::Principal;
use coc_store::agent_upgrade::AgentBuild;
use coc_store::jobticket::JobTicketDetail;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/agent-builds",
        "agent",
        "Agent builds (R3), newest first: version, sha256, size_bytes, note, and how many hosts run each",
        AgentbuildList,
        list = coc_store::agent_upgrade::AgentBuild
    ),
    route!(
        "POST",
        "/api/v1/agent-builds",
        "agent",
        "Upload an agent build: the executable (coc-agent, ELF, or a #! script; at most 256 MiB) is the request body (application/octet-stream); version (1-64 of letters, digits, ._+-) and note in the query",
        AgentbuildCreate,
        query = BuildQuery,
        created = coc_store::agent_upgrade::AgentBuild
    )
    .binary_body(MAX_BUILD_BYTES as usize),
    route!(
        "GET",
        "/api/v1/agent-builds/{id}",
        "agent",
        "An agent build, by id or version",
        AgentbuildGet,
        ok = coc_store::agent_upgrade::AgentBuild
    ),
    route!(
        "DELETE",
        "/api/v1/agent-builds/{id}",
        "agent",
        "Delete an agent build (by id or version); an upgrade still fetching it fails",
        AgentbuildDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/agent-upgrades",
        "agent",
        "Upgrade hosts' agents (R3, ref. 3.1.2): hosts (ids or names) get build (id or version); each agent fetches it over its own link, checks its SHA-256, restarts into it, and is rolled back when it has not connected within rollback_after_s (10-3600, default 120); batch_size and success_rate_threshold as for job tickets. Answers the job ticket that runs it",
        AgentUpgrade,
        body = coc_domain::agent_upgrade::UpgradeSpec,
        created = coc_store::jobticket::JobTicketDetail
    ),
];

/// The query of an upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildQuery {
    /// The build's version label.
    pub version: String,
    /// What it is (≤ 500 characters).
    #[serde(default)]
    pub note: String,
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/agent-builds",
            get(list)
                .post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    MAX_BUILD_BYTES as usize,
                )),
        )
        .route("/api/v1/agent-builds/{id}", get(one).delete(remove))
        .route("/api/v1/agent-upgrades", post(upgrade))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_agent_builds(&p.tenant).await?,
    )))
}

async fn upload(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<BuildQuery>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<AgentBuild>)> {
    let body = body.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "an agent build is at most {} MiB",
                MAX_BUILD_BYTES / 1024 / 1024
            ),
        )
    })?;
    let b = s
        .store
        .add_agent_build(&p.tenant, &q.version, &q.note, &body, &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(b)))
}

async fn one(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentBuild>> {
    Ok(Json(s.store.agent_build(&p.tenant, &id).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_agent_build(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn upgrade(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<UpgradeSpec>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    super::resource::require_hosts(&s, &p, &c, &b.hosts).await?;
    let t = s
        .store
        .start_agent_upgrade(&p.tenant, &b, &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}
