//! Drift (R5) in the console: a host's desired state — the host picked by
//! name, packages and files as rows, services as a list — and "Accept
//! current state".

use super::super::forms::{Field, Kind, Pick, f, h};

/// The hosts a desired state is set for, by host name.
const HOST: Pick = Pick {
    list: "/api/v1/resources?type=host&limit=1000",
    value: "hostname",
    shown: "hostname",
    fills: "",
    hint: None,
};

/// A package row.
const PACKAGE: &[Field] = &[
    f("name", "Package", Kind::Text),
    f("version", "Version (empty: any)", Kind::Text),
];

/// A file row.
const FILE: &[Field] = &[
    f("path", "Path", Kind::Text),
    f(
        "sha256",
        "SHA-256 (empty: the first one reported)",
        Kind::Text,
    ),
];

/// The fields of a desired state (every field of the API's definition;
/// the host goes into the path).
pub(crate) const DRIFT: &[Field] = &[
    h(
        "host",
        "Host",
        Kind::Pick(&HOST),
        "The host whose agent watches this.",
    ),
    h(
        "packages",
        "Packages",
        Kind::Rows(PACKAGE),
        "Packages that should be installed (dpkg, else rpm), at an exact version when one is given.",
    ),
    h(
        "services",
        "Services",
        Kind::List,
        "Services that should run, separated by commas or new lines: systemd units, or process names where there is no systemd.",
    ),
    h(
        "files",
        "Files under watch",
        Kind::Rows(FILE),
        "Absolute paths. A file without a SHA-256 takes the first hash its agent reports as its baseline.",
    ),
    h(
        "interval_s",
        "Full check every (seconds)",
        Kind::Number,
        "10 to 86400; empty: 300. Files and the package database are also looked at every 2 seconds.",
    ),
    h(
        "alarm_level",
        "Alarm level",
        Kind::Choice(&["Critical", "Major", "Minor", "Suggestion"]),
        "Empty: Major.",
    ),
    h(
        "no_alarm",
        "List differences only",
        Kind::Check,
        "Raise no alarm when the host drifts.",
    ),
];
