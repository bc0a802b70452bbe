//! Applications (R6) in the console: the New and Modify forms — the owner
//! picked from the tenant's users, modules as rows, regions as a list.

use super::super::forms::{Field, Kind, f, h};

/// A module row of an application.
const APP_MODULE: &[Field] = &[
    f("name", "Module", Kind::Text),
    f("description", "What it is", Kind::Text),
];

/// The fields of an application (every field of the API's definition).
pub(crate) const APPLICATION: &[Field] = &[
    f("name", "Name", Kind::Text),
    f("description", "Description", Kind::Long),
    h(
        "owner",
        "Owner",
        Kind::User,
        "The person who answers for it.",
    ),
    h(
        "enterprise_project",
        "Enterprise project",
        Kind::Pick(&super::PROJECTS),
        "Its enterprise project (Access → Enterprise projects); empty: none.",
    ),
    h(
        "modules",
        "Modules",
        Kind::Rows(APP_MODULE),
        "The parts it is built of (web, api, db …); resources are grouped by application → module.",
    ),
    h(
        "regions",
        "Regions",
        Kind::List,
        "Where it runs, separated by commas or new lines.",
    ),
];
