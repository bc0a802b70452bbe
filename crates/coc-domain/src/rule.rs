//! Forwarding rules (I2, ref. 7.4.2): conditions on the normalized alarm
//! fields that decide which alarms become incidents, at which level, for
//! whom, and with which contingency script.

use serde::{Deserialize, Serialize};

use crate::alarm::{AlarmStatus, NormalizedAlarm};
use crate::error::{DomainError, invalid};
use crate::incident::IncidentLevel;

/// Comparison operator of a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Field equals the value exactly.
    Equals,
    /// Field is absent or differs from the value.
    NotEquals,
    /// Field contains the value as a substring.
    Contains,
    /// Field matches the regular expression (Rust `regex` syntax, unanchored).
    Regex,
    /// Field equals one of `values`.
    In,
}

/// One triggering condition: `field` `op` `value` (or `values` for `in`).
///
/// `field` is a ref. 7.4.2 name — `alarmId`, `alarmName`, `alarmLevel`,
/// `time`, `namespace`, `region`, `application`, `resourceName`,
/// `resourceId`, `alarmDesc`, `URL`, `alarmStatus`, `alarmSource` — or
/// `additional.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Field name.
    pub field: String,
    /// Operator.
    pub op: Operator,
    /// Operand for all operators but `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Operands for `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// The normalized field names a condition may name (besides `additional.*`).
pub const FIELDS: &[&str] = &[
    "alarmId",
    "alarmName",
    "alarmLevel",
    "time",
    "namespace",
    "region",
    "application",
    "resourceName",
    "resourceId",
    "alarmDesc",
    "URL",
    "alarmStatus",
    "alarmSource",
];

/// Most conditions in one rule.
pub const MAX_CONDITIONS: usize = 50;

impl Condition {
    /// Checks the field name, the operand shape, and compiles a regex.
    ///
    /// Errors: [`DomainError::Validation`] naming the problem.
    pub fn validate(&self) -> Result<(), DomainError> {
        let f = self.field.as_str();
        let known =
            FIELDS.contains(&f) || f.strip_prefix("additional.").is_some_and(|k| !k.is_empty());
        if !known {
            return Err(invalid(format!(
                "unknown condition field '{f}': use one of {} or additional.<key>",
                FIELDS.join(", ")
            )));
        }
        match self.op {
            Operator::In => {
                if self.values.as_ref().is_none_or(|v| v.is_empty()) {
                    return Err(invalid(format!(
                        "condition on '{f}': 'in' needs a non-empty 'values' list"
                    )));
                }
            }
            _ => {
                let Some(v) = &self.value else {
                    return Err(invalid(format!("condition on '{f}': 'value' is required")));
                };
                if self.op == Operator::Regex {
                    regex::RegexBuilder::new(v)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| invalid(format!("condition on '{f}': invalid regex: {e}")))?;
                }
            }
        }
        Ok(())
    }

    /// Whether `alarm` satisfies this condition. A regex that fails to
    /// compile matches nothing (rules are validated when saved).
    pub fn matches(&self, alarm: &NormalizedAlarm) -> bool {
        let actual = field_value(alarm, &self.field);
        match self.op {
            Operator::Equals => actual.as_deref() == self.value.as_deref(),
            Operator::NotEquals => actual.as_deref() != self.value.as_deref(),
            Operator::Contains => match (&actual, &self.value) {
                (Some(a), Some(v)) => a.contains(v.as_str()),
                _ => false,
            },
            Operator::Regex => match (&actual, &self.value) {
                (Some(a), Some(v)) => regex::Regex::new(v).is_ok_and(|re| re.is_match(a)),
                _ => false,
            },
            Operator::In => match (&actual, &self.values) {
                (Some(a), Some(vs)) => vs.iter().any(|v| v == a),
                _ => false,
            },
        }
    }
}

/// The value of a normalized field of `alarm` as text, `None` when absent.
/// `time` is Unix ms; `alarmLevel` and `alarmStatus` use their canonical
/// names.
pub fn field_value(alarm: &NormalizedAlarm, field: &str) -> Option<String> {
    if let Some(k) = field.strip_prefix("additional.") {
        return alarm.additional.get(k).cloned();
    }
    match field {
        "alarmId" => alarm.alarm_id.clone(),
        "alarmName" => Some(alarm.alarm_name.clone()),
        "alarmLevel" => Some(alarm.alarm_level.as_str().to_string()),
        "time" => Some(alarm.time.to_string()),
        "namespace" => alarm.namespace.clone(),
        "region" => alarm.region.clone(),
        "application" => alarm.application.clone(),
        "resourceName" => alarm.resource_name.clone(),
        "resourceId" => alarm.resource_id.clone(),
        "alarmDesc" => alarm.alarm_desc.clone(),
        "URL" => alarm.url.clone(),
        "alarmStatus" => Some(alarm.alarm_status.as_str().to_string()),
        "alarmSource" => Some(alarm.alarm_source.clone()),
        _ => None,
    }
}

/// The contingency script a rule runs on the alarm's host (I6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContingencyScript {
    /// Id of the script to run.
    pub script_id: String,
    /// Parameter values by name (strings; typed per the script's params).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// Timeout in seconds (default 300).
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Executing user on the host (default root).
    #[serde(default)]
    pub run_as: Option<String>,
}

/// The editable body of a forwarding rule, as posted to the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Rule name (1..=64 chars).
    pub name: String,
    /// Application the rule belongs to.
    #[serde(default)]
    pub application: Option<String>,
    /// Trigger type: `alarm` (the only one so far).
    #[serde(default = "default_trigger")]
    pub trigger_type: String,
    /// Integration id whose alarms the rule applies to; `None`: all sources.
    #[serde(default)]
    pub data_source: Option<String>,
    /// All conditions must hold (AND). Empty: every alarm matches.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Level of the incident created.
    pub incident_level: IncidentLevel,
    /// Owner of the incident created (also the fallback when the shift
    /// below has nobody on call).
    pub assignee: String,
    /// Assign to whoever is on call for this shift (for the alarm's
    /// application and region) when the incident is created.
    #[serde(default)]
    pub assignee_shift: Option<crate::oncall::ShiftRef>,
    /// Emergency plan (by name) offered in the incidents this rule creates.
    #[serde(default)]
    pub plan: Option<String>,
    /// Contingency script run automatically on the alarm's host.
    #[serde(default)]
    pub contingency_script: Option<ContingencyScript>,
    /// Related alarms fold into one incident per group
    /// ([`crate::convergence::Convergence`]); absent: one incident per
    /// alarm.
    #[serde(default)]
    pub converge: Option<crate::convergence::Convergence>,
    /// Past this many new incidents a minute, the rule's alarms fold into
    /// one summarized storm incident ([`crate::convergence::Storm`]).
    #[serde(default)]
    pub storm: Option<crate::convergence::Storm>,
    /// Minutes an alarm may stay firing and unhandled before the rule opens
    /// its incident (1 to 1440): an alarm that resolves, is cleared, handled
    /// or linked to an incident by then opens none ([`still_unhandled`]).
    /// Absent: the incident opens when the alarm arrives.
    #[serde(default)]
    pub after_minutes: Option<u32>,
}

impl crate::application::refs::AppRefs for RuleSpec {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.application.iter_mut().collect()
    }
}

/// Whether an alarm whose rule waits ([`RuleSpec::after_minutes`]) still
/// calls for the incident when the wait is over: still firing, and nobody
/// handled it or linked it to an incident meanwhile.
pub fn still_unhandled(status: AlarmStatus, handled: bool, linked: bool) -> bool {
    status == AlarmStatus::Alarm && !handled && !linked
}

fn default_trigger() -> String {
    "alarm".into()
}

impl RuleSpec {
    /// Validates name, trigger type, assignee and every condition.
    ///
    /// Errors: [`DomainError::Validation`] with the first problem found.
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("rule name must have 1 to 64 characters"));
        }
        if self.trigger_type != "alarm" {
            return Err(invalid(format!(
                "unknown trigger type '{}': only 'alarm' is supported",
                self.trigger_type
            )));
        }
        if self.assignee.trim().is_empty() {
            return Err(invalid("assignee is required"));
        }
        if self.conditions.len() > MAX_CONDITIONS {
            return Err(invalid(format!(
                "at most {MAX_CONDITIONS} conditions per rule"
            )));
        }
        for c in &self.conditions {
            c.validate()?;
        }
        if let Some(c) = &self.converge {
            c.validate()?;
        }
        if let Some(st) = &self.storm {
            st.validate()?;
        }
        if self.after_minutes.is_some_and(|m| !(1..=1440).contains(&m)) {
            return Err(invalid("after_minutes must be 1 to 1440"));
        }
        if let Some(cs) = &self.contingency_script {
            if cs.script_id.trim().is_empty() {
                return Err(invalid("contingency_script.script_id is required"));
            }
            if let Some(t) = cs.timeout_s {
                crate::script::validate_timeout(t)?;
            }
        }
        Ok(())
    }

    /// Whether an alarm from integration `integration_id` triggers this rule:
    /// the data source fits and every condition holds.
    pub fn matches(&self, integration_id: &str, alarm: &NormalizedAlarm) -> bool {
        if let Some(ds) = &self.data_source
            && ds != integration_id
        {
            return false;
        }
        self.conditions.iter().all(|c| c.matches(alarm))
    }
}

/// The incident a forwarding rule makes of an alarm (I2, I3; ref.
/// 7.4.2): what the store inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentDraft {
    /// `<alarm name> on <resource>`.
    pub title: String,
    /// The alarm's description, else its name.
    pub description: String,
    /// The rule's incident level.
    pub level: IncidentLevel,
    /// The person on call for the rule's shift role, else the rule's
    /// assignee.
    pub assignee: String,
    /// The rule's application, else the alarm's.
    pub application: Option<String>,
    /// The alarm's region.
    pub region: Option<String>,
    /// The emergency plan the rule offers.
    pub plan: Option<String>,
    /// `<rule id>:<fingerprint>`: one open incident per rule and alarm.
    pub dedup_key: String,
    /// The first line of the incident's history.
    pub note: String,
}

/// The dedup key of the incident rule `rule_id` keeps open for an alarm
/// with fingerprint `fingerprint`.
pub fn dedup_key(rule_id: &str, fingerprint: &str) -> String {
    crate::convergence::alarm_key(rule_id, fingerprint)
}

/// The incident rule `spec` (id `rule_id`, name `rule_name`) makes of
/// `alarm`; `on_call` is who is on call now for the rule's shift role, if
/// it names one (looked up by the caller).
pub fn incident_from(
    alarm: &NormalizedAlarm,
    fingerprint: &str,
    rule_id: &str,
    rule_name: &str,
    spec: &RuleSpec,
    on_call: Option<&str>,
) -> IncidentDraft {
    IncidentDraft {
        title: format!(
            "{} on {}",
            alarm.alarm_name,
            alarm.resource_name.as_deref().unwrap_or("unknown resource")
        ),
        description: alarm
            .alarm_desc
            .clone()
            .unwrap_or_else(|| alarm.alarm_name.clone()),
        level: spec.incident_level,
        assignee: on_call.map_or_else(|| spec.assignee.clone(), str::to_string),
        application: spec
            .application
            .clone()
            .or_else(|| alarm.application.clone()),
        region: alarm.region.clone(),
        plan: spec.plan.clone(),
        dedup_key: dedup_key(rule_id, fingerprint),
        note: format!(
            "created by forwarding rule '{rule_name}' from alarm '{}'{}",
            alarm.alarm_name,
            on_call
                .map(|p| format!(", assigned to {p} (on call)"))
                .unwrap_or_default()
        ),
    }
}

/// What automatic repair (I6) does for a new incident.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoRepair {
    /// No host matches the alarm's resource: nothing runs (the reason
    /// goes into the incident's history).
    Skip(String),
    /// Run the rule's contingency script on these hosts.
    Run {
        /// The script and its settings.
        script: ContingencyScript,
        /// Host resource ids.
        hosts: Vec<String>,
        /// Their names, for the history.
        hostnames: Vec<String>,
    },
}

/// Whether and where rule `spec`'s contingency script repairs what
/// `alarm` reports, among the tenant's `hosts`; `None` when the rule has
/// no contingency script.
pub fn auto_repair(
    spec: &RuleSpec,
    alarm: &NormalizedAlarm,
    hosts: &[crate::resource::HostIdentity],
) -> Option<AutoRepair> {
    let cs = spec.contingency_script.as_ref()?;
    let target: Vec<&crate::resource::HostIdentity> = hosts
        .iter()
        .filter(|h| crate::resource::alarm_targets_host(alarm, h))
        .collect();
    Some(if target.is_empty() {
        AutoRepair::Skip("automatic repair skipped: no host matches the alarm's resource".into())
    } else {
        AutoRepair::Run {
            script: cs.clone(),
            hosts: target.iter().map(|h| h.id.clone()).collect(),
            hostnames: target.iter().map(|h| h.hostname.clone()).collect(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::{AlarmLevel, AlarmStatus};
    use std::collections::BTreeMap;

    fn alarm() -> NormalizedAlarm {
        let mut additional = BTreeMap::new();
        additional.insert("team".to_string(), "ops".to_string());
        NormalizedAlarm {
            alarm_id: None,
            alarm_name: "HighCPU".into(),
            alarm_level: AlarmLevel::Critical,
            time: 1,
            namespace: None,
            region: Some("cn-north".into()),
            application: Some("shop".into()),
            resource_name: Some("web-01:9100".into()),
            resource_id: None,
            alarm_desc: Some("CPU above 90%".into()),
            url: None,
            alarm_status: AlarmStatus::Alarm,
            alarm_source: "Prometheus".into(),
            additional,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    fn c(field: &str, op: Operator, value: &str) -> Condition {
        Condition {
            field: field.into(),
            op,
            value: Some(value.into()),
            values: None,
        }
    }

    #[test]
    fn each_operator() {
        let a = alarm();
        assert!(c("alarmName", Operator::Equals, "HighCPU").matches(&a));
        assert!(!c("alarmName", Operator::Equals, "highcpu").matches(&a));
        assert!(c("alarmName", Operator::NotEquals, "Other").matches(&a));
        assert!(!c("alarmName", Operator::NotEquals, "HighCPU").matches(&a));
        assert!(
            c("namespace", Operator::NotEquals, "x").matches(&a),
            "absent differs"
        );
        assert!(c("alarmDesc", Operator::Contains, "90%").matches(&a));
        assert!(
            !c("namespace", Operator::Contains, "").matches(&a),
            "absent contains nothing"
        );
        assert!(c("resourceName", Operator::Regex, r"^web-\d+").matches(&a));
        assert!(!c("resourceName", Operator::Regex, r"^db-").matches(&a));
        assert!(c("additional.team", Operator::Equals, "ops").matches(&a));
        assert!(!c("additional.nope", Operator::Equals, "ops").matches(&a));
        assert!(c("alarmLevel", Operator::Equals, "Critical").matches(&a));
        assert!(c("alarmStatus", Operator::Equals, "alarm").matches(&a));
        let inn = Condition {
            field: "region".into(),
            op: Operator::In,
            value: None,
            values: Some(vec!["a".into(), "cn-north".into()]),
        };
        assert!(inn.matches(&a));
        let inn2 = Condition {
            values: Some(vec!["a".into()]),
            ..inn
        };
        assert!(!inn2.matches(&a));
    }

    #[test]
    fn validation() {
        assert!(c("bogus", Operator::Equals, "x").validate().is_err());
        assert!(c("additional.", Operator::Equals, "x").validate().is_err());
        assert!(c("additional.k", Operator::Equals, "x").validate().is_ok());
        assert!(c("alarmName", Operator::Regex, "(").validate().is_err());
        let no_values = Condition {
            field: "region".into(),
            op: Operator::In,
            value: None,
            values: Some(vec![]),
        };
        assert!(no_values.validate().is_err());
        let no_value = Condition {
            field: "region".into(),
            op: Operator::Equals,
            value: None,
            values: None,
        };
        assert!(no_value.validate().is_err());
    }

    #[test]
    fn rule_data_source_and_and() {
        let spec = RuleSpec {
            name: "r".into(),
            application: None,
            trigger_type: "alarm".into(),
            data_source: Some("int-1".into()),
            conditions: vec![
                c("alarmName", Operator::Equals, "HighCPU"),
                c("region", Operator::Equals, "cn-north"),
            ],
            incident_level: IncidentLevel::P2,
            assignee: "alice".into(),
            assignee_shift: None,
            plan: None,
            contingency_script: None,
            converge: None,
            storm: None,
            after_minutes: None,
        };
        spec.validate().unwrap();
        assert!(spec.matches("int-1", &alarm()));
        assert!(!spec.matches("int-2", &alarm()));
        let mut s2 = spec.clone();
        s2.conditions.push(c("region", Operator::Equals, "other"));
        assert!(!s2.matches("int-1", &alarm()));
        let mut s3 = spec;
        s3.name = " ".into();
        assert!(s3.validate().is_err());
    }

    fn spec() -> RuleSpec {
        serde_json::from_value(serde_json::json!({
            "name": "cpu", "conditions": [{"field": "alarmName", "op": "equals", "value": "HighCPU"}],
            "incident_level": "P2", "assignee": "ann", "plan": "restart-web",
            "contingency_script": {"script_id": "s-1", "params": {"N": "1"}}}))
        .unwrap()
    }

    #[test]
    fn an_incident_from_an_alarm_names_its_resource_owner_and_key() {
        let a = alarm();
        let d = incident_from(&a, "fp1", "r-1", "cpu", &spec(), None);
        assert_eq!(d.title, "HighCPU on web-01:9100");
        assert_eq!(d.description, "CPU above 90%");
        assert_eq!(d.assignee, "ann");
        assert_eq!(d.application.as_deref(), Some("shop"), "the alarm's");
        assert_eq!(d.dedup_key, "r-1:fp1");
        assert_eq!(d.plan.as_deref(), Some("restart-web"));
        assert_eq!(
            d.note,
            "created by forwarding rule 'cpu' from alarm 'HighCPU'"
        );
        // On call wins over the assignee; the rule's application over the alarm's.
        let mut sp = spec();
        sp.application = Some("billing".into());
        let d = incident_from(&a, "fp1", "r-1", "cpu", &sp, Some("bob"));
        assert_eq!(d.assignee, "bob");
        assert!(d.note.ends_with(", assigned to bob (on call)"));
        assert_eq!(d.application.as_deref(), Some("billing"));
        // No resource, no description.
        let mut bare = alarm();
        bare.resource_name = None;
        bare.alarm_desc = None;
        let d = incident_from(&bare, "fp2", "r-1", "cpu", &spec(), None);
        assert_eq!(d.title, "HighCPU on unknown resource");
        assert_eq!(d.description, "HighCPU");
    }

    #[test]
    fn automatic_repair_runs_on_the_alarm_host_or_says_why_not() {
        let a = alarm();
        let h = |id: &str, name: &str, ip: &str| crate::resource::HostIdentity {
            id: id.into(),
            hostname: name.into(),
            ips: vec![ip.into()],
        };
        let hosts = [h("h1", "web-01", "10.0.0.1"), h("h2", "db-01", "10.0.0.2")];
        match auto_repair(&spec(), &a, &hosts) {
            Some(AutoRepair::Run {
                script,
                hosts,
                hostnames,
            }) => {
                assert_eq!(script.script_id, "s-1");
                assert_eq!(
                    (hosts, hostnames),
                    (vec!["h1".to_string()], vec!["web-01".to_string()])
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            auto_repair(&spec(), &a, &hosts[1..]),
            Some(AutoRepair::Skip(why)) if why.contains("no host matches")
        ));
        let mut none = spec();
        none.contingency_script = None;
        assert_eq!(auto_repair(&none, &a, &hosts), None);
    }
}
