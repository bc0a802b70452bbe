//! Patch management (issue 19) in the console: patch baselines (P1) —
//! installation rules or a custom list, exceptions, and the hosts they
//! apply to — with every field of the API's definition.

use super::super::forms::{Field, Kind, f, h};
use super::APPLICATIONS;

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
