//! Agent upgrade (R3): agent builds (binaries uploaded under a version
//! label, kept in pieces of [`coc_proto::UPGRADE_CHUNK_BYTES`]), the
//! pieces an upgrading agent fetches, and starting an upgrade — a job
//! ticket of the common job [`coc_domain::agent_upgrade::JOB_NAME`]. What
//! a valid build and request are is [`coc_domain::agent_upgrade`]'s.

use std::collections::BTreeMap;

use base64::Engine as _;
use coc_domain::agent_upgrade::{
    self as up, MAX_BUILDS, MAX_NOTE_CHARS, UpgradeSpec, validate_build, validate_version,
};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::jobticket::JobTicketDetail;
use crate::{Result, Store, StoreError};

/// Size of the stored pieces of a build, bytes.
pub const CHUNK_BYTES: usize = coc_domain::agent_upgrade::CHUNK_BYTES as usize;

/// An agent build (its bytes are fetched piece by piece by the agents
/// that upgrade to it, never answered whole).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AgentBuild {
    /// Build id.
    pub id: String,
    /// Version label, unique in the tenant.
    pub version: String,
    /// SHA-256 of the binary, 64 hex characters: what hosts report as
    /// `agent_sha256` once they run it.
    pub sha256: String,
    /// Size, bytes.
    pub size_bytes: i64,
    /// What it is (≤ 500 characters).
    pub note: String,
    /// Who uploaded it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_at: i64,
    /// Hosts whose agent runs it now.
    pub hosts: i64,
}

/// What an upgrade run was sent with (kept in the run's `detail`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct UpgradeDetail {
    /// Build id.
    pub build: String,
    /// Seconds the new build has to connect.
    pub rollback_after_s: u32,
}

const COLS: &str = "id, version, sha256, size_bytes, note, created_by, created_at, \
    (SELECT COUNT(*) FROM hosts h WHERE h.tenant_id = agent_builds.tenant_id \
     AND h.agent_sha256 = agent_builds.sha256) AS hosts";

fn row(r: &AnyRow) -> Result<AgentBuild> {
    Ok(AgentBuild {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        sha256: r.try_get("sha256")?,
        size_bytes: r.try_get("size_bytes")?,
        note: r.try_get("note")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        hosts: r.try_get("hosts")?,
    })
}

/// The build `build` (id or version) of `tenant`, if any.
pub(crate) async fn build_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    build: &str,
) -> Result<Option<AgentBuild>> {
    let r = sqlx::query(dynsql!(
        "SELECT {COLS} FROM agent_builds WHERE tenant_id = $1 AND (id = $2 OR version = $2) \
         ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1"
    ))
    .bind(tenant)
    .bind(build)
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(row).transpose()
}

impl Store {
    /// Stores an agent build: `bytes` under `version`, with `note`.
    ///
    /// Errors: `Domain(Validation)` (version, note, size, not an
    /// executable; see [`validate_build`]), `Conflict` when the version
    /// exists or the tenant has [`MAX_BUILDS`] builds.
    pub async fn add_agent_build(
        &self,
        tenant: &str,
        version: &str,
        note: &str,
        bytes: &[u8],
        actor: &str,
    ) -> Result<AgentBuild> {
        let version = version.trim();
        validate_version(version)?;
        let note = note.trim();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(coc_domain::error::invalid(format!(
                "the note is longer than {MAX_NOTE_CHARS} characters"
            ))
            .into());
        }
        validate_build(bytes)?;
        let sha256 = hex::encode(sha2::Sha256::digest(bytes));
        let id = crate::new_id();
        let now = self.now();
        let mut tx = self.begin().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agent_builds WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?;
        if n as usize >= MAX_BUILDS {
            return Err(StoreError::Conflict(format!(
                "a tenant keeps at most {MAX_BUILDS} agent builds: delete an old one first"
            )));
        }
        sqlx::query(
            "INSERT INTO agent_builds (id, tenant_id, version, sha256, size_bytes, note, created_by, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(version)
        .bind(&sha256)
        .bind(bytes.len() as i64)
        .bind(note)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if crate::is_unique_violation(&e) {
                StoreError::Conflict(format!("an agent build '{version}' already exists"))
            } else {
                e.into()
            }
        })?;
        for (seq, piece) in bytes.chunks(CHUNK_BYTES).enumerate() {
            sqlx::query("INSERT INTO agent_build_chunks (build_id, seq, data) VALUES ($1,$2,$3)")
                .bind(&id)
                .bind(seq as i64)
                .bind(base64::engine::general_purpose::STANDARD.encode(piece))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.agent_build(tenant, &id).await
    }

    /// The tenant's agent builds, newest first.
    ///
    /// Errors: a store error.
    pub async fn list_agent_builds(&self, tenant: &str) -> Result<Vec<AgentBuild>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM agent_builds WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// One agent build, by id or version. Errors: `NotFound`.
    pub async fn agent_build(&self, tenant: &str, build: &str) -> Result<AgentBuild> {
        let mut c = self.reader().acquire().await?;
        build_in(&mut c, tenant, build.trim())
            .await?
            .ok_or_else(|| StoreError::not_found("agent build", build))
    }

    /// Deletes an agent build (by id or version); an upgrade still
    /// fetching it fails. Errors: `NotFound`.
    pub async fn delete_agent_build(&self, tenant: &str, build: &str) -> Result<()> {
        let b = self.agent_build(tenant, build).await?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM agent_build_chunks WHERE build_id = $1")
            .bind(&b.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM agent_builds WHERE id = $1 AND tenant_id = $2")
            .bind(&b.id)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The piece at byte `offset` of the build that upgrade run `run_id`
    /// of host `host_id` installs, base64: `Err(why)` when the run is not
    /// an executing upgrade of that host, the build is gone, or `offset`
    /// is not a piece's start.
    ///
    /// Errors (outer): a store error.
    pub async fn agent_upgrade_chunk(
        &self,
        run_id: &str,
        host_id: &str,
        offset: u64,
    ) -> Result<std::result::Result<String, String>> {
        let detail: Option<Option<String>> = sqlx::query_scalar(dynsql!(
            "SELECT detail FROM job_runs WHERE id = $1 AND host_id = $2 AND kind = 'upgrade' \
             AND status = {}",
            crate::sql_lit(coc_domain::jobticket::RunStatus::Executing.as_str())
        ))
        .bind(run_id)
        .bind(host_id)
        .fetch_optional(self.reader())
        .await?;
        let Some(d) = detail
            .flatten()
            .and_then(|d| serde_json::from_str::<UpgradeDetail>(&d).ok())
        else {
            return Ok(Err(format!("no upgrade {run_id} is running for this host")));
        };
        if !offset.is_multiple_of(CHUNK_BYTES as u64) {
            return Ok(Err(format!(
                "offset {offset} is not a multiple of {CHUNK_BYTES}"
            )));
        }
        let data: Option<String> = sqlx::query_scalar(
            "SELECT data FROM agent_build_chunks WHERE build_id = $1 AND seq = $2",
        )
        .bind(&d.build)
        .bind((offset / CHUNK_BYTES as u64) as i64)
        .fetch_optional(self.reader())
        .await?;
        Ok(data.ok_or_else(|| {
            format!("the build has no piece at offset {offset} (deleted, or past its end)")
        }))
    }

    /// Starts an upgrade: a ticket of the common job
    /// [`up::JOB_NAME`] on the request's hosts, in its batches and under
    /// its suspension threshold; `actor` is who asked.
    ///
    /// Errors: `Domain(Validation)` (see [`UpgradeSpec::normalized`]);
    /// `NotFound` for the build or a host.
    pub async fn start_agent_upgrade(
        &self,
        tenant: &str,
        spec: &UpgradeSpec,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        let spec = spec.normalized()?;
        let build = self.agent_build(tenant, &spec.build).await?;
        let hosts = self
            .distinct_refs(&spec.hosts, |h| self.host_ref(tenant, h))
            .await?;
        let run = crate::jobticket::CommonRun {
            job: up::JOB_NAME,
            description: format!("upgrade the agent to build {}", build.version),
            hosts,
            params: BTreeMap::from([
                (up::BUILD_PARAM.to_string(), build.id.clone()),
                (
                    up::ROLLBACK_PARAM.to_string(),
                    spec.rollback_after_s
                        .unwrap_or(up::DEFAULT_ROLLBACK_AFTER_S)
                        .to_string(),
                ),
            ]),
            batch_size: spec.batch_size,
            success_rate_threshold: spec.success_rate_threshold,
        };
        self.start_common_job(tenant, run, actor).await
    }
}
