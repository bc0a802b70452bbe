//! Scripts (X1, ref. 5.1.1–5.1.2): create, modify (a new version), list,
//! delete.

use coc_domain::script::{RiskLevel, ScriptParam, ScriptSpec, ScriptType};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError, is_unique_violation, now_ms};

/// A stored script.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Script {
    /// Record id.
    pub id: String,
    /// Name, type, content, risk level, parameters.
    #[serde(flatten)]
    pub spec: ScriptSpec,
    /// Version number, 1 at creation, +1 per modification.
    pub version: i64,
    /// Creator.
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

const COLS: &str = "id, name, description, type, content, risk_level, params, version, created_by, created_at, updated_at";

fn row(r: &AnyRow) -> Result<Script> {
    let params: String = r.try_get("params")?;
    let params: Vec<ScriptParam> = serde_json::from_str(&params).map_err(|e| {
        StoreError::Conflict(format!("stored script parameters are unreadable: {e}"))
    })?;
    Ok(Script {
        id: r.try_get("id")?,
        spec: ScriptSpec {
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            script_type: ScriptType::parse(&r.try_get::<String, _>("type")?)?,
            content: r.try_get("content")?,
            risk_level: RiskLevel::parse(&r.try_get::<String, _>("risk_level")?)?,
            params,
        },
        version: r.try_get("version")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(crate) async fn get_script_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    id: &str,
) -> Result<Script> {
    let r = sqlx::query(dynsql!(
        "SELECT {COLS} FROM scripts WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    r.as_ref()
        .map(row)
        .transpose()?
        .ok_or_else(|| StoreError::not_found("script", id))
}

fn dup(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a script named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

impl Store {
    /// Creates a script at version 1. Errors: `Domain(Validation)`, `Conflict`.
    pub async fn create_script(
        &self,
        tenant: &str,
        spec: &ScriptSpec,
        actor: &str,
    ) -> Result<Script> {
        spec.validate()?;
        let id = coc_domain::id::new_id();
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(dynsql!(
            "INSERT INTO scripts ({COLS}, tenant_id) VALUES ($1,$2,$3,$4,$5,$6,$7,1,$8,$9,$9,$10)"
        ))
        .bind(&id)
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(spec.script_type.as_str())
        .bind(&spec.content)
        .bind(spec.risk_level.as_str())
        .bind(serde_json::to_string(&spec.params).unwrap_or_else(|_| "[]".into()))
        .bind(actor)
        .bind(now)
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(dup(&spec.name))?;
        tx.commit().await?;
        self.get_script(tenant, &id).await
    }

    /// Modifies a script; its version goes up by one. Tickets keep the
    /// content and version they ran. Errors: `Domain(Validation)`,
    /// `Conflict`, `NotFound`.
    pub async fn update_script(&self, tenant: &str, id: &str, spec: &ScriptSpec) -> Result<Script> {
        spec.validate()?;
        self.write_one(sqlx::query(
            "UPDATE scripts SET name=$1, description=$2, type=$3, content=$4, risk_level=$5, params=$6, \
             version = version + 1, updated_at=$7 WHERE tenant_id=$8 AND id=$9",
        )
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(spec.script_type.as_str())
        .bind(&spec.content)
        .bind(spec.risk_level.as_str())
        .bind(serde_json::to_string(&spec.params).unwrap_or_else(|_| "[]".into()))
        .bind(now_ms())
        .bind(tenant)
        .bind(id), "script", id).await?;
        self.get_script(tenant, id).await
    }

    /// One script. Errors: `NotFound`.
    pub async fn get_script(&self, tenant: &str, id: &str) -> Result<Script> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM scripts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("script", id))
    }

    /// All scripts, by name.
    pub async fn list_scripts(&self, tenant: &str) -> Result<Vec<Script>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM scripts WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }

    /// Deletes a script. Tickets keep their copy. Errors: `NotFound`.
    pub async fn delete_script(&self, tenant: &str, id: &str) -> Result<()> {
        self.write_one(
            sqlx::query("DELETE FROM scripts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id),
            "script",
            id,
        )
        .await?;
        Ok(())
    }
}
