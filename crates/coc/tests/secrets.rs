//! Secrets of channel targets (issue 14, finding 4): after failing
//! deliveries to a webhook and a robot whose URLs carry their keys, no
//! piece of those keys is in any file of the data dir (database, WAL,
//! server log) or in any API answer — only the masked target.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Env, free_port};

const PATH_TOKEN: &str = "T0KENpathSECRETabc123";
const QUERY_TOKEN: &str = "QU3RYsecretXYZ987";
const PASSWORD: &str = "R0b0tPASSWORDsecret";
const SIGNING: &str = "S1GNINGsecretKEY555";

/// Every file under `dir`, read whole.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.push((p.display().to_string(), b));
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_secrets_never_surface_after_failing_deliveries() {
    let env = Env::new();
    let server = env.server(None).await;
    let closed = free_port();
    let webhook = format!("http://127.0.0.1:{closed}/hooks/{PATH_TOKEN}?key={QUERY_TOKEN}");
    let robot = format!("http://robot:{PASSWORD}@127.0.0.1:{closed}/send");
    for (channel, target, secret) in [
        ("webhook", webhook.as_str(), Some(SIGNING)),
        ("slack", robot.as_str(), None),
    ] {
        let d = env
            .call(
                "POST",
                "/api/v1/notifications/test",
                Some(json!({"channel": channel, "target": target, "secret": secret})),
            )
            .await;
        assert!(d["target"].as_str().unwrap().ends_with("/***"), "{d}");
    }
    // Both fail (connection refused) and are retried with their error.
    let log = env
        .wait(
            "/api/v1/notifications/deliveries",
            "two failed attempts",
            |v| {
                v["items"]
                    .as_array()
                    .is_some_and(|i| i.len() == 2 && i.iter().all(|d| d["last_error"].is_string()))
            },
        )
        .await;
    for d in log["items"].as_array().unwrap() {
        let e = d["last_error"].as_str().unwrap();
        assert!(e.contains("127.0.0.1"), "the error still says where: {e}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // API answers a read-only user or an auditor sees.
    let mut answers = vec![];
    for path in [
        "/api/v1/notifications/deliveries",
        "/api/v1/audit",
        "/api/v1/audit?trace=sendTestNotification",
    ] {
        let v: Value = env.call("GET", path, None).await;
        answers.push((path.to_string(), v.to_string()));
    }
    drop(server); // SIGKILL: the WAL is left as it is on disk.
    let mut all = vec![];
    files(env.dir.path(), &mut all);
    assert!(all.iter().any(|(p, _)| p.ends_with("coc.db-wal")));
    assert!(all.iter().any(|(p, _)| p.ends_with("server.log")));
    for secret in [PATH_TOKEN, QUERY_TOKEN, PASSWORD, SIGNING] {
        for (path, bytes) in &all {
            assert!(!contains(bytes, secret), "{secret} is in {path}");
        }
        for (path, body) in &answers {
            assert!(!body.contains(secret), "{secret} is in GET {path}: {body}");
        }
    }
}
