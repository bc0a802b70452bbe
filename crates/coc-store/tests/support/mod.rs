//! Test stores for both backends.

use coc_store::Store;

/// A store under test and its backend name; the temp dir lives as long.
pub struct TestStore {
    pub name: &'static str,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg_db: Option<String>,
}

impl TestStore {
    /// A second handle on the same database, as a second replica opens it
    /// (PostgreSQL only; `None` on SQLite, which serves one process).
    pub async fn replica(&self) -> Option<Store> {
        let db = self.pg_db.as_ref()?;
        let base = pg_admin_url()
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())?;
        Some(
            Store::open(&format!("{base}/{db}"), self.store.keyring().clone())
                .await
                .unwrap(),
        )
    }

    /// Closes the store and drops its PostgreSQL database.
    pub async fn cleanup(self) {
        use sqlx::Executor;
        self.store.pool().close().await;
        if let Some(db) = self.pg_db
            && let Ok(pool) = sqlx::AnyPool::connect(&pg_admin_url()).await
        {
            let _ = pool
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                )))
                .await;
        }
    }
}

async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coc.db").display());
    TestStore {
        name: "sqlite",
        store: Store::open(&url, coc_store::secret::Keyring::random())
            .await
            .unwrap(),
        _dir: Some(dir),
        pg_db: None,
    }
}

/// Admin URL of the PostgreSQL server used by the tests.
pub fn pg_admin_url() -> String {
    std::env::var("COC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn postgres() -> Option<TestStore> {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    let conn = sqlx::AnyPool::connect(&admin).await;
    let pool = match conn {
        Ok(p) => p,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required in CI but unreachable at {admin}: {e}");
            }
            eprintln!("skipping PostgreSQL half: {e} (set COC_TEST_DATABASE_URL)");
            return None;
        }
    };
    let db = format!("coc_test_{:016x}", rand_u64());
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    let store = Store::open(
        &format!("{base}/{db}"),
        coc_store::secret::Keyring::random(),
    )
    .await
    .unwrap();
    Some(TestStore {
        name: "postgres",
        store,
        _dir: None,
        pg_db: Some(db),
    })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// SQLite, then PostgreSQL when available.
pub async fn stores() -> Vec<TestStore> {
    let mut v = vec![sqlite().await];
    if let Some(p) = postgres().await {
        v.push(p);
    }
    v
}

/// Runs `f` against every backend.
#[macro_export]
macro_rules! each_store {
    (|$s:ident| $body:block) => {{
        for ts in $crate::support::stores().await {
            let $s = &ts.store;
            let name = ts.name;
            let r = async { $body }.await;
            let _: () = r;
            ts.cleanup().await;
            eprintln!("ok on {name}");
        }
    }};
}

/// A Prometheus-style alarm for `name` on `instance`.
pub fn alarm(name: &str, instance: &str, region: &str) -> coc_domain::alarm::NormalizedAlarm {
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("alertname".to_string(), name.to_string());
    labels.insert("instance".to_string(), instance.to_string());
    labels.insert("region".to_string(), region.to_string());
    labels.insert("severity".to_string(), "critical".to_string());
    coc_domain::alarm::from_labels(
        labels,
        Default::default(),
        coc_domain::alarm::AlarmStatus::Alarm,
        1,
        None,
        "Prometheus",
    )
    .unwrap()
}

/// Registers a host whose agent reports `hostname`.
pub async fn host(s: &Store, hostname: &str) -> String {
    s.upsert_host(
        coc_domain::DEFAULT_TENANT,
        &coc_store::resource::HostFacts {
            agent_id: format!("agent-{hostname}"),
            hostname: hostname.into(),
            ips: vec!["10.9.9.9".into()],
            os: "Linux".into(),
            arch: "x86_64".into(),
            cpu_cores: 2,
            memory_bytes: 1 << 30,
            agent_version: "test".into(),
            boot_id: String::new(),
            proxy: None,
            proxy_listen: None,
            agent_sha256: String::new(),
        },
    )
    .await
    .unwrap()
}

/// A forwarding rule for alarms named `alarm_name`: P2, owner `alice`.
pub fn rule(name: &str, alarm_name: &str) -> coc_domain::rule::RuleSpec {
    use coc_domain::rule::{Condition, Operator, RuleSpec};
    RuleSpec {
        name: name.into(),
        application: None,
        trigger_type: "alarm".into(),
        data_source: None,
        conditions: vec![Condition {
            field: "alarmName".into(),
            op: Operator::Equals,
            value: Some(alarm_name.into()),
            values: None,
        }],
        incident_level: coc_domain::incident::IncidentLevel::P2,
        assignee: "alice".into(),
        assignee_shift: None,
        plan: None,
        contingency_script: None,
        converge: None,
        storm: None,
        after_minutes: None,
    }
}

/// Steps ticket `id` once with every agent connected and returns the
/// environment of the first script it sends.
pub async fn first_exec_env(s: &Store, id: &str) -> std::collections::BTreeMap<String, String> {
    let cmds = s
        .advance_job_ticket(id, coc_store::now_ms(), &|_| true)
        .await
        .unwrap();
    cmds.into_iter()
        .find_map(|c| match c {
            coc_store::jobticket::JobCommand::Exec { env, .. } => Some(env),
            _ => None,
        })
        .expect("a script dispatch")
}

/// Creates the low-risk script `diag` (`uptime`) as `ann`; returns its id.
pub async fn diag_script(s: &Store) -> String {
    s.create_script(
        coc_domain::DEFAULT_TENANT,
        &coc_domain::script::ScriptSpec {
            name: "diag".into(),
            description: String::new(),
            script_type: coc_domain::script::ScriptType::Shell,
            content: "uptime".into(),
            risk_level: coc_domain::script::RiskLevel::Low,
            params: vec![],
            manual_review: false,
            reviewers: vec![],
        },
        "ann",
    )
    .await
    .unwrap()
    .id
}

/// Makes sure `names` are users of tenant `default` (an incident's owner,
/// a rule's assignee or a forward's target must be one).
pub async fn users(s: &Store, names: &[&str]) {
    users_in(s, "default", names).await
}

/// Makes sure `names` are users of `tenant` (everyone a scenario names
/// must be one).
pub async fn users_in(s: &Store, tenant: &str, names: &[&str]) {
    s.ensure_tenant(tenant).await.unwrap();
    for n in names {
        if s.get_user(tenant, n).await.is_err() {
            s.create_user(tenant, n, n, None).await.unwrap();
        }
    }
}

/// Creates application `name` (R6) so that definitions and incidents can
/// refer to it; returns its id.
pub async fn application(s: &Store, name: &str) -> String {
    let spec: coc_domain::application::ApplicationSpec =
        serde_json::from_value(serde_json::json!({ "name": name })).unwrap();
    s.create_application(coc_domain::DEFAULT_TENANT, &spec)
        .await
        .unwrap()
        .id
}
