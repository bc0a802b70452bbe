//! Agent identity API (R3; rules in [`coc_domain::agent`]): enrollment
//! tokens with a number of uses and an expiry, and an operator's revoke
//! and re-enroll of a host's agent identity.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::agent::{DEFAULT_ENROLLMENT_HOURS, IdentityAction};
use coc_store::access::Principal;
use coc_store::agent::Enrollment;
use coc_store::resource::Host;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::guard::Checked;

/// Body of `POST /api/v1/agent-enrollments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEnrollment {
    /// Name (where the token is used).
    pub name: String,
    /// Hosts it may enroll, 1 to 10,000 (default 1: a one-time token).
    #[serde(default)]
    pub max_uses: Option<i64>,
    /// Hours it stays valid, 1 to 720 (default 24).
    #[serde(default)]
    pub expires_in_hours: Option<i64>,
}

/// Answer of `POST /api/v1/agent-enrollments`: the token with its secret
/// and the command to run on a host, both shown this once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NewEnrollment {
    /// The token's record.
    #[serde(flatten)]
    pub enrollment: Enrollment,
    /// `coc agent --server URL --token SECRET`.
    pub agent_command: String,
    /// The secret (never shown again).
    pub secret: String,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/agent-enrollments",
        "agent",
        "List this tenant's agent enrollment tokens",
        AgentList,
        list = coc_store::agent::Enrollment
    ),
    route!(
        "POST",
        "/api/v1/agent-enrollments",
        "agent",
        "Create an agent enrollment token for this tenant: max_uses hosts (default 1) within expires_in_hours (default 24); secret shown once",
        AgentEnroll,
        body = CreateEnrollment,
        created = NewEnrollment
    ),
    route!(
        "GET",
        "/api/v1/agent-enrollments/{id}",
        "agent",
        "Show an agent enrollment token (uses, expiry, state; never its secret)",
        AgentList,
        ok = coc_store::agent::Enrollment
    ),
    route!(
        "DELETE",
        "/api/v1/agent-enrollments/{id}",
        "agent",
        "Revoke an agent enrollment token",
        AgentRevoke,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/resources/{id}/agent/revoke",
        "resource",
        "Revoke a host's agent identity: its agent is cut off and refused",
        ResourceRevokeAgent,
        ok = coc_store::resource::Host
    ),
    route!(
        "POST",
        "/api/v1/resources/{id}/agent/reenroll",
        "resource",
        "Forget a host's agent key: the next agent with its agent id and a valid enrollment token binds a new one (24 h)",
        ResourceReenrollAgent,
        ok = coc_store::resource::Host
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/agent-enrollments",
            get(list_enrollments).post(create_enrollment),
        )
        .route(
            "/api/v1/agent-enrollments/{id}",
            get(show_enrollment).delete(revoke_enrollment),
        )
        .route("/api/v1/resources/{id}/agent/revoke", post(revoke_identity))
        .route(
            "/api/v1/resources/{id}/agent/reenroll",
            post(reenroll_identity),
        )
}

async fn list_enrollments(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_enrollments(&p.tenant, s.store.now()).await?,
    )))
}

async fn show_enrollment(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Enrollment>> {
    Ok(Json(
        s.store
            .get_enrollment(&p.tenant, &id, s.store.now())
            .await?,
    ))
}

/// Creates a tenant's agent enrollment token; the secret is in the answer
/// once (`coc agent --token <secret>`).
async fn create_enrollment(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateEnrollment>,
) -> ApiResult<(StatusCode, Json<NewEnrollment>)> {
    let (e, secret) = s
        .store
        .create_enrollment(
            &p.tenant,
            &b.name,
            b.max_uses.unwrap_or(1),
            b.expires_in_hours.unwrap_or(DEFAULT_ENROLLMENT_HOURS),
            s.store.now(),
        )
        .await?;
    // What to run on a host (shown once, like the secret in it).
    let agent_command = format!("coc agent --server {} --token {secret}", s.public_url);
    Ok((
        StatusCode::CREATED,
        Json(NewEnrollment {
            enrollment: e,
            agent_command,
            secret,
        }),
    ))
}

async fn revoke_enrollment(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store
        .revoke_enrollment(&p.tenant, &id, s.store.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn identity(
    s: &AppState,
    p: &Principal,
    c: &Checked,
    id: &str,
    action: IdentityAction,
) -> ApiResult<Json<Host>> {
    let ms = s.heartbeat_ms as i64;
    super::resource::readable_host(s, p, c, id).await?;
    s.store
        .set_agent_identity(&p.tenant, id, action, s.store.now())
        .await?;
    let reason = match action {
        IdentityAction::Revoke => "this agent's identity was revoked",
        IdentityAction::Reenroll => {
            "this host was opened for re-enrollment: start the agent with a new enrollment token"
        }
    };
    s.agents.refuse(id, reason);
    Ok(Json(s.store.get_host(&p.tenant, id, ms).await?))
}

/// Revokes a host's agent identity: its agent is cut off and refused.
async fn revoke_identity(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Host>> {
    identity(&s, &p, &c, &id, IdentityAction::Revoke).await
}

/// Forgets a host's agent key and lets the next agent with its agent id
/// and a valid enrollment token bind a new one (within 24 h).
async fn reenroll_identity(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Host>> {
    identity(&s, &p, &c, &id, IdentityAction::Reenroll).await
}
