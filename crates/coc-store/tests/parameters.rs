//! The parameter center (X6) on both backends, and the plaintext of an
//! encrypted parameter never reaching the database file.

use chrono::{Duration, Utc};
use coc_domain::DEFAULT_TENANT as T;
use coc_domain::parameter::{ParamKind, ParamRef, ParameterSpec, RefMode};
use coc_domain::script::{ParamType, RiskLevel, ScriptParam, ScriptSpec, ScriptType};
use coc_store::StoreError;
use coc_store::ticket::NewTicket;

use crate::each_store;
use crate::support::host;

const PLAIN: &str = "correct-horse-battery-staple";

fn spec(value: &str) -> ParameterSpec {
    ParameterSpec {
        name: "db/password".into(),
        region: "eu-1".into(),
        kind: ParamKind::Encrypted,
        enterprise_project: None,
        value: value.into(),
        description: "primary".into(),
        expires_at: None,
        pre_deletion_minutes: vec![],
        unmodified_minutes: vec![],
        recipients: vec![],
        channels: vec![],
        tags: [("team".to_string(), "db".to_string())].into(),
    }
}

#[tokio::test]
async fn encrypted_parameters_are_versioned_masked_and_decrypted_on_request() {
    each_store!(|s| {
        let p = s.create_parameter(T, &spec(PLAIN), "ann").await.unwrap();
        assert_eq!((p.spec.value.as_str(), p.version), ("******", 1));
        assert!(matches!(
            s.create_parameter(T, &spec("x"), "ann").await,
            Err(StoreError::Conflict(_))
        ));
        // "******" keeps the value; the name, region and type are fixed.
        let mut same = spec("******");
        same.description = "primary db".into();
        let p2 = s.update_parameter(T, &p.id, &same, "bob").await.unwrap();
        assert_eq!((p2.version, p2.modified_by.as_str()), (2, "bob"));
        let mut renamed = spec("new");
        renamed.name = "db/pw".into();
        assert!(s.update_parameter(T, &p.id, &renamed, "bob").await.is_err());
        let mut retyped = spec("new");
        retyped.kind = ParamKind::Text;
        assert!(s.update_parameter(T, &p.id, &retyped, "bob").await.is_err());
        s.update_parameter(T, &p.id, &spec("rotated-1"), "bob")
            .await
            .unwrap();
        let values: Vec<(i64, String)> = s
            .decrypt_parameter(T, &p.id)
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.version, v.value))
            .collect();
        assert_eq!(
            values,
            vec![
                (3, "rotated-1".into()),
                (2, PLAIN.into()),
                (1, PLAIN.into())
            ]
        );
        assert!(
            s.parameter_history(T, &p.id)
                .await
                .unwrap()
                .iter()
                .all(|v| v.value == "******")
        );
        for table in ["parameters", "parameter_versions"] {
            let raw: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT value FROM {table}")))
                    .fetch_all(s.pool())
                    .await
                    .unwrap();
            assert!(
                raw.iter()
                    .all(|v| !v.contains(PLAIN) && !v.contains("rotated")),
                "{table}"
            );
        }
        assert_eq!(
            s.list_parameters(T, Some("eu-1"), Some("PASS"), Some("team=db"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            s.list_parameters(T, Some("us-1"), None, None)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.list_parameters(T, None, None, Some("team=web"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.list_parameters("other", None, None, None)
                .await
                .unwrap()
                .is_empty()
        );
    });
}

#[tokio::test]
async fn expiry_deletes_and_notices_are_sent_once() {
    each_store!(|s| {
        s.create_user(T, "ann", "Ann", None).await.unwrap();
        let now = Utc::now();
        let mut sp = spec(PLAIN);
        sp.expires_at = Some((now + Duration::minutes(60)).timestamp_millis());
        sp.pre_deletion_minutes = vec![10];
        sp.unmodified_minutes = vec![30];
        sp.recipients = vec![coc_domain::notify::Recipient::Individual {
            users: vec!["ann".into()],
        }];
        sp.channels = vec!["email".into()];
        let p = s.create_parameter(T, &sp, "ann").await.unwrap();
        assert_eq!(
            s.run_parameters(now + Duration::minutes(29)).await.unwrap(),
            0
        );
        assert_eq!(
            s.run_parameters(now + Duration::minutes(31)).await.unwrap(),
            1,
            "unmodified"
        );
        assert_eq!(
            s.run_parameters(now + Duration::minutes(32)).await.unwrap(),
            0,
            "once"
        );
        assert_eq!(
            s.run_parameters(now + Duration::minutes(51)).await.unwrap(),
            1,
            "pre-deletion"
        );
        let log = s
            .list_deliveries(T, None, &Default::default())
            .await
            .unwrap()
            .items;
        assert_eq!(log.len(), 2);
        assert!(
            log.iter()
                .all(|d| d.event == "parameter_notice" && d.recipient.as_deref() == Some("ann"))
        );
        assert_eq!(
            s.run_parameters(now + Duration::minutes(61)).await.unwrap(),
            1,
            "deleted"
        );
        assert!(matches!(
            s.get_parameter(T, &p.id).await,
            Err(StoreError::NotFound { .. })
        ));
        // Rules of ref. 6.2 are enforced on create.
        sp.pre_deletion_minutes = vec![120];
        assert!(s.create_parameter(T, &sp, "ann").await.is_err());
    });
}

#[tokio::test]
async fn scripts_take_parameters_at_creation_or_latest_at_dispatch() {
    each_store!(|s| {
        let h = host(s, "db-01").await;
        let param = |name: &str| ScriptParam {
            name: name.into(),
            description: String::new(),
            kind: ParamType::String,
            default: None,
            required: true,
            sensitive: false,
        };
        let script = s
            .create_script(
                T,
                &ScriptSpec {
                    name: "use-pw".into(),
                    description: String::new(),
                    script_type: ScriptType::Shell,
                    content: "echo ok".into(),
                    risk_level: RiskLevel::Low,
                    params: vec![param("FIXED"), param("LIVE")],
                    manual_review: false,
                    reviewers: vec![],
                },
                "op",
            )
            .await
            .unwrap();
        let p = s
            .create_parameter(T, &spec("first-secret"), "op")
            .await
            .unwrap();
        let r = |mode| ParamRef {
            region: "eu-1".into(),
            name: "db/password".into(),
            mode,
        };
        let req = NewTicket {
            script_id: script.id.clone(),
            params: Default::default(),
            hosts: vec![h],
            run_as: None,
            timeout_s: None,
            batch_policy: Default::default(),
            batches: None,
            threshold: None,
            incident_id: None,
            created_by: "op".into(),
            param_refs: [
                ("FIXED".to_string(), r(RefMode::AtCreation)),
                ("LIVE".to_string(), r(RefMode::Latest)),
            ]
            .into(),
        };
        let t = s.create_ticket(T, &req).await.unwrap();
        let stored: String = sqlx::query_scalar("SELECT params FROM job_tickets")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert!(
            !stored.contains("first-secret"),
            "values from the center are stored encrypted"
        );
        s.update_parameter(T, &p.id, &spec("second-secret"), "op")
            .await
            .unwrap();
        let env = crate::support::first_exec_env(s, &t.id).await;
        assert_eq!(
            (env["FIXED"].as_str(), env["LIVE"].as_str()),
            ("first-secret", "second-secret")
        );
        let mut bad = req.clone();
        bad.param_refs.insert("NOPE".into(), r(RefMode::Latest));
        assert!(
            s.create_ticket(T, &bad).await.is_err(),
            "unknown script parameter"
        );
        let mut missing = req.clone();
        missing.param_refs.insert(
            "FIXED".into(),
            ParamRef {
                region: "eu-1".into(),
                name: "ghost".into(),
                mode: RefMode::AtCreation,
            },
        );
        assert!(matches!(
            s.create_ticket(T, &missing).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

/// SQLite only: the plaintext is nowhere in the database files.
#[tokio::test]
async fn the_database_file_never_holds_the_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coc.db").display());
    let s = coc_store::Store::open(&url, coc_store::secret::Keyring::random())
        .await
        .unwrap();
    let p = s.create_parameter(T, &spec(PLAIN), "ann").await.unwrap();
    s.update_parameter(T, &p.id, &spec(&format!("{PLAIN}-2")), "ann")
        .await
        .unwrap();
    assert_eq!(
        s.decrypt_parameter(T, &p.id).await.unwrap()[0].value,
        format!("{PLAIN}-2")
    );
    s.pool().close().await;
    let mut files = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        files += 1;
        assert!(
            !bytes.windows(PLAIN.len()).any(|w| w == PLAIN.as_bytes()),
            "plaintext found in a database file"
        );
    }
    assert!(files >= 1);
}
