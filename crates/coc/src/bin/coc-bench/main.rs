//! `coc-bench` — load tools measured against a running COC server.
//!
//! `coc-bench ingest`: creates an Alertmanager integration, then posts
//! alerts as Prometheus does (`POST …/api/v2/alerts`) in batches from
//! several connections and reports accepted alarms per second and
//! per-batch latency. Every batch is acknowledged only after COC has
//! committed it (fsync), so the figure is durable throughput. With
//! `--peer alertmanager` the same generator then runs, in the same run,
//! against a real Alertmanager (Debian `prometheus-alertmanager`, started
//! by the bench with a receiver that sends nowhere; it keeps alerts in
//! memory only) and the ratio is reported. `--prefill N` first stores N
//! other distinct alarms (not measured), to see the rate as the store
//! grows. `--acknowledge received` makes the bench integration answer once
//! the alarms are in the durable ingest log (decision 0031); the bench
//! then also waits until the server has applied them all
//! (`coc_ingest_backlog_alarms` back to 0) and reports that rate too:
//! the burst rate is what senders see, the applied rate is what the
//! server keeps up.
//!
//! ```text
//! coc-bench ingest --server http://127.0.0.1:8080 --token "$(cat coc-data/admin.token)" \
//!     --total 100000 --batch 100 --connections 4 --mode distinct --peer alertmanager --prefill 200000
//! ```
//!
//! `coc-bench reads`: the latency of the pages people open while alarms
//! pile up — alarm lists (newest, by status, filtered by a name that
//! matches all or none, by a level), the integrations list, the console
//! overview and alarm center — each requested `--rounds` times one after
//! another; reports p50/p99/max per page. Run it after `ingest --prefill`.
//!
//! ```text
//! coc-bench reads --token "$(cat coc-data/admin.token)" --rounds 50
//! ```
//!
//! `coc-bench resources`: registers `--total` resources through the API
//! (databases, caches, queues, load balancers … spread over 20
//! applications' regions and 3 regions; `--connections` at a time), then
//! times the resource list as people use it — the first page, a page
//! filtered by type and region, a search, the newest first, a page deep
//! in the list by its cursor, and the console's resource list, plain and
//! filtered — each `--rounds` times; reports p50/p99/max per page. With
//! `--total 0` it only times what is there.
//!
//! ```text
//! coc-bench resources --token "$(cat coc-data/admin.token)" --total 100000 --rounds 50
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
//!
//! `coc-bench fanout`: starts its own `coc server` (a fresh data dir, no
//! local agent) and `--agents` agents inside this process, each with its
//! own connection, identity and spool, then runs a trivial script on all
//! of them as one ticket (no batches) and reports the wall time from the
//! submit to the last result, over `--rounds` rounds, and the server's
//! resident memory per connected agent. The agents' state goes to
//! `--state-dir` (default `/dev/shm`): one disk shared by a thousand
//! simulated hosts would serialize the fsyncs that real hosts do in
//! parallel on their own disks.
//!
//! With `--tls` the server serves HTTPS with a certificate from a CA of
//! its own (as `coc dev --tls`) and every agent verifies it: the same run
//! over TLS.
//!
//! ```text
//! coc-bench fanout --agents 20 ; coc-bench fanout --agents 1000 --tls
//! ```
//!
//! With `--database-url postgres://…/db --replicas 2` it starts that many
//! servers on one PostgreSQL database, agent `i` connected to replica
//! `i % replicas` (the others as fallbacks), and submits every ticket to
//! replica 0: the other replica's agents are reached through the engine's
//! relay. `ingest --server URL,URL` spreads the connections over
//! replicas.
//!
//! `coc-bench patches`: patch scans of many hosts and the compliance
//! report's latency ([`patch`]).

mod fleet;
mod patch;

use fleet::{ServerProc, tempdir_in_tmp};

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
        /// Server URL; several (comma-separated) spread the connections
        /// over replicas.
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
        /// Run the same load against a real Alertmanager too (`alertmanager`).
        #[arg(long)]
        peer: Option<String>,
        /// Distinct alarms to store first (not measured).
        #[arg(long, default_value_t = 0)]
        prefill: usize,
        /// The bench integration's acknowledgement: applied or received.
        #[arg(long, default_value = "applied", value_parser = ["applied", "received"])]
        acknowledge: String,
    },
    /// Latency of alarm lists and console pages (p50/p99/max per page).
    Reads {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        #[arg(long, env = "COC_TOKEN", hide_env_values = true)]
        token: String,
        /// Requests per page.
        #[arg(long, default_value_t = 50)]
        rounds: usize,
    },
    /// Resource list latency (API and console) over many resources.
    Resources {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        #[arg(long, env = "COC_TOKEN", hide_env_values = true)]
        token: String,
        /// Resources to register first.
        #[arg(long, default_value_t = 100_000)]
        total: usize,
        /// Registrations in flight.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Requests per page.
        #[arg(long, default_value_t = 50)]
        rounds: usize,
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
        /// Convergence on: the probe rule groups by resource (each probe
        /// still its own group), and a second rule folds every background
        /// alarm into one incident by region.
        #[arg(long)]
        converge: bool,
        /// Silences to create first (regular-expression matchers that match
        /// no probe), so every alarm is checked against them.
        #[arg(long, default_value_t = 0)]
        silences: usize,
        /// The bench integration's acknowledgement: applied or received.
        #[arg(long, default_value = "applied", value_parser = ["applied", "received"])]
        acknowledge: String,
    },
    /// Script fan-out to N in-process agents, and server memory per agent.
    /// Patch scans of many hosts and the compliance report's latency
    /// (starts its own server; agents answer with a recorded report).
    Patches {
        /// Hosts (in-process agents).
        #[arg(long, default_value_t = 200)]
        hosts: usize,
        /// Packages each host reports.
        #[arg(long, default_value_t = 2000)]
        patches: usize,
        /// Of them, with an update offered.
        #[arg(long, default_value_t = 300)]
        offered: usize,
        /// Requests per page.
        #[arg(long, default_value_t = 50)]
        rounds: usize,
        /// Where the agents keep their state.
        #[arg(long, default_value = "/dev/shm")]
        state_dir: std::path::PathBuf,
        /// Database of the server (default: SQLite in a fresh data dir).
        #[arg(long)]
        database_url: Option<String>,
    },
    Fanout {
        /// Agents to start.
        #[arg(long, default_value_t = 20)]
        agents: usize,
        /// Tickets to run, one after another.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Where the agents keep their state.
        #[arg(long, default_value = "/dev/shm")]
        state_dir: std::path::PathBuf,
        /// Serve HTTPS (a CA of its own); the agents verify it.
        #[arg(long)]
        tls: bool,
        /// Database of the servers (default: SQLite in a fresh data dir).
        #[arg(long)]
        database_url: Option<String>,
        /// Servers to start on the database (more than one needs
        /// PostgreSQL).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
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
            peer,
            prefill,
            acknowledge,
        } => {
            if peer.as_deref().is_some_and(|p| p != "alertmanager") {
                bail!("--peer takes 'alertmanager'");
            }
            ingest(
                &server,
                &token,
                Load {
                    total,
                    batch: batch.max(1),
                    conns: connections.max(1),
                    mode,
                },
                peer.is_some(),
                prefill,
                &acknowledge,
            )
            .await
        }
        Cmd::Reads {
            server,
            token,
            rounds,
        } => reads(&server, &token, rounds.max(1)).await,
        Cmd::Resources {
            server,
            token,
            total,
            connections,
            rounds,
        } => {
            resources(
                &server,
                &token,
                total,
                connections.clamp(1, 64),
                rounds.max(1),
            )
            .await
        }
        Cmd::NotifyLatency {
            server,
            token,
            probes,
            probe_rate,
            background,
            converge,
            silences,
            acknowledge,
        } => {
            notify_latency(
                &server,
                &token,
                probes,
                probe_rate.max(1),
                background,
                (converge, silences),
                &acknowledge,
            )
            .await
        }
        Cmd::Patches {
            hosts,
            patches,
            offered,
            rounds,
            state_dir,
            database_url,
        } => {
            patch::run(
                hosts.clamp(1, 1000),
                patches,
                offered,
                rounds.max(1),
                &state_dir,
                database_url.as_deref(),
            )
            .await
        }
        Cmd::Fanout {
            agents,
            rounds,
            state_dir,
            tls,
            database_url,
            replicas,
        } => {
            if replicas > 1
                && !database_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("postgres"))
            {
                bail!("--replicas above 1 needs --database-url postgres://…");
            }
            fanout(
                agents.clamp(1, 1000),
                rounds.max(1),
                &state_dir,
                tls,
                database_url.as_deref(),
                replicas.clamp(1, 8),
            )
            .await
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// CPU time (user + system) of process `pid`, seconds.
fn cpu_s(pid: u32) -> f64 {
    cpu_fields(pid).0
}

/// (own CPU, CPU of waited-for children) of process `pid`, seconds.
fn cpu_fields(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (
        (ticks(11) + ticks(12)) / 100.0,
        (ticks(13) + ticks(14)) / 100.0,
    )
}

/// Resident memory of process `pid`, KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

/// Script fan-out: `n` agents, `rounds` tickets one after another.
async fn fanout(
    n: usize,
    rounds: usize,
    state: &std::path::Path,
    tls: bool,
    database_url: Option<&str>,
    replicas: usize,
) -> anyhow::Result<()> {
    let fleet = fleet::Servers::start(state, tls, database_url, replicas).await?;
    let pids = fleet.pids();
    let pid = pids[0];
    let client = fleet.client.clone();
    let rss0 = rss_kib(pid)?;
    let started = Instant::now();
    let agents = fleet.agents(n, None).await?;
    let hosts = agents.hosts.clone();
    println!(
        "{n} agents connected in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = rss_kib(pid)?;
    let script = client
        .post(
            "/api/v1/scripts",
            &json!({"name": "fanout", "type": "shell", "risk_level": "low", "content": "echo ok"}),
        )
        .await?;
    let sid = script["id"].as_str().context("script id")?.to_string();
    let mut times = Vec::new();
    let cpu0: f64 = pids.iter().map(|p| cpu_s(*p)).sum();
    let me0 = cpu_fields(std::process::id());
    for round in 0..rounds {
        let t0 = Instant::now();
        let submit_ms = unix_ms();
        let t = client
            .post(
                &format!("/api/v1/scripts/{sid}/execute"),
                &json!({"hosts": hosts, "batch_policy": "none"}),
            )
            .await?;
        let id = t["id"].as_str().context("ticket id")?.to_string();
        // Poll the cheap list (counts only); the figure comes from the
        // stored timestamps, on the same clock as `submit_ms`.
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let v = client
                .get("/api/v1/tickets", &[("limit", "1".into())])
                .await?;
            let t = &v["items"][0];
            if t["id"] == id.as_str() && t["status"] == "successful" {
                break;
            }
            if t["id"] == id.as_str() && t["status"] != "executing" {
                bail!("round {round}: ticket ended {}", t["status"]);
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("round {round}: not done after 60 s");
            }
        }
        let detail = client.get(&format!("/api/v1/tickets/{id}"), &[]).await?;
        let col = |k: &str| -> Vec<i64> {
            detail["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t[k].as_i64())
                .collect()
        };
        let (started, finished) = (col("started_at"), col("finished_at"));
        let last_start = started.iter().max().copied().unwrap_or(submit_ms) - submit_ms;
        let first_done = finished.iter().min().copied().unwrap_or(submit_ms) - submit_ms;
        let last_done = finished.iter().max().copied().unwrap_or(submit_ms) - submit_ms;
        let d = Duration::from_millis(last_done.max(0) as u64);
        println!(
            "round {}: {n} hosts, submit → last result {:.3} s (all dispatched at {last_start} ms, first result {first_done} ms)",
            round + 1,
            d.as_secs_f64()
        );

        times.push(d);
    }
    let rss2 = rss_kib(pid)?;
    println!(
        "server CPU during the rounds ({replicas} replica(s)): {:.2} s for {} tasks",
        pids.iter().map(|p| cpu_s(*p)).sum::<f64>() - cpu0,
        n * rounds
    );
    let me1 = cpu_fields(std::process::id());
    println!(
        "agents' CPU during the rounds: {:.2} s in the agents, {:.2} s in the scripts they ran",
        me1.0 - me0.0,
        me1.1 - me0.1
    );
    times.sort();
    println!(
        "fan-out to {n} agents: best {:.3} s, median {:.3} s, worst {:.3} s",
        times[0].as_secs_f64(),
        times[times.len() / 2].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
    println!(
        "server RSS: {} KiB idle, {} KiB with {n} agents connected ({:.1} KiB per agent), {} KiB after the runs",
        rss0,
        rss1,
        (rss1.saturating_sub(rss0)) as f64 / n as f64,
        rss2
    );
    drop(agents);
    drop(fleet);
    Ok(())
}

/// Receipt times of probe notifications, by probe resource id.
type Seen = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

async fn notify_latency(
    server: &str,
    token: &str,
    probes: usize,
    probe_rate: u32,
    background: u32,
    (converge, silences): (bool, usize),
    acknowledge: &str,
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
    let mut probe_rule = json!({"name": format!("bench-{run}"), "incident_level": "P3", "assignee": user,
            "conditions": [{"field": "region", "op": "equals", "value": region}]});
    if converge {
        probe_rule["converge"] = json!({"by": ["resource"], "window_minutes": 10});
        admin
            .post(
                "/api/v1/forwarding-rules",
                &json!({"name": format!("bench-bg-{run}"), "incident_level": "P4", "assignee": user,
                        "conditions": [{"field": "region", "op": "equals", "value": "bench"}],
                        "converge": {"by": ["region"], "window_minutes": 10}}),
            )
            .await?;
    }
    admin.post("/api/v1/forwarding-rules", &probe_rule).await?;
    for i in 0..silences {
        admin
            .post(
                "/api/v1/silences",
                &json!({"matchers": [format!("alertname=~\"Maintenance{i}.*\""), format!("resource_id=~\"db-{i}-.*\"")],
                        "duration_minutes": 120, "comment": "coc-bench"}),
            )
            .await?;
    }
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
            &json!({"name": format!("bench-{run}"), "type": "generic",
                    "acknowledge": acknowledge}),
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

/// One ingest load: how many alarms, how many per request, over how
/// many connections, distinct or repeated.
#[derive(Clone, Copy)]
struct Load {
    total: usize,
    batch: usize,
    conns: usize,
    mode: Mode,
}

/// Request bodies of `load` as Prometheus posts alerts (`/api/v2/alerts`),
/// firing for an hour; `run` keeps this run's alarms apart from others.
fn alert_bodies(run: &str, load: Load) -> Vec<Vec<u8>> {
    let ends = chrono::Utc::now() + chrono::Duration::hours(1);
    let ends = ends.to_rfc3339();
    (0..load.total.div_ceil(load.batch))
        .map(|b| {
            let n = load.batch.min(load.total - b * load.batch);
            let items: Vec<_> = (0..n)
                .map(|i| {
                    let id = match load.mode {
                        Mode::Distinct => format!("res-{run}-{}", b * load.batch + i),
                        Mode::Repeat => format!("res-{run}-same"),
                    };
                    json!({"labels": {"alertname": "BenchAlarm", "severity": "major", "instance": id,
                                      "region": "bench"},
                           "annotations": {"summary": "coc-bench load"}, "endsAt": ends})
                })
                .collect();
            serde_json::to_vec(&items).unwrap_or_default()
        })
        .collect()
}

/// Posts `bodies` to `urls` from `conns` connections (connection `c` to
/// `urls[c % len]`); the wall time and every batch's latency.
async fn blast(
    urls: &[String],
    bodies: Vec<Vec<u8>>,
    conns: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (next, bodies, url) = (next.clone(), bodies.clone(), urls[c % urls.len()].clone());
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
    lat.sort();
    Ok((start.elapsed().as_secs_f64(), lat))
}

/// One result line; the rate in alarms/s.
fn report(what: &str, load: Load, secs: f64, lat: &[Duration]) -> f64 {
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let rate = load.total as f64 / secs;
    println!(
        "{what} {:?}: {} alarms in {secs:.2} s = {rate:.0} alarms/s ({} connections, {}/request); \
         batch latency p50 {:.1} ms, p99 {:.1} ms",
        load.mode,
        load.total,
        load.conns,
        load.batch,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    rate
}

/// A real Alertmanager on a free port, with a receiver that sends nowhere;
/// its `/api/v2/alerts` URL. Killed when the returned process guard drops.
async fn start_alertmanager(dir: &std::path::Path) -> anyhow::Result<(ServerProc, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::create_dir_all(dir)?;
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n",
    )?;
    let child = std::process::Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting prometheus-alertmanager (Debian package prometheus-alertmanager)")?;
    let child = ServerProc(child);
    let ready = format!("http://127.0.0.1:{port}/-/ready");
    for _ in 0..100 {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok((child, format!("http://127.0.0.1:{port}/api/v2/alerts")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("Alertmanager did not become ready")
}

async fn ingest(
    server: &str,
    token: &str,
    load: Load,
    peer: bool,
    prefill: usize,
    acknowledge: &str,
) -> anyhow::Result<()> {
    let admin = coc_client::Client::new(server.split(',').next().unwrap_or(server), token)?;
    let run = format!("{:08x}", rand::random::<u32>());
    let integ = admin
        .post(
            "/api/v1/integrations",
            &json!({"name": format!("bench-{run}"), "type": "alertmanager",
                    "acknowledge": acknowledge}),
        )
        .await
        .context("creating the bench integration")?;
    let key = integ["key"]
        .as_str()
        .context("no key in the response")?
        .to_string();
    let urls: Vec<String> = server
        .split(',')
        .map(|s| {
            format!(
                "{}/ingest/{key}/api/v2/alerts",
                s.trim().trim_end_matches('/')
            )
        })
        .collect();
    if prefill > 0 {
        let fill = Load {
            total: prefill,
            batch: 1000.min(prefill),
            mode: Mode::Distinct,
            ..load
        };
        let (secs, lat) = blast(
            &urls,
            alert_bodies(&format!("{run}-fill"), fill),
            load.conns,
        )
        .await?;
        report("prefill COC", fill, secs, &lat);
        drained(server).await?;
    }
    let start = Instant::now();
    let (secs, lat) = blast(&urls, alert_bodies(&run, load), load.conns).await?;
    let ours = report(
        &format!(
            "COC ({} server(s), durable, acknowledged {acknowledge})",
            urls.len()
        ),
        load,
        secs,
        &lat,
    );
    if acknowledge == "received" {
        drained(server).await?;
        let all = start.elapsed().as_secs_f64();
        println!(
            "COC applied all {} alarms {all:.2} s after the first was sent = {:.0} alarms/s",
            load.total,
            load.total as f64 / all
        );
    }
    if peer {
        let dir = tempdir_in_tmp()?;
        let (_am, am_url) = start_alertmanager(&dir).await?;
        let (secs, lat) = blast(&[am_url], alert_bodies(&run, load), load.conns).await?;
        let theirs = report("Alertmanager (in memory)", load, secs, &lat);
        println!("ratio COC / Alertmanager: {:.2}", ours / theirs);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Waits until every server in `servers` (comma-separated) reports no
/// alarms logged and not yet applied (`coc_ingest_backlog_alarms` 0 on
/// `/metrics`), polling every 50 ms.
async fn drained(servers: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for s in servers.split(',') {
        let url = format!("{}/metrics", s.trim().trim_end_matches('/'));
        loop {
            let text = http.get(&url).send().await?.text().await?;
            let backlog = text
                .lines()
                .find_map(|l| l.strip_prefix("coc_ingest_backlog_alarms "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0);
            if backlog <= 0.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Pages of `coc-bench reads`: (label, path).
const READ_PAGES: &[(&str, &str)] = &[
    ("alarms, newest 100", "/api/v1/alarms?limit=100"),
    (
        "alarms firing, 100",
        "/api/v1/alarms?status=alarm&limit=100",
    ),
    (
        "alarms, name matching all",
        "/api/v1/alarms?name=bench&limit=100",
    ),
    (
        "alarms, name matching none",
        "/api/v1/alarms?name=no-such-alarm&limit=100",
    ),
    (
        "alarms, level critical (none)",
        "/api/v1/alarms?level=critical&limit=100",
    ),
    ("integrations", "/api/v1/integrations"),
    ("console overview", "/console"),
    ("console alarm center", "/console/alarms"),
];

/// Requests each of [`READ_PAGES`] `rounds` times, one after another.
async fn reads(server: &str, token: &str, rounds: usize) -> anyhow::Result<()> {
    let pages: Vec<(String, String)> = READ_PAGES
        .iter()
        .map(|(l, p)| (l.to_string(), p.to_string()))
        .collect();
    time_pages(server, token, &pages, rounds).await
}

/// Requests each page (label, path) `rounds` times, one after another, as
/// the signed-in admin; prints p50/p99/max per page.
async fn time_pages(
    server: &str,
    token: &str,
    pages: &[(String, String)],
    rounds: usize,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = server.trim_end_matches('/');
    println!("{rounds} requests per page, one at a time");
    for (label, path) in pages {
        let mut lat = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .header("cookie", format!("coc_session={token}"))
                .send()
                .await?;
            let status = r.status();
            let body = r.bytes().await?;
            if !status.is_success() {
                bail!("{path}: HTTP {status} {}", String::from_utf8_lossy(&body));
            }
            lat.push(t.elapsed());
        }
        lat.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1];
        println!(
            "{label:40} p50 {:7.1} ms  p99 {:7.1} ms  max {:7.1} ms",
            ms(p(0.5)),
            ms(p(0.99)),
            ms(lat[lat.len() - 1])
        );
    }
    Ok(())
}

/// Registers `total` resources (`conns` at a time), then times the
/// resource list's pages.
async fn resources(
    server: &str,
    token: &str,
    total: usize,
    conns: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let client = coc_client::Client::new(server, token)?;
    // (type, a field of it, its address field)
    const TYPES: [(&str, &str, &str); 4] = [
        ("database", "engine", "endpoint"),
        ("cache", "engine", "endpoint"),
        ("queue", "engine", "endpoint"),
        ("load_balancer", "algorithm", "address"),
    ];
    const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];
    let run = unix_ms();
    if total > 0 {
        let t = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = vec![];
        for _ in 0..conns {
            let (client, next) = (client.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return anyhow::Ok(());
                    }
                    let (t, field, address) = TYPES[i % TYPES.len()];
                    let body = serde_json::json!({
                        "type": t,
                        "name": format!("{t}-{run}-{i:06}"),
                        "region": REGIONS[i % REGIONS.len()],
                        "tags": {"team": format!("team-{}", i % 20)},
                        "attributes": {field: "x", address: format!("10.{}.{}.{}:5432", i / 65536 % 256, i / 256 % 256, i % 256)},
                    });
                    client.post("/api/v1/resources", &body).await?;
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "registered {total} resources in {s:.1} s ({:.0}/s, {conns} at a time)",
            total as f64 / s
        );
    }
    // A cursor 50 pages of 100 in.
    let mut cursor = String::new();
    for _ in 0..50 {
        let q: Vec<(&str, String)> = if cursor.is_empty() {
            vec![("limit", "100".into())]
        } else {
            vec![("limit", "100".into()), ("cursor", cursor.clone())]
        };
        let v = client.get("/api/v1/resources", &q).await?;
        match v["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let count = client
        .get("/api/v1/resources", &[("limit", "1".into())])
        .await?;
    anyhow::ensure!(
        count["items"].as_array().is_some_and(|a| !a.is_empty()),
        "no resources"
    );
    let pages: Vec<(String, String)> = [
        (
            "API first page (100, by name)",
            "/api/v1/resources?limit=100".to_string(),
        ),
        (
            "API type + region filtered page",
            "/api/v1/resources?type=database&region=eu-west-1&limit=100".into(),
        ),
        (
            "API search (name contains)",
            "/api/v1/resources?q=000123&limit=100".into(),
        ),
        (
            "API newest first",
            "/api/v1/resources?sort=-created_at&limit=100".into(),
        ),
        (
            "API page 51 by cursor",
            format!("/api/v1/resources?limit=100&cursor={cursor}"),
        ),
        ("console resource list", "/console/resources".into()),
        (
            "console list, databases in eu-west-1",
            "/console/resources?is.type=database&is.region=eu-west-1".into(),
        ),
    ]
    .into_iter()
    .map(|(l, p)| (l.to_string(), p))
    .collect();
    time_pages(server, token, &pages, rounds).await
}
