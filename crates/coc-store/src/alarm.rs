//! Alarms (M2, I1): the stored alarm (one row per fingerprint), its
//! history events, and the alarm-center queries and clearing. Alarms come
//! in through [`crate::ingest`] and become incidents through
//! [`crate::forward`].

use coc_domain::alarm::AlarmStatus;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError, json_col};

/// Most alarms one page of a filtered alarm list looks through
/// ([`Store::list_alarms`]); a page that found fewer matches than it
/// wanted there ends with a cursor to look further.
pub const ALARM_WINDOW: i64 = 10_000;

/// Most alarms committed in one group transaction.
pub const MAX_GROUP_ALARMS: usize = 4096;

/// The incident an alarm became (or was converted or merged into).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IncidentLink {
    /// Incident id.
    pub id: String,
    /// Incident number (`INC…`).
    pub number: String,
}

/// An alarm of the alarm center's list, with the incident it is linked to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ListedAlarm {
    /// The alarm.
    #[serde(flatten)]
    pub alarm: Alarm,
    /// The incident it was last linked to, if any.
    pub incident: Option<IncidentLink>,
}

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
    /// The silence that muted its last event (no incident, no
    /// notification), if any.
    pub silenced_by: Option<String>,
    /// The inhibition rule under which a firing alarm inhibited its last
    /// event (no incident, no notification), if any.
    pub inhibited_by: Option<String>,
}

impl Alarm {
    /// The alarm as a new event of `status` from its source (a resolve that
    /// names the alarm only by its key keeps everything else as stored).
    pub fn as_event(&self, status: AlarmStatus, time: i64) -> coc_domain::alarm::NormalizedAlarm {
        let map = |v: &serde_json::Value| serde_json::from_value(v.clone()).unwrap_or_default();
        coc_domain::alarm::NormalizedAlarm {
            alarm_id: self.alarm_id.clone(),
            alarm_name: self.name.clone(),
            alarm_level: coc_domain::alarm::AlarmLevel::from_severity(Some(&self.level)),
            time,
            namespace: self.namespace.clone(),
            region: self.region.clone(),
            application: self.application.clone(),
            resource_name: self.resource_name.clone(),
            resource_id: self.resource_id.clone(),
            alarm_desc: self.description.clone(),
            url: self.url.clone(),
            alarm_status: status,
            alarm_source: self.source.clone(),
            additional: map(&self.additional),
            labels: map(&self.labels),
            annotations: map(&self.annotations),
        }
    }
}

const COLS: &str = "id, fingerprint, name, level, status, occurrences, first_seen, last_seen, \
    started_at, source, integration_id, source_alarm_id, resource_id, resource_name, region, \
    application, namespace, description, url, labels, annotations, additional, cleared_remark, silenced_by, inhibited_by";

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
        silenced_by: r.try_get("silenced_by")?,
        inhibited_by: r.try_get("inhibited_by")?,
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

/// One occurrence of an alarm as received (ref. 7.2.2 "Original
/// Alarms"): the latest [`coc_domain::alarm::OCCURRENCES_KEPT`] of each
/// alarm are kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Occurrence {
    /// Its number among the alarm's occurrences, from 1.
    pub number: i64,
    /// Received, Unix ms.
    pub received_at: i64,
    /// When the source says it happened, Unix ms.
    pub occurred_at: i64,
    /// Status it carried (`alarm` or `ok`).
    pub status: String,
    /// Level it carried.
    pub level: String,
    /// Description it carried.
    pub description: Option<String>,
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
    /// Alarms muted by a silence in force (stored and marked; no
    /// incident, no notification).
    #[serde(default)]
    pub silenced: usize,
    /// Alarms inhibited by a firing source alarm under an inhibition rule
    /// (stored and marked; no incident, no notification).
    #[serde(default)]
    pub inhibited: usize,
    /// `applied` (the counts above are what happened) or `received` (the
    /// alarms are durably logged and applied right behind; only
    /// `accepted` is counted). Decision 0031.
    #[serde(default)]
    pub acknowledged: coc_domain::alarm::Acknowledge,
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
    /// The resource's name or id contains this (case-insensitive).
    pub resource: Option<String>,
    /// Labels the alarm carries, each `key=value` exactly.
    pub labels: Vec<(String, String)>,
    /// `Some(true)`: only alarms muted by a silence or an inhibition rule;
    /// `Some(false)`: only those not muted.
    pub silenced: Option<bool>,
    /// Only alarms last delivered by this integration (id).
    pub integration: Option<String>,
}

use crate::like_literal;

impl Store {
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
        // The newest alarms (of a status, of an integration and status)
        // come straight off an index. Any
        // other filter is checked row by row, so a page looks through a
        // window of the next ALARM_WINDOW alarms at most: a short page with
        // a cursor says "look further".
        let narrowed = f.level.is_some()
            || f.name.is_some()
            || f.source.is_some()
            || f.region.is_some()
            || f.since.is_some()
            || f.until.is_some()
            || f.resource.is_some()
            || !f.labels.is_empty()
            || f.silenced.is_some()
            || (f.integration.is_some() && f.status.is_none());
        let mut window_full_at = None;
        if narrowed {
            let mut win = w.clone();
            if let Some(c) = &page.cursor {
                win.push("id < ?", Arg::S(c.clone()));
            }
            let r = win
                .query(format!(
                    "SELECT MIN(id) AS lo, COUNT(*) AS n FROM \
                     (SELECT id FROM alarms{} ORDER BY id DESC LIMIT {ALARM_WINDOW}) t",
                    win.sql
                ))
                .fetch_one(self.reader())
                .await?;
            let Some(lo) = r.try_get::<Option<String>, _>("lo")? else {
                return Ok(Paged {
                    items: vec![],
                    next_cursor: None,
                });
            };
            if r.try_get::<i64, _>("n")? == ALARM_WINDOW {
                window_full_at = Some(lo.clone());
            }
            w.push("id >= ?", Arg::S(lo));
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
        if let Some(r) = &f.resource {
            let p = format!("%{}%", like_literal(&r.to_lowercase()));
            w.push(
                "(LOWER(COALESCE(resource_name, '')) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(resource_id, '')) LIKE ? ESCAPE '\\')",
                // (Both marks name the one argument.)
                Arg::S(p),
            );
        }
        match f.silenced {
            Some(true) => w.push_sql("(silenced_by IS NOT NULL OR inhibited_by IS NOT NULL)"),
            Some(false) => w.push_sql("silenced_by IS NULL AND inhibited_by IS NULL"),
            None => {}
        }
        if let Some(i) = &f.integration {
            w.push("integration_id = ?", Arg::S(i.clone()));
        }
        for (k, v) in &f.labels {
            // Labels are stored as compact JSON text: `"key":"value"` is
            // the pair itself, on both backends.
            let pair = serde_json::to_string(&serde_json::json!({ k: v })).unwrap_or_default();
            let inner = pair.trim_start_matches('{').trim_end_matches('}');
            w.push(
                "labels LIKE ? ESCAPE '\\'",
                Arg::S(format!("%{}%", like_literal(inner))),
            );
        }
        let mut out = self
            .fetch_page(COLS, "alarms", w, page, row, |a| a.id.clone())
            .await?;
        if out.next_cursor.is_none() {
            out.next_cursor = window_full_at;
        }
        Ok(out)
    }

    /// The incident each of `alarms` (ids) was last linked to, by alarm
    /// id; alarms linked to none are absent. One query for a page.
    pub async fn incidents_of_alarms(
        &self,
        tenant: &str,
        alarms: &[String],
    ) -> Result<std::collections::HashMap<String, IncidentLink>> {
        let mut out = std::collections::HashMap::new();
        if alarms.is_empty() {
            return Ok(out);
        }
        let marks: Vec<String> = (2..alarms.len() + 2).map(|i| format!("${i}")).collect();
        let mut q = sqlx::query(dynsql!(
            "SELECT ia.alarm_id, i.id, i.number FROM incident_alarms ia \
             JOIN incidents i ON i.id = ia.incident_id AND i.tenant_id = ia.tenant_id \
             WHERE ia.tenant_id = $1 AND ia.alarm_id IN ({}) ORDER BY ia.linked_at",
            marks.join(",")
        ))
        .bind(tenant);
        for a in alarms {
            q = q.bind(a.as_str());
        }
        for r in q.fetch_all(self.reader()).await? {
            // Ordered by link time: the latest link wins.
            out.insert(
                r.try_get("alarm_id")?,
                IncidentLink {
                    id: r.try_get("id")?,
                    number: r.try_get("number")?,
                },
            );
        }
        Ok(out)
    }

    /// One alarm. Errors: `NotFound`.
    pub async fn get_alarm(&self, tenant: &str, id: &str) -> Result<Alarm> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM alarms WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("alarm", id))
    }

    /// The newest `limit` alarms of `tenant` last seen at or after
    /// `since` (Unix ms), newest first (by creation).
    pub async fn alarms_seen_since(
        &self,
        tenant: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<Alarm>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM alarms WHERE tenant_id = $1 AND last_seen >= $2 ORDER BY id DESC LIMIT {limit}"
        ))
        .bind(tenant)
        .bind(since)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    /// The hosts an alarm is about (I1, I6): those whose resource id is
    /// its `resourceId`, or whose name or address is its `resourceName` or
    /// the host part of its `instance` label
    /// ([`coc_domain::resource::alarm_targets_host`]).
    ///
    /// Errors: `NotFound` for an unknown alarm.
    pub async fn hosts_of_alarm(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Vec<coc_domain::resource::HostIdentity>> {
        let a = self.get_alarm(tenant, id).await?;
        let status = AlarmStatus::parse(&a.status)?;
        let ev = a.as_event(status, a.last_seen);
        let mut tx = self.reader().begin().await?;
        let hosts = crate::resource::host_identities(&mut tx, tenant).await?;
        tx.rollback().await?;
        Ok(hosts
            .into_iter()
            .filter(|h| coc_domain::resource::alarm_targets_host(&ev, h))
            .collect())
    }

    /// Records in an alarm's history that `actor` handled it (a script or
    /// job ticket started on its host): event `handled`.
    ///
    /// Errors: `NotFound`.
    pub async fn note_alarm_handled(
        &self,
        tenant: &str,
        id: &str,
        actor: &str,
        detail: &str,
    ) -> Result<()> {
        self.note_on_alarm(tenant, id, "handled", actor, detail)
            .await
    }

    /// Appends a history event of `kind` by `actor` to an alarm, with its
    /// current status, in a transaction of its own.
    ///
    /// Errors: `NotFound`.
    async fn note_on_alarm(
        &self,
        tenant: &str,
        id: &str,
        kind: &str,
        actor: &str,
        detail: &str,
    ) -> Result<()> {
        let a = self.get_alarm(tenant, id).await?;
        let mut tx = self.begin().await?;
        event(
            &mut tx,
            tenant,
            id,
            self.now(),
            kind,
            &a.status,
            actor,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The alarms with these ids, in the order of `ids` (ids of no alarm
    /// are left out). One query.
    pub async fn alarms_by_ids(&self, tenant: &str, ids: &[String]) -> Result<Vec<Alarm>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let list = (0..ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        let mut q = sqlx::query(dynsql!(
            "SELECT {COLS} FROM alarms WHERE tenant_id = $1 AND id IN ({list})"
        ))
        .bind(tenant);
        for id in ids {
            q = q.bind(id.as_str());
        }
        let mut by_id: std::collections::HashMap<String, Alarm> = q
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| row(r).map(|a| (a.id.clone(), a)))
            .collect::<Result<_>>()?;
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// The alarm of this fingerprint (dedup key), if stored. SQLite finds
    /// it through the ingest writer's map ([`crate::ingest::AlarmKeys`]),
    /// PostgreSQL through its `(tenant, fingerprint)` index.
    pub async fn alarm_by_fingerprint(&self, tenant: &str, fp: &str) -> Result<Option<Alarm>> {
        let q = match self.backend {
            crate::Backend::Sqlite => {
                let mut keys = self.alarm_keys.lock().await;
                keys.load(&mut *self.reader().acquire().await?).await?;
                let Some(rowid) = keys.get(tenant, fp) else {
                    return Ok(None);
                };
                sqlx::query(dynsql!(
                    "SELECT {COLS} FROM alarms WHERE tenant_id = $1 AND fingerprint = $2 AND rowid = $3"
                ))
                .bind(tenant)
                .bind(fp)
                .bind(rowid)
            }
            crate::Backend::Postgres => sqlx::query(dynsql!(
                "SELECT {COLS} FROM alarms WHERE tenant_id = $1 AND fingerprint = $2"
            ))
            .bind(tenant)
            .bind(fp),
        };
        let r = q.fetch_optional(self.reader()).await?;
        r.as_ref().map(row).transpose()
    }

    /// Records that the source acknowledged the alarm (a history event
    /// `acknowledged`; the status does not change).
    ///
    /// Errors: `NotFound`.
    pub async fn acknowledge_alarm(&self, tenant: &str, id: &str, detail: &str) -> Result<()> {
        self.note_on_alarm(tenant, id, "acknowledged", "system", detail)
            .await
    }

    /// An alarm's latest occurrences as received, newest first (at most
    /// [`coc_domain::alarm::OCCURRENCES_KEPT`]). Errors: `NotFound`.
    pub async fn alarm_occurrences(&self, tenant: &str, id: &str) -> Result<Vec<Occurrence>> {
        let alarm = self.get_alarm(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT seq, received_at, occurred_at, status, level, description FROM alarm_occurrences \
             WHERE alarm_id = $1 AND tenant_id = $2 ORDER BY seq DESC",
        )
        .bind(&alarm.id)
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Occurrence {
                    number: r.try_get::<i64, _>("seq")? + 1,
                    received_at: r.try_get("received_at")?,
                    occurred_at: r.try_get("occurred_at")?,
                    status: r.try_get("status")?,
                    level: r.try_get("level")?,
                    description: r.try_get("description")?,
                })
            })
            .collect()
    }

    /// An alarm's history, oldest first. Errors: `NotFound`.
    pub async fn alarm_history(&self, tenant: &str, id: &str) -> Result<Vec<AlarmEvent>> {
        let alarm = self.get_alarm(tenant, id).await?;
        let first: String = sqlx::query_scalar("SELECT first_status FROM alarms WHERE id = $1")
            .bind(id)
            .fetch_one(self.reader())
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
        .fetch_all(self.reader())
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
