//! The job-ticket engine's decisions (X4, X7, X8; ref. 5.2.4, 10.1.2):
//! given a ticket's state, `now` and what is known of its hosts, what
//! changes next. Pure: the store loads a [`TicketState`], calls [`step`],
//! [`action`] or [`cancel_host`], and applies the returned [`Change`]s in
//! one transaction; it then carries out the agent commands.
//!
//! A ticket runs its steps in order. In a step every host runs the step's
//! tasks in order, hosts start batch by batch under the step's suspension
//! threshold ([`crate::ticket::plan`]), and a failed task follows its
//! post-fault strategy ([`crate::job::after_task`]). The rules that make
//! a ticket's outcome honest:
//! - a ticket is `successful` only when every host completed every step;
//! - a retry re-runs every host that did not complete every step (failed,
//!   cancelled, held), from the earliest such step and from the task
//!   that did not complete.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::job::{Atom, HostNext, JobAction, JobTask, Otherwise, TargetMode, TaskEnd};
use crate::ticket::{TaskStatus, TaskView, Threshold, TicketStatus, plan};

/// Seconds after an agent task's timeout before the server gives up on
/// its result.
pub const RESULT_GRACE_S: i64 = 60;

/// Phase of a finished run that an operator's retry replaced: it no
/// longer counts as the host's run of its task.
pub const RETRIED: &str = "retried";

/// Phase of a reboot run whose reboot the agent started: the run ends
/// when the host is back with a new boot id.
pub const BOOTING: &str = "boot";
/// Run sub-state of a power operation's reboot through the agent (P4)
/// until the agent answers it; then [`BOOTING`].
pub const REBOOT_ASKED: &str = "reboot";
/// Run sub-state of a power operation through a cloud provider (P4).
pub const CLOUD: &str = "cloud";

/// State of one run (one task on one host, one attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started; its end is not known yet.
    Executing,
    /// It succeeded.
    Successful,
    /// It failed (non-zero exit, timeout, rejected approval, …).
    Failed,
    /// A condition did not hold; the host skips the rest of the step.
    Skipped,
    /// Cancelled by an operator or by the job stopping.
    Cancelled,
}

impl RunStatus {
    /// Every state, for status sets in queries.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Executing,
        RunStatus::Successful,
        RunStatus::Failed,
        RunStatus::Skipped,
        RunStatus::Cancelled,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Executing => "executing",
            RunStatus::Successful => "successful",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name. Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::Validation(format!("unknown run status '{s}'")))
    }

    /// The status a run takes from an agent's or HTTP call's result.
    pub fn from_result(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Successful => RunStatus::Successful,
            TaskStatus::Cancelled => RunStatus::Cancelled,
            _ => RunStatus::Failed,
        }
    }
}

/// One host in one step of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Job-host id (one per host and step).
    pub id: String,
    /// The resource's id.
    pub host_id: String,
    /// Step index, 0-based.
    pub step: usize,
    /// Batch index in the step, 0-based.
    pub batch: u32,
    /// State in the step.
    pub status: TaskStatus,
    /// Index of the task it runs or runs next.
    pub task_idx: usize,
    /// A task of the step failed on it (post-fault strategy `continue`).
    pub had_failure: bool,
    /// Held by a `pause` post-fault strategy until the operator decides.
    pub held: bool,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
}

/// One run: a task on a host, one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Run id (the dispatch's idempotency key).
    pub id: String,
    /// Its job-host id.
    pub job_host_id: String,
    /// The resource's id.
    pub host_id: String,
    /// Task index in the step.
    pub task_idx: usize,
    /// Attempt, from 1.
    pub attempt: u32,
    /// The atom's type name (`script`, `reboot`, …).
    pub kind: String,
    /// State.
    pub status: RunStatus,
    /// Sub-state: `agent`, [`BOOTING`], `sleep`, `approval`, `http`, or
    /// [`RETRIED`].
    pub phase: Option<String>,
    /// Output so far (conditions test it).
    pub output: String,
    /// For a reboot: the boot id before it; for an upgrade: the build
    /// (id) and rollback deadline it was sent with.
    pub detail: Option<String>,
    /// For a sleep: when it ends; for an upgrade: when the server stops
    /// waiting for its result; Unix ms.
    pub wake_at: Option<i64>,
    /// When it started, Unix ms.
    pub started_at: i64,
}

/// One step of the ticket as it runs: its tasks and threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    /// The job's tasks of this step.
    pub tasks: Vec<JobTask>,
    /// Suspension threshold.
    pub threshold: Option<Threshold>,
}

/// Everything the engine decides on, as loaded by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketState {
    /// Ticket status.
    pub status: TicketStatus,
    /// Index of the step running.
    pub current_step: usize,
    /// Same hosts in every step, or hosts per step.
    pub mode: TargetMode,
    /// Steps in order (at least one).
    pub steps: Vec<StepState>,
    /// Hosts of every step, by step and order.
    pub hosts: Vec<Host>,
    /// Every run of the ticket.
    pub runs: Vec<Run>,
}

stored_enum! {
    /// A reviewer's decision on an approval task.
    Approval {
        /// Not decided yet.
        Pending = "pending",
        /// Approved: the task succeeds.
        Approved = "approved",
        /// Rejected: the task fails.
        Rejected = "rejected",
    }
}

/// What is known outside the ticket when the engine decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Hosts (resource ids) whose agent is connected now.
    pub connected: BTreeSet<String>,
    /// Hosts' current boot ids, by resource id.
    pub boot_ids: BTreeMap<String, String>,
    /// Approvals of the current step, by task index.
    pub approvals: BTreeMap<usize, Approval>,
}

/// One change the store applies, in order, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// End an executing run.
    EndRun {
        /// Run id.
        run: String,
        /// Its end.
        status: RunStatus,
        /// Why, when it did not succeed.
        error: Option<String>,
    },
    /// Tell the run's agent to stop it (after it was ended `cancelled`).
    StopAgentRun {
        /// Run id.
        run: String,
        /// The resource's id.
        host_id: String,
    },
    /// Mark a host's finished runs from task `from` on as replaced by a
    /// retry.
    RetireRuns {
        /// Job-host id.
        host: String,
        /// First task index retired.
        from: usize,
    },
    /// Write a host's new state.
    Host(Host),
    /// Start a run of the host's current task.
    Start {
        /// Job-host id.
        host: String,
        /// Task index.
        task_idx: usize,
        /// Attempt, from 1.
        attempt: u32,
        /// For a task decided at once (a condition): its end and output.
        immediate: Option<(RunStatus, String)>,
    },
    /// Write the ticket's status, current step and reason (`None` keeps
    /// the reason).
    Ticket {
        /// New status.
        status: TicketStatus,
        /// Current step.
        step: usize,
        /// Why (shown on the ticket).
        reason: Option<String>,
    },
    /// The ticket finished: record its outcome (e.g. on its incident).
    Finished {
        /// `successful` or `failed`.
        status: TicketStatus,
        /// Host steps that succeeded.
        successful: usize,
        /// Host steps in all.
        total: usize,
    },
}

impl TicketState {
    /// The latest run (not replaced by a retry) of host `h` for its
    /// current task.
    pub fn current_run(&self, h: &Host) -> Option<&Run> {
        self.runs
            .iter()
            .filter(|r| {
                r.job_host_id == h.id
                    && r.task_idx == h.task_idx
                    && r.phase.as_deref() != Some(RETRIED)
            })
            .max_by_key(|r| r.attempt)
    }

    /// The host of the current step with job-host id or resource id
    /// `host`.
    pub fn current_host(&self, host: &str) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.step == self.current_step && (h.id == host || h.host_id == host))
    }

    /// Whether every host completed every step.
    pub fn all_completed(&self) -> bool {
        self.hosts
            .iter()
            .all(|h| h.status == TaskStatus::Successful)
    }

    /// Hosts a retry runs again: failed, cancelled or held, in the current
    /// step or a later one (indexes into `hosts`). Hosts of earlier steps
    /// that did not complete count too.
    pub fn retry_targets(&self) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&i| {
                let h = &self.hosts[i];
                h.held || matches!(h.status, TaskStatus::Failed | TaskStatus::Cancelled)
            })
            .collect()
    }

    fn finished(&self, status: TicketStatus) -> Change {
        Change::Finished {
            status,
            successful: self
                .hosts
                .iter()
                .filter(|h| h.status == TaskStatus::Successful)
                .count(),
            total: self.hosts.len(),
        }
    }

    fn set_host(&mut self, out: &mut Vec<Change>, h: Host) {
        if let Some(x) = self.hosts.iter_mut().find(|x| x.id == h.id) {
            *x = h.clone();
        }
        out.push(Change::Host(h));
    }

    fn end_run(
        &mut self,
        out: &mut Vec<Change>,
        run: &str,
        status: RunStatus,
        error: Option<String>,
    ) {
        if let Some(r) = self.runs.iter_mut().find(|r| r.id == run) {
            r.status = status;
            r.phase = None;
        }
        out.push(Change::EndRun {
            run: run.to_string(),
            status,
            error,
        });
    }

    /// Cancels every unfinished host of `steps` and its running runs.
    fn cancel(
        &mut self,
        out: &mut Vec<Change>,
        steps: std::ops::RangeInclusive<usize>,
        why: &str,
        only: Option<&str>,
    ) {
        let hosts: Vec<Host> = self
            .hosts
            .iter()
            .filter(|h| steps.contains(&h.step) && !h.status.is_done())
            .filter(|h| only.is_none_or(|o| o == h.id))
            .cloned()
            .collect();
        for h in hosts {
            let running: Vec<Run> = self
                .runs
                .iter()
                .filter(|r| r.job_host_id == h.id && r.status == RunStatus::Executing)
                .cloned()
                .collect();
            for r in running {
                self.end_run(out, &r.id, RunStatus::Cancelled, Some(why.to_string()));
                if r.kind == "script" {
                    out.push(Change::StopAgentRun {
                        run: r.id.clone(),
                        host_id: r.host_id.clone(),
                    });
                }
            }
            let mut h = h;
            h.status = TaskStatus::Cancelled;
            h.held = false;
            h.error = Some(why.to_string());
            self.set_host(out, h);
        }
    }
}

/// How a reboot's run ends: successful once the host is connected again
/// with another boot id than before (kept in the run's detail), failed
/// after `wait_s` seconds.
fn rebooted(
    run: &Run,
    now: i64,
    facts: &HostFacts,
    wait_s: u32,
) -> Option<(RunStatus, Option<String>)> {
    let before = run.detail.clone().unwrap_or_default();
    let booted = run.phase.as_deref() == Some(BOOTING)
        && facts.connected.contains(&run.host_id)
        && facts
            .boot_ids
            .get(&run.host_id)
            .is_some_and(|b| *b != before);
    if booted {
        Some((RunStatus::Successful, None))
    } else if now - run.started_at > i64::from(wait_s) * 1000 {
        Some((
            RunStatus::Failed,
            Some(format!("the host did not come back within {wait_s} s")),
        ))
    } else {
        None
    }
}

/// How an executing run ends by time, approval or the host coming back,
/// if it does at `now`.
fn run_outcome(
    task: &JobTask,
    run: &Run,
    now: i64,
    facts: &HostFacts,
) -> Option<(RunStatus, Option<String>)> {
    let ms = |s: i64| s * 1000;
    match &task.atom {
        Atom::Sleep { .. } => run
            .wake_at
            .filter(|w| *w <= now)
            .map(|_| (RunStatus::Successful, None)),
        Atom::Approval { .. } => match facts.approvals.get(&run.task_idx) {
            Some(Approval::Approved) => Some((RunStatus::Successful, None)),
            Some(Approval::Rejected) => {
                Some((RunStatus::Failed, Some("the approval was rejected".into())))
            }
            _ => None,
        },
        Atom::Reboot { wait_s, .. } => rebooted(run, now, facts, *wait_s),
        // A reboot through the agent ends as a reboot does; a provider's
        // or the agent's result comes within the wait.
        Atom::HostPower { wait_s, .. } if run.phase.as_deref() == Some(BOOTING) => {
            rebooted(run, now, facts, *wait_s)
        }
        Atom::HostPower { wait_s, .. } => {
            (now - run.started_at > ms(i64::from(*wait_s) + RESULT_GRACE_S)).then(|| {
                (
                    RunStatus::Failed,
                    Some(format!(
                        "the host did not reach its state within {wait_s} s"
                    )),
                )
            })
        }
        // Its result comes from the agent (the new build once connected,
        // or the old one after a rollback); `wake_at` is the last moment
        // one can come.
        Atom::Upgrade { .. } => run.wake_at.filter(|w| now > *w).map(|_| {
            (
                RunStatus::Failed,
                Some("no result from the agent: the upgrade did not finish in time".to_string()),
            )
        }),
        Atom::PatchScan { .. } | Atom::PatchRepair { .. } | Atom::PatchRollback { .. } => {
            let t = i64::from(task.atom.patch_timeout_s().unwrap_or_default());
            (now - run.started_at > ms(t + RESULT_GRACE_S)).then(|| {
                (
                    RunStatus::Failed,
                    Some("no result from the agent within the timeout".to_string()),
                )
            })
        }
        Atom::Script { timeout_s, .. } => {
            let t = i64::from(timeout_s.unwrap_or(crate::script::DEFAULT_TIMEOUT_S));
            (now - run.started_at > ms(t + RESULT_GRACE_S)).then(|| {
                (
                    RunStatus::Failed,
                    Some("no result from the agent within the timeout".to_string()),
                )
            })
        }
        Atom::Http { timeout_s, .. } => {
            (now - run.started_at > ms(i64::from(*timeout_s) + RESULT_GRACE_S)).then(|| {
                (
                    RunStatus::Failed,
                    Some("the HTTP call did not complete".to_string()),
                )
            })
        }
        Atom::Condition { .. } => None,
    }
}

/// One engine step of a ticket at `now` (Unix ms): ends runs by time,
/// approval or reboot; moves hosts on by their post-fault strategies;
/// applies the step's batch planner and suspension threshold; moves to
/// the next step or finishes; and starts the runs that start now.
/// Calling it again with the state after its changes changes nothing
/// more until time passes or a result arrives.
pub fn step(st: &TicketState, now: i64, facts: &HostFacts) -> Vec<Change> {
    let mut st = st.clone();
    let mut out = Vec::new();
    if st.status.is_terminal() {
        return out;
    }
    let step = st.current_step;
    let last = st.steps.len() - 1;
    let tasks = st.steps[step].tasks.clone();
    // 1. Runs that end by time, approval or the host coming back.
    let ending: Vec<(String, RunStatus, Option<String>)> = st
        .hosts
        .iter()
        .filter(|h| h.step == step && h.status == TaskStatus::Executing)
        .filter_map(|h| st.current_run(h))
        .filter(|r| r.status == RunStatus::Executing)
        .filter_map(|r| {
            run_outcome(&tasks[r.task_idx], r, now, facts).map(|(s, e)| (r.id.clone(), s, e))
        })
        .collect();
    for (run, status, error) in ending {
        st.end_run(&mut out, &run, status, error);
    }
    // 2. Hosts whose current run ended move on.
    let mut stop_reason: Option<String> = None;
    let mut pause_reason: Option<String> = None;
    for i in 0..st.hosts.len() {
        let h = st.hosts[i].clone();
        if h.step != step || h.status != TaskStatus::Executing || h.held {
            continue;
        }
        let Some(run) = st.current_run(&h).cloned() else {
            continue;
        };
        let end = match run.status {
            RunStatus::Successful => TaskEnd::Ok,
            RunStatus::Skipped => TaskEnd::SkipStep,
            RunStatus::Failed => TaskEnd::Failed,
            RunStatus::Cancelled => {
                let mut h = h.clone();
                h.status = TaskStatus::Cancelled;
                h.error = h.error.or(Some("cancelled".into()));
                st.set_host(&mut out, h);
                continue;
            }
            RunStatus::Executing => continue,
        };
        let mut nh = h.clone();
        let task_name = &tasks[h.task_idx].name;
        match crate::job::after_task(&tasks, h.task_idx, end, h.had_failure) {
            HostNext::Run(n) => {
                nh.task_idx = n;
                nh.had_failure |= end == TaskEnd::Failed;
            }
            HostNext::Done { failed } => {
                nh.status = if failed {
                    TaskStatus::Failed
                } else {
                    TaskStatus::Successful
                };
                nh.had_failure = failed;
                if end == TaskEnd::Failed {
                    nh.error = Some(format!("task '{task_name}' failed"));
                } else if failed && nh.error.is_none() {
                    nh.error = Some("an earlier task of the step failed".into());
                }
            }
            HostNext::StopJob => {
                nh.status = TaskStatus::Failed;
                nh.had_failure = true;
                nh.error = Some(format!("task '{task_name}' failed"));
                stop_reason.get_or_insert(format!(
                    "task '{task_name}' failed on host {}; its post-fault strategy stops the job",
                    h.host_id
                ));
            }
            HostNext::Pause => {
                nh.held = true;
                nh.had_failure = true;
                nh.error = Some(format!("task '{task_name}' failed"));
                pause_reason.get_or_insert(format!(
                    "task '{task_name}' failed on host {}; its post-fault strategy pauses the job: \
                     continue, retry the failed hosts, or forcibly end",
                    h.host_id
                ));
            }
        }
        st.set_host(&mut out, nh);
    }
    if let Some(why) = stop_reason {
        st.cancel(&mut out, step..=last, &why, None);
        out.push(Change::Ticket {
            status: TicketStatus::Failed,
            step,
            reason: Some(why),
        });
        out.push(st.finished(TicketStatus::Failed));
        return out;
    }
    if let Some(why) = pause_reason
        && st.status == TicketStatus::Executing
    {
        out.push(Change::Ticket {
            status: TicketStatus::Paused,
            step,
            reason: Some(why),
        });
        st.status = TicketStatus::Paused;
    }
    // 3. The step's batch planner and threshold.
    let idx: Vec<usize> = (0..st.hosts.len())
        .filter(|&i| st.hosts[i].step == step)
        .collect();
    let views: Vec<TaskView> = idx
        .iter()
        .map(|&i| TaskView {
            batch: st.hosts[i].batch,
            status: st.hosts[i].status,
        })
        .collect();
    let threshold = st.steps[step].threshold;
    let p = plan(st.status, &views, threshold);
    match p.status {
        TicketStatus::Abnormal if st.status != TicketStatus::Abnormal => {
            out.push(Change::Ticket {
                status: TicketStatus::Abnormal,
                step,
                reason: Some(format!(
                    "step {} reached its suspension threshold ({} %); only forcibly end or retry the failed hosts",
                    step + 1,
                    threshold.map(|t| t.percent()).unwrap_or_default()
                )),
            });
            return out;
        }
        TicketStatus::Successful | TicketStatus::Failed => {
            // The step is over.
            if step < last {
                let next = step + 1;
                if st.mode == TargetMode::Consistent {
                    let out_hosts: Vec<Host> = st
                        .hosts
                        .iter()
                        .filter(|h| {
                            h.step == next
                                && !h.status.is_done()
                                && st.hosts.iter().any(|e| {
                                    e.step < next
                                        && e.host_id == h.host_id
                                        && matches!(
                                            e.status,
                                            TaskStatus::Failed | TaskStatus::Cancelled
                                        )
                                })
                        })
                        .cloned()
                        .collect();
                    for mut h in out_hosts {
                        h.status = TaskStatus::Cancelled;
                        h.error = Some("skipped: failed or cancelled in an earlier step".into());
                        st.set_host(&mut out, h);
                    }
                }
                out.push(Change::Ticket {
                    status: st.status,
                    step: next,
                    reason: None,
                });
                return out;
            }
            let end = if st.all_completed() {
                TicketStatus::Successful
            } else {
                TicketStatus::Failed
            };
            out.push(Change::Ticket {
                status: end,
                step,
                reason: (end == TicketStatus::Failed
                    && !st.hosts.iter().any(|h| h.status == TaskStatus::Failed))
                .then(|| "not every host completed every step (some were cancelled)".to_string()),
            });
            out.push(st.finished(end));
            return out;
        }
        _ => {}
    }
    if st.status != TicketStatus::Executing {
        return out;
    }
    for &k in &p.start {
        let mut h = st.hosts[idx[k]].clone();
        h.status = TaskStatus::Executing;
        st.set_host(&mut out, h);
    }
    // 4. Runs that start now.
    for &i in &idx {
        let h = st.hosts[i].clone();
        if h.status != TaskStatus::Executing || h.held || st.current_run(&h).is_some() {
            // Running, or ended this very step (e.g. cancelled): the next
            // step handles it.
            continue;
        }
        let task = &tasks[h.task_idx];
        let attempt = st
            .runs
            .iter()
            .filter(|r| r.job_host_id == h.id && r.task_idx == h.task_idx)
            .count() as u32
            + 1;
        let immediate = match &task.atom {
            Atom::Condition {
                task: tname,
                pattern,
                negate,
                otherwise,
            } => {
                let ti = tasks.iter().position(|t| &t.name == tname).unwrap_or(0);
                let earlier = st
                    .runs
                    .iter()
                    .filter(|r| r.job_host_id == h.id && r.task_idx == ti)
                    .max_by_key(|r| r.attempt)
                    .map(|r| r.output.as_str())
                    .unwrap_or("");
                let holds = crate::job::condition_holds(pattern, *negate, earlier);
                let output = format!(
                    "condition on '{tname}' /{pattern}/{}: {}",
                    if *negate { " (negated)" } else { "" },
                    if holds { "holds" } else { "does not hold" }
                );
                let status = match (holds, otherwise) {
                    (true, _) => RunStatus::Successful,
                    (false, Otherwise::SkipStep) => RunStatus::Skipped,
                    (false, Otherwise::Fail) => RunStatus::Failed,
                };
                Some((status, output))
            }
            _ => None,
        };
        out.push(Change::Start {
            host: h.id.clone(),
            task_idx: h.task_idx,
            attempt,
            immediate,
        });
    }
    out
}

/// The changes an operator's `action` makes (ref. 10.1.2), by `actor`.
///
/// Errors: [`DomainError::InvalidTransition`] when the action is not
/// allowed in the ticket's state (e.g. a retry with nothing to retry).
pub fn action(
    st: &TicketState,
    action: JobAction,
    actor: &str,
) -> Result<Vec<Change>, DomainError> {
    let mut st = st.clone();
    let targets = st.retry_targets();
    let next = crate::job::apply_job_action(st.status, action, !targets.is_empty())?;
    let mut out = Vec::new();
    let step = st.current_step;
    let last = st.steps.len() - 1;
    let mut to_step = step;
    let reason = match action {
        JobAction::Pause => format!("paused by {actor}"),
        JobAction::Continue => {
            let n = st.steps[step].tasks.len();
            let held: Vec<Host> = st
                .hosts
                .iter()
                .filter(|h| h.step == step && h.held)
                .cloned()
                .collect();
            for mut h in held {
                h.held = false;
                if h.task_idx + 1 < n {
                    h.task_idx += 1;
                } else {
                    h.status = TaskStatus::Failed;
                }
                st.set_host(&mut out, h);
            }
            format!("continued by {actor}")
        }
        JobAction::ForciblyEnd => {
            let why = format!("forcibly ended by {actor}");
            st.cancel(&mut out, step..=last, &why, None);
            why
        }
        JobAction::TerminateAll => {
            let why = format!(
                "every batch of step {} terminated by {actor}; continue to go on with the next step, or forcibly end",
                step + 1
            );
            st.cancel(&mut out, step..=step, &why, None);
            why
        }
        JobAction::RetryFailed => {
            to_step = targets
                .iter()
                .map(|&i| st.hosts[i].step)
                .min()
                .unwrap_or(step);
            for &i in &targets {
                let h = st.hosts[i].clone();
                let from = retry_from(&st, &h);
                out.push(Change::RetireRuns {
                    host: h.id.clone(),
                    from,
                });
                for r in st.runs.iter_mut().filter(|r| {
                    r.job_host_id == h.id && r.task_idx >= from && r.status != RunStatus::Executing
                }) {
                    r.phase = Some(RETRIED.into());
                }
                st.set_host(
                    &mut out,
                    Host {
                        status: TaskStatus::Pending,
                        held: false,
                        had_failure: false,
                        error: None,
                        task_idx: from,
                        ..h
                    },
                );
            }
            format!(
                "{} host step(s) that did not complete retried by {actor}, from step {}",
                targets.len(),
                to_step + 1
            )
        }
    };
    out.push(Change::Ticket {
        status: next,
        step: to_step,
        reason: Some(reason),
    });
    Ok(out)
}

/// The task a retried host runs again from: the first whose latest run
/// did not succeed, else the task it stopped at.
fn retry_from(st: &TicketState, h: &Host) -> usize {
    let mut latest: BTreeMap<usize, &Run> = BTreeMap::new();
    for r in st
        .runs
        .iter()
        .filter(|r| r.job_host_id == h.id && r.phase.as_deref() != Some(RETRIED))
    {
        if latest
            .get(&r.task_idx)
            .is_none_or(|x| x.attempt < r.attempt)
        {
            latest.insert(r.task_idx, r);
        }
    }
    latest
        .values()
        .find(|r| matches!(r.status, RunStatus::Failed | RunStatus::Cancelled))
        .map(|r| r.task_idx)
        .unwrap_or(h.task_idx)
        .min(h.task_idx)
}

/// The changes cancelling host `job_host` (a job-host id of the current
/// step, see [`TicketState::current_host`]) makes, by `actor` (ref.
/// 10.1.2 "Cancel").
///
/// Errors: [`DomainError::InvalidTransition`] when the host or the ticket
/// is already finished, or the host is not in the current step.
pub fn cancel_host(
    st: &TicketState,
    job_host: &str,
    actor: &str,
) -> Result<Vec<Change>, DomainError> {
    let mut st = st.clone();
    let step = st.current_step;
    let Some(h) = st.hosts.iter().find(|h| h.id == job_host).cloned() else {
        return Err(DomainError::InvalidTransition(format!(
            "host '{job_host}' is not in this job ticket"
        )));
    };
    if st.status.is_terminal() || h.status.is_done() || h.step != step {
        return Err(DomainError::InvalidTransition(format!(
            "cannot cancel a host that is {} in step {} of a job ticket that is {} at step {}",
            h.status.as_str(),
            h.step + 1,
            st.status.as_str(),
            step + 1
        )));
    }
    let mut out = Vec::new();
    st.cancel(
        &mut out,
        step..=step,
        &format!("cancelled by {actor}"),
        Some(&h.id),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::PostFault;
    use proptest::prelude::*;

    fn script_task(name: &str, on_failure: PostFault) -> JobTask {
        JobTask {
            name: name.into(),
            description: String::new(),
            atom: Atom::Script {
                script: "s".into(),
                params: BTreeMap::new(),
                run_as: None,
                timeout_s: Some(10),
            },
            on_failure,
        }
    }

    /// A ticket of `steps` steps of `tasks` script tasks each, on `hosts`
    /// hosts in consistent mode, with the given batches of host indexes.
    fn ticket(steps: usize, tasks: usize, batches: &[Vec<usize>], pf: PostFault) -> TicketState {
        let mut hosts = Vec::new();
        for s in 0..steps {
            for (b, batch) in batches.iter().enumerate() {
                for &h in batch {
                    hosts.push(Host {
                        id: format!("s{s}h{h}"),
                        host_id: format!("h{h}"),
                        step: s,
                        batch: b as u32,
                        status: TaskStatus::Pending,
                        task_idx: 0,
                        had_failure: false,
                        held: false,
                        error: None,
                    });
                }
            }
        }
        TicketState {
            status: TicketStatus::Executing,
            current_step: 0,
            mode: TargetMode::Consistent,
            steps: (0..steps)
                .map(|_| StepState {
                    tasks: (0..tasks)
                        .map(|t| script_task(&format!("t{t}"), pf))
                        .collect(),
                    threshold: None,
                })
                .collect(),
            hosts,
            runs: Vec::new(),
        }
    }

    /// Applies changes as the store does; returns the runs started.
    fn apply(st: &mut TicketState, changes: &[Change], now: i64) -> Vec<String> {
        let mut started = Vec::new();
        for c in changes {
            match c {
                Change::EndRun { run, status, .. } => {
                    let r = st.runs.iter_mut().find(|r| r.id == *run).unwrap();
                    assert_eq!(r.status, RunStatus::Executing, "only executing runs end");
                    r.status = *status;
                    r.phase = None;
                }
                Change::StopAgentRun { .. } | Change::Finished { .. } => {}
                Change::RetireRuns { host, from } => {
                    for r in st.runs.iter_mut().filter(|r| {
                        r.job_host_id == *host
                            && r.task_idx >= *from
                            && r.status != RunStatus::Executing
                    }) {
                        r.phase = Some(RETRIED.into());
                    }
                }
                Change::Host(h) => {
                    *st.hosts.iter_mut().find(|x| x.id == h.id).unwrap() = h.clone();
                }
                Change::Start {
                    host,
                    task_idx,
                    attempt,
                    immediate,
                } => {
                    let h = st.hosts.iter().find(|x| x.id == *host).unwrap().clone();
                    assert_eq!(h.status, TaskStatus::Executing);
                    assert_eq!(
                        h.step, st.current_step,
                        "runs start in the current step only"
                    );
                    assert!(
                        !st.runs
                            .iter()
                            .any(|r| r.job_host_id == h.id && r.status == RunStatus::Executing),
                        "a host never has two runs at once"
                    );
                    let id = format!("run{}", st.runs.len());
                    st.runs.push(Run {
                        id: id.clone(),
                        job_host_id: h.id.clone(),
                        host_id: h.host_id.clone(),
                        task_idx: *task_idx,
                        attempt: *attempt,
                        kind: "script".into(),
                        status: immediate.as_ref().map_or(RunStatus::Executing, |i| i.0),
                        phase: Some("agent".into()),
                        output: String::new(),
                        detail: None,
                        wake_at: None,
                        started_at: now,
                    });
                    started.push(id);
                }
                Change::Ticket { status, step, .. } => {
                    st.status = *status;
                    st.current_step = *step;
                }
            }
        }
        started
    }

    /// Steps until nothing changes; returns the runs started.
    fn settle(st: &mut TicketState, now: i64) -> Vec<String> {
        let mut all = Vec::new();
        for _ in 0..20 {
            let c = step(st, now, &HostFacts::default());
            if c.is_empty() {
                return all;
            }
            all.extend(apply(st, &c, now));
        }
        panic!("the engine did not settle: {st:#?}");
    }

    fn result(st: &mut TicketState, run: &str, status: RunStatus) {
        let r = st.runs.iter_mut().find(|r| r.id == run).unwrap();
        if r.status == RunStatus::Executing {
            r.status = status;
        }
    }

    fn host_of(st: &TicketState, run: &str) -> String {
        st.runs
            .iter()
            .find(|r| r.id == run)
            .unwrap()
            .host_id
            .clone()
    }

    #[test]
    fn the_retry_defect_h2_fails_h3_is_cancelled_then_all_complete() {
        let mut st = ticket(2, 1, &[vec![1], vec![2, 3]], PostFault::Stop);
        let b1 = settle(&mut st, 0);
        assert_eq!(
            b1.iter().map(|r| host_of(&st, r)).collect::<Vec<_>>(),
            ["h1"]
        );
        result(&mut st, &b1[0], RunStatus::Successful);
        let b2 = settle(&mut st, 0);
        assert_eq!(b2.len(), 2);
        let (h2, h3) = (b2[0].clone(), b2[1].clone());
        result(&mut st, &h2, RunStatus::Failed);
        let c = step(&st, 0, &HostFacts::default());
        assert!(c.contains(&Change::StopAgentRun {
            run: h3.clone(),
            host_id: "h3".into()
        }));
        apply(&mut st, &c, 0);
        assert_eq!(st.status, TicketStatus::Failed);
        // Retry: from step 1, H2 and H3 only; then all three in step 2.
        let c = action(&st, JobAction::RetryFailed, "op").unwrap();
        apply(&mut st, &c, 0);
        assert_eq!((st.status, st.current_step), (TicketStatus::Executing, 0));
        let r = settle(&mut st, 0);
        let mut on: Vec<String> = r.iter().map(|x| host_of(&st, x)).collect();
        on.sort();
        assert_eq!(on, ["h2", "h3"]);
        for x in &r {
            result(&mut st, x, RunStatus::Successful);
        }
        let mut step2 = Vec::new();
        for _ in 0..2 {
            for x in settle(&mut st, 0) {
                step2.push(host_of(&st, &x));
                result(&mut st, &x, RunStatus::Successful);
            }
        }
        step2.sort();
        assert_eq!(step2, ["h1", "h2", "h3"]);
        settle(&mut st, 0);
        assert_eq!(st.status, TicketStatus::Successful);
    }

    #[test]
    fn cancelled_hosts_make_a_ticket_fail_even_without_a_failed_task() {
        let mut st = ticket(1, 1, &[vec![1, 2]], PostFault::Stop);
        let r = settle(&mut st, 0);
        let c = cancel_host(&st, "s0h2", "op").unwrap();
        apply(&mut st, &c, 0);
        result(&mut st, &r[0], RunStatus::Successful);
        let c = step(&st, 0, &HostFacts::default());
        assert!(c.contains(&Change::Finished {
            status: TicketStatus::Failed,
            successful: 1,
            total: 2
        }));
        apply(&mut st, &c, 0);
        assert_eq!(st.status, TicketStatus::Failed);
        assert!(cancel_host(&st, "s0h1", "op").is_err(), "already done");
    }

    #[test]
    fn runs_end_by_time_approval_and_reboot() {
        let mut st = ticket(1, 1, &[vec![1]], PostFault::Stop);
        let r = settle(&mut st, 0);
        // A script's result that never comes fails after its timeout and the grace.
        assert!(step(&st, (10 + RESULT_GRACE_S) * 1000, &HostFacts::default()).is_empty());
        let c = step(&st, (10 + RESULT_GRACE_S) * 1000 + 1, &HostFacts::default());
        assert!(
            matches!(&c[0], Change::EndRun { run, status: RunStatus::Failed, .. } if *run == r[0])
        );
        // A reboot is over when the host is back with a new boot id.
        st.steps[0].tasks[0].atom = Atom::Reboot {
            wait_s: 600,
            if_required: false,
        };
        let run = st.runs.iter_mut().find(|x| x.id == r[0]).unwrap();
        run.detail = Some("boot-1".into());
        run.phase = Some(BOOTING.into());
        let mut facts = HostFacts::default();
        facts.boot_ids.insert("h1".into(), "boot-1".into());
        facts.connected.insert("h1".into());
        assert!(
            step(&st, 1000, &facts).is_empty(),
            "same boot: still rebooting"
        );
        facts.boot_ids.insert("h1".into(), "boot-2".into());
        assert!(matches!(
            &step(&st, 1000, &facts)[0],
            Change::EndRun {
                status: RunStatus::Successful,
                ..
            }
        ));
        facts.connected.clear();
        assert!(step(&st, 1000, &facts).is_empty(), "not connected yet");
        assert!(matches!(
            &step(&st, 600_001, &facts)[0],
            Change::EndRun {
                status: RunStatus::Failed,
                ..
            }
        ));
        // An approval ends with the reviewer's decision.
        st.steps[0].tasks[0].atom = Atom::Approval {
            reviewers: vec![],
            channels: vec![],
        };
        facts.approvals.insert(0, Approval::Pending);
        assert!(step(&st, 1000, &facts).is_empty());
        facts.approvals.insert(0, Approval::Rejected);
        assert!(matches!(
            &step(&st, 1000, &facts)[0],
            Change::EndRun {
                status: RunStatus::Failed,
                ..
            }
        ));
    }

    #[test]
    fn pause_strategy_holds_the_host_and_continue_moves_it_on() {
        let mut st = ticket(1, 2, &[vec![1, 2]], PostFault::Pause);
        let r = settle(&mut st, 0);
        result(&mut st, &r[0], RunStatus::Failed);
        settle(&mut st, 0);
        assert_eq!(st.status, TicketStatus::Paused);
        assert!(st.hosts[0].held);
        assert!(action(&st, JobAction::Pause, "op").is_err());
        let c = action(&st, JobAction::Continue, "op").unwrap();
        apply(&mut st, &c, 0);
        assert_eq!((st.hosts[0].task_idx, st.hosts[0].held), (1, false));
        let next = settle(&mut st, 0);
        assert!(next.iter().any(|x| host_of(&st, x) == "h1"));
    }

    /// What happens to one run when its result comes.
    #[derive(Debug, Clone, Copy)]
    enum Event {
        Ok,
        Fail,
        Cancel,
        Retry,
        Terminate,
        Continue,
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            6 => Just(Event::Ok),
            2 => Just(Event::Fail),
            1 => Just(Event::Cancel),
            1 => Just(Event::Retry),
            1 => Just(Event::Terminate),
            1 => Just(Event::Continue),
        ]
    }

    fn post_fault() -> impl Strategy<Value = PostFault> {
        prop_oneof![
            Just(PostFault::Stop),
            Just(PostFault::Continue),
            Just(PostFault::Pause)
        ]
    }

    proptest! {
        /// Whatever results and operator actions come, a ticket is
        /// successful only when every host completed every step; a host
        /// never runs two tasks at once, runs start only in the current
        /// step, and a retry leaves no host behind.
        #[test]
        fn success_means_every_host_completed_every_step(
            steps in 1usize..4,
            tasks in 1usize..3,
            nhosts in 1usize..5,
            pf in post_fault(),
            events in proptest::collection::vec(event(), 0..60),
        ) {
            let batches: Vec<Vec<usize>> = (0..nhosts).map(|h| vec![h]).collect();
            let mut st = ticket(steps, tasks, &batches, pf);
            settle(&mut st, 0);
            for e in events {
                let running: Vec<String> = st.runs.iter().filter(|r| r.status == RunStatus::Executing).map(|r| r.id.clone()).collect();
                match (e, running.first()) {
                    (Event::Ok, Some(r)) => result(&mut st, r, RunStatus::Successful),
                    (Event::Fail, Some(r)) => result(&mut st, r, RunStatus::Failed),
                    (Event::Cancel, _) => {
                        if let Some(h) = st.hosts.iter().find(|h| h.step == st.current_step && !h.status.is_done()).cloned() {
                            let c = cancel_host(&st, &h.id, "op").unwrap();
                            apply(&mut st, &c, 0);
                        }
                    }
                    (Event::Retry, _) => {
                        if let Ok(c) = action(&st, JobAction::RetryFailed, "op") {
                            apply(&mut st, &c, 0);
                            for h in &st.hosts {
                                prop_assert!(h.status == TaskStatus::Successful || h.status == TaskStatus::Pending || h.status == TaskStatus::Executing);
                            }
                        }
                    }
                    (Event::Terminate, _) => {
                        if let Ok(c) = action(&st, JobAction::TerminateAll, "op") {
                            apply(&mut st, &c, 0);
                        }
                    }
                    (Event::Continue, _) => {
                        if let Ok(c) = action(&st, JobAction::Continue, "op") {
                            apply(&mut st, &c, 0);
                        }
                    }
                    _ => {}
                }
                settle(&mut st, 0);
                if st.status == TicketStatus::Successful {
                    prop_assert!(st.all_completed(), "{:#?}", st);
                }
            }
            // Driven to the end with every run succeeding and every
            // retry taken, the ticket always completes.
            for _ in 0..200 {
                if st.status == TicketStatus::Successful { break; }
                let running: Vec<String> = st.runs.iter().filter(|r| r.status == RunStatus::Executing).map(|r| r.id.clone()).collect();
                for r in &running {
                    result(&mut st, r, RunStatus::Successful);
                }
                if running.is_empty() {
                    for a in [JobAction::Continue, JobAction::RetryFailed] {
                        if let Ok(c) = action(&st, a, "op") {
                            apply(&mut st, &c, 0);
                        }
                    }
                }
                settle(&mut st, 0);
            }
            prop_assert_eq!(st.status, TicketStatus::Successful, "{:#?}", st);
            prop_assert!(st.all_completed());
        }
    }
}
