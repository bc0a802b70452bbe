//! Inhibition rules API (M3): create, list, show, replace and delete, by
//! id or name.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::inhibition::InhibitionInput;
use coc_store::inhibition::Inhibition;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use coc_store::access::Principal;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/inhibition-rules",
        "inhibition",
        "Create an inhibition rule: while an alarm matching `source` fires, alarms matching `target` with equal values of the `equal` labels are stored and marked, with no incident and no notification",
        InhibitionCreate,
        body = coc_domain::inhibition::InhibitionInput,
        created = coc_store::inhibition::Inhibition
    ),
    route!(
        "GET",
        "/api/v1/inhibition-rules",
        "inhibition",
        "List inhibition rules, by name",
        InhibitionList,
        list = coc_store::inhibition::Inhibition
    ),
    route!(
        "GET",
        "/api/v1/inhibition-rules/{id}",
        "inhibition",
        "Show an inhibition rule (by id or name)",
        InhibitionGet,
        ok = coc_store::inhibition::Inhibition
    ),
    route!(
        "PUT",
        "/api/v1/inhibition-rules/{id}",
        "inhibition",
        "Replace an inhibition rule (by id or name)",
        InhibitionUpdate,
        body = coc_domain::inhibition::InhibitionInput,
        ok = coc_store::inhibition::Inhibition
    ),
    route!(
        "DELETE",
        "/api/v1/inhibition-rules/{id}",
        "inhibition",
        "Delete an inhibition rule (by id or name)",
        InhibitionDelete,
        no_content
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/inhibition-rules", post(create).get(list))
        .route(
            "/api/v1/inhibition-rules/{id}",
            get(show).put(replace).delete(remove),
        )
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<InhibitionInput>,
) -> ApiResult<(StatusCode, Json<Inhibition>)> {
    let rule = b.resolve()?;
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_inhibition(&p.tenant, &rule).await?),
    ))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_inhibitions(&p.tenant).await?,
    )))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Inhibition>> {
    Ok(Json(s.store.get_inhibition(&p.tenant, &id).await?))
}

async fn replace(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InhibitionInput>,
) -> ApiResult<Json<Inhibition>> {
    let rule = b.resolve()?;
    let id = s.store.get_inhibition(&p.tenant, &id).await?.id;
    Ok(Json(
        s.store.update_inhibition(&p.tenant, &id, &rule).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = s.store.get_inhibition(&p.tenant, &id).await?.id;
    s.store.delete_inhibition(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
