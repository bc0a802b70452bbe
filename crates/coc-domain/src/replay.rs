//! Replay before enabling (B3): what a forwarding rule or a silence would
//! have done to the alarms stored in the last days, before it is saved.
//!
//! Each stored alarm is taken as it was last seen. A forwarding rule
//! counts the firing alarms it matches and the incidents it would have
//! opened — one per alarm, or one per group when it converges
//! ([`crate::convergence`]); its storm threshold and wait are not replayed
//! (they depend on timing the store does not keep). A silence counts the
//! alarms its matchers match — within its weekly hours when it is a
//! maintenance window — whatever its start and end (they describe the
//! future).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alarm::{AlarmStatus, NormalizedAlarm};
use crate::rule::RuleSpec;
use crate::silence::{Compiled, Weekly, alarm_labels};

/// Most days a replay looks back.
pub const MAX_DAYS: u32 = 30;
/// Examples a replay lists.
pub const SAMPLE: usize = 20;

/// One stored alarm as a replay sees it.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The alarm's id.
    pub id: String,
    /// The integration that last delivered it.
    pub integration_id: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// The alarm as last seen (its status then).
    pub alarm: NormalizedAlarm,
    /// When it was last seen, Unix ms.
    pub last_seen: i64,
}

/// An incident a replayed rule would have opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WouldOpen {
    /// Its title (`<alarm name> on <resource>` of its first alarm).
    pub title: String,
    /// How many of the stored alarms it would hold.
    pub alarms: usize,
}

/// What a forwarding rule would have done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleReplay {
    /// Stored alarms looked at.
    pub alarms: usize,
    /// Firing alarms the rule matches.
    pub matched: usize,
    /// Incidents it would have opened.
    pub incidents: usize,
    /// The largest of them (at most [`SAMPLE`]), most alarms first.
    pub sample: Vec<WouldOpen>,
}

/// An alarm a replayed silence would have muted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WouldMute {
    /// The alarm's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its resource.
    pub resource: Option<String>,
}

/// What a silence would have done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SilenceReplay {
    /// Stored alarms looked at.
    pub alarms: usize,
    /// Alarms it would have muted.
    pub silenced: usize,
    /// Some of them (at most [`SAMPLE`]), newest first.
    pub sample: Vec<WouldMute>,
}

/// Replays forwarding rule `spec` (id `rule_id`, or a placeholder for a
/// rule not saved yet) over `alarms`.
pub fn rule(spec: &RuleSpec, rule_id: &str, alarms: &[Stored]) -> RuleReplay {
    let mut groups: BTreeMap<String, WouldOpen> = BTreeMap::new();
    let mut matched = 0;
    for s in alarms {
        if s.alarm.alarm_status != AlarmStatus::Alarm || !spec.matches(&s.integration_id, &s.alarm)
        {
            continue;
        }
        matched += 1;
        let key = crate::convergence::incident_key(
            rule_id,
            spec.converge.as_ref(),
            &s.fingerprint,
            &s.alarm,
        );
        groups
            .entry(key)
            .or_insert_with(|| WouldOpen {
                title: format!(
                    "{} on {}",
                    s.alarm.alarm_name,
                    s.alarm
                        .resource_name
                        .as_deref()
                        .unwrap_or("unknown resource")
                ),
                alarms: 0,
            })
            .alarms += 1;
    }
    let incidents = groups.len();
    let mut sample: Vec<WouldOpen> = groups.into_values().collect();
    sample.sort_by(|a, b| b.alarms.cmp(&a.alarms).then_with(|| a.title.cmp(&b.title)));
    sample.truncate(SAMPLE);
    RuleReplay {
        alarms: alarms.len(),
        matched,
        incidents,
        sample,
    }
}

/// Replays a silence's compiled `matchers` (and its weekly hours, if any)
/// over `alarms` (newest first).
pub fn silence(matchers: &[Compiled], weekly: Option<&Weekly>, alarms: &[Stored]) -> SilenceReplay {
    let mut silenced = 0;
    let mut sample = vec![];
    for s in alarms {
        let labels = alarm_labels(&s.alarm);
        let open = weekly.is_none_or(|w| w.open_at(s.last_seen));
        if open && matchers.iter().all(|m| m.matches(&labels)) {
            silenced += 1;
            if sample.len() < SAMPLE {
                sample.push(WouldMute {
                    id: s.id.clone(),
                    name: s.alarm.alarm_name.clone(),
                    resource: s.alarm.resource_name.clone(),
                });
            }
        }
    }
    SilenceReplay {
        alarms: alarms.len(),
        silenced,
        sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::from_labels;
    use crate::silence::Matcher;

    fn stored(name: &str, instance: &str, status: AlarmStatus) -> Stored {
        let labels = [("alertname", name), ("instance", instance)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let a = from_labels(labels, Default::default(), status, 0, None, "p").unwrap();
        Stored {
            id: format!("{name}-{instance}"),
            integration_id: "int".into(),
            fingerprint: a.fingerprint(),
            alarm: a,
            last_seen: 0,
        }
    }

    fn spec(v: serde_json::Value) -> RuleSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_rule_counts_matches_and_the_incidents_it_would_open() {
        let alarms = vec![
            stored("DiskFull", "db-1:9100", AlarmStatus::Alarm),
            stored("DiskFull", "db-2:9100", AlarmStatus::Alarm),
            stored("HighCPU", "db-1:9100", AlarmStatus::Alarm),
            stored("DiskFull", "db-3:9100", AlarmStatus::Ok),
        ];
        let plain = spec(
            serde_json::json!({"name": "r", "incident_level": "P3", "assignee": "a",
            "conditions": [{"field": "alarmName", "op": "equals", "value": "DiskFull"}]}),
        );
        let r = rule(&plain, "new", &alarms);
        assert_eq!(
            (r.alarms, r.matched, r.incidents),
            (4, 2, 2),
            "the ok one does not count"
        );
        let grouped = spec(
            serde_json::json!({"name": "r", "incident_level": "P3", "assignee": "a",
            "converge": {"by": ["resource"]}}),
        );
        let r = rule(&grouped, "new", &alarms);
        assert_eq!((r.matched, r.incidents), (3, 2));
        assert_eq!(
            r.sample[0],
            WouldOpen {
                title: "DiskFull on db-1:9100".into(),
                alarms: 2
            }
        );
    }

    #[test]
    fn a_silence_counts_what_its_matchers_would_have_muted() {
        let alarms = vec![
            stored("DiskFull", "db-1:9100", AlarmStatus::Alarm),
            stored("DiskFull", "web-1:9100", AlarmStatus::Alarm),
            stored("HighCPU", "db-1:9100", AlarmStatus::Ok),
        ];
        let m: Vec<Compiled> = Matcher::parse_list(r#"{instance=~"db-.*"}"#)
            .unwrap()
            .iter()
            .map(|m| m.compile().unwrap())
            .collect();
        let r = silence(&m, None, &alarms);
        assert_eq!((r.alarms, r.silenced), (3, 2));
        assert_eq!(r.sample[1].name, "HighCPU");
    }
}
