//! `coc-bench` — load tools measured against a running COC server.
//!
//! `coc-bench ingest`: creates a generic integration, then posts alarms in
//! batches from several connections and reports accepted alarms per second
//! and per-batch latency. Every batch is acknowledged only after COC has
//! committed it (fsync), so the figure is durable throughput.
//!
//! ```text
//! coc-bench ingest --server http://127.0.0.1:8080 --token "$(cat coc-data/admin.token)" \
//!     --total 100000 --batch 100 --connections 8 --mode distinct
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

#[derive(Parser)]
#[command(name = "coc-bench", about = "Benchmarks against a running COC server")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Copy, Clone, ValueEnum, PartialEq, Eq, Debug)]
enum Mode {
    /// Every alarm is new (a new row each).
    Distinct,
    /// The same alarm again and again (dedup: occurrences grow).
    Repeat,
}

#[derive(Subcommand)]
enum Cmd {
    /// Alarm ingest throughput.
    Ingest {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        #[arg(long, env = "COC_TOKEN", hide_env_values = true)]
        token: String,
        /// Alarms to send.
        #[arg(long, default_value_t = 100_000)]
        total: usize,
        /// Alarms per request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long, value_enum, default_value_t = Mode::Distinct)]
        mode: Mode,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coc_client::install_crypto();
    match Cli::parse().cmd {
        Cmd::Ingest {
            server,
            token,
            total,
            batch,
            connections,
            mode,
        } => {
            ingest(
                &server,
                &token,
                total,
                batch.max(1),
                connections.max(1),
                mode,
            )
            .await
        }
    }
}

async fn ingest(
    server: &str,
    token: &str,
    total: usize,
    batch: usize,
    conns: usize,
    mode: Mode,
) -> anyhow::Result<()> {
    let admin = coc_client::Client::new(server, token)?;
    let run = format!("{:08x}", rand::random::<u32>());
    let integ = admin
        .post(
            "/api/v1/integrations",
            &json!({"name": format!("bench-{run}"), "type": "generic"}),
        )
        .await
        .context("creating the bench integration")?;
    let key = integ["key"]
        .as_str()
        .context("no key in the response")?
        .to_string();
    let url = format!("{}/ingest/{key}/generic", server.trim_end_matches('/'));
    let batches = total.div_ceil(batch);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..batches)
            .map(|b| {
                let n = batch.min(total - b * batch);
                let items: Vec<_> = (0..n)
                    .map(|i| {
                        let id = match mode {
                            Mode::Distinct => format!("res-{run}-{}", b * batch + i),
                            Mode::Repeat => format!("res-{run}-same"),
                        };
                        json!({"alarmName": "BenchAlarm", "alarmLevel": "Major", "resourceId": id, "region": "bench",
                               "alarmDesc": "coc-bench load"})
                    })
                    .collect();
                serde_json::to_vec(&items).unwrap_or_default()
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (next, bodies, url) = (next.clone(), bodies.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()?;
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bodies.len() {
                    break;
                }
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(bodies[i].clone())
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!(
                        "batch {i}: HTTP {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "ingest {mode:?}: {total} alarms in {secs:.2} s = {:.0} alarms/s ({conns} connections, {batch}/request); \
         batch latency p50 {:.1} ms, p99 {:.1} ms",
        total as f64 / secs,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    Ok(())
}
