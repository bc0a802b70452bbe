//! `GET /metrics` (D4): Prometheus text with the ingest counters and
//! latency, engine round durations, queue depths, tickets by state and
//! connected agents — read without signing in, aggregates only.

use serde_json::json;

use crate::harness::{Harness, request};

/// The value of the sample `series` (name with its labels as rendered),
/// or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn scrape(h: &Harness) -> String {
    let (status, ct, body) = request(h, "GET", "/metrics", None, None).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    body.as_str().unwrap().to_string()
}

#[tokio::test]
async fn metrics_count_ingest_refusals_rounds_tickets_and_agents() {
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let before = scrape(&h).await;
    let integ = h
        .client
        .post(
            "/api/v1/integrations",
            &json!({"name": "prom-metrics", "type": "alertmanager"}),
        )
        .await
        .unwrap();
    let key = integ["key"].as_str().unwrap();
    h.client
        .post_raw(
            &format!("/ingest/{key}/api/v2/alerts"),
            br#"[{"labels":{"alertname":"A","instance":"m-1"}},{"labels":{"alertname":"B","instance":"m-1"}},
                {"labels":{"alertname":"C","instance":"m-1"}}]"#
                .to_vec(),
        )
        .await
        .unwrap();
    let (status, _, _) = request(
        &h,
        "POST",
        &format!("/ingest/{key}/api/v2/alerts"),
        None,
        Some(b"[{\"labels\":".to_vec()),
    )
    .await;
    assert_eq!(status, 400);
    let s = h.script("metrics-echo", "echo hi").await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{s}/execute"),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    h.wait_ticket(t["id"].as_str().unwrap(), |t| t["status"] == "successful")
        .await;
    let after = scrape(&h).await;
    let grew = |series: &str| sample(&after, series) - sample(&before, series);
    // Other tests in this process count into the same recorder: at least.
    assert!(
        grew(r#"coc_alarms_ingested_total{format="prometheus_v2"}"#) >= 3.0,
        "{after}"
    );
    assert!(grew(r#"coc_alarms_refused_total{reason="malformed_json"}"#) >= 1.0);
    assert!(grew(r#"coc_ingest_batch_seconds_count{format="prometheus_v2"}"#) >= 1.0);
    for round in ["tickets", "incident_events", "escalation", "deliveries"] {
        assert!(
            sample(
                &after,
                &format!(r#"coc_round_seconds_count{{round="{round}"}}"#)
            ) >= 1.0,
            "round {round} is timed"
        );
    }
    // Gauges are this server's own, read at the scrape.
    assert_eq!(
        sample(&after, r#"coc_tickets{kind="script",status="successful"}"#),
        1.0
    );
    assert_eq!(sample(&after, r#"coc_queue_depth{queue="tickets"}"#), 0.0);
    assert_eq!(sample(&after, "coc_agents_connected"), 1.0);
    assert!(after.contains("# TYPE coc_ingest_batch_seconds histogram"));
    // Aggregates only: no host, alarm or integration names.
    for secret in [key, "m-1", "prom-metrics", hosts[0].as_str()] {
        assert!(!after.contains(secret), "{secret} leaked into /metrics");
    }
}
