//! Applications API (R6): create, list, show, replace and delete, by id or
//! name.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::application::ApplicationSpec;
use coc_store::access::Principal;
use coc_store::application::Application;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/applications",
        "application",
        "Create an application: its owner (a user), modules and regions (R6)",
        ApplicationCreate,
        body = coc_domain::application::ApplicationSpec,
        created = coc_store::application::Application
    ),
    route!(
        "GET",
        "/api/v1/applications",
        "application",
        "List applications, by name",
        ApplicationList,
        list = coc_store::application::Application
    ),
    route!(
        "GET",
        "/api/v1/applications/{id}",
        "application",
        "Show an application (by id or name)",
        ApplicationGet,
        ok = coc_store::application::Application
    ),
    route!(
        "GET",
        "/api/v1/applications/{id}/topology",
        "application",
        "An application's topology (R4): its hosts with their module and active alarms, the services they run, and the services they were observed talking to",
        ApplicationGet,
        ok = coc_domain::topology::Graph
    ),
    route!(
        "PUT",
        "/api/v1/applications/{id}",
        "application",
        "Replace an application (by id or name)",
        ApplicationUpdate,
        body = coc_domain::application::ApplicationSpec,
        ok = coc_store::application::Application
    ),
    route!(
        "DELETE",
        "/api/v1/applications/{id}",
        "application",
        "Delete an application (by id or name)",
        ApplicationDelete,
        no_content
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications", post(create).get(list))
        .route(
            "/api/v1/applications/{id}",
            get(show).put(replace).delete(remove),
        )
        .route("/api/v1/applications/{id}/topology", get(topology))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<ApplicationSpec>,
) -> ApiResult<(StatusCode, Json<Application>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_application(&p.tenant, &b).await?),
    ))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_applications(&p.tenant).await?,
    )))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Application>> {
    Ok(Json(s.store.get_application(&p.tenant, &id).await?))
}

async fn replace(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ApplicationSpec>,
) -> ApiResult<Json<Application>> {
    let id = s.store.get_application(&p.tenant, &id).await?.id;
    Ok(Json(s.store.update_application(&p.tenant, &id, &b).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = s.store.get_application(&p.tenant, &id).await?.id;
    s.store.delete_application(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn topology(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<coc_domain::topology::Graph>> {
    Ok(Json(s.store.application_topology(&p.tenant, &id).await?))
}
