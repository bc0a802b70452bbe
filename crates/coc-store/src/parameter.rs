//! Parameter center (X6, ref. 6): parameters per region with versions,
//! encrypted values, deletion on expiry and notifications.
//!
//! Encrypted values are stored encrypted (every version) and shown as
//! `******`; [`Store::decrypt_parameter`] is the only way to read them and
//! its route needs `coc:parameter:decrypt`. Name, region, enterprise
//! project and type are fixed after creation. [`Store::run_parameters`]
//! (clock as an argument) deletes expired parameters and sends the
//! pre-deletion and "unmodified for too long" notifications, each once per
//! version.

use chrono::{DateTime, Utc};
use coc_domain::error::invalid;
use coc_domain::notify::{IncidentFacts, Message, dedup};
use coc_domain::parameter::{ParamKind, ParamRef, ParameterSpec};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, is_unique_violation};

/// What encrypted values look like in responses.
pub const MASK: &str = "******";

/// A stored parameter (encrypted values masked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Parameter {
    /// Id.
    pub id: String,
    /// The parameter (value masked when encrypted).
    #[serde(flatten)]
    pub spec: ParameterSpec,
    /// Version, 1 at creation, +1 per modification.
    pub version: i64,
    /// Creator.
    pub created_by: String,
    /// Last modifier.
    pub modified_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last modification, Unix ms.
    pub updated_at: i64,
}

/// One version's value (from [`Store::decrypt_parameter`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ParameterValue {
    /// Version.
    pub version: i64,
    /// The value, decrypted.
    pub value: String,
    /// Who set it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

const COLS: &str =
    "id, kind, value, version, spec, created_by, modified_by, created_at, updated_at";

fn has_notices(s: &ParameterSpec) -> i64 {
    i64::from(!s.pre_deletion_minutes.is_empty() || !s.unmodified_minutes.is_empty())
}

fn kind_str(k: ParamKind) -> &'static str {
    match k {
        ParamKind::Text => "text",
        ParamKind::Encrypted => "encrypted",
    }
}

impl Store {
    fn param_row(&self, r: &AnyRow, reveal: bool) -> Result<Parameter> {
        let mut spec: ParameterSpec = serde_json::from_str(&r.try_get::<String, _>("spec")?)
            .map_err(|e| StoreError::Conflict(format!("stored parameter is unreadable: {e}")))?;
        let stored: String = r.try_get("value")?;
        spec.value = match (spec.kind, reveal) {
            (ParamKind::Text, _) => stored,
            (ParamKind::Encrypted, true) => self.keyring().decrypt(&stored)?,
            (ParamKind::Encrypted, false) => MASK.into(),
        };
        Ok(Parameter {
            id: r.try_get("id")?,
            spec,
            version: r.try_get("version")?,
            created_by: r.try_get("created_by")?,
            modified_by: r.try_get("modified_by")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    fn stored_value(&self, spec: &ParameterSpec) -> String {
        match spec.kind {
            ParamKind::Text => spec.value.clone(),
            ParamKind::Encrypted => self.keyring().encrypt(&spec.value),
        }
    }

    /// Creates a parameter at version 1.
    ///
    /// Errors: `Domain(Validation)`, `Conflict` (the name exists in the
    /// region), `NotFound` (enterprise project).
    pub async fn create_parameter(
        &self,
        tenant: &str,
        spec: &ParameterSpec,
        actor: &str,
    ) -> Result<Parameter> {
        let now = self.now();
        spec.validate(now)?;
        if spec.value == MASK {
            return Err(invalid("give the value").into());
        }
        if let Some(ep) = &spec.enterprise_project {
            self.require_enterprise_project(tenant, ep).await?;
        }
        let id = crate::new_id();
        let stored = self.stored_value(spec);
        let mut doc = spec.clone();
        doc.value = String::new();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO parameters (id, tenant_id, region, name, kind, enterprise_project, value, version, spec, \
             expires_at, created_by, modified_by, created_at, updated_at, notices) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,1,$8,$9,$10,$10,$11,$11,$12)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&spec.region)
        .bind(&spec.name)
        .bind(kind_str(spec.kind))
        .bind(spec.enterprise_project.as_deref())
        .bind(&stored)
        .bind(serde_json::to_string(&doc).unwrap_or_default())
        .bind(spec.expires_at)
        .bind(actor)
        .bind(now)
        .bind(has_notices(spec))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "region {} already has a parameter named '{}'",
                    spec.region, spec.name
                ))
            } else {
                e.into()
            }
        })?;
        version_row(&mut tx, tenant, &id, 1, &stored, actor, now).await?;
        tx.commit().await?;
        self.get_parameter(tenant, &id).await
    }

    /// Modifies a parameter: a new version. Name, region, enterprise
    /// project and type cannot change; `******` as the value keeps it.
    ///
    /// Errors: `NotFound`, `Domain(Validation)`, `Conflict` (changed
    /// meanwhile).
    pub async fn update_parameter(
        &self,
        tenant: &str,
        id: &str,
        spec: &ParameterSpec,
        actor: &str,
    ) -> Result<Parameter> {
        let cur = self.get_parameter_full(tenant, id, true).await?;
        let fixed = &cur.spec;
        if spec.name != fixed.name
            || spec.region != fixed.region
            || spec.kind != fixed.kind
            || spec.enterprise_project != fixed.enterprise_project
        {
            return Err(invalid(
                "name, region, enterprise project and type are fixed after creation",
            )
            .into());
        }
        let mut spec = spec.clone();
        if spec.value == MASK {
            spec.value = fixed.value.clone();
        }
        let now = self.now();
        spec.validate(now)?;
        let stored = self.stored_value(&spec);
        let mut doc = spec.clone();
        doc.value = String::new();
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE parameters SET value = $1, version = version + 1, spec = $2, expires_at = $3, modified_by = $4, \
             updated_at = $5, notices = $9 WHERE tenant_id = $6 AND id = $7 AND version = $8",
        )
        .bind(&stored)
        .bind(serde_json::to_string(&doc).unwrap_or_default())
        .bind(spec.expires_at)
        .bind(actor)
        .bind(now.max(cur.updated_at + 1))
        .bind(tenant)
        .bind(&cur.id)
        .bind(cur.version)
        .bind(has_notices(&spec))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the parameter was changed meanwhile; reload and retry".into(),
            ));
        }
        version_row(
            &mut tx,
            tenant,
            &cur.id,
            cur.version + 1,
            &stored,
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
        self.get_parameter(tenant, &cur.id).await
    }

    async fn get_parameter_full(&self, tenant: &str, id: &str, reveal: bool) -> Result<Parameter> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM parameters WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(|r| self.param_row(r, reveal))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("parameter", id))
    }

    /// One parameter (encrypted value masked). Errors: `NotFound`.
    pub async fn get_parameter(&self, tenant: &str, id: &str) -> Result<Parameter> {
        self.get_parameter_full(tenant, id, false).await
    }

    /// Parameters by region and name; filters: region, a name substring,
    /// a tag `key` or `key=value`.
    pub async fn list_parameters(
        &self,
        tenant: &str,
        region: Option<&str>,
        name: Option<&str>,
        tag: Option<&str>,
    ) -> Result<Vec<Parameter>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM parameters WHERE tenant_id = $1 AND ($2 = '' OR region = $2) ORDER BY region, name"
        ))
        .bind(tenant)
        .bind(region.unwrap_or(""))
        .fetch_all(self.reader())
        .await?;
        let (tk, tv) = match tag.map(|t| t.split_once('=').unwrap_or((t, ""))) {
            Some((k, v)) => (Some(k), (!v.is_empty()).then_some(v)),
            None => (None, None),
        };
        let name = name.map(str::to_lowercase);
        let mut out = vec![];
        for r in &rows {
            let p = self.param_row(r, false)?;
            let keep = name
                .as_ref()
                .is_none_or(|n| p.spec.name.to_lowercase().contains(n))
                && tk.is_none_or(|k| {
                    p.spec
                        .tags
                        .get(k)
                        .is_some_and(|v| tv.is_none_or(|want| v == want))
                });
            if keep {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The value of every version, decrypted, newest first (the caller
    /// holds `coc:parameter:decrypt`). Errors: `NotFound`.
    pub async fn decrypt_parameter(&self, tenant: &str, id: &str) -> Result<Vec<ParameterValue>> {
        let p = self.get_parameter(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT version, value, created_by, created_at FROM parameter_versions \
             WHERE tenant_id = $1 AND parameter_id = $2 ORDER BY version DESC",
        )
        .bind(tenant)
        .bind(&p.id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let v: String = r.try_get("value")?;
                Ok(ParameterValue {
                    version: r.try_get("version")?,
                    value: match p.spec.kind {
                        ParamKind::Text => v,
                        ParamKind::Encrypted => self.keyring().decrypt(&v)?,
                    },
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The version history without values (who and when).
    pub async fn parameter_history(&self, tenant: &str, id: &str) -> Result<Vec<ParameterValue>> {
        let p = self.get_parameter(tenant, id).await?;
        Ok(self
            .decrypt_parameter(tenant, &p.id)
            .await?
            .into_iter()
            .map(|mut v| {
                if p.spec.kind == ParamKind::Encrypted {
                    v.value = MASK.into();
                }
                v
            })
            .collect())
    }

    /// Deletes a parameter and its history. Errors: `NotFound`.
    pub async fn delete_parameter(&self, tenant: &str, id: &str) -> Result<()> {
        let p = self.get_parameter(tenant, id).await?;
        let mut tx = self.begin().await?;
        for q in [
            "DELETE FROM parameter_versions WHERE parameter_id = $1",
            "DELETE FROM parameter_notices WHERE parameter_id = $1",
            "DELETE FROM parameters WHERE id = $1",
        ] {
            sqlx::query(q).bind(&p.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The current value of a referenced parameter, decrypted.
    ///
    /// Errors: `NotFound` naming the region and parameter.
    pub async fn resolve_param_ref(&self, tenant: &str, r: &ParamRef) -> Result<String> {
        Ok(self.resolve_param_ref_secret(tenant, r).await?.0)
    }

    /// Like [`Store::resolve_param_ref`], with whether the parameter is
    /// encrypted (its value must never be shown).
    pub async fn resolve_param_ref_secret(
        &self,
        tenant: &str,
        r: &ParamRef,
    ) -> Result<(String, bool)> {
        let row = sqlx::query(dynsql!(
            "SELECT {COLS} FROM parameters WHERE tenant_id = $1 AND region = $2 AND name = $3"
        ))
        .bind(tenant)
        .bind(&r.region)
        .bind(&r.name)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("parameter", &format!("{}/{}", r.region, r.name)))?;
        let spec = self.param_row(&row, true)?.spec;
        let secret = spec.kind == coc_domain::parameter::ParamKind::Encrypted;
        Ok((spec.value, secret))
    }

    /// Deletes parameters expired at `now` and sends the due pre-deletion
    /// and unmodified notifications (each once per version). Returns the
    /// number of deletions and notices.
    ///
    /// Errors: a store error; the rest is retried next time.
    pub async fn run_parameters(&self, now: DateTime<Utc>) -> Result<usize> {
        let now_ms = now.timestamp_millis();
        let mut done = 0;
        let expired = sqlx::query(
            "SELECT id, tenant_id FROM parameters WHERE expires_at IS NOT NULL AND expires_at <= $1",
        )
        .bind(now_ms)
        .fetch_all(self.reader())
        .await?;
        for r in &expired {
            let (id, tenant): (String, String) = (r.try_get("id")?, r.try_get("tenant_id")?);
            self.delete_parameter(&tenant, &id).await?;
            tracing::info!(parameter = %id, "parameter deleted on expiry");
            done += 1;
        }
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS}, tenant_id FROM parameters WHERE notices = 1"
        ))
        .fetch_all(self.reader())
        .await?;
        for r in &rows {
            let tenant: String = r.try_get("tenant_id")?;
            let p = self.param_row(r, false)?;
            let mut due: Vec<(String, String)> = vec![];
            if let Some(e) = p.spec.expires_at {
                for m in &p.spec.pre_deletion_minutes {
                    if e - i64::from(*m) * 60_000 <= now_ms {
                        due.push((format!("pre:{m}"), format!("will be deleted in {m} min")));
                    }
                }
            }
            for m in &p.spec.unmodified_minutes {
                if p.updated_at + i64::from(*m) * 60_000 <= now_ms {
                    due.push((
                        format!("unmodified:{m}"),
                        format!("has not been modified for {m} min"),
                    ));
                }
            }
            for (notice, what) in due {
                if self.notice_once(&tenant, &p, &notice, &what, now).await? {
                    done += 1;
                }
            }
        }
        Ok(done)
    }

    /// Sends one notice unless it was sent for this version; `true` when
    /// sent now.
    async fn notice_once(
        &self,
        tenant: &str,
        p: &Parameter,
        notice: &str,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let now_ms = now.timestamp_millis();
        let mut facts = IncidentFacts::not_an_incident(&p.modified_by);
        facts.number = format!("{}/{}", p.spec.region, p.spec.name);
        facts.region = Some(p.spec.region.clone());
        let people = self
            .resolve_people(tenant, &p.spec.recipients, &facts, now)
            .await?;
        let pairs = dedup(
            people
                .iter()
                .flat_map(|x| p.spec.channels.iter().map(move |c| (x.clone(), c.clone()))),
        );
        let m = Message {
            incident: None,
            event: "parameter_notice".into(),
            subject: format!("Parameter {}/{} {what}", p.spec.region, p.spec.name),
            body: format!(
                "Parameter {} in region {} (version {}, last modified by {}) {what}.",
                p.spec.name, p.spec.region, p.version, p.modified_by
            ),
            link: None,
            actions: vec![],
        };
        let mut tx = self.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO parameter_notices (parameter_id, notice, version, sent_at) VALUES ($1,$2,$3,$4) \
             ON CONFLICT (parameter_id, notice, version) DO NOTHING",
        )
        .bind(&p.id)
        .bind(notice)
        .bind(p.version)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if fresh == 0 {
            return Ok(false);
        }
        self.deliver_to_people(&mut tx, tenant, &pairs, &m, None, now_ms, false)
            .await?;
        tx.commit().await?;
        self.deliveries.notify_one();
        Ok(true)
    }
}

#[allow(clippy::too_many_arguments)]
async fn version_row(
    tx: &mut sqlx::AnyConnection,
    tenant: &str,
    id: &str,
    version: i64,
    stored: &str,
    actor: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO parameter_versions (parameter_id, version, tenant_id, value, created_by, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(id)
    .bind(version)
    .bind(tenant)
    .bind(stored)
    .bind(actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
