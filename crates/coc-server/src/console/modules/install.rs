//! Agent installation (R3) in the console: the installation host picked
//! by name, the targets as rows (address, port, login, password or key),
//! batches and the suspension threshold; the form goes to the ticket.

use super::super::forms::{Field, Kind, Pick, f, h};

/// Installation hosts, by host name.
const VIA: Pick = Pick {
    list: "/api/v1/resources?type=host&limit=1000",
    value: "hostname",
    shown: "hostname",
    fills: "",
    hint: None,
};

/// A target row.
const TARGET: &[Field] = &[
    f("address", "Address", Kind::Text),
    f("port", "SSH port (empty: 22)", Kind::Number),
    f("login", "Login (empty: root)", Kind::Text),
    f("auth", "Sign in by", Kind::Choice(&["password", "key"])),
    f("password", "Password", Kind::Secret),
    f("private_key", "Private key", Kind::Long),
];

/// The fields of an installation (every field of the API's request).
pub(crate) const AGENT_INSTALL: &[Field] = &[
    h(
        "installation_host",
        "Installation host",
        Kind::Pick(&VIA),
        "The host whose agent signs in to the targets over SSH and copies its own agent binary (it needs ssh).",
    ),
    h(
        "targets",
        "Hosts to install on",
        Kind::Rows(TARGET),
        "One row per host. Passwords and keys are used for this installation only and never shown again.",
    ),
    h(
        "server",
        "Server URL for the new agents",
        Kind::Text,
        "Empty: this server's public URL.",
    ),
    h(
        "proxy",
        "Proxy agent",
        Kind::Text,
        "HOST:PORT of a proxy agent the new agents go through (proxy access); empty: direct.",
    ),
    h(
        "install_dir",
        "Install directory",
        Kind::Text,
        "Empty: /opt/coc-agent. The agent's state is kept in state/ under it.",
    ),
    BATCH_SIZE,
    THRESHOLD,
];

/// Hosts per batch (installations and upgrades).
pub(crate) const BATCH_SIZE: Field = h(
    "batch_size",
    "Hosts per batch",
    Kind::Number,
    "Empty: all at once.",
);

/// The suspension threshold (installations and upgrades).
pub(crate) const THRESHOLD: Field = h(
    "success_rate_threshold",
    "Suspension threshold (%)",
    Kind::Number,
    "Stop before the next batch when fewer than this share of hosts succeeded.",
);
