//! One set of handlers for every named, enable-able document
//! ([`coc_store::spec::Document`]): notification rules (O3), escalation
//! policies (I7) and SLAs (O5). Each gets list (with `?name=` fuzzy
//! search), create, show, replace, delete, enable and disable under its
//! base path; [`super::ROUTES`] documents each route with its action.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_store::access::Principal;
use coc_store::spec::{Document, Stored};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Query of a document list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameQuery {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
}

/// The routes of document type `T` under `base` (`/api/v1/notification-rules`).
pub(super) fn routes<T: Document + 'static>(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(list::<T>).post(create::<T>))
        .route(
            &format!("{base}/{{id}}"),
            get(show::<T>).put(update::<T>).delete(remove::<T>),
        )
        .route(&format!("{base}/{{id}}/enable"), post(enable::<T>))
        .route(&format!("{base}/{{id}}/disable"), post(disable::<T>))
}

async fn list<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<NameQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let items: Vec<Stored<T>> = s.store.doc_list(&p.tenant, q.name.as_deref()).await?;
    Ok(Json(super::listing(items)))
}

async fn create<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<T>,
) -> ApiResult<(StatusCode, Json<Stored<T>>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.doc_create(&p.tenant, &b).await?),
    ))
}

async fn show<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Stored<T>>> {
    Ok(Json(s.store.doc_get(&p.tenant, &id).await?))
}

async fn update<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<T>,
) -> ApiResult<Json<Stored<T>>> {
    Ok(Json(s.store.doc_update(&p.tenant, &id, &b).await?))
}

async fn remove<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.doc_delete::<T>(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Stored<T>>> {
    s.store.doc_set_enabled::<T>(&p.tenant, &id, true).await?;
    Ok(Json(s.store.doc_get(&p.tenant, &id).await?))
}

async fn disable<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Stored<T>>> {
    s.store.doc_set_enabled::<T>(&p.tenant, &id, false).await?;
    Ok(Json(s.store.doc_get(&p.tenant, &id).await?))
}
