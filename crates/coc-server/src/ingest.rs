//! Alarm ingest (M1, M2): the integration key in the path authenticates the
//! sender, and the format is chosen by the path:
//!
//! | path | sender | integration type |
//! | --- | --- | --- |
//! | `POST /ingest/<key>/api/v2/alerts` | Prometheus (`path_prefix: /ingest/<key>`) | `alertmanager` |
//! | `POST /ingest/<key>/alertmanager` | Alertmanager webhook receiver (v4) | `alertmanager` |
//! | `POST /ingest/<key>/generic` | anything posting generic JSON | `generic` |
//!
//! The response is sent only after the alarms are committed (group
//! commit). A bad body is refused whole: nothing of it is stored.

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use coc_domain::alarm::{
    NormalizedAlarm, parse_alertmanager_webhook, parse_generic, parse_prometheus_v2,
};

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
        "/ingest/{key}/generic",
        "ingest",
        "Generic JSON alarm object or list (ref. 7.4.2 fields)",
        public,
        body = serde_json::Value,
        ok = coc_store::alarm::IngestOutcome
    ),
];

/// The ingest routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ingest/{key}/api/v2/alerts",
            post(prometheus).get(crate::alertmanager::alerts),
        )
        .route("/ingest/{key}/alertmanager", post(webhook))
        .route("/ingest/{key}/generic", post(generic))
}

#[derive(Clone, Copy)]
enum Format {
    PrometheusV2,
    Webhook,
    Generic,
}

impl Format {
    fn as_str(self) -> &'static str {
        match self {
            Format::PrometheusV2 => "prometheus_v2",
            Format::Webhook => "alertmanager_webhook",
            Format::Generic => "generic",
        }
    }
}

/// [`accept_batch`], counted in the ingest metrics.
async fn accept(
    s: AppState,
    key: String,
    body: Result<Bytes, BytesRejection>,
    format: Format,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    let t = std::time::Instant::now();
    let r = accept_batch(s, key, body, format).await;
    match &r {
        Ok((_, out)) => {
            metrics::counter!(crate::metrics::ALARMS_INGESTED, "format" => format.as_str())
                .increment(out.accepted as u64);
            metrics::histogram!(crate::metrics::INGEST_BATCH_SECONDS, "format" => format.as_str())
                .record(t.elapsed().as_secs_f64());
        }
        Err(e) => metrics::counter!(crate::metrics::ALARMS_REFUSED, "reason" => e.code.as_str())
            .increment(1),
    }
    r
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
    };
    let (tenant, integ) = integration_of(&s, &key, expected).await?;
    let body = body.map_err(|e| {
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
    })?;
    let now = s.store.now();
    let parsed: Result<Vec<NormalizedAlarm>, _> = match format {
        Format::PrometheusV2 => parse_prometheus_v2(&body, now, "Prometheus"),
        Format::Webhook => parse_alertmanager_webhook(&body, now, "Alertmanager"),
        Format::Generic => parse_generic(&body, now, &integ.name),
    };
    let alarms = parsed.map_err(|e| {
        let code = if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
            crate::error::ErrorCode::MalformedJson
        } else {
            crate::error::ErrorCode::ValidationFailed
        };
        ApiError::new(code, e.to_string())
    })?;
    let out = s.store.ingest(&tenant, &integ.id, alarms).await?;
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

async fn prometheus(
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

async fn generic(
    State(s): State<AppState>,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, axum::Json<coc_store::alarm::IngestOutcome>)> {
    accept(s, key, body, Format::Generic).await
}
