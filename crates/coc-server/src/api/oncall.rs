//! On-call API (O2, ref. 11.2): scheduling scenarios and the "who is on
//! call" query used wherever a shift can be chosen.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use coc_domain::oncall::Scenario;
use coc_store::access::Principal;
use coc_store::oncall::StoredScenario;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};

/// Body of `POST /api/v1/oncall/scenarios/{id}/clear`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRange {
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
}

/// Query of `GET /api/v1/oncall/who`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Who {
    /// Scenario id or name.
    pub scenario: String,
    /// Role.
    pub role: String,
    /// Application (application-dimension scenarios).
    pub application: Option<String>,
    /// Region (application-dimension scenarios).
    pub region: Option<String>,
    /// Instant (RFC 3339); default now.
    pub at: Option<String>,
}

/// Answer of `GET /api/v1/oncall/who`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OnCallNow {
    /// Scenario as asked.
    pub scenario: String,
    /// Role as asked.
    pub role: String,
    /// The instant evaluated (RFC 3339, UTC).
    pub at: String,
    /// User names on call then.
    pub on_call: Vec<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/oncall/scenarios",
        "oncall",
        "List scheduling scenarios (ref. 11.2)",
        OncallList,
        list = coc_store::oncall::StoredScenario
    ),
    route!(
        "POST",
        "/api/v1/oncall/scenarios",
        "oncall",
        "Create a scheduling scenario with roles, shifts and assignments",
        OncallCreate,
        body = coc_domain::oncall::Scenario,
        created = coc_store::oncall::StoredScenario
    ),
    route!(
        "GET",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Show a scenario",
        OncallGet,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "PUT",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Replace a scenario",
        OncallUpdate,
        body = coc_domain::oncall::Scenario,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "DELETE",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Delete a scenario",
        OncallDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/oncall/scenarios/{id}/clear",
        "oncall",
        "Clear a date range (expired shifts stay)",
        OncallUpdate,
        body = ClearRange,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "GET",
        "/api/v1/oncall/who",
        "oncall",
        "Who is on call for scenario, role (and time)",
        OncallGet,
        query = Who,
        ok = OnCallNow
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/oncall/scenarios", get(list).post(create))
        .route(
            "/api/v1/oncall/scenarios/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/oncall/scenarios/{id}/clear", post(clear))
        .route("/api/v1/oncall/who", get(who))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_scenarios(&p.tenant).await?,
    )))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<Scenario>,
) -> ApiResult<(StatusCode, Json<StoredScenario>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_scenario(&p.tenant, &b).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(s.store.get_scenario(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Scenario>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(s.store.update_scenario(&p.tenant, &id, &b).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_scenario(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ClearRange>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(
        s.store.clear_scenario(&p.tenant, &id, b.from, b.to).await?,
    ))
}

async fn who(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<Who>,
) -> ApiResult<Json<OnCallNow>> {
    let at = match &q.at {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| {
                ApiError::new(
                    crate::error::ErrorCode::BadQuery,
                    format!("'at' must be an RFC 3339 time: {e}"),
                )
            })?
            .with_timezone(&Utc),
        None => s.store.now_utc(),
    };
    let people = s
        .store
        .on_call(
            &p.tenant,
            &q.scenario,
            &q.role,
            (q.application.as_deref(), q.region.as_deref()),
            at,
        )
        .await?;
    Ok(Json(OnCallNow {
        scenario: q.scenario,
        role: q.role,
        at: at.to_rfc3339(),
        on_call: people,
    }))
}
