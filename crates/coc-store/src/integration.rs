//! Integrations (M1, ref. 7.5): monitoring sources with their own access
//! key. Only a SHA-256 hash of the key is stored; the key itself is shown
//! once, when created or rotated.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, is_unique_violation};
use coc_domain::error::invalid;

/// Integration types accepted by `POST /api/v1/integrations`.
pub const TYPES: &[&str] = &["alertmanager", GENERIC, "grafana", "pagerduty", HEARTBEAT];

/// The type of integrations that take any JSON, with COC's field names or
/// through a field mapping ([`coc_domain::mapping`]).
pub const GENERIC: &str = "generic";

/// The type of heartbeat monitors ([`coc_domain::heartbeat`]).
pub const HEARTBEAT: &str = "heartbeat";

/// How long [`Store::integration_by_key`] reuses what it looked up (ms):
/// a change made through another replica is seen this much later (one
/// made through this process at once). Spares every ingest request a
/// database round trip.
pub const KEY_CACHE_MS: i64 = 1_000;

/// Most keys kept in that cache (it is emptied when full).
const KEY_CACHE_SIZE: usize = 4_096;

/// Integrations looked up by key hash: (when, tenant, integration).
#[derive(Default)]
pub(crate) struct KeyCache(
    std::sync::Mutex<std::collections::HashMap<String, (i64, String, Integration)>>,
);

impl KeyCache {
    /// Forgets everything (after any change to an integration).
    pub(crate) fn clear(&self) {
        self.0.lock().expect("keys").clear();
    }
}

/// The integration types whose senders post batches and may be answered
/// once their alarms are logged (`acknowledge: received`, decision 0031).
/// PagerDuty events are not: a `resolve` looks up what its `trigger` made.
pub const ACK_RECEIVED_TYPES: &[&str] = &["alertmanager", GENERIC, "grafana"];

/// An integration as returned by the API (never with its key hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Integration {
    /// Record id.
    pub id: String,
    /// Display name (unique per tenant).
    pub name: String,
    /// `alertmanager` (Prometheus and Alertmanager) or `generic`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Disabled integrations refuse alarms with 403.
    pub enabled: bool,
    /// Last 4 characters of the key, to tell keys apart.
    pub key_hint: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// When it last delivered an alarm, Unix ms (its record only; not in
    /// lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_alarm_at: Option<i64>,
    /// A heartbeat monitor's expected gap between pings, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_s: Option<i64>,
    /// A heartbeat monitor's last ping, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ping_at: Option<i64>,
    /// Since when a heartbeat monitor's HeartbeatMissed alarm is raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_at: Option<i64>,
    /// A generic integration's field mapping: where the alarm fields are
    /// in the sender's own JSON; absent: the sender uses COC's field names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<coc_domain::mapping::FieldMapping>,
    /// When its ingest requests are answered: `applied` (after the alarms
    /// are applied, with counts) or `received` (once they are in the
    /// durable ingest log; decision 0031).
    #[serde(default)]
    pub acknowledge: coc_domain::alarm::Acknowledge,
}

/// An integration together with its freshly generated key (shown once).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntegrationWithKey {
    /// The integration.
    #[serde(flatten)]
    pub integration: Integration,
    /// The access key: the path segment of `/ingest/<key>/…`.
    pub key: String,
}

/// SHA-256 hex of an integration key, the form stored and looked up.
pub fn hash_key(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

fn row(r: &AnyRow) -> Result<Integration> {
    Ok(Integration {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("type")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        key_hint: r.try_get("key_hint")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_alarm_at: None,
        interval_s: r
            .try_get::<Option<i64>, _>("heartbeat_interval_ms")?
            .map(|ms| ms / 1000),
        last_ping_at: r.try_get("last_ping_at")?,
        missed_at: r.try_get("heartbeat_missed_at")?,
        mapping: r
            .try_get::<Option<String>, _>("mapping")?
            .and_then(|m| serde_json::from_str(&m).ok()),
        acknowledge: coc_domain::alarm::Acknowledge::parse(&r.try_get::<String, _>("acknowledge")?)
            .unwrap_or_default(),
    })
}

const COLS: &str = "id, name, type, enabled, key_hint, created_at, updated_at, \
    heartbeat_interval_ms, last_ping_at, heartbeat_missed_at, mapping, acknowledge";

impl Store {
    /// Creates an integration with a new random key (`key` is 32 random
    /// bytes, hex). The name must be 1..=64 characters and unique.
    ///
    /// Errors: `Domain(Validation)` for a bad name or type, `Conflict` for a
    /// duplicate name.
    pub async fn create_integration(
        &self,
        tenant: &str,
        name: &str,
        kind: &str,
        key: &str,
    ) -> Result<IntegrationWithKey> {
        let n = name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("integration name must have 1 to 64 characters").into());
        }
        if !TYPES.contains(&kind) {
            return Err(invalid(format!(
                "unknown integration type '{kind}': expected one of {}",
                TYPES.join(", ")
            ))
            .into());
        }
        let id = crate::new_id();
        let now = self.now();
        let hint = key[key.len().saturating_sub(4)..].to_string();
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "INSERT INTO integrations (id, tenant_id, name, type, key_hash, key_hint, enabled, \
             created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,1,$7,$7)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(name.trim())
        .bind(kind)
        .bind(hash_key(key))
        .bind(&hint)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = r {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "an integration named '{}' already exists",
                    name.trim()
                ))
            } else {
                e.into()
            });
        }
        tx.commit().await?;
        Ok(IntegrationWithKey {
            integration: Integration {
                id,
                name: name.trim().to_string(),
                kind: kind.to_string(),
                enabled: true,
                key_hint: hint,
                created_at: now,
                updated_at: now,
                last_alarm_at: None,
                interval_s: None,
                last_ping_at: None,
                missed_at: None,
                mapping: None,
                acknowledge: Default::default(),
            },
            key: key.to_string(),
        })
    }

    /// All integrations of a tenant, newest first.
    pub async fn list_integrations(&self, tenant: &str) -> Result<Vec<Integration>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM integrations WHERE tenant_id = $1 ORDER BY id DESC"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// One integration. Errors: `NotFound`.
    pub async fn get_integration(&self, tenant: &str, id: &str) -> Result<Integration> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM integrations WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        let mut i = r
            .as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("integration", id))?;
        i.last_alarm_at = sqlx::query_scalar(
            "SELECT MAX(updated_at) FROM alarms WHERE tenant_id = $1 AND integration_id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_one(self.reader())
        .await?;
        Ok(i)
    }

    /// Looks an integration up by its key (any tenant): `(tenant, integration)`.
    /// `None` when no integration has this key.
    pub async fn integration_by_key(&self, key: &str) -> Result<Option<(String, Integration)>> {
        let hash = hash_key(key);
        let now = self.now();
        if let Some((at, tenant, i)) = self.integration_keys.0.lock().expect("keys").get(&hash)
            && now - at < KEY_CACHE_MS
            && now >= *at
        {
            return Ok(Some((tenant.clone(), i.clone())));
        }
        let r = sqlx::query(dynsql!(
            "SELECT tenant_id, {COLS} FROM integrations WHERE key_hash = $1"
        ))
        .bind(&hash)
        .fetch_optional(self.reader())
        .await?;
        let Some(r) = r else {
            return Ok(None);
        };
        let (tenant, i): (String, Integration) = (r.try_get("tenant_id")?, row(&r)?);
        let mut keys = self.integration_keys.0.lock().expect("keys");
        if keys.len() >= KEY_CACHE_SIZE {
            keys.clear();
        }
        keys.insert(hash, (now, tenant.clone(), i.clone()));
        Ok(Some((tenant, i)))
    }

    /// Enables or disables an integration. Errors: `NotFound`.
    pub async fn set_integration_enabled(
        &self,
        tenant: &str,
        id: &str,
        enabled: bool,
    ) -> Result<Integration> {
        self.integration_written(sqlx::query("UPDATE integrations SET enabled = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
            .bind(i64::from(enabled))
            .bind(self.now())
            .bind(tenant)
            .bind(id), id).await?;
        self.get_integration(tenant, id).await
    }

    /// Replaces an integration's key; the old key stops working at once.
    /// Errors: `NotFound`.
    pub async fn rotate_integration_key(
        &self,
        tenant: &str,
        id: &str,
        key: &str,
    ) -> Result<IntegrationWithKey> {
        self.integration_written(
            sqlx::query(
                "UPDATE integrations SET key_hash = $1, key_hint = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5",
            )
            .bind(hash_key(key))
            .bind(&key[key.len().saturating_sub(4)..])
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            id,
        )
        .await?;
        Ok(IntegrationWithKey {
            integration: self.get_integration(tenant, id).await?,
            key: key.to_string(),
        })
    }

    /// Runs `q`, an UPDATE of integration `id`, and forgets the
    /// integrations looked up by key ([`KEY_CACHE_MS`]).
    ///
    /// Errors: `NotFound` when no row changed.
    async fn integration_written(
        &self,
        q: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        id: &str,
    ) -> Result<()> {
        self.write_one(q, "integration", id).await?;
        self.integration_keys.clear();
        Ok(())
    }

    /// Renames an integration (1 to 64 characters, unique per tenant).
    ///
    /// Errors: `Domain(Validation)`; `Conflict` for a name in use;
    /// `NotFound`.
    pub async fn rename_integration(&self, tenant: &str, id: &str, name: &str) -> Result<()> {
        let n = name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("integration name must have 1 to 64 characters").into());
        }
        self.integration_written(
            sqlx::query(
                "UPDATE integrations SET name = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(name.trim())
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            id,
        )
        .await?;
        Ok(())
    }

    /// Sets when integration `id`'s ingest requests are answered
    /// (decision 0031). `received` is for the types whose senders post
    /// batches ([`ACK_RECEIVED_TYPES`]).
    ///
    /// Errors: `Domain(Validation)` for `received` on another type;
    /// `NotFound`.
    pub async fn set_integration_acknowledge(
        &self,
        tenant: &str,
        id: &str,
        ack: coc_domain::alarm::Acknowledge,
    ) -> Result<Integration> {
        let i = self.get_integration(tenant, id).await?;
        if ack == coc_domain::alarm::Acknowledge::Received
            && !ACK_RECEIVED_TYPES.contains(&i.kind.as_str())
        {
            return Err(invalid(format!(
                "acknowledge 'received' is for {} integrations; '{}' is {}",
                ACK_RECEIVED_TYPES.join(", "),
                i.name,
                i.kind
            ))
            .into());
        }
        self.integration_written(
            sqlx::query(
                "UPDATE integrations SET acknowledge = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(ack.as_str())
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            id,
        )
        .await?;
        self.get_integration(tenant, id).await
    }

    /// Sets (or, with `None`, removes) a generic integration's field
    /// mapping ([`coc_domain::mapping::FieldMapping::validate`]).
    ///
    /// Errors: `Domain(Validation)` for a bad mapping or an integration
    /// of another type; `NotFound`.
    pub async fn set_integration_mapping(
        &self,
        tenant: &str,
        id: &str,
        mapping: Option<&coc_domain::mapping::FieldMapping>,
    ) -> Result<Integration> {
        let i = self.get_integration(tenant, id).await?;
        if let Some(m) = mapping {
            if i.kind != GENERIC {
                return Err(invalid(format!(
                    "a field mapping is for generic integrations; '{}' is {}",
                    i.name, i.kind
                ))
                .into());
            }
            m.validate()?;
        }
        self.integration_written(
            sqlx::query(
                "UPDATE integrations SET mapping = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(mapping.map(|m| serde_json::to_string(m).unwrap_or_default()))
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            id,
        )
        .await?;
        self.get_integration(tenant, id).await
    }

    /// Sets a heartbeat monitor's interval (seconds, checked by
    /// [`coc_domain::heartbeat::validate_interval`]).
    ///
    /// Errors: `Domain(Validation)`; `NotFound`.
    pub async fn set_heartbeat_interval(
        &self,
        tenant: &str,
        id: &str,
        interval_s: i64,
    ) -> Result<Integration> {
        coc_domain::heartbeat::validate_interval(interval_s)?;
        self.integration_written(
            sqlx::query(
                "UPDATE integrations SET heartbeat_interval_ms = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(interval_s * 1000)
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            id,
        )
        .await?;
        self.get_integration(tenant, id).await
    }

    /// Records a ping of a heartbeat monitor at the current time. Returns
    /// whether it ended a raised HeartbeatMissed alarm (only the one ping
    /// that clears `heartbeat_missed_at` gets `true`, across replicas).
    pub async fn heartbeat_ping(&self, id: &str) -> Result<bool> {
        let now = self.now();
        let cleared = sqlx::query(
            "UPDATE integrations SET heartbeat_missed_at = NULL \
             WHERE id = $1 AND heartbeat_missed_at IS NOT NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        sqlx::query("UPDATE integrations SET last_ping_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(cleared)
    }

    /// Every enabled heartbeat monitor: `(tenant, integration, monitor)`.
    pub async fn heartbeat_monitors(
        &self,
    ) -> Result<Vec<(String, Integration, coc_domain::heartbeat::Monitor)>> {
        let rows = sqlx::query(dynsql!(
            "SELECT tenant_id, {COLS} FROM integrations \
             WHERE type = $1 AND enabled = 1 AND heartbeat_interval_ms IS NOT NULL"
        ))
        .bind(HEARTBEAT)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let i = row(r)?;
                let m = coc_domain::heartbeat::Monitor {
                    interval_ms: r.try_get("heartbeat_interval_ms")?,
                    last_ping_at: i.last_ping_at.unwrap_or(i.created_at),
                    missed_at: i.missed_at,
                };
                Ok((r.try_get("tenant_id")?, i, m))
            })
            .collect()
    }

    /// Marks a monitor's alarm raised at `now`. Returns whether this call
    /// did (false: another replica did, or a ping came meanwhile).
    /// `last_ping_at` is the last ping the caller saw ([`Monitor`]'s).
    ///
    /// [`Monitor`]: coc_domain::heartbeat::Monitor
    pub async fn claim_heartbeat_missed(
        &self,
        id: &str,
        last_ping_at: i64,
        now: i64,
    ) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE integrations SET heartbeat_missed_at = $1 WHERE id = $2 \
             AND heartbeat_missed_at IS NULL AND COALESCE(last_ping_at, created_at) = $3",
        )
        .bind(now)
        .bind(id)
        .bind(last_ping_at)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }
}
