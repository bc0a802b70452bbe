//! Parameter center API (X6, ref. 6): parameters per region with versions;
//! encrypted values are masked except through `POST …/decrypt`, which
//! needs `coc:parameter:decrypt` and is audited like every POST.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::parameter::ParameterSpec;
use coc_store::access::Principal;
use coc_store::parameter::Parameter;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Query of `GET /api/v1/parameters`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamQuery {
    /// Region.
    pub region: Option<String>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Tag `key` or `key=value`.
    pub tag: Option<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/parameters",
        "parameter",
        "List parameters (?region, ?name, ?tag=key[=value]); encrypted values masked",
        ParameterList,
        query = ParamQuery,
        list = coc_store::parameter::Parameter
    ),
    route!(
        "POST",
        "/api/v1/parameters",
        "parameter",
        "Create a text or encrypted parameter in a region",
        ParameterCreate,
        body = coc_domain::parameter::ParameterSpec,
        created = coc_store::parameter::Parameter
    ),
    route!(
        "GET",
        "/api/v1/parameters/{id}",
        "parameter",
        "Show a parameter (encrypted value masked)",
        ParameterGet,
        ok = coc_store::parameter::Parameter
    ),
    route!(
        "PUT",
        "/api/v1/parameters/{id}",
        "parameter",
        "Modify a parameter: a new version (name, region, project, type fixed)",
        ParameterUpdate,
        body = coc_domain::parameter::ParameterSpec,
        ok = coc_store::parameter::Parameter
    ),
    route!(
        "DELETE",
        "/api/v1/parameters/{id}",
        "parameter",
        "Delete a parameter and its history",
        ParameterDelete,
        no_content
    ),
    route!(
        "GET",
        "/api/v1/parameters/{id}/versions",
        "parameter",
        "Version history (who and when; encrypted values masked)",
        ParameterGet,
        list = coc_store::parameter::ParameterValue
    ),
    route!(
        "POST",
        "/api/v1/parameters/{id}/decrypt",
        "parameter",
        "Every version's value, decrypted (audited)",
        ParameterDecrypt,
        list = coc_store::parameter::ParameterValue
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/parameters", get(list).post(create))
        .route(
            "/api/v1/parameters/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/parameters/{id}/versions", get(versions))
        .route("/api/v1/parameters/{id}/decrypt", post(decrypt))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<ParamQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let items = s
        .store
        .list_parameters(
            &p.tenant,
            q.region.as_deref(),
            q.name.as_deref(),
            q.tag.as_deref(),
        )
        .await?;
    Ok(Json(super::listing(items)))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<ParameterSpec>,
) -> ApiResult<(StatusCode, Json<Parameter>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_parameter(&p.tenant, &b, &p.user_name)
                .await?,
        ),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Parameter>> {
    Ok(Json(s.store.get_parameter(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ParameterSpec>,
) -> ApiResult<Json<Parameter>> {
    Ok(Json(
        s.store
            .update_parameter(&p.tenant, &id, &b, &p.user_name)
            .await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_parameter(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn versions(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.parameter_history(&p.tenant, &id).await?,
    )))
}

async fn decrypt(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.decrypt_parameter(&p.tenant, &id).await?,
    )))
}
