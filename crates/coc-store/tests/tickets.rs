//! Ticket creation, task state changes, operator actions.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::script::{ParamType, RiskLevel, ScriptParam, ScriptSpec, ScriptType};
use coc_domain::ticket::{BatchPolicy, TaskStatus, Threshold, TicketAction, TicketStatus};
use coc_store::StoreError;
use coc_store::ticket::NewTicket;

use crate::each_store;
use crate::support::host;

fn spec() -> ScriptSpec {
    ScriptSpec {
        name: "s".into(),
        description: String::new(),
        script_type: ScriptType::Shell,
        content: "echo $N".into(),
        risk_level: RiskLevel::Medium,
        params: vec![
            ScriptParam {
                name: "N".into(),
                description: String::new(),
                kind: ParamType::Number,
                default: None,
                required: true,
                sensitive: false,
            },
            ScriptParam {
                name: "PW".into(),
                description: String::new(),
                kind: ParamType::String,
                default: None,
                required: false,
                sensitive: true,
            },
        ],
        manual_review: false,
        reviewers: vec![],
    }
}

fn req(script: &str, hosts: Vec<String>) -> NewTicket {
    let mut params = std::collections::BTreeMap::new();
    params.insert("N".to_string(), "3".to_string());
    params.insert("PW".to_string(), "hunter2".to_string());
    NewTicket {
        script_id: script.into(),
        params,
        hosts,
        run_as: None,
        timeout_s: None,
        batch_policy: BatchPolicy::Auto,
        batches: None,
        threshold: Some(Threshold(800)),
        incident_id: None,
        created_by: "op".into(),
        param_refs: Default::default(),
    }
}

#[tokio::test]
async fn ticket_lifecycle_and_masking() {
    each_store!(|s| {
        let script = s.create_script(T, &spec(), "op").await.unwrap();
        assert_eq!(script.version, 1);
        let mut hosts = Vec::new();
        for i in 0..4 {
            hosts.push(host(s, &format!("h{i}")).await);
        }
        // Bad requests store nothing.
        let mut bad = req(&script.id, hosts.clone());
        bad.params.insert("N".into(), "many".into());
        assert!(matches!(
            s.create_ticket(T, &bad).await,
            Err(StoreError::Domain(_))
        ));
        let mut bad = req(&script.id, vec!["nope".into()]);
        bad.batch_policy = BatchPolicy::None;
        assert!(matches!(
            s.create_ticket(T, &bad).await,
            Err(StoreError::NotFound { .. })
        ));
        let mut bad = req(&script.id, hosts.clone());
        bad.run_as = Some("root; rm -rf /".into());
        assert!(s.create_ticket(T, &bad).await.is_err());
        assert!(
            s.list_tickets(T, None, &Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );

        let t = s
            .create_ticket(T, &req(&script.id, hosts.clone()))
            .await
            .unwrap();
        assert_eq!(t.params["PW"], "******", "sensitive values are masked");
        assert_eq!(t.run_as, "root");
        assert_eq!(t.timeout_s, 300);
        assert_eq!(t.success_rate_threshold, Some(80.0));
        let d = s.get_ticket(T, &t.number).await.unwrap();
        let batches: Vec<i64> = d.tasks.iter().map(|t| t.batch).collect();
        assert_eq!(batches, vec![0, 1, 1, 2]);
        let disp = s.dispatchable(&t.id).await.unwrap();
        assert_eq!(
            disp.params["PW"], "hunter2",
            "the executor sees the real value"
        );

        let first = d.tasks[0].id.clone();
        assert_eq!(
            s.start_tasks(std::slice::from_ref(&first)).await.unwrap(),
            vec![first.clone()]
        );
        assert!(
            s.start_tasks(std::slice::from_ref(&first))
                .await
                .unwrap()
                .is_empty(),
            "start is idempotent"
        );
        s.append_output(&first, &d.tasks[0].host_id, "hello ")
            .await
            .unwrap();
        s.append_output(&first, "other-host", "spoof")
            .await
            .unwrap();
        s.append_output(&first, &d.tasks[0].host_id, "world")
            .await
            .unwrap();
        assert!(
            s.finish_task(
                &first,
                Some("other-host"),
                TaskStatus::Successful,
                Some(0),
                None
            )
            .await
            .unwrap()
            .is_none()
        );
        assert!(
            s.finish_task(
                &first,
                Some(&d.tasks[0].host_id),
                TaskStatus::Successful,
                Some(0),
                None
            )
            .await
            .unwrap()
            .is_some()
        );
        assert!(
            s.finish_task(&first, None, TaskStatus::Failed, Some(1), None)
                .await
                .unwrap()
                .is_none(),
            "late result ignored"
        );
        let d = s.get_ticket(T, &t.id).await.unwrap();
        assert_eq!(d.tasks[0].output, "hello world");
        assert_eq!(d.tasks[0].status, TaskStatus::Successful);
        assert_eq!(d.ticket.counts.successful, 1);

        // Cancel one pending host, pause, continue, forcibly end.
        let (task, running) = s.cancel_task(T, &t.id, &d.tasks[3].id, "op").await.unwrap();
        assert_eq!((task.status, running), (TaskStatus::Cancelled, false));
        assert!(s.cancel_task(T, &t.id, &d.tasks[3].id, "op").await.is_err());
        s.ticket_action(T, &t.id, TicketAction::Pause, "op")
            .await
            .unwrap();
        assert!(matches!(
            s.ticket_action(T, &t.id, TicketAction::Pause, "op").await,
            Err(StoreError::Domain(_))
        ));
        s.ticket_action(T, &t.id, TicketAction::Continue, "op")
            .await
            .unwrap();
        s.start_tasks(std::slice::from_ref(&d.tasks[1].id))
            .await
            .unwrap();
        let (end, stop) = s
            .ticket_action(T, &t.id, TicketAction::ForciblyEnd, "op")
            .await
            .unwrap();
        assert_eq!(end.ticket.status, TicketStatus::Terminated);
        assert_eq!(
            stop.len(),
            1,
            "the running host must be stopped on its agent"
        );
        assert!(end.ticket.finished_at.is_some());
        assert!(
            end.tasks[1..]
                .iter()
                .all(|t| t.status == TaskStatus::Cancelled)
        );
        assert!(s.active_ticket_ids().await.unwrap().is_empty());

        // Modifying the script makes a new version; the ticket keeps v1.
        let mut sp = spec();
        sp.content = "echo v2".into();
        assert_eq!(
            s.update_script(T, &script.id, &sp, "op2")
                .await
                .unwrap()
                .version,
            2
        );
        assert_eq!(
            s.get_ticket(T, &t.id).await.unwrap().ticket.script_version,
            1
        );
    });
}

#[tokio::test]
async fn sensitive_contingency_parameters_are_sealed_and_masked() {
    use coc_domain::incident::IncidentLevel;
    use coc_domain::rule::{Condition, ContingencyScript, Operator, RuleSpec};
    each_store!(|s| {
        let script = s.create_script(T, &spec(), "op").await.unwrap();
        host(s, "web-01").await;
        let mut params = std::collections::BTreeMap::new();
        params.insert("N".to_string(), "1".to_string());
        params.insert("PW".to_string(), "s3cret".to_string());
        let rule = RuleSpec {
            name: "r".into(),
            application: None,
            trigger_type: "alarm".into(),
            data_source: None,
            conditions: vec![Condition {
                field: "alarmName".into(),
                op: Operator::Equals,
                value: Some("A".into()),
                values: None,
            }],
            incident_level: IncidentLevel::P3,
            assignee: "a".into(),
            assignee_shift: None,
            plan: None,
            contingency_script: Some(ContingencyScript {
                script_id: script.id.clone(),
                params,
                timeout_s: None,
                run_as: None,
            }),
        };
        let created = s.create_rule(T, &rule).await.unwrap();
        let shown = s.get_rule(T, &created.id).await.unwrap();
        let cs = shown.spec.contingency_script.clone().unwrap();
        assert_eq!(cs.params["PW"], "******");
        assert_eq!(cs.params["N"], "1");
        let raw: String = sqlx::query_scalar("SELECT spec FROM forwarding_rules")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert!(!raw.contains("s3cret"), "{raw}");
        // Saving the masked form back keeps the secret.
        s.update_rule(T, &created.id, &shown.spec).await.unwrap();
        let o = s
            .ingest(
                T,
                "int",
                vec![crate::support::alarm("A", "web-01:9100", "r")],
            )
            .await
            .unwrap();
        let d = s.dispatchable(&o.tickets_created[0]).await.unwrap();
        assert_eq!(d.params["PW"], "s3cret");
        assert_eq!(d.params["N"], "1");
    });
}
