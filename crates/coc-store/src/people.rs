//! O&M engineers (O1, ref. 11.1): a profile per user of the tenant with an
//! alias and contact channels. Addresses are encrypted at rest and shown
//! masked. Email and mobile addresses need a confirmed subscription: saving
//! one queues a confirmation message (a link with a one-time token, valid
//! 48 hours) in the same transaction; only confirmed contacts receive
//! notifications.

use std::collections::BTreeMap;

use coc_domain::error::invalid;
use coc_domain::notify::Message;
use coc_domain::people::{
    SUBSCRIPTION_TTL_MS, SubscriptionStatus, mask, needs_confirmation, validate_address,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::integration::hash_key;
use crate::notify::{NewDelivery, insert_delivery};
use crate::{Result, Store, StoreError};

/// One contact channel of an engineer, as listed (address masked).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Contact {
    /// `mobile`, `email`, `wecom`, `dingtalk`, `feishu`, `slack`, `teams`, `webhook`.
    pub channel: String,
    /// Masked address.
    pub address: String,
    /// Subscription state (`confirmed` means usable).
    pub status: SubscriptionStatus,
    /// Pending: when the confirmation link expires, Unix ms.
    pub expires_at: Option<i64>,
    /// When it was confirmed, Unix ms.
    pub confirmed_at: Option<i64>,
}

/// An engineer profile (O1).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Engineer {
    /// User name.
    pub user: String,
    /// Display name of the user.
    pub display_name: String,
    /// Alias (empty when never set).
    pub alias: String,
    /// Contact channels, by channel name.
    pub contacts: Vec<Contact>,
}

/// Body of `PUT /api/v1/engineers/{user}`: the alias and the contact
/// channels to set (`null` or `""` removes one; channels left out stay).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineerUpdate {
    /// Alias (≤ 64 chars).
    #[serde(default)]
    pub alias: Option<String>,
    /// Channel → address.
    #[serde(default)]
    pub contacts: BTreeMap<String, Option<String>>,
}

/// A usable contact address of a person (decrypted).
#[derive(Debug, Clone)]
pub(crate) struct Reachable {
    pub address: String,
    pub masked: String,
}

fn contact_row(r: &AnyRow, now: i64) -> Result<Contact> {
    let status: String = r.try_get("status")?;
    let expires_at: Option<i64> = r.try_get("expires_at")?;
    Ok(Contact {
        channel: r.try_get("channel")?,
        address: r.try_get("masked")?,
        status: SubscriptionStatus::at(&status, expires_at, now),
        expires_at,
        confirmed_at: r.try_get("confirmed_at")?,
    })
}

/// The confirmation message for a subscription.
fn confirmation(channel: &str, link: &str) -> Message {
    Message {
        incident: None,
        event: "subscription_confirmation".into(),
        subject: "Confirm your COC notification subscription".into(),
        body: format!(
            "COC will send incident notifications to this {}. Confirm within 48 hours: {link}",
            if channel == "mobile" {
                "number"
            } else {
                "address"
            }
        ),
        link: None,
        actions: vec![],
    }
}

/// What a subscription link confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// Tenant.
    pub tenant: String,
    /// The engineer's user name.
    pub user: String,
    /// `email` or `mobile`.
    pub channel: String,
    /// The link had been used before: nothing changed.
    pub already: bool,
}

impl Store {
    /// Every user of the tenant with their engineer profile, by name.
    pub async fn list_engineers(&self, tenant: &str) -> Result<Vec<Engineer>> {
        let users = sqlx::query(
            "SELECT u.name, u.display_name, e.alias FROM users u LEFT JOIN engineers e \
             ON e.tenant_id = u.tenant_id AND e.user_name = u.name WHERE u.tenant_id = $1 ORDER BY u.name",
        )
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let contacts = sqlx::query(
            "SELECT user_name, channel, masked, status, expires_at, confirmed_at FROM contacts \
             WHERE tenant_id = $1 ORDER BY channel",
        )
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let now = self.now();
        let mut by_user: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
        for c in &contacts {
            by_user
                .entry(c.try_get("user_name")?)
                .or_default()
                .push(contact_row(c, now)?);
        }
        users
            .iter()
            .map(|u| {
                let name: String = u.try_get("name")?;
                Ok(Engineer {
                    contacts: by_user.remove(&name).unwrap_or_default(),
                    display_name: u.try_get("display_name")?,
                    alias: u.try_get::<Option<String>, _>("alias")?.unwrap_or_default(),
                    user: name,
                })
            })
            .collect()
    }

    /// One engineer. Errors: `NotFound` when the tenant has no such user.
    pub async fn get_engineer(&self, tenant: &str, user: &str) -> Result<Engineer> {
        self.list_engineers(tenant)
            .await?
            .into_iter()
            .find(|e| e.user == user)
            .ok_or_else(|| StoreError::not_found("user", user))
    }

    /// Sets alias and contacts of a user's profile. A new or changed email
    /// or mobile address starts a pending subscription and queues its
    /// confirmation (link `{link_base}?token=…`) in the same transaction.
    ///
    /// Errors: `NotFound` (no such user), `Domain(Validation)` (unknown
    /// channel, bad address, alias too long) — nothing is changed then.
    pub async fn set_engineer(
        &self,
        tenant: &str,
        user: &str,
        u: &EngineerUpdate,
        link_base: &str,
    ) -> Result<Engineer> {
        self.get_user(tenant, user).await?;
        if u.alias.as_ref().is_some_and(|a| a.chars().count() > 64) {
            return Err(invalid("alias is longer than 64 characters").into());
        }
        for (ch, addr) in &u.contacts {
            match addr.as_deref().map(str::trim) {
                Some(a) if !a.is_empty() => validate_address(ch, a)?,
                _ if coc_domain::people::CONTACT_CHANNELS.contains(&ch.as_str()) => {}
                _ => return Err(invalid(format!("unknown contact channel '{ch}'")).into()),
            }
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let alias = u.alias.clone().unwrap_or_default();
        let n = sqlx::query(
            "UPDATE engineers SET alias = CASE WHEN $1 THEN $2 ELSE alias END, updated_at = $3 \
             WHERE tenant_id = $4 AND user_name = $5",
        )
        .bind(u.alias.is_some())
        .bind(&alias)
        .bind(now)
        .bind(tenant)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            sqlx::query(
                "INSERT INTO engineers (id, tenant_id, user_name, alias, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$5)",
            )
            .bind(crate::new_id())
            .bind(tenant)
            .bind(user)
            .bind(&alias)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for (ch, addr) in &u.contacts {
            let addr = addr.as_deref().map(str::trim).unwrap_or("");
            let same = !addr.is_empty()
                && self
                    .contact_in(&mut tx, tenant, user, ch)
                    .await?
                    .is_some_and(|r| r.address == addr);
            if same {
                continue;
            }
            sqlx::query(
                "DELETE FROM contacts WHERE tenant_id = $1 AND user_name = $2 AND channel = $3",
            )
            .bind(tenant)
            .bind(user)
            .bind(ch)
            .execute(&mut *tx)
            .await?;
            if addr.is_empty() {
                continue;
            }
            let confirm = needs_confirmation(ch);
            sqlx::query(
                "INSERT INTO contacts (id, tenant_id, user_name, channel, address, masked, status, \
                 confirmed_at, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$9)",
            )
            .bind(crate::new_id())
            .bind(tenant)
            .bind(user)
            .bind(ch)
            .bind(self.keyring().encrypt(addr))
            .bind(mask(ch, addr))
            .bind(if confirm { "pending" } else { "confirmed" })
            .bind((!confirm).then_some(now))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if confirm {
                self.send_confirmation(&mut tx, tenant, user, ch, addr, link_base, now)
                    .await?;
            }
        }
        tx.commit().await?;
        self.deliveries.notify_one();
        self.get_engineer(tenant, user).await
    }

    /// Sends the subscription confirmation again for `channels` (all
    /// unconfirmed ones when empty), with a fresh 48-hour link.
    ///
    /// Errors: `NotFound` (no such contact), `Conflict` when a channel is
    /// already confirmed or nothing is left to confirm.
    pub async fn resubscribe(
        &self,
        tenant: &str,
        user: &str,
        channels: &[String],
        link_base: &str,
    ) -> Result<Engineer> {
        let e = self.get_engineer(tenant, user).await?;
        let wanted: Vec<&Contact> = if channels.is_empty() {
            e.contacts
                .iter()
                .filter(|c| c.status != SubscriptionStatus::Confirmed)
                .collect()
        } else {
            let mut v = vec![];
            for ch in channels {
                let c = e
                    .contacts
                    .iter()
                    .find(|c| &c.channel == ch)
                    .ok_or_else(|| StoreError::not_found("contact", ch))?;
                if c.status == SubscriptionStatus::Confirmed {
                    return Err(StoreError::Conflict(format!(
                        "the {ch} subscription is already confirmed"
                    )));
                }
                v.push(c);
            }
            v
        };
        if wanted.is_empty() {
            return Err(StoreError::Conflict(
                "every subscription of this user is confirmed".into(),
            ));
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        for c in wanted {
            let r = self
                .contact_in(&mut tx, tenant, user, &c.channel)
                .await?
                .ok_or_else(|| StoreError::not_found("contact", &c.channel))?;
            self.send_confirmation(
                &mut tx, tenant, user, &c.channel, &r.address, link_base, now,
            )
            .await?;
        }
        tx.commit().await?;
        self.deliveries.notify_one();
        self.get_engineer(tenant, user).await
    }

    /// Confirms the subscription a link token belongs to. Opening the link
    /// again (mail scanners open links first) answers `already: true` and
    /// changes nothing: the token's hash stays with the confirmed contact
    /// until a new link replaces it.
    ///
    /// Errors: `NotFound` for an unknown or replaced token, `Conflict` when
    /// the link expired (subscribe again).
    pub async fn confirm_subscription(&self, token: &str) -> Result<Confirmation> {
        let h = hash_key(token.trim());
        let r = sqlx::query(dynsql!(
            "SELECT id, tenant_id, user_name, channel, expires_at, status FROM contacts \
             WHERE token_hash = $1 AND status IN ({}, {})",
            crate::sql_lit(SubscriptionStatus::Pending.as_str()),
            crate::sql_lit(SubscriptionStatus::Confirmed.as_str())
        ))
        .bind(&h)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("subscription", "token"))?;
        let confirmation = Confirmation {
            tenant: r.try_get("tenant_id")?,
            user: r.try_get("user_name")?,
            channel: r.try_get("channel")?,
            already: r.try_get::<String, _>("status")? == SubscriptionStatus::Confirmed.as_str(),
        };
        if confirmation.already {
            return Ok(confirmation);
        }
        let expires: Option<i64> = r.try_get("expires_at")?;
        let now = self.now();
        if expires.is_none_or(|e| now >= e) {
            return Err(StoreError::Conflict(
                "the confirmation link expired; ask for the subscription to be sent again".into(),
            ));
        }
        let id: String = r.try_get("id")?;
        self.write_one(
            sqlx::query(dynsql!(
                "UPDATE contacts SET status = {}, confirmed_at = $1, \
                 expires_at = NULL, updated_at = $1 WHERE id = $2 AND status = {}",
                crate::sql_lit(SubscriptionStatus::Confirmed.as_str()),
                crate::sql_lit(SubscriptionStatus::Pending.as_str())
            ))
            .bind(now)
            .bind(id.clone()),
            "subscription",
            &id,
        )
        .await?;
        Ok(confirmation)
    }

    /// Removes a user's profile and contacts (the user stays).
    /// Errors: `NotFound` when there is no profile.
    pub async fn delete_engineer(&self, tenant: &str, user: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM engineers WHERE tenant_id = $1 AND user_name = $2")
            .bind(tenant)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let m = sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND user_name = $2")
            .bind(tenant)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n + m == 0 {
            return Err(StoreError::not_found("engineer", user));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The decrypted contact of `user` on contact channel `ch`, if any, and
    /// whether it is confirmed.
    pub(crate) async fn contact_in(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        user: &str,
        ch: &str,
    ) -> Result<Option<Reachable>> {
        Ok(self
            .contact_with_status(tx, tenant, user, ch)
            .await?
            .map(|x| x.0))
    }

    /// Like [`Store::contact_in`] with the subscription state at `self.now()`.
    pub(crate) async fn contact_with_status(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        user: &str,
        ch: &str,
    ) -> Result<Option<(Reachable, SubscriptionStatus)>> {
        let r = sqlx::query(
            "SELECT address, masked, status, expires_at FROM contacts \
             WHERE tenant_id = $1 AND user_name = $2 AND channel = $3",
        )
        .bind(tenant)
        .bind(user)
        .bind(ch)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let status: String = r.try_get("status")?;
        Ok(Some((
            Reachable {
                address: self
                    .keyring()
                    .decrypt(&r.try_get::<String, _>("address")?)?,
                masked: r.try_get("masked")?,
            },
            SubscriptionStatus::at(&status, r.try_get("expires_at")?, self.now()),
        )))
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_confirmation(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        user: &str,
        ch: &str,
        addr: &str,
        link_base: &str,
        now: i64,
    ) -> Result<()> {
        let token = hex::encode(rand::random::<[u8; 24]>());
        sqlx::query(dynsql!(
            "UPDATE contacts SET status = {}, token_hash = $1, expires_at = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND user_name = $5 AND channel = $6",
            crate::sql_lit(SubscriptionStatus::Pending.as_str())
        ))
        .bind(hash_key(&token))
        .bind(now + SUBSCRIPTION_TTL_MS)
        .bind(now)
        .bind(tenant)
        .bind(user)
        .bind(ch)
        .execute(&mut *tx)
        .await?;
        let link = format!("{link_base}?token={token}");
        let channel = if ch == "mobile" { "sms" } else { "email" };
        insert_delivery(
            self,
            tx,
            NewDelivery {
                tenant,
                channel,
                target: &mask(ch, addr),
                address: Some(addr),
                secret: None,
                message: &confirmation(ch, &link),
                redacted: Some(&confirmation(ch, &format!("{link_base}?token=***"))),
                recipient: Some(user),
                incident_id: None,
                skipped: None,
                lease: false,
                now,
            },
        )
        .await?;
        Ok(())
    }
}
