//! Silences and maintenance windows (M3) and the Alertmanager API v2 at an
//! integration's base URL: over the COC API, over Alertmanager's wire
//! format, and with `amtool` itself (Debian `prometheus-alertmanager`).

use serde_json::{Value, json};

use crate::harness::{Harness, request};

/// A forwarding rule that turns every alarm named `name` into a P2 incident.
async fn rule_for(h: &Harness, name: &str) {
    h.client
        .post(
            "/api/v1/forwarding-rules",
            &json!({"name": format!("rule-{name}"), "conditions": [{"field": "alarmName", "op": "equals", "value": name}],
                    "incident_level": "P2", "assignee": "admin"}),
        )
        .await
        .unwrap();
}

/// Posts Prometheus-style alerts (firing for an hour) to the integration.
async fn fire(h: &Harness, key: &str, alerts: &[(&str, &str)]) -> Value {
    let ends = chrono::Utc::now() + chrono::Duration::hours(1);
    let body: Vec<Value> = alerts
        .iter()
        .map(|(name, instance)| {
            json!({"labels": {"alertname": name, "instance": instance, "severity": "critical"},
                   "annotations": {"summary": "test"}, "endsAt": ends.to_rfc3339()})
        })
        .collect();
    let (st, _, out) = request(
        h,
        "POST",
        &format!("/ingest/{key}/api/v2/alerts"),
        None,
        Some(serde_json::to_vec(&body).unwrap()),
    )
    .await;
    assert_eq!(st, 200, "{out}");
    out
}

async fn alarm_named(h: &Harness, name: &str, instance: &str) -> Value {
    let list = h
        .client
        .get(
            "/api/v1/alarms",
            &[("labels", format!("alertname={name},instance={instance}"))],
        )
        .await
        .unwrap();
    list["items"][0].clone()
}

#[tokio::test]
async fn a_silenced_alarm_is_stored_and_marked_and_opens_no_incident() {
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    rule_for(&h, "DiskFull").await;
    // A form-style body: matchers as parts, a duration, CRLF in the comment.
    let sil = h
        .client
        .post(
            "/api/v1/silences",
            &json!({"matchers": [{"name": "alertname", "op": "=", "value": "DiskFull"},
                                 "instance=~\"web-.*\""],
                    "duration_minutes": 60, "comment": "disk swap\r\non the web tier"}),
        )
        .await
        .unwrap();
    assert_eq!(sil["state"], "active");
    assert_eq!(sil["in_force"], true);
    assert_eq!(sil["created_by"], "admin");
    assert_eq!(
        sil["matchers_text"],
        "{alertname=\"DiskFull\", instance=~\"web-.*\"}"
    );
    let out = fire(
        &h,
        &key,
        &[("DiskFull", "web-1:9100"), ("DiskFull", "db-1:9100")],
    )
    .await;
    assert_eq!(out["created"], 2);
    assert_eq!(out["silenced"], 1);
    assert_eq!(
        out["incidents_created"].as_array().unwrap().len(),
        1,
        "{out}"
    );
    let muted = alarm_named(&h, "DiskFull", "web-1:9100").await;
    assert_eq!(muted["silenced_by"], sil["id"]);
    assert!(muted["incident"].is_null(), "{muted}");
    let loud = alarm_named(&h, "DiskFull", "db-1:9100").await;
    assert!(loud["silenced_by"].is_null());
    assert!(loud["incident"]["number"].is_string(), "{loud}");
    // The alarm list filters on it.
    let only = h
        .client
        .get("/api/v1/alarms", &[("silenced", "true".to_string())])
        .await
        .unwrap();
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    // Expired, the silence lets the next event through: an incident opens.
    let id = sil["id"].as_str().unwrap();
    let exp = h
        .client
        .post(&format!("/api/v1/silences/{id}/expire"), &json!({}))
        .await
        .unwrap();
    assert_eq!(exp["state"], "expired");
    let again = h
        .client
        .post(&format!("/api/v1/silences/{id}/expire"), &json!({}))
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already expired"), "{again}");
    let out = fire(&h, &key, &[("DiskFull", "web-1:9100")]).await;
    assert_eq!(out["silenced"], 0);
    assert_eq!(
        out["incidents_created"].as_array().unwrap().len(),
        1,
        "{out}"
    );
    assert!(alarm_named(&h, "DiskFull", "web-1:9100").await["silenced_by"].is_null());
    // Listing: the expired one only with expired=true.
    let l = h.client.get("/api/v1/silences", &[]).await.unwrap();
    assert!(l["items"].as_array().unwrap().is_empty());
    let l = h
        .client
        .get("/api/v1/silences", &[("expired", "true".to_string())])
        .await
        .unwrap();
    assert_eq!(l["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_silences_are_refused_whole() {
    let h = Harness::start(0).await;
    for (body, needle) in [
        (
            json!({"matchers": [], "duration_minutes": 5, "comment": "x"}),
            "at least one matcher",
        ),
        (
            json!({"matchers": ["team!=db"], "duration_minutes": 5, "comment": "x"}),
            "empty value",
        ),
        (
            json!({"matchers": ["a=~("], "duration_minutes": 5, "comment": "x"}),
            "regular expression",
        ),
        (
            json!({"matchers": ["a=b"], "comment": "x"}),
            "ends_at or duration_minutes",
        ),
        (
            json!({"matchers": ["a=b"], "duration_minutes": 5, "comment": " "}),
            "comment",
        ),
        (
            json!({"matchers": ["a=b"], "duration_minutes": 5, "comment": "x",
                "weekly": {"days": ["someday"], "start": "22:00", "end": "02:00"}}),
            "weekday",
        ),
    ] {
        let (st, ct, out) = request(
            &h,
            "POST",
            "/api/v1/silences",
            Some(crate::harness::ADMIN),
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
        assert_eq!(st, 422, "{body} → {out}");
        assert_eq!(ct, "application/problem+json");
        assert!(out["detail"].as_str().unwrap().contains(needle), "{out}");
    }
    let l = h
        .client
        .get("/api/v1/silences", &[("expired", "true".to_string())])
        .await
        .unwrap();
    assert!(l["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_maintenance_window_mutes_only_in_its_weekly_hours() {
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    rule_for(&h, "Reboot").await;
    let now = chrono::Utc::now();
    use chrono::Datelike;
    let today = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [now.weekday().num_days_from_monday() as usize];
    let tomorrow = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [(now.weekday().num_days_from_monday() as usize + 1) % 7];
    let open = (now - chrono::Duration::minutes(5))
        .format("%H:%M")
        .to_string();
    let close = (now + chrono::Duration::minutes(30))
        .format("%H:%M")
        .to_string();
    // Open now (today, around the current time UTC) …
    let w = h
        .client
        .post(
            "/api/v1/silences",
            &json!({"matchers": ["alertname=Reboot", "instance=a"], "duration_minutes": 10080,
                    "comment": "patch night",
                    "weekly": {"days": [today], "start": open, "end": close, "tz": "UTC"}}),
        )
        .await
        .unwrap();
    assert_eq!(w["in_force"], true, "{w}");
    // … and one on another day, not in force now.
    let other = h
        .client
        .post(
            "/api/v1/silences",
            &json!({"matchers": ["alertname=Reboot", "instance=b"], "duration_minutes": 10080,
                    "comment": "patch night",
                    "weekly": {"days": [tomorrow], "start": "03:00", "end": "03:01", "tz": "Europe/Berlin"}}),
        )
        .await
        .unwrap();
    assert_eq!(other["state"], "active");
    assert_eq!(other["in_force"], false, "{other}");
    let out = fire(&h, &key, &[("Reboot", "a"), ("Reboot", "b")]).await;
    assert_eq!(out["silenced"], 1, "{out}");
    assert_eq!(out["incidents_created"].as_array().unwrap().len(), 1);
    assert_eq!(alarm_named(&h, "Reboot", "a").await["silenced_by"], w["id"]);
}

#[tokio::test]
async fn the_alertmanager_api_lists_alerts_and_keeps_silences() {
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    fire(
        &h,
        &key,
        &[("Cpu", "web-1"), ("Cpu", "web-2"), ("Mem", "web-1")],
    )
    .await;
    let base = format!("/ingest/{key}/api/v2");
    // A silence the way amtool posts it.
    let body = json!({"matchers": [{"name": "alertname", "value": "Cpu", "isRegex": false, "isEqual": true},
                                   {"name": "instance", "value": "web-1", "isRegex": false}],
                      "startsAt": "2020-01-01T00:00:00Z",
                      "endsAt": (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339(),
                      "createdBy": "ops", "comment": "tuning"});
    let (st, _, created) = request(
        &h,
        "POST",
        &format!("{base}/silences"),
        None,
        Some(serde_json::to_vec(&body).unwrap()),
    )
    .await;
    assert_eq!(st, 200, "{created}");
    let sid = created["silenceID"].as_str().unwrap().to_string();
    let (_, _, alerts) = request(&h, "GET", &format!("{base}/alerts"), None, None).await;
    let alerts = alerts.as_array().unwrap().clone();
    assert_eq!(alerts.len(), 3);
    let cpu1 = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "Cpu" && a["labels"]["instance"] == "web-1")
        .unwrap();
    assert_eq!(cpu1["status"]["state"], "suppressed");
    assert_eq!(cpu1["status"]["silencedBy"][0], sid.as_str());
    assert_eq!(cpu1["receivers"][0]["name"], "prom");
    // Filters, as amtool sends them; silenced=false leaves the muted out.
    let q = format!(
        "{base}/alerts?filter={}&silenced=false",
        url::form_urlencoded::byte_serialize(b"alertname=\"Cpu\"").collect::<String>()
    );
    let (st, _, only) = request(&h, "GET", &q, None, None).await;
    assert_eq!(st, 200, "{only}");
    let only = only.as_array().unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["labels"]["instance"], "web-2");
    let (_, _, groups) = request(&h, "GET", &format!("{base}/alerts/groups"), None, None).await;
    assert_eq!(groups.as_array().unwrap().len(), 2);
    // Silences: listed, shown, expired.
    let (_, _, sils) = request(&h, "GET", &format!("{base}/silences"), None, None).await;
    assert_eq!(sils[0]["id"], sid.as_str());
    assert_eq!(sils[0]["status"]["state"], "active");
    assert_eq!(sils[0]["createdBy"], "ops via prom");
    assert_eq!(sils[0]["matchers"][1]["isEqual"], true);
    let (st, _, _) = request(&h, "DELETE", &format!("{base}/silence/{sid}"), None, None).await;
    assert_eq!(st, 200);
    let (_, _, one) = request(&h, "GET", &format!("{base}/silence/{sid}"), None, None).await;
    assert_eq!(one["status"]["state"], "expired");
    // The same silence in COC's own API.
    let v1 = h
        .client
        .get(&format!("/api/v1/silences/{sid}"), &[])
        .await
        .unwrap();
    assert_eq!(v1["state"], "expired");
    let (st, _, status) = request(&h, "GET", &format!("{base}/status"), None, None).await;
    assert_eq!(st, 200);
    assert_eq!(status["cluster"]["status"], "disabled");
    // A wrong key reads nothing.
    let (st, _, _) = request(&h, "GET", "/ingest/nokey/api/v2/silences", None, None).await;
    assert_eq!(st, 401);
    let (st, _, e) = request(
        &h,
        "GET",
        &format!("{base}/alerts?filter=%3D%3D"),
        None,
        None,
    )
    .await;
    assert_eq!(st, 400, "{e}");
}

/// Runs `amtool` against the integration; its stdout.
fn amtool(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("amtool")
        .arg(format!("--alertmanager.url={url}"))
        .args(args)
        .output()
        .expect("amtool runs");
    assert!(
        out.status.success(),
        "amtool {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn amtool_adds_and_queries_alerts_and_silences() {
    if std::process::Command::new("amtool")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "amtool (Debian prometheus-alertmanager) is required in CI"
        );
        eprintln!("skipped: amtool is not installed");
        return;
    }
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    rule_for(&h, "AmtoolAlert").await;
    let url = format!("{}/ingest/{key}", h.url());
    // amtool blocks: run it off the async runtime.
    let run = |args: Vec<&str>| {
        let url = url.clone();
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        tokio::task::spawn_blocking(move || {
            amtool(&url, &args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    // A silence first: the alert added after it is stored, marked, and
    // opens no incident.
    let id = run(vec![
        "silence",
        "add",
        "alertname=AmtoolAlert",
        "instance=~web-.*",
        "--comment=maintenance",
        "--author=ops",
        "--duration=1h",
    ])
    .await
    .unwrap();
    let id = id.trim().to_string();
    assert_eq!(id.len(), 36, "amtool printed the silence id: {id:?}");
    run(vec![
        "alert",
        "add",
        "alertname=AmtoolAlert",
        "instance=web-1",
        "severity=critical",
        "--annotation=summary=from amtool",
    ])
    .await
    .unwrap();
    run(vec![
        "alert",
        "add",
        "alertname=AmtoolAlert",
        "instance=db-1",
    ])
    .await
    .unwrap();
    // amtool leaves silenced alerts out unless asked (--silenced).
    let query = |flags: &[&str]| {
        let mut args = vec!["alert", "query"];
        args.extend_from_slice(flags);
        args.extend(["-o", "json", "alertname=AmtoolAlert"]);
        let q = run(args);
        async move {
            let q = q.await.unwrap();
            let v: Value = serde_json::from_str(&q).unwrap();
            (v, q)
        }
    };
    let (alerts, q) = query(&[]).await;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{q}");
    assert_eq!(alerts[0]["labels"]["instance"], "db-1");
    let (alerts, q) = query(&["--silenced"]).await;
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{q}");
    assert_eq!(alerts[0]["labels"]["instance"], "web-1");
    let (alerts, q) = query(&["--active", "--silenced"]).await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{q}");
    let web = alerts
        .iter()
        .find(|a| a["labels"]["instance"] == "web-1")
        .unwrap();
    assert_eq!(web["status"]["silencedBy"][0], id.as_str());
    let muted = alarm_named(&h, "AmtoolAlert", "web-1").await;
    assert_eq!(muted["silenced_by"], id.as_str());
    assert!(muted["incident"].is_null(), "{muted}");
    assert!(alarm_named(&h, "AmtoolAlert", "db-1").await["incident"]["number"].is_string());
    let q = run(vec!["silence", "query", "-q"]).await.unwrap();
    assert_eq!(q.trim(), id);
    let q = run(vec![
        "silence",
        "query",
        "-o",
        "json",
        "alertname=AmtoolAlert",
    ])
    .await
    .unwrap();
    assert!(q.contains("maintenance"), "{q}");
    run(vec!["silence", "expire", &id]).await.unwrap();
    let q = run(vec!["silence", "query", "-q"]).await.unwrap();
    assert!(q.trim().is_empty(), "expired silences are not listed: {q}");
    let s = h
        .client
        .get(&format!("/api/v1/silences/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(s["state"], "expired");
    assert_eq!(s["created_by"], "ops via prom");
}

#[tokio::test]
async fn a_heartbeat_that_stops_raises_an_alarm_within_its_interval_and_a_ping_resolves_it() {
    let h = Harness::start(0).await;
    let (st, _, bad) = request(
        &h,
        "POST",
        "/api/v1/integrations",
        Some(crate::harness::ADMIN),
        Some(br#"{"name":"hb","type":"heartbeat"}"#.to_vec()),
    )
    .await;
    assert_eq!(st, 422, "{bad}");
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "nightly-backup", "type": "heartbeat", "interval_s": 2}),
        )
        .await
        .unwrap();
    assert_eq!(integ["interval_s"], 2);
    let key = integ["key"].as_str().unwrap();
    let id = integ["id"].as_str().unwrap();
    let (st, _, p) = request(&h, "GET", &format!("/ingest/{key}/heartbeat"), None, None).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["recovered"], false);
    let pinged = h
        .client
        .get(&format!("/api/v1/integrations/{id}"), &[])
        .await
        .unwrap()["last_ping_at"]
        .as_i64()
        .unwrap();
    // No more pings: the alarm comes after the interval, within 10 % more.
    let mut alarm = Value::Null;
    for _ in 0..100 {
        let l = h
            .client
            .get("/api/v1/alarms", &[("name", "HeartbeatMissed".to_string())])
            .await
            .unwrap();
        if let Some(a) = l["items"].as_array().unwrap().first() {
            alarm = a.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let raised = alarm["first_seen"]
        .as_i64()
        .expect("HeartbeatMissed raised");
    let late = raised - pinged;
    assert!(
        (2000..=2200).contains(&late),
        "raised {late} ms after the ping"
    );
    assert_eq!(alarm["level"], "Critical");
    assert_eq!(alarm["resource_name"], "nightly-backup");
    assert_eq!(alarm["status"], "alarm");
    // Raised once, not again while it stays silent.
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    let a = h
        .client
        .get(
            &format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(a["occurrences"], 1, "{a}");
    // The next ping resolves it.
    let (_, _, p) = request(
        &h,
        "POST",
        &format!("/ingest/{key}/heartbeat"),
        None,
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(p["recovered"], true, "{p}");
    let a = h
        .client
        .get(
            &format!("/api/v1/alarms/{}", alarm["id"].as_str().unwrap()),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(a["status"], "ok");
    // A key of another type is refused on the ping path.
    let am = h.alertmanager_key().await;
    let (st, _, e) = request(&h, "GET", &format!("/ingest/{am}/heartbeat"), None, None).await;
    assert_eq!(
        (st, e["code"].as_str()),
        (400, Some("wrong_integration_type"))
    );
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real Alertmanager (Debian `prometheus-alertmanager`) routes alerts to
/// COC's webhook path; a silence made in COC mutes one of them: it is
/// stored and marked, and opens no incident, while the other does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_delivers_to_coc_and_a_coc_silence_mutes() {
    if std::process::Command::new("prometheus-alertmanager")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Debian prometheus-alertmanager is required in CI"
        );
        eprintln!("skipped: prometheus-alertmanager is not installed");
        return;
    }
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    rule_for(&h, "AmWebhook").await;
    h.client
        .post(
            "/api/v1/silences",
            &json!({"matchers": ["alertname=AmWebhook", "instance=muted"], "duration_minutes": 60,
                    "comment": "maintenance"}),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        format!(
            "route:\n  receiver: coc\n  group_by: ['instance']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: coc\n    webhook_configs:\n      - url: '{}/ingest/{key}/alertmanager'\n        send_resolved: true\n",
            h.url()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut am = std::process::Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("am.log")).unwrap())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let am_url = format!("http://127.0.0.1:{port}/api/v2/alerts");
    let ends = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!([
        {"labels": {"alertname": "AmWebhook", "instance": "muted", "severity": "critical"}, "endsAt": ends},
        {"labels": {"alertname": "AmWebhook", "instance": "loud", "severity": "critical"}, "endsAt": ends}
    ]);
    let mut posted = false;
    for _ in 0..100 {
        if let Ok(r) = http.post(&am_url).json(&body).send().await
            && r.status().is_success()
        {
            posted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(posted, "Alertmanager did not take the alerts");
    let mut found = (Value::Null, Value::Null);
    for _ in 0..200 {
        found = (
            alarm_named(&h, "AmWebhook", "muted").await,
            alarm_named(&h, "AmWebhook", "loud").await,
        );
        if found.0.is_object() && found.1["incident"].is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = am.kill();
    let _ = am.wait();
    let log = std::fs::read_to_string(dir.path().join("am.log")).unwrap_or_default();
    let (muted, loud) = found;
    assert_eq!(muted["source"], "Alertmanager", "{muted} {log}");
    assert!(muted["silenced_by"].is_string(), "{muted}");
    assert!(muted["incident"].is_null(), "{muted}");
    assert!(loud["silenced_by"].is_null(), "{loud}");
    assert!(loud["incident"]["number"].is_string(), "{loud} {log}");
}

#[tokio::test]
async fn a_firing_node_down_inhibits_the_alarms_of_its_instance_only() {
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    rule_for(&h, "DiskFull").await;
    rule_for(&h, "NodeDown").await;
    let r = h
        .client
        .post(
            "/api/v1/inhibition-rules",
            &json!({"name": "node-down", "source": ["alertname=NodeDown"],
                    "target": [{"name": "alertname", "op": "!=", "value": "NodeDown"}],
                    "equal": ["instance"]}),
        )
        .await
        .unwrap();
    // By name too; a duplicate name is refused.
    let same = h
        .client
        .get("/api/v1/inhibition-rules/node-down", &[])
        .await
        .unwrap();
    assert_eq!(same["id"], r["id"]);
    let dup = h
        .client
        .post(
            "/api/v1/inhibition-rules",
            &json!({"name": "node-down", "source": ["a=b"], "target": ["c=d"]}),
        )
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");
    // NodeDown and a DiskFull of web-1 in one request (either order), a
    // DiskFull of web-2 apart.
    let out = fire(
        &h,
        &key,
        &[
            ("DiskFull", "web-1"),
            ("NodeDown", "web-1"),
            ("DiskFull", "web-2"),
        ],
    )
    .await;
    assert_eq!(out["inhibited"], 1, "{out}");
    assert_eq!(
        out["incidents_created"].as_array().unwrap().len(),
        2,
        "{out}"
    );
    let muted = alarm_named(&h, "DiskFull", "web-1").await;
    assert_eq!(muted["inhibited_by"], r["id"]);
    assert!(muted["incident"].is_null(), "{muted}");
    assert!(alarm_named(&h, "DiskFull", "web-2").await["incident"].is_object());
    assert!(alarm_named(&h, "NodeDown", "web-1").await["incident"].is_object());
    // Later alarms of web-1 are inhibited while NodeDown fires.
    let out = fire(&h, &key, &[("HighLoad", "web-1")]).await;
    assert_eq!(out["inhibited"], 1, "{out}");
    // Deleted, the rule inhibits nothing more.
    h.client
        .delete("/api/v1/inhibition-rules/node-down")
        .await
        .unwrap();
    let out = fire(&h, &key, &[("DiskFull", "web-1")]).await;
    assert_eq!(out["inhibited"], 0, "{out}");
    assert!(alarm_named(&h, "DiskFull", "web-1").await["inhibited_by"].is_null());
}

/// Grafana alerting's webhook contact point (payload version 1).
#[tokio::test]
async fn a_grafana_webhook_becomes_an_alarm_with_its_links() {
    let h = Harness::start(0).await;
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "grafana", "type": "grafana"}),
        )
        .await
        .unwrap();
    let key = integ["key"].as_str().unwrap();
    let body = include_bytes!("fixtures/grafana-webhook-v1-firing.json").to_vec();
    let (st, _, out) = request(
        &h,
        "POST",
        &format!("/ingest/{key}/grafana"),
        None,
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, 200, "{out}");
    assert_eq!(out["created"], 1);
    let a = alarm_named(&h, "High memory usage", "web-1:9100").await;
    assert_eq!(a["source"], "Grafana");
    assert_eq!(a["level"], "Minor");
    assert_eq!(a["resource_name"], "web-1:9100");
    assert_eq!(
        a["additional"]["dashboard_url"],
        "https://grafana.example/d/abc123"
    );
    assert!(
        a["additional"]["value_string"]
            .as_str()
            .unwrap()
            .contains("var='B'")
    );
    // Resolved turns it ok; Alertmanager's version is refused on this path.
    let resolved = String::from_utf8(body)
        .unwrap()
        .replace("\"status\": \"firing\"", "\"status\": \"resolved\"");
    let (st, _, out) = request(
        &h,
        "POST",
        &format!("/ingest/{key}/grafana"),
        None,
        Some(resolved.into_bytes()),
    )
    .await;
    assert_eq!((st, out["resolved"].as_i64()), (200, Some(1)), "{out}");
    let v4 =
        br#"{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"x"}}]}"#.to_vec();
    let (st, _, e) = request(
        &h,
        "POST",
        &format!("/ingest/{key}/grafana"),
        None,
        Some(v4),
    )
    .await;
    assert_eq!(st, 422, "{e}");
}
