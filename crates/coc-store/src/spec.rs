//! Named, enable-able JSON documents of a tenant: notification rules,
//! escalation policies and SLAs share one storage shape — a table with
//! `id, tenant_id, name, enabled, spec, created_at, updated_at` and a
//! unique name per tenant. The domain type validates itself before it is
//! written.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::application::AppIndex;
use crate::{Result, Store, StoreError, is_unique_violation};
use coc_domain::application::AppRefs;

/// A stored document with its bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Stored<T> {
    /// Id.
    pub id: String,
    /// Whether it is in force.
    pub enabled: bool,
    /// The document.
    #[serde(flatten)]
    pub spec: T,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// Where a kind of document lives.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Table name (a constant, never user input).
    pub table: &'static str,
    /// Noun for messages (`notification rule`).
    pub noun: &'static str,
    /// Whether a new document starts enabled.
    pub enabled_on_create: bool,
}

/// A document type stored this way. Its application references
/// ([`AppRefs`]) are stored as ids and given and answered as names.
pub trait Document: AppRefs + Clone + Serialize + DeserializeOwned + Send + Sync {
    /// Its storage.
    const KIND: Kind;
    /// Only a disabled document may be modified or deleted (SLAs, ref.
    /// 11.5).
    const EDIT_ONLY_DISABLED: bool = false;
    /// Its name.
    fn name(&self) -> &str;
    /// Validates it. Errors: [`coc_domain::DomainError::Validation`].
    fn validate(&self) -> std::result::Result<(), coc_domain::DomainError>;
    /// It as stored: validated, and trimmed where its type trims (default:
    /// as given). Errors: [`coc_domain::DomainError::Validation`].
    fn normalized(&self) -> std::result::Result<Self, coc_domain::DomainError> {
        self.validate().map(|_| self.clone())
    }
    /// Checks it against the tenant's other documents of the kind.
    /// Errors: [`coc_domain::DomainError::Validation`].
    fn check_against(&self, _others: &[&Self]) -> std::result::Result<(), coc_domain::DomainError> {
        Ok(())
    }
    /// Why a stored document may not be modified or deleted at all, if so.
    fn locked(&self) -> Option<String> {
        None
    }
}

impl Store {
    /// Creates a document (validated first).
    ///
    /// Errors: `Domain(Validation)`, `Conflict` (name taken).
    pub async fn doc_create<T: Document>(&self, tenant: &str, d: &T) -> Result<Stored<T>> {
        let d = &d.normalized()?;
        let (ix, stored) = self.doc_stored(tenant, d).await?;
        self.check_against(tenant, None, &stored).await?;
        let out = self.spec_create(T::KIND, tenant, d.name(), &stored).await?;
        Ok(named(&ix, out))
    }

    /// `d` as stored: its application references as ids, with the index
    /// that resolved them. Errors: `Domain(Validation)` for an application
    /// that does not exist.
    async fn doc_stored<T: Document>(&self, tenant: &str, d: &T) -> Result<(AppIndex, T)> {
        let ix = self.app_index(tenant).await?;
        let mut stored = d.clone();
        ix.to_ids(&mut stored)?;
        Ok((ix, stored))
    }

    /// Checks stored `d` (application ids) against the others as stored.
    async fn check_against<T: Document>(
        &self,
        tenant: &str,
        skip: Option<&str>,
        d: &T,
    ) -> Result<()> {
        let all: Vec<Stored<T>> = self.spec_list(T::KIND, tenant, None, false).await?;
        let others: Vec<&T> = all
            .iter()
            .filter(|o| Some(o.id.as_str()) != skip)
            .map(|o| &o.spec)
            .collect();
        Ok(d.check_against(&others)?)
    }

    /// Replaces a document.
    ///
    /// Errors: `Domain(Validation)`, `NotFound`, `Conflict` (name taken, or
    /// an enabled document that may only change while disabled).
    pub async fn doc_update<T: Document>(
        &self,
        tenant: &str,
        id: &str,
        d: &T,
    ) -> Result<Stored<T>> {
        let d = &d.normalized()?;
        let cur = self.refuse_enabled::<T>(tenant, id, "modified").await?;
        let (ix, stored) = self.doc_stored(tenant, d).await?;
        self.check_against(tenant, Some(&cur.id), &stored).await?;
        let out = self
            .spec_update(T::KIND, tenant, &cur.id, d.name(), &stored)
            .await?;
        Ok(named(&ix, out))
    }

    /// One document by id or name. Errors: `NotFound`.
    pub async fn doc_get<T: Document>(&self, tenant: &str, id: &str) -> Result<Stored<T>> {
        let d = self.spec_get(T::KIND, tenant, id).await?;
        Ok(named(&self.app_index(tenant).await?, d))
    }

    /// Documents by name; `name` filters by a case-insensitive substring.
    pub async fn doc_list<T: Document>(
        &self,
        tenant: &str,
        name: Option<&str>,
    ) -> Result<Vec<Stored<T>>> {
        let all = self.spec_list(T::KIND, tenant, name, false).await?;
        let ix = self.app_index(tenant).await?;
        Ok(all.into_iter().map(|d| named(&ix, d)).collect())
    }

    /// The enabled documents, by name.
    pub async fn doc_enabled<T: Document>(&self, tenant: &str) -> Result<Vec<Stored<T>>> {
        let all = self.spec_list(T::KIND, tenant, None, true).await?;
        let ix = self.app_index(tenant).await?;
        Ok(all.into_iter().map(|d| named(&ix, d)).collect())
    }

    /// Enables or disables a document. Errors: `NotFound`.
    pub async fn doc_set_enabled<T: Document>(
        &self,
        tenant: &str,
        id: &str,
        enabled: bool,
    ) -> Result<()> {
        self.spec_set_enabled(T::KIND, tenant, id, enabled).await
    }

    /// Deletes a document. Errors: `NotFound`, `Conflict` (enabled and
    /// only deletable while disabled).
    pub async fn doc_delete<T: Document>(&self, tenant: &str, id: &str) -> Result<()> {
        self.refuse_enabled::<T>(tenant, id, "deleted").await?;
        self.spec_delete(T::KIND, tenant, id).await
    }

    /// The stored document, unless it is locked or (for kinds edited only
    /// while disabled) enabled. Errors: `NotFound`, `Conflict`.
    async fn refuse_enabled<T: Document>(
        &self,
        tenant: &str,
        id: &str,
        verb: &str,
    ) -> Result<Stored<T>> {
        let cur: Stored<T> = self.spec_get(T::KIND, tenant, id).await?;
        if let Some(why) = cur.spec.locked() {
            return Err(StoreError::Conflict(why));
        }
        if T::EDIT_ONLY_DISABLED && cur.enabled {
            return Err(StoreError::Conflict(format!(
                "an enabled {} cannot be {verb}; disable it first",
                T::KIND.noun
            )));
        }
        Ok(cur)
    }
}

/// Stored document `d` with its application references as names.
fn named<T: Document>(ix: &AppIndex, mut d: Stored<T>) -> Stored<T> {
    ix.to_names(&mut d.spec);
    d
}

fn row<T: DeserializeOwned>(k: Kind, r: &AnyRow) -> Result<Stored<T>> {
    let spec: T = serde_json::from_str(&r.try_get::<String, _>("spec")?)
        .map_err(|e| StoreError::Conflict(format!("stored {} is unreadable: {e}", k.noun)))?;
    Ok(Stored {
        id: r.try_get("id")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        spec,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a document named `name`.
    ///
    /// Errors: `Conflict` when the name is taken.
    pub(crate) async fn spec_create<T: Serialize + DeserializeOwned>(
        &self,
        k: Kind,
        tenant: &str,
        name: &str,
        spec: &T,
    ) -> Result<Stored<T>> {
        let id = crate::new_id();
        let mut tx = self.begin().await?;
        sqlx::query(dynsql!(
            "INSERT INTO {} (id, tenant_id, name, enabled, spec, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$6)",
            k.table
        ))
        .bind(&id)
        .bind(tenant)
        .bind(name.trim())
        .bind(i64::from(k.enabled_on_create))
        .bind(serde_json::to_string(spec).unwrap_or_default())
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(|e| dup(k, name, e))?;
        tx.commit().await?;
        self.spec_get(k, tenant, &id).await
    }

    /// Replaces a document (and its name).
    ///
    /// Errors: `NotFound`, `Conflict` (name taken).
    pub(crate) async fn spec_update<T: Serialize + DeserializeOwned>(
        &self,
        k: Kind,
        tenant: &str,
        id: &str,
        name: &str,
        spec: &T,
    ) -> Result<Stored<T>> {
        let cur: Stored<serde_json::Value> = self.spec_get(k, tenant, id).await?;
        let q = sqlx::query(dynsql!(
            "UPDATE {} SET name = $1, spec = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
            k.table
        ))
        .bind(name.trim().to_string())
        .bind(serde_json::to_string(spec).unwrap_or_default())
        .bind(self.now())
        .bind(tenant)
        .bind(cur.id.clone());
        let r = q.execute(&self.pool).await.map_err(|e| dup(k, name, e))?;
        if r.rows_affected() == 0 {
            return Err(StoreError::not_found(k.noun, id));
        }
        self.spec_get(k, tenant, &cur.id).await
    }

    /// One document by id or name. Errors: `NotFound`.
    pub(crate) async fn spec_get<T: DeserializeOwned>(
        &self,
        k: Kind,
        tenant: &str,
        id_or_name: &str,
    ) -> Result<Stored<T>> {
        let r = sqlx::query(dynsql!(
            "SELECT id, enabled, spec, created_at, updated_at FROM {} WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
            k.table
        ))
        .bind(tenant)
        .bind(id_or_name)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(|r| row(k, r))
            .transpose()?
            .ok_or_else(|| StoreError::not_found(k.noun, id_or_name))
    }

    /// Documents of a tenant by name; `name_like` filters by a substring
    /// (case-insensitive), `only_enabled` keeps the enabled ones.
    pub(crate) async fn spec_list<T: DeserializeOwned>(
        &self,
        k: Kind,
        tenant: &str,
        name_like: Option<&str>,
        only_enabled: bool,
    ) -> Result<Vec<Stored<T>>> {
        let pattern = format!(
            "%{}%",
            name_like
                .unwrap_or("")
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(dynsql!(
            "SELECT id, enabled, spec, created_at, updated_at FROM {} WHERE tenant_id = $1 \
             AND LOWER(name) LIKE $2 ESCAPE '\\' AND enabled >= $3 ORDER BY name",
            k.table
        ))
        .bind(tenant)
        .bind(pattern)
        .bind(i64::from(only_enabled))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| row(k, r)).collect()
    }

    /// Enables or disables a document. Errors: `NotFound`.
    pub(crate) async fn spec_set_enabled(
        &self,
        k: Kind,
        tenant: &str,
        id: &str,
        enabled: bool,
    ) -> Result<()> {
        let cur: Stored<serde_json::Value> = self.spec_get(k, tenant, id).await?;
        self.write_one(
            sqlx::query(dynsql!(
                "UPDATE {} SET enabled = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
                k.table
            ))
            .bind(i64::from(enabled))
            .bind(self.now())
            .bind(tenant)
            .bind(cur.id.clone()),
            k.noun,
            &cur.id,
        )
        .await
    }

    /// Deletes a document. Errors: `NotFound`.
    pub(crate) async fn spec_delete(&self, k: Kind, tenant: &str, id: &str) -> Result<()> {
        let cur: Stored<serde_json::Value> = self.spec_get(k, tenant, id).await?;
        self.write_one(
            sqlx::query(dynsql!(
                "DELETE FROM {} WHERE tenant_id = $1 AND id = $2",
                k.table
            ))
            .bind(tenant)
            .bind(cur.id.clone()),
            k.noun,
            &cur.id,
        )
        .await
    }
}

fn dup(k: Kind, name: &str, e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(format!(
            "a {} named '{}' already exists",
            k.noun,
            name.trim()
        ))
    } else {
        e.into()
    }
}
