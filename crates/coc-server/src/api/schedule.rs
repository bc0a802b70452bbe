//! Scheduled O&M API (X5, ref. 5.3): tasks, their review, enabling, and
//! execution records.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::schedule::ScheduledTaskSpec;
use coc_store::access::Principal;
use coc_store::schedule::ScheduledTask;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;

/// Body of `POST /api/v1/scheduled-tasks/{id}/review`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduleReview)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// Approve (`true`) or reject.
    pub approve: bool,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/scheduled-tasks",
        "schedule",
        "List scheduled tasks (ref. 5.3)",
        ScheduleList,
        list = coc_store::schedule::ScheduledTask
    ),
    route!(
        "POST",
        "/api/v1/scheduled-tasks",
        "schedule",
        "Create a scheduled task (disabled, pending review)",
        ScheduleCreate,
        body = coc_domain::schedule::ScheduledTaskSpec,
        created = coc_store::schedule::ScheduledTask
    ),
    route!(
        "GET",
        "/api/v1/scheduled-tasks/{id}",
        "schedule",
        "Show a scheduled task with its next run",
        ScheduleGet,
        ok = coc_store::schedule::ScheduledTask
    ),
    route!(
        "PUT",
        "/api/v1/scheduled-tasks/{id}",
        "schedule",
        "Modify a task (only disabled or pending review; reviewed again)",
        ScheduleUpdate,
        body = coc_domain::schedule::ScheduledTaskSpec,
        ok = coc_store::schedule::ScheduledTask
    ),
    route!(
        "DELETE",
        "/api/v1/scheduled-tasks/{id}",
        "schedule",
        "Delete a task (only disabled)",
        ScheduleDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/scheduled-tasks/{id}/review",
        "schedule",
        "Approve or reject a task (a reviewer, not its author)",
        ScheduleReview,
        body = ReviewBody,
        ok = coc_store::schedule::ScheduledTask
    ),
    route!(
        "POST",
        "/api/v1/scheduled-tasks/{id}/enable",
        "schedule",
        "Enable an approved task",
        ScheduleEnable,
        ok = coc_store::schedule::ScheduledTask
    ),
    route!(
        "POST",
        "/api/v1/scheduled-tasks/{id}/disable",
        "schedule",
        "Disable a task",
        ScheduleDisable,
        ok = coc_store::schedule::ScheduledTask
    ),
    route!(
        "GET",
        "/api/v1/scheduled-tasks/{id}/runs",
        "schedule",
        "Execution records, with their tickets",
        ScheduleGet,
        list = coc_store::schedule::ScheduledRun
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/scheduled-tasks", get(list).post(create))
        .route(
            "/api/v1/scheduled-tasks/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/scheduled-tasks/{id}/review", post(review))
        .route("/api/v1/scheduled-tasks/{id}/enable", post(enable))
        .route("/api/v1/scheduled-tasks/{id}/disable", post(disable))
        .route("/api/v1/scheduled-tasks/{id}/runs", get(runs))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_scheduled_tasks(&p.tenant).await?,
    )))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<ScheduledTaskSpec>,
) -> ApiResult<(StatusCode, Json<ScheduledTask>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_scheduled_task(&p.tenant, &b, &p.user_name)
                .await?,
        ),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduledTask>> {
    Ok(Json(s.store.get_scheduled_task(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ScheduledTaskSpec>,
) -> ApiResult<Json<ScheduledTask>> {
    Ok(Json(
        s.store
            .update_scheduled_task(&p.tenant, &id, &b, &p.user_name)
            .await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_scheduled_task(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn review(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> ApiResult<Json<ScheduledTask>> {
    Ok(Json(
        s.store
            .review_scheduled_task(&p.tenant, &id, &p.user_name, b.approve)
            .await?,
    ))
}

async fn enable(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduledTask>> {
    Ok(Json(
        s.store
            .set_scheduled_task_enabled(&p.tenant, &id, true)
            .await?,
    ))
}

async fn disable(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduledTask>> {
    Ok(Json(
        s.store
            .set_scheduled_task_enabled(&p.tenant, &id, false)
            .await?,
    ))
}

async fn runs(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.scheduled_runs(&p.tenant, &id).await?,
    )))
}
