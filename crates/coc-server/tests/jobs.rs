//! Jobs on real agents (X3, X4): a rolling job with a condition, a sleep,
//! a (simulated) reboot through the agent, an HTTP check and global
//! parameters; approvals and post-fault strategies over the API.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::Harness;

fn runs(t: &Value, step: usize) -> Vec<Value> {
    t["steps"][step]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["runs"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn a_rolling_job_reboots_hosts_and_checks_them() {
    let h = Harness::start(2).await;
    let hosts = h.wait_hosts(2).await;
    let c = &h.client;
    c.post(
        "/api/v1/scripts",
        &json!({"name": "probe", "type": "shell", "risk_level": "low",
            "content": "echo \"svc=$SVC ports=$PORTS\"", "params": [{"name": "SVC"}, {"name": "PORTS"}]}),
    )
    .await
    .unwrap();
    c.post(
        "/api/v1/scripts",
        &json!({"name": "after", "type": "shell", "risk_level": "low", "content": "echo back-up"}),
    )
    .await
    .unwrap();
    let job = c
        .post(
            "/api/v1/jobs",
            &json!({"name": "reboot-and-verify", "risk_level": "medium",
            "params": [{"name": "SERVICE", "value": "web"}, {"name": "PORTS", "type": "array", "value": "[80,443]"},
                       {"name": "BASE", "value": "http://unused"}],
            "steps": [
                {"name": "check", "tasks": [
                    {"name": "probe", "atom": {"type": "script", "script": "probe",
                        "params": {"SVC": "{{SERVICE}}", "PORTS": "{{PORTS}}"}}},
                    {"name": "is-web", "atom": {"type": "condition", "task": "probe", "pattern": "svc=web ports=80,443"}},
                    {"name": "settle", "atom": {"type": "sleep", "seconds": 1}}]},
                {"name": "reboot", "tasks": [
                    {"name": "reboot", "atom": {"type": "reboot", "wait_s": 60}},
                    {"name": "healthz", "atom": {"type": "http", "url": "{{BASE}}/healthz"}},
                    {"name": "after", "atom": {"type": "script", "script": "after"}}]}]}),
        )
        .await
        .unwrap();
    assert_eq!(job["version"], 1);
    let boot_before: Vec<Value> = {
        let r = c
            .get("/api/v1/resources", &[("type", "host".into())])
            .await
            .unwrap();
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["boot_id"].clone())
            .collect()
    };
    let t = c
        .post(
            &format!("/api/v1/jobs/{}/execute", job["id"].as_str().unwrap()),
            &json!({"hosts": hosts, "batch_policy": "auto", "params": {"BASE": h.url()},
                    "description": "monthly reboot", "tags": {"change": "CHG-1"}}),
        )
        .await
        .unwrap();
    let id = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["steps"][0]["batches"], 2, "auto batches: 1 then 1");
    let done = h
        .wait_job_ticket(&id, |t| {
            t["status"] != "executing" && t["status"] != "paused"
        })
        .await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let step1 = runs(&done, 0);
    assert!(
        step1
            .iter()
            .filter(|r| r["kind"] == "script")
            .all(|r| r["output"]
                .as_str()
                .unwrap()
                .contains("svc=web ports=80,443")),
        "{step1:#?}"
    );
    // Rolling: the second batch starts after the first is through.
    let hs = done["steps"][0]["hosts"].as_array().unwrap();
    assert!(hs[1]["started_at"].as_i64() >= hs[0]["finished_at"].as_i64());
    let step2 = runs(&done, 1);
    let http: Vec<&Value> = step2.iter().filter(|r| r["kind"] == "http").collect();
    assert_eq!(http.len(), 2);
    assert!(http[0]["output"].as_str().unwrap().contains("HTTP 200"));
    assert!(
        step2
            .iter()
            .filter(|r| r["kind"] == "script")
            .all(|r| r["output"].as_str().unwrap().contains("back-up"))
    );
    // Each host came back with a new boot id.
    let after = c
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap();
    for (i, x) in after["items"].as_array().unwrap().iter().enumerate() {
        assert_ne!(x["boot_id"], boot_before[i], "host {i} rebooted");
    }
    // Clone the ticket: the same request runs again.
    let again = c
        .post(&format!("/api/v1/job-tickets/{id}/clone"), &json!({}))
        .await
        .unwrap();
    assert_eq!(again["cloned_from"], id.as_str());
    let listed = c
        .get(
            "/api/v1/job-tickets",
            &[("job", "reboot-and-verify".into())],
        )
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn approvals_and_post_fault_strategies_over_the_api() {
    let h = Harness::start(2).await;
    let hosts = h.wait_hosts(2).await;
    let c = &h.client;
    c.post(
        "/api/v1/scripts",
        &json!({"name": "flaky", "type": "shell", "risk_level": "low",
            "content": "if [ -f \"$MARK\" ]; then echo fixed; else touch \"$MARK\"; echo broken; exit 4; fi",
            "params": [{"name": "MARK"}]}),
    )
    .await
    .unwrap();
    let mark = h.dir.path().join("mark-{{host.id}}");
    let job = c
        .post(
            "/api/v1/jobs",
            &json!({"name": "gated", "risk_level": "low", "steps": [
                {"name": "gate", "tasks": [
                    {"name": "approve", "atom": {"type": "approval", "reviewers": [{"type": "individual", "users": ["admin"]}]}}]},
                {"name": "fix", "tasks": [
                    {"name": "flaky", "atom": {"type": "script", "script": "flaky",
                        "params": {"MARK": mark.to_str().unwrap()}}, "on_failure": "pause"}]}]}),
        )
        .await
        .unwrap();
    let t = c
        .post(
            &format!("/api/v1/jobs/{}/execute", job["id"].as_str().unwrap()),
            &json!({"hosts": hosts, "batch_policy": "none"}),
        )
        .await
        .unwrap();
    let id = t["id"].as_str().unwrap().to_string();
    let t = h
        .wait_job_ticket(&id, |t| t["approvals"].as_array().unwrap().len() == 1)
        .await;
    assert_eq!(t["approvals"][0]["status"], "pending");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still = c
        .get(&format!("/api/v1/job-tickets/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(still["current_step"], 0, "waits for the approval");
    c.post(
        &format!("/api/v1/job-tickets/{id}/approvals/0/0"),
        &json!({"approve": true, "comment": "go"}),
    )
    .await
    .unwrap();
    // Both hosts fail the first time: the ticket pauses.
    let t = h.wait_job_ticket(&id, |t| t["status"] == "paused").await;
    assert!(t["reason"].as_str().unwrap().contains("pauses the job"));
    let e = c
        .post(
            &format!("/api/v1/job-tickets/{id}/actions"),
            &json!({"action": "pause"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_transition"), "{e}");
    let e = c
        .post(
            &format!("/api/v1/job-tickets/{id}/actions"),
            &json!({"action": "explode"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_body"), "{e}");
    // Wait until both failed runs are in, then retry: the script now
    // finds its mark and succeeds.
    h.wait_job_ticket(&id, |t| {
        t["steps"][1]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["held"] == true)
    })
    .await;
    c.post(
        &format!("/api/v1/job-tickets/{id}/actions"),
        &json!({"action": "retry_failed"}),
    )
    .await
    .unwrap();
    let t = h
        .wait_job_ticket(&id, |t| t["status"] == "successful")
        .await;
    let r = runs(&t, 1);
    assert_eq!(r.len(), 4, "two attempts per host: {r:#?}");
    assert!(
        r.iter()
            .filter(|x| x["attempt"] == 2)
            .all(|x| x["status"] == "successful" && x["output"].as_str().unwrap().contains("fixed"))
    );
    let e = c
        .post(
            &format!("/api/v1/job-tickets/{id}/actions"),
            &json!({"action": "forcibly_end"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_transition"), "{e}");
}
