//! Script tickets (X2, X7; ref. 5.1.3, 10.1.1). A script ticket is a
//! one-step job ticket (kind `script`): one task that runs the script on
//! every host, in batches under the suspension threshold. The one engine
//! ([`crate::jobticket`], decided by [`coc_domain::jobticket`]) runs it
//! like every other ticket; this module creates it from a script run
//! request and shows it in the script-ticket shape, with its own numbers
//! (`SCT…`), list and URLs.
//!
//! The script's parameters become the ticket's global parameters (stored
//! encrypted with the rest) and the task passes each one through, so
//! values are never rewritten and sensitive ones are never stored in
//! clear.

use std::collections::BTreeMap;

use coc_domain::error::invalid;
use coc_domain::job::{
    Atom, GlobalParam, GlobalParamType, JobAction, JobSpec, JobTask, PostFault, Step, TargetMode,
};
use coc_domain::script::{
    DEFAULT_RUN_AS, DEFAULT_TIMEOUT_S, mask_params, resolve_params, validate_run_as,
    validate_timeout,
};
use coc_domain::ticket::{
    BatchPolicy, TaskStatus, Threshold, TicketAction, TicketStatus, plan_batches,
};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use coc_domain::jobticket::RunStatus;

use crate::jobticket::{
    Delegation, HostCounts, JobCommand, JobHost, NewRows, ScriptCopy, StepPlan, insert_rows,
};
use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError, paged};

/// Most output kept per host task, bytes; later output is dropped with a note.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// A request to run a script (`POST /api/v1/scripts/{id}/execute`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewTicket {
    /// Script to run.
    pub script_id: String,
    /// Parameter values by name.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Target host resource ids.
    pub hosts: Vec<String>,
    /// Executing user (default root).
    #[serde(default)]
    pub run_as: Option<String>,
    /// Timeout per host, seconds (default 300).
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Batch policy (default automatic).
    #[serde(default)]
    pub batch_policy: BatchPolicy,
    /// Host ids per batch, for the manual policy.
    #[serde(default)]
    pub batches: Option<Vec<Vec<String>>>,
    /// Suspension threshold (success rate, tenths of a percent).
    #[serde(default)]
    pub threshold: Option<Threshold>,
    /// Incident this ticket repairs.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Who asked.
    #[serde(default)]
    pub created_by: String,
    /// Script parameters taken from the parameter center (X6), by name:
    /// resolved now (`at_creation`) or again at each dispatch (`latest`).
    /// Their values are always stored encrypted.
    #[serde(default)]
    pub param_refs: BTreeMap<String, coc_domain::parameter::ParamRef>,
}

/// Host counts by task state (the one engine's, [`HostCounts`]).
pub type Counts = HostCounts;

/// A ticket as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Ticket {
    /// Record id.
    pub id: String,
    /// Human number `SCT…`.
    pub number: String,
    /// `script`.
    pub kind: String,
    /// Script id.
    pub script_id: String,
    /// Script name at execution.
    pub script_name: String,
    /// Script version executed.
    pub script_version: i64,
    /// shell / python / bat.
    pub script_type: String,
    /// Parameters, sensitive ones masked.
    pub params: BTreeMap<String, String>,
    /// Executing user.
    pub run_as: String,
    /// Timeout per host, seconds.
    pub timeout_s: i64,
    /// auto / manual / none.
    pub batch_policy: String,
    /// Suspension threshold as a percentage (e.g. 95.5), if set.
    pub success_rate_threshold: Option<f64>,
    /// State.
    pub status: TicketStatus,
    /// Linked incident.
    pub incident_id: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
    /// Host counts.
    pub counts: Counts,
}

/// One host task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Task {
    /// Task id (also the dispatch id sent to the agent).
    pub id: String,
    /// Host resource id.
    pub host_id: String,
    /// Batch, 0-based.
    pub batch: i64,
    /// Order in the ticket.
    pub seq: i64,
    /// State.
    pub status: TaskStatus,
    /// Exit code once finished.
    pub exit_code: Option<i64>,
    /// Combined stdout/stderr (≤ 1 MiB).
    pub output: String,
    /// Why it failed or was cancelled, if not by exit code.
    pub error: Option<String>,
    /// Dispatch attempts.
    pub attempt: i64,
    /// Started, Unix ms.
    pub started_at: Option<i64>,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
}

/// A ticket with its tasks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct TicketDetail {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// Tasks in order.
    pub tasks: Vec<Task>,
}

/// Kind of a job ticket that is a script ticket.
pub const KIND: &str = "script";

/// Name of a script ticket's one step and task.
const TASK: &str = "run-script";

/// The one-step job a script run compiles to: the script's parameters
/// as global parameters (parameter-center references kept), passed
/// through by the task.
fn compile(
    script: &ScriptCopy,
    risk_level: coc_domain::script::RiskLevel,
    refs: &BTreeMap<String, coc_domain::parameter::ParamRef>,
    run_as: &str,
    timeout: u32,
) -> JobSpec {
    let params = script
        .params
        .iter()
        .map(|p| GlobalParam {
            name: p.name.clone(),
            kind: GlobalParamType::String,
            value: None,
            description: String::new(),
            from: refs.get(&p.name).cloned(),
        })
        .collect();
    JobSpec {
        name: script.name.clone(),
        description: String::new(),
        enterprise_project: "default".into(),
        tags: BTreeMap::new(),
        risk_level,
        manual_review: false,
        reviewers: vec![],
        params,
        steps: vec![Step {
            name: "run".into(),
            tasks: vec![JobTask {
                name: TASK.into(),
                description: String::new(),
                atom: Atom::Script {
                    script: script.id.clone(),
                    params: script
                        .params
                        .iter()
                        .map(|p| (p.name.clone(), format!("{{{{{}}}}}", p.name)))
                        .collect(),
                    run_as: Some(run_as.to_string()),
                    timeout_s: Some(timeout),
                },
                // Other hosts go on; the threshold decides for the ticket.
                on_failure: PostFault::Continue,
            }],
        }],
    }
}

/// References read again at each use.
fn latest_refs(
    refs: &BTreeMap<String, coc_domain::parameter::ParamRef>,
) -> BTreeMap<String, coc_domain::parameter::ParamRef> {
    refs.iter()
        .filter(|(_, r)| r.mode == coc_domain::parameter::RefMode::Latest)
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

/// Validates and inserts a script ticket, status `executing`; `req.params`
/// already hold the values of parameter-center references.
///
/// Errors: `NotFound` (script or a host), `Domain(Validation)` (params,
/// user, timeout, batches).
pub(crate) async fn insert_ticket(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    tenant: &str,
    req: &NewTicket,
    now: i64,
    delegation: Option<&Delegation>,
) -> Result<Ticket> {
    let script = crate::script::get_script_tx(tx, tenant, &req.script_id).await?;
    script.ensure_runnable()?;
    if let Some(k) = req
        .param_refs
        .keys()
        .find(|k| !script.spec.params.iter().any(|p| &p.name == *k))
    {
        return Err(invalid(format!(
            "script '{}' has no parameter '{k}'",
            script.spec.name
        ))
        .into());
    }
    let params = resolve_params(&script.spec.params, &req.params)?;
    let run_as = req
        .run_as
        .clone()
        .unwrap_or_else(|| DEFAULT_RUN_AS.to_string());
    validate_run_as(&run_as)?;
    let timeout = req.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    validate_timeout(timeout)?;
    let batches = plan_batches(req.batch_policy, &req.hosts, req.batches.as_deref())?;
    let plan = StepPlan {
        batch_policy: req.batch_policy,
        batches,
        threshold: req.threshold.map(|t| t.0),
    };
    let copy = ScriptCopy {
        id: script.id.clone(),
        name: script.spec.name.clone(),
        version: script.version,
        script_type: script.spec.script_type.as_str().to_string(),
        content: script.spec.content.clone(),
        params: script.spec.params.clone(),
    };
    let spec = compile(
        &copy,
        script.spec.risk_level,
        &req.param_refs,
        &run_as,
        timeout,
    );
    let rows = NewRows {
        tenant,
        kind: KIND,
        number: coc_domain::id::ticket_number("SCT", now, crate::next_seq()),
        job_id: &script.id,
        job_name: &script.spec.name,
        job_version: script.version,
        mode: TargetMode::Consistent,
        description: "",
        tags: &BTreeMap::new(),
        incident_id: req.incident_id.as_deref(),
        cloned_from: None,
        actor: if req.created_by.is_empty() {
            "system"
        } else {
            req.created_by.as_str()
        },
        now,
        spec: &spec,
        scripts: &BTreeMap::from([(script.id.clone(), copy)]),
        request: &serde_json::to_string(req).unwrap_or_default(),
        params: &params,
        latest: &latest_refs(&req.param_refs),
        plans: std::slice::from_ref(&plan),
        delegation,
    };
    let id = insert_rows(tx, keyring, &rows).await?;
    let total = plan.batches.iter().flatten().count() as i64;
    let r = sqlx::query(dynsql!("SELECT {VIEW_COLS} FROM job_tickets WHERE id = $1"))
        .bind(&id)
        .fetch_one(&mut **tx)
        .await?;
    view(
        &r,
        keyring,
        Counts {
            total,
            pending: total,
            ..Default::default()
        },
    )
}

/// Columns a script ticket is shown from.
const VIEW_COLS: &str = "id, number, status, incident_id, created_by, created_at, updated_at, finished_at, \
    spec, scripts, steps, params, param_refs";

/// The script-ticket view of a `job_tickets` row.
fn view(r: &AnyRow, keyring: &crate::secret::Keyring, counts: Counts) -> Result<Ticket> {
    use crate::job::unreadable;
    let spec: JobSpec = serde_json::from_str(&r.try_get::<String, _>("spec")?)
        .map_err(unreadable("script ticket"))?;
    let scripts: BTreeMap<String, ScriptCopy> =
        serde_json::from_str(&r.try_get::<String, _>("scripts")?)
            .map_err(unreadable("script ticket script"))?;
    let plans: Vec<StepPlan> = serde_json::from_str(&r.try_get::<String, _>("steps")?)
        .map_err(unreadable("script ticket batches"))?;
    let params: BTreeMap<String, String> =
        serde_json::from_str(&keyring.decrypt(&r.try_get::<String, _>("params")?)?)
            .map_err(unreadable("script ticket parameters"))?;
    let refs: BTreeMap<String, coc_domain::parameter::ParamRef> = r
        .try_get::<Option<String>, _>("param_refs")?
        .and_then(|x| serde_json::from_str(&x).ok())
        .unwrap_or_default();
    let copy = scripts
        .values()
        .next()
        .ok_or_else(|| StoreError::Conflict("a stored script ticket has no script".into()))?;
    let (run_as, timeout) = match spec
        .steps
        .first()
        .and_then(|s| s.tasks.first())
        .map(|t| &t.atom)
    {
        Some(Atom::Script {
            run_as, timeout_s, ..
        }) => (
            run_as.clone().unwrap_or_else(|| DEFAULT_RUN_AS.into()),
            timeout_s.unwrap_or(DEFAULT_TIMEOUT_S),
        ),
        _ => (DEFAULT_RUN_AS.into(), DEFAULT_TIMEOUT_S),
    };
    let from_center: Vec<&str> = spec
        .params
        .iter()
        .filter(|p| p.from.is_some())
        .map(|p| p.name.as_str())
        .chain(refs.keys().map(String::as_str))
        .collect();
    // Sensitive values and parameter-center values are never shown.
    let shown = mask_params(&copy.params, &params)
        .into_iter()
        .map(|(k, v)| {
            if from_center.contains(&k.as_str()) {
                (k, crate::secret::MASK.to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    let plan = plans.first();
    Ok(Ticket {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        kind: KIND.into(),
        script_id: copy.id.clone(),
        script_name: copy.name.clone(),
        script_version: copy.version,
        script_type: copy.script_type.clone(),
        params: shown,
        run_as,
        timeout_s: i64::from(timeout),
        batch_policy: plan
            .and_then(|p| serde_json::to_value(p.batch_policy).ok())
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        success_rate_threshold: plan.and_then(|p| p.threshold).map(|t| f64::from(t) / 10.0),
        status: TicketStatus::parse(&r.try_get::<String, _>("status")?)?,
        incident_id: r.try_get("incident_id")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
        counts,
    })
}

/// A host of a script ticket as a task: its latest run's id (the id the
/// agent reports under), output and exit code.
fn task_of(seq: usize, h: &JobHost) -> Task {
    let run = h
        .runs
        .iter()
        .filter(|r| r.phase.as_deref() != Some(coc_domain::jobticket::RETRIED))
        .max_by_key(|r| r.attempt);
    Task {
        id: run.map_or_else(|| h.id.clone(), |r| r.id.clone()),
        host_id: h.host_id.clone(),
        batch: h.batch,
        seq: seq as i64,
        status: h.status,
        exit_code: run.and_then(|r| r.exit_code),
        output: run.map(|r| r.output.clone()).unwrap_or_default(),
        error: run
            .and_then(|r| r.error.clone())
            .or_else(|| h.error.clone()),
        attempt: run.map_or(0, |r| r.attempt),
        started_at: h.started_at,
        finished_at: h.finished_at,
    }
}

impl Store {
    /// Runs a script: creates its ticket. The engine picks it up at once.
    /// Errors: as `insert_ticket`: `NotFound`, `Domain(Validation)`.
    pub async fn create_ticket(&self, tenant: &str, req: &NewTicket) -> Result<Ticket> {
        self.create_ticket_within(tenant, req, |_, _| Box::pin(async { Ok(true) }))
            .await?
            .ok_or_else(|| StoreError::Conflict("the ticket was not created".into()))
    }

    /// As [`Store::create_ticket`], and `within` runs in the ticket's own
    /// transaction with the new ticket's id: `false` rolls everything back
    /// and `None` is returned (see
    /// [`Store::insert_job_ticket_within`]).
    ///
    /// Errors: as [`Store::create_ticket`], and `within`'s.
    pub(crate) async fn create_ticket_within(
        &self,
        tenant: &str,
        req: &NewTicket,
        within: impl for<'t> FnOnce(
            &'t mut sqlx::Transaction<'static, sqlx::Any>,
            &'t str,
        ) -> crate::InTx<'t, bool>,
    ) -> Result<Option<Ticket>> {
        let mut req = req.clone();
        for (k, r) in &req.param_refs {
            let v = self.resolve_param_ref(tenant, r).await?;
            req.params.insert(k.clone(), v);
        }
        let mut tx = self.begin().await?;
        let t = insert_ticket(&mut tx, &self.keyring, tenant, &req, self.now(), None).await?;
        if !within(&mut tx, &t.id).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        self.work.notify_one();
        Ok(Some(t))
    }

    /// The id of script ticket `id` (id or number). Errors: `NotFound`.
    async fn script_ticket_id(&self, tenant: &str, id: &str) -> Result<String> {
        sqlx::query_scalar(
            "SELECT id FROM job_tickets WHERE tenant_id = $1 AND (id = $2 OR number = $2) AND kind = $3",
        )
        .bind(tenant)
        .bind(id)
        .bind(KIND)
        .fetch_optional(self.reader())
        .await?
        .ok_or_else(|| StoreError::not_found("ticket", id))
    }

    /// One ticket (by id or number) with its tasks. Errors: `NotFound`.
    pub async fn get_ticket(&self, tenant: &str, id: &str) -> Result<TicketDetail> {
        let tid = self.script_ticket_id(tenant, id).await?;
        // The ticket row first, its tasks after: the reads are separate
        // snapshots, and a ticket only moves forward, so its status is
        // never ahead of its tasks (never `successful` beside a task
        // still executing).
        let r = sqlx::query(dynsql!("SELECT {VIEW_COLS} FROM job_tickets WHERE id = $1"))
            .bind(&tid)
            .fetch_one(self.reader())
            .await?;
        let d = self.get_job_ticket(tenant, &tid).await?;
        let step = d.steps.first();
        let counts = step.map(|s| s.counts.clone()).unwrap_or_default();
        Ok(TicketDetail {
            ticket: view(&r, &self.keyring, counts)?,
            tasks: step
                .map(|s| {
                    s.hosts
                        .iter()
                        .enumerate()
                        .map(|(i, h)| task_of(i, h))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Tickets, newest first, keyset-paged; optional status filter.
    pub async fn list_tickets(
        &self,
        tenant: &str,
        status: Option<&str>,
        page: &Page,
    ) -> Result<Paged<Ticket>> {
        let mut w = Filter::new(tenant);
        w.push("kind = ?", Arg::S(KIND.to_string()));
        if let Some(s) = status {
            w.push("status = ?", Arg::S(s.to_string()));
        }
        if let Some(c) = &page.cursor {
            w.push("id < ?", Arg::S(c.clone()));
        }
        let limit = page.limit();
        let sql = format!(
            "SELECT {VIEW_COLS} FROM job_tickets{} ORDER BY id DESC LIMIT {}",
            w.sql,
            limit + 1
        );
        let rows = w.query(sql).fetch_all(self.reader()).await?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            let c = self.job_host_counts(&id, 0).await?;
            items.push(view(r, &self.keyring, c)?);
        }
        Ok(paged(items, limit, |t| t.id.clone()))
    }

    /// An operator action on a script ticket (ref. 10.1.1), run by the
    /// engine as the job action of the same name. Returns the ticket and
    /// the agent runs to stop.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)`.
    pub async fn ticket_action(
        &self,
        tenant: &str,
        id: &str,
        action: TicketAction,
        actor: &str,
    ) -> Result<(TicketDetail, Vec<JobCommand>)> {
        let tid = self.script_ticket_id(tenant, id).await?;
        let a = match action {
            TicketAction::Pause => JobAction::Pause,
            TicketAction::Continue => JobAction::Continue,
            TicketAction::ForciblyEnd => JobAction::ForciblyEnd,
        };
        let (_, cmds) = self.job_ticket_action(tenant, &tid, a, actor).await?;
        Ok((self.get_ticket(tenant, &tid).await?, cmds))
    }

    /// Cancels one host's task (pending or executing), by task id, run id
    /// or host id. Returns the task and the agent run to stop, if any.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` when the task or the
    /// ticket is already finished.
    pub async fn cancel_task(
        &self,
        tenant: &str,
        ticket_id: &str,
        task_id: &str,
        actor: &str,
    ) -> Result<(Task, Vec<JobCommand>)> {
        let cur = self.get_ticket(tenant, ticket_id).await?;
        let task = cur
            .tasks
            .iter()
            .find(|t| t.id == task_id || t.host_id == task_id)
            .ok_or_else(|| StoreError::not_found("task", task_id))?
            .clone();
        let (_, cmds) = self
            .cancel_job_host(tenant, &cur.ticket.id, &task.host_id, actor)
            .await?;
        let t = self
            .get_ticket(tenant, &cur.ticket.id)
            .await?
            .tasks
            .into_iter()
            .find(|t| t.host_id == task.host_id)
            .ok_or_else(|| StoreError::not_found("task", task_id))?;
        Ok((t, cmds))
    }
}

/// Moves the script tickets of the tables used before schema v17
/// (`tickets`, `ticket_tasks`) into job tickets of kind `script`, inside
/// the migration's transaction: each task becomes a host of the one step
/// and, once dispatched, a run with the task's id, output and result.
///
/// Errors: a store error or an unreadable stored value; the migration
/// rolls back and the server does not start.
pub(crate) async fn move_legacy_tickets(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
) -> Result<()> {
    use crate::job::unreadable;
    let tickets = sqlx::query(
        "SELECT id, tenant_id, number, script_id, script_name, script_version, script_type, content, \
         param_decl, params, param_refs, run_as, timeout_s, batch_policy, threshold, status, incident_id, \
         created_by, created_at, updated_at, finished_at FROM tickets ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?;
    for t in &tickets {
        let id: String = t.try_get("id")?;
        let tenant: String = t.try_get("tenant_id")?;
        let copy = ScriptCopy {
            id: t.try_get("script_id")?,
            name: t.try_get("script_name")?,
            version: t.try_get("script_version")?,
            script_type: t.try_get("script_type")?,
            content: t.try_get("content")?,
            params: serde_json::from_str(&t.try_get::<String, _>("param_decl")?)
                .map_err(unreadable("script ticket parameters"))?,
        };
        let mut params: BTreeMap<String, String> =
            serde_json::from_str(&t.try_get::<String, _>("params")?)
                .map_err(unreadable("script ticket parameters"))?;
        for v in params.values_mut() {
            if crate::secret::is_encrypted(v) {
                *v = keyring.decrypt(v)?;
            }
        }
        let refs: BTreeMap<String, coc_domain::parameter::ParamRef> = t
            .try_get::<Option<String>, _>("param_refs")?
            .and_then(|x| serde_json::from_str(&x).ok())
            .unwrap_or_default();
        let run_as: String = t.try_get("run_as")?;
        let timeout: i64 = t.try_get("timeout_s")?;
        let spec = compile(
            &copy,
            coc_domain::script::RiskLevel::Low,
            &refs,
            &run_as,
            timeout as u32,
        );
        let tasks = sqlx::query(
            "SELECT id, host_id, batch, seq, status, exit_code, output, error, attempt, started_at, finished_at \
             FROM ticket_tasks WHERE ticket_id = $1 ORDER BY seq",
        )
        .bind(&id)
        .fetch_all(&mut **tx)
        .await?;
        let mut batches: Vec<Vec<String>> = Vec::new();
        for k in &tasks {
            let b = k.try_get::<i64, _>("batch")? as usize;
            if batches.len() <= b {
                batches.resize(b + 1, Vec::new());
            }
            batches[b].push(k.try_get("host_id")?);
        }
        let policy: BatchPolicy = serde_json::from_value(serde_json::Value::String(
            t.try_get::<String, _>("batch_policy")?,
        ))
        .unwrap_or_default();
        let plan = StepPlan {
            batch_policy: policy,
            batches,
            threshold: t.try_get::<Option<i64>, _>("threshold")?.map(|x| x as u16),
        };
        let request = serde_json::json!({"script_id": copy.id, "legacy": true}).to_string();
        sqlx::query(dynsql!(
            "INSERT INTO job_tickets (id, number, job_id, job_name, job_version, target_mode, status, current_step, \
             description, tags, incident_id, cloned_from, reason, created_by, created_at, updated_at, finished_at, \
             tenant_id, spec, scripts, request, params, param_refs, steps, kind) VALUES \
             ($1,$2,$3,$4,$5,'consistent',$6,0,'','{{}}',$7,NULL,NULL,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)"
        ))
        .bind(&id)
        .bind(t.try_get::<String, _>("number")?)
        .bind(&copy.id)
        .bind(&copy.name)
        .bind(copy.version)
        .bind(t.try_get::<String, _>("status")?)
        .bind(t.try_get::<Option<String>, _>("incident_id")?)
        .bind(t.try_get::<String, _>("created_by")?)
        .bind(t.try_get::<i64, _>("created_at")?)
        .bind(t.try_get::<i64, _>("updated_at")?)
        .bind(t.try_get::<Option<i64>, _>("finished_at")?)
        .bind(&tenant)
        .bind(serde_json::to_string(&spec).unwrap_or_default())
        .bind(serde_json::to_string(&BTreeMap::from([(copy.id.clone(), copy.clone())])).unwrap_or_default())
        .bind(request)
        .bind(keyring.encrypt(&serde_json::to_string(&params).unwrap_or_default()))
        .bind({
            let l = latest_refs(&refs);
            (!l.is_empty()).then(|| serde_json::to_string(&l).unwrap_or_default())
        })
        .bind(serde_json::to_string(&[plan]).unwrap_or_default())
        .bind(KIND)
        .execute(&mut **tx)
        .await?;
        for k in &tasks {
            let task_id: String = k.try_get("id")?;
            let host: String = k.try_get("host_id")?;
            let status = TaskStatus::parse(&k.try_get::<String, _>("status")?)?;
            let started: Option<i64> = k.try_get("started_at")?;
            let error: Option<String> = k.try_get("error")?;
            sqlx::query(
                "INSERT INTO job_hosts (id, tenant_id, ticket_id, step, host_id, batch, seq, status, task_idx, \
                 had_failure, held, error, started_at, finished_at) VALUES ($1,$2,$3,0,$4,$5,$6,$7,0,$8,0,$9,$10,$11)",
            )
            .bind(&task_id)
            .bind(&tenant)
            .bind(&id)
            .bind(&host)
            .bind(k.try_get::<i64, _>("batch")?)
            .bind(k.try_get::<i64, _>("seq")?)
            .bind(status.as_str())
            .bind(i64::from(status == TaskStatus::Failed))
            .bind(error.as_deref())
            .bind(started)
            .bind(k.try_get::<Option<i64>, _>("finished_at")?)
            .execute(&mut **tx)
            .await?;
            // A task that was dispatched is a run with the same id.
            let Some(started) = started else { continue };
            let run = if status == TaskStatus::Executing {
                RunStatus::Executing
            } else {
                RunStatus::from_result(status)
            };
            sqlx::query(
                "INSERT INTO job_runs (id, tenant_id, ticket_id, job_host_id, host_id, step, task_idx, attempt, kind, \
                 status, phase, exit_code, output, error, detail, wake_at, started_at, finished_at) \
                 VALUES ($1,$2,$3,$1,$4,0,0,$5,'script',$6,$7,$8,$9,$10,NULL,NULL,$11,$12)",
            )
            .bind(&task_id)
            .bind(&tenant)
            .bind(&id)
            .bind(&host)
            .bind(k.try_get::<i64, _>("attempt")?.max(1))
            .bind(run.as_str())
            .bind((run == RunStatus::Executing).then_some("agent"))
            .bind(k.try_get::<Option<i64>, _>("exit_code")?)
            .bind(k.try_get::<String, _>("output")?)
            .bind(error.as_deref())
            .bind(started)
            .bind(k.try_get::<Option<i64>, _>("finished_at")?)
            .execute(&mut **tx)
            .await?;
        }
    }
    sqlx::query("DELETE FROM ticket_tasks")
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM tickets")
        .execute(&mut **tx)
        .await?;
    if !tickets.is_empty() {
        tracing::info!(
            tickets = tickets.len(),
            "script tickets moved to the one engine"
        );
    }
    Ok(())
}

/// Parses the suspension threshold of an API request (a percentage with one
/// decimal). Errors: `Domain(Validation)`.
pub fn threshold_from_percent(p: Option<f64>) -> Result<Option<Threshold>> {
    p.map(Threshold::from_percent)
        .transpose()
        .map_err(Into::into)
}

/// Rejects an empty host list early with a clear message.
pub fn require_hosts(hosts: &[String]) -> Result<()> {
    if hosts.is_empty() {
        return Err(invalid("choose at least one target host").into());
    }
    Ok(())
}
