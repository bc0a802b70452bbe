//! Agent upgrade (R3) in the console: agent builds uploaded from a file
//! (the console's script sends it to the API as the request's body), and
//! the upgrade form — hosts ticked, the build picked by version, the
//! rollback deadline, batches and the suspension threshold; the form goes
//! to the job ticket that runs it.

use super::super::forms::{Field, Kind, Pick, h};

/// The upload form.
pub(crate) const AGENT_BUILD: &[Field] = &[
    h(
        "file",
        "Agent executable",
        Kind::File("/api/v1/agent-builds"),
        "The slim coc-agent binary of the version to roll out (an ELF executable; at most 256 MiB).",
    ),
    h(
        "version",
        "Version",
        Kind::Text,
        "How the build is called when you upgrade to it: 1.5.0, 1.5.0-rc1 (letters, digits and ._+-).",
    ),
    h("note", "Note", Kind::Text, "What changed in it."),
];

/// Builds, by version.
const BUILD: Pick = Pick {
    list: "/api/v1/agent-builds",
    value: "version",
    shown: "version",
    fills: "",
    hint: None,
};

/// The fields of an upgrade (every field of the API's request).
pub(crate) const AGENT_UPGRADE: &[Field] = &[
    h(
        "hosts",
        "Hosts",
        Kind::Hosts,
        "The hosts whose agent is replaced. An agent inside the server (coc dev) cannot replace itself.",
    ),
    h(
        "build",
        "Build",
        Kind::Pick(&BUILD),
        "Upload a build under Agent builds first.",
    ),
    h(
        "rollback_after_s",
        "Rollback after (s)",
        Kind::Number,
        "The new build has this long to connect, else the agent puts the old one back. Empty: 120.",
    ),
    super::install::BATCH_SIZE,
    super::install::THRESHOLD,
];
