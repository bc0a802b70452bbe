//! Cloud accounts API (R2): create, list, show, replace and delete, by id
//! or name, and synchronize one now. The password is taken, never
//! answered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::cloud::CloudAccountSpec;
use coc_store::access::Principal;
use coc_store::cloud::{CloudAccount, SyncOutcome};

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/cloud-accounts",
        "cloud",
        "Add a cloud account (R2): an OpenStack identity URL, user, password and project; its servers are synchronized into the inventory every sync_minutes",
        CloudCreate,
        body = coc_domain::cloud::CloudAccountSpec,
        created = coc_store::cloud::CloudAccount
    ),
    route!(
        "GET",
        "/api/v1/cloud-accounts",
        "cloud",
        "List cloud accounts, by name, with their last synchronization",
        CloudList,
        list = coc_store::cloud::CloudAccount
    ),
    route!(
        "GET",
        "/api/v1/cloud-accounts/{id}",
        "cloud",
        "Show a cloud account (by id or name)",
        CloudGet,
        ok = coc_store::cloud::CloudAccount
    ),
    route!(
        "PUT",
        "/api/v1/cloud-accounts/{id}",
        "cloud",
        "Replace a cloud account (by id or name); a password left out is kept",
        CloudUpdate,
        body = coc_domain::cloud::CloudAccountSpec,
        ok = coc_store::cloud::CloudAccount
    ),
    route!(
        "DELETE",
        "/api/v1/cloud-accounts/{id}",
        "cloud",
        "Delete a cloud account (by id or name) and the cloud servers it brought in",
        CloudDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/cloud-accounts/{id}/sync",
        "cloud",
        "Synchronize a cloud account now: what was added, changed and vanished (409 with the provider's refusal when it fails; nothing changes then)",
        CloudSync,
        ok = coc_store::cloud::SyncOutcome
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cloud-accounts", post(create).get(list))
        .route(
            "/api/v1/cloud-accounts/{id}",
            get(show).put(replace).delete(remove),
        )
        .route("/api/v1/cloud-accounts/{id}/sync", post(sync))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CloudAccountSpec>,
) -> ApiResult<(StatusCode, Json<CloudAccount>)> {
    let a = s.store.create_cloud_account(&p.tenant, &b).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_cloud_accounts(&p.tenant).await?,
    )))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<CloudAccount>> {
    Ok(Json(s.store.get_cloud_account(&p.tenant, &id).await?))
}

async fn replace(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CloudAccountSpec>,
) -> ApiResult<Json<CloudAccount>> {
    Ok(Json(
        s.store.update_cloud_account(&p.tenant, &id, &b).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_cloud_account(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sync(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<SyncOutcome>> {
    Ok(Json(crate::cloud::sync(&s, &p.tenant, &id).await?))
}
