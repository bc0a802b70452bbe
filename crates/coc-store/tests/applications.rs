//! Applications (R6) on both backends: created with an owner who is a
//! person of the tenant, found by id or name, renamed, unique by name,
//! deleted; referred to by id from definitions and incidents, and adopted
//! from free text on upgrade.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::application::{AppModule, ApplicationSpec};
use coc_domain::incident::IncidentLevel;
use coc_domain::notify::NotificationRule;
use coc_domain::oncall::Scenario;
use coc_store::StoreError;
use coc_store::incident::CreateIncident;
use serde_json::json;

use crate::each_store;
use crate::support::{application, rule};

fn spec(name: &str, owner: Option<&str>) -> ApplicationSpec {
    ApplicationSpec {
        name: name.into(),
        description: Some("card payments\r\n".into()),
        owner: owner.map(String::from),
        enterprise_project: None,
        modules: vec![AppModule {
            name: "web".into(),
            description: None,
        }],
        regions: vec!["eu-west-1".into()],
    }
}

#[tokio::test]
async fn applications_are_kept_by_name_with_an_owner_who_is_a_person() {
    each_store!(|s| {
        s.create_user(T, "ann", "Ann", None).await.unwrap();
        let a = s
            .create_application(T, &spec(" payments ", Some("ann")))
            .await
            .unwrap();
        assert_eq!(a.spec.name, "payments");
        assert_eq!(a.spec.description.as_deref(), Some("card payments"));
        assert_eq!(s.get_application(T, "payments").await.unwrap().id, a.id);
        assert!(matches!(
            s.create_application(T, &spec("payments", None)).await,
            Err(StoreError::Conflict(m)) if m.contains("'payments' already exists")
        ));
        let e = s
            .create_application(T, &spec("billing", Some("nobody")))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("owner 'nobody' is no user"), "{e}");
        let mut in_project = spec("billing", None);
        in_project.enterprise_project = Some("finance".into());
        let e = s.create_application(T, &in_project).await.unwrap_err();
        assert!(e.to_string().contains("'finance' does not exist"), "{e}");
        s.create_application(T, &spec("billing", None))
            .await
            .unwrap();
        // Renaming onto a taken name is refused and changes nothing.
        assert!(matches!(
            s.update_application(T, &a.id, &spec("billing", None)).await,
            Err(StoreError::Conflict(_))
        ));
        let mut changed = spec("payments-v2", Some("ann"));
        changed.regions.push("cn-north-4".into());
        let b = s.update_application(T, &a.id, &changed).await.unwrap();
        assert_eq!(b.spec.regions, vec!["eu-west-1", "cn-north-4"]);
        assert!(b.updated_at >= a.updated_at);
        let names: Vec<String> = s
            .list_applications(T)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.spec.name)
            .collect();
        assert_eq!(names, vec!["billing", "payments-v2"]);
        s.delete_application(T, &a.id).await.unwrap();
        assert!(matches!(
            s.get_application(T, &a.id).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

/// A schedule with `who` on call all day, every day.
fn all_day(who: &str) -> serde_json::Value {
    json!({"tz": "UTC", "mode": "fixed",
        "shifts": [{"name": "all", "start": "00:00:00", "end": "00:00:00"}],
        "fixed": {"oncall": {"0": [who]}}, "weekly": {}, "dated": {}, "cleared": [], "overrides": []})
}

fn incident_in(app: &str) -> CreateIncident {
    CreateIncident {
        title: "checkout slow".into(),
        description: String::new(),
        level: IncidentLevel::P3,
        assignee: "alice".into(),
        application: Some(app.into()),
        region: None,
        enterprise_project: None,
        category: None,
        assignee_shift: None,
    }
}

/// Definitions and incidents refer to an application by id (R6): stored
/// as its id, answered and matched by its name, a rename followed
/// everywhere, an unknown name refused, and deletion refused while
/// anything refers to it.
#[tokio::test]
async fn definitions_and_incidents_refer_to_applications_by_id() {
    each_store!(|s| {
        for u in ["alice", "bob"] {
            s.create_user(T, u, u, None).await.unwrap();
        }
        let shop = application(s, "shop").await;
        let mut r = rule("db", "DbDown");
        r.application = Some("nope".into());
        let e = s.create_rule(T, &r).await.unwrap_err();
        assert!(
            e.to_string().contains("application 'nope' does not exist"),
            "{e}"
        );
        let e = s
            .create_incident(T, &incident_in("nope"), "x")
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("application 'nope' does not exist"),
            "{e}"
        );
        r.application = Some("shop".into());
        let rule = s.create_rule(T, &r).await.unwrap();
        assert_eq!(rule.spec.application.as_deref(), Some("shop"));
        let n: NotificationRule = serde_json::from_value(json!({
            "name": "shop people", "templates": ["incident_created"], "applications": ["shop"],
            "recipients": [{"type": "individual", "users": ["alice"]}], "channels": ["email"]}))
        .unwrap();
        s.doc_create(T, &n).await.unwrap();
        let sc: Scenario = serde_json::from_value(json!({
            "name": "ops", "dimension": "application", "roles": ["oncall"], "schedule": all_day("alice"),
            "applications": [{"application": "shop", "schedule": all_day("bob")}]}))
        .unwrap();
        s.create_scenario(T, &sc).await.unwrap();
        let inc = s
            .create_incident(T, &incident_in(&shop), "x")
            .await
            .unwrap();
        assert_eq!(
            inc.incident.application.as_deref(),
            Some("shop"),
            "an id is taken too"
        );
        for table in ["forwarding_rules", "notification_rules", "oncall_scenarios"] {
            let spec: String =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT spec FROM {table}")))
                    .fetch_one(s.pool())
                    .await
                    .unwrap();
            assert!(
                spec.contains(&shop) && !spec.contains("\"shop\""),
                "{table}: {spec}"
            );
        }
        // Renamed, and followed everywhere.
        s.update_application(T, &shop, &spec("webshop", None))
            .await
            .unwrap();
        let rule = s.get_rule(T, &rule.id).await.unwrap();
        assert_eq!(rule.spec.application.as_deref(), Some("webshop"));
        let n = s
            .doc_get::<NotificationRule>(T, "shop people")
            .await
            .unwrap();
        assert_eq!(n.spec.applications, vec!["webshop"]);
        let ops = s.get_scenario(T, "ops").await.unwrap();
        assert_eq!(ops.scenario.applications[0].application, "webshop");
        let now = chrono::Utc::now();
        let who = s
            .on_call(T, "ops", "oncall", (Some("webshop"), None), now)
            .await
            .unwrap();
        assert_eq!(
            who,
            vec!["bob"],
            "the application's own schedule, after the rename"
        );
        let got = s.get_incident(T, &inc.incident.id).await.unwrap();
        assert_eq!(got.incident.application.as_deref(), Some("webshop"));
        // Saving a definition read back (names) keeps the ids.
        s.update_rule(T, &rule.id, &rule.spec).await.unwrap();
        // Deleting it is refused, naming what refers to it.
        let e = s
            .delete_application(T, "webshop")
            .await
            .unwrap_err()
            .to_string();
        for want in [
            "forwarding rule 'db'",
            "notification rule 'shop people'",
            "scheduling scenario 'ops'",
            "1 incident(s)",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(s.get_application(T, &shop).await.is_ok());
    });
}

/// SQLite: free-text application names of schema v31 are adopted on
/// upgrade — one application per distinct name (an existing one reused),
/// incidents and definitions then holding its id.
#[tokio::test]
async fn free_text_applications_are_adopted_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coc.db").display());
    let keyring = coc_store::secret::Keyring::random();
    let s = coc_store::Store::open(&url, keyring.clone()).await.unwrap();
    s.ensure_tenant(T).await.unwrap();
    s.create_user(T, "alice", "Alice", None).await.unwrap();
    let billing = application(&s, "billing").await;
    let checkout = application(&s, "checkout").await;
    let mut r = rule("r1", "A");
    r.application = Some("checkout".into());
    s.create_rule(T, &r).await.unwrap();
    let mut r = rule("r2", "B");
    r.application = Some("billing".into());
    s.create_rule(T, &r).await.unwrap();
    let n: NotificationRule = serde_json::from_value(json!({
        "name": "both", "templates": ["incident_created"], "applications": ["checkout", "billing"],
        "recipients": [{"type": "individual", "users": ["alice"]}], "channels": ["email"]}))
    .unwrap();
    s.doc_create(T, &n).await.unwrap();
    let inc = s
        .create_incident(T, &incident_in("checkout"), "x")
        .await
        .unwrap();
    // Back to schema v31: names in the documents, free text on incidents,
    // and no application "checkout".
    let stmts = [
        "ALTER TABLE incidents ADD COLUMN application TEXT".to_string(),
        "UPDATE incidents SET application = 'checkout'".into(),
        "DROP INDEX incidents_by_application".into(),
        "ALTER TABLE incidents DROP COLUMN application_id".into(),
        "ALTER TABLE oncall_scenarios ADD COLUMN application TEXT".into(),
        "ALTER TABLE oncall_scenarios ADD COLUMN region TEXT".into(),
        format!(
            "UPDATE forwarding_rules SET spec = replace(replace(spec, '{checkout}', 'checkout'), '{billing}', 'billing')"
        ),
        format!(
            "UPDATE notification_rules SET spec = replace(replace(spec, '{checkout}', 'checkout'), '{billing}', 'billing')"
        ),
        format!("DELETE FROM applications WHERE id = '{checkout}'"),
        // (and before the cloud accounts of 0034)
        "DROP TABLE cloud_accounts".into(),
        "DROP INDEX resources_by_cloud".into(),
        "ALTER TABLE resources DROP COLUMN cloud_account_id".into(),
        "ALTER TABLE resources DROP COLUMN external_id".into(),
        // (and the drift of 0035, the proxy columns of 0036)
        "DROP TABLE host_drift".into(),
        "ALTER TABLE hosts DROP COLUMN proxy".into(),
        "ALTER TABLE hosts DROP COLUMN proxy_listen".into(),
        "ALTER TABLE hosts DROP COLUMN agent_sha256".into(),
        // (and the delegated targets of 0037)
        "DROP INDEX job_hosts_by_host".into(),
        "ALTER TABLE job_hosts DROP COLUMN runs_on".into(),
        "ALTER TABLE job_hosts DROP COLUMN target_params".into(),
        // (and the agent builds of 0039)
        "DROP TABLE agent_build_chunks".into(),
        "DROP TABLE agent_builds".into(),
        // (and the patch baselines of 0040)
        "DROP TABLE patch_baselines".into(),
        // (and the patch reports of 0041)
        "DROP TABLE host_patches".into(),
        "DROP TABLE patch_hosts".into(),
        // (and the health checks of 0042)
        "DROP TABLE health_checks".into(),
        // (and the ingest log's mark and acknowledgement of 0043)
        "DROP TABLE ingest_applied".into(),
        "ALTER TABLE integrations DROP COLUMN acknowledge".into(),
        "DELETE FROM coc_migrations WHERE version >= 32".into(),
    ];
    for q in stmts {
        sqlx::query(sqlx::AssertSqlSafe(q))
            .execute(s.pool())
            .await
            .unwrap();
    }
    drop(s);
    let s = coc_store::Store::open(&url, keyring).await.unwrap();
    let apps = s.list_applications(T).await.unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a.spec.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["billing", "checkout"],
        "billing reused, checkout adopted"
    );
    let adopted = &apps[1];
    assert_ne!(adopted.id, checkout);
    assert_eq!(apps[0].id, billing);
    let rules = s.list_rules(T).await.unwrap();
    let got: Vec<Option<&str>> = rules
        .iter()
        .map(|r| r.spec.application.as_deref())
        .collect();
    assert_eq!(got, vec![Some("checkout"), Some("billing")]);
    let stored: Vec<String> = sqlx::query_scalar("SELECT spec FROM forwarding_rules ORDER BY id")
        .fetch_all(s.pool())
        .await
        .unwrap();
    assert!(
        stored[0].contains(&adopted.id) && stored[1].contains(&billing),
        "{stored:?}"
    );
    let n = s.doc_get::<NotificationRule>(T, "both").await.unwrap();
    assert_eq!(n.spec.applications, vec!["checkout", "billing"]);
    let got = s.get_incident(T, &inc.incident.id).await.unwrap();
    assert_eq!(got.incident.application.as_deref(), Some("checkout"));
}
