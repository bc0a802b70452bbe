//! The route catalog: every route of the server with its module, summary
//! and the access-control action it is checked against. A leaf: the guard,
//! the OpenAPI document and the console read it; it names no handler.

/// One documented route: method, path (axum syntax), tag, summary, and
/// the catalog action it is checked against.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Module.
    pub tag: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Needs the bearer token.
    pub auth: bool,
    /// The catalog action (`coc:<module>:<verb>`, see
    /// [`coc_domain::access::ACTIONS`]) the route is checked against; for
    /// `…/actions` routes the verb comes from the body, and this is the
    /// module's wildcard. Empty for public routes.
    pub action: &'static str,
}

macro_rules! r {
    ($m:literal, $p:literal, $t:literal, $s:literal, public) => {
        RouteDoc {
            method: $m,
            path: $p,
            tag: $t,
            summary: $s,
            auth: false,
            action: "",
        }
    };
    ($m:literal, $p:literal, $t:literal, $s:literal, $a:literal) => {
        RouteDoc {
            method: $m,
            path: $p,
            tag: $t,
            summary: $s,
            auth: true,
            action: $a,
        }
    };
}

/// Every route of the server. The router test walks this table, so a
/// route missing here is caught.
pub const ROUTES: &[RouteDoc] = &[
    r!(
        "GET",
        "/metrics",
        "health",
        "Prometheus metrics: ingest, engine rounds, queues, tickets, deliveries, agents (aggregates only)",
        public
    ),
    r!(
        "GET",
        "/healthz",
        "health",
        "Liveness: 200 while the process runs",
        public
    ),
    r!(
        "GET",
        "/readyz",
        "health",
        "Readiness: 200 once the database answers",
        public
    ),
    r!(
        "GET",
        "/api/v1/openapi.json",
        "health",
        "This OpenAPI document",
        public
    ),
    r!(
        "POST",
        "/api/v1/integrations",
        "integration",
        "Create an integration; the response carries its key (ref. 7.5)",
        "coc:integration:create"
    ),
    r!(
        "GET",
        "/api/v1/integrations",
        "integration",
        "List integrations",
        "coc:integration:list"
    ),
    r!(
        "GET",
        "/api/v1/integrations/{id}",
        "integration",
        "Show an integration",
        "coc:integration:get"
    ),
    r!(
        "POST",
        "/api/v1/integrations/{id}/enable",
        "integration",
        "Enable an integration",
        "coc:integration:enable"
    ),
    r!(
        "POST",
        "/api/v1/integrations/{id}/disable",
        "integration",
        "Disable an integration: its key is refused with 403",
        "coc:integration:disable"
    ),
    r!(
        "POST",
        "/api/v1/integrations/{id}/rotate-key",
        "integration",
        "Replace the key (update the integration sign)",
        "coc:integration:rotateKey"
    ),
    r!(
        "POST",
        "/ingest/{key}/api/v2/alerts",
        "ingest",
        "Alertmanager v2 alerts as posted by Prometheus",
        public
    ),
    r!(
        "POST",
        "/ingest/{key}/alertmanager",
        "ingest",
        "Alertmanager webhook payload version 4",
        public
    ),
    r!(
        "POST",
        "/ingest/{key}/generic",
        "ingest",
        "Generic JSON alarm object or list (ref. 7.4.2 fields)",
        public
    ),
    r!(
        "GET",
        "/api/v1/alarms",
        "alarm",
        "Alarm center list: filters status, level, name, source, region, since, until; limit, cursor",
        "coc:alarm:list"
    ),
    r!(
        "GET",
        "/api/v1/alarms/{id}",
        "alarm",
        "Show an alarm",
        "coc:alarm:get"
    ),
    r!(
        "GET",
        "/api/v1/alarms/{id}/history",
        "alarm",
        "History of an alarm (ref. 7.2.1.4)",
        "coc:alarm:get"
    ),
    r!(
        "POST",
        "/api/v1/alarms/clear",
        "alarm",
        "Clear alarms with a remark of at most 100 characters (ref. 7.2.1.3)",
        "coc:alarm:clear"
    ),
    r!(
        "POST",
        "/api/v1/alarms/convert",
        "alarm",
        "Convert alarms of one region to an incident (ref. 7.2.1.2)",
        "coc:alarm:convert"
    ),
    r!(
        "GET",
        "/api/v1/forwarding-rules",
        "rule",
        "List forwarding rules",
        "coc:rule:list"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules",
        "rule",
        "Create a forwarding rule (ref. 7.4.2)",
        "coc:rule:create"
    ),
    r!(
        "GET",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Show a forwarding rule",
        "coc:rule:get"
    ),
    r!(
        "PUT",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Modify a forwarding rule",
        "coc:rule:update"
    ),
    r!(
        "DELETE",
        "/api/v1/forwarding-rules/{id}",
        "rule",
        "Delete a forwarding rule",
        "coc:rule:delete"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules/{id}/copy",
        "rule",
        "Copy a forwarding rule under a new name (the copy is disabled)",
        "coc:rule:copy"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules/{id}/enable",
        "rule",
        "Enable a forwarding rule",
        "coc:rule:enable"
    ),
    r!(
        "POST",
        "/api/v1/forwarding-rules/{id}/disable",
        "rule",
        "Disable a forwarding rule",
        "coc:rule:disable"
    ),
    r!(
        "GET",
        "/api/v1/incidents",
        "incident",
        "List incidents: filters status, level, assignee; limit, cursor",
        "coc:incident:list"
    ),
    r!(
        "POST",
        "/api/v1/incidents",
        "incident",
        "Create an incident (ref. 7.1.2)",
        "coc:incident:create"
    ),
    r!(
        "GET",
        "/api/v1/incidents/{id}",
        "incident",
        "Show an incident with history and original alarms",
        "coc:incident:get"
    ),
    r!(
        "POST",
        "/api/v1/incidents/{id}/actions",
        "incident",
        "Apply a lifecycle action (ref. 7.1.3, figure 7-1); checked as coc:incident:<action>",
        "coc:incident:*"
    ),
    r!(
        "GET",
        "/api/v1/resources",
        "resource",
        "List hosts with agent status (ref. 3.1)",
        "coc:resource:list"
    ),
    r!(
        "GET",
        "/api/v1/resources/{id}",
        "resource",
        "Show a host",
        "coc:resource:get"
    ),
    r!(
        "GET",
        "/api/v1/scripts",
        "script",
        "List scripts",
        "coc:script:list"
    ),
    r!(
        "POST",
        "/api/v1/scripts",
        "script",
        "Create a script (ref. 5.1.1)",
        "coc:script:create"
    ),
    r!(
        "GET",
        "/api/v1/scripts/{id}",
        "script",
        "Show a script",
        "coc:script:get"
    ),
    r!(
        "PUT",
        "/api/v1/scripts/{id}",
        "script",
        "Modify a script (new version)",
        "coc:script:update"
    ),
    r!(
        "DELETE",
        "/api/v1/scripts/{id}",
        "script",
        "Delete a script",
        "coc:script:delete"
    ),
    r!(
        "POST",
        "/api/v1/scripts/{id}/execute",
        "script",
        "Execute a script on hosts: a script ticket (ref. 5.1.3)",
        "coc:script:execute"
    ),
    r!(
        "GET",
        "/api/v1/jobs",
        "job",
        "List jobs, custom then common (?name=, ?tag=key[=value]) (ref. 5.2)",
        "coc:job:list"
    ),
    r!(
        "POST",
        "/api/v1/jobs",
        "job",
        "Create a job (ref. 5.2.2)",
        "coc:job:create"
    ),
    r!(
        "GET",
        "/api/v1/jobs/templates",
        "job",
        "Job templates: Reboot_and_Verify, Routine_Scan, Custom_Action",
        "coc:job:list"
    ),
    r!(
        "GET",
        "/api/v1/jobs/{id}",
        "job",
        "Show a job",
        "coc:job:get"
    ),
    r!(
        "PUT",
        "/api/v1/jobs/{id}",
        "job",
        "Modify a job (new version, ref. 5.2.3)",
        "coc:job:update"
    ),
    r!(
        "DELETE",
        "/api/v1/jobs/{id}",
        "job",
        "Delete a job",
        "coc:job:delete"
    ),
    r!(
        "GET",
        "/api/v1/jobs/{id}/versions",
        "job",
        "Every version of a job, newest first",
        "coc:job:get"
    ),
    r!(
        "POST",
        "/api/v1/jobs/{id}/clone",
        "job",
        "Clone a job under a new name",
        "coc:job:clone"
    ),
    r!(
        "PUT",
        "/api/v1/jobs/{id}/tags",
        "job",
        "Replace a job's tags (ref. 5.2.5)",
        "coc:job:tag"
    ),
    r!(
        "POST",
        "/api/v1/jobs/{id}/review",
        "job",
        "Approve or reject the current version of a job",
        "coc:job:review"
    ),
    r!(
        "POST",
        "/api/v1/jobs/{id}/execute",
        "job",
        "Execute a job on hosts: a job ticket (ref. 5.2.4)",
        "coc:job:execute"
    ),
    r!(
        "GET",
        "/api/v1/job-tickets",
        "jobticket",
        "List job tickets (ref. 10.1.2)",
        "coc:jobticket:list"
    ),
    r!(
        "GET",
        "/api/v1/job-tickets/{id}",
        "jobticket",
        "Show a job ticket: steps, batches, hosts, runs, approvals",
        "coc:jobticket:get"
    ),
    r!(
        "POST",
        "/api/v1/job-tickets/{id}/actions",
        "jobticket",
        "Pause, continue, forcibly end, terminate all or retry failed; checked as coc:jobticket:<action>",
        "coc:jobticket:*"
    ),
    r!(
        "POST",
        "/api/v1/job-tickets/{id}/hosts/{host}/cancel",
        "jobticket",
        "Cancel one host of the current step",
        "coc:jobticket:cancelHost"
    ),
    r!(
        "POST",
        "/api/v1/job-tickets/{id}/clone",
        "jobticket",
        "Run a job ticket's request again as a new ticket",
        "coc:jobticket:clone"
    ),
    r!(
        "POST",
        "/api/v1/job-tickets/{id}/approvals/{step}/{task}",
        "jobticket",
        "Approve or reject an approval task the ticket waits at",
        "coc:jobticket:approve"
    ),
    r!(
        "GET",
        "/api/v1/tickets",
        "ticket",
        "List script tickets (ref. 10.1.1)",
        "coc:ticket:list"
    ),
    r!(
        "GET",
        "/api/v1/tickets/{id}",
        "ticket",
        "Show a ticket with per-host status, exit code and output",
        "coc:ticket:get"
    ),
    r!(
        "POST",
        "/api/v1/tickets/{id}/actions",
        "ticket",
        "Pause, continue or forcibly end a ticket; checked as coc:ticket:<action>",
        "coc:ticket:*"
    ),
    r!(
        "POST",
        "/api/v1/tickets/{id}/tasks/{task_id}/cancel",
        "ticket",
        "Cancel one host of a ticket",
        "coc:ticket:cancelHost"
    ),
    r!(
        "GET",
        "/api/v1/job-tickets/{id}/events",
        "jobticket",
        "Live output of a job ticket's runs (server-sent events)",
        "coc:jobticket:get"
    ),
    r!(
        "GET",
        "/api/v1/tickets/{id}/events",
        "ticket",
        "Live output of a ticket (server-sent events)",
        "coc:ticket:get"
    ),
    r!(
        "GET",
        "/api/v1/users",
        "user",
        "List users",
        "coc:user:list"
    ),
    r!(
        "POST",
        "/api/v1/users",
        "user",
        "Create a user (password hashed with argon2id)",
        "coc:user:create"
    ),
    r!(
        "GET",
        "/api/v1/users/{id}",
        "user",
        "Show a user with groups and policies",
        "coc:user:get"
    ),
    r!(
        "GET",
        "/api/v1/groups",
        "group",
        "List groups",
        "coc:group:list"
    ),
    r!(
        "POST",
        "/api/v1/groups",
        "group",
        "Create a group",
        "coc:group:create"
    ),
    r!(
        "GET",
        "/api/v1/groups/{id}",
        "group",
        "Show a group",
        "coc:group:get"
    ),
    r!(
        "POST",
        "/api/v1/groups/{id}/members",
        "group",
        "Add a user to a group",
        "coc:group:update"
    ),
    r!(
        "DELETE",
        "/api/v1/groups/{id}/members/{user}",
        "group",
        "Remove a user from a group",
        "coc:group:update"
    ),
    r!(
        "GET",
        "/api/v1/policies",
        "policy",
        "List policies (system and custom)",
        "coc:policy:list"
    ),
    r!(
        "POST",
        "/api/v1/policies",
        "policy",
        "Create a custom policy (ref. 1.1)",
        "coc:policy:create"
    ),
    r!(
        "POST",
        "/api/v1/policies/simulate",
        "policy",
        "Simulate: would user U be allowed action A on resource R, and by which statement",
        "coc:policy:simulate"
    ),
    r!(
        "GET",
        "/api/v1/policies/{id}",
        "policy",
        "Show a policy",
        "coc:policy:get"
    ),
    r!(
        "PUT",
        "/api/v1/policies/{id}",
        "policy",
        "Replace a custom policy document",
        "coc:policy:update"
    ),
    r!(
        "DELETE",
        "/api/v1/policies/{id}",
        "policy",
        "Delete a custom policy",
        "coc:policy:delete"
    ),
    r!(
        "POST",
        "/api/v1/policies/{id}/attach",
        "policy",
        "Attach a policy to a user or group",
        "coc:policy:attach"
    ),
    r!(
        "POST",
        "/api/v1/policies/{id}/detach",
        "policy",
        "Detach a policy from a user or group",
        "coc:policy:detach"
    ),
    r!(
        "GET",
        "/api/v1/tokens",
        "token",
        "List API tokens",
        "coc:token:list"
    ),
    r!(
        "POST",
        "/api/v1/tokens",
        "token",
        "Create a personal API token (secret shown once)",
        "coc:token:create"
    ),
    r!(
        "DELETE",
        "/api/v1/tokens/{id}",
        "token",
        "Revoke an API token at once",
        "coc:token:delete"
    ),
    r!(
        "GET",
        "/api/v1/audit",
        "audit",
        "Search the audit trail",
        "coc:audit:list"
    ),
    r!(
        "GET",
        "/api/v1/audit/export",
        "audit",
        "Export the audit trail as JSON lines",
        "coc:audit:export"
    ),
    r!(
        "POST",
        "/api/v1/login",
        "session",
        "Log in with user name and password: session cookie and CSRF token",
        public
    ),
    r!(
        "GET",
        "/api/v1/todos",
        "todo",
        "The caller's to-dos: reviews and job approvals waiting for their decision",
        "coc:todo:list"
    ),
    r!(
        "POST",
        "/api/v1/logout",
        "session",
        "End the session of the cookie",
        public
    ),
    r!(
        "GET",
        "/api/v1/grants",
        "grant",
        "List O&M authorizations and log shares given by this tenant",
        "coc:grant:list"
    ),
    r!(
        "POST",
        "/api/v1/grants",
        "grant",
        "Grant a support user a scope (policy or log share) for a limited time",
        "coc:grant:create"
    ),
    r!(
        "DELETE",
        "/api/v1/grants/{id}",
        "grant",
        "Revoke a grant at once",
        "coc:grant:delete"
    ),
    r!(
        "PUT",
        "/api/v1/resources/{id}/enterprise-project",
        "resource",
        "Move a host into an enterprise project (or out)",
        "coc:resource:update"
    ),
    r!(
        "GET",
        "/api/v1/enterprise-projects",
        "project",
        "List enterprise projects",
        "coc:project:list"
    ),
    r!(
        "POST",
        "/api/v1/enterprise-projects",
        "project",
        "Create an enterprise project",
        "coc:project:create"
    ),
    r!(
        "GET",
        "/api/v1/agent-enrollments",
        "agent",
        "List this tenant's agent enrollment tokens",
        "coc:agent:list"
    ),
    r!(
        "POST",
        "/api/v1/agent-enrollments",
        "agent",
        "Create an agent enrollment token for this tenant: max_uses hosts (default 1) within expires_in_hours (default 24); secret shown once",
        "coc:agent:enroll"
    ),
    r!(
        "GET",
        "/api/v1/agent-enrollments/{id}",
        "agent",
        "Show an agent enrollment token (uses, expiry, state; never its secret)",
        "coc:agent:list"
    ),
    r!(
        "DELETE",
        "/api/v1/agent-enrollments/{id}",
        "agent",
        "Revoke an agent enrollment token",
        "coc:agent:revoke"
    ),
    r!(
        "DELETE",
        "/api/v1/resources/{id}",
        "resource",
        "Delete a host; its agent is cut off and refused",
        "coc:resource:delete"
    ),
    r!(
        "POST",
        "/api/v1/resources/{id}/agent/revoke",
        "resource",
        "Revoke a host's agent identity: its agent is cut off and refused",
        "coc:resource:revokeAgent"
    ),
    r!(
        "POST",
        "/api/v1/resources/{id}/agent/reenroll",
        "resource",
        "Forget a host's agent key: the next agent with its agent id and a valid enrollment token binds a new one (24 h)",
        "coc:resource:reenrollAgent"
    ),
    r!(
        "PUT",
        "/api/v1/resources/{id}/tags",
        "resource",
        "Replace a host's tags (at most 20)",
        "coc:resource:update"
    ),
    r!(
        "GET",
        "/api/v1/oncall/scenarios",
        "oncall",
        "List scheduling scenarios (ref. 11.2)",
        "coc:oncall:list"
    ),
    r!(
        "POST",
        "/api/v1/oncall/scenarios",
        "oncall",
        "Create a scheduling scenario with roles, shifts and assignments",
        "coc:oncall:create"
    ),
    r!(
        "GET",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Show a scenario",
        "coc:oncall:get"
    ),
    r!(
        "PUT",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Replace a scenario",
        "coc:oncall:update"
    ),
    r!(
        "DELETE",
        "/api/v1/oncall/scenarios/{id}",
        "oncall",
        "Delete a scenario",
        "coc:oncall:delete"
    ),
    r!(
        "POST",
        "/api/v1/oncall/scenarios/{id}/clear",
        "oncall",
        "Clear a date range (expired shifts stay)",
        "coc:oncall:update"
    ),
    r!(
        "GET",
        "/api/v1/oncall/who",
        "oncall",
        "Who is on call for scenario, role (and time)",
        "coc:oncall:get"
    ),
    r!(
        "GET",
        "/api/v1/notifications/deliveries",
        "notification",
        "The delivery log: status, attempts, last error",
        "coc:notification:list"
    ),
    r!(
        "POST",
        "/api/v1/notifications/test",
        "notification",
        "Queue a test message to a channel (webhook or robot)",
        "coc:notification:test"
    ),
    r!(
        "GET",
        "/api/v1/notification-rules",
        "notification",
        "List notification rule (ref. 11.3)s (?name= fuzzy search)",
        "coc:notification:list"
    ),
    r!(
        "POST",
        "/api/v1/notification-rules",
        "notification",
        "Create a notification rule (ref. 11.3)",
        "coc:notification:create"
    ),
    r!(
        "GET",
        "/api/v1/notification-rules/{id}",
        "notification",
        "Show a notification rule (ref. 11.3)",
        "coc:notification:get"
    ),
    r!(
        "PUT",
        "/api/v1/notification-rules/{id}",
        "notification",
        "Replace a notification rule (ref. 11.3)",
        "coc:notification:update"
    ),
    r!(
        "DELETE",
        "/api/v1/notification-rules/{id}",
        "notification",
        "Delete a notification rule (ref. 11.3)",
        "coc:notification:delete"
    ),
    r!(
        "POST",
        "/api/v1/notification-rules/{id}/enable",
        "notification",
        "Enable a notification rule (ref. 11.3)",
        "coc:notification:enable"
    ),
    r!(
        "POST",
        "/api/v1/notification-rules/{id}/disable",
        "notification",
        "Disable a notification rule (ref. 11.3)",
        "coc:notification:disable"
    ),
    r!(
        "GET",
        "/api/v1/escalation-policies",
        "escalation",
        "List escalation policy (I7)s (?name= fuzzy search)",
        "coc:escalation:list"
    ),
    r!(
        "POST",
        "/api/v1/escalation-policies",
        "escalation",
        "Create a escalation policy (I7)",
        "coc:escalation:create"
    ),
    r!(
        "GET",
        "/api/v1/escalation-policies/{id}",
        "escalation",
        "Show a escalation policy (I7)",
        "coc:escalation:get"
    ),
    r!(
        "PUT",
        "/api/v1/escalation-policies/{id}",
        "escalation",
        "Replace a escalation policy (I7)",
        "coc:escalation:update"
    ),
    r!(
        "DELETE",
        "/api/v1/escalation-policies/{id}",
        "escalation",
        "Delete a escalation policy (I7)",
        "coc:escalation:delete"
    ),
    r!(
        "POST",
        "/api/v1/escalation-policies/{id}/enable",
        "escalation",
        "Enable a escalation policy (I7)",
        "coc:escalation:enable"
    ),
    r!(
        "POST",
        "/api/v1/escalation-policies/{id}/disable",
        "escalation",
        "Disable a escalation policy (I7)",
        "coc:escalation:disable"
    ),
    r!(
        "GET",
        "/api/v1/incidents/{id}/escalation",
        "incident",
        "The incident's escalation (policy, next level, when, state), or null",
        "coc:incident:get"
    ),
    r!(
        "GET",
        "/api/v1/engineers",
        "engineer",
        "List O&M engineers with their contact channels (ref. 11.1)",
        "coc:engineer:list"
    ),
    r!(
        "GET",
        "/api/v1/engineers/{user}",
        "engineer",
        "Show an engineer profile",
        "coc:engineer:get"
    ),
    r!(
        "PUT",
        "/api/v1/engineers/{user}",
        "engineer",
        "Set alias and contact channels; email and mobile get a confirmation link",
        "coc:engineer:update"
    ),
    r!(
        "DELETE",
        "/api/v1/engineers/{user}",
        "engineer",
        "Remove an engineer profile and its contacts",
        "coc:engineer:delete"
    ),
    r!(
        "POST",
        "/api/v1/engineers/{user}/subscribe",
        "engineer",
        "Send subscription confirmations again (fresh 48-hour links)",
        "coc:engineer:subscribe"
    ),
    r!(
        "GET",
        "/api/v1/subscriptions/confirm",
        "engineer",
        "Confirm a subscription (the link sent to the person; no login)",
        public
    ),
    r!(
        "GET",
        "/api/v1/slas",
        "sla",
        "List SLA (ref. 11.5; modify or delete only when disabled)s (?name= fuzzy search)",
        "coc:sla:list"
    ),
    r!(
        "POST",
        "/api/v1/slas",
        "sla",
        "Create a SLA (ref. 11.5; modify or delete only when disabled)",
        "coc:sla:create"
    ),
    r!(
        "GET",
        "/api/v1/slas/{id}",
        "sla",
        "Show a SLA (ref. 11.5; modify or delete only when disabled)",
        "coc:sla:get"
    ),
    r!(
        "PUT",
        "/api/v1/slas/{id}",
        "sla",
        "Replace a SLA (ref. 11.5; modify or delete only when disabled)",
        "coc:sla:update"
    ),
    r!(
        "DELETE",
        "/api/v1/slas/{id}",
        "sla",
        "Delete a SLA (ref. 11.5; modify or delete only when disabled)",
        "coc:sla:delete"
    ),
    r!(
        "POST",
        "/api/v1/slas/{id}/enable",
        "sla",
        "Enable a SLA (ref. 11.5; modify or delete only when disabled)",
        "coc:sla:enable"
    ),
    r!(
        "POST",
        "/api/v1/slas/{id}/disable",
        "sla",
        "Disable a SLA (ref. 11.5; modify or delete only when disabled)",
        "coc:sla:disable"
    ),
    r!(
        "GET",
        "/api/v1/sla-records",
        "sla",
        "SLA records: duration per status, target, state, break time, notifications",
        "coc:sla:list"
    ),
    r!(
        "POST",
        "/api/v1/scripts/{id}/review",
        "script",
        "Approve or reject the version waiting for review (reviewers only, not the author)",
        "coc:script:review"
    ),
    r!(
        "GET",
        "/api/v1/scripts/{id}/versions",
        "script",
        "Every version of a script, newest first",
        "coc:script:get"
    ),
    r!(
        "GET",
        "/api/v1/scripts/high-risk-rules",
        "script",
        "The high-risk command rules (regular expressions per script type)",
        "coc:script:list"
    ),
    r!(
        "POST",
        "/api/v1/scripts/verify",
        "script",
        "Verify high-risk commands: which lines match which rule",
        "coc:script:verify"
    ),
    r!(
        "GET",
        "/api/v1/parameters",
        "parameter",
        "List parameters (?region, ?name, ?tag=key[=value]); encrypted values masked",
        "coc:parameter:list"
    ),
    r!(
        "POST",
        "/api/v1/parameters",
        "parameter",
        "Create a text or encrypted parameter in a region",
        "coc:parameter:create"
    ),
    r!(
        "GET",
        "/api/v1/parameters/{id}",
        "parameter",
        "Show a parameter (encrypted value masked)",
        "coc:parameter:get"
    ),
    r!(
        "PUT",
        "/api/v1/parameters/{id}",
        "parameter",
        "Modify a parameter: a new version (name, region, project, type fixed)",
        "coc:parameter:update"
    ),
    r!(
        "DELETE",
        "/api/v1/parameters/{id}",
        "parameter",
        "Delete a parameter and its history",
        "coc:parameter:delete"
    ),
    r!(
        "GET",
        "/api/v1/parameters/{id}/versions",
        "parameter",
        "Version history (who and when; encrypted values masked)",
        "coc:parameter:get"
    ),
    r!(
        "POST",
        "/api/v1/parameters/{id}/decrypt",
        "parameter",
        "Every version's value, decrypted (audited)",
        "coc:parameter:decrypt"
    ),
    r!(
        "GET",
        "/api/v1/scheduled-tasks",
        "schedule",
        "List scheduled tasks (ref. 5.3)",
        "coc:schedule:list"
    ),
    r!(
        "POST",
        "/api/v1/scheduled-tasks",
        "schedule",
        "Create a scheduled task (disabled, pending review)",
        "coc:schedule:create"
    ),
    r!(
        "GET",
        "/api/v1/scheduled-tasks/{id}",
        "schedule",
        "Show a scheduled task with its next run",
        "coc:schedule:get"
    ),
    r!(
        "PUT",
        "/api/v1/scheduled-tasks/{id}",
        "schedule",
        "Modify a task (only disabled or pending review; reviewed again)",
        "coc:schedule:update"
    ),
    r!(
        "DELETE",
        "/api/v1/scheduled-tasks/{id}",
        "schedule",
        "Delete a task (only disabled)",
        "coc:schedule:delete"
    ),
    r!(
        "POST",
        "/api/v1/scheduled-tasks/{id}/review",
        "schedule",
        "Approve or reject a task (a reviewer, not its author)",
        "coc:schedule:review"
    ),
    r!(
        "POST",
        "/api/v1/scheduled-tasks/{id}/enable",
        "schedule",
        "Enable an approved task",
        "coc:schedule:enable"
    ),
    r!(
        "POST",
        "/api/v1/scheduled-tasks/{id}/disable",
        "schedule",
        "Disable a task",
        "coc:schedule:disable"
    ),
    r!(
        "GET",
        "/api/v1/scheduled-tasks/{id}/runs",
        "schedule",
        "Execution records, with their tickets",
        "coc:schedule:get"
    ),
    r!(
        "GET",
        "/api/v1/plans",
        "plan",
        "List emergency plan (ref. 9.2)s (?name= fuzzy search)",
        "coc:plan:list"
    ),
    r!(
        "POST",
        "/api/v1/plans",
        "plan",
        "Create a emergency plan (ref. 9.2)",
        "coc:plan:create"
    ),
    r!(
        "GET",
        "/api/v1/plans/{id}",
        "plan",
        "Show a emergency plan (ref. 9.2)",
        "coc:plan:get"
    ),
    r!(
        "PUT",
        "/api/v1/plans/{id}",
        "plan",
        "Replace a emergency plan (ref. 9.2)",
        "coc:plan:update"
    ),
    r!(
        "DELETE",
        "/api/v1/plans/{id}",
        "plan",
        "Delete a emergency plan (ref. 9.2)",
        "coc:plan:delete"
    ),
    r!(
        "POST",
        "/api/v1/plans/{id}/enable",
        "plan",
        "Enable a emergency plan (ref. 9.2)",
        "coc:plan:enable"
    ),
    r!(
        "POST",
        "/api/v1/plans/{id}/disable",
        "plan",
        "Disable a emergency plan (ref. 9.2)",
        "coc:plan:disable"
    ),
    r!(
        "POST",
        "/api/v1/incidents/{id}/plan",
        "incident",
        "Execute the incident's plan (or another, or one step) on hosts; the ticket lands in its history",
        "coc:incident:executePlan"
    ),
    r!(
        "GET",
        "/api/v1/agent/connect",
        "agent",
        "Agent gateway (WebSocket, agent token)",
        public
    ),
];
