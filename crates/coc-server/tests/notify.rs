//! Notification delivery: a real local HTTP receiver that is down, then
//! up — the message arrives once, signed, and the log shows the retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::harness::Harness;

#[tokio::test]
async fn webhook_is_retried_until_the_receiver_is_up_and_delivered_once_signed() {
    let h = Harness::start(0).await;
    // A free port with nothing listening yet.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target = format!("http://127.0.0.1:{port}/hook");
    let d = h
        .client
        .post(
            "/api/v1/notifications/test",
            &json!({"channel": "webhook", "target": target, "secret": "hook-secret",
            "subject": "P1 INC42", "body": "database down"}),
        )
        .await
        .unwrap();
    let id = d["id"].as_str().unwrap().to_string();
    let log = |h: &Harness| {
        let c = h.client.clone();
        let id = id.clone();
        async move {
            let v = c
                .get("/api/v1/notifications/deliveries", &[])
                .await
                .unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == id.as_str())
                .cloned()
                .unwrap()
        }
    };
    let mut entry = Value::Null;
    for _ in 0..100 {
        entry = log(&h).await;
        if entry["attempts"].as_i64().unwrap() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(entry["status"], "pending", "{entry}");
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach"),
        "{entry}"
    );
    assert!(
        !entry.to_string().contains("hook-secret"),
        "the secret is never shown"
    );

    // The receiver comes up: it checks the signature and counts requests.
    let hits = Arc::new(AtomicUsize::new(0));
    let good = Arc::new(AtomicUsize::new(0));
    let (hits2, good2) = (hits.clone(), good.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (hits, good) = (hits2.clone(), good2.clone());
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                let sig = headers
                    .get("x-coc-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if coc_domain::notify::verify(b"hook-secret", &body, sig)
                    && v["subject"] == "P1 INC42"
                    && v["event"] == "test"
                {
                    good.fetch_add(1, Ordering::SeqCst);
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..200 {
        entry = log(&h).await;
        if entry["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(entry["status"], "delivered", "{entry}");
    assert!(entry["attempts"].as_i64().unwrap() >= 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1, "delivered exactly once");
    assert_eq!(
        good.load(Ordering::SeqCst),
        1,
        "with a valid signature and the webhook shape"
    );
    let delivered = h
        .client
        .get(
            "/api/v1/notifications/deliveries",
            &[("status", "delivered".into())],
        )
        .await
        .unwrap();
    assert_eq!(delivered["items"].as_array().unwrap().len(), 1);
    // Bad channels and targets are refused and queue nothing.
    assert!(
        h.client
            .post(
                "/api/v1/notifications/test",
                &json!({"channel": "pager", "target": target})
            )
            .await
            .is_err()
    );
    assert!(
        h.client
            .post(
                "/api/v1/notifications/test",
                &json!({"channel": "slack", "target": "ftp://x"})
            )
            .await
            .is_err()
    );
    server.abort();
}
