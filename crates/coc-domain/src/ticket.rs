//! Script tickets (X2, X7; ref. 5.1.3 and 10.1.1): batch planning, the
//! suspension threshold, and the pure planner that decides which host tasks
//! start next.
//!
//! ## Suspension arithmetic
//! The threshold is a success rate with one decimal, held as tenths of a
//! percent (`955` = 95.5 %). For a ticket of `n` hosts the *breaking count*
//! is the smallest number of failures `f` for which the success rate can no
//! longer reach the threshold: `(n - f) / n < t`, i.e.
//! `f = floor(n * (1000 - t) / 1000) + 1`. When failures reach it the ticket
//! becomes `abnormal` and no further host starts.
//!
//! No overshoot: a host is only started while `failed + executing + 1 ≤
//! breaking count`, so even if every host in flight fails the ticket stops
//! exactly at the breaking count, never beyond it.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// How hosts are split into batches (ref. 5.1.3 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchPolicy {
    /// Growing batches: 1, 2, 4, … hosts, at most [`AUTO_MAX_BATCH`] each.
    #[default]
    Auto,
    /// The operator's own batches.
    Manual,
    /// All hosts in one batch.
    None,
}

/// Largest batch the automatic policy makes.
pub const AUTO_MAX_BATCH: usize = 64;
/// Most hosts in one ticket.
pub const MAX_HOSTS: usize = 1000;

/// Checks the batching of a request that runs on hosts: at least one
/// host per batch, a suspension threshold of 0–100 %.
///
/// Errors: [`DomainError::Validation`].
pub fn check_batching(batch_size: Option<u32>, threshold: Option<f64>) -> Result<(), DomainError> {
    if batch_size == Some(0) {
        return Err(invalid("batch_size must be at least 1"));
    }
    if let Some(t) = threshold
        && !(0.0..=100.0).contains(&t)
    {
        return Err(invalid("success_rate_threshold must be 0 to 100 (%)"));
    }
    Ok(())
}

/// `hosts` in batches of `batch_size` (manual batches, in order), or all
/// at once without one.
pub fn batches_of(
    hosts: &[String],
    batch_size: Option<u32>,
) -> (BatchPolicy, Option<Vec<Vec<String>>>) {
    match batch_size {
        Some(n) => (
            BatchPolicy::Manual,
            Some(
                hosts
                    .chunks(n.max(1) as usize)
                    .map(<[String]>::to_vec)
                    .collect(),
            ),
        ),
        None => (BatchPolicy::None, None),
    }
}

/// The non-empty entries of `list`, trimmed, each once, in order.
pub fn distinct_trimmed(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in list {
        let x = x.trim();
        if !x.is_empty() && !out.iter().any(|y| y == x) {
            out.push(x.to_string());
        }
    }
    out
}

/// Splits `hosts` into ordered batches.
///
/// `manual` is required for [`BatchPolicy::Manual`] (and refused otherwise):
/// it must cover exactly the given hosts, each once, with no empty batch.
///
/// Errors: [`DomainError::Validation`] for no hosts, too many, duplicates,
/// or manual batches that do not match the host list.
pub fn plan_batches(
    policy: BatchPolicy,
    hosts: &[String],
    manual: Option<&[Vec<String>]>,
) -> Result<Vec<Vec<String>>, DomainError> {
    if hosts.is_empty() {
        return Err(invalid("choose at least one target host"));
    }
    if hosts.len() > MAX_HOSTS {
        return Err(invalid(format!("at most {MAX_HOSTS} hosts per ticket")));
    }
    let mut seen = std::collections::HashSet::new();
    for h in hosts {
        if !seen.insert(h) {
            return Err(invalid(format!("host '{h}' is listed twice")));
        }
    }
    match (policy, manual) {
        (BatchPolicy::Manual, Some(batches)) => {
            let mut covered = std::collections::HashSet::new();
            for b in batches {
                if b.is_empty() {
                    return Err(invalid("a manual batch is empty"));
                }
                for h in b {
                    if !seen.contains(h) {
                        return Err(invalid(format!("batch host '{h}' is not a target host")));
                    }
                    if !covered.insert(h) {
                        return Err(invalid(format!("host '{h}' is in two batches")));
                    }
                }
            }
            if covered.len() != hosts.len() {
                return Err(invalid("manual batches must contain every target host"));
            }
            Ok(batches.to_vec())
        }
        (BatchPolicy::Manual, None) => Err(invalid("the manual batch policy needs 'batches'")),
        (_, Some(_)) => Err(invalid(
            "'batches' is only allowed with the manual batch policy",
        )),
        (BatchPolicy::None, None) => Ok(vec![hosts.to_vec()]),
        (BatchPolicy::Auto, None) => {
            let mut out = Vec::new();
            let mut size = 1;
            let mut rest = hosts;
            while !rest.is_empty() {
                let n = size.min(rest.len());
                out.push(rest[..n].to_vec());
                rest = &rest[n..];
                size = (size * 2).min(AUTO_MAX_BATCH);
            }
            Ok(out)
        }
    }
}

/// A success-rate threshold in tenths of a percent (0..=1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Threshold(pub u16);

impl Threshold {
    /// Parses a percentage with at most one decimal (`95`, `95.5`).
    ///
    /// Errors: [`DomainError::Validation`] outside 0..=100 or with more
    /// than one decimal.
    pub fn from_percent(p: f64) -> Result<Self, DomainError> {
        if !p.is_finite() || !(0.0..=100.0).contains(&p) {
            return Err(invalid(
                "the suspension threshold must be a success rate from 0 to 100",
            ));
        }
        let tenths = (p * 10.0).round();
        if ((p * 10.0) - tenths).abs() > 1e-6 {
            return Err(invalid("the suspension threshold has at most one decimal"));
        }
        Ok(Threshold(tenths as u16))
    }

    /// As a percentage (`955` → 95.5).
    pub fn percent(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    /// The failure count at which a ticket of `total` hosts turns abnormal;
    /// `None` when it never can (threshold 0).
    pub fn breaking_count(self, total: usize) -> Option<usize> {
        let t = usize::from(self.0.min(1000));
        let f = total * (1000 - t) / 1000 + 1;
        (f <= total).then_some(f)
    }
}

/// State of a script ticket (ref. 10.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Hosts are being started or run.
    Executing,
    /// Operator paused: no new host starts.
    Paused,
    /// The suspension threshold was reached: no new host starts; the
    /// operator can only forcibly end it.
    Abnormal,
    /// Every host succeeded.
    Successful,
    /// All hosts finished, at least one failed.
    Failed,
    /// Forcibly ended by the operator.
    Terminated,
}

impl TicketStatus {
    /// States in which a ticket still runs or waits for an operator.
    pub const ACTIVE: [TicketStatus; 3] = [
        TicketStatus::Executing,
        TicketStatus::Paused,
        TicketStatus::Abnormal,
    ];

    /// States in which a ticket makes no progress on its own: finished,
    /// or abnormal (waiting for an operator to end or retry it).
    pub const SETTLED: [TicketStatus; 4] = [
        TicketStatus::Successful,
        TicketStatus::Failed,
        TicketStatus::Abnormal,
        TicketStatus::Terminated,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Executing => "executing",
            TicketStatus::Paused => "paused",
            TicketStatus::Abnormal => "abnormal",
            TicketStatus::Successful => "successful",
            TicketStatus::Failed => "failed",
            TicketStatus::Terminated => "terminated",
        }
    }
    /// Parses a stored name. Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| invalid(format!("unknown ticket status '{s}'")))
    }
    /// Successful, failed and terminated tickets are finished.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TicketStatus::Successful | TicketStatus::Failed | TicketStatus::Terminated
        )
    }
}

/// State of one host task in a ticket (ref. 10.1, X7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for its batch.
    Pending,
    /// Dispatched to the agent.
    Executing,
    /// Exit code 0.
    Successful,
    /// Non-zero exit, timeout, or the host could not run it.
    Failed,
    /// Cancelled by the operator or by forcibly ending the ticket.
    Cancelled,
}

impl TaskStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Executing => "executing",
            TaskStatus::Successful => "successful",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
    /// Parses a stored name. Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| invalid(format!("unknown task status '{s}'")))
    }
    /// Finished states.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            TaskStatus::Successful | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// What the planner needs to know of one host task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskView {
    /// Batch index, 0-based.
    pub batch: u32,
    /// Current state.
    pub status: TaskStatus,
}

/// The planner's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Indexes (into the task slice) to start now, in order.
    pub start: Vec<usize>,
    /// The ticket's status after this step.
    pub status: TicketStatus,
}

/// Decides the next step of a ticket. Pure and idempotent: calling it
/// again with the same input gives the same answer.
///
/// Rules: a finished ticket does nothing; failures at the breaking count
/// make it abnormal; when every task is done it is successful (no failure)
/// or failed; a paused or abnormal ticket starts nothing; otherwise pending
/// tasks of the lowest unfinished batch start, while the no-overshoot gate
/// allows.
pub fn plan(status: TicketStatus, tasks: &[TaskView], threshold: Option<Threshold>) -> Plan {
    let none = |status| Plan {
        start: vec![],
        status,
    };
    if status.is_terminal() {
        return none(status);
    }
    let failed = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Failed)
        .count();
    let mut in_flight = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Executing)
        .count();
    let breaking = threshold.and_then(|t| t.breaking_count(tasks.len()));
    if status == TicketStatus::Abnormal || breaking.is_some_and(|b| failed >= b) {
        return none(TicketStatus::Abnormal);
    }
    if tasks.iter().all(|t| t.status.is_done()) {
        return none(if failed == 0 {
            TicketStatus::Successful
        } else {
            TicketStatus::Failed
        });
    }
    if status == TicketStatus::Paused {
        return none(TicketStatus::Paused);
    }
    let current = tasks
        .iter()
        .filter(|t| !t.status.is_done())
        .map(|t| t.batch)
        .min();
    let mut start = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        if Some(t.batch) != current || t.status != TaskStatus::Pending {
            continue;
        }
        if let Some(b) = breaking
            && failed + in_flight + 1 > b
        {
            break;
        }
        start.push(i);
        in_flight += 1;
    }
    Plan {
        start,
        status: TicketStatus::Executing,
    }
}

/// An operator action on a ticket (ref. 10.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    /// Stop starting hosts (executing → paused).
    Pause,
    /// Resume (paused → executing).
    Continue,
    /// End everything: pending and running hosts are cancelled.
    ForciblyEnd,
}

/// The status a ticket takes when `action` is applied in `status`.
///
/// Errors: [`DomainError::InvalidTransition`] when not allowed (e.g.
/// continuing an abnormal ticket).
pub fn apply_action(
    status: TicketStatus,
    action: TicketAction,
) -> Result<TicketStatus, DomainError> {
    use TicketAction as A;
    use TicketStatus as S;
    match (status, action) {
        (S::Executing, A::Pause) => Ok(S::Paused),
        (S::Paused, A::Continue) => Ok(S::Executing),
        (S::Executing | S::Paused | S::Abnormal, A::ForciblyEnd) => Ok(S::Terminated),
        _ => Err(DomainError::InvalidTransition(format!(
            "cannot {} a ticket that is {}",
            match action {
                A::Pause => "pause",
                A::Continue => "continue",
                A::ForciblyEnd => "forcibly end",
            },
            status.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hosts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn auto_batches_grow() {
        let b = plan_batches(BatchPolicy::Auto, &hosts(10), None).unwrap();
        let sizes: Vec<_> = b.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 2, 4, 3]);
        let b = plan_batches(BatchPolicy::None, &hosts(10), None).unwrap();
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn manual_batches_checked() {
        let h = hosts(3);
        let ok = vec![
            vec!["h0".to_string()],
            vec!["h2".to_string(), "h1".to_string()],
        ];
        assert_eq!(
            plan_batches(BatchPolicy::Manual, &h, Some(&ok)).unwrap(),
            ok
        );
        let missing = vec![vec!["h0".to_string()]];
        assert!(plan_batches(BatchPolicy::Manual, &h, Some(&missing)).is_err());
        let twice = vec![
            vec!["h0".to_string(), "h1".to_string()],
            vec!["h1".to_string(), "h2".to_string()],
        ];
        assert!(plan_batches(BatchPolicy::Manual, &h, Some(&twice)).is_err());
        assert!(plan_batches(BatchPolicy::Manual, &h, None).is_err());
        assert!(plan_batches(BatchPolicy::Auto, &h, Some(&ok)).is_err());
        assert!(plan_batches(BatchPolicy::Auto, &[], None).is_err());
        assert!(plan_batches(BatchPolicy::Auto, &["a".into(), "a".into()], None).is_err());
    }

    #[test]
    fn threshold_arithmetic() {
        assert_eq!(Threshold::from_percent(95.5).unwrap(), Threshold(955));
        assert!(Threshold::from_percent(95.55).is_err());
        assert!(Threshold::from_percent(100.1).is_err());
        assert!(Threshold::from_percent(-1.0).is_err());
        // 10 hosts at 80 %: 2 failures leave 80 % (ok), the 3rd breaks.
        assert_eq!(Threshold(800).breaking_count(10), Some(3));
        // 100 % tolerates no failure.
        assert_eq!(Threshold(1000).breaking_count(10), Some(1));
        // 0 % never breaks.
        assert_eq!(Threshold(0).breaking_count(10), None);
        // 3 hosts at 66.7 %: 2/3 = 66.67 % < 66.7 → the 1st failure breaks.
        assert_eq!(Threshold(667).breaking_count(3), Some(1));
        assert_eq!(Threshold(666).breaking_count(3), Some(2));
    }

    #[test]
    fn gate_never_overshoots_in_one_batch() {
        // 10 hosts in one batch, 80 % → breaking count 3: only 3 may be in flight.
        let t = vec![
            TaskView {
                batch: 0,
                status: TaskStatus::Pending
            };
            10
        ];
        let p = plan(TicketStatus::Executing, &t, Some(Threshold(800)));
        assert_eq!(p.start, vec![0, 1, 2]);
        let p = plan(TicketStatus::Executing, &t, None);
        assert_eq!(p.start.len(), 10);
    }

    #[test]
    fn every_ticket_action_in_every_state() {
        use TicketAction as A;
        use TicketStatus as S;
        for s in [
            S::Executing,
            S::Paused,
            S::Abnormal,
            S::Successful,
            S::Failed,
            S::Terminated,
        ] {
            for a in [A::Pause, A::Continue, A::ForciblyEnd] {
                let want = match (s, a) {
                    (S::Executing, A::Pause) => Some(S::Paused),
                    (S::Paused, A::Continue) => Some(S::Executing),
                    (S::Executing | S::Paused | S::Abnormal, A::ForciblyEnd) => Some(S::Terminated),
                    _ => None,
                };
                match (apply_action(s, a), want) {
                    (Ok(got), Some(w)) => assert_eq!(got, w),
                    (Err(e), None) => {
                        let m = e.to_string();
                        assert!(m.contains(s.as_str()) && m.contains("cannot"), "{m}");
                    }
                    (r, w) => panic!("{s:?} {a:?}: {r:?} vs {w:?}"),
                }
            }
        }
    }

    #[test]
    fn ticket_actions() {
        use TicketStatus as S;
        assert_eq!(
            apply_action(S::Executing, TicketAction::Pause).unwrap(),
            S::Paused
        );
        assert_eq!(
            apply_action(S::Paused, TicketAction::Continue).unwrap(),
            S::Executing
        );
        assert_eq!(
            apply_action(S::Abnormal, TicketAction::ForciblyEnd).unwrap(),
            S::Terminated
        );
        assert!(apply_action(S::Abnormal, TicketAction::Continue).is_err());
        assert!(apply_action(S::Successful, TicketAction::ForciblyEnd).is_err());
        assert!(apply_action(S::Paused, TicketAction::Pause).is_err());
    }

    proptest! {
        /// Every host is in exactly one batch, in order; auto sizes follow 1,2,4,… ≤ 64.
        #[test]
        fn batches_partition_hosts(n in 1usize..300, policy in 0u8..2) {
            let h = hosts(n);
            let p = if policy == 0 { BatchPolicy::Auto } else { BatchPolicy::None };
            let b = plan_batches(p, &h, None).unwrap();
            let flat: Vec<String> = b.iter().flatten().cloned().collect();
            prop_assert_eq!(flat, h);
            prop_assert!(b.iter().all(|x| !x.is_empty() && x.len() <= AUTO_MAX_BATCH.max(n)));
            if p == BatchPolicy::Auto {
                for (i, x) in b.iter().enumerate().take(b.len() - 1) {
                    prop_assert_eq!(x.len(), (1usize << i).min(AUTO_MAX_BATCH));
                }
            }
        }

        /// Simulates an executor finishing in-flight tasks in random order
        /// with random outcomes. Failures never exceed the breaking count;
        /// the ticket ends abnormal exactly when failures reach it; batches
        /// run strictly in order; otherwise every task runs.
        #[test]
        fn suspension_is_exact(
            sizes in proptest::collection::vec(1usize..6, 1..5),
            threshold in proptest::option::of(0u16..=1000),
            outcomes in proptest::collection::vec((any::<bool>(), any::<u16>()), 40),
        ) {
            let mut tasks: Vec<TaskView> = sizes.iter().enumerate()
                .flat_map(|(b, &n)| std::iter::repeat_n(TaskView { batch: b as u32, status: TaskStatus::Pending }, n))
                .collect();
            let th = threshold.map(Threshold);
            let breaking = th.and_then(|t| t.breaking_count(tasks.len()));
            let mut status = TicketStatus::Executing;
            let mut step = 0;
            loop {
                let p = plan(status, &tasks, th);
                status = p.status;
                for &i in &p.start {
                    // batch order: nothing of an earlier batch is unfinished
                    prop_assert!(tasks.iter().all(|t| t.batch >= tasks[i].batch || t.status.is_done()));
                    tasks[i].status = TaskStatus::Executing;
                }
                let running: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i].status == TaskStatus::Executing).collect();
                if running.is_empty() { break; }
                let (ok, pick) = outcomes[step % outcomes.len()];
                step += 1;
                let i = running[pick as usize % running.len()];
                tasks[i].status = if ok { TaskStatus::Successful } else { TaskStatus::Failed };
                let failed = tasks.iter().filter(|t| t.status == TaskStatus::Failed).count();
                if let Some(b) = breaking { prop_assert!(failed <= b, "overshoot: {} > {}", failed, b); }
            }
            let failed = tasks.iter().filter(|t| t.status == TaskStatus::Failed).count();
            let final_plan = plan(status, &tasks, th);
            if breaking.is_some_and(|b| failed >= b) {
                prop_assert_eq!(final_plan.status, TicketStatus::Abnormal);
                prop_assert_eq!(Some(failed), breaking);
            } else {
                prop_assert!(tasks.iter().all(|t| t.status.is_done()));
                let want = if failed == 0 { TicketStatus::Successful } else { TicketStatus::Failed };
                prop_assert_eq!(final_plan.status, want);
            }
        }
    }
}
