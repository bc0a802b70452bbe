//! Scheduling scenarios on both backends.

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
            s.on_call("t", "a", "oncall", at).await.unwrap(),
            vec!["mon"]
        );
        // Monday 08:00 New York still belongs to Sunday's 24-hour shift.
        let early = chrono::DateTime::parse_from_rfc3339("2026-11-23T13:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            s.on_call("t", "a", "oncall", early).await.unwrap(),
            vec!["sun"]
        );
        assert!(s.on_call("t", "a", "manager", at).await.unwrap().is_empty());
        assert!(s.on_call("t", "a", "nobody", at).await.is_err());
        let mut changed = scenario("b");
        changed.roles.push("extra".into());
        let u = s.update_scenario("t", &sc.id, &changed).await.unwrap();
        assert_eq!(u.scenario.name, "b");
        s.delete_scenario("t", "b").await.unwrap();
        assert!(s.list_scenarios("t").await.unwrap().is_empty());
    });
}
