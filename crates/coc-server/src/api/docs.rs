//! One set of handlers for every named, enable-able document
//! ([`coc_store::spec::Document`]): notification rules (O3), escalation
//! policies (I7) and SLAs (O5). Each gets list (with `?name=` fuzzy
//! search), create, show, replace, delete, enable and disable under its
//! base path; [`ROUTES`] documents each route with its action.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_store::access::Principal;
use coc_store::spec::{Document, Stored};
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Query of a document list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameQuery {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/notification-rules",
        "notification",
        "List notification rule (ref. 11.3)s (?name= fuzzy search)",
        NotificationList, query = NameQuery, list = coc_store::spec::Stored<coc_domain::notify::NotificationRule>),
    route!(
        "POST",
        "/api/v1/notification-rules",
        "notification",
        "Create a notification rule (ref. 11.3)",
        NotificationCreate, body = coc_domain::notify::NotificationRule, created = coc_store::spec::Stored<coc_domain::notify::NotificationRule>),
    route!(
        "GET",
        "/api/v1/notification-rules/{id}",
        "notification",
        "Show a notification rule (ref. 11.3)",
        NotificationGet, ok = coc_store::spec::Stored<coc_domain::notify::NotificationRule>),
    route!(
        "PUT",
        "/api/v1/notification-rules/{id}",
        "notification",
        "Replace a notification rule (ref. 11.3)",
        NotificationUpdate, body = coc_domain::notify::NotificationRule, ok = coc_store::spec::Stored<coc_domain::notify::NotificationRule>),
    route!(
        "DELETE",
        "/api/v1/notification-rules/{id}",
        "notification",
        "Delete a notification rule (ref. 11.3)",
        NotificationDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/notification-rules/{id}/enable",
        "notification",
        "Enable a notification rule (ref. 11.3)",
        NotificationEnable, ok = coc_store::spec::Stored<coc_domain::notify::NotificationRule>),
    route!(
        "POST",
        "/api/v1/notification-rules/{id}/disable",
        "notification",
        "Disable a notification rule (ref. 11.3)",
        NotificationDisable, ok = coc_store::spec::Stored<coc_domain::notify::NotificationRule>),
    route!(
        "GET",
        "/api/v1/escalation-policies",
        "escalation",
        "List escalation policy (I7)s (?name= fuzzy search)",
        EscalationList, query = NameQuery, list = coc_store::spec::Stored<coc_domain::escalation::EscalationPolicy>),
    route!(
        "POST",
        "/api/v1/escalation-policies",
        "escalation",
        "Create a escalation policy (I7)",
        EscalationCreate, body = coc_domain::escalation::EscalationPolicy, created = coc_store::spec::Stored<coc_domain::escalation::EscalationPolicy>),
    route!(
        "GET",
        "/api/v1/escalation-policies/{id}",
        "escalation",
        "Show a escalation policy (I7)",
        EscalationGet, ok = coc_store::spec::Stored<coc_domain::escalation::EscalationPolicy>),
    route!(
        "PUT",
        "/api/v1/escalation-policies/{id}",
        "escalation",
        "Replace a escalation policy (I7)",
        EscalationUpdate, body = coc_domain::escalation::EscalationPolicy, ok = coc_store::spec::Stored<coc_domain::escalation::EscalationPolicy>),
    route!(
        "DELETE",
        "/api/v1/escalation-policies/{id}",
        "escalation",
        "Delete a escalation policy (I7)",
        EscalationDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/escalation-policies/{id}/enable",
        "escalation",
        "Enable a escalation policy (I7)",
        EscalationEnable, ok = coc_store::spec::Stored<coc_domain::escalation::EscalationPolicy>),
    route!(
        "POST",
        "/api/v1/escalation-policies/{id}/disable",
        "escalation",
        "Disable a escalation policy (I7)",
        EscalationDisable, ok = coc_store::spec::Stored<coc_domain::escalation::EscalationPolicy>),
    route!(
        "GET",
        "/api/v1/slas",
        "sla",
        "List SLA (ref. 11.5; modify or delete only when disabled)s (?name= fuzzy search)",
        SlaList, query = NameQuery, list = coc_store::spec::Stored<coc_domain::sla::Sla>),
    route!(
        "POST",
        "/api/v1/slas",
        "sla",
        "Create a SLA (ref. 11.5; modify or delete only when disabled)",
        SlaCreate, body = coc_domain::sla::Sla, created = coc_store::spec::Stored<coc_domain::sla::Sla>),
    route!(
        "GET",
        "/api/v1/slas/{id}",
        "sla",
        "Show a SLA (ref. 11.5; modify or delete only when disabled)",
        SlaGet, ok = coc_store::spec::Stored<coc_domain::sla::Sla>),
    route!(
        "PUT",
        "/api/v1/slas/{id}",
        "sla",
        "Replace a SLA (ref. 11.5; modify or delete only when disabled)",
        SlaUpdate, body = coc_domain::sla::Sla, ok = coc_store::spec::Stored<coc_domain::sla::Sla>),
    route!(
        "DELETE",
        "/api/v1/slas/{id}",
        "sla",
        "Delete a SLA (ref. 11.5; modify or delete only when disabled)",
        SlaDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/slas/{id}/enable",
        "sla",
        "Enable a SLA (ref. 11.5; modify or delete only when disabled)",
        SlaEnable, ok = coc_store::spec::Stored<coc_domain::sla::Sla>),
    route!(
        "POST",
        "/api/v1/slas/{id}/disable",
        "sla",
        "Disable a SLA (ref. 11.5; modify or delete only when disabled)",
        SlaDisable, ok = coc_store::spec::Stored<coc_domain::sla::Sla>),
    route!(
        "GET",
        "/api/v1/plans",
        "plan",
        "List emergency plan (ref. 9.2)s (?name= fuzzy search)",
        PlanList, query = NameQuery, list = coc_store::spec::Stored<coc_domain::plan::Plan>),
    route!(
        "POST",
        "/api/v1/plans",
        "plan",
        "Create a emergency plan (ref. 9.2)",
        PlanCreate, body = coc_domain::plan::Plan, created = coc_store::spec::Stored<coc_domain::plan::Plan>),
    route!(
        "GET",
        "/api/v1/plans/{id}",
        "plan",
        "Show a emergency plan (ref. 9.2)",
        PlanGet, ok = coc_store::spec::Stored<coc_domain::plan::Plan>),
    route!(
        "PUT",
        "/api/v1/plans/{id}",
        "plan",
        "Replace a emergency plan (ref. 9.2)",
        PlanUpdate, body = coc_domain::plan::Plan, ok = coc_store::spec::Stored<coc_domain::plan::Plan>),
    route!(
        "DELETE",
        "/api/v1/plans/{id}",
        "plan",
        "Delete a emergency plan (ref. 9.2)",
        PlanDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/plans/{id}/enable",
        "plan",
        "Enable a emergency plan (ref. 9.2)",
        PlanEnable, ok = coc_store::spec::Stored<coc_domain::plan::Plan>),
    route!(
        "POST",
        "/api/v1/plans/{id}/disable",
        "plan",
        "Disable a emergency plan (ref. 9.2)",
        PlanDisable, ok = coc_store::spec::Stored<coc_domain::plan::Plan>),
    route!(
        "GET",
        "/api/v1/patch-baselines",
        "patch",
        "List patch baselines (ref. 4.2.1; ?name= fuzzy search); every tenant starts with one per OS family",
        PatchList, query = NameQuery, list = coc_store::spec::Stored<coc_domain::patch::BaselineSpec>),
    route!(
        "POST",
        "/api/v1/patch-baselines",
        "patch",
        "Create a patch baseline (ref. 4.2.1): os, products, rules (type installation: classifications, severities, approval after_days 0-365 or released_before YYYY-MM-DD, install_non_security; or type custom: patches of name and version, up to 1,000), compliance_level, approved and rejected exceptions (one * each), applications and host_tags it applies to",
        PatchCreate, body = coc_domain::patch::BaselineSpec, created = coc_store::spec::Stored<coc_domain::patch::BaselineSpec>),
    route!(
        "GET",
        "/api/v1/patch-baselines/{id}",
        "patch",
        "Show a patch baseline (by id or name)",
        PatchGet, ok = coc_store::spec::Stored<coc_domain::patch::BaselineSpec>),
    route!(
        "PUT",
        "/api/v1/patch-baselines/{id}",
        "patch",
        "Replace a patch baseline",
        PatchUpdate, body = coc_domain::patch::BaselineSpec, ok = coc_store::spec::Stored<coc_domain::patch::BaselineSpec>),
    route!(
        "DELETE",
        "/api/v1/patch-baselines/{id}",
        "patch",
        "Delete a patch baseline",
        PatchDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/patch-baselines/{id}/enable",
        "patch",
        "Enable a patch baseline (scans and repairs use it)",
        PatchEnable, ok = coc_store::spec::Stored<coc_domain::patch::BaselineSpec>),
    route!(
        "POST",
        "/api/v1/patch-baselines/{id}/disable",
        "patch",
        "Disable a patch baseline",
        PatchDisable, ok = coc_store::spec::Stored<coc_domain::patch::BaselineSpec>),
];

/// The routes of document type `T` under `base` (`/api/v1/notification-rules`).
pub(super) fn routes<T: Document + 'static>(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(list::<T>).post(create::<T>))
        .route(
            &format!("{base}/{{id}}"),
            get(show::<T>).put(update::<T>).delete(remove::<T>),
        )
        .route(&format!("{base}/{{id}}/enable"), post(enable::<T>))
        .route(&format!("{base}/{{id}}/disable"), post(disable::<T>))
}

async fn list<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<NameQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let items: Vec<Stored<T>> = s.store.doc_list(&p.tenant, q.name.as_deref()).await?;
    Ok(Json(super::listing(items)))
}

async fn create<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<T>,
) -> ApiResult<(StatusCode, Json<Stored<T>>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.doc_create(&p.tenant, &b).await?),
    ))
}

async fn show<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Stored<T>>> {
    Ok(Json(s.store.doc_get(&p.tenant, &id).await?))
}

async fn update<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<T>,
) -> ApiResult<Json<Stored<T>>> {
    Ok(Json(s.store.doc_update(&p.tenant, &id, &b).await?))
}

async fn remove<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.doc_delete::<T>(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn enable<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Stored<T>>> {
    s.store.doc_set_enabled::<T>(&p.tenant, &id, true).await?;
    Ok(Json(s.store.doc_get(&p.tenant, &id).await?))
}

async fn disable<T: Document>(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Stored<T>>> {
    s.store.doc_set_enabled::<T>(&p.tenant, &id, false).await?;
    Ok(Json(s.store.doc_get(&p.tenant, &id).await?))
}
