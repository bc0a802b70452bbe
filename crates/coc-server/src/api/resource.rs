//! Resources API (R1, hosts).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use coc_domain::DEFAULT_TENANT;
use coc_store::resource::Host;

use crate::AppState;
use crate::error::ApiResult;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/resources", get(list))
        .route("/api/v1/resources/{id}", get(show))
}

async fn list(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let hosts = s
        .store
        .list_hosts(DEFAULT_TENANT, s.heartbeat_ms as i64)
        .await?;
    Ok(Json(
        serde_json::json!({"items": hosts, "next_cursor": null}),
    ))
}

async fn show(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Host>> {
    Ok(Json(
        s.store
            .get_host(DEFAULT_TENANT, &id, s.heartbeat_ms as i64)
            .await?,
    ))
}
