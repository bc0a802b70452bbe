//! Ingest, dedup, paging, filters, clearing, and forwarding rules.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::alarm::AlarmStatus;
use coc_domain::incident::IncidentLevel;
use coc_domain::rule::Operator;
use coc_store::alarm::AlarmFilter;
use coc_store::{Page, StoreError};

use crate::each_store;
use crate::support::{alarm, rule};

#[tokio::test]
async fn dedup_resolve_and_refire() {
    each_store!(|s| {
        let a = alarm("HighCPU", "web-01:9100", "r1");
        let o = s.ingest(T, "int", vec![a.clone()]).await.unwrap();
        assert_eq!((o.created, o.deduplicated), (1, 0));
        let o = s
            .ingest(T, "int", vec![a.clone(), a.clone()])
            .await
            .unwrap();
        assert_eq!((o.created, o.deduplicated), (0, 2));
        let page = s
            .list_alarms(T, &AlarmFilter::default(), &Page::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let row = &page.items[0];
        assert_eq!(row.occurrences, 3);
        assert_eq!(row.status, "alarm");
        assert!(row.last_seen >= row.first_seen);
        assert_eq!(row.fingerprint, a.fingerprint());
        let mut ok = a.clone();
        ok.alarm_status = AlarmStatus::Ok;
        assert_eq!(s.ingest(T, "int", vec![ok]).await.unwrap().resolved, 1);
        assert_eq!(s.get_alarm(T, &row.id).await.unwrap().status, "ok");
        s.ingest(T, "int", vec![a]).await.unwrap();
        let h: Vec<String> = s
            .alarm_history(T, &row.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(h, vec!["fired", "resolved", "refired"]);
    });
}

#[tokio::test]
async fn concurrent_requests_are_group_committed_without_loss() {
    each_store!(|s| {
        let mut handles = Vec::new();
        for r in 0..20 {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                let batch = (0..50)
                    .map(|i| alarm(&format!("A{r}-{i}"), "h:1", "r"))
                    .collect();
                s.ingest(T, "int", batch).await.unwrap().created
            }));
        }
        let mut created = 0;
        for h in handles {
            created += h.await.unwrap();
        }
        assert_eq!(created, 1000);
        let mut n = 0;
        let mut cursor = None;
        loop {
            let p = s
                .list_alarms(T, &AlarmFilter::default(), &Page { limit: 300, cursor })
                .await
                .unwrap();
            n += p.items.len();
            if p.next_cursor.is_none() {
                break;
            }
            cursor = p.next_cursor;
        }
        assert_eq!(n, 1000);
    });
}

#[tokio::test]
async fn paging_and_filters() {
    each_store!(|s| {
        let mut batch: Vec<_> = (0..25)
            .map(|i| alarm(&format!("disk-{i}"), "db:1", "r1"))
            .collect();
        batch.extend((0..5).map(|i| alarm(&format!("cpu-{i}"), "web:1", "r2")));
        s.ingest(T, "int", batch).await.unwrap();
        let p1 = first_page(s, 10).await;
        assert_eq!(p1.items.len(), 10);
        let p2 = s
            .list_alarms(
                T,
                &AlarmFilter::default(),
                &Page {
                    limit: 10,
                    cursor: p1.next_cursor.clone(),
                },
            )
            .await
            .unwrap();
        let p3 = s
            .list_alarms(
                T,
                &AlarmFilter::default(),
                &Page {
                    limit: 10,
                    cursor: p2.next_cursor.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(p3.items.len(), 10);
        assert!(
            p3.next_cursor.is_none(),
            "exactly 30 rows: the third page is the last"
        );
        let mut ids: Vec<_> = p1
            .items
            .iter()
            .chain(&p2.items)
            .chain(&p3.items)
            .map(|a| a.id.clone())
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 30);
        let f = AlarmFilter {
            name: Some("CPU".into()),
            ..Default::default()
        };
        assert_eq!(
            s.list_alarms(T, &f, &Page::default())
                .await
                .unwrap()
                .items
                .len(),
            5
        );
        let f = AlarmFilter {
            region: Some("r1".into()),
            level: Some("Critical".into()),
            ..Default::default()
        };
        assert_eq!(
            s.list_alarms(T, &f, &Page::default())
                .await
                .unwrap()
                .items
                .len(),
            25
        );
        let f = AlarmFilter {
            status: Some("ok".into()),
            ..Default::default()
        };
        assert!(
            s.list_alarms(T, &f, &Page::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        // Resource contains (any case), labels exactly (LIKE wildcards in
        // the value are literal).
        let count = |f: AlarmFilter| {
            let s = &s;
            async move {
                s.list_alarms(T, &f, &Page::default())
                    .await
                    .unwrap()
                    .items
                    .len()
            }
        };
        let by_resource = |r: &str| AlarmFilter {
            resource: Some(r.into()),
            ..Default::default()
        };
        assert_eq!(count(by_resource("WEB")).await, 5);
        assert_eq!(count(by_resource("db:")).await, 25);
        let by_labels = |pairs: &[(&str, &str)]| AlarmFilter {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        assert_eq!(count(by_labels(&[("region", "r2")])).await, 5);
        assert_eq!(
            count(by_labels(&[("region", "r2"), ("alertname", "cpu-3")])).await,
            1
        );
        assert_eq!(count(by_labels(&[("region", "r%")])).await, 0);
        assert_eq!(
            count(by_labels(&[("region", "r")])).await,
            0,
            "the whole value"
        );
        let f = AlarmFilter {
            since: Some(i64::MAX),
            ..Default::default()
        };
        assert!(
            s.list_alarms(T, &f, &Page::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
    });
}

#[tokio::test]
async fn clear_is_all_or_nothing() {
    each_store!(|s| {
        s.ingest(
            T,
            "int",
            vec![alarm("a", "h:1", "r"), alarm("b", "h:1", "r")],
        )
        .await
        .unwrap();
        let ids: Vec<String> = s
            .list_alarms(T, &AlarmFilter::default(), &Page::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|a| a.id)
            .collect();
        let long = "x".repeat(101);
        assert!(matches!(
            s.clear_alarms(T, &ids, &long, "op").await,
            Err(StoreError::Domain(_))
        ));
        let mut with_unknown = ids.clone();
        with_unknown.push("nope".into());
        assert!(matches!(
            s.clear_alarms(T, &with_unknown, "fixed", "op").await,
            Err(StoreError::NotFound { .. })
        ));
        for id in &ids {
            assert_eq!(
                s.get_alarm(T, id).await.unwrap().status,
                "alarm",
                "nothing cleared after a refused call"
            );
        }
        let cleared = s
            .clear_alarms(T, &ids, "fixed by hand", "op")
            .await
            .unwrap();
        assert!(
            cleared
                .iter()
                .all(|a| a.status == "ok" && a.cleared_remark.as_deref() == Some("fixed by hand"))
        );
        let h = s.alarm_history(T, &ids[0]).await.unwrap();
        assert_eq!(h.last().unwrap().actor, "op");
    });
}

#[tokio::test]
async fn rules_create_one_incident_and_attach_repeats() {
    each_store!(|s| {
        crate::support::users(s, &["alice"]).await;
        let r = s.create_rule(T, &rule("cpu", "HighCPU")).await.unwrap();
        assert!(matches!(
            s.create_rule(T, &rule("cpu", "X")).await,
            Err(StoreError::Conflict(_))
        ));
        let a = alarm("HighCPU", "web-01:9100", "r1");
        let o = s.ingest(T, "int", vec![a.clone()]).await.unwrap();
        assert_eq!(o.incidents_created.len(), 1);
        let o = s.ingest(T, "int", vec![a.clone()]).await.unwrap();
        assert!(o.incidents_created.is_empty(), "repeat attaches");
        let other = alarm("Other", "web-01:9100", "r1");
        assert!(
            s.ingest(T, "int", vec![other])
                .await
                .unwrap()
                .incidents_created
                .is_empty()
        );
        let inc = s.get_incident(T, &o_first(s).await).await.unwrap();
        assert_eq!(inc.alarms.len(), 1);
        assert_eq!(inc.incident.level, IncidentLevel::P2);
        assert_eq!(inc.incident.rule_id.as_deref(), Some(r.id.as_str()));
        // A disabled rule does nothing.
        s.set_rule_enabled(T, &r.id, false).await.unwrap();
        let b = alarm("HighCPU", "web-02:9100", "r1");
        assert!(
            s.ingest(T, "int", vec![b.clone()])
                .await
                .unwrap()
                .incidents_created
                .is_empty()
        );
        // Copy starts disabled; enabling the original makes the new alarm trigger.
        let c = s.copy_rule(T, &r.id, "cpu-copy").await.unwrap();
        assert!(!c.enabled);
        s.set_rule_enabled(T, &r.id, true).await.unwrap();
        assert_eq!(
            s.ingest(T, "int", vec![b])
                .await
                .unwrap()
                .incidents_created
                .len(),
            1
        );
        // Data source restricts; it must be an integration of the tenant
        // (by id or name, kept by id).
        let mut spec = rule("ds", "DS");
        spec.data_source = Some("int-x".into());
        assert!(matches!(
            s.create_rule(T, &spec).await,
            Err(StoreError::Domain(_))
        ));
        let x = s
            .create_integration(T, "int-x", "generic", "key-int-x")
            .await
            .unwrap()
            .integration;
        let made = s.create_rule(T, &spec).await.unwrap();
        assert_eq!(made.spec.data_source.as_deref(), Some(x.id.as_str()));
        let d = alarm("DS", "h:1", "r1");
        assert!(
            s.ingest(T, "int", vec![d.clone()])
                .await
                .unwrap()
                .incidents_created
                .is_empty()
        );
        assert_eq!(
            s.ingest(T, &x.id, vec![d])
                .await
                .unwrap()
                .incidents_created
                .len(),
            1
        );
        // Invalid rules are refused and nothing is stored.
        let mut bad = rule("bad", "x");
        bad.conditions[0].op = Operator::Regex;
        bad.conditions[0].value = Some("(".into());
        assert!(matches!(
            s.create_rule(T, &bad).await,
            Err(StoreError::Domain(_))
        ));
        assert_eq!(s.list_rules(T).await.unwrap().len(), 3);
        s.delete_rule(T, &c.id).await.unwrap();
        assert!(matches!(
            s.delete_rule(T, &c.id).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

async fn o_first(s: &coc_store::Store) -> String {
    let p = s
        .list_incidents(T, &Default::default(), &Page::default())
        .await
        .unwrap();
    p.items.last().unwrap().id.clone()
}

#[tokio::test]
async fn integration_keys_are_hashed_and_rotatable() {
    each_store!(|s| {
        let i = s
            .create_integration(T, "prom", "alertmanager", "k1k1k1k1")
            .await
            .unwrap();
        assert!(matches!(
            s.create_integration(T, "prom", "generic", "k2").await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.create_integration(T, "x", "nagios", "k3").await,
            Err(StoreError::Domain(_))
        ));
        assert_eq!(
            s.integration_by_key("k1k1k1k1")
                .await
                .unwrap()
                .unwrap()
                .1
                .id,
            i.integration.id
        );
        s.rotate_integration_key(T, &i.integration.id, "new-key")
            .await
            .unwrap();
        assert!(s.integration_by_key("k1k1k1k1").await.unwrap().is_none());
        assert!(s.integration_by_key("new-key").await.unwrap().is_some());
        let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM integrations")
            .fetch_all(s.pool())
            .await
            .unwrap();
        assert!(
            stored.iter().all(|h| !h.contains("new-key")),
            "keys are stored hashed"
        );
    });
}

#[tokio::test]
async fn a_sequence_within_one_request_replays_in_order() {
    each_store!(|s| {
        let a = alarm("Flap", "h:1", "r");
        let mut ok = a.clone();
        ok.alarm_status = AlarmStatus::Ok;
        let o = s
            .ingest(
                T,
                "int",
                vec![a.clone(), ok.clone(), a.clone(), alarm("Other", "h:1", "r")],
            )
            .await
            .unwrap();
        assert_eq!(
            (o.accepted, o.created, o.deduplicated, o.resolved),
            (4, 2, 2, 1)
        );
        let f = AlarmFilter {
            name: Some("Flap".into()),
            ..Default::default()
        };
        let row = s
            .list_alarms(T, &f, &Page::default())
            .await
            .unwrap()
            .items
            .remove(0);
        assert_eq!((row.occurrences, row.status.as_str()), (3, "alarm"));
        let kinds: Vec<String> = s
            .alarm_history(T, &row.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec!["fired", "resolved", "refired"]);
        // Starting resolved: the first event is "resolved", a later firing "refired".
        let o = s
            .ingest(
                T,
                "int",
                vec![alarm("Late", "h:2", "r")]
                    .into_iter()
                    .map(|mut x| {
                        x.alarm_status = AlarmStatus::Ok;
                        x
                    })
                    .collect(),
            )
            .await
            .unwrap();
        assert_eq!((o.created, o.resolved), (1, 1));
    });
}

/// Retention deletes `ok` alarms past the age with their history; firing
/// alarms and alarms of an incident stay; the same fingerprint arriving
/// afterwards is a new alarm, and its repeats fold into that one.
#[tokio::test]
async fn retention_deletes_expired_ok_alarms_and_a_later_repeat_is_new() {
    use coc_domain::alarm::Retention;
    each_store!(|s| {
        crate::support::users(s, &["alice"]).await;
        s.create_rule(T, &rule("cpu", "HighCPU")).await.unwrap();
        let gone = alarm("DiskFull", "web-01:9100", "r1");
        let firing = alarm("DiskFull", "web-02:9100", "r1");
        let linked = alarm("HighCPU", "web-03:9100", "r1");
        let o = s
            .ingest(T, "int", vec![gone.clone(), firing.clone(), linked.clone()])
            .await
            .unwrap();
        assert_eq!((o.created, o.incidents_created.len()), (3, 1));
        let (mut gone_ok, mut linked_ok) = (gone.clone(), linked.clone());
        gone_ok.alarm_status = AlarmStatus::Ok;
        linked_ok.alarm_status = AlarmStatus::Ok;
        s.ingest(T, "int", vec![gone_ok, linked_ok]).await.unwrap();
        let old = s
            .alarm_by_fingerprint(T, &gone.fingerprint())
            .await
            .unwrap()
            .unwrap();
        let day = 86_400_000;
        let r = Retention { days: 1 };
        assert_eq!(s.delete_expired_alarms(T, r, s.now()).await.unwrap(), 0);
        let later = s.now() + 2 * day;
        assert_eq!(
            s.delete_expired_alarms(T, Retention { days: 0 }, later)
                .await
                .unwrap(),
            0,
            "0 days keeps everything"
        );
        assert_eq!(s.delete_expired_alarms(T, r, later).await.unwrap(), 1);
        assert_eq!(s.delete_expired_alarms(T, r, later).await.unwrap(), 0);
        assert!(matches!(
            s.get_alarm(T, &old.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(
            s.alarm_by_fingerprint(T, &gone.fingerprint())
                .await
                .unwrap()
                .is_none()
        );
        for kept in [&firing, &linked] {
            assert!(
                s.alarm_by_fingerprint(T, &kept.fingerprint())
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        let o = s.ingest(T, "int", vec![gone.clone()]).await.unwrap();
        assert_eq!((o.created, o.deduplicated), (1, 0));
        let o = s.ingest(T, "int", vec![gone.clone()]).await.unwrap();
        assert_eq!((o.created, o.deduplicated), (0, 1));
        let new = s
            .alarm_by_fingerprint(T, &gone.fingerprint())
            .await
            .unwrap()
            .unwrap();
        assert_ne!(new.id, old.id);
        assert_eq!((new.occurrences, new.status.as_str()), (2, "alarm"));
    });
}

/// SQLite keeps where each alarm is in the ingest writer's memory: a store
/// opened again on the same file finds the alarms stored before (more
/// than one statement's worth) and folds repeats into them.
#[tokio::test]
async fn a_reopened_sqlite_store_folds_repeats_into_alarms_stored_before() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coc.db").display());
    let keyring = coc_store::secret::Keyring::random();
    let batch: Vec<_> = (0..450)
        .map(|i| alarm("Load", &format!("host-{i}:9100"), "r1"))
        .collect();
    let s = coc_store::Store::open(&url, keyring.clone()).await.unwrap();
    let o = s.ingest(T, "int", batch.clone()).await.unwrap();
    assert_eq!(o.created, 450);
    s.pool().close().await;
    drop(s);
    let s = coc_store::Store::open(&url, keyring).await.unwrap();
    let first = s
        .alarm_by_fingerprint(T, &batch[7].fingerprint())
        .await
        .unwrap()
        .unwrap();
    let o = s.ingest(T, "int", batch.clone()).await.unwrap();
    assert_eq!((o.created, o.deduplicated), (0, 450));
    let page = s
        .list_alarms(
            T,
            &AlarmFilter::default(),
            &Page {
                limit: 1000,
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 450);
    assert!(page.items.iter().all(|a| a.occurrences == 2));
    assert_eq!(s.get_alarm(T, &first.id).await.unwrap().occurrences, 2);
}

/// A filter no index serves looks through a window of the newest
/// [`coc_store::alarm::ALARM_WINDOW`] alarms per page: past it, a short
/// page carries a cursor, and following it finds the older match.
#[tokio::test]
async fn a_rare_match_beyond_the_window_is_reached_by_its_cursor() {
    each_store!(|s| {
        s.ingest(T, "int", vec![alarm("RareOne", "db-01:9100", "r1")])
            .await
            .unwrap();
        let n = coc_store::alarm::ALARM_WINDOW as usize + 50;
        let many: Vec<_> = (0..n)
            .map(|i| alarm("Common", &format!("h-{i}:9100"), "r1"))
            .collect();
        s.ingest(T, "int", many).await.unwrap();
        let f = AlarmFilter {
            name: Some("rare".into()),
            ..Default::default()
        };
        let first = s.list_alarms(T, &f, &Page::default()).await.unwrap();
        assert!(first.items.is_empty());
        let cursor = first.next_cursor.expect("a cursor to look further");
        let second = s
            .list_alarms(
                T,
                &f,
                &Page {
                    limit: 0,
                    cursor: Some(cursor),
                },
            )
            .await
            .unwrap();
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.items[0].name, "RareOne");
        assert_eq!(second.next_cursor, None);
        // Unfiltered and status pages come off an index, full.
        let all = s
            .list_alarms(T, &AlarmFilter::default(), &Page::default())
            .await
            .unwrap();
        assert_eq!(all.items.len(), 100);
    });
}

/// Convergence (M3): a rule grouping by resource folds related alarms into
/// one incident while the group's window is open, whatever their names;
/// another resource gets its own; once the window passed, the group starts
/// a new incident.
#[tokio::test]
async fn a_converging_rule_folds_related_alarms_into_one_incident() {
    use coc_domain::convergence::Convergence;
    each_store!(|s| {
        crate::support::users(s, &["alice"]).await;
        let mut spec = rule("host", "HighCPU");
        spec.conditions.clear();
        spec.converge = Some(Convergence {
            by: vec!["resource".into()],
            window_minutes: 10,
        });
        s.create_rule(T, &spec).await.unwrap();
        let o = s
            .ingest(
                T,
                "int",
                vec![
                    alarm("HighCPU", "web-01:9100", "r1"),
                    alarm("DiskFull", "web-01:9100", "r1"),
                    alarm("HighCPU", "web-02:9100", "r1"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(o.incidents_created.len(), 2, "{o:?}");
        let o = s
            .ingest(T, "int", vec![alarm("MemoryLow", "web-01:9100", "r1")])
            .await
            .unwrap();
        assert!(o.incidents_created.is_empty());
        let all = s
            .list_incidents(T, &Default::default(), &Page::default())
            .await
            .unwrap();
        let web01 = all
            .items
            .iter()
            .find(|i| i.title.contains("web-01"))
            .unwrap();
        let d = s.get_incident(T, &web01.id).await.unwrap();
        assert_eq!(d.alarms.len(), 3, "three alarms of web-01 in one incident");
        assert!(
            d.history[0]
                .summary
                .contains("alarms with resource=web-01:9100 within 10 minutes"),
            "{:?}",
            d.history[0]
        );
        // The group's last alarm came 11 minutes ago: a new incident.
        sqlx::query("UPDATE incidents SET last_alarm_at = last_alarm_at - 660000")
            .execute(s.pool())
            .await
            .unwrap();
        let o = s
            .ingest(T, "int", vec![alarm("Swap", "web-01:9100", "r1")])
            .await
            .unwrap();
        assert_eq!(o.incidents_created.len(), 1);
    });
}

/// A storm (M3): past the rule's threshold of new incidents a minute,
/// further alarms fold into one storm incident that lists the minute's top
/// alarm names and resources; the storm goes on while alarms keep coming.
#[tokio::test]
async fn a_storm_becomes_one_summarized_incident() {
    use coc_domain::convergence::Storm;
    each_store!(|s| {
        crate::support::users(s, &["alice"]).await;
        let mut spec = rule("all", "x");
        spec.conditions.clear();
        spec.storm = Some(Storm {
            alarms_per_minute: 3,
        });
        s.create_rule(T, &spec).await.unwrap();
        let first: Vec<_> = ["db-1", "db-2", "db-1"]
            .iter()
            .zip(["DiskFull", "DiskFull", "HighCPU"])
            .map(|(h, n)| alarm(n, &format!("{h}:9100"), "r1"))
            .collect();
        let o = s.ingest(T, "int", first).await.unwrap();
        assert_eq!(o.incidents_created.len(), 3);
        let o = s
            .ingest(T, "int", vec![alarm("DiskFull", "db-3:9100", "r1")])
            .await
            .unwrap();
        assert_eq!(o.incidents_created.len(), 1, "the storm incident");
        let storm = s.get_incident(T, &o.incidents_created[0]).await.unwrap();
        assert_eq!(
            storm.incident.title,
            "Alarm storm: 4 alarms within a minute under rule 'all'"
        );
        assert!(
            storm
                .incident
                .description
                .contains("Top alarm names: DiskFull (3), HighCPU (1)."),
            "{}",
            storm.incident.description
        );
        assert!(
            storm.incident.description.contains("db-1:9100 (2)"),
            "{}",
            storm.incident.description
        );
        let more: Vec<_> = (0..20)
            .map(|i| alarm("DiskFull", &format!("db-{}:9100", 10 + i), "r1"))
            .collect();
        let o = s.ingest(T, "int", more).await.unwrap();
        assert!(o.incidents_created.is_empty(), "{o:?}");
        let storm = s.get_incident(T, &storm.incident.id).await.unwrap();
        assert_eq!((storm.alarms.len(), storm.alarm_count), (21, 21));
    });
}

/// An alarm left unhandled becomes an incident (I7): a rule with
/// `after_minutes` opens nothing when alarms arrive; when the wait is over
/// only the alarm still firing and unhandled gets its incident — not the
/// one that resolved, not the one somebody handled.
#[tokio::test]
async fn an_alarm_left_unhandled_becomes_an_incident_after_the_wait() {
    each_store!(|s| {
        crate::support::users(s, &["alice"]).await;
        let mut spec = rule("urgent", "x");
        spec.conditions.clear();
        spec.after_minutes = Some(5);
        s.create_rule(T, &spec).await.unwrap();
        let (left, resolved, handled) = (
            alarm("DiskFull", "db-1:9100", "r1"),
            alarm("DiskFull", "db-2:9100", "r1"),
            alarm("DiskFull", "db-3:9100", "r1"),
        );
        let o = s
            .ingest(
                T,
                "int",
                vec![left.clone(), resolved.clone(), handled.clone()],
            )
            .await
            .unwrap();
        assert!(o.incidents_created.is_empty(), "the rule waits");
        let mut ok = resolved.clone();
        ok.alarm_status = AlarmStatus::Ok;
        s.ingest(T, "int", vec![ok]).await.unwrap();
        let h = s
            .alarm_by_fingerprint(T, &handled.fingerprint())
            .await
            .unwrap()
            .unwrap();
        s.note_alarm_handled(T, &h.id, "alice", "script ticket SCT-1 on db-3")
            .await
            .unwrap();
        assert_eq!(s.run_delayed_alarms(s.now()).await.unwrap(), 0, "not yet");
        let after = s.now() + 5 * 60_000 + 1_000;
        assert_eq!(s.run_delayed_alarms(after).await.unwrap(), 1);
        assert_eq!(s.run_delayed_alarms(after).await.unwrap(), 0, "once");
        let incidents = s
            .list_incidents(T, &Default::default(), &Page::default())
            .await
            .unwrap();
        assert_eq!(incidents.items.len(), 1);
        assert_eq!(incidents.items[0].title, "DiskFull on db-1:9100");
        // A repeat of the alarm joins its incident at once.
        let o = s.ingest(T, "int", vec![left]).await.unwrap();
        assert!(o.incidents_created.is_empty());
    });
}

/// The original-alarms view (ref. 7.2.2): every occurrence as received,
/// the latest 20 per alarm, newest first — occurrences folded within one
/// request too — and they go with the alarm.
#[tokio::test]
async fn each_occurrence_is_kept_up_to_the_latest_twenty() {
    each_store!(|s| {
        let mut a = alarm("DiskFull", "db-1:9100", "r1");
        let mut sent = vec![];
        for i in 0..25 {
            a.alarm_desc = Some(format!("disk at {}%", 70 + i));
            a.alarm_status = if i == 12 {
                AlarmStatus::Ok
            } else {
                AlarmStatus::Alarm
            };
            sent.push(a.clone());
        }
        // 1, then 3 in one request, then one by one.
        s.ingest(T, "int", sent[..1].to_vec()).await.unwrap();
        s.ingest(T, "int", sent[1..4].to_vec()).await.unwrap();
        for x in &sent[4..] {
            s.ingest(T, "int", vec![x.clone()]).await.unwrap();
        }
        let id = s
            .list_alarms(T, &AlarmFilter::default(), &Page::default())
            .await
            .unwrap()
            .items[0]
            .id
            .clone();
        let occ = s.alarm_occurrences(T, &id).await.unwrap();
        assert_eq!(occ.len(), 20);
        let numbers: Vec<i64> = occ.iter().map(|o| o.number).collect();
        assert_eq!(numbers, (6..=25).rev().collect::<Vec<_>>());
        assert_eq!(occ[0].description.as_deref(), Some("disk at 94%"));
        assert_eq!(occ[12].number, 13);
        assert_eq!(occ[12].status, "ok");
        assert_eq!(occ[13].status, "alarm");
        // A first request longer than the ring keeps its latest 20.
        let mut b = alarm("Flood", "web-1:9100", "r1");
        let many: Vec<_> = (0..30)
            .map(|i| {
                b.alarm_desc = Some(format!("#{i}"));
                b.clone()
            })
            .collect();
        s.ingest(T, "int", many).await.unwrap();
        let flood = s
            .list_alarms(
                T,
                &AlarmFilter {
                    name: Some("Flood".into()),
                    ..Default::default()
                },
                &Page::default(),
            )
            .await
            .unwrap()
            .items[0]
            .id
            .clone();
        let occ = s.alarm_occurrences(T, &flood).await.unwrap();
        assert_eq!(occ.len(), 20);
        assert_eq!((occ[0].number, occ[19].number), (30, 11));
        assert_eq!(occ[0].description.as_deref(), Some("#29"));
        assert!(matches!(
            s.alarm_occurrences(T, "no-such-alarm").await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

/// The first page of `limit` alarms, newest first, unfiltered.
async fn first_page(s: &coc_store::Store, limit: u32) -> coc_store::Paged<coc_store::alarm::Alarm> {
    s.list_alarms(
        T,
        &AlarmFilter::default(),
        &Page {
            limit,
            cursor: None,
        },
    )
    .await
    .unwrap()
}

/// Waits (up to 20 s) until `s` lists `n` alarms with nothing left to
/// apply; the list. The backlog is read before the list: read after, a
/// request applied in between would leave the list behind it.
async fn alarms_listed(s: &coc_store::Store, n: usize) -> Vec<coc_store::alarm::Alarm> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let backlog = s.ingest_backlog();
        let page = first_page(s, 1000).await;
        if page.items.len() >= n && backlog == 0 {
            return page.items;
        }
        assert!(
            std::time::Instant::now() < end,
            "{} of {n} alarms listed, backlog {}",
            page.items.len(),
            s.ingest_backlog()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `acknowledge: received` (decision 0031): on SQLite the answer comes once
/// the alarms are in the ingest log and they are applied behind, in order
/// (repeats fold, a resolve after the firing event wins); on PostgreSQL,
/// which has no log, it is answered as applied.
#[tokio::test]
async fn alarms_acknowledged_as_received_are_applied_behind_in_order() {
    use coc_domain::alarm::Acknowledge;
    each_store!(|s| {
        let batch: Vec<_> = (0..300)
            .map(|i| alarm("Load", &format!("host-{i}:9100"), "r1"))
            .collect();
        let o = s
            .accept(T, "int", batch.clone(), Acknowledge::Received)
            .await
            .unwrap();
        assert_eq!(o.accepted, 300);
        if s.backend() == coc_store::Backend::Sqlite {
            assert_eq!(o.acknowledged, Acknowledge::Received);
            assert_eq!(o.created, 0, "nothing is counted before it is applied");
        } else {
            assert_eq!((o.acknowledged, o.created), (Acknowledge::Applied, 300));
        }
        let mut ok = batch[0].clone();
        ok.alarm_status = AlarmStatus::Ok;
        let o = s
            .accept(T, "int", vec![batch[0].clone(), ok], Acknowledge::Received)
            .await
            .unwrap();
        assert_eq!(o.accepted, 2);
        let rows = alarms_listed(s, 300).await;
        assert_eq!(rows.len(), 300);
        let first = rows
            .iter()
            .find(|r| r.fingerprint == batch[0].fingerprint())
            .unwrap();
        assert_eq!((first.occurrences, first.status.as_str()), (3, "ok"));
        assert!(rows.iter().filter(|r| r.occurrences == 1).count() == 299);
        // Applied answers still count what happened, after what was logged.
        let o = s
            .accept(T, "int", vec![batch[1].clone()], Acknowledge::Applied)
            .await
            .unwrap();
        assert_eq!((o.created, o.deduplicated), (0, 1));
    });
}

/// What was logged and not applied when the process died is applied once
/// at the next start; rows up to the applied mark are not applied again.
#[tokio::test]
async fn the_ingest_log_is_applied_once_after_a_restart() {
    use sqlx::Executor;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("coc.db");
    let url = format!("sqlite://{}", db.display());
    let keyring = coc_store::secret::Keyring::random();
    let s = coc_store::Store::open(&url, keyring.clone()).await.unwrap();
    let applied: Vec<_> = (0..10)
        .map(|i| alarm("Before", &format!("host-{i}:9100"), "r1"))
        .collect();
    s.accept(
        T,
        "int",
        applied.clone(),
        coc_domain::alarm::Acknowledge::Received,
    )
    .await
    .unwrap();
    alarms_listed(&s, 10).await;
    let mark: i64 = sqlx::query_scalar("SELECT seq FROM ingest_applied WHERE id = 1")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert!(mark >= 1);
    s.pool().close().await;
    drop(s);
    // As a process killed between the log's commit and the writer's: one
    // row applied already (at the mark) still in the log, and two not.
    let log = sqlx::AnyPool::connect(&format!("sqlite://{}.ingest", db.display()))
        .await
        .unwrap();
    let pending: Vec<_> = (0..20)
        .map(|i| alarm("After", &format!("host-{i}:9100"), "r1"))
        .collect();
    for (seq, alarms) in [
        (mark, &applied),
        (mark + 1, &pending[..15].to_vec()),
        (mark + 2, &pending[10..].to_vec()),
    ] {
        sqlx::query(
            "INSERT OR REPLACE INTO ingest_log (seq, tenant_id, integration_id, alarms) \
             VALUES ($1, $2, 'int', $3)",
        )
        .bind(seq)
        .bind(T)
        .bind(serde_json::to_string(alarms).unwrap())
        .execute(&log)
        .await
        .unwrap();
    }
    // A body logged as Prometheus sent it (decision 0032).
    sqlx::query(
        "INSERT INTO ingest_log (seq, tenant_id, integration_id, alarms, format, received_at) \
         VALUES ($1, $2, 'int', $3, 'prometheus_v2', 1700000000000)",
    )
    .bind(mark + 3)
    .bind(T)
    .bind(br#"[{"labels":{"alertname":"Sent","instance":"host-0:9100"}}]"#.to_vec())
    .execute(&log)
    .await
    .unwrap();
    log.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    log.close().await;
    let s = coc_store::Store::open(&url, keyring).await.unwrap();
    let rows = alarms_listed(&s, 31).await;
    assert_eq!(rows.len(), 31, "10 before, 20 after, 1 sent");
    let sent = rows.iter().find(|r| r.name == "Sent").unwrap();
    assert_eq!(sent.occurrences, 1);
    let occ = |name: &str, n: i64| {
        rows.iter()
            .filter(|r| r.name == name && r.occurrences == n)
            .count()
    };
    assert_eq!(
        occ("Before", 1),
        10,
        "the applied row was not applied again"
    );
    assert_eq!(occ("After", 2), 5, "host-10..14 came in both rows");
    assert_eq!(occ("After", 1), 15);
    let mark2: i64 = sqlx::query_scalar("SELECT seq FROM ingest_applied WHERE id = 1")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(mark2, mark + 3);
    // New requests continue after the recovered ones.
    let o = s
        .accept(
            T,
            "int",
            vec![alarm("Later", "host-0:9100", "r1")],
            coc_domain::alarm::Acknowledge::Received,
        )
        .await
        .unwrap();
    assert_eq!(o.accepted, 1);
    alarms_listed(&s, 32).await;
}

/// A body in a fixed format is logged as the sender sent it and parsed
/// when applied with the time it was received, not the time it is applied
/// (decision 0032): an alert ending a minute after it was received is
/// still firing, and one without a start starts then.
#[tokio::test]
async fn logged_bodies_are_parsed_with_the_time_they_were_received() {
    use coc_domain::alarm::{Acknowledge, BodyFormat};
    each_store!(|s| {
        let received = 1_700_000_000_000_i64;
        let body = br#"[
            {"labels":{"alertname":"Later","instance":"a:1"},"endsAt":"2023-11-14T22:14:20Z"},
            {"labels":{"alertname":"Over","instance":"b:1"},"endsAt":"2023-11-14T22:13:00Z"}
        ]"#;
        let count = BodyFormat::PrometheusV2.count(body, received).unwrap();
        assert_eq!(count, 2);
        let logged = coc_store::ingest::log::Body::received(
            BodyFormat::PrometheusV2,
            received,
            bytes::Bytes::from_static(body),
        );
        assert_eq!(
            s.logs(Acknowledge::Received),
            s.backend() == coc_store::Backend::Sqlite
        );
        let o = s.log(T, "int", logged, count).await.unwrap();
        assert_eq!(o.accepted, 2);
        let rows = alarms_listed(s, 2).await;
        let by = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
        assert_eq!(by("Later").status.as_str(), "alarm");
        assert_eq!(by("Over").status.as_str(), "ok");
        assert_eq!(by("Later").started_at, received);
    });
}

/// A log file written before bodies were logged as received (no `format`
/// column) is upgraded at start and its rows are applied as normalized
/// alarms.
#[tokio::test]
async fn a_log_of_the_earlier_shape_is_upgraded_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("coc.db");
    sqlx::any::install_default_drivers();
    let log = sqlx::AnyPool::connect(&format!("sqlite://{}.ingest?mode=rwc", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TABLE ingest_log (seq INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, \
         integration_id TEXT NOT NULL, alarms TEXT NOT NULL)",
    )
    .execute(&log)
    .await
    .unwrap();
    let old = vec![alarm("Old", "host-0:9100", "r1")];
    sqlx::query("INSERT INTO ingest_log VALUES (1, $1, 'int', $2)")
        .bind(T)
        .bind(serde_json::to_string(&old).unwrap())
        .execute(&log)
        .await
        .unwrap();
    log.close().await;
    let url = format!("sqlite://{}", db.display());
    let s = coc_store::Store::open(&url, coc_store::secret::Keyring::random())
        .await
        .unwrap();
    let rows = alarms_listed(&s, 1).await;
    assert_eq!(rows[0].name, "Old");
}

/// A read made while this task holds the write lock (as the ingest writer
/// reads rules, SLAs and on-call while it applies) gets a connection at
/// once, even with every connection of the writing pool taken by writers
/// waiting for that lock (decision 0033). Before, it waited for one of
/// them to give up after its busy timeout (10 s), and those writers failed
/// with "database is locked".
#[tokio::test]
async fn a_read_under_the_write_lock_does_not_wait_for_the_writers_behind_it() {
    each_store!(|s| {
        let held = s.begin().await.unwrap();
        let writers: Vec<_> = (0..12)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut tx = s.begin().await?;
                    sqlx::query(
                        "UPDATE coc_migrations SET applied_at = applied_at WHERE version = 0",
                    )
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        // The writers take every other connection and wait for the lock.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(first_page(s, 10).await.items.is_empty());
        held.commit().await.unwrap();
        for w in writers {
            w.await
                .unwrap()
                .expect("each writer has the lock once it is free");
        }
    });
}
