//! Handoff notices (O2): when someone comes on call for a role, they are
//! told — "you are on call for oncall of payments from … to …" — on each
//! of their confirmed contacts, once, whichever replica sees it first.

use chrono::{DateTime, Duration, Utc};
use coc_domain::oncall::Scenario;
use coc_domain::oncall::calendar::handoffs;
use sqlx::Row;

use crate::{Result, Store};

/// How long before a handoff its notice goes out, minutes.
pub const HANDOFF_LEAD_MINUTES: i64 = 15;

impl Store {
    /// Queues the notices of every handoff in `(after, now + lead]` not
    /// notified yet, each with its record in one transaction (the record's
    /// key makes a second replica's attempt a no-op). Returns how many
    /// people were notified.
    ///
    /// Errors: a store error; handoffs not yet recorded are tried again by
    /// the next call whose window still holds them.
    pub async fn run_handoffs(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Result<usize> {
        let rows = sqlx::query("SELECT id, tenant_id, spec FROM oncall_scenarios")
            .fetch_all(self.reader())
            .await?;
        let upto = now + Duration::minutes(HANDOFF_LEAD_MINUTES);
        let mut sent = 0;
        for r in rows {
            let Ok(mut sc) = serde_json::from_str::<Scenario>(&r.try_get::<String, _>("spec")?)
            else {
                continue;
            };
            let (id, tenant): (String, String) = (r.try_get("id")?, r.try_get("tenant_id")?);
            self.app_index(&tenant).await?.to_names(&mut sc);
            for h in handoffs(&sc, after, upto) {
                let mut tx = self.begin().await?;
                let fresh = sqlx::query(
                    "INSERT INTO oncall_handoffs (tenant_id, scenario_id, role, person, start_at, sent_at) \
                     VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                )
                .bind(&tenant)
                .bind(&id)
                .bind(h.key())
                .bind(&h.person)
                .bind(h.start.timestamp_millis())
                .bind(now.timestamp_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !fresh {
                    continue;
                }
                let confirmed: Vec<String> = sqlx::query_scalar(
                    "SELECT channel FROM contacts WHERE tenant_id = $1 AND user_name = $2 AND status = $3 \
                     ORDER BY channel",
                )
                .bind(&tenant)
                .bind(&h.person)
                .bind(coc_domain::people::SubscriptionStatus::Confirmed.as_str())
                .fetch_all(&mut *tx)
                .await?;
                // A mobile number gets the notice as SMS.
                let pairs: Vec<(String, String)> = confirmed
                    .into_iter()
                    .map(|c| {
                        let ch = if c == "mobile" { "sms".to_string() } else { c };
                        (h.person.clone(), ch)
                    })
                    .collect();
                let m = h.message();
                self.deliver_to_people(
                    &mut tx,
                    &tenant,
                    &pairs,
                    &m,
                    None,
                    now.timestamp_millis(),
                    false,
                )
                .await?;
                tx.commit().await?;
                sent += 1;
            }
        }
        if sent > 0 {
            self.deliveries.notify_one();
        }
        Ok(sent)
    }
}
