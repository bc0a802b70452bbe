//! Script review, versions and common scripts (X1) on both backends.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::notify::Recipient;
use coc_domain::script::{RiskLevel, ScriptSpec, ScriptType};
use coc_store::StoreError;
use coc_store::ticket::NewTicket;

use crate::each_store;
use crate::support::host;

fn spec(content: &str, reviewers: Vec<Recipient>) -> ScriptSpec {
    ScriptSpec {
        name: "restart-db".into(),
        description: String::new(),
        script_type: ScriptType::Shell,
        content: content.into(),
        risk_level: RiskLevel::Medium,
        params: vec![],
        manual_review: false,
        reviewers,
    }
}

fn run(script: &str, host: &str) -> NewTicket {
    NewTicket {
        script_id: script.into(),
        params: Default::default(),
        hosts: vec![host.into()],
        run_as: None,
        timeout_s: None,
        batch_policy: Default::default(),
        batches: None,
        threshold: None,
        incident_id: None,
        created_by: "op".into(),
        param_refs: Default::default(),
    }
}

#[tokio::test]
async fn high_risk_scripts_run_only_after_review_and_versions_are_kept() {
    each_store!(|s| {
        let h = host(s, "db-01").await;
        let lead = vec![Recipient::Individual {
            users: vec!["lead".into()],
        }];
        assert!(
            s.create_script(T, &spec("systemctl stop db\nreboot", vec![]), "dev")
                .await
                .unwrap_err()
                .to_string()
                .contains("reviewers"),
            "a high-risk command needs reviewers"
        );
        let sc = s
            .create_script(T, &spec("systemctl stop db\nreboot", lead.clone()), "dev")
            .await
            .unwrap();
        assert_eq!(sc.review.status, "pending");
        assert_eq!(sc.high_risk_findings[0].line, 2);
        let refused = s.create_ticket(T, &run(&sc.id, &h)).await.unwrap_err();
        assert!(
            refused.to_string().contains("waiting for review"),
            "{refused}"
        );
        // Only a reviewer, and not the author.
        assert!(matches!(
            s.review_script(T, &sc.id, "mallory", true, None).await,
            Err(StoreError::Domain(_))
        ));
        let r = s
            .review_script(T, &sc.id, "lead", true, Some("ok for tonight"))
            .await
            .unwrap();
        assert_eq!(
            (r.review.status.as_str(), r.review.reviewed_by.as_deref()),
            ("approved", Some("lead"))
        );
        assert!(
            s.review_script(T, &sc.id, "lead", true, None)
                .await
                .is_err(),
            "once"
        );
        let t = s.create_ticket(T, &run(&sc.id, &h)).await.unwrap();
        assert_eq!(t.script_version, 1);
        // A new version is reviewed again; the old one stays in the history.
        let v2 = s
            .update_script(
                T,
                &sc.id,
                &spec("systemctl restart db\nreboot", lead.clone()),
                "lead",
            )
            .await
            .unwrap();
        assert_eq!((v2.version, v2.review.status.as_str()), (2, "pending"));
        assert!(
            s.review_script(T, &sc.id, "lead", true, None)
                .await
                .is_err(),
            "the author of version 2 cannot approve it"
        );
        let vs = s.script_versions(T, &sc.id).await.unwrap();
        assert_eq!(vs.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 1]);
        assert!(vs[1].spec.content.starts_with("systemctl stop"));
        assert_eq!(vs[0].created_by, "lead");
        // A low-risk edit needs no review.
        let v3 = s
            .update_script(T, &sc.id, &spec("systemctl restart db", vec![]), "dev")
            .await
            .unwrap();
        assert_eq!(v3.review.status, "not_required");
        s.create_ticket(T, &run(&sc.id, &h)).await.unwrap();
    });
}

#[tokio::test]
async fn a_pending_review_is_a_to_do_of_its_reviewers_only() {
    each_store!(|s| {
        let lead = vec![Recipient::Individual {
            users: vec!["lead".into(), "dev".into()],
        }];
        let sc = s
            .create_script(T, &spec("systemctl stop db\nreboot", lead), "dev")
            .await
            .unwrap();
        let todos = s.todos(T, "lead").await.unwrap();
        assert_eq!(todos.len(), 1, "{todos:?}");
        assert_eq!(
            (
                todos[0].kind.as_str(),
                todos[0].id.as_str(),
                todos[0].what.as_str()
            ),
            ("script_review", sc.id.as_str(), "version 1")
        );
        assert!(
            s.todos(T, "dev").await.unwrap().is_empty(),
            "the author does not review their own version"
        );
        assert!(s.todos(T, "mallory").await.unwrap().is_empty());
        s.review_script(T, &sc.id, "lead", true, None)
            .await
            .unwrap();
        assert!(s.todos(T, "lead").await.unwrap().is_empty(), "decided");
    });
}

#[tokio::test]
async fn common_scripts_are_shipped_and_read_only() {
    each_store!(|s| {
        s.ensure_tenant(T).await.unwrap();
        let all = s.list_scripts(T).await.unwrap();
        let names: Vec<&str> = all
            .iter()
            .filter(|x| x.system)
            .map(|x| x.spec.name.as_str())
            .collect();
        for n in [
            "OS-DIAGNOSE",
            "PatchScan",
            "ClearingDisks",
            "resettingLinuxAdmin",
            "modifyingVmIpsAddr",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let d = s.get_script(T, "ClearingDisks").await.unwrap();
        assert!(matches!(
            s.delete_script(T, &d.id).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.update_script(T, &d.id, &spec("echo", vec![]), "x").await,
            Err(StoreError::Conflict(_))
        ));
        s.ensure_tenant(T).await.unwrap();
        assert_eq!(
            s.list_scripts(T).await.unwrap().len(),
            all.len(),
            "idempotent"
        );
        let h = host(s, "web-01").await;
        let t = s
            .create_ticket(
                T,
                &run(&s.get_script(T, "OS-DIAGNOSE").await.unwrap().id, &h),
            )
            .await;
        assert!(t.is_ok(), "common scripts run without review: {t:?}");
    });
}

#[tokio::test]
async fn a_forwarding_rule_offers_its_plan_to_the_incident() {
    use coc_domain::plan::Plan;
    use coc_store::plan::ExecutePlan;
    each_store!(|s| {
        crate::support::users(s, &["alice"]).await;
        s.ensure_tenant(T).await.unwrap();
        let h = host(s, "web-01").await;
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "name": "diagnose", "body": {"type": "automation", "action": {"script": "OS-DIAGNOSE"}}}))
        .unwrap();
        s.doc_create(T, &plan).await.unwrap();
        let mut rule = crate::support::rule("cpu", "HighCPU");
        rule.plan = Some("diagnose".into());
        s.create_rule(T, &rule).await.unwrap();
        let out = s
            .ingest(
                T,
                "int",
                vec![crate::support::alarm("HighCPU", "web-01:9100", "r1")],
            )
            .await
            .unwrap();
        let inc = &out.incidents_created[0];
        assert_eq!(
            s.get_incident(T, inc)
                .await
                .unwrap()
                .incident
                .plan
                .as_deref(),
            Some("diagnose")
        );
        let t = s
            .execute_plan(
                T,
                inc,
                &ExecutePlan {
                    plan: None,
                    step: None,
                    hosts: vec![h.clone()],
                },
                "ann",
            )
            .await
            .unwrap();
        assert_eq!(t.incident_id(), Some(inc.as_str()));
        assert_eq!(t.kind(), "script");
        let hist = s.get_incident(T, inc).await.unwrap().history;
        assert!(
            hist.iter()
                .any(|e| e.action == "execute_plan" && e.ticket_id.as_deref() == Some(t.id()))
        );
        assert!(
            s.execute_plan(
                T,
                inc,
                &ExecutePlan {
                    plan: None,
                    step: Some(1),
                    hosts: vec![h]
                },
                "ann"
            )
            .await
            .is_err(),
            "an automation plan has no steps"
        );
    });
}

/// A common script stored by an earlier release is replaced by the one
/// this release ships, as its next version; one that matches is left
/// alone (no new version at every call).
#[tokio::test]
async fn common_scripts_of_an_earlier_release_are_renewed() {
    each_store!(|s| {
        let name = coc_domain::agent_install::SCRIPT_NAME;
        s.ensure_system_scripts(T).await.unwrap();
        let first = s.get_script(T, name).await.unwrap();
        s.ensure_system_scripts(T).await.unwrap();
        assert_eq!(s.get_script(T, name).await.unwrap().version, first.version);
        // As an earlier release stored it: other content, one parameter less.
        sqlx::query("UPDATE scripts SET content = 'echo old', params = '[]' WHERE id = $1")
            .bind(&first.id)
            .execute(s.pool())
            .await
            .unwrap();
        s.ensure_system_scripts(T).await.unwrap();
        let now = s.get_script(T, name).await.unwrap();
        assert_eq!(now.version, first.version + 1);
        assert_eq!(now.spec.content, coc_domain::agent_install::SCRIPT);
        assert!(now.spec.params.iter().any(|p| p.name == "UNIT"));
        assert!(now.system);
        let versions = s.script_versions(T, &now.id).await.unwrap();
        assert_eq!(versions.len() as i64, now.version);
    });
}
