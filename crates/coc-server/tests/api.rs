//! Access, route table, and bad input: every refusal is problem+json and
//! stores nothing.

use serde_json::{Value, json};

use crate::harness::{ADMIN, Harness};

async fn raw(
    h: &Harness,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, String, Value) {
    crate::harness::request(h, method, path, token, body).await
}

#[tokio::test]
async fn every_route_is_served_and_guarded() {
    coc_client::install_crypto();
    let h = Harness::start(0).await;
    for r in coc_server::api::routes() {
        let path = r
            .path
            .replace("{id}", "x")
            .replace("{task_id}", "y")
            .replace("{key}", "bogus");
        let (status, ct, body) = raw(&h, r.method, &path, None, Some(b"{}".to_vec())).await;
        // (A public route answers 404 for an unknown secret — a feed's
        // token — with its own detail, not the router's.)
        assert!(
            status != 404 || body["detail"] != "no such route",
            "{} {} is not routed",
            r.method,
            r.path
        );
        assert_ne!(status, 405, "{} {} has the wrong method", r.method, r.path);
        if r.auth {
            assert_eq!(
                status, 401,
                "{} {} must require the token",
                r.method, r.path
            );
            assert_eq!(ct, "application/problem+json");
            assert_eq!(body["code"], "unauthorized");
        }
    }
    let (status, _, body) = raw(&h, "GET", "/api/v1/alarms", Some("wrong"), None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _, body) = raw(&h, "GET", "/api/v1/nothing-here", Some(ADMIN), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (_, _, doc) = raw(&h, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/incidents/{id}/actions"]["post"].is_object());
}

#[tokio::test]
async fn undefined_methods_answer_405_on_every_route() {
    let h = Harness::start(0).await;
    let http = reqwest::Client::new();
    let mut paths: Vec<&str> = coc_server::api::routes().iter().map(|r| r.path).collect();
    paths.sort();
    paths.dedup();
    let mut checked = 0;
    for p in paths {
        let defined: Vec<&str> = coc_server::api::routes()
            .iter()
            .filter(|r| r.path == p)
            .map(|r| r.method)
            .collect();
        let path = p
            .replace("{id}", "x")
            .replace("{task_id}", "y")
            .replace("{key}", "bogus");
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH", "TRACE"] {
            if defined.contains(&m) || (m == "GET" && p == "/api/v1/agent/connect") {
                continue;
            }
            let r = http
                .request(
                    reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                    format!("{}{path}", h.url()),
                )
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let ct = r.headers().get("content-type").cloned();
            let allow = r.headers().get("allow").cloned();
            assert_eq!(status, 405, "{m} {p}");
            assert_eq!(ct.unwrap(), "application/problem+json", "{m} {p}");
            if p.starts_with("/api/v1/") && p != "/api/v1/openapi.json" {
                let allow = allow.unwrap_or_else(|| panic!("{m} {p}: no Allow"));
                for d in &defined {
                    assert!(allow.to_str().unwrap().contains(d), "{m} {p}: {allow:?}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked} checks");
}

/// method, path, token, body, expected status, expected code.
type Case<'a> = (&'a str, String, Option<&'a str>, Vec<u8>, u16, &'a str);

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let h = Harness::start(0).await;
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "prom", "type": "alertmanager"}),
        )
        .await
        .unwrap();
    let key = integ["key"].as_str().unwrap().to_string();
    let generic = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "gen", "type": "generic"}),
        )
        .await
        .unwrap();
    let gkey = generic["key"].as_str().unwrap().to_string();
    let t = Some(ADMIN);
    let big = vec![b' '; coc_server::API_BODY_LIMIT + 10];
    let huge_ingest = {
        let mut v = b"[".to_vec();
        v.extend(std::iter::repeat_n(
            b' ',
            coc_server::INGEST_BODY_LIMIT + 10,
        ));
        v.push(b']');
        v
    };
    let cases: Vec<Case> = vec![
        ("POST", "/api/v1/integrations".into(), t, b"{not json".to_vec(), 400, "malformed_json"),
        ("POST", "/api/v1/integrations".into(), t, br#"{"name":"x","type":"generic","extra":1}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/api/v1/integrations".into(), t, br#"{"name":"x","type":"nagios"}"#.to_vec(), 422, "validation_failed"),
        ("POST", "/api/v1/integrations".into(), t, br#"{"name":"prom","type":"generic"}"#.to_vec(), 409, "conflict"),
        ("POST", "/api/v1/integrations".into(), t, big.clone(), 413, "payload_too_large"),
        ("POST", "/api/v1/forwarding-rules".into(), t, br#"{"name":"r","incident_level":"P9","assignee":"a"}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/api/v1/forwarding-rules".into(), t, br#"{"name":"r","incident_level":"P1","assignee":"a","conditions":[{"field":"nope","op":"equals","value":"x"}]}"#.to_vec(), 422, "validation_failed"),
        ("POST", "/api/v1/scripts".into(), t, br#"{"name":"s","type":"shell","content":"","risk_level":"low"}"#.to_vec(), 422, "validation_failed"),
        ("POST", "/api/v1/incidents".into(), t, br#"{"title":"t","level":"P1","assignee":"a","owner":"b"}"#.to_vec(), 422, "invalid_body"),
        ("POST", "/api/v1/alarms/clear".into(), t, br#"{"ids":["x"],"remark":""}"#.to_vec(), 422, "validation_failed"),
        // Issue 14: NUL characters, negative times, an unknown data source,
        // a cron expression that never fires.
        ("POST", "/api/v1/scripts".into(), t, br#"{"name":"a\u0000b","type":"shell","content":"echo","risk_level":"low"}"#.to_vec(), 422, "validation_failed"),
        ("POST", "/api/v1/tokens".into(), t, br#"{"name":"t","expires_at":-5}"#.to_vec(), 422, "validation_failed"),
        ("POST", "/api/v1/forwarding-rules".into(), t, br#"{"name":"r","incident_level":"P1","assignee":"admin","data_source":"no-such-integration"}"#.to_vec(), 422, "validation_failed"),
        ("POST", "/api/v1/scheduled-tasks".into(), t, br#"{"name":"never","script":"OS-DIAGNOSE","hosts":[],"timing":{"tz":"UTC","trigger":{"type":"cron","expr":"0 0 30 2 *"}},"reviewers":[{"type":"individual","users":["admin"]}]}"#.to_vec(), 422, "validation_failed"),
        ("GET", "/api/v1/alarms?limit=1001".into(), t, vec![], 400, "bad_query"),
        ("GET", "/api/v1/alarms?level=huge".into(), t, vec![], 400, "bad_query"),
        ("GET", "/api/v1/alarms?bogus=1".into(), t, vec![], 400, "bad_query"),
        ("GET", "/api/v1/incidents/nope".into(), t, vec![], 404, "not_found"),
        ("POST", "/ingest/wrong-key/api/v2/alerts".into(), None, b"[]".to_vec(), 401, "invalid_integration_key"),
        ("POST", format!("/ingest/{key}/api/v2/alerts"), None, b"[{\"labels\":".to_vec(), 400, "malformed_json"),
        ("POST", format!("/ingest/{key}/api/v2/alerts"), None, br#"[{"labels":{"job":"x"}}]"#.to_vec(), 422, "validation_failed"),
        ("POST", format!("/ingest/{key}/api/v2/alerts"), None, huge_ingest, 413, "payload_too_large"),
        ("POST", format!("/ingest/{key}/alertmanager"), None, br#"{"version":"3","alerts":[]}"#.to_vec(), 422, "validation_failed"),
        ("POST", format!("/ingest/{key}/generic"), None, br#"{"alarmName":"x"}"#.to_vec(), 400, "wrong_integration_type"),
        ("POST", format!("/ingest/{gkey}/generic"), None, br#"[{"alarmName":"ok"},{"alarmLevel":"Major"}]"#.to_vec(), 422, "validation_failed"),
    ];
    for (m, path, tok, body, status, code) in cases {
        let (got, ct, b) = raw(
            &h,
            m,
            &path,
            tok,
            if m == "GET" { None } else { Some(body) },
        )
        .await;
        assert_eq!(
            (got, b["code"].as_str()),
            (status, Some(code)),
            "{m} {path}: {b}"
        );
        assert_eq!(ct, "application/problem+json", "{m} {path}");
        assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Each refusal names its cause.
    for (path, body, says) in [
        (
            "/api/v1/scheduled-tasks",
            json!({"name": "never", "script": "OS-DIAGNOSE", "hosts": [],
            "timing": {"tz": "UTC", "trigger": {"type": "cron", "expr": "0 0 31 4 *"}},
            "reviewers": [{"type": "individual", "users": ["admin"]}]}),
            "never fires",
        ),
        (
            "/api/v1/forwarding-rules",
            json!({"name": "r", "incident_level": "P1", "assignee": "admin",
            "data_source": "nope"}),
            "not an integration of this tenant",
        ),
        (
            "/api/v1/scripts",
            json!({"name": "x", "type": "shell", "content": "echo", "risk_level": "low",
            "description": "a\u{0}"}),
            "description contains a NUL character",
        ),
    ] {
        let e = h.client.post(path, &body).await.unwrap_err().to_string();
        assert!(e.contains(says), "{path}: {e}");
    }
    // Disabled integration: 403, stores nothing.
    let id = integ["id"].as_str().unwrap();
    h.client
        .post(&format!("/api/v1/integrations/{id}/disable"), &json!({}))
        .await
        .unwrap();
    let (status, _, b) = raw(
        &h,
        "POST",
        &format!("/ingest/{key}/api/v2/alerts"),
        None,
        Some(br#"[{"labels":{"alertname":"A"}}]"#.to_vec()),
    )
    .await;
    assert_eq!(
        (status, b["code"].as_str()),
        (403, Some("integration_disabled"))
    );
    // Nothing of the refused requests was stored.
    let alarms = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    assert!(alarms["items"].as_array().unwrap().is_empty(), "{alarms}");
    assert!(
        h.client.get("/api/v1/forwarding-rules", &[]).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        h.client.get("/api/v1/scripts", &[]).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["system"] == true),
        "only the common scripts"
    );
    assert!(
        h.client.get("/api/v1/incidents", &[]).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.client.get("/api/v1/integrations", &[]).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The key never appears in listings.
    let listing = h
        .client
        .get("/api/v1/integrations", &[])
        .await
        .unwrap()
        .to_string();
    assert!(!listing.contains(&key) && !listing.contains(&gkey));
}

#[tokio::test]
async fn incident_actions_over_http() {
    let h = Harness::start(0).await;
    h.users(&["alice"]).await;
    let inc = h
        .client
        .post(
            "/api/v1/incidents",
            &json!({"title": "slow", "level": "P3", "assignee": "alice"}),
        )
        .await
        .unwrap();
    let id = inc["id"].as_str().unwrap();
    let act = |b: Value| {
        let c = h.client.clone();
        let p = format!("/api/v1/incidents/{id}/actions");
        async move { c.post(&p, &b).await }
    };
    let e = act(json!({"action": "change_level", "level": "P1", "reason": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(e, coc_client::ClientError::Api { status: 409, ref code, .. } if code == "invalid_transition"),
        "{e}"
    );
    assert!(act(json!({"action": "accept", "bogus": 1})).await.is_err());
    let v = act(json!({"action": "accept"})).await.unwrap();
    assert_eq!(v["status"], "accepted");
    let v = act(json!({"action": "resolve", "result": "fixed"}))
        .await
        .unwrap();
    assert_eq!(v["status"], "to_be_verified");
    let v = act(json!({"action": "verify", "passed": true}))
        .await
        .unwrap();
    assert_eq!(v["status"], "completed");
    assert_eq!(v["history"].as_array().unwrap().len(), 4);
    let list = h
        .client
        .get("/api/v1/incidents", &[("status", "completed".into())])
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["next_cursor"].is_null());
}

/// Route actions are typed (`Check::Action(Action::…)`); what is left to
/// check is that every `…/actions` wildcard covers actions of the catalog,
/// and that only public routes go unchecked.
#[test]
fn every_actions_route_covers_catalog_actions_and_only_public_routes_are_unchecked() {
    use coc_domain::access::{ACTIONS, glob};
    use coc_server::api::catalog::Check;
    for r in coc_server::api::routes() {
        match r.check {
            Check::BodyAction(w) => assert!(
                ACTIONS.iter().filter(|a| glob(w, a, true)).count() >= 2,
                "{} {}: '{w}' covers no actions of the catalog",
                r.method,
                r.path
            ),
            Check::Action(_) => assert!(r.auth),
            Check::Public => assert!(!r.auth && r.action().is_empty()),
        }
    }
}

/// A generic integration with a field mapping (M1) takes a webhook in the
/// sender's own shape — here Uptime Kuma's — without code: pointers find
/// the fields, a table turns its numeric status into COC's. A bad mapping
/// or a value outside the tables is refused and stores nothing; the
/// mapping, the name and a heartbeat's interval change with PUT, the type
/// never.
#[tokio::test]
async fn a_webhook_in_its_own_shape_is_taken_through_a_field_mapping() {
    let h = Harness::start(0).await;
    let t = Some(ADMIN);
    let mapping = json!({
        "fields": {"alarmName": "/monitor/name", "alarmStatus": "/heartbeat/status",
                   "alarmDesc": "/msg", "URL": "/monitor/url", "resourceName": "/monitor/hostname",
                   "time": "/heartbeat/timestamp"},
        "statuses": {"0": "alarm", "1": "ok"}
    });
    let bad =
        json!({"name": "kuma-bad", "type": "generic", "mapping": {"fields": {"title": "/x"}}});
    let (st, _, e) = raw(
        &h,
        "POST",
        "/api/v1/integrations",
        t,
        Some(bad.to_string().into()),
    )
    .await;
    assert_eq!(
        (st, e["code"].as_str()),
        (422, Some("validation_failed")),
        "{e}"
    );
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field 'title'"),
        "{e}"
    );
    let (st, _, e) = raw(
        &h,
        "POST",
        "/api/v1/integrations",
        t,
        Some(
            json!({"name": "am", "type": "alertmanager", "mapping": mapping})
                .to_string()
                .into(),
        ),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    let listed = h.client.get("/api/v1/integrations", &[]).await.unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing created"
    );
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "kuma", "type": "generic", "mapping": mapping}),
        )
        .await
        .unwrap();
    assert_eq!(integ["mapping"]["statuses"]["0"], "alarm");
    let key = integ["key"].as_str().unwrap();
    let ingest = format!("/ingest/{key}/generic");
    let send = |b: &Value| raw(&h, "POST", &ingest, None, Some(b.to_string().into()));
    let down = json!({
        "heartbeat": {"status": 0, "timestamp": 1764410400, "msg": "timeout"},
        "monitor": {"name": "shop", "url": "https://shop.example", "hostname": "shop-01"},
        "msg": "[shop] [Down] timeout"
    });
    let (st, _, o) = send(&down).await;
    assert_eq!((st, o["created"].as_i64()), (200, Some(1)), "{o}");
    let alarms = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    let a = &alarms["items"][0];
    assert_eq!(
        (
            a["name"].as_str(),
            a["status"].as_str(),
            a["resource_name"].as_str()
        ),
        (Some("shop"), Some("alarm"), Some("shop-01"))
    );
    assert_eq!(a["url"], "https://shop.example");
    assert_eq!(a["description"], "[shop] [Down] timeout");
    assert_eq!(a["started_at"], 1_764_410_400_000_i64);
    let mut up = down.clone();
    up["heartbeat"]["status"] = json!(1);
    let (st, _, o) = send(&up).await;
    assert_eq!((st, o["resolved"].as_i64()), (200, Some(1)), "{o}");
    let mut odd = down.clone();
    odd["heartbeat"]["status"] = json!(2);
    let (st, _, e) = send(&odd).await;
    assert_eq!(st, 422, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("'2'"), "{e}");
    let id = integ["id"].as_str().unwrap();
    let path = format!("/api/v1/integrations/{id}");
    let changed = h
        .client
        .put(
            &path,
            &json!({"name": "uptime-kuma", "mapping": {"fields": {"alarmName": "/msg"}}}),
        )
        .await
        .unwrap();
    assert_eq!(changed["name"], "uptime-kuma");
    assert_eq!(changed["mapping"]["fields"]["alarmName"], "/msg");
    let (st, _, e) = raw(
        &h,
        "PUT",
        &path,
        t,
        Some(br#"{"type": "grafana"}"#.to_vec()),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    let cleared = h
        .client
        .put(&path, &json!({"mapping": null}))
        .await
        .unwrap();
    assert!(cleared.get("mapping").is_none(), "{cleared}");
    let (st, _, _) = send(&down).await;
    assert_eq!(st, 422, "without a mapping the body needs alarmName");
}

/// Issue 19 (P1): patch baselines over the API — the defaults every
/// tenant starts with, a custom one created (trimmed, its application by
/// name), refused when wrong (and nothing stored), found by name.
#[tokio::test]
async fn patch_baselines_are_kept_per_tenant() {
    let h = Harness::start(0).await;
    h.applications(&["shop"]).await;
    let body = |v: Value| Some(serde_json::to_vec(&v).unwrap());
    let (status, _, list) = raw(&h, "GET", "/api/v1/patch-baselines", Some(ADMIN), None).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(
        names.contains(&"COC-Debian-Default") && names.contains(&"COC-Ubuntu-Default"),
        "{names:?}"
    );
    let web = json!({
        "name": " web-security ", "os": "Debian", "products": ["12"],
        "rules": {"type": "installation", "severities": ["critical", "important"],
                  "approval": {"type": "after_days", "days": 3}},
        "compliance_level": "high", "rejected": ["openssl*"],
        "applications": ["shop"], "host_tags": {"tier": "web"}
    });
    let (status, _, made) = raw(
        &h,
        "POST",
        "/api/v1/patch-baselines",
        Some(ADMIN),
        body(web.clone()),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["name"], "web-security");
    assert_eq!(made["os"], "debian");
    assert_eq!(made["applications"], json!(["shop"]), "answered by name");
    let (status, _, again) = raw(
        &h,
        "POST",
        "/api/v1/patch-baselines",
        Some(ADMIN),
        body(web),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    for (bad, why) in [
        (
            json!({"name": "x", "os": "debian", "rules": {"type": "installation", "approval": {"type": "after_days", "days": 400}}}),
            "365",
        ),
        (
            json!({"name": "x", "os": "debian", "rules": {"type": "custom", "patches": []}}),
            "1 to 1000",
        ),
        (
            json!({"name": "x", "os": "debian", "rules": {"type": "custom", "patches": [{"name": "a*b*", "version": "1"}]}}),
            "one *",
        ),
        (
            json!({"name": "x", "os": "debian", "applications": ["nope"], "rules": {"type": "custom", "patches": [{"name": "curl", "version": "1-2"}]}}),
            "nope",
        ),
    ] {
        let (status, ctype, p) = raw(
            &h,
            "POST",
            "/api/v1/patch-baselines",
            Some(ADMIN),
            body(bad),
        )
        .await;
        assert!(status == 422 || status == 400, "{status} {p}");
        assert!(ctype.starts_with("application/problem+json"), "{ctype}");
        assert!(p["detail"].as_str().unwrap_or("").contains(why), "{p}");
    }
    let (status, _, one) = raw(
        &h,
        "GET",
        "/api/v1/patch-baselines/web-security",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["rejected"], json!(["openssl*"]));
    let (_, _, list) = raw(
        &h,
        "GET",
        "/api/v1/patch-baselines?name=web",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
