//! The console's modules as declarations: each entry of [`MODULES`] is one
//! section of the navigation — its API list and record, its columns,
//! filters, the fields of its forms and its operations. The generic
//! engine ([`super::generic`]) turns them into pages.

use serde_json::Value;

use super::forms::{Field, Grouping, Kind, Pick, f, h};
use super::text;

/// One console section backed by an API list.
pub struct Module {
    /// Path segment under `/console`.
    pub slug: &'static str,
    /// Heading.
    pub title: &'static str,
    /// The API list (`GET`).
    pub list: &'static str,
    /// The API detail with `{id}`, if records have one.
    pub detail: Option<&'static str>,
    /// The key that identifies a record in the list.
    pub key: &'static str,
    /// Default columns: (JSON key or dotted path, label).
    pub columns: &'static [(&'static str, &'static str)],
    /// Where the "New" form creates: `POST` on this API path, or `PUT`
    /// when it names a field as `{field}` (that field goes into the path).
    /// `None`: records are not created here.
    pub create: Option<&'static str>,
    /// An example definition the New form can be filled with.
    pub example: Option<&'static str>,
    /// Records can be modified here (`PUT` on the detail path with the
    /// form's fields).
    pub modify: bool,
    /// The fields of the New and Modify forms: every field of the API's
    /// definition, so that saving a record unchanged changes nothing.
    pub fields: &'static [Field],
    /// Operations on a record that take a form or show a result (copy,
    /// run, decrypt, rotate a key …), beyond enable/disable/review/delete.
    pub ops: &'static [Op],
    /// A list that belongs to a record, shown on its page: (heading, API
    /// path with `{id}` answering `{"items": […]}`).
    pub related: Option<(&'static str, &'static str)>,
    /// A chart of the listed records, drawn above the list (HTML with an
    /// inline SVG; see [`super::chart`]).
    pub summary: Option<fn(&[Value]) -> String>,
    /// The create answer holds a secret shown once (an API token's): it
    /// is shown on a page of its own, not followed to the record.
    pub shown_once: bool,
    /// When a record is not modified (the API refuses): (a boolean field
    /// of the record that locks it when true, why). The record page then
    /// says why instead of offering Modify.
    pub locked: &'static [(&'static str, &'static str)],
    /// `DELETE` revokes rather than removes (tokens, grants stay listed
    /// with their revocation time): the button says "Revoke".
    pub revokes: bool,
    /// An API list of ready-made definitions (`{"items": [{"name", …}]}`)
    /// a New form can start from (`?template=<name>`).
    pub templates: Option<&'static str>,
    /// An API download of the whole list, linked from the list page.
    pub export: Option<(&'static str, &'static str)>,
}

/// The defaults of a [`Module`]: read-only records with a detail page.
const MODULE: Module = Module {
    slug: "",
    title: "",
    list: "",
    detail: None,
    key: "id",
    columns: &[],
    create: None,
    example: None,
    modify: false,
    fields: &[],
    ops: &[],
    related: None,
    summary: None,
    shown_once: false,
    locked: &[(
        "system",
        "A system record is not modified; copy or clone it instead.",
    )],
    revokes: false,
    templates: None,
    export: None,
};

/// A record operation with its own form (ref. each module's chapter:
/// "Copy", "Execute", "View" of an encrypted value, "Reset key" …).
pub struct Op {
    /// URL segment: `/console/{module}/{id}/op/{op}`.
    pub op: &'static str,
    /// Button label.
    pub label: &'static str,
    /// The API call: `method` on this path. `{id}` is the record's key;
    /// any other `{field}` takes that field's value out of the body.
    pub api: &'static str,
    /// `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The form's fields; none: a button that posts at once.
    pub fields: &'static [Field],
    /// The form starts with the record's current values: (field key,
    /// the record's dotted path). Empty: a blank form.
    pub prefill: &'static [(&'static str, &'static str)],
    /// The JSON object the body starts from, the form's values over it:
    /// what an emptied form sends (`{"tags": {}}` removes every tag).
    pub base: &'static str,
    /// Where the operator goes afterwards.
    pub then: Then,
    /// For operations that cannot be undone (revoke, reset): what happens,
    /// shown on a page of its own with the button, so one click on the
    /// record page never does it.
    pub confirm: Option<&'static str>,
}

/// The defaults of an [`Op`]: a `POST` of the form's values on a blank
/// form, the answer shown.
const OP: Op = Op {
    op: "",
    label: "",
    api: "",
    method: "POST",
    fields: &[],
    prefill: &[],
    base: "{}",
    then: Then::Show,
    confirm: None,
};

/// What follows a successful [`Op`].
pub enum Then {
    /// The record the API answered with, in this module, by this key
    /// (a copy, a ticket).
    Record(&'static str, &'static str),
    /// The answer, shown once on a page of its own (decrypted values, a
    /// new access key); never in a URL.
    Show,
}

const LEVELS: Kind = Kind::Choice(&["P1", "P2", "P3", "P4", "P5"]);
const CHANNELS: Kind = Kind::Many(coc_domain::notify::CHANNELS);
pub(crate) const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Tokyo",
];

/// The rows of a recipient list (ref. 11.3): the owner, named users, or
/// roles of an on-call scenario.
const RECIPIENT: &[Field] = &[
    f(
        "type",
        "Type",
        Kind::Choice(&["owner", "individual", "shift"]),
    ),
    f("users", "Users (individual)", Kind::List),
    f("scenario", "Scenario (shift)", Kind::Pick(&SCENARIOS)),
    f("roles", "Roles (shift)", Kind::List),
];

const CONDITION: &[Field] = &[
    f("field", "Field", Kind::Suggest(coc_domain::rule::FIELDS)),
    f(
        "op",
        "Operator",
        Kind::Choice(&["equals", "not_equals", "contains", "regex", "in"]),
    ),
    f("value", "Value", Kind::Text),
    f("values", "Values (in)", Kind::List),
];

const SCRIPT_PARAM: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("description", "Description", Kind::Text),
    f(
        "type",
        "Type",
        Kind::Choice(&["string", "number", "boolean"]),
    ),
    f("default", "Default", Kind::Text),
    f("required", "Required", Kind::Check),
    f("sensitive", "Sensitive", Kind::Check),
];

const SCRIPT: &[Field] = &[
    h(
        "name",
        "Name",
        Kind::Text,
        "1 to 64 letters, digits, '_', '.' and '-'.",
    ),
    f("description", "Description", Kind::Long),
    f(
        "type",
        "Language",
        Kind::Choice(&["shell", "python", "bat"]),
    ),
    h(
        "content",
        "Script",
        Kind::Long,
        "Parameters arrive as environment variables of the same name (at most 64 KiB).",
    ),
    f(
        "risk_level",
        "Risk level",
        Kind::Choice(&["low", "medium", "high"]),
    ),
    h(
        "params",
        "Parameters",
        Kind::Rows(SCRIPT_PARAM),
        "At most 20; names are environment variable names.",
    ),
    h(
        "manual_review",
        "Manual review",
        Kind::Check,
        "Ask the reviewers before the script can run (always for high risk).",
    ),
    f("reviewers", "Reviewers", Kind::Rows(RECIPIENT)),
];

/// An incident action's form on the incident page (ref. 7.1.3): the
/// API's action, its button, the fields of its body and what an empty
/// form sends.
pub struct IncidentOp {
    /// The form's own name (its button's id): the API's `action`, or for
    /// two buttons of one action (verification passed / failed) each its
    /// own.
    pub form: &'static str,
    /// The API's `action`.
    pub action: &'static str,
    /// Button label.
    pub label: &'static str,
    /// The body's fields besides `action`.
    pub fields: &'static [Field],
    /// The JSON object the body starts from.
    pub base: &'static str,
}

const REMARK: Field = f("remark", "Remark", Kind::Text);

/// Every incident action, in the order the page offers them; the page
/// shows those [`coc_domain::incident::allowed_actions`] allows now.
pub const INCIDENT_OPS: &[IncidentOp] = &[
    IncidentOp {
        form: "accept",
        action: "accept",
        label: "Accept",
        fields: &[REMARK],
        base: "{}",
    },
    IncidentOp {
        form: "reject",
        action: "reject",
        label: "Reject",
        fields: &[f("reason", "Reason", Kind::Long)],
        base: "{}",
    },
    IncidentOp {
        form: "forward",
        action: "forward",
        label: "Forward",
        fields: &[f("to", "New owner", Kind::User), REMARK],
        base: "{}",
    },
    IncidentOp {
        form: "change_level",
        action: "change_level",
        label: "Change level",
        fields: &[
            f("level", "New level", LEVELS),
            f("reason", "Reason", Kind::Long),
        ],
        base: "{}",
    },
    IncidentOp {
        form: "remark",
        action: "remark",
        label: "Add remark",
        fields: &[f("text", "Remark", Kind::Long)],
        base: "{}",
    },
    IncidentOp {
        form: "resolve",
        action: "resolve",
        label: "Record handling result",
        fields: &[f("result", "Handling result", Kind::Long)],
        base: "{}",
    },
    IncidentOp {
        form: "verify_passed",
        action: "verify",
        label: "Verification passed",
        fields: &[REMARK],
        base: r#"{"passed": true}"#,
    },
    IncidentOp {
        form: "verify_failed",
        action: "verify",
        label: "Verification failed",
        fields: &[h(
            "remark",
            "Remark",
            Kind::Text,
            "What still fails; the incident goes back to its owner.",
        )],
        base: r#"{"passed": false}"#,
    },
    IncidentOp {
        form: "resubmit",
        action: "resubmit",
        label: "Resubmit",
        fields: &[
            h("title", "New title", Kind::Text, "Empty: unchanged."),
            h(
                "description",
                "New description",
                Kind::Long,
                "Empty: unchanged.",
            ),
        ],
        base: "{}",
    },
    IncidentOp {
        form: "close",
        action: "close",
        label: "Close",
        fields: &[REMARK],
        base: "{}",
    },
];

/// The incident page's "Execute response plan" form (ref. 7.1.3.8).
pub const RUN_PLAN: &[Field] = &[
    h(
        "plan",
        "Plan",
        Kind::Pick(&PLANS),
        "Empty: the plan the incident's forwarding rule offers.",
    ),
    h(
        "step",
        "Step",
        Kind::Number,
        "Document plans: the step to run (1 is the first); empty: the whole plan.",
    ),
    f("hosts", "Hosts", Kind::Hosts),
];

/// The fields of a new incident (ref. 6.1.1): the New incident form and
/// "Convert to incident" on the alarms page.
pub const INCIDENT: &[Field] = &[
    f("title", "Title", Kind::Text),
    f("description", "Description", Kind::Long),
    f("level", "Level", LEVELS),
    h(
        "assignee",
        "Owner",
        Kind::User,
        "The fallback when a shift is named.",
    ),
    f(
        "assignee_shift.scenario",
        "On-call scenario",
        Kind::Pick(&SCENARIOS),
    ),
    f("assignee_shift.role", "On-call role", Kind::Text),
    f("application", "Application", Kind::Text),
    f("region", "Region", Kind::Text),
    f("category", "Category", Kind::Text),
];

const JOB: &[Field] = &[
    h(
        "name",
        "Name",
        Kind::Text,
        "3 to 100 letters, digits, - and _.",
    ),
    f("description", "Description", Kind::Long),
    f("enterprise_project", "Enterprise project", Kind::Text),
    f(
        "risk_level",
        "Risk level",
        Kind::Choice(&["low", "medium", "high"]),
    ),
    h(
        "manual_review",
        "Manual review",
        Kind::Check,
        "Ask the reviewers before the job can run (always for high risk).",
    ),
    f("reviewers", "Reviewers", Kind::Rows(RECIPIENT)),
    h(
        "tags",
        "Tags",
        Kind::Map,
        "key=value, one per line (at most 20).",
    ),
    h(
        "params",
        "Global parameters",
        Kind::Rows(GLOBAL_PARAM),
        "A task's script parameter takes one as {{NAME}}; at most 50.",
    ),
    h(
        "steps",
        "Steps and tasks",
        Kind::Grouped(&STEPS),
        "Steps run one after another; each host runs its step's tasks in order.",
    ),
];

/// A job's global parameter (ref. 5.2.2 step 7): a preset value, or one
/// read from the parameter center.
const GLOBAL_PARAM: &[Field] = &[
    f("name", "Name", Kind::Text),
    f(
        "type",
        "Type",
        Kind::Choice(&["string", "numeric", "array"]),
    ),
    f("value", "Value", Kind::Text),
    f("description", "Description", Kind::Text),
    f("from.name", "From the parameter center", Kind::Text),
    f("from.region", "Its region", Kind::Text),
    f(
        "from.mode",
        "Read",
        Kind::Choice(&["at_creation", "latest"]),
    ),
];

/// Scripts, chosen by name; a choice offers its parameters' defaults to
/// the sibling field `fills` (`NAME=value` lines).
const fn scripts(fills: &'static str) -> Pick {
    Pick {
        list: "/api/v1/scripts",
        value: "name",
        shown: "name",
        fills,
        hint: Some(script_defaults),
    }
}

/// A job task's script.
const SCRIPTS: Pick = scripts("atom.params");
/// A scheduled task's script.
const TASK_SCRIPTS: Pick = scripts("params");
/// A forwarding rule's contingency script.
const CONTINGENCY_SCRIPTS: Pick = scripts("contingency_script.params");
/// An automation plan's script.
const PLAN_SCRIPTS: Pick = scripts("body.action.params");
/// A document plan step's script.
const STEP_SCRIPTS: Pick = scripts("");

/// Records of a section chosen by name, offering nothing else.
const fn by_name(list: &'static str) -> Pick {
    Pick {
        list,
        value: "name",
        shown: "name",
        fills: "",
        hint: None,
    }
}

/// Jobs, by name.
const JOBS: Pick = by_name("/api/v1/jobs");
/// Emergency plans, by name.
pub(crate) const PLANS: Pick = by_name("/api/v1/plans");
/// On-call scenarios, by name.
pub(crate) const SCENARIOS: Pick = by_name("/api/v1/oncall/scenarios");
/// Monitoring integrations: kept by id, shown by name.
const INTEGRATIONS: Pick = Pick {
    list: "/api/v1/integrations",
    value: "id",
    shown: "name",
    fills: "",
    hint: None,
};
/// Forwarding rules: kept by id, shown by name.
const RULES: Pick = Pick {
    list: "/api/v1/forwarding-rules",
    value: "id",
    shown: "name",
    fills: "",
    hint: None,
};

/// Parameter-center references (ref. 6.2): a script or job parameter's
/// name → the center's parameter it takes, and when.
const PARAM_REF: &[Field] = &[
    f("name", "Center parameter", Kind::Text),
    f("region", "Region", Kind::Text),
    f("mode", "Read", Kind::Choice(&["at_creation", "latest"])),
];

/// A script's parameters as `NAME=default` lines: those with a default,
/// and the required ones (left for the user to fill in).
fn script_defaults(script: &Value) -> String {
    let params = script["params"].as_array().into_iter().flatten();
    params
        .filter(|p| !p["default"].is_null() || p["required"] == true)
        .map(|p| format!("{}={}", text(&p["name"]), text(&p["default"])))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A job's steps, each with its tasks (ref. 5.2.2 steps 9–13): one card
/// per task, its step named on the first.
const STEPS: Grouping = Grouping {
    group: ("name", "Step"),
    items: "tasks",
    item: "Task",
    fields: TASK,
    switch: "atom.type",
    when: &[
        ("atom.script", "script"),
        ("atom.params", "script"),
        ("atom.run_as", "script"),
        ("atom.timeout_s", "script http"),
        ("atom.wait_s", "reboot"),
        ("atom.seconds", "sleep"),
        ("atom.reviewers", "approval"),
        ("atom.channels", "approval"),
        ("atom.method", "http"),
        ("atom.url", "http"),
        ("atom.body", "http"),
        ("atom.expected_status", "http"),
        ("atom.task", "condition"),
        ("atom.pattern", "condition"),
        ("atom.negate", "condition"),
        ("atom.otherwise", "condition"),
    ],
};

/// One task of a job (ref. 5.2.2 step 12): its atom's fields by type.
const TASK: &[Field] = &[
    h(
        "name",
        "Task name",
        Kind::Text,
        "3 to 50 letters, digits, - and _; unique in its step.",
    ),
    f(
        "atom.type",
        "Type",
        Kind::Choice(&["script", "reboot", "sleep", "approval", "http", "condition"]),
    ),
    f("atom.script", "Script", Kind::Pick(&SCRIPTS)),
    h(
        "atom.params",
        "Script parameters",
        Kind::Map,
        "NAME=value per line; {{NAME}} takes a global parameter, {{host.ip}} and {{host.name}} the host's.",
    ),
    h("atom.run_as", "Run as", Kind::Text, "Empty: root."),
    h(
        "atom.timeout_s",
        "Timeout (s)",
        Kind::Number,
        "Empty: 300 for a script, 10 for a call.",
    ),
    h(
        "atom.wait_s",
        "Wait for the host (s)",
        Kind::Number,
        "Empty: 600.",
    ),
    f("atom.seconds", "Seconds", Kind::Number),
    h(
        "atom.reviewers",
        "Approvers",
        Kind::People,
        "User names, role@scenario for an on-call role; comma-separated.",
    ),
    f("atom.channels", "Ask on", CHANNELS),
    f(
        "atom.method",
        "Method",
        Kind::Choice(&["GET", "POST", "PUT", "DELETE", "HEAD"]),
    ),
    f("atom.url", "URL", Kind::Text),
    f("atom.body", "Body", Kind::Long),
    h(
        "atom.expected_status",
        "Expected status",
        Kind::Number,
        "Empty: 200.",
    ),
    h(
        "atom.task",
        "Earlier task",
        Kind::Text,
        "A task of the same step.",
    ),
    h(
        "atom.pattern",
        "Pattern",
        Kind::Text,
        "A regular expression searched in its output.",
    ),
    f("atom.negate", "Holds when it does not match", Kind::Check),
    f(
        "atom.otherwise",
        "Otherwise",
        Kind::Choice(&["skip_step", "fail"]),
    ),
    h(
        "on_failure",
        "On failure",
        Kind::Choice(&["stop", "continue", "pause"]),
        "Empty: stop the job.",
    ),
    f("description", "Description", Kind::Text),
];

const SCHEDULED_TASK: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("description", "Description", Kind::Long),
    f("timing.tz", "Time zone", Kind::Suggest(ZONES)),
    f(
        "timing.trigger.type",
        "Trigger",
        Kind::Choice(&["once", "cycle", "cron"]),
    ),
    f("timing.trigger.at", "Once at (local)", Kind::Local),
    f("timing.trigger.every", "Cycle: every", Kind::Number),
    f(
        "timing.trigger.unit",
        "Cycle: unit",
        Kind::Choice(&["minutes", "hours", "days"]),
    ),
    f(
        "timing.trigger.start",
        "Cycle: first run (local)",
        Kind::Local,
    ),
    h(
        "timing.trigger.expr",
        "Cron expression",
        Kind::Text,
        "minute hour day-of-month month day-of-week, in the task's zone.",
    ),
    f("timing.expires_at", "No run after", Kind::Time),
    h(
        "script",
        "Script",
        Kind::Pick(&TASK_SCRIPTS),
        "Or give a job.",
    ),
    f("job", "Job", Kind::Pick(&JOBS)),
    h(
        "params",
        "Parameters",
        Kind::Map,
        "name=value, one per line.",
    ),
    h(
        "param_refs",
        "Parameter-center references",
        Kind::Keyed(PARAM_REF),
        "A parameter named here takes its value from the parameter center.",
    ),
    h(
        "hosts",
        "Hosts",
        Kind::Hosts,
        "These hosts, or select hosts by the filter below at each run.",
    ),
    f("select.application", "Select: application", Kind::Text),
    f("select.region", "Select: region", Kind::Text),
    f("select.tags", "Select: tags", Kind::Map),
    f(
        "select.running_only",
        "Select: running agents only",
        Kind::Check,
    ),
    f("run_as", "Executing user", Kind::Text),
    f("timeout_s", "Timeout per host (s)", Kind::Number),
    f(
        "batch_policy",
        "Batch policy",
        Kind::Choice(&["auto", "manual", "none"]),
    ),
    f(
        "success_rate_threshold",
        "Suspension threshold (success %)",
        Kind::Number,
    ),
    f("reviewers", "Reviewers", Kind::Rows(RECIPIENT)),
    f("recipients", "Notify of outcomes", Kind::Rows(RECIPIENT)),
    f("channels", "Channels", CHANNELS),
];

const PARAMETER: &[Field] = &[
    h(
        "name",
        "Name",
        Kind::Text,
        "Letters, digits, _ - . / (fixed after creation).",
    ),
    f("region", "Region", Kind::Text),
    f("type", "Type", Kind::Choice(&["text", "encrypted"])),
    f("enterprise_project", "Enterprise project", Kind::Text),
    h(
        "value",
        "Value",
        Kind::Long,
        "At most 4096 bytes. ****** keeps an encrypted value as it is.",
    ),
    f("description", "Description", Kind::Long),
    f("expires_at", "Delete at", Kind::Time),
    h(
        "pre_deletion_minutes",
        "Notify before deletion (minutes)",
        Kind::Numbers,
        "Comma-separated.",
    ),
    f(
        "unmodified_minutes",
        "Notify when unchanged for (minutes)",
        Kind::Numbers,
    ),
    f("recipients", "Recipients", Kind::Rows(RECIPIENT)),
    f("channels", "Channels", CHANNELS),
    f("tags", "Tags", Kind::Map),
];

const FORWARDING_RULE: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("application", "Application", Kind::Text),
    f("trigger_type", "Trigger type", Kind::Choice(&["alarm"])),
    h(
        "data_source",
        "Data source",
        Kind::Pick(&INTEGRATIONS),
        "The integration whose alarms it takes; empty: alarms from every source.",
    ),
    h(
        "conditions",
        "Conditions (all must hold)",
        Kind::Rows(CONDITION),
        "Field names of ref. 7.4.2, or additional.<key>.",
    ),
    f("incident_level", "Incident level", LEVELS),
    f("assignee", "Owner", Kind::User),
    f(
        "assignee_shift.scenario",
        "On-call scenario",
        Kind::Pick(&SCENARIOS),
    ),
    f("assignee_shift.role", "On-call role", Kind::Text),
    f("plan", "Emergency plan", Kind::Pick(&PLANS)),
    f(
        "contingency_script.script_id",
        "Contingency script",
        Kind::Pick(&CONTINGENCY_SCRIPTS),
    ),
    f(
        "contingency_script.params",
        "Contingency script parameters",
        Kind::Map,
    ),
    f(
        "contingency_script.timeout_s",
        "Contingency script timeout (s)",
        Kind::Number,
    ),
    f(
        "contingency_script.run_as",
        "Contingency script user",
        Kind::Text,
    ),
];

const PLAN: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("summary", "Summary", Kind::Long),
    f("application", "Application", Kind::Text),
    f(
        "recovery_minutes",
        "Expected recovery (minutes)",
        Kind::Number,
    ),
    f(
        "body.type",
        "Kind",
        Kind::Choice(&["automation", "document"]),
    ),
    f(
        "body.action.script",
        "Automation: script",
        Kind::Pick(&PLAN_SCRIPTS),
    ),
    f("body.action.job", "Automation: job", Kind::Pick(&JOBS)),
    f("body.action.params", "Automation: parameters", Kind::Map),
    f(
        "body.action.param_refs",
        "Automation: parameter-center references",
        Kind::Keyed(PARAM_REF),
    ),
    h(
        "body.steps",
        "Document: steps",
        Kind::Rows(PLAN_STEP),
        "In order; a step may run a script on the incident's hosts.",
    ),
];

/// A step of a document plan (ref. 7.1.3.8).
const PLAN_STEP: &[Field] = &[
    f("title", "Title", Kind::Text),
    f("text", "What to do", Kind::Long),
    f("action.script", "Script", Kind::Pick(&STEP_SCRIPTS)),
    f("action.params", "Script parameters", Kind::Map),
];

const NOTIFICATION_RULE: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("type", "Type", Kind::Choice(&["incident"])),
    f(
        "templates",
        "Templates",
        Kind::Many(&[
            "incident_created",
            "incident_rejected",
            "incident_forwarded",
            "incident_to_be_verified",
            "incident_verification_failed",
            "incident_completed",
            "incident_closed",
        ]),
    ),
    h(
        "applications",
        "Applications",
        Kind::List,
        "Empty: every application.",
    ),
    f(
        "levels",
        "Levels",
        Kind::Many(&["P1", "P2", "P3", "P4", "P5"]),
    ),
    f("categories", "Categories", Kind::List),
    f(
        "sources",
        "Sources",
        Kind::Many(coc_domain::notify::SOURCES),
    ),
    f("regions", "Regions", Kind::List),
    f("recipients", "Recipients", Kind::Rows(RECIPIENT)),
    f("channels", "Channels", CHANNELS),
];

const ESCALATION_LEVEL: &[Field] = &[
    f("after_seconds", "After (s)", Kind::Number),
    f("recipients", "Recipients", Kind::People),
    f("channels", "Channels", CHANNELS),
];

const ESCALATION_POLICY: &[Field] = &[
    f("name", "Name", Kind::Text),
    h(
        "rules",
        "Forwarding rules",
        Kind::PickMany(&RULES),
        "The rules whose incidents it covers.",
    ),
    f("applications", "Applications", Kind::List),
    h(
        "levels",
        "Levels",
        Kind::Rows(ESCALATION_LEVEL),
        "Recipients: user names, role@scenario for an on-call role, or owner; comma-separated.",
    ),
    f("repeat", "Extra rounds (0–5)", Kind::Number),
];

/// A weekly window of SLA time (ref. 9.1).
const SLA_WINDOW: &[Field] = &[
    f("days", "Days", Kind::Numbers),
    f("start", "Start", Kind::Text),
    f("end", "End", Kind::Text),
];

const SLA_RULE: &[Field] = &[
    f(
        "status",
        "Status",
        Kind::Suggest(&[
            "unaccepted",
            "accepted",
            "to_be_verified",
            "alarm",
            "pending",
            "processing",
        ]),
    ),
    f("target_minutes", "Target (min)", Kind::Number),
    f("prewarn_minutes", "Pre-warn (min)", Kind::Number),
    f("recipients", "Recipients", Kind::People),
    f("channels", "Channels", CHANNELS),
];

const SLA: &[Field] = &[
    h(
        "name",
        "Name",
        Kind::Text,
        "3 to 100 letters, digits, - and _.",
    ),
    f("description", "Description", Kind::Long),
    f(
        "trigger",
        "Trigger",
        Kind::Choice(&["incident", "alarm", "todo"]),
    ),
    h(
        "levels",
        "Levels",
        Kind::Many(&[
            "P1",
            "P2",
            "P3",
            "P4",
            "P5",
            "Critical",
            "Major",
            "Minor",
            "Suggestion",
        ]),
        "P1–P5 for incidents; Critical to Suggestion for alarms and to-dos.",
    ),
    f("applications", "Applications", Kind::List),
    f("rules", "Rules (one per status)", Kind::Rows(SLA_RULE)),
    h(
        "effective.type",
        "Effective time",
        Kind::Choice(&["always", "windows"]),
        "always: 7×24; windows: only inside the weekly windows below.",
    ),
    f("effective.tz", "Windows' time zone", Kind::Suggest(ZONES)),
    h(
        "effective.windows",
        "Weekly windows",
        Kind::Rows(SLA_WINDOW),
        "Days 0 = Monday … 6 = Sunday; times HH:MM:SS, the end after the start.",
    ),
];

const ENGINEER: &[Field] = &[
    f("user", "User", Kind::User),
    f("alias", "Alias", Kind::Text),
    h(
        "contacts",
        "Contacts",
        Kind::Map,
        "channel=address, one per line (mobile, email, wecom, dingtalk, feishu, slack, teams, webhook). An empty address removes a channel; channels left out stay. Email and mobile get a confirmation link.",
    ),
];

const SCENARIO: &[Field] = &[
    f("name", "Name", Kind::Text),
    f(
        "dimension",
        "Dimension",
        Kind::Choice(&["global", "application"]),
    ),
    h(
        "roles",
        "Roles",
        Kind::List,
        "oncall, manager …; comma-separated.",
    ),
    f("schedule.tz", "Time zone", Kind::Suggest(ZONES)),
    h(
        "schedule.mode",
        "Shift plan",
        Kind::Choice(&["fixed", "rotating"]),
        "fixed: the same people every day; rotating: per weekday.",
    ),
    h(
        "schedule.shifts",
        "Shifts of a day",
        Kind::Rows(SHIFT),
        "Times HH:MM:SS in the zone; an end at or before the start is the next day. Numbered from 0 in the order given.",
    ),
    h(
        "schedule.fixed",
        "Who is on call (fixed plan)",
        Kind::Nested(FIXED_PLAN),
        "One row per role and shift.",
    ),
    h(
        "schedule.weekly",
        "Who is on call (rotating plan)",
        Kind::Nested(WEEKLY_PLAN),
        "One row per role, weekday (0 = Monday … 6 = Sunday) and shift.",
    ),
    h(
        "schedule.dated",
        "Assignments on dates",
        Kind::Nested(DATED_PLAN),
        "They beat the plan and the rotations on their date.",
    ),
    h(
        "schedule.cleared",
        "Cleared dates",
        Kind::Pairs,
        "From and to (inclusive), YYYY-MM-DD YYYY-MM-DD, one range per line: nobody from the plan.",
    ),
    h(
        "schedule.overrides",
        "Overrides",
        Kind::Rows(OVERRIDE),
        "Someone covers someone (or joins whoever is on call); times RFC 3339, UTC.",
    ),
    h(
        "schedule.rotations",
        "Rotations (advanced, JSON)",
        Kind::Json,
        "Set up and change rotations from On call → New rotation; this is their stored form.",
    ),
    h(
        "applications",
        "Per-application schedules (advanced, JSON)",
        Kind::Json,
        "Application dimension only: [{\"application\", \"region\", \"schedule\"}].",
    ),
];

/// A shift of a day (ref. 11.2.1).
const SHIFT: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("start", "Start", Kind::Text),
    f("end", "End", Kind::Text),
];

/// The days of a rotating plan, Monday = 0.
const WEEKDAY_NUMBERS: Kind = Kind::Choice(&["0", "1", "2", "3", "4", "5", "6"]);

/// Role → shift → people.
const FIXED_PLAN: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("shift", "Shift (0 = first)", Kind::Text),
    f("people", "People", Kind::List),
];

/// Role → weekday → shift → people.
const WEEKLY_PLAN: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("day", "Weekday (0 = Mon)", WEEKDAY_NUMBERS),
    f("shift", "Shift (0 = first)", Kind::Text),
    f("people", "People", Kind::List),
];

/// Role → local date → shift → people.
const DATED_PLAN: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("date", "Date (YYYY-MM-DD)", Kind::Text),
    f("shift", "Shift (0 = first)", Kind::Text),
    f("people", "People", Kind::List),
];

/// An override of the schedule.
const OVERRIDE: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("person", "Who covers", Kind::User),
    f("covering", "For whom", Kind::User),
    f("from", "From (UTC)", Kind::Text),
    f("until", "Until (UTC)", Kind::Text),
];

const RULE_OPS: &[Op] = &[Op {
    op: "copy",
    label: "Copy",
    api: "/api/v1/forwarding-rules/{id}/copy",
    fields: &[f("name", "Name of the copy", Kind::Text)],
    then: Then::Record("forwarding-rules", "id"),
    ..OP
}];

const JOB_RUN: &[Field] = &[
    f("description", "Execution description", Kind::Long),
    h(
        "hosts",
        "Hosts",
        Kind::Hosts,
        "Every step runs on the hosts chosen here.",
    ),
    h(
        "batch_policy",
        "Batch policy",
        Kind::Choice(&["auto", "none", "manual"]),
        "auto: batches of 1, 2, 4 … hosts; none: all at once. Empty: auto.",
    ),
    h(
        "success_rate_threshold",
        "Suspension threshold (%)",
        Kind::Number,
        "Stop when a batch's success rate falls below this.",
    ),
    h(
        "params",
        "Parameters",
        Kind::Map,
        "name=value, one per line, over the job's presets.",
    ),
    f("incident_id", "Incident", Kind::Text),
    h("tags", "Tags", Kind::Map, "key=value, one per line."),
];

const JOB_OPS: &[Op] = &[
    Op {
        op: "execute",
        label: "Execute",
        api: "/api/v1/jobs/{id}/execute",
        fields: JOB_RUN,
        then: Then::Record("job-tickets", "id"),
        ..OP
    },
    Op {
        op: "clone",
        label: "Clone",
        api: "/api/v1/jobs/{id}/clone",
        fields: &[f("name", "Name of the clone", Kind::Text)],
        then: Then::Record("jobs", "id"),
        ..OP
    },
    edit_tags("/api/v1/jobs/{id}/tags", "jobs"),
];

const PARAMETER_OPS: &[Op] = &[Op {
    op: "decrypt",
    label: "View values",
    api: "/api/v1/parameters/{id}/decrypt",
    fields: &[],
    then: Then::Show,
    ..OP
}];

const INTEGRATION_OPS: &[Op] = &[
    Op {
        op: "test",
        label: "Send test alarm",
        api: "/api/v1/integrations/{id}/test",
        fields: &[],
        then: Then::Show,
        ..OP
    },
    Op {
        op: "rotate-key",
        label: "Reset access key",
        api: "/api/v1/integrations/{id}/rotate-key",
        fields: &[],
        then: Then::Show,
        confirm: Some(
            "A new key replaces the current one at once: whatever still sends with the old key is refused (403) until it is given the new one. The new key is shown once.",
        ),
        ..OP
    },
];

const ENGINEER_OPS: &[Op] = &[Op {
    op: "subscribe",
    label: "Send confirmation again",
    api: "/api/v1/engineers/{id}/subscribe",
    fields: &[h(
        "channels",
        "Channels",
        Kind::Many(&["email", "mobile"]),
        "None checked: every unconfirmed one.",
    )],
    then: Then::Record("engineers", "user"),
    ..OP
}];

const SCENARIO_OPS: &[Op] = &[Op {
    op: "clear",
    label: "Clear shifts",
    api: "/api/v1/oncall/scenarios/{id}/clear",
    fields: &[
        h("from", "From", Kind::Text, "First local date, YYYY-MM-DD."),
        h(
            "to",
            "To",
            Kind::Text,
            "Last local date (inclusive), YYYY-MM-DD.",
        ),
    ],
    then: Then::Record("shifts", "id"),
    ..OP
}];

const TAGS: &[Field] = &[h(
    "tags",
    "Tags",
    Kind::Map,
    "key=value, one per line; the whole set replaces the old one.",
)];

/// Editing a record's tags (ref. 4.2 resources, 5.4 jobs): the form holds
/// every tag; emptying it removes them all.
const fn edit_tags(api: &'static str, slug: &'static str) -> Op {
    Op {
        op: "tags",
        label: "Edit tags",
        api,
        method: "PUT",
        fields: TAGS,
        prefill: &[("tags", "tags")],
        base: r#"{"tags": {}}"#,
        then: Then::Record(slug, "id"),
        confirm: None,
    }
}

const RESOURCE_OPS: &[Op] = &[
    edit_tags("/api/v1/resources/{id}/tags", "resources"),
    Op {
        op: "project",
        label: "Change enterprise project",
        api: "/api/v1/resources/{id}/enterprise-project",
        method: "PUT",
        fields: &[h(
            "name",
            "Enterprise project",
            Kind::Text,
            "A project's name; empty: the host leaves its project.",
        )],
        prefill: &[("name", "enterprise_project")],
        base: r#"{"name": null}"#,
        then: Then::Record("resources", "id"),
        confirm: None,
    },
    Op {
        op: "revoke-agent",
        label: "Revoke agent identity",
        api: "/api/v1/resources/{id}/agent/revoke",
        then: Then::Record("resources", "id"),
        confirm: Some(
            "The host's agent is disconnected at once and its key is refused from then on: it runs no more tasks. Use it for a stolen or decommissioned host. To let the host back in, allow re-enrollment.",
        ),
        ..OP
    },
    Op {
        op: "reenroll-agent",
        label: "Allow re-enrollment",
        api: "/api/v1/resources/{id}/agent/reenroll",
        then: Then::Record("resources", "id"),
        confirm: Some(
            "The host's agent key is forgotten and its agent disconnected. For 24 hours, the next agent with this host's agent id and a valid enrollment token binds its new key to this host (a re-installed agent), keeping the host's history.",
        ),
        ..OP
    },
];

/// Adding or removing a member of a group (ref. 13.1).
const GROUP_OPS: &[Op] = &[
    Op {
        op: "add-member",
        label: "Add member",
        api: "/api/v1/groups/{id}/members",
        fields: &[f("user", "User name", Kind::Text)],
        then: Then::Record("groups", "id"),
        ..OP
    },
    Op {
        op: "remove-member",
        label: "Remove member",
        api: "/api/v1/groups/{id}/members/{user}",
        method: "DELETE",
        fields: &[f("user", "User name", Kind::Text)],
        then: Then::Record("groups", "id"),
        ..OP
    },
];

const ATTACHMENT: &[Field] = &[
    f("type", "Attach to", Kind::Choice(&["user", "group"])),
    f("name", "User or group name", Kind::Text),
];

/// Attaching a policy to a user or group, or detaching it (ref. 13.2).
const POLICY_OPS: &[Op] = &[
    Op {
        op: "attach",
        label: "Attach",
        api: "/api/v1/policies/{id}/attach",
        fields: ATTACHMENT,
        then: Then::Record("policies", "id"),
        ..OP
    },
    Op {
        op: "detach",
        label: "Detach",
        api: "/api/v1/policies/{id}/detach",
        fields: ATTACHMENT,
        then: Then::Record("policies", "id"),
        ..OP
    },
];

/// Asking what a user's policies allow (the policy simulator).
const USER_OPS: &[Op] = &[Op {
    op: "simulate",
    label: "Simulate access",
    api: "/api/v1/policies/simulate",
    fields: &[
        f("user", "User", Kind::Text),
        f(
            "action",
            "Action",
            Kind::Suggest(coc_domain::access::ACTIONS),
        ),
        h(
            "resource",
            "Resource",
            Kind::Text,
            "<type>:<id>, e.g. host:web-1; empty: any.",
        ),
    ],
    prefill: &[("user", "name")],
    ..OP
}];

/// The generic sections.
pub const MODULES: &[Module] = &[
    Module {
        slug: "resources",
        title: "Resources",
        list: "/api/v1/resources?limit=500",
        detail: Some("/api/v1/resources/{id}"),
        key: "id",
        columns: &[
            ("hostname", "Host name"),
            ("tags.region", "Region"),
            ("agent_status", "Agent"),
            ("os", "OS"),
            ("ips", "Addresses"),
            ("enterprise_project", "Enterprise project"),
            ("agent_identity", "Identity"),
            ("last_heartbeat", "Last heartbeat"),
        ],
        create: None,
        example: None,
        modify: false,
        related: None,
        summary: None,
        fields: &[],
        ops: RESOURCE_OPS,
        ..MODULE
    },
    Module {
        slug: "incidents",
        title: "Incidents",
        list: "/api/v1/incidents",
        detail: Some("/api/v1/incidents/{id}"),
        key: "id",
        columns: &[("title", "Title"), ("level", "Level"), ("status", "Status")],
        create: Some("/api/v1/incidents"),
        example: Some(
            r#"{"title": "Checkout latency above 2 s", "description": "Reported by the service desk.", "level": "P3", "assignee": "admin", "category": "performance"}"#,
        ),
        modify: false,
        ops: &[],
        related: None,
        summary: None,
        fields: INCIDENT,
        ..MODULE
    },
    Module {
        slug: "scripts",
        title: "Scripts",
        list: "/api/v1/scripts",
        detail: Some("/api/v1/scripts/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("type", "Type"),
            ("risk_level", "Risk"),
            ("version", "Version"),
        ],
        create: Some("/api/v1/scripts"),
        example: Some(
            r#"{"name": "disk-usage", "description": "Shows the fullest file systems.", "type": "shell", "content": "df -h | sort -k5 -r | head -n \"${TOP:-5}\"", "risk_level": "low", "params": [{"name": "TOP", "description": "How many file systems", "type": "number", "default": "5"}]}"#,
        ),
        modify: true,
        ops: &[],
        related: Some(("Versions", "/api/v1/scripts/{id}/versions")),
        summary: None,
        fields: SCRIPT,
        ..MODULE
    },
    Module {
        slug: "jobs",
        title: "Jobs",
        list: "/api/v1/jobs",
        detail: Some("/api/v1/jobs/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("version", "Version"),
            ("risk_level", "Risk"),
            ("review.status", "Review"),
            ("system", "Common"),
            ("updated_at", "Modified"),
        ],
        create: Some("/api/v1/jobs"),
        example: Some(
            r#"{"name": "restart-web", "risk_level": "low", "steps": [{"name": "restart", "tasks": [{"name": "diagnose", "atom": {"type": "script", "script": "OS-DIAGNOSE"}}]}]}"#,
        ),
        modify: true,
        ops: JOB_OPS,
        related: Some(("Versions", "/api/v1/jobs/{id}/versions")),
        summary: None,
        fields: JOB,
        templates: Some("/api/v1/jobs/templates"),
        ..MODULE
    },
    Module {
        slug: "scheduled-tasks",
        title: "Scheduled tasks",
        list: "/api/v1/scheduled-tasks",
        detail: Some("/api/v1/scheduled-tasks/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("review_status", "Review"),
            ("next_run_at", "Next run"),
            ("script", "Script"),
            ("job", "Job"),
        ],
        create: Some("/api/v1/scheduled-tasks"),
        example: Some(
            r#"{"name": "nightly-diagnose", "script": "OS-DIAGNOSE", "select": {"running_only": true}, "timing": {"tz": "UTC", "trigger": {"type": "cron", "expr": "0 3 * * *"}}, "reviewers": [{"type": "individual", "users": ["lead"]}]}"#,
        ),
        modify: true,
        ops: &[],
        related: Some(("Execution records", "/api/v1/scheduled-tasks/{id}/runs")),
        summary: None,
        fields: SCHEDULED_TASK,
        ..MODULE
    },
    Module {
        slug: "parameters",
        title: "Parameters",
        list: "/api/v1/parameters",
        detail: Some("/api/v1/parameters/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("region", "Region"),
            ("type", "Type"),
            ("value", "Value"),
            ("version", "Version"),
            ("updated_at", "Modified"),
        ],
        create: Some("/api/v1/parameters"),
        example: Some(
            r#"{"name": "db/host", "region": "default", "type": "text", "value": "10.0.0.5"}"#,
        ),
        modify: true,
        ops: PARAMETER_OPS,
        related: Some(("Versions", "/api/v1/parameters/{id}/versions")),
        summary: None,
        fields: PARAMETER,
        ..MODULE
    },
    Module {
        slug: "forwarding-rules",
        title: "Forwarding rules",
        list: "/api/v1/forwarding-rules",
        detail: Some("/api/v1/forwarding-rules/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("incident_level", "Level"),
            ("assignee", "Owner"),
            ("updated_at", "Modified"),
        ],
        create: Some("/api/v1/forwarding-rules"),
        example: Some(
            r#"{"name": "disk-full", "incident_level": "P2", "assignee": "admin", "conditions": [{"field": "alarmName", "op": "equals", "value": "DiskFull"}]}"#,
        ),
        modify: true,
        ops: RULE_OPS,
        related: None,
        summary: None,
        fields: FORWARDING_RULE,
        ..MODULE
    },
    Module {
        slug: "integrations",
        title: "Integrations",
        list: "/api/v1/integrations",
        detail: Some("/api/v1/integrations/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("type", "Type"),
            ("enabled", "Enabled"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/integrations"),
        example: Some(r#"{"name": "prometheus", "type": "alertmanager"}"#),
        modify: false,
        shown_once: true,
        ops: INTEGRATION_OPS,
        related: None,
        summary: None,
        fields: &[
            f("name", "Name", Kind::Text),
            f("type", "Type", Kind::Choice(&["alertmanager", "generic"])),
        ],
        ..MODULE
    },
    Module {
        slug: "plans",
        title: "Emergency plans",
        list: "/api/v1/plans",
        detail: Some("/api/v1/plans/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("body.type", "Kind"),
            ("recovery_minutes", "Recovery (min)"),
        ],
        create: Some("/api/v1/plans"),
        example: Some(
            r#"{"name": "db-failover", "body": {"type": "automation", "action": {"script": "OS-DIAGNOSE"}}}"#,
        ),
        modify: true,
        ops: &[],
        related: None,
        summary: None,
        fields: PLAN,
        ..MODULE
    },
    Module {
        slug: "engineers",
        title: "Engineers",
        list: "/api/v1/engineers",
        detail: Some("/api/v1/engineers/{id}"),
        key: "user",
        columns: &[
            ("user", "User"),
            ("alias", "Alias"),
            ("contacts", "Contacts"),
        ],
        create: Some("/api/v1/engineers/{user}"),
        example: Some(
            r#"{"user": "admin", "alias": "Duty lead", "contacts": {"slack": "https://hooks.slack.example/services/duty"}}"#,
        ),
        modify: true,
        ops: ENGINEER_OPS,
        related: None,
        summary: None,
        fields: ENGINEER,
        ..MODULE
    },
    Module {
        slug: "shifts",
        title: "Shifts",
        list: "/api/v1/oncall/scenarios",
        detail: Some("/api/v1/oncall/scenarios/{id}"),
        key: "id",
        columns: &[("name", "Scenario"), ("kind", "Kind"), ("timezone", "Zone")],
        create: Some("/api/v1/oncall/scenarios"),
        example: Some(
            r#"{"name": "ops", "roles": ["oncall"], "schedule": {"tz": "UTC", "mode": "fixed", "shifts": [{"name": "day", "start": "08:00:00", "end": "20:00:00"}, {"name": "night", "start": "20:00:00", "end": "08:00:00"}], "fixed": {"oncall": {"0": ["admin"], "1": ["admin"]}}, "weekly": {}, "dated": {}, "cleared": [], "overrides": []}}"#,
        ),
        modify: true,
        ops: SCENARIO_OPS,
        related: None,
        summary: None,
        fields: SCENARIO,
        ..MODULE
    },
    Module {
        slug: "notification-rules",
        title: "Notification rules",
        list: "/api/v1/notification-rules",
        detail: Some("/api/v1/notification-rules/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("templates", "Templates"),
            ("channels", "Channels"),
        ],
        create: Some("/api/v1/notification-rules"),
        example: Some(
            r#"{"name": "p1-owner", "templates": ["incident_created"], "recipients": [{"type": "owner"}], "channels": ["email"]}"#,
        ),
        modify: true,
        ops: &[],
        related: None,
        summary: None,
        fields: NOTIFICATION_RULE,
        ..MODULE
    },
    Module {
        slug: "escalation-policies",
        title: "Escalation policies",
        list: "/api/v1/escalation-policies",
        detail: Some("/api/v1/escalation-policies/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("repeat", "Repeat"),
        ],
        create: Some("/api/v1/escalation-policies"),
        example: Some(
            r#"{"name": "default", "levels": [{"after_seconds": 600, "recipients": [{"type": "individual", "users": ["lead"]}], "channels": ["email"]}]}"#,
        ),
        modify: true,
        ops: &[],
        related: None,
        summary: None,
        fields: ESCALATION_POLICY,
        ..MODULE
    },
    Module {
        slug: "slas",
        title: "SLA",
        list: "/api/v1/slas",
        detail: Some("/api/v1/slas/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("enabled", "Enabled"),
            ("trigger", "Trigger"),
            ("levels", "Levels"),
        ],
        create: Some("/api/v1/slas"),
        example: Some(
            r#"{"name": "p1-response", "trigger": "incident", "levels": ["P1"], "rules": [{"status": "unaccepted", "target_minutes": 15}]}"#,
        ),
        modify: true,
        ops: &[],
        related: None,
        summary: None,
        fields: SLA,
        locked: &[(
            "enabled",
            "An enabled SLA is not modified: disable it first.",
        )],
        ..MODULE
    },
    Module {
        slug: "sla-records",
        title: "SLA records",
        list: "/api/v1/sla-records",
        detail: None,
        key: "id",
        columns: &[
            ("ticket_number", "Ticket"),
            ("sla_name", "SLA"),
            ("status", "Status"),
            ("state", "State"),
            ("owner", "Owner"),
            ("duration_ms", "Time spent (ms)"),
            ("target_ms", "Target (ms)"),
        ],
        create: None,
        example: None,
        modify: false,
        ops: &[],
        related: None,
        summary: Some(|items| {
            let states: Vec<String> = items.iter().map(|r| text(&r["state"])).collect();
            super::chart::sla_states(&states)
        }),
        fields: &[],
        ..MODULE
    },
    Module {
        slug: "audit",
        title: "Audit",
        list: "/api/v1/audit?limit=200",
        detail: None,
        key: "id",
        columns: &[
            ("at", "When"),
            ("user_name", "User"),
            ("trace", "Operation"),
            ("resource_type", "Resource"),
            ("resource_id", "Id"),
            ("result", "Result"),
        ],
        export: Some(("/api/v1/audit/export", "Export the trail (JSON lines)")),
        create: None,
        example: None,
        modify: false,
        ops: &[],
        related: None,
        summary: None,
        fields: &[],
        ..MODULE
    },
    Module {
        slug: "alarms",
        title: "Alarms",
        list: "/api/v1/alarms?limit=200",
        detail: Some("/api/v1/alarms/{id}"),
        columns: &[("name", "Name"), ("level", "Level"), ("status", "Status")],
        related: Some(("History", "/api/v1/alarms/{id}/history")),
        ..MODULE
    },
    Module {
        slug: "deliveries",
        title: "Notification deliveries",
        list: "/api/v1/notifications/deliveries?limit=200",
        detail: Some("/api/v1/notifications/deliveries/{id}"),
        columns: &[
            ("event", "Event"),
            ("channel", "Channel"),
            ("recipient", "Recipient"),
            ("target", "Target"),
            ("status", "Status"),
            ("attempts", "Attempts"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/notifications/test"),
        example: Some(r#"{"channel": "webhook", "target": "http://127.0.0.1:9/coc-test"}"#),
        fields: &[
            f(
                "channel",
                "Channel",
                Kind::Choice(&["webhook", "wecom", "dingtalk", "feishu", "slack", "teams"]),
            ),
            h(
                "target",
                "Target",
                Kind::Text,
                "The webhook's or robot's URL.",
            ),
            h(
                "secret",
                "Signing secret",
                Kind::Secret,
                "Webhooks: the HMAC key; kept encrypted.",
            ),
            h(
                "subject",
                "Subject",
                Kind::Text,
                "Empty: COC test notification.",
            ),
            f("body", "Body", Kind::Long),
        ],
        ..MODULE
    },
    Module {
        slug: "users",
        title: "Users",
        list: "/api/v1/users",
        detail: Some("/api/v1/users/{id}"),
        columns: &[
            ("name", "Name"),
            ("display_name", "Display name"),
            ("enabled", "Enabled"),
            ("groups", "Groups"),
            ("policies", "Policies"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/users"),
        example: Some(r#"{"name": "oncall-bot", "display_name": "On-call bot"}"#),
        ops: USER_OPS,
        fields: &[
            f("name", "Login name", Kind::Text),
            f("display_name", "Display name", Kind::Text),
            h(
                "password",
                "Password",
                Kind::Secret,
                "At least 8 characters; empty: the user signs in with API tokens only.",
            ),
        ],
        ..MODULE
    },
    Module {
        slug: "groups",
        title: "Groups",
        list: "/api/v1/groups",
        detail: Some("/api/v1/groups/{id}"),
        columns: &[
            ("name", "Name"),
            ("description", "Description"),
            ("members", "Members"),
            ("policies", "Policies"),
        ],
        create: Some("/api/v1/groups"),
        example: Some(r#"{"name": "sre", "description": "Site reliability"}"#),
        ops: GROUP_OPS,
        fields: &[
            f("name", "Name", Kind::Text),
            f("description", "Description", Kind::Long),
        ],
        ..MODULE
    },
    Module {
        slug: "policies",
        title: "Policies",
        list: "/api/v1/policies",
        detail: Some("/api/v1/policies/{id}"),
        columns: &[
            ("name", "Name"),
            ("description", "Description"),
            ("system", "System"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/policies"),
        example: Some(
            r#"{"name": "incident-handlers", "description": "Handle incidents", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["coc:incident:*", "coc:alarm:*"]}]}}"#,
        ),
        modify: true,
        ops: POLICY_OPS,
        fields: &[
            f("name", "Name", Kind::Text),
            f("description", "Description", Kind::Long),
            h(
                "document",
                "Policy document",
                Kind::Json,
                r#"{"Version": "1.1", "Statement": [{"Effect": "Allow" | "Deny", "Action": [...], "Resource": [...], "Condition": {...}}]}"#,
            ),
        ],
        ..MODULE
    },
    Module {
        slug: "tokens",
        title: "API tokens",
        list: "/api/v1/tokens",
        detail: Some("/api/v1/tokens/{id}"),
        columns: &[
            ("name", "Name"),
            ("user", "Owner"),
            ("hint", "Ends with"),
            ("expires_at", "Expires"),
            ("last_used_at", "Last used"),
            ("revoked_at", "Revoked"),
        ],
        create: Some("/api/v1/tokens"),
        example: Some(r#"{"name": "ci-deploy"}"#),
        shown_once: true,
        revokes: true,
        fields: &[
            f("name", "Name", Kind::Text),
            h("user", "Owner", Kind::Text, "A user name; empty: you."),
            h("expires_at", "Expires", Kind::Time, "Empty: never."),
        ],
        ..MODULE
    },
    Module {
        slug: "agent-enrollments",
        title: "Agent enrollments",
        list: "/api/v1/agent-enrollments",
        detail: Some("/api/v1/agent-enrollments/{id}"),
        columns: &[
            ("name", "Name"),
            ("state", "State"),
            ("uses", "Used"),
            ("max_uses", "Of"),
            ("expires_at", "Expires"),
            ("hint", "Ends with"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/agent-enrollments"),
        example: Some(r#"{"name": "datacenter-east", "max_uses": 20, "expires_in_hours": 24}"#),
        shown_once: true,
        revokes: true,
        fields: &[
            h(
                "name",
                "Name",
                Kind::Text,
                "Where the token is used. Agents started with `coc agent --server <url> --token <secret>` register their host in this tenant; each then proves its own key, and the token is not needed again.",
            ),
            h(
                "max_uses",
                "Hosts it may enroll",
                Kind::Number,
                "1 to 10,000; empty: 1 (a one-time token).",
            ),
            h(
                "expires_in_hours",
                "Valid for (hours)",
                Kind::Number,
                "1 to 720; empty: 24.",
            ),
        ],
        ..MODULE
    },
    Module {
        slug: "grants",
        title: "Grants",
        list: "/api/v1/grants",
        detail: Some("/api/v1/grants/{id}"),
        columns: &[
            ("kind", "Kind"),
            ("grantee_tenant", "Tenant"),
            ("grantee_user", "Support user"),
            ("scope", "Scope"),
            ("expires_at", "Expires"),
            ("revoked_at", "Revoked"),
        ],
        create: Some("/api/v1/grants"),
        revokes: true,
        fields: &[
            f(
                "kind",
                "Kind",
                Kind::Choice(&["om_authorization", "log_share"]),
            ),
            f("grantee_tenant", "Support tenant", Kind::Text),
            f("grantee_user", "Support user", Kind::Text),
            h(
                "policy",
                "Policy",
                Kind::Text,
                "O&M authorization: the policy the support user acts under.",
            ),
            h(
                "scope",
                "Log scope",
                Kind::Choice(&["audit", "tickets"]),
                "Log sharing: what the support user may read.",
            ),
            f("reason", "Reason", Kind::Long),
            h(
                "expires_at",
                "Expires",
                Kind::Time,
                "At most 30 days ahead.",
            ),
        ],
        ..MODULE
    },
    Module {
        slug: "enterprise-projects",
        title: "Enterprise projects",
        list: "/api/v1/enterprise-projects",
        columns: &[
            ("name", "Name"),
            ("description", "Description"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/enterprise-projects"),
        example: Some(r#"{"name": "payments", "description": "Payment services"}"#),
        fields: &[
            f("name", "Name", Kind::Text),
            f("description", "Description", Kind::Long),
        ],
        ..MODULE
    },
];
