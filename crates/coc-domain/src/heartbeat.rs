//! Heartbeat monitors (M1; a dead man's switch): an integration of type
//! `heartbeat` expects a ping every `interval`; when none came for a whole
//! interval it raises one alarm, `HeartbeatMissed`, which the next ping
//! resolves. A dead Prometheus (its always-firing `Watchdog` alert routed
//! to the ping URL) or a cron job that stopped running is noticed.

use std::collections::BTreeMap;

use crate::alarm::{AlarmLevel, AlarmStatus, NormalizedAlarm};
use crate::error::{DomainError, invalid};

/// Shortest interval, seconds.
pub const MIN_INTERVAL_S: i64 = 1;
/// Longest interval, seconds (7 days).
pub const MAX_INTERVAL_S: i64 = 7 * 86_400;
/// The alarm name a missed heartbeat raises.
pub const ALARM_NAME: &str = "HeartbeatMissed";

/// Checks an interval in seconds.
///
/// Errors: [`DomainError::Validation`] outside
/// [`MIN_INTERVAL_S`]..=[`MAX_INTERVAL_S`].
pub fn validate_interval(seconds: i64) -> Result<(), DomainError> {
    if !(MIN_INTERVAL_S..=MAX_INTERVAL_S).contains(&seconds) {
        return Err(invalid(format!(
            "interval_s must be {MIN_INTERVAL_S}..={MAX_INTERVAL_S} seconds"
        )));
    }
    Ok(())
}

/// One monitor as the round sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// The expected gap between pings, ms.
    pub interval_ms: i64,
    /// The last ping, Unix ms; the creation time before the first.
    pub last_ping_at: i64,
    /// When the missed alarm was raised, if it is raised now.
    pub missed_at: Option<i64>,
}

impl Monitor {
    /// When it is missed if no ping comes: the last ping plus the interval.
    pub fn deadline(&self) -> i64 {
        self.last_ping_at.saturating_add(self.interval_ms)
    }

    /// Whether its alarm is due at `now`: no ping for a whole interval and
    /// not raised already.
    pub fn missed(&self, now: i64) -> bool {
        self.missed_at.is_none() && now >= self.deadline()
    }
}

/// The alarm of integration `name` missing its heartbeat (`Alarm`) or
/// pinging again (`Ok`) at `now`: Critical, labels `alertname` and
/// `integration` (its identity), source `Heartbeat`.
pub fn alarm(name: &str, interval_ms: i64, status: AlarmStatus, now: i64) -> NormalizedAlarm {
    let labels = BTreeMap::from([
        ("alertname".to_string(), ALARM_NAME.to_string()),
        ("integration".to_string(), name.to_string()),
    ]);
    let desc = format!("no heartbeat from '{name}' for {} s", interval_ms / 1000);
    NormalizedAlarm {
        alarm_id: None,
        alarm_name: ALARM_NAME.into(),
        alarm_level: AlarmLevel::Critical,
        time: now,
        namespace: None,
        region: None,
        application: None,
        resource_name: Some(name.to_string()),
        resource_id: None,
        alarm_desc: Some(desc),
        url: None,
        alarm_status: status,
        alarm_source: "Heartbeat".into(),
        additional: BTreeMap::from([("integration".to_string(), name.to_string())]),
        labels,
        annotations: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_once_after_a_whole_interval() {
        let m = Monitor {
            interval_ms: 60_000,
            last_ping_at: 1_000,
            missed_at: None,
        };
        assert_eq!(m.deadline(), 61_000);
        assert!(!m.missed(60_999));
        assert!(m.missed(61_000));
        let raised = Monitor {
            missed_at: Some(61_000),
            ..m
        };
        assert!(!raised.missed(120_000), "raised once, not again");
    }

    #[test]
    fn the_alarm_is_one_per_integration_and_resolves() {
        let a = alarm("nightly-backup", 3_600_000, AlarmStatus::Alarm, 5);
        let b = alarm("nightly-backup", 3_600_000, AlarmStatus::Ok, 9);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(
            a.fingerprint(),
            alarm("other", 3_600_000, AlarmStatus::Alarm, 5).fingerprint()
        );
        assert_eq!(a.alarm_level, AlarmLevel::Critical);
        assert!(a.alarm_desc.unwrap().contains("3600 s"));
        assert!(validate_interval(0).is_err());
        assert!(validate_interval(60).is_ok());
        assert!(validate_interval(MAX_INTERVAL_S + 1).is_err());
    }
}
