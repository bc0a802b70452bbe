//! On-call calendar subscriptions (O2): secret feed URLs a user creates
//! for their own shifts or a scenario's, read by calendar apps without a
//! login. Only the token's SHA-256 is stored; the token is shown once.

use chrono::{DateTime, Utc};
use coc_domain::oncall::calendar::{FeedEntry, FeedScope, feed};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError};

/// Most live feeds one user has.
pub const MAX_FEEDS_PER_USER: i64 = 20;

/// A calendar subscription as listed (never its token).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Feed {
    /// Id.
    pub id: String,
    /// The user who created it.
    pub owner: String,
    /// What it lists.
    pub scope: FeedScope,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// A new subscription: the feed and its secret token (shown once).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewFeed {
    /// The feed.
    #[serde(flatten)]
    pub feed: Feed,
    /// The secret that is its URL's last segment.
    pub token: String,
}

fn row(r: &AnyRow) -> Result<Feed> {
    Ok(Feed {
        id: r.try_get("id")?,
        owner: r.try_get("owner")?,
        scope: serde_json::from_str(&r.try_get::<String, _>("scope")?)
            .map_err(|e| StoreError::Conflict(format!("stored feed is unreadable: {e}")))?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Creates a subscription for `owner`. A scope naming a scenario must
    /// name one that exists (and its role, if given); a person must be a
    /// user.
    ///
    /// Errors: `NotFound` (scenario), `Domain(Validation)` (role, person,
    /// more than [`MAX_FEEDS_PER_USER`]).
    pub async fn create_feed(
        &self,
        tenant: &str,
        owner: &str,
        mut scope: FeedScope,
    ) -> Result<NewFeed> {
        if let Some(sc) = &scope.scenario {
            let s = self.get_scenario(tenant, sc).await?;
            if let Some(r) = &scope.role
                && !s.scenario.roles.contains(r)
            {
                return Err(coc_domain::error::invalid(format!(
                    "scenario '{}' has no role '{r}'",
                    s.scenario.name
                ))
                .into());
            }
            scope.scenario = Some(s.scenario.name);
        }
        let mut tx = self.begin().await?;
        if let Some(p) = &scope.person {
            crate::access::require_users(&mut tx, tenant, std::slice::from_ref(p)).await?;
        }
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM oncall_feeds WHERE tenant_id = $1 AND owner = $2 AND revoked_at IS NULL",
        )
        .bind(tenant)
        .bind(owner)
        .fetch_one(&mut *tx)
        .await?;
        if live >= MAX_FEEDS_PER_USER {
            return Err(coc_domain::error::invalid(
                "a user has at most 20 calendar subscriptions; revoke one first",
            )
            .into());
        }
        let token = format!("cocf_{}", hex::encode(rand::random::<[u8; 24]>()));
        let f = Feed {
            id: crate::new_id(),
            owner: owner.to_string(),
            scope,
            created_at: self.now(),
        };
        sqlx::query(
            "INSERT INTO oncall_feeds (id, tenant_id, owner, scope, token_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(&f.id)
        .bind(tenant)
        .bind(owner)
        .bind(serde_json::to_string(&f.scope).unwrap_or_default())
        .bind(crate::integration::hash_key(&token))
        .bind(f.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(NewFeed { feed: f, token })
    }

    /// `owner`'s live subscriptions, newest first.
    pub async fn list_feeds(&self, tenant: &str, owner: &str) -> Result<Vec<Feed>> {
        let rows = sqlx::query(
            "SELECT id, owner, scope, created_at FROM oncall_feeds WHERE tenant_id = $1 AND owner = $2 \
             AND revoked_at IS NULL ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant)
        .bind(owner)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// Revokes `owner`'s subscription `id`: its URL answers 404 from now.
    /// Errors: `NotFound`.
    pub async fn revoke_feed(&self, tenant: &str, owner: &str, id: &str) -> Result<()> {
        self.write_one(
            sqlx::query(
                "UPDATE oncall_feeds SET revoked_at = $1 WHERE tenant_id = $2 AND owner = $3 AND id = $4 \
                 AND revoked_at IS NULL",
            )
            .bind(self.now())
            .bind(tenant)
            .bind(owner)
            .bind(id),
            "calendar subscription",
            id,
        )
        .await
    }

    /// The entries of the live subscription whose token is `token` over
    /// `[from, until)`, with its feed.
    ///
    /// Errors: `NotFound` for an unknown or revoked token.
    pub async fn feed_entries(
        &self,
        token: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(Feed, Vec<FeedEntry>)> {
        let r = sqlx::query(
            "SELECT id, tenant_id, owner, scope, created_at FROM oncall_feeds WHERE token_hash = $1 \
             AND revoked_at IS NULL",
        )
        .bind(crate::integration::hash_key(token))
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("calendar subscription", "(token)"))?;
        let f = row(&r)?;
        let tenant: String = r.try_get("tenant_id")?;
        let all: Vec<_> = self
            .list_scenarios(&tenant)
            .await?
            .into_iter()
            .map(|s| s.scenario)
            .collect();
        let entries = feed(&all, &f.scope, from, until);
        Ok((f, entries))
    }
}
