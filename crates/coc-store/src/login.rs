//! Sign-in throttling (A1; the rules are [`coc_domain::login`]): the
//! recent failures of each user name and source address, shared by every
//! replica through the database.

use coc_domain::login::{Attempts, PER_SOURCE, PER_USER, Policy, after_failure, wait_ms};
use sqlx::Row;

use crate::{Result, Store};

/// The two keys of a sign-in: the user name in its tenant, and the source
/// address (all tenants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginKeys {
    /// Tenant of the user name.
    pub tenant: String,
    /// User name as typed.
    pub user: String,
    /// Source address, if known.
    pub source: Option<String>,
}

impl LoginKeys {
    /// (tenant, key, policy) of each key.
    fn each(&self) -> Vec<(String, String, &'static Policy)> {
        let mut v = vec![(
            self.tenant.clone(),
            format!("user:{}", self.user),
            &PER_USER,
        )];
        if let Some(s) = &self.source {
            v.push(("*".into(), format!("ip:{s}"), &PER_SOURCE));
        }
        v
    }
}

async fn load(tx: &mut sqlx::AnyConnection, tenant: &str, key: &str) -> Result<Option<Attempts>> {
    let r = sqlx::query(
        "SELECT failures, last_failure_at, locked_until FROM login_attempts WHERE tenant_id = $1 AND login_key = $2",
    )
    .bind(tenant)
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    r.map(|r| {
        Ok(Attempts {
            failures: u32::try_from(r.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
            last_failure_at: r.try_get("last_failure_at")?,
            locked_until: r.try_get("locked_until")?,
        })
    })
    .transpose()
}

impl Store {
    /// How long a sign-in with these keys must still wait at `now`, ms
    /// (the longest of its keys); `None` when it may try.
    pub async fn login_wait(&self, keys: &LoginKeys, now: i64) -> Result<Option<i64>> {
        let mut conn = self.reader().acquire().await?;
        let mut longest = None;
        for (tenant, key, _) in keys.each() {
            let a = load(&mut conn, &tenant, &key).await?;
            longest = longest.max(wait_ms(a.as_ref(), now));
        }
        Ok(longest)
    }

    /// Records a failed sign-in at `now`; returns how long the keys are
    /// now locked, ms, if they are. Failures older than a day are pruned.
    pub async fn login_failed(&self, keys: &LoginKeys, now: i64) -> Result<Option<i64>> {
        let mut tx = self.begin().await?;
        let mut longest = None;
        for (tenant, key, policy) in keys.each() {
            let before = load(&mut tx, &tenant, &key).await?;
            let a = after_failure(before.as_ref(), policy, now);
            longest = longest.max(wait_ms(Some(&a), now));
            sqlx::query(
                "INSERT INTO login_attempts (tenant_id, login_key, failures, last_failure_at, locked_until) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, login_key) DO UPDATE \
                 SET failures = $3, last_failure_at = $4, locked_until = $5",
            )
                .bind(&tenant)
                .bind(&key)
                .bind(i64::from(a.failures))
                .bind(a.last_failure_at)
                .bind(a.locked_until)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM login_attempts WHERE last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $2)")
            .bind(now - PER_USER.forget_ms.max(PER_SOURCE.forget_ms))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(longest)
    }

    /// Forgets the failures of the user name after a sign-in succeeded (the
    /// source address's fade on their own).
    pub async fn login_succeeded(&self, keys: &LoginKeys) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM login_attempts WHERE tenant_id = $1 AND login_key = $2")
            .bind(&keys.tenant)
            .bind(format!("user:{}", keys.user))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
