//! Replay before enabling (B3): what a forwarding rule or a silence would
//! have done to the alarms stored in the last days, and a notification
//! rule to the incident changes of those days, before it is saved.
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

/// One incident change a notification-rule replay looks at.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// When it happened, Unix ms.
    pub at: i64,
    /// The template it notifies with.
    pub template: crate::notify::Template,
    /// The incident (as it is now).
    pub facts: crate::notify::IncidentFacts,
}

/// A message batch a replayed notification rule would have sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WouldNotify {
    /// When, Unix ms.
    pub at: i64,
    /// The incident's number.
    pub incident: String,
    /// The change (`incident_created`, …).
    pub event: String,
    /// Who would have been told.
    pub people: Vec<String>,
}

/// How many messages one person would have had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonCount {
    /// User name.
    pub person: String,
    /// Messages (one per channel per change).
    pub messages: usize,
}

/// What a notification rule would have done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NotificationReplay {
    /// Incident changes looked at.
    pub events: usize,
    /// Changes the rule matches.
    pub matched: usize,
    /// Messages it would have sent (people × channels, per change).
    pub messages: usize,
    /// Who, most messages first.
    pub people: Vec<PersonCount>,
    /// The latest of them (at most [`SAMPLE`]), newest first.
    pub sample: Vec<WouldNotify>,
}

/// The indexes of the `events` notification rule `rule` matches.
pub fn notification_matches(
    rule: &crate::notify::NotificationRule,
    events: &[StoredEvent],
) -> Vec<usize> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| rule.matches(e.template, &e.facts))
        .map(|(i, _)| i)
        .collect()
}

/// What `rule` would have sent for the matched `events` (newest first),
/// given the people its recipients named at each (`people`: event index
/// → people, in order).
pub fn notification(
    rule: &crate::notify::NotificationRule,
    events: &[StoredEvent],
    people: &[(usize, Vec<String>)],
) -> NotificationReplay {
    let channels = rule.channels.len();
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    let mut messages = 0;
    for (_, ps) in people {
        for p in ps {
            *per.entry(p.as_str()).or_default() += channels;
            messages += channels;
        }
    }
    let mut by_person: Vec<PersonCount> = per
        .into_iter()
        .map(|(p, n)| PersonCount {
            person: p.to_string(),
            messages: n,
        })
        .collect();
    by_person.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.person.cmp(&b.person)));
    let mut sample: Vec<WouldNotify> = people
        .iter()
        .filter_map(|(i, ps)| {
            let e = events.get(*i)?;
            Some(WouldNotify {
                at: e.at,
                incident: e.facts.number.clone(),
                event: e.template.as_str().to_string(),
                people: ps.clone(),
            })
        })
        .collect();
    sample.sort_by_key(|w| std::cmp::Reverse(w.at));
    sample.truncate(SAMPLE);
    NotificationReplay {
        events: events.len(),
        matched: people.len(),
        messages,
        people: by_person,
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

    #[test]
    fn a_notification_rule_counts_the_changes_it_matches_and_who_it_tells() {
        use crate::notify::{IncidentFacts, NotificationRule, Template};
        let rule: NotificationRule = serde_json::from_value(serde_json::json!({
            "name": "p1", "templates": ["incident_created"], "levels": ["P1"],
            "recipients": [{"type": "owner"}], "channels": ["sms", "email"]}))
        .unwrap();
        let ev = |at: i64, t: Template, level: &str, n: &str| StoredEvent {
            at,
            template: t,
            facts: IncidentFacts {
                number: n.into(),
                level: level.into(),
                ..IncidentFacts::not_an_incident("ann")
            },
        };
        let events = vec![
            ev(3, Template::IncidentCreated, "P1", "INC3"),
            ev(2, Template::IncidentCreated, "P2", "INC2"),
            ev(1, Template::IncidentCompleted, "P1", "INC1"),
            ev(0, Template::IncidentCreated, "P1", "INC0"),
        ];
        let m = notification_matches(&rule, &events);
        assert_eq!(m, vec![0, 3]);
        let people = vec![
            (0, vec!["ann".into(), "bob".into()]),
            (3, vec!["ann".into()]),
        ];
        let r = notification(&rule, &events, &people);
        assert_eq!((r.events, r.matched, r.messages), (4, 2, 6));
        assert_eq!(
            r.people,
            vec![
                PersonCount {
                    person: "ann".into(),
                    messages: 4
                },
                PersonCount {
                    person: "bob".into(),
                    messages: 2
                }
            ]
        );
        let order: Vec<&str> = r.sample.iter().map(|w| w.incident.as_str()).collect();
        assert_eq!(order, vec!["INC3", "INC0"]);
    }
}
