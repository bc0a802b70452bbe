//! The notification delivery queue (O4): every message is stored before it
//! is sent, retried with exponential backoff
//! ([`coc_domain::notify::retry_delay_ms`]) up to
//! [`coc_domain::notify::MAX_ATTEMPTS`], and kept as the delivery log.
//! Channel secrets are encrypted at rest.

use coc_domain::notify::{MAX_ATTEMPTS, Message, render, retry_delay_ms};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Arg, Filter, Page, Paged, Result, Store, json_col, now_ms};

/// One delivery as shown in the log (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// `pending`, `delivered` or `failed` (gave up).
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
}

/// A due delivery with what the sender needs (secret decrypted).
#[derive(Debug, Clone)]
pub struct Due {
    /// Id.
    pub id: String,
    /// Channel kind.
    pub channel: String,
    /// Target URL.
    pub target: String,
    /// Exact body to send.
    pub body: String,
    /// Signing secret, if any.
    pub secret: Option<String>,
    /// Attempts made so far.
    pub attempts: i64,
}

const COLS: &str = "id, channel, target, event, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at";

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
    })
}

impl Store {
    /// Queues a message for a channel; it is sent by the notifier.
    ///
    /// Errors: `Domain(Validation)` for an unknown channel or a target that
    /// is not an http(s) URL.
    pub async fn enqueue_delivery(
        &self,
        tenant: &str,
        channel: &str,
        target: &str,
        secret: Option<&str>,
        m: &Message,
    ) -> Result<Delivery> {
        if !(target.starts_with("http://") || target.starts_with("https://")) || target.len() > 2048
        {
            return Err(coc_domain::error::invalid("the target must be an http(s) URL").into());
        }
        let now = now_ms();
        let payload = render(channel, m, now)?;
        let id = coc_domain::id::new_id();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO deliveries (id, tenant_id, channel, target, secret, event, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,'pending',0,$8,$8)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(channel)
        .bind(target)
        .bind(secret.map(|s| self.keyring().encrypt(s)))
        .bind(&m.event)
        .bind(serde_json::to_string(&payload).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        let r = sqlx::query(dynsql!("SELECT {COLS} FROM deliveries WHERE id = $1"))
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
        row(&r)
    }

    /// Pending deliveries whose next attempt is due (oldest first, ≤ `limit`).
    pub async fn due_deliveries(&self, limit: i64) -> Result<Vec<Due>> {
        let rows = sqlx::query(
            "SELECT id, channel, target, secret, payload, attempts FROM deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let secret: Option<String> = r.try_get("secret")?;
                Ok(Due {
                    id: r.try_get("id")?,
                    channel: r.try_get("channel")?,
                    target: r.try_get("target")?,
                    body: r.try_get("payload")?,
                    secret: secret.map(|s| self.keyring().decrypt(&s)).transpose()?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Records an attempt: delivered, or failed with `error` — retried
    /// later, or given up after the last attempt.
    pub async fn record_attempt(&self, id: &str, error: Option<&str>) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let attempts: i64 = sqlx::query_scalar(
            "SELECT attempts FROM deliveries WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(-1);
        if attempts < 0 {
            return Ok(());
        }
        let attempts = attempts + 1;
        match error {
            None => {
                sqlx::query("UPDATE deliveries SET status = 'delivered', attempts = $1, delivered_at = $2, last_error = NULL WHERE id = $3")
                    .bind(attempts)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(e) => {
                let give_up = attempts >= i64::from(MAX_ATTEMPTS);
                sqlx::query("UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $5")
                    .bind(if give_up { "failed" } else { "pending" })
                    .bind(attempts)
                    .bind(now + retry_delay_ms(attempts as u32))
                    .bind(e)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
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
