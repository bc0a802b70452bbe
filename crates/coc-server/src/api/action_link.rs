//! Acknowledge and resolve from the notification (I7, ref. 7.1.3): the
//! public routes behind the signed links of an incident notification
//! ([`coc_store::action_link`]). The person opening one has no session:
//! the token says who they are, and their permissions are checked again
//! here exactly as the guard checks an API call of theirs (an expired
//! token, a disabled user or a withdrawn permission acts on nothing).
//! Following a link is audited as the person's action.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::routing::post;
use axum::{Json, Router};
use coc_domain::action_link::{ActionLink, LinkAction};
use coc_store::access::Principal;
use coc_store::action_link::Followed;
use coc_store::audit::NewAudit;
use coc_store::incident::Incident;
use serde::{Deserialize, Serialize};

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;

/// Body of both routes: the token of the link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkToken {
    /// The `token` query value of the link (≤ 2,048 characters).
    pub token: String,
}

/// What a link would do, for the page that asks before acting.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkPreview {
    /// `acknowledge` or `resolve`.
    pub action: LinkAction,
    /// The person it was sent to.
    pub user: String,
    /// End of validity, Unix ms.
    pub expires_at: i64,
    /// The incident as it is now.
    pub incident: Incident,
    /// The incident actions following it takes, in order; empty when
    /// already done.
    pub steps: Vec<String>,
}

/// The route that follows a link.
const FOLLOW_PATH: &str = "/api/v1/action-links/follow";

/// The routes this module serves.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/action-links/preview",
        "incident",
        "What an acknowledge or resolve link from a notification would do (no login: the signed token names the person)",
        public,
        body = LinkToken,
        ok = LinkPreview
    ),
    route!(
        "POST",
        "/api/v1/action-links/follow",
        "incident",
        "Acknowledge or resolve an incident by the link in its notification, as the person it was sent to",
        public,
        body = LinkToken,
        ok = coc_store::action_link::Followed
    ),
];

/// The public routes.
pub(super) fn public_router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/action-links/preview", post(preview))
        .route(FOLLOW_PATH, post(follow))
}

/// The link's claims, refused (422 `validation_failed`) when the token is
/// too long, not ours, altered or expired.
fn read(s: &AppState, token: &str) -> ApiResult<ActionLink> {
    Ok(s.store.read_action_link(token)?)
}

/// The access action a link's step is checked and audited as
/// (`coc:incident:<verb>`).
fn action_name(link: &ActionLink) -> String {
    format!(
        "coc:incident:{}",
        coc_domain::access::camel(link.action.permission())
    )
}

/// Refuses when the link's person may no longer do its action on the
/// incident (disabled, or the permission withdrawn).
async fn check_person(
    s: &AppState,
    link: &ActionLink,
    incident: &Incident,
    ip: Option<&str>,
) -> ApiResult<()> {
    let user = s.store.get_user(&link.tenant, &link.user).await?;
    let action = action_name(link);
    let allowed = user.enabled && {
        let p = Principal {
            tenant: link.tenant.clone(),
            user_id: user.id.clone(),
            user_name: user.name.clone(),
            groups: user.groups.clone(),
            token_id: None,
            new_ip: false,
        };
        let checked = crate::guard::Checked {
            action: action.clone(),
            resource: format!("incident:{}", incident.id),
            policies: std::sync::Arc::new(s.store.policies_for(&link.tenant, &user.id).await?),
            context: crate::guard::context(&p, ip, s.tls, s.store.now()),
        };
        checked.permits(
            &action,
            &checked.resource,
            &super::attributes::incident(incident),
        )
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{} may no longer {} incident {}; ask an administrator",
                link.user,
                link.action.as_str(),
                incident.number
            ),
        ))
    }
}

async fn preview(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<LinkToken>,
) -> ApiResult<Json<LinkPreview>> {
    let link = read(&s, &b.token)?;
    let (d, steps) = s.store.preview_action_link(&link).await?;
    Ok(Json(LinkPreview {
        action: link.action,
        user: link.user,
        expires_at: link.expires_at,
        incident: d.incident,
        steps,
    }))
}

async fn follow(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ApiJson(b): ApiJson<LinkToken>,
) -> ApiResult<Json<Followed>> {
    let link = read(&s, &b.token)?;
    let ip = addr.ip().to_string();
    Ok(Json(
        act(&s, &link, &ip, ("notification link", FOLLOW_PATH)).await?,
    ))
}

/// Acts on `link` as its person after checking their permission, and
/// audits it as theirs from `ip`, `via` the way it came: a name
/// (`notification link`, `SMS reply`) and the route.
///
/// Errors: 403 when the person may not; as
/// [`coc_store::Store::follow_action_link`] otherwise.
pub(crate) async fn act(
    s: &AppState,
    link: &ActionLink,
    ip: &str,
    via: (&str, &str),
) -> ApiResult<Followed> {
    let (d, _) = s.store.preview_action_link(link).await?;
    check_person(s, link, &d.incident, Some(ip)).await?;
    let done = s.store.follow_action_link(link).await?;
    if !done.done.is_empty() {
        let audit = NewAudit {
            trace: "incident".into(),
            action: action_name(link),
            user_name: format!("{} ({})", link.user, via.0),
            source_ip: Some(ip.to_string()),
            method: "POST".into(),
            path: via.1.into(),
            resource_type: "incident".into(),
            resource_id: Some(link.incident_id.clone()),
            request: serde_json::json!({"action": link.action.as_str(), "steps": done.done}),
            status: 200,
        };
        if let Err(e) = s.store.append_audit(&link.tenant, &audit).await {
            tracing::error!(error = %e, "audit record not written");
        }
    }
    Ok(done)
}
