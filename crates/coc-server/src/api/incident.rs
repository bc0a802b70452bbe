//! Incidents API (I3, ref. 7.1).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::incident::{IncidentAction, IncidentLevel, IncidentStatus};
use coc_store::Paged;
use coc_store::incident::{CreateIncident, Incident, IncidentDetail, IncidentFilter};
use serde::Deserialize;

use super::PageQuery;
use super::attributes;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;
use coc_store::access::Principal;

/// Query of `GET /api/v1/incidents`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// Status name.
    pub status: Option<String>,
    /// P1..P5.
    pub level: Option<String>,
    /// Owner.
    pub assignee: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/incidents",
        "incident",
        "List incidents: filters status, level, assignee; limit, cursor",
        IncidentList,
        query = IncidentQuery,
        list = coc_store::incident::Incident
    ),
    route!(
        "POST",
        "/api/v1/incidents",
        "incident",
        "Create an incident (ref. 7.1.2)",
        IncidentCreate,
        body = CreateIncident,
        created = coc_store::incident::IncidentDetail
    ),
    route!(
        "GET",
        "/api/v1/incidents/{id}",
        "incident",
        "Show an incident with history and original alarms",
        IncidentGet,
        ok = coc_store::incident::IncidentDetail
    ),
    route!(
        "POST",
        "/api/v1/incidents/{id}/actions",
        "incident",
        "Apply a lifecycle action (ref. 7.1.3, figure 7-1); checked as coc:incident:<action>",
        actions_of "coc:incident:*",
        body = IncidentAction,
        ok = coc_store::incident::IncidentDetail
    ),
    route!(
        "GET",
        "/api/v1/incidents/{id}/escalation",
        "incident",
        "The incident's escalation (policy, next level, when, state), or null",
        IncidentGet, ok = Option<coc_store::escalation::Escalation>),
    route!(
        "POST",
        "/api/v1/incidents/{id}/plan",
        "incident",
        "Execute the incident's plan (or another, or one step) on hosts; the ticket lands in its history",
        IncidentExecutePlan,
        body = coc_store::plan::ExecutePlan,
        created = coc_store::plan::PlanTicket
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/incidents", get(list).post(create))
        .route("/api/v1/incidents/{id}", get(show))
        .route("/api/v1/incidents/{id}/actions", post(action))
        .route("/api/v1/incidents/{id}/escalation", get(escalation))
        .route("/api/v1/incidents/{id}/plan", post(execute_plan))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> ApiResult<Json<Paged<Incident>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    let bad = |e: coc_domain::DomainError| {
        ApiError::new(crate::error::ErrorCode::BadQuery, e.to_string())
    };
    let status = q
        .status
        .as_deref()
        .map(IncidentStatus::parse)
        .transpose()
        .map_err(bad)?;
    let level = q
        .level
        .as_deref()
        .map(IncidentLevel::parse)
        .transpose()
        .map_err(bad)?;
    let f = IncidentFilter {
        status: status.map(|s| s.as_str().to_string()),
        level: level.map(|l| l.as_str().to_string()),
        assignee: q.assignee,
    };
    let mut out = s.store.list_incidents(&p.tenant, &f, &page).await?;
    // Only what the caller may read (A3): per-record attributes decide.
    out.items.retain(|i| {
        c.permits(
            &c.action,
            &format!("incident:{}", i.id),
            &attributes::incident(i),
        )
    });
    Ok(Json(out))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,

    ApiJson(b): ApiJson<CreateIncident>,
) -> ApiResult<(StatusCode, Json<IncidentDetail>)> {
    c.require(
        &c.resource,
        &[
            ("coc:Region", b.region.as_deref()),
            ("coc:Application", b.application.as_deref()),
            ("coc:EnterpriseProject", b.enterprise_project.as_deref()),
        ],
    )?;
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_incident(&p.tenant, &b, &p.user_name).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDetail>> {
    let d = s.store.get_incident(&p.tenant, &id).await?;
    c.require(
        &format!("incident:{}", d.incident.id),
        &attributes::incident(&d.incident),
    )?;
    Ok(Json(d))
}

async fn action(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,

    Path(id): Path<String>,
    ApiJson(b): ApiJson<IncidentAction>,
) -> ApiResult<Json<IncidentDetail>> {
    let cur = s.store.get_incident(&p.tenant, &id).await?;
    let action = format!("coc:incident:{}", coc_domain::access::camel(b.name()));
    if !c.permits(
        &action,
        &format!("incident:{}", cur.incident.id),
        &attributes::incident(&cur.incident),
    ) {
        return Err(ApiError::new(
            crate::error::ErrorCode::Forbidden,
            format!(
                "{} may not {action} on incident {}",
                p.user_name, cur.incident.number
            ),
        ));
    }
    Ok(Json(
        s.store
            .incident_action(&p.tenant, &id, &b, &p.user_name)
            .await?,
    ))
}

async fn escalation(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Option<coc_store::escalation::Escalation>>> {
    let d = s.store.get_incident(&p.tenant, &id).await?;
    c.require(
        &format!("incident:{}", d.incident.id),
        &attributes::incident(&d.incident),
    )?;
    Ok(Json(
        s.store.get_escalation(&p.tenant, &d.incident.id).await?,
    ))
}

async fn execute_plan(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<coc_store::plan::ExecutePlan>,
) -> ApiResult<(StatusCode, Json<coc_store::plan::PlanTicket>)> {
    let d = s.store.get_incident(&p.tenant, &id).await?;
    c.require(
        &format!("incident:{}", d.incident.id),
        &attributes::incident(&d.incident),
    )?;
    Ok((
        StatusCode::CREATED,
        Json(
            s.store
                .execute_plan(&p.tenant, &d.incident.id, &b, &p.user_name)
                .await?,
        ),
    ))
}
