//! Alarms: the normalized form of ref. 7.4.2, fingerprints for dedup, and
//! the ingest formats that produce them (M2).
//!
//! Three wire formats are understood, each parsed unchanged from what the
//! real sender posts:
//! - Prometheus' Alertmanager v2 client body (`POST /api/v2/alerts`): a JSON
//!   list of alerts with `labels`, `annotations`, `startsAt`, `endsAt`,
//!   `generatorURL`, and no status: an alert whose `endsAt` is not in the
//!   future is resolved.
//! - The Alertmanager webhook receiver body, payload `version` "4".
//! - Generic JSON: one object or a list of objects carrying the ref. 7.4.2
//!   field names directly; any other key lands in `additional`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, invalid};

/// Alarm severity, ref. 7.4.2 `alarmLevel`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum AlarmLevel {
    /// Highest severity.
    Critical,
    /// Service degraded.
    Major,
    /// Minor problem.
    Minor,
    /// Informational.
    Suggestion,
}

impl AlarmLevel {
    /// Canonical name as stored and shown: `Critical`, `Major`, `Minor`, `Suggestion`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmLevel::Critical => "Critical",
            AlarmLevel::Major => "Major",
            AlarmLevel::Minor => "Minor",
            AlarmLevel::Suggestion => "Suggestion",
        }
    }

    /// Parses a canonical level name, case-insensitively.
    ///
    /// Errors: [`DomainError::Validation`] for any other text.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(AlarmLevel::Critical),
            "major" => Ok(AlarmLevel::Major),
            "minor" => Ok(AlarmLevel::Minor),
            "suggestion" => Ok(AlarmLevel::Suggestion),
            _ => Err(invalid(format!(
                "unknown alarm level '{s}': expected Critical, Major, Minor or Suggestion"
            ))),
        }
    }

    /// Maps a monitoring system's severity word to a level: the canonical
    /// names, plus Prometheus conventions (`critical`/`page`/`emergency` →
    /// Critical, `error`/`high` → Major, `warning`/`warn`/`medium` → Minor,
    /// `info`/`low`/`none` → Suggestion). Anything else, or no severity, is
    /// Major: an unknown alarm is treated as significant until classified.
    pub fn from_severity(s: Option<&str>) -> Self {
        let Some(s) = s else { return AlarmLevel::Major };
        if let Ok(l) = Self::parse(s) {
            return l;
        }
        match s.to_ascii_lowercase().as_str() {
            "page" | "emergency" | "fatal" | "disaster" | "p1" => AlarmLevel::Critical,
            "error" | "high" | "p2" => AlarmLevel::Major,
            "warning" | "warn" | "medium" | "average" | "p3" => AlarmLevel::Minor,
            "info" | "information" | "low" | "none" | "notice" | "debug" | "p4" | "p5" => {
                AlarmLevel::Suggestion
            }
            _ => AlarmLevel::Major,
        }
    }
}

/// Alarm status, ref. 7.4.2 `alarmStatus`: `alarm` while firing, `ok` once
/// resolved or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlarmStatus {
    /// Firing.
    Alarm,
    /// Resolved by its source or cleared by an operator.
    Ok,
}

impl AlarmStatus {
    /// `alarm` or `ok`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmStatus::Alarm => "alarm",
            AlarmStatus::Ok => "ok",
        }
    }

    /// Parses `alarm`/`firing` or `ok`/`resolved`.
    ///
    /// Errors: [`DomainError::Validation`] for other text.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.to_ascii_lowercase().as_str() {
            "alarm" | "firing" | "problem" => Ok(AlarmStatus::Alarm),
            "ok" | "resolved" | "recovered" => Ok(AlarmStatus::Ok),
            _ => Err(invalid(format!(
                "unknown alarm status '{s}': expected alarm or ok"
            ))),
        }
    }
}

/// When an ingest request is answered (decision 0031), an integration's
/// setting.
///
/// - `Applied` (the default): after its alarms are stored, deduplicated,
///   muted and run through the forwarding rules, in one commit; the answer
///   counts what happened (created, deduplicated, incidents…).
/// - `Received`: as soon as the alarms are durably written to the ingest
///   log (one fsync; nothing acknowledged is lost across `kill -9` or a
///   power loss); they are applied right behind, in arrival order, and the
///   answer says only how many were accepted. For high-volume senders
///   (Prometheus, Alertmanager) that ignore the answer anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Acknowledge {
    /// Answered after the alarms are applied, with counts.
    #[default]
    Applied,
    /// Answered once the alarms are durably logged.
    Received,
}

impl Acknowledge {
    /// `applied` or `received`.
    pub fn as_str(self) -> &'static str {
        match self {
            Acknowledge::Applied => "applied",
            Acknowledge::Received => "received",
        }
    }

    /// Parses `applied` or `received`.
    ///
    /// Errors: [`DomainError::Validation`] for other text.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "applied" => Ok(Acknowledge::Applied),
            "received" => Ok(Acknowledge::Received),
            _ => Err(invalid(format!(
                "unknown acknowledgement '{s}': expected applied or received"
            ))),
        }
    }
}

/// The format of an ingest body as the ingest log keeps it (decision
/// 0032): a fixed sender format is logged as the sender's own bytes and
/// parsed again when applied, with the time it was received; alarms whose
/// parsing depends on an integration's settings (a generic field mapping,
/// the integration's name as source) are logged normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// COC's normalized alarms, a JSON list of [`NormalizedAlarm`].
    Normalized,
    /// Alertmanager API v2 alerts as Prometheus posts them
    /// ([`parse_prometheus_v2`], source `Prometheus`).
    PrometheusV2,
    /// Alertmanager's webhook, payload version 4
    /// ([`parse_alertmanager_webhook`], source `Alertmanager`).
    AlertmanagerWebhook,
    /// Grafana alerting's webhook, payload version 1
    /// ([`parse_grafana_webhook`], source `Grafana`).
    GrafanaWebhook,
}

impl BodyFormat {
    /// The name stored with a log row: `normalized`, `prometheus_v2`,
    /// `alertmanager_webhook`, `grafana_webhook`.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Normalized => "normalized",
            BodyFormat::PrometheusV2 => "prometheus_v2",
            BodyFormat::AlertmanagerWebhook => "alertmanager_webhook",
            BodyFormat::GrafanaWebhook => "grafana_webhook",
        }
    }

    /// The format named `s` ([`BodyFormat::as_str`]).
    ///
    /// Errors: [`DomainError::Validation`] for another name.
    pub fn parse_name(s: &str) -> Result<Self, DomainError> {
        [
            BodyFormat::Normalized,
            BodyFormat::PrometheusV2,
            BodyFormat::AlertmanagerWebhook,
            BodyFormat::GrafanaWebhook,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
        .ok_or_else(|| invalid(format!("unknown ingest body format '{s}'")))
    }

    /// The alarms of `body`, received at `received_at` (Unix ms UTC: an
    /// alert whose end is not after it is resolved, one without a start
    /// starts then). The same body and time always give the same alarms.
    ///
    /// Errors: [`DomainError::Validation`] as the format's parser.
    pub fn parse(self, body: &[u8], received_at: i64) -> Result<Vec<NormalizedAlarm>, DomainError> {
        match self {
            BodyFormat::Normalized => serde_json::from_slice(body)
                .map_err(|e| invalid(format!("body is not a list of normalized alarms: {e}"))),
            BodyFormat::PrometheusV2 => parse_prometheus_v2(body, received_at, "Prometheus"),
            BodyFormat::AlertmanagerWebhook => {
                parse_alertmanager_webhook(body, received_at, "Alertmanager")
            }
            BodyFormat::GrafanaWebhook => parse_grafana_webhook(body, received_at, "Grafana"),
        }
    }

    /// How many alarms [`BodyFormat::parse`] makes of `body`, or its
    /// error: for Prometheus' alerts counted on the body as it is, without
    /// building them (a third of the work; decision 0032), else parsed.
    ///
    /// Errors: exactly [`BodyFormat::parse`]'s.
    pub fn count(self, body: &[u8], received_at: i64) -> Result<usize, DomainError> {
        match self {
            BodyFormat::PrometheusV2 => match prometheus_v2_count(body, "Prometheus") {
                Some(n) => Ok(n),
                None => self.parse(body, received_at).map(|a| a.len()),
            },
            _ => self.parse(body, received_at).map(|a| a.len()),
        }
    }
}

/// One alarm event in the normalized field set of ref. 7.4.2.
///
/// Serialized with the reference's field names (`alarmId`, `alarmName`, …);
/// `additional` holds every other attribute (`additional.<key>` in rules).
/// `labels` and `annotations` keep the source's original maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedAlarm {
    /// The source's own alarm id, if it sent one.
    pub alarm_id: Option<String>,
    /// Alarm name (Prometheus: the `alertname` label).
    pub alarm_name: String,
    /// Severity.
    pub alarm_level: AlarmLevel,
    /// When the alarm started at the source, Unix ms UTC.
    pub time: i64,
    /// Service namespace.
    pub namespace: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Application name.
    pub application: Option<String>,
    /// Resource name (Prometheus: `instance` label when no `resource_name`).
    pub resource_name: Option<String>,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Description (annotation `description`, else `summary`).
    pub alarm_desc: Option<String>,
    /// Link to the alarm at its source (`generatorURL`).
    #[serde(rename = "URL")]
    pub url: Option<String>,
    /// `alarm` or `ok`.
    pub alarm_status: AlarmStatus,
    /// Source name (integration type, e.g. `Prometheus`).
    pub alarm_source: String,
    /// All other attributes, flattened to strings.
    pub additional: BTreeMap<String, String>,
    /// Original labels (identity of the alarm).
    pub labels: BTreeMap<String, String>,
    /// Original annotations (descriptive, not part of identity).
    pub annotations: BTreeMap<String, String>,
}

impl NormalizedAlarm {
    /// The dedup key: 16 hex chars of SHA-256 over the sorted labels
    /// (`key=value` lines). Two events with the same labels are the same
    /// alarm; annotations and times do not count, as in Alertmanager.
    pub fn fingerprint(&self) -> String {
        fingerprint_labels(&self.labels)
    }

    /// The host part of the `instance` label (`web-01:9100` → `web-01`,
    /// `[::1]:9100` → `::1`), used to find the alarm's host (ref. I6).
    pub fn instance_host(&self) -> Option<String> {
        let inst = self.labels.get("instance")?;
        Some(host_part(inst))
    }
}

/// Host part of `host:port`, `[v6]:port`, a bare host or a URL.
pub fn host_part(s: &str) -> String {
    let s = s.split("://").nth(1).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    if s.matches(':').count() == 1 {
        return s.split(':').next().unwrap_or(s).to_string();
    }
    s.to_string()
}

/// Fingerprint of a label set: 16 hex chars of SHA-256 over `k=v\n` lines in
/// key order. Stable across runs and processes.
pub fn fingerprint_labels(labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0xff]);
        h.update(v.as_bytes());
        h.update([0xfe]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Most alarms accepted in one ingest request.
pub const MAX_ALARMS_PER_REQUEST: usize = 10_000;
/// Longest accepted label/field value, in bytes.
pub const MAX_VALUE_LEN: usize = 8 * 1024;
/// Most labels of one alarm (Prometheus alerts carry a few dozen).
pub const MAX_LABELS: usize = 128;
/// Most annotations of one alarm.
pub const MAX_ANNOTATIONS: usize = 128;
/// Most extra fields of one generic alarm (the keys kept in `additional`,
/// its own `additional` object included).
pub const MAX_FIELDS: usize = 128;
/// Longest label, annotation or field name, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Most bytes of one alarm: the names and values of its labels,
/// annotations and fields together.
pub const MAX_ALARM_BYTES: usize = 64 * 1024;

/// Checks the size of one alarm's maps: at most `max` entries in each
/// (what, map, max), names of at most [`MAX_NAME_LEN`] bytes, values of at
/// most [`MAX_VALUE_LEN`], and [`MAX_ALARM_BYTES`] in all (plus `scalars`,
/// the bytes of its other fields).
///
/// Errors: [`DomainError::Validation`] naming the limit.
pub fn check_alarm_size<K: AsRef<str>, V: AsRef<str>>(
    maps: &[(&str, &BTreeMap<K, V>, usize)],
    scalars: usize,
) -> Result<(), DomainError> {
    let mut total = scalars;
    for (what, m, max) in maps {
        if m.len() > *max {
            return Err(invalid(format!(
                "the alarm has {} {what}; at most {max} are accepted",
                m.len()
            )));
        }
        for (k, v) in m.iter() {
            let (k, v) = (k.as_ref(), v.as_ref());
            if k.len() > MAX_NAME_LEN {
                return Err(invalid(format!(
                    "a name in {what} is {} bytes; at most {MAX_NAME_LEN} are accepted",
                    k.len()
                )));
            }
            // The name is formatted only for the error: this runs for
            // every label of every alarm taken in.
            if v.len() > MAX_VALUE_LEN {
                check_len(&format!("{what} '{k}'"), v)?;
            }
            total += k.len() + v.len();
        }
    }
    if total > MAX_ALARM_BYTES {
        return Err(invalid(format!(
            "the alarm is {total} bytes; at most {MAX_ALARM_BYTES} are accepted"
        )));
    }
    Ok(())
}

/// What [`from_labels`] refuses: a generator URL over [`MAX_VALUE_LEN`],
/// maps over the limits of [`check_alarm_size`], no `alertname` label or
/// an empty one.
fn check_labelled<K: AsRef<str> + Ord + std::borrow::Borrow<str>, V: AsRef<str>>(
    labels: &BTreeMap<K, V>,
    annotations: &BTreeMap<K, V>,
    url: Option<&str>,
    source: &str,
) -> Result<(), DomainError> {
    let url_len = url.map_or(0, str::len);
    if url_len > MAX_VALUE_LEN {
        return Err(invalid(format!(
            "the generator URL is {url_len} bytes; at most {MAX_VALUE_LEN} are accepted"
        )));
    }
    check_alarm_size(
        &[
            ("labels", labels, MAX_LABELS),
            ("annotations", annotations, MAX_ANNOTATIONS),
        ],
        url_len + source.len(),
    )?;
    if labels
        .get("alertname")
        .is_none_or(|n| n.as_ref().is_empty())
    {
        return Err(invalid("alert has no 'alertname' label"));
    }
    Ok(())
}

/// [`PostableAlert`] borrowed from the body, for counting without
/// building alarms ([`BodyFormat::count`]). Strings with escapes do not
/// borrow: such a body is parsed whole instead.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlertView<'a> {
    #[serde(borrow)]
    labels: BTreeMap<&'a str, &'a str>,
    #[serde(default, borrow)]
    annotations: BTreeMap<&'a str, &'a str>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    starts_at: Option<&'a str>,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    ends_at: Option<&'a str>,
    #[serde(default, rename = "generatorURL", borrow)]
    generator_url: Option<&'a str>,
}

/// The number of alarms [`parse_prometheus_v2`] makes of `body` when it
/// is sure to accept it; `None` when it may refuse it (or the body has
/// escaped strings, which do not borrow).
fn prometheus_v2_count(body: &[u8], source: &str) -> Option<usize> {
    let alerts: Vec<PostableAlertView> = serde_json::from_slice(body).ok()?;
    check_count(alerts.len()).ok()?;
    alerts
        .iter()
        .all(|a| check_labelled(&a.labels, &a.annotations, a.generator_url, source).is_ok())
        .then_some(alerts.len())
}

/// One alert of Prometheus' `POST /api/v2/alerts` body (Alertmanager's
/// `postableAlert`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Identity labels; `alertname` required.
    pub labels: BTreeMap<String, String>,
    /// Descriptive annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start time.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339 end time; in the past means resolved.
    #[serde(default)]
    pub ends_at: Option<String>,
    /// Link to the expression.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
}

/// An alert inside an Alertmanager webhook payload (version 4).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Identity labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// RFC 3339 end (`0001-01-01T00:00:00Z` while firing).
    #[serde(default)]
    pub ends_at: Option<String>,
    /// Link to the expression.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    /// Alertmanager's fingerprint (kept in `additional`).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Grafana: the dashboard of the rule (kept in `additional`).
    #[serde(default, rename = "dashboardURL")]
    pub dashboard_url: Option<String>,
    /// Grafana: the panel of the rule (kept in `additional`).
    #[serde(default, rename = "panelURL")]
    pub panel_url: Option<String>,
    /// Grafana: the query values that fired (kept in `additional`).
    #[serde(default)]
    pub value_string: Option<String>,
}

/// The Alertmanager webhook receiver body, payload version 4 (Grafana's
/// webhook contact point sends the same shape as version 1).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// `"4"` (Alertmanager) or `"1"` (Grafana).
    pub version: String,
    /// The alerts of the group.
    pub alerts: Vec<WebhookAlert>,
    /// Receiver name.
    #[serde(default)]
    pub receiver: Option<String>,
    /// Alertmanager's external URL.
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
}

fn parse_time(s: Option<&str>) -> Option<i64> {
    let s = s?;
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_millis();
    // Alertmanager's zero time (`0001-01-01T00:00:00Z`) means "unset".
    if t <= 0 { None } else { Some(t) }
}

fn check_len(what: &str, v: &str) -> Result<(), DomainError> {
    if v.len() > MAX_VALUE_LEN {
        return Err(invalid(format!(
            "{what} is {} bytes; at most {MAX_VALUE_LEN} are accepted",
            v.len()
        )));
    }
    Ok(())
}

/// Builds a normalized alarm from Prometheus-style labels and annotations.
///
/// Label mapping: `alertname` → alarmName (required), `severity`/`level` →
/// alarmLevel, `region`, `application` (else `app`, `service`),
/// `namespace`, `resource_id`, `resource_name` (else `instance`); annotation
/// `description` (else `summary`) → alarmDesc; every other label and
/// annotation is kept in `additional`.
///
/// Errors: [`DomainError::Validation`] when `alertname` is missing, or
/// the alarm is over a limit of [`check_alarm_size`] (labels,
/// annotations, name and value lengths, total bytes).
pub fn from_labels(
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    status: AlarmStatus,
    time: i64,
    url: Option<String>,
    source: &str,
) -> Result<NormalizedAlarm, DomainError> {
    check_labelled(&labels, &annotations, url.as_deref(), source)?;
    let name = labels
        .get("alertname")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("alert has no 'alertname' label"))?
        .clone();
    let get = |keys: &[&str]| keys.iter().find_map(|k| labels.get(*k).cloned());
    let mut additional = BTreeMap::new();
    const MAPPED: &[&str] = &[
        "alertname",
        "severity",
        "level",
        "region",
        "application",
        "namespace",
        "resource_id",
        "resource_name",
    ];
    for (k, v) in &labels {
        if !MAPPED.contains(&k.as_str()) {
            additional.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &annotations {
        if k != "description" {
            additional.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(NormalizedAlarm {
        alarm_id: None,
        alarm_name: name,
        alarm_level: AlarmLevel::from_severity(get(&["severity", "level"]).as_deref()),
        time,
        namespace: get(&["namespace"]),
        region: get(&["region"]),
        application: get(&["application", "app", "service"]),
        resource_name: get(&["resource_name", "instance"]),
        resource_id: get(&["resource_id"]),
        alarm_desc: annotations
            .get("description")
            .or_else(|| annotations.get("summary"))
            .cloned(),
        url,
        alarm_status: status,
        alarm_source: source.to_string(),
        additional,
        labels,
        annotations,
    })
}

/// Parses Prometheus' `POST /api/v2/alerts` body.
///
/// `now_ms` decides firing vs resolved: an alert whose `endsAt` is at or
/// before `now_ms` is resolved (Prometheus sends no status).
///
/// Errors: [`DomainError::Validation`] for a body that is not a JSON list of
/// alerts, more than [`MAX_ALARMS_PER_REQUEST`] alerts, or any invalid alert
/// (the whole request is refused: nothing is stored).
pub fn parse_prometheus_v2(
    body: &[u8],
    now_ms: i64,
    source: &str,
) -> Result<Vec<NormalizedAlarm>, DomainError> {
    let alerts: Vec<PostableAlert> = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("body is not an Alertmanager v2 alert list: {e}")))?;
    check_count(alerts.len())?;
    alerts
        .into_iter()
        .map(|a| {
            let ends = parse_time(a.ends_at.as_deref());
            let status = match ends {
                Some(e) if e <= now_ms => AlarmStatus::Ok,
                _ => AlarmStatus::Alarm,
            };
            let time = parse_time(a.starts_at.as_deref()).unwrap_or(now_ms);
            from_labels(
                a.labels,
                a.annotations,
                status,
                time,
                a.generator_url,
                source,
            )
        })
        .collect()
}

/// Parses an Alertmanager webhook body (payload version 4).
///
/// Errors: [`DomainError::Validation`] for malformed JSON, a version other
/// than `"4"`, an unknown alert status, or an invalid alert.
pub fn parse_alertmanager_webhook(
    body: &[u8],
    now_ms: i64,
    source: &str,
) -> Result<Vec<NormalizedAlarm>, DomainError> {
    webhook_alarms(body, now_ms, source, "Alertmanager", "4")
}

/// Parses a Grafana alerting webhook body (contact point of type webhook,
/// payload version 1: Alertmanager's shape plus `dashboardURL`,
/// `panelURL`, `valueString`, kept in `additional` as `dashboard_url`,
/// `panel_url`, `value_string`).
///
/// Errors: as [`parse_alertmanager_webhook`], for version `"1"`.
pub fn parse_grafana_webhook(
    body: &[u8],
    now_ms: i64,
    source: &str,
) -> Result<Vec<NormalizedAlarm>, DomainError> {
    webhook_alarms(body, now_ms, source, "Grafana", "1")
}

/// A webhook body of `sender`'s shape, payload `version`.
fn webhook_alarms(
    body: &[u8],
    now_ms: i64,
    source: &str,
    sender: &str,
    version: &str,
) -> Result<Vec<NormalizedAlarm>, DomainError> {
    let p: WebhookPayload = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("body is not a {sender} webhook payload: {e}")))?;
    if p.version != version {
        return Err(invalid(format!(
            "webhook payload version '{}' is not supported; version {version} is",
            p.version
        )));
    }
    check_count(p.alerts.len())?;
    p.alerts
        .into_iter()
        .map(|a| {
            let status = AlarmStatus::parse(&a.status)?;
            let time = parse_time(a.starts_at.as_deref()).unwrap_or(now_ms);
            let mut n = from_labels(
                a.labels,
                a.annotations,
                status,
                time,
                a.generator_url,
                source,
            )?;
            if let Some(fp) = a.fingerprint {
                n.additional.insert("alertmanager_fingerprint".into(), fp);
            }
            for (k, v) in [
                ("dashboard_url", a.dashboard_url),
                ("panel_url", a.panel_url),
                ("value_string", a.value_string),
            ] {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    check_len(k, &v)?;
                    n.additional.insert(k.into(), v);
                }
            }
            Ok(n)
        })
        .collect()
}

fn check_count(n: usize) -> Result<(), DomainError> {
    if n == 0 {
        return Err(invalid("the request carries no alarm"));
    }
    if n > MAX_ALARMS_PER_REQUEST {
        return Err(invalid(format!(
            "{n} alarms in one request; at most {MAX_ALARMS_PER_REQUEST} are accepted"
        )));
    }
    Ok(())
}

fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses a generic JSON alarm: one object or a list of objects.
///
/// Recognized keys are the ref. 7.4.2 names (`alarmId`, `alarmName`
/// (required), `alarmLevel`, `time` (Unix ms or RFC 3339), `namespace`,
/// `region`, `application`, `resourceName`, `resourceId`, `alarmDesc`,
/// `URL`, `alarmStatus`), plus optional `labels`/`annotations` objects and an
/// `additional` object. Every other key goes to `additional`. Identity
/// labels are built from alarmName, resourceId, resourceName, region,
/// application and namespace, unless `labels` is given.
///
/// Errors: [`DomainError::Validation`] naming the offending alarm (by index)
/// and field.
pub fn parse_generic(
    body: &[u8],
    now_ms: i64,
    source: &str,
) -> Result<Vec<NormalizedAlarm>, DomainError> {
    let items = match json_body(body)? {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => return Err(invalid("body must be a JSON object or a list of objects")),
    };
    generic_items(items, now_ms, source)
}

/// A request body as JSON.
///
/// Errors: [`DomainError::Validation`] when it is not JSON.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, DomainError> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("body is not valid JSON: {e}")))
}

/// Generic alarm objects (ref. 7.4.2 field names) as alarms: the count
/// limit, then each object by [`parse_generic`]'s rules.
///
/// Errors: [`DomainError::Validation`] naming the offending alarm by index.
pub(crate) fn generic_items(
    items: Vec<Value>,
    now_ms: i64,
    source: &str,
) -> Result<Vec<NormalizedAlarm>, DomainError> {
    check_count(items.len())?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            generic_one(item, now_ms, source).map_err(|e| invalid(format!("alarm [{i}]: {e}")))
        })
        .collect()
}

fn str_map(v: Option<Value>, what: &str) -> Result<BTreeMap<String, String>, DomainError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => Ok(m
            .into_iter()
            .map(|(k, v)| (k, value_to_string(&v)))
            .collect()),
        Some(_) => Err(invalid(format!("'{what}' must be an object"))),
    }
}

fn generic_one(item: Value, now_ms: i64, source: &str) -> Result<NormalizedAlarm, DomainError> {
    let Value::Object(mut m) = item else {
        return Err(invalid("each alarm must be a JSON object"));
    };
    let mut take = |k: &str| -> Result<Option<String>, DomainError> {
        match m.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                check_len(k, &s)?;
                Ok(Some(s))
            }
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(invalid(format!("'{k}' must be a string"))),
        }
    };
    let alarm_name = take("alarmName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid("'alarmName' is required"))?;
    let alarm_id = take("alarmId")?;
    let level = match take("alarmLevel")? {
        Some(l) => AlarmLevel::parse(&l)?,
        None => AlarmLevel::Major,
    };
    let status = match take("alarmStatus")? {
        Some(s) => AlarmStatus::parse(&s)?,
        None => AlarmStatus::Alarm,
    };
    let time = match take("time")? {
        None => now_ms,
        Some(t) => match t.parse::<i64>() {
            Ok(ms) => ms,
            Err(_) => parse_time(Some(&t))
                .ok_or_else(|| invalid("'time' must be Unix ms or an RFC 3339 time"))?,
        },
    };
    let namespace = take("namespace")?;
    let region = take("region")?;
    let application = take("application")?;
    let resource_name = take("resourceName")?;
    let resource_id = take("resourceId")?;
    let alarm_desc = take("alarmDesc")?;
    let url = take("URL")?;
    let _ = take("alarmSource")?;
    let labels_in = str_map(m.remove("labels"), "labels")?;
    let annotations = str_map(m.remove("annotations"), "annotations")?;
    let mut additional = str_map(m.remove("additional"), "additional")?;
    if m.len() + additional.len() > MAX_FIELDS {
        return Err(invalid(format!(
            "the alarm has {} extra fields; at most {MAX_FIELDS} are accepted",
            m.len() + additional.len()
        )));
    }
    for (k, v) in m {
        let s = value_to_string(&v);
        check_len(&k, &s)?;
        additional.insert(k, s);
    }
    let scalars = [
        &alarm_id,
        &namespace,
        &region,
        &application,
        &resource_name,
        &resource_id,
        &alarm_desc,
        &url,
    ]
    .iter()
    .map(|v| v.as_ref().map_or(0, String::len))
    .sum::<usize>()
        + alarm_name.len();
    check_alarm_size(
        &[
            ("labels", &labels_in, MAX_LABELS),
            ("annotations", &annotations, MAX_ANNOTATIONS),
            ("extra fields", &additional, MAX_FIELDS),
        ],
        scalars,
    )?;
    let labels = if labels_in.is_empty() {
        let mut l = BTreeMap::new();
        l.insert("alertname".to_string(), alarm_name.clone());
        for (k, v) in [
            ("alarm_id", &alarm_id),
            ("resource_id", &resource_id),
            ("resource_name", &resource_name),
            ("region", &region),
            ("application", &application),
            ("namespace", &namespace),
        ] {
            if let Some(v) = v {
                l.insert(k.to_string(), v.clone());
            }
        }
        l
    } else {
        labels_in
    };
    Ok(NormalizedAlarm {
        alarm_id,
        alarm_name,
        alarm_level: level,
        time,
        namespace,
        region,
        application,
        resource_name,
        resource_id,
        alarm_desc,
        url,
        alarm_status: status,
        alarm_source: source.to_string(),
        additional,
        labels,
        annotations,
    })
}

/// Longest remark accepted when clearing an alarm (ref. 7.2.1.3), in
/// characters (not bytes).
pub const MAX_CLEAR_REMARK_CHARS: usize = 100;

/// Validates a clear remark: 1..=100 characters of any script.
///
/// Errors: [`DomainError::Validation`] when empty or too long.
pub fn validate_clear_remark(remark: &str) -> Result<(), DomainError> {
    let n = remark.chars().count();
    if remark.trim().is_empty() {
        return Err(invalid("a remark is required to clear an alarm"));
    }
    if n > MAX_CLEAR_REMARK_CHARS {
        return Err(invalid(format!(
            "the remark has {n} characters; at most {MAX_CLEAR_REMARK_CHARS} are allowed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_over_a_limit_are_refused() {
        let labels = |n: usize| {
            let mut m: BTreeMap<String, String> =
                (0..n).map(|i| (format!("l{i}"), "v".to_string())).collect();
            m.insert("alertname".into(), "A".into());
            m
        };
        let ok = |l, a| from_labels(l, a, AlarmStatus::Alarm, 1, None, "t");
        assert!(ok(labels(MAX_LABELS - 1), BTreeMap::new()).is_ok());
        let e = ok(labels(100_000), BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("100001 labels"), "{e}");
        let many: BTreeMap<_, _> = (0..=MAX_ANNOTATIONS)
            .map(|i| (format!("a{i}"), "x".to_string()))
            .collect();
        assert!(ok(labels(1), many).is_err());
        // Bytes in all: 16 values of 8 KiB are 128 KiB.
        let big: BTreeMap<_, _> = (0..16)
            .map(|i| (format!("a{i}"), "x".repeat(MAX_VALUE_LEN)))
            .collect();
        let e = ok(labels(1), big).unwrap_err();
        assert!(e.to_string().contains("bytes"), "{e}");
        let mut long_name = labels(1);
        long_name.insert("n".repeat(MAX_NAME_LEN + 1), "v".into());
        assert!(ok(long_name, BTreeMap::new()).is_err());
        // Generic: extra fields at the top level and in `additional`.
        let fields: serde_json::Map<String, Value> = (0..=MAX_FIELDS)
            .map(|i| (format!("f{i}"), Value::from(i)))
            .collect();
        let mut one = fields.clone();
        one.insert("alarmName".into(), "x".into());
        let e = parse_generic(&serde_json::to_vec(&one).unwrap(), 1, "g").unwrap_err();
        assert!(e.to_string().contains("extra fields"), "{e}");
        let nested = serde_json::json!({"alarmName": "x", "additional": fields});
        assert!(parse_generic(&serde_json::to_vec(&nested).unwrap(), 1, "g").is_err());
        let fine =
            serde_json::json!({"alarmName": "x", "f1": 1, "labels": {"alertname": "x", "a": "b"}});
        assert!(parse_generic(&serde_json::to_vec(&fine).unwrap(), 1, "g").is_ok());
    }

    const NOW: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

    #[test]
    fn prometheus_firing_and_resolved_by_ends_at() {
        let body = br#"[
          {"labels":{"alertname":"A","severity":"warning","instance":"web-01:9100"},
           "annotations":{"summary":"s"},"startsAt":"2026-11-21T23:59:00Z",
           "endsAt":"2026-11-22T00:04:00Z","generatorURL":"http://p/graph"},
          {"labels":{"alertname":"B"},"endsAt":"2026-11-21T23:59:59Z"}]"#;
        let a = parse_prometheus_v2(body, NOW, "Prometheus").unwrap();
        assert_eq!(a[0].alarm_status, AlarmStatus::Alarm);
        assert_eq!(a[0].alarm_level, AlarmLevel::Minor);
        assert_eq!(a[0].resource_name.as_deref(), Some("web-01:9100"));
        assert_eq!(a[0].instance_host().as_deref(), Some("web-01"));
        assert_eq!(a[0].alarm_desc.as_deref(), Some("s"));
        assert_eq!(a[0].url.as_deref(), Some("http://p/graph"));
        assert_eq!(a[0].time, NOW - 60_000);
        assert_eq!(a[1].alarm_status, AlarmStatus::Ok);
    }

    #[test]
    fn webhook_v4_and_version_check() {
        let body = br#"{"version":"4","status":"firing","alerts":[{"status":"resolved",
          "labels":{"alertname":"X","severity":"critical"},"fingerprint":"abc"}]}"#;
        let a = parse_alertmanager_webhook(body, NOW, "Alertmanager").unwrap();
        assert_eq!(a[0].alarm_status, AlarmStatus::Ok);
        assert_eq!(a[0].alarm_level, AlarmLevel::Critical);
        assert_eq!(a[0].additional["alertmanager_fingerprint"], "abc");
        let bad = br#"{"version":"3","alerts":[]}"#;
        assert!(parse_alertmanager_webhook(bad, NOW, "x").is_err());
    }

    #[test]
    fn missing_alertname_refuses_whole_request() {
        let body = br#"[{"labels":{"alertname":"ok"}},{"labels":{"job":"x"}}]"#;
        let e = parse_prometheus_v2(body, NOW, "p").unwrap_err();
        assert!(e.to_string().contains("alertname"));
    }

    #[test]
    fn generic_fields_and_additional() {
        let body = br#"{"alarmName":"disk full","alarmLevel":"minor","resourceId":"i-1",
            "region":"r1","time":"2026-11-22T00:00:00Z","team":"ops","count":3}"#;
        let a = parse_generic(body, 5, "Generic").unwrap();
        assert_eq!(a.len(), 1);
        let a = &a[0];
        assert_eq!(a.alarm_level, AlarmLevel::Minor);
        assert_eq!(a.time, NOW);
        assert_eq!(a.additional["team"], "ops");
        assert_eq!(a.additional["count"], "3");
        assert_eq!(a.labels["resource_id"], "i-1");
        let e = parse_generic(br#"[{"alarmLevel":"x"}]"#, 5, "g").unwrap_err();
        assert!(e.to_string().contains("alarm [0]"));
        assert!(parse_generic(br#"{"alarmName":"a","alarmLevel":"huge"}"#, 5, "g").is_err());
        assert!(parse_generic(b"42", 5, "g").is_err());
        assert!(parse_generic(b"[]", 5, "g").is_err());
    }

    #[test]
    fn fingerprint_ignores_annotations_and_order() {
        let mut l1 = BTreeMap::new();
        l1.insert("a".to_string(), "1".to_string());
        l1.insert("b".to_string(), "2".to_string());
        let mut l2 = BTreeMap::new();
        l2.insert("b".to_string(), "2".to_string());
        l2.insert("a".to_string(), "1".to_string());
        assert_eq!(fingerprint_labels(&l1), fingerprint_labels(&l2));
        l2.insert("a".to_string(), "12".to_string());
        assert_ne!(fingerprint_labels(&l1), fingerprint_labels(&l2));
        // no ambiguity between key/value boundaries
        let mut x = BTreeMap::new();
        x.insert("ab".to_string(), "c".to_string());
        let mut y = BTreeMap::new();
        y.insert("a".to_string(), "bc".to_string());
        assert_ne!(fingerprint_labels(&x), fingerprint_labels(&y));
        assert_eq!(fingerprint_labels(&l1).len(), 16);
    }

    #[test]
    fn host_part_forms() {
        assert_eq!(host_part("web-01:9100"), "web-01");
        assert_eq!(host_part("[::1]:9100"), "::1");
        assert_eq!(host_part("10.0.0.1"), "10.0.0.1");
        assert_eq!(host_part("http://h.example:80/metrics"), "h.example");
        assert_eq!(host_part("fe80::1"), "fe80::1");
    }

    #[test]
    fn clear_remark_limits() {
        assert!(validate_clear_remark("done").is_ok());
        assert!(validate_clear_remark(&"字".repeat(100)).is_ok());
        assert!(validate_clear_remark(&"字".repeat(101)).is_err());
        assert!(validate_clear_remark("  ").is_err());
    }

    #[test]
    fn severity_mapping() {
        assert_eq!(
            AlarmLevel::from_severity(Some("info")),
            AlarmLevel::Suggestion
        );
        assert_eq!(AlarmLevel::from_severity(Some("MAJOR")), AlarmLevel::Major);
        assert_eq!(AlarmLevel::from_severity(None), AlarmLevel::Major);
    }
}

/// Occurrences of one alarm kept for its original-alarms view (ref.
/// 7.2.2): the latest this many; older ones are overwritten.
pub const OCCURRENCES_KEPT: i64 = 20;

/// Where occurrence number `seq` (0 for the first) of an alarm is kept:
/// a ring of [`OCCURRENCES_KEPT`] places, so the latest are always there
/// and an alarm never holds more.
pub fn occurrence_slot(seq: i64) -> i64 {
    seq.rem_euclid(OCCURRENCES_KEPT)
}

/// Alarm retention (M2): how long an alarm that turned `ok` is kept after
/// it was last seen. Firing alarms and alarms linked to an incident are
/// kept whatever their age (the incident's record needs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days an `ok` alarm is kept after its `last_seen`; 0 keeps alarms
    /// forever.
    pub days: u32,
}

impl Retention {
    /// The `last_seen` (Unix ms UTC) before which an `ok` alarm is due for
    /// deletion at `now_ms`; `None` when alarms are kept forever.
    pub fn cutoff(&self, now_ms: i64) -> Option<i64> {
        (self.days > 0).then(|| now_ms - i64::from(self.days) * 86_400_000)
    }

    /// Whether an alarm in `status`, last seen at `last_seen_ms`, is due
    /// for deletion at `now_ms`.
    pub fn expired(&self, status: AlarmStatus, last_seen_ms: i64, now_ms: i64) -> bool {
        status == AlarmStatus::Ok && self.cutoff(now_ms).is_some_and(|c| last_seen_ms < c)
    }
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[test]
    fn only_ok_alarms_past_the_age_expire_and_zero_keeps_everything() {
        let r = Retention { days: 30 };
        let now = 100 * 86_400_000;
        assert_eq!(r.cutoff(now), Some(70 * 86_400_000));
        assert!(r.expired(AlarmStatus::Ok, 70 * 86_400_000 - 1, now));
        assert!(!r.expired(AlarmStatus::Ok, 70 * 86_400_000, now));
        assert!(!r.expired(AlarmStatus::Alarm, 0, now));
        let keep = Retention { days: 0 };
        assert_eq!(keep.cutoff(now), None);
        assert!(!keep.expired(AlarmStatus::Ok, 0, now));
    }
}

#[cfg(test)]
mod count_tests {
    use super::*;
    use proptest::prelude::*;

    /// Counting Prometheus' alerts on the body takes the fast path for a
    /// plain body and gives up (parsing whole) on escaped strings.
    #[test]
    fn prometheus_alerts_are_counted_without_building_them() {
        let plain =
            br#"[{"labels":{"alertname":"A","instance":"h:1"},"annotations":{"summary":"s"}},
                         {"labels":{"alertname":"B"},"endsAt":"2023-11-14T22:13:00Z"}]"#;
        assert_eq!(prometheus_v2_count(plain, "Prometheus"), Some(2));
        let escaped = br#"[{"labels":{"alertname":"A \"quoted\""}}]"#;
        assert_eq!(prometheus_v2_count(escaped, "Prometheus"), None);
        assert_eq!(BodyFormat::PrometheusV2.count(escaped, 0), Ok(1));
        let unnamed = br#"[{"labels":{"instance":"h:1"}}]"#;
        assert_eq!(prometheus_v2_count(unnamed, "Prometheus"), None);
        assert_eq!(
            BodyFormat::PrometheusV2.count(unnamed, 0),
            Err(invalid("alert has no 'alertname' label"))
        );
    }

    /// One alert of a generated Prometheus body: its labels, annotations,
    /// and the other fields as JSON values.
    fn alert_json(
        labels: Vec<(String, String)>,
        annotations: Vec<(String, String)>,
        url_len: Option<usize>,
        starts: u8,
        extra: bool,
    ) -> Value {
        let mut a = serde_json::Map::new();
        a.insert(
            "labels".into(),
            Value::Object(
                labels
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
        if !annotations.is_empty() {
            a.insert(
                "annotations".into(),
                Value::Object(
                    annotations
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                ),
            );
        }
        if let Some(n) = url_len {
            a.insert("generatorURL".into(), Value::String("u".repeat(n)));
        }
        match starts {
            0 => {}
            1 => {
                a.insert("startsAt".into(), Value::Null);
            }
            2 => {
                a.insert(
                    "startsAt".into(),
                    Value::String("2023-11-14T22:13:00Z".into()),
                );
            }
            _ => {
                a.insert("startsAt".into(), Value::from(5));
            }
        }
        if extra {
            a.insert("unknownField".into(), serde_json::json!({"x": [1, "y"]}));
        }
        Value::Object(a)
    }

    proptest! {
        /// [`BodyFormat::count`] answers exactly as parsing does (the same
        /// count, or the same error) for any body: counting is what the
        /// ingest log trusts a body with before it is parsed, when applied.
        #[test]
        fn counting_agrees_with_parsing(
            alerts in proptest::collection::vec((
                proptest::collection::vec(
                    ("alertname|instance|job|severity|k\\\\x|", "[a-z\\\\\"é]{0,3}|x{8190,8193}"),
                    0..4,
                ),
                proptest::collection::vec(("summary|description", "[a-z\\\\]{0,3}"), 0..2),
                proptest::option::of(prop_oneof![Just(10usize), Just(MAX_VALUE_LEN + 1)]),
                0u8..4,
                proptest::bool::ANY,
                proptest::bool::ANY,
            ), 0..4),
            cut in proptest::option::of(0usize..200),
            many_labels in proptest::bool::ANY,
        ) {
            let list: Vec<Value> = alerts
                .into_iter()
                .map(|(mut labels, ann, url, starts, extra, named)| {
                    if named {
                        labels.insert(0, ("alertname".into(), "Up".into()));
                    }
                    if many_labels {
                        labels.extend((0..MAX_LABELS).map(|i| (format!("l{i}"), "v".into())));
                    }
                    alert_json(labels, ann, url, starts, extra)
                })
                .collect();
            let mut body = serde_json::to_vec(&list).unwrap();
            if let Some(c) = cut {
                body.truncate(c.min(body.len()));
            }
            let parsed = parse_prometheus_v2(&body, 1_700_000_000_000, "Prometheus").map(|a| a.len());
            prop_assert_eq!(BodyFormat::PrometheusV2.count(&body, 1_700_000_000_000), parsed.clone());
            if let Some(n) = prometheus_v2_count(&body, "Prometheus") {
                prop_assert_eq!(Ok(n), parsed);
            }
        }
    }
}
