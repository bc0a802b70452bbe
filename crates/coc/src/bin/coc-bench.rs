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
//!
//! `coc-bench notify-latency`: the time from an alarm arriving at COC to a
//! webhook receiver (in this process) getting the incident notification —
//! through ingest, the forwarding rule, the incident, the event outbox,
//! the notification rule, the delivery queue and the notifier — while a
//! background load of distinct alarms (that match no rule) runs at
//! `--background` alarms/s. Reports p50/p99/max over `--probes` alarms.
//!
//! ```text
//! coc-bench notify-latency --token "$(cat coc-data/admin.token)" --probes 300 --background 1000
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
    /// Alarm → webhook notification latency under background load.
    NotifyLatency {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        #[arg(long, env = "COC_TOKEN", hide_env_values = true)]
        token: String,
        /// Probe alarms (each makes an incident and a notification).
        #[arg(long, default_value_t = 300)]
        probes: usize,
        /// Probes per second.
        #[arg(long, default_value_t = 20)]
        probe_rate: u32,
        /// Background alarms per second (distinct, matching no rule).
        #[arg(long, default_value_t = 1000)]
        background: u32,
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
        Cmd::NotifyLatency {
            server,
            token,
            probes,
            probe_rate,
            background,
        } => notify_latency(&server, &token, probes, probe_rate.max(1), background).await,
    }
}

/// Receipt times of probe notifications, by probe resource id.
type Seen = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

async fn notify_latency(
    server: &str,
    token: &str,
    probes: usize,
    probe_rate: u32,
    background: u32,
) -> anyhow::Result<()> {
    let admin = coc_client::Client::new(server, token)?;
    let run = format!("{:08x}", rand::random::<u32>());
    // The receiver: records when each probe's notification arrives.
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = s2.clone();
            async move {
                let at = Instant::now();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(subject) = v["subject"].as_str()
                    && let Some(i) = subject.find("probe-")
                {
                    let id: String = subject[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect();
                    seen.lock().expect("seen").entry(id).or_insert(at);
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", l.local_addr()?);
    tokio::spawn(async move { axum::serve(l, app).await });

    let user = format!("bench-{run}");
    admin.post("/api/v1/users", &json!({"name": user})).await?;
    admin
        .put(
            &format!("/api/v1/engineers/{user}"),
            &json!({"contacts": {"webhook": hook}}),
        )
        .await?;
    let region = format!("probe-region-{run}");
    admin
        .post(
            "/api/v1/forwarding-rules",
            &json!({"name": format!("bench-{run}"), "incident_level": "P3", "assignee": user,
                    "conditions": [{"field": "region", "op": "equals", "value": region}]}),
        )
        .await?;
    admin
        .post(
            "/api/v1/notification-rules",
            &json!({"name": format!("bench-{run}"), "templates": ["incident_created"], "regions": [region],
                    "recipients": [{"type": "individual", "users": [user]}], "channels": ["webhook"]}),
        )
        .await?;
    let integ = admin
        .post(
            "/api/v1/integrations",
            &json!({"name": format!("bench-{run}"), "type": "generic"}),
        )
        .await?;
    let url = format!(
        "{}/ingest/{}/generic",
        server.trim_end_matches('/'),
        integ["key"].as_str().context("no key")?
    );

    // Background: `background` alarms/s in batches of 10 every 10 ms.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bg = {
        let (url, stop, run) = (url.clone(), stop.clone(), run.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let per_tick = (background as usize).div_ceil(100).max(1);
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0usize;
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) && background > 0 {
                tick.tick().await;
                let items: Vec<_> = (0..per_tick)
                    .map(|i| {
                        json!({"alarmName": "BenchBackground", "alarmLevel": "Minor",
                                    "resourceId": format!("bg-{run}-{}", n + i), "region": "bench"})
                    })
                    .collect();
                n += per_tick;
                if let Ok(r) = http.post(&url).json(&items).send().await
                    && r.status().is_success()
                {
                    sent += per_tick;
                }
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let http = reqwest::Client::new();
    let mut sent_at = Vec::with_capacity(probes);
    let mut acks: Vec<Duration> = Vec::with_capacity(probes);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / probe_rate);
    let started = Instant::now();
    for i in 0..probes {
        tick.tick().await;
        let id = format!("probe-{run}-{i}");
        let t = Instant::now();
        let r = http
            .post(&url)
            .json(&json!([{"alarmName": "NotifyProbe", "alarmLevel": "Major", "resourceId": id, "resourceName": id, "region": region}]))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("probe {i}: HTTP {}", r.status());
        }
        acks.push(t.elapsed());
        sent_at.push((id, t));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("seen").len() < probes && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let bg_sent = bg.await.unwrap_or(0);
    let seen = seen.lock().expect("seen").clone();
    let mut lat: Vec<Duration> = sent_at
        .iter()
        .filter_map(|(id, t)| seen.get(id).map(|r| r.saturating_duration_since(*t)))
        .collect();
    lat.sort();
    if lat.is_empty() {
        bail!("no notification arrived");
    }
    acks.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "notify-latency: {}/{probes} notifications received; alarm → webhook p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         (ingest acknowledged p50 {:.2} ms, p99 {:.2} ms); background {:.0} alarms/s",
        lat.len(),
        ms(pct(&lat, 0.50)),
        ms(pct(&lat, 0.99)),
        ms(*lat.last().expect("non-empty")),
        ms(pct(&acks, 0.50)),
        ms(pct(&acks, 0.99)),
        bg_sent as f64 / (elapsed + 1.0)
    );
    Ok(())
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
