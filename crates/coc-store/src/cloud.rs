//! Cloud accounts (R2; ref. 3.1.1 "Synchronizing Resources"): stored
//! definitions with their password encrypted apart, the synchronization
//! schedule (a due time claimed by one replica), and what a
//! synchronization found applied to the inventory in one transaction.
//! What a valid account is and what a server becomes is
//! [`coc_domain::cloud`]'s.

use coc_domain::DomainError;
use coc_domain::cloud::{Addressed, CloudAccountSpec, CloudServer, found, link_hosts};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::resource::catalog::{Source, sync_found};
use crate::{Result, Store, StoreError, is_unique_violation};

/// A stored cloud account, as answered: never its password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CloudAccount {
    /// Record id.
    pub id: String,
    /// The account (its `password` left out).
    #[serde(flatten)]
    pub spec: CloudAccountSpec,
    /// When it synchronizes next, Unix ms; none: only when asked.
    pub next_sync_at: Option<i64>,
    /// When it last synchronized (or tried), Unix ms.
    pub last_sync_at: Option<i64>,
    /// How that went: `3 servers: 1 added, 0 changed, 0 vanished`, or why
    /// it failed.
    pub last_outcome: Option<String>,
    /// Cloud servers of the account in the inventory (not vanished).
    pub servers: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// What one synchronization did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SyncOutcome {
    /// Servers the provider listed.
    pub servers: usize,
    /// Resources added.
    pub added: usize,
    /// Resources changed (or back after vanishing).
    pub changed: usize,
    /// Resources marked vanished (no longer listed).
    pub vanished: usize,
}

impl std::fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} servers: {} added, {} changed, {} vanished",
            self.servers, self.added, self.changed, self.vanished
        )
    }
}

const COLS: &str = "c.id, c.spec, c.next_sync_at, c.last_sync_at, c.last_outcome, c.created_at, c.updated_at, \
    (SELECT COUNT(*) FROM resources r WHERE r.cloud_account_id = c.id AND r.vanished_at IS NULL) AS servers";

fn row(r: &AnyRow) -> Result<CloudAccount> {
    let spec: String = r.try_get("spec")?;
    Ok(CloudAccount {
        id: r.try_get("id")?,
        spec: serde_json::from_str(&spec)
            .map_err(|e| StoreError::Conflict(format!("stored cloud account: {e}")))?,
        next_sync_at: r.try_get("next_sync_at")?,
        last_sync_at: r.try_get("last_sync_at")?,
        last_outcome: r.try_get("last_outcome")?,
        servers: r.try_get("servers")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn duplicate(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a cloud account named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

/// `spec` as stored: without its password.
fn without_password(spec: &CloudAccountSpec) -> String {
    let mut s = spec.clone();
    s.password = None;
    serde_json::to_string(&s).unwrap_or_default()
}

impl Store {
    /// Stores a new account; its first synchronization is due at once
    /// (unless it synchronizes only when asked).
    ///
    /// Errors: `Domain(Validation)` (see [`CloudAccountSpec::normalized`];
    /// the password is required); `Conflict` for a name already taken.
    pub async fn create_cloud_account(
        &self,
        tenant: &str,
        spec: &CloudAccountSpec,
    ) -> Result<CloudAccount> {
        let spec = spec.normalized()?;
        let Some(password) = spec
            .password
            .as_deref()
            .filter(|p| *p != crate::secret::MASK)
        else {
            return Err(DomainError::Validation("password is required".into()).into());
        };
        let id = crate::new_id();
        let now = self.now();
        sqlx::query(
            "INSERT INTO cloud_accounts (id, tenant_id, name, spec, secret, next_sync_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&spec.name)
        .bind(without_password(&spec))
        .bind(self.keyring.encrypt(password))
        .bind((spec.sync_minutes > 0).then_some(now))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(duplicate(&spec.name))?;
        self.get_cloud_account(tenant, &id).await
    }

    /// Replaces account `id` (id or name). A password left out (or given
    /// as the mask) keeps the stored one. The next synchronization moves
    /// to the new interval from the last one.
    ///
    /// Errors: `NotFound`; as [`Store::create_cloud_account`].
    pub async fn update_cloud_account(
        &self,
        tenant: &str,
        id: &str,
        spec: &CloudAccountSpec,
    ) -> Result<CloudAccount> {
        let cur = self.get_cloud_account(tenant, id).await?;
        let spec = spec.normalized()?;
        let secret = spec
            .password
            .as_deref()
            .filter(|p| *p != crate::secret::MASK)
            .map(|p| self.keyring.encrypt(p));
        let next = spec.next_sync(cur.last_sync_at.unwrap_or_else(|| self.now()));
        sqlx::query(
            "UPDATE cloud_accounts SET name = $1, spec = $2, secret = COALESCE($3, secret), next_sync_at = $4, \
             updated_at = $5 WHERE tenant_id = $6 AND id = $7",
        )
        .bind(&spec.name)
        .bind(without_password(&spec))
        .bind(secret)
        .bind(next)
        .bind(self.now())
        .bind(tenant)
        .bind(&cur.id)
        .execute(&self.pool)
        .await
        .map_err(duplicate(&spec.name))?;
        self.get_cloud_account(tenant, &cur.id).await
    }

    /// Deletes account `id` (id or name) and the cloud servers it brought
    /// into the inventory, in one transaction. Errors: `NotFound`.
    pub async fn delete_cloud_account(&self, tenant: &str, id: &str) -> Result<()> {
        let cur = self.get_cloud_account(tenant, id).await?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM resources WHERE tenant_id = $1 AND cloud_account_id = $2")
            .bind(tenant)
            .bind(&cur.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM cloud_accounts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(&cur.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One account, by id or name. Errors: `NotFound`.
    pub async fn get_cloud_account(&self, tenant: &str, id: &str) -> Result<CloudAccount> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM cloud_accounts c WHERE c.tenant_id = $1 AND (c.id = $2 OR c.name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("cloud account", id))
    }

    /// The tenant's accounts, by name.
    pub async fn list_cloud_accounts(&self, tenant: &str) -> Result<Vec<CloudAccount>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM cloud_accounts c WHERE c.tenant_id = $1 ORDER BY c.name"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// Account `id` with its password decrypted, for the synchronization
    /// only. Errors: `NotFound`; a password that no longer decrypts.
    pub async fn cloud_credentials(&self, tenant: &str, id: &str) -> Result<CloudAccountSpec> {
        let r = sqlx::query(
            "SELECT spec, secret FROM cloud_accounts WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("cloud account", id))?;
        let mut spec: CloudAccountSpec = serde_json::from_str(&r.try_get::<String, _>("spec")?)
            .map_err(|e| StoreError::Conflict(format!("stored cloud account: {e}")))?;
        spec.password = Some(self.keyring.decrypt(&r.try_get::<String, _>("secret")?)?);
        Ok(spec)
    }

    /// Accounts whose synchronization is due at `now` (Unix ms), as
    /// (tenant, id, due time), the most overdue first, at most 20.
    pub async fn due_cloud_accounts(&self, now: i64) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT tenant_id, id, next_sync_at FROM cloud_accounts \
             WHERE next_sync_at IS NOT NULL AND next_sync_at <= $1 ORDER BY next_sync_at LIMIT 20",
        )
        .bind(now)
        .fetch_all(self.reader())
        .await?)
    }

    /// Claims the synchronization of account `id` due at `due`: moves its
    /// due time to `until` (a lease: a replica that dies mid-way leaves it
    /// to be claimed again then) only if no other replica moved it first.
    /// `true`: this caller synchronizes.
    pub async fn claim_cloud_sync(&self, id: &str, due: i64, until: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cloud_accounts SET next_sync_at = $1 WHERE id = $2 AND next_sync_at = $3",
        )
        .bind(until)
        .bind(id)
        .bind(due)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Applies what account `id` listed at `now` (Unix ms) to the
    /// inventory in one transaction ([`coc_domain::cloud::found`], then
    /// [`coc_domain::resource::catalog::reconcile`]): new servers added as
    /// cloud servers, changed ones updated, unlisted ones marked vanished;
    /// records the outcome and the next due time.
    ///
    /// Errors: `NotFound`; `Domain(Validation)` for more servers than are
    /// taken in (nothing changes).
    pub async fn apply_cloud_sync(
        &self,
        tenant: &str,
        id: &str,
        servers: &[CloudServer],
        now: i64,
    ) -> Result<SyncOutcome> {
        let cur = self.get_cloud_account(tenant, id).await?;
        let found = found(&cur.spec.name, servers)?;
        let mut tx = self.begin().await?;
        let (added, changed, vanished) =
            sync_found(&mut tx, tenant, Source::Cloud(&cur.id), found, now).await?;
        link_cloud_servers(&mut tx, tenant).await?;
        let outcome = SyncOutcome {
            servers: servers.len(),
            added,
            changed,
            vanished,
        };
        self.record_sync(&mut tx, &cur, &outcome.to_string(), now)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records a failed synchronization of account `id` at `now`: `why`
    /// (never a secret: the adapter's errors name the step and the status)
    /// and the next due time. The inventory is left as it was.
    ///
    /// Errors: `NotFound`.
    pub async fn record_cloud_failure(
        &self,
        tenant: &str,
        id: &str,
        why: &str,
        now: i64,
    ) -> Result<()> {
        let cur = self.get_cloud_account(tenant, id).await?;
        let mut tx = self.begin().await?;
        let why: String = format!("failed: {why}").chars().take(500).collect();
        self.record_sync(&mut tx, &cur, &why, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_sync(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        cur: &CloudAccount,
        outcome: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE cloud_accounts SET last_sync_at = $1, last_outcome = $2, next_sync_at = $3 WHERE id = $4",
        )
        .bind(now)
        .bind(outcome)
        .bind(cur.spec.next_sync(now))
        .bind(&cur.id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Links the tenant's cloud servers to the agent hosts they are
/// ([`link_hosts`]), in `tx`: a linked server's status is its host's agent
/// status; one whose host is gone (or ambiguous) is linked to none.
/// Called after a synchronization and when an agent reports its host's
/// addresses.
pub(crate) async fn link_cloud_servers(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
) -> Result<()> {
    // Most tenants have no cloud account: one indexed look, and done.
    let any: Option<String> =
        sqlx::query_scalar("SELECT id FROM cloud_accounts WHERE tenant_id = $1 LIMIT 1")
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await?;
    if any.is_none() {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT id, name, attributes, host_id FROM resources WHERE tenant_id = $1 AND origin = $2",
    )
    .bind(tenant)
    .bind(coc_domain::resource::catalog::Origin::Cloud.as_str())
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut servers = Vec::with_capacity(rows.len());
    let mut linked = std::collections::HashMap::new();
    for r in &rows {
        let attributes: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&r.try_get::<String, _>("attributes")?).unwrap_or_default();
        let id: String = r.try_get("id")?;
        linked.insert(id.clone(), r.try_get::<Option<String>, _>("host_id")?);
        servers.push(Addressed {
            id,
            name: r.try_get("name")?,
            addresses: attributes
                .get("addresses")
                .map(|a| a.split(',').map(|x| x.trim().to_string()).collect())
                .unwrap_or_default(),
        });
    }
    let hosts: Vec<Addressed> =
        sqlx::query("SELECT id, hostname, ips FROM hosts WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|h| {
                Ok(Addressed {
                    id: h.try_get("id")?,
                    name: h.try_get("hostname")?,
                    addresses: serde_json::from_str(&h.try_get::<String, _>("ips")?)
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<_>>()?;
    for (server, host) in link_hosts(&servers, &hosts) {
        if linked.get(&server) != Some(&host) {
            sqlx::query("UPDATE resources SET host_id = $1 WHERE id = $2")
                .bind(host)
                .bind(&server)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}
