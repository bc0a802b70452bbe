//! The PagerDuty Events API v2 as an ingest format (M1): a client that
//! only changes its base URL to `<coc>/ingest/pagerduty` and sends a COC
//! integration key as `routing_key` works unchanged
//! (<https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>).
//!
//! An event's identity is its `dedup_key`: the alarm's only label, so a
//! second `trigger` with the same key is a repeat of the same alarm, and
//! `resolve` turns it `ok`. A `trigger` without a key gets the fresh one
//! the caller passes in (PagerDuty makes a new alert for each).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::alarm::{
    AlarmLevel, AlarmStatus, MAX_ANNOTATIONS, MAX_FIELDS, MAX_LABELS, MAX_VALUE_LEN,
    NormalizedAlarm, check_alarm_size, fingerprint_labels,
};
use crate::error::{DomainError, invalid};

/// Longest `payload.summary`, characters (PagerDuty truncates at 1024).
pub const MAX_SUMMARY: usize = 1024;
/// Longest `dedup_key`, characters (PagerDuty's limit).
pub const MAX_DEDUP_KEY: usize = 255;

/// `event_action` of an Events API v2 event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventAction {
    /// Raise (or repeat) the alert.
    Trigger,
    /// Someone is on it.
    Acknowledge,
    /// It is over.
    Resolve,
}

impl EventAction {
    /// The action's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Trigger => "trigger",
            EventAction::Acknowledge => "acknowledge",
            EventAction::Resolve => "resolve",
        }
    }

    /// Parses `trigger`, `acknowledge` or `resolve`.
    ///
    /// Errors: [`DomainError::Validation`] for anything else.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "trigger" => Ok(EventAction::Trigger),
            "acknowledge" => Ok(EventAction::Acknowledge),
            "resolve" => Ok(EventAction::Resolve),
            _ => Err(invalid(
                "'event_action' must be trigger, acknowledge or resolve",
            )),
        }
    }
}

/// One parsed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The integration key (`routing_key`).
    pub routing_key: String,
    /// What to do.
    pub action: EventAction,
    /// The alert's key (given, or the fresh one for a `trigger` without).
    pub dedup_key: String,
    /// The alarm a `trigger` raises; `None` for `acknowledge` and `resolve`
    /// (they name an alarm already stored, by [`Event::fingerprint`]).
    pub alarm: Option<NormalizedAlarm>,
}

impl Event {
    /// The fingerprint of the alarm the event is about.
    pub fn fingerprint(&self) -> String {
        fingerprint_labels(&labels(&self.dedup_key))
    }
}

fn labels(dedup_key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("dedup_key".to_string(), dedup_key.to_string())])
}

/// The level of a PagerDuty severity (`critical`, `error`, `warning`,
/// `info`).
///
/// Errors: [`DomainError::Validation`] for any other word.
pub fn level(severity: &str) -> Result<AlarmLevel, DomainError> {
    match severity {
        "critical" => Ok(AlarmLevel::Critical),
        "error" => Ok(AlarmLevel::Major),
        "warning" => Ok(AlarmLevel::Minor),
        "info" => Ok(AlarmLevel::Suggestion),
        o => Err(invalid(format!(
            "payload.severity '{o}' must be critical, error, warning or info"
        ))),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        o => o.to_string(),
    }
}

fn field<'a>(
    m: &'a serde_json::Map<String, Value>,
    k: &str,
) -> Result<Option<&'a str>, DomainError> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("'{k}' must be a string"))),
    }
}

/// Parses one `POST /v2/enqueue` body at `now_ms`; `fresh_key` is the
/// dedup key of a `trigger` that brings none.
///
/// Errors: [`DomainError::Validation`] naming the field: a body that is
/// not an object, no `routing_key`, an unknown `event_action`, no
/// `dedup_key` on `acknowledge`/`resolve`, and for `trigger` a missing
/// `payload.summary`, `payload.source` or `payload.severity`, a bad
/// `payload.timestamp`, or an alarm over the size limits.
pub fn parse_event(body: &[u8], now_ms: i64, fresh_key: &str) -> Result<Event, DomainError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("body is not valid JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(invalid("the event must be a JSON object"));
    };
    let routing_key = field(&m, "routing_key")?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid("'routing_key' is required"))?
        .to_string();
    let action = EventAction::parse(
        field(&m, "event_action")?.ok_or_else(|| invalid("'event_action' is required"))?,
    )
    .map_err(|_| invalid("'event_action' must be trigger, acknowledge or resolve"))?;
    let given = field(&m, "dedup_key")?.filter(|k| !k.is_empty());
    if given.is_some_and(|k| k.chars().count() > MAX_DEDUP_KEY) {
        return Err(invalid(format!(
            "'dedup_key' is longer than {MAX_DEDUP_KEY} characters"
        )));
    }
    let dedup_key = match (given, action) {
        (Some(k), _) => k.to_string(),
        (None, EventAction::Trigger) => fresh_key.to_string(),
        (None, _) => {
            return Err(invalid(format!(
                "'dedup_key' is required to {}",
                action.as_str()
            )));
        }
    };
    let alarm = match action {
        EventAction::Trigger => Some(trigger(&m, &dedup_key, now_ms)?),
        _ => None,
    };
    Ok(Event {
        routing_key,
        action,
        dedup_key,
        alarm,
    })
}

fn trigger(
    m: &serde_json::Map<String, Value>,
    dedup_key: &str,
    now_ms: i64,
) -> Result<NormalizedAlarm, DomainError> {
    let Some(Value::Object(p)) = m.get("payload") else {
        return Err(invalid("'payload' is required to trigger"));
    };
    let need = |k: &str| -> Result<String, DomainError> {
        field(p, k)?
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("'payload.{k}' is required")))
    };
    let summary: String = need("summary")?.chars().take(MAX_SUMMARY).collect();
    let source = need("source")?;
    let lvl = level(&need("severity")?)?;
    let time = match field(p, "timestamp")? {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| invalid(format!("'payload.timestamp' '{t}' is not an ISO 8601 time")))?
            .timestamp_millis(),
        None => now_ms,
    };
    let mut additional = BTreeMap::new();
    for k in ["component", "group", "class"] {
        if let Some(v) = field(p, k)? {
            additional.insert(k.to_string(), v.to_string());
        }
    }
    match p.get("custom_details") {
        None | Some(Value::Null) => {}
        Some(Value::Object(d)) => {
            for (k, v) in d {
                additional.insert(k.clone(), text(v));
            }
        }
        Some(o) => {
            additional.insert("custom_details".into(), text(o));
        }
    }
    for k in ["client", "client_url"] {
        if let Some(v) = field(m, k)? {
            additional.insert(k.to_string(), v.to_string());
        }
    }
    let url = field(m, "client_url")?.map(str::to_string).or_else(|| {
        m.get("links")
            .and_then(|l| l.get(0))
            .and_then(|l| l.get("href"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    if url.as_ref().is_some_and(|u| u.len() > MAX_VALUE_LEN) {
        return Err(invalid("the event's link is too long"));
    }
    let labels = labels(dedup_key);
    let annotations = BTreeMap::from([("summary".to_string(), summary.clone())]);
    check_alarm_size(
        &[
            ("labels", &labels, MAX_LABELS),
            ("annotations", &annotations, MAX_ANNOTATIONS),
            ("custom_details", &additional, MAX_FIELDS),
        ],
        source.len(),
    )?;
    Ok(NormalizedAlarm {
        alarm_id: Some(dedup_key.to_string()),
        alarm_name: summary.clone(),
        alarm_level: lvl,
        time,
        namespace: None,
        region: None,
        application: field(p, "component")?.map(str::to_string),
        resource_name: Some(source),
        resource_id: None,
        alarm_desc: Some(summary),
        url,
        alarm_status: AlarmStatus::Alarm,
        alarm_source: "PagerDuty".into(),
        additional,
        labels,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Event, DomainError> {
        parse_event(&serde_json::to_vec(&v).unwrap(), 1000, "fresh")
    }

    #[test]
    fn a_trigger_becomes_an_alarm_keyed_by_its_dedup_key() {
        let e = parse(serde_json::json!({
            "routing_key": "k", "event_action": "trigger", "dedup_key": "disk-1",
            "payload": {"summary": "Disk full on web-1", "source": "web-1", "severity": "warning",
                        "component": "nginx", "custom_details": {"free": 0, "mount": "/"}},
            "client_url": "https://mon.example/alerts/1"
        }))
        .unwrap();
        assert_eq!(e.action, EventAction::Trigger);
        let a = e.alarm.clone().unwrap();
        assert_eq!(a.alarm_name, "Disk full on web-1");
        assert_eq!(a.alarm_level, AlarmLevel::Minor);
        assert_eq!(a.resource_name.as_deref(), Some("web-1"));
        assert_eq!(a.additional["free"], "0");
        assert_eq!(a.url.as_deref(), Some("https://mon.example/alerts/1"));
        assert_eq!(a.fingerprint(), e.fingerprint());
        // Another summary, the same key: the same alarm.
        let again = parse(serde_json::json!({
            "routing_key": "k", "event_action": "trigger", "dedup_key": "disk-1",
            "payload": {"summary": "Still full", "source": "web-1", "severity": "critical"}
        }))
        .unwrap();
        assert_eq!(again.alarm.unwrap().fingerprint(), a.fingerprint());
        let resolve = parse(serde_json::json!({"routing_key": "k", "event_action": "resolve", "dedup_key": "disk-1"})).unwrap();
        assert!(resolve.alarm.is_none());
        assert_eq!(resolve.fingerprint(), a.fingerprint());
    }

    #[test]
    fn a_trigger_without_a_key_gets_the_fresh_one() {
        let e = parse(
            serde_json::json!({"routing_key": "k", "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "info"}}),
        )
        .unwrap();
        assert_eq!(e.dedup_key, "fresh");
    }

    #[test]
    fn bad_events_are_refused_naming_the_field() {
        for (v, needle) in [
            (serde_json::json!([]), "object"),
            (
                serde_json::json!({"event_action": "trigger"}),
                "routing_key",
            ),
            (
                serde_json::json!({"routing_key": "k", "event_action": "page"}),
                "event_action",
            ),
            (
                serde_json::json!({"routing_key": "k", "event_action": "resolve"}),
                "dedup_key",
            ),
            (
                serde_json::json!({"routing_key": "k", "event_action": "trigger"}),
                "payload",
            ),
            (
                serde_json::json!({"routing_key": "k", "event_action": "trigger",
                "payload": {"summary": "s", "source": "h", "severity": "bad"}}),
                "severity",
            ),
            (
                serde_json::json!({"routing_key": "k", "event_action": "trigger",
                "payload": {"summary": "s", "severity": "info"}}),
                "payload.source",
            ),
            (
                serde_json::json!({"routing_key": "k", "event_action": "trigger",
                "payload": {"summary": "s", "source": "h", "severity": "info", "timestamp": "yesterday"}}),
                "timestamp",
            ),
        ] {
            let e = parse(v.clone()).unwrap_err().to_string();
            assert!(e.contains(needle), "{v} → {e}");
        }
    }
}
