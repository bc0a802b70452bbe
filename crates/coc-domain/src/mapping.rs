//! Field mapping of a generic integration (M1, ref. 7.4.2): where each
//! alarm field is in a sender's own JSON, as JSON pointers (RFC 6901), so
//! any JSON webhook is taken in without code.
//!
//! A mapping names the list of alarms in the body (`items`, a pointer; empty:
//! the body is one alarm or a list of them), and for each alarm field of
//! ref. 7.4.2 the pointer inside one item (`alarmName` required). Levels and
//! statuses the sender spells its own way are translated by `levels`
//! (`P1` → `critical`) and `statuses` (`alerting` → `alarm`), compared
//! without case; unlisted values must be COC's own. A `time` given as a
//! number below 10^11 is taken as Unix seconds, above as Unix ms; text as
//! RFC 3339. The item's other top-level values (text, numbers, booleans)
//! are kept as the alarm's extra fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::alarm::{AlarmLevel, AlarmStatus, MAX_FIELDS, NormalizedAlarm};
use crate::error::{DomainError, invalid};

/// Fields a mapping may point at: the ref. 7.4.2 names, plus `labels` and
/// `annotations` (objects).
pub const FIELDS: &[&str] = &[
    "alarmName",
    "alarmId",
    "alarmLevel",
    "alarmStatus",
    "time",
    "resourceId",
    "resourceName",
    "alarmDesc",
    "region",
    "application",
    "namespace",
    "URL",
    "labels",
    "annotations",
];

/// Longest pointer, in bytes.
pub const MAX_POINTER_LEN: usize = 256;
/// Most entries of `levels` or `statuses`.
pub const MAX_VALUES: usize = 64;
/// Longest sender value in `levels` or `statuses`, in bytes.
pub const MAX_VALUE_LEN: usize = 128;

/// A generic integration's field mapping (see the module).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldMapping {
    /// Pointer to the list (or single object) of alarms in a body, e.g.
    /// `/alerts`; empty or absent: the body itself.
    #[serde(default)]
    pub items: String,
    /// Alarm field (one of [`FIELDS`]) → pointer inside one item, e.g.
    /// `alarmName` → `/title`. `alarmName` is required.
    pub fields: BTreeMap<String, String>,
    /// The sender's level values → `critical`, `major`, `minor` or
    /// `suggestion` (case-insensitive on the sender's side).
    #[serde(default)]
    pub levels: BTreeMap<String, String>,
    /// The sender's status values → `alarm` or `ok`.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
}

fn pointer_ok(what: &str, p: &str) -> Result<(), DomainError> {
    if p.len() > MAX_POINTER_LEN {
        return Err(invalid(format!(
            "{what}: a pointer has at most {MAX_POINTER_LEN} bytes"
        )));
    }
    if !p.is_empty() && !p.starts_with('/') {
        return Err(invalid(format!(
            "{what}: '{p}' is not a JSON pointer (it starts with '/', e.g. /alert/title)"
        )));
    }
    Ok(())
}

fn values_ok<T>(
    what: &str,
    m: &BTreeMap<String, String>,
    parse: impl Fn(&str) -> Result<T, DomainError>,
) -> Result<(), DomainError> {
    if m.len() > MAX_VALUES {
        return Err(invalid(format!("{what}: at most {MAX_VALUES} values")));
    }
    for (from, to) in m {
        if from.trim().is_empty() || from.len() > MAX_VALUE_LEN {
            return Err(invalid(format!(
                "{what}: a sender's value has 1 to {MAX_VALUE_LEN} bytes"
            )));
        }
        parse(to).map_err(|e| invalid(format!("{what}: '{from}': {e}")))?;
    }
    Ok(())
}

impl FieldMapping {
    /// Checks the mapping: known fields, pointers, `alarmName` present,
    /// translations to COC's levels and statuses.
    ///
    /// Errors: [`DomainError::Validation`] naming the offending entry.
    pub fn validate(&self) -> Result<(), DomainError> {
        pointer_ok("items", &self.items)?;
        for (field, p) in &self.fields {
            if !FIELDS.contains(&field.as_str()) {
                return Err(invalid(format!(
                    "fields: unknown field '{field}'; one of {}",
                    FIELDS.join(", ")
                )));
            }
            if p.is_empty() {
                return Err(invalid(format!("fields: '{field}' needs a pointer")));
            }
            pointer_ok(&format!("fields: '{field}'"), p)?;
        }
        if !self.fields.contains_key("alarmName") {
            return Err(invalid(
                "fields: 'alarmName' is required (where the alarm's name is, e.g. /title)",
            ));
        }
        values_ok("levels", &self.levels, AlarmLevel::parse)?;
        values_ok("statuses", &self.statuses, AlarmStatus::parse)?;
        Ok(())
    }

    /// Translates one body into alarms through the mapping (each item then
    /// read as a generic alarm, by [`crate::alarm::parse_generic`]'s rules
    /// and limits).
    ///
    /// Errors: [`DomainError::Validation`]: not JSON, no list at `items`,
    /// an item without a name, a level or status neither COC's nor in the
    /// translations, a `labels` pointer that is not an object; the
    /// offending item is named by index.
    pub fn apply(
        &self,
        body: &[u8],
        now_ms: i64,
        source: &str,
    ) -> Result<Vec<NormalizedAlarm>, DomainError> {
        let v = crate::alarm::json_body(body)?;
        let at = if self.items.is_empty() {
            Some(&v)
        } else {
            v.pointer(&self.items)
        };
        let items: Vec<&Value> = match at {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => {
                return Err(invalid(format!(
                    "no alarm list or object at '{}' in the body",
                    self.items
                )));
            }
        };
        let mapped: Vec<Value> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                self.item(item)
                    .map_err(|e| invalid(format!("alarm [{i}]: {e}")))
            })
            .collect::<Result<_, _>>()?;
        crate::alarm::generic_items(mapped, now_ms, source)
    }

    /// One item as a generic alarm object.
    fn item(&self, item: &Value) -> Result<Value, DomainError> {
        let Value::Object(src) = item else {
            return Err(invalid("each alarm must be a JSON object"));
        };
        let mut out = Map::new();
        let mut extra = Map::new();
        for (k, v) in src {
            if extra.len() >= MAX_FIELDS / 2 {
                break;
            }
            if matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                extra.insert(k.clone(), v.clone());
            }
        }
        out.insert("additional".into(), Value::Object(extra));
        for (field, p) in &self.fields {
            let Some(v) = item.pointer(p).filter(|v| !v.is_null()) else {
                continue;
            };
            let v = match field.as_str() {
                "labels" | "annotations" => {
                    if !v.is_object() {
                        return Err(invalid(format!("'{field}' at {p} is not an object")));
                    }
                    v.clone()
                }
                "alarmLevel" => Value::String(translate(v, &self.levels)),
                "alarmStatus" => Value::String(translate(v, &self.statuses)),
                "time" => match v {
                    Value::Number(n) => {
                        let t = n.as_f64().unwrap_or(0.0);
                        let ms = if t.abs() < 1e11 { t * 1000.0 } else { t };
                        Value::from(ms as i64)
                    }
                    other => other.clone(),
                },
                _ => match v {
                    Value::String(_) | Value::Number(_) => v.clone(),
                    Value::Bool(b) => Value::String(b.to_string()),
                    _ => {
                        return Err(invalid(format!("'{field}' at {p} is not text or a number")));
                    }
                },
            };
            out.insert(field.clone(), v);
        }
        Ok(Value::Object(out))
    }
}

/// The sender's value through a translation table (case-insensitive),
/// or as it is.
fn translate(v: &Value, table: &BTreeMap<String, String>) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    table
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(&s))
        .map(|(_, to)| to.clone())
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> FieldMapping {
        let mut fields = BTreeMap::new();
        for (k, v) in [
            ("alarmName", "/title"),
            ("alarmLevel", "/priority"),
            ("alarmStatus", "/state"),
            ("resourceName", "/host/name"),
            ("time", "/ts"),
            ("labels", "/tags"),
        ] {
            fields.insert(k.to_string(), v.to_string());
        }
        FieldMapping {
            items: "/events".into(),
            fields,
            levels: [("P1".to_string(), "critical".to_string())].into(),
            statuses: [("alerting".to_string(), "alarm".to_string())].into(),
        }
    }

    #[test]
    fn a_webhook_of_its_own_shape_becomes_alarms() {
        let m = mapping();
        m.validate().unwrap();
        let body = br#"{"events": [
            {"title": "Disk full", "priority": "p1", "state": "Alerting", "host": {"name": "db-01"},
             "ts": 1700000000, "tags": {"team": "dba", "disk": "/var"}, "id": 7, "nested": {"x": 1}},
            {"title": "Disk full", "priority": "minor", "state": "resolved", "host": {"name": "db-02"},
             "ts": "2026-11-29T10:00:00Z", "tags": {"team": "dba", "disk": "/"}}
        ]}"#;
        let out = m.apply(body, 5, "webhook").unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].alarm_name, "Disk full");
        assert_eq!(out[0].alarm_level, AlarmLevel::Critical);
        assert_eq!(out[0].alarm_status, AlarmStatus::Alarm);
        assert_eq!(out[0].resource_name.as_deref(), Some("db-01"));
        assert_eq!(out[0].time, 1_700_000_000_000, "seconds become ms");
        assert_eq!(out[0].labels["team"], "dba");
        assert_eq!(out[0].additional["id"], "7");
        assert!(!out[0].additional.contains_key("nested"));
        assert_eq!(out[1].alarm_status, AlarmStatus::Ok);
        assert_eq!(out[1].alarm_level, AlarmLevel::Minor);
        assert_eq!(out[1].time, 1_795_946_400_000);
        assert_ne!(out[0].fingerprint(), out[1].fingerprint());
    }

    #[test]
    fn bad_mappings_and_bodies_are_refused_with_the_reason() {
        let mut m = mapping();
        m.fields.remove("alarmName");
        assert!(m.validate().unwrap_err().to_string().contains("alarmName"));
        let mut m = mapping();
        m.fields.insert("title".into(), "/x".into());
        assert!(
            m.validate()
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        let mut m = mapping();
        m.fields.insert("region".into(), "region".into());
        assert!(
            m.validate()
                .unwrap_err()
                .to_string()
                .contains("JSON pointer")
        );
        let mut m = mapping();
        m.levels.insert("P2".into(), "urgent".into());
        assert!(m.validate().unwrap_err().to_string().contains("P2"));
        let m = mapping();
        let e = m.apply(br#"{"alerts": []}"#, 0, "w").unwrap_err();
        assert!(e.to_string().contains("/events"), "{e}");
        let e = m
            .apply(br#"{"events": [{"priority": "P1"}]}"#, 0, "w")
            .unwrap_err();
        assert!(e.to_string().contains("alarm [0]"), "{e}");
        let e = m
            .apply(br#"{"events": [{"title": "x", "priority": "P9"}]}"#, 0, "w")
            .unwrap_err();
        assert!(e.to_string().contains("P9"), "{e}");
    }
}
