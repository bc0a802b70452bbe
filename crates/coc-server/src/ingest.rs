//! Alarm ingest (M1, M2): the integration key in the path authenticates the
//! sender, and the format is chosen by the path:
//!
//! | path | sender | integration type |
//! | --- | --- | --- |
//! | `POST /ingest/<key>/api/v2/alerts` | Prometheus (`path_prefix: /ingest/<key>`) | `alertmanager` |
//! | `POST /ingest/<key>/alertmanager` | Alertmanager webhook receiver (v4) | `alertmanager` |
//! | `POST /ingest/<key>/generic` | anything posting JSON: COC's field names, or the sender's own through the integration's field mapping ([`coc_domain::mapping`]) | `generic` |
//! | `POST /ingest/<key>/grafana` | Grafana alerting's webhook contact point | `grafana` |
//! | `POST /ingest/pagerduty/v2/enqueue` (key in `routing_key`) | a PagerDuty Events API v2 client | `pagerduty` |
//! | `POST`/`GET /ingest/<key>/heartbeat` | a heartbeat ping (cron, Prometheus `Watchdog`) | `heartbeat` |
//!
//! The response is sent only after the alarms are committed: applied (group
//! commit), or, for an integration set to `acknowledge: received`, written
//! to the durable ingest log and applied right behind (decision 0031). A
//! bad body is refused whole: nothing of it is stored.

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use coc_domain::alarm::{BodyFormat, parse_generic};

use crate::AppState;
use crate::api::catalog::{RouteDoc, route};
use crate::error::{ApiError, ApiResult};

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/ingest/{key}/api/v2/alerts",
        "ingest",
        "Alertmanager v2 alerts as posted by Prometheus",
        public, body = Vec<coc_domain::alarm::PostableAlert>, ok = coc_store::alarm::IngestOutcome),
    route!(
        "POST",
        "/ingest/{key}/alertmanager",
        "ingest",
        "Alertmanager webhook payload version 4",
        public,
        body = coc_domain::alarm::WebhookPayload,
        ok = coc_store::alarm::IngestOutcome
    ),
    route!(
        "POST",
        "/ingest/{key}/heartbeat",
        "ingest",
        "Ping a heartbeat monitor (a dead man's switch): resets its deadline and resolves HeartbeatMissed",
        public,
        ok = Ping
    ),
    route!(
        "GET",
        "/ingest/{key}/heartbeat",
        "ingest",
        "Ping a heartbeat monitor with GET (for `curl` in cron and for senders that only GET)",
        public,
        ok = Ping
    ),
    route!(
        "POST",
        "/ingest/pagerduty/v2/enqueue",
        "ingest",
        "PagerDuty Events API v2: trigger, acknowledge or resolve by dedup_key; routing_key is the integration key (answered 202 as PagerDuty)",
        public,
        body = serde_json::Value,
        accepted = PagerDutyAccepted
    ),
    route!(
        "POST",
        "/ingest/{key}/grafana",
        "ingest",
        "Grafana alerting webhook contact point (payload version 1)",
        public,
        body = coc_domain::alarm::WebhookPayload,
        ok = coc_store::alarm::IngestOutcome
    ),
    route!(
        "POST",
        "/ingest/{key}/generic",
        "ingest",
        "Generic JSON alarm object or list (ref. 7.4.2 fields)",
        public,
        body = serde_json::Value,
        ok = coc_store::alarm::IngestOutcome
    ),
];

/// The ingest routes (the Alertmanager API's alerts path, where Prometheus
/// posts, is [`crate::alertmanager`]'s: it serves GET there too).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ingest/{key}/alertmanager", post(webhook))
        .route("/ingest/{key}/generic", post(generic))
        .route("/ingest/{key}/grafana", post(grafana))
        .route("/ingest/pagerduty/v2/enqueue", post(pagerduty))
        .route("/ingest/{key}/heartbeat", post(ping).get(ping))
}

#[derive(Clone, Copy)]
enum Format {
    PrometheusV2,
    Webhook,
    Generic,
    PagerDuty,
    Grafana,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::PrometheusV2 => "prometheus_v2",
            Format::Webhook => "alertmanager_webhook",
            Format::Generic => "generic",
            Format::PagerDuty => "pagerduty_v2",
            Format::Grafana => "grafana_webhook",
        }
    }

    /// The fixed body format, for a format parsed without the
    /// integration's settings.
    fn body_format(self) -> Option<BodyFormat> {
        match self {
            Format::PrometheusV2 => Some(BodyFormat::PrometheusV2),
            Format::Webhook => Some(BodyFormat::AlertmanagerWebhook),
            Format::Grafana => Some(BodyFormat::GrafanaWebhook),
            Format::Generic | Format::PagerDuty => None,
        }
    }
}

/// PagerDuty's answer to an accepted event (HTTP 202).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PagerDutyAccepted {
    /// `success`.
    pub status: &'static str,
    /// `Event processed`.
    pub message: &'static str,
    /// The alert's dedup key (the given one, or the one made for it).
    pub dedup_key: String,
}

/// [`accept_batch`], counted in the ingest metrics.
async fn accept(
    s: AppState,
    key: String,
    body: Result<Bytes, BytesRejection>,
    format: Format,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    measured(format, accept_batch(s, key, body, format)).await
}

/// Runs one ingest request, counting its alarms, its time and its
/// refusal in the ingest metrics.
async fn measured<T>(
    format: Format,
    f: impl std::future::Future<Output = ApiResult<(StatusCode, axum::Json<T>)>>,
) -> ApiResult<(StatusCode, axum::Json<T>)>
where
    T: Accepted,
{
    let t = std::time::Instant::now();
    let r = f.await;
    match &r {
        Ok((_, out)) => {
            metrics::counter!(crate::metrics::ALARMS_INGESTED, "format" => format.as_str())
                .increment(out.accepted());
            metrics::histogram!(crate::metrics::INGEST_BATCH_SECONDS, "format" => format.as_str())
                .record(t.elapsed().as_secs_f64());
        }
        Err(e) => metrics::counter!(crate::metrics::ALARMS_REFUSED, "reason" => e.code.as_str())
            .increment(1),
    }
    r
}

/// An ingest answer that knows how many alarms it took.
trait Accepted {
    fn accepted(&self) -> u64;
}

impl Accepted for coc_store::alarm::IngestOutcome {
    fn accepted(&self) -> u64 {
        self.accepted as u64
    }
}

impl Accepted for PagerDutyAccepted {
    fn accepted(&self) -> u64 {
        1
    }
}

/// The error for a body its format refused: `malformed_json` when it is
/// not JSON at all, else `validation_failed`, with the format's message.
fn refused(body: &[u8], e: coc_domain::DomainError) -> ApiError {
    let code = if serde_json::from_slice::<serde_json::Value>(body).is_err() {
        crate::error::ErrorCode::MalformedJson
    } else {
        crate::error::ErrorCode::ValidationFailed
    };
    ApiError::new(code, e.to_string())
}

/// The body bytes, or the error for a body over the limit or unreadable.
fn read_body(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                crate::error::ErrorCode::PayloadTooLarge,
                format!(
                    "ingest bodies are limited to {} bytes",
                    crate::INGEST_BODY_LIMIT
                ),
            )
        } else {
            ApiError::new(crate::error::ErrorCode::MalformedJson, e.body_text())
        }
    })
}

async fn accept_batch(
    s: AppState,
    key: String,
    body: Result<Bytes, BytesRejection>,
    format: Format,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    let expected = match format {
        Format::PrometheusV2 | Format::Webhook => "alertmanager",
        Format::Generic => "generic",
        Format::PagerDuty => "pagerduty",
        Format::Grafana => "grafana",
    };
    let (tenant, integ) = integration_of(&s, &key, expected).await?;
    let body = read_body(body)?;
    let now = s.store.now();
    let out = match format.body_format() {
        // Logged as the sender sent it, once counted (which validates it
        // as parsing would); parsed when applied (decision 0032).
        Some(f) if s.store.logs(integ.acknowledge) => {
            let count = f.count(&body, now).map_err(|e| refused(&body, e))?;
            let body = coc_store::ingest::log::Body::received(f, now, body);
            s.store.log(&tenant, &integ.id, body, count).await?
        }
        fixed => {
            let parsed = match (fixed, &integ.mapping) {
                (Some(f), _) => f.parse(&body, now),
                (None, Some(m)) => m.apply(&body, now, &integ.name),
                (None, None) => parse_generic(&body, now, &integ.name),
            };
            let alarms = parsed.map_err(|e| refused(&body, e))?;
            s.store
                .accept(&tenant, &integ.id, alarms, integ.acknowledge)
                .await?
        }
    };
    Ok((StatusCode::OK, axum::Json(out)))
}

/// The tenant and the enabled integration of type `expected` that `key`
/// names.
///
/// Errors: 401 `invalid_integration_key` for an unknown key, 403
/// `integration_disabled`, 422 `wrong_integration_type`.
pub(crate) async fn integration_of(
    s: &AppState,
    key: &str,
    expected: &str,
) -> ApiResult<(String, coc_store::integration::Integration)> {
    let Some((tenant, integ)) = s.store.integration_by_key(key).await? else {
        return Err(ApiError::new(
            crate::error::ErrorCode::InvalidIntegrationKey,
            "no integration has this key",
        ));
    };
    if !integ.enabled {
        return Err(ApiError::new(
            crate::error::ErrorCode::IntegrationDisabled,
            format!("integration '{}' is disabled", integ.name),
        ));
    }
    if integ.kind != expected {
        return Err(ApiError::new(
            crate::error::ErrorCode::WrongIntegrationType,
            format!(
                "integration '{}' is of type '{}'; this path needs type '{expected}'",
                integ.name, integ.kind
            ),
        ));
    }
    Ok((tenant, integ))
}

/// The answer to a heartbeat ping.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Ping {
    /// The monitor (integration) name.
    pub integration: String,
    /// When the next ping is due at the latest, Unix ms.
    pub next_due_at: i64,
    /// Whether this ping resolved a raised HeartbeatMissed alarm.
    pub recovered: bool,
}

/// `POST` or `GET /ingest/{key}/heartbeat`: a heartbeat monitor's ping.
/// Whatever body comes is ignored (an Alertmanager webhook carrying the
/// `Watchdog` alert works as a ping).
async fn ping(State(s): State<AppState>, Path(key): Path<String>) -> ApiResult<axum::Json<Ping>> {
    let (tenant, integ) = integration_of(&s, &key, coc_store::integration::HEARTBEAT).await?;
    let recovered = s.store.heartbeat_ping(&integ.id).await?;
    let interval_ms = integ.interval_s.unwrap_or(0) * 1000;
    if recovered {
        let now = s.store.now();
        let ok = coc_domain::heartbeat::alarm(
            &integ.name,
            interval_ms,
            coc_domain::alarm::AlarmStatus::Ok,
            now,
        );
        s.store.ingest(&tenant, &integ.id, vec![ok]).await?;
    }
    Ok(axum::Json(Ping {
        next_due_at: s.store.now() + interval_ms,
        integration: integ.name,
        recovered,
    }))
}

/// `POST /ingest/pagerduty/v2/enqueue`: one PagerDuty Events API v2
/// event; the integration is the one whose key is its `routing_key`.
/// `trigger` stores (or repeats) the alarm of its `dedup_key`, `resolve`
/// turns it `ok`, `acknowledge` writes an `acknowledged` history event;
/// the last two do nothing for a key COC has not seen (as PagerDuty).
async fn pagerduty(
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<PagerDutyAccepted>)> {
    measured(Format::PagerDuty, async move {
        use coc_domain::pagerduty::{EventAction, parse_event};
        let body = read_body(body)?;
        let now = s.store.now();
        let ev = parse_event(&body, now, &coc_store::new_id()).map_err(|e| refused(&body, e))?;
        let (tenant, integ) = integration_of(&s, &ev.routing_key, "pagerduty").await?;
        match (ev.action, ev.alarm.clone()) {
            (EventAction::Trigger, Some(a)) => {
                s.store.ingest(&tenant, &integ.id, vec![a]).await?;
            }
            (action, _) => {
                if let Some(a) = s
                    .store
                    .alarm_by_fingerprint(&tenant, &ev.fingerprint())
                    .await?
                {
                    if action == EventAction::Resolve {
                        let ok = a.as_event(coc_domain::alarm::AlarmStatus::Ok, now);
                        s.store.ingest(&tenant, &integ.id, vec![ok]).await?;
                    } else {
                        let detail = format!("acknowledged through {}", integ.name);
                        s.store.acknowledge_alarm(&tenant, &a.id, &detail).await?;
                    }
                }
            }
        }
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(PagerDutyAccepted {
                status: "success",
                message: "Event processed",
                dedup_key: ev.dedup_key,
            }),
        ))
    })
    .await
}

pub(crate) async fn prometheus(
    State(s): State<AppState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    accept(s, key, body, Format::PrometheusV2).await
}

async fn webhook(
    State(s): State<AppState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    accept(s, key, body, Format::Webhook).await
}

async fn grafana(
    State(s): State<AppState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    accept(s, key, body, Format::Grafana).await
}

async fn generic(
    State(s): State<AppState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    accept(s, key, body, Format::Generic).await
}
