//! Incident management's declarations (ref. 6, 7): the incident form and
//! its actions, forwarding rules and their conditions, emergency plans,
//! integrations' operations.

use super::*;

pub(crate) const CONDITION: &[Field] = &[
    f("field", "Field", Kind::Suggest(coc_domain::rule::FIELDS)),
    f(
        "op",
        "Operator",
        Kind::Choice(&["equals", "not_equals", "contains", "regex", "in"]),
    ),
    f("value", "Value", Kind::Text),
    f("values", "Values (in)", Kind::List),
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

pub(crate) const REMARK: Field = f("remark", "Remark", Kind::Text);

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
    f("application", "Application", Kind::Pick(&APPLICATIONS)),
    f("region", "Region", Kind::Text),
    f("category", "Category", Kind::Text),
];

pub(crate) const FORWARDING_RULE: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("application", "Application", Kind::Pick(&APPLICATIONS)),
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
    h(
        "converge.by",
        "Converge related alarms by",
        Kind::List,
        "Alarms sharing these fold into one incident: resource, application, region, name, source, or label:<name>, separated by commas. Empty: one incident per alarm.",
    ),
    h(
        "converge.window_minutes",
        "Convergence window (minutes)",
        Kind::Number,
        "An alarm joins its group's incident while the group's last alarm came at most this long ago (default 10).",
    ),
    h(
        "after_minutes",
        "Only if unhandled after (minutes)",
        Kind::Number,
        "Open the incident only if the alarm is still firing, not handled and not in an incident this long after it arrived (an urgent rule: level P1). Empty: at once.",
    ),
    h(
        "storm.alarms_per_minute",
        "Storm threshold (incidents a minute)",
        Kind::Number,
        "After this many new incidents within a minute, further alarms fold into one storm incident listing the top alarm names and resources. Empty: no storm handling.",
    ),
];

pub(crate) const PLAN: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("summary", "Summary", Kind::Long),
    f("application", "Application", Kind::Pick(&APPLICATIONS)),
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
pub(crate) const PLAN_STEP: &[Field] = &[
    f("title", "Title", Kind::Text),
    f("text", "What to do", Kind::Long),
    f("action.script", "Script", Kind::Pick(&STEP_SCRIPTS)),
    f("action.params", "Script parameters", Kind::Map),
];

pub(crate) const RULE_OPS: &[Op] = &[Op {
    op: "copy",
    label: "Copy",
    api: "/api/v1/forwarding-rules/{id}/copy",
    fields: &[f("name", "Name of the copy", Kind::Text)],
    then: Then::Record("forwarding-rules", "id"),
    ..OP
}];

/// A silence's matcher row: label, operator, value.
const MATCHER: &[Field] = &[
    f(
        "name",
        "Label",
        Kind::Suggest(&[
            "alertname",
            "instance",
            "job",
            "severity",
            "resource_name",
            "application",
            "region",
            "namespace",
        ]),
    ),
    f("op", "Operator", Kind::Choice(&["=", "!=", "=~", "!~"])),
    f("value", "Value", Kind::Text),
];

/// The silence form (M3): matchers, when, why, and the weekly hours of a
/// maintenance window.
pub(crate) const SILENCE: &[Field] = &[
    h(
        "matchers",
        "Matchers",
        Kind::Rows(MATCHER),
        "An alarm is silenced when its labels match every row. =~ and !~ take a regular expression matched against the whole value.",
    ),
    h("starts_at", "Starts", Kind::Time, "Empty: now."),
    h(
        "duration_minutes",
        "Duration (minutes)",
        Kind::Number,
        "Or give an end below.",
    ),
    f("ends_at", "Ends", Kind::Time),
    f("comment", "Comment", Kind::Long),
    h(
        "weekly.days",
        "Maintenance window: weekdays",
        Kind::Many(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        "Leave empty for a plain silence. With days, the silence is in force only in these weekly hours between its start and end.",
    ),
    f("weekly.start", "Window opens (HH:MM)", Kind::Text),
    h(
        "weekly.end",
        "Window closes (HH:MM)",
        Kind::Text,
        "Before the opening time: the window runs past midnight.",
    ),
    f("weekly.tz", "Window time zone", Kind::Suggest(super::ZONES)),
];

/// The inhibition rule form (M3).
pub(crate) const INHIBITION: &[Field] = &[
    f("name", "Name", Kind::Text),
    h(
        "source",
        "Source: the inhibiting alarm matches",
        Kind::Rows(MATCHER),
        "While an alarm matching every row fires (NodeDown) …",
    ),
    h(
        "target",
        "Target: the inhibited alarms match",
        Kind::Rows(MATCHER),
        "… alarms matching every row here are stored and marked, with no incident and no notification …",
    ),
    h(
        "equal",
        "Equal labels",
        Kind::List,
        "… when these labels have the same values on both (instance). Empty: any source inhibits every target.",
    ),
];

/// A silence's operations.
pub(crate) const SILENCE_OPS: &[Op] = &[Op {
    op: "expire",
    label: "Expire now",
    api: "/api/v1/silences/{id}/expire",
    fields: &[],
    then: Then::Show,
    confirm: Some(
        "The silence ends now: alarms it mutes open incidents and notify again from their next event.",
    ),
    ..OP
}];

pub(crate) const INTEGRATION_OPS: &[Op] = &[
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
