//! Resources API (R1, hosts).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use coc_store::resource::Host;

use crate::AppState;
use crate::error::ApiResult;
use coc_store::access::Principal;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/resources", get(list))
        .route("/api/v1/resources/{id}", get(show))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    let hosts = s.store.list_hosts(&p.tenant, s.heartbeat_ms as i64).await?;
    Ok(Json(
        serde_json::json!({"items": hosts, "next_cursor": null}),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Host>> {
    Ok(Json(
        s.store
            .get_host(&p.tenant, &id, s.heartbeat_ms as i64)
            .await?,
    ))
}
