//! Engineers and subscriptions (O1), notification rules and the incident
//! event dispatcher (O3), escalation on an injected clock (I7) — on both
//! backends.

use chrono::{DateTime, Duration, Utc};
use coc_domain::escalation::EscalationPolicy;
use coc_domain::incident::{IncidentAction, IncidentLevel};
use coc_domain::notify::NotificationRule;
use coc_domain::oncall::Scenario;
use coc_domain::people::SubscriptionStatus;
use coc_store::incident::CreateIncident;
use coc_store::notify::Delivery;
use coc_store::people::EngineerUpdate;
use coc_store::{Store, StoreError};
use serde_json::json;

use crate::each_store;

const T: &str = "default";
const LINK: &str = "http://coc.test/api/v1/subscriptions/confirm";

fn update(contacts: &[(&str, &str)]) -> EngineerUpdate {
    EngineerUpdate {
        alias: Some("Ann the SRE".into()),
        contacts: contacts
            .iter()
            .map(|(c, a)| (c.to_string(), Some(a.to_string())))
            .collect(),
    }
}

/// The token of the newest confirmation queued for `channel`.
async fn token(s: &Store, channel: &str) -> String {
    let due = s.due_deliveries(100).await.unwrap();
    let d = due
        .iter()
        .rev()
        .find(|d| d.channel == channel && d.body.contains("token="))
        .expect("a confirmation");
    let at = d.body.find("token=").unwrap() + 6;
    d.body[at..at + 48].to_string()
}

async fn log(s: &Store) -> Vec<Delivery> {
    s.list_deliveries(T, None, &Default::default())
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn engineer_contacts_need_confirmed_subscriptions() {
    each_store!(|s| {
        s.create_user(T, "ann", "Ann", None).await.unwrap();
        assert!(matches!(
            s.set_engineer(T, "ghost", &update(&[]), LINK).await,
            Err(StoreError::NotFound { .. })
        ));
        let bad = update(&[("email", "ann@example.com"), ("mobile", "12345")]);
        assert!(s.set_engineer(T, "ann", &bad, LINK).await.is_err());
        assert!(
            s.get_engineer(T, "ann").await.unwrap().contacts.is_empty(),
            "a bad address changes nothing"
        );
        let e = s
            .set_engineer(
                T,
                "ann",
                &update(&[
                    ("email", "ann@example.com"),
                    ("mobile", "+8613812345678"),
                    ("slack", "https://hooks.slack.test/services/SECRET"),
                ]),
                LINK,
            )
            .await
            .unwrap();
        assert_eq!(e.alias, "Ann the SRE");
        let st = |e: &coc_store::people::Engineer, ch: &str| {
            e.contacts.iter().find(|c| c.channel == ch).unwrap().clone()
        };
        assert_eq!(st(&e, "email").status, SubscriptionStatus::Pending);
        assert_eq!(st(&e, "email").address, "a***@example.com");
        assert_eq!(st(&e, "mobile").address, "+86*******5678");
        assert_eq!(st(&e, "slack").status, SubscriptionStatus::Confirmed);
        assert!(!st(&e, "slack").address.contains("SECRET"));
        // Two confirmations queued: email and SMS. The log never shows the token.
        let l = log(s).await;
        assert_eq!(l.len(), 2);
        assert!(l.iter().all(|d| d.event == "subscription_confirmation"));
        assert!(
            l.iter()
                .all(|d| d.payload.to_string().contains("token=***"))
        );
        let raw: Vec<String> = sqlx::query_scalar("SELECT address FROM contacts")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(
            raw.iter()
                .all(|a| !a.contains("example.com") && !a.contains("SECRET"))
        );

        let email_token = token(s, "email").await;
        let c = s.confirm_subscription(&email_token).await.unwrap();
        assert_eq!(
            (
                c.tenant.as_str(),
                c.user.as_str(),
                c.channel.as_str(),
                c.already
            ),
            (T, "ann", "email", false)
        );
        // Opened again (a mail scanner first): already confirmed, no error.
        let again = s.confirm_subscription(&email_token).await.unwrap();
        assert!(again.already);
        let e = s.get_engineer(T, "ann").await.unwrap();
        assert_eq!(st(&e, "email").status, SubscriptionStatus::Confirmed);
        assert!(matches!(
            s.resubscribe(T, "ann", &["email".into()], LINK).await,
            Err(StoreError::Conflict(_))
        ));

        // The SMS link expires after 48 hours; a new one works.
        let old = token(s, "sms").await;
        sqlx::query("UPDATE contacts SET expires_at = 1 WHERE channel = 'mobile'")
            .execute(s.pool())
            .await
            .unwrap();
        assert_eq!(
            st(&s.get_engineer(T, "ann").await.unwrap(), "mobile").status,
            SubscriptionStatus::Expired
        );
        assert!(matches!(
            s.confirm_subscription(&old).await,
            Err(StoreError::Conflict(_))
        ));
        s.resubscribe(T, "ann", &[], LINK).await.unwrap();
        let fresh = token(s, "sms").await;
        assert_ne!(fresh, old);
        assert!(s.confirm_subscription(&old).await.is_err());
        s.confirm_subscription(&fresh).await.unwrap();
        assert!(
            s.get_engineer(T, "ann")
                .await
                .unwrap()
                .contacts
                .iter()
                .all(|c| c.status == SubscriptionStatus::Confirmed)
        );
        // Changing an address starts a new subscription; removing deletes it.
        let e = s
            .set_engineer(
                T,
                "ann",
                &update(&[("email", "ann@corp.example.org")]),
                LINK,
            )
            .await
            .unwrap();
        assert_eq!(st(&e, "email").status, SubscriptionStatus::Pending);
        let mut rm = EngineerUpdate::default();
        rm.contacts.insert("slack".into(), None);
        let e = s.set_engineer(T, "ann", &rm, LINK).await.unwrap();
        assert!(e.contacts.iter().all(|c| c.channel != "slack"));
        assert_eq!(e.alias, "Ann the SRE", "alias kept when not given");
        s.delete_engineer(T, "ann").await.unwrap();
        assert!(s.get_engineer(T, "ann").await.unwrap().contacts.is_empty());
    });
}

fn scenario() -> Scenario {
    serde_json::from_value(json!({"name": "ops", "roles": ["oncall"], "schedule": {
        "tz": "UTC", "mode": "fixed",
        "shifts": [{"name": "all", "start": "00:00:00", "end": "00:00:00"}],
        "fixed": {"oncall": {"0": ["bob"]}}, "weekly": {}, "dated": {}, "cleared": [], "overrides": []}}))
    .unwrap()
}

fn rule(v: serde_json::Value) -> NotificationRule {
    serde_json::from_value(v).unwrap()
}

async fn people(s: &Store) {
    crate::support::application(s, "shop").await;
    for u in ["ann", "bob", "cat"] {
        s.create_user(T, u, u, None).await.unwrap();
        s.set_engineer(
            T,
            u,
            &update(&[("slack", &format!("https://hooks.slack.test/{u}"))]),
            LINK,
        )
        .await
        .unwrap();
    }
    s.set_engineer(T, "ann", &update(&[("email", "ann@example.com")]), LINK)
        .await
        .unwrap();
    s.create_scenario(T, &scenario()).await.unwrap();
}

fn incident(level: IncidentLevel, assignee: &str) -> CreateIncident {
    CreateIncident {
        title: "db down".into(),
        description: String::new(),
        level,
        assignee: assignee.into(),
        application: Some("shop".into()),
        region: Some("r1".into()),
        enterprise_project: None,
        category: Some("database".into()),
        assignee_shift: None,
    }
}

/// Deliveries about incident `id`, as (recipient, channel, status, event).
async fn sent(s: &Store, id: &str) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = log(s)
        .await
        .into_iter()
        .filter(|d| d.incident_id.as_deref() == Some(id))
        .map(|d| {
            (
                d.recipient.unwrap_or_default(),
                d.channel,
                d.status,
                d.event,
            )
        })
        .collect();
    v.sort();
    v
}

fn row(who: &str, ch: &str, status: &str, ev: &str) -> (String, String, String, String) {
    (who.into(), ch.into(), status.into(), ev.into())
}

#[tokio::test]
async fn rules_notify_each_person_once_per_channel() {
    each_store!(|s| {
        people(s).await;
        let now = Utc::now();
        s.doc_create(
            T,
            &rule(json!({
            "name": "db", "templates": ["incident_created", "incident_forwarded"],
            "recipients": [{"type": "individual", "users": ["ann"]}],
            "categories": ["database"], "channels": ["slack", "email"]})),
        )
        .await
        .unwrap();
        s.doc_create(
            T,
            &rule(json!({
            "name": "shop shift", "templates": ["incident_created"], "applications": ["shop"],
            "recipients": [{"type": "shift", "scenario": "ops", "roles": ["oncall"]},
                           {"type": "individual", "users": ["ann"]}],
            "channels": ["slack"]})),
        )
        .await
        .unwrap();
        s.doc_create(
            T,
            &rule(json!({
            "name": "p1 only", "templates": ["incident_created"], "levels": ["P1"],
            "recipients": [{"type": "individual", "users": ["cat"]}], "channels": ["slack"]})),
        )
        .await
        .unwrap();
        let off = s
            .doc_create(
                T,
                &rule(json!({
                "name": "off", "templates": ["incident_created"],
                "recipients": [{"type": "individual", "users": ["cat"]}], "channels": ["slack"]})),
            )
            .await
            .unwrap();
        s.doc_set_enabled::<NotificationRule>(T, &off.id, false)
            .await
            .unwrap();
        assert!(matches!(
            s.doc_create(
                T,
                &rule(json!({
                "name": "db", "templates": ["incident_created"],
                "recipients": [{"type": "owner"}], "channels": ["slack"]}))
            )
            .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            s.doc_list::<NotificationRule>(T, Some("SHIFT"))
                .await
                .unwrap()
                .len(),
            1
        );

        let d = s
            .create_incident(T, &incident(IncidentLevel::P3, "ann"), "ann")
            .await
            .unwrap();
        let id = d.incident.id.clone();
        assert_eq!(
            s.dispatch_incident_events(now, 100).await.unwrap().events,
            1
        );
        assert_eq!(
            sent(s, &id).await,
            vec![
                row("ann", "email", "skipped", "incident_created"),
                row("ann", "slack", "pending", "incident_created"),
                row("bob", "slack", "pending", "incident_created"),
            ],
            "ann once on slack though two rules name her; email unconfirmed"
        );
        assert_eq!(
            s.dispatch_incident_events(now, 100).await.unwrap().events,
            0,
            "exactly once"
        );
        // Accepting notifies nobody; forwarding notifies the first rule again.
        s.incident_action(T, &id, &IncidentAction::Accept { remark: None }, "ann")
            .await
            .unwrap();
        s.incident_action(
            T,
            &id,
            &IncidentAction::Forward {
                to: "cat".into(),
                remark: None,
            },
            "ann",
        )
        .await
        .unwrap();
        assert_eq!(
            s.dispatch_incident_events(now, 100).await.unwrap().events,
            2,
            "accept (a status change, for SLA timing) and forward"
        );
        let after = sent(s, &id).await;
        assert_eq!(after.len(), 5);
        assert!(after.contains(&row("ann", "slack", "pending", "incident_forwarded")));
        // Fresh notifications are handed over leased, with the person's
        // decrypted address; the queue poller leaves them alone.
        let d2 = s
            .create_incident(T, &incident(IncidentLevel::P3, "bob"), "bob")
            .await
            .unwrap();
        let ready = s.dispatch_incident_events(now, 100).await.unwrap().ready;
        let mut targets: Vec<&str> = ready.iter().map(|d| d.target.as_str()).collect();
        targets.sort();
        assert_eq!(
            targets,
            vec![
                "https://hooks.slack.test/ann",
                "https://hooks.slack.test/bob"
            ]
        );
        let due = s.due_deliveries(100).await.unwrap();
        assert!(
            due.iter().all(|d| !ready.iter().any(|r| r.id == d.id)),
            "leased"
        );
        assert!(!sent(s, &d2.incident.id).await.is_empty());
    });
}

fn policy(v: serde_json::Value) -> EscalationPolicy {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn escalation_follows_the_injected_clock() {
    each_store!(|s| {
        people(s).await;
        s.doc_create(T, &policy(json!({"name": "default", "levels": [
            {"after_seconds": 60, "recipients": [{"type": "individual", "users": ["cat"]}], "channels": ["slack"]},
            {"after_seconds": 120, "recipients": [{"type": "shift", "scenario": "ops", "roles": ["oncall"]}], "channels": ["slack"]}
        ]})))
        .await
        .unwrap();
        assert!(
            s.doc_create(T, &policy(json!({"name": "bad", "levels": []})))
                .await
                .is_err()
        );
        let t0: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let at = |secs| t0 + Duration::seconds(secs);
        let a = s
            .create_incident(T, &incident(IncidentLevel::P2, "ann"), "x")
            .await
            .unwrap();
        let b = s
            .create_incident(T, &incident(IncidentLevel::P2, "ann"), "x")
            .await
            .unwrap();
        let (a, b) = (a.incident.id, b.incident.id);
        s.dispatch_incident_events(t0, 100).await.unwrap();
        let e = s.get_escalation(T, &a).await.unwrap().unwrap();
        assert_eq!(
            (e.state.as_str(), e.level, e.next_at),
            ("running", 0, at(60).timestamp_millis())
        );
        assert_eq!(s.run_escalations(at(59)).await.unwrap(), 0);
        // b is accepted in time: its escalation stops without notifying —
        // at once, not when its next level would have been due.
        s.incident_action(T, &b, &IncidentAction::Accept { remark: None }, "ann")
            .await
            .unwrap();
        assert_eq!(
            s.get_escalation(T, &b).await.unwrap().unwrap().state,
            "stopped",
            "stopped with the accept"
        );
        assert_eq!(s.run_escalations(at(60)).await.unwrap(), 1, "only a fires");
        assert_eq!(
            s.get_escalation(T, &b).await.unwrap().unwrap().state,
            "stopped"
        );
        assert!(
            sent(s, &b)
                .await
                .iter()
                .all(|x| x.3 != "incident_escalated")
        );
        let esc = |v: Vec<(String, String, String, String)>| {
            v.into_iter()
                .filter(|x| x.3 == "incident_escalated")
                .map(|x| x.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(esc(sent(s, &a).await), vec!["cat"]);
        assert_eq!(s.run_escalations(at(61)).await.unwrap(), 0);
        assert_eq!(s.run_escalations(at(180)).await.unwrap(), 1);
        assert_eq!(esc(sent(s, &a).await), vec!["bob", "cat"]);
        let e = s.get_escalation(T, &a).await.unwrap().unwrap();
        assert_eq!((e.state.as_str(), e.fired), ("exhausted", 2));
        assert_eq!(s.run_escalations(at(10_000)).await.unwrap(), 0);
        let h = s.get_incident(T, &a).await.unwrap().history;
        assert_eq!(h.iter().filter(|x| x.action == "escalate").count(), 2);
        assert!(
            h.iter()
                .any(|x| x.summary.contains("level 2") && x.summary.contains("bob"))
        );
        // Forwarding restarts the escalation from level 1.
        s.incident_action(
            T,
            &a,
            &IncidentAction::Forward {
                to: "bob".into(),
                remark: None,
            },
            "ann",
        )
        .await
        .unwrap();
        s.dispatch_incident_events(at(20_000), 100).await.unwrap();
        let e = s.get_escalation(T, &a).await.unwrap().unwrap();
        assert_eq!((e.state.as_str(), e.level, e.fired), ("running", 0, 0));
        assert_eq!(e.next_at, at(20_060).timestamp_millis());
    });
}

async fn recs(s: &Store, t: String) -> Vec<coc_store::sla::SlaRecord> {
    s.list_sla_records(T, Some(&t), None, &Default::default())
        .await
        .unwrap()
        .items
}

fn sla(v: serde_json::Value) -> coc_domain::sla::Sla {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn sla_records_pre_warn_and_break_on_the_injected_clock() {
    use coc_domain::sla::Sla;
    each_store!(|s| {
        people(s).await;
        s.ensure_tenant(T).await.unwrap();
        let commons = s.doc_list::<Sla>(T, Some("common")).await.unwrap();
        assert_eq!(commons.len(), 2, "preset common SLAs");
        assert!(commons.iter().all(|c| !c.enabled && c.spec.common));
        assert!(matches!(
            s.doc_delete::<Sla>(T, "common-incident").await,
            Err(StoreError::Conflict(_))
        ));
        let body = json!({"name": "p1-p2", "trigger": "incident", "levels": ["P1", "P2"],
            "rules": [
              {"status": "unaccepted", "target_minutes": 10, "prewarn_minutes": 4,
               "recipients": [{"type": "owner"}, {"type": "individual", "users": ["cat"]}],
               "channels": ["slack"]},
              {"status": "accepted", "target_minutes": 60}]});
        let created = s.doc_create(T, &sla(body.clone())).await.unwrap();
        assert!(!created.enabled, "created disabled");
        let mut dup = body.clone();
        dup["name"] = json!("p2-again");
        dup["levels"] = json!(["P2", "P3"]);
        assert!(
            s.doc_create(T, &sla(dup))
                .await
                .unwrap_err()
                .to_string()
                .contains("p1-p2")
        );
        let mut common = body.clone();
        common["common"] = json!(true);
        common["name"] = json!("fake-common");
        assert!(s.doc_create(T, &sla(common)).await.is_err());
        s.doc_set_enabled::<Sla>(T, "p1-p2", true).await.unwrap();
        assert!(
            matches!(
                s.doc_update(T, "p1-p2", &sla(body.clone())).await,
                Err(StoreError::Conflict(_))
            ),
            "only a disabled SLA can be modified"
        );

        let d = s
            .create_incident(T, &incident(IncidentLevel::P1, "ann"), "x")
            .await
            .unwrap();
        let id = d.incident.id.clone();
        let t0 = d.incident.created_at;
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(t0 + ms).unwrap();
        let min = 60_000;
        s.dispatch_incident_events(at(0), 100).await.unwrap();
        // A P4 incident is not covered (the common SLA is disabled).
        let other = s
            .create_incident(T, &incident(IncidentLevel::P4, "ann"), "x")
            .await
            .unwrap();
        s.dispatch_incident_events(at(0), 100).await.unwrap();
        assert!(recs(s, other.incident.number.clone()).await.is_empty());
        let r = recs(s, d.incident.number.clone()).await;
        assert_eq!(r.len(), 2);
        let una = |r: &[coc_store::sla::SlaRecord]| {
            r.iter().find(|x| x.status == "unaccepted").unwrap().clone()
        };
        assert!(una(&r).running && una(&r).state == "normal" && una(&r).target_ms == 10 * min);

        // The SLA changes now; this incident keeps the copy it entered with.
        s.doc_set_enabled::<Sla>(T, "p1-p2", false).await.unwrap();
        let mut longer = body.clone();
        longer["rules"][0]["target_minutes"] = json!(500);
        s.doc_update(T, "p1-p2", &sla(longer)).await.unwrap();

        assert_eq!(s.run_sla(at(5 * min)).await.unwrap(), 0);
        assert_eq!(
            s.run_sla(at(6 * min)).await.unwrap(),
            1,
            "pre-warning at target - 4 min"
        );
        assert_eq!(s.run_sla(at(6 * min + 1000)).await.unwrap(), 0, "once");
        let warned = una(&recs(s, id.clone()).await);
        assert_eq!(warned.state, "pre_warned");
        assert_eq!(warned.notifications[0].recipients, vec!["ann", "cat"]);
        assert_eq!(s.run_sla(at(10 * min)).await.unwrap(), 1);
        let broken = una(&recs(s, id.clone()).await);
        assert_eq!(
            (broken.state.as_str(), broken.broken_at),
            ("has_broken", Some(t0 + 10 * min))
        );
        assert_eq!(
            s.run_sla(at(100 * min)).await.unwrap(),
            0,
            "broken is final"
        );
        let notes: Vec<_> = sent(s, &id)
            .await
            .into_iter()
            .filter(|x| x.3.starts_with("sla_"))
            .collect();
        assert_eq!(
            notes.len(),
            4,
            "ann and cat, pre-warning and breach: {notes:?}"
        );

        // Accepting closes 'unaccepted' and starts 'accepted' (no channels: silent).
        s.incident_action(T, &id, &IncidentAction::Accept { remark: None }, "ann")
            .await
            .unwrap();
        s.dispatch_incident_events(Utc::now(), 100).await.unwrap();
        let r = recs(s, id.clone()).await;
        assert!(!una(&r).running && una(&r).state == "has_broken");
        let acc = r.iter().find(|x| x.status == "accepted").unwrap().clone();
        assert!(acc.running);
        assert_eq!(
            s.run_sla(Utc::now() + Duration::minutes(61)).await.unwrap(),
            1
        );
        let acc = recs(s, id.clone())
            .await
            .into_iter()
            .find(|x| x.status == "accepted")
            .unwrap();
        assert_eq!(
            (acc.state.as_str(), acc.notifications[0].channels.len()),
            ("has_broken", 0)
        );
        assert_eq!(
            s.list_sla_records(T, None, Some("has_broken"), &Default::default())
                .await
                .unwrap()
                .items
                .len(),
            2
        );
    });
}

#[tokio::test]
async fn ingest_commits_the_notification_with_the_incident() {
    each_store!(|s| {
        people(s).await;
        let mut cpu = crate::support::rule("cpu", "HighCPU");
        cpu.assignee = "bob".into();
        s.create_rule(T, &cpu).await.unwrap();
        s.doc_create(
            T,
            &rule(json!({
            "name": "owner", "templates": ["incident_created"],
            "recipients": [{"type": "owner"}], "channels": ["slack"]})),
        )
        .await
        .unwrap();
        let out = s
            .ingest(
                T,
                "int",
                vec![crate::support::alarm("HighCPU", "web-01:9100", "r1")],
            )
            .await
            .unwrap();
        let id = out.incidents_created[0].clone();
        // Already queued when ingest answered; nothing left for the dispatcher.
        assert_eq!(
            sent(s, &id).await,
            vec![row("bob", "slack", "pending", "incident_created")]
        );
        let ready = s.take_ready();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].target, "https://hooks.slack.test/bob");
        assert!(s.take_ready().is_empty(), "handed over once");
        assert_eq!(
            s.dispatch_incident_events(Utc::now(), 100)
                .await
                .unwrap()
                .events,
            0
        );

        // A broken notification rule never fails ingest: its part rolls
        // back and the event waits for the dispatcher.
        sqlx::query("UPDATE notification_rules SET spec = 'not json'")
            .execute(s.pool())
            .await
            .unwrap();
        let out = s
            .ingest(
                T,
                "int",
                vec![crate::support::alarm("HighCPU", "web-02:9100", "r1")],
            )
            .await
            .unwrap();
        assert_eq!(out.incidents_created.len(), 1, "the incident is stored");
        assert!(sent(s, &out.incidents_created[0]).await.is_empty());
        assert!(s.take_ready().is_empty());
        // The dispatcher retries it, then gives it up so later events flow.
        for _ in 0..coc_store::notification::MAX_EVENT_ATTEMPTS {
            assert_eq!(
                s.dispatch_incident_events(Utc::now(), 100)
                    .await
                    .unwrap()
                    .events,
                1,
                "still broken"
            );
        }
        assert_eq!(
            s.dispatch_incident_events(Utc::now(), 100)
                .await
                .unwrap()
                .events,
            0
        );
        let given_up: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM incident_events WHERE done = 2")
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert_eq!(given_up, 1);
    });
}

#[tokio::test]
async fn alarm_sla_runs_while_the_alarm_fires() {
    use coc_domain::alarm::AlarmStatus;
    use coc_domain::sla::Sla;
    each_store!(|s| {
        people(s).await;
        s.doc_create(
            T,
            &sla(
                json!({"name": "critical-alarms", "trigger": "alarm", "levels": ["Critical"],
            "rules": [{"status": "alarm", "target_minutes": 5, "prewarn_minutes": 2,
                       "recipients": [{"type": "owner"}, {"type": "individual", "users": ["cat"]}],
                       "channels": ["slack"]}]}),
            ),
        )
        .await
        .unwrap();
        s.doc_set_enabled::<Sla>(T, "critical-alarms", true)
            .await
            .unwrap();
        let a = crate::support::alarm("DiskFull", "db-01:9100", "r1");
        let out = s
            .ingest(T, "int", vec![a.clone(), a.clone()])
            .await
            .unwrap();
        assert_eq!(out.created, 1);
        let id = s
            .list_alarms(T, &Default::default(), &Default::default())
            .await
            .unwrap()
            .items[0]
            .id
            .clone();
        let r = recs(s, id.clone()).await;
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].ticket_kind.as_str(), r[0].ticket_number.as_str()),
            ("alarm", "DiskFull@db-01:9100")
        );
        assert!(r[0].running);
        let t0 = Utc::now();
        assert_eq!(
            s.run_sla(t0 + Duration::minutes(4)).await.unwrap(),
            1,
            "pre-warning"
        );
        let notes = &recs(s, id.clone()).await[0].notifications;
        assert_eq!(notes[0].recipients, vec!["cat"], "an alarm has no owner");
        // Resolved: the clock stops; firing again resumes the same record.
        let mut ok = a.clone();
        ok.alarm_status = AlarmStatus::Ok;
        s.ingest(T, "int", vec![ok]).await.unwrap();
        let r = recs(s, id.clone()).await;
        assert!(!r[0].running && r[0].state == "pre_warned");
        s.ingest(T, "int", vec![a.clone()]).await.unwrap();
        let r = recs(s, id.clone()).await;
        assert_eq!(r.len(), 1);
        assert!(r[0].running);
        s.clear_alarms(T, std::slice::from_ref(&id), "done", "ann")
            .await
            .unwrap();
        assert!(!recs(s, id.clone()).await[0].running, "clearing stops it");
        // A Minor alarm is not covered.
        let mut minor = crate::support::alarm("Slow", "db-02:9100", "r1");
        minor.alarm_level = coc_domain::alarm::AlarmLevel::Minor;
        s.ingest(T, "int", vec![minor]).await.unwrap();
        assert_eq!(
            s.list_sla_records(T, None, None, &Default::default())
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    });
}

#[tokio::test]
async fn incidents_can_be_assigned_to_whoever_is_on_call() {
    use coc_domain::oncall::ShiftRef;
    each_store!(|s| {
        crate::support::users(s, &["fallback"]).await;
        people(s).await;
        let shift = |scenario: &str| ShiftRef {
            scenario: scenario.into(),
            role: "oncall".into(),
        };
        let rule = |name: &str, alarm: &str, sc: &str| {
            let mut r = crate::support::rule(name, alarm);
            r.incident_level = IncidentLevel::P3;
            r.assignee = "fallback".into();
            r.assignee_shift = Some(shift(sc));
            r
        };
        s.create_rule(T, &rule("shift", "A", "ops")).await.unwrap();
        s.create_rule(T, &rule("gone", "B", "no-such-scenario"))
            .await
            .unwrap();
        let a = s
            .ingest(T, "int", vec![crate::support::alarm("A", "h:1", "r1")])
            .await
            .unwrap();
        let b = s
            .ingest(T, "int", vec![crate::support::alarm("B", "h:1", "r1")])
            .await
            .unwrap();
        let owner = |id: String| async move { s.get_incident(T, &id).await.unwrap() };
        let ia = owner(a.incidents_created[0].clone()).await;
        assert_eq!(ia.incident.assignee, "bob", "bob is on call in 'ops'");
        assert!(ia.history[0].summary.contains("assigned to bob (on call)"));
        assert_eq!(
            owner(b.incidents_created[0].clone())
                .await
                .incident
                .assignee,
            "fallback"
        );

        let mut manual = incident(IncidentLevel::P4, "");
        manual.assignee_shift = Some(shift("ops"));
        let d = s.create_incident(T, &manual, "x").await.unwrap();
        assert_eq!(d.incident.assignee, "bob");
        manual.assignee_shift = Some(shift("no-such-scenario"));
        let e = s.create_incident(T, &manual, "x").await.unwrap_err();
        assert!(e.to_string().contains("nobody is on call"), "{e}");
        manual.assignee_shift = None;
        assert!(
            s.create_incident(T, &manual, "x").await.is_err(),
            "an owner is required"
        );
    });
}

/// An escalation level that reassigns (I7): when the incident is still
/// not accepted, the next role's on-call becomes its owner, the history
/// says so, and it stays unaccepted for the levels after.
#[tokio::test]
async fn an_escalation_level_reassigns_to_the_next_roles_on_call() {
    each_store!(|s| {
        people(s).await;
        s.doc_create(T, &policy(json!({"name": "default", "levels": [
            {"after_seconds": 60, "recipients": [{"type": "shift", "scenario": "ops", "roles": ["oncall"]}],
             "channels": ["slack"], "action": "reassign"},
            {"after_seconds": 60, "recipients": [{"type": "individual", "users": ["cat"]}], "channels": ["slack"]}
        ]})))
        .await
        .unwrap();
        let t0: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let at = |secs| t0 + Duration::seconds(secs);
        let a = s
            .create_incident(T, &incident(IncidentLevel::P2, "ann"), "x")
            .await
            .unwrap()
            .incident
            .id;
        s.dispatch_incident_events(t0, 100).await.unwrap();
        assert_eq!(s.run_escalations(at(60)).await.unwrap(), 1);
        let d = s.get_incident(T, &a).await.unwrap();
        assert_eq!(d.incident.assignee, "bob");
        assert_eq!(d.incident.status.as_str(), "unaccepted");
        let r = d.history.iter().find(|h| h.action == "reassign").unwrap();
        assert_eq!(
            r.summary,
            "reassigned from ann to bob by escalation level 1 (default)"
        );
        // bob does not accept either: the next level still fires.
        assert_eq!(s.run_escalations(at(120)).await.unwrap(), 1);
        assert_eq!(
            s.get_incident(T, &a).await.unwrap().incident.assignee,
            "bob"
        );
    });
}
