//! Agent identity and enrollment (R3; the rules are
//! [`coc_domain::agent`]): enrollment tokens with uses and an expiry, the
//! public key bound to each host, admission of a connection that proved
//! its key, and the operator's revoke / re-enroll / delete.

use coc_domain::agent::{
    Admission, AgentHost, EnrollmentToken, IdentityAction, IdentityState, Refusal, admit,
    apply_identity_action, token_usable, validate_enrollment,
};
use coc_domain::ticket::TaskStatus;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::resource::{HostFacts, insert_host, write_facts};
use crate::{Result, Store, StoreError};

/// A per-tenant agent enrollment token (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Enrollment {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Last 4 characters of the secret.
    pub hint: String,
    /// Hosts it may enroll in all.
    pub max_uses: i64,
    /// Hosts enrolled with it so far.
    pub uses: i64,
    /// When it stops enrolling, Unix ms.
    pub expires_at: i64,
    /// `active`, `expired`, `used_up` or `revoked`.
    pub state: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Revoked, Unix ms.
    pub revoked_at: Option<i64>,
}

const ENROLLMENT_COLS: &str =
    "id, tenant_id, name, hint, max_uses, uses, expires_at, created_at, revoked_at";

fn token_of(r: &AnyRow) -> Result<EnrollmentToken> {
    Ok(EnrollmentToken {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant_id")?,
        max_uses: r.try_get("max_uses")?,
        uses: r.try_get("uses")?,
        expires_at: r.try_get("expires_at")?,
        revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
    })
}

fn enrollment_row(r: &AnyRow, now: i64) -> Result<Enrollment> {
    let t = token_of(r)?;
    let state = match token_usable(&t, now) {
        Ok(()) => "active",
        Err(Refusal::TokenRevoked) => "revoked",
        Err(Refusal::TokenExpired) => "expired",
        Err(_) => "used_up",
    };
    Ok(Enrollment {
        id: t.id,
        name: r.try_get("name")?,
        hint: r.try_get("hint")?,
        max_uses: t.max_uses,
        uses: t.uses,
        expires_at: t.expires_at,
        state: state.into(),
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// A connection the store admitted: the host it speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Resource id.
    pub host_id: String,
    /// Tenant.
    pub tenant: String,
    /// The enrollment token spent, when this connection enrolled the host
    /// (a new host or a re-enrollment).
    pub enrolled_with: Option<String>,
}

/// The answer to an agent connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAdmission {
    /// Admitted: the host it speaks for.
    Admitted(Admitted),
    /// Refused, nothing changed; the tenant and host concerned when known
    /// (a claim on an enrolled host, a revoked key), for the audit trail.
    Refused {
        /// Why.
        why: Refusal,
        /// The tenant concerned.
        tenant: Option<String>,
        /// The host concerned.
        host_id: Option<String>,
    },
}

const HOST_IDENTITY_COLS: &str = "id, tenant_id, agent_id, identity, identity_until";

fn agent_host(r: &AnyRow) -> Result<AgentHost> {
    Ok(AgentHost {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant_id")?,
        agent_id: r.try_get("agent_id")?,
        state: IdentityState::parse(&r.try_get::<String, _>("identity")?),
        open_until: r.try_get("identity_until")?,
    })
}

/// The task statuses that still need a host: a host with work in one of
/// them is not deleted.
fn unfinished_statuses() -> String {
    [
        TaskStatus::Pending,
        TaskStatus::Executing,
        TaskStatus::Successful,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ]
    .into_iter()
    .filter(|s| !s.is_done())
    .map(|s| format!("'{}'", s.as_str()))
    .collect::<Vec<_>>()
    .join(",")
}

impl Store {
    /// Creates an agent enrollment token for `tenant` that enrolls at most
    /// `max_uses` hosts within `hours` from `now`; returns it with the
    /// secret (`coca_…`, shown once, stored hashed).
    ///
    /// Errors: `Domain(Validation)` ([`validate_enrollment`]).
    pub async fn create_enrollment(
        &self,
        tenant: &str,
        name: &str,
        max_uses: i64,
        hours: i64,
        now: i64,
    ) -> Result<(Enrollment, String)> {
        let name = validate_enrollment(name, max_uses, hours)?;
        let mut tx = self.begin().await?;
        let (id, secret) = insert_enrollment(
            &mut tx,
            tenant,
            &name,
            max_uses,
            now,
            now + hours * 3_600_000,
        )
        .await?;
        tx.commit().await?;
        Ok((self.get_enrollment(tenant, &id, now).await?, secret))
    }

    /// Enrollment tokens of a tenant, oldest first, with their state at `now`.
    pub async fn list_enrollments(&self, tenant: &str, now: i64) -> Result<Vec<Enrollment>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {ENROLLMENT_COLS} FROM agent_enrollments WHERE tenant_id = $1 ORDER BY created_at, id"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| enrollment_row(r, now)).collect()
    }

    /// One enrollment token. Errors: `NotFound`.
    pub async fn get_enrollment(&self, tenant: &str, id: &str, now: i64) -> Result<Enrollment> {
        let r = sqlx::query(dynsql!(
            "SELECT {ENROLLMENT_COLS} FROM agent_enrollments WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(|r| enrollment_row(r, now))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("enrollment", id))
    }

    /// Revokes an enrollment token: it enrolls no more hosts (hosts it
    /// enrolled keep their own identity). Errors: `NotFound`.
    pub async fn revoke_enrollment(&self, tenant: &str, id: &str, now: i64) -> Result<()> {
        self.write_one(
            sqlx::query("UPDATE agent_enrollments SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(now)
                .bind(tenant)
                .bind(id),
            "enrollment",
            id,
        )
        .await
    }

    /// Decides a connection whose agent proved possession of
    /// `public_key_hex` ([`admit`]) and applies the answer in one
    /// transaction: refreshes the host's facts, or creates the host bound
    /// to the key, or rebinds a host opened for re-enrollment, spending
    /// one use of `token` (the enrollment secret sent, if any).
    ///
    /// Errors: database errors.
    pub async fn admit_agent(
        &self,
        facts: &HostFacts,
        public_key_hex: &str,
        token: Option<&str>,
        now: i64,
    ) -> Result<AgentAdmission> {
        let mut tx = self.begin().await?;
        let by_key = sqlx::query(dynsql!(
            "SELECT {HOST_IDENTITY_COLS} FROM hosts WHERE agent_key = $1"
        ))
        .bind(public_key_hex)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(agent_host)
        .transpose()?;
        let token_row = match (by_key.is_some(), token) {
            // A bound key never needs (or spends) a token.
            (false, Some(secret)) => Some(
                sqlx::query(dynsql!(
                    "SELECT {ENROLLMENT_COLS} FROM agent_enrollments WHERE token_hash = $1"
                ))
                .bind(crate::integration::hash_key(secret))
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(token_of)
                .transpose()?,
            ),
            _ => None,
        };
        let claimed = match &token_row {
            Some(Some(t)) => sqlx::query(dynsql!(
                "SELECT {HOST_IDENTITY_COLS} FROM hosts WHERE tenant_id = $1 AND agent_id = $2"
            ))
            .bind(&t.tenant)
            .bind(&facts.agent_id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(agent_host)
            .transpose()?,
            _ => None,
        };
        let decision = admit(
            by_key.as_ref(),
            token_row.as_ref().map(Option::as_ref),
            claimed.as_ref(),
            &facts.agent_id,
            now,
        );
        // Spends one use, unless a concurrent enrollment took the last one.
        async fn spend(tx: &mut Transaction<'static, Any>, id: &str) -> Result<bool> {
            Ok(sqlx::query(
                "UPDATE agent_enrollments SET uses = uses + 1 WHERE id = $1 AND uses < max_uses",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1)
        }
        let concerned = by_key
            .as_ref()
            .or(claimed.as_ref())
            .map(|h| (h.tenant.clone(), h.id.clone()));
        let refused = |why: Refusal| {
            Ok(AgentAdmission::Refused {
                why,
                tenant: concerned.as_ref().map(|c| c.0.clone()),
                host_id: concerned.as_ref().map(|c| c.1.clone()),
            })
        };
        let admitted = match decision {
            Admission::Refused(r) => return refused(r),
            Admission::Known { host_id, tenant } => {
                write_facts(&mut tx, &host_id, facts, now).await?;
                Admitted {
                    host_id,
                    tenant,
                    enrolled_with: None,
                }
            }
            Admission::Enroll {
                tenant,
                enrollment_id,
            } => {
                if !spend(&mut tx, &enrollment_id).await? {
                    return refused(Refusal::TokenUsedUp);
                }
                let id = insert_host(&mut tx, &tenant, &facts.agent_id, Some(public_key_hex), now)
                    .await?;
                write_facts(&mut tx, &id, facts, now).await?;
                Admitted {
                    host_id: id,
                    tenant,
                    enrolled_with: Some(enrollment_id),
                }
            }
            Admission::Rebind {
                host_id,
                tenant,
                enrollment_id,
            } => {
                if !spend(&mut tx, &enrollment_id).await? {
                    return refused(Refusal::TokenUsedUp);
                }
                sqlx::query(
                    "UPDATE hosts SET agent_key = $1, identity = $2, identity_until = NULL, identity_changed_at = $3 WHERE id = $4",
                )
                .bind(public_key_hex)
                .bind(IdentityState::Active.as_str())
                .bind(now)
                .bind(&host_id)
                .execute(&mut *tx)
                .await?;
                write_facts(&mut tx, &host_id, facts, now).await?;
                Admitted {
                    host_id,
                    tenant,
                    enrolled_with: Some(enrollment_id),
                }
            }
        };
        tx.commit().await?;
        Ok(AgentAdmission::Admitted(admitted))
    }

    /// An operator's action on a host's agent identity
    /// ([`apply_identity_action`]): revoke the bound key, or forget it and
    /// open the host for re-enrollment. Errors: `NotFound`.
    pub async fn set_agent_identity(
        &self,
        tenant: &str,
        host_id: &str,
        action: IdentityAction,
        now: i64,
    ) -> Result<()> {
        let (state, until) = apply_identity_action(action, now);
        let sql = match action {
            IdentityAction::Revoke => {
                "UPDATE hosts SET identity = $1, identity_until = $2, identity_changed_at = $3 WHERE tenant_id = $4 AND id = $5"
            }
            IdentityAction::Reenroll => {
                "UPDATE hosts SET identity = $1, identity_until = $2, identity_changed_at = $3, agent_key = NULL WHERE tenant_id = $4 AND id = $5"
            }
        };
        self.write_one(
            sqlx::query(sql)
                .bind(state.as_str())
                .bind(until)
                .bind(now)
                .bind(tenant)
                .bind(host_id),
            "host",
            host_id,
        )
        .await
    }

    /// Deletes a host (its agent is refused from then on, unless it enrolls
    /// again with a token). Tickets keep their records of it.
    ///
    /// Errors: `NotFound`; `Conflict` while a ticket still has work
    /// pending or running on it.
    pub async fn delete_host(&self, tenant: &str, host_id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let open = unfinished_statuses();
        let busy: i64 = sqlx::query_scalar(dynsql!(
            "SELECT COUNT(*) FROM job_hosts WHERE tenant_id = $1 AND host_id = $2 AND status IN ({open})"
        ))
        .bind(tenant)
        .bind(host_id)
        .fetch_one(&mut *tx)
        .await?;
        if busy > 0 {
            return Err(StoreError::Conflict(format!(
                "host {host_id} has {busy} task(s) pending or running; cancel them or wait until they end"
            )));
        }
        for table in [
            "host_discovery",
            "host_drift",
            "patch_hosts",
            "host_patches",
        ] {
            sqlx::query(dynsql!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND host_id = $2"
            ))
            .bind(tenant)
            .bind(host_id)
            .execute(&mut *tx)
            .await?;
        }
        // What its agent discovered goes with it; what was registered on
        // it by hand stays, on no host.
        sqlx::query("DELETE FROM resources WHERE tenant_id = $1 AND host_id = $2 AND origin = $3")
            .bind(tenant)
            .bind(host_id)
            .bind(coc_domain::resource::catalog::Origin::Discovered.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE resources SET host_id = NULL WHERE tenant_id = $1 AND host_id = $2")
            .bind(tenant)
            .bind(host_id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM hosts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(host_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found("host", host_id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The host bound to an agent key, if any: (resource id, tenant).
    pub async fn host_by_agent_key(
        &self,
        public_key_hex: &str,
    ) -> Result<Option<(String, String)>> {
        let r = sqlx::query("SELECT id, tenant_id FROM hosts WHERE agent_key = $1")
            .bind(public_key_hex)
            .fetch_optional(self.reader())
            .await?;
        r.map(|r| Ok((r.try_get("id")?, r.try_get("tenant_id")?)))
            .transpose()
    }

    /// The host of an agent id in a tenant, with its identity state.
    pub async fn host_by_agent_id(
        &self,
        tenant: &str,
        agent_id: &str,
    ) -> Result<Option<(String, IdentityState)>> {
        let r = sqlx::query(dynsql!(
            "SELECT {HOST_IDENTITY_COLS} FROM hosts WHERE tenant_id = $1 AND agent_id = $2"
        ))
        .bind(tenant)
        .bind(agent_id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(agent_host)
            .transpose()
            .map(|h| h.map(|h| (h.id, h.state)))
    }
}

/// Stores a new enrollment token (only its hash and last 4 characters)
/// in `tx`; returns its id and the secret, `coca_` and 48 hex
/// characters, to show once.
///
/// Errors: a store error.
pub(crate) async fn insert_enrollment(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    name: &str,
    max_uses: i64,
    now: i64,
    expires_at: i64,
) -> Result<(String, String)> {
    let secret = format!("coca_{}", hex::encode(rand::random::<[u8; 24]>()));
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO agent_enrollments (id, tenant_id, name, token_hash, hint, created_at, max_uses, uses, expires_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,0,$8)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(name)
    .bind(crate::integration::hash_key(&secret))
    .bind(&secret[secret.len() - 4..])
    .bind(now)
    .bind(max_uses)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok((id, secret))
}
