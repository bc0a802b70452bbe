//! Outbound destinations (issue 14, finding 7): job HTTP atoms and
//! webhooks never reach link-local or metadata addresses by default, and
//! an operator's DENY list holds even for a name that resolves to a denied
//! address.

use serde_json::{Value, json};

use crate::harness::Harness;

/// Runs a one-step job whose HTTP atom calls `url`; the run's error.
async fn http_atom(h: &Harness, name: &str, url: &str) -> String {
    let hosts = h.wait_hosts(1).await;
    let job = h
        .client
        .post(
            "/api/v1/jobs",
            &json!({"name": name, "risk_level": "low", "steps": [{"name": "call", "tasks": [
                {"name": "call", "atom": {"type": "http", "url": url, "timeout_s": 5}}]}]}),
        )
        .await
        .unwrap();
    let t = h
        .client
        .post(
            &format!("/api/v1/jobs/{}/execute", job["id"].as_str().unwrap()),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let done = h
        .wait_job_ticket(t["id"].as_str().unwrap(), |t| {
            t["status"] != "executing" && t["status"] != "paused"
        })
        .await;
    let runs: Vec<&Value> = done["steps"][0]["hosts"][0]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(done["status"], "failed", "{done:#}");
    runs[0]["error"].as_str().unwrap_or_default().to_string()
}

/// Sends a test message to `url`; the first attempt's error.
async fn webhook(h: &Harness, url: &str) -> String {
    let d = h
        .client
        .post(
            "/api/v1/notifications/test",
            &json!({"channel": "webhook", "target": url}),
        )
        .await
        .unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    for _ in 0..200 {
        let log = h
            .client
            .get("/api/v1/notifications/deliveries", &[])
            .await
            .unwrap();
        if let Some(e) = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id.as_str())
            .and_then(|x| x["last_error"].as_str())
        {
            return e.to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no attempt of {url}");
}

#[tokio::test]
async fn metadata_addresses_are_denied_by_default() {
    let h = Harness::start(1).await;
    let e = http_atom(&h, "imds", "http://169.254.169.254/latest/meta-data/iam/").await;
    assert!(e.contains("link-local or cloud metadata"), "{e}");
    let e = webhook(&h, "http://169.254.169.254/hook").await;
    assert!(e.contains("link-local or cloud metadata"), "{e}");
    let e = webhook(&h, "http://[fe80::1]:8080/hook").await;
    assert!(e.contains("link-local or cloud metadata"), "{e}");
}

#[tokio::test]
async fn an_operator_deny_list_holds_after_dns() {
    let h = Harness::start_configured(1, |c| {
        c.egress = coc_domain::egress::Egress::new(&[], &["127.0.0.0/8".into()]).unwrap();
    })
    .await;
    let port = h.url().rsplit(':').next().unwrap().to_string();
    // By address and by a name that resolves to it.
    let e = http_atom(&h, "local", &format!("{}/healthz", h.url())).await;
    assert!(e.contains("denied by the egress rule 127.0.0.0/8"), "{e}");
    let e = webhook(&h, &format!("http://localhost:{port}/hook")).await;
    assert!(e.contains("denied by the egress rule 127.0.0.0/8"), "{e}");
}
