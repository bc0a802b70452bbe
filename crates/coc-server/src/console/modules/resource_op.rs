//! Batch resource operations (P4) in the console: the forms that start,
//! stop or restart databases, and that start, stop, restart, reinstall
//! or change the OS of hosts and cloud servers — the action, the
//! resources ticked, batches and the suspension threshold — each going
//! to the ticket that does it.

use super::super::forms::{Field, Kind, Pick, h};

/// Databases, shown by name, sent by id.
const DATABASES: Pick = Pick {
    list: "/api/v1/resources?type=database&limit=1000",
    value: "id",
    shown: "name",
    fills: "",
    hint: None,
};

/// Cloud servers, shown by name, sent by id.
const CLOUD_SERVERS: Pick = Pick {
    list: "/api/v1/resources?type=cloud_server&limit=1000",
    value: "id",
    shown: "name",
    fills: "",
    hint: None,
};

/// The fields of an operation (every field of the API's request).
pub(crate) const RESOURCE_OPERATION: &[Field] = &[
    h(
        "action",
        "Action",
        Kind::Choice(&["start", "stop", "restart"]),
        "A database already started (or stopped) is left as it is.",
    ),
    h(
        "resources",
        "Databases",
        Kind::PickMany(&DATABASES),
        "Each names its service in its 'service' attribute (postgresql@15-main, mariadb) and runs on a host with an agent.",
    ),
    super::install::BATCH_SIZE,
    super::install::THRESHOLD,
];

/// The fields of a host operation (every field of the API's request).
pub(crate) const HOST_OPERATION: &[Field] = &[
    h(
        "action",
        "Action",
        Kind::Choice(&["start", "stop", "restart", "reinstall_os", "change_os"]),
        "Cloud servers go through their cloud account's provider; other hosts can only be restarted or stopped, by their agent. Reinstalling or changing the OS wipes the disk.",
    ),
    h(
        "hosts",
        "Hosts",
        Kind::Hosts,
        "Hosts with an agent; one that is a cloud server goes through its provider.",
    ),
    h(
        "cloud_servers",
        "Cloud servers",
        Kind::PickMany(&CLOUD_SERVERS),
        "Servers of your cloud accounts, with or without an agent.",
    ),
    h(
        "image",
        "Image (change OS)",
        Kind::Text,
        "The image's name or id at the provider; only to change the OS.",
    ),
    h(
        "key_pair",
        "Key pair (reinstall or change OS)",
        Kind::Text,
        "The key pair a rebuilt server takes for logins (its name at the provider). Empty: what its image gives (configure after creation).",
    ),
    super::install::BATCH_SIZE,
    super::install::THRESHOLD,
];
