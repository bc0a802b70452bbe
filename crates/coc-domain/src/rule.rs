//! Forwarding rules (I2, ref. 7.4.2): conditions on the normalized alarm
//! fields that decide which alarms become incidents, at which level, for
//! whom, and with which contingency script.

use serde::{Deserialize, Serialize};

use crate::alarm::NormalizedAlarm;
use crate::error::{DomainError, invalid};
use crate::incident::IncidentLevel;

/// Comparison operator of a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}
