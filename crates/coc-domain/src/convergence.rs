//! Alarm convergence (M3, the landscape's "alarm convergence"): a
//! forwarding rule folds related alarms into one incident, and an alarm
//! storm into one summarized incident, so people get one notification for
//! what is one problem.
//!
//! - **Grouping** ([`Convergence`]): alarms the rule matches that share the
//!   values of `by` (`resource`, `application`, `region`, `name`, `source`
//!   or a label `label:<name>`) belong to one group. An alarm joins its
//!   group's open incident while the group's last alarm came at most
//!   `window_minutes` ago; later, the group starts a new incident. Without
//!   grouping a rule keeps one incident per alarm (per fingerprint).
//! - **Storm** ([`Storm`]): when a rule created `alarms_per_minute`
//!   incidents within the last minute, its next alarms fold into one storm
//!   incident whose description lists the top alarm names and resources of
//!   that minute; the storm goes on while alarms keep coming (at most a
//!   minute apart) and the storm incident is open.
//!
//! Everything here is a function of the alarms and the times given: the
//! outcome does not depend on the order alarms arrive in within a window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alarm::NormalizedAlarm;
use crate::error::{DomainError, invalid};

/// The alarm fields a group can be keyed by; a label is `label:<name>`.
pub const FIELDS: &[&str] = &["resource", "application", "region", "name", "source"];
/// Most keys of one grouping.
pub const MAX_BY: usize = 8;
/// Longest window, minutes (a day).
pub const MAX_WINDOW_MINUTES: u32 = 1440;
/// How far back a storm looks, ms (a minute).
pub const STORM_SPAN_MS: i64 = 60_000;
/// Names and resources a storm summary lists.
pub const STORM_TOP: usize = 5;

/// How a forwarding rule groups related alarms (see the module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Convergence {
    /// What makes alarms related: any of `resource`, `application`,
    /// `region`, `name`, `source`, or `label:<name>`; all must be equal.
    pub by: Vec<String>,
    /// Minutes an alarm may come after its group's last one and still
    /// join the group's incident (1 to 1440; default 10).
    #[serde(default = "default_window")]
    pub window_minutes: u32,
}

fn default_window() -> u32 {
    10
}

/// When a forwarding rule's alarms count as a storm (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Storm {
    /// Incidents the rule may create within a minute before its next
    /// alarms fold into one storm incident (2 to 10,000).
    pub alarms_per_minute: u32,
}

impl Convergence {
    /// Checks the keys and the window.
    ///
    /// Errors: [`DomainError::Validation`] naming the bad entry.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.by.is_empty() || self.by.len() > MAX_BY {
            return Err(invalid(format!(
                "converge.by takes 1 to {MAX_BY} of {}, or label:<name>",
                FIELDS.join(", ")
            )));
        }
        for k in &self.by {
            let ok = FIELDS.contains(&k.as_str())
                || k.strip_prefix("label:")
                    .is_some_and(|l| !l.trim().is_empty() && l.len() <= 256);
            if !ok {
                return Err(invalid(format!(
                    "converge.by: unknown key '{k}'; one of {}, or label:<name>",
                    FIELDS.join(", ")
                )));
            }
        }
        if !(1..=MAX_WINDOW_MINUTES).contains(&self.window_minutes) {
            return Err(invalid(format!(
                "converge.window_minutes must be 1 to {MAX_WINDOW_MINUTES}"
            )));
        }
        Ok(())
    }

    /// The values of `by` for `alarm`, in `by`'s order (missing: empty).
    pub fn values(&self, alarm: &NormalizedAlarm) -> Vec<String> {
        self.by
            .iter()
            .map(|k| {
                let v = match k.as_str() {
                    "resource" => alarm
                        .resource_name
                        .clone()
                        .or_else(|| alarm.resource_id.clone()),
                    "application" => alarm.application.clone(),
                    "region" => alarm.region.clone(),
                    "name" => Some(alarm.alarm_name.clone()),
                    "source" => Some(alarm.alarm_source.clone()),
                    other => other
                        .strip_prefix("label:")
                        .and_then(|l| alarm.labels.get(l).cloned()),
                };
                v.unwrap_or_default()
            })
            .collect()
    }

    /// Whether an alarm at `now` joins a group whose last alarm came at
    /// `last_alarm_at` (Unix ms).
    pub fn joins(&self, last_alarm_at: i64, now: i64) -> bool {
        now - last_alarm_at <= i64::from(self.window_minutes) * 60_000
    }

    /// A readable name of `alarm`'s group (`resource=web-01, region=eu`).
    pub fn describe(&self, alarm: &NormalizedAlarm) -> String {
        self.by
            .iter()
            .zip(self.values(alarm))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Storm {
    /// Checks the threshold.
    ///
    /// Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(2..=10_000).contains(&self.alarms_per_minute) {
            return Err(invalid("storm.alarms_per_minute must be 2 to 10000"));
        }
        Ok(())
    }

    /// Whether a rule that created `created_last_minute` incidents in the
    /// last minute is in a storm.
    pub fn is_storm(&self, created_last_minute: u64) -> bool {
        created_last_minute >= u64::from(self.alarms_per_minute)
    }

    /// Whether an alarm at `now` continues a storm whose last alarm came
    /// at `last_alarm_at`.
    pub fn continues(&self, last_alarm_at: i64, now: i64) -> bool {
        now - last_alarm_at <= STORM_SPAN_MS
    }
}

/// The dedup key of the incident rule `rule_id` keeps open for `alarm`
/// (fingerprint `fingerprint`): per group when the rule converges, else
/// per alarm.
pub fn incident_key(
    rule_id: &str,
    converge: Option<&Convergence>,
    fingerprint: &str,
    alarm: &NormalizedAlarm,
) -> String {
    match converge {
        None => alarm_key(rule_id, fingerprint),
        Some(c) => {
            let mut h = Sha256::new();
            for (k, v) in c.by.iter().zip(c.values(alarm)) {
                h.update(k.as_bytes());
                h.update([0xff]);
                h.update(v.as_bytes());
                h.update([0xfe]);
            }
            format!("{rule_id}:group:{}", hex::encode(&h.finalize()[..8]))
        }
    }
}

/// The dedup key of the incident rule `rule_id` keeps open for one alarm
/// (fingerprint `fingerprint`): `<rule id>:<fingerprint>`.
pub fn alarm_key(rule_id: &str, fingerprint: &str) -> String {
    format!("{rule_id}:{fingerprint}")
}

/// The dedup key of rule `rule_id`'s storm incident.
pub fn storm_key(rule_id: &str) -> String {
    format!("{rule_id}:storm")
}

/// `(value, count)` of the most frequent values, most first, ties by
/// value: the same whatever the order of `values`.
pub fn top(values: impl IntoIterator<Item = String>, n: usize) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// The title and description of a storm incident for `alarms` (name,
/// resource) of the last minute under rule `rule_name`.
pub fn storm_summary(rule_name: &str, alarms: &[(String, Option<String>)]) -> (String, String) {
    let names = top(alarms.iter().map(|a| a.0.clone()), STORM_TOP);
    let resources = top(
        alarms
            .iter()
            .map(|a| a.1.clone().unwrap_or_else(|| "unknown resource".into())),
        STORM_TOP,
    );
    let list = |v: &[(String, usize)]| {
        v.iter()
            .map(|(s, n)| format!("{s} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    (
        format!(
            "Alarm storm: {} alarms within a minute under rule '{rule_name}'",
            alarms.len()
        ),
        format!(
            "Top alarm names: {}.\nTop resources: {}.\nFurther alarms of this storm join this incident instead of opening their own.",
            list(&names),
            list(&resources)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::{AlarmStatus, from_labels};
    use proptest::prelude::*;

    fn alarm(name: &str, instance: &str, team: &str) -> NormalizedAlarm {
        let labels = [("alertname", name), ("instance", instance), ("team", team)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_labels(labels, Default::default(), AlarmStatus::Alarm, 0, None, "p").unwrap()
    }

    fn by(keys: &[&str]) -> Convergence {
        Convergence {
            by: keys.iter().map(|k| k.to_string()).collect(),
            window_minutes: 10,
        }
    }

    #[test]
    fn related_alarms_share_a_key_and_others_do_not() {
        let c = by(&["resource", "label:team"]);
        c.validate().unwrap();
        let a = alarm("HighCPU", "web-01:9100", "shop");
        let b = alarm("DiskFull", "web-01:9100", "shop");
        let other = alarm("HighCPU", "web-02:9100", "shop");
        let k = |x: &NormalizedAlarm| incident_key("r1", Some(&c), &x.fingerprint(), x);
        assert_eq!(k(&a), k(&b));
        assert_ne!(k(&a), k(&other));
        assert_ne!(k(&a), incident_key("r2", Some(&c), &a.fingerprint(), &a));
        assert_eq!(
            incident_key("r1", None, &a.fingerprint(), &a),
            alarm_key("r1", &a.fingerprint())
        );
        assert_eq!(c.describe(&a), "resource=web-01:9100, label:team=shop");
        assert!(c.joins(0, 600_000));
        assert!(!c.joins(0, 600_001));
    }

    #[test]
    fn bad_groupings_and_storms_are_refused() {
        assert!(by(&[]).validate().is_err());
        assert!(
            by(&["host"])
                .validate()
                .unwrap_err()
                .to_string()
                .contains("'host'")
        );
        assert!(by(&["label:"]).validate().is_err());
        let mut c = by(&["resource"]);
        c.window_minutes = 0;
        assert!(c.validate().is_err());
        assert!(
            Storm {
                alarms_per_minute: 1
            }
            .validate()
            .is_err()
        );
        let s = Storm {
            alarms_per_minute: 3,
        };
        assert!(!s.is_storm(2) && s.is_storm(3));
        assert!(s.continues(0, 60_000) && !s.continues(0, 60_001));
    }

    #[test]
    fn a_storm_summary_lists_the_top_names_and_resources() {
        let alarms: Vec<(String, Option<String>)> = [
            ("DiskFull", Some("db-1")),
            ("DiskFull", Some("db-2")),
            ("HighCPU", Some("db-1")),
            ("DiskFull", None),
        ]
        .iter()
        .map(|(n, r)| (n.to_string(), r.map(str::to_string)))
        .collect();
        let (title, text) = storm_summary("disks", &alarms);
        assert_eq!(
            title,
            "Alarm storm: 4 alarms within a minute under rule 'disks'"
        );
        assert!(
            text.contains("Top alarm names: DiskFull (3), HighCPU (1)."),
            "{text}"
        );
        assert!(
            text.contains("Top resources: db-1 (2), db-2 (1), unknown resource (1)."),
            "{text}"
        );
    }

    fn arb_alarm() -> impl Strategy<Value = NormalizedAlarm> {
        (
            prop::sample::select(vec!["A", "B", "C"]),
            prop::sample::select(vec!["h1", "h2", "h3", "h4"]),
            prop::sample::select(vec!["x", "y"]),
        )
            .prop_map(|(n, i, t)| alarm(n, i, t))
    }

    proptest! {
        /// Within a window, the groups alarms fall into (which alarms share
        /// an incident) do not depend on the order they arrive in.
        #[test]
        fn grouping_does_not_depend_on_arrival_order(
            alarms in prop::collection::vec(arb_alarm(), 1..30),
            seed in any::<u64>(),
        ) {
            let c = by(&["resource", "label:team"]);
            let groups = |order: &[usize]| {
                // Arrivals a second apart, all within the window: each
                // alarm joins the open incident of its key or opens one.
                let mut open: BTreeMap<String, (usize, i64)> = BTreeMap::new();
                let mut member = vec![0usize; alarms.len()];
                for (t, &i) in order.iter().enumerate() {
                    let now = t as i64 * 1000;
                    let a = &alarms[i];
                    let k = incident_key("r", Some(&c), &a.fingerprint(), a);
                    let g = match open.get(&k) {
                        Some(&(g, last)) if c.joins(last, now) => g,
                        _ => open.len(),
                    };
                    open.insert(k, (g, now));
                    member[i] = g;
                }
                // The partition, as sets of alarm indexes.
                let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
                for (i, g) in member.iter().enumerate() {
                    parts.entry(*g).or_default().push(i);
                }
                let mut v: Vec<Vec<usize>> = parts.into_values().collect();
                v.sort();
                v
            };
            let forward: Vec<usize> = (0..alarms.len()).collect();
            let mut shuffled = forward.clone();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(groups(&forward), groups(&shuffled));
        }

        /// A storm summary is the same whatever the order of its alarms.
        #[test]
        fn a_storm_summary_does_not_depend_on_arrival_order(
            alarms in prop::collection::vec(
                (prop::sample::select(vec!["A", "B", "C", "D"]), prop::option::of(prop::sample::select(vec!["h1", "h2"]))),
                1..40,
            ),
        ) {
            let list: Vec<(String, Option<String>)> = alarms
                .iter()
                .map(|(n, r)| (n.to_string(), r.map(str::to_string)))
                .collect();
            let mut rev = list.clone();
            rev.reverse();
            prop_assert_eq!(storm_summary("r", &list), storm_summary("r", &rev));
        }
    }
}
