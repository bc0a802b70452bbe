//! Integrations API (M1, ref. 7.5).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_store::integration::{Integration, IntegrationWithKey};
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use coc_store::access::Principal;

/// Body of `POST /api/v1/integrations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegration {
    /// Name.
    pub name: String,
    /// `alertmanager`, `generic` or `pagerduty` (Events API v2).
    #[serde(rename = "type")]
    pub kind: String,
    /// A `heartbeat` monitor's interval, seconds (required for that type,
    /// refused for others).
    #[serde(default)]
    pub interval_s: Option<i64>,
    /// A `generic` integration's field mapping (JSON pointers to the alarm
    /// fields in the sender's own JSON; [`coc_domain::mapping`]).
    #[serde(default)]
    pub mapping: Option<coc_domain::mapping::FieldMapping>,
    /// When ingest requests are answered: `applied` (default; after the
    /// alarms are applied, with counts) or `received` (once they are in the
    /// durable ingest log; `alertmanager`, `generic` and `grafana` only).
    #[serde(default)]
    pub acknowledge: Option<coc_domain::alarm::Acknowledge>,
}

/// `PUT /api/v1/integrations/{id}`: what can change after creation (the
/// key changes through `rotate-key`, the type never).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegration {
    /// A new name (1 to 64 characters, unique); absent: unchanged.
    #[serde(default)]
    pub name: Option<String>,
    /// The type, if given, must be the integration's own.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A `heartbeat` monitor's interval, seconds; absent: unchanged.
    #[serde(default)]
    pub interval_s: Option<i64>,
    /// The field mapping of a `generic` integration; `null` or absent
    /// removes it (the sender then uses COC's field names).
    #[serde(default)]
    pub mapping: Option<coc_domain::mapping::FieldMapping>,
    /// `applied` or `received` (see [`CreateIntegration::acknowledge`]);
    /// absent: unchanged.
    #[serde(default)]
    pub acknowledge: Option<coc_domain::alarm::Acknowledge>,
}

/// Refuses `received` for a type whose answers must say what happened.
fn check_acknowledge(
    kind: &str,
    ack: Option<coc_domain::alarm::Acknowledge>,
) -> Result<(), coc_domain::DomainError> {
    use coc_store::integration::ACK_RECEIVED_TYPES;
    if ack == Some(coc_domain::alarm::Acknowledge::Received) && !ACK_RECEIVED_TYPES.contains(&kind)
    {
        return Err(coc_domain::error::invalid(format!(
            "acknowledge 'received' is for {} integrations, not {kind}",
            ACK_RECEIVED_TYPES.join(", ")
        )));
    }
    Ok(())
}

/// A new random integration key: 32 bytes, hex.
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/integrations",
        "integration",
        "Create an integration; the response carries its key (ref. 7.5)",
        IntegrationCreate,
        body = CreateIntegration,
        created = IntegrationWithKey
    ),
    route!(
        "GET",
        "/api/v1/integrations",
        "integration",
        "List integrations",
        IntegrationList,
        list = Integration
    ),
    route!(
        "GET",
        "/api/v1/integrations/{id}",
        "integration",
        "Show an integration",
        IntegrationGet,
        ok = Integration
    ),
    route!(
        "PUT",
        "/api/v1/integrations/{id}",
        "integration",
        "Change an integration: its name, a heartbeat's interval, a generic integration's field mapping",
        IntegrationUpdate,
        body = UpdateIntegration,
        ok = Integration
    ),
    route!(
        "POST",
        "/api/v1/integrations/{id}/enable",
        "integration",
        "Enable an integration",
        IntegrationEnable,
        ok = Integration
    ),
    route!(
        "POST",
        "/api/v1/integrations/{id}/disable",
        "integration",
        "Disable an integration: its key is refused with 403",
        IntegrationDisable,
        ok = Integration
    ),
    route!(
        "POST",
        "/api/v1/integrations/{id}/rotate-key",
        "integration",
        "Replace the key (update the integration sign)",
        IntegrationRotateKey,
        ok = IntegrationWithKey
    ),
    route!(
        "POST",
        "/api/v1/integrations/{id}/test",
        "integration",
        "Send a test alarm through the integration (a Suggestion named COCTestAlarm)",
        IntegrationTest,
        ok = coc_store::alarm::IngestOutcome
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/integrations", post(create).get(list))
        .route("/api/v1/integrations/{id}", get(show).put(update))
        .route("/api/v1/integrations/{id}/test", post(test_alarm))
        .route("/api/v1/integrations/{id}/enable", post(enable))
        .route("/api/v1/integrations/{id}/disable", post(disable))
        .route("/api/v1/integrations/{id}/rotate-key", post(rotate))
}

async fn create(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<CreateIntegration>,
) -> ApiResult<(StatusCode, Json<IntegrationWithKey>)> {
    let heartbeat = b.kind == coc_store::integration::HEARTBEAT;
    match (heartbeat, b.interval_s) {
        (true, Some(i)) => coc_domain::heartbeat::validate_interval(i)?,
        (true, None) => {
            return Err(coc_domain::error::invalid("a heartbeat monitor needs interval_s").into());
        }
        (false, Some(_)) => {
            return Err(
                coc_domain::error::invalid("interval_s is for heartbeat monitors only").into(),
            );
        }
        (false, None) => {}
    }
    if let Some(m) = &b.mapping {
        if b.kind != coc_store::integration::GENERIC {
            return Err(coc_domain::error::invalid(
                "a field mapping is for generic integrations only",
            )
            .into());
        }
        m.validate()?;
    }
    check_acknowledge(&b.kind, b.acknowledge)?;
    let mut out = s
        .store
        .create_integration(&p.tenant, &b.name, &b.kind, &new_key())
        .await?;
    if let Some(m) = &b.mapping {
        out.integration = s
            .store
            .set_integration_mapping(&p.tenant, &out.integration.id, Some(m))
            .await?;
    }
    if let Some(i) = b.interval_s {
        out.integration = s
            .store
            .set_heartbeat_interval(&p.tenant, &out.integration.id, i)
            .await?;
    }
    if let Some(a) = b.acknowledge.filter(|a| *a != out.integration.acknowledge) {
        out.integration = s
            .store
            .set_integration_acknowledge(&p.tenant, &out.integration.id, a)
            .await?;
    }
    Ok((StatusCode::CREATED, Json(out)))
}

/// Everything is checked before anything is written.
async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<UpdateIntegration>,
) -> ApiResult<Json<Integration>> {
    use coc_domain::error::invalid;
    let i = s.store.get_integration(&p.tenant, &id).await?;
    if let Some(k) = b.kind.as_deref().filter(|k| *k != i.kind) {
        return Err(invalid(format!(
            "the type of an integration does not change ('{}' is {}, not {k}); create another",
            i.name, i.kind
        ))
        .into());
    }
    if let Some(iv) = b.interval_s {
        if i.kind != coc_store::integration::HEARTBEAT {
            return Err(invalid("interval_s is for heartbeat monitors only").into());
        }
        coc_domain::heartbeat::validate_interval(iv)?;
    }
    if let Some(m) = &b.mapping {
        if i.kind != coc_store::integration::GENERIC {
            return Err(invalid("a field mapping is for generic integrations only").into());
        }
        m.validate()?;
    }
    check_acknowledge(&i.kind, b.acknowledge)?;
    if let Some(n) = b.name.as_deref().filter(|n| n.trim() != i.name) {
        s.store.rename_integration(&p.tenant, &id, n).await?;
    }
    if let Some(iv) = b.interval_s {
        s.store.set_heartbeat_interval(&p.tenant, &id, iv).await?;
    }
    if b.mapping.is_some() || i.mapping.is_some() {
        s.store
            .set_integration_mapping(&p.tenant, &id, b.mapping.as_ref())
            .await?;
    }
    if let Some(a) = b.acknowledge.filter(|a| *a != i.acknowledge) {
        s.store
            .set_integration_acknowledge(&p.tenant, &id, a)
            .await?;
    }
    Ok(Json(s.store.get_integration(&p.tenant, &id).await?))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_integrations(&p.tenant).await?,
    )))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(s.store.get_integration(&p.tenant, &id).await?))
}

/// `POST /api/v1/integrations/{id}/test`: one alarm, as if the monitoring
/// source had sent it — the same store path, rules included — so the
/// setup can be checked end to end: `COCTestAlarm`, level Suggestion,
/// resource `coc-test`. A disabled integration refuses it (403), as it
/// refuses real ones.
async fn test_alarm(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<coc_store::alarm::IngestOutcome>> {
    let i = s.store.get_integration(&p.tenant, &id).await?;
    if !i.enabled {
        return Err(crate::error::ApiError::new(
            crate::error::ErrorCode::Forbidden,
            format!("integration '{}' is disabled", i.name),
        ));
    }
    let labels = [
        ("alertname", "COCTestAlarm"),
        ("severity", "info"),
        ("instance", "coc-test"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let annotations = [(
        "description".to_string(),
        format!("A test alarm sent by {} from COC", p.user_name),
    )]
    .into_iter()
    .collect();
    let alarm = coc_domain::alarm::from_labels(
        labels,
        annotations,
        coc_domain::alarm::AlarmStatus::Alarm,
        s.store.now(),
        None,
        "COC test",
    )?;
    Ok(Json(s.store.ingest(&p.tenant, &i.id, vec![alarm]).await?))
}

async fn enable(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(
        s.store
            .set_integration_enabled(&p.tenant, &id, true)
            .await?,
    ))
}

async fn disable(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Integration>> {
    Ok(Json(
        s.store
            .set_integration_enabled(&p.tenant, &id, false)
            .await?,
    ))
}

async fn rotate(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<IntegrationWithKey>> {
    Ok(Json(
        s.store
            .rotate_integration_key(&p.tenant, &id, &new_key())
            .await?,
    ))
}
