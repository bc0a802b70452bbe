//! Incident lifecycle persistence, conversion, and automatic repair tickets.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::incident::{IncidentAction, IncidentLevel, IncidentStatus};
use coc_domain::rule::{Condition, ContingencyScript, Operator, RuleSpec};
use coc_domain::script::{RiskLevel, ScriptSpec, ScriptType};
use coc_store::incident::CreateIncident;
use coc_store::{Page, StoreError};

use crate::each_store;
use crate::support::{alarm, application, host};

fn new_incident() -> CreateIncident {
    CreateIncident {
        title: "db slow".into(),
        description: "p99 up".into(),
        level: IncidentLevel::P3,
        assignee: "alice".into(),
        application: Some("shop".into()),
        region: None,
        enterprise_project: None,
        category: Some("database".into()),
        assignee_shift: None,
    }
}

#[tokio::test]
async fn lifecycle_is_persisted_with_history() {
    each_store!(|s| {
        application(s, "shop").await;
        crate::support::users(s, &["alice", "carol"]).await;
        let d = s.create_incident(T, &new_incident(), "bob").await.unwrap();
        let id = d.incident.id.clone();
        assert_eq!(d.incident.status, IncidentStatus::Unaccepted);
        // Refused transitions change nothing.
        let e = s
            .incident_action(
                T,
                &id,
                &IncidentAction::Resolve { result: "x".into() },
                "bob",
            )
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            StoreError::Domain(coc_domain::DomainError::InvalidTransition(_))
        ));
        let e = s
            .incident_action(
                T,
                &id,
                &IncidentAction::ChangeLevel {
                    level: IncidentLevel::P1,
                    reason: "r".into(),
                },
                "bob",
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Domain(_)));
        assert_eq!(s.get_incident(T, &id).await.unwrap().history.len(), 1);
        let steps = [
            IncidentAction::Forward {
                to: "carol".into(),
                remark: None,
            },
            IncidentAction::Accept { remark: None },
            IncidentAction::ChangeLevel {
                level: IncidentLevel::P1,
                reason: "spreading".into(),
            },
            IncidentAction::Remark {
                text: "looking".into(),
            },
            IncidentAction::Resolve {
                result: "index added".into(),
            },
            IncidentAction::Verify {
                passed: false,
                remark: None,
            },
            IncidentAction::Resolve {
                result: "vacuum".into(),
            },
            IncidentAction::Verify {
                passed: true,
                remark: Some("ok".into()),
            },
        ];
        for a in &steps {
            s.incident_action(T, &id, a, "carol").await.unwrap();
        }
        let d = s.get_incident(T, &d.incident.number).await.unwrap();
        assert_eq!(d.incident.status, IncidentStatus::Completed);
        assert_eq!(d.incident.level, IncidentLevel::P1);
        assert_eq!(d.incident.assignee, "carol");
        let actions: Vec<&str> = d.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(
            actions,
            vec![
                "create",
                "forward",
                "accept",
                "change_level",
                "remark",
                "resolve",
                "verify",
                "resolve",
                "verify"
            ]
        );
        assert!(d.history.iter().skip(1).all(|h| h.actor == "carol"));
        // Reject → close path.
        let d2 = s.create_incident(T, &new_incident(), "bob").await.unwrap();
        s.incident_action(
            T,
            &d2.incident.id,
            &IncidentAction::Reject {
                reason: "dup".into(),
            },
            "alice",
        )
        .await
        .unwrap();
        let closed = s
            .incident_action(
                T,
                &d2.incident.id,
                &IncidentAction::Close { remark: None },
                "bob",
            )
            .await
            .unwrap();
        assert_eq!(closed.incident.status, IncidentStatus::Closed);
        let list = s
            .list_incidents(
                T,
                &coc_store::incident::IncidentFilter {
                    status: Some("closed".into()),
                    ..Default::default()
                },
                &Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(list.items.len(), 1);
        // Bad create input stores nothing.
        let mut bad = new_incident();
        bad.title = "".into();
        assert!(s.create_incident(T, &bad, "bob").await.is_err());
        assert_eq!(
            s.list_incidents(T, &Default::default(), &Page::default())
                .await
                .unwrap()
                .items
                .len(),
            2
        );
    });
}

#[tokio::test]
async fn convert_alarms_of_one_region_only() {
    each_store!(|s| {
        application(s, "shop").await;
        crate::support::users(s, &["alice", "oncall"]).await;
        s.ingest(
            T,
            "int",
            vec![
                alarm("a", "h:1", "r1"),
                alarm("b", "h:1", "r1"),
                alarm("c", "h:1", "r2"),
            ],
        )
        .await
        .unwrap();
        let all = s
            .list_alarms(T, &Default::default(), &Page::default())
            .await
            .unwrap()
            .items;
        let r1: Vec<String> = all
            .iter()
            .filter(|a| a.region.as_deref() == Some("r1"))
            .map(|a| a.id.clone())
            .collect();
        let mixed: Vec<String> = all.iter().map(|a| a.id.clone()).collect();
        assert!(matches!(
            s.convert_alarms(T, &mixed, &new_incident(), "op").await,
            Err(StoreError::Domain(_))
        ));
        let d = s
            .convert_alarms(T, &r1, &new_incident(), "op")
            .await
            .unwrap();
        assert_eq!(d.alarms.len(), 2);
        assert_eq!(d.incident.region.as_deref(), Some("r1"));
        assert_eq!(d.incident.source, "alarm_conversion");
        assert_eq!(
            s.list_incidents(T, &Default::default(), &Page::default())
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    });
}

#[tokio::test]
async fn rule_with_contingency_script_creates_repair_ticket_on_the_alarm_host() {
    each_store!(|s| {
        application(s, "shop").await;
        crate::support::users(s, &["alice", "oncall"]).await;
        let web = host(s, "web-01").await;
        let _db = host(s, "db-01").await;
        let script = s
            .create_script(
                T,
                &ScriptSpec {
                    name: "fix".into(),
                    description: String::new(),
                    script_type: ScriptType::Shell,
                    content: "echo fix".into(),
                    risk_level: RiskLevel::Low,
                    params: vec![],
                    manual_review: false,
                    reviewers: vec![],
                },
                "op",
            )
            .await
            .unwrap();
        let spec = RuleSpec {
            name: "cpu".into(),
            application: None,
            trigger_type: "alarm".into(),
            data_source: None,
            conditions: vec![Condition {
                field: "alarmName".into(),
                op: Operator::In,
                value: None,
                values: Some(vec!["HighCPU".into(), "Nope".into()]),
            }],
            incident_level: IncidentLevel::P1,
            assignee: "oncall".into(),
            assignee_shift: None,
            plan: None,
            // By name (issue 16, defect 2): resolved when saved, the rule
            // keeps the id, and the repair at incident time finds it.
            contingency_script: Some(ContingencyScript {
                script_id: "fix".into(),
                params: Default::default(),
                timeout_s: Some(30),
                run_as: None,
            }),
            converge: None,
            storm: None,
            after_minutes: None,
        };
        let saved = s.create_rule(T, &spec).await.unwrap();
        assert_eq!(
            saved.spec.contingency_script.as_ref().unwrap().script_id,
            script.id
        );
        let o = s
            .ingest(T, "int", vec![alarm("HighCPU", "web-01:9100", "r1")])
            .await
            .unwrap();
        assert_eq!(o.tickets_created.len(), 1);
        let t = s.get_ticket(T, &o.tickets_created[0]).await.unwrap();
        assert_eq!(t.tasks.len(), 1);
        assert_eq!(t.tasks[0].host_id, web);
        assert_eq!(
            t.ticket.incident_id.as_deref(),
            Some(o.incidents_created[0].as_str())
        );
        let inc = s.get_incident(T, &o.incidents_created[0]).await.unwrap();
        assert!(
            inc.history.iter().any(|h| h.action == "auto_repair"
                && h.ticket_id.as_deref() == Some(t.ticket.id.as_str()))
        );
        // No matching host: the incident says why, no ticket.
        let o = s
            .ingest(T, "int", vec![alarm("HighCPU", "unknown-host:9100", "r1")])
            .await
            .unwrap();
        assert!(o.tickets_created.is_empty());
        let inc = s.get_incident(T, &o.incidents_created[0]).await.unwrap();
        assert!(
            inc.history
                .iter()
                .any(|h| h.summary.contains("no host matches"))
        );
        // Rules naming a script that does not exist are refused.
        let mut bad = spec.clone();
        bad.name = "bad".into();
        bad.contingency_script.as_mut().unwrap().script_id = "missing".into();
        assert!(matches!(
            s.create_rule(T, &bad).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

/// Issue 16, defect 2: a person named where none exists is refused — as
/// an incident's owner, a rule's assignee and a forward's target — and
/// nothing changes.
#[tokio::test]
async fn unknown_people_are_refused_and_nothing_changes() {
    each_store!(|s| {
        application(s, "shop").await;
        let e = s
            .create_incident(T, &new_incident(), "op")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no user is named 'alice'"), "{e}");
        assert!(
            s.list_incidents(T, &Default::default(), &Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let e = s
            .create_rule(T, &crate::support::rule("cpu", "HighCPU"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("'alice'"), "{e}");
        crate::support::users(s, &["alice"]).await;
        let d = s.create_incident(T, &new_incident(), "op").await.unwrap();
        let e = s
            .incident_action(
                T,
                &d.incident.id,
                &IncidentAction::Forward {
                    to: "nobody-here".into(),
                    remark: None,
                },
                "alice",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("'nobody-here'"), "{e}");
        let after = s.get_incident(T, &d.incident.id).await.unwrap();
        assert_eq!(after.incident.assignee, "alice");
        assert_eq!(after.history.len(), d.history.len(), "no history entry");
    });
}
