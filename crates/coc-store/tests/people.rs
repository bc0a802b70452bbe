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
        let (tenant, user, ch) = s.confirm_subscription(&email_token).await.unwrap();
        assert_eq!(
            (tenant.as_str(), user.as_str(), ch.as_str()),
            (T, "ann", "email")
        );
        assert!(matches!(
            s.confirm_subscription(&email_token).await,
            Err(StoreError::NotFound { .. })
        ));
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
        assert_eq!(s.dispatch_incident_events(now, 100).await.unwrap(), 1);
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
            s.dispatch_incident_events(now, 100).await.unwrap(),
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
        assert_eq!(s.dispatch_incident_events(now, 100).await.unwrap(), 1);
        let after = sent(s, &id).await;
        assert_eq!(after.len(), 5);
        assert!(after.contains(&row("ann", "slack", "pending", "incident_forwarded")));
        // The pending deliveries go to the person's decrypted address.
        let due = s.due_deliveries(100).await.unwrap();
        assert!(
            due.iter()
                .any(|d| d.target == "https://hooks.slack.test/bob")
        );
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
        // b is accepted in time: its escalation stops without notifying.
        s.incident_action(T, &b, &IncidentAction::Accept { remark: None }, "ann")
            .await
            .unwrap();
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
