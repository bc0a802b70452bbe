//! Script tickets on real agents: suspension threshold, pause, cancel,
//! forcibly end, reconnect.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Harness, config, counts};

#[tokio::test]
async fn suspension_threshold_stops_exactly_at_the_breaking_count() {
    let h = Harness::start(5).await;
    let hosts = h.wait_hosts(5).await;
    let s = h.script("fail", "exit 7").await;
    // 60 % of 5 hosts: 2 failures leave 60 %, the 3rd breaks; at most 3 may
    // ever be in flight, so exactly 3 fail and 2 never start.
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{s}/execute"),
            &json!({"hosts": hosts, "batch_policy": "none", "success_rate_threshold": 60.0}),
        )
        .await
        .unwrap();
    let id = t["id"].as_str().unwrap();
    let t = h
        .wait_ticket(id, |t| {
            t["status"] == "abnormal" && t["counts"]["executing"] == 0
        })
        .await;
    assert_eq!(counts(&t), (2, 0, 0, 3, 0), "{t:#}");
    assert!(
        t["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["status"] == "failed")
            .all(|x| x["exit_code"] == 7)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = h
        .client
        .get(&format!("/api/v1/tickets/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(
        counts(&again),
        (2, 0, 0, 3, 0),
        "nothing starts after abnormal"
    );
    let e = h
        .client
        .post(
            &format!("/api/v1/tickets/{id}/actions"),
            &json!({"action": "continue"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_transition"));
    let end = h
        .client
        .post(
            &format!("/api/v1/tickets/{id}/actions"),
            &json!({"action": "forcibly_end"}),
        )
        .await
        .unwrap();
    assert_eq!(end["status"], "terminated");
    assert_eq!(counts(&end), (0, 0, 0, 3, 2));
}

#[tokio::test]
async fn batches_run_in_order_and_succeed() {
    let h = Harness::start(3).await;
    let hosts = h.wait_hosts(3).await;
    let s = h.script("ok", "echo \"svc=$SERVICE\"").await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{s}/execute"),
            &json!({"hosts": hosts, "batch_policy": "manual", "batches": [[hosts[2]], [hosts[0], hosts[1]]], "params": {"SERVICE": "db"}}),
        )
        .await
        .unwrap();
    let t = h
        .wait_ticket(t["id"].as_str().unwrap(), |t| t["status"] == "successful")
        .await;
    let tasks = t["tasks"].as_array().unwrap();
    assert_eq!(tasks[0]["host_id"], hosts[2].as_str());
    let first_done = tasks[0]["finished_at"].as_i64().unwrap();
    assert!(
        tasks[1..]
            .iter()
            .all(|x| x["started_at"].as_i64().unwrap() >= first_done),
        "batch 2 starts after batch 1 ends"
    );
    assert!(
        tasks
            .iter()
            .all(|x| x["output"].as_str().unwrap().contains("svc=db"))
    );
}

#[tokio::test]
async fn pause_cancel_host_and_forcibly_end() {
    let h = Harness::start(2).await;
    let hosts = h.wait_hosts(2).await;
    let s = h.script("sleeper", "echo started; sleep 30").await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{s}/execute"),
            &json!({"hosts": hosts, "batch_policy": "none", "timeout_s": 60}),
        )
        .await
        .unwrap();
    let id = t["id"].as_str().unwrap().to_string();
    let t = h
        .wait_ticket(&id, |t| {
            t["counts"]["executing"] == 2
                && t["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|x| x["output"].as_str().unwrap().contains("started"))
        })
        .await;
    let task0 = t["tasks"][0]["id"].as_str().unwrap();
    let c = h
        .client
        .post(
            &format!("/api/v1/tickets/{id}/tasks/{task0}/cancel"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(c["status"], "cancelled");
    let p = h
        .client
        .post(
            &format!("/api/v1/tickets/{id}/actions"),
            &json!({"action": "pause"}),
        )
        .await
        .unwrap();
    assert_eq!(p["status"], "paused");
    let c = h
        .client
        .post(
            &format!("/api/v1/tickets/{id}/actions"),
            &json!({"action": "continue"}),
        )
        .await
        .unwrap();
    assert_eq!(c["status"], "executing");
    let started = std::time::Instant::now();
    let e = h
        .client
        .post(
            &format!("/api/v1/tickets/{id}/actions"),
            &json!({"action": "forcibly_end"}),
        )
        .await
        .unwrap();
    assert_eq!(e["status"], "terminated");
    assert_eq!(counts(&e), (0, 0, 0, 0, 2));
    // The agents were told to stop: the late "cancelled" results change nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = h
        .client
        .get(&format!("/api/v1/tickets/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(after["status"], "terminated");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn agent_reconnects_after_a_server_restart_and_tickets_resume() {
    let mut h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let s = h.script("quick", "echo resumed").await;
    let addr = h.server.as_ref().unwrap().addr;
    h.server.take().unwrap().shutdown().await;
    // A ticket created while the server is down is picked up after restart.
    let store = crate::harness::store(h.dir.path()).await;
    let req = coc_store::ticket::NewTicket {
        script_id: s,
        params: Default::default(),
        hosts: vec![host],
        run_as: None,
        timeout_s: None,
        batch_policy: Default::default(),
        batches: None,
        threshold: None,
        incident_id: None,
        created_by: "test".into(),
        param_refs: Default::default(),
    };
    let t = store
        .create_ticket(coc_domain::DEFAULT_TENANT, &req)
        .await
        .unwrap();
    let mut server = None;
    for _ in 0..50 {
        match coc_server::start(config(addr), store.clone()).await {
            Ok(s) => {
                server = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    h.server = Some(server.expect("the port frees up"));
    h.wait_hosts(1).await;
    let done = h.wait_ticket(&t.id, |t| t["status"] == "successful").await;
    assert!(
        done["tasks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("resumed")
    );
}

#[tokio::test]
async fn live_output_arrives_as_server_sent_events() {
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let s = h
        .script("talker", "for i in 1 2 3; do echo line-$i; sleep 0.3; done")
        .await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{s}/execute"),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let id = t["id"].as_str().unwrap();
    let mut resp = reqwest::Client::new()
        .get(format!("{}/api/v1/tickets/{id}/events", h.url()))
        .bearer_auth(crate::harness::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            _ => break,
        }
        if text.contains("event: task_done") {
            break;
        }
    }
    assert!(text.starts_with("event: snapshot"), "{text}");
    let outputs = text.matches("event: output").count();
    assert!(outputs >= 1, "{text}");
    for l in ["line-1", "line-2", "line-3"] {
        assert!(text.contains(l), "{l} missing from the stream: {text}");
    }
    assert!(text.contains("event: task_done"), "{text}");
}

#[tokio::test]
async fn an_incident_executes_a_plan_step_on_a_real_agent_and_records_it() {
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await[0].clone();
    let c = &h.client;
    h.script("promote", "echo promoted $SERVICE").await;
    c.post(
        "/api/v1/plans",
        &json!({"name": "db-failover", "summary": "fail over the primary", "recovery_minutes": 15,
                "body": {"type": "document", "steps": [
                    {"title": "Check replication lag", "text": "Look at the replica dashboard."},
                    {"title": "Promote the replica", "action": {"script": "promote", "params": {"SERVICE": "db-2"}}}]}}),
    )
    .await
    .unwrap();
    let inc = c
        .post(
            "/api/v1/incidents",
            &json!({"title": "primary down", "level": "P1", "assignee": "admin"}),
        )
        .await
        .unwrap();
    let id = inc["id"].as_str().unwrap();
    // No plan bound to a manual incident: the operator names one.
    let (st, b, _) = crate::harness::request(
        &h,
        "POST",
        &format!("/api/v1/incidents/{id}/plan"),
        Some(crate::harness::ADMIN),
        Some(serde_json::to_vec(&json!({"hosts": [host]})).unwrap()),
    )
    .await;
    assert_eq!(st, 422, "{b:?}");
    let t = c
        .post(
            &format!("/api/v1/incidents/{id}/plan"),
            &json!({"plan": "db-failover", "step": 2, "hosts": [host]}),
        )
        .await
        .unwrap();
    let done = h
        .wait_ticket(t["id"].as_str().unwrap(), |v| v["status"] == "successful")
        .await;
    assert!(
        done["tasks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("promoted db-2")
    );
    let detail = c
        .get(&format!("/api/v1/incidents/{id}"), &[])
        .await
        .unwrap();
    let history = detail["history"].as_array().unwrap();
    assert!(history.iter().any(|e| {
        e["action"] == "execute_plan"
            && e["summary"]
                .as_str()
                .unwrap()
                .contains("plan 'db-failover' step 2")
            && e["ticket_id"] == t["id"]
    }));
    for _ in 0..100 {
        let d = c
            .get(&format!("/api/v1/incidents/{id}"), &[])
            .await
            .unwrap();
        if d["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "ticket_result")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the ticket's outcome never reached the incident history");
}

/// Issue 14, finding 8: a secret a script prints by mistake — a sensitive
/// parameter, an encrypted parameter-center value, the same value
/// substituted into a job's script parameter — is masked before it is
/// stored, and no ticket shows a parameter as ciphertext.
#[tokio::test]
async fn secret_values_printed_by_scripts_are_redacted() {
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let c = &h.client;
    c.post(
        "/api/v1/parameters",
        &json!({"name": "db-password", "region": "r1", "type": "encrypted", "value": "Center-S3cret-77"}),
    )
    .await
    .unwrap();
    let script = c
        .post(
            "/api/v1/scripts",
            &json!({"name": "leaky", "type": "shell", "risk_level": "low",
                "content": "echo \"pw=$PASSWORD db=$DB user=$USER_NAME\"; printf 'again:%s\\n' \"$PASSWORD\"",
                "params": [{"name": "PASSWORD", "sensitive": true}, {"name": "DB"}, {"name": "USER_NAME"}]}),
        )
        .await
        .unwrap();
    let t = c
        .post(
            &format!("/api/v1/scripts/{}/execute", script["id"].as_str().unwrap()),
            &json!({"hosts": hosts, "params": {"PASSWORD": "Typed-S3cret-42", "USER_NAME": "deploy"},
                    "param_refs": {"DB": {"region": "r1", "name": "db-password", "mode": "latest"}}}),
        )
        .await
        .unwrap();
    let done = h
        .wait_ticket(t["id"].as_str().unwrap(), |t| t["status"] == "successful")
        .await;
    let out = done["tasks"][0]["output"].as_str().unwrap();
    assert!(out.contains("pw=*** db=*** user=deploy"), "{out}");
    let whole = done.to_string();
    for secret in ["Typed-S3cret-42", "Center-S3cret-77", "enc:v1:"] {
        assert!(!whole.contains(secret), "{secret} in {whole}");
    }
    assert_eq!(done["params"]["DB"], "******", "{:#}", done["params"]);
    assert_eq!(done["params"]["PASSWORD"], "******");
    assert!(out.contains("again:***"), "{out}");

    // A job: the center value reaches the script through a global
    // parameter substituted into a script parameter.
    let job = c
        .post(
            "/api/v1/jobs",
            &json!({"name": "leaky-job", "risk_level": "low",
                "params": [{"name": "DBPW", "from": {"region": "r1", "name": "db-password", "mode": "latest"}}],
                "steps": [{"name": "leak", "tasks": [{"name": "print", "atom": {"type": "script", "script": "leaky",
                    "params": {"PASSWORD": "none", "DB": "url=postgres://app:{{DBPW}}@db", "USER_NAME": "app"}}}]}]}),
        )
        .await
        .unwrap();
    let jt = c
        .post(
            &format!("/api/v1/jobs/{}/execute", job["id"].as_str().unwrap()),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let done = h
        .wait_job_ticket(jt["id"].as_str().unwrap(), |t| t["status"] == "successful")
        .await;
    let out = done["steps"][0]["hosts"][0]["runs"][0]["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(out.contains("db=*** user=app"), "{out}");
    assert!(!done.to_string().contains("Center-S3cret-77"), "{done:#}");
}
