//! Tickets (X2, X4, X7, X8; ref. 5.1.3, 5.2.4, 10.1): the one store module
//! that runs every ticket — job tickets and script tickets (one-step
//! jobs, [`crate::ticket`]). By concern:
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the shapes: requests, views, engine commands, row mapping, locks |
//! | [`create`] | creating a ticket and its rows |
//! | [`step`] | the engine step: load, let the domain decide, apply |
//! | [`results`] | agent and HTTP results, output, re-sending runs |
//! | [`query`] | reading tickets and lists |
//! | [`actions`] | operator actions and approvals |
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
use coc_proto::PatchAction;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::job::unreadable;
use crate::{Arg, Filter, Page, Paged, Result, Store, StoreError, sql_lit, sql_set};

pub use coc_domain::jobticket::RESULT_GRACE_S;

/// Targets, batches and threshold of one step in a job execution.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct StepPlan {
    /// Batch policy.
    pub batch_policy: BatchPolicy,
    /// Host ids per batch.
    pub batches: Vec<Vec<String>>,
    /// Threshold, tenths of a percent.
    pub threshold: Option<u16>,
}

/// What a job ticket keeps of a script it runs (the version at creation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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
    /// Ask a host's agent to replace itself with an agent build (R3).
    Upgrade {
        /// Run id.
        run_id: String,
        /// Host id.
        host_id: String,
        /// The build's version label.
        version: String,
        /// The build's SHA-256, hex.
        sha256: String,
        /// The build's size, bytes.
        size_bytes: u64,
        /// Seconds the new build has to connect.
        rollback_after_s: u64,
    },
    /// Ask a host's agent to scan or install packages (P2).
    Patch {
        /// Run id.
        run_id: String,
        /// Host id.
        host_id: String,
        /// What it does.
        action: coc_proto::PatchAction,
        /// Timeout, seconds.
        timeout_s: u64,
    },
    /// Stop a run on a host's agent.
    Cancel {
        /// Run id.
        run_id: String,
        /// Host id.
        host_id: String,
    },
    /// Ask a cloud provider to start, stop, reboot or rebuild a server
    /// and wait for its state (P4), reporting with
    /// [`Store::finish_job_run`].
    Cloud {
        /// Run id.
        run_id: String,
        /// The ticket's tenant.
        tenant: String,
        /// What to do.
        action: coc_domain::resource_op::power::PowerAction,
        /// The server.
        server: coc_domain::resource_op::power::CloudServerRef,
        /// The image of a rebuild (name or id).
        image: Option<String>,
        /// The key pair a rebuilt server takes, if one was chosen.
        key_pair: Option<String>,
        /// Longest wait for the server's state, seconds.
        wait_s: u32,
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
/// [`RUN_COLS`] without the runs' output (up to 64 KiB each), for states
/// that decide nothing from it.
const RUN_COLS_LEAN: &str = "id, job_host_id, host_id, step, task_idx, attempt, kind, status, phase, exit_code, \
    '' AS output, error, detail, wake_at, started_at, finished_at";

/// Whether [`Store::load_state`] reads the runs' output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outputs {
    /// Always (a ticket's detail, operator actions).
    All,
    /// Only when a step of the job decides from output (a condition
    /// atom); the engine step and re-sending commands need none otherwise.
    IfDecisive,
    /// Never (re-sending the commands of running runs).
    None,
}

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

pub mod actions;
pub mod create;
pub mod query;
pub mod results;
pub mod step;

pub(crate) use create::{CommonRun, Delegation, NewRows, insert_rows};
pub(crate) use results::{append_job_output_in, finish_job_run_in};
