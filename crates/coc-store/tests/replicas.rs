//! Two store handles on one PostgreSQL database race, as two `coc server`
//! replicas do (D3): each scheduled due time starts one ticket, each
//! delivery attempt has one sender, and concurrent engine steps of one
//! ticket create each run once. (SQLite serves one process: skipped.)

use chrono::{DateTime, Utc};
use coc_domain::DEFAULT_TENANT as T;
use coc_domain::notify::Message;
use coc_store::jobticket::JobCommand;
use coc_store::ticket::NewTicket;
use serde_json::json;

use crate::support::{diag_script, host, stores};

#[tokio::test]
async fn two_replicas_race_and_each_piece_of_work_happens_once() {
    for ts in stores().await {
        let Some(b) = ts.replica().await else {
            ts.cleanup().await;
            continue;
        };
        let a = &ts.store;
        a.ensure_tenant(T).await.unwrap();
        let script = diag_script(a).await;
        let hosts = vec![
            host(a, "r-1").await,
            host(a, "r-2").await,
            host(a, "r-3").await,
        ];
        // A scheduled task due now: both replicas' rounds run at once.
        let spec = serde_json::from_value(json!({"name": "every-10", "script": "diag",
            "hosts": hosts,
            "timing": {"tz": "UTC", "trigger": {"type": "cycle", "every": 10, "unit": "minutes", "start": "2026-01-01T00:00:00"}},
            "reviewers": [{"type": "individual", "users": ["lead"]}]}))
        .unwrap();
        let t = a.create_scheduled_task(T, &spec, "ann").await.unwrap();
        a.review_scheduled_task(T, &t.id, "lead", true)
            .await
            .unwrap();
        let t = a.set_scheduled_task_enabled(T, &t.id, true).await.unwrap();
        let at = DateTime::<Utc>::from_timestamp_millis(t.next_run_at.unwrap()).unwrap();
        for _ in 0..5 {
            let (x, y) = tokio::join!(a.run_schedules(at, 5000), b.run_schedules(at, 5000));
            x.unwrap();
            y.unwrap();
        }
        let runs = a.scheduled_runs(T, &t.id).await.unwrap();
        assert_eq!(runs.len(), 1, "the schedule fired once: {runs:?}");
        // One delivery, claimed by both at the same instant: one sender.
        let d = a
            .enqueue_delivery(
                T,
                "webhook",
                "http://127.0.0.1:9/hook",
                None,
                &Message {
                    incident: None,
                    event: "test".into(),
                    subject: "s".into(),
                    body: "b".into(),
                    link: None,
                    actions: vec![],
                },
            )
            .await
            .unwrap();
        let now = coc_store::now_ms() + 1000;
        let (x, y) = tokio::join!(a.claim_delivery(&d.id, now), b.claim_delivery(&d.id, now));
        assert_eq!(
            [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|l| l.is_some())
                .count(),
            1,
            "one sender per attempt"
        );
        // One script ticket, stepped by both replicas at once, many times:
        // each host's run is created and sent once.
        let tk = a
            .create_ticket(
                T,
                &NewTicket {
                    script_id: script.clone(),
                    params: Default::default(),
                    hosts: hosts.clone(),
                    run_as: None,
                    timeout_s: None,
                    batch_policy: coc_domain::ticket::BatchPolicy::None,
                    batches: None,
                    threshold: None,
                    incident_id: None,
                    created_by: "op".into(),
                    param_refs: Default::default(),
                },
            )
            .await
            .unwrap();
        let mut sent = Vec::new();
        let now = coc_store::now_ms();
        for _ in 0..5 {
            let (x, y) = tokio::join!(
                a.advance_job_ticket(&tk.id, now, &|_| true),
                b.advance_job_ticket(&tk.id, now, &|_| true)
            );
            for c in x.unwrap().into_iter().chain(y.unwrap()) {
                if let JobCommand::Exec { run_id, .. } = c {
                    sent.push(run_id);
                }
            }
        }
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), 3, "one run per host, sent once");
        let d = a.get_ticket(T, &tk.id).await.unwrap();
        assert!(d.tasks.iter().all(|t| t.attempt == 1));
        ts.cleanup().await;
    }
}
