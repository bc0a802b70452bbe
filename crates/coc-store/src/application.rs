//! Applications (R6): stored [`ApplicationSpec`]s, by id or name. What a
//! valid application is, is [`coc_domain::application`]'s; the store
//! checks that its owner is a person of the tenant and its enterprise
//! project one of the tenant's.

use coc_domain::DomainError;
use coc_domain::application::{AppRefs, ApplicationSpec, map_app_refs};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

use crate::{Result, Store, StoreError, is_unique_violation};

/// A stored application.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Application {
    /// Record id.
    pub id: String,
    /// The application.
    #[serde(flatten)]
    pub spec: ApplicationSpec,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

const COLS: &str = "id, spec, created_at, updated_at";

fn row(r: &AnyRow) -> Result<Application> {
    let spec: String = r.try_get("spec")?;
    Ok(Application {
        id: r.try_get("id")?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Conflict(format!("stored application: {e}")))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn duplicate(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("an application named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

impl Store {
    /// The application as it is stored: normalized, its owner a person of
    /// the tenant (stored by name).
    ///
    /// Errors: `Domain(Validation)` for an invalid application, an owner
    /// who is no user or an enterprise project that does not exist.
    async fn checked_application(
        &self,
        tenant: &str,
        spec: &ApplicationSpec,
    ) -> Result<ApplicationSpec> {
        let mut spec = spec.normalized()?;
        if let Some(owner) = &spec.owner {
            match self.get_user(tenant, owner).await {
                Ok(u) => spec.owner = Some(u.name),
                Err(StoreError::NotFound { .. }) => {
                    return Err(DomainError::Validation(format!(
                        "owner '{owner}' is no user of this tenant"
                    ))
                    .into());
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(project) = &spec.enterprise_project {
            match self.require_enterprise_project(tenant, project).await {
                Ok(()) => {}
                Err(StoreError::NotFound { .. }) => {
                    return Err(DomainError::Validation(format!(
                        "enterprise project '{project}' does not exist"
                    ))
                    .into());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(spec)
    }

    /// Stores a new application.
    ///
    /// Errors: `Domain(Validation)` (see [`ApplicationSpec::normalized`],
    /// an unknown owner); `Conflict` for a name already taken.
    pub async fn create_application(
        &self,
        tenant: &str,
        spec: &ApplicationSpec,
    ) -> Result<Application> {
        let spec = self.checked_application(tenant, spec).await?;
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO applications (id, tenant_id, name, spec, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&spec.name)
        .bind(serde_json::to_string(&spec).unwrap_or_default())
        .bind(self.now())
        .execute(&self.pool)
        .await
        .map_err(duplicate(&spec.name))?;
        self.get_application(tenant, &id).await
    }

    /// Replaces application `id`. Errors: `NotFound`; as
    /// [`Store::create_application`].
    pub async fn update_application(
        &self,
        tenant: &str,
        id: &str,
        spec: &ApplicationSpec,
    ) -> Result<Application> {
        let spec = self.checked_application(tenant, spec).await?;
        self.write_one(
            sqlx::query(
                "UPDATE applications SET name = $1, spec = $2, updated_at = $3 \
                 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(&spec.name)
            .bind(serde_json::to_string(&spec).unwrap_or_default())
            .bind(self.now())
            .bind(tenant)
            .bind(id),
            "application",
            id,
        )
        .await?;
        self.get_application(tenant, id).await
    }

    /// Deletes application `id`.
    ///
    /// Errors: `NotFound`; `Conflict` while hosts or other resources
    /// belong to it (they are named: move them first), or definitions or
    /// incidents refer to it ([`Store::application_users`]).
    pub async fn delete_application(&self, tenant: &str, id: &str) -> Result<()> {
        let id = self.get_application(tenant, id).await?.id;
        let id = id.as_str();
        let hosts: Vec<String> = sqlx::query_scalar(
            "SELECT hostname FROM hosts WHERE tenant_id = $1 AND application_id = $2 \
             UNION ALL SELECT name FROM resources WHERE tenant_id = $1 AND application_id = $2 ORDER BY 1",
        )
        .bind(tenant)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        if !hosts.is_empty() {
            return Err(StoreError::Conflict(format!(
                "{} resource(s) belong to this application ({}); move them to another application first",
                hosts.len(),
                hosts.join(", ")
            )));
        }
        let users = self.application_users(tenant, id).await?;
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "this application is referred to by {}; change those first (or rename the application instead)",
                users.join(", ")
            )));
        }
        self.write_one(
            sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id),
            "application",
            id,
        )
        .await
    }

    /// What refers to application `id` (R6): definitions by kind and name
    /// (`forwarding rule 'db-down'`), and a count of incidents.
    pub async fn application_users(&self, tenant: &str, id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let quoted = format!("%{}%", serde_json::Value::String(id.to_string()));
        for &(table, _, _, noun) in DOC_REFS {
            let names: Vec<String> = sqlx::query_scalar(dynsql!(
                "SELECT name FROM {table} WHERE tenant_id = $1 AND spec LIKE $2 ORDER BY name"
            ))
            .bind(tenant)
            .bind(&quoted)
            .fetch_all(&self.pool)
            .await?;
            out.extend(names.into_iter().map(|n| format!("{noun} '{n}'")));
        }
        let incidents: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incidents WHERE tenant_id = $1 AND application_id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        if incidents > 0 {
            out.push(format!("{incidents} incident(s)"));
        }
        Ok(out)
    }

    /// One application, by id or name. Errors: `NotFound`.
    pub async fn get_application(&self, tenant: &str, id: &str) -> Result<Application> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM applications WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("application", id))
    }

    /// The tenant's applications, by name.
    pub async fn list_applications(&self, tenant: &str) -> Result<Vec<Application>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM applications WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row).collect()
    }
}

/// The tenant's applications by id and by name: how a definition's
/// application references ([`AppRefs`]) go from the names it is given and
/// matched with to the ids it is stored with, and back.
#[derive(Debug, Default)]
pub(crate) struct AppIndex {
    name_of: HashMap<String, String>,
    id_of: HashMap<String, String>,
}

impl AppIndex {
    /// Loads the tenant's applications (one query).
    pub(crate) async fn load(conn: &mut sqlx::AnyConnection, tenant: &str) -> Result<Self> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, name FROM applications WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_all(&mut *conn)
                .await?;
        let mut ix = Self::default();
        for (id, name) in rows {
            ix.id_of.insert(name.clone(), id.clone());
            ix.name_of.insert(id, name);
        }
        Ok(ix)
    }

    /// The id of the application named (or with id) `r`, if it exists.
    pub(crate) fn id(&self, r: &str) -> Option<&str> {
        let r = r.trim();
        self.id_of
            .get(r)
            .map(String::as_str)
            .or_else(|| self.name_of.get_key_value(r).map(|(k, _)| k.as_str()))
    }

    /// The name of the application named (or with id) `r`.
    ///
    /// Errors: `Domain(Validation)` when there is no such application.
    pub(crate) fn name(&self, r: &str) -> Result<String> {
        let id = self.id(r).ok_or_else(|| unknown(r))?;
        Ok(self.name_of.get(id).cloned().unwrap_or_default())
    }

    /// Rewrites `t`'s references from names (or ids) to ids, as stored.
    ///
    /// Errors: `Domain(Validation)` naming an application that does not
    /// exist.
    pub(crate) fn to_ids<T: AppRefs + ?Sized>(&self, t: &mut T) -> Result<()> {
        map_app_refs(t, |r| {
            self.id(r).map(str::to_string).ok_or_else(|| unknown(r))
        })
    }

    /// Rewrites `t`'s stored references (ids) to names. A reference to no
    /// application is left as it is.
    pub(crate) fn to_names<T: AppRefs + ?Sized>(&self, t: &mut T) {
        let _ = map_app_refs(t, |r| {
            Ok::<_, std::convert::Infallible>(
                self.name_of
                    .get(r)
                    .cloned()
                    .unwrap_or_else(|| r.to_string()),
            )
        });
    }
}

/// The error for a reference to an application that does not exist.
fn unknown(r: &str) -> StoreError {
    DomainError::Validation(format!(
        "application '{r}' does not exist (coc application list)"
    ))
    .into()
}

impl Store {
    /// The tenant's [`AppIndex`].
    pub(crate) async fn app_index(&self, tenant: &str) -> Result<AppIndex> {
        let mut conn = self.pool.acquire().await?;
        AppIndex::load(&mut conn, tenant).await
    }
}

/// How a stored document names applications (migration 0032).
#[derive(Clone, Copy)]
enum RefShape {
    /// A name at the pointer (or null).
    One,
    /// An array of names at the pointer.
    Many,
    /// An array of objects at the pointer, each naming one as `application`.
    Objects,
}

/// Where stored documents name applications: table, JSON pointer, shape,
/// and the noun of what the table holds.
const DOC_REFS: &[(&str, &str, RefShape, &str)] = &[
    (
        "forwarding_rules",
        "/application",
        RefShape::One,
        "forwarding rule",
    ),
    ("plans", "/application", RefShape::One, "emergency plan"),
    (
        "scheduled_tasks",
        "/select/application",
        RefShape::One,
        "scheduled task",
    ),
    (
        "escalation_policies",
        "/applications",
        RefShape::Many,
        "escalation policy",
    ),
    (
        "notification_rules",
        "/applications",
        RefShape::Many,
        "notification rule",
    ),
    ("slas", "/applications", RefShape::Many, "SLA"),
    (
        "oncall_scenarios",
        "/applications",
        RefShape::Objects,
        "scheduling scenario",
    ),
];

/// The application references of `doc` at `pointer`, to read or rewrite.
fn doc_refs<'a>(
    doc: &'a mut serde_json::Value,
    pointer: &str,
    shape: RefShape,
) -> Vec<&'a mut serde_json::Value> {
    let Some(v) = doc.pointer_mut(pointer) else {
        return vec![];
    };
    let refs: Vec<&mut serde_json::Value> = match (shape, v) {
        (RefShape::One, v) => vec![v],
        (RefShape::Many, serde_json::Value::Array(a)) => a.iter_mut().collect(),
        (RefShape::Objects, serde_json::Value::Array(a)) => a
            .iter_mut()
            .filter_map(|o| o.get_mut("application"))
            .collect(),
        _ => vec![],
    };
    refs.into_iter()
        .filter(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()))
        .collect()
}

/// Migration 0032: adopts the free-text application names of incidents
/// and stored documents. Every distinct name (per tenant) that is neither
/// an application's id nor its name becomes an application of that name
/// (cut to [`coc_domain::application::MAX_NAME`] characters); incidents
/// get its id, and documents hold its id where they held the name.
/// Runs in the migration's transaction `tx`; `now` is Unix ms.
///
/// Errors: a store error (the migration is then not applied).
pub(crate) async fn adopt_free_text(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    now: i64,
) -> Result<()> {
    // What exists: (tenant, name) → id, and (tenant, id).
    let mut by_name: HashMap<(String, String), String> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT tenant_id, id, name FROM applications")
            .fetch_all(&mut **tx)
            .await?;
    for (tenant, id, name) in rows {
        ids.insert((tenant.clone(), id.clone()));
        by_name.insert((tenant, name), id);
    }
    let mut wanted: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT tenant_id, application FROM incidents WHERE application IS NOT NULL",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut docs = Vec::new();
    for &(table, pointer, shape, _) in DOC_REFS {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as(dynsql!("SELECT id, tenant_id, spec FROM {table}"))
                .fetch_all(&mut **tx)
                .await?;
        for (id, tenant, spec) in rows {
            let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&spec) else {
                continue;
            };
            for r in doc_refs(&mut doc, pointer, shape) {
                wanted.push((tenant.clone(), r.as_str().unwrap_or_default().to_string()));
            }
            docs.push((table, pointer, shape, id, tenant, doc));
        }
    }
    // The id each (tenant, text) stands for, creating what is missing.
    let mut id_of: HashMap<(String, String), String> = HashMap::new();
    for (tenant, text) in wanted {
        let text = text.trim().to_string();
        if text.is_empty() || id_of.contains_key(&(tenant.clone(), text.clone())) {
            continue;
        }
        let id = if ids.contains(&(tenant.clone(), text.clone())) {
            text.clone()
        } else {
            let name: String = text
                .chars()
                .filter(|c| !c.is_control())
                .take(coc_domain::application::MAX_NAME)
                .collect();
            match by_name.get(&(tenant.clone(), name.clone())) {
                Some(id) => id.clone(),
                None => {
                    let id = crate::new_id();
                    let spec = ApplicationSpec {
                        name: name.clone(),
                        description: Some(
                            "Adopted from the free-text application of earlier versions.".into(),
                        ),
                        owner: None,
                        enterprise_project: None,
                        modules: vec![],
                        regions: vec![],
                    };
                    sqlx::query(
                        "INSERT INTO applications (id, tenant_id, name, spec, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5)",
                    )
                    .bind(&id)
                    .bind(&tenant)
                    .bind(&name)
                    .bind(serde_json::to_string(&spec).unwrap_or_default())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    by_name.insert((tenant.clone(), name), id.clone());
                    ids.insert((tenant.clone(), id.clone()));
                    id
                }
            }
        };
        sqlx::query(
            "UPDATE incidents SET application_id = $1 WHERE tenant_id = $2 AND application = $3",
        )
        .bind(&id)
        .bind(&tenant)
        .bind(&text)
        .execute(&mut **tx)
        .await?;
        id_of.insert((tenant, text), id);
    }
    for (table, pointer, shape, id, tenant, mut doc) in docs {
        let mut changed = false;
        for r in doc_refs(&mut doc, pointer, shape) {
            let text = r.as_str().unwrap_or_default().trim().to_string();
            if let Some(new) = id_of.get(&(tenant.clone(), text))
                && r.as_str() != Some(new.as_str())
            {
                *r = serde_json::Value::String(new.clone());
                changed = true;
            }
        }
        if changed {
            sqlx::query(dynsql!("UPDATE {table} SET spec = $1 WHERE id = $2"))
                .bind(doc.to_string())
                .bind(&id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}
