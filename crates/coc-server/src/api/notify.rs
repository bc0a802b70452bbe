//! Notifications API (O4): the delivery log and a test message to any
//! channel (the same queue, retries and log as every notification); SLA
//! records (O5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_domain::notify::Message;
use coc_store::Paged;
use coc_store::access::Principal;
use coc_store::notify::Delivery;
use serde::Deserialize;

use super::PageQuery;
use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Body of `POST /api/v1/notifications/test`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessage {
    /// `webhook`, `wecom`, `dingtalk`, `feishu`, `slack` or `teams`.
    pub channel: String,
    /// URL of the webhook or robot.
    pub target: String,
    /// Signing secret (webhook), stored encrypted.
    #[serde(default)]
    pub secret: Option<String>,
    /// Subject (default "COC test notification").
    #[serde(default)]
    pub subject: Option<String>,
    /// Body text.
    #[serde(default)]
    pub body: Option<String>,
}

/// Body of `POST /api/v1/notification-rules/replay`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayNotificationRule {
    /// The rule as it would be saved.
    pub rule: coc_domain::notify::NotificationRule,
    /// Days back (1 to 30; default 7).
    #[serde(default = "week")]
    pub days: u32,
}

fn week() -> u32 {
    7
}

/// Query of `GET /api/v1/notifications/deliveries`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
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
        "/api/v1/notifications/deliveries",
        "notification",
        "The delivery log: status, attempts, last error",
        NotificationList,
        query = DeliveryQuery,
        list = coc_store::notify::Delivery
    ),
    route!(
        "POST",
        "/api/v1/notifications/test",
        "notification",
        "Queue a test message to a channel (webhook or robot)",
        NotificationTest,
        body = TestMessage,
        created = coc_store::notify::Delivery
    ),
    route!(
        "POST",
        "/api/v1/notification-rules/replay",
        "notification",
        "Replay a notification rule before saving it: the incident changes of the last days it matches and the people it would have told (B3)",
        NotificationReplay,
        body = ReplayNotificationRule,
        ok = coc_domain::replay::NotificationReplay
    ),
    route!(
        "GET",
        "/api/v1/sla-records",
        "sla",
        "SLA records: duration per status, target, state, break time, notifications",
        SlaList,
        query = SlaRecordQuery,
        list = coc_store::sla::SlaRecord
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notifications/deliveries", get(list))
        .route("/api/v1/notifications/test", post(test))
        .route("/api/v1/notification-rules/replay", post(replay))
}

async fn replay(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<ReplayNotificationRule>,
) -> ApiResult<Json<coc_domain::replay::NotificationReplay>> {
    Ok(Json(
        s.store
            .replay_notification_rule(&p.tenant, &b.rule, b.days)
            .await?,
    ))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Paged<Delivery>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    Ok(Json(
        s.store
            .list_deliveries(&p.tenant, q.status.as_deref(), &page)
            .await?,
    ))
}

async fn test(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<TestMessage>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let m = Message {
        incident: None,
        event: "test".into(),
        subject: b.subject.unwrap_or_else(|| "COC test notification".into()),
        body: b.body.unwrap_or_else(|| format!("sent by {}", p.user_name)),
        link: None,
        actions: vec![],
    };
    let d = s
        .store
        .enqueue_delivery(&p.tenant, &b.channel, &b.target, b.secret.as_deref(), &m)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(d)))
}

/// Query of `GET /api/v1/sla-records`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRecordQuery {
    /// Ticket id or number.
    pub ticket: Option<String>,
    /// `normal`, `pre_warned` or `has_broken`.
    pub state: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Cursor.
    pub cursor: Option<String>,
}

pub(super) fn sla_router() -> Router<AppState> {
    Router::new().route("/api/v1/sla-records", get(sla_records))
}

async fn sla_records(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<SlaRecordQuery>,
) -> ApiResult<Json<Paged<coc_store::sla::SlaRecord>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    Ok(Json(
        s.store
            .list_sla_records(&p.tenant, q.ticket.as_deref(), q.state.as_deref(), &page)
            .await?,
    ))
}
