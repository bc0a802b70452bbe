//! Job tickets (X4, X8; ref. 5.2.4, 10.1.2): creation with a chosen job
//! version, target mode, per-step batches and suspension threshold; the
//! executor's step ([`Store::advance_job_ticket`]), which persists every
//! state change before anything is sent; results from agents and the
//! server's own atoms; and the operator actions.
//!
//! Each task on each host is a *run* (`job_runs`), whose id is the
//! dispatch's idempotency key: the agent never runs an id twice, and a
//! retry is a new run (attempt + 1) with its own id.
//!
//! Serialization: every writer of a ticket (executor step, operator
//! action, result) first touches the ticket row in its transaction, so on
//! PostgreSQL they queue on the row lock and on SQLite on the write lock.

use std::collections::BTreeMap;

use coc_domain::job::{
    Atom, GlobalParamType, HostVars, JobAction, JobSpec, TargetMode, resolve_globals, substitute,
    validate_tags,
};
use coc_domain::jobticket::{self as jt, Approval, Change, HostFacts, RunStatus};
use coc_domain::script::{
    DEFAULT_RUN_AS, DEFAULT_TIMEOUT_S, ScriptParam, resolve_params, secret_env, validate_run_as,
};
use coc_domain::ticket::{BatchPolicy, TaskStatus, Threshold, TicketStatus, plan_batches};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::job::unreadable;
use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError, sql_lit, sql_set};

pub use coc_domain::jobticket::RESULT_GRACE_S;

/// Targets, batches and threshold of one step in a job execution.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepTargets {
    /// Hosts of this step (`unique_per_step` mode only).
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// Batch policy (default: the execution's).
    #[serde(default)]
    pub batch_policy: Option<BatchPolicy>,
    /// Manual batches.
    #[serde(default)]
    pub batches: Option<Vec<Vec<String>>>,
    /// Suspension threshold, success rate in % with one decimal.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
}

/// A request to run a job (`POST /api/v1/jobs/{id}/execute`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewJobTicket {
    /// Job version to run (default: the current one).
    #[serde(default)]
    pub version: Option<i64>,
    /// Execution description (≤ 500 characters).
    #[serde(default)]
    pub description: String,
    /// Tags of the ticket (≤ 20).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Consistent for all steps, or unique for each step.
    #[serde(default)]
    pub target_mode: TargetMode,
    /// Hosts of every step (`consistent` mode).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Default batch policy of the steps.
    #[serde(default)]
    pub batch_policy: BatchPolicy,
    /// Manual batches (consistent mode, manual policy).
    #[serde(default)]
    pub batches: Option<Vec<Vec<String>>>,
    /// Default suspension threshold of the steps, %.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
    /// Per-step settings, in step order (required in `unique_per_step`).
    #[serde(default)]
    pub steps: Vec<StepTargets>,
    /// Global parameter values over the job's presets.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Incident this ticket works on.
    #[serde(default)]
    pub incident_id: Option<String>,
}

/// The batches and threshold a step runs with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepPlan {
    /// Batch policy.
    pub batch_policy: BatchPolicy,
    /// Host ids per batch.
    pub batches: Vec<Vec<String>>,
    /// Threshold, tenths of a percent.
    pub threshold: Option<u16>,
}

/// What a job ticket keeps of a script it runs (the version at creation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScriptCopy {
    /// Script id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: i64,
    /// shell / python / bat.
    pub script_type: String,
    /// Text.
    pub content: String,
    /// Declared parameters.
    pub params: Vec<ScriptParam>,
}

/// Host counts by state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HostCounts {
    /// All.
    pub total: i64,
    /// Not started.
    pub pending: i64,
    /// Running (or waiting between tasks).
    pub executing: i64,
    /// Every task succeeded.
    pub successful: i64,
    /// A task failed.
    pub failed: i64,
    /// Cancelled or skipped.
    pub cancelled: i64,
}

/// A job ticket as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobTicket {
    /// Record id.
    pub id: String,
    /// Human number `JOB…`.
    pub number: String,
    /// Job id.
    pub job_id: String,
    /// Job name at execution.
    pub job_name: String,
    /// Job version executed.
    pub job_version: i64,
    /// Target mode.
    pub target_mode: TargetMode,
    /// State.
    pub status: TicketStatus,
    /// Index of the step running (or last run), 0-based.
    pub current_step: i64,
    /// Execution description.
    pub description: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Linked incident.
    pub incident_id: Option<String>,
    /// The ticket this one was cloned from.
    pub cloned_from: Option<String>,
    /// Why the ticket is paused, abnormal, failed or ended, when it says.
    pub reason: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
    /// Hosts of the current step by state.
    pub counts: HostCounts,
}

/// One run of a task on a host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobRun {
    /// Run id (the dispatch's idempotency key).
    pub id: String,
    /// Task index in the step.
    pub task: i64,
    /// Task name.
    pub task_name: String,
    /// Attempt, from 1.
    pub attempt: i64,
    /// Atom type.
    pub kind: String,
    /// `executing`, `successful`, `failed`, `cancelled` or `skipped`.
    pub status: String,
    /// What an executing run waits for (`agent`, `boot`, `sleep`,
    /// `approval`, `http`).
    pub phase: Option<String>,
    /// Exit code of a script.
    pub exit_code: Option<i64>,
    /// Output (≤ 1 MiB).
    pub output: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Started, Unix ms.
    pub started_at: i64,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
}

/// One host in one step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobHost {
    /// Record id.
    pub id: String,
    /// Host resource id.
    pub host_id: String,
    /// Batch, 0-based.
    pub batch: i64,
    /// State.
    pub status: TaskStatus,
    /// Index of the task it is at.
    pub task: i64,
    /// Held by a `pause` post-fault strategy.
    pub held: bool,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// Started, Unix ms.
    pub started_at: Option<i64>,
    /// Finished, Unix ms.
    pub finished_at: Option<i64>,
    /// Its runs, in order.
    pub runs: Vec<JobRun>,
}

/// One step of a ticket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobStepView {
    /// Index, 0-based.
    pub index: i64,
    /// Name.
    pub name: String,
    /// `pending`, `executing`, `successful`, `failed`, `abnormal` or
    /// `cancelled`.
    pub status: String,
    /// Batch policy.
    pub batch_policy: BatchPolicy,
    /// Number of batches.
    pub batches: i64,
    /// Threshold, %.
    pub success_rate_threshold: Option<f64>,
    /// Hosts by state.
    pub counts: HostCounts,
    /// Hosts in order.
    pub hosts: Vec<JobHost>,
}

/// An approval a ticket waits for or got.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobApproval {
    /// Step index.
    pub step: i64,
    /// Task index.
    pub task: i64,
    /// Task name.
    pub task_name: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Asked, Unix ms.
    pub requested_at: i64,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When, Unix ms.
    pub decided_at: Option<i64>,
    /// Comment.
    pub comment: Option<String>,
}

/// A job ticket with everything in it (`GET /api/v1/job-tickets/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobTicketDetail {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: JobTicket,
    /// Global parameter values; those from the parameter center masked.
    pub params: BTreeMap<String, String>,
    /// The job version executed (the "Input" tab).
    pub job: JobSpec,
    /// The scripts it runs, as they were at creation.
    pub scripts: Vec<ScriptCopy>,
    /// Steps.
    pub steps: Vec<JobStepView>,
    /// Approvals.
    pub approvals: Vec<JobApproval>,
}

/// Something the server must do after a step of the executor.
#[derive(Debug, Clone, PartialEq)]
pub enum JobCommand {
    /// Send a script to a host's agent.
    Exec {
        /// Run id.
        run_id: String,
        /// Host id.
        host_id: String,
        /// shell / python / bat.
        script_type: String,
        /// Script text.
        content: String,
        /// Parameters.
        env: BTreeMap<String, String>,
        /// Parameters whose values the agent redacts from the output.
        secret_env: Vec<String>,
        /// User.
        run_as: String,
        /// Timeout, seconds.
        timeout_s: u64,
    },
    /// Ask a host's agent to reboot.
    Reboot {
        /// Run id.
        run_id: String,
        /// Host id.
        host_id: String,
    },
    /// Stop a run on a host's agent.
    Cancel {
        /// Run id.
        run_id: String,
        /// Host id.
        host_id: String,
    },
    /// Make an HTTP call and report it with [`Store::finish_job_run`].
    Http {
        /// Run id.
        run_id: String,
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Body.
        body: Option<String>,
        /// Expected status.
        expected_status: u16,
        /// Timeout, seconds.
        timeout_s: u32,
    },
}

const COLS: &str = "id, number, job_id, job_name, job_version, target_mode, status, current_step, \
    description, tags, incident_id, cloned_from, reason, created_by, created_at, updated_at, finished_at";
const HOST_COLS: &str = "id, ticket_id, step, host_id, batch, seq, status, task_idx, had_failure, held, error, started_at, finished_at";
const RUN_COLS: &str = "id, job_host_id, host_id, step, task_idx, attempt, kind, status, phase, exit_code, output, \
    error, detail, wake_at, started_at, finished_at";

fn mode_str(m: TargetMode) -> &'static str {
    match m {
        TargetMode::Consistent => "consistent",
        TargetMode::UniquePerStep => "unique_per_step",
    }
}

fn ticket_row(r: &AnyRow, counts: HostCounts) -> Result<JobTicket> {
    Ok(JobTicket {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        job_id: r.try_get("job_id")?,
        job_name: r.try_get("job_name")?,
        job_version: r.try_get("job_version")?,
        target_mode: if r.try_get::<String, _>("target_mode")? == "unique_per_step" {
            TargetMode::UniquePerStep
        } else {
            TargetMode::Consistent
        },
        status: TicketStatus::parse(&r.try_get::<String, _>("status")?)?,
        current_step: r.try_get("current_step")?,
        description: r.try_get("description")?,
        tags: serde_json::from_str(&r.try_get::<String, _>("tags")?).unwrap_or_default(),
        incident_id: r.try_get("incident_id")?,
        cloned_from: r.try_get("cloned_from")?,
        reason: r.try_get("reason")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
        counts,
    })
}

/// A host row as the executor sees it.
#[derive(Debug, Clone)]
struct HostRow {
    id: String,
    step: i64,
    host_id: String,
    batch: i64,
    status: TaskStatus,
    task_idx: i64,
    had_failure: bool,
    held: bool,
    error: Option<String>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
}

fn host_row(r: &AnyRow) -> Result<HostRow> {
    Ok(HostRow {
        id: r.try_get("id")?,
        step: r.try_get("step")?,
        host_id: r.try_get("host_id")?,
        batch: r.try_get("batch")?,
        status: TaskStatus::parse(&r.try_get::<String, _>("status")?)?,
        task_idx: r.try_get("task_idx")?,
        had_failure: r.try_get::<i64, _>("had_failure")? != 0,
        held: r.try_get::<i64, _>("held")? != 0,
        error: r.try_get("error")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// A run row as the executor sees it.
#[derive(Debug, Clone)]
struct RunRow {
    id: String,
    job_host_id: String,
    host_id: String,
    task_idx: i64,
    attempt: i64,
    kind: String,
    status: String,
    phase: Option<String>,
    exit_code: Option<i64>,
    output: String,
    error: Option<String>,
    detail: Option<String>,
    wake_at: Option<i64>,
    started_at: i64,
    finished_at: Option<i64>,
}

fn run_row(r: &AnyRow) -> Result<RunRow> {
    Ok(RunRow {
        id: r.try_get("id")?,
        job_host_id: r.try_get("job_host_id")?,
        host_id: r.try_get("host_id")?,
        task_idx: r.try_get("task_idx")?,
        attempt: r.try_get("attempt")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        phase: r.try_get("phase")?,
        exit_code: r.try_get("exit_code")?,
        output: r.try_get("output")?,
        error: r.try_get("error")?,
        detail: r.try_get("detail")?,
        wake_at: r.try_get("wake_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn counts_of<'a>(hosts: impl Iterator<Item = &'a HostRow>) -> HostCounts {
    let mut c = HostCounts::default();
    for h in hosts {
        c.total += 1;
        match h.status {
            TaskStatus::Pending => c.pending += 1,
            TaskStatus::Executing => c.executing += 1,
            TaskStatus::Successful => c.successful += 1,
            TaskStatus::Failed => c.failed += 1,
            TaskStatus::Cancelled => c.cancelled += 1,
        }
    }
    c
}

/// Everything the executor needs of one ticket, read in its transaction.
struct State {
    tenant: String,
    /// [`KIND_JOB`] or [`crate::ticket::KIND`].
    kind: String,
    id: String,
    number: String,
    status: TicketStatus,
    current_step: usize,
    mode: TargetMode,
    spec: JobSpec,
    scripts: BTreeMap<String, ScriptCopy>,
    steps: Vec<StepPlan>,
    params: BTreeMap<String, String>,
    param_refs: BTreeMap<String, coc_domain::parameter::ParamRef>,
    incident_id: Option<String>,
    hosts: Vec<HostRow>,
    runs: Vec<RunRow>,
}

impl State {
    /// The ticket as the engine sees it.
    fn engine(&self) -> jt::TicketState {
        jt::TicketState {
            status: self.status,
            current_step: self.current_step,
            mode: self.mode,
            steps: self
                .spec
                .steps
                .iter()
                .zip(&self.steps)
                .map(|(s, p)| jt::StepState {
                    tasks: s.tasks.clone(),
                    threshold: p.threshold.map(Threshold),
                })
                .collect(),
            hosts: self
                .hosts
                .iter()
                .map(|h| jt::Host {
                    id: h.id.clone(),
                    host_id: h.host_id.clone(),
                    step: h.step as usize,
                    batch: h.batch as u32,
                    status: h.status,
                    task_idx: h.task_idx as usize,
                    had_failure: h.had_failure,
                    held: h.held,
                    error: h.error.clone(),
                })
                .collect(),
            runs: self
                .runs
                .iter()
                .map(|r| jt::Run {
                    id: r.id.clone(),
                    job_host_id: r.job_host_id.clone(),
                    host_id: r.host_id.clone(),
                    task_idx: r.task_idx as usize,
                    attempt: r.attempt as u32,
                    kind: r.kind.clone(),
                    status: RunStatus::parse(&r.status).unwrap_or(RunStatus::Failed),
                    phase: r.phase.clone(),
                    output: r.output.clone(),
                    detail: r.detail.clone(),
                    wake_at: r.wake_at,
                    started_at: r.started_at,
                })
                .collect(),
        }
    }
}

/// What applying the engine's changes leaves to do after the commit.
#[derive(Default)]
struct Applied {
    /// Agent and HTTP commands to carry out.
    cmds: Vec<JobCommand>,
    /// Step the ticket again soon.
    wake: bool,
    /// Deliveries were queued.
    deliveries: bool,
    /// The ticket finished: status, successful host steps, all host steps.
    finished: Option<(TicketStatus, usize, usize)>,
}

/// Takes the ticket row for an engine step, or `false` when another
/// replica is stepping it right now (PostgreSQL: `FOR UPDATE SKIP
/// LOCKED`; that replica's step sees everything committed before it, and
/// whatever commits after it wakes the engine again). SQLite has one
/// writer at a time and waits as [`lock_ticket`] does.
async fn try_lock_ticket(
    tx: &mut Transaction<'static, Any>,
    backend: crate::Backend,
    id: &str,
) -> Result<bool> {
    if backend == crate::Backend::Postgres {
        let got: Option<String> =
            sqlx::query_scalar("SELECT id FROM job_tickets WHERE id = $1 FOR UPDATE SKIP LOCKED")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        return Ok(got.is_some());
    }
    lock_ticket(tx, id).await?;
    Ok(true)
}

/// Touches the ticket row so concurrent writers of the ticket queue.
async fn lock_ticket(tx: &mut Transaction<'static, Any>, id: &str) -> Result<()> {
    sqlx::query("UPDATE job_tickets SET updated_at = updated_at WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn end_run(
    tx: &mut Transaction<'static, Any>,
    run_id: &str,
    status: RunStatus,
    error: Option<&str>,
    now: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE job_runs SET status=$1, error=COALESCE($2, error), finished_at=$3, phase=NULL \
         WHERE id=$4 AND status=$5",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(now)
    .bind(run_id)
    .bind(RunStatus::Executing.as_str())
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

async fn set_ticket(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    status: TicketStatus,
    current_step: usize,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE job_tickets SET status=$1, current_step=$2, reason=COALESCE($3, reason), updated_at=$4, \
         finished_at=$5 WHERE id=$6",
    )
    .bind(status.as_str())
    .bind(current_step as i64)
    .bind(reason)
    .bind(now)
    .bind(status.is_terminal().then_some(now))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Kind of a job ticket that runs a job (script tickets are
/// [`crate::ticket::KIND`]).
pub const KIND_JOB: &str = "job";

/// Everything a new ticket's rows hold, validated by the caller.
pub(crate) struct NewRows<'a> {
    pub tenant: &'a str,
    /// [`KIND_JOB`] or [`crate::ticket::KIND`].
    pub kind: &'static str,
    pub number: String,
    /// The job (or, for a script ticket, the script) it runs.
    pub job_id: &'a str,
    pub job_name: &'a str,
    pub job_version: i64,
    pub mode: TargetMode,
    pub description: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub incident_id: Option<&'a str>,
    pub cloned_from: Option<&'a str>,
    pub actor: &'a str,
    pub now: i64,
    pub spec: &'a JobSpec,
    pub scripts: &'a BTreeMap<String, ScriptCopy>,
    /// The request as JSON (a clone runs it again).
    pub request: &'a str,
    /// Global parameter values (stored encrypted, whole).
    pub params: &'a BTreeMap<String, String>,
    /// Parameter-center references read again at each use.
    pub latest: &'a BTreeMap<String, coc_domain::parameter::ParamRef>,
    pub plans: &'a [StepPlan],
}

/// Inserts a ticket, `executing`, with its hosts per step, pending, in
/// `tx`; returns its id. Every host must exist in the tenant.
///
/// Errors: `NotFound` for a host; a store error.
pub(crate) async fn insert_rows(
    tx: &mut Transaction<'static, Any>,
    keyring: &crate::secret::Keyring,
    n: &NewRows<'_>,
) -> Result<String> {
    for h in n.plans.iter().flat_map(|p| p.batches.iter().flatten()) {
        let ok: Option<String> =
            sqlx::query_scalar("SELECT id FROM hosts WHERE tenant_id = $1 AND id = $2")
                .bind(n.tenant)
                .bind(h)
                .fetch_optional(&mut **tx)
                .await?;
        if ok.is_none() {
            return Err(StoreError::not_found("host", h));
        }
    }
    let id = crate::new_id();
    sqlx::query(dynsql!(
        "INSERT INTO job_tickets ({COLS}, tenant_id, spec, scripts, request, params, param_refs, steps, kind) VALUES \
         ($1,$2,$3,$4,$5,$6,{},0,$7,$8,$9,$10,NULL,$11,$12,$12,NULL,$13,$14,$15,$16,$17,$18,$19,$20)",
        sql_lit(TicketStatus::Executing.as_str())
    ))
    .bind(&id)
    .bind(&n.number)
    .bind(n.job_id)
    .bind(n.job_name)
    .bind(n.job_version)
    .bind(mode_str(n.mode))
    .bind(n.description)
    .bind(serde_json::to_string(n.tags).unwrap_or_default())
    .bind(n.incident_id)
    .bind(n.cloned_from)
    .bind(n.actor)
    .bind(n.now)
    .bind(n.tenant)
    .bind(serde_json::to_string(n.spec).unwrap_or_default())
    .bind(serde_json::to_string(n.scripts).unwrap_or_default())
    .bind(n.request)
    // Parameter values may be secret or come from encrypted parameters:
    // the whole map is stored encrypted.
    .bind(keyring.encrypt(&serde_json::to_string(n.params).unwrap_or_default()))
    .bind((!n.latest.is_empty()).then(|| serde_json::to_string(n.latest).unwrap_or_default()))
    .bind(serde_json::to_string(n.plans).unwrap_or_default())
    .bind(n.kind)
    .execute(&mut **tx)
    .await?;
    for (si, p) in n.plans.iter().enumerate() {
        let mut seq = 0i64;
        for (b, hosts) in p.batches.iter().enumerate() {
            for h in hosts {
                sqlx::query(dynsql!(
                    "INSERT INTO job_hosts (id, tenant_id, ticket_id, step, host_id, batch, seq, status, task_idx, \
                     had_failure, held) VALUES ($1,$2,$3,$4,$5,$6,$7,{},0,0,0)",
                    sql_lit(TaskStatus::Pending.as_str())
                ))
                .bind(crate::new_id())
                .bind(n.tenant)
                .bind(&id)
                .bind(si as i64)
                .bind(h)
                .bind(b as i64)
                .bind(seq)
                .execute(&mut **tx)
                .await?;
                seq += 1;
            }
        }
    }
    Ok(id)
}

impl Store {
    /// Runs a job: validates the request against the chosen version, keeps
    /// a copy of the job and its scripts, resolves global parameters
    /// (parameter-center values at creation, or again at each use for
    /// `latest`), plans every step's batches, and creates the ticket
    /// `executing`. The executor starts it at once.
    ///
    /// Errors: `NotFound` (job, version, script, host, incident),
    /// `Domain(Validation)` (targets, batches, threshold, parameters,
    /// tags), `Domain(InvalidTransition)` (a job or script waiting for
    /// review or rejected).
    pub async fn create_job_ticket(
        &self,
        tenant: &str,
        job: &str,
        req: &NewJobTicket,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        self.insert_job_ticket(tenant, job, req, actor, None).await
    }

    async fn insert_job_ticket(
        &self,
        tenant: &str,
        job: &str,
        req: &NewJobTicket,
        actor: &str,
        cloned_from: Option<&str>,
    ) -> Result<JobTicketDetail> {
        let cur = self.get_job(tenant, job).await?;
        let (version, spec) = match req.version {
            None | Some(0) => {
                cur.ensure_runnable()?;
                (cur.version, cur.spec.clone())
            }
            Some(v) if v == cur.version => {
                cur.ensure_runnable()?;
                (v, cur.spec.clone())
            }
            Some(v) => {
                // An older version runs only if it needs no review (its
                // review is not kept once a newer version exists).
                let old = self
                    .job_versions(tenant, &cur.id)
                    .await?
                    .into_iter()
                    .find(|x| x.version == v)
                    .ok_or_else(|| StoreError::not_found("job version", &v.to_string()))?;
                if old.spec.review_required() {
                    return Err(coc_domain::DomainError::InvalidTransition(format!(
                        "version {v} of job '{}' needs a review; only the current version can be approved and run",
                        cur.spec.name
                    ))
                    .into());
                }
                (v, old.spec)
            }
        };
        if req.description.chars().count() > 500 {
            return Err(coc_domain::error::invalid(
                "the execution description is longer than 500 characters",
            )
            .into());
        }
        validate_tags(&req.tags)?;
        // Steps: targets, batches, thresholds.
        if req.steps.len() > spec.steps.len() {
            return Err(coc_domain::error::invalid(format!(
                "the job has {} step(s); settings for {} were given",
                spec.steps.len(),
                req.steps.len()
            ))
            .into());
        }
        let mut plans = Vec::new();
        for (i, _) in spec.steps.iter().enumerate() {
            let s = req.steps.get(i).cloned().unwrap_or_default();
            let hosts = match req.target_mode {
                TargetMode::Consistent => {
                    if s.hosts.is_some() {
                        return Err(coc_domain::error::invalid(format!(
                            "step {}: hosts per step need the target mode unique_per_step",
                            i + 1
                        ))
                        .into());
                    }
                    req.hosts.clone()
                }
                TargetMode::UniquePerStep => s.hosts.clone().ok_or_else(|| {
                    coc_domain::error::invalid(format!(
                        "step {}: choose its hosts (target mode unique_per_step)",
                        i + 1
                    ))
                })?,
            };
            let policy = s.batch_policy.unwrap_or(req.batch_policy);
            let manual = s.batches.as_deref().or(
                if req.target_mode == TargetMode::Consistent && s.batch_policy.is_none() {
                    req.batches.as_deref()
                } else {
                    None
                },
            );
            let batches = plan_batches(policy, &hosts, manual)
                .map_err(|e| coc_domain::error::invalid(format!("step {}: {e}", i + 1)))?;
            let threshold = s
                .success_rate_threshold
                .or(req.success_rate_threshold)
                .map(Threshold::from_percent)
                .transpose()?;
            plans.push(StepPlan {
                batch_policy: policy,
                batches,
                threshold: threshold.map(|t| t.0),
            });
        }
        // Scripts: the version at creation, each runnable.
        let mut scripts = BTreeMap::new();
        for name in spec.scripts() {
            if scripts.contains_key(name) {
                continue;
            }
            let s = self.get_script(tenant, name).await?;
            s.ensure_runnable()?;
            scripts.insert(
                name.to_string(),
                ScriptCopy {
                    id: s.id,
                    name: s.spec.name,
                    version: s.version,
                    script_type: s.spec.script_type.as_str().to_string(),
                    content: s.spec.content,
                    params: s.spec.params,
                },
            );
        }
        // Task settings that depend on the scripts.
        for (si, step) in spec.steps.iter().enumerate() {
            for t in &step.tasks {
                if let Atom::Script {
                    script,
                    params,
                    run_as,
                    ..
                } = &t.atom
                {
                    let c = &scripts[script.as_str()];
                    if let Some(k) = params
                        .keys()
                        .find(|k| !c.params.iter().any(|p| &p.name == *k))
                    {
                        return Err(coc_domain::error::invalid(format!(
                            "step {}, task '{}': script '{}' has no parameter '{k}'",
                            si + 1,
                            t.name,
                            c.name
                        ))
                        .into());
                    }
                    validate_run_as(run_as.as_deref().unwrap_or(DEFAULT_RUN_AS))?;
                }
            }
        }
        // Global parameters.
        let mut center = BTreeMap::new();
        let mut latest = BTreeMap::new();
        for p in &spec.params {
            if let Some(r) = &p.from
                && !req.params.contains_key(&p.name)
            {
                center.insert(p.name.clone(), self.resolve_param_ref(tenant, r).await?);
                if r.mode == coc_domain::parameter::RefMode::Latest {
                    latest.insert(p.name.clone(), r.clone());
                }
            }
        }
        let params = resolve_globals(&spec.params, &req.params, &center)?;
        if let Some(i) = &req.incident_id {
            self.get_incident(tenant, i).await?;
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let id = insert_rows(
            &mut tx,
            &self.keyring,
            &NewRows {
                tenant,
                kind: KIND_JOB,
                number: coc_domain::id::ticket_number("JOB", now, crate::incident::next_seq()),
                job_id: &cur.id,
                job_name: &spec.name,
                job_version: version,
                mode: req.target_mode,
                description: &req.description,
                tags: &req.tags,
                incident_id: req.incident_id.as_deref(),
                cloned_from,
                actor,
                now,
                spec: &spec,
                scripts: &scripts,
                request: &serde_json::to_string(req).unwrap_or_default(),
                params: &params,
                latest: &latest,
                plans: &plans,
            },
        )
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        self.get_job_ticket(tenant, &id).await
    }

    /// Runs a job ticket's request again as a new ticket (ref. 10.1.2
    /// "Clone"), with the job's current version unless the request named
    /// one. Errors: as [`Store::create_job_ticket`].
    pub async fn clone_job_ticket(
        &self,
        tenant: &str,
        id: &str,
        actor: &str,
    ) -> Result<JobTicketDetail> {
        let r = sqlx::query(
            "SELECT id, job_id, request FROM job_tickets WHERE tenant_id = $1 AND (id = $2 OR number = $2)",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("job ticket", id))?;
        let req: NewJobTicket = serde_json::from_str(&r.try_get::<String, _>("request")?)
            .map_err(unreadable("job ticket request"))?;
        let from: String = r.try_get("id")?;
        let job: String = r.try_get("job_id")?;
        self.insert_job_ticket(tenant, &job, &req, actor, Some(&from))
            .await
    }

    async fn load_state(&self, tx: &mut Transaction<'static, Any>, id: &str) -> Result<State> {
        let r = sqlx::query(dynsql!(
            "SELECT tenant_id, kind, spec, scripts, steps, params, param_refs, {COLS} FROM job_tickets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found("job ticket", id))?;
        let t = ticket_row(&r, HostCounts::default())?;
        let params: BTreeMap<String, String> =
            serde_json::from_str(&self.keyring.decrypt(&r.try_get::<String, _>("params")?)?)
                .map_err(unreadable("job ticket parameters"))?;
        let refs: Option<String> = r.try_get("param_refs")?;
        let hosts = sqlx::query(dynsql!(
            "SELECT {HOST_COLS} FROM job_hosts WHERE ticket_id = $1 ORDER BY step, seq"
        ))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(host_row)
        .collect::<Result<Vec<_>>>()?;
        let runs = sqlx::query(dynsql!(
            "SELECT {RUN_COLS} FROM job_runs WHERE ticket_id = $1 ORDER BY step, task_idx, attempt"
        ))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(run_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(State {
            tenant: r.try_get("tenant_id")?,
            kind: r.try_get("kind")?,
            id: t.id,
            number: t.number,
            status: t.status,
            current_step: t.current_step as usize,
            mode: t.target_mode,
            spec: serde_json::from_str(&r.try_get::<String, _>("spec")?)
                .map_err(unreadable("job ticket"))?,
            scripts: serde_json::from_str(&r.try_get::<String, _>("scripts")?)
                .map_err(unreadable("job ticket scripts"))?,
            steps: serde_json::from_str(&r.try_get::<String, _>("steps")?)
                .map_err(unreadable("job ticket steps"))?,
            params,
            param_refs: refs
                .and_then(|x| serde_json::from_str(&x).ok())
                .unwrap_or_default(),
            incident_id: t.incident_id,
            hosts,
            runs,
        })
    }

    /// Ids of job tickets that are not finished, oldest first.
    pub async fn active_job_ticket_ids(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(dynsql!(
            "SELECT id FROM job_tickets WHERE status IN {} ORDER BY id",
            sql_set(&TicketStatus::ACTIVE.map(TicketStatus::as_str))
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// One engine step of a job ticket at `now` (Unix ms): loads the
    /// ticket, asks [`coc_domain::jobticket::step`] what changes, and
    /// applies the changes in one transaction; the returned commands are
    /// carried out after the commit. `connected` tells whether a host's
    /// agent is connected (a reboot is over only then).
    ///
    /// Errors: a store error; nothing is committed and the next step
    /// retries.
    pub async fn advance_job_ticket(
        &self,
        id: &str,
        now: i64,
        connected: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<JobCommand>> {
        let mut tx = self.begin().await?;
        if !try_lock_ticket(&mut tx, self.backend, id).await? {
            return Ok(Vec::new());
        }
        let st = self.load_state(&mut tx, id).await?;
        if st.status.is_terminal() {
            return Ok(Vec::new());
        }
        let facts = self.host_facts(&mut tx, &st, connected).await?;
        let changes = jt::step(&st.engine(), now, &facts);
        let applied = self
            .apply_changes(&mut tx, &st, changes, &facts, now)
            .await?;
        tx.commit().await?;
        Ok(self.after_changes(&st, applied).await)
    }

    /// What the engine knows of the current step's hosts: connected
    /// agents, boot ids and the step's approvals.
    async fn host_facts(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        connected: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<HostFacts> {
        let step = st.current_step as i64;
        let boots = sqlx::query(
            "SELECT id, boot_id FROM hosts WHERE id IN \
             (SELECT host_id FROM job_hosts WHERE ticket_id = $1 AND step = $2)",
        )
        .bind(&st.id)
        .bind(step)
        .fetch_all(&mut **tx)
        .await?;
        let mut facts = HostFacts::default();
        for b in &boots {
            let host: String = b.try_get("id")?;
            if connected(&host) {
                facts.connected.insert(host.clone());
            }
            if let Some(boot) = b.try_get::<Option<String>, _>("boot_id")? {
                facts.boot_ids.insert(host, boot);
            }
        }
        let approvals = sqlx::query(
            "SELECT task_idx, status FROM job_approvals WHERE ticket_id = $1 AND step = $2",
        )
        .bind(&st.id)
        .bind(step)
        .fetch_all(&mut **tx)
        .await?;
        for a in &approvals {
            let decision = Approval::parse(&a.try_get::<String, _>("status")?)?;
            facts
                .approvals
                .insert(a.try_get::<i64, _>("task_idx")? as usize, decision);
        }
        Ok(facts)
    }

    /// Applies the engine's changes, in order, inside `tx`.
    async fn apply_changes(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        changes: Vec<Change>,
        facts: &HostFacts,
        now: i64,
    ) -> Result<Applied> {
        let mut a = Applied::default();
        for c in changes {
            match c {
                Change::EndRun { run, status, error } => {
                    end_run(tx, &run, status, error.as_deref(), now).await?;
                }
                Change::StopAgentRun { run, host_id } => {
                    a.cmds.push(JobCommand::Cancel {
                        run_id: run,
                        host_id,
                    });
                }
                Change::RetireRuns { host, from } => {
                    sqlx::query(
                        "UPDATE job_runs SET phase = $1 WHERE job_host_id = $2 AND task_idx >= $3 \
                         AND status <> $4",
                    )
                    .bind(jt::RETRIED)
                    .bind(&host)
                    .bind(from as i64)
                    .bind(RunStatus::Executing.as_str())
                    .execute(&mut **tx)
                    .await?;
                }
                Change::Host(h) => {
                    let old = st.hosts.iter().find(|x| x.id == h.id);
                    let started = old.and_then(|o| o.started_at);
                    let finished = old.and_then(|o| o.finished_at);
                    sqlx::query(
                        "UPDATE job_hosts SET status=$1, task_idx=$2, had_failure=$3, held=$4, error=$5, \
                         started_at=$6, finished_at=$7 WHERE id=$8",
                    )
                    .bind(h.status.as_str())
                    .bind(h.task_idx as i64)
                    .bind(i64::from(h.had_failure))
                    .bind(i64::from(h.held))
                    .bind(h.error.as_deref())
                    .bind(started.or((h.status != TaskStatus::Pending).then_some(now)))
                    .bind(h.status.is_done().then(|| finished.unwrap_or(now)))
                    .bind(&h.id)
                    .execute(&mut **tx)
                    .await?;
                }
                Change::Start {
                    host,
                    task_idx,
                    attempt,
                    immediate,
                } => {
                    let Some(h) = st.hosts.iter().find(|x| x.id == host) else {
                        continue;
                    };
                    let wake = self
                        .start_run(tx, st, h, task_idx, attempt, immediate, facts, now, &mut a)
                        .await?;
                    a.wake |= wake;
                }
                Change::Ticket {
                    status,
                    step,
                    reason,
                } => {
                    set_ticket(tx, &st.id, status, step, reason.as_deref(), now).await?;
                    a.wake |= !status.is_terminal() && step != st.current_step;
                }
                Change::Finished {
                    status,
                    successful,
                    total,
                } => a.finished = Some((status, successful, total)),
            }
        }
        Ok(a)
    }

    /// After the commit: wakes the executor and the notifier as the
    /// changes ask, and records a finished ticket's outcome. Returns the
    /// agent commands to send.
    async fn after_changes(&self, st: &State, a: Applied) -> Vec<JobCommand> {
        if a.wake {
            self.work.notify_one();
        }
        if a.deliveries {
            self.deliveries.notify_one();
        }
        if let Some((end, ok, total)) = a.finished {
            tracing::info!(ticket = %st.number, status = end.as_str(), "job ticket finished");
            if let Some(inc) = &st.incident_id {
                let summary = if st.kind == crate::ticket::KIND {
                    format!(
                        "script ticket {} ({}) {}: {ok}/{total} host(s) succeeded",
                        st.number,
                        st.spec.name,
                        end.as_str(),
                    )
                } else {
                    format!(
                        "job ticket {} ({}) {}: {ok}/{total} host step(s) succeeded",
                        st.number,
                        st.spec.name,
                        end.as_str(),
                    )
                };
                if let Err(e) = self
                    .record_ticket_outcome(&st.tenant, inc, &st.id, &summary)
                    .await
                {
                    tracing::warn!(error = %e, "job outcome not written to the incident");
                }
            }
        }
        a.cmds
    }

    /// Creates the run of task `task_idx` on host `h`: the agent command,
    /// the sleep's wake-up, the approval request, the HTTP call, or a
    /// condition's result. Returns whether the executor should step again
    /// soon.
    #[allow(clippy::too_many_arguments)]
    async fn start_run(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        h: &HostRow,
        task_idx: usize,
        attempt: u32,
        immediate: Option<(RunStatus, String)>,
        facts: &HostFacts,
        now: i64,
        a: &mut Applied,
    ) -> Result<bool> {
        let step = st.current_step;
        let task = &st.spec.steps[step].tasks[task_idx];
        let (params, secret_values) = self.job_params(st).await;
        let kinds: BTreeMap<String, GlobalParamType> = st
            .spec
            .params
            .iter()
            .map(|p| (p.name.clone(), p.kind))
            .collect();
        let vars = self.host_vars(tx, &h.host_id).await?;
        let run_id = crate::new_id();
        let mut status = RunStatus::Executing;
        let mut phase: Option<&str> = None;
        let mut detail: Option<String> = None;
        let mut wake_at = None;
        let mut output = String::new();
        let mut error = None;
        match &task.atom {
            Atom::Script {
                script,
                params: values,
                run_as,
                timeout_s,
            } => {
                let c = &st.scripts[script.as_str()];
                let given: BTreeMap<String, String> = values
                    .iter()
                    .map(|(k, v)| (k.clone(), substitute(v, &params, &kinds, &vars)))
                    .collect();
                match resolve_params(&c.params, &given) {
                    Ok(env) => {
                        phase = Some("agent");
                        a.cmds.push(JobCommand::Exec {
                            run_id: run_id.clone(),
                            host_id: h.host_id.clone(),
                            script_type: c.script_type.clone(),
                            content: c.content.clone(),
                            secret_env: secret_env(&c.params, &env, &secret_values),
                            env,
                            run_as: run_as.clone().unwrap_or_else(|| DEFAULT_RUN_AS.into()),
                            timeout_s: u64::from(timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
                        });
                    }
                    Err(e) => {
                        status = RunStatus::Failed;
                        error = Some(e.to_string());
                    }
                }
            }
            Atom::Reboot { .. } => {
                phase = Some("agent");
                detail = Some(facts.boot_ids.get(&h.host_id).cloned().unwrap_or_default());
                a.cmds.push(JobCommand::Reboot {
                    run_id: run_id.clone(),
                    host_id: h.host_id.clone(),
                });
            }
            Atom::Sleep { seconds } => {
                phase = Some("sleep");
                wake_at = Some(now + i64::from(*seconds) * 1000);
            }
            Atom::Approval {
                reviewers,
                channels,
            } => {
                phase = Some("approval");
                let asked = sqlx::query(
                    "INSERT INTO job_approvals (ticket_id, step, task_idx, tenant_id, status, requested_at) \
                     VALUES ($1,$2,$3,$4,$6,$5) ON CONFLICT (ticket_id, step, task_idx) DO NOTHING",
                )
                .bind(&st.id)
                .bind(step as i64)
                .bind(task_idx as i64)
                .bind(&st.tenant)
                .bind(now)
                .bind(Approval::Pending.as_str())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                // The first host to reach it asks the reviewers.
                if asked == 1 && !channels.is_empty() {
                    self.ask_reviewers(tx, st, task, reviewers, channels, now)
                        .await?;
                    a.deliveries = true;
                }
            }
            Atom::Http {
                method,
                url,
                body,
                expected_status,
                timeout_s,
            } => {
                phase = Some("http");
                a.cmds.push(JobCommand::Http {
                    run_id: run_id.clone(),
                    method: method.clone(),
                    url: substitute(url, &params, &kinds, &vars),
                    body: body.as_ref().map(|b| substitute(b, &params, &kinds, &vars)),
                    expected_status: *expected_status,
                    timeout_s: *timeout_s,
                });
            }
            Atom::Condition { .. } => {}
        }
        if let Some((s, o)) = immediate {
            status = s;
            output = o;
        }
        let done = status != RunStatus::Executing;
        sqlx::query(
            "INSERT INTO job_runs (id, tenant_id, ticket_id, job_host_id, host_id, step, task_idx, attempt, kind, \
             status, phase, exit_code, output, error, detail, wake_at, started_at, finished_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,NULL,$12,$13,$14,$15,$16,$17)",
        )
        .bind(&run_id)
        .bind(&st.tenant)
        .bind(&st.id)
        .bind(&h.id)
        .bind(&h.host_id)
        .bind(step as i64)
        .bind(task_idx as i64)
        .bind(i64::from(attempt))
        .bind(task.atom.kind())
        .bind(status.as_str())
        .bind(if done { None } else { phase })
        .bind(&output)
        .bind(error.as_deref())
        .bind(detail.as_deref())
        .bind(wake_at)
        .bind(now)
        .bind(done.then_some(now))
        .execute(&mut **tx)
        .await?;
        Ok(done || wake_at.is_some() || matches!(task.atom, Atom::Approval { .. }))
    }

    /// Asks an approval task's reviewers on its channels.
    async fn ask_reviewers(
        &self,
        tx: &mut Transaction<'static, Any>,
        st: &State,
        task: &coc_domain::job::JobTask,
        reviewers: &[coc_domain::notify::Recipient],
        channels: &[String],
        now: i64,
    ) -> Result<()> {
        let step = st.current_step;
        let facts = coc_domain::notify::IncidentFacts::not_an_incident("");
        let at = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default();
        let people = self
            .resolve_people(&st.tenant, reviewers, &facts, at)
            .await?;
        let pairs = coc_domain::notify::dedup(
            people
                .iter()
                .flat_map(|p| channels.iter().map(move |c| (p.clone(), c.clone()))),
        );
        let m = coc_domain::notify::Message {
            event: "job_approval_requested".into(),
            subject: format!(
                "Approval needed: job ticket {} ({}), task '{}'",
                st.number, st.spec.name, task.name
            ),
            body: format!(
                "Job ticket {} of job '{}' waits at step {} task '{}' for your approval: \
                 coc job-ticket approve {} --task {}",
                st.number,
                st.spec.name,
                step + 1,
                task.name,
                st.number,
                task.name
            ),
        };
        self.deliver_to_people(tx, &st.tenant, &pairs, &m, None, now, false)
            .await?;
        Ok(())
    }
    /// Global parameter values with `latest` parameter-center values read
    /// again (the value at creation is kept when the parameter is gone).
    /// The ticket's global parameters (`latest` ones read again) and the
    /// values among them that are secret: those of encrypted
    /// parameter-center parameters (kept out of output).
    async fn job_params(&self, st: &State) -> (BTreeMap<String, String>, Vec<String>) {
        let mut p = st.params.clone();
        for (k, r) in &st.param_refs {
            match self.resolve_param_ref(&st.tenant, r).await {
                Ok(v) => {
                    p.insert(k.clone(), v);
                }
                Err(e) => tracing::warn!(ticket = %st.number, parameter = %r.name, error = %e,
                    "latest parameter value unavailable; using the value at creation"),
            }
        }
        let mut secrets = vec![];
        for g in &st.spec.params {
            let Some(r) = &g.from else { continue };
            // Unknown (deleted since): kept secret.
            let secret = self
                .resolve_param_ref_secret(&st.tenant, r)
                .await
                .map_or(true, |(_, s)| s);
            if secret && let Some(v) = p.get(&g.name) {
                secrets.push(v.clone());
            }
        }
        (p, secrets)
    }

    async fn host_vars(&self, tx: &mut Transaction<'static, Any>, host: &str) -> Result<HostVars> {
        let r = sqlx::query("SELECT hostname, ips FROM hosts WHERE id = $1")
            .bind(host)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(match r {
            Some(r) => HostVars {
                id: host.to_string(),
                name: r.try_get("hostname")?,
                ip: serde_json::from_str::<Vec<String>>(&r.try_get::<String, _>("ips")?)
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .unwrap_or_default(),
            },
            None => HostVars {
                id: host.to_string(),
                ..Default::default()
            },
        })
    }

    /// Records the end of a run reported by an agent or by the server's
    /// HTTP call, if the run is still executing. A successful reboot run
    /// only starts waiting for the host to come back. Returns the ticket
    /// id when something changed (a late or repeated result changes
    /// nothing); `host_id`, when given, must be the run's host.
    ///
    /// Errors: a store error (the agent re-sends the result).
    pub async fn finish_job_run(
        &self,
        run_id: &str,
        host_id: Option<&str>,
        status: TaskStatus,
        exit_code: Option<i64>,
        error: Option<&str>,
        output: Option<&str>,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let t = finish_job_run_in(
            &mut tx,
            run_id,
            host_id,
            status,
            exit_code,
            error,
            output,
            self.now(),
        )
        .await?;
        tx.commit().await?;
        if t.is_some() {
            self.work.notify_one();
        }
        Ok(t)
    }

    /// Appends agent output to an executing run of `host_id` (up to
    /// [`crate::ticket::MAX_OUTPUT_BYTES`]); returns the ticket id when
    /// the run exists.
    pub async fn append_job_output(
        &self,
        run_id: &str,
        host_id: &str,
        chunk: &str,
    ) -> Result<Option<String>> {
        let mut tx = self.begin().await?;
        let t = append_job_output_in(&mut tx, run_id, host_id, chunk).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// What a host's agent should be running: the runs of every ticket
    /// (scripts, reboots) still waiting for the agent.
    /// Sent again when the agent (re)connects, so a dispatch lost in a
    /// server crash is not lost (X8); the agent ignores ids it knows and
    /// re-sends the results it holds.
    ///
    /// Errors: a store error.
    pub async fn redispatch(&self, host_id: &str) -> Result<Vec<JobCommand>> {
        self.redispatch_many(&[host_id.to_string()]).await
    }

    /// [`Store::redispatch`] for several hosts at once: each ticket's
    /// state and parameters are read once, however many of its runs wait.
    ///
    /// Errors: a store error.
    pub async fn redispatch_many(&self, hosts: &[String]) -> Result<Vec<JobCommand>> {
        let mut out = Vec::new();
        // Per ticket: its state, its parameters and the secret values.
        type Loaded = (State, BTreeMap<String, String>, Vec<String>);
        let mut tickets: BTreeMap<String, Loaded> = BTreeMap::new();
        for host_id in hosts {
            let rows = sqlx::query(dynsql!(
                "SELECT id, ticket_id, step, task_idx, kind FROM job_runs \
                 WHERE host_id = $1 AND status = {} AND phase = 'agent'",
                sql_lit(RunStatus::Executing.as_str())
            ))
            .bind(host_id)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                let run_id: String = r.try_get("id")?;
                if r.try_get::<String, _>("kind")? == "reboot" {
                    out.push(JobCommand::Reboot {
                        run_id,
                        host_id: host_id.clone(),
                    });
                    continue;
                }
                // A script run: rebuild the command from the ticket's copy.
                let ticket: String = r.try_get("ticket_id")?;
                if !tickets.contains_key(&ticket) {
                    let mut tx = self.begin().await?;
                    let st = self.load_state(&mut tx, &ticket).await?;
                    tx.commit().await?;
                    let (params, secrets) = self.job_params(&st).await;
                    tickets.insert(ticket.clone(), (st, params, secrets));
                }
                let (st, params, secret_values) = &tickets[&ticket];
                let (step, ti): (i64, i64) = (r.try_get("step")?, r.try_get("task_idx")?);
                let Some(task) = st
                    .spec
                    .steps
                    .get(step as usize)
                    .and_then(|s| s.tasks.get(ti as usize))
                else {
                    continue;
                };
                if let Atom::Script {
                    script,
                    params: values,
                    run_as,
                    timeout_s,
                } = &task.atom
                {
                    let c = &st.scripts[script.as_str()];
                    let kinds = st
                        .spec
                        .params
                        .iter()
                        .map(|p| (p.name.clone(), p.kind))
                        .collect();
                    let mut tx = self.begin().await?;
                    let vars = self.host_vars(&mut tx, host_id).await?;
                    tx.commit().await?;
                    let given: BTreeMap<String, String> = values
                        .iter()
                        .map(|(k, v)| (k.clone(), substitute(v, params, &kinds, &vars)))
                        .collect();
                    if let Ok(env) = resolve_params(&c.params, &given) {
                        out.push(JobCommand::Exec {
                            run_id,
                            host_id: host_id.clone(),
                            script_type: c.script_type.clone(),
                            content: c.content.clone(),
                            secret_env: secret_env(&c.params, &env, secret_values),
                            env,
                            run_as: run_as.clone().unwrap_or_else(|| DEFAULT_RUN_AS.into()),
                            timeout_s: u64::from(timeout_s.unwrap_or(DEFAULT_TIMEOUT_S)),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Marks HTTP runs left executing by a previous server process as
    /// failed: the call may or may not have been made, and it is not
    /// repeated (X8). Returns how many.
    pub async fn fail_interrupted_http_runs(&self) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(dynsql!(
            "UPDATE job_runs SET status = {}, phase = NULL, finished_at = $1, \
             error = 'interrupted by a server restart; the HTTP call is not repeated' \
             WHERE kind = 'http' AND status = {}",
            sql_lit(RunStatus::Failed.as_str()),
            sql_lit(RunStatus::Executing.as_str())
        ))
        .bind(self.now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if n > 0 {
            self.work.notify_one();
        }
        Ok(n)
    }

    /// One job ticket (by id or number) with steps, hosts, runs and
    /// approvals. Errors: `NotFound`.
    pub async fn get_job_ticket(&self, tenant: &str, id: &str) -> Result<JobTicketDetail> {
        let tid: String = sqlx::query_scalar(
            "SELECT id FROM job_tickets WHERE tenant_id = $1 AND (id = $2 OR number = $2)",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("job ticket", id))?;
        let mut tx = self.begin().await?;
        let st = self.load_state(&mut tx, &tid).await?;
        let r = sqlx::query(dynsql!("SELECT {COLS} FROM job_tickets WHERE id = $1"))
            .bind(&tid)
            .fetch_one(&mut *tx)
            .await?;
        let approvals = sqlx::query(
            "SELECT step, task_idx, status, requested_at, decided_by, decided_at, comment FROM job_approvals \
             WHERE ticket_id = $1 ORDER BY step, task_idx",
        )
        .bind(&tid)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let task_name = |s: i64, t: i64| {
            st.spec
                .steps
                .get(s as usize)
                .and_then(|x| x.tasks.get(t as usize))
                .map(|x| x.name.clone())
                .unwrap_or_default()
        };
        let counts = counts_of(
            st.hosts
                .iter()
                .filter(|h| h.step as usize == st.current_step),
        );
        let ticket = ticket_row(&r, counts)?;
        let mut steps = Vec::new();
        for (i, s) in st.spec.steps.iter().enumerate() {
            let hs: Vec<&HostRow> = st.hosts.iter().filter(|h| h.step as usize == i).collect();
            let c = counts_of(hs.iter().copied());
            let status = if i > st.current_step {
                if st.status.is_terminal() {
                    "cancelled"
                } else {
                    "pending"
                }
            } else if i == st.current_step && !st.status.is_terminal() {
                if st.status == TicketStatus::Abnormal {
                    "abnormal"
                } else {
                    "executing"
                }
            } else if c.failed > 0 {
                "failed"
            } else if c.successful == 0 && c.cancelled > 0 {
                "cancelled"
            } else {
                "successful"
            };
            let plan = &st.steps[i];
            steps.push(JobStepView {
                index: i as i64,
                name: s.name.clone(),
                status: status.into(),
                batch_policy: plan.batch_policy,
                batches: plan.batches.len() as i64,
                success_rate_threshold: plan.threshold.map(|t| f64::from(t) / 10.0),
                counts: c,
                hosts: hs
                    .iter()
                    .map(|h| JobHost {
                        id: h.id.clone(),
                        host_id: h.host_id.clone(),
                        batch: h.batch,
                        status: h.status,
                        task: h.task_idx,
                        held: h.held,
                        error: h.error.clone(),
                        started_at: h.started_at,
                        finished_at: h.finished_at,
                        runs: st
                            .runs
                            .iter()
                            .filter(|r| r.job_host_id == h.id)
                            .map(|r| JobRun {
                                id: r.id.clone(),
                                task: r.task_idx,
                                task_name: task_name(i as i64, r.task_idx),
                                attempt: r.attempt,
                                kind: r.kind.clone(),
                                status: r.status.clone(),
                                phase: r.phase.clone(),
                                exit_code: r.exit_code,
                                output: r.output.clone(),
                                error: r.error.clone(),
                                started_at: r.started_at,
                                finished_at: r.finished_at,
                            })
                            .collect(),
                    })
                    .collect(),
            });
        }
        let from_center: Vec<&str> = st
            .spec
            .params
            .iter()
            .filter(|p| p.from.is_some())
            .map(|p| p.name.as_str())
            .collect();
        let params = st
            .params
            .iter()
            .map(|(k, v)| {
                let shown = if from_center.contains(&k.as_str()) {
                    "******".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect();
        let approvals = approvals
            .iter()
            .map(|a| {
                let (s, t): (i64, i64) = (a.try_get("step")?, a.try_get("task_idx")?);
                Ok(JobApproval {
                    step: s,
                    task: t,
                    task_name: task_name(s, t),
                    status: a.try_get("status")?,
                    requested_at: a.try_get("requested_at")?,
                    decided_by: a.try_get("decided_by")?,
                    decided_at: a.try_get("decided_at")?,
                    comment: a.try_get("comment")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(JobTicketDetail {
            ticket,
            params,
            job: st.spec.clone(),
            scripts: st.scripts.values().cloned().collect(),
            steps,
            approvals,
        })
    }

    /// Job tickets, newest first, keyset-paged; optional status and job
    /// filters. Counts are those of each ticket's current step.
    pub async fn list_job_tickets(
        &self,
        tenant: &str,
        status: Option<&str>,
        job: Option<&str>,
        page: &Page,
    ) -> Result<Paged<JobTicket>> {
        let mut w = Filter::new(tenant);
        w.push("kind = ?", Arg::S(KIND_JOB.to_string()));
        if let Some(s) = status {
            w.push("status = ?", Arg::S(s.to_string()));
        }
        if let Some(j) = job {
            // Both placeholders take the same value.
            w.push("(job_id = ? OR job_name = ?)", Arg::S(j.to_string()));
        }
        let mut out = self
            .fetch_page(
                COLS,
                "job_tickets",
                w,
                page,
                |r| ticket_row(r, HostCounts::default()),
                |t| t.id.clone(),
            )
            .await?;
        for t in &mut out.items {
            t.counts = self.job_host_counts(&t.id, t.current_step).await?;
        }
        Ok(out)
    }

    /// Host counts of step `step` of a ticket by state (one grouped query).
    pub(crate) async fn job_host_counts(&self, ticket_id: &str, step: i64) -> Result<HostCounts> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM job_hosts WHERE ticket_id = $1 AND step = $2 GROUP BY status",
        )
        .bind(ticket_id)
        .bind(step)
        .fetch_all(&self.pool)
        .await?;
        let mut c = HostCounts::default();
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            c.total += n;
            match TaskStatus::parse(&r.try_get::<String, _>("status")?)? {
                TaskStatus::Pending => c.pending += n,
                TaskStatus::Executing => c.executing += n,
                TaskStatus::Successful => c.successful += n,
                TaskStatus::Failed => c.failed += n,
                TaskStatus::Cancelled => c.cancelled += n,
            }
        }
        Ok(c)
    }

    /// An operator action on a job ticket (ref. 10.1.2), decided by
    /// [`coc_domain::jobticket::action`]. Returns the ticket after it and
    /// the agent runs to stop.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` (not allowed in
    /// the ticket's state).
    pub async fn job_ticket_action(
        &self,
        tenant: &str,
        id: &str,
        action: JobAction,
        actor: &str,
    ) -> Result<(JobTicketDetail, Vec<JobCommand>)> {
        let cur = self.get_job_ticket(tenant, id).await?;
        let tid = cur.ticket.id.clone();
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_ticket(&mut tx, &tid).await?;
        let st = self.load_state(&mut tx, &tid).await?;
        let changes = jt::action(&st.engine(), action, actor)?;
        let mut applied = self
            .apply_changes(&mut tx, &st, changes, &HostFacts::default(), now)
            .await?;
        tx.commit().await?;
        applied.wake = true;
        let cmds = self.after_changes(&st, applied).await;
        Ok((self.get_job_ticket(tenant, &tid).await?, cmds))
    }

    /// Cancels one host of the current step (ref. 10.1.2 "Cancel"), by
    /// its job-host id or host id. Returns the ticket and the agent run to
    /// stop, if one was running.
    ///
    /// Errors: `NotFound`, `Domain(InvalidTransition)` when the host or
    /// the ticket is already finished.
    pub async fn cancel_job_host(
        &self,
        tenant: &str,
        id: &str,
        host: &str,
        actor: &str,
    ) -> Result<(JobTicketDetail, Vec<JobCommand>)> {
        let cur = self.get_job_ticket(tenant, id).await?;
        let tid = cur.ticket.id.clone();
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_ticket(&mut tx, &tid).await?;
        let st = self.load_state(&mut tx, &tid).await?;
        let engine = st.engine();
        let h = engine
            .current_host(host)
            .ok_or_else(|| StoreError::not_found("host in the current step", host))?;
        let changes = jt::cancel_host(&engine, &h.id, actor)?;
        let mut applied = self
            .apply_changes(&mut tx, &st, changes, &HostFacts::default(), now)
            .await?;
        sqlx::query("UPDATE job_tickets SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&tid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied.wake = true;
        let cmds = self.after_changes(&st, applied).await;
        Ok((self.get_job_ticket(tenant, &tid).await?, cmds))
    }
    /// Approves or rejects the approval a job ticket waits for at step
    /// `step`, task `task` (0-based). The decider must be one of the
    /// task's reviewers (by name, or on call for a listed shift role now).
    ///
    /// Errors: `NotFound` (ticket or approval), `Domain(InvalidTransition)`
    /// (already decided), `Domain(Validation)` (not a reviewer).
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_job_approval(
        &self,
        tenant: &str,
        id: &str,
        step: i64,
        task: i64,
        reviewer: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<JobTicketDetail> {
        let cur = self.get_job_ticket(tenant, id).await?;
        let a = cur
            .approvals
            .iter()
            .find(|a| a.step == step && a.task == task)
            .ok_or_else(|| {
                StoreError::not_found("approval", &format!("step {step} task {task}"))
            })?;
        if a.status != "pending" {
            return Err(coc_domain::DomainError::InvalidTransition(format!(
                "the approval of task '{}' is already {}",
                a.task_name, a.status
            ))
            .into());
        }
        let Some(Atom::Approval { reviewers, .. }) = cur
            .job
            .steps
            .get(step as usize)
            .and_then(|s| s.tasks.get(task as usize))
            .map(|t| &t.atom)
        else {
            return Err(StoreError::not_found("approval task", &task.to_string()));
        };
        if comment.is_some_and(|c| c.chars().count() > 1000) {
            return Err(
                coc_domain::error::invalid("the comment is longer than 1000 characters").into(),
            );
        }
        let facts = coc_domain::notify::IncidentFacts::not_an_incident("");
        let allowed = self
            .resolve_people(tenant, reviewers, &facts, self.now_utc())
            .await?;
        if !allowed.iter().any(|p| p == reviewer) {
            return Err(coc_domain::error::invalid(format!(
                "{reviewer} is not a reviewer of task '{}' (reviewers now: {})",
                a.task_name,
                if allowed.is_empty() {
                    "nobody".to_string()
                } else {
                    allowed.join(", ")
                }
            ))
            .into());
        }
        let mut tx = self.begin().await?;
        lock_ticket(&mut tx, &cur.ticket.id).await?;
        let n = sqlx::query(dynsql!(
            "UPDATE job_approvals SET status=$1, decided_by=$2, decided_at=$3, comment=$4 \
             WHERE ticket_id=$5 AND step=$6 AND task_idx=$7 AND status={}",
            sql_lit(Approval::Pending.as_str())
        ))
        .bind(
            if approve {
                Approval::Approved
            } else {
                Approval::Rejected
            }
            .as_str(),
        )
        .bind(reviewer)
        .bind(self.now())
        .bind(comment)
        .bind(&cur.ticket.id)
        .bind(step)
        .bind(task)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(
                "the approval was decided meanwhile; reload".into(),
            ));
        }
        tx.commit().await?;
        self.work.notify_one();
        self.get_job_ticket(tenant, &cur.ticket.id).await
    }
}

/// [`Store::finish_job_run`] inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn finish_job_run_in(
    conn: &mut sqlx::AnyConnection,
    run_id: &str,
    host_id: Option<&str>,
    status: TaskStatus,
    exit_code: Option<i64>,
    error: Option<&str>,
    output: Option<&str>,
    now: i64,
) -> Result<Option<String>> {
    let r = sqlx::query(dynsql!(
        "SELECT ticket_id, kind FROM job_runs WHERE id = $1 AND status = {} AND ($2 = '' OR host_id = $2)",
        sql_lit(RunStatus::Executing.as_str())
    ))
    .bind(run_id)
    .bind(host_id.unwrap_or(""))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = r else {
        return Ok(None);
    };
    let ticket: String = r.try_get("ticket_id")?;
    sqlx::query("UPDATE job_tickets SET updated_at = updated_at WHERE id = $1")
        .bind(&ticket)
        .execute(&mut *conn)
        .await?;
    let kind: String = r.try_get("kind")?;
    let n = if kind == "reboot" && status == TaskStatus::Successful {
        sqlx::query(dynsql!(
            "UPDATE job_runs SET phase = {}, output = 'reboot started; waiting for the host to come back\n' \
             WHERE id = $1 AND status = {}",
            sql_lit(jt::BOOTING),
            sql_lit(RunStatus::Executing.as_str())
        ))
        .bind(run_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    } else {
        sqlx::query(dynsql!(
            "UPDATE job_runs SET status=$1, exit_code=$2, error=$3, finished_at=$4, phase=NULL, \
             output = output || $5 WHERE id=$6 AND status={}",
            sql_lit(RunStatus::Executing.as_str())
        ))
        .bind(RunStatus::from_result(status).as_str())
        .bind(exit_code)
        .bind(error)
        .bind(now)
        .bind(output.unwrap_or(""))
        .bind(run_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    };
    Ok((n == 1).then_some(ticket))
}

/// [`Store::append_job_output`] inside the caller's transaction.
pub(crate) async fn append_job_output_in(
    conn: &mut sqlx::AnyConnection,
    run_id: &str,
    host_id: &str,
    chunk: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(dynsql!(
        "UPDATE job_runs SET output = output || $1 WHERE id = $2 AND host_id = $3 \
         AND status = {} AND LENGTH(output) < $4 RETURNING ticket_id",
        sql_lit(RunStatus::Executing.as_str())
    ))
    .bind(chunk)
    .bind(run_id)
    .bind(host_id)
    .bind(crate::ticket::MAX_OUTPUT_BYTES as i64)
    .fetch_optional(&mut *conn)
    .await?)
}
