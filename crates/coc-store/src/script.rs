//! Scripts (X1, ref. 5.1.1–5.1.2): create, modify (a new version), list,
//! delete.

use coc_domain::risk::{Finding, verify};
use coc_domain::script::{RiskLevel, ScriptParam, ScriptSpec, ScriptType};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError, is_unique_violation};

/// Review state of a script version (ref. 5.1.1 step 7).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Review {
    /// `not_required`, `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// When, Unix ms.
    pub reviewed_at: Option<i64>,
    /// The reviewer's comment.
    pub comment: Option<String>,
}

/// A stored script.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Script {
    /// Record id.
    pub id: String,
    /// Name, type, content, risk level, parameters, review settings.
    #[serde(flatten)]
    pub spec: ScriptSpec,
    /// Version number, 1 at creation, +1 per modification.
    pub version: i64,
    /// Creator (`system` for common scripts).
    pub created_by: String,
    /// Who made the current version.
    pub modified_by: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Review of the current version; only `not_required` and `approved`
    /// scripts run.
    pub review: Review,
    /// A common script shipped with COC: read-only.
    pub system: bool,
    /// Lines that match high-risk command rules (advice, ref. 5.1.1).
    pub high_risk_findings: Vec<Finding>,
}

impl Script {
    /// Errors with [`coc_domain::DomainError::InvalidTransition`] unless the
    /// current version may run (review not required, or approved).
    pub fn ensure_runnable(&self) -> Result<()> {
        ensure_reviewed("script", &self.spec.name, self.version, &self.review)
    }
}

/// Errors with [`coc_domain::DomainError::InvalidTransition`] unless a
/// version whose review is `review` may run; `noun` (`script`, `job`) and
/// `name` word the message.
pub(crate) fn ensure_reviewed(noun: &str, name: &str, version: i64, review: &Review) -> Result<()> {
    match review.status.as_str() {
        "not_required" | "approved" => Ok(()),
        st => Err(coc_domain::DomainError::InvalidTransition(format!(
            "{noun} '{name}' version {version} is {} and cannot run until a reviewer approves it",
            if st == "pending" {
                "waiting for review"
            } else {
                "rejected"
            }
        ))
        .into()),
    }
}

/// A reviewed document's current version ([`Store::decide_review`]).
pub(crate) struct Reviewable<'a> {
    /// Its table (`scripts`, `jobs`).
    pub table: &'static str,
    /// Noun for messages.
    pub noun: &'static str,
    /// Record id.
    pub id: &'a str,
    /// Name.
    pub name: &'a str,
    /// Current version.
    pub version: i64,
    /// Its review state.
    pub review: &'a Review,
    /// Who may review.
    pub reviewers: &'a [coc_domain::notify::Recipient],
    /// Who made the version.
    pub author: &'a str,
}

/// One stored version of a script.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScriptVersion {
    /// Version number.
    pub version: i64,
    /// What it was.
    pub spec: ScriptSpec,
    /// Who made it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
}

const COLS: &str = "id, name, description, type, content, risk_level, params, version, created_by, created_at, \
    updated_at, manual_review, reviewers, review_status, reviewed_by, reviewed_at, review_comment, modified_by, system";

fn json<T: serde::de::DeserializeOwned>(r: &AnyRow, col: &str) -> Result<T> {
    serde_json::from_str(&r.try_get::<String, _>(col)?)
        .map_err(|e| StoreError::Conflict(format!("stored script {col} are unreadable: {e}")))
}

fn row(r: &AnyRow) -> Result<Script> {
    let spec = ScriptSpec {
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        script_type: ScriptType::parse(&r.try_get::<String, _>("type")?)?,
        content: r.try_get("content")?,
        risk_level: RiskLevel::parse(&r.try_get::<String, _>("risk_level")?)?,
        params: json::<Vec<ScriptParam>>(r, "params")?,
        manual_review: r.try_get::<i64, _>("manual_review")? != 0,
        reviewers: json(r, "reviewers")?,
    };
    Ok(Script {
        id: r.try_get("id")?,
        high_risk_findings: verify(spec.script_type, &spec.content),
        spec,
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

/// One script by id or name, read in `tx` (as [`Store::get_script`]).
///
/// Errors: `NotFound`.
pub(crate) async fn get_script_tx(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    id: &str,
) -> Result<Script> {
    let r = sqlx::query(dynsql!(
        "SELECT {COLS} FROM scripts WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
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

/// Writes version `version` of a script into the version history.
async fn record_version(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    id: &str,
    version: i64,
    spec: &ScriptSpec,
    actor: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO script_versions (script_id, version, tenant_id, spec, created_by, created_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(id)
    .bind(version)
    .bind(tenant)
    .bind(serde_json::to_string(spec).unwrap_or_default())
    .bind(actor)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn review_status(spec: &ScriptSpec) -> &'static str {
    if spec.review_required() {
        "pending"
    } else {
        "not_required"
    }
}

impl Store {
    /// Creates a script at version 1; a script that needs review starts
    /// `pending`. Errors: `Domain(Validation)`, `Conflict`.
    pub async fn create_script(
        &self,
        tenant: &str,
        spec: &ScriptSpec,
        actor: &str,
    ) -> Result<Script> {
        let spec = &spec.normalized();
        spec.validate()?;
        self.insert_script(tenant, spec, actor, false).await
    }

    async fn insert_script(
        &self,
        tenant: &str,
        spec: &ScriptSpec,
        actor: &str,
        system: bool,
    ) -> Result<Script> {
        let id = crate::new_id();
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(dynsql!(
            "INSERT INTO scripts ({COLS}, tenant_id) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,1,$8,$9,$9,$10,$11,$12,NULL,NULL,NULL,NULL,$13,$14)"
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
        .bind(i64::from(spec.manual_review))
        .bind(serde_json::to_string(&spec.reviewers).unwrap_or_else(|_| "[]".into()))
        .bind(if system {
            "not_required"
        } else {
            review_status(spec)
        })
        .bind(i64::from(system))
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(dup(&spec.name))?;
        record_version(&mut tx, tenant, &id, 1, spec, actor, now).await?;
        tx.commit().await?;
        self.get_script(tenant, &id).await
    }

    /// Modifies a script: a new version (kept in the history), reviewed
    /// again if it needs review. Tickets keep the content and version they
    /// ran. Errors: `Domain(Validation)`, `Conflict` (name taken, a
    /// read-only common script), `NotFound`.
    pub async fn update_script(
        &self,
        tenant: &str,
        id: &str,
        spec: &ScriptSpec,
        actor: &str,
    ) -> Result<Script> {
        let spec = &spec.normalized();
        spec.validate()?;
        let cur = self.get_script(tenant, id).await?;
        refuse_system(&cur, "modified")?;
        let now = self.now();
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE scripts SET name=$1, description=$2, type=$3, content=$4, risk_level=$5, params=$6, \
             version = version + 1, updated_at=$7, manual_review=$8, reviewers=$9, review_status=$10, \
             reviewed_by=NULL, reviewed_at=NULL, review_comment=NULL, modified_by=$11 \
             WHERE tenant_id=$12 AND id=$13 AND version=$14",
        )
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(spec.script_type.as_str())
        .bind(&spec.content)
        .bind(spec.risk_level.as_str())
        .bind(serde_json::to_string(&spec.params).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(i64::from(spec.manual_review))
        .bind(serde_json::to_string(&spec.reviewers).unwrap_or_else(|_| "[]".into()))
        .bind(review_status(spec))
        .bind(actor)
        .bind(tenant)
        .bind(&cur.id)
        .bind(cur.version)
        .execute(&mut *tx)
        .await
        .map_err(dup(&spec.name))?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the script was changed meanwhile; reload and retry".into(),
            ));
        }
        record_version(&mut tx, tenant, &cur.id, cur.version + 1, spec, actor, now).await?;
        tx.commit().await?;
        self.get_script(tenant, &cur.id).await
    }

    /// Approves or rejects the current version of a script waiting for
    /// review. The reviewer must be one of its reviewers (by name, or on
    /// call for a listed shift role now) and not its author.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` (not waiting for
    /// review), `Domain(Validation)` (not a reviewer, the author, comment
    /// too long).
    pub async fn review_script(
        &self,
        tenant: &str,
        id: &str,
        reviewer: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<Script> {
        let cur = self.get_script(tenant, id).await?;
        self.decide_review(
            tenant,
            Reviewable {
                table: "scripts",
                noun: "script",
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
        self.get_script(tenant, &cur.id).await
    }

    /// Records a review decision on the current version of `r` after
    /// [`Store::check_review`]'s checks.
    ///
    /// Errors: as `check_review`; `NotFound` when the version changed.
    pub(crate) async fn decide_review(
        &self,
        tenant: &str,
        r: Reviewable<'_>,
        reviewer: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<()> {
        self.check_review(
            tenant,
            (r.noun, r.name, r.version),
            r.review,
            r.reviewers,
            r.author,
            reviewer,
            comment,
        )
        .await?;
        // `table` is one of our constants, never input.
        let sql = format!(
            "UPDATE {} SET review_status = $1, reviewed_by = $2, reviewed_at = $3, review_comment = $4 \
             WHERE tenant_id = $5 AND id = $6 AND version = $7 AND review_status = {}",
            r.table,
            crate::sql_lit(coc_domain::script::ReviewStatus::Pending.as_str())
        );
        self.write_one(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(if approve { "approved" } else { "rejected" })
                .bind(reviewer.to_string())
                .bind(self.now())
                .bind(comment.map(str::to_string))
                .bind(tenant)
                .bind(r.id.to_string())
                .bind(r.version),
            r.noun,
            r.id,
        )
        .await
    }

    /// Checks a review decision: the version `what` = (noun, name, version)
    /// is waiting for review, the comment fits, and `reviewer` is one of
    /// `reviewers` now (by name or shift role) and not the `author`.
    ///
    /// Errors: `Domain(InvalidTransition)` (not waiting for review),
    /// `Domain(Validation)` (not a reviewer, the author, comment too long).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn check_review(
        &self,
        tenant: &str,
        what: (&str, &str, i64),
        review: &Review,
        reviewers: &[coc_domain::notify::Recipient],
        author: &str,
        reviewer: &str,
        comment: Option<&str>,
    ) -> Result<()> {
        let (noun, name, version) = what;
        if review.status != "pending" {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "{noun} '{name}' version {version} is not waiting for review ({})",
                review.status.replace('_', " ")
            ))
            .into());
        }
        if comment.is_some_and(|c| c.chars().count() > 1000) {
            return Err(
                coc_domain::error::invalid("the comment is longer than 1000 characters").into(),
            );
        }
        if author == reviewer {
            return Err(
                coc_domain::error::invalid("the author of a version cannot review it").into(),
            );
        }
        let facts = coc_domain::notify::IncidentFacts::not_an_incident("");
        let allowed = self
            .resolve_people(tenant, reviewers, &facts, self.now_utc())
            .await?;
        if !allowed.iter().any(|p| p == reviewer) {
            return Err(coc_domain::error::invalid(format!(
                "{reviewer} is not a reviewer of {noun} '{name}' (reviewers now: {})",
                if allowed.is_empty() {
                    "nobody".to_string()
                } else {
                    allowed.join(", ")
                }
            ))
            .into());
        }
        Ok(())
    }

    /// Every version of a script, newest first. Errors: `NotFound`.
    pub async fn script_versions(&self, tenant: &str, id: &str) -> Result<Vec<ScriptVersion>> {
        let cur = self.get_script(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT version, spec, created_by, created_at FROM script_versions \
             WHERE tenant_id = $1 AND script_id = $2 ORDER BY version DESC",
        )
        .bind(tenant)
        .bind(&cur.id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScriptVersion {
                    version: r.try_get("version")?,
                    spec: json(r, "spec")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// One script by id or name. Errors: `NotFound`.
    pub async fn get_script(&self, tenant: &str, id: &str) -> Result<Script> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM scripts WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("script", id))
    }

    /// All scripts, by name (custom and common).
    pub async fn list_scripts(&self, tenant: &str) -> Result<Vec<Script>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM scripts WHERE tenant_id = $1 ORDER BY system, name"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// Deletes a script. Tickets keep their copy. Errors: `NotFound`,
    /// `Conflict` for a common script.
    pub async fn delete_script(&self, tenant: &str, id: &str) -> Result<()> {
        let cur = self.get_script(tenant, id).await?;
        refuse_system(&cur, "deleted")?;
        self.write_one(
            sqlx::query("DELETE FROM scripts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(cur.id.clone()),
            "script",
            &cur.id,
        )
        .await?;
        Ok(())
    }

    /// Adds the common scripts shipped with COC to a tenant that lacks
    /// them (idempotent; read-only, ref. 5.1.4).
    pub async fn ensure_system_scripts(&self, tenant: &str) -> Result<()> {
        for spec in coc_domain::script::system_scripts() {
            match self.get_script(tenant, &spec.name).await {
                Err(_) => match self.insert_script(tenant, &spec, "system", true).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                },
                // A common script shipped with another release: the
                // shipped one becomes its next version (tickets keep what
                // they ran).
                Ok(cur) if cur.system && shipped_differs(&cur.spec, &spec) => {
                    self.renew_system_script(tenant, &cur, &spec).await?;
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// Replaces common script `cur` with the `shipped` one, as its next
    /// version (no review: COC ships it). A concurrent renewal wins; this
    /// one then changes nothing.
    async fn renew_system_script(
        &self,
        tenant: &str,
        cur: &Script,
        shipped: &ScriptSpec,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE scripts SET description=$1, type=$2, content=$3, risk_level=$4, params=$5, \
             version = version + 1, updated_at=$6, modified_by='system' \
             WHERE tenant_id=$7 AND id=$8 AND version=$9",
        )
        .bind(&shipped.description)
        .bind(shipped.script_type.as_str())
        .bind(&shipped.content)
        .bind(shipped.risk_level.as_str())
        .bind(serde_json::to_string(&shipped.params).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(tenant)
        .bind(&cur.id)
        .bind(cur.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            record_version(
                &mut tx,
                tenant,
                &cur.id,
                cur.version + 1,
                shipped,
                "system",
                now,
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Whether the stored common script differs from the one this release
/// ships (what it runs, its parameters, type, risk or description).
fn shipped_differs(stored: &ScriptSpec, shipped: &ScriptSpec) -> bool {
    stored.content != shipped.content
        || stored.params != shipped.params
        || stored.script_type != shipped.script_type
        || stored.risk_level != shipped.risk_level
        || stored.description != shipped.description
}

fn refuse_system(s: &Script, verb: &str) -> Result<()> {
    if s.system {
        return Err(StoreError::Conflict(format!(
            "'{}' is a common script shipped with COC and cannot be {verb}; copy it into a custom script",
            s.spec.name
        )));
    }
    Ok(())
}
