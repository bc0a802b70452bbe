//! Acknowledge and resolve by replying to the SMS (I7, ref. 7.1.3): the
//! reply codes an incident SMS carries, kept per number
//! ([`coc_domain::sms_reply`] reads replies; the server checks the
//! gateway's signature and the person's permission).

use coc_domain::action_link::{self, ActionLink, LINK_TTL_MS, LinkAction};
use coc_domain::incident::IncidentStatus;
use coc_domain::notify::Message;
use coc_domain::sms_reply::{code_from, instructions};
use sqlx::Row;

use crate::{Result, Store};

/// Tries to find a code not in use for a number before giving up (10,000
/// codes; a person has a handful open at once).
const CODE_TRIES: usize = 32;

impl Store {
    /// The keyed hash a number is kept as (E.164, as the gateway sends
    /// `From`).
    fn mobile_hash(&self, mobile: &str) -> String {
        let key = self.keyring().derive("coc sms reply numbers v1");
        coc_domain::notify::sign(&key, mobile.trim().as_bytes())
    }

    /// `m` as an SMS to `user` at `mobile` ends: with a reply code for
    /// what the incident in `status` still allows (the code is stored in
    /// `tx`, valid [`LINK_TTL_MS`]); `None` when nothing is left to do.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn with_sms_reply(
        &self,
        tx: &mut sqlx::AnyConnection,
        m: &Message,
        tenant: &str,
        user: &str,
        mobile: &str,
        status: Option<IncidentStatus>,
        now: i64,
    ) -> Result<Option<Message>> {
        let (Some(incident), Some(status)) = (m.incident.as_ref(), status) else {
            return Ok(None);
        };
        let offered = action_link::offered(status);
        if offered.is_empty() {
            return Ok(None);
        }
        let hash = self.mobile_hash(mobile);
        sqlx::query("DELETE FROM sms_replies WHERE mobile_hash = $1 AND expires_at <= $2")
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for _ in 0..CODE_TRIES {
            let code = code_from(rand::random());
            let taken: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM sms_replies WHERE mobile_hash = $1 AND code = $2",
            )
            .bind(&hash)
            .bind(&code)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                continue;
            }
            sqlx::query(
                "INSERT INTO sms_replies (mobile_hash, code, tenant_id, user_name, incident_id, created_at, expires_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7)",
            )
            .bind(&hash)
            .bind(&code)
            .bind(tenant)
            .bind(user)
            .bind(&incident.id)
            .bind(now)
            .bind(now + LINK_TTL_MS)
            .execute(&mut *tx)
            .await?;
            return Ok(Some(Message {
                body: format!("{}\n\n{}", m.body, instructions(&code, &offered)),
                ..m.clone()
            }));
        }
        tracing::warn!(user = %user, "no free SMS reply code; the SMS goes without one");
        Ok(None)
    }

    /// What a reply of `code` from `mobile` acts on, as a link of its
    /// person for `action`; `None` when no valid code of that number
    /// matches (unknown, expired, or another number's).
    pub async fn sms_reply(
        &self,
        mobile: &str,
        code: &str,
        action: LinkAction,
    ) -> Result<Option<ActionLink>> {
        let now = self.now();
        let r = sqlx::query(
            "SELECT tenant_id, user_name, incident_id, expires_at FROM sms_replies \
             WHERE mobile_hash = $1 AND code = $2 AND expires_at > $3",
        )
        .bind(self.mobile_hash(mobile))
        .bind(code)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| {
            Ok(ActionLink {
                tenant: r.try_get("tenant_id")?,
                incident_id: r.try_get("incident_id")?,
                user: r.try_get("user_name")?,
                action,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Deletes reply codes that ended before `now`; how many.
    pub async fn purge_sms_replies(&self, now: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sms_replies WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
