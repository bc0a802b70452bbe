//! Resources (R1): hosts registered by their agents, with facts and
//! heartbeats (agent status is derived from heartbeat age); the other
//! types in [`catalog`]; the list of all of them in [`list`].

pub mod catalog;
pub mod list;

use coc_domain::agent::IdentityState;
use coc_domain::resource::{AgentStatus, HostIdentity};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError};

/// Facts an agent reports about its host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct HostFacts {
    /// The agent's stable id (kept in its state directory).
    pub agent_id: String,
    /// Host name.
    pub hostname: String,
    /// IP addresses (v4 and v6, without loopback unless nothing else).
    pub ips: Vec<String>,
    /// OS name and version.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Logical CPUs.
    pub cpu_cores: i64,
    /// Total memory, bytes.
    pub memory_bytes: i64,
    /// Agent version.
    pub agent_version: String,
    /// Boot id of the host's kernel: a new one means the host rebooted.
    #[serde(default)]
    pub boot_id: String,
    /// The proxy agent (`host:port`) it reaches the server through (R3
    /// proxy access); `None`: directly.
    #[serde(default)]
    pub proxy: Option<String>,
    /// The address it relays other agents from (R3 proxy mode).
    #[serde(default)]
    pub proxy_listen: Option<String>,
    /// SHA-256 of its agent's executable: the build it runs (R3).
    #[serde(default)]
    pub agent_sha256: String,
}

/// A host in the resource list (`GET /api/v1/resources`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Host {
    /// Resource id.
    pub id: String,
    /// Always `host`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its name in the resource list: the host name.
    pub name: String,
    /// Reported facts.
    #[serde(flatten)]
    pub facts: HostFacts,
    /// Enterprise project (A4), if assigned.
    pub enterprise_project: Option<String>,
    /// The application it belongs to (R6), by name, if any.
    pub application: Option<String>,
    /// That application's id.
    pub application_id: Option<String>,
    /// Its module within the application, if given.
    pub module: Option<String>,
    /// Region, if set.
    pub region: Option<String>,
    /// Tags (≤ 20), the `coc:ResourceTag/<key>` ABAC attributes.
    pub tags: std::collections::BTreeMap<String, String>,
    /// running / abnormal / offline, from heartbeat age.
    pub agent_status: AgentStatus,
    /// The same as the resource list's status.
    pub status: coc_domain::resource::catalog::ResourceStatus,
    /// Last heartbeat, Unix ms.
    pub last_heartbeat: Option<i64>,
    /// First registration, Unix ms.
    pub created_at: i64,
    /// The agent's identity: `none` (registered before agent keys),
    /// `active`, `revoked` or `open` (for re-enrollment).
    pub agent_identity: IdentityState,
    /// Fingerprint of the agent's public key (16 hex), when one is bound.
    pub agent_key_fingerprint: Option<String>,
    /// End of the re-enrollment window, Unix ms, while `open`.
    pub agent_identity_until: Option<i64>,
}

pub(crate) const COLS: &str = "id, agent_id, hostname, ips, os, arch, cpu_cores, memory_bytes, agent_version, boot_id, proxy, proxy_listen, agent_sha256, \
    last_heartbeat, created_at, enterprise_project, tags, identity, agent_key, identity_until, \
    application_id, module, region, (SELECT a.name FROM applications a WHERE a.id = hosts.application_id) AS application, \
    CASE WHEN last_heartbeat IS NULL THEN (SELECT jh.status FROM job_hosts jh WHERE jh.host_id = hosts.id \
    AND jh.runs_on IS NOT NULL ORDER BY jh.id DESC LIMIT 1) END AS install_status, \
    CASE WHEN last_heartbeat IS NULL THEN (SELECT jh.finished_at FROM job_hosts jh WHERE jh.host_id = hosts.id \
    AND jh.runs_on IS NOT NULL ORDER BY jh.id DESC LIMIT 1) END AS install_done, \
    (SELECT COUNT(*) FROM job_runs jr WHERE jr.host_id = hosts.id AND jr.finished_at IS NULL \
    AND jr.kind = 'upgrade') AS upgrades";

pub(crate) fn row(r: &AnyRow, now: i64, interval_ms: i64) -> Result<Host> {
    let ips: String = r.try_get("ips")?;
    let last: Option<i64> = r.try_get("last_heartbeat")?;
    let install: Option<String> = r.try_get("install_status")?;
    let install_done: Option<i64> = r.try_get("install_done")?;
    let install = install
        .and_then(|s| coc_domain::ticket::TaskStatus::parse(&s).ok())
        .map(|s| (s, install_done));
    let upgrading = r.try_get::<i64, _>("upgrades")? > 0;
    let status = coc_domain::resource::host_status(last, install, upgrading, now, interval_ms);
    let hostname: String = r.try_get("hostname")?;
    Ok(Host {
        id: r.try_get("id")?,
        kind: "host".into(),
        name: hostname.clone(),
        facts: HostFacts {
            agent_id: r.try_get("agent_id")?,
            hostname,
            ips: serde_json::from_str(&ips).unwrap_or_default(),
            os: r.try_get("os")?,
            arch: r.try_get("arch")?,
            cpu_cores: r.try_get("cpu_cores")?,
            memory_bytes: r.try_get("memory_bytes")?,
            agent_version: r.try_get("agent_version")?,
            boot_id: r
                .try_get::<Option<String>, _>("boot_id")?
                .unwrap_or_default(),
            proxy: r.try_get("proxy")?,
            proxy_listen: r.try_get("proxy_listen")?,
            agent_sha256: r
                .try_get::<Option<String>, _>("agent_sha256")?
                .unwrap_or_default(),
        },
        enterprise_project: r.try_get("enterprise_project")?,
        application: r.try_get("application")?,
        application_id: r.try_get("application_id")?,
        module: r.try_get("module")?,
        region: r.try_get("region")?,
        tags: serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
        agent_status: status,
        status: coc_domain::resource::catalog::ResourceStatus::of_agent(status),
        last_heartbeat: last,
        created_at: r.try_get("created_at")?,
        agent_identity: IdentityState::parse(&r.try_get::<String, _>("identity")?),
        agent_key_fingerprint: r
            .try_get::<Option<String>, _>("agent_key")?
            .map(|k| coc_domain::agent::key_fingerprint(&k)),
        agent_identity_until: r.try_get("identity_until")?,
    })
}

/// Inserts a host with no facts yet, bound to `key` (identity `active`) or
/// to none (`none`); returns its id.
pub(crate) async fn insert_host(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    agent_id: &str,
    key: Option<&str>,
    now: i64,
) -> Result<String> {
    let id = crate::new_id();
    let state = if key.is_some() {
        IdentityState::Active
    } else {
        IdentityState::None
    };
    sqlx::query(
        "INSERT INTO hosts (id, tenant_id, agent_id, hostname, ips, os, arch, cpu_cores, memory_bytes, \
         agent_version, last_heartbeat, created_at, updated_at, boot_id, agent_key, identity, identity_changed_at) \
         VALUES ($1,$2,$3,'','[]','','',0,0,'',$4,$4,$4,'',$5,$6,$4)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(agent_id)
    .bind(now)
    .bind(key)
    .bind(state.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Stores what an agent reports about its host; counts as a heartbeat.
pub(crate) async fn write_facts(
    tx: &mut Transaction<'static, Any>,
    host_id: &str,
    f: &HostFacts,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE hosts SET hostname=$1, ips=$2, os=$3, arch=$4, cpu_cores=$5, memory_bytes=$6, \
         agent_version=$7, last_heartbeat=$8, updated_at=$8, boot_id=$9, proxy=$10, \
         proxy_listen=$11, agent_sha256=$12 WHERE id=$13",
    )
    .bind(&f.hostname)
    .bind(serde_json::to_string(&f.ips).unwrap_or_else(|_| "[]".into()))
    .bind(&f.os)
    .bind(&f.arch)
    .bind(f.cpu_cores)
    .bind(f.memory_bytes)
    .bind(&f.agent_version)
    .bind(now)
    .bind(&f.boot_id)
    .bind(&f.proxy)
    .bind(&f.proxy_listen)
    .bind(&f.agent_sha256)
    .bind(host_id)
    .execute(&mut **tx)
    .await?;
    // A cloud server may turn out to be this host (R2 with R3).
    let tenant: String = sqlx::query_scalar("SELECT tenant_id FROM hosts WHERE id = $1")
        .bind(host_id)
        .fetch_one(&mut **tx)
        .await?;
    crate::cloud::link_cloud_servers(tx, &tenant).await?;
    Ok(())
}

pub(crate) async fn host_identities(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
) -> Result<Vec<HostIdentity>> {
    let rows = sqlx::query("SELECT id, hostname, ips FROM hosts WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            let ips: String = r.try_get("ips")?;
            Ok(HostIdentity {
                id: r.try_get("id")?,
                hostname: r.try_get("hostname")?,
                ips: serde_json::from_str(&ips).unwrap_or_default(),
            })
        })
        .collect()
}

impl Store {
    /// Registers or refreshes a host by its agent id, with no agent
    /// identity (state `none`): for imports and tests. Agents connect
    /// through [`Store::admit_agent`]. Returns the resource id; counts as a
    /// heartbeat.
    pub async fn upsert_host(&self, tenant: &str, f: &HostFacts) -> Result<String> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM hosts WHERE tenant_id = $1 AND agent_id = $2")
                .bind(tenant)
                .bind(&f.agent_id)
                .fetch_optional(&mut *tx)
                .await?;
        let id = match existing {
            Some(id) => id,
            None => insert_host(&mut tx, tenant, &f.agent_id, None, now).await?,
        };
        write_facts(&mut tx, &id, f, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The boot id a host reported when its agent last connected (empty
    /// when unknown). Errors: `NotFound`.
    pub async fn host_boot_id(&self, host_id: &str) -> Result<String> {
        let b: Option<Option<String>> =
            sqlx::query_scalar("SELECT boot_id FROM hosts WHERE id = $1")
                .bind(host_id)
                .fetch_optional(self.reader())
                .await?;
        b.map(Option::unwrap_or_default)
            .ok_or_else(|| StoreError::not_found("host", host_id))
    }

    /// The tenant a host belongs to. Errors: `NotFound`.
    pub async fn host_tenant(&self, host_id: &str) -> Result<String> {
        let t: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM hosts WHERE id = $1")
            .bind(host_id)
            .fetch_optional(self.reader())
            .await?;
        t.ok_or_else(|| StoreError::not_found("host", host_id))
    }

    /// Records a heartbeat of a host.
    pub async fn heartbeat(&self, host_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE hosts SET last_heartbeat = $1 WHERE id = $2")
            .bind(self.now())
            .bind(host_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// All hosts with their agent status, by host name; `interval_ms` is
    /// the heartbeat interval agents use.
    pub async fn list_hosts(&self, tenant: &str, interval_ms: i64) -> Result<Vec<Host>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM hosts WHERE tenant_id = $1 ORDER BY hostname, id"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let now = self.now();
        rows.iter().map(|r| row(r, now, interval_ms)).collect()
    }

    /// One host. Errors: `NotFound`.
    pub async fn get_host(&self, tenant: &str, id: &str, interval_ms: i64) -> Result<Host> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM hosts WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(|r| row(r, self.now(), interval_ms))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("host", id))
    }
}

/// An enterprise project (A4): a named group of resources and incidents in
/// a tenant, usable as the `coc:EnterpriseProject` ABAC attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EnterpriseProject {
    /// Id.
    pub id: String,
    /// Name (unique per tenant).
    pub name: String,
    /// Description.
    pub description: String,
    /// Created, Unix ms.
    pub created_at: i64,
}

impl Store {
    /// Creates an enterprise project. Errors: `Domain(Validation)`, `Conflict`.
    pub async fn create_enterprise_project(
        &self,
        tenant: &str,
        name: &str,
        description: &str,
    ) -> Result<EnterpriseProject> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !ok {
            return Err(coc_domain::error::invalid(
                "enterprise project name must be 1 to 64 of letters, digits, '_', '-', '.'",
            )
            .into());
        }
        let id = crate::new_id();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO enterprise_projects (id, tenant_id, name, description, created_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(&id)
            .bind(tenant)
            .bind(name)
            .bind(description)
            .bind(self.now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if crate::is_unique_violation(&e) {
                    StoreError::Conflict(format!("an enterprise project named '{name}' already exists"))
                } else {
                    e.into()
                }
            })?;
        tx.commit().await?;
        self.list_enterprise_projects(tenant)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| StoreError::not_found("enterprise project", name))
    }

    /// Enterprise projects of a tenant, by name.
    pub async fn list_enterprise_projects(&self, tenant: &str) -> Result<Vec<EnterpriseProject>> {
        let rows = sqlx::query("SELECT id, name, description, created_at FROM enterprise_projects WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant)
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(EnterpriseProject {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Errors with `NotFound` unless the tenant has this enterprise project.
    pub async fn require_enterprise_project(&self, tenant: &str, name: &str) -> Result<()> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM enterprise_projects WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_optional(self.reader())
        .await?;
        found
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found("enterprise project", name))
    }

    /// Moves a host into an enterprise project (or out, with `None`).
    /// Errors: `NotFound` for the host or the project.
    pub async fn set_host_enterprise_project(
        &self,
        tenant: &str,
        host: &str,
        project: Option<&str>,
    ) -> Result<()> {
        if let Some(p) = project {
            self.require_enterprise_project(tenant, p).await?;
        }
        self.write_one(
            sqlx::query(
                "UPDATE hosts SET enterprise_project = $1 WHERE tenant_id = $2 AND id = $3",
            )
            .bind(project)
            .bind(tenant)
            .bind(host),
            "host",
            host,
        )
        .await
    }
}

impl Store {
    /// Puts a host into application `app` (id or name) and, optionally,
    /// one of its modules; `None` takes it out of any.
    ///
    /// Errors: `Domain(Validation)` for an application that does not exist
    /// or a module it does not have; `NotFound` for the host.
    pub async fn set_host_application(
        &self,
        tenant: &str,
        host: &str,
        app: Option<(&str, Option<&str>)>,
    ) -> Result<()> {
        let (app_id, module) = self.application_and_module(tenant, app).await?;
        self.write_one(
            sqlx::query(
                "UPDATE hosts SET application_id = $1, module = $2 WHERE tenant_id = $3 AND id = $4",
            )
            .bind(app_id)
            .bind(module)
            .bind(tenant)
            .bind(host),
            "host",
            host,
        )
        .await
    }

    /// The id of application `app` (id or name) and the module's name as
    /// the application spells it; `(None, None)` for none.
    ///
    /// Errors: `Domain(Validation)` for an application that does not exist
    /// or a module it does not have (the modules named).
    pub(crate) async fn application_and_module(
        &self,
        tenant: &str,
        app: Option<(&str, Option<&str>)>,
    ) -> Result<(Option<String>, Option<String>)> {
        let Some((name, module)) = app else {
            return Ok((None, None));
        };
        let a = match self.get_application(tenant, name).await {
            Ok(a) => a,
            Err(StoreError::NotFound { .. }) => {
                return Err(coc_domain::error::invalid(format!(
                    "application '{name}' does not exist"
                ))
                .into());
            }
            Err(e) => return Err(e),
        };
        let module = match module.map(str::trim).filter(|m| !m.is_empty()) {
            None => None,
            Some(m) => Some(
                a.spec
                    .module_named(m)
                    .ok_or_else(|| {
                        coc_domain::error::invalid(format!(
                            "'{m}' is not a module of {} ({})",
                            a.spec.name,
                            a.spec.module_names().join(", ")
                        ))
                    })?
                    .to_string(),
            ),
        };
        Ok((Some(a.id), module))
    }
}

impl Store {
    /// Replaces a host's tags.
    ///
    /// Errors: `Domain(Validation)` (more than 20, empty or long keys,
    /// values over 128 characters), `NotFound`.
    pub async fn set_host_tags(
        &self,
        tenant: &str,
        host: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        coc_domain::resource::validate_tags(tags)?;
        self.write_one(
            sqlx::query("UPDATE hosts SET tags = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(serde_json::to_string(tags).unwrap_or_else(|_| "{}".into()))
                .bind(tenant)
                .bind(host),
            "host",
            host,
        )
        .await
    }
}
