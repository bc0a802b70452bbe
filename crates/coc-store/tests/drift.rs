//! Drift (R5) on both backends: a desired state set by host name, a
//! report compared (a file's first hash adopted as its baseline), the
//! drift alarm decided once per change and raised from the tenant's
//! `agent` integration, "accept", removal resolving the alarm, and the
//! record going with its host.

use coc_domain::DEFAULT_TENANT as T;
use coc_domain::alarm::AlarmStatus;
use coc_domain::drift::{DesiredState, FileSeen, Observed, PackageSeen, ServiceSeen};
use serde_json::json;

use crate::each_store;
use crate::support::host;

fn desired() -> DesiredState {
    serde_json::from_value(json!({
        "packages": [{"name": "openssl", "version": "3.0.15"}],
        "services": ["nginx"],
        "files": [{"path": "/etc/app.conf"}],
    }))
    .unwrap()
}

fn seen(version: &str, running: bool, hash: char) -> Observed {
    Observed {
        packages: vec![PackageSeen {
            name: "openssl".into(),
            version: Some(version.into()),
        }],
        services: vec![ServiceSeen {
            name: "nginx".into(),
            running,
        }],
        files: vec![FileSeen {
            path: "/etc/app.conf".into(),
            sha256: Some(std::iter::repeat_n(hash, 64).collect()),
            error: None,
        }],
    }
}

#[tokio::test]
async fn reports_are_compared_and_the_alarm_follows_the_differences() {
    each_store!(|s| {
        let h = host(s, "web-1").await;
        // No desired state: a report changes nothing.
        let out = s
            .record_drift_state(&h, seen("1", true, 'a'))
            .await
            .unwrap();
        assert!(out.alarm.is_none() && out.resend.is_none());
        assert!(s.host_drift(T, "web-1").await.is_err());
        let (d, watch, alarm) = s.set_desired_state(T, "web-1", &desired()).await.unwrap();
        assert_eq!(d.host_id, h);
        assert_eq!(d.status, "unchecked");
        assert!(alarm.is_none());
        assert_eq!(watch.files, vec!["/etc/app.conf"]);
        assert_eq!(s.drift_watch(&h).await.unwrap(), Some(watch));
        assert!(
            s.accept_drift(T, "web-1").await.is_err(),
            "nothing reported yet"
        );
        // In sync: the file's hash becomes its baseline.
        let out = s
            .record_drift_state(&h, seen("3.0.15", true, 'a'))
            .await
            .unwrap();
        assert!(out.alarm.is_none());
        let d = s.host_drift(T, &h).await.unwrap();
        assert_eq!(d.status, "in_sync");
        assert_eq!(d.desired.files[0].sha256.as_deref().unwrap().len(), 64);
        // The file changed and the service stopped: one alarm.
        let out = s
            .record_drift_state(&h, seen("3.0.15", false, 'b'))
            .await
            .unwrap();
        let a = out.alarm.expect("drift raises the alarm");
        assert_eq!(a.alarm.alarm_status, AlarmStatus::Alarm);
        assert_eq!(a.alarm.resource_id.as_deref(), Some(h.as_str()));
        let d = s.host_drift(T, &h).await.unwrap();
        assert_eq!(d.status, "drifted");
        assert_eq!(d.differences.len(), 2);
        assert!(d.alarm_raised);
        let since = d.drifted_since.unwrap();
        // The same again: no new alarm; the integration is the tenant's
        // one `agent` integration.
        let again = s
            .record_drift_state(&h, seen("3.0.15", false, 'b'))
            .await
            .unwrap();
        assert!(again.alarm.is_none());
        assert_eq!(
            s.host_drift(T, &h).await.unwrap().drifted_since,
            Some(since)
        );
        let agent: Vec<(String, String)> =
            sqlx::query_as("SELECT id, name FROM integrations WHERE type = 'agent'")
                .fetch_all(s.pool())
                .await
                .unwrap();
        assert_eq!(agent, vec![(a.integration_id.clone(), "COC agents".into())]);
        s.ingest(T, &a.integration_id, vec![a.alarm]).await.unwrap();
        // A report of an older watch asks for the watch again.
        let mut old = seen("3.0.15", false, 'b');
        old.files.clear();
        assert!(
            s.record_drift_state(&h, old)
                .await
                .unwrap()
                .resend
                .is_some()
        );
        // Accept takes the new hash; the stopped service stays drift.
        s.record_drift_state(&h, seen("3.0.15", false, 'b'))
            .await
            .unwrap();
        let (d, alarm) = s.accept_drift(T, "web-1").await.unwrap();
        assert_eq!(d.differences.len(), 1, "{:?}", d.differences);
        assert_eq!(
            alarm.unwrap().alarm.alarm_status,
            AlarmStatus::Alarm,
            "shows what is left"
        );
        // Removed: the raised alarm resolves.
        let ok = s.delete_desired_state(T, "web-1").await.unwrap();
        assert_eq!(ok.unwrap().alarm.alarm_status, AlarmStatus::Ok);
        assert!(s.drift_watch(&h).await.unwrap().is_none());
        // Bad input changes nothing.
        let mut bad = desired();
        bad.files[0].path = "relative".into();
        assert!(s.set_desired_state(T, "web-1", &bad).await.is_err());
        assert!(s.host_drift(T, "web-1").await.is_err());
        assert!(s.set_desired_state(T, "nope", &desired()).await.is_err());
        // It goes with its host.
        s.set_desired_state(T, &h, &desired()).await.unwrap();
        s.delete_host(T, &h).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM host_drift")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(left, 0);
    });
}
