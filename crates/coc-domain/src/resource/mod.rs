//! Hosts and their agents (R1, ref. 3.1): agent status from heartbeats and
//! matching an alarm to the host it concerns (I6).

use serde::{Deserialize, Serialize};

pub mod catalog;

use crate::alarm::{NormalizedAlarm, host_part};

/// Agent status as shown in the resource list (ref. 3.1.2, table 3-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Heartbeats arrive on time.
    Running,
    /// Heartbeats are late (more than 2 intervals) but not yet lost.
    Abnormal,
    /// No heartbeat for more than [`OFFLINE_AFTER_INTERVALS`] intervals.
    Offline,
    /// Its agent is being installed (R3) and has not connected yet.
    Installing,
    /// Its agent's installation failed (R3).
    InstallFailed,
    /// Its agent is being replaced with another build (R3).
    Upgrading,
}

impl AgentStatus {
    /// The status called `name` (`running`, `abnormal`, `offline`,
    /// `installing`, `install_failed`, `upgrading`).
    pub fn parse(name: &str) -> Option<Self> {
        [
            AgentStatus::Running,
            AgentStatus::Abnormal,
            AgentStatus::Offline,
            AgentStatus::Installing,
            AgentStatus::InstallFailed,
            AgentStatus::Upgrading,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Running => "running",
            AgentStatus::Abnormal => "abnormal",
            AgentStatus::Offline => "offline",
            AgentStatus::Installing => "installing",
            AgentStatus::InstallFailed => "install_failed",
            AgentStatus::Upgrading => "upgrading",
        }
    }
}

/// How long after its installation task succeeded a new agent may take
/// to connect before the host shows `install_failed`, ms (10 min).
pub const CONNECT_GRACE_MS: i64 = 10 * 60_000;

/// A host's agent status (table 3-1): `upgrading` while an upgrade of
/// its agent runs (R3); before its agent ever reported, what its latest
/// installation task (R3) is — `installing` while it is pending or
/// running or succeeded less than [`CONNECT_GRACE_MS`] ago (the agent
/// was started and should connect), `install_failed` once it failed, was
/// cancelled, or succeeded without the agent ever connecting; otherwise
/// [`agent_status`] from its heartbeats. `install` is that task's status
/// and when it finished (Unix ms).
pub fn host_status(
    last_heartbeat_ms: Option<i64>,
    install: Option<(crate::ticket::TaskStatus, Option<i64>)>,
    upgrading: bool,
    now_ms: i64,
    interval_ms: i64,
) -> AgentStatus {
    use crate::ticket::TaskStatus as T;
    if upgrading {
        return AgentStatus::Upgrading;
    }
    match (last_heartbeat_ms, install) {
        (None, Some((T::Pending | T::Executing, _))) => AgentStatus::Installing,
        (None, Some((T::Successful, Some(done)))) if now_ms - done <= CONNECT_GRACE_MS => {
            AgentStatus::Installing
        }
        (None, Some((T::Failed | T::Cancelled | T::Successful, _))) => AgentStatus::InstallFailed,
        _ => agent_status(last_heartbeat_ms, now_ms, interval_ms),
    }
}

/// Most tags per resource.
pub const MAX_TAGS: usize = 20;

/// Checks a resource's tags (they are the `coc:ResourceTag/<key>` ABAC
/// attributes): at most [`MAX_TAGS`]; keys 1 to 64 of letters, digits and
/// `_-.:`; values at most 128 characters.
///
/// Errors: [`crate::error::DomainError::Validation`] naming the tag.
pub fn validate_tags(
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), crate::error::DomainError> {
    if tags.len() > MAX_TAGS {
        return Err(crate::error::invalid(format!("at most {MAX_TAGS} tags")));
    }
    for (k, v) in tags {
        let ok = !k.is_empty()
            && k.len() <= 64
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
        if !ok || v.chars().count() > 128 {
            return Err(crate::error::invalid(format!(
                "tag '{k}': keys are 1 to 64 of letters, digits, '_-.:'; values at most 128 characters"
            )));
        }
    }
    Ok(())
}

/// The heartbeat times (Unix ms) at or after which an agent is running
/// and abnormal: `(now - 2 intervals, now - OFFLINE_AFTER_INTERVALS
/// intervals)`; older or none is offline. [`agent_status`] in SQL terms.
pub fn status_bounds(now_ms: i64, interval_ms: i64) -> (i64, i64) {
    (
        now_ms - 2 * interval_ms,
        now_ms - OFFLINE_AFTER_INTERVALS * interval_ms,
    )
}

/// Missed intervals after which an agent is offline.
pub const OFFLINE_AFTER_INTERVALS: i64 = 3;

/// Agent status from its last heartbeat (Unix ms) and the heartbeat
/// interval (ms): running within 2 intervals, abnormal up to
/// [`OFFLINE_AFTER_INTERVALS`], offline beyond or when never seen.
pub fn agent_status(last_heartbeat_ms: Option<i64>, now_ms: i64, interval_ms: i64) -> AgentStatus {
    match last_heartbeat_ms {
        None => AgentStatus::Offline,
        Some(t) => {
            let (running, abnormal) = status_bounds(now_ms, interval_ms);
            if t >= running {
                AgentStatus::Running
            } else if t >= abnormal {
                AgentStatus::Abnormal
            } else {
                AgentStatus::Offline
            }
        }
    }
}

/// What identifies a host for alarm matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    /// COC resource id.
    pub id: String,
    /// Host name as reported by the agent.
    pub hostname: String,
    /// Its IP addresses.
    pub ips: Vec<String>,
}

/// Whether `alarm` concerns `host` (I6): its resourceId is the host's id,
/// or its resourceName (host part) or the host part of the `instance` label
/// equals the host name or one of its IPs (case-insensitive for names).
pub fn alarm_targets_host(alarm: &NormalizedAlarm, host: &HostIdentity) -> bool {
    resource_is_host(
        alarm.resource_id.as_deref(),
        alarm.resource_name.as_deref(),
        host,
    ) || alarm.instance_host().is_some_and(|n| names_host(&n, host))
}

/// Whether a stored alarm's resource (its id, or its name's host part)
/// is `host`, as [`alarm_targets_host`] decides it (without the labels a
/// stored alarm row does not carry as fields).
pub fn resource_is_host(
    resource_id: Option<&str>,
    resource_name: Option<&str>,
    host: &HostIdentity,
) -> bool {
    resource_id == Some(host.id.as_str())
        || resource_name.is_some_and(|r| names_host(&host_part(r), host))
}

/// Whether `name` is the host's name, its short name or one of its IPs
/// (names ignoring case).
fn names_host(name: &str, host: &HostIdentity) -> bool {
    name.eq_ignore_ascii_case(&host.hostname)
        || host
            .hostname
            .split('.')
            .next()
            .is_some_and(|short| name.eq_ignore_ascii_case(short))
        || host.ips.iter().any(|ip| ip == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::from_labels;
    use std::collections::BTreeMap;

    #[test]
    fn status_by_heartbeat_age() {
        assert_eq!(agent_status(None, 100, 10), AgentStatus::Offline);
        use crate::ticket::TaskStatus as T;
        assert_eq!(
            host_status(None, Some((T::Executing, None)), false, 100, 10),
            AgentStatus::Installing
        );
        assert_eq!(
            host_status(None, Some((T::Failed, Some(90))), false, 100, 10),
            AgentStatus::InstallFailed
        );
        assert_eq!(
            host_status(Some(90), Some((T::Failed, Some(50))), false, 100, 10),
            AgentStatus::Running,
            "its agent reported: the heartbeats decide"
        );
        assert_eq!(
            host_status(None, Some((T::Successful, Some(90))), false, 100, 10),
            AgentStatus::Installing,
            "started: its agent has a while to connect"
        );
        let late = 100 + CONNECT_GRACE_MS + 1;
        assert_eq!(
            host_status(None, Some((T::Successful, Some(100))), false, late, 10),
            AgentStatus::InstallFailed,
            "started, but its agent never connected"
        );
        assert_eq!(
            host_status(None, None, false, 100, 10),
            AgentStatus::Offline
        );
        assert_eq!(
            host_status(Some(90), None, true, 100, 10),
            AgentStatus::Upgrading,
            "an upgrade in progress shows whatever the heartbeats say"
        );
        assert_eq!(
            AgentStatus::parse("install_failed"),
            Some(AgentStatus::InstallFailed)
        );
        assert_eq!(AgentStatus::parse("abnormal"), Some(AgentStatus::Abnormal));
        assert_eq!(AgentStatus::parse("down"), None);
        assert_eq!(agent_status(Some(90), 100, 10), AgentStatus::Running);
        assert_eq!(agent_status(Some(75), 100, 10), AgentStatus::Abnormal);
        assert_eq!(agent_status(Some(60), 100, 10), AgentStatus::Offline);
    }

    #[test]
    fn host_matching() {
        let host = HostIdentity {
            id: "res-1".into(),
            hostname: "web-01.example".into(),
            ips: vec!["10.1.2.3".into(), "::1".into()],
        };
        let mk = |pairs: &[(&str, &str)]| {
            let mut l = BTreeMap::new();
            l.insert("alertname".to_string(), "A".to_string());
            for (k, v) in pairs {
                l.insert(k.to_string(), v.to_string());
            }
            from_labels(
                l,
                BTreeMap::new(),
                crate::alarm::AlarmStatus::Alarm,
                0,
                None,
                "p",
            )
            .unwrap()
        };
        assert!(alarm_targets_host(
            &mk(&[("instance", "web-01:9100")]),
            &host
        ));
        assert!(alarm_targets_host(
            &mk(&[("instance", "10.1.2.3:9100")]),
            &host
        ));
        assert!(alarm_targets_host(
            &mk(&[("instance", "[::1]:9100")]),
            &host
        ));
        assert!(alarm_targets_host(&mk(&[("resource_id", "res-1")]), &host));
        assert!(!alarm_targets_host(
            &mk(&[("instance", "web-02:9100")]),
            &host
        ));
        assert!(!alarm_targets_host(&mk(&[]), &host));
    }
}
