//! Scheduled O&M tasks (X5) on both backends: review before enabling, the
//! rules on modifying and deleting, runs on an injected clock, the
//! missed-run rule and host filters.

use chrono::{DateTime, Utc};
use coc_domain::DEFAULT_TENANT as T;
use coc_domain::schedule::ScheduledTaskSpec;
use coc_store::StoreError;
use serde_json::json;

use crate::each_store;
use crate::support::{diag_script, host};

fn task(name: &str, targets: serde_json::Value) -> ScheduledTaskSpec {
    let mut v = json!({"name": name, "script": "diag",
        "timing": {"tz": "UTC", "trigger": {"type": "cycle", "every": 10, "unit": "minutes", "start": "2026-01-01T00:00:00"}},
        "reviewers": [{"type": "individual", "users": ["lead"]}],
        "recipients": [{"type": "individual", "users": ["lead"]}], "channels": ["slack"]});
    for (k, x) in targets.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn tasks_are_reviewed_enabled_and_run_on_the_injected_clock() {
    each_store!(|s| {
        let h = host(s, "db-01").await;
        diag_script(s).await;
        let t = s
            .create_scheduled_task(T, &task("nightly", json!({"hosts": [h]})), "ann")
            .await
            .unwrap();
        assert_eq!((t.enabled, t.review_status.as_str()), (false, "pending"));
        assert!(
            matches!(
                s.set_scheduled_task_enabled(T, &t.id, true).await,
                Err(StoreError::Domain(_))
            ),
            "not reviewed"
        );
        assert!(
            s.review_scheduled_task(T, &t.id, "ann", true)
                .await
                .is_err(),
            "not by its author"
        );
        assert!(
            s.review_scheduled_task(T, &t.id, "bob", true)
                .await
                .is_err(),
            "not a reviewer"
        );
        s.review_scheduled_task(T, &t.id, "lead", true)
            .await
            .unwrap();
        let t = s.set_scheduled_task_enabled(T, &t.id, true).await.unwrap();
        let next = t.next_run_at.unwrap();
        assert_eq!(next % 600_000, 0, "on the 10-minute grid");
        assert!(
            s.update_scheduled_task(T, &t.id, &task("nightly", json!({"hosts": [h]})), "ann")
                .await
                .is_err()
        );
        assert!(s.delete_scheduled_task(T, &t.id).await.is_err(), "enabled");
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
        assert_eq!(s.run_schedules(at(next - 1), 5000).await.unwrap(), 0);
        assert!(s.run_schedules(at(next), 5000).await.unwrap() >= 1);
        assert_eq!(
            s.run_schedules(at(next), 5000).await.unwrap(),
            0,
            "claimed once"
        );
        let runs = s.scheduled_runs(T, &t.id).await.unwrap();
        assert_eq!((runs.len(), runs[0].status.as_str()), (1, "started"));
        let ticket = s
            .get_ticket(T, runs[0].ticket_id.as_ref().unwrap())
            .await
            .unwrap();
        assert_eq!(ticket.ticket.created_by, "scheduler:nightly");
        // Down for 3 hours: one missed record, no burst of runs.
        let later = next + 600_000 + 3 * 3_600_000;
        s.run_schedules(at(later), 5000).await.unwrap();
        let runs = s.scheduled_runs(T, &t.id).await.unwrap();
        assert_eq!((runs.len(), runs[0].status.as_str()), (2, "missed"));
        let t2 = s.get_scheduled_task(T, &t.id).await.unwrap();
        assert!(t2.next_run_at.unwrap() > later && t2.next_run_at.unwrap() <= later + 600_000);
        // A run due a few minutes ago (within the grace window) still runs.
        let due = t2.next_run_at.unwrap();
        s.run_schedules(at(due + 5 * 60_000), 5000).await.unwrap();
        assert_eq!(
            s.scheduled_runs(T, &t.id).await.unwrap()[0].status,
            "started"
        );
        // The outcome of missed runs is reported to the recipients.
        let notes = s
            .list_deliveries(T, None, &Default::default())
            .await
            .unwrap()
            .items;
        assert!(
            notes.iter().any(|d| d.event == "scheduled_task_outcome"),
            "{notes:?}"
        );
        // Disable, then modify (review again) and delete.
        s.set_scheduled_task_enabled(T, &t.id, false).await.unwrap();
        let m = s
            .update_scheduled_task(T, &t.id, &task("nightly", json!({"hosts": [h]})), "ann")
            .await
            .unwrap();
        assert_eq!(m.review_status, "pending");
        s.delete_scheduled_task(T, &t.id).await.unwrap();
    });
}

#[tokio::test]
async fn filters_are_resolved_at_each_run() {
    each_store!(|s| {
        let h = host(s, "db-01").await;
        diag_script(s).await;
        assert!(
            s.create_scheduled_task(
                T,
                &task("no-app", json!({"select": {"application": "shop"}})),
                "ann"
            )
            .await
            .unwrap_err()
            .to_string()
            .contains("application 'shop' does not exist")
        );
        crate::support::application(s, "shop").await;
        let t = s
            .create_scheduled_task(
                T,
                &task(
                    "by-tag",
                    json!({"select": {"application": "shop", "tags": {"role": "db"}}}),
                ),
                "ann",
            )
            .await
            .unwrap();
        assert!(
            s.create_scheduled_task(T, &task("both", json!({"hosts": [h], "select": {}})), "ann")
                .await
                .is_err()
        );
        assert!(matches!(
            s.create_scheduled_task(T, &task("ghost", json!({"hosts": ["no-such-host"]})), "ann")
                .await,
            Err(StoreError::NotFound { .. })
        ));
        s.review_scheduled_task(T, &t.id, "lead", true)
            .await
            .unwrap();
        let t = s.set_scheduled_task_enabled(T, &t.id, true).await.unwrap();
        let at = DateTime::<Utc>::from_timestamp_millis(t.next_run_at.unwrap()).unwrap();
        s.run_schedules(at, 5000).await.unwrap();
        let r = &s.scheduled_runs(T, &t.id).await.unwrap()[0];
        assert_eq!(r.status, "not_started");
        assert!(r.detail.contains("no host"), "{}", r.detail);
        // A host of the application (R6) with the tag is selected.
        s.set_host_application(T, &h, Some(("shop", None)))
            .await
            .unwrap();
        s.set_host_tags(T, &h, &[("role".to_string(), "db".to_string())].into())
            .await
            .unwrap();
        let next = s
            .get_scheduled_task(T, &t.id)
            .await
            .unwrap()
            .next_run_at
            .unwrap();
        s.run_schedules(DateTime::<Utc>::from_timestamp_millis(next).unwrap(), 5000)
            .await
            .unwrap();
        assert_eq!(
            s.scheduled_runs(T, &t.id).await.unwrap()[0].status,
            "started"
        );
    });
}
