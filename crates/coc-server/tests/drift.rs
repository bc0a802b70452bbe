//! Drift (issue 18, R5) with real parts: the in-process agent watches a
//! file this test writes, dpkg's database on this machine and its own
//! process; a changed file raises `ConfigurationDrift` through the normal
//! pipeline and putting it back resolves it; a package listed at another
//! version than dpkg has shows as drift.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, request};

/// Polls `path` until `pred` holds (15 s).
async fn wait_for(h: &Harness, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..150 {
        last = h.client.get(path, &[]).await.unwrap();
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {last}");
}

/// The host's drift alarm, if any.
async fn drift_alarm(h: &Harness) -> Option<Value> {
    let a = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    a["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "ConfigurationDrift")
        .cloned()
}

/// What dpkg says of `name`, if this machine has dpkg.
fn dpkg_version(name: &str) -> Option<String> {
    let out = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", name])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_file_changed_raises_drift_and_a_package_version_shows() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let coreutils = dpkg_version("coreutils");
    assert!(
        coreutils.is_some() || !ci,
        "dpkg is this CI machine's package manager"
    );
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app.conf");
    std::fs::write(&conf, "listen 80\n").unwrap();
    let me = std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_string();
    let mut desired = json!({
        "services": [me],
        "files": [{"path": conf.to_string_lossy()}],
        "interval_s": 60,
    });
    if coreutils.is_some() {
        desired["packages"] =
            json!([{"name": "coreutils", "version": "0.0.1-not-this"}, {"name": "bash"}]);
    }
    // Bad input changes nothing.
    let (status, ct, body) = request(
        &h,
        "PUT",
        &format!("/api/v1/drift/{name}"),
        Some(ADMIN),
        Some(serde_json::to_vec(&json!({"files": [{"path": "etc/relative"}]})).unwrap()),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert!(
        body["detail"].as_str().unwrap().contains("absolute"),
        "{body}"
    );
    // By host name.
    let set = h
        .client
        .put(&format!("/api/v1/drift/{name}"), &desired)
        .await
        .unwrap();
    assert_eq!(set["host_id"], host.as_str());
    assert_eq!(set["status"], "unchecked");
    // The agent reports at once; the file's first hash is its baseline.
    let first = wait_for(
        &h,
        &format!("/api/v1/drift/{host}"),
        "the first report",
        |v| v["checked_at"].is_i64(),
    )
    .await;
    let baseline = first["desired"]["files"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(baseline.len(), 64);
    if let Some(v) = &coreutils {
        // A package listed at another version is drift.
        let d = first["differences"].as_array().unwrap();
        assert_eq!(d.len(), 1, "{first}");
        assert_eq!(d[0]["kind"], "package");
        assert_eq!(d[0]["item"], "coreutils");
        assert_eq!(d[0]["expected"], "0.0.1-not-this");
        assert_eq!(d[0]["actual"], v.as_str());
        let a = drift_alarm(&h).await.expect("the drift alarm");
        assert_eq!(a["status"], "alarm");
        assert_eq!(a["resource_name"], name.as_str());
        // Accepting the current state takes dpkg's version: in sync.
        let acc = h
            .client
            .post(&format!("/api/v1/drift/{name}/accept"), &json!({}))
            .await
            .unwrap();
        assert_eq!(acc["status"], "in_sync", "{acc}");
        assert_eq!(acc["desired"]["packages"][1]["version"], v.as_str());
        assert_eq!(drift_alarm(&h).await.unwrap()["status"], "ok");
    } else {
        assert_eq!(first["status"], "in_sync", "{first}");
        assert!(drift_alarm(&h).await.is_none());
    }
    // The watched file changes: the agent notices within seconds.
    std::fs::write(&conf, "listen 8080\n").unwrap();
    let drifted = wait_for(
        &h,
        &format!("/api/v1/drift/{host}"),
        "the file's drift",
        |v| v["status"] == "drifted",
    )
    .await;
    let d = &drifted["differences"][0];
    assert_eq!(d["kind"], "file");
    assert_eq!(d["item"], conf.to_string_lossy().as_ref());
    assert_eq!(d["expected"], format!("sha256 {}", &baseline[..12]));
    let a = drift_alarm(&h).await.expect("the drift alarm");
    assert_eq!(a["status"], "alarm", "{a}");
    assert_eq!(a["level"], "Major");
    assert!(
        a["description"].as_str().unwrap().contains("app.conf"),
        "{a}"
    );
    let listed = h.client.get("/api/v1/drift", &[]).await.unwrap();
    assert_eq!(listed["items"][0]["status"], "drifted");
    // Put back: the host is in sync and the alarm resolves.
    std::fs::write(&conf, "listen 80\n").unwrap();
    wait_for(&h, &format!("/api/v1/drift/{host}"), "back in sync", |v| {
        v["status"] == "in_sync"
    })
    .await;
    assert_eq!(drift_alarm(&h).await.unwrap()["status"], "ok");
    // Removed: the agent stops watching, a change is no longer drift.
    h.client
        .delete(&format!("/api/v1/drift/{name}"))
        .await
        .unwrap();
    let (status, _, _) = request(
        &h,
        "GET",
        &format!("/api/v1/drift/{host}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 404);
}
