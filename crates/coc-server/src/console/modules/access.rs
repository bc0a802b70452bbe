//! Access's declarations (ref. 13) and the hosts' operations: groups,
//! policies, users' simulator, a host's tags and project.

use super::*;

pub(crate) const RESOURCE_OPS: &[Op] = &[
    edit_tags("/api/v1/resources/{id}/tags", "resources"),
    Op {
        op: "project",
        label: "Change enterprise project",
        api: "/api/v1/resources/{id}/enterprise-project",
        method: "PUT",
        fields: &[h(
            "name",
            "Enterprise project",
            Kind::Pick(&PROJECTS),
            "Empty: the host leaves its project.",
        )],
        prefill: &[("name", "enterprise_project")],
        base: r#"{"name": null}"#,
        then: Then::Record("resources", "id"),
        confirm: None,
    },
    Op {
        op: "application",
        label: "Change application",
        api: "/api/v1/resources/{id}/application",
        method: "PUT",
        fields: &[
            h(
                "application",
                "Application",
                Kind::Pick(&APPLICATIONS),
                "Empty: the host belongs to no application.",
            ),
            h(
                "module",
                "Module",
                Kind::Text,
                "One of the application's modules (web, db …); empty: none.",
            ),
        ],
        prefill: &[("application", "application"), ("module", "module")],
        base: r#"{"application": null, "module": null}"#,
        then: Then::Record("resources", "id"),
        confirm: None,
    },
    Op {
        op: "region",
        label: "Change region",
        api: "/api/v1/resources/{id}/region",
        method: "PUT",
        fields: &[h(
            "region",
            "Region",
            Kind::Text,
            "Where the host runs (eu-west-1 …); its databases, caches … without a region of their own take it. Empty: none.",
        )],
        prefill: &[("region", "region")],
        base: r#"{"region": null}"#,
        then: Then::Record("resources", "id"),
        confirm: None,
    },
    Op {
        op: "revoke-agent",
        label: "Revoke agent identity",
        api: "/api/v1/resources/{id}/agent/revoke",
        then: Then::Record("resources", "id"),
        confirm: Some(
            "The host's agent is disconnected at once and its key is refused from then on: it runs no more tasks. Use it for a stolen or decommissioned host. To let the host back in, allow re-enrollment.",
        ),
        ..OP
    },
    Op {
        op: "reenroll-agent",
        label: "Allow re-enrollment",
        api: "/api/v1/resources/{id}/agent/reenroll",
        then: Then::Record("resources", "id"),
        confirm: Some(
            "The host's agent key is forgotten and its agent disconnected. For 24 hours, the next agent with this host's agent id and a valid enrollment token binds its new key to this host (a re-installed agent), keeping the host's history.",
        ),
        ..OP
    },
];

/// Adding or removing a member of a group (ref. 13.1).
pub(crate) const GROUP_OPS: &[Op] = &[
    Op {
        op: "add-member",
        label: "Add member",
        api: "/api/v1/groups/{id}/members",
        fields: &[f("user", "User name", Kind::Text)],
        then: Then::Record("groups", "id"),
        ..OP
    },
    Op {
        op: "remove-member",
        label: "Remove member",
        api: "/api/v1/groups/{id}/members/{user}",
        method: "DELETE",
        fields: &[f("user", "User name", Kind::Text)],
        then: Then::Record("groups", "id"),
        ..OP
    },
];

pub(crate) const ATTACHMENT: &[Field] = &[
    f("type", "Attach to", Kind::Choice(&["user", "group"])),
    f("name", "User or group name", Kind::Text),
];

/// Attaching a policy to a user or group, or detaching it (ref. 13.2).
pub(crate) const POLICY_OPS: &[Op] = &[
    Op {
        op: "attach",
        label: "Attach",
        api: "/api/v1/policies/{id}/attach",
        fields: ATTACHMENT,
        then: Then::Record("policies", "id"),
        ..OP
    },
    Op {
        op: "detach",
        label: "Detach",
        api: "/api/v1/policies/{id}/detach",
        fields: ATTACHMENT,
        then: Then::Record("policies", "id"),
        ..OP
    },
];

/// Asking what a user's policies allow (the policy simulator).
pub(crate) const USER_OPS: &[Op] = &[Op {
    op: "simulate",
    label: "Simulate access",
    api: "/api/v1/policies/simulate",
    fields: &[
        f("user", "User", Kind::Text),
        f(
            "action",
            "Action",
            Kind::Suggest(coc_domain::access::ACTIONS),
        ),
        h(
            "resource",
            "Resource",
            Kind::Text,
            "<type>:<id>, e.g. host:web-1; empty: any.",
        ),
    ],
    prefill: &[("user", "name")],
    ..OP
}];
