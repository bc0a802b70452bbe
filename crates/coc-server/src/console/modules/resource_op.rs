//! Batch resource operations (P4) in the console: the form that starts,
//! stops or restarts databases — the action, the databases ticked, batches
//! and the suspension threshold — going to the ticket that does it.

use super::super::forms::{Field, Kind, Pick, h};

/// Databases, shown by name, sent by id.
const DATABASES: Pick = Pick {
    list: "/api/v1/resources?type=database&limit=1000",
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
