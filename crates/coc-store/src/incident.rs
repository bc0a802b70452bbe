//! Incidents (I3, ref. 7.1): creation (by hand here; by forwarding rule
//! and from alarms in [`crate::forward`]), the lifecycle actions of figure 7-1 with
//! optimistic concurrency, history, and linked original alarms.

use coc_domain::error::invalid;
use coc_domain::incident::{IncidentAction, IncidentLevel, IncidentState, IncidentStatus, apply};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::alarm::Alarm;
use crate::application::AppIndex;
use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError};

/// An incident.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Incident {
    /// Record id.
    pub id: String,
    /// Human number, e.g. `INC202611220215300120001`.
    pub number: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// P1..P5.
    pub level: IncidentLevel,
    /// Lifecycle state.
    pub status: IncidentStatus,
    /// Current owner.
    pub assignee: String,
    /// Application.
    pub application: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Enterprise project (A4).
    pub enterprise_project: Option<String>,
    /// Category (free text, e.g. `database`, `network`), matched by
    /// notification rules.
    pub category: Option<String>,
    /// Emergency plan offered by the forwarding rule (S4/I4).
    pub plan: Option<String>,
    /// `forwarding_rule`, `manual` or `alarm_conversion`.
    pub source: String,
    /// The rule that created it.
    pub rule_id: Option<String>,
    /// Creator (`system` for rules).
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// One history entry (ref. 7.1.4): who did what, when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// When, Unix ms.
    pub at: i64,
    /// Who (`system` for automatic steps).
    pub actor: String,
    /// Action name (`create`, `accept`, …, `auto_repair`, `ticket_result`).
    pub action: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: Option<String>,
    /// One-line description.
    pub summary: String,
    /// Linked script ticket, for repair entries.
    pub ticket_id: Option<String>,
}

/// An incident with its history and original alarms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct IncidentDetail {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// History, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Linked original alarms: the latest [`INCIDENT_ALARMS`] linked,
    /// oldest first.
    pub alarms: Vec<Alarm>,
    /// How many alarms are linked (a converged group or a storm can hold
    /// many more than are listed).
    #[serde(default)]
    pub alarm_count: i64,
    /// Time to acknowledge and to resolve, from the history.
    pub times: coc_domain::incident::ResponseTimes,
}

/// Most alarms an incident's record lists ([`IncidentDetail::alarms`]).
pub const INCIDENT_ALARMS: i64 = 200;

/// Fields of a new incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Level.
    pub level: IncidentLevel,
    /// Owner.
    pub assignee: String,
    /// Application.
    pub application: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Enterprise project.
    pub enterprise_project: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Emergency plan offered.
    pub plan: Option<String>,
    /// Origin.
    pub source: String,
    /// Rule id.
    pub rule_id: Option<String>,
    /// Dedup key `rule:fingerprint`.
    pub dedup_key: Option<String>,
    /// Creator.
    pub created_by: String,
}

/// A manual incident, as posted to `POST /api/v1/incidents`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    /// Title (1..=200 chars).
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Level.
    pub level: IncidentLevel,
    /// Owner.
    pub assignee: String,
    /// Application.
    #[serde(default)]
    pub application: Option<String>,
    /// Region.
    #[serde(default)]
    pub region: Option<String>,
    /// Enterprise project (must exist).
    #[serde(default)]
    pub enterprise_project: Option<String>,
    /// Category (≤ 64 chars).
    #[serde(default)]
    pub category: Option<String>,
    /// Assign to whoever is on call for this shift (for the incident's
    /// application and region); `assignee` is the fallback and may then be
    /// empty.
    #[serde(default)]
    pub assignee_shift: Option<coc_domain::oncall::ShiftRef>,
}

/// The owner of a new incident: the first person on call for the
/// request's shift in `scope` (the incident's application by name, and
/// region), else its assignee.
///
/// Errors: `Domain(Validation)` when the shift has nobody on call and no
/// assignee was given.
pub(crate) async fn owner_of(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    req: &CreateIncident,
    scope: (Option<&str>, Option<&str>),
    now: i64,
) -> Result<String> {
    let on_call = match &req.assignee_shift {
        Some(s) => crate::oncall::first_on_call(conn, tenant, s, scope, now).await?,
        None => None,
    };
    match (on_call, req.assignee.trim()) {
        (Some(p), _) => Ok(p),
        (None, a) if !a.is_empty() => {
            crate::access::require_users(conn, tenant, &[a.to_string()]).await?;
            Ok(a.to_string())
        }
        (None, _) => {
            let (scenario, role) = req
                .assignee_shift
                .as_ref()
                .map(|s| (s.scenario.as_str(), s.role.as_str()))
                .unwrap_or_default();
            Err(invalid(format!(
                "nobody is on call for role '{role}' of scenario '{scenario}', and no assignee was given"
            ))
            .into())
        }
    }
}

impl CreateIncident {
    pub(crate) fn validate(&self) -> Result<()> {
        let n = self.title.trim().chars().count();
        if n == 0 || n > 200 {
            return Err(invalid("title must have 1 to 200 characters").into());
        }
        if self.description.chars().count() > 10_000 {
            return Err(invalid("description is longer than 10000 characters").into());
        }
        if self.assignee.trim().is_empty() && self.assignee_shift.is_none() {
            return Err(invalid("assignee (or assignee_shift) is required").into());
        }
        if self
            .category
            .as_ref()
            .is_some_and(|c| c.chars().count() > 64)
        {
            return Err(invalid("category is longer than 64 characters").into());
        }
        Ok(())
    }
}

/// Filters of the incident list.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Status name.
    pub status: Option<String>,
    /// Level `P1`..`P5`.
    pub level: Option<String>,
    /// Owner.
    pub assignee: Option<String>,
}

/// What an incident's row holds; its application (R6) is kept by id.
const STORED: &str = "id, number, title, description, level, status, assignee, application_id, region, \
    source, rule_id, created_by, created_at, updated_at, enterprise_project, category, plan";

/// What is read of an incident: its application by name.
const COLS: &str = "id, number, title, description, level, status, assignee, region, \
    source, rule_id, created_by, created_at, updated_at, enterprise_project, category, plan, \
    (SELECT a.name FROM applications a WHERE a.id = incidents.application_id) AS application";

fn row(r: &AnyRow) -> Result<Incident> {
    Ok(Incident {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        level: IncidentLevel::parse(&r.try_get::<String, _>("level")?)?,
        status: IncidentStatus::parse(&r.try_get::<String, _>("status")?)?,
        assignee: r.try_get("assignee")?,
        application: r.try_get("application")?,
        region: r.try_get("region")?,
        enterprise_project: r.try_get("enterprise_project")?,
        category: r.try_get("category")?,
        plan: r.try_get("plan")?,
        source: r.try_get("source")?,
        rule_id: r.try_get("rule_id")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts an incident and its `create` history entry: `(id, number)`.
pub(crate) async fn insert_incident(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    n: NewIncident,
    now: i64,
    summary: &str,
) -> Result<(String, String)> {
    let id = crate::new_id();
    let number = coc_domain::id::ticket_number("INC", now, crate::next_seq());
    // An application named by an alarm's source but not (yet) known to
    // COC leaves the incident without one.
    let application = match n.application.as_deref() {
        Some(a) => AppIndex::load(tx, tenant).await?.id(a).map(str::to_string),
        None => None,
    };
    sqlx::query(dynsql!(
        "INSERT INTO incidents ({STORED}, tenant_id, dedup_key) VALUES \
         ($1,$2,$3,$4,$5,'unaccepted',$6,$7,$8,$9,$10,$11,$12,$12,$15,$16,$17,$13,$14)"
    ))
    .bind(&id)
    .bind(&number)
    .bind(&n.title)
    .bind(&n.description)
    .bind(n.level.as_str())
    .bind(&n.assignee)
    .bind(application)
    .bind(n.region.as_deref())
    .bind(&n.source)
    .bind(n.rule_id.as_deref())
    .bind(&n.created_by)
    .bind(now)
    .bind(tenant)
    .bind(n.dedup_key.as_deref())
    .bind(n.enterprise_project.as_deref())
    .bind(n.category.as_deref())
    .bind(n.plan.as_deref())
    .execute(&mut **tx)
    .await?;
    history(
        tx,
        tenant,
        &id,
        now,
        &n.created_by,
        "create",
        None,
        Some(IncidentStatus::Unaccepted),
        summary,
        None,
    )
    .await?;
    Ok((id, number))
}

/// Links an alarm to an incident (idempotent) and records when an alarm
/// last came to it (`last_alarm_at`, the window of a converging rule).
pub(crate) async fn link_alarm(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    incident_id: &str,
    alarm_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_alarms (incident_id, alarm_id, tenant_id, linked_at) VALUES ($1,$2,$3,$4) \
         ON CONFLICT (incident_id, alarm_id) DO NOTHING",
    )
    .bind(incident_id)
    .bind(alarm_id)
    .bind(tenant)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE incidents SET last_alarm_at = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(now)
        .bind(tenant)
        .bind(incident_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends a history entry.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn history(
    tx: &mut Transaction<'static, Any>,
    tenant: &str,
    incident_id: &str,
    at: i64,
    actor: &str,
    action: &str,
    from: Option<IncidentStatus>,
    to: Option<IncidentStatus>,
    summary: &str,
    ticket_id: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_history (id, tenant_id, incident_id, at, actor, action, from_status, \
         to_status, summary, ticket_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(crate::new_id())
    .bind(tenant)
    .bind(incident_id)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(from.map(|s| s.as_str()))
    .bind(to.map(|s| s.as_str()))
    .bind(summary)
    .bind(ticket_id)
    .execute(&mut **tx)
    .await?;
    let template = coc_domain::notify::Template::for_change(
        action,
        from.map(|s| s.as_str()),
        to.map(|s| s.as_str()),
    );
    // The outbox: templates notify, status changes drive SLA timing.
    if template.is_some() || from != to {
        sqlx::query(
            "INSERT INTO incident_events (id, tenant_id, incident_id, event, actor, from_status, to_status, at, done) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,0)",
        )
        .bind(crate::new_id())
        .bind(tenant)
        .bind(incident_id)
        .bind(template.map(|t| t.as_str()).unwrap_or("status_changed"))
        .bind(actor)
        .bind(from.map(|s| s.as_str()))
        .bind(to.map(|s| s.as_str()))
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Creates an incident by hand (ref. 7.1.2).
    /// Errors: `Domain(Validation)`.
    pub async fn create_incident(
        &self,
        tenant: &str,
        req: &CreateIncident,
        actor: &str,
    ) -> Result<IncidentDetail> {
        req.validate()?;
        if let Some(ep) = &req.enterprise_project {
            self.require_enterprise_project(tenant, ep).await?;
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let application = match req.application.as_deref() {
            Some(a) => Some(AppIndex::load(&mut tx, tenant).await?.name(a)?),
            None => None,
        };
        let scope = (application.as_deref(), req.region.as_deref());
        let assignee = owner_of(&mut tx, tenant, req, scope, now).await?;
        let (id, _) = insert_incident(
            &mut tx,
            tenant,
            NewIncident {
                title: req.title.trim().to_string(),
                description: req.description.clone(),
                level: req.level,
                assignee,
                application,
                enterprise_project: req.enterprise_project.clone(),
                region: req.region.clone(),
                category: req.category.clone(),
                plan: None,
                source: "manual".into(),
                rule_id: None,
                dedup_key: None,
                created_by: actor.to_string(),
            },
            now,
            &format!("created by {actor}"),
        )
        .await?;
        tx.commit().await?;
        self.events.notify_one();
        self.get_incident(tenant, &id).await
    }

    /// Applies a lifecycle action (figure 7-1) as `actor`.
    ///
    /// Errors: `NotFound`; `Domain(InvalidTransition)` when the action is
    /// not allowed in the current status; `Domain(Validation)` for bad text;
    /// `Conflict` when the incident changed concurrently (retry).
    pub async fn incident_action(
        &self,
        tenant: &str,
        id: &str,
        action: &IncidentAction,
        actor: &str,
    ) -> Result<IncidentDetail> {
        let cur = self.get_incident_row(tenant, id).await?;
        let state = IncidentState {
            status: cur.status,
            level: cur.level,
            assignee: cur.assignee.clone(),
            title: cur.title.clone(),
            description: cur.description.clone(),
        };
        let (next, summary) = apply(&state, action)?;
        let now = self.now();
        let mut tx = self.begin().await?;
        if next.assignee != state.assignee {
            crate::access::require_users(&mut tx, tenant, std::slice::from_ref(&next.assignee))
                .await?;
        }
        let n = sqlx::query(
            "UPDATE incidents SET status = $1, level = $2, assignee = $3, title = $4, description = $5, \
             updated_at = $6 WHERE tenant_id = $7 AND id = $8 AND status = $9 AND updated_at = $10",
        )
        .bind(next.status.as_str())
        .bind(next.level.as_str())
        .bind(&next.assignee)
        .bind(&next.title)
        .bind(&next.description)
        .bind(now.max(cur.updated_at + 1))
        .bind(tenant)
        .bind(&cur.id)
        .bind(cur.status.as_str())
        .bind(cur.updated_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the incident was changed meanwhile; reload and retry".into(),
            ));
        }
        history(
            &mut tx,
            tenant,
            &cur.id,
            now,
            actor,
            action.name(),
            Some(cur.status),
            Some(next.status),
            &summary,
            None,
        )
        .await?;
        if !coc_domain::escalation::keeps_running(next.status) {
            sqlx::query(dynsql!(
                "UPDATE escalations SET state = {}, updated_at = $1 WHERE incident_id = $2 AND state = {}",
                crate::sql_lit(coc_domain::escalation::EscalationState::Stopped.as_str()),
                crate::sql_lit(coc_domain::escalation::EscalationState::Running.as_str())
            ))
            .bind(now)
            .bind(&cur.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.events.notify_one();
        self.get_incident(tenant, &cur.id).await
    }

    async fn get_incident_row(&self, tenant: &str, id: &str) -> Result<Incident> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM incidents WHERE tenant_id = $1 AND (id = $2 OR number = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| StoreError::not_found("incident", id))
    }

    /// One incident (by id or number) with history and alarms.
    /// Errors: `NotFound`.
    pub async fn get_incident(&self, tenant: &str, id: &str) -> Result<IncidentDetail> {
        let incident = self.get_incident_row(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT at, actor, action, from_status, to_status, summary, ticket_id FROM incident_history \
             WHERE tenant_id = $1 AND incident_id = $2 ORDER BY at, id",
        )
        .bind(tenant)
        .bind(&incident.id)
        .fetch_all(self.reader())
        .await?;
        let history = rows
            .iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    from_status: r.try_get("from_status")?,
                    to_status: r.try_get("to_status")?,
                    summary: r.try_get("summary")?,
                    ticket_id: r.try_get("ticket_id")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut ids: Vec<String> = sqlx::query_scalar(dynsql!(
            "SELECT alarm_id FROM incident_alarms WHERE tenant_id = $1 AND incident_id = $2 \
             ORDER BY linked_at DESC, alarm_id DESC LIMIT {INCIDENT_ALARMS}"
        ))
        .bind(tenant)
        .bind(&incident.id)
        .fetch_all(self.reader())
        .await?;
        ids.reverse();
        let alarm_count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_alarms WHERE tenant_id = $1 AND incident_id = $2",
        )
        .bind(tenant)
        .bind(&incident.id)
        .fetch_one(self.reader())
        .await?;
        let alarms = self.alarms_by_ids(tenant, &ids).await?;
        let changes: Vec<(i64, IncidentStatus)> = history
            .iter()
            .filter_map(|h| {
                let to = IncidentStatus::parse(h.to_status.as_deref()?).ok()?;
                Some((h.at, to))
            })
            .collect();
        let times =
            coc_domain::incident::response_times(incident.created_at, incident.status, &changes);
        Ok(IncidentDetail {
            incident,
            history,
            alarms,
            alarm_count,
            times,
        })
    }

    /// Incidents, newest first, keyset-paged.
    pub async fn list_incidents(
        &self,
        tenant: &str,
        f: &IncidentFilter,
        page: &Page,
    ) -> Result<Paged<Incident>> {
        let mut w = Filter::new(tenant);
        if let Some(s) = &f.status {
            w.push("status = ?", Arg::S(s.clone()));
        }
        if let Some(s) = &f.level {
            w.push("level = ?", Arg::S(s.to_ascii_uppercase()));
        }
        if let Some(s) = &f.assignee {
            w.push("assignee = ?", Arg::S(s.clone()));
        }
        self.fetch_page(COLS, "incidents", w, page, row, |i| i.id.clone())
            .await
    }

    /// Writes a history entry for a ticket that finished (automatic repair
    /// outcome, I6).
    pub async fn record_ticket_outcome(
        &self,
        tenant: &str,
        incident_id: &str,
        ticket_id: &str,
        summary: &str,
    ) -> Result<()> {
        let cur = self.get_incident_row(tenant, incident_id).await?;
        let mut tx = self.begin().await?;
        history(
            &mut tx,
            tenant,
            &cur.id,
            self.now(),
            "system",
            "ticket_result",
            Some(cur.status),
            Some(cur.status),
            summary,
            Some(ticket_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
