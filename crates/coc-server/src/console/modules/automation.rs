//! Automated O&M's declarations (ref. 5, 6): scripts, jobs with their
//! steps and tasks, scheduled tasks, the parameter center.

use super::*;

pub(crate) const SCRIPT_PARAM: &[Field] = &[
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

pub(crate) const SCRIPT: &[Field] = &[
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

pub(crate) const JOB: &[Field] = &[
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
pub(crate) const GLOBAL_PARAM: &[Field] = &[
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

/// Parameter-center references (ref. 6.2): a script or job parameter's
/// name → the center's parameter it takes, and when.
pub(crate) const PARAM_REF: &[Field] = &[
    f("name", "Center parameter", Kind::Text),
    f("region", "Region", Kind::Text),
    f("mode", "Read", Kind::Choice(&["at_creation", "latest"])),
];

/// A job's steps, each with its tasks (ref. 5.2.2 steps 9–13): one card
/// per task, its step named on the first.
pub(crate) const STEPS: Grouping = Grouping {
    group: ("name", "Step"),
    items: "tasks",
    item: "Task",
    fields: TASK,
    switch: "atom.type",
    when: &[
        ("atom.script", "script"),
        ("atom.params", "script"),
        ("atom.run_as", "script"),
        (
            "atom.timeout_s",
            "script http patch_scan patch_repair patch_rollback",
        ),
        ("atom.wait_s", "reboot host_power"),
        ("atom.action", "host_power"),
        ("atom.image", "host_power"),
        ("atom.if_required", "reboot"),
        ("atom.skip_refresh", "patch_scan"),
        ("atom.baseline", "patch_repair"),
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
pub(crate) const TASK: &[Field] = &[
    h(
        "name",
        "Task name",
        Kind::Text,
        "3 to 50 letters, digits, - and _; unique in its step.",
    ),
    f(
        "atom.type",
        "Type",
        Kind::Choice(&[
            "script",
            "reboot",
            "patch_scan",
            "patch_repair",
            "patch_rollback",
            "host_power",
            "sleep",
            "approval",
            "http",
            "condition",
        ]),
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
        "Empty: 300 for a script, 10 for a call, 1800 for patch work.",
    ),
    h(
        "atom.wait_s",
        "Wait for the host (s)",
        Kind::Number,
        "Empty: 600.",
    ),
    h(
        "atom.if_required",
        "Only when a patch needs it",
        Kind::Check,
        "Reboot only when the host's latest patch scan or repair found a reboot pending.",
    ),
    h(
        "atom.skip_refresh",
        "Do not refresh the package lists",
        Kind::Check,
        "Scan the lists as they are (no apt-get update).",
    ),
    h(
        "atom.baseline",
        "Patch baseline",
        Kind::Pick(&super::BASELINES),
        "Empty: the baseline each host follows. May be a {{parameter}}.",
    ),
    h(
        "atom.action",
        "Power action",
        Kind::Text,
        "start, stop, restart, reinstall_os or change_os, or a {{parameter}}: through the cloud provider for cloud servers, a restart or stop by the agent otherwise.",
    ),
    h(
        "atom.image",
        "Image (change OS)",
        Kind::Text,
        "The image's name or id at the provider, or a {{parameter}}.",
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

pub(crate) const SCHEDULED_TASK: &[Field] = &[
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
    h(
        "select.application",
        "Select: application",
        Kind::Pick(&APPLICATIONS),
        "Hosts that belong to this application.",
    ),
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

pub(crate) const PARAMETER: &[Field] = &[
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

pub(crate) const JOB_RUN: &[Field] = &[
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

pub(crate) const JOB_OPS: &[Op] = &[
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

pub(crate) const PARAMETER_OPS: &[Op] = &[Op {
    op: "decrypt",
    label: "View values",
    api: "/api/v1/parameters/{id}/decrypt",
    fields: &[],
    then: Then::Show,
    ..OP
}];
