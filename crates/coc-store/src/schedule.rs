//! Scheduled O&M (X5, ref. 5.3): tasks that run a script or a job on a timing, and
//! their execution records.
//!
//! Life of a task: created disabled and `pending` review; a reviewer (not
//! the author) approves or rejects it; only an approved task can be
//! enabled. It can be modified only while disabled or pending review (a
//! modification asks for review again) and deleted only while disabled.
//! [`Store::run_schedules`] takes the clock as an argument: it claims each
//! due task by moving its `next_run_at` forward in one conditional update
//! (so two schedulers never both run it), then runs it — or records it as
//! missed when it is more than [`coc_domain::schedule::GRACE_MS`] late —
//! and reports finished runs to the task's recipients.

use chrono::{DateTime, Utc};
use coc_domain::error::invalid;
use coc_domain::notify::{IncidentFacts, Message, dedup};
use coc_domain::schedule::{Due, ScheduledRunStatus, ScheduledTaskSpec, due};
use coc_domain::script::ReviewStatus;
use coc_domain::ticket::TicketStatus;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::application::AppIndex;
use crate::ticket::{NewTicket, threshold_from_percent};
use crate::{Result, Store, StoreError, is_unique_violation};

/// A stored scheduled task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScheduledTask {
    /// Id.
    pub id: String,
    /// The task.
    #[serde(flatten)]
    pub spec: ScheduledTaskSpec,
    /// Whether it runs.
    pub enabled: bool,
    /// `pending`, `approved` or `rejected`.
    pub review_status: String,
    /// Who reviewed it.
    pub reviewed_by: Option<String>,
    /// The next run, Unix ms (enabled tasks).
    pub next_run_at: Option<i64>,
    /// Author.
    pub created_by: String,
    /// Last modifier.
    pub modified_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// One execution record of a task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScheduledRun {
    /// Id.
    pub id: String,
    /// Task id.
    pub task_id: String,
    /// When it was due, Unix ms.
    pub due_at: i64,
    /// When the scheduler handled it, Unix ms.
    pub started_at: i64,
    /// `started`, then the ticket's final status (`successful`, `failed`,
    /// `abnormal`, `terminated`); or `missed`, or `not_started` (with the
    /// reason in `detail`).
    pub status: String,
    /// The script ticket it created.
    pub ticket_id: Option<String>,
    /// What happened.
    pub detail: String,
}

const COLS: &str = "id, name, enabled, review_status, reviewed_by, spec, next_run_at, created_by, \
    modified_by, created_at, updated_at";
const RUN_COLS: &str = "id, task_id, due_at, started_at, status, ticket_id, detail";

/// A stored task, the application of its host filter named through `ix`.
fn row(r: &AnyRow, ix: &AppIndex) -> Result<ScheduledTask> {
    let mut spec: ScheduledTaskSpec = serde_json::from_str(&r.try_get::<String, _>("spec")?)
        .map_err(|e| StoreError::Conflict(format!("stored task is unreadable: {e}")))?;
    ix.to_names(&mut spec);
    Ok(ScheduledTask {
        id: r.try_get("id")?,
        spec,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        review_status: r.try_get("review_status")?,
        reviewed_by: r.try_get("reviewed_by")?,
        next_run_at: r.try_get("next_run_at")?,
        created_by: r.try_get("created_by")?,
        modified_by: r.try_get("modified_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn run_row(r: &AnyRow) -> Result<ScheduledRun> {
    Ok(ScheduledRun {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        due_at: r.try_get("due_at")?,
        started_at: r.try_get("started_at")?,
        status: r.try_get("status")?,
        ticket_id: r.try_get("ticket_id")?,
        detail: r.try_get("detail")?,
    })
}

/// One due time of a scheduled task being fired: the claim moves the
/// task's `next_run_at` from `due_at` to `next` only if no other replica
/// did first, and the run record lands in the same transaction as the
/// claim (and the ticket, when one starts).
#[derive(Clone)]
pub(crate) struct Firing {
    tenant: String,
    task: String,
    due_at: i64,
    next: Option<i64>,
    now: i64,
}

impl Firing {
    /// Claims the due time and records the run in `tx`; `false` when
    /// another replica claimed it (the caller rolls back).
    async fn commit_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        status: ScheduledRunStatus,
        ticket: Option<&str>,
        detail: &str,
    ) -> Result<bool> {
        let claimed = sqlx::query(
            "UPDATE scheduled_tasks SET next_run_at = $1, enabled = $2 WHERE id = $3 AND next_run_at = $4 AND enabled = 1",
        )
        .bind(self.next)
        .bind(i64::from(self.next.is_some()))
        .bind(&self.task)
        .bind(self.due_at)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO scheduled_runs (id, tenant_id, task_id, due_at, started_at, status, ticket_id, detail, notified) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,0)",
        )
        .bind(crate::new_id())
        .bind(&self.tenant)
        .bind(&self.task)
        .bind(self.due_at)
        .bind(self.now)
        .bind(status.as_str())
        .bind(ticket)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(true)
    }
}

impl Store {
    /// Creates a task: disabled, pending review. The script must exist.
    ///
    /// Errors: `Domain(Validation)`, `NotFound` (script), `Conflict` (name).
    pub async fn create_scheduled_task(
        &self,
        tenant: &str,
        spec: &ScheduledTaskSpec,
        actor: &str,
    ) -> Result<ScheduledTask> {
        let spec = &self.check_task(tenant, spec).await?;
        let id = crate::new_id();
        let now = self.now();
        let mut tx = self.begin().await?;
        sqlx::query(dynsql!(
            "INSERT INTO scheduled_tasks (id, tenant_id, name, enabled, review_status, spec, created_by, modified_by, \
             created_at, updated_at) VALUES ($1,$2,$3,0,{},$4,$5,$5,$6,$6)",
            crate::sql_lit(ReviewStatus::Pending.as_str())
        ))
        .bind(&id)
        .bind(tenant)
        .bind(spec.name.trim())
        .bind(serde_json::to_string(spec).unwrap_or_default())
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("a task named '{}' already exists", spec.name.trim()))
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        self.get_scheduled_task(tenant, &id).await
    }

    /// Modifies a task that is disabled or pending review; it is reviewed
    /// again. Errors: `NotFound`, `Domain(Validation)`,
    /// `Domain(InvalidTransition)` (enabled, or approved/rejected and not
    /// disabled).
    pub async fn update_scheduled_task(
        &self,
        tenant: &str,
        id: &str,
        spec: &ScheduledTaskSpec,
        actor: &str,
    ) -> Result<ScheduledTask> {
        let cur = self.get_scheduled_task(tenant, id).await?;
        if cur.enabled {
            return Err(coc_domain::DomainError::InvalidTransition(
                "an enabled task cannot be modified; disable it first".into(),
            )
            .into());
        }
        let spec = &self.check_task(tenant, spec).await?;
        self.write_one(
            sqlx::query(dynsql!(
                "UPDATE scheduled_tasks SET name = $1, spec = $2, review_status = {}, reviewed_by = NULL, \
                 modified_by = $3, updated_at = $4 WHERE tenant_id = $5 AND id = $6 AND enabled = 0 AND updated_at = $7",
                crate::sql_lit(ReviewStatus::Pending.as_str())
            ))
            .bind(spec.name.trim().to_string())
            .bind(serde_json::to_string(spec).unwrap_or_default())
            .bind(actor.to_string())
            .bind(self.now().max(cur.updated_at + 1))
            .bind(tenant)
            .bind(cur.id.clone())
            .bind(cur.updated_at),
            "scheduled task",
            &cur.id,
        )
        .await?;
        self.get_scheduled_task(tenant, &cur.id).await
    }

    /// Validates a task against the tenant: its script, hosts and
    /// application exist. Returns it as stored (the application by id).
    /// Errors: `Domain(Validation)`, `NotFound`.
    async fn check_task(
        &self,
        tenant: &str,
        spec: &ScheduledTaskSpec,
    ) -> Result<ScheduledTaskSpec> {
        spec.validate()?;
        if spec.timing.next_after(self.now()).is_none() {
            return Err(invalid(
                "the task would never run: its time has passed, or it expires before its first run",
            )
            .into());
        }
        threshold_from_percent(spec.success_rate_threshold)?;
        match &spec.job {
            Some(j) => {
                self.get_job(tenant, j).await?;
            }
            None => {
                self.get_script(tenant, &spec.script).await?;
            }
        }
        for h in &spec.hosts {
            self.get_host(tenant, h, 5000).await?;
        }
        let mut stored = spec.clone();
        self.app_index(tenant).await?.to_ids(&mut stored)?;
        Ok(stored)
    }

    /// Approves or rejects a task pending review (a reviewer, not its
    /// author). Errors: `NotFound`, `Domain(InvalidTransition)`,
    /// `Domain(Validation)`.
    pub async fn review_scheduled_task(
        &self,
        tenant: &str,
        id: &str,
        reviewer: &str,
        approve: bool,
    ) -> Result<ScheduledTask> {
        let cur = self.get_scheduled_task(tenant, id).await?;
        if cur.review_status != "pending" {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "task '{}' is not waiting for review ({})",
                cur.spec.name, cur.review_status
            ))
            .into());
        }
        if reviewer == cur.modified_by {
            return Err(invalid("the author of a task cannot review it").into());
        }
        let allowed = self
            .resolve_people(
                tenant,
                &cur.spec.reviewers,
                &IncidentFacts::not_an_incident(""),
                self.now_utc(),
            )
            .await?;
        if !allowed.iter().any(|p| p == reviewer) {
            return Err(invalid(format!(
                "{reviewer} is not a reviewer of task '{}'",
                cur.spec.name
            ))
            .into());
        }
        self.write_one(
            sqlx::query(dynsql!(
                "UPDATE scheduled_tasks SET review_status = $1, reviewed_by = $2 \
                 WHERE tenant_id = $3 AND id = $4 AND review_status = {} AND updated_at = $5",
                crate::sql_lit(ReviewStatus::Pending.as_str())
            ))
            .bind(
                if approve {
                    ReviewStatus::Approved
                } else {
                    ReviewStatus::Rejected
                }
                .as_str(),
            )
            .bind(reviewer.to_string())
            .bind(tenant)
            .bind(cur.id.clone())
            .bind(cur.updated_at),
            "scheduled task",
            &cur.id,
        )
        .await?;
        self.get_scheduled_task(tenant, &cur.id).await
    }

    /// Enables (an approved task; computes its next run from now) or
    /// disables a task. Errors: `NotFound`, `Domain(InvalidTransition)`
    /// (not approved, or no run left before the expiry).
    pub async fn set_scheduled_task_enabled(
        &self,
        tenant: &str,
        id: &str,
        enabled: bool,
    ) -> Result<ScheduledTask> {
        let cur = self.get_scheduled_task(tenant, id).await?;
        let next = if enabled {
            if cur.review_status != "approved" {
                return Err(coc_domain::DomainError::InvalidTransition(format!(
                    "task '{}' can be enabled once a reviewer approves it ({})",
                    cur.spec.name, cur.review_status
                ))
                .into());
            }
            Some(cur.spec.timing.next_after(self.now()).ok_or_else(|| {
                coc_domain::DomainError::InvalidTransition(
                    "the task has no run left before its expiry".into(),
                )
            })?)
        } else {
            None
        };
        self.write_one(
            sqlx::query(
                "UPDATE scheduled_tasks SET enabled = $1, next_run_at = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(i64::from(enabled))
            .bind(next)
            .bind(self.now().max(cur.updated_at + 1))
            .bind(tenant)
            .bind(cur.id.clone()),
            "scheduled task",
            &cur.id,
        )
        .await?;
        self.get_scheduled_task(tenant, &cur.id).await
    }

    /// Deletes a disabled task (its records stay). Errors: `NotFound`,
    /// `Domain(InvalidTransition)` (enabled).
    pub async fn delete_scheduled_task(&self, tenant: &str, id: &str) -> Result<()> {
        let cur = self.get_scheduled_task(tenant, id).await?;
        if cur.enabled {
            return Err(coc_domain::DomainError::InvalidTransition(
                "an enabled task cannot be deleted; disable it first".into(),
            )
            .into());
        }
        self.write_one(
            sqlx::query(
                "DELETE FROM scheduled_tasks WHERE tenant_id = $1 AND id = $2 AND enabled = 0",
            )
            .bind(tenant)
            .bind(cur.id.clone()),
            "scheduled task",
            &cur.id,
        )
        .await
    }

    /// One task by id or name. Errors: `NotFound`.
    pub async fn get_scheduled_task(&self, tenant: &str, id: &str) -> Result<ScheduledTask> {
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM scheduled_tasks WHERE tenant_id = $1 AND (id = $2 OR name = $2)"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        let ix = self.app_index(tenant).await?;
        r.as_ref()
            .map(|r| row(r, &ix))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("scheduled task", id))
    }

    /// Tasks by name.
    pub async fn list_scheduled_tasks(&self, tenant: &str) -> Result<Vec<ScheduledTask>> {
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM scheduled_tasks WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        let ix = self.app_index(tenant).await?;
        rows.iter().map(|r| row(r, &ix)).collect()
    }

    /// Execution records of a task, newest first. Errors: `NotFound`.
    pub async fn scheduled_runs(&self, tenant: &str, id: &str) -> Result<Vec<ScheduledRun>> {
        let t = self.get_scheduled_task(tenant, id).await?;
        let rows = sqlx::query(dynsql!(
            "SELECT {RUN_COLS} FROM scheduled_runs WHERE tenant_id = $1 AND task_id = $2 ORDER BY due_at DESC, id DESC LIMIT 500"
        ))
        .bind(tenant)
        .bind(&t.id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(run_row).collect()
    }

    /// Runs every task due at `now` (see the module doc) and reports the
    /// outcome of finished runs. `heartbeat_ms` decides which agents count
    /// as running for host filters. Returns the runs handled.
    ///
    /// Errors: a store error; the rest is retried next time.
    pub async fn run_schedules(&self, now: DateTime<Utc>, heartbeat_ms: i64) -> Result<usize> {
        let now_ms = now.timestamp_millis();
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS}, tenant_id FROM scheduled_tasks WHERE enabled = 1 AND next_run_at <= $1 ORDER BY next_run_at LIMIT 100"
        ))
        .bind(now_ms)
        .fetch_all(self.reader())
        .await?;
        let mut handled = 0;
        for r in &rows {
            let tenant: String = r.try_get("tenant_id")?;
            let t = row(r, &self.app_index(&tenant).await?)?;
            let Some(due_at) = t.next_run_at else {
                continue;
            };
            // Claim: move the next run past now in one conditional update,
            // in the same transaction as the ticket and the run record, so
            // a replica dying half-way leaves the due time unclaimed.
            let firing = Firing {
                tenant: tenant.clone(),
                task: t.id.clone(),
                due_at,
                next: t.spec.timing.next_after(now_ms),
                now: now_ms,
            };
            let fired = match due(due_at, now_ms) {
                Due::Missed => {
                    let detail = format!(
                        "due {} min earlier, while COC was not running",
                        (now_ms - due_at) / 60_000
                    );
                    self.record_firing(&firing, ScheduledRunStatus::Missed, &detail)
                        .await?
                }
                Due::Run => match self.start_scheduled(&t, heartbeat_ms, &firing).await {
                    Ok(started) => started,
                    Err(e) => {
                        self.record_firing(&firing, ScheduledRunStatus::NotStarted, &e.to_string())
                            .await?
                    }
                },
            };
            handled += usize::from(fired);
        }
        handled += self.report_scheduled_runs(now).await?;
        Ok(handled)
    }

    /// Claims the firing and starts its ticket in one transaction (see
    /// [`Firing`]). `Ok(false)`: another replica claimed it first.
    async fn start_scheduled(
        &self,
        t: &ScheduledTask,
        heartbeat_ms: i64,
        firing: &Firing,
    ) -> Result<bool> {
        let tenant = firing.tenant.as_str();
        let hosts = match &t.spec.select {
            Some(sel) => self
                .list_hosts(tenant, heartbeat_ms)
                .await?
                .into_iter()
                .filter(|h| {
                    sel.matches(coc_domain::schedule::SelectedHost {
                        tags: &h.tags,
                        application: h.application.as_deref(),
                        region: h.region.as_deref(),
                        running: h.agent_status == coc_domain::resource::AgentStatus::Running,
                    })
                })
                .map(|h| h.id)
                .collect(),
            None => t.spec.hosts.clone(),
        };
        if hosts.is_empty() {
            return Err(invalid("no host matches the task's filter").into());
        }
        let n = hosts.len();
        let owned = firing.clone();
        if let Some(job) = &t.spec.job {
            let started = self
                .insert_job_ticket_within(
                    tenant,
                    job,
                    &crate::jobticket::NewJobTicket {
                        hosts,
                        batch_policy: t.spec.batch_policy,
                        success_rate_threshold: t.spec.success_rate_threshold,
                        params: t.spec.params.clone(),
                        description: format!("scheduled task '{}'", t.spec.name),
                        ..Default::default()
                    },
                    &format!("scheduler:{}", t.spec.name),
                    None,
                    move |tx, id| {
                        Box::pin(async move {
                            let detail = format!("job ticket on {n} host(s)");
                            owned
                                .commit_in(tx, ScheduledRunStatus::Started, Some(id), &detail)
                                .await
                        })
                    },
                )
                .await?;
            return Ok(started.is_some());
        }
        let script = self.get_script(tenant, &t.spec.script).await?;
        let started = self
            .create_ticket_within(
                tenant,
                &NewTicket {
                    script_id: script.id,
                    params: t.spec.params.clone(),
                    hosts,
                    run_as: t.spec.run_as.clone(),
                    timeout_s: t.spec.timeout_s,
                    batch_policy: t.spec.batch_policy,
                    batches: None,
                    threshold: threshold_from_percent(t.spec.success_rate_threshold)?,
                    incident_id: None,
                    created_by: format!("scheduler:{}", t.spec.name),
                    param_refs: t.spec.param_refs.clone(),
                },
                move |tx, id| {
                    Box::pin(async move {
                        let detail = format!("script ticket on {n} host(s)");
                        owned
                            .commit_in(tx, ScheduledRunStatus::Started, Some(id), &detail)
                            .await
                    })
                },
            )
            .await?;
        Ok(started.is_some())
    }

    /// Claims a firing that starts no ticket (missed, or not started for
    /// `detail`) and records its run, in one transaction. `Ok(false)`:
    /// another replica claimed it first.
    async fn record_firing(
        &self,
        firing: &Firing,
        status: ScheduledRunStatus,
        detail: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !firing.commit_in(&mut tx, status, None, detail).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Updates runs whose ticket finished and notifies the task's
    /// recipients once per run.
    async fn report_scheduled_runs(&self, now: DateTime<Utc>) -> Result<usize> {
        let settled = crate::sql_set(&TicketStatus::SETTLED.map(TicketStatus::as_str));
        let rows = sqlx::query(dynsql!(
            "SELECT r.id, r.tenant_id, r.task_id, r.status, r.detail, \
             j.status AS ticket_status, j.number AS number \
             FROM scheduled_runs r LEFT JOIN job_tickets j ON j.id = r.ticket_id \
             WHERE r.notified = 0 AND (r.status <> {started} OR j.status IN {settled}) \
             LIMIT 200",
            started = crate::sql_lit(ScheduledRunStatus::Started.as_str())
        ))
        .fetch_all(self.reader())
        .await?;
        let mut n = 0;
        for r in &rows {
            let (id, tenant, task_id): (String, String, String) = (
                r.try_get("id")?,
                r.try_get("tenant_id")?,
                r.try_get("task_id")?,
            );
            let ticket_status: Option<String> = r.try_get("ticket_status")?;
            let status = ticket_status.unwrap_or(r.try_get("status")?);
            let task = self.get_scheduled_task(&tenant, &task_id).await.ok();
            let mut tx = self.begin().await?;
            let claimed = sqlx::query(
                "UPDATE scheduled_runs SET status = $1, notified = 1 WHERE id = $2 AND notified = 0",
            )
            .bind(&status)
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                continue;
            }
            if let Some(t) = task.filter(|t| !t.spec.channels.is_empty()) {
                let people = self
                    .resolve_people(
                        &tenant,
                        &t.spec.recipients,
                        &IncidentFacts::not_an_incident(&t.modified_by),
                        now,
                    )
                    .await?;
                let pairs = dedup(
                    people
                        .iter()
                        .flat_map(|p| t.spec.channels.iter().map(move |c| (p.clone(), c.clone()))),
                );
                let number: Option<String> = r.try_get("number")?;
                let detail: String = r.try_get("detail")?;
                let m = Message {
                    incident: None,
                    event: "scheduled_task_outcome".into(),
                    subject: format!("Scheduled task {}: {status}", t.spec.name),
                    body: format!(
                        "Scheduled task '{}' run: {status}{}. {detail}",
                        t.spec.name,
                        number.map(|n| format!(" (ticket {n})")).unwrap_or_default()
                    ),
                    link: None,
                    actions: vec![],
                };
                self.deliver_to_people(
                    &mut tx,
                    &tenant,
                    &pairs,
                    &m,
                    None,
                    now.timestamp_millis(),
                    false,
                )
                .await?;
            }
            tx.commit().await?;
            n += 1;
        }
        if n > 0 {
            self.deliveries.notify_one();
        }
        Ok(n)
    }
}
