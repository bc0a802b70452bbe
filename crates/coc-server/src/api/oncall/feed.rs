//! On-call calendar subscriptions (O2): a user creates a secret feed URL
//! for their own shifts or a scenario's; calendar apps read it as
//! iCalendar (RFC 5545) without a login, one event per stretch on call,
//! from a week back to eight weeks ahead.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use coc_domain::oncall::calendar::FeedScope;
use coc_store::access::Principal;
use coc_store::oncall::feed::{Feed, NewFeed};
use icalendar::{Calendar, Component, EventLike};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::catalog::{RouteDoc, route};
use crate::error::ApiResult;
use crate::extract::ApiJson;

/// Days before now a feed starts.
const FEED_PAST_DAYS: i64 = 7;
/// Days after now a feed reaches.
const FEED_AHEAD_DAYS: i64 = 56;

/// Body of `POST /api/v1/oncall/feeds`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedRequest {
    /// A scenario (id or name): its shifts, everyone's. None: the
    /// caller's own shifts in every scenario.
    #[serde(default)]
    pub scenario: Option<String>,
    /// A role of the scenario; none: every role.
    #[serde(default)]
    pub role: Option<String>,
}

/// Answer of `POST /api/v1/oncall/feeds`: the subscription and its URL
/// (shown once: it is the secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedCreated {
    /// The subscription and its token.
    #[serde(flatten)]
    pub feed: NewFeed,
    /// The URL to subscribe to in a calendar app.
    pub url: String,
}

/// The routes this module serves (the feed itself is public: its token
/// is the secret).
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/oncall/feeds",
        "oncall",
        "Create a calendar subscription (iCalendar URL, shown once)",
        OncallUpdate,
        body = FeedRequest,
        created = FeedCreated
    ),
    route!(
        "GET",
        "/api/v1/oncall/feeds",
        "oncall",
        "My calendar subscriptions",
        OncallGet,
        list = Feed
    ),
    route!(
        "DELETE",
        "/api/v1/oncall/feeds/{id}",
        "oncall",
        "Revoke a calendar subscription",
        OncallUpdate,
        no_content
    ),
    route!(
        "GET",
        "/api/v1/oncall/ical/{token}",
        "oncall",
        "An on-call calendar subscription as iCalendar (the token is the secret)",
        public,
        media = "text/calendar"
    ),
];

/// The guarded routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/oncall/feeds", get(list).post(create))
        .route("/api/v1/oncall/feeds/{id}", delete(revoke))
}

/// The public feed.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/api/v1/oncall/ical/{token}", get(ical))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<FeedRequest>,
) -> ApiResult<(StatusCode, Json<FeedCreated>)> {
    let scope = FeedScope {
        person: b.scenario.is_none().then(|| p.user_name.clone()),
        scenario: b.scenario,
        role: b.role,
    };
    let feed = s.store.create_feed(&p.tenant, &p.user_name, scope).await?;
    let url = s.link(&format!("/api/v1/oncall/ical/{}", feed.token));
    Ok((StatusCode::CREATED, Json(FeedCreated { feed, url })))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::super::listing(
        s.store.list_feeds(&p.tenant, &p.user_name).await?,
    )))
}

async fn revoke(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.revoke_feed(&p.tenant, &p.user_name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/oncall/ical/{token}`: the feed as `text/calendar`; an
/// unknown or revoked token is 404.
async fn ical(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    if token.len() > 128 {
        return Err(crate::error::ApiError::new(
            crate::error::ErrorCode::NotFound,
            "calendar subscription '(token)' does not exist",
        ));
    }
    let now = s.store.now_utc();
    let (feed, entries) = s
        .store
        .feed_entries(
            &token,
            now - chrono::Duration::days(FEED_PAST_DAYS),
            now + chrono::Duration::days(FEED_AHEAD_DAYS),
        )
        .await?;
    let name = match (&feed.scope.person, &feed.scope.scenario) {
        (Some(p), _) => format!("On call: {p}"),
        (None, Some(sc)) => format!("On call: {sc}"),
        (None, None) => "On call".to_string(),
    };
    let mut cal = Calendar::new();
    cal.name(&name);
    for e in &entries {
        let who = e.slot.people.join(", ");
        // An application's schedule is named after its scenario.
        let of = match &e.application {
            Some(a) => format!("{} ({a})", e.scenario),
            None => e.scenario.clone(),
        };
        let summary = match &feed.scope.person {
            Some(_) => format!("On call · {of} {}", e.role),
            None => format!("{who} on call · {of} {}", e.role),
        };
        // (For the global schedule `of` is the scenario: the ids stay.)
        let uid = coc_store::integration::hash_key(&format!(
            "{}|{}|{}|{}",
            feed.id,
            of,
            e.role,
            e.slot.start.timestamp()
        ));
        cal.push(
            icalendar::Event::new()
                .uid(&format!("{}@coc", &uid[..32]))
                .summary(&summary)
                .description(&format!(
                    "{who} is on call for {} of scenario {of}.\n{}",
                    e.role,
                    s.link(&format!(
                        "/console/oncall/calendar?scenario={}&role={}",
                        e.scenario.replace(' ', "%20"),
                        e.role.replace(' ', "%20")
                    ))
                ))
                .starts(e.slot.start)
                .ends(e.slot.end)
                .timestamp(now)
                .done(),
        );
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        cal.done().to_string(),
    )
        .into_response())
}
