//! Batch resource operations API (P4, ref. 4.4): start, stop or restart
//! databases (by id or name) through the service manager of the hosts
//! they run on. Answers the script ticket that does it; follow it like
//! any ticket. The caller must be allowed `coc:resource:operate` on every
//! database.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use coc_domain::resource_op::OperationSpec;
use coc_store::access::Principal;
use coc_store::ticket::Ticket;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[route!(
    "POST",
    "/api/v1/resource-operations",
    "resource",
    "Start, stop or restart databases (P4, ref. 4.4): action start|stop|restart on resources (ids or names) of type database, each naming its service in its 'service' attribute and running on a host with an agent; one task per host, batch_size hosts per batch, success_rate_threshold as for tickets. A service already in the wanted state is left alone; one not in it afterwards fails its host. Answers the script ticket",
    ResourceOperate,
    body = coc_domain::resource_op::OperationSpec,
    created = coc_store::ticket::Ticket
)];

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/resource-operations", post(operate))
}

async fn operate(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<OperationSpec>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    // The caller must be allowed the operation on every database.
    for r in &b.resources {
        let r = r.trim();
        if !r.is_empty() {
            super::resource::readable_resource(&s, &p, &c, r).await?;
        }
    }
    let t = s
        .store
        .start_resource_operation(&p.tenant, &b, s.heartbeat_ms as i64, &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}
