//! The notification delivery queue (O4): every message is stored before it
//! is sent, retried with exponential backoff
//! ([`coc_domain::notify::retry_delay_ms`]) up to
//! [`coc_domain::notify::MAX_ATTEMPTS`], and kept as the delivery log.
//! Channel secrets are encrypted at rest.

use coc_domain::notify::{DeliveryStatus, MAX_ATTEMPTS, Message, render, retry_delay_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Arg, Filter, Page, Paged, Result, Store, json_col};

/// One delivery as shown in the log (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Delivery {
    /// Id.
    pub id: String,
    /// Channel kind (`webhook`, `slack`, …).
    pub channel: String,
    /// Target URL.
    pub target: String,
    /// Event.
    pub event: String,
    /// The rendered body.
    pub payload: serde_json::Value,
    /// `pending`, `delivered`, `failed` (gave up) or `skipped` (the person
    /// has no confirmed contact on the channel; `last_error` says why).
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// Next attempt, Unix ms (pending only).
    pub next_attempt_at: i64,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// Queued, Unix ms.
    pub created_at: i64,
    /// Delivered, Unix ms.
    pub delivered_at: Option<i64>,
    /// The person it was sent to (user name), if any.
    pub recipient: Option<String>,
    /// The incident it is about, if any.
    pub incident_id: Option<String>,
}

pub use coc_domain::notify::SEND_LEASE_MS;

/// A due delivery with what the sender needs (secret decrypted).
#[derive(Debug, Clone)]
pub struct Due {
    /// Id.
    pub id: String,
    /// Channel kind.
    pub channel: String,
    /// Where to send: URL, email address or mobile number (decrypted).
    pub target: String,
    /// Exact body to send (JSON: the channel's format; for email
    /// `{"subject","body"}`, for SMS and voice `{"text"}`).
    pub body: String,
    /// Signing secret, if any.
    pub secret: Option<String>,
    /// Attempts made so far.
    pub attempts: i64,
    /// End of the lease its sender holds, Unix ms (0 until claimed): the
    /// fencing token [`Store::record_attempt`] checks.
    pub lease: i64,
}

const COLS: &str = "id, channel, target, event, payload, status, attempts, next_attempt_at, last_error, \
    created_at, delivered_at, recipient, incident_id";

fn row(r: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        target: r.try_get("target")?,
        event: r.try_get("event")?,
        payload: json_col(r, "payload"),
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
        recipient: r.try_get("recipient")?,
        incident_id: r.try_get("incident_id")?,
    })
}

/// A delivery to insert with [`insert_delivery`].
pub(crate) struct NewDelivery<'a> {
    pub tenant: &'a str,
    /// Channel (`email`, `sms`, `voice`, or an HTTP channel).
    pub channel: &'a str,
    /// Target as shown in the log (masked for people's addresses).
    pub target: &'a str,
    /// The real address when `target` is masked; stored encrypted.
    pub address: Option<&'a str>,
    /// Signing secret; stored encrypted.
    pub secret: Option<&'a str>,
    pub message: &'a Message,
    /// What the log shows instead of `message` when it holds a secret
    /// (a confirmation link); the real body is stored encrypted.
    pub redacted: Option<&'a Message>,
    pub recipient: Option<&'a str>,
    pub incident_id: Option<&'a str>,
    /// Why it is not sent (no confirmed contact): stored as `skipped`.
    pub skipped: Option<&'a str>,
    /// The caller sends it at once itself: its first attempt is leased
    /// ([`SEND_LEASE_MS`]) so the queue poller leaves it alone unless the
    /// caller dies.
    pub lease: bool,
    pub now: i64,
}

/// Inserts a delivery in `tx` and returns its id and the exact body to
/// send; the caller signals `store.deliveries` after the commit.
///
/// Errors: `Domain(Validation)` for an unknown channel.
pub(crate) async fn insert_delivery(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    d: NewDelivery<'_>,
) -> Result<(String, String)> {
    // About an incident: with a link to its page in the console.
    let with_link = |m: &Message| match m.incident.as_ref().and_then(|i| store.incident_link(&i.id))
    {
        Some(link) if m.link.is_none() => Message {
            link: Some(link),
            ..m.clone()
        },
        _ => m.clone(),
    };
    let payload = render(d.channel, &with_link(d.message), d.now)?;
    let shown = match d.redacted {
        Some(r) => render(d.channel, &with_link(r), d.now)?,
        None => payload.clone(),
    };
    let id = crate::new_id();
    let body = d
        .redacted
        .map(|_| store.keyring().encrypt(&payload.to_string()));
    sqlx::query(
        "INSERT INTO deliveries (id, tenant_id, channel, target, secret, event, payload, status, attempts, \
         next_attempt_at, created_at, last_error, recipient, incident_id, address, body) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,0,$9,$15,$10,$11,$12,$13,$14)",
    )
    .bind(&id)
    .bind(d.tenant)
    .bind(d.channel)
    .bind(d.target)
    .bind(d.secret.map(|s| store.keyring().encrypt(s)))
    .bind(&d.message.event)
    .bind(shown.to_string())
    .bind(
        if d.skipped.is_some() {
            DeliveryStatus::Skipped
        } else {
            DeliveryStatus::Pending
        }
        .as_str(),
    )
    .bind(if d.lease { d.now + SEND_LEASE_MS } else { d.now })
    .bind(d.skipped)
    .bind(d.recipient)
    .bind(d.incident_id)
    .bind(d.address.map(|a| store.keyring().encrypt(a)))
    .bind(body)
    .bind(d.now)
    .execute(&mut *tx)
    .await?;
    Ok((id, payload.to_string()))
}

impl Store {
    /// Queues a message for a channel; it is sent by the notifier.
    ///
    /// Errors: `Domain(Validation)` for an unknown channel or a target that
    /// does not fit it (an http(s) URL, an email address, an E.164 number).
    pub async fn enqueue_delivery(
        &self,
        tenant: &str,
        channel: &str,
        target: &str,
        secret: Option<&str>,
        m: &Message,
    ) -> Result<Delivery> {
        if !coc_domain::notify::CHANNELS.contains(&channel) {
            return Err(coc_domain::error::invalid(format!(
                "unknown channel '{channel}': use one of {}",
                coc_domain::notify::CHANNELS.join(", ")
            ))
            .into());
        }
        let contact = coc_domain::people::contact_channel(channel);
        coc_domain::people::validate_address(contact, target)?;
        // The log shows the target masked (robot URLs carry keys, addresses
        // are personal); the real one is stored encrypted.
        let shown = coc_domain::people::mask(contact, target);
        let now = self.now();
        let mut tx = self.begin().await?;
        let (id, _) = insert_delivery(
            self,
            &mut tx,
            NewDelivery {
                tenant,
                channel,
                target: &shown,
                address: Some(target),
                secret,
                message: m,
                redacted: None,
                recipient: None,
                incident_id: None,
                skipped: None,
                lease: false,
                now,
            },
        )
        .await?;
        tx.commit().await?;
        self.deliveries.notify_one();
        let r = sqlx::query(dynsql!("SELECT {COLS} FROM deliveries WHERE id = $1"))
            .bind(&id)
            .fetch_one(self.reader())
            .await?;
        row(&r)
    }

    /// Pending deliveries whose next attempt is due (oldest first, ≤ `limit`).
    pub async fn due_deliveries(&self, limit: i64) -> Result<Vec<Due>> {
        let rows = sqlx::query(dynsql!(
            "SELECT id, channel, target, secret, payload, attempts, address, body FROM deliveries \
             WHERE status = {} AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
            crate::sql_lit(DeliveryStatus::Pending.as_str())
        ))
        .bind(self.now())
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let secret: Option<String> = r.try_get("secret")?;
                let open = |col: &str| -> Result<Option<String>> {
                    let v: Option<String> = r.try_get(col)?;
                    Ok(v.map(|v| self.keyring().decrypt(&v)).transpose()?)
                };
                Ok(Due {
                    id: r.try_get("id")?,
                    channel: r.try_get("channel")?,
                    target: match open("address")? {
                        Some(a) => a,
                        None => r.try_get("target")?,
                    },
                    body: match open("body")? {
                        Some(b) => b,
                        None => r.try_get("payload")?,
                    },
                    secret: secret.map(|s| self.keyring().decrypt(&s)).transpose()?,
                    attempts: r.try_get("attempts")?,
                    lease: 0,
                })
            })
            .collect()
    }

    /// Claims a due delivery for one send at `now`: pushes its next
    /// attempt [`SEND_LEASE_MS`] ahead so no other round (or server)
    /// picks it up meanwhile, and returns the lease end — the claim's
    /// fencing token. `None` when another sender has it or it is no
    /// longer due. A sender that dies leaves the lease to expire: the
    /// message is then sent again (at least once); a sender that outlives
    /// its lease records nothing ([`Store::record_attempt`]).
    pub async fn claim_delivery(&self, id: &str, now: i64) -> Result<Option<i64>> {
        let lease = now + SEND_LEASE_MS;
        let n = sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $1 WHERE id = $2 AND status = $3 AND next_attempt_at <= $4",
        )
        .bind(lease)
        .bind(id)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((n == 1).then_some(lease))
    }

    /// Records an attempt made under the lease ending at `lease` (from
    /// [`Store::claim_delivery`] or the leased insert): delivered, or
    /// failed with `error` — retried later, or given up after the last
    /// attempt. Returns `false`, changing nothing, when the lease is no
    /// longer the sender's (it expired and another sender claimed the
    /// delivery, or the delivery is finished).
    pub async fn record_attempt(
        &self,
        id: &str,
        lease: i64,
        error: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let attempts: i64 = sqlx::query_scalar(
            "SELECT attempts FROM deliveries WHERE id = $1 AND status = $2 AND next_attempt_at = $3",
        )
        .bind(id)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(lease)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(-1);
        if attempts < 0 {
            return Ok(false);
        }
        let attempts = attempts + 1;
        match error {
            None => {
                sqlx::query("UPDATE deliveries SET status = $1, attempts = $2, delivered_at = $3, last_error = NULL WHERE id = $4")
                    .bind(DeliveryStatus::Delivered.as_str())
                    .bind(attempts)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(e) => {
                let give_up = attempts >= i64::from(MAX_ATTEMPTS);
                let status = if give_up {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Pending
                };
                sqlx::query("UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $5")
                    .bind(status.as_str())
                    .bind(attempts)
                    .bind(now + retry_delay_ms(attempts as u32))
                    .bind(e)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The delivery log, newest first; optional status filter.
    pub async fn list_deliveries(
        &self,
        tenant: &str,
        status: Option<&str>,
        page: &Page,
    ) -> Result<Paged<Delivery>> {
        let mut w = Filter::new(tenant);
        if let Some(s) = status {
            w.push("status = ?", Arg::S(s.to_string()));
        }
        self.fetch_page(COLS, "deliveries", w, page, row, |d| d.id.clone())
            .await
    }
}
