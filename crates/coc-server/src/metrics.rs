//! `GET /metrics` in the Prometheus text format (D4). Counters and
//! histograms are recorded where things happen (ingest, engine rounds,
//! deliveries); gauges (queue depths, tickets and deliveries by state,
//! connected agents) are read from the store when Prometheus scrapes.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `coc_alarms_ingested_total` | counter | `format` |
//! | `coc_alarms_refused_total` | counter | `reason` (the problem code) |
//! | `coc_ingest_batch_seconds` | histogram | `format` |
//! | `coc_round_seconds` | histogram | `round` |
//! | `coc_round_errors_total` | counter | `round` |
//! | `coc_deliveries_sent_total` | counter | `channel`, `outcome` (`delivered`, `failed`, `fenced`) |
//! | `coc_queue_depth` | gauge | `queue` |
//! | `coc_tickets` | gauge | `kind`, `status` |
//! | `coc_deliveries` | gauge | `status` |
//! | `coc_agents_connected` | gauge | — |
//! | `coc_ingest_backlog_alarms` | gauge | — (alarms acknowledged as received, not yet applied) |
//!
//! The endpoint needs no sign-in (as Prometheus scrapes it) and shows only
//! aggregate counts: no names, hosts or ids. Restrict it at the reverse
//! proxy when that is too much.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::error::ApiError;

/// Alarms accepted and committed.
pub const ALARMS_INGESTED: &str = "coc_alarms_ingested_total";
/// Ingest requests refused (nothing stored), by problem code.
pub const ALARMS_REFUSED: &str = "coc_alarms_refused_total";
/// Time from an ingest request's body to its commit, seconds.
pub const INGEST_BATCH_SECONDS: &str = "coc_ingest_batch_seconds";
/// Duration of one pass of an engine round, seconds.
pub const ROUND_SECONDS: &str = "coc_round_seconds";
/// Engine round passes that ended in an error.
pub const ROUND_ERRORS: &str = "coc_round_errors_total";
/// Delivery attempts by channel and outcome.
pub const DELIVERIES_SENT: &str = "coc_deliveries_sent_total";

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use (one per process: every
/// server in it reports into it).
pub fn handle() -> &'static PrometheusHandle {
    static H: OnceLock<PrometheusHandle> = OnceLock::new();
    H.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("static buckets are valid")
            .build_recorder();
        let h = recorder.handle();
        // Another recorder may be installed already (an embedding
        // program); the figures then go there.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        h
    })
}

fn describe() {
    metrics::describe_counter!(ALARMS_INGESTED, "Alarms accepted and committed.");
    metrics::describe_counter!(
        ALARMS_REFUSED,
        "Ingest requests refused whole, by problem code."
    );
    metrics::describe_histogram!(
        INGEST_BATCH_SECONDS,
        metrics::Unit::Seconds,
        "Time to parse and commit one ingest request."
    );
    metrics::describe_histogram!(
        ROUND_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one pass of an engine round."
    );
    metrics::describe_counter!(ROUND_ERRORS, "Engine round passes that failed.");
    metrics::describe_counter!(DELIVERIES_SENT, "Delivery attempts by channel and outcome.");
    metrics::describe_gauge!("coc_queue_depth", "Work due or in flight per engine queue.");
    metrics::describe_gauge!("coc_tickets", "Tickets by kind and state.");
    metrics::describe_gauge!("coc_deliveries", "Deliveries by state.");
    metrics::describe_gauge!("coc_agents_connected", "Agents connected to this server.");
    metrics::describe_gauge!(
        "coc_ingest_backlog_alarms",
        "Alarms in the ingest log not yet applied (decision 0031)."
    );
}

/// Times `f`, one pass of engine round `round`, into [`ROUND_SECONDS`];
/// an error is counted and logged, and the next pass retries.
pub async fn round<T, E: std::fmt::Display>(
    name: &'static str,
    f: impl Future<Output = Result<T, E>>,
) -> Option<T> {
    let t = Instant::now();
    let r = f.await;
    metrics::histogram!(ROUND_SECONDS, "round" => name).record(t.elapsed().as_secs_f64());
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            metrics::counter!(ROUND_ERRORS, "round" => name).increment(1);
            tracing::warn!(round = name, error = %e, "engine round failed");
            None
        }
    }
}

/// `GET /metrics`.
pub async fn scrape(State(s): State<AppState>) -> axum::response::Response {
    let h = handle();
    let g = match s.store.gauges(s.store.now()).await {
        Ok(g) => g,
        Err(e) => return ApiError::from(e).into_response(),
    };
    for (queue, n) in &g.queues {
        metrics::gauge!("coc_queue_depth", "queue" => *queue).set(*n as f64);
    }
    for (kind, status, n) in &g.tickets {
        metrics::gauge!("coc_tickets", "kind" => *kind, "status" => status.clone()).set(*n as f64);
    }
    for (status, n) in &g.deliveries {
        metrics::gauge!("coc_deliveries", "status" => status.clone()).set(*n as f64);
    }
    metrics::gauge!("coc_agents_connected").set(s.agents.count() as f64);
    metrics::gauge!("coc_ingest_backlog_alarms").set(s.store.ingest_backlog() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.render(),
    )
        .into_response()
}
