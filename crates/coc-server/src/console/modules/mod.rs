//! The console's modules as declarations: each entry of [`MODULES`] is one
//! section of the navigation — its API list and record, its columns,
//! filters, the fields of its forms and its operations. The generic
//! engine ([`super::generic`]) turns them into pages. The fields and
//! operations live with their feature (`incident`, `automation`,
//! `oncall`, `access`); the pickers and the fields several features
//! share, here.

use serde_json::Value;

use super::forms::{Field, Grouping, Kind, Pick, f, h};

mod access;
mod agent_upgrade;
mod application;
mod automation;
mod catalog;
mod cloud;
mod drift;
mod health;
mod incident;
mod install;
mod oncall;
mod patch;
mod resource_op;

use super::text;
use access::*;
use agent_upgrade::*;
use application::*;
use automation::*;
use cloud::*;
use drift::*;
use health::*;
pub use incident::*;
use install::*;
use oncall::*;
use patch::*;
use resource_op::*;

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
    /// Lists that belong to a record, shown on its page in order:
    /// (heading, API path with `{id}` answering `{"items": […]}` or an
    /// array).
    pub related: &'static [(&'static str, &'static str)],
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
    /// Replay before saving (B3): the New and Modify forms offer to run
    /// what is typed over the stored alarms of the last days.
    pub replay: Option<Replay>,
    /// A drawing of the record above its related lists: (API path with
    /// `{id}`, what draws its answer as HTML).
    pub drawing: Option<(&'static str, Draw)>,
    /// The list filters the API applies (so that they cover every page,
    /// not only the one shown): (column key, API query parameter, the
    /// values offered — empty: the values on the page).
    pub server_filters: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// The API query parameter the list's search goes to (`None`: the
    /// search looks at the page's cells).
    pub server_search: Option<&'static str>,
    /// Records of another kind in the same list: (which records, module
    /// slug) — a record the function picks has its page in that module,
    /// whose New form the list offers when this module creates none (the
    /// resource list holds hosts and the other types of resource).
    pub others: Option<(Picks, &'static str)>,
    /// The module whose list shows these records, when another's (the
    /// pages' way back and their place in the navigation).
    pub home: Option<&'static str>,
    /// More console pages the list links to: (path, label).
    pub also: &'static [(&'static str, &'static str)],
    /// The orders the API sorts the list in: (its `sort` value, label),
    /// the first the default; empty: the API's one order.
    pub sorts: &'static [(&'static str, &'static str)],
    /// Counts drawn above the list, for what its filters select: (API
    /// path answering `{"items": [{"value", "count"}]}`, label, the
    /// filter a value links to). The path takes the list's filters.
    pub groups: &'static [(&'static str, &'static str, &'static str)],
    /// Where a New form goes once the API answered, when not to the
    /// record: (console path, the answer's dotted key appended to it) —
    /// an agent installation goes to its ticket.
    pub created: Option<(&'static str, &'static str)>,
}

impl Module {
    /// The list page these records are reached from.
    pub fn home(&self) -> String {
        format!("/console/{}", self.home.unwrap_or(self.slug))
    }
}

/// Picks records of a list (a [`Module::others`]).
pub type Picks = fn(&Value) -> bool;

/// Draws an API answer as HTML (a [`Module::drawing`]).
pub type Draw = fn(&Value) -> String;

/// How a form's definition is replayed (B3): the API path that replays
/// (`POST`, with `days`), and the body it takes.
pub struct Replay {
    /// The replay route.
    pub path: &'static str,
    /// The definition goes under this key (`{"rule": …}`); `None`: these
    /// fields of it go at the top level.
    pub pick_wrap: Option<&'static str>,
    /// The fields taken when not wrapped.
    pub pick: &'static [&'static str],
    /// The answer in one sentence, for `days` days.
    pub summary: fn(&Value, u32) -> String,
    /// The body carries `days` and the form asks for them (replays over
    /// stored alarms); else this key is set to `true` (`dry_run`).
    pub days: Result<(), &'static str>,
    /// The control's legend, help and button.
    pub text: (&'static str, &'static str, &'static str),
    /// The answer's list of examples: (key, heading).
    pub rows: (&'static str, &'static str),
}

/// A replay over the alarms stored in the last days (B3).
const ALARM_REPLAY: Replay = Replay {
    path: "",
    pick_wrap: None,
    pick: &[],
    summary: |_, _| String::new(),
    days: Ok(()),
    text: (
        "Replay before saving",
        "Run what is typed over the alarms stored in the last days and see what it would have done; nothing is saved.",
        "Replay on stored alarms",
    ),
    rows: ("sample", "Examples"),
};

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
    related: &[],
    summary: None,
    shown_once: false,
    locked: &[(
        "system",
        "A system record is not modified; copy or clone it instead.",
    )],
    revokes: false,
    templates: None,
    export: None,
    replay: None,
    drawing: None,
    server_filters: &[],
    server_search: None,
    others: None,
    home: None,
    also: &[],
    sorts: &[],
    groups: &[],
    created: None,
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
/// A repair task's patch baseline (P2).
pub(crate) const BASELINES: Pick = by_name("/api/v1/patch-baselines");
/// The script run on an alarm's host.
const HANDLE_SCRIPTS: Pick = scripts("params");
/// A scheduled task's script.
const TASK_SCRIPTS: Pick = scripts("params");
/// A forwarding rule's contingency script.
const CONTINGENCY_SCRIPTS: Pick = scripts("contingency_script.params");
/// An automation plan's script.
const PLAN_SCRIPTS: Pick = scripts("body.action.params");
/// A document plan step's script.
const STEP_SCRIPTS: Pick = scripts("");

/// Handling an alarm (I1): a script or a job on the host its resource
/// names.
const ALARM_OPS: &[Op] = &[
    Op {
        op: "handle-script",
        label: "Run a script on its host",
        api: "/api/v1/alarms/{id}/handle",
        fields: &[
            f("script", "Script", Kind::Pick(&HANDLE_SCRIPTS)),
            h(
                "params",
                "Parameters",
                Kind::Map,
                "NAME=value, one per line.",
            ),
            h("run_as", "Run as", Kind::Text, "Empty: the script's user."),
        ],
        then: Then::Record("tickets", "ticket_id"),
        ..OP
    },
    Op {
        op: "handle-job",
        label: "Run a job on its host",
        api: "/api/v1/alarms/{id}/handle",
        fields: &[
            f("job", "Job", Kind::Pick(&JOBS)),
            h(
                "params",
                "Global parameters",
                Kind::Map,
                "NAME=value, one per line; empty: the job's presets.",
            ),
        ],
        then: Then::Record("job-tickets", "ticket_id"),
        ..OP
    },
];

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
/// Applications (R6), by name.
pub(crate) const APPLICATIONS: Pick = by_name("/api/v1/applications");
/// Enterprise projects, by name.
pub(crate) const PROJECTS: Pick = by_name("/api/v1/enterprise-projects");
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

/// The generic sections.
pub const MODULES: &[Module] = &[
    Module {
        slug: "resources",
        title: "Resources",
        list: "/api/v1/resources?limit=100",
        detail: Some("/api/v1/resources/{id}"),
        key: "id",
        columns: catalog::COLUMNS,
        create: None,
        example: None,
        modify: false,
        related: &[
            ("Resources on it", "/api/v1/resources?host={id}&limit=1000"),
            ("Services found on it", "/api/v1/resources/{id}/services"),
            (
                "Dependencies observed",
                "/api/v1/resources/{id}/dependencies",
            ),
            ("Drift", "/api/v1/drift?host={id}"),
        ],
        summary: None,
        fields: &[],
        ops: RESOURCE_OPS,
        export: Some(("/api/v1/resources/export", "Export (CSV)")),
        server_filters: catalog::FILTERS,
        server_search: Some("q"),
        others: Some((catalog::is_other, "catalog")),
        also: &[
            ("/console/catalog-import/new", "Import (CSV or YAML)"),
            ("/console/agent-installs/new", "Install agents"),
            ("/console/agent-upgrades/new", "Upgrade agents"),
            ("/console/agent-builds", "Agent builds"),
            ("/console/drift", "Drift"),
            (
                "/console/resource-operations/new",
                "Start, stop or restart databases",
            ),
            (
                "/console/host-operations/new",
                "Start, stop, restart or reinstall hosts",
            ),
        ],
        sorts: catalog::SORTS,
        groups: catalog::GROUPS,
        ..MODULE
    },
    Module {
        slug: "catalog",
        title: "Resources",
        list: "/api/v1/resources?limit=100",
        detail: Some("/api/v1/resources/{id}"),
        key: "id",
        columns: catalog::COLUMNS,
        create: Some("/api/v1/resources"),
        example: Some(
            r#"{"type": "database", "name": "orders-db", "attributes": {"engine": "postgresql", "version": "16", "endpoint": "10.0.0.5:5432", "port": "5432"}}"#,
        ),
        modify: true,
        fields: catalog::RESOURCE,
        export: Some(("/api/v1/resources/export", "Export (CSV)")),
        server_filters: catalog::FILTERS,
        server_search: Some("q"),
        others: Some((catalog::is_host, "resources")),
        home: Some("resources"),
        ..MODULE
    },
    Module {
        slug: "catalog-import",
        title: "Import resources",
        list: "/api/v1/resources?limit=100",
        columns: catalog::COLUMNS,
        create: Some("/api/v1/resources/import"),
        example: Some(catalog::IMPORT_EXAMPLE),
        fields: catalog::IMPORT,
        replay: Some(Replay {
            path: "/api/v1/resources/import",
            pick: &["format", "content"],
            summary: catalog::import_summary,
            days: Err("dry_run"),
            text: (
                "Dry run",
                "Check every row against the inventory and see what importing would do; nothing is saved.",
                "Dry run",
            ),
            rows: ("rows", "Rows"),
            ..ALARM_REPLAY
        }),
        home: Some("resources"),
        ..MODULE
    },
    Module {
        slug: "applications",
        title: "Applications",
        list: "/api/v1/applications",
        detail: Some("/api/v1/applications/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("owner", "Owner"),
            ("modules.name", "Modules"),
            ("regions", "Regions"),
            ("enterprise_project", "Enterprise project"),
            ("updated_at", "Modified"),
        ],
        create: Some("/api/v1/applications"),
        example: Some(
            r#"{"name": "payments", "description": "Card payments and refunds", "modules": [{"name": "web"}, {"name": "db"}], "regions": ["eu-west-1"]}"#,
        ),
        modify: true,
        fields: APPLICATION,
        drawing: Some((
            "/api/v1/applications/{id}/topology",
            super::topology::application,
        )),
        ..MODULE
    },
    Module {
        slug: "cloud-accounts",
        title: "Cloud accounts",
        list: "/api/v1/cloud-accounts",
        detail: Some("/api/v1/cloud-accounts/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("auth_url", "Identity URL"),
            ("project", "Project"),
            ("servers", "Servers"),
            ("last_sync_at", "Last synchronized"),
            ("last_outcome", "Outcome"),
        ],
        create: Some("/api/v1/cloud-accounts"),
        // No example: its password is never filled in for you.
        modify: true,
        fields: CLOUD_ACCOUNT,
        ops: &[Op {
            op: "sync",
            label: "Synchronize now",
            api: "/api/v1/cloud-accounts/{id}/sync",
            ..OP
        }],
        ..MODULE
    },
    Module {
        slug: "agent-installs",
        title: "Install agents",
        list: "/api/v1/resources?type=host&limit=100",
        columns: catalog::COLUMNS,
        create: Some("/api/v1/agent-installs"),
        // No example: the installation host is one of yours.
        fields: AGENT_INSTALL,
        home: Some("resources"),
        created: Some(("/console/tickets", "ticket.id")),
        ..MODULE
    },
    Module {
        slug: "resource-operations",
        title: "Start, stop or restart databases",
        list: "/api/v1/resources?type=database&limit=100",
        columns: &[
            ("name", "Name"),
            ("host", "Host"),
            ("attributes.service", "Service"),
            ("status", "Status"),
        ],
        create: Some("/api/v1/resource-operations"),
        fields: RESOURCE_OPERATION,
        home: Some("resources"),
        created: Some(("/console/tickets", "id")),
        ..MODULE
    },
    Module {
        slug: "host-operations",
        title: "Start, stop, restart or reinstall hosts",
        list: "/api/v1/resources?type=cloud_server&limit=100",
        columns: &[
            ("name", "Cloud server"),
            ("host", "Host"),
            ("attributes.state", "State at the provider"),
            ("attributes.image", "Image"),
            ("status", "Status"),
        ],
        create: Some("/api/v1/host-operations"),
        fields: HOST_OPERATION,
        home: Some("resources"),
        created: Some(("/console/job-tickets", "id")),
        ..MODULE
    },
    Module {
        slug: "agent-builds",
        title: "Agent builds",
        list: "/api/v1/agent-builds",
        detail: Some("/api/v1/agent-builds/{id}"),
        key: "id",
        columns: &[
            ("version", "Version"),
            ("hosts", "Hosts running it"),
            ("size_bytes", "Size (bytes)"),
            ("sha256", "SHA-256"),
            ("note", "Note"),
            ("created_at", "Uploaded"),
        ],
        create: Some("/api/v1/agent-builds"),
        fields: AGENT_BUILD,
        home: Some("resources"),
        also: &[("/console/agent-upgrades/new", "Upgrade agents")],
        ..MODULE
    },
    Module {
        slug: "agent-upgrades",
        title: "Upgrade agents",
        list: "/api/v1/agent-builds",
        columns: &[("version", "Version"), ("hosts", "Hosts running it")],
        create: Some("/api/v1/agent-upgrades"),
        fields: AGENT_UPGRADE,
        home: Some("resources"),
        created: Some(("/console/job-tickets", "id")),
        ..MODULE
    },
    Module {
        slug: "drift",
        title: "Drift",
        list: "/api/v1/drift",
        detail: Some("/api/v1/drift/{id}"),
        key: "host_id",
        columns: &[
            ("host", "Host"),
            ("status", "Status"),
            ("differences.item", "Differs in"),
            ("checked_at", "Last report"),
            ("drifted_since", "Drifted since"),
        ],
        create: Some("/api/v1/drift/{host}"),
        // No example: the host is one of yours, picked from the list.
        modify: true,
        fields: DRIFT,
        ops: &[Op {
            op: "accept",
            label: "Accept current state",
            api: "/api/v1/drift/{id}/accept",
            then: Then::Record("drift", "host_id"),
            ..OP
        }],
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
        related: &[],
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
        related: &[("Versions", "/api/v1/scripts/{id}/versions")],
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
        related: &[("Versions", "/api/v1/jobs/{id}/versions")],
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
        related: &[("Execution records", "/api/v1/scheduled-tasks/{id}/runs")],
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
        related: &[("Versions", "/api/v1/parameters/{id}/versions")],
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
            r#"{"name": "disk-full", "incident_level": "P2", "assignee": "admin", "conditions": [{"field": "alarmName", "op": "equals", "value": "DiskFull"}], "converge": {"by": ["resource"], "window_minutes": 30}, "storm": {"alarms_per_minute": 20}}"#,
        ),
        modify: true,
        ops: RULE_OPS,
        related: &[],
        summary: None,
        fields: FORWARDING_RULE,
        replay: Some(Replay {
            path: "/api/v1/forwarding-rules/replay",
            pick_wrap: Some("rule"),
            pick: &[],
            summary: |r, days| {
                format!(
                    "Over the {} alarms of the last {days} days, this rule matches {} and would have opened {} incidents.",
                    r["alarms"], r["matched"], r["incidents"]
                )
            },
            ..ALARM_REPLAY
        }),
        ..MODULE
    },
    Module {
        slug: "silences",
        title: "Silences",
        list: "/api/v1/silences",
        detail: Some("/api/v1/silences/{id}"),
        key: "id",
        columns: &[
            ("matchers_text", "Matchers"),
            ("state", "State"),
            ("in_force", "In force"),
            ("starts_at", "Starts"),
            ("ends_at", "Ends"),
            ("created_by", "Creator"),
            ("comment", "Comment"),
        ],
        create: Some("/api/v1/silences"),
        example: Some(
            r#"{"matchers": [{"name": "alertname", "op": "=", "value": "DiskFull"}, {"name": "instance", "op": "=~", "value": "web-.*"}], "duration_minutes": 120, "comment": "disk swap on the web tier"}"#,
        ),
        modify: true,
        ops: SILENCE_OPS,
        related: &[],
        summary: None,
        fields: SILENCE,
        replay: Some(Replay {
            path: "/api/v1/silences/replay",
            pick_wrap: None,
            pick: &["matchers", "weekly"],
            summary: |r, days| {
                format!(
                    "Over the {} alarms of the last {days} days, this silence would have muted {}.",
                    r["alarms"], r["silenced"]
                )
            },
            ..ALARM_REPLAY
        }),
        ..MODULE
    },
    Module {
        slug: "inhibition-rules",
        title: "Inhibition rules",
        list: "/api/v1/inhibition-rules",
        detail: Some("/api/v1/inhibition-rules/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("equal", "Equal labels"),
            ("updated_at", "Modified"),
        ],
        create: Some("/api/v1/inhibition-rules"),
        example: Some(
            r#"{"name": "node-down", "source": [{"name": "alertname", "op": "=", "value": "NodeDown"}], "target": [{"name": "severity", "op": "=~", "value": "Major|Minor|warning"}], "equal": ["instance"]}"#,
        ),
        modify: true,
        ops: &[],
        related: &[],
        summary: None,
        fields: INHIBITION,
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
            ("acknowledge", "Answer senders"),
            ("created_at", "Created"),
        ],
        create: Some("/api/v1/integrations"),
        example: Some(
            r#"{"name": "shop-webhook", "type": "generic", "mapping": {"items": "/alerts", "fields": {"alarmName": "/title", "alarmLevel": "/priority", "alarmStatus": "/state", "resourceName": "/host", "labels": "/tags"}, "levels": {"P1": "critical", "P2": "major", "P3": "minor"}, "statuses": {"alerting": "alarm", "resolved": "ok"}}}"#,
        ),
        modify: true,
        shown_once: true,
        ops: INTEGRATION_OPS,
        related: &[],
        summary: None,
        fields: &[
            f("name", "Name", Kind::Text),
            f("type", "Type", Kind::Choice(coc_store::integration::TYPES)),
            h(
                "acknowledge",
                "Answer senders",
                Kind::Choice(&["applied", "received"]),
                "applied (default): once the alarms are stored and the rules ran, with counts. received: as soon as they are durably logged, applied right behind, for high-volume senders such as Prometheus and Alertmanager (types alertmanager, generic, grafana).",
            ),
            h(
                "interval_s",
                "Heartbeat interval (seconds)",
                Kind::Number,
                "For type heartbeat only: when no ping comes for this long, COC raises HeartbeatMissed.",
            ),
            h(
                "mapping.items",
                "Field mapping: where the alarms are",
                Kind::Text,
                "For type generic only, when the sender does not use COC's field names: a JSON pointer to the list of alarms in the body (/alerts); empty when the body is the alarm or the list.",
            ),
            h(
                "mapping.fields",
                "Field mapping: fields",
                Kind::Map,
                "One per line, field=pointer inside one alarm: alarmName=/title (required), alarmLevel, alarmStatus, time, resourceId, resourceName, alarmDesc, region, application, namespace, URL, labels, annotations.",
            ),
            h(
                "mapping.levels",
                "Field mapping: the sender's levels",
                Kind::Map,
                "One per line, value=level: P1=critical (levels critical, major, minor, suggestion).",
            ),
            h(
                "mapping.statuses",
                "Field mapping: the sender's statuses",
                Kind::Map,
                "One per line, value=status: alerting=alarm, resolved=ok.",
            ),
        ],
        ..MODULE
    },
    Module {
        slug: "patch-compliance",
        title: "Patch compliance",
        list: "/api/v1/patch-compliance",
        detail: Some("/api/v1/patch-compliance/{id}"),
        key: "host_id",
        columns: &[
            ("host", "Host"),
            ("os", "OS"),
            ("baseline", "Patch baseline"),
            ("compliance.compliant", "Compliant"),
            ("compliance.non_compliant", "Non-compliant"),
            ("compliance.total", "Patches"),
            ("reboot_required", "Reboot required"),
            ("reported_at", "Reported at"),
            ("ticket_id", "Ticket"),
        ],
        summary: Some(compliance_chart),
        drawing: Some(("/api/v1/patch-compliance/{id}", states_chart)),
        export: Some(("/api/v1/patch-compliance/export", "Export (CSV)")),
        also: &[
            ("/console/patch-scans/new", "Scan hosts"),
            ("/console/patch-repairs/new", "Repair hosts"),
            ("/console/patch-rollbacks/new", "Roll back a repair"),
            ("/console/patch-baselines", "Patch baselines"),
        ],
        ..MODULE
    },
    Module {
        slug: "health-checks",
        title: "Health checks",
        list: "/api/v1/health-checks?limit=100",
        detail: Some("/api/v1/health-checks/{id}"),
        key: "id",
        columns: &[
            ("number", "Check"),
            ("status", "Status"),
            ("description", "What"),
            ("created_by", "Started by"),
            ("created_at", "Started"),
            ("finished_at", "Finished"),
        ],
        create: Some("/api/v1/health-checks"),
        fields: HEALTH_CHECK,
        created: Some(("/console/health-checks", "id")),
        also: &[(
            "/console/scheduled-tasks/new",
            "Schedule checks (a scheduled task of the job COC-Health-Check)",
        )],
        ..MODULE
    },
    Module {
        slug: "patch-scans",
        title: "Scan hosts for patches",
        list: "/api/v1/patch-compliance",
        columns: &[("host", "Host"), ("reported_at", "Reported at")],
        create: Some("/api/v1/patch-scans"),
        fields: PATCH_WORK,
        home: Some("patch-compliance"),
        created: Some(("/console/job-tickets", "id")),
        ..MODULE
    },
    Module {
        slug: "patch-repairs",
        title: "Repair patches",
        list: "/api/v1/patch-compliance",
        columns: &[
            ("host", "Host"),
            ("baseline", "Patch baseline"),
            ("compliance.non_compliant", "Non-compliant"),
        ],
        create: Some("/api/v1/patch-repairs"),
        fields: PATCH_REPAIR,
        home: Some("patch-compliance"),
        created: Some(("/console/job-tickets", "id")),
        ..MODULE
    },
    Module {
        slug: "patch-rollbacks",
        title: "Roll back a patch repair",
        list: "/api/v1/patch-compliance",
        columns: &[("host", "Host"), ("reported_at", "Reported at")],
        create: Some("/api/v1/patch-rollbacks"),
        fields: PATCH_WORK,
        home: Some("patch-compliance"),
        created: Some(("/console/job-tickets", "id")),
        ..MODULE
    },
    Module {
        slug: "patch-baselines",
        title: "Patch baselines",
        list: "/api/v1/patch-baselines",
        detail: Some("/api/v1/patch-baselines/{id}"),
        key: "id",
        columns: &[
            ("name", "Name"),
            ("os", "OS"),
            ("products", "Products"),
            ("rules.type", "Kind"),
            ("compliance_level", "Compliance level"),
            ("enabled", "Enabled"),
        ],
        create: Some("/api/v1/patch-baselines"),
        example: Some(
            r#"{"name": "web-security", "os": "debian", "products": ["12"], "rules": {"type": "installation", "classifications": ["security"], "severities": ["critical", "important"], "approval": {"type": "after_days", "days": 3}}, "rejected": ["openssl*"]}"#,
        ),
        modify: true,
        fields: PATCH_BASELINE,
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
        related: &[],
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
        related: &[],
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
        related: &[],
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
        related: &[],
        summary: None,
        fields: NOTIFICATION_RULE,
        replay: Some(Replay {
            path: "/api/v1/notification-rules/replay",
            pick_wrap: Some("rule"),
            pick: &[],
            summary: |r, days| {
                let people: Vec<String> = r["people"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|p| format!("{} ({})", text(&p["person"]), p["messages"]))
                    .collect();
                format!(
                    "Over the {} incident changes of the last {days} days, this rule matches {} and would have sent {} messages{}.",
                    r["events"],
                    r["matched"],
                    r["messages"],
                    if people.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", people.join(", "))
                    }
                )
            },
            ..ALARM_REPLAY
        }),
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
        related: &[],
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
        related: &[],
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
        related: &[],
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
        related: &[],
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
        related: &[
            ("History", "/api/v1/alarms/{id}/history"),
            (
                "Original alarms (latest 20 occurrences)",
                "/api/v1/alarms/{id}/occurrences",
            ),
        ],
        ops: ALARM_OPS,
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
