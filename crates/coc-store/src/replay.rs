//! Replay before enabling (B3): the stored alarms of the last days, handed
//! to [`coc_domain::replay`] to see what a forwarding rule or a silence
//! would have done; the incident changes of the last days for a
//! notification rule.

use coc_domain::alarm::AlarmStatus;
use coc_domain::error::invalid;
use coc_domain::replay::{MAX_DAYS, RuleReplay, SilenceReplay, Stored};
use coc_domain::rule::RuleSpec;
use coc_domain::silence::{MatcherInput, Weekly};

use crate::{Result, Store};

/// Most stored alarms a replay looks at (the newest).
pub const REPLAY_ALARMS: i64 = 50_000;

/// Most incident changes a notification-rule replay looks at (the newest).
pub const REPLAY_EVENTS: i64 = 5_000;

impl Store {
    /// The newest [`REPLAY_ALARMS`] alarms of `tenant` last seen within
    /// `days` days before `now`, newest first.
    ///
    /// Errors: `Domain(Validation)` for `days` outside 1..=30.
    async fn replay_alarms(&self, tenant: &str, days: u32, now: i64) -> Result<Vec<Stored>> {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(invalid(format!("days must be 1 to {MAX_DAYS}")).into());
        }
        let since = now - i64::from(days) * 86_400_000;
        let rows = self.alarms_seen_since(tenant, since, REPLAY_ALARMS).await?;
        rows.into_iter()
            .map(|a| {
                let status = AlarmStatus::parse(&a.status)?;
                Ok(Stored {
                    alarm: a.as_event(status, a.last_seen),
                    id: a.id,
                    integration_id: a.integration_id,
                    fingerprint: a.fingerprint,
                    last_seen: a.last_seen,
                })
            })
            .collect()
    }

    /// What forwarding rule `spec` would have done to the alarms of the
    /// last `days` days ([`coc_domain::replay::rule`]); `rule_id` names a
    /// saved rule, else a placeholder.
    ///
    /// Errors: `Domain(Validation)` for a bad rule or `days`.
    pub async fn replay_rule(
        &self,
        tenant: &str,
        spec: &RuleSpec,
        days: u32,
    ) -> Result<RuleReplay> {
        spec.validate()?;
        let alarms = self.replay_alarms(tenant, days, self.now()).await?;
        Ok(coc_domain::replay::rule(spec, "replay", &alarms))
    }

    /// What a silence with `matchers` (and `weekly` hours) would have
    /// muted among the alarms of the last `days` days
    /// ([`coc_domain::replay::silence`]).
    ///
    /// Errors: `Domain(Validation)` for a bad matcher, weekly window or
    /// `days`.
    pub async fn replay_silence(
        &self,
        tenant: &str,
        matchers: &[MatcherInput],
        weekly: Option<&Weekly>,
        days: u32,
    ) -> Result<SilenceReplay> {
        let parsed = coc_domain::silence::parse_inputs(matchers)?;
        if parsed.is_empty() {
            return Err(invalid("give at least one matcher").into());
        }
        if let Some(w) = weekly {
            w.validate()?;
        }
        let compiled = coc_domain::silence::compile_all(&parsed)?;
        let alarms = self.replay_alarms(tenant, days, self.now()).await?;
        Ok(coc_domain::replay::silence(&compiled, weekly, &alarms))
    }

    /// What notification rule `rule` would have sent for the incident
    /// changes of the last `days` days: each change it matches, with the
    /// people its recipients named at that moment (shift roles on call
    /// then; the incident as it is now) — [`coc_domain::replay::notification`].
    ///
    /// Errors: `Domain(Validation)` for a bad rule or `days`.
    pub async fn replay_notification_rule(
        &self,
        tenant: &str,
        rule: &coc_domain::notify::NotificationRule,
        days: u32,
    ) -> Result<coc_domain::replay::NotificationReplay> {
        use coc_domain::notify::Template;
        use coc_domain::replay::StoredEvent;
        use sqlx::Row;
        rule.validate()?;
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(invalid(format!("days must be 1 to {MAX_DAYS}")).into());
        }
        let since = self.now() - i64::from(days) * 86_400_000;
        let rows = sqlx::query(
            "SELECT incident_id, event, at FROM incident_events \
             WHERE tenant_id = $1 AND at >= $2 ORDER BY at DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(since)
        .bind(REPLAY_EVENTS)
        .fetch_all(self.reader())
        .await?;
        let mut facts = std::collections::HashMap::new();
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            let incident: String = r.try_get("incident_id")?;
            let Ok(template) = Template::parse(&r.try_get::<String, _>("event")?) else {
                continue;
            };
            if !facts.contains_key(&incident) {
                let f = self.incident_facts(tenant, &incident).await?;
                facts.insert(incident.clone(), f);
            }
            let Some(Some(f)) = facts.get(&incident) else {
                continue;
            };
            events.push(StoredEvent {
                at: r.try_get("at")?,
                template,
                facts: f.clone(),
            });
        }
        let mut people = vec![];
        for i in coc_domain::replay::notification_matches(rule, &events) {
            let e = &events[i];
            let at = chrono::DateTime::from_timestamp_millis(e.at).unwrap_or_default();
            let ps = self
                .resolve_people(tenant, &rule.recipients, &e.facts, at)
                .await?;
            people.push((i, ps));
        }
        Ok(coc_domain::replay::notification(rule, &events, &people))
    }
}
