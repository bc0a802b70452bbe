//! Access (A1, A2, A4): tenants, users, groups, policies and their
//! attachments, API tokens, and the bootstrap of the first admin.
//!
//! Passwords are argon2id hashes; API tokens are stored as SHA-256 hashes
//! and shown once. System policies (`COC FullAccess`, `COC ReadOnlyAccess`)
//! exist in every tenant and cannot be changed.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use coc_domain::access::{
    NamedPolicy, PolicyDocument, parse_policy, system_policies, validate_policy,
};
use coc_domain::error::invalid;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Store, StoreError, is_unique_violation};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// Tenant the caller belongs to; every query is scoped to it.
    pub tenant: String,
    /// User id.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// Names of the user's groups.
    pub groups: Vec<String>,
    /// Token used, if any.
    pub token_id: Option<String>,
    /// The request came from an address this token was not used from before.
    pub new_ip: bool,
}

/// A user as shown by the API (never with its password hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: String,
    /// Login name (unique per tenant).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Disabled users cannot log in or use tokens.
    pub enabled: bool,
    /// Group names.
    pub groups: Vec<String>,
    /// Names of policies attached to the user directly.
    pub policies: Vec<String>,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// A group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Group {
    /// Id.
    pub id: String,
    /// Name (unique per tenant).
    pub name: String,
    /// Description.
    pub description: String,
    /// Member user names.
    pub members: Vec<String>,
    /// Attached policy names.
    pub policies: Vec<String>,
}

/// A stored policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Policy {
    /// Id.
    pub id: String,
    /// Name (unique per tenant).
    pub name: String,
    /// Description.
    pub description: String,
    /// The document.
    pub document: PolicyDocument,
    /// System policies cannot be modified or deleted.
    pub system: bool,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// An API token (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ApiToken {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner user name.
    pub user: String,
    /// Last 4 characters.
    pub hint: String,
    /// Expiry, Unix ms (`None`: never).
    pub expires_at: Option<i64>,
    /// Revocation time, Unix ms.
    pub revoked_at: Option<i64>,
    /// Last use, Unix ms.
    pub last_used_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// A freshly created token with its secret (shown once).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// The token.
    #[serde(flatten)]
    pub token: ApiToken,
    /// The bearer secret.
    pub secret: String,
}

/// What the first start prints once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    /// The generated admin password, if the admin was created just now
    /// without a given password.
    pub generated_password: Option<String>,
}

/// The hash a sign-in with an unknown user name (or a user without a
/// password) is checked against: of a random password, made once.
fn stand_in_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

/// Addresses remembered per API token (the most recently used).
pub const MAX_TOKEN_ADDRESSES: usize = 100;

fn hash_password(pw: &str) -> Result<String> {
    if pw.chars().count() < 8 {
        return Err(invalid("a password needs at least 8 characters").into());
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| StoreError::Conflict(format!("cannot salt the password: {e}")))?;
    argon2::Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Conflict(format!("cannot hash the password: {e}")))
}

fn token_hash(secret: &str) -> String {
    crate::integration::hash_key(secret)
}

fn check_name(what: &str, n: &str) -> Result<()> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} name must be 1 to 64 of letters, digits, '.', '_', '-', '@'"
        ))
        .into())
    }
}

fn dup<'a>(what: &'static str, name: &'a str) -> impl Fn(sqlx::Error) -> StoreError + 'a {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a {what} named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

/// Name of the user created at first start.
pub const ADMIN_USER: &str = "admin";

impl Store {
    /// Creates what a tenant needs: the tenant row and its system policies
    /// (idempotent).
    pub async fn ensure_tenant(&self, tenant: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(tenant)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for p in system_policies() {
            sqlx::query(
                "INSERT INTO policies (id, tenant_id, name, description, document, system, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,1,$6,$6) ON CONFLICT (tenant_id, name) DO NOTHING",
            )
            .bind(crate::new_id())
            .bind(tenant)
            .bind(&p.name)
            .bind("system policy")
            .bind(serde_json::to_string(&p.doc).unwrap_or_default())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.ensure_common_slas(tenant).await?;
        self.ensure_system_scripts(tenant).await?;
        self.ensure_default_baselines(tenant).await?;
        self.ensure_system_jobs(tenant).await
    }

    /// Names of all tenants.
    pub async fn list_tenants(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM tenants ORDER BY name")
            .fetch_all(self.reader())
            .await?)
    }

    /// First start of a tenant: system policies, the `admin` user with
    /// `COC FullAccess` (password given, or generated and returned once),
    /// and `admin_token` registered as one of admin's API tokens.
    pub async fn bootstrap(
        &self,
        tenant: &str,
        admin_token: &str,
        admin_password: Option<&str>,
    ) -> Result<Bootstrap> {
        // Made now, so the first sign-in with an unknown name takes no longer.
        tokio::task::spawn_blocking(stand_in_hash).await.ok();
        self.ensure_tenant(tenant).await?;
        let mut generated = None;
        let admin = match self.user_id(tenant, ADMIN_USER).await {
            Ok(id) => id,
            Err(StoreError::NotFound { .. }) => {
                let pw = match admin_password {
                    Some(p) => p.to_string(),
                    None => {
                        let p = hex::encode(rand::random::<[u8; 12]>());
                        generated = Some(p.clone());
                        p
                    }
                };
                let u = self
                    .create_user(tenant, ADMIN_USER, "Administrator", Some(&pw))
                    .await?;
                self.attach_policy(tenant, "COC FullAccess", "user", ADMIN_USER)
                    .await?;
                u.id
            }
            Err(e) => return Err(e),
        };
        let known: Option<String> =
            sqlx::query_scalar("SELECT id FROM api_tokens WHERE token_hash = $1")
                .bind(token_hash(admin_token))
                .fetch_optional(self.reader())
                .await?;
        if known.is_none() {
            self.insert_token(tenant, &admin, "admin.token", admin_token, None)
                .await?;
        }
        Ok(Bootstrap {
            generated_password: generated,
        })
    }

    async fn user_id(&self, tenant: &str, name: &str) -> Result<String> {
        sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND (name = $2 OR id = $2)")
            .bind(tenant)
            .bind(name)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::not_found("user", name))
    }

    /// Creates a user. Errors: `Domain(Validation)` (name, password < 8
    /// chars), `Conflict` (name taken).
    pub async fn create_user(
        &self,
        tenant: &str,
        name: &str,
        display_name: &str,
        password: Option<&str>,
    ) -> Result<User> {
        check_name("user", name)?;
        let hash = password.map(hash_password).transpose()?;
        let now = self.now();
        let id = crate::new_id();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, name, display_name, password_hash, enabled, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,1,$6,$6)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(name)
        .bind(display_name)
        .bind(hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(dup("user", name))?;
        tx.commit().await?;
        self.get_user(tenant, &id).await
    }

    /// One user by id or name. Errors: `NotFound`.
    pub async fn get_user(&self, tenant: &str, id_or_name: &str) -> Result<User> {
        let r = sqlx::query(
            "SELECT id, name, display_name, enabled, created_at FROM users WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
        )
        .bind(tenant)
        .bind(id_or_name)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("user", id_or_name))?;
        let id: String = r.try_get("id")?;
        let groups = sqlx::query_scalar(
            "SELECT g.name FROM user_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(&id)
        .fetch_all(self.reader())
        .await?;
        let policies = self.attached(&id, "user").await?;
        Ok(User {
            id,
            name: r.try_get("name")?,
            display_name: r.try_get("display_name")?,
            enabled: r.try_get::<i64, _>("enabled")? != 0,
            groups,
            policies,
            created_at: r.try_get("created_at")?,
        })
    }

    async fn attached(&self, principal_id: &str, kind: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT p.name FROM policies p JOIN policy_attachments a ON a.policy_id = p.id \
             WHERE a.principal_type = $1 AND a.principal_id = $2 ORDER BY p.name",
        )
        .bind(kind)
        .bind(principal_id)
        .fetch_all(self.reader())
        .await?)
    }

    /// All users of a tenant, by name.
    pub async fn list_users(&self, tenant: &str) -> Result<Vec<User>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant)
                .fetch_all(self.reader())
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get_user(tenant, &id).await?);
        }
        Ok(out)
    }

    /// Checks a password (for login). `None` when the user does not exist,
    /// is disabled, or the password is wrong — the caller cannot tell which.
    pub async fn verify_password(
        &self,
        tenant: &str,
        name: &str,
        password: &str,
    ) -> Result<Option<User>> {
        let r = sqlx::query(
            "SELECT id, password_hash, enabled FROM users WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_optional(self.reader())
        .await?;
        let (id, hash, enabled) = match &r {
            Some(r) => (
                Some(r.try_get::<String, _>("id")?),
                r.try_get::<Option<String>, _>("password_hash")?,
                r.try_get::<i64, _>("enabled")? != 0,
            ),
            None => (None, None, false),
        };
        // The same work whether the user exists or not (a hash of a random
        // password stands in), off the async workers: the answer's time
        // does not tell which user names exist.
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            let h = hash.unwrap_or_else(|| stand_in_hash().to_string());
            PasswordHash::new(&h).is_ok_and(|p| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &p)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        let Some(id) = id.filter(|_| ok && enabled) else {
            return Ok(None);
        };
        Ok(Some(self.get_user(tenant, &id).await?))
    }

    /// Creates a group. Errors: `Domain(Validation)`, `Conflict`.
    pub async fn create_group(&self, tenant: &str, name: &str, description: &str) -> Result<Group> {
        check_name("group", name)?;
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO user_groups (id, tenant_id, name, description, created_at) VALUES ($1,$2,$3,$4,$5)")
            .bind(crate::new_id())
            .bind(tenant)
            .bind(name)
            .bind(description)
            .bind(self.now())
            .execute(&mut *tx)
            .await
            .map_err(dup("group", name))?;
        tx.commit().await?;
        self.get_group(tenant, name).await
    }

    /// One group by id or name. Errors: `NotFound`.
    pub async fn get_group(&self, tenant: &str, id_or_name: &str) -> Result<Group> {
        let r = sqlx::query("SELECT id, name, description FROM user_groups WHERE tenant_id = $1 AND (id = $2 OR name = $2)")
            .bind(tenant)
            .bind(id_or_name)
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| StoreError::not_found("group", id_or_name))?;
        let id: String = r.try_get("id")?;
        let members = sqlx::query_scalar(
            "SELECT u.name FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1 ORDER BY u.name",
        )
        .bind(&id)
        .fetch_all(self.reader())
        .await?;
        let policies = self.attached(&id, "group").await?;
        Ok(Group {
            id,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            members,
            policies,
        })
    }

    /// All groups of a tenant.
    pub async fn list_groups(&self, tenant: &str) -> Result<Vec<Group>> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM user_groups WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant)
                .fetch_all(self.reader())
                .await?;
        let mut out = Vec::new();
        for n in names {
            out.push(self.get_group(tenant, &n).await?);
        }
        Ok(out)
    }

    /// Adds (`add = true`) or removes a user from a group (idempotent).
    /// Errors: `NotFound` for an unknown user or group.
    pub async fn set_membership(
        &self,
        tenant: &str,
        group: &str,
        user: &str,
        add: bool,
    ) -> Result<Group> {
        let g = self.get_group(tenant, group).await?;
        let u = self.user_id(tenant, user).await?;
        let mut tx = self.begin().await?;
        let q = if add {
            "INSERT INTO group_members (group_id, user_id, tenant_id) VALUES ($1,$2,$3) ON CONFLICT (group_id, user_id) DO NOTHING"
        } else {
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 AND tenant_id = $3"
        };
        sqlx::query(q)
            .bind(&g.id)
            .bind(&u)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get_group(tenant, &g.id).await
    }

    /// Creates a custom policy from its JSON text.
    ///
    /// Errors: `Domain(Validation)` with the position of the error,
    /// `Conflict` for a taken name.
    pub async fn create_policy(
        &self,
        tenant: &str,
        name: &str,
        description: &str,
        document: &str,
    ) -> Result<Policy> {
        let n = name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("policy name must have 1 to 64 characters").into());
        }
        let doc = parse_policy(document)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO policies (id, tenant_id, name, description, document, system, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,0,$6,$6)",
        )
        .bind(crate::new_id())
        .bind(tenant)
        .bind(name.trim())
        .bind(description)
        .bind(serde_json::to_string(&doc).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(dup("policy", name))?;
        tx.commit().await?;
        self.get_policy(tenant, name.trim()).await
    }

    /// Replaces a custom policy's document. Errors: `NotFound`,
    /// `Domain(Validation)`, `Domain(InvalidTransition)` for a system policy.
    pub async fn update_policy(
        &self,
        tenant: &str,
        id_or_name: &str,
        document: &str,
    ) -> Result<Policy> {
        let p = self.get_policy(tenant, id_or_name).await?;
        if p.system {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "system policy '{}' cannot be changed",
                p.name
            ))
            .into());
        }
        let doc = parse_policy(document)?;
        self.write_one(
            sqlx::query("UPDATE policies SET document = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
                .bind(serde_json::to_string(&doc).unwrap_or_default())
                .bind(self.now())
                .bind(tenant)
                .bind(p.id.clone()),
            "policy",
            &p.id,
        )
        .await?;
        self.get_policy(tenant, &p.id).await
    }

    /// Deletes a custom policy and its attachments. Errors: `NotFound`,
    /// `Domain(InvalidTransition)` for a system policy.
    pub async fn delete_policy(&self, tenant: &str, id_or_name: &str) -> Result<()> {
        let p = self.get_policy(tenant, id_or_name).await?;
        if p.system {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "system policy '{}' cannot be deleted",
                p.name
            ))
            .into());
        }
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM policy_attachments WHERE policy_id = $1")
            .bind(&p.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(&p.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One policy by id or name. Errors: `NotFound`.
    pub async fn get_policy(&self, tenant: &str, id_or_name: &str) -> Result<Policy> {
        let r = sqlx::query(
            "SELECT id, name, description, document, system, created_at FROM policies \
             WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
        )
        .bind(tenant)
        .bind(id_or_name)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("policy", id_or_name))?;
        let doc: PolicyDocument = serde_json::from_str(&r.try_get::<String, _>("document")?)
            .map_err(|e| StoreError::Conflict(format!("stored policy is unreadable: {e}")))?;
        validate_policy(&doc)?;
        Ok(Policy {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            description: r.try_get("description")?,
            document: doc,
            system: r.try_get::<i64, _>("system")? != 0,
            created_at: r.try_get("created_at")?,
        })
    }

    /// All policies of a tenant (system ones first).
    pub async fn list_policies(&self, tenant: &str) -> Result<Vec<Policy>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM policies WHERE tenant_id = $1 ORDER BY system DESC, name",
        )
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.get_policy(tenant, &id).await?);
        }
        Ok(out)
    }

    /// Attaches a policy to a user or group (`kind` = `user` | `group`),
    /// idempotently. Errors: `NotFound`, `Domain(Validation)` for a bad kind.
    pub async fn attach_policy(
        &self,
        tenant: &str,
        policy: &str,
        kind: &str,
        principal: &str,
    ) -> Result<()> {
        let (p, id) = self
            .attachment_target(tenant, policy, kind, principal)
            .await?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO policy_attachments (policy_id, principal_type, principal_id, tenant_id, created_at) \
             VALUES ($1,$2,$3,$4,$5) ON CONFLICT (policy_id, principal_type, principal_id) DO NOTHING",
        )
        .bind(&p)
        .bind(kind)
        .bind(&id)
        .bind(tenant)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Detaches a policy (idempotent). Errors as [`Store::attach_policy`].
    pub async fn detach_policy(
        &self,
        tenant: &str,
        policy: &str,
        kind: &str,
        principal: &str,
    ) -> Result<()> {
        let (p, id) = self
            .attachment_target(tenant, policy, kind, principal)
            .await?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM policy_attachments WHERE policy_id = $1 AND principal_type = $2 AND principal_id = $3")
            .bind(&p)
            .bind(kind)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attachment_target(
        &self,
        tenant: &str,
        policy: &str,
        kind: &str,
        principal: &str,
    ) -> Result<(String, String)> {
        let p = self.get_policy(tenant, policy).await?.id;
        let id = match kind {
            "user" => self.user_id(tenant, principal).await?,
            "group" => self.get_group(tenant, principal).await?.id,
            _ => return Err(invalid(format!("attach to 'user' or 'group', not '{kind}'")).into()),
        };
        Ok((p, id))
    }

    /// Every policy that applies to a user: attached to the user or to one
    /// of the user's groups.
    pub async fn policies_for(&self, tenant: &str, user_id: &str) -> Result<Vec<NamedPolicy>> {
        let rows = sqlx::query(
            "SELECT DISTINCT p.name, p.document FROM policies p JOIN policy_attachments a ON a.policy_id = p.id \
             WHERE p.tenant_id = $1 AND ((a.principal_type = 'user' AND a.principal_id = $2) \
             OR (a.principal_type = 'group' AND a.principal_id IN (SELECT group_id FROM group_members WHERE user_id = $2))) \
             ORDER BY p.name",
        )
        .bind(tenant)
        .bind(user_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let doc =
                    serde_json::from_str(&r.try_get::<String, _>("document")?).map_err(|e| {
                        StoreError::Conflict(format!("stored policy is unreadable: {e}"))
                    })?;
                Ok(NamedPolicy {
                    name: r.try_get("name")?,
                    doc,
                })
            })
            .collect()
    }

    async fn insert_token(
        &self,
        tenant: &str,
        user_id: &str,
        name: &str,
        secret: &str,
        expires_at: Option<i64>,
    ) -> Result<String> {
        let id = crate::new_id();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, hint, expires_at, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(user_id)
        .bind(name)
        .bind(token_hash(secret))
        .bind(&secret[secret.len().saturating_sub(4)..])
        .bind(expires_at)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Creates a personal API token for `user`, valid until `expires_at`
    /// (Unix ms, in the future) or forever. The secret is returned once.
    ///
    /// Errors: `NotFound`, `Domain(Validation)` (name, expiry in the past).
    pub async fn create_token(
        &self,
        tenant: &str,
        user: &str,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<NewToken> {
        let n = name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("token name must have 1 to 64 characters").into());
        }
        if expires_at.is_some_and(|e| e <= self.now()) {
            return Err(invalid("the expiry must be in the future").into());
        }
        let uid = self.user_id(tenant, user).await?;
        let secret = format!("coc_{}", hex::encode(rand::random::<[u8; 24]>()));
        let id = self
            .insert_token(tenant, &uid, name.trim(), &secret, expires_at)
            .await?;
        let token = self
            .list_tokens(tenant, None)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| StoreError::not_found("token", &id))?;
        Ok(NewToken { token, secret })
    }

    /// Starts a browser session for a user: a token named `session` valid
    /// for `ttl_ms`. Returns the secret and its expiry (Unix ms).
    pub async fn create_session(
        &self,
        tenant: &str,
        user_id: &str,
        ttl_ms: i64,
    ) -> Result<(String, i64)> {
        let secret = format!("cocs_{}", hex::encode(rand::random::<[u8; 24]>()));
        let expires = self.now() + ttl_ms;
        self.insert_token(tenant, user_id, "session", &secret, Some(expires))
            .await?;
        Ok((secret, expires))
    }

    /// Ends a session (or any token) by its secret; unknown secrets are ignored.
    pub async fn revoke_secret(&self, secret: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(self.now())
        .bind(token_hash(secret))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tokens of a tenant, or of one user.
    pub async fn list_tokens(&self, tenant: &str, user: Option<&str>) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, u.name AS user_name, t.hint, t.expires_at, t.revoked_at, t.last_used_at, t.created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.tenant_id = $1 AND ($2 = '' OR u.name = $2) \
             ORDER BY t.created_at",
        )
        .bind(tenant)
        .bind(user.unwrap_or(""))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiToken {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    user: r.try_get("user_name")?,
                    hint: r.try_get("hint")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Revokes a token at once. Errors: `NotFound`.
    pub async fn revoke_token(&self, tenant: &str, id: &str) -> Result<()> {
        self.write_one(
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(self.now())
                .bind(tenant)
                .bind(id),
            "token",
            id,
        )
        .await
    }

    /// Resolves a bearer secret to its principal; `None` for an unknown,
    /// expired or revoked token, or a disabled user. Records the use (at
    /// most once a minute per token unless the address changes).
    pub async fn authenticate_token(
        &self,
        secret: &str,
        source_ip: Option<&str>,
    ) -> Result<Option<Principal>> {
        let r = sqlx::query(
            "SELECT t.id, t.tenant_id, t.user_id, t.expires_at, t.revoked_at, t.last_used_at, t.last_ip, u.name, u.enabled \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
        )
        .bind(token_hash(secret))
        .fetch_optional(self.reader())
        .await?;
        let Some(r) = r else { return Ok(None) };
        let now = self.now();
        let expires: Option<i64> = r.try_get("expires_at")?;
        let revoked: Option<i64> = r.try_get("revoked_at")?;
        if revoked.is_some()
            || expires.is_some_and(|e| e <= now)
            || r.try_get::<i64, _>("enabled")? == 0
        {
            return Ok(None);
        }
        let token_id: String = r.try_get("id")?;
        let last_used: Option<i64> = r.try_get("last_used_at")?;
        let last_ip: Option<String> = r.try_get("last_ip")?;
        // A new address is one this token was never used from (of the
        // last [`MAX_TOKEN_ADDRESSES`]), not a change between known ones.
        let seen: Option<i64> = match source_ip {
            Some(ip) => {
                sqlx::query_scalar(
                    "SELECT last_seen_at FROM token_addresses WHERE token_id = $1 AND ip = $2",
                )
                .bind(&token_id)
                .bind(ip)
                .fetch_optional(self.reader())
                .await?
            }
            None => None,
        };
        let first_use = last_ip.is_none() && last_used.is_none();
        let new_ip = source_ip.is_some() && seen.is_none() && !first_use;
        let stale = |t: Option<i64>| t.is_none_or(|t| now - t > 60_000);
        if source_ip.is_some() && stale(seen) || last_ip.as_deref() != source_ip || stale(last_used)
        {
            let mut tx = self.begin().await?;
            sqlx::query("UPDATE api_tokens SET last_used_at = $1, last_ip = $2 WHERE id = $3")
                .bind(now)
                .bind(source_ip)
                .bind(&token_id)
                .execute(&mut *tx)
                .await?;
            if let Some(ip) = source_ip {
                sqlx::query(
                    "INSERT INTO token_addresses (token_id, ip, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) \
                     ON CONFLICT (token_id, ip) DO UPDATE SET last_seen_at = $3",
                )
                .bind(&token_id)
                .bind(ip)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if seen.is_none() {
                    sqlx::query(dynsql!(
                        "DELETE FROM token_addresses WHERE token_id = $1 AND ip NOT IN \
                         (SELECT ip FROM token_addresses WHERE token_id = $1 ORDER BY last_seen_at DESC LIMIT {MAX_TOKEN_ADDRESSES})"
                    ))
                    .bind(&token_id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        }
        let user_id: String = r.try_get("user_id")?;
        let groups = sqlx::query_scalar(
            "SELECT g.name FROM user_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(&user_id)
        .fetch_all(self.reader())
        .await?;
        Ok(Some(Principal {
            tenant: r.try_get("tenant_id")?,
            user_id,
            user_name: r.try_get("name")?,
            groups,
            token_id: Some(token_id),
            new_ip,
        }))
    }
}

/// Checks that every name in `names` is a user of `tenant` (read on
/// `conn`): wherever a person is named — an incident's owner, a rule's
/// assignee, a forward's target, a rotation's participants.
///
/// Errors: `Domain(Validation)` naming the unknown ones
/// ("no user is named 'x', 'y'").
pub(crate) async fn require_users(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    names: &[String],
) -> Result<()> {
    let mut unknown = Vec::new();
    for n in names {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = $1 AND name = $2")
                .bind(tenant)
                .bind(n.trim())
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            unknown.push(format!("'{}'", n.trim()));
        }
    }
    if unknown.is_empty() {
        return Ok(());
    }
    Err(coc_domain::error::invalid(format!(
        "no user is named {} (coc user list)",
        unknown.join(", ")
    ))
    .into())
}
