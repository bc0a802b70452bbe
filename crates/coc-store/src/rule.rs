//! Forwarding rules (I2, ref. 7.4.2): create, modify, copy, enable,
//! disable, delete. The spec is stored as JSON and validated by
//! [`RuleSpec::validate`] before every write.

use coc_domain::rule::RuleSpec;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::application::AppIndex;
use crate::{Result, Store, StoreError, is_unique_violation};

/// A stored forwarding rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ForwardingRule {
    /// Record id.
    pub id: String,
    /// Name (unique per tenant).
    pub name: String,
    /// Disabled rules trigger nothing.
    pub enabled: bool,
    /// Conditions, level, assignee, contingency script.
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// A stored rule, its application named through `ix`.
fn row(r: &AnyRow, ix: &AppIndex) -> Result<ForwardingRule> {
    let spec: String = r.try_get("spec")?;
    let mut spec: RuleSpec = serde_json::from_str(&spec)
        .map_err(|e| StoreError::Conflict(format!("stored rule spec is unreadable: {e}")))?;
    ix.to_names(&mut spec);
    Ok(ForwardingRule {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        spec,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const COLS: &str = "id, name, enabled, spec, created_at, updated_at";

pub(crate) async fn enabled_rules(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
) -> Result<Vec<ForwardingRule>> {
    let rows = sqlx::query(dynsql!(
        "SELECT {COLS} FROM forwarding_rules WHERE tenant_id = $1 AND enabled = 1 ORDER BY id"
    ))
    .bind(tenant)
    .fetch_all(&mut **tx)
    .await?;
    let ix = AppIndex::load(tx, tenant).await?;
    rows.iter().map(|r| row(r, &ix)).collect()
}

fn dup(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a forwarding rule named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

/// Replaces encrypted contingency parameters with [`crate::secret::MASK`].
fn masked(mut r: ForwardingRule) -> ForwardingRule {
    if let Some(cs) = &mut r.spec.contingency_script {
        for v in cs.params.values_mut() {
            if crate::secret::is_encrypted(v) {
                *v = crate::secret::MASK.to_string();
            }
        }
    }
    r
}

impl Store {
    /// Encrypts the values of the contingency script's sensitive
    /// parameters; a value given as the mask keeps the stored one of rule
    /// `existing`. Also checks the assignee is a user, and resolves the
    /// data source and the script.
    async fn seal(
        &self,
        tenant: &str,
        spec: &RuleSpec,
        existing: Option<&str>,
    ) -> Result<RuleSpec> {
        let mut spec = spec.clone();
        {
            let mut conn = self.reader().acquire().await?;
            crate::access::require_users(&mut conn, tenant, &[spec.assignee.clone()]).await?;
            AppIndex::load(&mut conn, tenant).await?.to_ids(&mut spec)?;
        }
        // The data source is an integration of this tenant, by id or name;
        // it is kept by id.
        if let Some(ds) = spec.data_source.as_deref().map(str::trim) {
            let all = self.list_integrations(tenant).await?;
            let found = all
                .iter()
                .find(|i| i.id == ds)
                .or_else(|| all.iter().find(|i| i.name == ds))
                .cloned();
            match found {
                Some(i) => spec.data_source = Some(i.id),
                None => {
                    return Err(coc_domain::error::invalid(format!(
                        "data_source '{ds}' is not an integration of this tenant (coc integration list)"
                    ))
                    .into());
                }
            }
        }
        let Some(cs) = &mut spec.contingency_script else {
            return Ok(spec);
        };
        // Resolved once, here: the rule keeps the script's id, which is
        // what the repair looks up at incident time.
        let script = self.get_script(tenant, &cs.script_id).await?;
        cs.script_id = script.id.clone();
        let old: std::collections::BTreeMap<String, String> = match existing {
            Some(id) => {
                let r = sqlx::query_scalar::<_, String>(
                    "SELECT spec FROM forwarding_rules WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant)
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
                r.and_then(|s| serde_json::from_str::<RuleSpec>(&s).ok())
                    .and_then(|s| s.contingency_script)
                    .map(|c| c.params)
                    .unwrap_or_default()
            }
            None => Default::default(),
        };
        for p in script.spec.params.iter().filter(|p| p.sensitive) {
            if let Some(v) = cs.params.get_mut(&p.name) {
                *v = match old.get(&p.name) {
                    Some(prev) if v == crate::secret::MASK => prev.clone(),
                    _ => self.keyring.encrypt(v),
                };
            }
        }
        Ok(spec)
    }

    /// Creates an enabled rule. Errors: `Domain(Validation)`, `Conflict`
    /// (name taken), `NotFound` (contingency script unknown).
    pub async fn create_rule(&self, tenant: &str, spec: &RuleSpec) -> Result<ForwardingRule> {
        spec.validate()?;
        let spec = &self.seal(tenant, spec, None).await?;
        let id = crate::new_id();
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO forwarding_rules (id, tenant_id, name, enabled, spec, created_at, updated_at) \
             VALUES ($1,$2,$3,1,$4,$5,$5)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(spec.name.trim())
        .bind(serde_json::to_string(spec).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(dup(spec.name.trim()))?;
        tx.commit().await?;
        self.get_rule(tenant, &id).await
    }

    /// Replaces a rule's spec (its enabled state is kept).
    /// Errors: as [`Store::create_rule`], plus `NotFound`.
    pub async fn update_rule(
        &self,
        tenant: &str,
        id: &str,
        spec: &RuleSpec,
    ) -> Result<ForwardingRule> {
        spec.validate()?;
        // A rule of another tenant is not found before anything is checked.
        self.get_rule(tenant, id).await?;
        let spec = &self.seal(tenant, spec, Some(id)).await?;
        self.write_one(sqlx::query(
            "UPDATE forwarding_rules SET name = $1, spec = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
        )
        .bind(spec.name.trim())
        .bind(serde_json::to_string(spec).unwrap_or_default())
        .bind(self.now())
        .bind(tenant)
        .bind(id), "forwarding rule", id).await?;
        self.get_rule(tenant, id).await
    }

    /// Copies a rule under `new_name` (ref. 7.4.2 "Copy"); the copy starts
    /// disabled so it cannot double-trigger before it is edited.
    /// Errors: `NotFound`, `Conflict`, `Domain(Validation)`.
    pub async fn copy_rule(
        &self,
        tenant: &str,
        id: &str,
        new_name: &str,
    ) -> Result<ForwardingRule> {
        let mut spec = self.rule_as_stored(tenant, id).await?.spec;
        // Carry encrypted values over as they are (decrypted then re-sealed).
        if let Some(cs) = &mut spec.contingency_script {
            for v in cs.params.values_mut() {
                *v = self.keyring.decrypt(v)?;
            }
        }
        spec.name = new_name.to_string();
        let copy = self.create_rule(tenant, &spec).await?;
        self.set_rule_enabled(tenant, &copy.id, false).await
    }

    /// Enables or disables a rule. Errors: `NotFound`.
    pub async fn set_rule_enabled(
        &self,
        tenant: &str,
        id: &str,
        enabled: bool,
    ) -> Result<ForwardingRule> {
        self.write_one(sqlx::query("UPDATE forwarding_rules SET enabled = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
            .bind(i64::from(enabled))
            .bind(self.now())
            .bind(tenant)
            .bind(id), "forwarding rule", id).await?;
        self.get_rule(tenant, id).await
    }

    /// Deletes a rule; incidents it created stay. Errors: `NotFound`.
    pub async fn delete_rule(&self, tenant: &str, id: &str) -> Result<()> {
        self.write_one(
            sqlx::query("DELETE FROM forwarding_rules WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id),
            "forwarding rule",
            id,
        )
        .await?;
        Ok(())
    }

    /// One rule. Errors: `NotFound`.
    pub async fn get_rule(&self, tenant: &str, id: &str) -> Result<ForwardingRule> {
        self.rule_as_stored(tenant, id).await.map(masked)
    }

    /// A rule with its sealed (encrypted) values, for internal use.
    async fn rule_as_stored(&self, tenant: &str, id: &str) -> Result<ForwardingRule> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM forwarding_rules WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        let ix = self.app_index(tenant).await?;
        r.as_ref()
            .map(|r| row(r, &ix))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("forwarding rule", id))
    }

    /// All rules, oldest first (the order in which they are tried).
    pub async fn list_rules(&self, tenant: &str) -> Result<Vec<ForwardingRule>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM forwarding_rules WHERE tenant_id = $1 ORDER BY id"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let ix = self.app_index(tenant).await?;
        rows.iter().map(|r| row(r, &ix).map(masked)).collect()
    }
}
