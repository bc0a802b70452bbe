//! Resources other than hosts (R1, R2): databases, caches, queues, web
//! servers, container clusters and load balancers — discovered on a host
//! by its agent, or registered by hand. What they are and what a report
//! changes is decided by [`coc_domain::resource::catalog`].

use std::collections::BTreeMap;

use coc_domain::discovery::Service;
use coc_domain::resource::agent_status;
use coc_domain::resource::catalog::{
    Found, Held, ImportAction, Origin, ResourceSpec, ResourceStatus, ResourceType,
    check_discovered_change, kept_own, reconcile,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Result, Store, StoreError};

/// A resource other than a host, as listed and shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Resource {
    /// Resource id.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// Name (unique per tenant and type).
    pub name: String,
    /// Discovered by its host's agent, or registered by hand.
    pub origin: Origin,
    /// The host it runs on (resource id), if any.
    pub host_id: Option<String>,
    /// That host's name.
    pub host: Option<String>,
    /// Its port on that host, for a discovered one.
    pub port: Option<u16>,
    /// The application it belongs to, by name: its own, else its host's.
    pub application: Option<String>,
    /// That application's id.
    pub application_id: Option<String>,
    /// Its module (with the application it comes from).
    pub module: Option<String>,
    /// Region: its own, else its host's.
    pub region: Option<String>,
    /// Enterprise project: its own, else its host's.
    pub enterprise_project: Option<String>,
    /// Tags (≤ 20), the `coc:ResourceTag/<key>` ABAC attributes.
    pub tags: BTreeMap<String, String>,
    /// The type's own fields (engine, endpoint, port …).
    pub attributes: BTreeMap<String, String>,
    /// running / abnormal / offline (its host's agent), vanished,
    /// unmonitored.
    pub status: ResourceStatus,
    /// When its host's agent stopped seeing it, Unix ms.
    pub vanished_at: Option<i64>,
    /// Joined the inventory, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// Columns of a resource with what it takes from its host.
pub(crate) const RCOLS: &str = "r.id, r.type, r.name, r.host_id, r.port, r.origin, \
    r.application_id, r.module, r.region, r.enterprise_project, r.tags, r.attributes, \
    r.vanished_at, r.created_at, r.updated_at, h.hostname AS host_name, \
    h.last_heartbeat AS host_heartbeat, h.application_id AS host_application_id, \
    h.module AS host_module, h.region AS host_region, h.enterprise_project AS host_project, \
    (SELECT a.name FROM applications a WHERE a.id = COALESCE(r.application_id, h.application_id)) AS application";

/// From-clause of [`RCOLS`].
pub(crate) const RFROM: &str = "resources r LEFT JOIN hosts h ON h.id = r.host_id";

pub(crate) fn resource_row(r: &AnyRow, now: i64, interval_ms: i64) -> Result<Resource> {
    let own_app: Option<String> = r.try_get("application_id")?;
    let host_id: Option<String> = r.try_get("host_id")?;
    let vanished_at: Option<i64> = r.try_get("vanished_at")?;
    let heartbeat: Option<i64> = r.try_get("host_heartbeat")?;
    let t: String = r.try_get("type")?;
    let (application_id, module) = match own_app {
        Some(a) => (Some(a), r.try_get("module")?),
        None => (r.try_get("host_application_id")?, r.try_get("host_module")?),
    };
    let or_host = |own: &str, host: &str| -> Result<Option<String>> {
        let v: Option<String> = r.try_get(own)?;
        Ok(match v {
            Some(v) => Some(v),
            None => r.try_get(host)?,
        })
    };
    Ok(Resource {
        id: r.try_get("id")?,
        resource_type: ResourceType::parse(&t)
            .ok_or_else(|| coc_domain::error::invalid(format!("stored resource type '{t}'")))?,
        name: r.try_get("name")?,
        origin: Origin::parse(&r.try_get::<String, _>("origin")?),
        status: ResourceStatus::of_resource(
            host_id
                .as_ref()
                .map(|_| agent_status(heartbeat, now, interval_ms)),
            vanished_at.is_some(),
        ),
        host_id,
        host: r.try_get("host_name")?,
        port: r
            .try_get::<Option<i64>, _>("port")?
            .and_then(|p| u16::try_from(p).ok()),
        application: r.try_get("application")?,
        application_id,
        module,
        region: or_host("region", "host_region")?,
        enterprise_project: or_host("enterprise_project", "host_project")?,
        tags: serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
        attributes: serde_json::from_str(&r.try_get::<String, _>("attributes")?)
            .unwrap_or_default(),
        vanished_at,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// What an import did, or would do (a dry run, or a file with a refused
/// row): counts and one line per row.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImportReport {
    /// Whether it was written (not a dry run, no row refused).
    pub applied: bool,
    /// Rows that create a resource.
    pub created: usize,
    /// Rows that change one.
    pub updated: usize,
    /// Rows whose resource is already so.
    pub unchanged: usize,
    /// Rows refused.
    pub refused: usize,
    /// Every row, in the file's order.
    pub rows: Vec<ImportLine>,
}

/// What an import does with one row.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImportLine {
    /// Its number in the file (CSV: the line; YAML: the item), from 1.
    pub row: usize,
    /// Its type, when it could be read.
    #[serde(rename = "type")]
    pub resource_type: Option<ResourceType>,
    /// Its name, when it could be read.
    pub name: Option<String>,
    /// create, update, unchanged or refused.
    pub action: ImportAction,
    /// Why it is refused.
    pub reason: Option<String>,
}

/// A resource ready to write: its checked spec and what it resolves to.
struct Prepared {
    /// The resource it changes; `None`: a new one.
    id: Option<String>,
    spec: ResourceSpec,
    host_id: Option<String>,
    application_id: Option<String>,
    module: Option<String>,
    region: Option<String>,
    project: Option<String>,
    /// It would change nothing.
    unchanged: bool,
}

/// Writes a prepared resource (insert or update) in `tx`; answers its id.
///
/// Errors: `Conflict` for a name its type already has.
async fn write(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    p: &Prepared,
    now: i64,
) -> Result<String> {
    let s = &p.spec;
    let taken = |e: sqlx::Error| -> StoreError {
        if crate::is_unique_violation(&e) {
            StoreError::Conflict(format!(
                "a {} called '{}' already exists",
                s.resource_type.as_str(),
                s.name
            ))
        } else {
            e.into()
        }
    };
    let id = match &p.id {
        Some(id) => {
            sqlx::query(
                "UPDATE resources SET type = $1, name = $2, host_id = $3, application_id = $4, module = $5, \
                 region = $6, enterprise_project = $7, tags = $8, attributes = $9, updated_at = $10 \
                 WHERE tenant_id = $11 AND id = $12",
            )
            .bind(s.resource_type.as_str())
            .bind(&s.name)
            .bind(&p.host_id)
            .bind(&p.application_id)
            .bind(&p.module)
            .bind(&p.region)
            .bind(&p.project)
            .bind(json(&s.tags))
            .bind(json(&s.attributes))
            .bind(now)
            .bind(tenant)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(taken)?;
            id.clone()
        }
        None => {
            let id = crate::new_id();
            sqlx::query(
                "INSERT INTO resources (id, tenant_id, type, name, host_id, port, origin, application_id, \
                 module, region, enterprise_project, tags, attributes, vanished_at, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,NULL,$6,$7,$8,$9,$10,$11,$12,NULL,$13,$13)",
            )
            .bind(&id)
            .bind(tenant)
            .bind(s.resource_type.as_str())
            .bind(&s.name)
            .bind(&p.host_id)
            .bind(Origin::Manual.as_str())
            .bind(&p.application_id)
            .bind(&p.module)
            .bind(&p.region)
            .bind(&p.project)
            .bind(json(&s.tags))
            .bind(json(&s.attributes))
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(taken)?;
            id
        }
    };
    Ok(id)
}

/// What a spec resolves to in the store: ids for the names it gives.
struct Resolved {
    host_id: Option<String>,
    application_id: Option<String>,
    module: Option<String>,
}

impl Store {
    /// Resolves a normalized spec's host (id or host name), application
    /// and module, and checks its enterprise project exists.
    ///
    /// Errors: `Domain(Validation)` naming what does not exist.
    async fn resolve(&self, tenant: &str, s: &ResourceSpec) -> Result<Resolved> {
        let host_id = match &s.host {
            None => None,
            Some(h) => {
                let ids: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM hosts WHERE tenant_id = $1 AND (id = $2 OR hostname = $2) ORDER BY id",
                )
                .bind(tenant)
                .bind(h)
                .fetch_all(self.reader())
                .await?;
                match ids.as_slice() {
                    [id] => Some(id.clone()),
                    [] => {
                        return Err(coc_domain::error::invalid(format!(
                            "host '{h}' does not exist"
                        ))
                        .into());
                    }
                    _ => {
                        return Err(coc_domain::error::invalid(format!(
                            "several hosts are called '{h}': give the host's id"
                        ))
                        .into());
                    }
                }
            }
        };
        if let Some(p) = &s.enterprise_project {
            self.require_enterprise_project(tenant, p)
                .await
                .map_err(|_| {
                    coc_domain::error::invalid(format!("enterprise project '{p}' does not exist"))
                })?;
        }
        let (application_id, module) = self
            .application_and_module(
                tenant,
                s.application.as_deref().map(|a| (a, s.module.as_deref())),
            )
            .await?;
        Ok(Resolved {
            host_id,
            application_id,
            module,
        })
    }

    /// What `spec` writes: checked by the domain, names resolved, and —
    /// for a change of resource `old` — the discovered resource's limits
    /// and its host's values kept inherited.
    ///
    /// Errors: as [`Store::update_resource`].
    async fn prepare(
        &self,
        tenant: &str,
        spec: &ResourceSpec,
        old: Option<&Resource>,
    ) -> Result<Prepared> {
        let s = spec.normalized()?;
        let r = self.resolve(tenant, &s).await?;
        let Some(old) = old else {
            return Ok(Prepared {
                id: None,
                host_id: r.host_id,
                application_id: r.application_id,
                module: r.module,
                region: s.region.clone(),
                project: s.enterprise_project.clone(),
                spec: s,
                unchanged: false,
            });
        };
        if old.origin != Origin::Manual {
            check_discovered_change(
                &old.name,
                (
                    old.resource_type,
                    &old.name,
                    old.host_id.as_deref(),
                    &old.attributes,
                ),
                (
                    s.resource_type,
                    &s.name,
                    r.host_id.as_deref(),
                    &s.attributes,
                ),
            )?;
        }
        let own = sqlx::query(
            "SELECT r.application_id, r.module, r.region, r.enterprise_project, r.tags, \
             h.application_id AS h_app, h.module AS h_module, h.region AS h_region, \
             h.enterprise_project AS h_project \
             FROM resources r LEFT JOIN hosts h ON h.id = r.host_id WHERE r.id = $1",
        )
        .bind(&old.id)
        .fetch_one(self.reader())
        .await?;
        let col = |c: &str| -> Result<Option<String>> { Ok(own.try_get(c)?) };
        let (own_app, own_module) = (col("application_id")?, col("module")?);
        let (application_id, module) = match kept_own(
            own_app.as_deref(),
            col("h_app")?.as_deref(),
            r.application_id.as_deref(),
        ) {
            // Its host's application: with its host's module, unless
            // another is given.
            None if r.module == col("h_module")? => (None, None),
            _ => (r.application_id, r.module),
        };
        let region = kept_own(
            col("region")?.as_deref(),
            col("h_region")?.as_deref(),
            s.region.as_deref(),
        );
        let project = kept_own(
            col("enterprise_project")?.as_deref(),
            col("h_project")?.as_deref(),
            s.enterprise_project.as_deref(),
        );
        let own_tags: BTreeMap<String, String> =
            serde_json::from_str(&own.try_get::<String, _>("tags")?).unwrap_or_default();
        let unchanged = s.resource_type == old.resource_type
            && s.name == old.name
            && r.host_id == old.host_id
            && s.attributes == old.attributes
            && s.tags == own_tags
            && application_id == own_app
            && module == own_module
            && region == col("region")?
            && project == col("enterprise_project")?;
        Ok(Prepared {
            id: Some(old.id.clone()),
            host_id: r.host_id,
            application_id,
            module,
            region,
            project,
            spec: s,
            unchanged,
        })
    }

    /// Registers a resource by hand (R1).
    ///
    /// Errors: `Domain(Validation)` (the spec, or a host, application,
    /// module or project that does not exist), `Conflict` for a name its
    /// type already has.
    pub async fn create_resource(
        &self,
        tenant: &str,
        spec: &ResourceSpec,
        interval_ms: i64,
    ) -> Result<Resource> {
        let p = self.prepare(tenant, spec, None).await?;
        let mut tx = self.begin().await?;
        let id = write(&mut tx, tenant, &p, self.now()).await?;
        tx.commit().await?;
        self.get_resource(tenant, &id, interval_ms).await
    }

    /// Changes a resource to `spec`. For a discovered one only what its
    /// agent does not report may change: application, module, region,
    /// project and tags. A value the resource shows because its host has
    /// it, given back unchanged, stays its host's (it follows the host).
    ///
    /// Errors: `NotFound`; `Domain(Validation)` as for
    /// [`Store::create_resource`], or for a change to a discovered
    /// resource's type, name, host or fields; `Conflict` for a taken name.
    pub async fn update_resource(
        &self,
        tenant: &str,
        id: &str,
        spec: &ResourceSpec,
        interval_ms: i64,
    ) -> Result<Resource> {
        let old = self.get_resource(tenant, id, interval_ms).await?;
        let p = self.prepare(tenant, spec, Some(&old)).await?;
        let mut tx = self.begin().await?;
        write(&mut tx, tenant, &p, self.now()).await?;
        tx.commit().await?;
        self.get_resource(tenant, &old.id, interval_ms).await
    }

    /// Imports resources (R2, a static inventory file): each row creates
    /// its resource, changes the one of the same type and name, or finds
    /// it already so. Every row is checked first; with a refused row, or
    /// with `dry_run`, nothing is written — the report says what each row
    /// would do (and why a row is refused). Otherwise all rows are
    /// written in one transaction.
    ///
    /// `rows`: (row number, the row read or why it could not be read).
    /// Errors: `Domain(Validation)` for more than
    /// [`coc_domain::resource::catalog::MAX_IMPORT_ROWS`] rows.
    pub async fn import_resources(
        &self,
        tenant: &str,
        rows: Vec<(usize, std::result::Result<ResourceSpec, String>)>,
        dry_run: bool,
        interval_ms: i64,
    ) -> Result<ImportReport> {
        let max = coc_domain::resource::catalog::MAX_IMPORT_ROWS;
        if rows.len() > max {
            return Err(coc_domain::error::invalid(format!(
                "an import has at most {max} rows; this one has {}",
                rows.len()
            ))
            .into());
        }
        let named: Vec<(ResourceType, String)> = rows
            .iter()
            .map(|(_, r)| match r {
                Ok(s) => (s.resource_type, s.name.trim().to_string()),
                Err(_) => (ResourceType::Host, String::new()),
            })
            .collect();
        let repeated = coc_domain::resource::catalog::repeated_rows(&named);
        let numbers: Vec<usize> = rows.iter().map(|(n, _)| *n).collect();
        let mut lines = Vec::with_capacity(rows.len());
        let mut writes = vec![];
        for (i, (row, given)) in rows.into_iter().enumerate() {
            let mut line = ImportLine {
                row,
                resource_type: None,
                name: None,
                action: ImportAction::Refused,
                reason: None,
            };
            let outcome = match given {
                Err(e) => Err(e),
                Ok(spec) => {
                    line.resource_type = Some(spec.resource_type);
                    line.name = Some(spec.name.trim().to_string());
                    if let Some((_, first)) = repeated.iter().find(|(r, _)| *r == i + 1) {
                        Err(format!(
                            "the same {} as row {}",
                            spec.resource_type.as_str(),
                            numbers[first - 1]
                        ))
                    } else {
                        let old = self
                            .existing(tenant, spec.resource_type, spec.name.trim(), interval_ms)
                            .await?;
                        self.prepare(tenant, &spec, old.as_ref())
                            .await
                            .map_err(|e| match e {
                                StoreError::Domain(d) => d.to_string(),
                                other => other.to_string(),
                            })
                    }
                }
            };
            match outcome {
                Err(reason) => line.reason = Some(reason),
                Ok(p) => {
                    line.action = match (&p.id, p.unchanged) {
                        (None, _) => ImportAction::Create,
                        (Some(_), true) => ImportAction::Unchanged,
                        (Some(_), false) => ImportAction::Update,
                    };
                    if line.action != ImportAction::Unchanged {
                        writes.push(p);
                    }
                }
            }
            lines.push(line);
        }
        let count = |a: ImportAction| lines.iter().filter(|l| l.action == a).count();
        let refused = count(ImportAction::Refused);
        let applied = !dry_run && refused == 0;
        if applied && !writes.is_empty() {
            let now = self.now();
            let mut tx = self.begin().await?;
            for p in &writes {
                write(&mut tx, tenant, p, now).await?;
            }
            tx.commit().await?;
        }
        Ok(ImportReport {
            applied,
            created: count(ImportAction::Create),
            updated: count(ImportAction::Update),
            unchanged: count(ImportAction::Unchanged),
            refused,
            rows: lines,
        })
    }

    /// The resource of type `t` called `name`, if any.
    async fn existing(
        &self,
        tenant: &str,
        t: ResourceType,
        name: &str,
        interval_ms: i64,
    ) -> Result<Option<Resource>> {
        let r = sqlx::query(dynsql!(
            "SELECT {RCOLS} FROM {RFROM} WHERE r.tenant_id = $1 AND r.type = $2 AND r.name = $3"
        ))
        .bind(tenant)
        .bind(t.as_str())
        .bind(name)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| resource_row(&r, self.now(), interval_ms))
            .transpose()
    }

    /// Removes a resource. A discovered one its host's agent still sees
    /// would come back with the next report and is refused.
    ///
    /// Errors: `NotFound`, `Conflict`.
    pub async fn delete_resource(&self, tenant: &str, id: &str, interval_ms: i64) -> Result<()> {
        let r = self.get_resource(tenant, id, interval_ms).await?;
        if r.origin == Origin::Discovered && r.vanished_at.is_none() {
            return Err(StoreError::Conflict(format!(
                "{} is still seen by the agent of {}: stop the service or delete the host",
                r.name,
                r.host.as_deref().unwrap_or("its host")
            )));
        }
        if r.origin == Origin::Cloud && r.vanished_at.is_none() {
            return Err(StoreError::Conflict(format!(
                "{} is still listed by its cloud account: it would come back with the next synchronization",
                r.name
            )));
        }
        self.write_one(
            sqlx::query("DELETE FROM resources WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&r.id),
            "resource",
            id,
        )
        .await
    }

    /// One resource other than a host, by id or by name (a name two types
    /// share is refused: give the id).
    ///
    /// Errors: `NotFound`, `Domain(Validation)` for a shared name.
    pub async fn get_resource(
        &self,
        tenant: &str,
        key: &str,
        interval_ms: i64,
    ) -> Result<Resource> {
        let now = self.now();
        // By id, else by name: two indexed lookups (an OR of both columns
        // would read the whole table).
        let by_id = sqlx::query(dynsql!(
            "SELECT {RCOLS} FROM {RFROM} WHERE r.tenant_id = $1 AND r.id = $2"
        ))
        .bind(tenant)
        .bind(key)
        .fetch_optional(self.reader())
        .await?;
        if let Some(r) = by_id {
            return resource_row(&r, now, interval_ms);
        }
        let rows = sqlx::query(dynsql!(
            "SELECT {RCOLS} FROM {RFROM} WHERE r.tenant_id = $1 AND r.name = $2 ORDER BY r.id"
        ))
        .bind(tenant)
        .bind(key)
        .fetch_all(self.reader())
        .await?;
        let mut all: Vec<Resource> = rows
            .iter()
            .map(|r| resource_row(r, now, interval_ms))
            .collect::<Result<_>>()?;
        match all.len() {
            0 => Err(StoreError::not_found("resource", key)),
            1 => Ok(all.remove(0)),
            _ => Err(coc_domain::error::invalid(format!(
                "several resources are called '{key}' ({}): give the id",
                all.iter()
                    .map(|r| format!("{} {}", r.resource_type.as_str(), r.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into()),
        }
    }

    /// The resources on host `host_id` (discovered and registered), by
    /// name.
    pub async fn resources_on_host(
        &self,
        tenant: &str,
        host_id: &str,
        interval_ms: i64,
    ) -> Result<Vec<Resource>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {RCOLS} FROM {RFROM} WHERE r.tenant_id = $1 AND r.host_id = $2 ORDER BY r.name, r.id"
        ))
        .bind(tenant)
        .bind(host_id)
        .fetch_all(self.reader())
        .await?;
        let now = self.now();
        rows.iter()
            .map(|r| resource_row(r, now, interval_ms))
            .collect()
    }

    /// Sets a host's region (`None` clears it).
    ///
    /// Errors: `Domain(Validation)` for a long region, `NotFound`.
    pub async fn set_host_region(
        &self,
        tenant: &str,
        host: &str,
        region: Option<&str>,
    ) -> Result<()> {
        let region = coc_domain::resource::catalog::short_value("region", region)?;
        self.write_one(
            sqlx::query("UPDATE hosts SET region = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(region)
                .bind(tenant)
                .bind(host),
            "host",
            host,
        )
        .await
    }
}

/// Where resources found by a sync come from, and what identifies them
/// there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// A host's agent (discovery); keyed by port.
    Host(&'a str),
    /// A cloud account (R2); keyed by instance id.
    Cloud(&'a str),
}

impl Source<'_> {
    /// The origin its resources are stored with.
    fn origin(self) -> Origin {
        match self {
            Source::Host(_) => Origin::Discovered,
            Source::Cloud(_) => Origin::Cloud,
        }
    }
}

/// What the inventory holds from `source`, as the domain matches it.
async fn held_from(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    source: Source<'_>,
) -> Result<Vec<Held>> {
    let (filter, id) = match source {
        Source::Host(h) => ("host_id", h),
        Source::Cloud(a) => ("cloud_account_id", a),
    };
    let rows = sqlx::query(dynsql!(
        "SELECT id, port, external_id, type, name, region, attributes, vanished_at FROM resources \
         WHERE tenant_id = $1 AND {filter} = $2 AND origin = $3"
    ))
    .bind(tenant)
    .bind(id)
    .bind(source.origin().as_str())
    .fetch_all(&mut **tx)
    .await?;
    let mut held = Vec::with_capacity(rows.len());
    for r in &rows {
        let t: String = r.try_get("type")?;
        let Some(resource_type) = ResourceType::parse(&t) else {
            continue;
        };
        let key = match source {
            Source::Host(_) => r
                .try_get::<Option<i64>, _>("port")?
                .unwrap_or(0)
                .to_string(),
            Source::Cloud(_) => r
                .try_get::<Option<String>, _>("external_id")?
                .unwrap_or_default(),
        };
        held.push(Held {
            id: r.try_get("id")?,
            key,
            resource_type,
            name: r.try_get("name")?,
            region: match source {
                Source::Host(_) => None,
                Source::Cloud(_) => r.try_get("region")?,
            },
            attributes: serde_json::from_str(&r.try_get::<String, _>("attributes")?)
                .unwrap_or_default(),
            vanished: r.try_get::<Option<i64>, _>("vanished_at")?.is_some(),
        });
    }
    Ok(held)
}

/// Brings `source`'s resources in line with what it `found`, inside `tx`:
/// new ones inserted, changed or returning ones updated, missing ones
/// marked vanished ([`reconcile`]). Returns how many were inserted,
/// updated and marked vanished.
pub(crate) async fn sync_found(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    source: Source<'_>,
    found: Vec<Found>,
    now: i64,
) -> Result<(usize, usize, usize)> {
    let held = held_from(tx, tenant, source).await?;
    let plan = reconcile(&held, found);
    for f in &plan.insert {
        insert_found(tx, tenant, source, f, now).await?;
    }
    for (id, f) in &plan.update {
        let name = free_name(tx, tenant, f, id).await?;
        sqlx::query(
            "UPDATE resources SET type = $1, name = $2, attributes = $3, vanished_at = NULL, updated_at = $4, \
             region = CASE WHEN $5 = 1 THEN $6 ELSE region END WHERE id = $7",
        )
        .bind(f.resource_type.as_str())
        .bind(name)
        .bind(json(&f.attributes))
        .bind(now)
        .bind(i64::from(matches!(source, Source::Cloud(_))))
        .bind(f.region.as_deref())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    for id in &plan.vanish {
        sqlx::query("UPDATE resources SET vanished_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok((plan.insert.len(), plan.update.len(), plan.vanish.len()))
}

/// Brings host `host_id`'s discovered resources in line with the services
/// its agent reported (R2), inside the report's transaction: new ones
/// inserted, changed ones updated, missing ones marked vanished.
pub(crate) async fn sync_discovered(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    host_id: &str,
    services: &[Service],
    now: i64,
) -> Result<()> {
    let h = sqlx::query("SELECT hostname, ips FROM hosts WHERE id = $1")
        .bind(host_id)
        .fetch_one(&mut **tx)
        .await?;
    let hostname: String = h.try_get("hostname")?;
    let ips: Vec<String> =
        serde_json::from_str(&h.try_get::<String, _>("ips")?).unwrap_or_default();
    let found = coc_domain::resource::catalog::found_on_host(&hostname, &ips, services);
    sync_found(tx, tenant, Source::Host(host_id), found, now).await?;
    Ok(())
}

/// The name a discovered resource `f` (id `id`) gets: its own, or, when
/// another resource of its type has it (one registered by hand, or a
/// host of the same name), that name with the end of its id, so neither
/// is lost.
async fn free_name(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    f: &Found,
    id: &str,
) -> Result<String> {
    let taken: Option<String> = sqlx::query_scalar(
        "SELECT id FROM resources WHERE tenant_id = $1 AND type = $2 AND name = $3 AND id <> $4",
    )
    .bind(tenant)
    .bind(f.resource_type.as_str())
    .bind(&f.name)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(match taken {
        None => f.name.clone(),
        Some(_) => format!("{} ({})", f.name, &id[id.len().saturating_sub(6)..]),
    })
}

/// Inserts a discovered resource.
async fn insert_found(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    source: Source<'_>,
    f: &Found,
    now: i64,
) -> Result<()> {
    let id = crate::new_id();
    let name = free_name(tx, tenant, f, &id).await?;
    let (host, account) = match source {
        Source::Host(h) => (Some(h), None),
        Source::Cloud(a) => (None, Some(a)),
    };
    sqlx::query(
        "INSERT INTO resources (id, tenant_id, type, name, host_id, port, origin, application_id, \
         module, region, enterprise_project, tags, attributes, vanished_at, created_at, updated_at, \
         cloud_account_id, external_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,NULL,NULL,$8,NULL,'{}',$9,NULL,$10,$10,$11,$12)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(f.resource_type.as_str())
    .bind(name)
    .bind(host)
    .bind(f.port.map(i64::from))
    .bind(source.origin().as_str())
    .bind(f.region.as_deref())
    .bind(json(&f.attributes))
    .bind(now)
    .bind(account)
    .bind(account.map(|_| f.key.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
