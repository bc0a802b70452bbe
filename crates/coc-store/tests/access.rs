//! Users, groups, policies, tokens, audit — on both backends.

use coc_domain::access::{Request, evaluate};
use coc_store::StoreError;
use coc_store::audit::{AuditFilter, NewAudit};

use crate::each_store;

#[tokio::test]
async fn bootstrap_users_groups_policies_tokens() {
    each_store!(|s| {
        let b = s.bootstrap("t1", "admin-token-xyz", None).await.unwrap();
        let pw = b.generated_password.expect("generated once");
        assert!(
            s.bootstrap("t1", "admin-token-xyz", None)
                .await
                .unwrap()
                .generated_password
                .is_none(),
            "idempotent"
        );
        assert!(
            s.verify_password("t1", "admin", &pw)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            s.verify_password("t1", "admin", "wrong-password")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.verify_password("t2", "admin", &pw)
                .await
                .unwrap()
                .is_none(),
            "tenants are separate"
        );
        let p = s
            .authenticate_token("admin-token-xyz", Some("127.0.0.1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((p.tenant.as_str(), p.user_name.as_str()), ("t1", "admin"));
        let pols = s.policies_for("t1", &p.user_id).await.unwrap();
        assert!(
            evaluate(
                &pols,
                &Request {
                    action: "coc:script:execute".into(),
                    resource: "script:1".into(),
                    context: Default::default()
                }
            )
            .allowed()
        );
        let raw: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(raw.iter().all(|h| h.starts_with("$argon2id$")));

        // Groups carry policies to their members.
        let u = s
            .create_user("t1", "bob", "Bob", Some("bob-password"))
            .await
            .unwrap();
        assert!(matches!(
            s.create_user("t1", "bob", "Bob", None).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.create_user("t1", "x", "X", Some("short")).await,
            Err(StoreError::Domain(_))
        ));
        assert!(s.policies_for("t1", &u.id).await.unwrap().is_empty());
        s.create_group("t1", "viewers", "").await.unwrap();
        s.set_membership("t1", "viewers", "bob", true)
            .await
            .unwrap();
        s.attach_policy("t1", "COC ReadOnlyAccess", "group", "viewers")
            .await
            .unwrap();
        let pols = s.policies_for("t1", &u.id).await.unwrap();
        assert_eq!(pols.len(), 1);
        assert_eq!(
            s.get_user("t1", "bob").await.unwrap().groups,
            vec!["viewers"]
        );
        s.set_membership("t1", "viewers", "bob", false)
            .await
            .unwrap();
        assert!(s.policies_for("t1", &u.id).await.unwrap().is_empty());

        // Custom policies: validated, system ones immutable.
        let e = s
            .create_policy(
                "t1",
                "p",
                "",
                r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"coc:x:y"}]}"#,
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("/Statement/0/Action/0"));
        s.create_policy(
            "t1",
            "p",
            "",
            r#"{"Version":"1.1","Statement":[{"Effect":"Deny","Action":"coc:*:*"}]}"#,
        )
        .await
        .unwrap();
        assert!(matches!(
            s.delete_policy("t1", "COC FullAccess").await,
            Err(StoreError::Domain(_))
        ));
        assert!(matches!(
            s.get_policy("t2", "p").await,
            Err(StoreError::NotFound { .. })
        ));
        s.delete_policy("t1", "p").await.unwrap();

        // Tokens: shown once, hashed, expiring, revocable.
        let t = s
            .create_token("t1", "bob", "cli", Some(coc_store::now_ms() + 60_000))
            .await
            .unwrap();
        assert!(t.secret.starts_with("coc_"));
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(!stored.contains(&t.secret));
        assert!(
            s.authenticate_token(&t.secret, None)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            s.create_token("t1", "bob", "old", Some(1)).await.is_err(),
            "expiry in the past"
        );
        sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE id = $1")
            .bind(&t.token.id)
            .execute(s.pool())
            .await
            .unwrap();
        assert!(
            s.authenticate_token(&t.secret, None)
                .await
                .unwrap()
                .is_none(),
            "expired"
        );
        let t2 = s.create_token("t1", "bob", "cli2", None).await.unwrap();
        s.revoke_token("t1", &t2.token.id).await.unwrap();
        assert!(
            s.authenticate_token(&t2.secret, None)
                .await
                .unwrap()
                .is_none(),
            "revoked"
        );
        assert!(
            matches!(
                s.revoke_token("t2", &t.token.id).await,
                Err(StoreError::NotFound { .. })
            ),
            "other tenant"
        );

        // A token used from a new address is flagged once.
        let t3 = s.create_token("t1", "bob", "cli3", None).await.unwrap();
        assert!(
            !s.authenticate_token(&t3.secret, Some("10.0.0.1"))
                .await
                .unwrap()
                .unwrap()
                .new_ip
        );
        assert!(
            s.authenticate_token(&t3.secret, Some("10.0.0.2"))
                .await
                .unwrap()
                .unwrap()
                .new_ip
        );
        assert!(
            !s.authenticate_token(&t3.secret, Some("10.0.0.2"))
                .await
                .unwrap()
                .unwrap()
                .new_ip
        );
        // Back and forth between known addresses: nothing new.
        for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.1"] {
            assert!(
                !s.authenticate_token(&t3.secret, Some(ip))
                    .await
                    .unwrap()
                    .unwrap()
                    .new_ip,
                "{ip}"
            );
        }
        assert!(
            s.authenticate_token(&t3.secret, Some("10.0.0.3"))
                .await
                .unwrap()
                .unwrap()
                .new_ip
        );
    });
}

#[tokio::test]
async fn audit_is_redacted_tenant_scoped_and_paged() {
    each_store!(|s| {
        for i in 0..5 {
            s.append_audit(
                "t1",
                &NewAudit {
                    trace: "createUser".into(),
                    action: "coc:user:create".into(),
                    user_name: "admin".into(),
                    method: "POST".into(),
                    path: "/api/v1/users".into(),
                    resource_type: "user".into(),
                    request: serde_json::json!({"name": format!("u{i}"), "password": "hunter2hunter2"}),
                    status: if i == 4 { 409 } else { 201 },
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        let page = s
            .list_audit(
                "t1",
                &AuditFilter::default(),
                &coc_store::Page {
                    limit: 3,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.items[0].result, "failure");
        assert_eq!(page.items[0].request["password"], "******");
        let rest = s
            .list_audit(
                "t1",
                &AuditFilter::default(),
                &coc_store::Page {
                    limit: 3,
                    cursor: page.next_cursor,
                },
            )
            .await
            .unwrap();
        assert_eq!(rest.items.len(), 2);
        assert!(rest.next_cursor.is_none());
        assert!(
            s.list_audit("t2", &AuditFilter::default(), &Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let f = AuditFilter {
            trace: Some("nothing".into()),
            ..Default::default()
        };
        assert!(
            s.list_audit("t1", &f, &Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    });
}

#[tokio::test]
async fn sign_in_failures_lock_and_fade() {
    use coc_store::login::LoginKeys;
    each_store!(|s| {
        let keys = LoginKeys {
            tenant: "t1".into(),
            user: "ann".into(),
            source: Some("10.0.0.9".into()),
        };
        let now = 1_000_000;
        for i in 0..5 {
            assert_eq!(s.login_failed(&keys, now + i).await.unwrap(), None);
        }
        assert_eq!(s.login_failed(&keys, now + 5).await.unwrap(), Some(1_000));
        assert_eq!(s.login_wait(&keys, now + 6).await.unwrap(), Some(999));
        assert_eq!(s.login_wait(&keys, now + 1_005).await.unwrap(), None);
        // A success forgets the name's failures, not the address's.
        s.login_succeeded(&keys).await.unwrap();
        let other = LoginKeys {
            user: "bob".into(),
            ..keys.clone()
        };
        for i in 0..14 {
            assert_eq!(
                s.login_failed(&other, now + 2_000 + i)
                    .await
                    .unwrap()
                    .is_some(),
                i >= 5
            );
        }
        // 6 + 14 = 20 failures from the address: the next one locks it
        // for every name.
        let third = LoginKeys {
            user: "cy".into(),
            ..keys.clone()
        };
        assert_eq!(
            s.login_failed(&third, now + 3_000).await.unwrap(),
            Some(1_000)
        );
        assert!(s.login_wait(&third, now + 3_001).await.unwrap().is_some());
    });
}
