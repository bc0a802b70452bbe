//! The ingest log (issue 17, decision 0031): alarms of integrations set to
//! `acknowledge: received` are answered once they are durably in this log,
//! and applied right behind by the group-commit writer.
//!
//! ## Loop
//! One appender task takes every queued log request (up to
//! [`MAX_LOG_GROUP`] requests), writes each as one row of `ingest_log`
//! (the body as the sender sent it, or normalized alarms: [`Body`])
//! with one INSERT in its own database file (`<database>.ingest`, WAL,
//! `synchronous=FULL`: one fsync per group), and after that commit hands
//! each request to the writer ([`super::Ack::Logged`]) and answers it. The
//! log is a file of its own so its appends never wait for the writer's
//! transactions on the main database (SQLite has one writer per file).
//!
//! ## Exactly once
//! The writer stores the highest sequence number it applied
//! (`ingest_applied`) in the same transaction as the alarms; the appender
//! deletes the rows up to it (at most every 100 ms). At start, rows above
//! the mark are handed to the writer before any new request: what was
//! acknowledged and not yet applied when the process died is applied once.
//!
//! ## Back-pressure
//! Past [`MAX_BACKLOG`] alarms logged and not applied (or a full writer
//! queue, [`super::WRITER_QUEUE`] requests) the appender waits, and so do
//! the senders, so the backlog (and the memory it takes) stays bounded.
//!
//! PostgreSQL and in-memory SQLite have no log: `received` is answered as
//! `applied` there.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coc_domain::DomainError;
use coc_domain::alarm::{BodyFormat, NormalizedAlarm};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use super::{Ack, Request};
use crate::{Backend, Result, Store, StoreError};

/// Most requests one log transaction takes.
pub const MAX_LOG_GROUP: usize = 256;

/// A request's alarms as its log row holds them (decision 0032): the
/// sender's body in a fixed format with the time it was received, or
/// COC's normalized alarms as JSON ([`BodyFormat`]).
#[derive(Debug, Clone)]
pub struct Body {
    /// How `bytes` is parsed.
    pub format: BodyFormat,
    /// When the request was received, Unix ms UTC (what its parser takes
    /// as "now").
    pub received_at: i64,
    /// The body.
    pub bytes: Bytes,
}

impl Body {
    /// A body in a fixed sender format, as received at `received_at`.
    pub fn received(format: BodyFormat, received_at: i64, bytes: Bytes) -> Self {
        Body {
            format,
            received_at,
            bytes,
        }
    }

    /// The alarms it holds: the same as when it was validated.
    ///
    /// Errors: [`DomainError::Validation`] when the format refuses it.
    pub(crate) fn alarms(&self) -> std::result::Result<Vec<NormalizedAlarm>, DomainError> {
        self.format.parse(&self.bytes, self.received_at)
    }
}

/// One request to log: its body (made or kept by the sender's task, so
/// that work runs in parallel) and how many alarms it holds.
pub(crate) struct LogRequest {
    tenant: String,
    integration_id: String,
    count: usize,
    body: Body,
    reply: oneshot::Sender<Result<()>>,
}

/// Counters shared by the appender and the writer.
pub(crate) struct LogState {
    /// The highest sequence number applied (committed with its alarms).
    pub(crate) applied: AtomicI64,
    /// Alarms logged and not yet applied.
    pub(crate) backlog: AtomicI64,
    /// When the appender last committed, µs since `epoch`.
    appended: AtomicI64,
    epoch: Instant,
}

impl Default for LogState {
    fn default() -> Self {
        LogState {
            applied: AtomicI64::new(0),
            backlog: AtomicI64::new(0),
            appended: AtomicI64::new(i64::MIN / 2),
            epoch: Instant::now(),
        }
    }
}

/// A burst is on while the appender committed less than this ago (µs).
const BURST_GAP_US: i64 = 20_000;
/// The longest the writer leaves logged alarms waiting for a burst to
/// pass (ms): their incidents are at most this much later.
pub const MAX_DEFER_MS: u64 = 1_000;
/// Below this backlog (alarms; a full group of the writer) there is no
/// burst: what arrives is applied at once.
pub const DEFER_FROM: i64 = crate::alarm::MAX_GROUP_ALARMS as i64;
/// Past this backlog (alarms) the writer applies even during a burst.
pub const DEFER_BACKLOG: i64 = MAX_BACKLOG;
/// Most alarms logged and not yet applied: past it the appender waits for
/// the writer (and so do senders), which bounds the lag and the memory
/// the backlog takes (about 1 KiB per alarm).
pub const MAX_BACKLOG: i64 = 100_000;

impl LogState {
    fn mark_appended(&self) {
        let us = self.epoch.elapsed().as_micros() as i64;
        self.appended.store(us, Ordering::Relaxed);
    }

    /// Whether a burst of logged requests is arriving: the appender
    /// committed within [`BURST_GAP_US`] and the backlog is between
    /// [`DEFER_FROM`] and [`DEFER_BACKLOG`]. A steady stream the writer
    /// keeps up with never has that backlog, so it is never deferred.
    pub(crate) fn burst(&self) -> bool {
        let now = self.epoch.elapsed().as_micros() as i64;
        let backlog = self.backlog.load(Ordering::Relaxed);
        now - self.appended.load(Ordering::Relaxed) < BURST_GAP_US
            && (DEFER_FROM..DEFER_BACKLOG).contains(&backlog)
    }
}

/// Sender side of the appender; without a sender (PostgreSQL, in-memory
/// SQLite, or before [`open`]) there is no log.
#[derive(Clone, Default)]
pub(crate) struct LogHandle {
    tx: Option<mpsc::Sender<LogRequest>>,
    pub(crate) state: Arc<LogState>,
}

/// The log's file for the main database URL: `<path>.ingest`; `None` for
/// an in-memory database.
fn log_path(url: &str) -> Option<String> {
    crate::sqlite_file(url).map(|p| format!("{p}.ingest"))
}

/// Opens (creating) the log beside the SQLite database at `url`, and
/// starts the appender: first it hands the writer what a previous process
/// logged and did not apply, then it takes new requests.
///
/// Errors: [`StoreError::Db`] when the log file cannot be opened or read.
pub(crate) async fn open(store: &Store, url: &str) -> Result<LogHandle> {
    let (Backend::Sqlite, Some(path)) = (store.backend, log_path(url)) else {
        return Ok(LogHandle::default());
    };
    let Some(writer) = store.alarms.0.clone() else {
        return Ok(LogHandle::default());
    };
    crate::private_sqlite_files(&format!("sqlite://{path}"))?;
    // 16 KiB pages (a new file's; an older file keeps its own): a
    // request's body (about 18 KB for 100 alarms as Prometheus sends
    // them) is one page and an overflow page, and a commit rewrites no
    // more than that; 64 KiB pages made each commit write a whole page
    // whatever it appended, 4 KiB ones a chain of five (decision 0032).
    // No automatic checkpoint on the appender's commits: a task of its own checkpoints on a second
    // connection, which in WAL mode does not hold the appender up; a WAL
    // that has started over is cut back to 64 MiB.
    let pool = AnyPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                     PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864; \
                     PRAGMA busy_timeout=10000;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(&format!("sqlite://{path}?mode=rwc"))
        .await?;
    pool.execute(
        "CREATE TABLE IF NOT EXISTS ingest_log (seq INTEGER PRIMARY KEY, \
         tenant_id TEXT NOT NULL, integration_id TEXT NOT NULL, alarms BLOB NOT NULL, \
         format TEXT NOT NULL DEFAULT 'normalized', received_at INTEGER NOT NULL DEFAULT 0)",
    )
    .await?;
    // A log written before bodies were logged as received (decision
    // 0032) holds normalized alarms only.
    let columns = sqlx::query("SELECT name FROM pragma_table_info('ingest_log')")
        .fetch_all(&pool)
        .await?;
    if !columns
        .iter()
        .any(|r| r.try_get::<String, _>("name").is_ok_and(|n| n == "format"))
    {
        pool.execute(
            "ALTER TABLE ingest_log ADD COLUMN format TEXT NOT NULL DEFAULT 'normalized'; \
             ALTER TABLE ingest_log ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0",
        )
        .await?;
    }
    let mark: i64 = sqlx::query("SELECT seq FROM ingest_applied WHERE id = 1")
        .fetch_optional(&store.pool)
        .await?
        .map(|r| r.try_get::<i64, _>("seq"))
        .transpose()?
        .unwrap_or(0);
    sqlx::query("DELETE FROM ingest_log WHERE seq <= $1")
        .bind(mark)
        .execute(&pool)
        .await?;
    let pending = sqlx::query(
        "SELECT seq, tenant_id, integration_id, CAST(alarms AS BLOB) AS body, format, \
         received_at FROM ingest_log ORDER BY seq",
    )
    .fetch_all(&pool)
    .await?;
    let mut recovered = Vec::with_capacity(pending.len());
    let mut last = mark;
    for r in pending {
        let seq: i64 = r.try_get("seq")?;
        let row = |e: DomainError| StoreError::Conflict(format!("ingest log row {seq}: {e}"));
        let body = Body {
            format: BodyFormat::parse_name(&r.try_get::<String, _>("format")?).map_err(row)?,
            received_at: r.try_get("received_at")?,
            bytes: Bytes::from(r.try_get::<Vec<u8>, _>("body")?),
        };
        let alarms = body.alarms().map_err(row)?;
        last = seq;
        recovered.push(Request {
            tenant: r.try_get("tenant_id")?,
            integration_id: r.try_get("integration_id")?,
            count: alarms.len(),
            alarms,
            body: None,
            ack: Ack::Logged(seq),
        });
    }
    if !recovered.is_empty() {
        tracing::info!(
            requests = recovered.len(),
            alarms = recovered.iter().map(|r| r.count).sum::<usize>(),
            "ingest log: applying what was acknowledged before the restart"
        );
    }
    let state = store.ingest_log.state.clone();
    state.applied.store(mark, Ordering::Relaxed);
    let backlog: usize = recovered.iter().map(|r| r.count).sum();
    state.backlog.store(backlog as i64, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel::<LogRequest>(1024);
    tokio::spawn(checkpoints(pool.clone(), tx.downgrade()));
    tokio::spawn(append(
        pool,
        path,
        writer,
        state.clone(),
        rx,
        recovered,
        last + 1,
    ));
    Ok(LogHandle {
        tx: Some(tx),
        state,
    })
}

/// Bytes of the log's file and of its WAL written once at start when the
/// WAL is smaller: appends then overwrite blocks the file system has
/// already allocated, whose fsync is far cheaper than one that grows a
/// file (decision 0032).
const PREALLOCATE_BYTES: u64 = 32 * 1024 * 1024;

/// Grows the log's WAL and file by [`PREALLOCATE_BYTES`] with SQLite's
/// own writes (a zero-filled row, inserted and deleted, then
/// checkpointed): its pages stay on the file's free list and the WAL keeps
/// its size when it starts over, so the appender's writes reuse them.
/// Skipped when the WAL is that large already.
///
/// Errors: [`StoreError::Db`] when a write fails.
async fn preallocate(pool: &AnyPool, path: &str) -> Result<()> {
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    if wal >= PREALLOCATE_BYTES {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO ingest_log (seq, tenant_id, integration_id, alarms) \
         VALUES (-1, '', '', zeroblob($1))",
    )
    .bind(PREALLOCATE_BYTES as i64)
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM ingest_log WHERE seq = -1")
        .execute(pool)
        .await?;
    pool.execute("PRAGMA wal_checkpoint(RESTART)").await?;
    Ok(())
}

/// The appender task: recovered requests first, then the log's space
/// ([`preallocate`]), then the group loop.
async fn append(
    pool: AnyPool,
    path: String,
    writer: mpsc::Sender<Request>,
    state: Arc<LogState>,
    mut rx: mpsc::Receiver<LogRequest>,
    recovered: Vec<Request>,
    mut next: i64,
) {
    // Counted in the backlog by `open` already.
    for r in recovered {
        if writer.send(r).await.is_err() {
            return;
        }
    }
    // Here rather than in `open`, so a start does not wait for it (the
    // first requests do, once).
    if let Err(e) = preallocate(&pool, &path).await {
        tracing::warn!(error = %e, "ingest log: preallocating failed; appends will grow the file");
    }
    let mut deleted = state.applied.load(Ordering::Relaxed);
    let mut last_delete = Instant::now();
    // Loop: one log write per round, for every request queued when the
    // round starts (the first one awaited), then the answers.
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_LOG_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        // Back-pressure: past the bound, wait for the writer to catch up.
        while state.backlog.load(Ordering::Relaxed) > MAX_BACKLOG {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        match write(&pool, &group, next).await {
            Ok(()) => {
                state.mark_appended();
                for r in group {
                    let seq = next;
                    next += 1;
                    state.backlog.fetch_add(r.count as i64, Ordering::Relaxed);
                    let sent = writer
                        .send(Request {
                            tenant: r.tenant,
                            integration_id: r.integration_id,
                            alarms: Vec::new(),
                            body: Some(r.body),
                            count: r.count,
                            ack: Ack::Logged(seq),
                        })
                        .await;
                    let _ = r.reply.send(sent.map_err(|_| StoreError::WriterGone));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "ingest log append failed");
                let msg = e.to_string();
                for r in group {
                    let _ = r.reply.send(Err(StoreError::Conflict(msg.clone())));
                }
            }
        }
        // Rows the writer applied are deleted after the answers, at most
        // every DELETE_EVERY (their pages are reused by later rows).
        let applied = state.applied.load(Ordering::Relaxed);
        if applied > deleted && last_delete.elapsed() >= DELETE_EVERY {
            match sqlx::query("DELETE FROM ingest_log WHERE seq <= $1")
                .bind(applied)
                .execute(&pool)
                .await
            {
                Ok(_) => deleted = applied,
                Err(e) => tracing::warn!(error = %e, "ingest log: deleting applied rows failed"),
            }
            last_delete = Instant::now();
        }
    }
}

/// The checkpoint task: every [`DELETE_EVERY`], copies the log's WAL into
/// its file (PASSIVE: never waits for the appender), so the WAL starts
/// over instead of growing. Ends with the store (its last log sender).
async fn checkpoints(pool: AnyPool, store: mpsc::WeakSender<LogRequest>) {
    // Loop: one passive checkpoint per tick; a failure is retried at the
    // next tick.
    let mut tick = tokio::time::interval(DELETE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if store.upgrade().is_none() {
            break;
        }
        // A WAL kept busy by a steady stream never starts over by itself
        // (each write comes before a passive checkpoint has caught up):
        // past WAL_FRAMES it is checkpointed whole and started over
        // (RESTART: the file keeps its size, up to journal_size_limit, so
        // later writes overwrite it instead of growing it), holding the
        // appender up that once.
        let done = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&pool)
            .await
        {
            Ok(r) => r.try_get::<i64, _>(1).map_err(StoreError::from),
            Err(e) => Err(e.into()),
        };
        let truncated = match done {
            Ok(frames) if frames >= WAL_FRAMES => pool
                .execute("PRAGMA wal_checkpoint(RESTART)")
                .await
                .map(|_| ())
                .map_err(StoreError::from),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = truncated {
            tracing::warn!(error = %e, "ingest log checkpoint failed");
        }
    }
    pool.close().await;
}

/// WAL frames (16 KiB pages: 64 MiB) past which the checkpoint task
/// starts the log's WAL over.
const WAL_FRAMES: i64 = 4_096;

/// How often the appender deletes the rows the writer has applied.
const DELETE_EVERY: Duration = Duration::from_millis(100);

/// Writes `group` as rows `first..`: one INSERT in autocommit, so one
/// round trip to SQLite's thread and one fsync. (The body is copied into
/// the statement: the writer gets the original.)
async fn write(pool: &AnyPool, group: &[LogRequest], first: i64) -> Result<()> {
    let mut sql = String::from(
        "INSERT INTO ingest_log (seq, tenant_id, integration_id, alarms, format, received_at) \
         VALUES ",
    );
    for i in 0..group.len() {
        if i > 0 {
            sql.push(',');
        }
        let b = i * 6;
        sql.push_str(&format!(
            "(${},${},${},${},${},${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        ));
    }
    // Placeholders only: every value is bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (i, r) in group.iter().enumerate() {
        q = q
            .bind(first + i as i64)
            .bind(r.tenant.clone())
            .bind(r.integration_id.clone())
            .bind(r.body.bytes.to_vec())
            .bind(r.body.format.as_str())
            .bind(r.body.received_at);
    }
    q.execute(pool).await?;
    Ok(())
}

impl Store {
    /// Takes alarms of integration `integration_id` as its acknowledgement
    /// says ([`coc_domain::alarm::Acknowledge`]): `Applied` is
    /// [`Store::ingest`]; `Received` returns once they are durably in the
    /// ingest log (as normalized alarms), with only `accepted` counted
    /// (`acknowledged: received`). Without a log (PostgreSQL, in-memory
    /// SQLite) both are `Applied`.
    ///
    /// Errors: as [`Store::ingest`]; `Conflict` when the log write failed
    /// (nothing of the request is kept).
    pub async fn accept(
        &self,
        tenant: &str,
        integration_id: &str,
        alarms: Vec<NormalizedAlarm>,
        ack: coc_domain::alarm::Acknowledge,
    ) -> Result<crate::alarm::IngestOutcome> {
        if !self.logs(ack) {
            return self.ingest(tenant, integration_id, alarms).await;
        }
        let body = Body {
            format: BodyFormat::Normalized,
            received_at: self.now(),
            bytes: serde_json::to_vec(&alarms)
                .map_err(|e| StoreError::Conflict(format!("alarms to JSON: {e}")))?
                .into(),
        };
        let count = alarms.len();
        // The parsed alarms are freed here, in the sender's task; the
        // backlog holds their body.
        drop(alarms);
        self.log(tenant, integration_id, body, count).await
    }

    /// Whether alarms taken with acknowledgement `ack` are logged and
    /// answered as received: `Received` on a store with an ingest log.
    pub fn logs(&self, ack: coc_domain::alarm::Acknowledge) -> bool {
        self.ingest_log.tx.is_some() && ack == coc_domain::alarm::Acknowledge::Received
    }

    /// Logs `body`, validated to hold `count` alarms
    /// ([`BodyFormat::count`]), and returns once it is durably in the
    /// ingest log (`acknowledged: received`, only `accepted` counted); it
    /// is parsed and applied behind. For a request [`Store::logs`] says
    /// yes to: the body is kept as the sender sent it (smaller than its
    /// alarms, and nothing to serialize; decision 0032). Without a log it
    /// is parsed and applied at once.
    ///
    /// Errors: as [`Store::ingest`]; `Conflict` when the log write failed
    /// (nothing of the request is kept) or, without a log, the body does
    /// not parse.
    pub async fn log(
        &self,
        tenant: &str,
        integration_id: &str,
        body: Body,
        count: usize,
    ) -> Result<crate::alarm::IngestOutcome> {
        let Some(tx) = &self.ingest_log.tx else {
            let alarms = body
                .alarms()
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            return self.ingest(tenant, integration_id, alarms).await;
        };
        let (reply, rx) = oneshot::channel();
        tx.send(LogRequest {
            tenant: tenant.to_string(),
            integration_id: integration_id.to_string(),
            count,
            body,
            reply,
        })
        .await
        .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)??;
        Ok(crate::alarm::IngestOutcome {
            accepted: count,
            acknowledged: coc_domain::alarm::Acknowledge::Received,
            ..Default::default()
        })
    }

    /// Alarms acknowledged as received and not yet applied (0 without an
    /// ingest log).
    pub fn ingest_backlog(&self) -> i64 {
        self.ingest_log.state.backlog.load(Ordering::Relaxed).max(0)
    }
}
