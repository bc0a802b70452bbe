//! Forwarding rules API (I2, ref. 7.4.2).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::rule::RuleSpec;
use coc_store::rule::ForwardingRule;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use coc_store::access::Principal;

/// Body of `POST /api/v1/forwarding-rules/{id}/copy`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    /// Name of the copy.
    pub name: String,
}

/// Body of `POST /api/v1/forwarding-rules/replay`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRule {
    /// The rule as it would be saved.
    pub rule: RuleSpec,
    /// Days back (1 to 30; default 7).
    #[serde(default = "week")]
    pub days: u32,
}

fn week() -> u32 {
    7
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/forwarding-rules/replay",
        "rule",
        "What a rule would have done to the alarms of the last days: matches and incidents (B3)",
        RuleReplay,
        body = ReplayRule,
        ok = coc_domain::replay::RuleReplay
    ),
    route!(
        "GET",
        "/api/v1/forwarding-rules",
        "rule",
        "List forwarding rules",
        RuleList,
        list = coc_store::rule::ForwardingRule
    ),
    route!(
        "POST",
        "/api/v1/forwarding-rules",
        "rule",
        "Create a forwarding rule (ref. 7.4.2)",
        RuleCreate,
        body = coc_domain::rule::RuleSpec,
        created = coc_store::rule::ForwardingRule
    ),
    route!(
        "GET",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Show a forwarding rule",
        RuleGet,
        ok = coc_store::rule::ForwardingRule
    ),
    route!(
        "PUT",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Modify a forwarding rule",
        RuleUpdate,
        body = coc_domain::rule::RuleSpec,
        ok = coc_store::rule::ForwardingRule
    ),
    route!(
        "DELETE",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Delete a forwarding rule",
        RuleDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/forwarding-rules/{id}/copy",
        "rule",
        "Copy a forwarding rule under a new name (the copy is disabled)",
        RuleCopy,
        body = CopyBody,
        created = coc_store::rule::ForwardingRule
    ),
    route!(
        "POST",
        "/api/v1/forwarding-rules/{id}/enable",
        "rule",
        "Enable a forwarding rule",
        RuleEnable,
        ok = coc_store::rule::ForwardingRule
    ),
    route!(
        "POST",
        "/api/v1/forwarding-rules/{id}/disable",
        "rule",
        "Disable a forwarding rule",
        RuleDisable,
        ok = coc_store::rule::ForwardingRule
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/forwarding-rules", get(list).post(create))
        .route("/api/v1/forwarding-rules/replay", post(replay))
        .route(
            "/api/v1/forwarding-rules/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/forwarding-rules/{id}/copy", post(copy))
        .route("/api/v1/forwarding-rules/{id}/enable", post(enable))
        .route("/api/v1/forwarding-rules/{id}/disable", post(disable))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(s.store.list_rules(&p.tenant).await?)))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<RuleSpec>,
) -> ApiResult<(StatusCode, Json<ForwardingRule>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_rule(&p.tenant, &b).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ForwardingRule>> {
    Ok(Json(s.store.get_rule(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RuleSpec>,
) -> ApiResult<Json<ForwardingRule>> {
    Ok(Json(s.store.update_rule(&p.tenant, &id, &b).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_rule(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn copy(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CopyBody>,
) -> ApiResult<(StatusCode, Json<ForwardingRule>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.copy_rule(&p.tenant, &id, &b.name).await?),
    ))
}

async fn enable(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ForwardingRule>> {
    Ok(Json(s.store.set_rule_enabled(&p.tenant, &id, true).await?))
}

async fn disable(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ForwardingRule>> {
    Ok(Json(s.store.set_rule_enabled(&p.tenant, &id, false).await?))
}

/// Replays a rule not saved yet (or changed) over the stored alarms.
async fn replay(
    State(s): State<AppState>,
    Extension(p): Extension<coc_store::access::Principal>,
    crate::extract::ApiJson(b): crate::extract::ApiJson<ReplayRule>,
) -> ApiResult<Json<coc_domain::replay::RuleReplay>> {
    Ok(Json(s.store.replay_rule(&p.tenant, &b.rule, b.days).await?))
}
