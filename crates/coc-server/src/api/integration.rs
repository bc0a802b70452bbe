//! Integrations API (M1, ref. 7.5).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use coc_domain::DEFAULT_TENANT;
use coc_store::integration::{Integration, IntegrationWithKey};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;

/// Body of `POST /api/v1/integrations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegration {
    /// Name.
    pub name: String,
    /// `alertmanager` or `generic`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A new random integration key: 32 bytes, hex.
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/integrations", post(create).get(list))
        .route("/api/v1/integrations/{id}", get(show))
        .route("/api/v1/integrations/{id}/enable", post(enable))
        .route("/api/v1/integrations/{id}/disable", post(disable))
        .route("/api/v1/integrations/{id}/rotate-key", post(rotate))
}

async fn create(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<IntegrationWithKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .create_integration(DEFAULT_TENANT, &b.name, &b.kind, &new_key())
                .await?,
        ),
    ))
}

async fn list(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        serde_json::json!({"items": s.store.list_integrations(DEFAULT_TENANT).await?, "next_cursor": null}),
    ))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Integration>> {
    Ok(Json(s.store.get_integration(DEFAULT_TENANT, &id).await?))
}

async fn enable(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Integration>> {
    Ok(Json(
        s.store
            .set_integration_enabled(DEFAULT_TENANT, &id, true)
            .await?,
    ))
}

async fn disable(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(
        s.store
            .set_integration_enabled(DEFAULT_TENANT, &id, false)
            .await?,
    ))
}

async fn rotate(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<IntegrationWithKey>> {
    Ok(Json(
        s.store
            .rotate_integration_key(DEFAULT_TENANT, &id, &new_key())
            .await?,
    ))
}
