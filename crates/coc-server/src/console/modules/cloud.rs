//! Cloud accounts (R2) in the console: the New and Modify forms — the
//! password typed, never shown back — and the Synchronize now button.

use super::super::forms::{Field, Kind, f, h};

/// The fields of a cloud account (every field of the API's definition).
pub(crate) const CLOUD_ACCOUNT: &[Field] = &[
    f("name", "Name", Kind::Text),
    h(
        "provider",
        "Provider",
        Kind::Choice(&["openstack"]),
        "An OpenStack-compatible cloud (Keystone v3, Nova, Glance).",
    ),
    h(
        "auth_url",
        "Identity URL",
        Kind::Text,
        "The identity (Keystone) service, e.g. https://keystone.example.com:5000.",
    ),
    f("username", "User", Kind::Text),
    h(
        "password",
        "Password",
        Kind::Secret,
        "Kept encrypted and never shown; on Modify, leave empty to keep it.",
    ),
    h("user_domain", "User domain", Kind::Text, "Empty: Default."),
    f("project", "Project", Kind::Text),
    h(
        "project_domain",
        "Project domain",
        Kind::Text,
        "Empty: Default.",
    ),
    h(
        "regions",
        "Regions",
        Kind::List,
        "Only these regions of the catalog, separated by commas or new lines; empty: every region.",
    ),
    h(
        "sync_minutes",
        "Synchronize every (minutes)",
        Kind::Number,
        "Empty: 60. 0: only when you press Synchronize now.",
    ),
];
