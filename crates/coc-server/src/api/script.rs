//! Scripts API (X1, X2; ref. 5.1).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::script::ScriptSpec;
use coc_domain::ticket::BatchPolicy;
use coc_store::script::Script;
use coc_store::ticket::{NewTicket, Ticket, threshold_from_percent};
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use coc_store::access::Principal;

/// Body of `POST /api/v1/scripts/{id}/execute` (ref. 5.1.3).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    /// Parameter values by name.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Target host resource ids.
    pub hosts: Vec<String>,
    /// Executing user, default `root`.
    #[serde(default)]
    pub run_as: Option<String>,
    /// Timeout per host, seconds, default 300.
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// `auto` (default), `manual` or `none`.
    #[serde(default)]
    pub batch_policy: BatchPolicy,
    /// Host ids per batch for `manual`.
    #[serde(default)]
    pub batches: Option<Vec<Vec<String>>>,
    /// Suspension threshold: success rate in percent, one decimal.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
    /// Parameters from the parameter center by script parameter name:
    /// `{"region", "name", "mode": "at_creation"|"latest"}`.
    #[serde(default)]
    pub param_refs: BTreeMap<String, coc_domain::parameter::ParamRef>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/scripts",
        "script",
        "List scripts",
        ScriptList,
        list = coc_store::script::Script
    ),
    route!(
        "POST",
        "/api/v1/scripts",
        "script",
        "Create a script (ref. 5.1.1)",
        ScriptCreate,
        body = coc_domain::script::ScriptSpec,
        created = coc_store::script::Script
    ),
    route!(
        "GET",
        "/api/v1/scripts/{id}",
        "script",
        "Show a script",
        ScriptGet,
        ok = coc_store::script::Script
    ),
    route!(
        "PUT",
        "/api/v1/scripts/{id}",
        "script",
        "Modify a script (new version)",
        ScriptUpdate,
        body = coc_domain::script::ScriptSpec,
        ok = coc_store::script::Script
    ),
    route!(
        "DELETE",
        "/api/v1/scripts/{id}",
        "script",
        "Delete a script",
        ScriptDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/scripts/{id}/execute",
        "script",
        "Execute a script on hosts: a script ticket (ref. 5.1.3)",
        ScriptExecute,
        body = ExecuteBody,
        created = coc_store::ticket::Ticket
    ),
    route!(
        "POST",
        "/api/v1/scripts/{id}/review",
        "script",
        "Approve or reject the version waiting for review (reviewers only, not the author)",
        ScriptReview,
        body = ReviewBody,
        ok = coc_store::script::Script
    ),
    route!(
        "GET",
        "/api/v1/scripts/{id}/versions",
        "script",
        "Every version of a script, newest first",
        ScriptGet,
        list = coc_store::script::ScriptVersion
    ),
    route!(
        "GET",
        "/api/v1/scripts/high-risk-rules",
        "script",
        "The high-risk command rules (regular expressions per script type)",
        ScriptList,
        list = coc_domain::risk::HighRiskRule
    ),
    route!(
        "POST",
        "/api/v1/scripts/verify",
        "script",
        "Verify high-risk commands: which lines match which rule",
        ScriptVerify,
        body = VerifyBody,
        ok = Verification
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/scripts", get(list).post(create))
        .route("/api/v1/scripts/{id}", get(show).put(update).delete(remove))
        .route("/api/v1/scripts/{id}/execute", post(execute))
        .route("/api/v1/scripts/{id}/review", post(review))
        .route("/api/v1/scripts/{id}/versions", get(versions))
        .route("/api/v1/scripts/high-risk-rules", get(rules))
        .route("/api/v1/scripts/verify", post(verify))
}

/// Body of `POST /api/v1/scripts/{id}/review`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ReviewDecision)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// Approve (`true`) or reject.
    pub approve: bool,
    /// Comment (≤ 1000 chars).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Body of `POST /api/v1/scripts/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// `shell`, `python` or `bat`.
    #[serde(rename = "type")]
    pub script_type: coc_domain::script::ScriptType,
    /// Script text.
    pub content: String,
}

/// Answer of `POST /api/v1/scripts/verify` (ref. 8.1.3).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// `low_risk` when nothing was found, else `high_risk`.
    pub result: String,
    /// The high-risk commands found.
    pub findings: Vec<coc_domain::risk::Finding>,
    /// What is not risky but will not run as written (e.g. Windows line
    /// ends, which COC turns into LF when it stores the script).
    pub warnings: Vec<String>,
}

async fn review(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReviewBody>,
) -> ApiResult<Json<Script>> {
    Ok(Json(
        s.store
            .review_script(
                &p.tenant,
                &id,
                &p.user_name,
                b.approve,
                b.comment.as_deref(),
            )
            .await?,
    ))
}

async fn versions(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.script_versions(&p.tenant, &id).await?,
    )))
}

async fn rules() -> Json<serde_json::Value> {
    Json(super::listing(coc_domain::risk::RULES))
}

async fn verify(ApiJson(b): ApiJson<VerifyBody>) -> ApiResult<Json<Verification>> {
    if b.content.len() > coc_domain::script::MAX_CONTENT_BYTES {
        return Err(crate::error::ApiError::new(
            crate::error::ErrorCode::ValidationFailed,
            format!(
                "script content is larger than {} bytes",
                coc_domain::script::MAX_CONTENT_BYTES
            ),
        ));
    }
    let findings = coc_domain::risk::verify(b.script_type, &b.content);
    let cr = coc_domain::script::lines_with_cr(&b.content);
    let warnings = if cr.is_empty() {
        vec![]
    } else {
        vec![format!(
            "line(s) {} end with a carriage return (\\r, Windows line ends); a shell reads \
             `6\\r` as no number. COC stores scripts with LF line ends.",
            cr.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )]
    };
    Ok(Json(Verification {
        result: if findings.is_empty() {
            "low_risk"
        } else {
            "high_risk"
        }
        .into(),
        findings,
        warnings,
    }))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(s.store.list_scripts(&p.tenant).await?)))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,

    ApiJson(b): ApiJson<ScriptSpec>,
) -> ApiResult<(StatusCode, Json<Script>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_script(&p.tenant, &b, &p.user_name).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Script>> {
    Ok(Json(s.store.get_script(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ScriptSpec>,
) -> ApiResult<Json<Script>> {
    Ok(Json(
        s.store
            .update_script(&p.tenant, &id, &b, &p.user_name)
            .await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_script(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn execute(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,

    Path(id): Path<String>,
    ApiJson(b): ApiJson<ExecuteBody>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let req = NewTicket {
        script_id: id,
        params: b.params,
        hosts: b.hosts,
        run_as: b.run_as,
        timeout_s: b.timeout_s,
        batch_policy: b.batch_policy,
        batches: b.batches,
        threshold: threshold_from_percent(b.success_rate_threshold)?,
        incident_id: None,
        created_by: p.user_name.clone(),
        param_refs: b.param_refs,
    };
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_ticket(&p.tenant, &req).await?),
    ))
}
