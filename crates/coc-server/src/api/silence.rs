//! Silences and maintenance windows API (M3): create, list, show,
//! replace and expire. The Alertmanager-compatible surface at an
//! integration's base URL is [`crate::alertmanager`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::silence::SilenceInput;
use coc_store::silence::Silence;
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use coc_store::access::Principal;

/// Query of `GET /api/v1/silences`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceQuery {
    /// Include expired silences (newest first, after the others).
    pub expired: Option<bool>,
}

/// Body of `POST /api/v1/silences/replay`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySilence {
    /// Matchers (text or parts), as a silence takes them.
    pub matchers: Vec<coc_domain::silence::MatcherInput>,
    /// Weekly hours of a maintenance window.
    #[serde(default)]
    pub weekly: Option<coc_domain::silence::Weekly>,
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
        "/api/v1/silences/replay",
        "silence",
        "What a silence would have muted among the alarms of the last days (B3)",
        SilenceReplay,
        body = ReplaySilence,
        ok = coc_domain::replay::SilenceReplay
    ),
    route!(
        "POST",
        "/api/v1/silences",
        "silence",
        "Create a silence or maintenance window: matchers (`alertname=\"Disk\"` or {name, op, value}), starts_at (default now), ends_at or duration_minutes, comment, optional weekly hours",
        SilenceCreate,
        body = coc_domain::silence::SilenceInput,
        created = coc_store::silence::Silence
    ),
    route!(
        "GET",
        "/api/v1/silences",
        "silence",
        "List silences, those not expired first (`expired=true` includes the expired)",
        SilenceList,
        query = SilenceQuery,
        list = coc_store::silence::Silence
    ),
    route!(
        "GET",
        "/api/v1/silences/{id}",
        "silence",
        "Show a silence with its state",
        SilenceGet,
        ok = coc_store::silence::Silence
    ),
    route!(
        "PUT",
        "/api/v1/silences/{id}",
        "silence",
        "Replace a silence that has not expired",
        SilenceUpdate,
        body = coc_domain::silence::SilenceInput,
        ok = coc_store::silence::Silence
    ),
    route!(
        "POST",
        "/api/v1/silences/{id}/expire",
        "silence",
        "End a silence now",
        SilenceExpire,
        ok = coc_store::silence::Silence
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/silences", post(create).get(list))
        .route("/api/v1/silences/replay", post(replay))
        .route("/api/v1/silences/{id}", get(show).put(replace))
        .route("/api/v1/silences/{id}/expire", post(expire))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<SilenceInput>,
) -> ApiResult<(StatusCode, Json<Silence>)> {
    let spec = b.resolve(s.store.now())?;
    let out = s
        .store
        .create_silence(&p.tenant, &spec, &p.user_name)
        .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<SilenceQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let items = s
        .store
        .list_silences(&p.tenant, q.expired.unwrap_or(false))
        .await?;
    Ok(Json(super::listing(items)))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Silence>> {
    Ok(Json(s.store.get_silence(&p.tenant, &id).await?))
}

async fn replace(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SilenceInput>,
) -> ApiResult<Json<Silence>> {
    let spec = b.resolve(s.store.now())?;
    Ok(Json(s.store.replace_silence(&p.tenant, &id, &spec).await?))
}

async fn expire(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Silence>> {
    Ok(Json(s.store.expire_silence(&p.tenant, &id).await?))
}

/// Replays matchers over the stored alarms.
async fn replay(
    State(s): State<AppState>,
    Extension(p): Extension<coc_store::access::Principal>,
    crate::extract::ApiJson(b): crate::extract::ApiJson<ReplaySilence>,
) -> ApiResult<Json<coc_domain::replay::SilenceReplay>> {
    let weekly = b.weekly.filter(|w| !w.days.is_empty());
    Ok(Json(
        s.store
            .replay_silence(&p.tenant, &b.matchers, weekly.as_ref(), b.days)
            .await?,
    ))
}
