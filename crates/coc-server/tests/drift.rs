//! Drift (issue 18, R5) with real parts: the in-process agent watches a
//! file this test writes, dpkg's database on this machine and its own
//! process; a changed file raises `ConfigurationDrift` through the normal
//! pipeline and putting it back resolves it; a package listed at another
//! version than dpkg has shows as drift.

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness, request};

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

/// Waits for the drift alarm in `status` (it is ingested right after
/// the report's transaction) and returns it.
async fn wait_alarm(h: &Harness, status: &str) -> Value {
    let path = "/api/v1/alarms?name=ConfigurationDrift";
    let found = h
        .wait_until(path, &format!("the drift alarm {status}"), |v| {
            v["items"][0]["status"] == status
        })
        .await;
    found["items"][0].clone()
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
    let first = h
        .wait_until(&format!("/api/v1/drift/{host}"), "the first report", |v| {
            v["checked_at"].is_i64()
        })
        .await;
    let baseline = first["files"][0]["sha256"].as_str().unwrap().to_string();
    assert_eq!(baseline.len(), 64);
    if let Some(v) = &coreutils {
        // A package listed at another version is drift.
        let d = first["differences"].as_array().unwrap();
        assert_eq!(d.len(), 1, "{first}");
        assert_eq!(d[0]["kind"], "package");
        assert_eq!(d[0]["item"], "coreutils");
        assert_eq!(d[0]["expected"], "0.0.1-not-this");
        assert_eq!(d[0]["actual"], v.as_str());
        let a = wait_alarm(&h, "alarm").await;
        assert_eq!(a["resource_name"], name.as_str());
        // Accepting the current state takes dpkg's version: in sync.
        let acc = h
            .client
            .post(&format!("/api/v1/drift/{name}/accept"), &json!({}))
            .await
            .unwrap();
        assert_eq!(acc["status"], "in_sync", "{acc}");
        assert_eq!(acc["packages"][1]["version"], v.as_str());
        wait_alarm(&h, "ok").await;
    } else {
        assert_eq!(first["status"], "in_sync", "{first}");
        assert!(drift_alarm(&h).await.is_none());
    }
    // The watched file changes: the agent notices within seconds.
    std::fs::write(&conf, "listen 8080\n").unwrap();
    let drifted = h
        .wait_until(&format!("/api/v1/drift/{host}"), "the file's drift", |v| {
            v["status"] == "drifted"
        })
        .await;
    let d = &drifted["differences"][0];
    assert_eq!(d["kind"], "file");
    assert_eq!(d["item"], conf.to_string_lossy().as_ref());
    assert_eq!(d["expected"], format!("sha256 {}", &baseline[..12]));
    let a = wait_alarm(&h, "alarm").await;
    assert_eq!(a["level"], "Major");
    assert!(
        a["description"].as_str().unwrap().contains("app.conf"),
        "{a}"
    );
    let listed = h.client.get("/api/v1/drift", &[]).await.unwrap();
    assert_eq!(listed["items"][0]["status"], "drifted");
    // Put back: the host is in sync and the alarm resolves.
    std::fs::write(&conf, "listen 80\n").unwrap();
    h.wait_until(&format!("/api/v1/drift/{host}"), "back in sync", |v| {
        v["status"] == "in_sync"
    })
    .await;
    wait_alarm(&h, "ok").await;
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

/// The console's New form as a browser posts it: the host picked by name,
/// package and file rows (blank rows left), services typed with CRLF,
/// the other fields left empty; the record page shows the differences
/// and "Accept current state"; Modify saved unchanged changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desired_state_is_set_from_the_console_form() {
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app.conf");
    std::fs::write(&conf, "x\n").unwrap();
    let cookie = crate::console::login(&h).await;
    let url = format!("{}/console/drift/new", h.url());
    let (st, form) = crate::console::page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(
        form.contains(&format!(">{name}<")),
        "the host is offered by name"
    );
    let mut fields = crate::console::form_values(&form);
    let conf_path = conf.to_string_lossy().to_string();
    crate::console::set_fields(
        &mut fields,
        &[
            ("f.host", name.as_str()),
            ("f.packages.0.name", "no-such-package-coc"),
            ("f.packages.0.version", ""),
            ("f.packages.1.name", ""),
            ("f.packages.1.version", ""),
            ("f.services", "no-such-service-coc\r\n\r\n"),
            ("f.files.0.path", conf_path.as_str()),
            ("f.files.0.sha256", ""),
            ("f.files.1.path", ""),
            ("f.files.1.sha256", ""),
            ("f.interval_s", ""),
            ("f.alarm_level", ""),
        ],
    );
    let (st, loc, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    let loc = loc.unwrap();
    assert!(loc.ends_with(&host), "{loc}");
    let d = h
        .wait_until(&format!("/api/v1/drift/{host}"), "the report", |v| {
            v["status"] == "drifted"
        })
        .await;
    assert_eq!(d["services"], json!(["no-such-service-coc"]));
    assert_eq!(d["interval_s"], 300);
    assert_eq!(d["alarm_level"], "Major");
    assert_eq!(d["packages"], json!([{"name": "no-such-package-coc"}]));
    let (_, record) = crate::console::page(&cookie, &format!("{}{loc}", h.url())).await;
    for shown in [
        "no-such-service-coc",
        "stopped",
        "not installed",
        "Accept current state",
    ] {
        assert!(record.contains(shown), "{shown}: {record}");
    }
    // The host's page shows it too.
    let (_, page) =
        crate::console::page(&cookie, &format!("{}/console/resources/{host}", h.url())).await;
    let drift = page.split("<h2>Drift</h2>").nth(1).unwrap_or_default();
    assert!(drift.contains("drifted"), "{page}");
    let listed = h
        .client
        .get("/api/v1/drift", &[("host", name.clone())])
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // Modify, saved unchanged: the same desired state (with the baseline).
    let murl = format!("{}{loc}/edit", h.url());
    let (st, edit) = crate::console::page(&cookie, &murl).await;
    assert_eq!(st, 200, "{edit}");
    let before = h
        .client
        .get(&format!("/api/v1/drift/{host}"), &[])
        .await
        .unwrap();
    let (st, _, text) =
        crate::console::post_form(&cookie, &murl, &crate::console::form_values(&edit)).await;
    assert_eq!(st, 303, "{text}");
    let after = h
        .client
        .get(&format!("/api/v1/drift/{host}"), &[])
        .await
        .unwrap();
    for k in [
        "packages",
        "services",
        "files",
        "interval_s",
        "alarm_level",
        "no_alarm",
    ] {
        assert_eq!(before[k], after[k], "{k}");
    }
    // A path typed relative: one clear refusal, nothing changes.
    let mut bad = fields.clone();
    bad.iter_mut()
        .find(|(k, _)| k == "f.files.0.path")
        .unwrap()
        .1 = "app.conf".into();
    let (st, _, text) = crate::console::post_form(&cookie, &url, &bad).await;
    assert_eq!(st, 422, "{text}");
    assert!(text.contains("absolute"), "{text}");
}
