//! Alarms becoming incidents: the forwarding step that runs the rules on
//! every ingested alarm (I2, with automatic repair I6), and converting
//! alarms of one region to an incident by hand (ref. 7.2.1.2). It sits
//! above both [`crate::alarm`] and [`crate::incident`], which do not know
//! each other's writes.

use std::collections::BTreeMap;

use coc_domain::alarm::{AlarmStatus, NormalizedAlarm};
use coc_domain::convergence;
use coc_domain::error::invalid;
use coc_domain::incident::IncidentStatus;
use coc_domain::rule::{AutoRepair, RuleSpec};
use sqlx::{Any, Transaction};

use crate::alarm::{IngestOutcome, event};
use crate::application::AppIndex;
use crate::incident::{
    CreateIncident, IncidentDetail, NewIncident, insert_incident, link_alarm, owner_of,
};
use crate::rule::ForwardingRule;
use crate::ticket::NewTicket;
use crate::{Result, Store, StoreError};

/// The forwarding step (I2): the first enabled matching rule (oldest first)
/// creates one incident per `(rule, fingerprint)` — per group of related
/// alarms when the rule converges (M3) — while that incident is open;
/// repeats and related alarms link to it. A rule in a storm folds its
/// alarms into one summarized storm incident. A new incident with a
/// contingency script gets an automatic-repair ticket on the alarm's host
/// (I6).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    tenant: &str,
    alarm_id: &str,
    fp: &str,
    a: &NormalizedAlarm,
    rule: &ForwardingRule,
    now: i64,
    out: &mut IngestOutcome,
    wait: bool,
) -> Result<()> {
    let spec: &RuleSpec = &rule.spec;
    // The alarm's own incident, or its group's while the group's window
    // is open (convergence, M3).
    let key = convergence::incident_key(&rule.id, spec.converge.as_ref(), fp, a);
    if let Some((incident_id, last)) = open_incident(tx, tenant, &key).await?
        && spec.converge.as_ref().is_none_or(|c| c.joins(last, now))
    {
        crate::incident::link_alarm(tx, tenant, &incident_id, alarm_id, now).await?;
        return Ok(());
    }
    // A rule that waits (`after_minutes`) notes the alarm; the delayed
    // round opens the incident when the wait is over and the alarm is
    // still unhandled ([`Store::run_delayed_alarms`]).
    if wait && let Some(m) = spec.after_minutes {
        sqlx::query(
            "INSERT INTO delayed_alarms (alarm_id, tenant_id, rule_id, due_at) VALUES ($1,$2,$3,$4) \
             ON CONFLICT (alarm_id, rule_id) DO NOTHING",
        )
        .bind(alarm_id)
        .bind(tenant)
        .bind(&rule.id)
        .bind(now + i64::from(m) * 60_000)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    }
    // A storm: the rule's storm incident while alarms keep coming, or a
    // new one once the rule made enough incidents within a minute.
    if let Some(storm) = &spec.storm {
        let skey = convergence::storm_key(&rule.id);
        if let Some((incident_id, last)) = open_incident(tx, tenant, &skey).await?
            && storm.continues(last, now)
        {
            crate::incident::link_alarm(tx, tenant, &incident_id, alarm_id, now).await?;
            return Ok(());
        }
        let since = now - convergence::STORM_SPAN_MS;
        let recent: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT a.name, a.resource_name FROM incidents i \
             JOIN incident_alarms ia ON ia.incident_id = i.id \
             JOIN alarms a ON a.id = ia.alarm_id \
             WHERE i.tenant_id = $1 AND i.rule_id = $2 AND i.created_at > $3 AND i.dedup_key <> $4",
        )
        .bind(tenant)
        .bind(&rule.id)
        .bind(since)
        .bind(&skey)
        .fetch_all(&mut **tx)
        .await?;
        let made: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incidents WHERE tenant_id = $1 AND rule_id = $2 \
             AND created_at > $3 AND dedup_key <> $4",
        )
        .bind(tenant)
        .bind(&rule.id)
        .bind(since)
        .bind(&skey)
        .fetch_one(&mut **tx)
        .await?;
        if storm.is_storm(made.max(0) as u64) {
            let mut alarms = recent;
            alarms.push((a.alarm_name.clone(), a.resource_name.clone()));
            let (title, description) = convergence::storm_summary(&rule.name, &alarms);
            let mut d = coc_domain::rule::incident_from(a, fp, &rule.id, &rule.name, spec, None);
            d.title = title;
            d.description = description;
            d.dedup_key = skey;
            d.note = format!(
                "alarm storm under forwarding rule '{}': {made} incidents within a minute",
                rule.name
            );
            return create(tx, keyring, tenant, alarm_id, a, rule, d, now, out).await;
        }
    }
    // Who is on call is read here; the domain decides the rest.
    let on_call = match &spec.assignee_shift {
        Some(shift) => {
            let application = spec.application.as_deref().or(a.application.as_deref());
            let scope = (application, a.region.as_deref());
            crate::oncall::first_on_call(tx, tenant, shift, scope, now).await?
        }
        None => None,
    };
    let mut d =
        coc_domain::rule::incident_from(a, fp, &rule.id, &rule.name, spec, on_call.as_deref());
    if let Some(c) = &spec.converge {
        d.dedup_key = key;
        d.note = format!(
            "{}; alarms with {} within {} minutes join it",
            d.note,
            c.describe(a),
            c.window_minutes
        );
    }
    create(tx, keyring, tenant, alarm_id, a, rule, d, now, out).await
}

/// The newest open incident with `key` and when an alarm last came to it
/// (its creation for incidents older than that record).
async fn open_incident(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    key: &str,
) -> Result<Option<(String, i64)>> {
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(dynsql!(
        "SELECT id, created_at, last_alarm_at FROM incidents WHERE tenant_id = $1 AND dedup_key = $2 \
         AND status NOT IN {} ORDER BY created_at DESC LIMIT 1",
        crate::sql_set(
            IncidentStatus::ALL
                .iter()
                .filter(|s| s.is_terminal())
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .iter()
        )
    ))
    .bind(tenant)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(id, created, last)| (id, last.unwrap_or(created))))
}

/// Inserts the incident `d` for the alarm, links the alarm, and starts the
/// rule's automatic repair (I6).
#[allow(clippy::too_many_arguments)]
async fn create(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    tenant: &str,
    alarm_id: &str,
    a: &NormalizedAlarm,
    rule: &ForwardingRule,
    d: coc_domain::rule::IncidentDraft,
    now: i64,
    out: &mut IngestOutcome,
) -> Result<()> {
    let spec: &RuleSpec = &rule.spec;
    let inc = crate::incident::insert_incident(
        tx,
        tenant,
        crate::incident::NewIncident {
            title: d.title,
            description: d.description,
            level: d.level,
            assignee: d.assignee,
            application: d.application,
            enterprise_project: None,
            region: d.region,
            category: None,
            plan: d.plan,
            source: "forwarding_rule".into(),
            rule_id: Some(rule.id.clone()),
            dedup_key: Some(d.dedup_key),
            created_by: "system".into(),
        },
        now,
        &d.note,
    )
    .await?;
    crate::incident::link_alarm(tx, tenant, &inc.0, alarm_id, now).await?;
    event(
        tx,
        tenant,
        alarm_id,
        now,
        "incident",
        "alarm",
        "system",
        &format!("incident {} created", inc.1),
    )
    .await?;
    out.incidents_created.push(inc.0.clone());
    let hosts = if spec.contingency_script.is_some() {
        crate::resource::host_identities(tx, tenant).await?
    } else {
        vec![]
    };
    if let Some(repair) = coc_domain::rule::auto_repair(spec, a, &hosts) {
        let mut ticket_id = None;
        let summary = match repair {
            AutoRepair::Skip(why) => why,
            AutoRepair::Run {
                script: cs,
                hosts,
                hostnames,
            } => {
                let mut params = BTreeMap::new();
                for (k, v) in &cs.params {
                    params.insert(k.clone(), keyring.decrypt(v)?);
                }
                let req = NewTicket {
                    script_id: cs.script_id.clone(),
                    params,
                    hosts,
                    run_as: cs.run_as.clone(),
                    timeout_s: cs.timeout_s,
                    batch_policy: coc_domain::ticket::BatchPolicy::None,
                    batches: None,
                    threshold: None,
                    incident_id: Some(inc.0.clone()),
                    created_by: "system".into(),
                    param_refs: Default::default(),
                };
                match crate::ticket::insert_ticket(tx, keyring, tenant, &req, now, None).await {
                    Ok(t) => {
                        out.tickets_created.push(t.id.clone());
                        ticket_id = Some(t.id);
                        format!(
                            "automatic repair: script ticket {} started on {}",
                            t.number,
                            hostnames.join(", ")
                        )
                    }
                    Err(e @ (StoreError::Domain(_) | StoreError::NotFound { .. })) => {
                        format!("automatic repair skipped: {e}")
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        crate::incident::history(
            tx,
            tenant,
            &inc.0,
            now,
            "system",
            "auto_repair",
            Some(IncidentStatus::Unaccepted),
            Some(IncidentStatus::Unaccepted),
            &summary,
            ticket_id.as_deref(),
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Opens the incidents of alarms whose rule waited (`after_minutes`,
    /// I7) and whose wait is over, when they are still unhandled
    /// ([`coc_domain::rule::still_unhandled`]): still firing, not handled,
    /// not linked to an incident. Up to 100 per call, each in its own
    /// transaction; returns how many incidents were opened.
    ///
    /// Across replicas: each waiting alarm is claimed by deleting its row;
    /// the replica whose delete took effect goes on.
    ///
    /// Errors: [`StoreError::Db`]; the next call retries what was not
    /// committed.
    pub async fn run_delayed_alarms(&self, now: i64) -> Result<usize> {
        let due: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT alarm_id, tenant_id, rule_id FROM delayed_alarms WHERE due_at <= $1 \
             ORDER BY due_at LIMIT 100",
        )
        .bind(now)
        .fetch_all(self.reader())
        .await?;
        let mut opened = 0;
        for (alarm_id, tenant, rule_id) in due {
            let mut tx = self.begin().await?;
            let claimed =
                sqlx::query("DELETE FROM delayed_alarms WHERE alarm_id = $1 AND rule_id = $2")
                    .bind(&alarm_id)
                    .bind(&rule_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            let alarm = self.get_alarm(&tenant, &alarm_id).await;
            let rule = crate::rule::enabled_rules(&mut tx, &tenant)
                .await?
                .into_iter()
                .find(|r| r.id == rule_id);
            let (1, Ok(alarm), Some(rule)) = (claimed, alarm, rule) else {
                tx.commit().await?;
                continue;
            };
            let handled: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM alarm_events WHERE tenant_id = $1 AND alarm_id = $2 AND kind = $3 LIMIT 1",
            )
            .bind(&tenant)
            .bind(&alarm_id)
            .bind("handled")
            .fetch_optional(&mut *tx)
            .await?;
            let linked: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM incident_alarms WHERE tenant_id = $1 AND alarm_id = $2 LIMIT 1",
            )
            .bind(&tenant)
            .bind(&alarm_id)
            .fetch_optional(&mut *tx)
            .await?;
            let status = AlarmStatus::parse(&alarm.status)?;
            if coc_domain::rule::still_unhandled(status, handled.is_some(), linked.is_some()) {
                let a = alarm.as_event(status, alarm.last_seen);
                let mut out = IngestOutcome::default();
                forward(
                    &mut tx,
                    &self.keyring,
                    &tenant,
                    &alarm_id,
                    &alarm.fingerprint,
                    &a,
                    &rule,
                    now,
                    &mut out,
                    false,
                )
                .await?;
                opened += out.incidents_created.len();
                if !out.tickets_created.is_empty() {
                    self.work.notify_one();
                }
            }
            tx.commit().await?;
        }
        if opened > 0 {
            self.events.notify_one();
        }
        Ok(opened)
    }

    /// Converts alarms to one incident (ref. 7.2.1.2). All alarms must be
    /// in the same region; the region of the incident is theirs.
    ///
    /// Errors: `Domain(Validation)` for mixed regions or no alarms,
    /// `NotFound` for an unknown alarm id.
    pub async fn convert_alarms(
        &self,
        tenant: &str,
        alarm_ids: &[String],
        req: &CreateIncident,
        actor: &str,
    ) -> Result<IncidentDetail> {
        req.validate()?;
        if let Some(ep) = &req.enterprise_project {
            self.require_enterprise_project(tenant, ep).await?;
        }
        if alarm_ids.is_empty() || alarm_ids.len() > 1000 {
            return Err(invalid("give 1 to 1000 alarm ids").into());
        }
        let mut regions = std::collections::BTreeSet::new();
        for id in alarm_ids {
            regions.insert(self.get_alarm(tenant, id).await?.region);
        }
        if regions.len() > 1 {
            return Err(
                invalid("only alarms of the same region can be converted to one incident").into(),
            );
        }
        let region = regions.into_iter().next().flatten();
        let now = self.now();
        let region = region.or_else(|| req.region.clone());
        let mut tx = self.begin().await?;
        let application = match req.application.as_deref() {
            Some(a) => Some(AppIndex::load(&mut tx, tenant).await?.name(a)?),
            None => None,
        };
        let scope = (application.as_deref(), region.as_deref());
        let assignee = owner_of(&mut tx, tenant, req, scope, now).await?;
        let (id, number) = insert_incident(
            &mut tx,
            tenant,
            NewIncident {
                title: req.title.trim().to_string(),
                description: req.description.clone(),
                level: req.level,
                assignee,
                application,
                enterprise_project: req.enterprise_project.clone(),
                region,
                category: req.category.clone(),
                plan: None,
                source: "alarm_conversion".into(),
                rule_id: None,
                dedup_key: None,
                created_by: actor.to_string(),
            },
            now,
            &format!("converted from {} alarm(s) by {actor}", alarm_ids.len()),
        )
        .await?;
        for a in alarm_ids {
            link_alarm(&mut tx, tenant, &id, a, now).await?;
            crate::alarm::event(
                &mut tx,
                tenant,
                a,
                now,
                "incident",
                "alarm",
                actor,
                &format!("converted to incident {number}"),
            )
            .await?;
        }
        tx.commit().await?;
        self.events.notify_one();
        self.get_incident(tenant, &id).await
    }
}
