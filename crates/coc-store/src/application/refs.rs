//! Application references (R6, decision 0022): the [`AppIndex`] that
//! turns the names definitions are given in into the ids they are stored
//! with and back, and migration 0032's adoption of free-text names.

use std::collections::HashMap;

use coc_domain::DomainError;
use coc_domain::application::{AppRefs, ApplicationSpec, map_app_refs};

use crate::{Result, Store, StoreError};

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
        let mut conn = self.reader().acquire().await?;
        AppIndex::load(&mut conn, tenant).await
    }
}

/// How a stored document names applications (migration 0032).
#[derive(Clone, Copy)]
pub(super) enum RefShape {
    /// A name at the pointer (or null).
    One,
    /// An array of names at the pointer.
    Many,
    /// An array of objects at the pointer, each naming one as `application`.
    Objects,
}

/// Where stored documents name applications: table, JSON pointer, shape,
/// and the noun of what the table holds.
pub(super) const DOC_REFS: &[(&str, &str, RefShape, &str)] = &[
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
