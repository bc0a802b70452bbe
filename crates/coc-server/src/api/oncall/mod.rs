//! On-call API (O2, ref. 11.2): scheduling scenarios and the "who is on
//! call" query used wherever a shift can be chosen.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use coc_domain::oncall::calendar::Slot;
use coc_domain::oncall::{Override, ParticipantChange, Rotation, Scenario, Tz};
use coc_store::access::Principal;
use coc_store::oncall::StoredScenario;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};

pub mod feed;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::guard::Checked;

/// Body of `POST /api/v1/oncall/scenarios/{id}/clear`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRange {
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
}

/// Query of `GET /api/v1/oncall/who`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Who {
    /// Scenario id or name.
    pub scenario: String,
    /// Role.
    pub role: String,
    /// Application (application-dimension scenarios).
    pub application: Option<String>,
    /// Region (application-dimension scenarios).
    pub region: Option<String>,
    /// Instant (RFC 3339); default now.
    pub at: Option<String>,
}

/// Answer of `GET /api/v1/oncall/who`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OnCallNow {
    /// Scenario as asked.
    pub scenario: String,
    /// Role as asked.
    pub role: String,
    /// The instant evaluated (RFC 3339, UTC).
    pub at: String,
    /// User names on call then.
    pub on_call: Vec<String>,
}

/// Body of `POST /api/v1/oncall/rotations`: a rotation and the scenario
/// it goes into (created when it does not exist).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationSetup {
    /// Scenario id or name; a new name creates a scenario.
    pub scenario: String,
    /// IANA zone of a new scenario (`Europe/Berlin`); default UTC.
    /// An existing scenario keeps its zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The application whose schedule it staffs (the scenario then has
    /// the application dimension); none: the global schedule.
    #[serde(default)]
    pub application: Option<String>,
    /// The rotation.
    #[serde(flatten)]
    pub rotation: Rotation,
}

/// Query of `GET /api/v1/oncall/calendar`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// Scenario id or name.
    pub scenario: String,
    /// Role.
    pub role: String,
    /// First instant (RFC 3339); default now.
    pub from: Option<String>,
    /// Days covered (1..=366); default 28.
    pub days: Option<i64>,
    /// Application (application-dimension scenarios); none: the global
    /// schedule.
    pub application: Option<String>,
    /// Region (application-dimension scenarios).
    pub region: Option<String>,
}

/// Query of the routes that change one schedule of a scenario.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleOf {
    /// The application whose schedule is changed; none: the global one.
    pub application: Option<String>,
}

/// Answer of `GET /api/v1/oncall/calendar`: who is on call, slot by slot.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Calendar {
    /// Scenario name.
    pub scenario: String,
    /// Role.
    pub role: String,
    /// The scenario's zone.
    pub timezone: String,
    /// Consecutive slots from `from` for `days` days.
    pub slots: Vec<Slot>,
}

/// Parses an RFC 3339 instant of query parameter `name`.
fn instant(name: &str, t: &str) -> ApiResult<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(t)
        .map_err(|e| {
            ApiError::new(
                crate::error::ErrorCode::BadQuery,
                format!("'{name}' must be an RFC 3339 time: {e}"),
            )
        })?
        .with_timezone(&Utc))
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/oncall/scenarios",
        "oncall",
        "List scheduling scenarios (ref. 11.2)",
        OncallList,
        list = coc_store::oncall::StoredScenario
    ),
    route!(
        "POST",
        "/api/v1/oncall/scenarios",
        "oncall",
        "Create a scheduling scenario with roles, shifts and assignments",
        OncallCreate,
        body = coc_domain::oncall::Scenario,
        created = coc_store::oncall::StoredScenario
    ),
    route!(
        "GET",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Show a scenario",
        OncallGet,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "PUT",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Replace a scenario",
        OncallUpdate,
        body = coc_domain::oncall::Scenario,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "DELETE",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Delete a scenario",
        OncallDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/oncall/scenarios/{id}/clear",
        "oncall",
        "Clear a date range (expired shifts stay)",
        OncallUpdate,
        body = ClearRange,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "POST",
        "/api/v1/oncall/rotations",
        "oncall",
        "Add or replace a rotation (creates the scenario when new)",
        OncallUpdate,
        body = RotationSetup,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "DELETE",
        "/api/v1/oncall/scenarios/{id}/rotations/{name}",
        "oncall",
        "Remove a rotation (of ?application=, or the global schedule)",
        OncallUpdate,
        query = ScheduleOf,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "POST",
        "/api/v1/oncall/scenarios/{id}/rotations/{name}/changes",
        "oncall",
        "Change a rotation's participants from a date on (the running turn is kept)",
        OncallUpdate,
        query = ScheduleOf,
        body = ParticipantChange,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "POST",
        "/api/v1/oncall/scenarios/{id}/overrides",
        "oncall",
        "Add an override (someone covers a span)",
        OncallUpdate,
        query = ScheduleOf,
        body = Override,
        ok = coc_store::oncall::StoredScenario
    ),
    route!(
        "GET",
        "/api/v1/oncall/calendar",
        "oncall",
        "Who is on call for a role, slot by slot (4 weeks by default)",
        OncallGet,
        query = CalendarQuery,
        ok = Calendar
    ),
    route!(
        "GET",
        "/api/v1/oncall/who",
        "oncall",
        "Who is on call for scenario, role (and time)",
        OncallGet,
        query = Who,
        ok = OnCallNow
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(feed::router())
        .route("/api/v1/oncall/scenarios", get(list).post(create))
        .route(
            "/api/v1/oncall/scenarios/{id}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/oncall/scenarios/{id}/clear", post(clear))
        .route("/api/v1/oncall/who", get(who))
        .route("/api/v1/oncall/rotations", post(put_rotation))
        .route(
            "/api/v1/oncall/scenarios/{id}/rotations/{name}",
            delete(remove_rotation),
        )
        .route(
            "/api/v1/oncall/scenarios/{id}/rotations/{name}/changes",
            post(change_participants),
        )
        .route(
            "/api/v1/oncall/scenarios/{id}/overrides",
            post(add_override),
        )
        .route("/api/v1/oncall/calendar", get(calendar))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_scenarios(&p.tenant).await?,
    )))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<Scenario>,
) -> ApiResult<(StatusCode, Json<StoredScenario>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.store.create_scenario(&p.tenant, &b).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(s.store.get_scenario(&p.tenant, &id).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Scenario>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(s.store.update_scenario(&p.tenant, &id, &b).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_scenario(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ClearRange>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(
        s.store.clear_scenario(&p.tenant, &id, b.from, b.to).await?,
    ))
}

async fn who(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<Who>,
) -> ApiResult<Json<OnCallNow>> {
    let at = match &q.at {
        Some(t) => instant("at", t)?,
        None => s.store.now_utc(),
    };
    let people = s
        .store
        .on_call(
            &p.tenant,
            &q.scenario,
            &q.role,
            (q.application.as_deref(), q.region.as_deref()),
            at,
        )
        .await?;
    Ok(Json(OnCallNow {
        scenario: q.scenario,
        role: q.role,
        at: at.to_rfc3339(),
        on_call: people,
    }))
}

async fn put_rotation(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<RotationSetup>,
) -> ApiResult<Json<StoredScenario>> {
    let tz = match b.timezone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(z) => Some(z.parse::<Tz>().map_err(|_| {
            ApiError::new(
                crate::error::ErrorCode::ValidationFailed,
                format!("'{z}' is not an IANA time zone (e.g. Europe/Berlin)"),
            )
        })?),
    };
    // Creating a scenario on the way takes the right to create one.
    let exists = s.store.get_scenario(&p.tenant, &b.scenario).await.is_ok();
    if !exists && !c.permits("coc:oncall:create", "oncall:*", &[]) {
        return Err(ApiError::new(
            crate::error::ErrorCode::Forbidden,
            format!(
                "{} may not create scenario '{}' (coc:oncall:create)",
                p.user_name, b.scenario
            ),
        ));
    }
    Ok(Json(
        s.store
            .put_rotation(
                &p.tenant,
                &b.scenario,
                b.application.as_deref(),
                tz,
                b.rotation,
            )
            .await?,
    ))
}

async fn remove_rotation(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((id, name)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ScheduleOf>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(
        s.store
            .remove_rotation(&p.tenant, &id, q.application.as_deref(), &name)
            .await?,
    ))
}

async fn change_participants(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((id, name)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<ScheduleOf>,
    ApiJson(b): ApiJson<ParticipantChange>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(
        s.store
            .change_participants(&p.tenant, &id, q.application.as_deref(), &name, b)
            .await?,
    ))
}

async fn add_override(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ScheduleOf>,
    ApiJson(b): ApiJson<Override>,
) -> ApiResult<Json<StoredScenario>> {
    Ok(Json(
        s.store
            .add_override(&p.tenant, &id, q.application.as_deref(), b)
            .await?,
    ))
}

async fn calendar(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<CalendarQuery>,
) -> ApiResult<Json<Calendar>> {
    let from = match &q.from {
        Some(t) => instant("from", t)?,
        None => s.store.now_utc(),
    };
    let days = q.days.unwrap_or(28);
    if !(1..=coc_domain::oncall::calendar::MAX_SPAN_DAYS).contains(&days) {
        return Err(ApiError::new(
            crate::error::ErrorCode::BadQuery,
            "'days' must be 1 to 366",
        ));
    }
    let (sc, slots) = s
        .store
        .calendar(
            &p.tenant,
            &q.scenario,
            &q.role,
            (q.application.as_deref(), q.region.as_deref()),
            from,
            from + chrono::Duration::days(days),
        )
        .await?;
    let timezone = sc
        .scenario
        .schedule_for(q.application.as_deref(), q.region.as_deref())
        .tz
        .name()
        .to_string();
    Ok(Json(Calendar {
        scenario: sc.scenario.name,
        role: q.role,
        timezone,
        slots,
    }))
}
