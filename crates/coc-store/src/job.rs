//! Jobs (X3, ref. 5.2.2–5.2.3, 5.2.5): create (from scratch or a
//! template), modify (a new version), clone, delete, tag, review; every
//! version is kept; common jobs ship read-only.

use coc_domain::job::{JobSpec, validate_tags};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::script::Review;
use crate::{Result, Store, StoreError};

/// A stored job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Job {
    /// Record id.
    pub id: String,
    /// The job document.
    #[serde(flatten)]
    pub spec: JobSpec,
    /// Version number, 1 at creation, +1 per modification.
    pub version: i64,
    /// Creator (`system` for common jobs).
    pub created_by: String,
    /// Who made the current version.
    pub modified_by: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Review of the current version; only `not_required` and `approved`
    /// versions run.
    pub review: Review,
    /// A common job shipped with COC: read-only.
    pub system: bool,
}

/// One stored version of a job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct JobVersion {
    /// Version number.
    pub version: i64,
    /// What it was.
    pub spec: JobSpec,
    /// Who made it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

const COLS: &str = "id, name, spec, version, created_by, modified_by, created_at, updated_at, \
    review_status, reviewed_by, reviewed_at, review_comment, system";

pub(crate) fn unreadable(what: &str) -> impl Fn(serde_json::Error) -> StoreError + '_ {
    move |e| StoreError::Conflict(format!("stored {what} is unreadable: {e}"))
}

fn row(r: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: r.try_get("id")?,
        spec: serde_json::from_str(&r.try_get::<String, _>("spec")?).map_err(unreadable("job"))?,
        version: r.try_get("version")?,
        created_by: r.try_get("created_by")?,
        modified_by: r.try_get("modified_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        review: Review {
            status: r.try_get("review_status")?,
            reviewed_by: r.try_get("reviewed_by")?,
            reviewed_at: r.try_get("reviewed_at")?,
            comment: r.try_get("review_comment")?,
        },
        system: r.try_get::<i64, _>("system")? != 0,
    })
}

impl Job {
    /// Errors with [`coc_domain::DomainError::InvalidTransition`] unless the
    /// current version may run (review not required, or approved).
    pub fn ensure_runnable(&self) -> Result<()> {
        crate::script::ensure_reviewed("job", &self.spec.name, self.version, &self.review)
    }
}

fn refuse_system(j: &Job, verb: &str) -> Result<()> {
    if j.system {
        return Err(StoreError::Conflict(format!(
            "'{}' is a common job shipped with COC and cannot be {verb}; clone it into a custom job",
            j.spec.name
        )));
    }
    Ok(())
}

fn review_status(spec: &JobSpec) -> &'static str {
    if spec.review_required() {
        "pending"
    } else {
        "not_required"
    }
}

impl Store {
    /// Checks that every script a job names exists in the tenant.
    async fn check_job_scripts(&self, tenant: &str, spec: &JobSpec) -> Result<()> {
        for s in spec.scripts() {
            self.get_script(tenant, s).await.map_err(|e| match e {
                StoreError::NotFound { .. } => coc_domain::error::invalid(format!(
                    "the job runs script '{s}', which does not exist"
                ))
                .into(),
                other => other,
            })?;
        }
        Ok(())
    }

    /// Creates a job at version 1; a job that needs review starts
    /// `pending`. Errors: `Domain(Validation)` (including a script that
    /// does not exist), `Conflict` (name taken).
    pub async fn create_job(&self, tenant: &str, spec: &JobSpec, actor: &str) -> Result<Job> {
        spec.validate()?;
        self.check_job_scripts(tenant, spec).await?;
        self.insert_job(tenant, spec, actor, false).await
    }

    async fn insert_job(
        &self,
        tenant: &str,
        spec: &JobSpec,
        actor: &str,
        system: bool,
    ) -> Result<Job> {
        let id = crate::new_id();
        let now = self.now();
        let body = serde_json::to_string(spec).unwrap_or_default();
        let mut tx = self.begin().await?;
        sqlx::query(dynsql!(
            "INSERT INTO jobs ({COLS}, tenant_id) VALUES ($1,$2,$3,1,$4,NULL,$5,$5,$6,NULL,NULL,NULL,$7,$8)"
        ))
        .bind(&id)
        .bind(&spec.name)
        .bind(&body)
        .bind(actor)
        .bind(now)
        .bind(if system {
            "not_required"
        } else {
            review_status(spec)
        })
        .bind(i64::from(system))
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(|e| dup_name(e, &spec.name))?;
        record_version(&mut tx, tenant, &id, 1, &body, actor, now).await?;
        tx.commit().await?;
        self.get_job(tenant, &id).await
    }

    /// Modifies a job: a new version (kept), reviewed again if it needs
    /// review. Tickets keep the version they ran.
    ///
    /// Errors: `Domain(Validation)`, `Conflict` (name taken, a common job,
    /// a concurrent change), `NotFound`.
    pub async fn update_job(
        &self,
        tenant: &str,
        id: &str,
        spec: &JobSpec,
        actor: &str,
    ) -> Result<Job> {
        spec.validate()?;
        let cur = self.get_job(tenant, id).await?;
        refuse_system(&cur, "modified")?;
        self.check_job_scripts(tenant, spec).await?;
        let now = self.now();
        let body = serde_json::to_string(spec).unwrap_or_default();
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE jobs SET name=$1, spec=$2, version = version + 1, updated_at=$3, modified_by=$4, \
             review_status=$5, reviewed_by=NULL, reviewed_at=NULL, review_comment=NULL \
             WHERE tenant_id=$6 AND id=$7 AND version=$8",
        )
        .bind(&spec.name)
        .bind(&body)
        .bind(now)
        .bind(actor)
        .bind(review_status(spec))
        .bind(tenant)
        .bind(&cur.id)
        .bind(cur.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| dup_name(e, &spec.name))?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the job was changed meanwhile; reload and retry".into(),
            ));
        }
        record_version(&mut tx, tenant, &cur.id, cur.version + 1, &body, actor, now).await?;
        tx.commit().await?;
        self.get_job(tenant, &cur.id).await
    }

    /// Clones a job (custom or common) under a new name, at version 1.
    /// Errors: `NotFound`, `Domain(Validation)`, `Conflict` (name taken).
    pub async fn clone_job(&self, tenant: &str, id: &str, name: &str, actor: &str) -> Result<Job> {
        let cur = self.get_job(tenant, id).await?;
        let mut spec = cur.spec;
        spec.name = name.to_string();
        self.create_job(tenant, &spec, actor).await
    }

    /// Replaces a job's tags without making a new version (ref. 5.2.5).
    /// Errors: `Domain(Validation)` (more than 20), `NotFound`, `Conflict`
    /// for a common job.
    pub async fn tag_job(
        &self,
        tenant: &str,
        id: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Job> {
        validate_tags(tags)?;
        let cur = self.get_job(tenant, id).await?;
        refuse_system(&cur, "tagged")?;
        let mut spec = cur.spec;
        spec.tags = tags.clone();
        self.write_one(
            sqlx::query(
                "UPDATE jobs SET spec = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4 AND version = $5",
            )
            .bind(serde_json::to_string(&spec).unwrap_or_default())
            .bind(self.now())
            .bind(tenant)
            .bind(cur.id.clone())
            .bind(cur.version),
            "job",
            &cur.id,
        )
        .await?;
        self.get_job(tenant, &cur.id).await
    }

    /// Approves or rejects the current version of a job waiting for
    /// review; the rules of script review apply.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` (not waiting),
    /// `Domain(Validation)` (not a reviewer, the author, comment too long).
    pub async fn review_job(
        &self,
        tenant: &str,
        id: &str,
        reviewer: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<Job> {
        let cur = self.get_job(tenant, id).await?;
        self.decide_review(
            tenant,
            crate::script::Reviewable {
                table: "jobs",
                noun: "job",
                id: &cur.id,
                name: &cur.spec.name,
                version: cur.version,
                review: &cur.review,
                reviewers: &cur.spec.reviewers,
                author: cur.modified_by.as_deref().unwrap_or(&cur.created_by),
            },
            reviewer,
            approve,
            comment,
        )
        .await?;
        self.get_job(tenant, &cur.id).await
    }

    /// Every version of a job, newest first. Errors: `NotFound`.
    pub async fn job_versions(&self, tenant: &str, id: &str) -> Result<Vec<JobVersion>> {
        let cur = self.get_job(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT version, spec, created_by, created_at FROM job_versions \
             WHERE tenant_id = $1 AND job_id = $2 ORDER BY version DESC",
        )
        .bind(tenant)
        .bind(&cur.id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobVersion {
                    version: r.try_get("version")?,
                    spec: serde_json::from_str(&r.try_get::<String, _>("spec")?)
                        .map_err(unreadable("job version"))?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// One job by id or name. Errors: `NotFound`.
    pub async fn get_job(&self, tenant: &str, id: &str) -> Result<Job> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM jobs WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("job", id))
    }

    /// Jobs by name, custom first then common; `name` filters by a
    /// case-insensitive substring, `tag` (`key` or `key=value`) by tag.
    pub async fn list_jobs(
        &self,
        tenant: &str,
        name: Option<&str>,
        tag: Option<&str>,
    ) -> Result<Vec<Job>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM jobs WHERE tenant_id = $1 ORDER BY system, name"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let name = name.map(str::to_lowercase);
        let mut out = Vec::new();
        for r in &rows {
            let j = row(r)?;
            if name
                .as_ref()
                .is_some_and(|n| !j.spec.name.to_lowercase().contains(n))
            {
                continue;
            }
            if let Some(t) = tag {
                let (k, v) = t.split_once('=').map_or((t, None), |(k, v)| (k, Some(v)));
                if j.spec
                    .tags
                    .get(k)
                    .is_none_or(|have| v.is_some_and(|v| v != have))
                {
                    continue;
                }
            }
            out.push(j);
        }
        Ok(out)
    }

    /// Deletes a job; its tickets keep their copy. Errors: `NotFound`,
    /// `Conflict` for a common job.
    pub async fn delete_job(&self, tenant: &str, id: &str) -> Result<()> {
        let cur = self.get_job(tenant, id).await?;
        refuse_system(&cur, "deleted")?;
        self.write_one(
            sqlx::query("DELETE FROM jobs WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(cur.id.clone()),
            "job",
            &cur.id,
        )
        .await
    }

    /// Adds the common jobs shipped with COC to a tenant that lacks them
    /// (idempotent, read-only; ref. 5.2.1). Needs the common scripts.
    pub async fn ensure_system_jobs(&self, tenant: &str) -> Result<()> {
        for spec in coc_domain::job::system_jobs() {
            if self.get_job(tenant, &spec.name).await.is_err() {
                match self.insert_job(tenant, &spec, "system", true).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

fn dup_name(e: sqlx::Error, name: &str) -> StoreError {
    if crate::is_unique_violation(&e) {
        StoreError::Conflict(format!("a job named '{name}' already exists"))
    } else {
        e.into()
    }
}

async fn record_version(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
    id: &str,
    version: i64,
    body: &str,
    actor: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO job_versions (job_id, version, tenant_id, spec, created_by, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(id)
    .bind(version)
    .bind(tenant)
    .bind(body)
    .bind(actor)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
