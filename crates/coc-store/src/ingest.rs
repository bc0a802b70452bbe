//! Alarm ingest (M2, M3 dedup): durable ingest with group commit and dedup
//! by fingerprint; each group runs the forwarding rules
//! ([`crate::forward`]) in its transaction.
//!
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
use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::alarm::{IngestOutcome, MAX_GROUP_ALARMS, event};
use crate::forward::forward;
use crate::{Result, Store, StoreError};

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
            // Silences in force mute an alarm by its last event's labels;
            // inhibition rules by a firing source: one of this group (in
            // memory) or one recorded before (an indexed lookup).
            let silences = crate::silence::in_force(&mut *tx, tenant, now).await?;
            let inhibitions = crate::inhibition::rules(&mut *tx, tenant).await?;
            let mut group_sources: Option<Vec<BTreeMap<String, String>>> = None;
            for chunk in order.chunks(UPSERT_ROWS) {
                let mut muted: HashMap<&str, Mute> = HashMap::new();
                let mut sources: Vec<(String, String, String)> = vec![];
                if !silences.is_empty() || !inhibitions.is_empty() {
                    for fp in chunk {
                        let Some(last) = events[fp].last().map(|e| e.alarm) else {
                            continue;
                        };
                        let labels = coc_domain::silence::alarm_labels(last);
                        if let Some(id) = silences.muting(&labels).first() {
                            muted.insert(fp, Mute::Silence(id.to_string()));
                            continue;
                        }
                        if last.alarm_status != AlarmStatus::Alarm || inhibitions.is_empty() {
                            continue;
                        }
                        for (rule, key) in inhibitions.sources(&labels) {
                            sources.push((rule.to_string(), key, fp.clone()));
                        }
                        let targets = inhibitions.target_keys(&labels);
                        if targets.is_empty() {
                            continue;
                        }
                        let group = group_sources.get_or_insert_with(|| {
                            order
                                .iter()
                                .filter_map(|f| {
                                    let l = events[f].last()?.alarm;
                                    (l.alarm_status == AlarmStatus::Alarm)
                                        .then(|| coc_domain::silence::alarm_labels(l))
                                })
                                .collect()
                        });
                        let mut by = inhibitions.inhibited_by(&labels, group).map(String::from);
                        for (rule, key) in &targets {
                            if by.is_some() {
                                break;
                            }
                            if crate::inhibition::source_firing(&mut tx, tenant, rule, key, fp)
                                .await?
                            {
                                by = Some(rule.to_string());
                            }
                        }
                        if let Some(id) = by {
                            muted.insert(fp, Mute::Inhibition(id));
                        }
                    }
                }
                let rows =
                    upsert_chunk(&mut tx, self.backend, tenant, chunk, events, &muted, now).await?;
                crate::inhibition::record_sources(&mut tx, tenant, &sources).await?;
                for fp in chunk {
                    let evs = &events[fp];
                    let silenced = muted.contains_key(fp.as_str());
                    match muted.get(fp.as_str()) {
                        Some(Mute::Silence(_)) => outcomes[evs[evs.len() - 1].req].silenced += 1,
                        Some(Mute::Inhibition(_)) => {
                            outcomes[evs[evs.len() - 1].req].inhibited += 1
                        }
                        None => {}
                    }
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
                    // A silenced or inhibited alarm is stored and marked,
                    // nothing more: no SLA, no incident, no notification.
                    if silenced {
                        continue;
                    }
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
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Distinct alarms per upsert statement (27 parameters each).
pub const UPSERT_ROWS: usize = 200;

/// Why an arriving alarm is muted, with the id of what mutes it.
enum Mute {
    /// A silence in force.
    Silence(String),
    /// An inhibition rule, by a firing source alarm.
    Inhibition(String),
}

/// One received event, pointing back at its request.
struct Ev<'a> {
    req: usize,
    integration_id: &'a str,
    alarm: &'a NormalizedAlarm,
}

const UPSERT_COLS: &str = "id, fingerprint, name, level, status, first_status, prev_status, occurrences, \
    first_seen, last_seen, started_at, source, integration_id, source_alarm_id, resource_id, resource_name, \
    region, application, namespace, description, url, labels, annotations, additional, cleared_remark, \
    tenant_id, updated_at, silenced_by, inhibited_by";

/// Upserts one row per fingerprint of `chunk` (the last event's content,
/// `occurrences` raised by the event count) and returns, per fingerprint,
/// the row id and the status the row had before (`None`: new row).
async fn upsert_chunk(
    tx: &mut Transaction<'static, Any>,
    backend: crate::Backend,
    tenant: &str,
    chunk: &[String],
    events: &HashMap<String, Vec<Ev<'_>>>,
    muted: &HashMap<&str, Mute>,
    now: i64,
) -> Result<HashMap<String, (String, Option<String>)>> {
    const PER_ROW: usize = 27;
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
         updated_at = excluded.updated_at, silenced_by = excluded.silenced_by, inhibited_by = excluded.inhibited_by, \
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
            .bind(now)
            .bind(match muted.get(fp.as_str()) {
                Some(Mute::Silence(id)) => Some(id.clone()),
                _ => None,
            })
            .bind(match muted.get(fp.as_str()) {
                Some(Mute::Inhibition(id)) => Some(id.clone()),
                _ => None,
            });
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
