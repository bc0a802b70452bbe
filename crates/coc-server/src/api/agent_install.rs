//! Agent installation API (R3): install the agent on hosts over SSH from
//! an installation host. The answer is the script ticket that runs it and
//! the hosts made for the targets; passwords, keys and tokens are never
//! answered.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use coc_domain::agent_install::InstallSpec;
use coc_store::access::Principal;
use coc_store::agent_install::AgentInstall;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::guard::Checked;

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[route!(
    "POST",
    "/api/v1/agent-installs",
    "agent",
    "Install the agent on hosts over SSH (R3, ref. 3.1.2): installation_host (id or name) signs in to each target (address, port, login, auth password|key with password or private_key), copies its agent binary, writes the new agent's id and a one-time token, and starts it; batch_size and success_rate_threshold as for script tickets. Answers the ticket and the hosts made for the targets",
    AgentInstall,
    body = coc_domain::agent_install::InstallSpec,
    created = coc_store::agent_install::AgentInstall
)];

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/agent-installs", post(install))
}

async fn install(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<InstallSpec>,
) -> ApiResult<(StatusCode, Json<AgentInstall>)> {
    // The installation host runs the work: the caller must reach it.
    let via = s
        .store
        .host_ref(&p.tenant, b.installation_host.trim())
        .await?;
    super::resource::readable_host(&s, &p, &c, &via).await?;
    let out = s
        .store
        .start_agent_install(&p.tenant, &b, &s.link(""), &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}
