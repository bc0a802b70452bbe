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

/// State of one run (one task on one host, one attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// For a reboot: the boot id before it.
    pub detail: Option<String>,
    /// For a sleep: when it ends, Unix ms.
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

/// A reviewer's decision on an approval task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Not decided yet.
    Pending,
    /// Approved: the task succeeds.
    Approved,
    /// Rejected: the task fails.
    Rejected,
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
        Atom::Reboot { wait_s } => {
            let before = run.detail.clone().unwrap_or_default();
            let booted = run.phase.as_deref() == Some(BOOTING)
                && facts.connected.contains(&run.host_id)
                && facts
                    .boot_ids
                    .get(&run.host_id)
                    .is_some_and(|b| *b != before);
            if booted {
                Some((RunStatus::Successful, None))
            } else if now - run.started_at > ms(i64::from(*wait_s)) {
                Some((
                    RunStatus::Failed,
                    Some(format!("the host did not come back within {wait_s} s")),
                ))
            } else {
                None
            }
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
