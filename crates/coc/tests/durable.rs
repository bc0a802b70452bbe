//! Durable execution (X8): the real `coc server` process is killed in the
//! middle of a multi-batch job running on four real `coc agent` processes,
//! restarted, and the job must complete with every task run exactly once
//! on every host. The kill comes at different points: right after run
//! states are committed and before anything is sent (`before_dispatch`),
//! when a result arrives and before it is stored (`before_result_store`),
//! after it is stored and before the agent gets its acknowledgement
//! (`before_ack`) — these use the server's `COC_CRASH_AT` hook, which
//! aborts the process like SIGKILL — and a real SIGKILL while the scripts
//! run. A killed and restarted agent reports the task it was running as
//! interrupted instead of running it again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Env, Proc, me};

/// Starts the server (crashing at `crash_at`), four agents and a
/// two-task job in batches 1, 2, 1; returns the env, processes, ticket id
/// and the marks file the scripts append to.
async fn setup(crash_at: Option<&str>) -> (Env, Proc, Vec<Proc>, String, PathBuf) {
    let env = Env::new();
    let server = env.server(crash_at).await;
    let token = env.enrollment().await;
    let agents: Vec<Proc> = (0..4).map(|i| env.agent(i, &token)).collect();
    let hosts = env.hosts(4).await;
    let marks = env.dir.path().join("marks.log");
    env.call(
        "POST",
        "/api/v1/scripts",
        Some(json!({"name": "mark", "type": "shell", "risk_level": "low",
            "content": "echo \"$HOST $TASK $COC_TASK_ID\" >> \"$MARKS\"; sleep 1; echo marked",
            "params": [{"name": "HOST"}, {"name": "TASK"}, {"name": "MARKS"}]})),
    )
    .await;
    let task = |name: &str| {
        json!({"name": name, "atom": {"type": "script", "script": "mark", "run_as": me(),
            "params": {"HOST": "{{host.id}}", "TASK": name, "MARKS": marks.to_str().unwrap()}}})
    };
    env.call(
        "POST",
        "/api/v1/jobs",
        Some(json!({"name": "durable", "risk_level": "low",
            "steps": [{"name": "mark-twice", "tasks": [task("first"), task("second")]}]})),
    )
    .await;
    let t = env
        .call(
            "POST",
            "/api/v1/jobs/durable/execute",
            Some(json!({"hosts": hosts, "batch_policy": "auto"})),
        )
        .await;
    assert_eq!(t["steps"][0]["batches"], 3);
    let id = t["id"].as_str().unwrap().to_string();
    (env, server, agents, id, marks)
}

/// Waits for the crashed server to exit, restarts it, and checks that the
/// job completes with each task run exactly once per host.
async fn recover_and_check(env: &Env, mut server: Proc, id: &str, marks: &Path) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = server.0.try_wait().unwrap() {
            assert!(!st.success(), "the server was killed");
            break;
        }
        assert!(Instant::now() < end, "the crash point was never reached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _restarted = env.server(None).await;
    drop(server);
    let t = env
        .wait(
            &format!("/api/v1/job-tickets/{id}"),
            "job completion",
            |t| t["status"] == "successful",
        )
        .await;
    let runs: Vec<&Value> = t["steps"][0]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["runs"].as_array().unwrap())
        .collect();
    assert_eq!(runs.len(), 8, "4 hosts × 2 tasks, no retries");
    assert!(
        runs.iter()
            .all(|r| r["attempt"] == 1 && r["status"] == "successful")
    );
    let text = std::fs::read_to_string(marks).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "every task ran exactly once:\n{text}");
    lines.sort();
    lines.dedup_by(|a, b| a.split(' ').take(2).eq(b.split(' ').take(2)));
    assert_eq!(lines.len(), 8, "no (host, task) ran twice:\n{text}");
    assert!(
        env.server_log().contains("COC_CRASH_AT") || env.server_log().contains("SIGKILL"),
        "the first server died at the crash point"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_dispatch() {
    let (env, server, _agents, id, marks) = setup(Some("before_dispatch:2")).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_a_result_is_stored() {
    let (env, server, _agents, id, marks) = setup(Some("before_result_store:2")).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_a_result_is_acknowledged() {
    let (env, server, _agents, id, marks) = setup(Some("before_ack:3")).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_scripts_run() {
    let (env, mut server, _agents, id, marks) = setup(None).await;
    // Kill when the second batch's scripts are running: their results
    // are produced while the server is down.
    env.wait(
        &format!("/api/v1/job-tickets/{id}"),
        "batch 2 running",
        |t| {
            t["steps"][0]["hosts"].as_array().is_some_and(|h| {
                h.iter()
                    .filter(|x| x["batch"] == 1 && x["status"] == "executing")
                    .count()
                    == 2
            })
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.0.kill().unwrap(); // SIGKILL
    std::fs::write(
        env.dir.path().join("server.log"),
        format!("{}\nSIGKILL sent by the test\n", env.server_log()),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    recover_and_check(&env, server, &id, &marks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_does_not_run_a_task_twice() {
    let env = Env::new();
    let _server = env.server(None).await;
    let token = env.enrollment().await;
    let mut agent = env.agent(0, &token);
    let hosts = env.hosts(1).await;
    let marks = env.dir.path().join("marks.log");
    let script = env
        .call(
            "POST",
            "/api/v1/scripts",
            Some(json!({"name": "slow", "type": "shell", "risk_level": "low",
                "content": format!("echo start >> {}; sleep 3; echo end >> {}", marks.display(), marks.display())})),
        )
        .await;
    let t = env
        .call(
            "POST",
            &format!("/api/v1/scripts/{}/execute", script["id"].as_str().unwrap()),
            Some(json!({"hosts": hosts, "run_as": me()})),
        )
        .await;
    let id = t["id"].as_str().unwrap().to_string();
    env.wait(&format!("/api/v1/tickets/{id}"), "the task running", |_| {
        std::fs::read_to_string(&marks).is_ok_and(|m| m.contains("start"))
    })
    .await;
    agent.0.kill().unwrap(); // SIGKILL: the script keeps running or dies with it
    let _ = agent.0.wait();
    let _again = env.agent(0, &token);
    let t = env
        .wait(&format!("/api/v1/tickets/{id}"), "the ticket ends", |t| {
            t["status"] == "failed" || t["status"] == "successful"
        })
        .await;
    let task = &t["tasks"][0];
    assert_eq!(task["status"], "failed", "{t:#}");
    assert!(
        task["error"].as_str().unwrap().contains("agent restarted"),
        "{task:#}"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let m = std::fs::read_to_string(&marks).unwrap();
    assert_eq!(m.matches("start").count(), 1, "never started twice: {m}");
}

/// Ingest (M2) is acknowledged only after commit: four senders post
/// distinct alarms as Prometheus does, the server is killed (SIGKILL) in
/// the middle, and after the restart every acknowledged alarm is there.
/// Posting everything again then folds into the stored alarms (the SQLite
/// fingerprint map is rebuilt from the table): no alarm is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_alarms_survive_sigkill_and_repeats_fold_after_restart() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let env = Env::new();
    let mut server = env.server(None).await;
    let integ = env
        .call(
            "POST",
            "/api/v1/integrations",
            Some(json!({"name": "killed", "type": "alertmanager"})),
        )
        .await;
    let url = format!(
        "{}/ingest/{}/api/v2/alerts",
        env.url(),
        integ["key"].as_str().unwrap()
    );
    const BATCHES: usize = 400;
    const PER: usize = 50;
    let body = |b: usize| {
        let items: Vec<Value> = (0..PER)
            .map(|i| json!({"labels": {"alertname": "Killed", "instance": format!("h-{b}-{i}")}}))
            .collect();
        serde_json::to_vec(&items).unwrap()
    };
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut senders = vec![];
    for _ in 0..4 {
        let (next, acked, url, http) = (next.clone(), acked.clone(), url.clone(), env.http.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::SeqCst);
                if b >= BATCHES {
                    break;
                }
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body(b))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(b),
                    _ => break,
                }
            }
        }));
    }
    let start = Instant::now();
    while acked.lock().unwrap().len() < 40 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.0.kill().unwrap(); // SIGKILL
    for s in senders {
        s.await.unwrap();
    }
    let acked: Vec<usize> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "only {} batches acknowledged",
        acked.len()
    );
    assert!(acked.len() < BATCHES, "the kill came after the last batch");
    let _server = env.server(None).await;
    let before = all_alarms(&env).await;
    for b in &acked {
        for i in 0..PER {
            assert!(
                before.contains_key(&format!("h-{b}-{i}")),
                "acknowledged alarm h-{b}-{i} lost"
            );
        }
    }
    for b in 0..BATCHES {
        let r = env
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body(b))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let after = all_alarms(&env).await;
    assert_eq!(after.len(), BATCHES * PER);
    for (inst, n) in &after {
        let expected = if before.contains_key(inst) { 2 } else { 1 };
        assert_eq!(*n, expected, "{inst}");
    }
}

/// Every stored alarm's `instance` label and occurrences, through the
/// API's pages; an alarm stored twice fails the test.
async fn all_alarms(env: &Env) -> std::collections::HashMap<String, i64> {
    let mut out = std::collections::HashMap::new();
    let mut cursor = String::new();
    loop {
        let v = env
            .call("GET", &format!("/api/v1/alarms?limit=1000{cursor}"), None)
            .await;
        for a in v["items"].as_array().unwrap() {
            let inst = a["labels"]["instance"].as_str().unwrap().to_string();
            let n = a["occurrences"].as_i64().unwrap();
            assert!(out.insert(inst.clone(), n).is_none(), "{inst} stored twice");
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Alarms of an integration set to `acknowledge: received` (decision 0031)
/// are answered once they are in the ingest log: a SIGKILL right after the
/// last answer loses none of them, and none is applied twice after the
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_alarms_survive_sigkill() {
    let env = Env::new();
    let mut server = env.server(None).await;
    let integ = env
        .call(
            "POST",
            "/api/v1/integrations",
            Some(json!({"name": "fast", "type": "alertmanager", "acknowledge": "received"})),
        )
        .await;
    assert_eq!(integ["acknowledge"], "received");
    let url = format!(
        "{}/ingest/{}/api/v2/alerts",
        env.url(),
        integ["key"].as_str().unwrap()
    );
    // 4 connections × 100 requests of 100 distinct alarms.
    let ends = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let mut senders = vec![];
    for c in 0..4 {
        let (http, url, ends) = (env.http.clone(), url.clone(), ends.clone());
        senders.push(tokio::spawn(async move {
            for b in 0..100 {
                let body: Vec<Value> = (0..100)
                    .map(|i| {
                        json!({"labels": {"alertname": "Kill", "instance": format!("h-{c}-{b}-{i}")},
                               "endsAt": ends})
                    })
                    .collect();
                let r = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                assert_eq!((v["accepted"].as_u64(), v["acknowledged"].as_str()), (Some(100), Some("received")));
            }
        }));
    }
    for s in senders {
        s.await.unwrap();
    }
    server.0.kill().unwrap(); // SIGKILL, right after the last answer
    server.0.wait().unwrap();
    let _restarted = env.server(None).await;
    // Everything applied: the backlog gauge back to 0.
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let text = env
            .http
            .get(format!("{}/metrics", env.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.lines().any(|l| l == "coc_ingest_backlog_alarms 0") {
            break;
        }
        assert!(Instant::now() < end, "the ingest log was never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut seen, mut cursor) = (std::collections::HashSet::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/alarms?name=Kill&limit=1000&cursor={c}"),
            None => "/api/v1/alarms?name=Kill&limit=1000".to_string(),
        };
        let page = env.call("GET", &path, None).await;
        for a in page["items"].as_array().unwrap() {
            assert_eq!(a["occurrences"], 1, "applied once: {a}");
            assert!(seen.insert(a["fingerprint"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 40_000, "every acknowledged alarm is stored");
    eprintln!(
        "alarms logged and not applied at the kill were applied after the restart: {}",
        env.server_log()
            .contains("applying what was acknowledged before the restart")
    );
}
