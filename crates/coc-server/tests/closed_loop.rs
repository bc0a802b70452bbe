//! The closed loop: Prometheus' payload in → alarm → incident → automatic
//! repair by a real agent → outcome in the incident's history.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::Harness;

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

#[tokio::test]
async fn prometheus_alarm_creates_incident_and_repairs_the_host() {
    let h = Harness::start(1).await;
    h.users(&["alice"]).await;
    let hosts = h
        .client
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap();
    let hostname = hosts["items"][0]["hostname"].as_str().unwrap().to_string();
    let key = &h.alertmanager_key().await;
    let script = h
        .script("restart", "echo \"restarting $SERVICE on $(hostname)\"")
        .await;
    h.client
        .post(
            "/api/v1/forwarding-rules",
            &json!({"name": "always", "conditions": [{"field": "alarmName", "op": "equals", "value": "PeerAlwaysFiring"},
                    {"field": "additional.team", "op": "equals", "value": "ops"}],
                    "incident_level": "P2", "assignee": "alice",
                    "contingency_script": {"script_id": script, "params": {"SERVICE": "web"}}}),
        )
        .await
        .unwrap();
    // The captured Prometheus body, with the alarm pointed at this host and
    // its endsAt moved into the future (Prometheus' way of saying "firing").
    let mut body: Value =
        serde_json::from_str(&fixture("prometheus-2.42-post-api-v2-alerts.json")).unwrap();
    let ends = chrono_like_future();
    for a in body.as_array_mut().unwrap() {
        a["endsAt"] = json!(ends);
        a["labels"]["instance"] = json!(format!("{hostname}:9100"));
    }
    let path = format!("/ingest/{key}/api/v2/alerts");
    let out = h
        .client
        .post_raw(&path, serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(out["created"], 2);
    assert_eq!(
        out["incidents_created"].as_array().unwrap().len(),
        1,
        "{out}"
    );
    // A resend (Prometheus does so every resend delay) dedups and creates nothing.
    let out2 = h
        .client
        .post_raw(&path, serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (out2["created"].as_i64(), out2["deduplicated"].as_i64()),
        (Some(0), Some(2))
    );
    assert!(out2["incidents_created"].as_array().unwrap().is_empty());

    let inc_id = out["incidents_created"][0].as_str().unwrap();
    let ticket_id = out["tickets_created"][0].as_str().unwrap();
    let t = h
        .wait_ticket(ticket_id, |t| t["status"] == "successful")
        .await;
    assert!(
        t["tasks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("restarting web on"),
        "{t:#}"
    );
    assert_eq!(t["tasks"][0]["exit_code"], 0);
    let mut inc = Value::Null;
    for _ in 0..100 {
        inc = h
            .client
            .get(&format!("/api/v1/incidents/{inc_id}"), &[])
            .await
            .unwrap();
        if inc["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "ticket_result")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hist = inc["history"].as_array().unwrap();
    let actions: Vec<&str> = hist.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec!["create", "auto_repair", "ticket_result"],
        "{inc:#}"
    );
    assert!(hist[2]["summary"].as_str().unwrap().contains("successful"));
    assert_eq!(inc["alarms"].as_array().unwrap().len(), 1);
    assert_eq!(inc["alarms"][0]["occurrences"], 2);
    assert_eq!(inc["level"], "P2");

    // The resolved payload turns the alarm ok.
    let resolved = fixture("prometheus-2.42-post-api-v2-alerts-resolved.json");
    h.client
        .post_raw(&path, resolved.into_bytes())
        .await
        .unwrap();
    let flapping = h
        .client
        .get("/api/v1/alarms", &[("name", "PeerFlapping".into())])
        .await
        .unwrap();
    assert_eq!(flapping["items"][0]["status"], "ok");
}

#[tokio::test]
async fn alertmanager_webhook_fixtures() {
    let h = Harness::start(0).await;
    h.users(&["alice"]).await;
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "am", "type": "alertmanager"}),
        )
        .await
        .unwrap();
    let key = integ["key"].as_str().unwrap();
    let path = format!("/ingest/{key}/alertmanager");
    h.client
        .post_raw(
            &path,
            fixture("alertmanager-webhook-v4-firing.json").into_bytes(),
        )
        .await
        .unwrap();
    let a = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    let item = &a["items"][0];
    for k in [
        "id",
        "fingerprint",
        "name",
        "level",
        "status",
        "occurrences",
        "first_seen",
        "last_seen",
        "source",
        "resource_id",
        "labels",
        "annotations",
    ] {
        assert!(item.get(k).is_some(), "alarm item lacks '{k}'");
    }
    assert_eq!(item["name"], "HighCPU");
    assert_eq!(item["level"], "Critical");
    assert_eq!(item["status"], "alarm");
    assert_eq!(item["source"], "Alertmanager");
    assert_eq!(item["resource_name"], "web-01:9100");
    assert_eq!(item["labels"]["team"], "ops");
    assert_eq!(item["annotations"]["summary"], "CPU above 90% on web-01");
    h.client
        .post_raw(
            &path,
            fixture("alertmanager-webhook-v4-resolved.json").into_bytes(),
        )
        .await
        .unwrap();
    let a = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    assert_eq!(a["items"].as_array().unwrap().len(), 1);
    assert_eq!(a["items"][0]["status"], "ok");
    assert_eq!(a["items"][0]["occurrences"], 2);
    let id = a["items"][0]["id"].as_str().unwrap();
    let hist = h
        .client
        .get(&format!("/api/v1/alarms/{id}/history"), &[])
        .await
        .unwrap();
    let kinds: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["fired", "resolved"]);
}

/// An RFC 3339 time five minutes from now.
fn chrono_like_future() -> String {
    (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339()
}

/// Handling an alarm (I1): a script chosen by name runs on the host the
/// alarm names (its `instance`), through the real agent, and the alarm's
/// history says so; an alarm naming no known host, both or neither of
/// script and job, and an unknown job are refused with the reason.
#[tokio::test]
async fn an_alarm_is_handled_with_a_script_on_its_host() {
    let h = Harness::start(1).await;
    h.wait_hosts(1).await;
    let hosts = h
        .client
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap();
    let hostname = hosts["items"][0]["hostname"].as_str().unwrap().to_string();
    h.script("restart", "echo \"restarting $SERVICE\"").await;
    let key = h.alertmanager_key().await;
    let body = json!([
        {"labels": {"alertname": "ServiceDown", "instance": format!("{hostname}:9100")}},
        {"labels": {"alertname": "ServiceDown", "instance": "nowhere.example:9100"}}
    ]);
    h.client
        .post_raw(
            &format!("/ingest/{key}/api/v2/alerts"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await
        .unwrap();
    let alarms = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    let id_of = |host: &str| {
        alarms["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["instance"].as_str().unwrap().starts_with(host))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (here, nowhere) = (id_of(&hostname), id_of("nowhere"));
    let handled = h
        .client
        .post(
            &format!("/api/v1/alarms/{here}/handle"),
            &json!({"script": "restart", "params": {"SERVICE": "api"}}),
        )
        .await
        .unwrap();
    assert_eq!(handled["kind"], "script");
    assert_eq!(handled["hosts"], json!([hostname]));
    let t = h
        .wait_ticket(handled["ticket_id"].as_str().unwrap(), |t| {
            t["status"] == "successful" || t["status"] == "failed"
        })
        .await;
    assert_eq!(t["status"], "successful", "{t:#}");
    assert_eq!(t["params"]["SERVICE"], "api");
    let history = h
        .client
        .get(&format!("/api/v1/alarms/{here}/history"), &[])
        .await
        .unwrap();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "handled");
    assert_eq!(
        last["detail"],
        format!(
            "script ticket {} on {hostname}",
            handled["number"].as_str().unwrap()
        )
    );
    for (alarm, body, code, says) in [
        (
            &nowhere,
            json!({"script": "restart"}),
            422,
            "no host matches",
        ),
        (
            &here,
            json!({"script": "restart", "job": "x"}),
            422,
            "either a script or a job",
        ),
        (&here, json!({}), 422, "either a script or a job"),
        (&here, json!({"job": "no-such-job"}), 404, "no-such-job"),
    ] {
        let (st, _, e) = crate::harness::request(
            &h,
            "POST",
            &format!("/api/v1/alarms/{alarm}/handle"),
            Some(crate::harness::ADMIN),
            Some(body.to_string().into()),
        )
        .await;
        assert_eq!(st, code, "{body}: {e}");
        assert!(e["detail"].as_str().unwrap().contains(says), "{e}");
    }
}

/// An integration set to `acknowledge: received` (decision 0031) is
/// answered once the alarms are in the ingest log, with only `accepted`
/// counted, and the alarm still becomes an incident right behind; set back
/// to `applied`, answers count again. A PagerDuty integration, whose
/// `resolve` looks up what its `trigger` made, cannot be set so.
#[tokio::test]
async fn received_alarms_become_incidents_right_behind_the_answer() {
    let h = Harness::start(0).await;
    h.users(&["alice"]).await;
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "prom-fast", "type": "alertmanager", "acknowledge": "received"}),
        )
        .await
        .unwrap();
    assert_eq!(integ["acknowledge"], "received");
    let (id, key) = (
        integ["id"].as_str().unwrap(),
        integ["key"].as_str().unwrap(),
    );
    h.client
        .post(
            "/api/v1/forwarding-rules",
            &json!({"name": "fast", "conditions": [{"field": "alarmName", "op": "equals", "value": "FastOne"}],
                    "incident_level": "P3", "assignee": "alice"}),
        )
        .await
        .unwrap();
    let body = json!([{"labels": {"alertname": "FastOne", "instance": "web-9:9100"},
                       "endsAt": chrono_like_future()}]);
    let path = format!("/ingest/{key}/api/v2/alerts");
    let out = h
        .client
        .post_raw(&path, serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    // PostgreSQL has no ingest log: `received` is answered as applied.
    let expected = match std::env::var("COC_TEST_SERVER_DB").as_deref() {
        Ok("postgres") => (json!(1), json!("applied"), json!(1)),
        _ => (json!(1), json!("received"), json!(0)),
    };
    assert_eq!(
        (&out["accepted"], &out["acknowledged"], &out["created"]),
        (&expected.0, &expected.1, &expected.2),
        "{out}"
    );
    let incidents = h
        .wait_until(
            "/api/v1/incidents",
            "the incident of a received alarm",
            |v| v["items"].as_array().is_some_and(|i| i.len() == 1),
        )
        .await;
    assert_eq!(incidents["items"][0]["level"], "P3");
    let back = h
        .client
        .put(
            &format!("/api/v1/integrations/{id}"),
            &json!({"acknowledge": "applied"}),
        )
        .await
        .unwrap();
    assert_eq!(back["acknowledge"], "applied");
    let out = h
        .client
        .post_raw(&path, serde_json::to_vec(&body).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (&out["acknowledged"], &out["deduplicated"]),
        (&json!("applied"), &json!(1)),
        "{out}"
    );
    let refused = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "pd", "type": "pagerduty", "acknowledge": "received"}),
        )
        .await;
    assert_eq!(
        crate::harness::refusal(refused),
        (422, "validation_failed".to_string())
    );
    let list = h.client.get("/api/v1/integrations", &[]).await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing made");
}
