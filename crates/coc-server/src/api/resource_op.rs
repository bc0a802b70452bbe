//! Batch resource operations API (P4, ref. 4.3–4.4): start, stop,
//! restart, reinstall or change the OS of hosts (through their cloud
//! provider, or their agent), and start, stop or restart databases (by
//! id or name) through the service manager of the hosts they run on.
//! Answers the ticket that does it; follow it like any ticket. The
//! caller must be allowed `coc:resource:operate` on every resource.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use coc_domain::resource::catalog::ResourceType;
use coc_domain::resource_op::OperationSpec;
use coc_domain::resource_op::power::PowerSpec;
use coc_store::access::Principal;
use coc_store::jobticket::JobTicketDetail;
use coc_store::ticket::Ticket;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/host-operations",
        "resource",
        "Start, stop, restart, reinstall the OS of or change the OS of hosts (P4, ref. 4.3): action start|stop|restart|reinstall_os|change_os (image: name or id, for change_os; key_pair: the key pair a rebuilt server takes, for reinstall_os and change_os) on hosts and cloud servers (ids or names, in hosts or cloud_servers). A cloud server (or a host linked to one) is operated through its cloud account's provider and followed until it is ACTIVE or SHUTOFF; any other host only restarts (its agent reboots it; the run waits for it to come back) or stops (its agent shuts it down). A server already in the wanted state is left alone. batch_size hosts per batch, success_rate_threshold as for tickets. Answers the job ticket",
        ResourceOperate,
        body = coc_domain::resource_op::power::PowerSpec,
        created = coc_store::jobticket::JobTicketDetail
    ),
    route!(
        "POST",
        "/api/v1/resource-operations",
        "resource",
        "Start, stop or restart databases (P4, ref. 4.4): action start|stop|restart on resources (ids or names) of type database, each naming its service in its 'service' attribute and running on a host with an agent; one task per host, batch_size hosts per batch, success_rate_threshold as for tickets. A service already in the wanted state is left alone; one not in it afterwards fails its host. Answers the script ticket",
        ResourceOperate,
        body = coc_domain::resource_op::OperationSpec,
        created = coc_store::ticket::Ticket
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/resource-operations", post(operate))
        .route("/api/v1/host-operations", post(power))
}

async fn power(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<PowerSpec>,
) -> ApiResult<(StatusCode, Json<JobTicketDetail>)> {
    // The caller must be allowed the operation on every host and server.
    for key in b
        .hosts
        .iter()
        .chain(&b.cloud_servers)
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
    {
        match s.store.host_ref(&p.tenant, key).await {
            Ok(id) => {
                super::resource::readable_host(&s, &p, &c, &id).await?;
            }
            Err(coc_store::StoreError::NotFound { .. }) => {
                let r = super::resource::readable_resource(&s, &p, &c, key).await?;
                if r.resource_type != ResourceType::CloudServer {
                    return Err(coc_domain::error::invalid(format!(
                        "{} is a {}: choose hosts or cloud servers",
                        r.name,
                        r.resource_type.as_str()
                    ))
                    .into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    let t = s
        .store
        .start_power_operation(&p.tenant, &b, &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
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
