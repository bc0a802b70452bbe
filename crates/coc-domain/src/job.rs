//! Jobs (X3, X4; ref. 5.2, 10.1.2): a job is ordered steps, each with
//! ordered tasks; every task runs one atom. This module holds the job
//! document and its validation, the templates and common jobs shipped
//! with COC, the parameter substitution, and the pure rules that move a
//! host through a step.
//!
//! ## Execution model
//! A job ticket runs its steps one after another. A step has target hosts
//! (the same for every step, or its own — the *target mode*), split into
//! batches by the step's batch policy, with the step's suspension
//! threshold. Batches run in order; each host of a batch runs the step's
//! tasks in order (a rolling run, like Ansible's `serial`). Atoms:
//! - `script`: a custom or common script, run by the host's agent;
//! - `reboot`: the agent reboots the host; the task ends when the host is
//!   back (a new boot id) or fails after `wait_s`;
//! - `sleep`: waits `seconds`;
//! - `approval`: waits until a reviewer approves (one approval per task
//!   releases every host waiting at it; a rejection fails them);
//! - `http`: the server calls a URL and expects a status;
//! - `condition`: tests an earlier task's output on the same host against
//!   a regular expression; when it does not hold, the host skips the rest
//!   of the step (or the task fails, as chosen).
//!
//! When a task fails on a host its *post-fault strategy* decides
//! ([`PostFault`]): stop the job, continue with the host's next task, or
//! pause the ticket for the operator's decision. A host that failed a task
//! counts as failed for the step's suspension threshold; in the
//! consistent target mode it does not take part in later steps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use crate::notify::Recipient;
use crate::parameter::ParamRef;
use crate::script::RiskLevel;

/// Most steps per job.
pub const MAX_STEPS: usize = 20;
/// Most tasks per step.
pub const MAX_TASKS: usize = 20;
/// Most global parameters per job.
pub const MAX_PARAMS: usize = 50;
/// Most tags on a job or job ticket (ref. 5.2.5).
pub const MAX_TAGS: usize = 20;
/// Longest sleep, seconds (24 h).
pub const MAX_SLEEP_S: u32 = 86_400;
/// Default wait for a rebooted host, seconds.
pub const DEFAULT_REBOOT_WAIT_S: u32 = 600;
/// Default HTTP timeout, seconds.
pub const DEFAULT_HTTP_TIMEOUT_S: u32 = 10;

/// The type of a global parameter (ref. 5.2.2 step 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GlobalParamType {
    /// Any text.
    #[default]
    String,
    /// A number.
    Numeric,
    /// A JSON array of strings or numbers; substituted comma-separated.
    Array,
}

/// A global parameter of a job: a preset value, or a parameter of the
/// parameter center (X6) read at ticket creation or at each use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobalParam {
    /// Name: letters, digits and `_`.
    pub name: String,
    /// Type.
    #[serde(default, rename = "type")]
    pub kind: GlobalParamType,
    /// Preset value (for a custom parameter).
    #[serde(default)]
    pub value: Option<String>,
    /// Description (≤ 200 characters).
    #[serde(default)]
    pub description: String,
    /// Taken from the parameter center instead of `value`.
    #[serde(default)]
    pub from: Option<ParamRef>,
}

/// What a task does (ref. 5.2.2 step 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Atom {
    /// Run a script (custom atom) on the host.
    Script {
        /// Script id or name.
        script: String,
        /// Script parameter values; `{{NAME}}` takes a global parameter,
        /// `{{host.ip}}`, `{{host.name}}`, `{{host.id}}` the host's.
        #[serde(default)]
        params: BTreeMap<String, String>,
        /// Executing user (default root).
        #[serde(default)]
        run_as: Option<String>,
        /// Timeout, seconds (default 300).
        #[serde(default)]
        timeout_s: Option<u32>,
    },
    /// Reboot the host through its agent and wait until it is back.
    Reboot {
        /// Longest wait for the host to come back, seconds.
        #[serde(default = "default_reboot_wait")]
        wait_s: u32,
        /// Only when the host needs it: its latest patch scan or repair
        /// found a reboot pending (P2); otherwise the task succeeds at once.
        #[serde(default)]
        if_required: bool,
    },
    /// Scan the host's packages for patches and store what is offered
    /// (P2, [`crate::patch`]).
    PatchScan {
        /// Scan the package lists as they are: no `apt-get update` first.
        #[serde(default)]
        skip_refresh: bool,
        /// Timeout, seconds (default 1800).
        #[serde(default)]
        timeout_s: Option<u32>,
    },
    /// Install the patches a baseline approves from the host's latest
    /// scan, recording the versions it replaces (P2).
    PatchRepair {
        /// The baseline (name or id; may use `{{…}}`); empty: the one the
        /// host follows.
        #[serde(default)]
        baseline: String,
        /// Timeout, seconds (default 1800).
        #[serde(default)]
        timeout_s: Option<u32>,
    },
    /// Put back the versions the host's latest repair replaced (P2).
    PatchRollback {
        /// Timeout, seconds (default 1800).
        #[serde(default)]
        timeout_s: Option<u32>,
    },
    /// Start, stop, restart, reinstall or change the OS of the host (P4,
    /// [`crate::resource_op::power`]): through its cloud provider where
    /// it is a cloud server, else a restart or stop through its agent.
    HostPower {
        /// `start`, `stop`, `restart`, `reinstall_os` or `change_os`; may
        /// use `{{…}}`.
        action: String,
        /// The image of a change of OS (name or id); may use `{{…}}`.
        #[serde(default)]
        image: String,
        /// The key pair a rebuilt server takes (name at the provider);
        /// empty: none chosen; may use `{{…}}`.
        #[serde(default)]
        key_pair: String,
        /// Longest wait for the host to reach its state, seconds
        /// (30..=3600).
        #[serde(default = "default_power_wait")]
        wait_s: u32,
    },
    /// Replace the host's agent with another build (R3,
    /// [`crate::agent_upgrade`]) and wait until the new build connected,
    /// or the agent rolled back.
    Upgrade {
        /// The build: id or version; may use `{{…}}`.
        build: String,
        /// Seconds the new build has to connect before the old one is put
        /// back (10..=3600); may use `{{…}}`.
        #[serde(default = "default_rollback_after")]
        rollback_after_s: String,
    },
    /// Wait.
    Sleep {
        /// Seconds (1..=86400).
        seconds: u32,
    },
    /// Wait for a reviewer's approval.
    Approval {
        /// Who may approve: users or shift roles (1..=5).
        reviewers: Vec<Recipient>,
        /// Channels the review request is sent on (ref. 5.2.2 step 14,
        /// "Notification Mode"); none: no message.
        #[serde(default)]
        channels: Vec<String>,
    },
    /// Call a URL from the server.
    Http {
        /// `GET`, `POST`, `PUT`, `DELETE` or `HEAD`.
        #[serde(default = "default_method")]
        method: String,
        /// `http://` or `https://` URL; may use `{{…}}`.
        url: String,
        /// Request body; may use `{{…}}`.
        #[serde(default)]
        body: Option<String>,
        /// The status the call must answer.
        #[serde(default = "default_status")]
        expected_status: u16,
        /// Timeout, seconds (1..=300).
        #[serde(default = "default_http_timeout")]
        timeout_s: u32,
    },
    /// Test an earlier task's output on the same host.
    Condition {
        /// Name of an earlier task of the same step.
        task: String,
        /// Regular expression searched in that task's output.
        pattern: String,
        /// Hold when the pattern does *not* match.
        #[serde(default)]
        negate: bool,
        /// What happens when the condition does not hold.
        #[serde(default)]
        otherwise: Otherwise,
    },
}

fn default_reboot_wait() -> u32 {
    DEFAULT_REBOOT_WAIT_S
}
fn default_power_wait() -> u32 {
    crate::resource_op::power::DEFAULT_WAIT_S
}
fn default_rollback_after() -> String {
    crate::agent_upgrade::DEFAULT_ROLLBACK_AFTER_S.to_string()
}
fn default_method() -> String {
    "GET".into()
}
fn default_status() -> u16 {
    200
}
fn default_http_timeout() -> u32 {
    DEFAULT_HTTP_TIMEOUT_S
}

impl Atom {
    /// The atom's type name (`script`, `reboot`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Atom::Script { .. } => "script",
            Atom::Reboot { .. } => "reboot",
            Atom::Upgrade { .. } => "upgrade",
            Atom::PatchScan { .. } => "patch_scan",
            Atom::PatchRepair { .. } => "patch_repair",
            Atom::PatchRollback { .. } => "patch_rollback",
            Atom::HostPower { .. } => "host_power",
            Atom::Sleep { .. } => "sleep",
            Atom::Approval { .. } => "approval",
            Atom::Http { .. } => "http",
            Atom::Condition { .. } => "condition",
        }
    }

    /// Whether the host's agent runs it (script, reboot, upgrade,
    /// patch work).
    pub fn on_agent(&self) -> bool {
        matches!(
            self,
            Atom::Script { .. }
                | Atom::Reboot { .. }
                | Atom::Upgrade { .. }
                | Atom::PatchScan { .. }
                | Atom::PatchRepair { .. }
                | Atom::PatchRollback { .. }
        )
    }

    /// A patch atom's timeout, seconds; `None` for other atoms.
    pub fn patch_timeout_s(&self) -> Option<u32> {
        match self {
            Atom::PatchScan { timeout_s, .. }
            | Atom::PatchRepair { timeout_s, .. }
            | Atom::PatchRollback { timeout_s } => {
                Some(timeout_s.unwrap_or(crate::patch::DEFAULT_TIMEOUT_S))
            }
            _ => None,
        }
    }
}

/// What a host does when a condition does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Otherwise {
    /// Skip the rest of the step; the host is not failed.
    #[default]
    SkipStep,
    /// The condition task fails (its post-fault strategy applies).
    Fail,
}

/// What happens when a task fails on a host (ref. 5.2.2 step 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostFault {
    /// Terminate the job: it ends `failed`, running tasks are cancelled.
    #[default]
    Stop,
    /// Go on with the host's next task (the host still counts as failed).
    Continue,
    /// Pause the ticket until the operator continues, retries or ends it.
    Pause,
}

/// One task of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobTask {
    /// Name: 3–50 letters, digits, `-`, `_`; unique in its step.
    pub name: String,
    /// Description (≤ 200 characters).
    #[serde(default)]
    pub description: String,
    /// What it does.
    pub atom: Atom,
    /// Post-fault strategy.
    #[serde(default)]
    pub on_failure: PostFault,
}

/// One step of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Name (1–50 characters).
    pub name: String,
    /// Tasks in order (1..=20).
    pub tasks: Vec<JobTask>,
}

/// The editable body of a job (ref. 5.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Name: 3–100 letters, digits, `-`, `_`.
    pub name: String,
    /// Description (≤ 500 characters).
    #[serde(default)]
    pub description: String,
    /// Enterprise project.
    #[serde(default = "default_project")]
    pub enterprise_project: String,
    /// Tags, key → value (≤ 20).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Declared risk; a high-risk job needs a manual review.
    pub risk_level: RiskLevel,
    /// Ask for a manual review before the job can run.
    #[serde(default)]
    pub manual_review: bool,
    /// Reviewers: users or shift roles (≤ 5 people are asked).
    #[serde(default)]
    pub reviewers: Vec<Recipient>,
    /// Global parameters.
    #[serde(default)]
    pub params: Vec<GlobalParam>,
    /// Steps in order.
    pub steps: Vec<Step>,
}

fn default_project() -> String {
    "default".into()
}

fn name_ok(s: &str, min: usize, max: usize) -> bool {
    let n = s.chars().count();
    (min..=max).contains(&n)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && s.len() <= 64
}

/// Validates tags (≤ [`MAX_TAGS`], keys 1–128 and values ≤ 255 characters).
///
/// Errors: [`DomainError::Validation`].
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), DomainError> {
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!(
            "at most {MAX_TAGS} tags; {} given",
            tags.len()
        )));
    }
    for (k, v) in tags {
        if k.trim().is_empty() || k.chars().count() > 128 {
            return Err(invalid("a tag key has 1 to 128 characters"));
        }
        if v.chars().count() > 255 {
            return Err(invalid(format!(
                "the value of tag '{k}' is longer than 255 characters"
            )));
        }
    }
    Ok(())
}

impl GlobalParam {
    /// Checks a value against the parameter's type.
    ///
    /// Errors: [`DomainError::Validation`] naming the parameter.
    pub fn check(&self, v: &str) -> Result<(), DomainError> {
        let ok = match self.kind {
            GlobalParamType::String => true,
            GlobalParamType::Numeric => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
            GlobalParamType::Array => array_items(v).is_some(),
        };
        if v.len() > 4096 {
            return Err(invalid(format!(
                "the value of global parameter '{}' is longer than 4096 bytes",
                self.name
            )));
        }
        if ok {
            Ok(())
        } else {
            Err(invalid(format!(
                "global parameter '{}' must be {}",
                self.name,
                match self.kind {
                    GlobalParamType::Numeric => "a number",
                    GlobalParamType::Array => "a JSON array of strings or numbers",
                    GlobalParamType::String => "a string",
                }
            )))
        }
    }
}

fn array_items(v: &str) -> Option<Vec<String>> {
    let a: Vec<serde_json::Value> = serde_json::from_str(v).ok()?;
    a.into_iter()
        .map(|x| match x {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

impl JobSpec {
    /// Whether the job must be reviewed before it runs: manual review
    /// asked for, or declared high risk (ref. 5.2.2 step 14).
    pub fn review_required(&self) -> bool {
        self.manual_review || self.risk_level == RiskLevel::High
    }

    /// Ids or names of the scripts the job's tasks run.
    pub fn scripts(&self) -> Vec<&str> {
        self.steps
            .iter()
            .flat_map(|s| &s.tasks)
            .filter_map(|t| match &t.atom {
                Atom::Script { script, .. } => Some(script.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Validates names, limits, atoms, parameter references and review.
    ///
    /// Errors: [`DomainError::Validation`] with the first problem, naming
    /// the step and task.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !name_ok(&self.name, 3, 100) {
            return Err(invalid(
                "the job name has 3 to 100 letters, digits, hyphens (-) and underscores (_)",
            ));
        }
        if self.description.chars().count() > 500 {
            return Err(invalid("the description is longer than 500 characters"));
        }
        if self.enterprise_project.trim().is_empty() {
            return Err(invalid("choose an enterprise project"));
        }
        validate_tags(&self.tags)?;
        if self.params.len() > MAX_PARAMS {
            return Err(invalid(format!("at most {MAX_PARAMS} global parameters")));
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.params {
            if !is_ident(&p.name) || p.name.starts_with("host") {
                return Err(invalid(format!(
                    "global parameter name '{}' must be letters, digits and '_' (not starting with 'host')",
                    p.name
                )));
            }
            if !names.insert(p.name.as_str()) {
                return Err(invalid(format!(
                    "global parameter '{}' is declared twice",
                    p.name
                )));
            }
            if p.description.chars().count() > 200 {
                return Err(invalid(format!(
                    "the description of global parameter '{}' is longer than 200 characters",
                    p.name
                )));
            }
            match (&p.value, &p.from) {
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "global parameter '{}' has a preset value or comes from the parameter center, not both",
                        p.name
                    )));
                }
                (Some(v), None) => p.check(v)?,
                _ => {}
            }
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(invalid(format!("a job has 1 to {MAX_STEPS} steps")));
        }
        for (si, s) in self.steps.iter().enumerate() {
            let at = format!("step {} ('{}')", si + 1, s.name);
            if s.name.trim().is_empty() || s.name.chars().count() > 50 {
                return Err(invalid(format!(
                    "step {}: the name has 1 to 50 characters",
                    si + 1
                )));
            }
            if s.tasks.is_empty() || s.tasks.len() > MAX_TASKS {
                return Err(invalid(format!("{at}: a step has 1 to {MAX_TASKS} tasks")));
            }
            let mut seen: Vec<&str> = Vec::new();
            for t in &s.tasks {
                let at = format!("{at}, task '{}'", t.name);
                if !name_ok(&t.name, 3, 50) {
                    return Err(invalid(format!(
                        "{at}: a task name has 3 to 50 letters, digits, hyphens (-) and underscores (_)"
                    )));
                }
                if seen.contains(&t.name.as_str()) {
                    return Err(invalid(format!("{at}: the name is used twice in the step")));
                }
                if t.description.chars().count() > 200 {
                    return Err(invalid(format!(
                        "{at}: the description is longer than 200 characters"
                    )));
                }
                validate_atom(&t.atom, &seen, &names).map_err(|e| match e {
                    DomainError::Validation(m) => invalid(format!("{at}: {m}")),
                    other => other,
                })?;
                seen.push(&t.name);
            }
        }
        if self.review_required() {
            if self.reviewers.is_empty() {
                return Err(invalid(
                    "this job needs a manual review (high risk or asked for): name its reviewers",
                ));
            }
            check_reviewers(&self.reviewers)?;
        }
        Ok(())
    }
}

fn check_reviewers(r: &[Recipient]) -> Result<(), DomainError> {
    crate::notify::validate_recipients(r)?;
    if r.contains(&Recipient::Owner) {
        return Err(invalid("reviewers are users or shift roles"));
    }
    Ok(())
}

/// The `{{…}}` references in a text.
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        out.push(after[..j].trim().to_string());
        rest = &after[j + 2..];
    }
    out
}

fn check_refs(text: &str, params: &std::collections::HashSet<&str>) -> Result<(), DomainError> {
    for r in references(text) {
        let host = matches!(r.as_str(), "host.ip" | "host.name" | "host.id");
        if !host && !params.contains(r.as_str()) {
            return Err(invalid(format!(
                "'{{{{{r}}}}}' is not a global parameter of the job (nor host.ip, host.name, host.id)"
            )));
        }
    }
    Ok(())
}

fn validate_atom(
    a: &Atom,
    earlier: &[&str],
    params: &std::collections::HashSet<&str>,
) -> Result<(), DomainError> {
    match a {
        Atom::Script {
            script,
            params: values,
            run_as,
            timeout_s,
        } => {
            if script.trim().is_empty() {
                return Err(invalid("choose the script to run"));
            }
            for v in values.values() {
                check_refs(v, params)?;
            }
            if let Some(u) = run_as {
                crate::script::validate_run_as(u)?;
            }
            if let Some(t) = timeout_s {
                crate::script::validate_timeout(*t)?;
            }
        }
        Atom::Reboot { wait_s, .. } => {
            if !(30..=3600).contains(wait_s) {
                return Err(invalid("the reboot wait is 30 to 3600 seconds"));
            }
        }
        Atom::HostPower {
            action,
            image,
            key_pair,
            wait_s,
        } => {
            check_refs(action, params)?;
            check_refs(image, params)?;
            check_refs(key_pair, params)?;
            if !action.contains("{{") {
                crate::resource_op::power::PowerAction::parse(action)?;
            }
            if !(30..=3600).contains(wait_s) {
                return Err(invalid("the power operation wait is 30 to 3600 seconds"));
            }
        }
        Atom::PatchScan { .. } | Atom::PatchRollback { .. } => {
            if let Some(t) = a.patch_timeout_s() {
                crate::patch::validate_timeout(t)?;
            }
        }
        Atom::PatchRepair { baseline, .. } => {
            check_refs(baseline, params)?;
            if let Some(t) = a.patch_timeout_s() {
                crate::patch::validate_timeout(t)?;
            }
        }
        Atom::Upgrade {
            build,
            rollback_after_s,
        } => {
            if build.trim().is_empty() {
                return Err(invalid("choose the agent build to upgrade to"));
            }
            check_refs(build, params)?;
            check_refs(rollback_after_s, params)?;
            if !rollback_after_s.contains("{{") {
                crate::agent_upgrade::rollback_after(rollback_after_s)?;
            }
        }
        Atom::Sleep { seconds } => {
            if *seconds == 0 || *seconds > MAX_SLEEP_S {
                return Err(invalid(format!("sleep 1 to {MAX_SLEEP_S} seconds")));
            }
        }
        Atom::Approval {
            reviewers,
            channels,
        } => {
            if reviewers.is_empty() || reviewers.len() > 5 {
                return Err(invalid("an approval has 1 to 5 reviewers"));
            }
            check_reviewers(reviewers)?;
            if !channels.is_empty() {
                crate::notify::validate_channels(channels)?;
            }
        }
        Atom::Http {
            method,
            url,
            body,
            expected_status,
            timeout_s,
        } => {
            if !["GET", "POST", "PUT", "DELETE", "HEAD"].contains(&method.as_str()) {
                return Err(invalid(format!(
                    "HTTP method '{method}' is not one of GET, POST, PUT, DELETE, HEAD"
                )));
            }
            if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with("{{"))
            {
                return Err(invalid(
                    "the URL starts with http://, https:// or a {{parameter}}",
                ));
            }
            check_refs(url, params)?;
            if let Some(b) = body {
                if b.len() > 64 * 1024 {
                    return Err(invalid("the request body is larger than 64 KiB"));
                }
                check_refs(b, params)?;
            }
            if !(100..=599).contains(expected_status) {
                return Err(invalid("the expected status is 100 to 599"));
            }
            if !(1..=300).contains(timeout_s) {
                return Err(invalid("the HTTP timeout is 1 to 300 seconds"));
            }
        }
        Atom::Condition { task, pattern, .. } => {
            if !earlier.contains(&task.as_str()) {
                return Err(invalid(format!(
                    "the condition tests task '{task}', which is not an earlier task of this step"
                )));
            }
            regex::Regex::new(pattern)
                .map_err(|e| invalid(format!("the condition pattern is not a regex: {e}")))?;
        }
    }
    Ok(())
}

/// Replaces `{{NAME}}` by the global parameter's value and `{{host.*}}` by
/// the host's; array values are joined with commas. An unknown reference
/// is left as it is (validation refuses them beforehand).
pub fn substitute(
    text: &str,
    params: &BTreeMap<String, String>,
    kinds: &BTreeMap<String, GlobalParamType>,
    host: &HostVars,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let key = after[..j].trim();
        let v = match key {
            "host.ip" => Some(host.ip.clone()),
            "host.name" => Some(host.name.clone()),
            "host.id" => Some(host.id.clone()),
            k => params.get(k).map(|v| {
                if kinds.get(k) == Some(&GlobalParamType::Array) {
                    array_items(v)
                        .map(|a| a.join(","))
                        .unwrap_or_else(|| v.clone())
                } else {
                    v.clone()
                }
            }),
        };
        match v {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[i..i + 2 + j + 2]),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

/// What `{{host.*}}` stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostVars {
    /// Resource id.
    pub id: String,
    /// Host name.
    pub name: String,
    /// First IP address.
    pub ip: String,
}

/// Resolves the values of a ticket's global parameters: the execution's
/// values over the presets; parameters from the parameter center are
/// filled in by the caller (`center`).
///
/// Errors: [`DomainError::Validation`] for an unknown name, a wrong type,
/// or a parameter without a value.
pub fn resolve_globals(
    declared: &[GlobalParam],
    given: &BTreeMap<String, String>,
    center: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DomainError> {
    if let Some(k) = given
        .keys()
        .find(|k| !declared.iter().any(|p| &p.name == *k))
    {
        return Err(invalid(format!("the job has no global parameter '{k}'")));
    }
    let mut out = BTreeMap::new();
    for p in declared {
        let v = given
            .get(&p.name)
            .or(center.get(&p.name))
            .or(p.value.as_ref())
            .ok_or_else(|| invalid(format!("global parameter '{}' has no value", p.name)))?;
        p.check(v)?;
        out.insert(p.name.clone(), v.clone());
    }
    Ok(out)
}

/// How targets are chosen for a job ticket (ref. 5.2.4 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetMode {
    /// All steps run on the same hosts.
    #[default]
    Consistent,
    /// Each step has its own hosts.
    UniquePerStep,
}

/// How one task ended on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// It succeeded.
    Ok,
    /// It failed.
    Failed,
    /// A condition did not hold and the host skips the rest of the step.
    SkipStep,
}

/// What a host does after a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostNext {
    /// Run the task with this index.
    Run(usize),
    /// The host is done with the step; `failed` when any task failed.
    Done {
        /// Any task failed on the host in this step.
        failed: bool,
    },
    /// Stop the job (post-fault strategy `stop`).
    StopJob,
    /// Hold the host and pause the ticket (post-fault strategy `pause`).
    Pause,
}

/// The next move of a host after task `idx` of `tasks` ended with `end`;
/// `had_failure` says whether an earlier task of the step failed on it.
pub fn after_task(tasks: &[JobTask], idx: usize, end: TaskEnd, had_failure: bool) -> HostNext {
    let next = |failed: bool| {
        if idx + 1 < tasks.len() {
            HostNext::Run(idx + 1)
        } else {
            HostNext::Done { failed }
        }
    };
    match end {
        TaskEnd::Ok => next(had_failure),
        TaskEnd::SkipStep => HostNext::Done {
            failed: had_failure,
        },
        TaskEnd::Failed => match tasks.get(idx).map(|t| t.on_failure).unwrap_or_default() {
            PostFault::Stop => HostNext::StopJob,
            PostFault::Continue => next(true),
            PostFault::Pause => HostNext::Pause,
        },
    }
}

/// Whether a condition holds on `output`. An invalid pattern never holds.
pub fn condition_holds(pattern: &str, negate: bool, output: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|r| r.is_match(output) != negate)
}

/// An operator action on a job ticket (ref. 10.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobAction {
    /// Stop starting hosts and tasks (executing → paused).
    Pause,
    /// Resume (paused → executing); hosts held by a `pause` post-fault
    /// strategy go on with their next task.
    Continue,
    /// End the whole job: every pending and running task is cancelled.
    ForciblyEnd,
    /// End every batch of the current step; the ticket pauses before the
    /// next step so the operator decides to continue or end.
    TerminateAll,
    /// Run the failed hosts of the current step again from the task that
    /// failed (paused, abnormal or failed tickets).
    RetryFailed,
}

impl JobAction {
    /// Name as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobAction::Pause => "pause",
            JobAction::Continue => "continue",
            JobAction::ForciblyEnd => "forcibly end",
            JobAction::TerminateAll => "terminate all",
            JobAction::RetryFailed => "retry the failed hosts of",
        }
    }
}

/// The status a job ticket takes when `action` is applied in `status`;
/// `has_failed` says whether the current step has failed hosts.
///
/// Errors: [`DomainError::InvalidTransition`] when not allowed.
pub fn apply_job_action(
    status: crate::ticket::TicketStatus,
    action: JobAction,
    has_failed: bool,
) -> Result<crate::ticket::TicketStatus, DomainError> {
    use crate::ticket::TicketStatus as S;
    use JobAction as A;
    let refuse = |why: &str| {
        Err(DomainError::InvalidTransition(format!(
            "cannot {} a job ticket that is {}{why}",
            action.as_str(),
            status.as_str()
        )))
    };
    match (status, action) {
        (S::Executing, A::Pause) => Ok(S::Paused),
        (S::Paused, A::Continue) => Ok(S::Executing),
        (S::Executing | S::Paused | S::Abnormal, A::ForciblyEnd) => Ok(S::Terminated),
        (S::Executing | S::Paused | S::Abnormal, A::TerminateAll) => Ok(S::Paused),
        (S::Paused | S::Abnormal | S::Failed, A::RetryFailed) if has_failed => Ok(S::Executing),
        (S::Paused | S::Abnormal | S::Failed, A::RetryFailed) => {
            refuse(": every host completed every step so far; nothing to retry")
        }
        _ => refuse(""),
    }
}

/// The templates offered when a job is created (ref. 5.2.2 step 5). Script
/// tasks name the common script `OS-DIAGNOSE`; replace them with yours.
pub fn templates() -> Vec<JobSpec> {
    let script = |name: &str, s: &str| JobTask {
        name: name.into(),
        description: String::new(),
        atom: Atom::Script {
            script: s.into(),
            params: BTreeMap::new(),
            run_as: None,
            timeout_s: None,
        },
        on_failure: PostFault::Stop,
    };
    let base = |name: &str, description: &str, steps: Vec<Step>| JobSpec {
        name: name.into(),
        description: description.into(),
        enterprise_project: default_project(),
        tags: BTreeMap::new(),
        risk_level: RiskLevel::Medium,
        manual_review: false,
        reviewers: vec![],
        params: vec![],
        steps,
    };
    vec![
        base(
            "Reboot_and_Verify",
            "Run a check, reboot the host, wait, and verify it",
            vec![Step {
                name: "Reboot_and_Verify".into(),
                tasks: vec![
                    script("Custom_Action", "OS-DIAGNOSE"),
                    JobTask {
                        name: "Reboot_OS".into(),
                        description: "reboot through the agent and wait until the host is back"
                            .into(),
                        atom: Atom::Reboot {
                            if_required: false,
                            wait_s: DEFAULT_REBOOT_WAIT_S,
                        },
                        on_failure: PostFault::Stop,
                    },
                    JobTask {
                        name: "Sleep".into(),
                        description: "let services settle".into(),
                        atom: Atom::Sleep { seconds: 30 },
                        on_failure: PostFault::Stop,
                    },
                    script("Verify_Action", "OS-DIAGNOSE"),
                ],
            }],
        ),
        base(
            "Routine_Scan",
            "Scan for pending patches, then run a custom action",
            vec![Step {
                name: "Routine_Scan".into(),
                tasks: vec![
                    JobTask {
                        name: "Patch_scan".into(),
                        description: "find the patches the package manager offers".into(),
                        atom: Atom::PatchScan {
                            skip_refresh: false,
                            timeout_s: None,
                        },
                        on_failure: PostFault::Stop,
                    },
                    script("Custom_Action", "OS-DIAGNOSE"),
                ],
            }],
        ),
        base(
            "Custom_Action",
            "One custom action",
            vec![Step {
                name: "Custom_Action".into(),
                tasks: vec![script("Custom_Action", "OS-DIAGNOSE")],
            }],
        ),
        rolling_patch_repair(),
    ]
}

/// A global parameter with a preset value.
fn preset(name: &str, kind: GlobalParamType, value: &str, description: &str) -> GlobalParam {
    GlobalParam {
        name: name.into(),
        kind,
        value: Some(value.into()),
        description: description.into(),
        from: None,
    }
}

/// A job COC ships (a common job or a template): no review, no tags, in
/// the default project.
fn shipped(
    name: &str,
    description: &str,
    risk_level: RiskLevel,
    params: Vec<GlobalParam>,
    steps: Vec<Step>,
) -> JobSpec {
    JobSpec {
        name: name.into(),
        description: description.into(),
        enterprise_project: default_project(),
        tags: BTreeMap::new(),
        risk_level,
        manual_review: false,
        reviewers: vec![],
        params,
        steps,
    }
}

/// The rolling repair template (P2, ref. 4.2.3): batch by batch, each
/// host is taken out of service, repaired, rebooted when it needs it,
/// checked until its service answers, and put back; a failure stops the
/// ticket so the other hosts keep serving.
fn rolling_patch_repair() -> JobSpec {
    let http = |name: &str, description: &str, method: &str, url: &str| JobTask {
        name: name.into(),
        description: description.into(),
        atom: Atom::Http {
            method: method.into(),
            url: url.into(),
            body: None,
            expected_status: 200,
            timeout_s: 30,
        },
        on_failure: PostFault::Stop,
    };
    shipped(
        "Rolling_Patch_Repair",
        "Per batch: take each host out of service, repair its patches, reboot if needed, check its service, put it back",
        RiskLevel::Medium,
        vec![
            preset(
                "LB_URL",
                GlobalParamType::String,
                "http://127.0.0.1:8080",
                "the load balancer's API",
            ),
            preset(
                "SERVICE_PORT",
                GlobalParamType::Numeric,
                "80",
                "the port each host serves on",
            ),
            preset(
                "CHECK_PATH",
                GlobalParamType::String,
                "/health",
                "the path of the service's health check",
            ),
        ],
        vec![Step {
            name: "Rolling_Repair".into(),
            tasks: vec![
                http(
                    "Take_Out",
                    "take the host out of service",
                    "POST",
                    "{{LB_URL}}/members/{{host.name}}/drain",
                ),
                JobTask {
                    name: "Repair".into(),
                    description: "install what the host's baseline approves".into(),
                    atom: Atom::PatchRepair {
                        baseline: String::new(),
                        timeout_s: None,
                    },
                    on_failure: PostFault::Stop,
                },
                JobTask {
                    name: "Reboot_If_Required".into(),
                    description: "reboot when a patch needs it, wait for the host".into(),
                    atom: Atom::Reboot {
                        wait_s: DEFAULT_REBOOT_WAIT_S,
                        if_required: true,
                    },
                    on_failure: PostFault::Stop,
                },
                http(
                    "Check_Service",
                    "the service answers again",
                    "GET",
                    "http://{{host.ip}}:{{SERVICE_PORT}}{{CHECK_PATH}}",
                ),
                http(
                    "Put_Back",
                    "put the host back in service",
                    "POST",
                    "{{LB_URL}}/members/{{host.name}}/restore",
                ),
            ],
        }],
    )
}

/// The common jobs shipped with COC (read-only, ref. 5.2.1).
pub fn system_jobs() -> Vec<JobSpec> {
    let mut diagnose = templates().remove(2);
    diagnose.name = "COC-Diagnose-and-Clean-Disks".into();
    diagnose.description =
        "Diagnose the OS, then delete old logs when the disk is fuller than the threshold".into();
    diagnose.risk_level = RiskLevel::Medium;
    diagnose.steps = vec![
        Step {
            name: "Diagnose".into(),
            tasks: vec![JobTask {
                name: "OS-Diagnose".into(),
                description: String::new(),
                atom: Atom::Script {
                    script: "OS-DIAGNOSE".into(),
                    params: BTreeMap::new(),
                    run_as: None,
                    timeout_s: None,
                },
                on_failure: PostFault::Continue,
            }],
        },
        Step {
            name: "Clean".into(),
            tasks: vec![JobTask {
                name: "Clear-Disks".into(),
                description: String::new(),
                atom: Atom::Script {
                    script: "ClearingDisks".into(),
                    params: BTreeMap::new(),
                    run_as: None,
                    timeout_s: None,
                },
                on_failure: PostFault::Stop,
            }],
        },
    ];
    let mut scan = templates().remove(1);
    scan.name = "COC-Routine-Scan".into();
    scan.risk_level = RiskLevel::Low;
    let mut jobs = vec![diagnose, scan, agent_upgrade_job()];
    jobs.extend(patch_jobs());
    jobs.push(host_power_job());
    jobs.push(health_check_job());
    jobs
}

/// The common job of a health check (M7, [`crate::health`]): the probe
/// on each host; a host whose probe fails does not stop the others.
fn health_check_job() -> JobSpec {
    use crate::health as hc;
    shipped(
        hc::JOB_NAME,
        "Health check: run the health probe on each host; the report judges its output, the host's patch compliance and agent version, and COC itself",
        RiskLevel::Low,
        vec![],
        vec![Step {
            name: "Probe".into(),
            tasks: vec![JobTask {
                name: "Health-Probe".into(),
                description: String::new(),
                atom: Atom::Script {
                    script: hc::SCRIPT_NAME.into(),
                    params: BTreeMap::new(),
                    run_as: None,
                    timeout_s: Some(hc::PROBE_TIMEOUT_S),
                },
                on_failure: PostFault::Continue,
            }],
        }],
    )
}

/// The common job of power operations on hosts (P4,
/// [`crate::resource_op::power`]): one `host_power` task taking the
/// action and image from its parameters.
fn host_power_job() -> JobSpec {
    use crate::resource_op::power as p;
    shipped(
        p::JOB_NAME,
        "Start, stop, restart, reinstall or change the OS of hosts: through the cloud provider for cloud servers, a restart or stop through the agent otherwise",
        RiskLevel::Medium,
        vec![
            preset(
                p::ACTION_PARAM,
                GlobalParamType::String,
                "restart",
                "start, stop, restart, reinstall_os or change_os",
            ),
            preset(
                p::IMAGE_PARAM,
                GlobalParamType::String,
                "",
                "The image a change of OS installs (name or id at the provider)",
            ),
            preset(
                p::KEY_PAIR_PARAM,
                GlobalParamType::String,
                "",
                "The key pair a rebuilt server takes (name at the provider); empty: none",
            ),
        ],
        vec![Step {
            name: "Power".into(),
            tasks: vec![JobTask {
                name: "Host-Power".into(),
                description: String::new(),
                atom: Atom::HostPower {
                    action: format!("{{{{{}}}}}", p::ACTION_PARAM),
                    image: format!("{{{{{}}}}}", p::IMAGE_PARAM),
                    key_pair: format!("{{{{{}}}}}", p::KEY_PAIR_PARAM),
                    wait_s: p::DEFAULT_WAIT_S,
                },
                on_failure: PostFault::Continue,
            }],
        }],
    )
}

/// The common jobs of patch work (P2, [`crate::patch`]): a scan, a
/// repair (with or without a reboot when a patch needs one) and a
/// rollback of the latest repair, each one step of one atom.
fn patch_jobs() -> Vec<JobSpec> {
    use crate::patch as p;
    let job = |name: &str, description: &str, tasks: Vec<JobTask>, params: Vec<GlobalParam>| {
        let risk = if name == p::SCAN_JOB {
            RiskLevel::Low
        } else {
            RiskLevel::Medium
        };
        let steps = vec![Step {
            name: "Patches".into(),
            tasks,
        }];
        shipped(name, description, risk, params, steps)
    };
    let task = |name: &str, description: &str, atom: Atom| JobTask {
        name: name.into(),
        description: description.into(),
        atom,
        on_failure: PostFault::Stop,
    };
    let baseline = || {
        preset(
            p::BASELINE_PARAM,
            GlobalParamType::String,
            "",
            "the baseline (name or id); empty: the one each host follows",
        )
    };
    let repair = || {
        task(
            "Repair",
            "install what the baseline approves, recording the versions replaced",
            Atom::PatchRepair {
                baseline: format!("{{{{{}}}}}", p::BASELINE_PARAM),
                timeout_s: None,
            },
        )
    };
    vec![
        job(
            p::SCAN_JOB,
            "Scan the hosts' packages for patches",
            vec![task(
                "Scan",
                "refresh the package lists and find the patches offered",
                Atom::PatchScan {
                    skip_refresh: false,
                    timeout_s: None,
                },
            )],
            vec![],
        ),
        job(
            p::REPAIR_JOB,
            "Install the patches the baseline approves",
            vec![repair()],
            vec![baseline()],
        ),
        job(
            p::REPAIR_REBOOT_JOB,
            "Install the patches the baseline approves, reboot the hosts that need it",
            vec![
                repair(),
                task(
                    "Reboot-If-Required",
                    "reboot when a patch needs it and wait for the host",
                    Atom::Reboot {
                        wait_s: DEFAULT_REBOOT_WAIT_S,
                        if_required: true,
                    },
                ),
            ],
            vec![baseline()],
        ),
        job(
            p::ROLLBACK_JOB,
            "Put back the versions the latest repair replaced",
            vec![task(
                "Rollback",
                "install the replaced versions again, remove what the repair added",
                Atom::PatchRollback { timeout_s: None },
            )],
            vec![],
        ),
    ]
}

/// The common job of an agent upgrade ([`crate::agent_upgrade::JOB_NAME`]):
/// one step, one [`Atom::Upgrade`] task taking the build and the rollback
/// deadline from its global parameters.
fn agent_upgrade_job() -> JobSpec {
    use crate::agent_upgrade as up;
    shipped(
        up::JOB_NAME,
        "Replace the agent with another build; roll back when the new one does not connect",
        RiskLevel::Medium,
        vec![
            preset(
                up::BUILD_PARAM,
                GlobalParamType::String,
                "",
                "the agent build: id or version",
            ),
            preset(
                up::ROLLBACK_PARAM,
                GlobalParamType::Numeric,
                &up::DEFAULT_ROLLBACK_AFTER_S.to_string(),
                "seconds the new build has to connect",
            ),
        ],
        vec![Step {
            name: "Upgrade".into(),
            tasks: vec![JobTask {
                name: "Upgrade-Agent".into(),
                description: "fetch and check the build, swap, restart, wait for it to connect"
                    .into(),
                atom: Atom::Upgrade {
                    build: format!("{{{{{}}}}}", up::BUILD_PARAM),
                    rollback_after_s: format!("{{{{{}}}}}", up::ROLLBACK_PARAM),
                },
                on_failure: PostFault::Continue,
            }],
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::TicketStatus as S;

    fn task(name: &str, on_failure: PostFault) -> JobTask {
        JobTask {
            name: name.into(),
            description: String::new(),
            atom: Atom::Sleep { seconds: 1 },
            on_failure,
        }
    }

    #[test]
    fn templates_and_system_jobs_are_valid() {
        let t = templates();
        let names: Vec<_> = t.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Reboot_and_Verify",
                "Routine_Scan",
                "Custom_Action",
                "Rolling_Patch_Repair"
            ]
        );
        let rolling: Vec<_> = t[3].steps[0].tasks.iter().map(|x| x.atom.kind()).collect();
        assert_eq!(rolling, ["http", "patch_repair", "reboot", "http", "http"]);
        let patch: Vec<_> = system_jobs()
            .into_iter()
            .filter(|j| j.name.starts_with("COC-Patch-"))
            .map(|j| (j.name, j.steps[0].tasks.len()))
            .collect();
        assert_eq!(patch.len(), 4);
        for j in t.iter().chain(system_jobs().iter()) {
            j.validate().unwrap_or_else(|e| panic!("{}: {e}", j.name));
        }
        let kinds: Vec<_> = t[0].steps[0].tasks.iter().map(|x| x.atom.kind()).collect();
        assert_eq!(kinds, ["script", "reboot", "sleep", "script"]);
    }

    #[test]
    fn validation_names_the_place() {
        let mut j = templates().remove(2);
        j.steps[0].tasks.push(JobTask {
            name: "Check".into(),
            description: String::new(),
            atom: Atom::Condition {
                task: "Later".into(),
                pattern: "ok".into(),
                negate: false,
                otherwise: Otherwise::SkipStep,
            },
            on_failure: PostFault::Stop,
        });
        let e = j.validate().unwrap_err().to_string();
        assert!(
            e.contains("step 1") && e.contains("task 'Check'") && e.contains("earlier task"),
            "{e}"
        );
        let mut j = templates().remove(2);
        j.tags = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(j.validate().unwrap_err().to_string().contains("20 tags"));
        let mut j = templates().remove(2);
        j.steps[0].tasks[0].atom = Atom::Script {
            script: "x".into(),
            params: [("A".into(), "{{NOPE}}".into())].into(),
            run_as: None,
            timeout_s: None,
        };
        assert!(j.validate().unwrap_err().to_string().contains("NOPE"));
        let mut j = templates().remove(2);
        j.risk_level = RiskLevel::High;
        assert!(j.validate().unwrap_err().to_string().contains("review"));
        let mut j = templates().remove(2);
        j.name = "ab".into();
        assert!(j.validate().is_err());
        let mut j = templates().remove(2);
        j.params = vec![GlobalParam {
            name: "N".into(),
            kind: GlobalParamType::Numeric,
            value: Some("x".into()),
            description: String::new(),
            from: None,
        }];
        assert!(j.validate().unwrap_err().to_string().contains("number"));
    }

    #[test]
    fn substitution() {
        let params: BTreeMap<String, String> = [
            ("A".to_string(), "1".to_string()),
            ("L".to_string(), r#"["x", 2]"#.to_string()),
        ]
        .into();
        let kinds: BTreeMap<String, GlobalParamType> = [
            ("A".to_string(), GlobalParamType::Numeric),
            ("L".to_string(), GlobalParamType::Array),
        ]
        .into();
        let h = HostVars {
            id: "h1".into(),
            name: "web".into(),
            ip: "10.0.0.1".into(),
        };
        assert_eq!(
            substitute(
                "a={{A}} l={{ L }} ip={{host.ip}} {{X}} {{",
                &params,
                &kinds,
                &h
            ),
            "a=1 l=x,2 ip=10.0.0.1 {{X}} {{"
        );
        assert_eq!(references("{{A}}-{{host.id}}"), ["A", "host.id"]);
    }

    #[test]
    fn globals_resolve_in_order() {
        let d = vec![
            GlobalParam {
                name: "A".into(),
                kind: GlobalParamType::String,
                value: Some("preset".into()),
                description: String::new(),
                from: None,
            },
            GlobalParam {
                name: "B".into(),
                kind: GlobalParamType::Numeric,
                value: None,
                description: String::new(),
                from: None,
            },
        ];
        let center: BTreeMap<String, String> = [("B".to_string(), "5".to_string())].into();
        let r = resolve_globals(&d, &BTreeMap::new(), &center).unwrap();
        assert_eq!(r["A"], "preset");
        assert_eq!(r["B"], "5");
        let given: BTreeMap<String, String> = [("B".to_string(), "x".to_string())].into();
        assert!(resolve_globals(&d, &given, &center).is_err());
        assert!(resolve_globals(&d, &BTreeMap::new(), &BTreeMap::new()).is_err());
        let given: BTreeMap<String, String> = [("Z".to_string(), "1".to_string())].into();
        assert!(resolve_globals(&d, &given, &center).is_err());
    }

    #[test]
    fn post_fault_strategies() {
        let tasks = vec![
            task("one", PostFault::Continue),
            task("two", PostFault::Pause),
            task("three", PostFault::Stop),
        ];
        assert_eq!(after_task(&tasks, 0, TaskEnd::Ok, false), HostNext::Run(1));
        assert_eq!(
            after_task(&tasks, 0, TaskEnd::Failed, false),
            HostNext::Run(1)
        );
        assert_eq!(
            after_task(&tasks, 1, TaskEnd::Failed, true),
            HostNext::Pause
        );
        assert_eq!(
            after_task(&tasks, 2, TaskEnd::Failed, false),
            HostNext::StopJob
        );
        assert_eq!(
            after_task(&tasks, 2, TaskEnd::Ok, true),
            HostNext::Done { failed: true }
        );
        assert_eq!(
            after_task(&tasks, 0, TaskEnd::SkipStep, false),
            HostNext::Done { failed: false }
        );
        // A failure under `continue` on the last task still fails the host.
        let last = vec![task("only", PostFault::Continue)];
        assert_eq!(
            after_task(&last, 0, TaskEnd::Failed, false),
            HostNext::Done { failed: true }
        );
    }

    #[test]
    fn conditions() {
        assert!(condition_holds("disk=(9\\d)%", false, "disk=95%"));
        assert!(!condition_holds("disk=(9\\d)%", false, "disk=50%"));
        assert!(condition_holds("error", true, "all good"));
        assert!(!condition_holds("(", false, "("));
    }

    #[test]
    fn every_action_in_every_state() {
        use JobAction as A;
        let states = [
            S::Executing,
            S::Paused,
            S::Abnormal,
            S::Successful,
            S::Failed,
            S::Terminated,
        ];
        let actions = [
            A::Pause,
            A::Continue,
            A::ForciblyEnd,
            A::TerminateAll,
            A::RetryFailed,
        ];
        for s in states {
            for a in actions {
                for failed in [false, true] {
                    let r = apply_job_action(s, a, failed);
                    let want = match (s, a) {
                        (S::Executing, A::Pause) => Some(S::Paused),
                        (S::Paused, A::Continue) => Some(S::Executing),
                        (S::Executing | S::Paused | S::Abnormal, A::ForciblyEnd) => {
                            Some(S::Terminated)
                        }
                        (S::Executing | S::Paused | S::Abnormal, A::TerminateAll) => {
                            Some(S::Paused)
                        }
                        (S::Paused | S::Abnormal | S::Failed, A::RetryFailed) if failed => {
                            Some(S::Executing)
                        }
                        _ => None,
                    };
                    match (r, want) {
                        (Ok(got), Some(w)) => assert_eq!(got, w, "{s:?} {a:?}"),
                        (Err(e), None) => {
                            assert!(e.to_string().contains(s.as_str()), "{e}")
                        }
                        (r, w) => panic!("{s:?} {a:?} {failed}: {r:?} vs {w:?}"),
                    }
                }
            }
        }
    }
}
