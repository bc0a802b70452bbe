//! Alarm center API (I1, ref. 7.2).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::alarm::{AlarmLevel, AlarmStatus};
use coc_store::Paged;
use coc_store::alarm::{Alarm, AlarmEvent, AlarmFilter, ListedAlarm};
use coc_store::incident::{CreateIncident, IncidentDetail};
use serde::Deserialize;

use super::PageQuery;
use super::attributes;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;
use coc_store::access::Principal;

/// Query of `GET /api/v1/alarms`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmQuery {
    /// `alarm` or `ok`.
    pub status: Option<String>,
    /// Critical, Major, Minor, Suggestion.
    pub level: Option<String>,
    /// Name contains.
    pub name: Option<String>,
    /// alarmSource.
    pub source: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// last_seen ≥ since, Unix ms.
    pub since: Option<i64>,
    /// last_seen < until, Unix ms.
    pub until: Option<i64>,
    /// The resource's name or id contains this (any case).
    pub resource: Option<String>,
    /// Labels, each exactly: `key=value[,key=value…]` (at most 10).
    pub labels: Option<String>,
    /// `true`: only alarms muted by a silence; `false`: only the others.
    pub silenced: Option<bool>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// Body of `POST /api/v1/alarms/clear`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearBody {
    /// Alarm ids.
    pub ids: Vec<String>,
    /// Remark, 1..=100 characters.
    pub remark: String,
}

/// Body of `POST /api/v1/alarms/convert`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertBody {
    /// Alarm ids (same region).
    pub alarm_ids: Vec<String>,
    /// The incident to create.
    pub incident: CreateIncident,
}

/// Body of `POST /api/v1/alarms/{id}/handle`: a script or a job (by name
/// or id) to run on the alarm's host.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandleBody {
    /// The script to run (name or id).
    #[serde(default)]
    pub script: Option<String>,
    /// The job to run (name or id).
    #[serde(default)]
    pub job: Option<String>,
    /// Parameter values.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// A script's user on the host (default: the script's).
    #[serde(default)]
    pub run_as: Option<String>,
    /// A script's timeout, seconds.
    #[serde(default)]
    pub timeout_s: Option<u32>,
}

/// What handling an alarm started.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Handled {
    /// `script` or `job`.
    pub kind: String,
    /// The ticket's id (`/api/v1/tickets/{id}` or `/api/v1/job-tickets/{id}`).
    pub ticket_id: String,
    /// The ticket's number.
    pub number: String,
    /// The names of the hosts it runs on.
    pub hosts: Vec<String>,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/alarms",
        "alarm",
        "Alarm center list (each with the incident it is linked to): filters status, level, name, source, region, resource, labels, silenced, since, until; limit, cursor",
        AlarmList,
        query = AlarmQuery,
        list = coc_store::alarm::ListedAlarm
    ),
    route!(
        "GET",
        "/api/v1/alarms/{id}",
        "alarm",
        "Show an alarm",
        AlarmGet,
        ok = coc_store::alarm::Alarm
    ),
    route!(
        "GET",
        "/api/v1/alarms/{id}/history",
        "alarm",
        "History of an alarm (ref. 7.2.1.4)",
        AlarmGet, ok = Vec<coc_store::alarm::AlarmEvent>),
    route!(
        "GET",
        "/api/v1/alarms/{id}/occurrences",
        "alarm",
        "Original alarms: the latest occurrences of an alarm as received, newest first, at most 20 (ref. 7.2.2)",
        AlarmGet, ok = Vec<coc_store::alarm::Occurrence>),
    route!(
        "POST",
        "/api/v1/alarms/clear",
        "alarm",
        "Clear alarms with a remark of at most 100 characters (ref. 7.2.1.3)",
        AlarmClear, body = ClearBody, ok = Vec<coc_store::alarm::Alarm>),
    route!(
        "POST",
        "/api/v1/alarms/convert",
        "alarm",
        "Convert alarms of one region to an incident (ref. 7.2.1.2)",
        AlarmConvert,
        body = ConvertBody,
        created = coc_store::incident::IncidentDetail
    ),
    route!(
        "POST",
        "/api/v1/alarms/{id}/handle",
        "alarm",
        "Handle an alarm: run a script or a job on its host (ref. 7.2.1)",
        AlarmHandle,
        body = HandleBody,
        created = Handled
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alarms", get(list))
        .route("/api/v1/alarms/clear", post(clear))
        .route("/api/v1/alarms/convert", post(convert))
        .route("/api/v1/alarms/{id}", get(show))
        .route("/api/v1/alarms/{id}/history", get(history))
        .route("/api/v1/alarms/{id}/occurrences", get(occurrences))
        .route("/api/v1/alarms/{id}/handle", post(handle))
}

/// Runs a script or a job on the alarm's host (the hosts its resource
/// names) and notes it in the alarm's history. The caller needs leave to
/// handle the alarm and to execute the script or job.
async fn handle(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<HandleBody>,
) -> ApiResult<(axum::http::StatusCode, Json<Handled>)> {
    use coc_domain::access::Action;
    use coc_domain::error::invalid;
    let a = s.store.get_alarm(&p.tenant, &id).await?;
    c.require(&c.resource, &attributes::alarm(&a))?;
    let hosts = s.store.hosts_of_alarm(&p.tenant, &id).await?;
    if hosts.is_empty() {
        let what = a.resource_name.or(a.resource_id).unwrap_or_default();
        return Err(invalid(format!(
            "no host matches the alarm's resource '{what}': connect its agent, or run the script from its page on chosen hosts"
        ))
        .into());
    }
    let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
    let names: Vec<String> = hosts.iter().map(|h| h.hostname.clone()).collect();
    let may = |action: Action, resource: String| {
        if c.permits(action.as_str(), &resource, &[]) {
            Ok(())
        } else {
            Err(ApiError::new(
                crate::error::ErrorCode::Forbidden,
                format!("may not {} on {resource}", action.as_str()),
            ))
        }
    };
    let out = match (b.script, b.job) {
        (Some(script), None) => {
            may(Action::ScriptExecute, format!("script:{script}"))?;
            let t = s
                .store
                .create_ticket(
                    &p.tenant,
                    &coc_store::ticket::NewTicket {
                        script_id: script,
                        params: b.params,
                        hosts: ids,
                        run_as: b.run_as,
                        timeout_s: b.timeout_s,
                        batch_policy: coc_domain::ticket::BatchPolicy::None,
                        batches: None,
                        threshold: None,
                        incident_id: None,
                        created_by: p.user_name.clone(),
                        param_refs: Default::default(),
                    },
                )
                .await?;
            Handled {
                kind: "script".into(),
                ticket_id: t.id,
                number: t.number,
                hosts: names,
            }
        }
        (None, Some(job)) => {
            if b.run_as.is_some() || b.timeout_s.is_some() {
                return Err(
                    invalid("run_as and timeout_s are a script's; a job sets its own").into(),
                );
            }
            may(Action::JobExecute, format!("job:{job}"))?;
            let req = coc_store::jobticket::NewJobTicket {
                hosts: ids,
                params: b.params,
                description: format!("handling alarm {} on {}", a.name, names.join(", ")),
                ..Default::default()
            };
            let t = s
                .store
                .create_job_ticket(&p.tenant, &job, &req, &p.user_name)
                .await?;
            Handled {
                kind: "job".into(),
                ticket_id: t.ticket.id,
                number: t.ticket.number,
                hosts: names,
            }
        }
        _ => return Err(invalid("give either a script or a job").into()),
    };
    s.store
        .note_alarm_handled(
            &p.tenant,
            &id,
            &p.user_name,
            &format!(
                "{} ticket {} on {}",
                out.kind,
                out.number,
                out.hosts.join(", ")
            ),
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(out)))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiQuery(q): ApiQuery<AlarmQuery>,
) -> ApiResult<Json<Paged<ListedAlarm>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    let status = q
        .status
        .as_deref()
        .map(AlarmStatus::parse)
        .transpose()
        .map_err(|e| ApiError::new(crate::error::ErrorCode::BadQuery, e.to_string()))?;
    let level = q
        .level
        .as_deref()
        .map(AlarmLevel::parse)
        .transpose()
        .map_err(|e| ApiError::new(crate::error::ErrorCode::BadQuery, e.to_string()))?;
    let mut labels = vec![];
    for pair in q.labels.iter().flat_map(|l| l.split(',')).map(str::trim) {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            ApiError::new(
                crate::error::ErrorCode::BadQuery,
                format!("'labels' takes key=value pairs, not '{pair}'"),
            )
        })?;
        labels.push((k.trim().to_string(), v.trim().to_string()));
    }
    if labels.len() > 10 {
        return Err(ApiError::new(
            crate::error::ErrorCode::BadQuery,
            "'labels' takes at most 10 pairs",
        ));
    }
    let f = AlarmFilter {
        status: status.map(|s| s.as_str().to_string()),
        level: level.map(|l| l.as_str().to_string()),
        name: q.name,
        source: q.source,
        region: q.region,
        since: q.since,
        until: q.until,
        resource: q.resource,
        labels,
        silenced: q.silenced,
        integration: None,
    };
    let mut out = s.store.list_alarms(&p.tenant, &f, &page).await?;
    // Only what the caller may read (A3): per-record attributes decide.
    out.items
        .retain(|a| c.permits(&c.action, &format!("alarm:{}", a.id), &attributes::alarm(a)));
    let ids: Vec<String> = out.items.iter().map(|a| a.id.clone()).collect();
    let mut links = s.store.incidents_of_alarms(&p.tenant, &ids).await?;
    Ok(Json(Paged {
        items: out
            .items
            .into_iter()
            .map(|alarm| ListedAlarm {
                incident: links.remove(&alarm.id),
                alarm,
            })
            .collect(),
        next_cursor: out.next_cursor,
    }))
}

/// Loads alarms and checks the request's action on each (all or nothing).
async fn require_all(s: &AppState, p: &Principal, c: &Checked, ids: &[String]) -> ApiResult<()> {
    for id in ids {
        let a = s.store.get_alarm(&p.tenant, id).await?;
        c.require(&format!("alarm:{id}"), &attributes::alarm(&a))?;
    }
    Ok(())
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Alarm>> {
    let a = s.store.get_alarm(&p.tenant, &id).await?;
    c.require(&c.resource, &attributes::alarm(&a))?;
    Ok(Json(a))
}

async fn history(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AlarmEvent>>> {
    let a = s.store.get_alarm(&p.tenant, &id).await?;
    c.require(&c.resource, &attributes::alarm(&a))?;
    Ok(Json(s.store.alarm_history(&p.tenant, &id).await?))
}

async fn occurrences(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<coc_store::alarm::Occurrence>>> {
    let a = s.store.get_alarm(&p.tenant, &id).await?;
    c.require(&c.resource, &attributes::alarm(&a))?;
    Ok(Json(s.store.alarm_occurrences(&p.tenant, &a.id).await?))
}

async fn clear(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,

    ApiJson(b): ApiJson<ClearBody>,
) -> ApiResult<Json<Vec<Alarm>>> {
    coc_domain::alarm::validate_clear_remark(&b.remark)?;
    require_all(&s, &p, &c, &b.ids).await?;
    Ok(Json(
        s.store
            .clear_alarms(&p.tenant, &b.ids, &b.remark, &p.user_name)
            .await?,
    ))
}

async fn convert(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,

    ApiJson(b): ApiJson<ConvertBody>,
) -> ApiResult<(axum::http::StatusCode, Json<IncidentDetail>)> {
    require_all(&s, &p, &c, &b.alarm_ids).await?;
    let d = s
        .store
        .convert_alarms(&p.tenant, &b.alarm_ids, &b.incident, &p.user_name)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(d)))
}
