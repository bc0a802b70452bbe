//! The notifier (O4): sends due deliveries of the queue over HTTP, all of
//! a round concurrently with a 10 s timeout each, so one channel that is
//! down never holds up the others — nor incident handling, which only
//! enqueues. Webhook bodies carry `X-COC-Signature` when the delivery has a
//! secret. Each attempt is recorded; failures are retried with backoff.

use std::time::Duration;

use coc_store::notify::Due;
use futures_util::future::join_all;

use crate::AppState;

/// Runs forever.
pub async fn run(state: AppState) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "notifier cannot start its HTTP client");
            return;
        }
    };
    loop {
        if let Err(e) = round(&state, &http).await {
            tracing::warn!(error = %e, "notifier round failed");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn send(http: &reqwest::Client, d: &Due) -> Option<String> {
    let mut rb = http
        .post(&d.target)
        .header("content-type", "application/json")
        .body(d.body.clone());
    if let Some(secret) = &d.secret {
        rb = rb.header(
            "x-coc-signature",
            coc_domain::notify::sign(secret.as_bytes(), d.body.as_bytes()),
        );
    }
    match rb.send().await {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Some(format!("cannot reach {}: {e}", d.target)),
    }
}

/// One round: every due delivery, concurrently.
///
/// Errors: a store error; the next round retries.
pub async fn round(state: &AppState, http: &reqwest::Client) -> Result<(), coc_store::StoreError> {
    let due = state.store.due_deliveries(100).await?;
    let results = join_all(due.iter().map(|d| send(http, d))).await;
    for (d, err) in due.iter().zip(results) {
        if let Some(e) = &err {
            tracing::info!(delivery = %d.id, attempt = d.attempts + 1, error = %e, "delivery failed");
        }
        state.store.record_attempt(&d.id, err.as_deref()).await?;
    }
    Ok(())
}
