//! Scheduling scenarios on both backends.

use coc_domain::notify::SEND_LEASE_MS;
use coc_domain::oncall::Scenario;
use coc_store::StoreError;

use crate::each_store;

fn scenario(name: &str) -> Scenario {
    serde_json::from_value(
        serde_json::json!({"name": name, "roles": ["oncall", "manager"], "schedule": {
        "tz": "America/New_York", "mode": "rotating",
        "shifts": [{"name": "all", "start": "09:00:00", "end": "09:00:00"}],
        "fixed": {}, "weekly": {"oncall": {"0": {"0": ["mon"]}, "6": {"0": ["sun"]}}},
        "dated": {}, "cleared": [], "overrides": []}}),
    )
    .unwrap()
}

#[tokio::test]
async fn scenarios_round_trip_and_answer_who_is_on_call() {
    each_store!(|s| {
        // Everyone a scenario names must be a user.
        let refused = s.create_scenario("t", &scenario("a")).await;
        assert!(
            matches!(&refused, Err(StoreError::Domain(e)) if e.to_string().contains("'mon', 'sun'")),
            "{refused:?}"
        );
        crate::support::users_in(s, "t", &["mon", "sun"]).await;
        let sc = s.create_scenario("t", &scenario("a")).await.unwrap();
        assert!(matches!(
            s.create_scenario("t", &scenario("a")).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            s.get_scenario("t", "a").await.unwrap().scenario,
            scenario("a")
        );
        assert!(
            matches!(
                s.get_scenario("u", "a").await,
                Err(StoreError::NotFound { .. })
            ),
            "tenant scoped"
        );
        // Monday 2026-11-23 10:00 New York = 15:00 UTC: Monday's person.
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T15:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            s.on_call("t", "a", "oncall", (None, None), at)
                .await
                .unwrap(),
            vec!["mon"]
        );
        // Monday 08:00 New York still belongs to Sunday's 24-hour shift.
        let early = chrono::DateTime::parse_from_rfc3339("2026-11-23T13:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            s.on_call("t", "a", "oncall", (None, None), early)
                .await
                .unwrap(),
            vec!["sun"]
        );
        assert!(
            s.on_call("t", "a", "manager", (None, None), at)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.on_call("t", "a", "nobody", (None, None), at)
                .await
                .is_err()
        );
        let mut changed = scenario("b");
        changed.roles.push("extra".into());
        let u = s.update_scenario("t", &sc.id, &changed).await.unwrap();
        assert_eq!(u.scenario.name, "b");
        s.delete_scenario("t", "b").await.unwrap();
        assert!(s.list_scenarios("t").await.unwrap().is_empty());
    });
}

#[tokio::test]
async fn delivery_queue_retries_then_gives_up() {
    use coc_domain::notify::{MAX_ATTEMPTS, Message};
    each_store!(|s| {
        let m = Message {
            incident: None,
            event: "test".into(),
            subject: "s".into(),
            body: "b".into(),
            link: None,
            actions: vec![],
        };
        assert!(
            s.enqueue_delivery("t", "pager", "http://x", None, &m)
                .await
                .is_err()
        );
        assert!(
            s.enqueue_delivery("t", "slack", "file:///etc/passwd", None, &m)
                .await
                .is_err()
        );
        let d = s
            .enqueue_delivery("t", "webhook", "http://127.0.0.1:9/x", Some("sekrit"), &m)
            .await
            .unwrap();
        let raw: Option<String> = sqlx::query_scalar("SELECT secret FROM deliveries")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert!(!raw.unwrap().contains("sekrit"), "encrypted at rest");
        assert_eq!(d.target, "http://127.0.0.1:9/***", "shown masked");
        let due = s.due_deliveries(10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].secret.as_deref(), Some("sekrit"));
        assert_eq!(
            due[0].target, "http://127.0.0.1:9/x",
            "sent to the real URL"
        );
        let now = coc_store::now_ms();
        let lease = s
            .claim_delivery(&d.id, now)
            .await
            .unwrap()
            .expect("one sender claims it");
        assert!(
            s.claim_delivery(&d.id, now).await.unwrap().is_none(),
            "no second sender"
        );
        assert!(s.due_deliveries(10).await.unwrap().is_empty(), "leased");
        // The lease ran out while the first sender still sent: a second
        // sender claims it; the first one's late record changes nothing.
        let late = now + SEND_LEASE_MS;
        let second = s.claim_delivery(&d.id, late).await.unwrap().unwrap();
        assert!(second > lease);
        assert!(
            !s.record_attempt(&d.id, lease, None, late).await.unwrap(),
            "a fenced-off sender records nothing"
        );
        assert!(
            s.record_attempt(&d.id, second, Some("down"), late)
                .await
                .unwrap()
        );
        assert!(s.due_deliveries(10).await.unwrap().is_empty(), "backed off");
        let mut t = late;
        for _ in 1..MAX_ATTEMPTS {
            t += 600_000;
            let l = s.claim_delivery(&d.id, t).await.unwrap().unwrap();
            s.record_attempt(&d.id, l, Some("down"), t).await.unwrap();
        }
        let log = s
            .list_deliveries("t", None, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            (log.items[0].status.as_str(), log.items[0].attempts),
            ("failed", i64::from(MAX_ATTEMPTS))
        );
        assert!(
            s.claim_delivery(&d.id, t + 600_000)
                .await
                .unwrap()
                .is_none(),
            "a failed delivery is not claimed"
        );
        let log = s
            .list_deliveries("t", Some("failed"), &Default::default())
            .await
            .unwrap();
        assert_eq!(
            log.items.len(),
            1,
            "a finished delivery is not changed again"
        );
        assert!(
            s.list_deliveries("u", None, &Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let ok = s
            .enqueue_delivery("t", "feishu", "https://x.invalid/hook", None, &m)
            .await
            .unwrap();
        let l = s
            .claim_delivery(&ok.id, coc_store::now_ms())
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.record_attempt(&ok.id, l, None, coc_store::now_ms())
                .await
                .unwrap()
        );
        let log = s
            .list_deliveries("t", Some("delivered"), &Default::default())
            .await
            .unwrap();
        assert_eq!(log.items[0].payload["msg_type"], "text");
    });
}

/// The store decides by its own clock ([`coc_store::Store::with_clock`]):
/// a delivery's creation, lease and retry follow a clock the test moves.
#[tokio::test]
async fn the_store_decides_by_its_injected_clock() {
    use coc_domain::notify::Message;
    each_store!(|s| {
        let clock = coc_store::ManualClock::at(1_900_000_000_000);
        let s = s.clone().with_clock(clock.clone());
        let m = Message {
            incident: None,
            event: "test".into(),
            subject: "s".into(),
            body: "b".into(),
            link: None,
            actions: vec![],
        };
        let d = s
            .enqueue_delivery("t", "webhook", "http://127.0.0.1:9/x", None, &m)
            .await
            .unwrap();
        assert_eq!(d.created_at, 1_900_000_000_000);
        assert_eq!(s.due_deliveries(10).await.unwrap().len(), 1);
        let lease = s.claim_delivery(&d.id, s.now()).await.unwrap().unwrap();
        assert_eq!(lease, 1_900_000_000_000 + SEND_LEASE_MS);
        clock.advance(10_000);
        assert!(
            s.record_attempt(&d.id, lease, Some("down"), s.now())
                .await
                .unwrap()
        );
        assert!(
            s.due_deliveries(10).await.unwrap().is_empty(),
            "backing off 1 s"
        );
        clock.advance(1_000);
        assert_eq!(s.due_deliveries(10).await.unwrap().len(), 1, "due again");
    });
}
