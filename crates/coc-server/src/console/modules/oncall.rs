//! On call's declarations (ref. 11): engineers, shift scenarios and their
//! plans, notification rules, escalation policies, SLAs.

use super::*;

pub(crate) const NOTIFICATION_RULE: &[Field] = &[
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
        Kind::PickMany(&APPLICATIONS),
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

pub(crate) const ESCALATION_LEVEL: &[Field] = &[
    f("after_seconds", "After (s)", Kind::Number),
    f("recipients", "Recipients", Kind::People),
    f("channels", "Channels", CHANNELS),
    f(
        "action",
        "Then",
        Kind::Choice(coc_domain::escalation::LevelAction::NAMES),
    ),
];

pub(crate) const ESCALATION_POLICY: &[Field] = &[
    f("name", "Name", Kind::Text),
    h(
        "rules",
        "Forwarding rules",
        Kind::PickMany(&RULES),
        "The rules whose incidents it covers.",
    ),
    h(
        "applications",
        "Applications",
        Kind::PickMany(&APPLICATIONS),
        "Empty: every application.",
    ),
    h(
        "levels",
        "Levels",
        Kind::Rows(ESCALATION_LEVEL),
        "Recipients: user names, role@scenario for an on-call role, or owner; comma-separated. Then: notify them, or also reassign the incident to the first of them who is not its owner.",
    ),
    f("repeat", "Extra rounds (0–5)", Kind::Number),
];

/// A weekly window of SLA time (ref. 9.1).
pub(crate) const SLA_WINDOW: &[Field] = &[
    f("days", "Days", Kind::Numbers),
    f("start", "Start", Kind::Text),
    f("end", "End", Kind::Text),
];

pub(crate) const SLA_RULE: &[Field] = &[
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

pub(crate) const SLA: &[Field] = &[
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
    h(
        "applications",
        "Applications",
        Kind::PickMany(&APPLICATIONS),
        "Empty: every application.",
    ),
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

pub(crate) const ENGINEER: &[Field] = &[
    f("user", "User", Kind::User),
    f("alias", "Alias", Kind::Text),
    h(
        "contacts",
        "Contacts",
        Kind::Map,
        "channel=address, one per line (mobile, email, wecom, dingtalk, feishu, slack, teams, webhook). An empty address removes a channel; channels left out stay. Email and mobile get a confirmation link.",
    ),
];

pub(crate) const SCENARIO: &[Field] = &[
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
pub(crate) const SHIFT: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("start", "Start", Kind::Text),
    f("end", "End", Kind::Text),
];

/// The days of a rotating plan, Monday = 0.
pub(crate) const WEEKDAY_NUMBERS: Kind = Kind::Choice(&["0", "1", "2", "3", "4", "5", "6"]);

/// Role → shift → people.
pub(crate) const FIXED_PLAN: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("shift", "Shift (0 = first)", Kind::Text),
    f("people", "People", Kind::List),
];

/// Role → weekday → shift → people.
pub(crate) const WEEKLY_PLAN: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("day", "Weekday (0 = Mon)", WEEKDAY_NUMBERS),
    f("shift", "Shift (0 = first)", Kind::Text),
    f("people", "People", Kind::List),
];

/// Role → local date → shift → people.
pub(crate) const DATED_PLAN: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("date", "Date (YYYY-MM-DD)", Kind::Text),
    f("shift", "Shift (0 = first)", Kind::Text),
    f("people", "People", Kind::List),
];

/// An override of the schedule.
pub(crate) const OVERRIDE: &[Field] = &[
    f("role", "Role", Kind::Text),
    f("person", "Who covers", Kind::User),
    f("covering", "For whom", Kind::User),
    f("from", "From (UTC)", Kind::Text),
    f("until", "Until (UTC)", Kind::Text),
];

pub(crate) const ENGINEER_OPS: &[Op] = &[Op {
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

pub(crate) const SCENARIO_OPS: &[Op] = &[Op {
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
