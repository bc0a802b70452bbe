//! Access control end to end: the route matrix (anonymous, read-only,
//! another tenant), audit records, tokens, and the policy simulator.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness};

async fn call(
    h: &Harness,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    let (st, _, v) = crate::harness::request(h, method, path, token, bytes).await;
    (st, v)
}

/// Objects of the default tenant, created through the API as admin.
pub(crate) struct World {
    /// Record ids by route tag (and `key`: the integration's ingest key).
    pub(crate) ids: HashMap<&'static str, String>,
    /// A script ticket's task.
    pub(crate) task: String,
    token_secret: String,
}

pub(crate) async fn world(h: &Harness) -> World {
    let c = &h.client;
    let mut ids = HashMap::new();
    let integ = c
        .post(
            "/api/v1/integrations",
            &json!({"name": "prom", "type": "alertmanager"}),
        )
        .await
        .unwrap();
    ids.insert("integration", integ["id"].as_str().unwrap().to_string());
    let key = integ["key"].as_str().unwrap().to_string();
    ids.insert("key", key.clone());
    h.users(&["a", "alice", "x", "ann", "bob"]).await;
    c.post_raw(
        &format!("/ingest/{key}/api/v2/alerts"),
        br#"[{"labels":{"alertname":"Disk","instance":"db-9:9100","region":"r1"}}]"#.to_vec(),
    )
    .await
    .unwrap();
    let alarms = c.get("/api/v1/alarms", &[]).await.unwrap();
    ids.insert(
        "alarm",
        alarms["items"][0]["id"].as_str().unwrap().to_string(),
    );
    let script = c
        .post(
            "/api/v1/scripts",
            &json!({"name": "s1", "type": "shell", "content": "sleep 60", "risk_level": "low"}),
        )
        .await
        .unwrap();
    ids.insert("script", script["id"].as_str().unwrap().to_string());
    let rule = c
        .post(
            "/api/v1/forwarding-rules",
            &json!({"name": "r1", "incident_level": "P3", "assignee": "alice",
            "conditions": [{"field": "alarmName", "op": "equals", "value": "Nothing"}]}),
        )
        .await
        .unwrap();
    ids.insert("rule", rule["id"].as_str().unwrap().to_string());
    let inc = c
        .post(
            "/api/v1/incidents",
            &json!({"title": "t", "level": "P3", "assignee": "alice"}),
        )
        .await
        .unwrap();
    ids.insert("incident", inc["id"].as_str().unwrap().to_string());
    let host = crate::harness::fake_host(h, "ghost").await;
    ids.insert("resource", host.clone());
    let t = c
        .post(
            &format!("/api/v1/scripts/{}/execute", ids["script"]),
            &json!({"hosts": [host]}),
        )
        .await
        .unwrap();
    ids.insert("ticket", t["id"].as_str().unwrap().to_string());
    let detail = c
        .get(&format!("/api/v1/tickets/{}", ids["ticket"]), &[])
        .await
        .unwrap();
    let task = detail["tasks"][0]["id"].as_str().unwrap().to_string();
    let user = c
        .post(
            "/api/v1/users",
            &json!({"name": "carol", "password": "carol-password"}),
        )
        .await
        .unwrap();
    ids.insert("user", user["id"].as_str().unwrap().to_string());
    let group = c
        .post("/api/v1/groups", &json!({"name": "ops"}))
        .await
        .unwrap();
    ids.insert("group", group["id"].as_str().unwrap().to_string());
    c.post(
        &format!("/api/v1/groups/{}/members", ids["group"]),
        &json!({"user": "carol"}),
    )
    .await
    .unwrap();
    let pol = c
        .post("/api/v1/policies", &json!({"name": "custom", "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["coc:alarm:list"]}]}}))
        .await
        .unwrap();
    ids.insert("policy", pol["id"].as_str().unwrap().to_string());
    let tok = c
        .post(
            "/api/v1/tokens",
            &json!({"name": "carol-token", "user": "carol"}),
        )
        .await
        .unwrap();
    ids.insert("token", tok["id"].as_str().unwrap().to_string());
    let grant = c
        .post(
            "/api/v1/grants",
            &json!({"kind": "log_share", "grantee_tenant": "default", "grantee_user": "carol",
            "scope": "audit", "expires_at": in_an_hour()}),
        )
        .await
        .unwrap();
    ids.insert("grant", grant["id"].as_str().unwrap().to_string());
    let enr = c
        .post("/api/v1/agent-enrollments", &json!({"name": "rack-1"}))
        .await
        .unwrap();
    ids.insert("agent", enr["id"].as_str().unwrap().to_string());
    let sc = c
        .post("/api/v1/oncall/scenarios", &scenario("main"))
        .await
        .unwrap();
    ids.insert("oncall", sc["id"].as_str().unwrap().to_string());
    let nr = c
        .post("/api/v1/notification-rules", &notification_rule("main"))
        .await
        .unwrap();
    ids.insert("notification", nr["id"].as_str().unwrap().to_string());
    let ep = c
        .post("/api/v1/escalation-policies", &escalation_policy("main"))
        .await
        .unwrap();
    ids.insert("escalation", ep["id"].as_str().unwrap().to_string());
    let param = c
        .post(
            "/api/v1/parameters",
            &json!({"name": "db/password", "region": "r1", "type": "encrypted", "value": "hunter2"}),
        )
        .await
        .unwrap();
    ids.insert("parameter", param["id"].as_str().unwrap().to_string());
    let st = c
        .post("/api/v1/scheduled-tasks", &sched_body("main-task", &host))
        .await
        .unwrap();
    ids.insert("schedule", st["id"].as_str().unwrap().to_string());
    let plan = c
        .post("/api/v1/plans", &plan_body("main-plan"))
        .await
        .unwrap();
    ids.insert("plan", plan["id"].as_str().unwrap().to_string());
    let job = c.post("/api/v1/jobs", &job_body("main-job")).await.unwrap();
    ids.insert("job", job["id"].as_str().unwrap().to_string());
    let jt = c
        .post(
            &format!("/api/v1/jobs/{}/execute", ids["job"]),
            &json!({"hosts": [host]}),
        )
        .await
        .unwrap();
    ids.insert("jobticket", jt["id"].as_str().unwrap().to_string());
    let sla = c.post("/api/v1/slas", &sla_body("main-sla")).await.unwrap();
    ids.insert("sla", sla["id"].as_str().unwrap().to_string());
    let sil = c.post("/api/v1/silences", &silence_body()).await.unwrap();
    ids.insert("silence", sil["id"].as_str().unwrap().to_string());
    let inh = c
        .post(
            "/api/v1/inhibition-rules",
            &json!({"name": "world-inhibition", "source": ["alertname=NodeDown"], "target": ["alertname=Nothing"]}),
        )
        .await
        .unwrap();
    ids.insert("inhibition", inh["id"].as_str().unwrap().to_string());
    let app = c
        .post("/api/v1/applications", &json!({"name": "world-app"}))
        .await
        .unwrap();
    ids.insert("application", app["id"].as_str().unwrap().to_string());
    let cloud = c
        .post("/api/v1/cloud-accounts", &cloud_body("world-cloud"))
        .await
        .unwrap();
    ids.insert("cloud", cloud["id"].as_str().unwrap().to_string());
    c.put(&format!("/api/v1/drift/{host}"), &drift_body())
        .await
        .unwrap();
    let build = c
        .post_bytes(
            "/api/v1/agent-builds",
            &[("version", "world-1".into())],
            b"#!/bin/sh\nexit 0\n".to_vec(),
        )
        .await
        .unwrap();
    ids.insert("agentbuild", build["id"].as_str().unwrap().to_string());
    let baseline = c
        .post("/api/v1/patch-baselines", &baseline_body("world-baseline"))
        .await
        .unwrap();
    ids.insert("patch", baseline["id"].as_str().unwrap().to_string());
    let db = c
        .post(
            "/api/v1/resources",
            &json!({"type": "database", "name": "world-db", "host": host,
                    "attributes": {"service": "postgresql@15-world"}}),
        )
        .await
        .unwrap();
    ids.insert("database", db["id"].as_str().unwrap().to_string());
    let check = c
        .post("/api/v1/health-checks", &json!({"hosts": [host]}))
        .await
        .unwrap();
    ids.insert("health", check["id"].as_str().unwrap().to_string());
    World {
        ids,
        task,
        token_secret: tok["secret"].as_str().unwrap().to_string(),
    }
}

/// A valid body for each mutating route, so that a refusal can only come
/// from access control or tenancy, never from validation.
/// A silence that mutes nothing of the world's alarms.
fn silence_body() -> Value {
    json!({"matchers": ["alertname=Nothing"], "duration_minutes": 60, "comment": "test"})
}

/// A desired state (R5) watching one file.
fn drift_body() -> Value {
    json!({"files": [{"path": "/etc/hostname"}], "services": ["sshd"]})
}

/// A cloud account synchronized only when asked, whose identity service
/// refuses connections at once.
fn cloud_body(name: &str) -> Value {
    json!({"name": name, "auth_url": "http://127.0.0.1:9", "username": "u", "password": "p",
           "project": "p", "sync_minutes": 0})
}

/// A valid patch baseline named `name`.
fn baseline_body(name: &str) -> Value {
    json!({"name": name, "os": "debian",
           "rules": {"type": "custom", "patches": [{"name": "curl", "version": "7.88.1-10"}]}})
}

fn body_for(method: &str, path: &str, w: &World) -> Value {
    match (method, path) {
        ("POST", "/api/v1/patch-baselines") | ("PUT", "/api/v1/patch-baselines/{id}") => {
            baseline_body(&format!("b-{}", rand_suffix()))
        }
        ("POST", "/api/v1/cloud-accounts") | ("PUT", "/api/v1/cloud-accounts/{id}") => {
            cloud_body(&format!("c-{}", rand_suffix()))
        }
        ("POST", "/api/v1/cloud-accounts/{id}/sync") => json!({}),
        ("PUT", "/api/v1/drift/{id}") => drift_body(),
        ("POST", "/api/v1/agent-installs") => json!({
            "installation_host": w.ids["resource"],
            "targets": [{"address": "192.0.2.10", "password": "not-used"}]
        }),
        ("POST", "/api/v1/drift/{id}/accept") => json!({}),
        ("POST", "/api/v1/health-checks") => json!({"hosts": [w.ids["resource"]]}),
        ("POST", "/api/v1/host-operations") => {
            json!({"action": "restart", "hosts": [w.ids["resource"]]})
        }
        ("POST", "/api/v1/resource-operations") => {
            json!({"action": "restart", "resources": [w.ids["database"]]})
        }
        ("POST", "/api/v1/patch-scans" | "/api/v1/patch-repairs" | "/api/v1/patch-rollbacks") => {
            json!({"hosts": [w.ids["resource"]]})
        }
        ("POST", "/api/v1/agent-upgrades") => json!({
            "hosts": [w.ids["resource"]], "build": w.ids["agentbuild"]
        }),
        ("POST", "/api/v1/silences") | ("PUT", "/api/v1/silences/{id}") => silence_body(),
        ("POST", "/api/v1/inhibition-rules") | ("PUT", "/api/v1/inhibition-rules/{id}") => {
            json!({"name": format!("i-{}", rand_suffix()), "source": ["alertname=NodeDown"], "target": ["alertname=DiskFull"], "equal": ["instance"]})
        }
        ("PUT", "/api/v1/resources/{id}/application") => json!({"application": null}),
        ("POST", "/api/v1/resources") | ("PUT", "/api/v1/resources/{id}") => {
            json!({"type": "cache", "name": format!("c-{}", rand_suffix())})
        }
        ("PUT", "/api/v1/resources/{id}/region") => json!({"region": "eu-1"}),
        ("POST", "/api/v1/resources/import") => {
            json!({"format": "csv", "content": "type,name\ncache,c\n", "dry_run": true})
        }
        ("POST", "/api/v1/applications") | ("PUT", "/api/v1/applications/{id}") => {
            json!({"name": format!("a-{}", rand_suffix()), "modules": [{"name": "web"}], "regions": ["eu-1"]})
        }
        ("POST", "/api/v1/integrations") => {
            json!({"name": format!("i-{}", rand_suffix()), "type": "generic"})
        }
        ("PUT", "/api/v1/integrations/{id}") => json!({"mapping": null}),
        ("POST", "/api/v1/alarms/{id}/handle") => json!({"script": "OS-DIAGNOSE"}),
        ("POST", "/api/v1/forwarding-rules/replay") => {
            json!({"rule": {"name": "r", "incident_level": "P3", "assignee": "x"}, "days": 1})
        }
        ("POST", "/api/v1/silences/replay") => json!({"matchers": ["alertname=X"], "days": 1}),
        ("POST", "/api/v1/notification-rules/replay") => {
            json!({"rule": {"name": "n", "templates": ["incident_created"], "recipients": [{"type": "owner"}], "channels": ["email"]}, "days": 1})
        }
        ("POST", "/api/v1/alarms/clear") => json!({"ids": [w.ids["alarm"]], "remark": "cleared"}),
        ("POST", "/api/v1/alarms/convert") => {
            json!({"alarm_ids": [w.ids["alarm"]], "incident": {"title": "c", "level": "P4", "assignee": "x"}})
        }
        ("POST", "/api/v1/forwarding-rules") | ("PUT", "/api/v1/forwarding-rules/{id}") => {
            json!({"name": format!("r-{}", rand_suffix()), "incident_level": "P4", "assignee": "x"})
        }
        ("POST", "/api/v1/forwarding-rules/{id}/copy") => {
            json!({"name": format!("copy-{}", rand_suffix())})
        }
        ("POST", "/api/v1/incidents") => json!({"title": "n", "level": "P4", "assignee": "x"}),
        ("POST", "/api/v1/incidents/{id}/actions") => json!({"action": "accept"}),
        ("POST", "/api/v1/scripts") | ("PUT", "/api/v1/scripts/{id}") => {
            json!({"name": format!("s-{}", rand_suffix()), "type": "shell", "content": "true", "risk_level": "low"})
        }
        ("POST", "/api/v1/scripts/{id}/execute") => json!({"hosts": [w.ids["resource"]]}),
        ("POST", "/api/v1/scripts/{id}/review") => json!({"approve": true}),
        ("POST", "/api/v1/scripts/verify") => json!({"type": "shell", "content": "reboot"}),
        ("POST", "/api/v1/tickets/{id}/actions") => json!({"action": "pause"}),
        ("POST", "/api/v1/users") => json!({"name": format!("u-{}", rand_suffix())}),
        ("POST", "/api/v1/groups") => json!({"name": format!("g-{}", rand_suffix())}),
        ("POST", "/api/v1/groups/{id}/members") => json!({"user": "carol"}),
        ("POST", "/api/v1/policies") => {
            json!({"name": format!("p-{}", rand_suffix()), "document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": "coc:alarm:get"}]}})
        }
        ("PUT", "/api/v1/policies/{id}") => {
            json!({"document": {"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": "coc:alarm:get"}]}})
        }
        ("POST", "/api/v1/policies/{id}/attach") | ("POST", "/api/v1/policies/{id}/detach") => {
            json!({"type": "user", "name": "carol"})
        }
        ("POST", "/api/v1/policies/simulate") => json!({"action": "coc:alarm:list"}),
        ("POST", "/api/v1/tokens") => json!({"name": "t"}),
        ("POST", "/api/v1/agent-enrollments") => json!({"name": "rack-2"}),
        ("POST", "/api/v1/notifications/test") => {
            json!({"channel": "slack", "target": "http://127.0.0.1:9/hook"})
        }
        ("POST", "/api/v1/oncall/scenarios") | ("PUT", "/api/v1/oncall/scenarios/{id}") => {
            scenario(&format!("sc-{}", rand_suffix()))
        }
        ("POST", "/api/v1/oncall/scenarios/{id}/clear") => {
            json!({"from": "2099-01-01", "to": "2099-01-02"})
        }
        ("POST", "/api/v1/oncall/rotations") => {
            json!({"scenario": w.ids["oncall"], "name": "primary", "role": "oncall",
                "participants": ["carol"], "length": 1, "unit": "weeks",
                "handoff_time": "09:00:00", "start": "2026-01-05"})
        }
        ("POST", "/api/v1/oncall/scenarios/{id}/overrides") => {
            json!({"role": "oncall", "person": "carol",
                "from": "2099-01-01T00:00:00Z", "until": "2099-01-02T00:00:00Z"})
        }
        ("POST", "/api/v1/oncall/scenarios/{id}/rotations/{name}/changes") => {
            json!({"from": "2099-01-04", "participants": ["carol"]})
        }
        ("PUT", "/api/v1/resources/{id}/tags") => json!({"tags": {"env": "test"}}),
        ("POST", "/api/v1/notification-rules") | ("PUT", "/api/v1/notification-rules/{id}") => {
            notification_rule(&format!("n-{}", rand_suffix()))
        }
        ("POST", "/api/v1/escalation-policies") | ("PUT", "/api/v1/escalation-policies/{id}") => {
            escalation_policy(&format!("e-{}", rand_suffix()))
        }
        ("PUT", "/api/v1/engineers/{user}") => json!({"alias": "Carol"}),
        ("POST", "/api/v1/scheduled-tasks") | ("PUT", "/api/v1/scheduled-tasks/{id}") => {
            sched_body(&format!("t-{}", rand_suffix()), &w.ids["resource"])
        }
        ("POST", "/api/v1/scheduled-tasks/{id}/review") => json!({"approve": true}),
        ("POST", "/api/v1/plans") | ("PUT", "/api/v1/plans/{id}") => {
            plan_body(&format!("pl-{}", rand_suffix()))
        }
        ("POST", "/api/v1/incidents/{id}/plan") => {
            json!({"plan": "main-plan", "hosts": [w.ids["resource"]]})
        }
        ("POST", "/api/v1/parameters") => {
            json!({"name": format!("p-{}", rand_suffix()), "region": "r1", "type": "text", "value": "v"})
        }
        ("PUT", "/api/v1/parameters/{id}") => {
            json!({"name": "db/password", "region": "r1", "type": "encrypted", "value": "hunter3"})
        }
        ("POST", "/api/v1/slas") | ("PUT", "/api/v1/slas/{id}") => {
            sla_body(&format!("s-{}", rand_suffix()))
        }
        ("POST", "/api/v1/jobs") | ("PUT", "/api/v1/jobs/{id}") => {
            job_body(&format!("job-{}", rand_suffix()))
        }
        ("POST", "/api/v1/jobs/{id}/clone") => json!({"name": format!("jc-{}", rand_suffix())}),
        ("PUT", "/api/v1/jobs/{id}/tags") => json!({"tags": {"team": "sre"}}),
        ("POST", "/api/v1/jobs/{id}/review") => json!({"approve": true}),
        ("POST", "/api/v1/jobs/{id}/execute") => json!({"hosts": [w.ids["resource"]]}),
        ("POST", "/api/v1/job-tickets/{id}/actions") => json!({"action": "pause"}),
        ("POST", "/api/v1/job-tickets/{id}/approvals/{step}/{task}") => json!({"approve": true}),
        ("PUT", "/api/v1/resources/{id}/enterprise-project") => json!({"name": null}),
        ("POST", "/api/v1/enterprise-projects") => json!({"name": format!("ep-{}", rand_suffix())}),
        ("POST", "/api/v1/grants") => {
            json!({"kind": "log_share", "grantee_tenant": "default", "grantee_user": "carol",
            "scope": "tickets", "expires_at": in_an_hour()})
        }
        _ => json!({}),
    }
}

fn notification_rule(name: &str) -> Value {
    json!({"name": name, "templates": ["incident_created"],
           "recipients": [{"type": "owner"}], "channels": ["email"]})
}

fn escalation_policy(name: &str) -> Value {
    json!({"name": name, "levels": [{"after_seconds": 600,
           "recipients": [{"type": "individual", "users": ["carol"]}], "channels": ["slack"]}]})
}

fn sched_body(name: &str, host: &str) -> Value {
    json!({"name": name, "script": "OS-DIAGNOSE", "hosts": [host],
           "timing": {"tz": "UTC", "trigger": {"type": "cron", "expr": "0 3 * * *"}},
           "reviewers": [{"type": "individual", "users": ["carol"]}]})
}

fn plan_body(name: &str) -> Value {
    json!({"name": name, "body": {"type": "automation", "action": {"script": "OS-DIAGNOSE"}}})
}

fn job_body(name: &str) -> Value {
    json!({"name": name, "risk_level": "low", "steps": [{"name": "one", "tasks": [
        {"name": "run-s1", "atom": {"type": "script", "script": "s1"}}]}]})
}

fn sla_body(name: &str) -> Value {
    json!({"name": name, "trigger": "todo", "levels": ["Minor"],
           "rules": [{"status": "pending", "target_minutes": 60}]})
}

fn rand_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn concrete(path: &str, tag: &str, w: &World) -> String {
    // Agent builds share the tag of agents (enrollments).
    let tag = if path.starts_with("/api/v1/agent-builds") {
        "agentbuild"
    } else {
        tag
    };
    let id = w.ids.get(tag).cloned().unwrap_or_else(|| "x".into());
    if path == "/api/v1/oncall/who" || path == "/api/v1/oncall/calendar" {
        return format!("{path}?scenario={}&role=oncall", w.ids["oncall"]);
    }
    path.replace("{id}", &id)
        .replace("{task_id}", &w.task)
        .replace("{user}", "carol")
        .replace("{host}", &w.ids["resource"])
        .replace("{step}", "0")
        .replace("{task}", "0")
        .replace("{name}", "primary")
}

/// A second tenant with a full-access user; returns that user's token.
async fn other_tenant(h: &Harness) -> String {
    let store = &h.server.as_ref().unwrap().state.store;
    store.ensure_tenant("other").await.unwrap();
    store
        .create_user("other", "mallory", "Mallory", Some("mallory-password"))
        .await
        .unwrap();
    store
        .attach_policy("other", "COC FullAccess", "user", "mallory")
        .await
        .unwrap();
    store
        .create_token("other", "mallory", "m", None)
        .await
        .unwrap()
        .secret
}

async fn read_only_token(h: &Harness) -> String {
    let c = &h.client;
    c.post("/api/v1/users", &json!({"name": "viewer"}))
        .await
        .unwrap();
    attach_to_user(h, "COC ReadOnlyAccess", "viewer").await;
    c.post("/api/v1/tokens", &json!({"name": "v", "user": "viewer"}))
        .await
        .unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn route_matrix_read_only_and_other_tenant() {
    let h = Harness::start(0).await;
    let w = world(&h).await;
    let ro = read_only_token(&h).await;
    let mallory = other_tenant(&h).await;
    let guarded: Vec<_> = coc_server::api::routes()
        .iter()
        .filter(|r| r.auth)
        .collect();
    for r in &guarded {
        let path = concrete(r.path, r.tag, &w);
        let body = body_for(r.method, r.path, &w);
        // Anonymous: always 401.
        let (st, _) = call(&h, None, r.method, &path, Some(&body)).await;
        assert_eq!(st, 401, "anonymous {} {}", r.method, r.path);
        // Read-only: reads work, every write is refused by policy. A live
        // stream of a ticket still running never ends: its status only.
        if r.path.ends_with("/events") {
            let resp = reqwest::Client::new()
                .get(format!("{}{path}", h.url()))
                .bearer_auth(&ro)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "read-only GET {}", r.path);
            continue;
        }
        let (st, b) = call(&h, Some(&ro), r.method, &path, Some(&body)).await;
        if r.method == "GET" && coc_domain::access::is_read_only(r.action()) {
            assert_eq!(st, 200, "read-only GET {} {} → {st} {b}", r.method, r.path);
        } else {
            assert_eq!(
                (st, b["code"].as_str()),
                (403, Some("forbidden")),
                "read-only {} {}: {b}",
                r.method,
                r.path
            );
        }
    }
    // Another tenant's full user: nothing of the default tenant is ever
    // returned or changed. Detail routes answer 404; lists contain none of
    // its ids; writes on its records answer 404.
    let secret_ids: Vec<&String> = w.ids.values().collect();
    for r in &guarded {
        let path = concrete(r.path, r.tag, &w);
        let body = body_for(r.method, r.path, &w);
        if r.path.ends_with("/events") {
            let (st, _) = call(&h, Some(&mallory), "GET", &path, None).await;
            assert_eq!(st, 404, "{}", r.path);
            continue;
        }
        let (st, b) = call(&h, Some(&mallory), r.method, &path, Some(&body)).await;
        // An error may echo the id that was asked for; a success must not
        // carry any id of the other tenant.
        // Her own audit trail lists the paths she tried (with those ids):
        // there, check that every record is hers.
        if r.path.starts_with("/api/v1/audit") {
            if let Some(items) = b["items"].as_array() {
                assert!(
                    items.iter().all(|a| a["user_name"] == "mallory"),
                    "audit of another tenant leaked"
                );
            }
            continue;
        }
        let text = if (200..300).contains(&st) {
            b.to_string()
        } else {
            String::new()
        };
        for id in &secret_ids {
            assert!(
                !text.contains(id.as_str()),
                "{} {} leaked {id}: {text}",
                r.method,
                r.path
            );
        }
        let names_a_record = r.path.contains("{id}")
            || r.path.contains("{task_id}")
            || matches!(r.path, "/api/v1/alarms/clear" | "/api/v1/alarms/convert");
        let own_policy_attach = r.path.starts_with("/api/v1/policies/{id}");
        if names_a_record && !own_policy_attach {
            assert_eq!(st, 404, "other tenant {} {} → {st} {b}", r.method, r.path);
        }
    }
    // The default tenant's records are as they were.
    let c = &h.client;
    assert_eq!(
        c.get(&format!("/api/v1/incidents/{}", w.ids["incident"]), &[])
            .await
            .unwrap()["status"],
        "unaccepted"
    );
    assert_eq!(
        c.get(&format!("/api/v1/alarms/{}", w.ids["alarm"]), &[])
            .await
            .unwrap()["status"],
        "alarm"
    );
    assert_eq!(
        c.get(
            &format!("/api/v1/integrations/{}", w.ids["integration"]),
            &[]
        )
        .await
        .unwrap()["enabled"],
        true
    );
    assert_eq!(
        c.get(&format!("/api/v1/forwarding-rules/{}", w.ids["rule"]), &[])
            .await
            .unwrap()["enabled"],
        true
    );
    let t = c
        .get(&format!("/api/v1/tickets/{}", w.ids["ticket"]), &[])
        .await
        .unwrap();
    // Its host has no agent, so it may fail by itself; it is never paused
    // or cancelled by the other tenant.
    assert!(t["status"] == "executing" || t["status"] == "failed", "{t}");
    assert_ne!(t["tasks"][0]["status"], "cancelled");
    assert_eq!(
        c.get(&format!("/api/v1/groups/{}", w.ids["group"]), &[])
            .await
            .unwrap()["members"],
        json!(["carol"])
    );
    assert_eq!(
        call(&h, Some(&w.token_secret), "GET", "/api/v1/alarms", None)
            .await
            .0,
        403,
        "carol's token still works (no policy yet)"
    );
}

#[tokio::test]
async fn every_mutating_call_leaves_one_audit_record_without_secrets() {
    let h = Harness::start(0).await;
    let w = world(&h).await;
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let mut before = count(
        &h.client
            .get("/api/v1/audit", &[("limit", "1000".into())])
            .await
            .unwrap(),
    );
    for r in coc_server::api::routes()
        .iter()
        .filter(|r| r.auth && r.method != "GET")
    {
        let path = concrete(r.path, r.tag, &w);
        let body = body_for(r.method, r.path, &w);
        let (st, b) = call(&h, Some(ADMIN), r.method, &path, Some(&body)).await;
        assert_ne!(st, 401, "{} {}: {b}", r.method, r.path);
        let after = count(
            &h.client
                .get("/api/v1/audit", &[("limit", "1000".into())])
                .await
                .unwrap(),
        );
        assert_eq!(
            after,
            before + 1,
            "{} {} must leave exactly one record",
            r.method,
            r.path
        );
        before = after;
    }
    let export = reqwest::Client::new()
        .get(format!("{}/api/v1/audit/export", h.url()))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().await.unwrap();
    assert!(text.lines().count() >= before);
    for secret in [
        "carol-password",
        w.token_secret.as_str(),
        ADMIN,
        "hunter2",
        "hunter3",
    ] {
        assert!(!text.contains(secret), "a secret reached the audit trail");
    }
    let first: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(first["trace"], "accessIntegrationConfig");
    assert_eq!(first["user_name"], "admin");
    assert_eq!(first["result"], "success");
    let exec = h
        .client
        .get("/api/v1/audit", &[("trace", "executeJobScript".into())])
        .await
        .unwrap();
    assert!(count(&exec) >= 1);
    assert_eq!(exec["items"][0]["resource_type"], "script");
}

#[tokio::test]
async fn deny_beats_allow_and_the_simulator_names_the_statement() {
    let h = Harness::start(0).await;
    h.users(&["a", "alice", "x", "ann", "bob"]).await;
    let c = &h.client;
    c.post("/api/v1/users", &json!({"name": "dave"}))
        .await
        .unwrap();
    c.post("/api/v1/groups", &json!({"name": "oncall"}))
        .await
        .unwrap();
    c.post("/api/v1/groups/oncall/members", &json!({"user": "dave"}))
        .await
        .unwrap();
    c.post(
        "/api/v1/policies/COC FullAccess/attach",
        &json!({"type": "group", "name": "oncall"}),
    )
    .await
    .unwrap();
    c.post(
        "/api/v1/policies",
        &json!({"name": "no-scripts", "document": {"Version": "1.1", "Statement": [
            {"Effect": "Deny", "Action": ["coc:script:execute", "coc:script:create"]}]}}),
    )
    .await
    .unwrap();
    attach_to_user(&h, "no-scripts", "dave").await;
    let sim = c
        .post(
            "/api/v1/policies/simulate",
            &json!({"user": "dave", "action": "coc:script:create"}),
        )
        .await
        .unwrap();
    assert_eq!(sim["allowed"], false);
    assert_eq!(
        sim["decision"],
        json!({"decision": "explicit_deny", "policy": "no-scripts", "statement": 0})
    );
    let sim = c
        .post(
            "/api/v1/policies/simulate",
            &json!({"user": "dave", "action": "coc:incident:accept", "resource": "incident:1"}),
        )
        .await
        .unwrap();
    assert_eq!(sim["allowed"], true);
    assert_eq!(sim["decision"]["policy"], "COC FullAccess");
    let sim = c
        .post(
            "/api/v1/policies/simulate",
            &json!({"user": "dave", "action": "coc:nothing:x"}),
        )
        .await;
    assert!(sim.is_err());
    let dave = c
        .post("/api/v1/tokens", &json!({"name": "d", "user": "dave"}))
        .await
        .unwrap();
    let secret = dave["secret"].as_str().unwrap();
    let (st, b) = call(
        &h,
        Some(secret),
        "POST",
        "/api/v1/scripts",
        Some(&json!({"name": "x", "type": "shell", "content": "true", "risk_level": "low"})),
    )
    .await;
    assert_eq!(st, 403, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("no-scripts"));
    let (st, _) = call(
        &h,
        Some(secret),
        "POST",
        "/api/v1/incidents",
        Some(&json!({"title": "t", "level": "P3", "assignee": "a"})),
    )
    .await;
    assert_eq!(st, 201);
    // A malformed policy is refused with the position of the error.
    let e = c.post("/api/v1/policies", &json!({"name": "bad", "document": "{\"Version\":\"1.1\",\n\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"coc:alarm:fly\"}]}"})).await.unwrap_err();
    assert!(e.to_string().contains("/Statement/0/Action/0"), "{e}");
    let e = c
        .post(
            "/api/v1/policies",
            &json!({"name": "bad", "document": "{\"Version\":\"1.1\",\n\"Statement\": [}"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    // System policies cannot be changed.
    let e = c
        .delete("/api/v1/policies/COC FullAccess")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_transition"), "{e}");
    // Revoking the token stops it at once.
    let tid = dave["id"].as_str().unwrap();
    c.delete(&format!("/api/v1/tokens/{tid}")).await.unwrap();
    assert_eq!(
        call(&h, Some(secret), "GET", "/api/v1/alarms", None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn abac_conditions_on_source_ip_and_time() {
    let h = Harness::start(0).await;
    let c = &h.client;
    c.post("/api/v1/users", &json!({"name": "erin"}))
        .await
        .unwrap();
    c.post(
        "/api/v1/policies",
        &json!({"name": "lan-only", "document": {"Version": "1.1", "Statement": [
            {"Effect": "Allow", "Action": "coc:alarm:list", "Condition": {"IpAddress": {"coc:SourceIp": "127.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "coc:incident:list", "Condition": {"IpAddress": {"coc:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "coc:script:list", "Condition": {"DateLessThan": {"coc:CurrentTime": "2000-01-01T00:00:00Z"}}},
            {"Effect": "Allow", "Action": "coc:ticket:list", "Condition": {"StringEquals": {"coc:UserName": "erin"}}}]}}),
    )
    .await
    .unwrap();
    attach_to_user(&h, "lan-only", "erin").await;
    let s = &token_for(&h, "erin").await;
    assert_eq!(
        call(&h, Some(s), "GET", "/api/v1/alarms", None).await.0,
        200,
        "from 127.0.0.1"
    );
    assert_eq!(
        call(&h, Some(s), "GET", "/api/v1/incidents", None).await.0,
        403,
        "not from 10/8"
    );
    assert_eq!(
        call(&h, Some(s), "GET", "/api/v1/scripts", None).await.0,
        403,
        "expired window"
    );
    assert_eq!(
        call(&h, Some(s), "GET", "/api/v1/tickets", None).await.0,
        200,
        "user name matches"
    );
    assert_eq!(
        call(&h, Some(s), "GET", "/api/v1/resources?type=host", None)
            .await
            .0,
        403,
        "nothing allows it"
    );
}

#[tokio::test]
async fn console_login_session_cookie_and_csrf() {
    let h = Harness::start(0).await;
    h.users(&["a", "alice", "x", "ann", "bob"]).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", h.url());
    let bad = http
        .post(url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    assert!(bad.headers().get("set-cookie").is_none());
    let ok = http
        .post(url("/api/v1/login"))
        .json(&json!({"username": "admin", "password": "admin-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let cookies: Vec<String> = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("coc_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    let session_value = session.split(';').next().unwrap().to_string();
    let body: Value = ok.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    let cookie_hdr = format!("{session_value}; coc_csrf={csrf}");
    // Reads work with the cookie alone.
    let r = http
        .get(url("/api/v1/alarms"))
        .header("cookie", &cookie_hdr)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "{cookie_hdr}: {}",
        r.text().await.unwrap()
    );
    // Writes need the CSRF header.
    let inc = json!({"title": "from console", "level": "P3", "assignee": "a"});
    let r = http
        .post(url("/api/v1/incidents"))
        .header("cookie", &cookie_hdr)
        .json(&inc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf_failed");
    let r = http
        .post(url("/api/v1/incidents"))
        .header("cookie", &cookie_hdr)
        .header("x-csrf-token", "0".repeat(32))
        .json(&inc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http
        .post(url("/api/v1/incidents"))
        .header("cookie", &cookie_hdr)
        .header("x-csrf-token", &csrf)
        .json(&inc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // Logins are audited, the failed one too, without the password.
    let audit = h
        .client
        .get("/api/v1/audit", &[("trace", "login".into())])
        .await
        .unwrap();
    let results: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, vec!["success", "failure"]);
    assert!(
        !audit.to_string().contains("admin-password-1") && !audit.to_string().contains("nope-nope")
    );
    // Logout ends the session.
    let r = http
        .post(url("/api/v1/logout"))
        .header("cookie", &cookie_hdr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = http
        .get(url("/api/v1/alarms"))
        .header("cookie", &cookie_hdr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn lists_and_records_are_filtered_by_resource_attributes() {
    let h = Harness::start(0).await;
    h.users(&["a", "alice", "x", "ann", "bob"]).await;
    let c = &h.client;
    let integ = c
        .post(
            "/api/v1/integrations",
            &json!({"name": "g", "type": "generic"}),
        )
        .await
        .unwrap();
    let key = integ["key"].as_str().unwrap();
    c.post_raw(
        &format!("/ingest/{key}/generic"),
        serde_json::to_vec(&json!([
            {"alarmName": "a1", "region": "r1", "resourceId": "x1"},
            {"alarmName": "a2", "region": "r2", "resourceId": "x2"},
            {"alarmName": "a9", "region": "r9", "resourceId": "x9"}]))
        .unwrap(),
    )
    .await
    .unwrap();
    for r in ["r1", "r2", "r9"] {
        c.post(
            "/api/v1/incidents",
            &json!({"title": format!("i-{r}"), "level": "P3", "assignee": "a", "region": r}),
        )
        .await
        .unwrap();
    }
    c.post("/api/v1/users", &json!({"name": "frank"}))
        .await
        .unwrap();
    c.post(
        "/api/v1/policies",
        &json!({"name": "r1-only", "document": {"Version": "1.1", "Statement": [
            {"Effect": "Allow", "Action": ["coc:alarm:*", "coc:incident:*"], "Condition": {"StringEquals": {"coc:Region": "r1"}}}]}}),
    )
    .await
    .unwrap();
    attach_to_user(&h, "r1-only", "frank").await;
    let f = &token_for(&h, "frank").await;
    let (st, alarms) = call(&h, Some(f), "GET", "/api/v1/alarms", None).await;
    assert_eq!(st, 200);
    let names: Vec<&str> = alarms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a1"], "only r1 alarms are listed");
    let (_, incs) = call(&h, Some(f), "GET", "/api/v1/incidents", None).await;
    let titles: Vec<&str> = incs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["i-r1"]);
    let all = c.get("/api/v1/incidents", &[]).await.unwrap();
    let id_of = |t: &str| {
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == t)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (st, _) = call(
        &h,
        Some(f),
        "GET",
        &format!("/api/v1/incidents/{}", id_of("i-r2")),
        None,
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = call(
        &h,
        Some(f),
        "POST",
        &format!("/api/v1/incidents/{}/actions", id_of("i-r2")),
        Some(&json!({"action": "accept"})),
    )
    .await;
    assert_eq!(st, 403);
    let (st, b) = call(
        &h,
        Some(f),
        "POST",
        &format!("/api/v1/incidents/{}/actions", id_of("i-r1")),
        Some(&json!({"action": "accept"})),
    )
    .await;
    assert_eq!((st, b["status"].as_str()), (200, Some("accepted")));
    let (st, _) = call(
        &h,
        Some(f),
        "POST",
        "/api/v1/incidents",
        Some(&json!({"title": "n", "level": "P3", "assignee": "a", "region": "r2"})),
    )
    .await;
    assert_eq!(st, 403, "cannot create outside r1");
    let (st, _) = call(
        &h,
        Some(f),
        "POST",
        "/api/v1/incidents",
        Some(&json!({"title": "n", "level": "P3", "assignee": "a", "region": "r1"})),
    )
    .await;
    assert_eq!(st, 201);
    // A conditioned Deny removes records from an otherwise full view.
    c.post(
        "/api/v1/policies",
        &json!({"name": "no-r9", "document": {"Version": "1.1", "Statement": [
            {"Effect": "Deny", "Action": "coc:*:*", "Condition": {"StringEquals": {"coc:Region": "r9"}}}]}}),
    )
    .await
    .unwrap();
    c.post("/api/v1/users", &json!({"name": "gina"}))
        .await
        .unwrap();
    attach_to_user(&h, "COC FullAccess", "gina").await;
    attach_to_user(&h, "no-r9", "gina").await;
    let g = &token_for(&h, "gina").await;
    let (_, alarms) = call(&h, Some(g), "GET", "/api/v1/alarms", None).await;
    let mut names: Vec<&str> = alarms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["a1", "a2"]);
    let a9 = c
        .get("/api/v1/alarms", &[("name", "a9".into())])
        .await
        .unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, _) = call(
        &h,
        Some(g),
        "POST",
        "/api/v1/alarms/clear",
        Some(&json!({"ids": [a9], "remark": "x"})),
    )
    .await;
    assert_eq!(st, 403);
    assert_eq!(
        c.get(&format!("/api/v1/alarms/{a9}"), &[]).await.unwrap()["status"],
        "alarm"
    );
}

fn in_an_hour() -> i64 {
    coc_store::now_ms() + 3_600_000
}

#[tokio::test]
async fn om_authorization_and_log_sharing_are_time_bound_and_revocable() {
    let h = Harness::start(0).await;
    h.users(&["a", "alice", "x", "ann", "bob"]).await;
    let c = &h.client;
    let store = &h.server.as_ref().unwrap().state.store;
    store.ensure_tenant("provider").await.unwrap();
    for u in ["sam", "lou"] {
        store.create_user("provider", u, u, None).await.unwrap();
    }
    let sam = store
        .create_token("provider", "sam", "s", None)
        .await
        .unwrap()
        .secret;
    let lou = store
        .create_token("provider", "lou", "l", None)
        .await
        .unwrap()
        .secret;
    c.post(
        "/api/v1/incidents",
        &json!({"title": "t", "level": "P3", "assignee": "a"}),
    )
    .await
    .unwrap();
    let as_default = |secret: &str, method: &str, path: &str, body: Option<Value>| {
        let http = reqwest::Client::new();
        let url = format!("{}{path}", h.url());
        let rb = if method == "GET" {
            http.get(url)
        } else {
            http.post(url).json(&body.unwrap_or(json!({})))
        };
        let rb = rb.bearer_auth(secret).header("x-coc-tenant", "default");
        async move {
            let r = rb.send().await.unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // No grant: nothing.
    assert_eq!(
        as_default(&sam, "GET", "/api/v1/incidents", None).await.0,
        403
    );
    // Bad grants are refused.
    assert!(
        c.post(
            "/api/v1/grants",
            &json!({"kind": "om_authorization", "grantee_tenant": "provider", "grantee_user": "sam",
        "policy": "COC ReadOnlyAccess", "expires_at": coc_store::now_ms() + 40 * 86_400_000i64})
        )
        .await
        .is_err()
    );
    assert!(c.post("/api/v1/grants", &json!({"kind": "om_authorization", "grantee_tenant": "provider", "grantee_user": "nobody",
        "policy": "COC ReadOnlyAccess", "expires_at": in_an_hour()})).await.is_err());
    let g = c
        .post(
            "/api/v1/grants",
            &json!({"kind": "om_authorization", "grantee_tenant": "provider", "grantee_user": "sam",
            "policy": "COC ReadOnlyAccess", "reason": "ticket 42", "expires_at": in_an_hour()}),
        )
        .await
        .unwrap();
    let (st, list) = as_default(&sam, "GET", "/api/v1/incidents", None).await;
    assert_eq!(st, 200);
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "sees the granting tenant's incidents"
    );
    let (st, _) = as_default(
        &sam,
        "POST",
        "/api/v1/incidents",
        Some(json!({"title": "x", "level": "P3", "assignee": "a"})),
    )
    .await;
    assert_eq!(st, 403, "the scope is read-only");
    // Log sharing: the audit trail only.
    c.post("/api/v1/grants", &json!({"kind": "log_share", "grantee_tenant": "provider", "grantee_user": "lou", "scope": "audit", "expires_at": in_an_hour()}))
        .await
        .unwrap();
    assert_eq!(as_default(&lou, "GET", "/api/v1/audit", None).await.0, 200);
    assert_eq!(
        as_default(&lou, "GET", "/api/v1/incidents", None).await.0,
        403
    );
    assert_eq!(
        as_default(&lou, "GET", "/api/v1/tickets", None).await.0,
        403
    );
    // Revocation is immediate; actions under the grant were audited as such.
    c.delete(&format!("/api/v1/grants/{}", g["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(
        as_default(&sam, "GET", "/api/v1/incidents", None).await.0,
        403
    );
    let audit = c
        .get("/api/v1/audit", &[("trace", "createTicket".into())])
        .await
        .unwrap();
    let who: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user_name"].as_str().unwrap())
        .collect();
    assert!(
        who.iter().any(|w| w.starts_with("sam@provider (grant ")),
        "{who:?}"
    );
    // Without the header, sam is only in his own tenant.
    assert_eq!(
        call(&h, Some(&sam), "GET", "/api/v1/incidents", None)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn enterprise_projects_scope_hosts_and_incidents() {
    let h = Harness::start(0).await;
    h.users(&["a", "alice", "x", "ann", "bob"]).await;
    let c = &h.client;
    let mut hosts = Vec::new();
    for name in ["shop-1", "erp-1"] {
        hosts.push(crate::harness::fake_host(&h, name).await);
    }
    c.post("/api/v1/enterprise-projects", &json!({"name": "shop"}))
        .await
        .unwrap();
    assert!(
        c.post("/api/v1/enterprise-projects", &json!({"name": "shop"}))
            .await
            .is_err(),
        "duplicate"
    );
    let moved = c
        .put(
            &format!("/api/v1/resources/{}/enterprise-project", hosts[0]),
            &json!({"name": "shop"}),
        )
        .await
        .unwrap();
    assert_eq!(moved["enterprise_project"], "shop");
    assert!(
        c.put(
            &format!("/api/v1/resources/{}/enterprise-project", hosts[1]),
            &json!({"name": "nope"})
        )
        .await
        .is_err()
    );
    assert!(
        c.post(
            "/api/v1/incidents",
            &json!({"title": "x", "level": "P3", "assignee": "a", "enterprise_project": "nope"})
        )
        .await
        .is_err()
    );
    c.post(
        "/api/v1/incidents",
        &json!({"title": "in-shop", "level": "P3", "assignee": "a", "enterprise_project": "shop"}),
    )
    .await
    .unwrap();
    c.post(
        "/api/v1/incidents",
        &json!({"title": "outside", "level": "P3", "assignee": "a"}),
    )
    .await
    .unwrap();
    c.post("/api/v1/users", &json!({"name": "hank"}))
        .await
        .unwrap();
    c.post(
        "/api/v1/policies",
        &json!({"name": "shop-team", "document": {"Version": "1.1", "Statement": [
            {"Effect": "Allow", "Action": ["coc:resource:*", "coc:incident:*"], "Condition": {"StringEquals": {"coc:EnterpriseProject": "shop"}}}]}}),
    )
    .await
    .unwrap();
    attach_to_user(&h, "shop-team", "hank").await;
    let s = &token_for(&h, "hank").await;
    let (_, res) = call(&h, Some(s), "GET", "/api/v1/resources?type=host", None).await;
    let names: Vec<&str> = res["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["shop-1"]);
    assert_eq!(
        call(
            &h,
            Some(s),
            "GET",
            &format!("/api/v1/resources/{}", hosts[1]),
            None
        )
        .await
        .0,
        403
    );
    let (_, incs) = call(&h, Some(s), "GET", "/api/v1/incidents", None).await;
    let titles: Vec<&str> = incs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["in-shop"]);
    let (st, _) = call(
        &h,
        Some(s),
        "PUT",
        &format!("/api/v1/resources/{}/enterprise-project", hosts[1]),
        Some(&json!({"name": "shop"})),
    )
    .await;
    assert_eq!(st, 403, "cannot pull a host from outside the project");
    // Tags are attributes too.
    c.put(
        &format!("/api/v1/resources/{}/tags", hosts[1]),
        &json!({"tags": {"env": "prod"}}),
    )
    .await
    .unwrap();
    let too_many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert!(
        c.put(
            &format!("/api/v1/resources/{}/tags", hosts[1]),
            &json!({"tags": too_many})
        )
        .await
        .is_err()
    );
    c.post(
        "/api/v1/policies",
        &json!({"name": "prod-readers", "document": {"Version": "1.1", "Statement": [
            {"Effect": "Allow", "Action": "coc:resource:*", "Condition": {"StringEquals": {"coc:ResourceTag/env": "prod"}}}]}}),
    )
    .await
    .unwrap();
    attach_to_user(&h, "prod-readers", "hank").await;
    let (_, res) = call(&h, Some(s), "GET", "/api/v1/resources?type=host", None).await;
    let mut names: Vec<&str> = res["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["hostname"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["erp-1", "shop-1"]);
}

#[tokio::test]
async fn agents_enroll_into_their_tenant() {
    let h = Harness::start(0).await;
    let store = &h.server.as_ref().unwrap().state.store;
    store.ensure_tenant("acme").await.unwrap();
    store
        .create_user("acme", "boss", "Boss", None)
        .await
        .unwrap();
    store
        .attach_policy("acme", "COC FullAccess", "user", "boss")
        .await
        .unwrap();
    let boss = store
        .create_token("acme", "boss", "b", None)
        .await
        .unwrap()
        .secret;
    let acme = coc_client::Client::new(&h.url(), &boss).unwrap();
    let e = acme
        .post("/api/v1/agent-enrollments", &json!({"name": "rack-1"}))
        .await
        .unwrap();
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("coca_"));
    assert!(
        !acme
            .get("/api/v1/agent-enrollments", &[])
            .await
            .unwrap()
            .to_string()
            .contains(&secret),
        "shown once"
    );
    let cfg = coc_agent::AgentConfig {
        server: h.url(),
        fallback_servers: vec![],
        token: Some(secret.clone()),
        ca_cert: None,
        state_dir: h.dir.path().join("acme-agent"),
        run_as_self: true,
        simulate_reboot: true,
        recorded_patches: None,
        patching: Default::default(),
        proxy: None,
        proxy_listen: None,
        upgradable: false,
        discovery: None,
    };
    let agent = tokio::spawn(async move {
        let _ = coc_agent::run(cfg).await;
    });
    let mut hosts = Value::Null;
    for _ in 0..100 {
        hosts = acme
            .get("/api/v1/resources", &[("type", "host".into())])
            .await
            .unwrap();
        if !hosts["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        hosts["items"].as_array().unwrap().len(),
        1,
        "the host is acme's"
    );
    assert!(
        h.client
            .get("/api/v1/resources", &[("type", "host".into())])
            .await
            .unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "not default's"
    );
    // A revoked enrollment token enrolls no other host.
    acme.delete(&format!(
        "/api/v1/agent-enrollments/{}",
        e["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    let err = crate::agents::RawAgent::new("another")
        .connect(&h.url(), Some(&secret), crate::agents::Proof::Honest)
        .await
        .unwrap_err();
    assert!(err.contains("revoked"), "{err}");
    agent.abort();
}

/// A scenario: day shift (ann) and night shift (bob), Europe/Berlin.
fn scenario(name: &str) -> Value {
    json!({"name": name, "roles": ["oncall"], "schedule": {
        "tz": "Europe/Berlin", "mode": "fixed",
        "shifts": [{"name": "day", "start": "08:00:00", "end": "20:00:00"}, {"name": "night", "start": "20:00:00", "end": "08:00:00"}],
        "fixed": {"oncall": {"0": ["ann"], "1": ["bob"]}},
        "weekly": {}, "dated": {}, "cleared": [], "overrides": []}})
}

#[tokio::test]
async fn who_is_on_call() {
    let h = Harness::start(0).await;
    let c = &h.client;
    // Everyone a scenario names must be a user: refused until they are.
    let e = c
        .post("/api/v1/oncall/scenarios", &scenario("shop"))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("no user is named 'ann', 'bob'"),
        "{e}"
    );
    h.users(&["ann", "bob"]).await;
    c.post("/api/v1/oncall/scenarios", &scenario("shop"))
        .await
        .unwrap();
    assert!(
        c.post("/api/v1/oncall/scenarios", &scenario("shop"))
            .await
            .is_err(),
        "duplicate name"
    );
    let mut bad = scenario("bad");
    bad["schedule"]["fixed"]["ghost"] = json!({"0": ["x"]});
    let e = c.post("/api/v1/oncall/scenarios", &bad).await.unwrap_err();
    assert!(e.to_string().contains("ghost"), "{e}");
    let who = |at: &str| {
        let c = c.clone();
        let at = at.to_string();
        async move {
            c.get(
                "/api/v1/oncall/who",
                &[
                    ("scenario", "shop".into()),
                    ("role", "oncall".into()),
                    ("at", at),
                ],
            )
            .await
            .unwrap()["on_call"]
                .clone()
        }
    };
    // Berlin fall-back night: 20:00 (+02:00) to 08:00 (+01:00) is bob's.
    assert_eq!(who("2026-10-24T17:59:00Z").await, json!(["ann"]));
    assert_eq!(who("2026-10-24T18:00:00Z").await, json!(["bob"]));
    assert_eq!(
        who("2026-10-25T00:30:00Z").await,
        json!(["bob"]),
        "first 02:30"
    );
    assert_eq!(
        who("2026-10-25T01:30:00Z").await,
        json!(["bob"]),
        "second 02:30"
    );
    assert_eq!(
        who("2026-10-25T07:00:00Z").await,
        json!(["ann"]),
        "08:00 +01:00"
    );
    let e = c
        .get(
            "/api/v1/oncall/who",
            &[("scenario", "shop".into()), ("role", "nobody".into())],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("validation_failed"), "{e}");
    let e = c
        .get(
            "/api/v1/oncall/who",
            &[
                ("scenario", "shop".into()),
                ("role", "oncall".into()),
                ("at", "yesterday".into()),
            ],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad_query"), "{e}");
    // Clearing a future range empties it; the past cannot be cleared.
    c.post(
        "/api/v1/oncall/scenarios/shop/clear",
        &json!({"from": "2099-01-01", "to": "2099-01-31"}),
    )
    .await
    .unwrap();
    assert_eq!(who("2099-01-10T12:00:00Z").await, json!([]));
    assert_eq!(who("2099-02-10T12:00:00Z").await, json!(["ann"]));
    assert!(
        c.post(
            "/api/v1/oncall/scenarios/shop/clear",
            &json!({"from": "2000-01-01", "to": "2000-01-31"})
        )
        .await
        .is_err()
    );
}

/// A new API token of `user` (its secret).
async fn token_for(h: &Harness, user: &str) -> String {
    let t = h
        .client
        .post(
            "/api/v1/tokens",
            &json!({"name": format!("{user}-token"), "user": user}),
        )
        .await
        .unwrap();
    t["secret"].as_str().unwrap().to_string()
}

/// Attaches policy `policy` to user `user`.
async fn attach_to_user(h: &Harness, policy: &str, user: &str) {
    h.client
        .post(
            &format!("/api/v1/policies/{policy}/attach"),
            &json!({"type": "user", "name": user}),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn high_risk_scripts_wait_for_a_named_reviewer() {
    let h = Harness::start(0).await;
    let host = crate::harness::fake_host(&h, "db-01").await;
    let c = &h.client;
    let rules = c.get("/api/v1/scripts/high-risk-rules", &[]).await.unwrap();
    assert!(rules["items"].as_array().unwrap().len() >= 15);
    let v = c
        .post(
            "/api/v1/scripts/verify",
            &json!({"type": "shell", "content": "echo ok\niptables -F\n"}),
        )
        .await
        .unwrap();
    assert_eq!(v["result"], "high_risk");
    assert_eq!(
        (
            v["findings"][0]["line"].as_u64(),
            v["findings"][0]["rule"].as_str()
        ),
        (Some(2), Some("HR-SH-007"))
    );
    c.post("/api/v1/users", &json!({"name": "lead"}))
        .await
        .unwrap();
    attach_to_user(&h, "COC FullAccess", "lead").await;
    let lead = token_for(&h, "lead").await;
    let sc = c
        .post(
            "/api/v1/scripts",
            &json!({"name": "fw-reset", "type": "shell", "content": "iptables -F", "risk_level": "medium",
                    "reviewers": [{"type": "individual", "users": ["lead"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(sc["review"]["status"], "pending");
    let id = sc["id"].as_str().unwrap();
    let run = json!({"hosts": [host]});
    let (st, b) = call(
        &h,
        Some(ADMIN),
        "POST",
        &format!("/api/v1/scripts/{id}/execute"),
        Some(&run),
    )
    .await;
    assert_eq!(
        (st, b["code"].as_str()),
        (409, Some("invalid_transition")),
        "{b}"
    );
    let (st, b) = call(
        &h,
        Some(ADMIN),
        "POST",
        &format!("/api/v1/scripts/{id}/review"),
        Some(&json!({"approve": true})),
    )
    .await;
    assert_eq!(st, 422, "admin is not a reviewer: {b}");
    let (st, b) = call(
        &h,
        Some(&lead),
        "POST",
        &format!("/api/v1/scripts/{id}/review"),
        Some(&json!({"approve": true, "comment": "ok"})),
    )
    .await;
    assert_eq!(
        (st, b["review"]["reviewed_by"].as_str()),
        (200, Some("lead")),
        "{b}"
    );
    let (st, b) = call(
        &h,
        Some(ADMIN),
        "POST",
        &format!("/api/v1/scripts/{id}/execute"),
        Some(&run),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let vs = c
        .get(&format!("/api/v1/scripts/{id}/versions"), &[])
        .await
        .unwrap();
    assert_eq!(vs["items"][0]["version"], 1);
}

#[tokio::test]
async fn encrypted_parameters_are_read_only_through_decrypt() {
    let h = Harness::start(0).await;
    let c = &h.client;
    let p = c
        .post(
            "/api/v1/parameters",
            &json!({"name": "api-key", "region": "r1", "type": "encrypted", "value": "sk-live-123456"}),
        )
        .await
        .unwrap();
    assert_eq!(p["value"], "******");
    let id = p["id"].as_str().unwrap();
    let ro = read_only_token(&h).await;
    let (st, b) = call(
        &h,
        Some(&ro),
        "GET",
        &format!("/api/v1/parameters/{id}"),
        None,
    )
    .await;
    assert_eq!((st, b["value"].as_str()), (200, Some("******")));
    let (st, _) = call(
        &h,
        Some(&ro),
        "POST",
        &format!("/api/v1/parameters/{id}/decrypt"),
        None,
    )
    .await;
    assert_eq!(st, 403, "reading the value needs coc:parameter:decrypt");
    let d = c
        .post(&format!("/api/v1/parameters/{id}/decrypt"), &json!({}))
        .await
        .unwrap();
    assert_eq!(d["items"][0]["value"], "sk-live-123456");
    let audit = c
        .get("/api/v1/audit", &[("limit", "1000".into())])
        .await
        .unwrap();
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["trace"] == "decryptParameter")
    );
    assert!(
        !audit.to_string().contains("sk-live-123456"),
        "the value never reaches the audit trail"
    );
}

/// The resource the guard checks a route against: `<tag>:<{id}>` or
/// `<tag>:*`; the alarms a bulk alarm route names.
fn guarded_resource(r: &coc_server::api::RouteDoc, w: &World) -> String {
    if matches!(r.path, "/api/v1/alarms/clear" | "/api/v1/alarms/convert") {
        return format!("alarm:{}", w.ids["alarm"]);
    }
    if r.path.contains("{id}") {
        let id = w.ids.get(r.tag).cloned().unwrap_or_else(|| "x".into());
        format!("{}:{id}", r.tag)
    } else {
        format!("{}:*", r.tag)
    }
}

/// Issue 14, finding 9: for users whose policies carry region and tag
/// conditions, the policy simulator answers what the API does — on every
/// route of the matrix, with the records' own attributes.
#[tokio::test]
async fn the_simulator_agrees_with_the_api_on_every_route() {
    let regional = json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["coc:*"],
        "Condition": {"StringEquals": {"coc:Region": ["r1"]}}}]});
    let tagged = json!({"Version": "1.1", "Statement": [
        {"Effect": "Allow", "Action": ["coc:resource:*", "coc:incident:list", "coc:alarm:get"],
         "Condition": {"StringEquals": {"coc:ResourceTag/env": ["prod"]}}},
        {"Effect": "Allow", "Action": ["coc:script:list", "coc:script:get"]}]});
    let mut compared = 0;
    for (user, doc) in [("regional", regional), ("tagged", tagged)] {
        let h = Harness::start(0).await;
        let w = world(&h).await;
        let c = &h.client;
        c.put(
            &format!("/api/v1/resources/{}/tags", w.ids["resource"]),
            &json!({"tags": {"env": "prod"}}),
        )
        .await
        .unwrap();
        c.post("/api/v1/users", &json!({"name": user}))
            .await
            .unwrap();
        c.post(
            "/api/v1/policies",
            &json!({"name": format!("{user}-policy"), "document": doc}),
        )
        .await
        .unwrap();
        attach_to_user(&h, &format!("{user}-policy"), user).await;
        let token = c
            .post("/api/v1/tokens", &json!({"name": "t", "user": user}))
            .await
            .unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        // Deletions last, so every other route still finds its record.
        let mut routes: Vec<_> = coc_server::api::routes()
            .iter()
            .filter(|r| r.auth && !r.path.ends_with("/events"))
            .collect();
        routes.sort_by_key(|r| r.method == "DELETE");
        let mut disagree = vec![];
        for r in routes {
            let path = concrete(r.path, r.tag, &w);
            let body = body_for(r.method, r.path, &w);
            let action = match r.action().strip_suffix(":*") {
                Some(module) => format!(
                    "{module}:{}",
                    coc_domain::access::camel(body["action"].as_str().unwrap_or_default())
                ),
                None => r.action().to_string(),
            };
            let resource = guarded_resource(r, &w);
            let sim = c
                .post(
                    "/api/v1/policies/simulate",
                    &json!({"user": user, "action": action, "resource": resource}),
                )
                .await
                .unwrap();
            let (st, b) = call(&h, Some(&token), r.method, &path, Some(&body)).await;
            let real = !(st == 403 && b["code"] == "forbidden");
            if sim["allowed"].as_bool() != Some(real) {
                disagree.push(format!(
                    "{user} {} {} ({action} on {resource}): simulator {} ({}), API {st} {b}",
                    r.method, r.path, sim["allowed"], sim["explanation"]
                ));
            }
            compared += 1;
        }
        assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    }
    assert!(compared > 200, "{compared} cases");
}

/// Issue 14, finding 9: "token used from a new address" is audited with
/// the status the request got, only for addresses the token never came
/// from; a create's audit record names the record it made.
#[tokio::test]
async fn audit_of_new_addresses_and_created_records() {
    let h = Harness::start(0).await;
    let ro = read_only_token(&h).await;
    let from = |addr: &str| {
        reqwest::Client::builder()
            .local_address(addr.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let post = |client: reqwest::Client, token: String| {
        let url = format!("{}/api/v1/scripts", h.url());
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"name": format!("s-{}", rand_suffix()), "type": "shell", "content": "true", "risk_level": "low"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // First use (127.0.0.1), then a refused write from a new address.
    assert_eq!(post(from("127.0.0.1"), ro.clone()).await, 403);
    assert_eq!(post(from("127.0.0.2"), ro.clone()).await, 403);
    // Known addresses, back and forth: nothing more.
    assert_eq!(post(from("127.0.0.1"), ro.clone()).await, 403);
    assert_eq!(post(from("127.0.0.2"), ro.clone()).await, 403);
    let audit = h
        .client
        .get("/api/v1/audit", &[("trace", "useTokenFromNewIp".into())])
        .await
        .unwrap();
    let items = audit["items"].as_array().unwrap();
    let viewer: Vec<&Value> = items
        .iter()
        .filter(|a| a["user_name"] == "viewer")
        .collect();
    assert_eq!(viewer.len(), 1, "{audit:#}");
    assert_eq!(viewer[0]["status"], 403);
    assert_eq!(viewer[0]["source_ip"], "127.0.0.2");

    // A create's record names what it made.
    let made = h
        .client
        .post(
            "/api/v1/scripts",
            &json!({"name": "made", "type": "shell", "content": "true", "risk_level": "low"}),
        )
        .await
        .unwrap();
    let audit = h
        .client
        .get("/api/v1/audit", &[("trace", "createJobScript".into())])
        .await
        .unwrap();
    let rec = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["status"] == 201)
        .cloned()
        .unwrap_or_default();
    assert_eq!(rec["resource_id"], made["id"], "{audit:#}");
}
