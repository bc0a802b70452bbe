//! Drift API (R5): a host's desired state — set, show, remove — its
//! differences from what its agent reports, and "accept the current
//! state". Hosts are named by id or host name; access follows the host's
//! attributes (A3) as the resource API does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::drift::DesiredState;
use coc_store::access::Principal;
use coc_store::drift::HostDrift;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/drift",
        "resource",
        "Hosts with a desired state (R5), drifted first: status in_sync, drifted or unchecked, the differences and the last report; host (id or name) lists one host's",
        DriftList,
        query = DriftQuery,
        list = coc_store::drift::HostDrift
    ),
    route!(
        "GET",
        "/api/v1/drift/{id}",
        "resource",
        "A host's desired state, its agent's last report and the differences (host by id or name)",
        DriftGet,
        ok = coc_store::drift::HostDrift
    ),
    route!(
        "PUT",
        "/api/v1/drift/{id}",
        "resource",
        "Set a host's desired state: packages (name, version), services that should run, files under watch (path, sha256; a file without one takes its first reported hash), interval_s, alarm_level (default Major), no_alarm (differences listed, no alarm). The agent is told what to watch at once",
        DriftUpdate,
        body = coc_domain::drift::DesiredState,
        ok = coc_store::drift::HostDrift
    ),
    route!(
        "DELETE",
        "/api/v1/drift/{id}",
        "resource",
        "Remove a host's desired state: the agent stops watching and a raised drift alarm resolves",
        DriftDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/drift/{id}/accept",
        "resource",
        "Accept the host's current state: the desired versions and hashes become the ones last reported (409 before the agent's first report)",
        DriftAccept,
        ok = coc_store::drift::HostDrift
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/drift", get(list))
        .route("/api/v1/drift/{id}", get(show).put(set).delete(remove))
        .route("/api/v1/drift/{id}/accept", post(accept))
}

/// Query of `GET /api/v1/drift`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftQuery {
    /// Only this host (id or host name).
    pub host: Option<String>,
}

/// The host named `id` (id or host name), when the caller may act on it.
async fn host(s: &AppState, p: &Principal, c: &Checked, id: &str) -> ApiResult<String> {
    let host_id = s.store.host_ref(&p.tenant, id).await?;
    Ok(super::resource::readable_host(s, p, c, &host_id).await?.id)
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<DriftQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    if let Some(h) = q.host.as_deref().filter(|h| !h.trim().is_empty()) {
        let id = host(&s, &p, &c, h).await?;
        let one = match s.store.host_drift(&p.tenant, &id).await {
            Ok(d) => vec![d],
            Err(coc_store::StoreError::NotFound { .. }) => vec![],
            Err(e) => return Err(e.into()),
        };
        return Ok(Json(super::listing(one)));
    }
    let readable = super::resource::readable_host_ids(&s, &p, &c).await?;
    let all = s.store.list_drift(&p.tenant).await?;
    Ok(Json(super::listing(
        all.into_iter()
            .filter(|d| readable.contains(&d.host_id))
            .collect::<Vec<_>>(),
    )))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<HostDrift>> {
    let h = host(&s, &p, &c, &id).await?;
    Ok(Json(s.store.host_drift(&p.tenant, &h).await?))
}

async fn set(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DesiredState>,
) -> ApiResult<Json<HostDrift>> {
    let h = host(&s, &p, &c, &id).await?;
    let (d, watch, alarm) = s.store.set_desired_state(&p.tenant, &h, &b).await?;
    crate::drift::push_watch(&s, &h, watch).await;
    crate::drift::raise(&s, alarm).await?;
    Ok(Json(d))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let h = host(&s, &p, &c, &id).await?;
    let alarm = s.store.delete_desired_state(&p.tenant, &h).await?;
    crate::drift::push_watch(&s, &h, coc_proto::Watch::default()).await;
    crate::drift::raise(&s, alarm).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn accept(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<HostDrift>> {
    let h = host(&s, &p, &c, &id).await?;
    let (d, alarm) = s.store.accept_drift(&p.tenant, &h).await?;
    crate::drift::raise(&s, alarm).await?;
    Ok(Json(d))
}
