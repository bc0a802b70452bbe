//! O&M authorization and log sharing (A6, MRS "O&M Support"): a tenant
//! admin grants a named support user — usually of the operator's own
//! tenant — a scope for a limited time. The grant can be revoked at once.
//!
//! - `om_authorization`: the scope is one of the granting tenant's
//!   policies; the support user acts with that policy alone.
//! - `log_share`: read-only access to one log scope (`audit` or
//!   `tickets`) and nothing else.
//!
//! The support user selects the granting tenant per request (header
//! `X-COC-Tenant`); every action under a grant is audited as such.

use coc_domain::access::{Effect, NamedPolicy, OneOrMany, PolicyDocument, Statement};
use coc_domain::error::invalid;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// Longest grant, ms (30 days).
pub const MAX_GRANT_MS: i64 = 30 * 24 * 3600 * 1000;

/// A grant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Grant {
    /// Id.
    pub id: String,
    /// `om_authorization` or `log_share`.
    pub kind: String,
    /// Tenant of the support user.
    pub grantee_tenant: String,
    /// Support user name.
    pub grantee_user: String,
    /// Policy name (O&M authorization).
    pub policy: Option<String>,
    /// Log scope (`audit`, `tickets`) for log sharing; the policy name otherwise.
    pub scope: String,
    /// Why it was granted.
    pub reason: String,
    /// Who granted it.
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// End of validity, Unix ms.
    pub expires_at: i64,
    /// Revocation, Unix ms.
    pub revoked_at: Option<i64>,
}

/// A request to grant (`POST /api/v1/grants`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// `om_authorization` or `log_share`.
    pub kind: String,
    /// Tenant of the support user.
    pub grantee_tenant: String,
    /// Support user name.
    pub grantee_user: String,
    /// Policy name (for `om_authorization`).
    #[serde(default)]
    pub policy: Option<String>,
    /// `audit` or `tickets` (for `log_share`).
    #[serde(default)]
    pub scope: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// End of validity, Unix ms (≤ 30 days ahead).
    pub expires_at: i64,
}

fn log_share_policy(scope: &str) -> Option<NamedPolicy> {
    let actions = match scope {
        "audit" => vec!["coc:audit:list".to_string(), "coc:audit:export".to_string()],
        "tickets" => vec!["coc:ticket:list".to_string(), "coc:ticket:get".to_string()],
        _ => return None,
    };
    Some(NamedPolicy {
        name: format!("log share: {scope}"),
        doc: PolicyDocument {
            version: "1.1".into(),
            statement: vec![Statement {
                effect: Effect::Allow,
                action: OneOrMany::Many(actions),
                resource: None,
                condition: Default::default(),
            }],
        },
    })
}

const COLS: &str = "g.id, g.kind, g.grantee_tenant, g.grantee_user, p.name AS policy, g.scope, g.reason, g.created_by, \
    g.created_at, g.expires_at, g.revoked_at";

fn row(r: &AnyRow) -> Result<Grant> {
    Ok(Grant {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        grantee_tenant: r.try_get("grantee_tenant")?,
        grantee_user: r.try_get("grantee_user")?,
        policy: r.try_get("policy")?,
        scope: r.try_get("scope")?,
        reason: r.try_get("reason")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Store {
    /// Creates a grant in `tenant`.
    ///
    /// Errors: `Domain(Validation)` (kind, scope, expiry in the past or
    /// more than 30 days ahead), `NotFound` (policy, or the support user in
    /// its tenant).
    pub async fn create_grant(&self, tenant: &str, g: &NewGrant, actor: &str) -> Result<Grant> {
        let now = self.now();
        if g.expires_at <= now || g.expires_at > now + MAX_GRANT_MS {
            return Err(
                invalid("expires_at must be in the future and at most 30 days ahead").into(),
            );
        }
        let (policy_id, scope) = match g.kind.as_str() {
            "om_authorization" => {
                let name = g
                    .policy
                    .as_deref()
                    .ok_or_else(|| invalid("an O&M authorization needs 'policy'"))?;
                let p = self.get_policy(tenant, name).await?;
                (Some(p.id), p.name)
            }
            "log_share" => {
                let scope = g.scope.clone().unwrap_or_default();
                if log_share_policy(&scope).is_none() {
                    return Err(invalid("log sharing needs 'scope': audit or tickets").into());
                }
                (None, scope)
            }
            other => {
                return Err(invalid(format!(
                    "unknown grant kind '{other}': om_authorization or log_share"
                ))
                .into());
            }
        };
        self.get_user(&g.grantee_tenant, &g.grantee_user).await?;
        let id = crate::new_id();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO grants (id, tenant_id, kind, grantee_tenant, grantee_user, policy_id, scope, reason, created_by, \
             created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&g.kind)
        .bind(&g.grantee_tenant)
        .bind(&g.grantee_user)
        .bind(policy_id)
        .bind(&scope)
        .bind(&g.reason)
        .bind(actor)
        .bind(now)
        .bind(g.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.list_grants(tenant)
            .await?
            .into_iter()
            .find(|x| x.id == id)
            .ok_or_else(|| StoreError::not_found("grant", &id))
    }

    /// Grants given by `tenant`, newest first.
    pub async fn list_grants(&self, tenant: &str) -> Result<Vec<Grant>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM grants g LEFT JOIN policies p ON p.id = g.policy_id WHERE g.tenant_id = $1 ORDER BY g.id DESC"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// Revokes a grant at once. Errors: `NotFound`.
    pub async fn revoke_grant(&self, tenant: &str, id: &str) -> Result<()> {
        self.write_one(
            sqlx::query("UPDATE grants SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(self.now())
                .bind(tenant)
                .bind(id),
            "grant",
            id,
        )
        .await
    }

    /// The active grant that lets user `user` of `grantee_tenant` act in
    /// `tenant`, with the one policy it confers. `None` when there is none
    /// (expired, revoked, or never given).
    pub async fn active_grant(
        &self,
        tenant: &str,
        grantee_tenant: &str,
        user: &str,
    ) -> Result<Option<(Grant, NamedPolicy)>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS}, p.document FROM grants g LEFT JOIN policies p ON p.id = g.policy_id \
             WHERE g.tenant_id = $1 AND g.grantee_tenant = $2 AND g.grantee_user = $3 \
             AND g.revoked_at IS NULL AND g.expires_at > $4 ORDER BY g.id DESC LIMIT 1"
        ))
        .bind(tenant)
        .bind(grantee_tenant)
        .bind(user)
        .bind(self.now())
        .fetch_all(self.reader())
        .await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let g = row(r)?;
        let policy = if g.kind == "log_share" {
            log_share_policy(&g.scope)
        } else {
            let doc: Option<String> = r.try_get("document")?;
            doc.and_then(|d| serde_json::from_str(&d).ok())
                .map(|doc| NamedPolicy {
                    name: g.scope.clone(),
                    doc,
                })
        };
        Ok(policy.map(|p| (g, p)))
    }
}
