//! Ticket creation, task state changes, operator actions.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::script::{ParamType, RiskLevel, ScriptParam, ScriptSpec, ScriptType};
use coc_domain::ticket::{BatchPolicy, TaskStatus, Threshold, TicketAction, TicketStatus};
use coc_store::StoreError;
use coc_store::jobticket::JobCommand;
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
        // The one engine runs it: batch 1 is one host (auto: 1, 2, 1).
        let now = coc_store::now_ms();
        let cmds = s.advance_job_ticket(&t.id, now, &|_| true).await.unwrap();
        let (first, env) = match &cmds[..] {
            [JobCommand::Exec { run_id, env, .. }] => (run_id.clone(), env.clone()),
            other => panic!("one script dispatch expected: {other:?}"),
        };
        assert_eq!(env["PW"], "hunter2", "the agent gets the real value");
        assert!(
            s.advance_job_ticket(&t.id, now, &|_| true)
                .await
                .unwrap()
                .is_empty(),
            "a step is idempotent: nothing is sent twice"
        );
        let d = s.get_ticket(T, &t.id).await.unwrap();
        assert_eq!(d.tasks[0].id, first, "the task shows its run's id");
        s.append_job_output(&first, &d.tasks[0].host_id, "hello ")
            .await
            .unwrap();
        s.append_job_output(&first, "other-host", "spoof")
            .await
            .unwrap();
        s.append_job_output(&first, &d.tasks[0].host_id, "world")
            .await
            .unwrap();
        assert!(
            s.finish_job_run(
                &first,
                Some("other-host"),
                TaskStatus::Successful,
                Some(0),
                None,
                None
            )
            .await
            .unwrap()
            .is_none()
        );
        assert!(
            s.finish_job_run(
                &first,
                Some(&d.tasks[0].host_id),
                TaskStatus::Successful,
                Some(0),
                None,
                None
            )
            .await
            .unwrap()
            .is_some()
        );
        assert!(
            s.finish_job_run(&first, None, TaskStatus::Failed, Some(1), None, None)
                .await
                .unwrap()
                .is_none(),
            "late result ignored"
        );
        let d = s.get_ticket(T, &t.id).await.unwrap();
        assert_eq!(d.tasks[0].output, "hello world");
        assert_eq!(
            d.tasks[0].status,
            TaskStatus::Executing,
            "until the engine steps"
        );
        s.advance_job_ticket(&t.id, now, &|_| true).await.unwrap();
        let d = s.get_ticket(T, &t.id).await.unwrap();
        assert_eq!(d.tasks[0].status, TaskStatus::Successful);
        assert_eq!(d.tasks[0].exit_code, Some(0));
        assert_eq!(d.ticket.counts.successful, 1);
        assert_eq!(
            d.tasks
                .iter()
                .filter(|t| t.status == TaskStatus::Executing)
                .count(),
            1,
            "batch 2 started, one host at a time: one more failure would break the 80 % threshold"
        );

        // Cancel one pending host, pause, continue, forcibly end.
        let (task, stop) = s
            .cancel_task(T, &t.id, &d.tasks[3].host_id, "op")
            .await
            .unwrap();
        assert_eq!((task.status, stop.len()), (TaskStatus::Cancelled, 0));
        assert!(
            s.cancel_task(T, &t.id, &d.tasks[3].host_id, "op")
                .await
                .is_err()
        );
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
        assert!(s.active_job_ticket_ids().await.unwrap().is_empty());

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
        crate::support::users(s, &["a"]).await;
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
            converge: None,
            storm: None,
            after_minutes: None,
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
        let env = crate::support::first_exec_env(s, &o.tickets_created[0]).await;
        assert_eq!(env["PW"], "s3cret");
        assert_eq!(env["N"], "1");
    });
}

/// SQLite: script tickets stored before schema v17 (tables `tickets` and
/// `ticket_tasks`) move to the one engine on upgrade — finished tasks keep
/// their output, and a task still out on an agent becomes a run with the
/// same id, so the agent's result lands and the ticket finishes.
#[tokio::test]
async fn legacy_script_tickets_move_to_the_one_engine_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coc.db").display());
    let keyring = coc_store::secret::Keyring::random();
    let s = coc_store::Store::open(&url, keyring.clone()).await.unwrap();
    s.ensure_tenant(T).await.unwrap();
    let script = s.create_script(T, &spec(), "op").await.unwrap();
    let (h1, h2) = (host(&s, "old-1").await, host(&s, "old-2").await);
    let pw = keyring.encrypt("hunter2");
    let mut stmts = vec![
        format!(
            "INSERT INTO tickets (id, tenant_id, number, kind, script_id, script_name, script_version, script_type, \
             content, param_decl, params, run_as, timeout_s, batch_policy, threshold, status, incident_id, created_by, \
             created_at, updated_at, finished_at) VALUES ('t-old', '{T}', 'SCT-OLD-1', 'script', '{}', 's', 1, 'shell', \
             'echo $N', '{}', '{{\"N\":\"3\",\"PW\":\"{pw}\"}}', 'root', 300, 'none', NULL, 'executing', NULL, 'op', \
             1000, 2000, NULL)",
            script.id,
            serde_json::to_string(&spec().params)
                .unwrap()
                .replace('\'', "''")
        ),
        format!(
            "INSERT INTO ticket_tasks (id, tenant_id, ticket_id, host_id, batch, seq, status, exit_code, output, error, \
             attempt, started_at, finished_at) VALUES ('task-a', '{T}', 't-old', '{h1}', 0, 0, 'successful', 0, 'done\n', \
             NULL, 1, 1100, 1500)"
        ),
        format!(
            "INSERT INTO ticket_tasks (id, tenant_id, ticket_id, host_id, batch, seq, status, exit_code, output, error, \
             attempt, started_at, finished_at) VALUES ('task-b', '{T}', 't-old', '{h2}', 0, 1, 'executing', NULL, 'half', \
             NULL, 1, 1200, NULL)"
        ),
    ];
    // Back to schema v16.
    stmts.extend(
        [
            "DROP INDEX job_tickets_kind",
            "DROP INDEX job_runs_agent",
            "ALTER TABLE job_tickets DROP COLUMN kind",
            "DELETE FROM coc_migrations WHERE version = 17",
        ]
        .map(String::from),
    );
    for q in stmts {
        sqlx::query(sqlx::AssertSqlSafe(q))
            .execute(s.pool())
            .await
            .unwrap();
    }
    drop(s);
    let s = coc_store::Store::open(&url, keyring).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    let d = s.get_ticket(T, "SCT-OLD-1").await.unwrap();
    assert_eq!(d.ticket.status, TicketStatus::Executing);
    assert_eq!(d.ticket.params["PW"], "******");
    assert_eq!(d.ticket.params["N"], "3");
    assert_eq!(
        (
            d.tasks[0].id.as_str(),
            d.tasks[0].status,
            d.tasks[0].output.as_str()
        ),
        ("task-a", TaskStatus::Successful, "done\n")
    );
    assert_eq!(
        (d.tasks[1].id.as_str(), d.tasks[1].status),
        ("task-b", TaskStatus::Executing)
    );
    // The agent still holding task-b reports it; the engine finishes the ticket.
    assert!(
        s.finish_job_run(
            "task-b",
            Some(&h2),
            TaskStatus::Successful,
            Some(0),
            None,
            Some(" ok")
        )
        .await
        .unwrap()
        .is_some()
    );
    s.advance_job_ticket("t-old", coc_store::now_ms(), &|_| true)
        .await
        .unwrap();
    let d = s.get_ticket(T, "t-old").await.unwrap();
    assert_eq!(d.ticket.status, TicketStatus::Successful);
    assert_eq!(d.tasks[1].output, "half ok");
    // A redispatch of the host sends nothing more: its run is done.
    assert!(s.redispatch(&h2).await.unwrap().is_empty());
}
