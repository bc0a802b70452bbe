//! The resource catalogue (R1) in the console: the resource list's
//! columns and server-side filters, and the New and Modify forms of a
//! database, cache, queue, web server, container cluster or load balancer
//! — its host and application picked, its type's fields as `key=value`
//! lines.

use serde_json::Value;

use super::super::forms::{Field, Kind, Pick, f, h};
use super::{APPLICATIONS, PROJECTS};

/// The types a person registers (hosts join through their agent).
const TYPES: &[&str] = &[
    "database",
    "cache",
    "queue",
    "web_server",
    "container_cluster",
    "load_balancer",
];

/// Every type, for the list's filter.
pub(crate) const ALL_TYPES: &[&str] = &[
    "host",
    "database",
    "cache",
    "queue",
    "web_server",
    "container_cluster",
    "load_balancer",
];

/// Every status, for the list's filter.
pub(crate) const STATUSES: &[&str] = &[
    "running",
    "abnormal",
    "offline",
    "installing",
    "install_failed",
    "vanished",
    "unmonitored",
];

/// The hosts, by host name.
const HOSTS: Pick = Pick {
    list: "/api/v1/resources?type=host&limit=1000",
    value: "hostname",
    shown: "hostname",
    fills: "",
    hint: None,
};

/// The columns of the resource list.
pub(crate) const COLUMNS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("type", "Type"),
    ("status", "Status"),
    ("host", "Host"),
    ("application", "Application"),
    ("module", "Module"),
    ("region", "Region"),
    ("ips|attributes.addresses", "Addresses"),
    ("attributes.endpoint", "Endpoint"),
    ("enterprise_project", "Enterprise project"),
];

/// The filters the API applies: (column, query parameter, values).
pub(crate) const FILTERS: &[(&str, &str, &[&str])] = &[
    ("type", "type", ALL_TYPES),
    ("status", "status", STATUSES),
    ("application", "application", &[]),
    ("module", "module", &[]),
    ("region", "region", &[]),
    ("enterprise_project", "project", &[]),
];

/// The list's orders: (the API's `sort`, label).
pub(crate) const SORTS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("type", "Type"),
    ("status", "Status"),
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
];

/// The counts above the list: (API path, label, the filter a value sets).
pub(crate) const GROUPS: &[(&str, &str, &str)] = &[
    ("/api/v1/resources/groups?by=type", "By type", "type"),
    ("/api/v1/resources/groups?by=status", "By status", "status"),
    (
        "/api/v1/resources/groups?by=application",
        "By application",
        "application",
    ),
    ("/api/v1/resources/groups?by=region", "By region", "region"),
];

/// Whether a listed record is a host (its page has the host's operations).
pub(crate) fn is_host(r: &Value) -> bool {
    r["type"] == "host"
}

/// Whether a listed record is another type of resource.
pub(crate) fn is_other(r: &Value) -> bool {
    !is_host(r)
}

/// The fields of a resource (every field of the API's definition).
pub(crate) const RESOURCE: &[Field] = &[
    h(
        "type",
        "Type",
        Kind::Choice(TYPES),
        "What it is. Hosts join through their agent; databases, caches … the agent finds on its host appear by themselves.",
    ),
    f("name", "Name", Kind::Text),
    h(
        "host",
        "Host",
        Kind::Pick(&HOSTS),
        "The host it runs on; empty: none (a managed service, an appliance).",
    ),
    h(
        "application",
        "Application",
        Kind::Pick(&APPLICATIONS),
        "Empty: its host's application, or none.",
    ),
    h(
        "module",
        "Module",
        Kind::Text,
        "One of the application's modules (web, db …); empty: none.",
    ),
    h(
        "region",
        "Region",
        Kind::Text,
        "Empty: its host's region, or none.",
    ),
    h(
        "enterprise_project",
        "Enterprise project",
        Kind::Pick(&PROJECTS),
        "Empty: its host's project, or none.",
    ),
    h(
        "attributes",
        "Fields",
        Kind::Map,
        "One per line, key=value. Database, cache, queue, web server: engine, version, endpoint, port, process. Container cluster: platform, version, endpoint, nodes. Load balancer: address, listeners, algorithm, backends.",
    ),
    h(
        "tags",
        "Tags",
        Kind::Map,
        "One per line, key=value (at most 20).",
    ),
];

/// The fields of an import.
pub(crate) const IMPORT: &[Field] = &[
    h(
        "format",
        "Format",
        Kind::Choice(&["csv", "yaml"]),
        "CSV: a header row with type and name, and any of host, application, module, region, enterprise_project, tags (k=v;k=v); every other column is a field of the row's type. YAML: a list of resources as the API takes them.",
    ),
    h(
        "content",
        "File",
        Kind::Long,
        "Paste the file (at most 10,000 rows). A row of a type and name that exists changes it; the others are created. With a refused row nothing is imported.",
    ),
];

/// An example import (the New form's "fill with example").
pub(crate) const IMPORT_EXAMPLE: &str = r#"{"format": "csv", "content": "type,name,region,engine,endpoint,port\ndatabase,orders-db,eu-west-1,postgresql,10.0.0.5:5432,5432\ncache,sessions,eu-west-1,redis,10.0.0.6:6379,6379\n"}"#;

/// A dry run's answer in one sentence.
pub(crate) fn import_summary(r: &Value, _days: u32) -> String {
    let refused = r["refused"].as_u64().unwrap_or(0);
    format!(
        "Importing would create {}, change {} and leave {} unchanged{}",
        r["created"],
        r["updated"],
        r["unchanged"],
        if refused == 0 {
            ".".to_string()
        } else {
            format!(
                "; {refused} row(s) are refused, so nothing would be imported until they are fixed."
            )
        }
    )
}
