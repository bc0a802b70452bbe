//! SLAs and SLA records (O5, ref. 11.5).
//!
//! When an incident is created, the enabled SLA that governs it (custom
//! over common, some applications over all) is copied into one record per
//! status type: later changes to the SLA apply only to tickets entering
//! the SLA afterwards. Every status change (from the incident event
//! outbox, with its exact time) closes the running record and opens the
//! next; a record accumulates effective time over all visits to its
//! status. [`Store::run_sla`] takes the clock as an argument: it pre-warns
//! and breaks records whose next check is due and notifies the rule's
//! recipients. Common SLAs are preset per tenant, disabled; tenants only
//! enable or disable them.

use chrono::{DateTime, Utc};
use coc_domain::notify::{IncidentFacts, Message, dedup};
use coc_domain::sla::{Effective, Sla, SlaRule, SlaState, Trigger, pick};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::spec::{Document, Kind};
use crate::{Arg, Filter, Page, Paged, Result, Store, json_col};

/// Storage of SLAs (created disabled, ref. 11.5.1).
pub const SLAS: Kind = Kind {
    table: "slas",
    noun: "SLA",
    enabled_on_create: false,
};

impl Document for Sla {
    const KIND: Kind = SLAS;
    const EDIT_ONLY_DISABLED: bool = true;
    fn name(&self) -> &str {
        &self.name
    }
    fn validate(&self) -> std::result::Result<(), coc_domain::DomainError> {
        if self.common {
            return Err(coc_domain::error::invalid(
                "common SLAs are preset by COC; create a custom SLA",
            ));
        }
        Sla::validate(self)
    }
    fn check_against(&self, others: &[&Self]) -> std::result::Result<(), coc_domain::DomainError> {
        match others.iter().find(|o| self.conflicts(o)) {
            Some(o) => Err(coc_domain::error::invalid(format!(
                "SLA '{}' already covers this trigger type, level and applications",
                o.name
            ))),
            None => Ok(()),
        }
    }
    fn locked(&self) -> Option<String> {
        self.common
            .then(|| "a common SLA can only be enabled or disabled".to_string())
    }
}

/// A notification an SLA record sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SlaNotice {
    /// `pre_warning` or `broken`.
    pub kind: String,
    /// When, Unix ms.
    pub at: i64,
    /// People notified.
    pub recipients: Vec<String>,
    /// Channels used.
    pub channels: Vec<String>,
}

/// One status type of a ticket under an SLA (ref. 11.5.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SlaRecord {
    /// Id.
    pub id: String,
    /// `incident`.
    pub ticket_kind: String,
    /// Ticket id.
    pub ticket_id: String,
    /// Ticket number.
    pub ticket_number: String,
    /// Ticket owner when it entered the SLA.
    pub owner: String,
    /// SLA id and name.
    pub sla_id: String,
    /// SLA name.
    pub sla_name: String,
    /// Status type.
    pub status: String,
    /// Effective time spent in the status so far, ms (as of the read).
    pub duration_ms: i64,
    /// Whether the ticket is in this status now.
    pub running: bool,
    /// Target, ms.
    pub target_ms: i64,
    /// `normal`, `pre_warned`, `has_broken`.
    pub state: String,
    /// When it was pre-warned, Unix ms.
    pub prewarned_at: Option<i64>,
    /// When it broke, Unix ms.
    pub broken_at: Option<i64>,
    /// Notifications sent.
    pub notifications: Vec<SlaNotice>,
}

const COLS: &str = "id, ticket_kind, ticket_id, ticket_number, owner, sla_id, sla_name, spec, status, \
    duration_ms, current_since, target_ms, state, prewarned_at, broken_at, notifications, updated_at";

fn spec_of(r: &AnyRow) -> Result<Sla> {
    serde_json::from_str(&r.try_get::<String, _>("spec")?)
        .map_err(|e| crate::StoreError::Conflict(format!("stored SLA copy is unreadable: {e}")))
}

fn record(r: &AnyRow, now: i64) -> Result<SlaRecord> {
    let sla = spec_of(r)?;
    let since: Option<i64> = r.try_get("current_since")?;
    let closed: i64 = r.try_get("duration_ms")?;
    Ok(SlaRecord {
        id: r.try_get("id")?,
        ticket_kind: r.try_get("ticket_kind")?,
        ticket_id: r.try_get("ticket_id")?,
        ticket_number: r.try_get("ticket_number")?,
        owner: r.try_get("owner")?,
        sla_id: r.try_get("sla_id")?,
        sla_name: r.try_get("sla_name")?,
        status: r.try_get("status")?,
        duration_ms: closed + since.map_or(0, |s| sla.effective.effective_ms(s, now)),
        running: since.is_some(),
        target_ms: r.try_get("target_ms")?,
        state: r.try_get("state")?,
        prewarned_at: r.try_get("prewarned_at")?,
        broken_at: r.try_get("broken_at")?,
        notifications: serde_json::from_value(json_col(r, "notifications")).unwrap_or_default(),
    })
}

/// When the next threshold (pre-warning, then target) of a running record
/// is reached, or `None` when it has broken already.
fn next_check(
    e: &Effective,
    rule: &SlaRule,
    closed_ms: i64,
    since: i64,
    state: SlaState,
) -> Option<i64> {
    let target = i64::from(rule.target_minutes) * 60_000;
    let warn = rule.prewarn_minutes.map(|p| target - i64::from(p) * 60_000);
    let threshold = match (state, warn) {
        (SlaState::Normal, Some(w)) => w,
        (SlaState::HasBroken, _) => return None,
        _ => target,
    };
    e.deadline(since, threshold - closed_ms)
}

/// The common SLAs preset in every tenant (disabled).
fn common_slas() -> Vec<Sla> {
    serde_json::from_value(serde_json::json!([
        {"name": "common-incident", "common": true, "trigger": "incident",
         "description": "Preset: accept within 15 minutes, handle within 4 hours, verify within a day.",
         "levels": ["P1", "P2", "P3", "P4", "P5"],
         "rules": [
            {"status": "unaccepted", "target_minutes": 15, "prewarn_minutes": 5, "channels": ["email"]},
            {"status": "accepted", "target_minutes": 240, "prewarn_minutes": 30, "channels": ["email"]},
            {"status": "to_be_verified", "target_minutes": 1440, "prewarn_minutes": 120, "channels": ["email"]}]},
        {"name": "common-alarm", "common": true, "trigger": "alarm",
         "description": "Preset: an alarm is cleared within an hour.",
         "levels": ["Critical", "Major", "Minor", "Suggestion"],
         "rules": [{"status": "alarm", "target_minutes": 60, "prewarn_minutes": 15, "channels": ["email"]}]}
    ]))
    .expect("the preset SLAs are valid")
}

impl Store {
    /// What SLA notifications show of an alarm (no owner); `None` if gone.
    async fn alarm_facts(&self, tenant: &str, id: &str) -> Result<Option<IncidentFacts>> {
        let r = sqlx::query(
            "SELECT name, level, source, application, region, resource_name FROM alarms WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| {
            let name: String = r.try_get("name")?;
            let res: Option<String> = r.try_get("resource_name")?;
            Ok(IncidentFacts {
                id: String::new(),
                description: String::new(),
                number: alarm_number(&name, res.as_deref()),
                title: name,
                level: r.try_get("level")?,
                category: None,
                source: r.try_get("source")?,
                application: r.try_get("application")?,
                region: r.try_get("region")?,
                assignee: String::new(),
                rule_id: None,
            })
        })
        .transpose()
    }

    /// Adds the common SLAs to a tenant that lacks them (idempotent).
    pub async fn ensure_common_slas(&self, tenant: &str) -> Result<()> {
        for s in common_slas() {
            if self.spec_get::<Sla>(SLAS, tenant, &s.name).await.is_err() {
                match self.spec_create(SLAS, tenant, &s.name, &s).await {
                    Ok(_) | Err(crate::StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Starts or moves the SLA records of an incident for a status change
    /// `from → to` at `at` (Unix ms), in `tx`.
    pub(crate) async fn sla_transition(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        incident: &str,
        f: &IncidentFacts,
        (from, to): (Option<&str>, Option<&str>),
        at: i64,
    ) -> Result<()> {
        if from.is_none() {
            let slas = self.enabled_slas(tenant, Trigger::Incident).await?;
            let t = Ticket {
                kind: "incident",
                id: incident,
                number: &f.number,
                owner: &f.assignee,
                level: &f.level,
                application: f.application.as_deref(),
            };
            return self
                .sla_enter(tx, tenant, &t, &slas, to.unwrap_or(""), at)
                .await;
        }
        self.sla_move(tx, incident, (from, to), at)
            .await
            .map(|_| ())
    }

    /// The enabled SLAs of a trigger type, as `(id, sla)`.
    pub(crate) async fn enabled_slas(
        &self,
        tenant: &str,
        trigger: Trigger,
    ) -> Result<Vec<(String, Sla)>> {
        Ok(self
            .doc_enabled::<Sla>(tenant)
            .await?
            .into_iter()
            .filter(|s| s.spec.trigger == trigger)
            .map(|s| (s.id, s.spec))
            .collect())
    }

    /// Puts a ticket under the SLA among `slas` that governs it (if any):
    /// one record per status type, the one of `status` running from `at`.
    pub(crate) async fn sla_enter(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        t: &Ticket<'_>,
        slas: &[(String, Sla)],
        status: &str,
        at: i64,
    ) -> Result<()> {
        let trigger = if t.kind == "alarm" {
            Trigger::Alarm
        } else {
            Trigger::Incident
        };
        let Some((sla_id, sla)) = pick(slas, trigger, t.level, t.application) else {
            return Ok(());
        };
        for rule in &sla.rules {
            let running = rule.status == status;
            let next = running
                .then(|| next_check(&sla.effective, rule, 0, at, SlaState::Normal))
                .flatten();
            sqlx::query(
                "INSERT INTO sla_records (id, tenant_id, ticket_kind, ticket_id, ticket_number, owner, sla_id, \
                 sla_name, spec, status, duration_ms, current_since, target_ms, state, next_check_at, \
                 notifications, created_at, updated_at) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,0,$11,$12,'normal',$13,'[]',$14,$14)",
            )
            .bind(crate::new_id())
            .bind(tenant)
            .bind(t.kind)
            .bind(t.id)
            .bind(t.number)
            .bind(t.owner)
            .bind(sla_id)
            .bind(&sla.name)
            .bind(serde_json::to_string(sla).unwrap_or_default())
            .bind(&rule.status)
            .bind(running.then_some(at))
            .bind(i64::from(rule.target_minutes) * 60_000)
            .bind(next)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    /// Closes the running record of status `from` and resumes the one of
    /// `to` for a ticket's status change at `at`; returns how many records
    /// the ticket has for these statuses (0: not under an SLA).
    pub(crate) async fn sla_move(
        &self,
        tx: &mut sqlx::AnyConnection,
        ticket: &str,
        (from, to): (Option<&str>, Option<&str>),
        at: i64,
    ) -> Result<usize> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM sla_records WHERE ticket_id = $1 AND (status = $2 OR status = $3)"
        ))
        .bind(ticket)
        .bind(from.unwrap_or(""))
        .bind(to.unwrap_or(""))
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let sla = spec_of(r)?;
            let status: String = r.try_get("status")?;
            let Some(rule) = sla.rule(&status) else {
                continue;
            };
            let id: String = r.try_get("id")?;
            let closed: i64 = r.try_get("duration_ms")?;
            let since: Option<i64> = r.try_get("current_since")?;
            let state = SlaState::after(rule, closed);
            let state = state.max_with(&r.try_get::<String, _>("state")?);
            if Some(status.as_str()) == from {
                if let Some(s) = since {
                    let total = closed + sla.effective.effective_ms(s, at);
                    let ended = SlaState::after(rule, total).max_with(state.as_str());
                    let broken_at = (ended == SlaState::HasBroken)
                        .then(|| sla.effective.deadline(s, rule_target(rule) - closed))
                        .flatten();
                    sqlx::query(
                        "UPDATE sla_records SET duration_ms = $1, current_since = NULL, next_check_at = NULL, \
                         state = $2, broken_at = COALESCE(broken_at, $3), updated_at = $4 WHERE id = $5",
                    )
                    .bind(total)
                    .bind(ended.as_str())
                    .bind(broken_at)
                    .bind(at)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                }
            } else if since.is_none() {
                sqlx::query(
                    "UPDATE sla_records SET current_since = $1, next_check_at = $2, updated_at = $1 WHERE id = $3",
                )
                .bind(at)
                .bind(next_check(&sla.effective, rule, closed, at, state))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(rows.len())
    }

    /// Pre-warns and breaks every running record whose next check is due
    /// at `now`, notifying the rule's recipients on its channels. Returns
    /// the number of notices. Errors: a store error; retried next time.
    pub async fn run_sla(&self, now: DateTime<Utc>) -> Result<usize> {
        let now_ms = now.timestamp_millis();
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS}, tenant_id FROM sla_records WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT 200"
        ))
        .bind(now_ms)
        .fetch_all(self.reader())
        .await?;
        let mut notices = 0;
        for r in &rows {
            let sla = spec_of(r)?;
            let rec = record(r, now_ms)?;
            let tenant: String = r.try_get("tenant_id")?;
            let seen: i64 = r.try_get("updated_at")?;
            let Some(rule) = sla.rule(&rec.status) else {
                continue;
            };
            let Some(since) = r.try_get::<Option<i64>, _>("current_since")? else {
                continue;
            };
            let old = SlaState::Normal.max_with(&rec.state);
            let new = SlaState::after(rule, rec.duration_ms).max_with(old.as_str());
            let closed: i64 = r.try_get("duration_ms")?;
            let mut notes = rec.notifications.clone();
            let mut tx = self.begin().await?;
            if new != old {
                let kind = if new == SlaState::HasBroken {
                    "broken"
                } else {
                    "pre_warning"
                };
                let facts = if rec.ticket_kind == "alarm" {
                    self.alarm_facts(&tenant, &rec.ticket_id).await?
                } else {
                    self.incident_facts(&tenant, &rec.ticket_id).await?
                };
                let mut people = vec![];
                if let (Some(f), false) = (&facts, rule.channels.is_empty()) {
                    people = self
                        .resolve_people(&tenant, &rule.recipients, f, now)
                        .await?;
                    let pairs =
                        dedup(people.iter().flat_map(|p| {
                            rule.channels.iter().map(move |c| (p.clone(), c.clone()))
                        }));
                    let m = sla_message(f, &rec, rule, kind);
                    self.deliver_to_people(
                        &mut tx,
                        &tenant,
                        &pairs,
                        &m,
                        Some(&rec.ticket_id),
                        now_ms,
                        false,
                    )
                    .await?;
                }
                notes.push(SlaNotice {
                    kind: kind.into(),
                    at: now_ms,
                    recipients: people,
                    channels: rule.channels.clone(),
                });
                notices += 1;
            }
            let n = sqlx::query(
                "UPDATE sla_records SET state = $1, next_check_at = $2, notifications = $3, \
                 prewarned_at = CASE WHEN $4 THEN COALESCE(prewarned_at, $5) ELSE prewarned_at END, \
                 broken_at = CASE WHEN $6 THEN COALESCE(broken_at, $5) ELSE broken_at END, updated_at = $7 \
                 WHERE id = $8 AND updated_at = $9",
            )
            .bind(new.as_str())
            .bind(next_check(&sla.effective, rule, closed, since, new))
            .bind(serde_json::to_string(&notes).unwrap_or_default())
            .bind(new != SlaState::Normal)
            .bind(now_ms)
            .bind(new == SlaState::HasBroken)
            .bind(now_ms.max(seen + 1))
            .bind(&rec.id)
            .bind(seen)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                tx.commit().await?;
            }
        }
        if notices > 0 {
            self.deliveries.notify_one();
        }
        Ok(notices)
    }

    /// SLA records, newest first; filters: ticket id or number, state.
    pub async fn list_sla_records(
        &self,
        tenant: &str,
        ticket: Option<&str>,
        state: Option<&str>,
        page: &Page,
    ) -> Result<Paged<SlaRecord>> {
        let mut w = Filter::new(tenant);
        if let Some(t) = ticket {
            w.push(
                "(ticket_id = ? OR ticket_number = ?)",
                Arg::S(t.to_string()),
            );
        }
        if let Some(s) = state {
            w.push("state = ?", Arg::S(s.to_string()));
        }
        let now = self.now();
        self.fetch_page(
            COLS,
            "sla_records",
            w,
            page,
            |r| record(r, now),
            |d| d.id.clone(),
        )
        .await
    }
}

/// How an alarm is named in SLA records: `name@resource`.
pub(crate) fn alarm_number(name: &str, resource: Option<&str>) -> String {
    format!("{name}@{}", resource.unwrap_or("-"))
}

/// A ticket entering SLA handling.
pub(crate) struct Ticket<'a> {
    /// `incident` or `alarm`.
    pub kind: &'a str,
    pub id: &'a str,
    /// Shown in records (`INC…`, or `alarm@resource`).
    pub number: &'a str,
    pub owner: &'a str,
    pub level: &'a str,
    pub application: Option<&'a str>,
}

fn rule_target(rule: &SlaRule) -> i64 {
    i64::from(rule.target_minutes) * 60_000
}

fn sla_message(f: &IncidentFacts, rec: &SlaRecord, rule: &SlaRule, kind: &str) -> Message {
    let what = if kind == "broken" {
        "has broken its SLA"
    } else {
        "is about to break its SLA"
    };
    Message {
        incident: f.reference(),
        event: format!("sla_{kind}"),
        subject: format!("[{}] {} {what}: {}", f.level, f.number, f.title),
        body: format!(
            "{} {} has been {} for {} min (target {} min, SLA '{}'). Owner: {}",
            if rec.ticket_kind == "alarm" {
                "Alarm"
            } else {
                "Incident"
            },
            f.number,
            rec.status.replace('_', " "),
            rec.duration_ms / 60_000,
            rule.target_minutes,
            rec.sla_name,
            if f.assignee.is_empty() {
                "-"
            } else {
                &f.assignee
            }
        ),
        link: None,
        actions: vec![],
    }
}

trait MaxWith {
    fn max_with(self, stored: &str) -> SlaState;
}

impl MaxWith for SlaState {
    /// The later of this state and a stored one (states never go back).
    fn max_with(self, stored: &str) -> SlaState {
        let s = match stored {
            "has_broken" => SlaState::HasBroken,
            "pre_warned" => SlaState::PreWarned,
            _ => SlaState::Normal,
        };
        let rank = |x: SlaState| x as u8;
        if rank(s) > rank(self) { s } else { self }
    }
}
