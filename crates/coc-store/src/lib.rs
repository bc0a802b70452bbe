//! # coc-store — COC persistence over SQLite and PostgreSQL
//!
//! One code path for both backends through sqlx's `Any` driver, with
//! portable column types only (TEXT ids and JSON, BIGINT Unix-ms times and
//! 0/1 booleans). Migrations live in `migrations/{sqlite,postgres}` with the
//! same versions and are embedded in the binary.
//!
//! SQLite runs in WAL mode with `synchronous=FULL` (an acknowledged write
//! survives a power cut) and every write transaction starts with
//! `BEGIN IMMEDIATE`. Alarm ingest goes through one writer task that
//! batches concurrent requests into one transaction (group commit, see
//! [`alarm`]).
//!
//! Every row carries `tenant_id`; until multi-tenancy (A4) all records use
//! [`coc_domain::DEFAULT_TENANT`].

#![warn(missing_docs)]

/// `format!` for SQL built only from static fragments (column lists,
/// placeholder numbers); every value is still bound as a parameter.
macro_rules! dynsql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

pub mod access;
pub mod action_link;
pub mod agent;
pub mod agent_install;
pub mod agent_upgrade;
pub mod alarm;
pub mod application;
pub mod audit;
pub mod cloud;
pub mod discovery;
pub mod drift;
pub mod escalation;
pub mod forward;
pub mod grant;
pub mod health;
pub mod incident;
pub mod ingest;
pub mod inhibition;
pub mod integration;
pub mod job;
pub mod jobticket;
pub mod login;
pub mod metrics;
pub mod notification;
pub mod notify;
pub mod oncall;
pub mod parameter;
pub mod patch;
pub mod people;
pub mod plan;
pub mod replay;
pub mod report;
pub mod resource;
pub mod resource_op;
pub mod retention;
pub mod rule;
pub mod schedule;
pub mod script;
pub mod secret;
pub mod silence;
pub mod sla;
pub mod sms_reply;
pub mod spec;
pub mod ticket;
pub mod todo;
pub mod topology;
pub mod wake;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

pub use coc_domain::DomainError;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record of `kind` with that id (in this tenant).
    #[error("{kind} '{id}' does not exist")]
    NotFound {
        /// Record kind, e.g. `incident`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A uniqueness rule was violated (e.g. a name already used).
    #[error("{0}")]
    Conflict(String),
    /// A domain rule refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The alarm writer task is gone (server shutting down).
    #[error("the alarm writer has stopped")]
    WriterGone,
    /// A stored secret cannot be decrypted with this server's key.
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, id: &str) -> Self {
        StoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

/// Result alias for store calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A status set from the domain's enum names as an SQL list `('a','b')`.
/// Only the domain's static names go in, never input.
pub(crate) fn sql_set<'a>(names: impl IntoIterator<Item = &'a &'static str>) -> String {
    let v: Vec<String> = names.into_iter().map(|n| format!("'{n}'")).collect();
    format!("({})", v.join(","))
}

/// One of the domain's state names as an SQL literal `'a'`.
pub(crate) fn sql_lit(name: &'static str) -> String {
    format!("'{name}'")
}

/// The disambiguator of the next human-readable number
/// ([`coc_domain::id::ticket_number`]): a counter that starts at a random
/// value in each process, so numbers made in the same millisecond differ
/// within a process and, but for a 1-in-10,000 chance, across replicas
/// (the unique index on numbers refuses the rare clash; the request can be
/// sent again).
pub(crate) fn next_seq() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    SEQ.get_or_init(|| AtomicU32::new(rand::random::<u32>() % 10_000))
        .fetch_add(1, Ordering::Relaxed)
}

/// A new time-ordered record id (UUIDv7, lowercase hyphenated text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Where the store reads the time: the system clock, or a test's.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, Unix ms UTC.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock a test sets and moves.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock standing at `ms` (Unix ms).
    pub fn at(ms: i64) -> Arc<Self> {
        Arc::new(ManualClock(std::sync::atomic::AtomicI64::new(ms)))
    }
    /// Moves it by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The system's current time, Unix ms UTC. Code that decides by time takes
/// it from the store's clock ([`Store::now`]) instead, so tests can set it.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Reads outside a transaction ([`Store::reader`]): on a SQLite file a
    /// read-only pool of its own; otherwise `pool` again.
    read: AnyPool,
    /// The one clock of the store's decisions ([`Store::now`]).
    clock: Arc<dyn Clock>,
    /// The database URL (with its password: never logged or shown).
    url: Arc<str>,
    backend: Backend,
    alarms: ingest::WriterHandle,
    /// Integrations by key, briefly ([`integration::KEY_CACHE_MS`]).
    integration_keys: Arc<integration::KeyCache>,
    /// The ingest log's appender and counters ([`ingest::log`]).
    ingest_log: ingest::log::LogHandle,
    /// SQLite: where each stored alarm is, by fingerprint (the ingest
    /// writer's map, [`ingest::AlarmKeys`]).
    alarm_keys: Arc<tokio::sync::Mutex<ingest::AlarmKeys>>,
    reports: report::ReportHandle,
    keyring: secret::Keyring,
    /// Signalled whenever ticket work appears (a ticket created, a task
    /// finished, an operator action) so the tickets round wakes at once
    /// (on every replica, see [`wake`]).
    pub work: Arc<wake::Wake>,
    /// Signalled after a commit that wrote incident events, so the events
    /// loop wakes at once.
    pub events: Arc<wake::Wake>,
    /// Signalled when deliveries are queued, so the deliveries round wakes
    /// at once.
    pub deliveries: Arc<wake::Wake>,
    /// Agent relays received from the replicas ([`Store::relay`]).
    relayed: tokio::sync::broadcast::Sender<wake::Relay>,
    /// Leased deliveries queued inside ingest commits, waiting for the
    /// dispatcher to send them ([`Store::take_ready`]).
    ready: Arc<std::sync::Mutex<Vec<notify::Due>>>,
    /// Where people reach the console (`https://coc.example.com`), set
    /// once at start: incident notifications link to the incident there.
    public_url: Arc<std::sync::OnceLock<String>>,
}

/// One migration: version, name, and its SQL for SQLite and PostgreSQL.
type Migration = (i64, &'static str, &'static str, &'static str);

/// A migration whose SQL is the same on both backends
/// (`migrations/NNNN_name.sql`). One that differs names a file per
/// backend instead (`migrations/sqlite/…`, `migrations/postgres/…`).
macro_rules! same_sql {
    ($v:expr, $name:literal, $file:literal) => {
        (
            $v,
            $name,
            include_str!(concat!("../migrations/", $file)),
            include_str!(concat!("../migrations/", $file)),
        )
    };
}

/// The schema's migrations, in order.
const MIGRATIONS: &[Migration] = &[
    same_sql!(1, "init", "0001_init.sql"),
    same_sql!(2, "access", "0002_access.sql"),
    same_sql!(3, "grants", "0003_grants.sql"),
    same_sql!(4, "enterprise_projects", "0004_enterprise_projects.sql"),
    same_sql!(5, "agent_enrollments", "0005_agent_enrollments.sql"),
    same_sql!(6, "oncall", "0006_oncall.sql"),
    same_sql!(7, "deliveries", "0007_deliveries.sql"),
    same_sql!(8, "people", "0008_people.sql"),
    same_sql!(9, "script_review", "0009_script_review.sql"),
    same_sql!(10, "parameters", "0010_parameters.sql"),
    same_sql!(11, "scheduled_tasks", "0011_scheduled_tasks.sql"),
    same_sql!(12, "plans", "0012_plans.sql"),
    same_sql!(13, "jobs", "0013_jobs.sql"),
    same_sql!(14, "agent_identity", "0014_agent_identity.sql"),
    same_sql!(15, "login_attempts", "0015_login_attempts.sql"),
    same_sql!(16, "token_addresses", "0016_token_addresses.sql"),
    same_sql!(17, "one_engine", "0017_one_engine.sql"),
    same_sql!(18, "oncall_feeds", "0018_oncall_feeds.sql"),
    same_sql!(19, "silences", "0019_silences.sql"),
    same_sql!(20, "heartbeats", "0020_heartbeats.sql"),
    same_sql!(21, "inhibition", "0021_inhibition.sql"),
    (
        22,
        "alarm_reads",
        include_str!("../migrations/sqlite/0022_alarm_reads.sql"),
        include_str!("../migrations/postgres/0022_alarm_reads.sql"),
    ),
    same_sql!(23, "integration_mapping", "0023_integration_mapping.sql"),
    same_sql!(24, "convergence", "0024_convergence.sql"),
    same_sql!(25, "delayed_alarms", "0025_delayed_alarms.sql"),
    same_sql!(26, "sms_replies", "0026_sms_replies.sql"),
    (
        27,
        "alarm_occurrences",
        include_str!("../migrations/sqlite/0027_alarm_occurrences.sql"),
        include_str!("../migrations/postgres/0027_alarm_occurrences.sql"),
    ),
    same_sql!(28, "applications", "0028_applications.sql"),
    same_sql!(29, "host_discovery", "0029_host_discovery.sql"),
    same_sql!(30, "host_application", "0030_host_application.sql"),
    same_sql!(31, "resources", "0031_resources.sql"),
    same_sql!(32, "application_refs", "0032_application_refs.sql"),
    same_sql!(
        33,
        "drop_application_text",
        "0033_drop_application_text.sql"
    ),
    same_sql!(34, "cloud_accounts", "0034_cloud_accounts.sql"),
    same_sql!(35, "host_drift", "0035_host_drift.sql"),
    same_sql!(36, "host_proxy", "0036_host_proxy.sql"),
    same_sql!(37, "delegated_targets", "0037_delegated_targets.sql"),
    same_sql!(38, "agent_build", "0038_agent_build.sql"),
    same_sql!(39, "agent_builds", "0039_agent_builds.sql"),
    same_sql!(40, "patch_baselines", "0040_patch_baselines.sql"),
    same_sql!(41, "host_patches", "0041_host_patches.sql"),
    same_sql!(42, "health_checks", "0042_health_checks.sql"),
    same_sql!(43, "ingest_log", "0043_ingest_log.sql"),
];

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending
    /// migrations. `sqlite://PATH` or `postgres://…`. `keyring` encrypts
    /// sensitive values at rest ([`secret`]).
    ///
    /// Errors: [`StoreError::Db`] when the database cannot be reached or a
    /// migration fails (nothing of that migration is applied).
    pub async fn open(url: &str, keyring: secret::Keyring) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Conflict(format!(
                "unsupported database URL '{}': use sqlite://PATH or postgres://…",
                redact_url(url)
            )));
        };
        if backend == Backend::Sqlite {
            private_sqlite_files(url)?;
        }
        let url = if backend == Backend::Sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        let pool = match backend {
            Backend::Sqlite => sqlite_pool(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                 PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
            ),
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30)),
        }
        .connect(&url)
        .await?;
        let read = match (backend, sqlite_file(&url)) {
            (Backend::Sqlite, Some(_)) => sqlite_pool(
                "PRAGMA query_only=ON; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
            )
            .connect_lazy(&url)?,
            _ => pool.clone(),
        };
        let mut store = Store {
            pool,
            read,
            clock: Arc::new(SystemClock),
            url: url.as_str().into(),
            backend,
            alarms: ingest::WriterHandle::detached(),
            ingest_log: Default::default(),
            integration_keys: Arc::default(),
            alarm_keys: Arc::default(),
            reports: report::ReportHandle::detached(),
            keyring,
            work: wake::Wake::new("coc_work"),
            events: wake::Wake::new("coc_events"),
            deliveries: wake::Wake::new("coc_deliveries"),
            relayed: tokio::sync::broadcast::channel(1024).0,
            ready: Arc::default(),
            public_url: Arc::default(),
        };
        store.migrate().await?;
        store.alarms = ingest::spawn_writer(store.clone());
        store.ingest_log = ingest::log::open(&store, &url).await?;
        store.reports = report::spawn_report_writer(store.clone());
        Ok(store)
    }

    /// This store with `clock` as its clock (tests set and move time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Now by the store's clock, Unix ms UTC.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Now by the store's clock.
    pub fn now_utc(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.now()).unwrap_or_default()
    }

    /// Sets where people reach the console (no trailing slash needed);
    /// incident notifications queued from then on carry a link to the
    /// incident's page. Only the first call counts.
    pub fn set_public_url(&self, url: &str) {
        let _ = self.public_url.set(url.trim_end_matches('/').to_string());
    }

    /// The console address of incident `id`, when the public URL is set.
    pub fn incident_link(&self, id: &str) -> Option<String> {
        self.public_url
            .get()
            .map(|b| format!("{b}/console/incidents/{id}"))
    }

    /// The keyring for sensitive values.
    pub fn keyring(&self) -> &secret::Keyring {
        &self.keyring
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying pool (for tests and health checks).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where a read outside a transaction goes. On a SQLite file: a pool
    /// of its own whose connections cannot write (`query_only`), so a read
    /// never waits for a connection behind writers that wait for the write
    /// lock — above all a read made by the task holding that lock (the
    /// ingest writer reading rules, SLAs and on-call while it applies),
    /// which would otherwise wait for those writers' busy timeouts
    /// (decision 0033). Elsewhere the one pool.
    pub(crate) fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Applies migrations not yet recorded in `coc_migrations`, each in its
    /// own transaction.
    async fn migrate(&self) -> Result<()> {
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS coc_migrations (version BIGINT PRIMARY KEY, \
                 name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        for (version, name, sqlite, pg) in MIGRATIONS {
            let mut tx = self.begin().await?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM coc_migrations WHERE version = $1")
                    .bind(*version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if done.is_some() {
                continue;
            }
            let sql = if self.backend == Backend::Sqlite {
                sqlite
            } else {
                pg
            };
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            if *version == 17 {
                ticket::move_legacy_tickets(&mut tx, &self.keyring).await?;
            }
            if *version == 32 {
                application::adopt_free_text(&mut tx, self.now()).await?;
            }
            sqlx::query(
                "INSERT INTO coc_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(version, name, "applied migration");
        }
        Ok(())
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Runs one write statement in its own transaction.
    ///
    /// Errors: `NotFound { kind, id }` when it changed no row; `Conflict`
    /// when it broke a uniqueness rule (a name already used).
    pub(crate) async fn write_one(
        &self,
        q: sqlx::query::Query<'_, Any, sqlx::any::AnyArguments>,
        kind: &'static str,
        id: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = q
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    let a = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    };
                    StoreError::Conflict(format!("{a} {kind} with this name already exists"))
                } else {
                    e.into()
                }
            })?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::not_found(kind, id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks that the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Options of a SQLite pool: 8 connections, each set up with `pragmas`.
fn sqlite_pool(pragmas: &'static str) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(pragmas).await?;
                Ok(())
            })
        })
}

/// The file of a SQLite URL (`sqlite://PATH?…`); `None` for an in-memory
/// database.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:") && !path.starts_with("file::memory"))
        .then_some(path)
}

/// Makes a SQLite database private to the server's user: the file is
/// created with mode 0600 before SQLite opens it (SQLite gives its `-wal`
/// and `-shm` files the database's mode), and existing files are set to
/// 0600. Alarms, tickets' output and the audit trail live there.
///
/// Errors: the file cannot be created or its mode set.
fn private_sqlite_files(url: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let Some(path) = sqlite_file(url) else {
        return Ok(());
    };
    let io = |e: std::io::Error| StoreError::Conflict(format!("database file {path}: {e}"));
    if !std::path::Path::new(path).exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
    }
    for p in [
        path.to_string(),
        format!("{path}-wal"),
        format!("{path}-shm"),
    ] {
        if std::path::Path::new(&p).exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    Ok(())
}

/// A database URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub(crate) fn json_col(row: &AnyRow, col: &str) -> serde_json::Value {
    row.try_get::<String, _>(col)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null)
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("UNIQUE constraint failed")
                || d.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

/// Keyset-paging request shared by list calls: at most `limit` rows
/// (1..=1000) after the opaque `cursor` of the previous page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Rows wanted (clamped to 1..=1000; 0 means 100).
    pub limit: u32,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl Page {
    pub(crate) fn limit(&self) -> i64 {
        match self.limit {
            0 => 100,
            n => i64::from(n.min(1000)),
        }
    }
}

/// The future of work done inside another operation's transaction (see
/// [`Store::create_ticket_within`]): borrows the transaction for `'t`.
pub(crate) type InTx<'t, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send + 't>>;

/// One page of results: `next_cursor` is `None` on the last page.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Cursor for the next page, `null` on the last.
    pub next_cursor: Option<String>,
}

impl Store {
    /// One keyset page of `table` (newest first by id) under filter `w`:
    /// fetches `limit + 1` rows to know whether another page follows.
    pub(crate) async fn fetch_page<T>(
        &self,
        cols: &str,
        table: &str,
        mut w: Filter,
        page: &Page,
        row: impl Fn(&AnyRow) -> Result<T>,
        id: impl Fn(&T) -> String,
    ) -> Result<Paged<T>> {
        if let Some(c) = &page.cursor {
            w.push("id < ?", Arg::S(c.clone()));
        }
        let limit = page.limit();
        let sql = format!(
            "SELECT {cols} FROM {table}{} ORDER BY id DESC LIMIT {}",
            w.sql,
            limit + 1
        );
        let rows = w.query(sql).fetch_all(self.reader()).await?;
        let items = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
        Ok(paged(items, limit, id))
    }
}

/// Builds a page from `limit + 1` fetched rows ordered by descending id.
pub(crate) fn paged<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> String) -> Paged<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(id) } else { None };
    Paged {
        items: rows,
        next_cursor,
    }
}

/// A process-wide cache of things compiled from stored records (matchers'
/// regular expressions), by the text they are compiled from: a changed
/// record has a new key. Emptied when it holds more than [`Compiled::MAX`].
pub(crate) struct Compiled<T> {
    map: std::sync::Mutex<Option<std::collections::HashMap<String, Arc<T>>>>,
}

impl<T> Compiled<T> {
    const MAX: usize = 4096;

    pub(crate) const fn new() -> Self {
        Compiled {
            map: std::sync::Mutex::new(None),
        }
    }

    /// The value for `key`, made by `make` the first time (`None` is not
    /// kept).
    pub(crate) fn get(&self, key: String, make: impl FnOnce() -> Option<T>) -> Option<Arc<T>> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let m = m.get_or_insert_with(Default::default);
        if let Some(v) = m.get(&key) {
            return Some(v.clone());
        }
        let v = Arc::new(make()?);
        if m.len() >= Self::MAX {
            m.clear();
        }
        m.insert(key, v.clone());
        Some(v)
    }
}

/// A `LIKE` pattern that finds `text` literally inside a value (`%`, `_`
/// and `\` escaped, for `ESCAPE '\'`).
pub(crate) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A small dynamic WHERE builder with `$n` placeholders.
#[derive(Clone)]
pub(crate) struct Filter {
    pub sql: String,
    pub args: Vec<Arg>,
}

#[derive(Clone)]
pub(crate) enum Arg {
    S(String),
    I(i64),
}

impl Filter {
    pub fn new(tenant: &str) -> Self {
        Filter {
            sql: " WHERE tenant_id = $1".into(),
            args: vec![Arg::S(tenant.into())],
        }
    }
    pub fn push(&mut self, clause: &str, arg: Arg) {
        self.args.push(arg);
        let n = self.args.len();
        self.sql.push_str(" AND ");
        self.sql.push_str(&clause.replace('?', &format!("${n}")));
    }
    /// Adds a clause that takes no argument.
    pub fn push_sql(&mut self, clause: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
    }
    pub fn query(&self, sql: String) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in &self.args {
            q = match a {
                Arg::S(s) => q.bind(s.as_str()),
                Arg::I(i) => q.bind(*i),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            super::redact_url("sqlite:///tmp/x.db"),
            "sqlite:///tmp/x.db"
        );
    }

    /// Status sets in SQL come from the domain's enums: no state name is
    /// written into a query as a literal (`status = 'pending'`,
    /// `NOT IN ('completed','closed')`).
    #[test]
    fn no_state_literals_in_sql() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Up to the file's tests (this one names the literals).
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let l = line.replace(' ', "");
                for col in ["status", "state"] {
                    for op in ["='", "<>'", "IN('", "NOTIN('"] {
                        if l.contains(&format!("{col}{op}")) {
                            bad.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
                for name in [
                    "'pending'",
                    "'executing'",
                    "'running'",
                    "'completed'",
                    "'approved'",
                ] {
                    if l.contains(name) && !l.trim_start().starts_with("//") {
                        bad.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "state literals in SQL:\n{}", bad.join("\n"));
    }
}
