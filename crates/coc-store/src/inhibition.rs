//! Inhibition rules (M3): stored [`InhibitionRule`]s. The rule itself —
//! which firing alarm inhibits which — is [`coc_domain::inhibition`]'s;
//! ingest ([`crate::ingest`]) loads the rules once per group, and reads the
//! firing alarms only when an arriving alarm is some rule's target.

use std::collections::BTreeMap;

use coc_domain::alarm::AlarmStatus;
use coc_domain::inhibition::{InhibitionRule, InhibitionSet};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

/// Most firing alarms read to find inhibiting sources (the newest).
pub const MAX_SOURCES: i64 = 10_000;

/// A stored inhibition rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Inhibition {
    /// Record id.
    pub id: String,
    /// The rule.
    #[serde(flatten)]
    pub rule: InhibitionRule,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

const COLS: &str = "id, spec, created_at, updated_at";

fn row(r: &AnyRow) -> Result<Inhibition> {
    let spec: String = r.try_get("spec")?;
    Ok(Inhibition {
        id: r.try_get("id")?,
        rule: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Conflict(format!("stored inhibition rule: {e}")))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn duplicate(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("an inhibition rule named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

impl Store {
    /// Stores a new rule (validated).
    ///
    /// Errors: `Domain(Validation)`; `Conflict` for a duplicate name.
    pub async fn create_inhibition(
        &self,
        tenant: &str,
        rule: &InhibitionRule,
    ) -> Result<Inhibition> {
        rule.validate()?;
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO inhibition_rules (id, tenant_id, name, spec, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&rule.name)
        .bind(serde_json::to_string(rule).unwrap_or_default())
        .bind(self.now())
        .execute(&self.pool)
        .await
        .map_err(duplicate(&rule.name))?;
        self.get_inhibition(tenant, &id).await
    }

    /// Replaces a rule. Errors: `NotFound`; as [`Store::create_inhibition`].
    pub async fn update_inhibition(
        &self,
        tenant: &str,
        id: &str,
        rule: &InhibitionRule,
    ) -> Result<Inhibition> {
        rule.validate()?;
        let n = sqlx::query(
            "UPDATE inhibition_rules SET name = $1, spec = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(&rule.name)
        .bind(serde_json::to_string(rule).unwrap_or_default())
        .bind(self.now())
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(duplicate(&rule.name))?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found("inhibition rule", id));
        }
        self.get_inhibition(tenant, id).await
    }

    /// Deletes a rule. Errors: `NotFound`.
    pub async fn delete_inhibition(&self, tenant: &str, id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM inhibition_rules WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found("inhibition rule", id));
        }
        Ok(())
    }

    /// One rule, by id or name. Errors: `NotFound`.
    pub async fn get_inhibition(&self, tenant: &str, id: &str) -> Result<Inhibition> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM inhibition_rules WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("inhibition rule", id))
    }

    /// The tenant's rules, by name.
    pub async fn list_inhibitions(&self, tenant: &str) -> Result<Vec<Inhibition>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM inhibition_rules WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }
}

/// The tenant's rules, compiled (in name order), on any executor.
pub(crate) async fn rules<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
) -> Result<InhibitionSet> {
    let rows = sqlx::query(dynsql!(
        "SELECT {COLS} FROM inhibition_rules WHERE tenant_id = $1 ORDER BY name"
    ))
    .bind(tenant)
    .fetch_all(ex)
    .await?;
    let all = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
    Ok(InhibitionSet::new(
        all.iter().map(|i| (i.id.as_str(), &i.rule)),
    ))
}

/// The label sets of the tenant's firing alarms (the newest
/// [`MAX_SOURCES`]), as silences and rules see them.
pub(crate) async fn firing<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
) -> Result<Vec<BTreeMap<String, String>>> {
    let rows = sqlx::query(dynsql!(
        "SELECT name, level, resource_name, application, region, namespace, labels FROM alarms \
         WHERE tenant_id = $1 AND status = $2 ORDER BY last_seen DESC LIMIT {MAX_SOURCES}"
    ))
    .bind(tenant)
    .bind(AlarmStatus::Alarm.as_str())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            let labels: String = r.try_get("labels")?;
            let get = |c: &str| r.try_get::<Option<String>, _>(c);
            let (name, level): (String, String) = (r.try_get("name")?, r.try_get("level")?);
            let (res, app, reg, ns) = (
                get("resource_name")?,
                get("application")?,
                get("region")?,
                get("namespace")?,
            );
            Ok(coc_domain::silence::with_fields(
                serde_json::from_str(&labels).unwrap_or_default(),
                [
                    ("alertname", Some(&name)),
                    ("severity", Some(&level)),
                    ("resource_name", res.as_deref()),
                    ("application", app.as_deref()),
                    ("region", reg.as_deref()),
                    ("namespace", ns.as_deref()),
                ],
            ))
        })
        .collect()
}
