//! Escalation (I7): stored policies and the running escalation of each
//! incident. [`Store::run_escalations`] takes the clock as an argument, so
//! tests drive timers without sleeping; the server calls it each second
//! with the real time.

use chrono::{DateTime, Utc};
use coc_domain::escalation::{EscalationPolicy, EscalationState, Progress, pick};
use coc_domain::notify::{IncidentFacts, Message, dedup};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::spec::{Kind, Stored};
use crate::{Result, Store};

/// Storage of escalation policies.
pub const POLICIES: Kind = Kind {
    table: "escalation_policies",
    noun: "escalation policy",
    enabled_on_create: true,
};

/// A stored escalation policy.
pub type StoredPolicy = Stored<EscalationPolicy>;

/// The escalation of one incident.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Escalation {
    /// Incident id.
    pub incident_id: String,
    /// Policy id.
    pub policy_id: String,
    /// Next level to fire (0-based).
    pub level: i64,
    /// Round (0 = first pass).
    pub round: i64,
    /// Levels fired so far.
    pub fired: i64,
    /// When the next level fires, Unix ms.
    pub next_at: i64,
    /// `running`, `stopped` (the incident left unaccepted) or `exhausted`.
    pub state: String,
}

impl crate::spec::Document for EscalationPolicy {
    const KIND: Kind = POLICIES;
    fn name(&self) -> &str {
        &self.name
    }
    fn validate(&self) -> std::result::Result<(), coc_domain::DomainError> {
        EscalationPolicy::validate(self)
    }
}

impl Store {
    pub(crate) async fn enabled_escalation_policies(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, EscalationPolicy)>> {
        Ok(self
            .doc_enabled::<EscalationPolicy>(tenant)
            .await?
            .into_iter()
            .map(|s| (s.id, s.spec))
            .collect())
    }

    /// (Re)starts the escalation of an incident that waits to be accepted,
    /// with the policy that covers it; no policy, no escalation.
    pub(crate) async fn start_escalation(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        incident: &str,
        f: &IncidentFacts,
        policies: &[(String, EscalationPolicy)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some((pid, p)) = pick(policies, f) else {
            return Ok(());
        };
        let (pr, due) = p.first_due(now.timestamp_millis());
        sqlx::query("DELETE FROM escalations WHERE incident_id = $1")
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        sqlx::query(dynsql!(
            "INSERT INTO escalations (incident_id, tenant_id, policy_id, level, round, fired, next_at, state, updated_at) \
             VALUES ($1,$2,$3,$4,$5,0,$6,{},$7)",
            crate::sql_lit(EscalationState::Running.as_str())
        ))
        .bind(incident)
        .bind(tenant)
        .bind(pid)
        .bind(pr.level as i64)
        .bind(i64::from(pr.round))
        .bind(due)
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// The escalation of an incident, if it has one.
    pub async fn get_escalation(&self, tenant: &str, incident: &str) -> Result<Option<Escalation>> {
        let r = sqlx::query(
            "SELECT incident_id, policy_id, level, round, fired, next_at, state FROM escalations \
             WHERE tenant_id = $1 AND incident_id = $2",
        )
        .bind(tenant)
        .bind(incident)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| {
            Ok(Escalation {
                incident_id: r.try_get("incident_id")?,
                policy_id: r.try_get("policy_id")?,
                level: r.try_get("level")?,
                round: r.try_get("round")?,
                fired: r.try_get("fired")?,
                next_at: r.try_get("next_at")?,
                state: r.try_get("state")?,
            })
        })
        .transpose()
    }

    /// Fires every escalation level due at `now`: if the incident is still
    /// unaccepted, notifies the level's recipients (deduplicated per
    /// person and channel), writes an `escalate` history entry and moves to
    /// the next level; otherwise the escalation stops. Returns the number
    /// of levels fired.
    ///
    /// Errors: a store error; what was not committed is retried next time.
    pub async fn run_escalations(&self, now: DateTime<Utc>) -> Result<usize> {
        let now_ms = now.timestamp_millis();
        let due = sqlx::query(dynsql!(
            "SELECT e.incident_id, e.tenant_id, e.policy_id, e.level, e.round, e.updated_at, i.status \
             FROM escalations e LEFT JOIN incidents i ON i.id = e.incident_id \
             WHERE e.state = {} AND e.next_at <= $1 ORDER BY e.next_at LIMIT 100",
            crate::sql_lit(EscalationState::Running.as_str())
        ))
        .bind(now_ms)
        .fetch_all(self.reader())
        .await?;
        let mut fired = 0;
        for r in &due {
            let incident: String = r.try_get("incident_id")?;
            let tenant: String = r.try_get("tenant_id")?;
            let seen: i64 = r.try_get("updated_at")?;
            let status: Option<String> = r.try_get("status")?;
            let policy = self
                .spec_get::<EscalationPolicy>(
                    POLICIES,
                    &tenant,
                    &r.try_get::<String, _>("policy_id")?,
                )
                .await
                .ok()
                .filter(|p| p.enabled);
            let facts = self.incident_facts(&tenant, &incident).await?;
            let (Some(policy), Some(f), Some("unaccepted")) = (policy, facts, status.as_deref())
            else {
                self.set_escalation_state(&incident, seen, EscalationState::Stopped, now_ms)
                    .await?;
                continue;
            };
            let p = &policy.spec;
            let pr = Progress {
                level: (r.try_get::<i64, _>("level")? as usize).min(p.levels.len() - 1),
                round: r.try_get::<i64, _>("round")? as u32,
            };
            let level = &p.levels[pr.level];
            let people = self
                .resolve_people(&tenant, &level.recipients, &f, now)
                .await?;
            let pairs = dedup(
                people
                    .iter()
                    .flat_map(|x| level.channels.iter().map(move |c| (x.clone(), c.clone()))),
            );
            let m = Message {
                incident: f.reference(),
                event: "incident_escalated".into(),
                subject: format!(
                    "[{}] {} not accepted — escalation level {}: {}",
                    f.level,
                    f.number,
                    pr.level + 1,
                    f.title
                ),
                body: format!(
                    "Incident {} ({}) owned by {} is still not accepted. Escalation policy '{}', level {} of {}, round {}.",
                    f.number,
                    f.level,
                    f.assignee,
                    p.name,
                    pr.level + 1,
                    p.levels.len(),
                    pr.round + 1
                ),
                link: None,
                actions: vec![],
            };
            let mut tx = self.begin().await?;
            let (next, state, next_at) = match p.after_fire(pr, now_ms) {
                Some((n, at)) => (n, EscalationState::Running, at),
                None => (pr, EscalationState::Exhausted, now_ms),
            };
            let n = sqlx::query(dynsql!(
                "UPDATE escalations SET level = $1, round = $2, fired = fired + 1, next_at = $3, state = $4, updated_at = $5 \
                 WHERE incident_id = $6 AND updated_at = $7 AND state = {}",
                crate::sql_lit(EscalationState::Running.as_str())
            ))
            .bind(next.level as i64)
            .bind(i64::from(next.round))
            .bind(next_at)
            .bind(state.as_str())
            .bind(now_ms.max(seen + 1))
            .bind(&incident)
            .bind(seen)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                continue;
            }
            self.deliver_to_people(&mut tx, &tenant, &pairs, &m, Some(&incident), now_ms, false)
                .await?;
            // A reassigning level hands the incident to the next person
            // (the next role's on-call); it stays unaccepted, so the
            // following levels still fire if they do not accept it either.
            if let Some(to) = level.new_owner(&people, &f.assignee) {
                let moved = sqlx::query(dynsql!(
                    "UPDATE incidents SET assignee = $1, updated_at = $2 \
                     WHERE tenant_id = $3 AND id = $4 AND status = {}",
                    crate::sql_lit(coc_domain::incident::IncidentStatus::Unaccepted.as_str())
                ))
                .bind(to)
                .bind(now_ms)
                .bind(&tenant)
                .bind(&incident)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved == 1 {
                    crate::incident::history(
                        &mut tx,
                        &tenant,
                        &incident,
                        now_ms,
                        "system",
                        "reassign",
                        Some(coc_domain::incident::IncidentStatus::Unaccepted),
                        Some(coc_domain::incident::IncidentStatus::Unaccepted),
                        &format!(
                            "reassigned from {} to {to} by escalation level {} ({})",
                            f.assignee,
                            pr.level + 1,
                            p.name
                        ),
                        None,
                    )
                    .await?;
                }
            }
            crate::incident::history(
                &mut tx,
                &tenant,
                &incident,
                now_ms,
                "system",
                "escalate",
                Some(coc_domain::incident::IncidentStatus::Unaccepted),
                Some(coc_domain::incident::IncidentStatus::Unaccepted),
                &format!(
                    "escalated to level {} ({}): {}",
                    pr.level + 1,
                    p.name,
                    if people.is_empty() {
                        "nobody on call".to_string()
                    } else {
                        people.join(", ")
                    }
                ),
                None,
            )
            .await?;
            tx.commit().await?;
            fired += 1;
        }
        if fired > 0 {
            self.deliveries.notify_one();
        }
        Ok(fired)
    }

    async fn set_escalation_state(
        &self,
        incident: &str,
        seen: i64,
        state: EscalationState,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE escalations SET state = $1, updated_at = $2 WHERE incident_id = $3 AND updated_at = $4",
        )
        .bind(state.as_str())
        .bind(now.max(seen + 1))
        .bind(incident)
        .bind(seen)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
