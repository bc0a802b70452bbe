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
