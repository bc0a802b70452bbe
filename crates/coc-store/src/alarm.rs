//! Alarms (M2, M3 dedup, I1): durable ingest with group commit, dedup by
//! fingerprint, per-alarm history, the alarm-center queries, clearing, and
//! the forwarding-rule step that turns alarms into incidents (I2, I6).
//!
//! ## Group commit
//! Every ingest request hands its alarms to one writer task and waits. The
//! writer takes whatever requests are queued (up to [`MAX_GROUP_ALARMS`]
//! alarms), applies them all in one transaction, commits (one fsync), and
//! only then answers each request. A request is therefore acknowledged only
//! after its alarms are durable, and throughput comes from batching.
//!
//! ## Dedup
//! One row per `(tenant, fingerprint)`. A repeat raises `occurrences` and
//! `last_seen`; a resolved event turns the alarm `ok`; a firing event on an
//! `ok` alarm turns it back to `alarm`. Only such state changes write a
//! history event, so repeats stay cheap.

use std::collections::{BTreeMap, HashMap};

use coc_domain::alarm::{AlarmStatus, NormalizedAlarm};
use coc_domain::incident::IncidentStatus;
use coc_domain::rule::{AutoRepair, RuleSpec};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::rule::ForwardingRule;
use crate::ticket::NewTicket;
use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError, json_col};

/// Most alarms committed in one group transaction.
pub const MAX_GROUP_ALARMS: usize = 4096;

/// An alarm as listed by the alarm center (`GET /api/v1/alarms`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Alarm {
    /// Record id.
    pub id: String,
    /// Dedup key (see [`NormalizedAlarm::fingerprint`]).
    pub fingerprint: String,
    /// alarmName.
    pub name: String,
    /// alarmLevel: Critical, Major, Minor, Suggestion.
    pub level: String,
    /// alarmStatus: `alarm` or `ok`.
    pub status: String,
    /// Events received for this alarm.
    pub occurrences: i64,
    /// First event received, Unix ms.
    pub first_seen: i64,
    /// Last event received, Unix ms.
    pub last_seen: i64,
    /// Start time reported by the source, Unix ms.
    pub started_at: i64,
    /// alarmSource (integration type name).
    pub source: String,
    /// Integration that last delivered it.
    pub integration_id: String,
    /// The source's alarm id.
    pub alarm_id: Option<String>,
    /// resourceId.
    pub resource_id: Option<String>,
    /// resourceName.
    pub resource_name: Option<String>,
    /// region.
    pub region: Option<String>,
    /// application.
    pub application: Option<String>,
    /// namespace.
    pub namespace: Option<String>,
    /// alarmDesc.
    pub description: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// Original labels.
    pub labels: serde_json::Value,
    /// Original annotations.
    pub annotations: serde_json::Value,
    /// additional.* fields.
    pub additional: serde_json::Value,
    /// Remark given when an operator cleared it.
    pub cleared_remark: Option<String>,
}

const COLS: &str = "id, fingerprint, name, level, status, occurrences, first_seen, last_seen, \
    started_at, source, integration_id, source_alarm_id, resource_id, resource_name, region, \
    application, namespace, description, url, labels, annotations, additional, cleared_remark";

fn row(r: &AnyRow) -> Result<Alarm> {
    Ok(Alarm {
        id: r.try_get("id")?,
        fingerprint: r.try_get("fingerprint")?,
        name: r.try_get("name")?,
        level: r.try_get("level")?,
        status: r.try_get("status")?,
        occurrences: r.try_get("occurrences")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
        started_at: r.try_get("started_at")?,
        source: r.try_get("source")?,
        integration_id: r.try_get("integration_id")?,
        alarm_id: r.try_get("source_alarm_id")?,
        resource_id: r.try_get("resource_id")?,
        resource_name: r.try_get("resource_name")?,
        region: r.try_get("region")?,
        application: r.try_get("application")?,
        namespace: r.try_get("namespace")?,
        description: r.try_get("description")?,
        url: r.try_get("url")?,
        labels: json_col(r, "labels"),
        annotations: json_col(r, "annotations"),
        additional: json_col(r, "additional"),
        cleared_remark: r.try_get("cleared_remark")?,
    })
}

/// One entry of an alarm's history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AlarmEvent {
    /// When, Unix ms.
    pub at: i64,
    /// `fired`, `refired`, `resolved`, `cleared`, `incident`.
    pub kind: String,
    /// Alarm status after the event.
    pub status: String,
    /// Who: `system` or the operator.
    pub actor: String,
    /// Details.
    pub detail: String,
}

/// What one ingest request did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct IngestOutcome {
    /// Alarms in the request.
    pub accepted: usize,
    /// New alarms (rows created).
    pub created: usize,
    /// Repeats folded into existing alarms.
    pub deduplicated: usize,
    /// Alarms turned `ok`.
    pub resolved: usize,
    /// Incidents created by forwarding rules.
    pub incidents_created: Vec<String>,
    /// Automatic-repair tickets created.
    pub tickets_created: Vec<String>,
}

/// Filters of the alarm center list.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    /// `alarm` or `ok`.
    pub status: Option<String>,
    /// Level name.
    pub level: Option<String>,
    /// Name contains (case-insensitive).
    pub name: Option<String>,
    /// alarmSource.
    pub source: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// last_seen ≥ since (Unix ms).
    pub since: Option<i64>,
    /// last_seen < until (Unix ms).
    pub until: Option<i64>,
}

struct Request {
    tenant: String,
    integration_id: String,
    alarms: Vec<NormalizedAlarm>,
    reply: oneshot::Sender<Result<IngestOutcome>>,
}

/// Sender side of the group-commit writer.
#[derive(Clone)]
pub(crate) struct WriterHandle(Option<mpsc::Sender<Request>>);

impl WriterHandle {
    pub(crate) fn detached() -> Self {
        WriterHandle(None)
    }
}

pub(crate) fn spawn_writer(store: Store) -> WriterHandle {
    let (tx, mut rx) = mpsc::channel::<Request>(1024);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            let mut n = group[0].alarms.len();
            while n < MAX_GROUP_ALARMS {
                match rx.try_recv() {
                    Ok(r) => {
                        n += r.alarms.len();
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
            let result = store.commit_group(&group).await;
            match result {
                Ok(outcomes) => {
                    let any_ticket = outcomes.iter().any(|o| !o.tickets_created.is_empty());
                    if outcomes.iter().any(|o| !o.incidents_created.is_empty()) {
                        store.events.notify_one();
                    }
                    for (req, out) in group.into_iter().zip(outcomes) {
                        let _ = req.reply.send(Ok(out));
                    }
                    if any_ticket {
                        store.work.notify_one();
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "alarm group commit failed");
                    let msg = e.to_string();
                    for req in group {
                        let _ = req.reply.send(Err(StoreError::Conflict(msg.clone())));
                    }
                }
            }
        }
    });
    WriterHandle(Some(tx))
}

impl Store {
    /// Stores alarms delivered by integration `integration_id`, deduplicated,
    /// and runs the forwarding rules on them. Returns once everything is
    /// committed.
    ///
    /// Errors: [`StoreError::Db`]/`Conflict` when the group transaction
    /// failed (nothing of it is stored), [`StoreError::WriterGone`] at
    /// shutdown.
    pub async fn ingest(
        &self,
        tenant: &str,
        integration_id: &str,
        alarms: Vec<NormalizedAlarm>,
    ) -> Result<IngestOutcome> {
        let Some(tx) = &self.alarms.0 else {
            return Err(StoreError::WriterGone);
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Request {
            tenant: tenant.to_string(),
            integration_id: integration_id.to_string(),
            alarms,
            reply,
        })
        .await
        .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Applies a group of requests in one transaction. Events are grouped
    /// by `(tenant, fingerprint)` in arrival order; each group of up to
    /// [`UPSERT_ROWS`] distinct alarms is one multi-row upsert, and the
    /// status sequence of each alarm is then replayed to write its history
    /// events and run the forwarding rules, exactly as if the events had been
    /// applied one by one.
    async fn commit_group(&self, group: &[Request]) -> Result<Vec<IngestOutcome>> {
        let mut tx = self.begin().await?;
        let now = self.now();
        let mut outcomes: Vec<IngestOutcome> = group
            .iter()
            .map(|r| IngestOutcome {
                accepted: r.alarms.len(),
                ..Default::default()
            })
            .collect();
        type Keyed<'a> = (Vec<String>, HashMap<String, Vec<Ev<'a>>>);
        let mut by_tenant: BTreeMap<&str, Keyed<'_>> = BTreeMap::new();
        for (ri, req) in group.iter().enumerate() {
            let (order, events) = by_tenant.entry(req.tenant.as_str()).or_default();
            for a in &req.alarms {
                let fp = a.fingerprint();
                let ev = Ev {
                    req: ri,
                    integration_id: &req.integration_id,
                    alarm: a,
                };
                match events.get_mut(&fp) {
                    Some(v) => v.push(ev),
                    None => {
                        order.push(fp.clone());
                        events.insert(fp, vec![ev]);
                    }
                }
            }
        }
        for (tenant, (order, events)) in &by_tenant {
            let rules = crate::rule::enabled_rules(&mut tx, tenant).await?;
            // Alarm SLAs cost nothing unless one is enabled.
            let alarm_slas = self
                .enabled_slas(tenant, coc_domain::sla::Trigger::Alarm)
                .await?;
            for chunk in order.chunks(UPSERT_ROWS) {
                let rows = upsert_chunk(&mut tx, self.backend, tenant, chunk, events, now).await?;
                for fp in chunk {
                    let evs = &events[fp];
                    let (alarm_id, prev) = rows.get(fp).ok_or_else(|| {
                        StoreError::Conflict(format!("alarm {fp} missing from the upsert result"))
                    })?;
                    let (mut cur, rest) = match prev {
                        None => {
                            let first = &evs[0];
                            outcomes[first.req].created += 1;
                            if first.alarm.alarm_status == AlarmStatus::Ok {
                                outcomes[first.req].resolved += 1;
                            }
                            (first.alarm.alarm_status.as_str().to_string(), &evs[1..])
                        }
                        Some(p) => (p.clone(), &evs[..]),
                    };
                    for e in rest {
                        outcomes[e.req].deduplicated += 1;
                        let st = e.alarm.alarm_status.as_str();
                        if st != cur {
                            let kind = if e.alarm.alarm_status == AlarmStatus::Ok {
                                outcomes[e.req].resolved += 1;
                                "resolved"
                            } else {
                                "refired"
                            };
                            let detail = format!("received from {}", e.alarm.alarm_source);
                            event(&mut tx, tenant, alarm_id, now, kind, st, "system", &detail)
                                .await?;
                            cur = st.to_string();
                        }
                    }
                    let before = prev.as_deref();
                    if !alarm_slas.is_empty() && before != Some(cur.as_str()) {
                        let last = evs[evs.len() - 1].alarm;
                        let moved = self
                            .sla_move(&mut tx, alarm_id, (before, Some(cur.as_str())), now)
                            .await?;
                        if cur == "alarm" && moved == 0 {
                            let number = crate::sla::alarm_number(
                                &last.alarm_name,
                                last.resource_name.as_deref(),
                            );
                            let t = crate::sla::Ticket {
                                kind: "alarm",
                                id: alarm_id,
                                number: &number,
                                owner: "",
                                level: last.alarm_level.as_str(),
                                application: last.application.as_deref(),
                            };
                            self.sla_enter(&mut tx, tenant, &t, &alarm_slas, "alarm", now)
                                .await?;
                        }
                    }
                    if let Some(e) = evs
                        .iter()
                        .rev()
                        .find(|e| e.alarm.alarm_status == AlarmStatus::Alarm)
                        && let Some(rule) = rules
                            .iter()
                            .find(|r| r.spec.matches(e.integration_id, e.alarm))
                    {
                        forward(
                            &mut tx,
                            &self.keyring,
                            tenant,
                            alarm_id,
                            fp,
                            e.alarm,
                            rule,
                            now,
                            &mut outcomes[e.req],
                        )
                        .await?;
                    }
                }
            }
        }
        let created: Vec<String> = outcomes
            .iter()
            .flat_map(|o| o.incidents_created.iter().cloned())
            .collect();
        let ready = self.dispatch_in_ingest(&mut tx, &created).await;
        tx.commit().await?;
        if !ready.is_empty() {
            self.ready.lock().expect("ready deliveries").extend(ready);
        }
        Ok(outcomes)
    }

    /// The alarm center list, newest first, keyset-paged.
    pub async fn list_alarms(
        &self,
        tenant: &str,
        f: &AlarmFilter,
        page: &Page,
    ) -> Result<Paged<Alarm>> {
        let mut w = Filter::new(tenant);
        if let Some(s) = &f.status {
            w.push("status = ?", Arg::S(s.clone()));
        }
        if let Some(s) = &f.level {
            w.push("level = ?", Arg::S(s.clone()));
        }
        if let Some(s) = &f.name {
            w.push(
                "LOWER(name) LIKE ?",
                Arg::S(format!("%{}%", s.to_lowercase())),
            );
        }
        if let Some(s) = &f.source {
            w.push("source = ?", Arg::S(s.clone()));
        }
        if let Some(s) = &f.region {
            w.push("region = ?", Arg::S(s.clone()));
        }
        if let Some(t) = f.since {
            w.push("last_seen >= ?", Arg::I(t));
        }
        if let Some(t) = f.until {
            w.push("last_seen < ?", Arg::I(t));
        }
        self.fetch_page(COLS, "alarms", w, page, row, |a| a.id.clone())
            .await
    }

    /// One alarm. Errors: `NotFound`.
    pub async fn get_alarm(&self, tenant: &str, id: &str) -> Result<Alarm> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM alarms WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("alarm", id))
    }

    /// An alarm's history, oldest first. Errors: `NotFound`.
    pub async fn alarm_history(&self, tenant: &str, id: &str) -> Result<Vec<AlarmEvent>> {
        let alarm = self.get_alarm(tenant, id).await?;
        let first: String = sqlx::query_scalar("SELECT first_status FROM alarms WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        let first_event = AlarmEvent {
            at: alarm.first_seen,
            kind: if first == "alarm" {
                "fired"
            } else {
                "resolved"
            }
            .into(),
            status: first,
            actor: "system".into(),
            detail: format!("received from {}", alarm.source),
        };
        let rows = sqlx::query(
            "SELECT at, kind, status, actor, detail FROM alarm_events \
             WHERE tenant_id = $1 AND alarm_id = $2 ORDER BY at, id",
        )
        .bind(tenant)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = vec![first_event];
        for r in &rows {
            out.push(AlarmEvent {
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                actor: r.try_get("actor")?,
                detail: r.try_get("detail")?,
            });
        }
        Ok(out)
    }

    /// Clears alarms by hand (ref. 7.2.1.3): each turns `ok` with the
    /// remark, and its history records who cleared it. All or nothing.
    ///
    /// Errors: `Domain(Validation)` for a bad remark or an empty id list,
    /// `NotFound` for an unknown id (nothing is cleared).
    pub async fn clear_alarms(
        &self,
        tenant: &str,
        ids: &[String],
        remark: &str,
        actor: &str,
    ) -> Result<Vec<Alarm>> {
        coc_domain::alarm::validate_clear_remark(remark)?;
        if ids.is_empty() || ids.len() > 1000 {
            return Err(coc_domain::error::invalid("give 1 to 1000 alarm ids").into());
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        for id in ids {
            let n = sqlx::query(dynsql!(
                "UPDATE alarms SET status = {}, cleared_remark = $1, updated_at = $2 \
                 WHERE tenant_id = $3 AND id = $4",
                crate::sql_lit(AlarmStatus::Ok.as_str())
            ))
            .bind(remark)
            .bind(now)
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("alarm", id));
            }
            event(&mut tx, tenant, id, now, "cleared", "ok", actor, remark).await?;
            self.sla_move(&mut tx, id, (Some("alarm"), Some("ok")), now)
                .await?;
        }
        tx.commit().await?;
        let mut out = Vec::new();
        for id in ids {
            out.push(self.get_alarm(tenant, id).await?);
        }
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn event(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    alarm_id: &str,
    at: i64,
    kind: &str,
    status: &str,
    actor: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO alarm_events (id, tenant_id, alarm_id, at, kind, status, actor, detail) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
    )
    .bind(crate::new_id())
    .bind(tenant)
    .bind(alarm_id)
    .bind(at)
    .bind(kind)
    .bind(status)
    .bind(actor)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Distinct alarms per upsert statement (25 parameters each).
pub const UPSERT_ROWS: usize = 200;

/// One received event, pointing back at its request.
struct Ev<'a> {
    req: usize,
    integration_id: &'a str,
    alarm: &'a NormalizedAlarm,
}

const UPSERT_COLS: &str = "id, fingerprint, name, level, status, first_status, prev_status, occurrences, \
    first_seen, last_seen, started_at, source, integration_id, source_alarm_id, resource_id, resource_name, \
    region, application, namespace, description, url, labels, annotations, additional, cleared_remark, \
    tenant_id, updated_at";

/// Upserts one row per fingerprint of `chunk` (the last event's content,
/// `occurrences` raised by the event count) and returns, per fingerprint,
/// the row id and the status the row had before (`None`: new row).
async fn upsert_chunk(
    tx: &mut Transaction<'static, Any>,
    backend: crate::Backend,
    tenant: &str,
    chunk: &[String],
    events: &HashMap<String, Vec<Ev<'_>>>,
    now: i64,
) -> Result<HashMap<String, (String, Option<String>)>> {
    const PER_ROW: usize = 25;
    // SQLite gets anonymous `?` placeholders: sqlx looks each parameter up by
    // name, which is linear in the number of *named* parameters, so `$N`
    // would make binding quadratic. PostgreSQL needs `$N`.
    let mut k = 0usize;
    let mut ph = || {
        k += 1;
        match backend {
            crate::Backend::Sqlite => "?".to_string(),
            crate::Backend::Postgres => format!("${k}"),
        }
    };
    let mut values = String::with_capacity(chunk.len() * PER_ROW * 4);
    for i in 0..chunk.len() {
        if i > 0 {
            values.push(',');
        }
        values.push('(');
        for c in 0..PER_ROW {
            if c > 0 {
                values.push(',');
            }
            if c == 6 {
                values.push_str("NULL,");
            }
            if c == 23 {
                values.push_str("NULL,");
            }
            values.push_str(&ph());
        }
        values.push(')');
    }
    let sql = format!(
        "INSERT INTO alarms ({UPSERT_COLS}) VALUES {values} \
         ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET \
         prev_status = alarms.status, occurrences = alarms.occurrences + excluded.occurrences, \
         last_seen = excluded.last_seen, status = excluded.status, level = excluded.level, \
         description = excluded.description, annotations = excluded.annotations, additional = excluded.additional, \
         integration_id = excluded.integration_id, started_at = excluded.started_at, url = excluded.url, \
         updated_at = excluded.updated_at, \
         cleared_remark = CASE WHEN excluded.status = {firing} THEN NULL ELSE alarms.cleared_remark END \
         RETURNING id, fingerprint, prev_status",
        firing = crate::sql_lit(AlarmStatus::Alarm.as_str())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for fp in chunk {
        let evs = &events[fp];
        let first = evs[0].alarm;
        let last = &evs[evs.len() - 1];
        let a = last.alarm;
        // Column order of UPSERT_COLS; prev_status and cleared_remark are NULL literals.
        q = q
            .bind(crate::new_id())
            .bind(fp.clone())
            .bind(a.alarm_name.clone())
            .bind(a.alarm_level.as_str())
            .bind(a.alarm_status.as_str())
            .bind(first.alarm_status.as_str())
            .bind(evs.len() as i64)
            .bind(now)
            .bind(now)
            .bind(a.time)
            .bind(a.alarm_source.clone())
            .bind(last.integration_id.to_string())
            .bind(a.alarm_id.clone())
            .bind(a.resource_id.clone())
            .bind(a.resource_name.clone())
            .bind(a.region.clone())
            .bind(a.application.clone())
            .bind(a.namespace.clone())
            .bind(a.alarm_desc.clone())
            .bind(a.url.clone())
            .bind(to_json(&a.labels))
            .bind(to_json(&a.annotations))
            .bind(to_json(&a.additional))
            .bind(tenant.to_string())
            .bind(now);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            r.try_get::<String, _>("fingerprint")?,
            (r.try_get::<String, _>("id")?, r.try_get("prev_status")?),
        );
    }
    Ok(out)
}

/// The forwarding step (I2): the first enabled matching rule (oldest first)
/// creates one incident per `(rule, fingerprint)` while that incident is
/// open; repeats link to it. A new incident with a contingency script gets
/// an automatic-repair ticket on the alarm's host (I6).
#[allow(clippy::too_many_arguments)]
async fn forward(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    tenant: &str,
    alarm_id: &str,
    fp: &str,
    a: &NormalizedAlarm,
    rule: &ForwardingRule,
    now: i64,
    out: &mut IngestOutcome,
) -> Result<()> {
    let spec: &RuleSpec = &rule.spec;
    let dedup_key = coc_domain::rule::dedup_key(&rule.id, fp);
    let open: Option<String> = sqlx::query_scalar(dynsql!(
        "SELECT id FROM incidents WHERE tenant_id = $1 AND dedup_key = $2 \
         AND status NOT IN {} LIMIT 1",
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
    .bind(&dedup_key)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(incident_id) = open {
        crate::incident::link_alarm(tx, tenant, &incident_id, alarm_id, now).await?;
        return Ok(());
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
    let d = coc_domain::rule::incident_from(a, fp, &rule.id, &rule.name, spec, on_call.as_deref());
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
                match crate::ticket::insert_ticket(tx, keyring, tenant, &req, now).await {
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
