//! Ingest limits (issue 14, finding 3): alarms with 100,000 labels or a
//! generic payload with 100,000 fields are refused whole (422
//! problem+json), nothing is stored, and the real server's resident memory
//! stays within a bound across repeated attempts.

use serde_json::{Value, json};

use crate::support::Env;

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_alarms_are_refused_and_memory_stays_bounded() {
    let env = Env::new();
    let server = env.server(None).await;
    let pid = server.0.id();
    let key = |kind: &str| {
        let env = &env;
        let kind = kind.to_string();
        async move {
            let v = env
                .call(
                    "POST",
                    "/api/v1/integrations",
                    Some(json!({"name": format!("limits-{kind}"), "type": kind})),
                )
                .await;
            v["key"].as_str().unwrap().to_string()
        }
    };
    let (am, generic) = (key("alertmanager").await, key("generic").await);
    // 100,000 labels of about 80 bytes each: an 8 MB request.
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".into(), json!("Amplified"));
    for i in 0..100_000 {
        labels.insert(format!("label_{i:06}"), json!("x".repeat(64)));
    }
    let labels_body = serde_json::to_vec(&json!([{"labels": labels}])).unwrap();
    let mut fields = serde_json::Map::new();
    fields.insert("alarmName".into(), json!("Amplified"));
    for i in 0..100_000 {
        fields.insert(format!("field_{i:06}"), json!("y".repeat(64)));
    }
    let fields_body = serde_json::to_vec(&Value::Object(fields)).unwrap();
    assert!(labels_body.len() > 8_000_000 && fields_body.len() > 8_000_000);

    let post = |path: String, body: Vec<u8>| {
        let http = env.http.clone();
        let url = format!("{}{path}", env.url());
        async move {
            let r = http
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            (status, ct, r.json::<Value>().await.unwrap())
        }
    };
    let first = post(format!("/ingest/{am}/api/v2/alerts"), labels_body.clone()).await;
    let before = rss_kib(pid);
    for round in 0..10 {
        let (st, ct, v) = post(format!("/ingest/{am}/api/v2/alerts"), labels_body.clone()).await;
        assert_eq!((st, ct.as_str()), (422, "application/problem+json"), "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("100001 labels"),
            "{v}"
        );
        let (st, _, v) = post(format!("/ingest/{generic}/generic"), fields_body.clone()).await;
        assert_eq!(st, 422, "round {round}: {v}");
        assert!(
            v["detail"].as_str().unwrap().contains("extra fields"),
            "{v}"
        );
    }
    let after = rss_kib(pid);
    eprintln!("server RSS: {before} KiB after one refused request, {after} KiB after 20 more");
    assert_eq!(first.0, 422);
    // Nothing stored.
    let alarms = env.call("GET", "/api/v1/alarms", None).await;
    assert_eq!(alarms["items"].as_array().unwrap().len(), 0, "{alarms:#}");
    // 20 refused requests of 8 MB: the server does not keep them.
    assert!(
        after < before + 100 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );
    let size: u64 = ["coc.db", "coc.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(env.dir.path().join(f)).map_or(0, |m| m.len()))
        .sum();
    assert!(size < 20 << 20, "the database grew to {size} bytes");
}
