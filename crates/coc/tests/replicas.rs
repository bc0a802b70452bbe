//! Several replicas (D3): two real `coc server` processes on one
//! PostgreSQL database and four real `coc agent` processes, each given
//! both URLs (two prefer each replica). A multi-batch script ticket runs
//! on all four hosts — the replica that creates a run for an agent held by
//! the other relays it — and replica A is killed with SIGKILL while the
//! second batch runs. Its agents fail over to B, B finishes the ticket,
//! every host ran the script exactly once, and a ticket created after the
//! kill runs on all four hosts. A job waiting at an approval when A dies
//! is approved on B and runs its next step once on every host. A
//! scheduled task due around the kill fires once, and notifications sent
//! around it reach their webhook, each once — or, the one the kill cut
//! between its send and its record, twice with one `Idempotency-Key`.
//!
//! Then the same replica dies at each crash point (`COC_CRASH_AT`: before
//! a dispatch, before a result is stored, before its acknowledgement,
//! after a notification was sent but before it was recorded) while it is
//! the only one; a replica started after it finishes the work: every host
//! ran once, and the notification arrived — twice, with one
//! `Idempotency-Key`, only when the sender died after sending.
//!
//! Needs PostgreSQL (`COC_TEST_DATABASE_URL`): skipped without it outside
//! CI, and a failure in CI.

use std::time::Instant;

use serde_json::{Value, json};

use crate::support::{Env, free_port, me};

/// A fresh database on the test server; `None` (skip) without one.
fn database() -> Option<(String, String)> {
    let Ok(base) = std::env::var("COC_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "COC_TEST_DATABASE_URL is required in CI"
        );
        eprintln!("SKIPPED: set COC_TEST_DATABASE_URL to a PostgreSQL server");
        return None;
    };
    let name = format!("coc_replicas_{}_{}", std::process::id(), free_port());
    let ok = std::process::Command::new("psql")
        .arg(&base)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot create database {name} with psql");
    let (root, _) = base.rsplit_once('/').unwrap();
    Some((format!("{root}/{name}"), name))
}

/// Every host's run (a task shows its run's id) wrote its id to the marks
/// file exactly once.
fn once_per_host(path: &std::path::Path, ticket: &Value) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut seen: Vec<&str> = text.lines().collect();
    seen.sort();
    let mut want: Vec<&str> = ticket["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    want.sort();
    assert_eq!(want.len(), 4);
    assert_eq!(seen, want, "every host ran the script exactly once");
}

/// Every delivery is `delivered` (read on `base`) and reached the sink:
/// once each, or — `may_repeat`, when a sender died after sending — at
/// most twice, the repeat with the same `Idempotency-Key`.
async fn delivered_once(
    env: &Env,
    base: &str,
    ids: &[String],
    keys: &std::sync::Mutex<Vec<String>>,
    may_repeat: bool,
) {
    for id in ids {
        env.wait_at(
            base,
            "/api/v1/notifications/deliveries",
            "every notification delivered",
            |v| {
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["id"] == id.as_str() && d["status"] == "delivered")
            },
        )
        .await;
    }
    let got = keys.lock().unwrap().clone();
    for id in ids {
        let n = got.iter().filter(|k| *k == id).count();
        let allowed = if may_repeat { 1..=2 } else { 1..=1 };
        assert!(
            allowed.contains(&n),
            "delivery {id} reached the webhook {n} times: {got:?}"
        );
    }
    assert!(
        got.iter().all(|k| ids.contains(k)),
        "only these deliveries reached the webhook: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_leaves_no_work_behind() {
    let Some((db, name)) = database() else { return };
    let env = Env::new();
    let (a, b) = (env.url(), format!("http://127.0.0.1:{}", free_port()));
    let port_b: u16 = b.rsplit(':').next().unwrap().parse().unwrap();
    let mut replica_a = env.replica(env.port, Some(&db), "server-a.log", None).await;
    let _replica_b = env.replica(port_b, Some(&db), "server-b.log", None).await;
    let token = env
        .call_at(
            &a,
            "POST",
            "/api/v1/agent-enrollments",
            Some(json!({"name": "replicas", "max_uses": 4})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let _agents: Vec<_> = (0..4)
        .map(|i| {
            let urls = if i < 2 {
                [a.clone(), b.clone()]
            } else {
                [b.clone(), a.clone()]
            };
            env.agent_of(i, &token, &urls, &[])
        })
        .collect();
    let hosts = env.hosts(4).await;
    let file = env.dir.path().join("marks.log");
    let script = env
        .call_at(
            &b,
            "POST",
            "/api/v1/scripts",
            Some(json!({"name": "mark", "type": "shell", "risk_level": "low",
            "content": "echo \"$COC_TASK_ID\" >> \"$MARKS\"; sleep 2; echo marked",
            "params": [{"name": "MARKS"}]})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let execute = format!("/api/v1/scripts/{script}/execute");
    // The ticket: created on A, on all four hosts, batches 1, 2, 1.
    let t = env
        .call_at(
            &a,
            "POST",
            &execute,
            Some(
                json!({"hosts": hosts, "run_as": me(), "batch_policy": "auto",
            "params": {"MARKS": file.to_str().unwrap()}}),
            ),
        )
        .await;
    let id = t["id"].as_str().unwrap().to_string();
    // A job waiting at an approval, created on A.
    let gated = env.dir.path().join("gated.log");
    env.call_at(
        &a,
        "POST",
        "/api/v1/jobs",
        Some(json!({"name": "gated", "risk_level": "low", "steps": [
            {"name": "gate", "tasks": [{"name": "ask", "atom": {"type": "approval",
                "reviewers": [{"type": "individual", "users": ["admin"]}]}}]},
            {"name": "work", "tasks": [{"name": "mark", "atom": {"type": "script", "script": script,
                "run_as": me(), "params": {"MARKS": gated.to_str().unwrap()}}}]}]})),
    )
    .await;
    let job = env
        .call_at(
            &a,
            "POST",
            "/api/v1/jobs/gated/execute",
            Some(json!({"hosts": hosts, "batch_policy": "none"})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.wait_at(
        &b,
        &format!("/api/v1/job-tickets/{job}"),
        "the approval asked",
        |t| t["approvals"].as_array().is_some_and(|a| a.len() == 1),
    )
    .await;
    env.wait_at(
        &b,
        &format!("/api/v1/tickets/{id}"),
        "batch 2 running",
        |t| {
            t["tasks"].as_array().is_some_and(|ts| {
                ts.iter()
                    .filter(|x| x["batch"] == 1 && x["status"] == "executing")
                    .count()
                    == 2
            })
        },
    )
    .await;
    // A scheduled task due in a few seconds, and notifications, created
    // on A just before it dies.
    let sched_marks = env.dir.path().join("scheduled.log");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(4))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    // The task's reviewer: another user than its author.
    env.call_at(
        &a,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "lead", "password": "lead-password-1"})),
    )
    .await;
    env.call_at(
        &a,
        "POST",
        "/api/v1/policies/COC FullAccess/attach",
        Some(json!({"type": "user", "name": "lead"})),
    )
    .await;
    let lead = env
        .call_at(
            &a,
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "lead", "user": "lead"})),
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let task = env
        .call_at(
            &a,
            "POST",
            "/api/v1/scheduled-tasks",
            Some(
                json!({"name": "nightly", "script": script, "hosts": hosts, "run_as": me(),
            "params": {"MARKS": sched_marks.to_str().unwrap()}, "batch_policy": "none",
            "timing": {"tz": "UTC", "trigger": {"type": "once", "at": at}},
            "reviewers": [{"type": "individual", "users": ["lead"]}]}),
            ),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env
        .http
        .post(format!("{a}/api/v1/scheduled-tasks/{task}/review"))
        .bearer_auth(&lead)
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    env.call_at(
        &a,
        "POST",
        &format!("/api/v1/scheduled-tasks/{task}/enable"),
        None,
    )
    .await;
    let (sink, keys) = crate::support::webhook_sink().await;
    let mut deliveries = vec![];
    for i in 0..3 {
        let d = env
            .call_at(
                &a,
                "POST",
                "/api/v1/notifications/test",
                Some(json!({"channel": "webhook", "target": sink, "subject": format!("n{i}"), "body": "replicas"})),
            )
            .await;
        deliveries.push(d["id"].as_str().unwrap().to_string());
    }
    let killed = Instant::now();
    replica_a.0.kill().unwrap();
    replica_a.0.wait().unwrap();
    let done = env
        .wait_at(
            &b,
            &format!("/api/v1/tickets/{id}"),
            "the ticket finished on B",
            |t| t["status"] == "successful" || t["status"] == "failed",
        )
        .await;
    let takeover = killed.elapsed();
    assert_eq!(done["status"], "successful", "{done:#}");
    assert!(
        done["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["attempt"] == 1)
    );
    once_per_host(&file, &done);
    // The schedule fired once, and its ticket ran once on every host.
    let runs = env
        .wait_at(
            &b,
            &format!("/api/v1/scheduled-tasks/{task}/runs"),
            "the scheduled task fired",
            |r| r["items"].as_array().is_some_and(|i| !i.is_empty()),
        )
        .await;
    let runs = runs["items"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "the schedule fired once: {runs:?}");
    let sched_ticket = runs[0]["ticket_id"].as_str().expect("a ticket").to_string();
    let sched_done = env
        .wait_at(
            &b,
            &format!("/api/v1/tickets/{sched_ticket}"),
            "the scheduled ticket finished",
            |t| t["status"] == "successful" || t["status"] == "failed",
        )
        .await;
    assert_eq!(sched_done["status"], "successful", "{sched_done:#}");
    once_per_host(&sched_marks, &sched_done);
    // A SIGKILL can land between a send and its record: that one message
    // then arrives twice, with one Idempotency-Key (decision 0012).
    delivered_once(&env, &b, &deliveries, &keys, true).await;
    // The job's approval, decided on B: its next step runs once per host.
    env.call_at(
        &b,
        "POST",
        &format!("/api/v1/job-tickets/{job}/approvals/0/0"),
        Some(json!({"approve": true, "comment": "after the failover"})),
    )
    .await;
    let j = env
        .wait_at(
            &b,
            &format!("/api/v1/job-tickets/{job}"),
            "the job finished on B",
            |t| t["status"] == "successful" || t["status"] == "failed",
        )
        .await;
    assert_eq!(j["status"], "successful", "{j:#}");
    let runs: Vec<&str> = j["steps"][1]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["runs"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut marked: Vec<String> = std::fs::read_to_string(&gated)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    marked.sort();
    let mut want: Vec<String> = runs.iter().map(|r| r.to_string()).collect();
    want.sort();
    assert_eq!((want.len(), marked), (4, want), "each host ran step 2 once");
    // A new ticket after the kill runs on every host, through B alone.
    std::fs::remove_file(&file).unwrap();
    let t2 = env
        .call_at(
            &b,
            "POST",
            &execute,
            Some(
                json!({"hosts": hosts, "run_as": me(), "batch_policy": "none",
            "params": {"MARKS": file.to_str().unwrap()}}),
            ),
        )
        .await;
    let id2 = t2["id"].as_str().unwrap().to_string();
    let done2 = env
        .wait_at(
            &b,
            &format!("/api/v1/tickets/{id2}"),
            "the second ticket finished",
            |t| t["status"] == "successful" || t["status"] == "failed",
        )
        .await;
    assert_eq!(done2["status"], "successful", "{done2:#}");
    once_per_host(&file, &done2);
    eprintln!(
        "replicas: the surviving replica finished the dead one's ticket {:.1} s after the kill",
        takeover.as_secs_f64()
    );
    let _ = std::process::Command::new("psql")
        .arg(std::env::var("COC_TEST_DATABASE_URL").unwrap())
        .args([
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ])
        .status();
}

/// Each crash point in turn: replica A, alone, dies there while it runs a
/// two-host ticket and sends a notification; replica B, started after,
/// finishes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_dying_at_each_crash_point_loses_and_repeats_nothing() {
    if database().is_none() {
        return;
    }
    for point in [
        "before_dispatch",
        "before_result_store",
        "before_ack",
        "after_send",
    ] {
        let (db, name) = database().unwrap();
        let env = Env::new();
        let (a, b) = (env.url(), format!("http://127.0.0.1:{}", free_port()));
        let port_b: u16 = b.rsplit(':').next().unwrap().parse().unwrap();
        let mut replica_a = env
            .replica(env.port, Some(&db), &format!("a-{point}.log"), Some(point))
            .await;
        let token = env
            .call_at(
                &a,
                "POST",
                "/api/v1/agent-enrollments",
                Some(json!({"name": "crash", "max_uses": 2})),
            )
            .await["secret"]
            .as_str()
            .unwrap()
            .to_string();
        let _agents: Vec<_> = (0..2)
            .map(|i| env.agent_of(i, &token, &[a.clone(), b.clone()], &[]))
            .collect();
        let hosts = env.hosts(2).await;
        let marks = env.dir.path().join("marks.log");
        let script = env
            .call_at(
                &a,
                "POST",
                "/api/v1/scripts",
                Some(json!({"name": "mark", "type": "shell", "risk_level": "low",
                "content": "echo \"$COC_TASK_ID\" >> \"$MARKS\"; echo marked",
                "params": [{"name": "MARKS"}]})),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (sink, keys) = crate::support::webhook_sink().await;
        // What makes A die goes last (the ticket's dispatch and results,
        // or the notification's send), so both are created while A lives.
        // At `after_send` A may die before it answers the request that
        // queued the message (its sender is that quick): the id is then
        // read from B's delivery log.
        let notify = async || {
            let r = env
                .http
                .post(format!("{a}/api/v1/notifications/test"))
                .bearer_auth(crate::support::ADMIN)
                .json(&json!({"channel": "webhook", "target": sink, "subject": point, "body": "crash"}))
                .send()
                .await
                .ok()?;
            let d: serde_json::Value = r.json().await.ok()?;
            d["id"].as_str().map(String::from)
        };
        // A may also die before it answers the execute request (at
        // `before_dispatch` the engine can be quicker than the answer): the
        // ticket's id is then read from B.
        let execute = async || {
            let r = env
                .http
                .post(format!("{a}/api/v1/scripts/{script}/execute"))
                .bearer_auth(crate::support::ADMIN)
                .json(
                    &json!({"hosts": hosts, "run_as": me(), "batch_policy": "none",
                    "params": {"MARKS": marks.to_str().unwrap()}}),
                )
                .send()
                .await
                .ok()?;
            let t: serde_json::Value = r.json().await.ok()?;
            t["id"].as_str().map(String::from)
        };
        let (id, delivery) = if point == "after_send" {
            let id = execute().await;
            (id, notify().await)
        } else {
            let delivery = notify().await;
            (execute().await, delivery)
        };
        // A dies at the point.
        let end = Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(s) = replica_a.0.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < end, "replica A did not reach {point}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(!status.success(), "{point}: A aborted");
        let _replica_b = env
            .replica(port_b, Some(&db), &format!("b-{point}.log"), None)
            .await;
        let id = match id {
            Some(id) => id,
            None => env.call_at(&b, "GET", "/api/v1/tickets", None).await["items"][0]["id"]
                .as_str()
                .expect("the ticket A created")
                .to_string(),
        };
        let done = env
            .wait_at(
                &b,
                &format!("/api/v1/tickets/{id}"),
                "the ticket finished on B",
                |t| t["status"] == "successful" || t["status"] == "failed",
            )
            .await;
        assert_eq!(done["status"], "successful", "{point}: {done:#}");
        let text = std::fs::read_to_string(&marks).unwrap_or_default();
        let mut seen: Vec<&str> = text.lines().collect();
        seen.sort();
        let mut want: Vec<&str> = done["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        want.sort();
        assert_eq!(
            seen, want,
            "{point}: every host ran the script exactly once"
        );
        let delivery = match delivery {
            Some(id) => id,
            None => env
                .call_at(&b, "GET", "/api/v1/notifications/deliveries", None)
                .await["items"][0]["id"]
                .as_str()
                .expect("the queued delivery")
                .to_string(),
        };
        delivered_once(&env, &b, &[delivery], &keys, point == "after_send").await;
        if point == "after_send" {
            assert_eq!(
                keys.lock().unwrap().len(),
                2,
                "{point}: sent again after the lease"
            );
        }
        eprintln!("replicas: {point}: the ticket and the notification survived");
        let _ = std::process::Command::new("psql")
            .arg(std::env::var("COC_TEST_DATABASE_URL").unwrap())
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ])
            .status();
    }
}
