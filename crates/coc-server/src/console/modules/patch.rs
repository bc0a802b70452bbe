//! Patch management (issue 19) in the console: patch baselines (P1) —
//! installation rules or a custom list, exceptions, and the hosts they
//! apply to — with every field of the API's definition; the forms that
//! scan, repair and roll back hosts (P2), each going to its job ticket;
//! the compliance report's chart (P3).

use serde_json::Value;

use super::super::forms::{Field, Kind, f, h};
use super::{APPLICATIONS, BASELINES};

/// The hosts of patch work.
const HOSTS: Field = h(
    "hosts",
    "Hosts",
    Kind::Hosts,
    "The hosts to work on; their agents run apt.",
);

/// A scan's and a rollback's fields (every field of the API's request
/// they take).
pub(crate) const PATCH_WORK: &[Field] =
    &[HOSTS, super::install::BATCH_SIZE, super::install::THRESHOLD];

/// A repair's fields (every field of the API's request).
pub(crate) const PATCH_REPAIR: &[Field] = &[
    HOSTS,
    h(
        "baseline",
        "Patch baseline",
        Kind::Pick(&BASELINES),
        "Empty: the baseline each host follows (see Patch compliance).",
    ),
    h(
        "reboot",
        "Allow restart",
        Kind::Check,
        "Reboot the hosts a patch needs it on, and wait for them. Unticked: restart them another time.",
    ),
    super::install::BATCH_SIZE,
    super::install::THRESHOLD,
];

/// A host's patches by state, drawn above its patch list.
pub(crate) fn states_chart(host: &Value) -> String {
    let states: Vec<String> = host["patches"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["state"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    super::super::chart::patch_states(&states)
}

/// The compliance report's chart: compliant, non-compliant, unknown.
pub(crate) fn compliance_chart(items: &[Value]) -> String {
    let states: Vec<String> = items
        .iter()
        .map(|h| match h["compliance"]["compliant"].as_bool() {
            Some(true) => "compliant".to_string(),
            Some(false) => "non_compliant".to_string(),
            None => "unknown".to_string(),
        })
        .collect();
    super::super::chart::patch_compliance(&states)
}

/// A listed patch of a custom baseline.
const LISTED: &[Field] = &[
    f("name", "Package (one * allowed)", Kind::Text),
    f("version", "Version[-release]", Kind::Text),
];

/// The fields of a patch baseline.
pub(crate) const PATCH_BASELINE: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("description", "Description", Kind::Long),
    h(
        "os",
        "OS",
        Kind::Suggest(&["debian", "ubuntu", "centos", "rocky", "euleros"]),
        "The OS family, as hosts report it.",
    ),
    h(
        "products",
        "Products",
        Kind::List,
        "OS versions (12, 22.04, 8.2), separated by commas; empty: all.",
    ),
    h(
        "rules.type",
        "Kind",
        Kind::Choice(&["installation", "custom"]),
        "Installation rules approve patches by class, severity and age; a custom baseline lists packages and versions.",
    ),
    h(
        "rules.classifications",
        "Installation: classifications",
        Kind::Many(&[
            "security",
            "bugfix",
            "enhancement",
            "recommended",
            "newpackage",
        ]),
        "None ticked: all.",
    ),
    h(
        "rules.severities",
        "Installation: severities",
        Kind::Many(&["critical", "important", "moderate", "low", "none"]),
        "None ticked: all.",
    ),
    h(
        "rules.approval.type",
        "Installation: approve",
        Kind::Choice(&["after_days", "released_before"]),
        "A number of days after release, or everything released before a day.",
    ),
    h(
        "rules.approval.days",
        "Installation: days after release",
        Kind::Number,
        "0 to 365.",
    ),
    h(
        "rules.approval.date",
        "Installation: released before",
        Kind::Text,
        "YYYY-MM-DD.",
    ),
    h(
        "rules.install_non_security",
        "Installation: also non-security patches",
        Kind::Check,
        "Unticked: only security patches are installed.",
    ),
    h(
        "rules.patches",
        "Custom: patches",
        Kind::Rows(LISTED),
        "Up to 1,000.",
    ),
    f(
        "compliance_level",
        "Compliance level",
        Kind::Choice(&[
            "unspecified",
            "critical",
            "high",
            "medium",
            "low",
            "suggestion",
        ]),
    ),
    h(
        "approved",
        "Always install",
        Kind::List,
        "Package names, one * each, separated by commas or lines.",
    ),
    h(
        "rejected",
        "Never install",
        Kind::List,
        "Package names, one * each; they show as installed rejected.",
    ),
    h(
        "applications",
        "Applications",
        Kind::PickMany(&APPLICATIONS),
        "It applies to their hosts; none ticked: any.",
    ),
    h(
        "host_tags",
        "Host tags",
        Kind::Map,
        "key=value lines; it applies to hosts with all of them.",
    ),
];
