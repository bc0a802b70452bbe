//! Applications (R6): stored [`ApplicationSpec`]s, by id or name. What a
//! valid application is, is [`coc_domain::application`]'s; the store
//! checks that its owner is a person of the tenant and its enterprise
//! project one of the tenant's.

use coc_domain::DomainError;
use coc_domain::application::ApplicationSpec;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, is_unique_violation};

mod refs;
use refs::DOC_REFS;
pub(crate) use refs::{AppIndex, adopt_free_text};

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
        .fetch_all(self.reader())
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
            .fetch_all(self.reader())
            .await?;
            out.extend(names.into_iter().map(|n| format!("{noun} '{n}'")));
        }
        let incidents: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incidents WHERE tenant_id = $1 AND application_id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_one(self.reader())
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
        .fetch_optional(self.reader())
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
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }
}
