//! Batch resource operations (issue 19, P4) with a real PostgreSQL
//! cluster that the test creates on its own port (`pg_createcluster`):
//! registered as a database on the in-process agent's host with its
//! service, it is started, restarted, stopped and started again by COC
//! through the host's agent, and `pg_ctlcluster status` agrees each time.
//! The cluster is dropped at the end.

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, request};

/// A PostgreSQL cluster of this test, dropped when it goes.
struct Cluster {
    version: String,
    name: String,
}

impl Cluster {
    fn running(&self) -> bool {
        Command::new("pg_ctlcluster")
            .args([&self.version, &self.name, "status"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args([&self.version, &self.name, "--stop"])
            .output();
    }
}

/// Waits (1 min at most) until a script ticket ends; returns it.
async fn ended(h: &Harness, id: &str) -> Value {
    let path = format!("/api/v1/tickets/{id}");
    let mut last = Value::Null;
    for _ in 0..600 {
        last = h.client.get(&path, &[]).await.unwrap();
        if !["executing", "paused", "pending"].contains(&last["status"].as_str().unwrap_or("")) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("ticket {id} never ended: {last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_cluster_is_started_stopped_and_restarted() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned());
    let (true, Some(version)) = (root, version) else {
        assert!(!ci, "CI runs as root with PostgreSQL's cluster tools");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = Cluster {
        version: version.clone(),
        name: format!("cocop{}", std::process::id()),
    };
    let made = Command::new("pg_createcluster")
        .args([&version, &cluster.name, "-p", &port.to_string()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    assert!(!cluster.running());
    let service = format!("postgresql@{version}-{}", cluster.name);

    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let db = h
        .client
        .post(
            "/api/v1/resources",
            &json!({"type": "database", "name": "orders-db", "host": host,
                    "attributes": {"engine": "postgresql", "port": port.to_string(), "service": service}}),
        )
        .await
        .unwrap();
    assert_eq!(db["attributes"]["service"], service.as_str());
    let cache = h
        .client
        .post(
            "/api/v1/resources",
            &json!({"type": "cache", "name": "sessions"}),
        )
        .await
        .unwrap();
    // Bad input changes nothing.
    for (body, code, says) in [
        (
            json!({"action": "start", "resources": []}),
            422,
            "choose 1 to",
        ),
        (
            json!({"action": "start", "resources": ["sessions"]}),
            422,
            "only databases",
        ),
        (
            json!({"action": "start", "resources": ["no-such-db"]}),
            404,
            "no-such-db",
        ),
        (
            json!({"action": "explode", "resources": ["orders-db"]}),
            422,
            "explode",
        ),
    ] {
        let (status, ct, b) = request(
            &h,
            "POST",
            "/api/v1/resource-operations",
            Some(ADMIN),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
        assert_eq!(status, code, "{body}: {b}");
        assert_eq!(ct, "application/problem+json");
        assert!(b["detail"].as_str().unwrap().contains(says), "{b}");
    }
    let _ = cache;
    // By name, as an operator types it.
    for (action, running, said) in [
        ("start", true, "pg_ctlcluster"),
        ("start", true, "already active"),
        ("restart", true, "pg_ctlcluster"),
        ("stop", false, ": inactive"),
        ("start", true, ": active"),
    ] {
        let t = h
            .client
            .post(
                "/api/v1/resource-operations",
                &json!({"action": action, "resources": ["orders-db"], "batch_size": 1,
                        "success_rate_threshold": 100}),
            )
            .await
            .unwrap();
        let t = ended(&h, t["id"].as_str().unwrap()).await;
        assert_eq!(t["status"], "successful", "{action}: {t:#}");
        let out = t["tasks"][0]["output"].as_str().unwrap_or_default();
        assert!(out.contains(said), "{action}: {out}");
        assert_eq!(cluster.running(), running, "after {action}: {out}");
    }
    // A service that is not there fails its host, saying so.
    h.client
        .put(
            &format!("/api/v1/resources/{}", db["id"].as_str().unwrap()),
            &json!({"type": "database", "name": "orders-db", "host": host,
                    "attributes": {"service": "postgresql@1-nosuchcluster"}}),
        )
        .await
        .unwrap();
    let t = h
        .client
        .post(
            "/api/v1/resource-operations",
            &json!({"action": "restart", "resources": ["orders-db"]}),
        )
        .await
        .unwrap();
    let t = ended(&h, t["id"].as_str().unwrap()).await;
    assert_eq!(t["status"], "failed", "{t:#}");
}

/// Waits (1 min at most) until a job ticket ends; returns it.
async fn job_ended(h: &Harness, id: &str) -> Value {
    let path = format!("/api/v1/job-tickets/{id}");
    let mut last = Value::Null;
    for _ in 0..600 {
        last = h.client.get(&path, &[]).await.unwrap();
        if !["executing", "paused", "pending"].contains(&last["status"].as_str().unwrap_or("")) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job ticket {id} never ended: {last:#}");
}

/// Each host's runs of a job ticket: (host id, status, output + error).
fn host_runs(t: &Value) -> Vec<(String, String, String)> {
    let mut out = vec![];
    for s in t["steps"].as_array().unwrap() {
        for hst in s["hosts"].as_array().unwrap() {
            let mut text = String::new();
            for r in hst["runs"].as_array().into_iter().flatten() {
                text.push_str(r["output"].as_str().unwrap_or(""));
                text.push_str(r["error"].as_str().unwrap_or(""));
            }
            out.push((
                hst["host_id"].as_str().unwrap_or_default().to_string(),
                hst["status"].as_str().unwrap_or_default().to_string(),
                text,
            ));
        }
    }
    out
}

/// Power operations on hosts (P4, ref. 4.3) against an HTTP server
/// speaking the compute and image APIs' wire format (OpenStack cannot run
/// here), and through the real in-process agent for a host that is no
/// cloud server: cloud servers are stopped in batches, left alone when
/// already stopped, started, rebuilt onto another image (found by name)
/// and reinstalled; a server the provider breaks fails its host; the
/// agent's host restarts (a new boot) and stops; what only a provider can
/// do fails on it, saying why; bad requests change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_started_stopped_restarted_and_rebuilt_through_their_provider_or_agent() {
    let h = Harness::start(1).await;
    let agent_host = h.wait_hosts(1).await.remove(0);
    let cloud = crate::cloud::fake_cloud().await;
    cloud.one.lock().unwrap().push(crate::cloud::server(
        "3dbf5b00-0004",
        "web-broken",
        "ACTIVE",
        "1",
        "70a599e0-31e7-49b7-b260-868f441e862b",
        "10.0.0.14",
    ));
    h.client
        .post(
            "/api/v1/cloud-accounts",
            &crate::cloud::account(&cloud, "lab", "s3cret", 0),
        )
        .await
        .unwrap();
    crate::cloud::sync(&h).await;
    let op = |body: Value| {
        let h = &h;
        async move {
            let t = h
                .client
                .post("/api/v1/host-operations", &body)
                .await
                .unwrap_or_else(|e| panic!("{body}: {e:?}"));
            job_ended(h, t["id"].as_str().unwrap()).await
        }
    };
    let status_of = |name: &str| {
        cloud
            .one
            .lock()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| {
                (
                    s["status"].as_str().unwrap().to_string(),
                    s["image"]["id"].clone(),
                )
            })
            .unwrap()
    };
    // Stopped by name, one per batch.
    let t = op(json!({"action": "stop", "hosts": ["web-01", " web-02 "], "batch_size": 1})).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(status_of("web-01").0, "SHUTOFF");
    assert_eq!(status_of("web-02").0, "SHUTOFF");
    assert_eq!(
        *cloud.actions.lock().unwrap(),
        ["os-stop web-01", "os-stop web-02"]
    );
    let runs = host_runs(&t);
    assert!(
        runs[0].2.contains("ACTIVE (powering-off)") && runs[0].2.contains("SHUTOFF"),
        "{runs:?}"
    );
    // Already stopped: nothing asked of the provider.
    let t = op(json!({"action": "stop", "hosts": ["web-01"]})).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert!(host_runs(&t)[0].2.contains("already SHUTOFF"), "{t:#}");
    assert_eq!(cloud.actions.lock().unwrap().len(), 2);
    // Started again; its OS changed to an image chosen by name.
    let t = op(json!({"action": "start", "hosts": ["web-01"]})).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(status_of("web-01").0, "ACTIVE");
    let t = op(
        json!({"action": "change_os", "hosts": ["web-01"], "image": "ubuntu-24.04",
        "key_pair": "ops-key"}),
    )
    .await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(
        status_of("web-01"),
        (
            "ACTIVE".to_string(),
            json!("f3b0b3a2-9c1e-4f0e-8a57-5d1a8a7c2e11")
        )
    );
    // With the key pair chosen, under the microversion that takes it.
    assert_eq!(
        cloud.actions.lock().unwrap().last().map(String::as_str),
        Some("rebuild web-01 key=ops-key")
    );
    assert!(host_runs(&t)[0].2.contains("key pair ops-key"), "{t:#}");
    // A reinstall rebuilds from the image the server has; one booting
    // from a volume has none; the provider breaking a server fails it,
    // and the suspension threshold stops the ticket there.
    let t = op(json!({"action": "reinstall_os", "hosts": ["web-02", "batch-01"]})).await;
    assert_eq!(t["status"], "failed", "{t:#}");
    let runs = host_runs(&t);
    assert!(
        runs.iter()
            .any(|r| r.1 == "successful" && r.2.contains("cirros-0.6.2")),
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .any(|r| r.1 == "failed" && r.2.contains("boots from a volume")),
        "{runs:?}"
    );
    let t = op(
        json!({"action": "restart", "hosts": ["web-broken", "db-01"], "batch_size": 1,
        "success_rate_threshold": 100}),
    )
    .await;
    assert_eq!(t["status"], "abnormal", "suspended: {t:#}");
    let runs = host_runs(&t);
    assert!(runs[0].2.contains("ERROR"), "{runs:?}");
    assert_ne!(runs[1].1, "successful", "suspended before db-01: {runs:?}");
    assert!(
        !cloud
            .actions
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.ends_with("db-01"))
    );
    // The agent's host is no cloud server: it restarts through its agent
    // (a new boot) and stops; a start is for providers only.
    let t = op(json!({"action": "restart", "hosts": [agent_host]})).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    let t = op(json!({"action": "stop", "hosts": [agent_host]})).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert!(
        host_runs(&t)[0]
            .2
            .contains("simulated: the host would shut down"),
        "{t:#}"
    );
    let t = op(json!({"action": "start", "hosts": [agent_host]})).await;
    assert_eq!(t["status"], "failed", "{t:#}");
    assert!(host_runs(&t)[0].2.contains("is no cloud server"), "{t:#}");
    // Bad requests change nothing.
    let before = cloud.actions.lock().unwrap().len();
    for (body, code) in [
        (
            json!({"action": "change_os", "hosts": ["web-01"]}),
            "validation_failed",
        ),
        (
            json!({"action": "restart", "hosts": ["web-01"], "key_pair": "ops-key"}),
            "validation_failed",
        ),
        (
            json!({"action": "stop", "hosts": ["web-01"], "image": "x"}),
            "validation_failed",
        ),
        (json!({"action": "halt", "hosts": ["web-01"]}), ""),
        (json!({"action": "stop", "hosts": ["nowhere"]}), "not_found"),
        (json!({"action": "stop", "hosts": []}), "validation_failed"),
    ] {
        let (st, _, e) = request(
            &h,
            "POST",
            "/api/v1/host-operations",
            Some(ADMIN),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
        assert!((400..500).contains(&st), "{body}: {st} {e}");
        assert!(e.to_string().contains(code), "{body}: {e}");
    }
    assert_eq!(cloud.actions.lock().unwrap().len(), before);
}
