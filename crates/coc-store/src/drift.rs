//! Drift (R5): stores a host's desired state and its agent's reports, and
//! applies what [`coc_domain::drift`] decides — the differences, a file's
//! baseline taken from a report, whether the host's drift alarm changes —
//! in one transaction. The alarm itself goes through the normal pipeline
//! ([`Store::ingest`]), from the tenant's `agent` integration.

use coc_domain::alarm::NormalizedAlarm;
use coc_domain::drift::{
    self, DesiredState, Difference, Observed, Watch, accept, alarm_change, assess,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError, is_unique_violation};

/// The integration type drift alarms come from (one per tenant, made on
/// first use, named [`AGENT_INTEGRATION`]; disabling it stops the
/// alarms, not the comparison).
pub const AGENT_TYPE: &str = "agent";
/// Name of the tenant's `agent` integration.
pub const AGENT_INTEGRATION: &str = "COC agents";

/// A host's drift record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct HostDrift {
    /// Host resource id.
    pub host_id: String,
    /// Its host name.
    pub host: String,
    /// The desired state (file baselines filled in once reported).
    #[serde(flatten)]
    pub desired: DesiredState,
    /// What the agent last reported; `None` before its first report.
    #[schema(value_type = Option<Object>)]
    pub observed: Option<Observed>,
    /// How the host differs, as of the last report.
    pub differences: Vec<Difference>,
    /// `in_sync`, `drifted`, or `unchecked` (no report yet).
    pub status: String,
    /// The last report, Unix ms.
    pub checked_at: Option<i64>,
    /// Since when the host differs, Unix ms.
    pub drifted_since: Option<i64>,
    /// Whether its drift alarm is raised.
    pub alarm_raised: bool,
    /// Desired state set, Unix ms.
    pub created_at: i64,
    /// Last change of the desired state or of the comparison, Unix ms.
    pub updated_at: i64,
}

/// A drift alarm to ingest: the tenant, its `agent` integration, the alarm.
#[derive(Debug, Clone)]
pub struct DriftAlarm {
    /// Tenant.
    pub tenant: String,
    /// The tenant's `agent` integration.
    pub integration_id: String,
    /// The alarm (`Alarm` or `Ok`).
    pub alarm: NormalizedAlarm,
}

/// What storing an agent's report leads to.
#[derive(Debug, Clone, Default)]
pub struct ReportOutcome {
    /// The drift alarm to ingest, when it changed.
    pub alarm: Option<DriftAlarm>,
    /// The watch to send the agent again: its report answered an older one.
    pub resend: Option<Watch>,
}

const COLS: &str = "d.host_id, h.hostname, d.tenant_id, d.desired, d.observed, d.differences, \
    d.checked_at, d.drifted_since, d.alarm_raised, d.created_at, d.updated_at";

fn parse<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Conflict(format!("stored {what}: {e}")))
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn row(r: &AnyRow) -> Result<HostDrift> {
    let observed: Option<String> = r.try_get("observed")?;
    let differences: Vec<Difference> =
        parse("differences", &r.try_get::<String, _>("differences")?)?;
    let checked_at: Option<i64> = r.try_get("checked_at")?;
    let status = match (checked_at, differences.is_empty()) {
        (None, _) => "unchecked",
        (Some(_), true) => "in_sync",
        (Some(_), false) => "drifted",
    };
    Ok(HostDrift {
        host_id: r.try_get("host_id")?,
        host: r.try_get("hostname")?,
        desired: parse("desired state", &r.try_get::<String, _>("desired")?)?,
        observed: observed
            .as_deref()
            .map(|o| parse("report", o))
            .transpose()?,
        status: status.into(),
        differences,
        checked_at,
        drifted_since: r.try_get("drifted_since")?,
        alarm_raised: r.try_get::<i64, _>("alarm_raised")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn load(
    tx: &mut Transaction<'static, Any>,
    tenant: Option<&str>,
    host_id: &str,
) -> Result<Option<(String, HostDrift)>> {
    let r = sqlx::query(dynsql!(
        "SELECT {COLS} FROM host_drift d JOIN hosts h ON h.id = d.host_id WHERE d.host_id = $1"
    ))
    .bind(host_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = r else { return Ok(None) };
    let t: String = r.try_get("tenant_id")?;
    if tenant.is_some_and(|x| x != t) {
        return Ok(None);
    }
    Ok(Some((t, row(&r)?)))
}

impl Store {
    /// The host's id from its id or host name.
    ///
    /// Errors: `NotFound`.
    pub async fn host_ref(&self, tenant: &str, host: &str) -> Result<String> {
        for sql in [
            "SELECT id FROM hosts WHERE tenant_id = $1 AND id = $2",
            "SELECT id FROM hosts WHERE tenant_id = $1 AND hostname = $2 ORDER BY id LIMIT 1",
        ] {
            let id: Option<String> = sqlx::query_scalar(sql)
                .bind(tenant)
                .bind(host)
                .fetch_optional(self.reader())
                .await?;
            if let Some(id) = id {
                return Ok(id);
            }
        }
        Err(StoreError::not_found("host", host))
    }

    /// Sets (or replaces) host `host_id`'s desired state and compares it
    /// with the last report at once. Returns the record, the watch to send
    /// the agent, and the alarm change the new state makes.
    ///
    /// Errors: `Domain(Validation)` (see [`DesiredState::normalized`]);
    /// `NotFound` for a host not in the tenant.
    pub async fn set_desired_state(
        &self,
        tenant: &str,
        host_id: &str,
        desired: &DesiredState,
    ) -> Result<(HostDrift, Watch, Option<DriftAlarm>)> {
        let desired = desired.normalized()?;
        let host = self.host_ref(tenant, host_id).await?;
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO host_drift (host_id, tenant_id, desired, differences, alarm_raised, created_at, updated_at) \
             VALUES ($1, $2, $3, '[]', 0, $4, $4) ON CONFLICT (host_id) DO NOTHING",
        )
        .bind(&host)
        .bind(tenant)
        .bind(json(&desired))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (_, d) = load(&mut tx, Some(tenant), &host)
            .await?
            .ok_or_else(|| StoreError::not_found("host", host_id))?;
        let alarm = self
            .settle(&mut tx, tenant, &d, desired.clone(), None, now)
            .await?;
        let d = load(&mut tx, Some(tenant), &host).await?.map(|x| x.1);
        tx.commit().await?;
        let d = d.ok_or_else(|| StoreError::not_found("host", host_id))?;
        Ok((d, desired.watch(), alarm))
    }

    /// Host `host_id`'s drift record.
    ///
    /// Errors: `NotFound` (no such host, or no desired state set).
    pub async fn host_drift(&self, tenant: &str, host_id: &str) -> Result<HostDrift> {
        let host = self.host_ref(tenant, host_id).await?;
        let mut tx = self.begin().await?;
        let d = load(&mut tx, Some(tenant), &host).await?;
        tx.commit().await?;
        d.map(|x| x.1)
            .ok_or_else(|| StoreError::not_found("desired state of host", host_id))
    }

    /// Every host of the tenant with a desired state, drifted ones first,
    /// then by host name.
    ///
    /// Errors: a store error.
    pub async fn list_drift(&self, tenant: &str) -> Result<Vec<HostDrift>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM host_drift d JOIN hosts h ON h.id = d.host_id \
             WHERE d.tenant_id = $1 ORDER BY h.hostname, d.host_id"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let mut out = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|d| d.status != "drifted");
        Ok(out)
    }

    /// Removes host `host_id`'s desired state (the agent stops watching).
    /// Returns the alarm that resolves, if one was raised.
    ///
    /// Errors: `NotFound`.
    pub async fn delete_desired_state(
        &self,
        tenant: &str,
        host_id: &str,
    ) -> Result<Option<DriftAlarm>> {
        let host = self.host_ref(tenant, host_id).await?;
        let mut tx = self.begin().await?;
        let (_, d) = load(&mut tx, Some(tenant), &host)
            .await?
            .ok_or_else(|| StoreError::not_found("desired state of host", host_id))?;
        sqlx::query("DELETE FROM host_drift WHERE host_id = $1")
            .bind(&host)
            .execute(&mut *tx)
            .await?;
        let alarm = if d.alarm_raised {
            self.drift_alarm(&mut tx, tenant, &d, &[], coc_domain::alarm::AlarmStatus::Ok)
                .await?
        } else {
            None
        };
        tx.commit().await?;
        Ok(alarm)
    }

    /// "Accept the current state": the desired state takes the versions
    /// and hashes of the last report ([`coc_domain::drift::accept`]).
    ///
    /// Errors: `NotFound`; `Conflict` before the agent's first report.
    pub async fn accept_drift(
        &self,
        tenant: &str,
        host_id: &str,
    ) -> Result<(HostDrift, Option<DriftAlarm>)> {
        let host = self.host_ref(tenant, host_id).await?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let (_, d) = load(&mut tx, Some(tenant), &host)
            .await?
            .ok_or_else(|| StoreError::not_found("desired state of host", host_id))?;
        let Some(seen) = d.observed.clone() else {
            return Err(StoreError::Conflict(format!(
                "the agent of {} has not reported yet: there is no current state to accept",
                d.host
            )));
        };
        let desired = accept(&d.desired, &seen);
        let alarm = self.settle(&mut tx, tenant, &d, desired, None, now).await?;
        let d = load(&mut tx, Some(tenant), &host).await?.map(|x| x.1);
        tx.commit().await?;
        Ok((
            d.ok_or_else(|| StoreError::not_found("host", host_id))?,
            alarm,
        ))
    }

    /// Stores a report of host `host_id`'s agent (cut to the limits) and
    /// compares it. Nothing happens for a host without a desired state.
    ///
    /// Errors: a store error.
    pub async fn record_drift_state(&self, host_id: &str, seen: Observed) -> Result<ReportOutcome> {
        let seen = seen.capped();
        let now = self.now();
        let mut tx = self.begin().await?;
        let Some((tenant, d)) = load(&mut tx, None, host_id).await? else {
            tx.commit().await?;
            return Ok(ReportOutcome::default());
        };
        let stale = assess(&d.desired, &seen).stale;
        let alarm = self
            .settle(&mut tx, &tenant, &d, d.desired.clone(), Some(seen), now)
            .await?;
        tx.commit().await?;
        Ok(ReportOutcome {
            alarm,
            resend: stale.then(|| d.desired.watch()),
        })
    }

    /// What host `host_id`'s agent should watch, if it has a desired state.
    ///
    /// Errors: a store error.
    pub async fn drift_watch(&self, host_id: &str) -> Result<Option<Watch>> {
        let desired: Option<String> =
            sqlx::query_scalar("SELECT desired FROM host_drift WHERE host_id = $1")
                .bind(host_id)
                .fetch_optional(self.reader())
                .await?;
        desired
            .map(|s| parse::<DesiredState>("desired state", &s).map(|d| d.watch()))
            .transpose()
    }

    /// Compares `desired` with the report (`seen`, else the stored one),
    /// writes the outcome and returns the alarm change.
    async fn settle(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: &str,
        d: &HostDrift,
        desired: DesiredState,
        seen: Option<Observed>,
        now: i64,
    ) -> Result<Option<DriftAlarm>> {
        let reported = seen.is_some();
        let observed = seen.or_else(|| d.observed.clone());
        let (desired, differences) = match &observed {
            Some(o) => {
                let a = assess(&desired, o);
                (a.adopted.unwrap_or(desired), a.differences)
            }
            None => (desired, Vec::new()),
        };
        let change = alarm_change(
            d.alarm_raised,
            desired.alarm(),
            &d.differences,
            &differences,
        );
        let raised = match change {
            Some(coc_domain::alarm::AlarmStatus::Ok) => false,
            Some(_) => true,
            None => d.alarm_raised,
        };
        let since = match (differences.is_empty(), d.drifted_since) {
            (true, _) => None,
            (false, Some(t)) if !d.differences.is_empty() => Some(t),
            (false, _) => Some(now),
        };
        sqlx::query(
            "UPDATE host_drift SET desired = $1, observed = $2, differences = $3, \
             checked_at = $4, drifted_since = $5, alarm_raised = $6, updated_at = $7 \
             WHERE host_id = $8",
        )
        .bind(json(&desired))
        .bind(observed.as_ref().map(json))
        .bind(json(&differences))
        .bind(if reported { Some(now) } else { d.checked_at })
        .bind(since)
        .bind(i64::from(raised))
        .bind(now)
        .bind(&d.host_id)
        .execute(&mut **tx)
        .await?;
        match change {
            Some(status) => {
                let d = HostDrift {
                    desired,
                    ..d.clone()
                };
                self.drift_alarm(tx, tenant, &d, &differences, status).await
            }
            None => Ok(None),
        }
    }

    /// The drift alarm of `d` with `status`, from the tenant's `agent`
    /// integration (made on first use); `None` when that integration is
    /// disabled.
    async fn drift_alarm(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: &str,
        d: &HostDrift,
        differences: &[Difference],
        status: coc_domain::alarm::AlarmStatus,
    ) -> Result<Option<DriftAlarm>> {
        let found = sqlx::query(
            "SELECT id, enabled FROM integrations WHERE tenant_id = $1 AND type = $2 ORDER BY created_at LIMIT 1",
        )
        .bind(tenant)
        .bind(AGENT_TYPE)
        .fetch_optional(&mut **tx)
        .await?;
        let id = match found {
            Some(r) if r.try_get::<i64, _>("enabled")? == 0 => return Ok(None),
            Some(r) => r.try_get::<String, _>("id")?,
            None => {
                let id = crate::new_id();
                let key = format!(
                    "{:032x}{:032x}",
                    rand::random::<u128>(),
                    rand::random::<u128>()
                );
                let now = self.now();
                sqlx::query(
                    "INSERT INTO integrations (id, tenant_id, name, type, key_hash, key_hint, enabled, \
                     created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,1,$7,$7)",
                )
                .bind(&id)
                .bind(tenant)
                .bind(AGENT_INTEGRATION)
                .bind(AGENT_TYPE)
                .bind(crate::integration::hash_key(&key))
                .bind("----")
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "an integration named '{AGENT_INTEGRATION}' exists with another type: rename it so drift alarms can be raised"
                        ))
                    } else {
                        e.into()
                    }
                })?;
                id
            }
        };
        let level = d.desired.alarm_level;
        Ok(Some(DriftAlarm {
            tenant: tenant.to_string(),
            integration_id: id,
            alarm: drift::alarm(&d.host, &d.host_id, level, differences, status, self.now()),
        }))
    }
}
