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
//! One row per `(tenant, fingerprint)`, found by [`rows`] (the unique
//! index on PostgreSQL, the writer's in-memory [`AlarmKeys`] on SQLite).
//! A repeat raises `occurrences` and
//! `last_seen`; a resolved event turns the alarm `ok`; a firing event on an
//! `ok` alarm turns it back to `alarm`. Only such state changes write a
//! history event, so repeats stay cheap.

pub mod log;
mod rows;

use std::collections::{BTreeMap, HashMap};

use coc_domain::alarm::{AlarmStatus, NormalizedAlarm};
use tokio::sync::{mpsc, oneshot};

use crate::alarm::{IngestOutcome, MAX_GROUP_ALARMS, event};
use crate::forward::forward;
use crate::{Backend, Result, Store, StoreError};
pub(crate) use rows::AlarmKeys;
pub use rows::UPSERT_ROWS;

/// Most requests waiting for the writer; a full queue makes senders (and
/// the ingest log's appender) wait: the back-pressure that bounds what is
/// logged and not yet applied.
pub const WRITER_QUEUE: usize = 1024;

struct Request {
    tenant: String,
    integration_id: String,
    alarms: Vec<NormalizedAlarm>,
    /// A logged request's alarms as its log row holds them, parsed into
    /// `alarms` when its group is applied: a backlog of request bodies
    /// takes a fraction of the memory of parsed alarms, in one allocation
    /// per request.
    body: Option<log::Body>,
    /// How many alarms (also while they are still a body).
    count: usize,
    ack: Ack,
}

/// How a request is answered.
enum Ack {
    /// After its group commits, with what happened.
    Applied(oneshot::Sender<Result<IngestOutcome>>),
    /// Already answered: it is row `seq` of the ingest log ([`log`]).
    Logged(i64),
}

impl Request {
    /// The ingest-log sequence number of a logged request.
    fn logged(&self) -> Option<i64> {
        match self.ack {
            Ack::Logged(seq) => Some(seq),
            Ack::Applied(_) => None,
        }
    }
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
    let (tx, mut rx) = mpsc::channel::<Request>(WRITER_QUEUE);
    tokio::spawn(async move {
        // Loop: one transaction per round for every request queued when it
        // starts (the first awaited), up to MAX_GROUP_ALARMS alarms.
        while let Some(first) = rx.recv().await {
            // Acceptance first: while a burst of logged requests arrives,
            // applying waits for it to pass, [`log::MAX_DEFER_MS`] at most
            // (a request queued behind waits as long), so the cores go to
            // taking alarms in; then it applies in the largest groups.
            if first.logged().is_some() {
                let since = std::time::Instant::now();
                let limit = std::time::Duration::from_millis(log::MAX_DEFER_MS);
                while store.ingest_log.state.burst() && since.elapsed() < limit {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            let mut group = vec![first];
            let mut n = group[0].count;
            while n < MAX_GROUP_ALARMS {
                match rx.try_recv() {
                    Ok(r) => {
                        n += r.count;
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
            for r in &mut group {
                if let Some(body) = r.body.take() {
                    match body.alarms() {
                        Ok(alarms) => r.alarms = alarms,
                        // Validated by the same parser when it was
                        // received: only a later version's stricter parser
                        // after a restart could refuse it.
                        Err(e) => tracing::error!(
                            seq = r.logged().unwrap_or_default(),
                            error = %e,
                            "a logged request does not parse; its alarms are skipped"
                        ),
                    }
                }
            }
            let mut result = store.commit_group(&group).await;
            if let Err(e) = &result {
                tracing::error!(error = %e, "alarm group commit failed");
                // Requests still waiting get the error (nothing of them is
                // stored; they may send again). Logged ones were answered
                // already: they are applied again until it works, and
                // everything behind them waits.
                let msg = e.to_string();
                let (waiting, logged): (Vec<Request>, Vec<Request>) =
                    group.into_iter().partition(|r| r.logged().is_none());
                for r in waiting {
                    if let Ack::Applied(reply) = r.ack {
                        let _ = reply.send(Err(StoreError::Conflict(msg.clone())));
                    }
                }
                group = logged;
                while result.is_err() && !group.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    result = store.commit_group(&group).await;
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "applying logged alarms failed; retrying");
                    }
                }
            }
            if let Ok(outcomes) = result {
                store.answer(group, outcomes);
            }
        }
    });
    WriterHandle(Some(tx))
}

impl Store {
    /// After a group committed: wakes the loops it gave work, moves the
    /// ingest log's marks, and answers the requests still waiting.
    fn answer(&self, group: Vec<Request>, outcomes: Vec<IngestOutcome>) {
        let any_ticket = outcomes.iter().any(|o| !o.tickets_created.is_empty());
        if outcomes.iter().any(|o| !o.incidents_created.is_empty()) {
            self.events.notify_one();
        }
        let logged: i64 = group
            .iter()
            .filter(|r| r.logged().is_some())
            .map(|r| r.count as i64)
            .sum();
        if let Some(seq) = group.iter().filter_map(Request::logged).max() {
            let state = &self.ingest_log.state;
            state
                .applied
                .fetch_max(seq, std::sync::atomic::Ordering::Relaxed);
            state
                .backlog
                .fetch_sub(logged, std::sync::atomic::Ordering::Relaxed);
        }
        for (req, out) in group.into_iter().zip(outcomes) {
            if let Ack::Applied(reply) = req.ack {
                let _ = reply.send(Ok(out));
            }
        }
        if any_ticket {
            self.work.notify_one();
        }
    }
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
            count: alarms.len(),
            alarms,
            body: None,
            ack: Ack::Applied(reply),
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
        // SQLite: the writer holds the alarm map from before the
        // transaction until the map has what it committed.
        let mut keys = match self.backend {
            Backend::Sqlite => Some(self.alarm_keys.lock().await),
            Backend::Postgres => None,
        };
        let mut placed: Vec<(String, Vec<(u64, i64)>)> = vec![];
        let mut tx = self.begin().await?;
        if let Some(k) = keys.as_deref_mut() {
            k.load(&mut tx).await?;
        }
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
            let mut tenant_placed: Vec<(u64, i64)> = vec![];
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
                let rows = match keys.as_deref() {
                    Some(k) => {
                        rows::write_keyed(
                            &mut tx,
                            k,
                            &mut tenant_placed,
                            tenant,
                            chunk,
                            events,
                            &muted,
                            now,
                        )
                        .await?
                    }
                    None => rows::upsert(&mut tx, tenant, chunk, events, &muted, now).await?,
                };
                rows::write_occurrences(&mut tx, self.backend, tenant, chunk, events, &rows, now)
                    .await?;
                let sources: Vec<(String, String, String)> = sources
                    .into_iter()
                    .filter_map(|(rule, key, fp)| Some((rule, key, rows.get(&fp)?.id.clone())))
                    .collect();
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
                    let rows::Wrote {
                        id: alarm_id, prev, ..
                    } = rows.get(fp).ok_or_else(|| {
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
                            true,
                        )
                        .await?;
                    }
                }
            }
            if !tenant_placed.is_empty() {
                placed.push((tenant.to_string(), tenant_placed));
            }
        }
        let created: Vec<String> = outcomes
            .iter()
            .flat_map(|o| o.incidents_created.iter().cloned())
            .collect();
        let ready = self.dispatch_in_ingest(&mut tx, &created).await;
        if let Some(seq) = group.iter().filter_map(Request::logged).max() {
            sqlx::query(
                "INSERT INTO ingest_applied (id, seq) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
            )
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(k) = keys.as_deref_mut() {
            for (tenant, p) in &placed {
                k.insert(tenant, p);
            }
        }
        drop(keys);
        if !ready.is_empty() {
            self.ready.lock().expect("ready deliveries").extend(ready);
        }
        Ok(outcomes)
    }
}

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
