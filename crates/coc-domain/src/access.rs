//! Access policies (A2, A3; ref. 1.1, 1.2): IAM-style JSON documents, a
//! closed catalog of actions, conditions on request and resource
//! attributes, and the evaluator behind every API call and the policy
//! simulator.
//!
//! ## Document
//! ```json
//! {"Version": "1.1", "Statement": [
//!   {"Effect": "Allow", "Action": ["coc:incident:*"], "Resource": ["incident:*"],
//!    "Condition": {"StringEquals": {"coc:Region": ["cn-north-1"]}}}]}
//! ```
//! - `Action`: `coc:<module>:<verb>` from [`ACTIONS`], with `*` wildcards
//!   (`coc:*:*`, `coc:incident:*`, `coc:*:get`). A pattern that matches no
//!   catalog action is refused. Matching ignores case.
//! - `Resource`: `<type>:<id>` patterns with `*` (`incident:*`, `*`);
//!   omitted means every resource.
//! - `Condition`: operator → key → values. Every operator and key must
//!   hold (AND); any value of a key may match (OR). Operators:
//!   `StringEquals`, `StringNotEquals`, `StringLike`, `IpAddress`,
//!   `NotIpAddress`, `DateLessThan`, `DateGreaterThan`, `Bool`. A key the
//!   request does not carry fails the condition, except for the negated
//!   operators, for which it holds.
//!
//! ## Evaluation
//! An explicit Deny in any matching statement wins; otherwise a matching
//! Allow allows; with neither the request is denied. The result names the
//! deciding statement (policy, index).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// Declares the action catalog: the [`Action`] enum and its names.
macro_rules! actions {
    ($($v:ident = $s:literal),+ $(,)?) => {
        /// One action of the closed catalog, `coc:<module>:<verb>` (ref.
        /// 12.2, A2). Every API route is checked against one of these (or,
        /// for `…/actions` routes, against the one its body names).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $(
                #[doc = $s]
                $v
            ),+
        }

        impl Action {
            /// Every action, in catalog order.
            pub const ALL: &'static [Action] = &[$(Action::$v),+];

            /// The action's name, `coc:<module>:<verb>`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Action::$v => $s),+ }
            }

            /// The action of this exact name; `None` for a name outside the
            /// catalog (a pattern with `*` is no action).
            pub fn parse(name: &str) -> Option<Action> {
                match name { $($s => Some(Action::$v),)+ _ => None }
            }
        }

        /// The catalog's names, in the order of [`Action::ALL`] (policy
        /// patterns are matched against these).
        pub const ACTIONS: &[&str] = &[$($s),+];
    };
}

actions! {
    IntegrationCreate = "coc:integration:create",
    IntegrationList = "coc:integration:list",
    IntegrationGet = "coc:integration:get",
    IntegrationEnable = "coc:integration:enable",
    IntegrationDisable = "coc:integration:disable",
    IntegrationRotateKey = "coc:integration:rotateKey",
    IntegrationTest = "coc:integration:test",
    IntegrationUpdate = "coc:integration:update",
    AlarmList = "coc:alarm:list",
    AlarmGet = "coc:alarm:get",
    AlarmClear = "coc:alarm:clear",
    AlarmConvert = "coc:alarm:convert",
    AlarmHandle = "coc:alarm:handle",
    SilenceCreate = "coc:silence:create",
    SilenceList = "coc:silence:list",
    SilenceGet = "coc:silence:get",
    SilenceUpdate = "coc:silence:update",
    SilenceExpire = "coc:silence:expire",
    SilenceReplay = "coc:silence:replay",
    ApplicationCreate = "coc:application:create",
    ApplicationList = "coc:application:list",
    ApplicationGet = "coc:application:get",
    ApplicationUpdate = "coc:application:update",
    ApplicationDelete = "coc:application:delete",
    CloudCreate = "coc:cloud:create",
    CloudList = "coc:cloud:list",
    CloudGet = "coc:cloud:get",
    CloudUpdate = "coc:cloud:update",
    CloudDelete = "coc:cloud:delete",
    CloudSync = "coc:cloud:sync",
    DriftList = "coc:drift:list",
    DriftGet = "coc:drift:get",
    DriftUpdate = "coc:drift:update",
    DriftDelete = "coc:drift:delete",
    DriftAccept = "coc:drift:accept",
    InhibitionCreate = "coc:inhibition:create",
    InhibitionList = "coc:inhibition:list",
    InhibitionGet = "coc:inhibition:get",
    InhibitionUpdate = "coc:inhibition:update",
    InhibitionDelete = "coc:inhibition:delete",
    RuleCreate = "coc:rule:create",
    RuleList = "coc:rule:list",
    RuleReplay = "coc:rule:replay",
    RuleGet = "coc:rule:get",
    RuleUpdate = "coc:rule:update",
    RuleDelete = "coc:rule:delete",
    RuleCopy = "coc:rule:copy",
    RuleEnable = "coc:rule:enable",
    RuleDisable = "coc:rule:disable",
    IncidentCreate = "coc:incident:create",
    IncidentList = "coc:incident:list",
    IncidentGet = "coc:incident:get",
    IncidentAccept = "coc:incident:accept",
    IncidentReject = "coc:incident:reject",
    IncidentResubmit = "coc:incident:resubmit",
    IncidentClose = "coc:incident:close",
    IncidentForward = "coc:incident:forward",
    IncidentChangeLevel = "coc:incident:changeLevel",
    IncidentRemark = "coc:incident:remark",
    IncidentResolve = "coc:incident:resolve",
    IncidentVerify = "coc:incident:verify",
    IncidentExecutePlan = "coc:incident:executePlan",
    PlanCreate = "coc:plan:create",
    PlanList = "coc:plan:list",
    PlanGet = "coc:plan:get",
    PlanUpdate = "coc:plan:update",
    PlanDelete = "coc:plan:delete",
    PlanEnable = "coc:plan:enable",
    PlanDisable = "coc:plan:disable",
    ResourceCreate = "coc:resource:create",
    ResourceList = "coc:resource:list",
    ResourceGet = "coc:resource:get",
    ResourceUpdate = "coc:resource:update",
    ResourceDelete = "coc:resource:delete",
    ResourceRevokeAgent = "coc:resource:revokeAgent",
    ResourceReenrollAgent = "coc:resource:reenrollAgent",
    ResourceOperate = "coc:resource:operate",
    AgentEnroll = "coc:agent:enroll",
    AgentList = "coc:agent:list",
    AgentRevoke = "coc:agent:revoke",
    AgentInstall = "coc:agent:install",
    PatchList = "coc:patch:list",
    PatchCreate = "coc:patch:create",
    PatchGet = "coc:patch:get",
    PatchUpdate = "coc:patch:update",
    PatchDelete = "coc:patch:delete",
    PatchEnable = "coc:patch:enable",
    PatchDisable = "coc:patch:disable",
    PatchScan = "coc:patch:scan",
    PatchRepair = "coc:patch:repair",
    PatchRollback = "coc:patch:rollback",
    PatchreportList = "coc:patchreport:list",
    PatchreportGet = "coc:patchreport:get",
    HealthCheck = "coc:health:check",
    HealthList = "coc:health:list",
    HealthGet = "coc:health:get",
    AgentUpgrade = "coc:agent:upgrade",
    AgentbuildCreate = "coc:agentbuild:create",
    AgentbuildList = "coc:agentbuild:list",
    AgentbuildGet = "coc:agentbuild:get",
    AgentbuildDelete = "coc:agentbuild:delete",
    OncallCreate = "coc:oncall:create",
    OncallList = "coc:oncall:list",
    OncallGet = "coc:oncall:get",
    OncallUpdate = "coc:oncall:update",
    OncallDelete = "coc:oncall:delete",
    NotificationList = "coc:notification:list",
    NotificationTest = "coc:notification:test",
    NotificationCreate = "coc:notification:create",
    NotificationGet = "coc:notification:get",
    NotificationUpdate = "coc:notification:update",
    NotificationDelete = "coc:notification:delete",
    NotificationEnable = "coc:notification:enable",
    NotificationDisable = "coc:notification:disable",
    NotificationReplay = "coc:notification:replay",
    EscalationCreate = "coc:escalation:create",
    EscalationList = "coc:escalation:list",
    EscalationGet = "coc:escalation:get",
    EscalationUpdate = "coc:escalation:update",
    EscalationDelete = "coc:escalation:delete",
    EscalationEnable = "coc:escalation:enable",
    EscalationDisable = "coc:escalation:disable",
    SlaCreate = "coc:sla:create",
    SlaList = "coc:sla:list",
    SlaGet = "coc:sla:get",
    SlaUpdate = "coc:sla:update",
    SlaDelete = "coc:sla:delete",
    SlaEnable = "coc:sla:enable",
    SlaDisable = "coc:sla:disable",
    EngineerList = "coc:engineer:list",
    EngineerGet = "coc:engineer:get",
    EngineerUpdate = "coc:engineer:update",
    EngineerDelete = "coc:engineer:delete",
    EngineerSubscribe = "coc:engineer:subscribe",
    ProjectCreate = "coc:project:create",
    ProjectList = "coc:project:list",
    ScriptCreate = "coc:script:create",
    ScriptList = "coc:script:list",
    ScriptGet = "coc:script:get",
    ScriptUpdate = "coc:script:update",
    ScriptDelete = "coc:script:delete",
    ScriptExecute = "coc:script:execute",
    ScriptReview = "coc:script:review",
    ScheduleCreate = "coc:schedule:create",
    ScheduleList = "coc:schedule:list",
    ScheduleGet = "coc:schedule:get",
    ScheduleUpdate = "coc:schedule:update",
    ScheduleDelete = "coc:schedule:delete",
    ScheduleReview = "coc:schedule:review",
    ScheduleEnable = "coc:schedule:enable",
    ScheduleDisable = "coc:schedule:disable",
    ParameterCreate = "coc:parameter:create",
    ParameterList = "coc:parameter:list",
    ParameterGet = "coc:parameter:get",
    ParameterUpdate = "coc:parameter:update",
    ParameterDelete = "coc:parameter:delete",
    ParameterDecrypt = "coc:parameter:decrypt",
    ScriptVerify = "coc:script:verify",
    JobCreate = "coc:job:create",
    JobList = "coc:job:list",
    JobGet = "coc:job:get",
    JobUpdate = "coc:job:update",
    JobDelete = "coc:job:delete",
    JobClone = "coc:job:clone",
    JobTag = "coc:job:tag",
    JobReview = "coc:job:review",
    JobExecute = "coc:job:execute",
    JobticketList = "coc:jobticket:list",
    JobticketGet = "coc:jobticket:get",
    JobticketPause = "coc:jobticket:pause",
    JobticketContinue = "coc:jobticket:continue",
    JobticketForciblyEnd = "coc:jobticket:forciblyEnd",
    JobticketTerminateAll = "coc:jobticket:terminateAll",
    JobticketRetryFailed = "coc:jobticket:retryFailed",
    JobticketCancelHost = "coc:jobticket:cancelHost",
    JobticketClone = "coc:jobticket:clone",
    JobticketApprove = "coc:jobticket:approve",
    TodoList = "coc:todo:list",
    TicketList = "coc:ticket:list",
    TicketGet = "coc:ticket:get",
    TicketPause = "coc:ticket:pause",
    TicketContinue = "coc:ticket:continue",
    TicketForciblyEnd = "coc:ticket:forciblyEnd",
    TicketCancelHost = "coc:ticket:cancelHost",
    PolicyCreate = "coc:policy:create",
    PolicyList = "coc:policy:list",
    PolicyGet = "coc:policy:get",
    PolicyUpdate = "coc:policy:update",
    PolicyDelete = "coc:policy:delete",
    PolicyAttach = "coc:policy:attach",
    PolicyDetach = "coc:policy:detach",
    PolicySimulate = "coc:policy:simulate",
    UserCreate = "coc:user:create",
    UserList = "coc:user:list",
    UserGet = "coc:user:get",
    UserUpdate = "coc:user:update",
    UserDelete = "coc:user:delete",
    GroupCreate = "coc:group:create",
    GroupList = "coc:group:list",
    GroupGet = "coc:group:get",
    GroupUpdate = "coc:group:update",
    GroupDelete = "coc:group:delete",
    TokenCreate = "coc:token:create",
    TokenList = "coc:token:list",
    TokenDelete = "coc:token:delete",
    AuditList = "coc:audit:list",
    AuditExport = "coc:audit:export",
    GrantCreate = "coc:grant:create",
    GrantList = "coc:grant:list",
    GrantDelete = "coc:grant:delete",
}

/// Whether an action only reads (`get`, `list`, `export` of the audit log
/// excluded): what `COC ReadOnlyAccess` allows.
pub fn is_read_only(action: &str) -> bool {
    matches!(action.rsplit(':').next(), Some("get" | "list"))
}

/// The audit trace name of an action: the name of ref. table 12-1 where the
/// reference has one (`createTicket`, `executeJobScript`,
/// `createTransferRules`, …), else `<verb><Module>` (`createPolicy`).
pub fn trace_for(action: &str) -> String {
    let mut parts = action.split(':').skip(1);
    let (module, verb) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let fixed = match (module, verb) {
        ("incident", "create") | ("alarm", "convert") => "createTicket",
        ("incident", _) => "actionTicket",
        ("integration", "create") => "accessIntegrationConfig",
        ("integration", "enable") => "enableIntegrationConfig",
        ("integration", "disable") => "disableIntegrationConfig",
        ("integration", "rotateKey") => "updateIntegrationConfig-Key",
        ("rule", "create" | "copy") => "createTransferRules",
        ("rule", "update") => "updateTransferRules",
        ("rule", "delete") => "deleteTransferRules",
        ("rule", "enable") => "enableTransferRules",
        ("rule", "disable") => "disableTransferRules",
        ("script", "create") => "createJobScript",
        ("script", "update") => "editJobScript",
        ("script", "delete") => "deleteJobScript",
        ("script", "execute") => "executeJobScript",
        ("ticket", _) => "jobScriptOrderOperation",
        ("script", "review") => "approveJobScript",
        ("job", "create" | "clone") => "CreateRunbook",
        ("job", "update" | "tag") => "EditRunbook",
        ("job", "delete") => "DeleteRunbook",
        ("job", "review") => "ApproveRunbook",
        ("job", "execute") => "ExecuteRunbook",
        ("jobticket", _) => "OperateJobTicket",
        ("notification", "create") => "createNotificationRule",
        ("notification", "update") => "updateNotificationRule",
        ("notification", "delete") => "deleteNotificationRule",
        ("notification", "enable") => "enableNotificationRule",
        ("notification", "disable") => "disableNotificationRule",
        ("oncall", "create") => "createSceneOncall",
        ("oncall", "update") => "updateSceneOncall",
        ("oncall", "delete") => "deleteSceneOncall",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    let mut m = module.chars();
    let module_cap = m
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + m.as_str())
        .unwrap_or_default();
    format!("{verb}{module_cap}")
}

/// `snake_case` → `camelCase` (`change_level` → `changeLevel`): the
/// catalog verb of an `…/actions` body's `action`.
pub fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `*`-glob match: `*` matches any run of characters (also empty).
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative matcher with backtracking to the last star: O(|p|·|t|).
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else allows.
    Deny,
}

/// One string or a list of strings (IAM accepts both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a slice-like vector.
    pub fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Allow or Deny.
    #[serde(rename = "Effect")]
    pub effect: Effect,
    /// Action patterns.
    #[serde(rename = "Action")]
    pub action: OneOrMany,
    /// Resource patterns; absent means all.
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany>,
    /// Conditions: operator → key → values.
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub condition: BTreeMap<String, BTreeMap<String, OneOrMany>>,
}

/// A policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// `"1.1"`.
    #[serde(rename = "Version")]
    pub version: String,
    /// Statements, evaluated together.
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

/// Condition operators understood.
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "IpAddress",
    "NotIpAddress",
    "DateLessThan",
    "DateGreaterThan",
    "Bool",
];

/// Condition keys understood (`coc:ResourceTag/<key>` too).
pub const CONDITION_KEYS: &[&str] = &[
    "coc:EnterpriseProject",
    "coc:Application",
    "coc:Region",
    "coc:UserName",
    "coc:Groups",
    "coc:SourceIp",
    "coc:CurrentTime",
    "coc:SecureTransport",
];

fn key_known(k: &str) -> bool {
    CONDITION_KEYS.contains(&k)
        || k.strip_prefix("coc:ResourceTag/")
            .is_some_and(|t| !t.is_empty())
}

/// Parses and validates a policy document.
///
/// Errors: [`DomainError::Validation`] with the position of the problem:
/// `line L column C` for malformed JSON or a wrong shape, or a JSON pointer
/// (`/Statement/0/Action/1`) for an unknown action, operator, key, bad
/// address or date.
pub fn parse_policy(text: &str) -> Result<PolicyDocument, DomainError> {
    let doc: PolicyDocument = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "policy is not valid at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    validate_policy(&doc)?;
    Ok(doc)
}

/// Validates a parsed document (see [`parse_policy`]).
///
/// Errors: [`DomainError::Validation`] naming the JSON pointer.
pub fn validate_policy(doc: &PolicyDocument) -> Result<(), DomainError> {
    if doc.version != "1.1" {
        return Err(invalid(format!(
            "/Version: '{}' is not supported; use \"1.1\"",
            doc.version
        )));
    }
    if doc.statement.is_empty() {
        return Err(invalid("/Statement: a policy needs at least one statement"));
    }
    if doc.statement.len() > 100 {
        return Err(invalid("/Statement: at most 100 statements"));
    }
    for (i, s) in doc.statement.iter().enumerate() {
        let actions = s.action.values();
        if actions.is_empty() {
            return Err(invalid(format!(
                "/Statement/{i}/Action: at least one action"
            )));
        }
        for (j, a) in actions.iter().enumerate() {
            if !ACTIONS.iter().any(|c| glob(a, c, true)) {
                return Err(invalid(format!(
                    "/Statement/{i}/Action/{j}: '{a}' matches no action of the catalog (coc:<module>:<verb>)"
                )));
            }
        }
        if let Some(r) = &s.resource {
            for (j, p) in r.values().iter().enumerate() {
                if p.is_empty() {
                    return Err(invalid(format!(
                        "/Statement/{i}/Resource/{j}: empty resource pattern"
                    )));
                }
            }
        }
        for (op, keys) in &s.condition {
            if !OPERATORS.contains(&op.as_str()) {
                return Err(invalid(format!(
                    "/Statement/{i}/Condition/{op}: unknown operator; use one of {}",
                    OPERATORS.join(", ")
                )));
            }
            for (k, vals) in keys {
                if !key_known(k) {
                    return Err(invalid(format!(
                        "/Statement/{i}/Condition/{op}/{k}: unknown condition key"
                    )));
                }
                for v in vals.values() {
                    let ok = match op.as_str() {
                        "IpAddress" | "NotIpAddress" => parse_cidr(v).is_some(),
                        "DateLessThan" | "DateGreaterThan" => {
                            chrono::DateTime::parse_from_rfc3339(v).is_ok()
                        }
                        "Bool" => v == "true" || v == "false",
                        _ => true,
                    };
                    if !ok {
                        return Err(invalid(format!(
                            "/Statement/{i}/Condition/{op}/{k}: '{v}' is not valid for {op}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, l)) => (ip.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, len)) = parse_cidr(cidr) else {
        return false;
    };
    let (a, b, bits): (u128, u128, u32) = match (ip, net) {
        (IpAddr::V4(x), IpAddr::V4(y)) => (u32::from(x).into(), u32::from(y).into(), 32),
        (IpAddr::V6(x), IpAddr::V6(y)) => (u128::from(x), u128::from(y), 128),
        (IpAddr::V6(x), IpAddr::V4(y)) => match x.to_ipv4_mapped() {
            Some(x) => (u32::from(x).into(), u32::from(y).into(), 32),
            None => return false,
        },
        _ => return false,
    };
    let shift = bits - u32::from(len);
    if shift >= 128 {
        return true;
    }
    (a >> shift) == (b >> shift)
}

/// What a request asks and carries, for evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The action, e.g. `coc:incident:accept`.
    pub action: String,
    /// The resource, `<type>:<id>` (`incident:0194…`, `alarm:*` for lists).
    pub resource: String,
    /// Context keys → values: `coc:UserName`, `coc:Groups`, `coc:SourceIp`,
    /// `coc:CurrentTime` (RFC 3339), `coc:Region`, `coc:Application`,
    /// `coc:EnterpriseProject`, `coc:ResourceTag/<k>`, `coc:SecureTransport`.
    pub context: BTreeMap<String, Vec<String>>,
}

/// A policy with the name it is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPolicy {
    /// Policy name (e.g. `COC FullAccess`).
    pub name: String,
    /// The document.
    pub doc: PolicyDocument,
}

/// Why a request was allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A matching Allow and no matching Deny.
    Allow {
        /// Deciding policy.
        policy: String,
        /// Statement index in it.
        statement: usize,
    },
    /// A matching Deny.
    ExplicitDeny {
        /// Deciding policy.
        policy: String,
        /// Statement index in it.
        statement: usize,
    },
    /// No statement allowed it.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

fn condition_holds(op: &str, key: &str, want: &[&str], req: &Request) -> bool {
    let negated = matches!(op, "StringNotEquals" | "NotIpAddress");
    let Some(have) = req.context.get(key).filter(|v| !v.is_empty()) else {
        return negated;
    };
    match op {
        "StringEquals" => have.iter().any(|h| want.contains(&h.as_str())),
        "StringNotEquals" => !have.iter().any(|h| want.contains(&h.as_str())),
        "StringLike" => have.iter().any(|h| want.iter().any(|w| glob(w, h, false))),
        "IpAddress" | "NotIpAddress" => {
            let inside = have
                .iter()
                .filter_map(|h| h.parse::<IpAddr>().ok())
                .any(|ip| want.iter().any(|c| in_cidr(ip, c)));
            inside != negated
        }
        "DateLessThan" | "DateGreaterThan" => {
            let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
            have.iter().filter_map(|h| parse(h)).any(|t| {
                want.iter()
                    .filter_map(|w| parse(w))
                    .any(|w| if op == "DateLessThan" { t < w } else { t > w })
            })
        }
        "Bool" => have.iter().any(|h| want.contains(&h.as_str())),
        _ => false,
    }
}

/// Whether statement `s` applies to `req` (action, resource, conditions).
pub fn statement_matches(s: &Statement, req: &Request) -> bool {
    let action = s.action.values().iter().any(|a| glob(a, &req.action, true));
    let resource = match &s.resource {
        None => true,
        Some(r) => r.values().iter().any(|p| glob(p, &req.resource, false)),
    };
    action
        && resource
        && s.condition.iter().all(|(op, keys)| {
            keys.iter()
                .all(|(k, v)| condition_holds(op, k, &v.values(), req))
        })
}

/// Condition keys that describe the resource rather than the caller; a
/// list or a route evaluated before the record is loaded cannot know them.
pub const RESOURCE_KEYS: &[&str] = &["coc:Region", "coc:Application", "coc:EnterpriseProject"];

fn is_resource_key(k: &str) -> bool {
    RESOURCE_KEYS.contains(&k) || k.starts_with("coc:ResourceTag/")
}

/// Whether one decision on every record of `kind` (`<kind>:*`) holds for
/// each of them under `policies`: no statement naming `action` has a
/// condition on a resource attribute or a resource pattern narrower than
/// `*` or `<kind>:*`. Then counts over all records (groups) may be shown
/// to whoever may do `action` on `<kind>:*`; otherwise each record decides.
pub fn decides_for_all(policies: &[NamedPolicy], action: &str, kind: &str) -> bool {
    let every = format!("{kind}:*");
    policies
        .iter()
        .flat_map(|p| &p.doc.statement)
        .filter(|s| s.action.values().iter().any(|a| glob(a, action, true)))
        .all(|s| {
            !s.condition
                .values()
                .any(|keys| keys.keys().any(|k| is_resource_key(k)))
                && s.resource
                    .as_ref()
                    .is_none_or(|r| r.values().iter().all(|p| *p == "*" || *p == every))
        })
}

/// Whether some Allow statement could allow `req` once the resource's
/// attributes are known: its action and resource match, its conditions on
/// the caller hold, and it has at least one condition on a resource
/// attribute. Used before records are loaded (lists, detail routes), so
/// that the per-record check decides.
pub fn may_allow_with_resource_attributes(policies: &[NamedPolicy], req: &Request) -> bool {
    policies.iter().flat_map(|p| &p.doc.statement).any(|s| {
        s.effect == Effect::Allow
            && s.condition
                .values()
                .any(|keys| keys.keys().any(|k| is_resource_key(k)))
            && s.action.values().iter().any(|a| glob(a, &req.action, true))
            && s.resource
                .as_ref()
                .is_none_or(|r| r.values().iter().any(|p| glob(p, &req.resource, false)))
            && s.condition.iter().all(|(op, keys)| {
                keys.iter()
                    .all(|(k, v)| is_resource_key(k) || condition_holds(op, k, &v.values(), req))
            })
    })
}

/// Evaluates `req` against every statement of `policies`: an explicit Deny
/// wins, then an Allow, else implicit deny. The first deciding statement (in
/// the given order) is named; the outcome does not depend on the order.
pub fn evaluate(policies: &[NamedPolicy], req: &Request) -> Decision {
    let mut allow = None;
    for p in policies {
        for (i, s) in p.doc.statement.iter().enumerate() {
            if !statement_matches(s, req) {
                continue;
            }
            match s.effect {
                Effect::Deny => {
                    return Decision::ExplicitDeny {
                        policy: p.name.clone(),
                        statement: i,
                    };
                }
                Effect::Allow => {
                    if allow.is_none() {
                        allow = Some(Decision::Allow {
                            policy: p.name.clone(),
                            statement: i,
                        });
                    }
                }
            }
        }
    }
    allow.unwrap_or(Decision::ImplicitDeny)
}

/// The system policies that exist from the start: `COC FullAccess` (every
/// action) and `COC ReadOnlyAccess` (every `get` and `list`).
pub fn system_policies() -> Vec<NamedPolicy> {
    let full = PolicyDocument {
        version: "1.1".into(),
        statement: vec![Statement {
            effect: Effect::Allow,
            action: OneOrMany::Many(vec!["coc:*:*".into()]),
            resource: None,
            condition: BTreeMap::new(),
        }],
    };
    let read = PolicyDocument {
        version: "1.1".into(),
        statement: vec![Statement {
            effect: Effect::Allow,
            action: OneOrMany::Many(vec!["coc:*:get".into(), "coc:*:list".into()]),
            resource: None,
            condition: BTreeMap::new(),
        }],
    };
    vec![
        NamedPolicy {
            name: "COC FullAccess".into(),
            doc: full,
        },
        NamedPolicy {
            name: "COC ReadOnlyAccess".into(),
            doc: read,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(action: &str, resource: &str) -> Request {
        Request {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    fn pol(name: &str, json: &str) -> NamedPolicy {
        NamedPolicy {
            name: name.into(),
            doc: parse_policy(json).unwrap(),
        }
    }

    #[test]
    fn every_action_parses_back_from_its_name_and_patterns_are_no_actions() {
        assert_eq!(Action::ALL.len(), ACTIONS.len());
        for (a, name) in Action::ALL.iter().zip(ACTIONS) {
            assert_eq!(a.as_str(), *name);
            assert_eq!(Action::parse(name), Some(*a));
            let (module, verb) = name
                .strip_prefix("coc:")
                .and_then(|r| r.split_once(':'))
                .unwrap();
            assert!(!module.is_empty() && !verb.is_empty() && !verb.contains(':'));
        }
        assert_eq!(Action::parse("coc:job:*"), None);
        assert_eq!(Action::parse("coc:job:Create"), None);
        assert_eq!(Action::parse("coc:job:create"), Some(Action::JobCreate));
    }

    #[test]
    fn resource_attribute_allows_defer_to_the_record() {
        let p = pol(
            "R",
            r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:alarm:*","Condition":{"StringEquals":{"coc:Region":"r1"},"StringLike":{"coc:UserName":"ops-*"}}}]}"#,
        );
        let mut r = req("coc:alarm:list", "alarm:*");
        r.context
            .insert("coc:UserName".into(), vec!["ops-a".into()]);
        let ps = [p];
        assert!(!evaluate(&ps, &r).allowed(), "region unknown yet");
        assert!(may_allow_with_resource_attributes(&ps, &r));
        r.context
            .insert("coc:UserName".into(), vec!["dev-a".into()]);
        assert!(
            !may_allow_with_resource_attributes(&ps, &r),
            "caller conditions still apply"
        );
        let plain = [pol(
            "P",
            r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:alarm:*"}]}"#,
        )];
        assert!(!may_allow_with_resource_attributes(
            &plain,
            &req("coc:incident:list", "incident:*")
        ));
    }

    #[test]
    fn trace_names() {
        assert_eq!(trace_for("coc:incident:create"), "createTicket");
        assert_eq!(trace_for("coc:incident:accept"), "actionTicket");
        assert_eq!(trace_for("coc:script:execute"), "executeJobScript");
        assert_eq!(trace_for("coc:rule:create"), "createTransferRules");
        assert_eq!(
            trace_for("coc:integration:rotateKey"),
            "updateIntegrationConfig-Key"
        );
        assert_eq!(trace_for("coc:policy:create"), "createPolicy");
        assert_eq!(
            trace_for("coc:notification:disable"),
            "disableNotificationRule"
        );
        assert_eq!(trace_for("coc:oncall:update"), "updateSceneOncall");
        assert_eq!(trace_for("coc:escalation:create"), "createEscalation");
        assert_eq!(camel("change_level"), "changeLevel");
        assert_eq!(camel("forcibly_end"), "forciblyEnd");
        assert_eq!(camel("accept"), "accept");
        for verb in [
            "accept",
            "reject",
            "resubmit",
            "close",
            "forward",
            "change_level",
            "remark",
            "resolve",
            "verify",
        ] {
            assert!(
                ACTIONS.contains(&format!("coc:incident:{}", camel(verb)).as_str()),
                "{verb}"
            );
        }
        for verb in ["pause", "continue", "forcibly_end"] {
            assert!(
                ACTIONS.contains(&format!("coc:ticket:{}", camel(verb)).as_str()),
                "{verb}"
            );
        }
    }

    #[test]
    fn glob_cases() {
        assert!(glob("coc:*:*", "coc:incident:accept", true));
        assert!(glob("coc:incident:*", "coc:incident:accept", true));
        assert!(!glob("coc:incident:*", "coc:alarm:list", true));
        assert!(glob("coc:*:get", "coc:alarm:get", true));
        assert!(!glob("coc:*:get", "coc:alarm:getx", true));
        assert!(glob("COC:Incident:ACCEPT", "coc:incident:accept", true));
        assert!(!glob("Incident:*", "incident:1", false));
        assert!(glob("*", "", false));
        assert!(glob("a*b*c", "aXXbYYc", false));
        assert!(!glob("a*b*c", "aXXbYY", false));
        assert!(glob("**", "x", false));
    }

    #[test]
    fn every_catalog_action_is_well_formed_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in ACTIONS {
            let parts: Vec<&str> = a.split(':').collect();
            assert_eq!(parts.len(), 3, "{a}");
            assert_eq!(parts[0], "coc");
            assert!(seen.insert(a.to_lowercase()), "duplicate {a}");
        }
    }

    #[test]
    fn parse_errors_name_the_position() {
        let e = parse_policy("{\"Version\": \"1.1\",\n \"Statement\": [}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = parse_policy(r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["coc:incident:get","coc:incident:fly"]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/Statement/0/Action/1"), "{e}");
        let e = parse_policy(
            r#"{"Version":"1.1","Statement":[{"Effect":"Maybe","Action":"coc:*:*"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 1"));
        let e = parse_policy(r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:*:*","Condition":{"IpAddress":{"coc:SourceIp":"10.0.0.0/33"}}}]}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("/Statement/0/Condition/IpAddress/coc:SourceIp"),
            "{e}"
        );
        assert!(
            parse_policy(
                r#"{"Version":"1.0","Statement":[{"Effect":"Allow","Action":"coc:*:*"}]}"#
            )
            .is_err()
        );
        assert!(
            parse_policy(
                r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:*:*","Extra":1}]}"#
            )
            .is_err()
        );
        assert!(parse_policy(r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:*:*","Condition":{"Nope":{"coc:Region":"x"}}}]}"#).is_err());
        assert!(parse_policy(r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:*:*","Condition":{"StringEquals":{"coc:Nope":"x"}}}]}"#).is_err());
    }

    #[test]
    fn system_policies_validate_and_read_only_reads() {
        for p in system_policies() {
            validate_policy(&p.doc).unwrap();
        }
        let ro = &system_policies()[1..];
        for a in ACTIONS {
            assert_eq!(
                evaluate(ro, &req(a, "x:1")).allowed(),
                is_read_only(a),
                "{a}"
            );
        }
        let full = &system_policies()[..1];
        assert!(
            ACTIONS
                .iter()
                .all(|a| evaluate(full, &req(a, "x:1")).allowed())
        );
    }

    #[test]
    fn deny_wins_and_names_the_statement() {
        let allow = pol(
            "A",
            r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:incident:*"}]}"#,
        );
        let deny = pol(
            "D",
            r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:alarm:list"},{"Effect":"Deny","Action":"coc:incident:accept","Resource":"incident:9*"}]}"#,
        );
        let ps = vec![allow.clone(), deny.clone()];
        assert_eq!(
            evaluate(&ps, &req("coc:incident:accept", "incident:91")),
            Decision::ExplicitDeny {
                policy: "D".into(),
                statement: 1
            }
        );
        assert_eq!(
            evaluate(&ps, &req("coc:incident:accept", "incident:11")),
            Decision::Allow {
                policy: "A".into(),
                statement: 0
            }
        );
        assert_eq!(
            evaluate(&ps, &req("coc:script:execute", "script:1")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn conditions() {
        let p = pol(
            "C",
            r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:*:*","Condition":{
                "StringEquals":{"coc:Region":["r1","r2"]},
                "StringLike":{"coc:UserName":"ops-*"},
                "IpAddress":{"coc:SourceIp":["10.0.0.0/8","::1"]},
                "DateLessThan":{"coc:CurrentTime":"2030-01-01T00:00:00Z"},
                "Bool":{"coc:SecureTransport":"true"}}}]}"#,
        );
        let mut r = req("coc:alarm:list", "alarm:*");
        let set = |r: &mut Request, k: &str, v: &str| {
            r.context.insert(k.into(), vec![v.into()]);
        };
        set(&mut r, "coc:Region", "r2");
        set(&mut r, "coc:UserName", "ops-ann");
        set(&mut r, "coc:SourceIp", "10.2.3.4");
        set(&mut r, "coc:CurrentTime", "2026-11-22T00:00:00Z");
        set(&mut r, "coc:SecureTransport", "true");
        let ps = [p];
        assert!(evaluate(&ps, &r).allowed());
        for (k, bad) in [
            ("coc:Region", "r3"),
            ("coc:UserName", "dev-bob"),
            ("coc:SourceIp", "192.0.2.1"),
            ("coc:CurrentTime", "2031-01-01T00:00:00Z"),
            ("coc:SecureTransport", "false"),
        ] {
            let mut r2 = r.clone();
            set(&mut r2, k, bad);
            assert!(!evaluate(&ps, &r2).allowed(), "{k}={bad} must fail");
            let mut r3 = r.clone();
            r3.context.remove(k);
            assert!(!evaluate(&ps, &r3).allowed(), "missing {k} must fail");
        }
        let mut v6 = r.clone();
        set(&mut v6, "coc:SourceIp", "::1");
        assert!(evaluate(&ps, &v6).allowed());
        let neg = pol(
            "N",
            r#"{"Version":"1.1","Statement":[{"Effect":"Deny","Action":"coc:*:*","Condition":{"StringNotEquals":{"coc:Region":"r1"}}}]}"#,
        );
        let mut no_region = req("coc:alarm:list", "alarm:*");
        assert!(
            matches!(
                evaluate(std::slice::from_ref(&neg), &no_region),
                Decision::ExplicitDeny { .. }
            ),
            "negated operator holds for a missing key"
        );
        no_region
            .context
            .insert("coc:Region".into(), vec!["r1".into()]);
        assert_eq!(evaluate(&[neg], &no_region), Decision::ImplicitDeny);
        assert!(in_cidr("10.1.1.1".parse().unwrap(), "0.0.0.0/0"));
        assert!(in_cidr("::ffff:10.1.1.1".parse().unwrap(), "10.0.0.0/8"));
        assert!(!in_cidr("11.1.1.1".parse().unwrap(), "10.0.0.0/8"));
    }

    fn arb_statement() -> impl Strategy<Value = Statement> {
        let action = prop::sample::select(vec![
            "coc:*:*",
            "coc:incident:*",
            "coc:*:get",
            "coc:alarm:list",
            "coc:incident:accept",
            "coc:script:execute",
            "coc:script:review",
            "coc:schedule:create",
            "coc:schedule:list",
            "coc:schedule:get",
            "coc:schedule:update",
            "coc:schedule:delete",
            "coc:schedule:review",
            "coc:schedule:enable",
            "coc:schedule:disable",
            "coc:parameter:create",
            "coc:parameter:list",
            "coc:parameter:get",
            "coc:parameter:update",
            "coc:parameter:delete",
            "coc:parameter:decrypt",
            "coc:script:verify",
        ]);
        let resource = prop::option::of(prop::sample::select(vec![
            "*",
            "incident:*",
            "incident:1",
            "alarm:*",
            "script:7",
        ]));
        let region = prop::option::of(prop::sample::select(vec!["r1", "r2"]));
        (any::<bool>(), action, resource, region).prop_map(|(deny, a, r, region)| {
            let mut condition = BTreeMap::new();
            if let Some(reg) = region {
                let mut k = BTreeMap::new();
                k.insert("coc:Region".to_string(), OneOrMany::One(reg.to_string()));
                condition.insert("StringEquals".to_string(), k);
            }
            Statement {
                effect: if deny { Effect::Deny } else { Effect::Allow },
                action: OneOrMany::One(a.to_string()),
                resource: r.map(|r| OneOrMany::One(r.to_string())),
                condition,
            }
        })
    }

    fn arb_request() -> impl Strategy<Value = Request> {
        (
            prop::sample::select(ACTIONS.to_vec()),
            prop::sample::select(vec!["incident:1", "incident:2", "alarm:5", "script:7"]),
            prop::option::of(prop::sample::select(vec!["r1", "r2", "r3"])),
        )
            .prop_map(|(a, r, region)| {
                let mut context = BTreeMap::new();
                if let Some(reg) = region {
                    context.insert("coc:Region".to_string(), vec![reg.to_string()]);
                }
                Request {
                    action: a.to_string(),
                    resource: r.to_string(),
                    context,
                }
            })
    }

    fn policies(st: Vec<Vec<Statement>>) -> Vec<NamedPolicy> {
        st.into_iter()
            .enumerate()
            .map(|(i, s)| NamedPolicy {
                name: format!("p{i}"),
                doc: PolicyDocument {
                    version: "1.1".into(),
                    statement: s,
                },
            })
            .collect()
    }

    proptest! {
        /// The decision (allowed or not, and whether by explicit deny) does
        /// not depend on the order of policies or statements.
        #[test]
        fn order_does_not_matter(st in prop::collection::vec(prop::collection::vec(arb_statement(), 1..4), 1..4), r in arb_request(), seed in any::<u64>()) {
            let ps = policies(st);
            let mut shuffled = ps.clone();
            let n = shuffled.len();
            for i in 0..n { shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n); }
            for p in &mut shuffled { p.doc.statement.reverse(); }
            let a = evaluate(&ps, &r);
            let b = evaluate(&shuffled, &r);
            prop_assert_eq!(a.allowed(), b.allowed());
            prop_assert_eq!(matches!(a, Decision::ExplicitDeny{..}), matches!(b, Decision::ExplicitDeny{..}));
        }

        /// A matching Deny wins over any number of Allows.
        #[test]
        fn deny_wins(st in prop::collection::vec(prop::collection::vec(arb_statement(), 1..4), 1..4), r in arb_request()) {
            let ps = policies(st);
            let any_deny = ps.iter().flat_map(|p| &p.doc.statement).any(|s| s.effect == Effect::Deny && statement_matches(s, &r));
            let d = evaluate(&ps, &r);
            prop_assert_eq!(any_deny, matches!(d, Decision::ExplicitDeny{..}));
            if any_deny { prop_assert!(!d.allowed()); }
        }

        /// Adding an Allow statement never removes access; adding a Deny
        /// never grants it.
        #[test]
        fn monotonic(st in prop::collection::vec(prop::collection::vec(arb_statement(), 1..4), 1..4), extra in arb_statement(), r in arb_request()) {
            let ps = policies(st.clone());
            let before = evaluate(&ps, &r).allowed();
            let mut more = st;
            more.push(vec![extra.clone()]);
            let after = evaluate(&policies(more), &r).allowed();
            match extra.effect {
                Effect::Allow => prop_assert!(!before || after, "an Allow removed access"),
                Effect::Deny => prop_assert!(before || !after, "a Deny granted access"),
            }
        }

        /// A wildcard action pattern matches exactly the catalog actions
        /// whose text it covers: `coc:<m>:*` all of module m, `coc:*:<v>`
        /// all with verb v.
        #[test]
        fn wildcards_match_exactly(a in prop::sample::select(ACTIONS.to_vec()), b in prop::sample::select(ACTIONS.to_vec())) {
            let (m, v) = { let p: Vec<&str> = a.split(':').collect(); (p[1].to_string(), p[2].to_string()) };
            let (bm, bv) = { let p: Vec<&str> = b.split(':').collect(); (p[1].to_string(), p[2].to_string()) };
            prop_assert_eq!(glob(&format!("coc:{m}:*"), b, true), bm.eq_ignore_ascii_case(&m));
            prop_assert_eq!(glob(&format!("coc:*:{v}"), b, true), bv.eq_ignore_ascii_case(&v));
            prop_assert!(glob("coc:*:*", b, true));
            prop_assert_eq!(glob(a, b, true), a.eq_ignore_ascii_case(b));
        }
    }
}
