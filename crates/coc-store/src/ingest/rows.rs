//! Writing one chunk of deduplicated alarms: the row of each fingerprint
//! is inserted or brought up to its last event, and the caller learns each
//! row's id and the status it had before.
//!
//! PostgreSQL finds the row through the unique `(tenant, fingerprint)`
//! index (`INSERT … ON CONFLICT DO UPDATE`), so replicas sharing the
//! database stay consistent. SQLite, which serves one process, finds it
//! through [`AlarmKeys`], a map in the writer's memory: the unique index
//! was a b-tree written at random places, and with a million alarms
//! stored it bounded ingest to a fifth of the rate without it (decision
//! 0016).

use std::collections::HashMap;

use coc_domain::alarm::AlarmStatus;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::{Ev, Mute};
use crate::{Backend, Result, StoreError};

/// Distinct alarms per insert or update statement (27 parameters each).
pub const UPSERT_ROWS: usize = 200;

/// What one chunk wrote for one fingerprint.
pub(super) struct Wrote {
    /// The alarm's id.
    pub id: String,
    /// Its status before (`None`: a new row).
    pub prev: Option<String>,
    /// Occurrences it had before this chunk.
    pub seen_before: i64,
}

/// What one chunk wrote, per fingerprint.
pub(super) type Written = HashMap<String, Wrote>;

/// Columns of a new alarm row, in the order [`bind_new`] binds them;
/// `prev_status` and `cleared_remark` are NULL literals.
const INSERT_COLS: &str = "id, fingerprint, name, level, status, first_status, prev_status, occurrences, \
    first_seen, last_seen, started_at, source, integration_id, source_alarm_id, resource_id, resource_name, \
    region, application, namespace, description, url, labels, annotations, additional, cleared_remark, \
    tenant_id, updated_at, silenced_by, inhibited_by";

/// Bound parameters of one new row.
const PER_ROW: usize = 27;

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Placeholder maker: SQLite gets anonymous `?` (sqlx looks each named
/// parameter up linearly, so `$N` would make binding quadratic);
/// PostgreSQL needs `$N`.
fn marks(backend: Backend) -> impl FnMut() -> String {
    let mut k = 0usize;
    move || {
        k += 1;
        match backend {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${k}"),
        }
    }
}

/// `(…),(…)` for `rows` new rows of [`INSERT_COLS`].
fn insert_values(backend: Backend, rows: usize) -> String {
    let mut ph = marks(backend);
    let mut values = String::with_capacity(rows * PER_ROW * 4);
    for i in 0..rows {
        if i > 0 {
            values.push(',');
        }
        values.push('(');
        for c in 0..PER_ROW {
            if c > 0 {
                values.push(',');
            }
            if c == 6 || c == 23 {
                values.push_str("NULL,");
            }
            values.push_str(&ph());
        }
        values.push(')');
    }
    values
}

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

fn mute_ids(muted: &HashMap<&str, Mute>, fp: &str) -> (Option<String>, Option<String>) {
    match muted.get(fp) {
        Some(Mute::Silence(id)) => (Some(id.clone()), None),
        Some(Mute::Inhibition(id)) => (None, Some(id.clone())),
        None => (None, None),
    }
}

/// Binds the new row of `fp`: the last event's content, `occurrences` the
/// number of events, the first event's status as `first_status`.
fn bind_new<'q>(
    q: Query<'q>,
    tenant: &str,
    fp: &str,
    evs: &[Ev<'_>],
    muted: &HashMap<&str, Mute>,
    now: i64,
) -> Query<'q> {
    let first = evs[0].alarm;
    let last = &evs[evs.len() - 1];
    let a = last.alarm;
    let (silenced, inhibited) = mute_ids(muted, fp);
    q.bind(crate::new_id())
        .bind(fp.to_string())
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
        .bind(silenced)
        .bind(inhibited)
}

/// PostgreSQL: one multi-row upsert on the unique `(tenant,
/// fingerprint)` index.
pub(super) async fn upsert(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    chunk: &[String],
    events: &HashMap<String, Vec<Ev<'_>>>,
    muted: &HashMap<&str, Mute>,
    now: i64,
) -> Result<Written> {
    let sql = format!(
        "INSERT INTO alarms ({INSERT_COLS}) VALUES {} \
         ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET \
         prev_status = alarms.status, occurrences = alarms.occurrences + excluded.occurrences, \
         last_seen = excluded.last_seen, status = excluded.status, level = excluded.level, \
         description = excluded.description, annotations = excluded.annotations, additional = excluded.additional, \
         integration_id = excluded.integration_id, started_at = excluded.started_at, url = excluded.url, \
         updated_at = excluded.updated_at, silenced_by = excluded.silenced_by, inhibited_by = excluded.inhibited_by, \
         cleared_remark = CASE WHEN excluded.status = {firing} THEN NULL ELSE alarms.cleared_remark END \
         RETURNING id, fingerprint, prev_status, occurrences",
        insert_values(Backend::Postgres, chunk.len()),
        firing = crate::sql_lit(AlarmStatus::Alarm.as_str())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for fp in chunk {
        q = bind_new(q, tenant, fp, &events[fp], muted, now);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let fp: String = r.try_get("fingerprint")?;
        let after: i64 = r.try_get("occurrences")?;
        let seen_before = after - events.get(&fp).map_or(0, |e| e.len() as i64);
        out.insert(
            fp,
            Wrote {
                id: r.try_get("id")?,
                prev: r.try_get("prev_status")?,
                seen_before,
            },
        );
    }
    Ok(out)
}

/// SQLite: where each stored alarm is (its `rowid`), by tenant and
/// fingerprint, loaded from the table on first use and changed only by
/// committed ingest groups and retention. An entry is a hint checked
/// against the row it names (tenant and fingerprint), so an entry left
/// behind by a deleted row costs nothing but a new row.
#[derive(Default)]
pub(crate) struct AlarmKeys {
    loaded: bool,
    by_tenant: HashMap<String, HashMap<u64, i64>>,
}

/// The map key of a fingerprint: its 16 hex digits as a number (any other
/// text, never made by COC, is hashed).
fn key(fp: &str) -> u64 {
    u64::from_str_radix(fp, 16).unwrap_or_else(|_| {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        fp.hash(&mut h);
        h.finish()
    })
}

impl AlarmKeys {
    /// Loads every stored alarm's place, once (about a second per million
    /// alarms).
    pub(crate) async fn load(&mut self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        if self.loaded {
            return Ok(());
        }
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT rowid AS r, tenant_id, fingerprint FROM alarms WHERE rowid > $1 ORDER BY rowid LIMIT 50000",
            )
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("r")?;
            for r in &rows {
                let tenant: String = r.try_get("tenant_id")?;
                let fp: String = r.try_get("fingerprint")?;
                self.by_tenant
                    .entry(tenant)
                    .or_default()
                    .insert(key(&fp), r.try_get("r")?);
            }
        }
        self.loaded = true;
        Ok(())
    }

    /// The rowid last known for `fp` of `tenant`.
    pub(crate) fn get(&self, tenant: &str, fp: &str) -> Option<i64> {
        self.by_tenant.get(tenant)?.get(&key(fp)).copied()
    }

    /// Records where committed new rows are.
    pub(crate) fn insert(&mut self, tenant: &str, placed: &[(u64, i64)]) {
        let m = self.by_tenant.entry(tenant.to_string()).or_default();
        for (k, rowid) in placed {
            m.insert(*k, *rowid);
        }
    }

    /// Forgets deleted rows: `(fingerprint, rowid)` entries of `tenant`
    /// that still name that row.
    pub(crate) fn remove(&mut self, tenant: &str, gone: &[(String, i64)]) {
        if let Some(m) = self.by_tenant.get_mut(tenant) {
            for (fp, rowid) in gone {
                let k = key(fp);
                if m.get(&k) == Some(rowid) {
                    m.remove(&k);
                }
            }
        }
    }
}

/// SQLite: the rows of `chunk` found through `keys` are updated, the rest
/// inserted; `placed` receives the new rows' `(key, rowid)` for
/// [`AlarmKeys::insert`] once the transaction commits.
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_keyed(
    tx: &mut Transaction<'static, Any>,
    keys: &AlarmKeys,
    placed: &mut Vec<(u64, i64)>,
    tenant: &str,
    chunk: &[String],
    events: &HashMap<String, Vec<Ev<'_>>>,
    muted: &HashMap<&str, Mute>,
    now: i64,
) -> Result<Written> {
    let mut out: Written = HashMap::with_capacity(chunk.len());
    let wanted: std::collections::HashSet<&str> = chunk.iter().map(String::as_str).collect();
    // Rows named by the map, checked against their tenant and fingerprint.
    let hinted: Vec<i64> = chunk.iter().filter_map(|fp| keys.get(tenant, fp)).collect();
    let mut found: HashMap<String, i64> = HashMap::with_capacity(hinted.len());
    if !hinted.is_empty() {
        let sql = format!(
            "SELECT rowid AS r, id, status, fingerprint, occurrences FROM alarms WHERE tenant_id = ? AND rowid IN ({})",
            vec!["?"; hinted.len()].join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string());
        for r in &hinted {
            q = q.bind(*r);
        }
        for r in q.fetch_all(&mut **tx).await? {
            let fp: String = r.try_get("fingerprint")?;
            if wanted.contains(fp.as_str()) {
                found.insert(fp.clone(), r.try_get("r")?);
                out.insert(
                    fp,
                    Wrote {
                        id: r.try_get("id")?,
                        prev: Some(r.try_get("status")?),
                        seen_before: r.try_get("occurrences")?,
                    },
                );
            }
        }
    }
    let (old, new): (Vec<&String>, Vec<&String>) =
        chunk.iter().partition(|fp| found.contains_key(*fp));
    if !new.is_empty() {
        let sql = format!(
            "INSERT INTO alarms ({INSERT_COLS}) VALUES {} RETURNING rowid AS r, id, fingerprint",
            insert_values(Backend::Sqlite, new.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for fp in &new {
            q = bind_new(q, tenant, fp, &events[*fp], muted, now);
        }
        for r in q.fetch_all(&mut **tx).await? {
            let fp: String = r.try_get("fingerprint")?;
            placed.push((key(&fp), r.try_get("r")?));
            out.insert(
                fp,
                Wrote {
                    id: r.try_get("id")?,
                    prev: None,
                    seen_before: 0,
                },
            );
        }
    }
    if !old.is_empty() {
        // Every SET expression reads the row as it was: `prev_status`
        // takes the old status.
        let sql = format!(
            "UPDATE alarms SET prev_status = alarms.status, occurrences = alarms.occurrences + v.column2, \
             last_seen = v.column3, status = v.column4, level = v.column5, description = v.column6, \
             annotations = v.column7, additional = v.column8, integration_id = v.column9, \
             started_at = v.column10, url = v.column11, updated_at = v.column12, silenced_by = v.column13, \
             inhibited_by = v.column14, \
             cleared_remark = CASE WHEN v.column4 = {firing} THEN NULL ELSE alarms.cleared_remark END \
             FROM (VALUES {}) AS v WHERE alarms.rowid = v.column1",
            vec!["(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"; old.len()].join(","),
            firing = crate::sql_lit(AlarmStatus::Alarm.as_str())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for fp in &old {
            let evs = &events[*fp];
            let last = &evs[evs.len() - 1];
            let a = last.alarm;
            let (silenced, inhibited) = mute_ids(muted, fp);
            q = q
                .bind(found[*fp])
                .bind(evs.len() as i64)
                .bind(now)
                .bind(a.alarm_status.as_str())
                .bind(a.alarm_level.as_str())
                .bind(a.alarm_desc.clone())
                .bind(to_json(&a.annotations))
                .bind(to_json(&a.additional))
                .bind(last.integration_id.to_string())
                .bind(a.time)
                .bind(a.url.clone())
                .bind(now)
                .bind(silenced)
                .bind(inhibited);
        }
        let n = q.execute(&mut **tx).await?.rows_affected();
        if n != old.len() as u64 {
            return Err(StoreError::Conflict(format!(
                "updated {n} of {} alarms",
                old.len()
            )));
        }
    }
    Ok(out)
}

/// Parameters of one occurrence row.
const OCCURRENCE_PARAMS: usize = 9;

/// Keeps each event of `chunk` as an occurrence of its alarm (ref. 7.2.2)
/// in the ring place [`coc_domain::alarm::occurrence_slot`] gives its
/// number: one multi-row upsert; of a group longer than the ring only the
/// latest are written (each place once per statement).
pub(super) async fn write_occurrences(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    tenant: &str,
    chunk: &[String],
    events: &HashMap<String, Vec<Ev<'_>>>,
    rows: &Written,
    now: i64,
) -> Result<()> {
    use coc_domain::alarm::{OCCURRENCES_KEPT, occurrence_slot};
    let mut picked: Vec<(&Wrote, i64, &Ev<'_>)> = Vec::with_capacity(chunk.len());
    for fp in chunk {
        let (Some(w), Some(evs)) = (rows.get(fp), events.get(fp)) else {
            continue;
        };
        let skip = evs.len().saturating_sub(OCCURRENCES_KEPT as usize);
        for (i, e) in evs.iter().enumerate().skip(skip) {
            picked.push((w, w.seen_before + i as i64, e));
        }
    }
    for part in picked.chunks(UPSERT_ROWS) {
        let mut ph = marks(backend);
        let values = part
            .iter()
            .map(|_| {
                let p: Vec<String> = (0..OCCURRENCE_PARAMS).map(|_| ph()).collect();
                format!("({})", p.join(","))
            })
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "INSERT INTO alarm_occurrences (alarm_id, slot, tenant_id, seq, received_at, occurred_at, status, level, description) \
             VALUES {values} ON CONFLICT (alarm_id, slot) DO UPDATE SET seq = excluded.seq, \
             received_at = excluded.received_at, occurred_at = excluded.occurred_at, status = excluded.status, \
             level = excluded.level, description = excluded.description"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (w, seq, e) in part {
            q = q
                .bind(w.id.clone())
                .bind(occurrence_slot(*seq))
                .bind(tenant.to_string())
                .bind(*seq)
                .bind(now)
                .bind(e.alarm.time)
                .bind(e.alarm.alarm_status.as_str())
                .bind(e.alarm.alarm_level.as_str())
                .bind(e.alarm.alarm_desc.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
