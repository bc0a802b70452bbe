//! The Alertmanager API v2 at an integration's base URL (M1, M3), so
//! `amtool`, Grafana's Alertmanager data source and other Alertmanager
//! front ends work against COC unchanged with
//! `--alertmanager.url=<coc>/ingest/<key>`:
//!
//! | path | what |
//! | --- | --- |
//! | `GET /ingest/<key>/api/v2/alerts` | the integration's firing alarms (`filter`, `active`, `silenced`, `inhibited`, `receiver`) |
//! | `GET /ingest/<key>/api/v2/alerts/groups` | the same, grouped by `alertname` |
//! | `GET, POST /ingest/<key>/api/v2/silences` | the tenant's silences; create or replace one |
//! | `GET, DELETE /ingest/<key>/api/v2/silence/<id>` | one silence; expire it |
//! | `GET /ingest/<key>/api/v2/status`, `…/receivers` | what `amtool config` and front ends read |
//!
//! `POST /ingest/<key>/api/v2/alerts` is the ingest path ([`crate::ingest`]).
//! The integration key authenticates, as for ingest; silences made here
//! are recorded as `<createdBy> via <integration>`.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, extract::DefaultBodyLimit};
use coc_domain::silence::{
    AmMatcher, Matcher, PostableSilence, SilenceSet, all_match, format_time, with_fields,
};
use coc_store::alarm::{Alarm, AlarmFilter};
use coc_store::silence::Silence;
use serde::Serialize;

use crate::AppState;
use crate::api::catalog::{RouteDoc, route};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::ingest::integration_of;

/// Most alerts one `GET /api/v2/alerts` answers with (the newest).
pub const MAX_ALERTS: usize = 10_000;
/// Most `filter` matchers in one query.
pub const MAX_FILTERS: usize = 32;
/// How long after its last event a firing alarm is reported to end, ms
/// (Alertmanager's `resolve_timeout`, 5 minutes).
pub const RESOLVE_TIMEOUT_MS: i64 = 5 * 60_000;

/// A receiver of the Alertmanager API (COC: the integration).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Receiver {
    /// Name: the integration's name.
    pub name: String,
}

/// `status` of a gettable alert.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// `active`, or `suppressed` when a silence in force mutes it.
    pub state: &'static str,
    /// Ids of the silences in force that mute it.
    pub silenced_by: Vec<String>,
    /// The inhibition rule under which a firing alarm inhibited it when
    /// it arrived.
    pub inhibited_by: Vec<String>,
}

/// An alert as `GET /api/v2/alerts` of Alertmanager answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Start, RFC 3339.
    pub starts_at: String,
    /// Expected end, RFC 3339 (last event + 5 minutes).
    pub ends_at: String,
    /// Last event, RFC 3339.
    pub updated_at: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// The integration.
    pub receivers: Vec<Receiver>,
    /// Silenced or not.
    pub status: AlertStatus,
    /// Link to the source.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

/// An alert group of `GET /api/v2/alerts/groups`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertGroup {
    /// The group's labels (`alertname`).
    pub labels: BTreeMap<String, String>,
    /// The integration.
    pub receiver: Receiver,
    /// Its alerts.
    pub alerts: Vec<GettableAlert>,
}

/// A silence as Alertmanager's `GET /api/v2/silences` answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    /// Id.
    pub id: String,
    /// `{"state": "pending" | "active" | "expired"}`.
    pub status: serde_json::Value,
    /// Last change, RFC 3339.
    pub updated_at: String,
    /// Matchers.
    pub matchers: Vec<AmMatcher>,
    /// Start, RFC 3339.
    pub starts_at: String,
    /// End, RFC 3339.
    pub ends_at: String,
    /// Creator.
    pub created_by: String,
    /// Comment.
    pub comment: String,
}

/// Answer of `POST /api/v2/silences`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SilenceCreated {
    /// The silence's id.
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/ingest/{key}/api/v2/alerts",
        "ingest",
        "Alertmanager API v2: the integration's firing alarms (filter=<matcher> repeated, active, silenced, inhibited, receiver)",
        public, ok = Vec<GettableAlert>),
    route!(
        "GET",
        "/ingest/{key}/api/v2/alerts/groups",
        "ingest",
        "Alertmanager API v2: firing alarms grouped by alertname",
        public, ok = Vec<AlertGroup>),
    route!(
        "GET",
        "/ingest/{key}/api/v2/silences",
        "ingest",
        "Alertmanager API v2: the tenant's silences (filter=<matcher> repeated)",
        public, ok = Vec<GettableSilence>),
    route!(
        "POST",
        "/ingest/{key}/api/v2/silences",
        "ingest",
        "Alertmanager API v2: create a silence, or replace the one its id names",
        public,
        body = coc_domain::silence::PostableSilence,
        ok = SilenceCreated
    ),
    route!(
        "GET",
        "/ingest/{key}/api/v2/silence/{id}",
        "ingest",
        "Alertmanager API v2: one silence",
        public,
        ok = GettableSilence
    ),
    route!(
        "DELETE",
        "/ingest/{key}/api/v2/silence/{id}",
        "ingest",
        "Alertmanager API v2: expire a silence (answers an empty object)",
        public,
        ok = serde_json::Value
    ),
    route!(
        "GET",
        "/ingest/{key}/api/v2/status",
        "ingest",
        "Alertmanager API v2: status (version, cluster, uptime)",
        public,
        ok = serde_json::Value
    ),
    route!(
        "GET",
        "/ingest/{key}/api/v2/receivers",
        "ingest",
        "Alertmanager API v2: receivers (the integration)",
        public, ok = Vec<Receiver>),
];

/// The Alertmanager API routes: the alerts path takes Prometheus' POST
/// ([`crate::ingest::prometheus`], with ingest's body limit) and answers
/// GET; the others are queries and silences.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ingest/{key}/api/v2/alerts",
            axum::routing::post(crate::ingest::prometheus)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::INGEST_BODY_LIMIT,
                ))
                .get(alerts),
        )
        .route("/ingest/{key}/api/v2/alerts/groups", get(groups))
        .route(
            "/ingest/{key}/api/v2/silences",
            get(silences).post(post_silence),
        )
        .route(
            "/ingest/{key}/api/v2/silence/{id}",
            get(one_silence).delete(expire),
        )
        .route("/ingest/{key}/api/v2/status", get(status))
        .route("/ingest/{key}/api/v2/receivers", get(receivers))
        .layer(DefaultBodyLimit::max(crate::API_BODY_LIMIT))
}

/// The query of the alerts and silences lists: repeated `filter`
/// matchers and the booleans of Alertmanager (`true` when absent).
struct Query {
    filters: Vec<Matcher>,
    active: bool,
    silenced: bool,
    receiver: Option<regex::Regex>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadQuery, msg)
}

fn query(raw: Option<&str>) -> ApiResult<Query> {
    let mut q = Query {
        filters: vec![],
        active: true,
        silenced: true,
        receiver: None,
    };
    let flag = |v: &str| match v {
        "true" | "" => Ok(true),
        "false" => Ok(false),
        o => Err(bad(format!("'{o}' is not true or false"))),
    };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "filter" => {
                if q.filters.len() >= MAX_FILTERS {
                    return Err(bad(format!("at most {MAX_FILTERS} filters")));
                }
                q.filters
                    .extend(Matcher::parse_list(&v).map_err(|e| bad(e.to_string()))?);
            }
            "active" => q.active = flag(&v)?,
            "silenced" => q.silenced = flag(&v)?,
            "inhibited" | "unprocessed" => {
                flag(&v)?;
            }
            "receiver" => {
                let re = regex::RegexBuilder::new(&format!("^(?:{v})$"))
                    .size_limit(256 * 1024)
                    .build()
                    .map_err(|_| bad(format!("receiver '{v}' is not a regular expression")))?;
                q.receiver = Some(re);
            }
            other => return Err(bad(format!("unknown query parameter '{other}'"))),
        }
    }
    Ok(q)
}

/// The label set of a stored alarm (its labels plus its fields, as
/// silences see it at ingest).
fn labels_of(a: &Alarm) -> BTreeMap<String, String> {
    let labels: BTreeMap<String, String> =
        serde_json::from_value(a.labels.clone()).unwrap_or_default();
    with_fields(
        labels,
        [
            ("alertname", Some(&a.name)),
            ("severity", Some(&a.level)),
            ("resource_name", a.resource_name.as_deref()),
            ("application", a.application.as_deref()),
            ("region", a.region.as_deref()),
            ("namespace", a.namespace.as_deref()),
        ],
    )
}

/// The alarm as an Alertmanager alert (its own labels, with `alertname`),
/// and the label set silences and filters see ([`labels_of`]).
fn gettable(
    a: Alarm,
    receiver: &str,
    silences: &SilenceSet,
) -> (GettableAlert, BTreeMap<String, String>) {
    let seen = labels_of(&a);
    let mut labels: BTreeMap<String, String> =
        serde_json::from_value(a.labels.clone()).unwrap_or_default();
    labels
        .entry("alertname".to_string())
        .or_insert_with(|| a.name.clone());
    let silenced_by: Vec<String> = silences
        .muting(&seen)
        .into_iter()
        .map(String::from)
        .collect();
    let inhibited_by: Vec<String> = a.inhibited_by.clone().into_iter().collect();
    let alert = GettableAlert {
        annotations: serde_json::from_value(a.annotations.clone()).unwrap_or_default(),
        labels,
        starts_at: format_time(a.started_at),
        ends_at: format_time(a.last_seen + RESOLVE_TIMEOUT_MS),
        updated_at: format_time(a.last_seen),
        fingerprint: a.fingerprint,
        receivers: vec![Receiver {
            name: receiver.to_string(),
        }],
        status: AlertStatus {
            state: if silenced_by.is_empty() && inhibited_by.is_empty() {
                "active"
            } else {
                "suppressed"
            },
            silenced_by,
            inhibited_by,
        },
        generator_url: a.url.unwrap_or_default(),
    };
    (alert, seen)
}

/// The integration's firing alarms as Alertmanager alerts, filtered.
async fn firing(s: &AppState, key: &str, raw: Option<&str>) -> ApiResult<Vec<GettableAlert>> {
    let q = query(raw)?;
    let (tenant, integ) = integration_of(s, key, "alertmanager").await?;
    if q.receiver
        .as_ref()
        .is_some_and(|r| !r.is_match(&integ.name))
    {
        return Ok(vec![]);
    }
    let now = s.store.now();
    let silences = s.store.silences_in_force(&tenant, now).await?;
    let f = AlarmFilter {
        status: Some(coc_domain::alarm::AlarmStatus::Alarm.as_str().to_string()),
        integration: Some(integ.id.clone()),
        ..Default::default()
    };
    let mut page = coc_store::Page {
        limit: 1000,
        cursor: None,
    };
    let mut out = Vec::new();
    loop {
        let p = s.store.list_alarms(&tenant, &f, &page).await?;
        for a in p.items {
            let (g, seen) = gettable(a, &integ.name, &silences);
            // `active` keeps the alerts no silence mutes, `silenced` the
            // muted ones (Alertmanager's states active and suppressed).
            let muted = g.status.state == "suppressed";
            if (muted && !q.silenced) || (!muted && !q.active) {
                continue;
            }
            if all_match(&q.filters, &seen).map_err(|e| bad(e.to_string()))? {
                out.push(g);
            }
        }
        match p.next_cursor {
            Some(c) if out.len() < MAX_ALERTS => page.cursor = Some(c),
            _ => break,
        }
    }
    out.truncate(MAX_ALERTS);
    Ok(out)
}

/// `GET /ingest/<key>/api/v2/alerts`.
pub(crate) async fn alerts(
    State(s): State<AppState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<GettableAlert>>> {
    Ok(Json(firing(&s, &key, raw.as_deref()).await?))
}

async fn groups(
    State(s): State<AppState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<AlertGroup>>> {
    let alerts = firing(&s, &key, raw.as_deref()).await?;
    let receiver = alerts
        .first()
        .map(|a| a.receivers[0].name.clone())
        .unwrap_or_default();
    let mut by_name: BTreeMap<String, Vec<GettableAlert>> = BTreeMap::new();
    for a in alerts {
        let name = a.labels.get("alertname").cloned().unwrap_or_default();
        by_name.entry(name).or_default().push(a);
    }
    Ok(Json(
        by_name
            .into_iter()
            .map(|(name, alerts)| AlertGroup {
                labels: BTreeMap::from([("alertname".to_string(), name)]),
                receiver: Receiver {
                    name: receiver.clone(),
                },
                alerts,
            })
            .collect(),
    ))
}

fn gettable_silence(s: Silence) -> GettableSilence {
    GettableSilence {
        status: serde_json::json!({"state": s.state.as_str()}),
        updated_at: format_time(s.updated_at),
        matchers: s.matchers.iter().map(AmMatcher::from).collect(),
        starts_at: format_time(s.starts_at),
        ends_at: format_time(s.ends_at),
        created_by: s.created_by,
        comment: s.comment,
        id: s.id,
    }
}

async fn silences(
    State(s): State<AppState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Vec<GettableSilence>>> {
    let q = query(raw.as_deref())?;
    let (tenant, _) = integration_of(&s, &key, "alertmanager").await?;
    let mut out = vec![];
    for sil in s.store.list_silences(&tenant, true).await? {
        // As in Alertmanager: a filter keeps the silences whose equality
        // matchers satisfy it.
        let labels: BTreeMap<String, String> = sil
            .matchers
            .iter()
            .filter(|m| m.op == coc_domain::silence::MatchOp::Equal)
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect();
        if all_match(&q.filters, &labels).map_err(|e| bad(e.to_string()))? {
            out.push(gettable_silence(sil));
        }
    }
    Ok(Json(out))
}

async fn post_silence(
    State(s): State<AppState>,
    Path(key): Path<String>,
    ApiJson(b): ApiJson<PostableSilence>,
) -> ApiResult<Json<SilenceCreated>> {
    let (tenant, integ) = integration_of(&s, &key, "alertmanager").await?;
    let spec = b.to_spec(s.store.now())?;
    let sil = match &b.id {
        Some(id) if !id.is_empty() => s.store.replace_silence(&tenant, id, &spec).await?,
        _ => {
            let by = format!("{} via {}", b.created_by.trim(), integ.name);
            s.store.create_silence(&tenant, &spec, &by).await?
        }
    };
    Ok(Json(SilenceCreated { silence_id: sil.id }))
}

async fn one_silence(
    State(s): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<Json<GettableSilence>> {
    let (tenant, _) = integration_of(&s, &key, "alertmanager").await?;
    Ok(Json(gettable_silence(
        s.store.get_silence(&tenant, &id).await?,
    )))
}

async fn expire(
    State(s): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    let (tenant, _) = integration_of(&s, &key, "alertmanager").await?;
    s.store.expire_silence(&tenant, &id).await?;
    Ok(Json(serde_json::json!({})))
}

async fn status(
    State(s): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let (_, integ) = integration_of(&s, &key, "alertmanager").await?;
    Ok(Json(serde_json::json!({
        "cluster": {"status": "disabled", "peers": []},
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "coc",
            "branch": "main",
            "buildUser": "coc",
            "buildDate": "",
            "goVersion": "none (COC)"
        },
        "config": {"original": format!("# COC integration '{}'\n", integ.name)},
        "uptime": format_time(s.store.now()),
    })))
}

async fn receivers(
    State(s): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Vec<Receiver>>> {
    let (_, integ) = integration_of(&s, &key, "alertmanager").await?;
    Ok(Json(vec![Receiver { name: integ.name }]))
}
