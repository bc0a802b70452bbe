//! Inhibition rules (M3): stored [`InhibitionRule`]s. The rule itself —
//! which firing alarm inhibits which — is [`coc_domain::inhibition`]'s;
//! ingest ([`crate::ingest`]) loads the rules once per group, records each
//! arriving source by the values of the rule's `equal` labels
//! (`inhibition_sources`), and looks a target's values up there, joined to
//! the alarms for a source that still fires.

use coc_domain::alarm::AlarmStatus;
use coc_domain::inhibition::{InhibitionRule, InhibitionSet};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

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
        self.forget_sources(tenant, id).await?;
        self.write_one(
            sqlx::query(
                "UPDATE inhibition_rules SET name = $1, spec = $2, updated_at = $3 \
                 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(&rule.name)
            .bind(serde_json::to_string(rule).unwrap_or_default())
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            "inhibition rule",
            id,
        )
        .await?;
        self.get_inhibition(tenant, id).await
    }

    /// The sources recorded for a rule are dropped when it changes or goes
    /// (a changed rule counts the sources that arrive after the change).
    async fn forget_sources(&self, tenant: &str, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM inhibition_sources WHERE tenant_id = $1 AND rule_id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a rule. Errors: `NotFound`.
    pub async fn delete_inhibition(&self, tenant: &str, id: &str) -> Result<()> {
        self.forget_sources(tenant, id).await?;
        self.write_one(
            sqlx::query("DELETE FROM inhibition_rules WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id),
            "inhibition rule",
            id,
        )
        .await
    }

    /// One rule, by id or name. Errors: `NotFound`.
    pub async fn get_inhibition(&self, tenant: &str, id: &str) -> Result<Inhibition> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM inhibition_rules WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("inhibition rule", id))
    }

    /// The tenant's rules, by name.
    pub async fn list_inhibitions(&self, tenant: &str) -> Result<Vec<Inhibition>> {
        all(self.reader(), tenant).await
    }
}

/// The tenant's rules by name, on any executor.
async fn all<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
) -> Result<Vec<Inhibition>> {
    let rows = sqlx::query(dynsql!(
        "SELECT {COLS} FROM inhibition_rules WHERE tenant_id = $1 ORDER BY name"
    ))
    .bind(tenant)
    .fetch_all(ex)
    .await?;
    rows.iter().map(row).collect()
}

/// Compiled rules by their matchers' text, as for silences.
static COMPILED: crate::Compiled<coc_domain::inhibition::CompiledSides> = crate::Compiled::new();

/// The tenant's rules, compiled (in name order), on any executor.
pub(crate) async fn rules<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
) -> Result<InhibitionSet> {
    let all = all(ex, tenant).await?;
    Ok(InhibitionSet::new_with(
        all.iter().map(|i| (i.id.as_str(), &i.rule)),
        |_, r| {
            COMPILED.get(format!("{:?}{:?}", r.source, r.target), || {
                coc_domain::inhibition::compile_sides(r)
            })
        },
    ))
}

/// Records the arriving alarms that are inhibiting sources: `(rule id,
/// equal key, alarm id)` rows (kept once; whether the source still
/// fires is read from its alarm when a target looks it up).
pub(crate) async fn record_sources(
    tx: &mut sqlx::Transaction<'static, Any>,
    tenant: &str,
    rows: &[(String, String, String)],
) -> Result<()> {
    for chunk in rows.chunks(200) {
        let marks: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let mut q = sqlx::query(dynsql!(
            "INSERT INTO inhibition_sources (tenant_id, rule_id, equal_key, alarm_id) VALUES {} \
             ON CONFLICT DO NOTHING",
            marks.join(", ")
        ))
        .bind(tenant);
        for (rule, key, alarm) in chunk {
            q = q
                .bind(rule.as_str())
                .bind(key.as_str())
                .bind(alarm.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Whether a firing alarm other than `fingerprint` was recorded as a
/// source of `rule` with `key` (one indexed lookup).
pub(crate) async fn source_firing(
    tx: &mut sqlx::Transaction<'static, Any>,
    tenant: &str,
    rule: &str,
    key: &str,
    fingerprint: &str,
) -> Result<bool> {
    let hit = sqlx::query(
        "SELECT 1 FROM inhibition_sources s JOIN alarms a \
         ON a.id = s.alarm_id \
         WHERE s.tenant_id = $1 AND s.rule_id = $2 AND s.equal_key = $3 \
         AND a.fingerprint <> $4 AND a.status = $5 LIMIT 1",
    )
    .bind(tenant)
    .bind(rule)
    .bind(key)
    .bind(fingerprint)
    .bind(AlarmStatus::Alarm.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(hit.is_some())
}
