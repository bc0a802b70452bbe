//! The PagerDuty Events API v2 path with PagerDuty's own Python client
//! (PyPI `pagerduty`, `EventsApiV2Client` with its `url` set to COC). The
//! client takes only `https://` base URLs, so this runs over COC's own TLS,
//! the client trusting COC's CA the ordinary way (`SSL_CERT_FILE`).

use serde_json::Value;

use crate::support::Env;

/// What the script does with PagerDuty's client: trigger twice with one
/// dedup key, acknowledge, trigger without a key, then resolve the first.
const SCRIPT: &str = r#"
import json, sys
import pagerduty
key, url = sys.argv[1], sys.argv[2]
events = pagerduty.EventsApiV2Client(key)
events.url = url
out = {}
out["first"] = events.trigger("Disk full on web-1", "web-1", dedup_key="disk-web-1",
                              severity="warning")
out["second"] = events.trigger("Disk full on web-1", "web-1", dedup_key="disk-web-1",
                               severity="critical", custom_details={"mount": "/var", "free": 0})
out["ack"] = events.acknowledge("disk-web-1")
out["fresh"] = events.trigger("Backup missed", "db-1", severity="error")
out["resolve"] = events.resolve("disk-web-1")
bad = pagerduty.EventsApiV2Client("not-a-coc-key")
bad.url = url
try:
    bad.trigger("x", "y")
    out["bad"] = "accepted"
except pagerduty.Error as e:
    out["bad"] = str(getattr(e, "response", None) and e.response.status_code)
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerdutys_own_client_triggers_acknowledges_and_resolves() {
    let has_client = std::process::Command::new("python3")
        .args(["-c", "import pagerduty"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_client {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PyPI pagerduty (PagerDuty's client) is required in CI"
        );
        eprintln!("skipped: python3 -m pip install pagerduty");
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let tls = coc_server::tls::dev_certificates(certs.path(), &[]).unwrap();
    let env = Env::tls(&tls.cert, &tls.key, &tls.ca);
    let _server = env.server(None).await;
    let integ = env
        .call(
            "POST",
            "/api/v1/integrations",
            Some(serde_json::json!({"name": "pd", "type": "pagerduty"})),
        )
        .await;
    let key = integ["key"].as_str().unwrap().to_string();
    let base = format!("{}/ingest/pagerduty", env.url());
    let ca = tls.ca.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", SCRIPT, &key, &base])
            .env("SSL_CERT_FILE", &ca)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(r["first"], "disk-web-1");
    assert_eq!(r["second"], "disk-web-1");
    assert_eq!(r["resolve"], "disk-web-1");
    assert!(r["fresh"].as_str().is_some_and(|k| k.len() == 36), "{r}");
    assert_eq!(r["bad"], "401", "{r}");
    // Two triggers with one key: one alarm with 2 occurrences, resolved.
    let list = env
        .call("GET", "/api/v1/alarms?labels=dedup_key%3Ddisk-web-1", None)
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let a = &items[0];
    assert_eq!(a["occurrences"], 3, "two triggers and the resolve: {a}");
    assert_eq!(a["status"], "ok");
    assert_eq!(a["name"], "Disk full on web-1");
    assert_eq!(a["level"], "Critical", "the second trigger's severity");
    assert_eq!(a["source"], "PagerDuty");
    assert_eq!(a["resource_name"], "web-1");
    assert_eq!(
        a["additional"]["mount"], "/var",
        "the last trigger's details"
    );
    assert_eq!(a["additional"]["free"], "0");
    let hist = env
        .call(
            "GET",
            &format!("/api/v1/alarms/{}/history", a["id"].as_str().unwrap()),
            None,
        )
        .await;
    let kinds: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"acknowledged"), "{kinds:?}");
    assert!(kinds.contains(&"resolved"), "{kinds:?}");
    let fresh = env
        .call(
            "GET",
            &format!(
                "/api/v1/alarms?labels=dedup_key%3D{}",
                r["fresh"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(fresh["items"][0]["level"], "Major");
    assert_eq!(fresh["items"][0]["status"], "alarm");
}
