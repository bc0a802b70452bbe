//! Notification channels (O4): the wire formats of each channel, the
//! webhook signature, and the retry schedule of the delivery queue.
//!
//! Formats (`Message` → JSON body):
//! - `webhook`: `{"event","subject","body","sent_at"}` and, about an
//!   incident, `"incident": {"id","number","level","title","description",
//!   "assignee","url"}` (`url`: its console page, when COC knows its
//!   public URL); every text ends with "Open: <url>"; signed with
//!   HMAC-SHA256 over the exact body: header `X-COC-Signature:
//!   sha256=<hex>` (the GitHub convention).
//! - `wecom`, `dingtalk`: `{"msgtype":"text","text":{"content":…}}`.
//! - `feishu`: `{"msg_type":"text","content":{"text":…}}`.
//! - `slack`, `teams`: `{"text":…}`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{DomainError, invalid};

/// Channel kinds that deliver over HTTP.
pub const HTTP_CHANNELS: &[&str] = &["webhook", "wecom", "dingtalk", "feishu", "slack", "teams"];

/// Every channel a notification rule can choose (ref. 11.3 "Method"):
/// email over SMTP, SMS and voice through the HTTP gateway, and the HTTP
/// channels.
pub const CHANNELS: &[&str] = &[
    "email", "sms", "voice", "webhook", "wecom", "dingtalk", "feishu", "slack", "teams",
];

/// A notification to deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// Event name (`incident_created`, `test`, …).
    pub event: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// The incident it is about, as fields (webhooks carry them, so a
    /// consumer need not parse the text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentRef>,
    /// Where to open what it is about (the incident's console page);
    /// channels show it under the body, webhooks also as `incident.url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Signed links that act on the incident from the message itself
    /// ([`crate::action_link`]); texts list them under the body as
    /// "Acknowledge: <url>", webhooks also as `incident.actions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<MessageAction>,
}

/// One action link of a [`Message`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageAction {
    /// What it does.
    pub action: crate::action_link::LinkAction,
    /// Where to follow it (or, in a delivery log, a placeholder: the link
    /// is a credential and is not kept).
    pub url: String,
}

/// An incident as a notification names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IncidentRef {
    /// Record id (`/api/v1/incidents/{id}`, `/console/incidents/{id}`).
    pub id: String,
    /// Number (`INC…`).
    pub number: String,
    /// `P1`..`P5`.
    pub level: String,
    /// Title.
    pub title: String,
    /// Description (for an incident from an alarm: the alarm's).
    pub description: String,
    /// Current owner.
    pub assignee: String,
}

impl IncidentFacts {
    /// The incident as a notification names it; `None` for facts of no
    /// incident (an alarm's SLA, a script review).
    pub fn reference(&self) -> Option<IncidentRef> {
        (!self.id.is_empty()).then(|| IncidentRef {
            id: self.id.clone(),
            number: self.number.clone(),
            level: self.level.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            assignee: self.assignee.clone(),
        })
    }
}

/// The JSON body a channel expects for `m`, sent at `sent_at_ms`.
///
/// Errors: [`DomainError::Validation`] for an unknown channel.
pub fn render(
    channel: &str,
    m: &Message,
    sent_at_ms: i64,
) -> Result<serde_json::Value, DomainError> {
    let mut body = match &m.link {
        Some(l) => format!("{}\n\nOpen: {l}", m.body),
        None => m.body.clone(),
    };
    for a in &m.actions {
        body.push_str(&format!("\n{}: {}", a.action.label(), a.url));
    }
    let text = format!("{}\n{body}", m.subject);
    Ok(match channel {
        "webhook" => {
            let mut v = serde_json::json!({"event": m.event, "subject": m.subject, "body": body, "sent_at": sent_at_ms});
            if let Some(i) = &m.incident {
                v["incident"] = serde_json::to_value(i).unwrap_or_default();
                if let Some(l) = &m.link {
                    v["incident"]["url"] = serde_json::json!(l);
                }
                for a in &m.actions {
                    v["incident"]["actions"][a.action.as_str()] = serde_json::json!(a.url);
                }
            }
            v
        }
        "wecom" | "dingtalk" => serde_json::json!({"msgtype": "text", "text": {"content": text}}),
        "feishu" => serde_json::json!({"msg_type": "text", "content": {"text": text}}),
        "slack" | "teams" => serde_json::json!({"text": text}),
        "email" => serde_json::json!({"subject": m.subject, "body": body}),
        "sms" | "voice" => serde_json::json!({"text": text}),
        other => {
            return Err(invalid(format!(
                "unknown channel '{other}': use one of {}",
                HTTP_CHANNELS.join(", ")
            )));
        }
    })
}

/// The pieces of a channel target that must never be shown (robot and
/// webhook URLs carry their keys in the path or query, addresses are
/// personal): the whole target; for URLs also the user info, the path and
/// query, and each of their segments and values of 6 characters or more;
/// for email the local part; for numbers the digits. Longest first.
pub fn secret_parts(target: &str) -> Vec<String> {
    let mut parts = vec![target.to_string()];
    if let Some((_, rest)) = target.split_once("://") {
        let (authority, tail) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            parts.push(userinfo.to_string());
            parts.extend(userinfo.split(':').map(str::to_string));
        }
        parts.push(tail.to_string());
        parts.extend(
            tail.split(['/', '?', '&', '=', '#', ';'])
                .map(str::to_string),
        );
    } else if let Some((local, _)) = target.split_once('@') {
        parts.push(local.to_string());
    } else {
        parts.push(target.chars().filter(char::is_ascii_digit).collect());
    }
    parts.retain(|p| p.chars().count() >= 6);
    parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
    parts.dedup();
    parts
}

/// `text` (an error, a log line) with every secret part of `target`
/// ([`secret_parts`]) replaced by `***`; a whole URL becomes
/// `scheme://host/***`, so the error still says where.
pub fn redact_target(text: &str, target: &str) -> String {
    let whole = if target.contains("://") {
        crate::people::mask("webhook", target)
    } else {
        "***".to_string()
    };
    let text = if target.len() >= 6 {
        text.replace(target, &whole)
    } else {
        text.to_string()
    };
    secret_parts(target)
        .iter()
        .fold(text, |t, p| t.replace(p.as_str(), "***"))
}

/// `sha256=<hex>` HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC of `body` (constant time).
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(h) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = hex::decode(h) else {
        return false;
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// The built-in incident notification templates (ref. 11.3), one per
/// incident change that notifies.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// An incident was created.
    IncidentCreated,
    /// An incident was rejected.
    IncidentRejected,
    /// An incident was forwarded to a new owner.
    IncidentForwarded,
    /// An incident was resolved and waits for verification.
    IncidentToBeVerified,
    /// Verification failed; the incident is being handled again.
    IncidentVerificationFailed,
    /// An incident was verified and completed.
    IncidentCompleted,
    /// A rejected incident was closed.
    IncidentClosed,
}

impl Template {
    /// Every template.
    pub const ALL: [Template; 7] = [
        Template::IncidentCreated,
        Template::IncidentRejected,
        Template::IncidentForwarded,
        Template::IncidentToBeVerified,
        Template::IncidentVerificationFailed,
        Template::IncidentCompleted,
        Template::IncidentClosed,
    ];

    /// Stable name (`incident_created`, …), also the delivery's event.
    pub fn as_str(self) -> &'static str {
        match self {
            Template::IncidentCreated => "incident_created",
            Template::IncidentRejected => "incident_rejected",
            Template::IncidentForwarded => "incident_forwarded",
            Template::IncidentToBeVerified => "incident_to_be_verified",
            Template::IncidentVerificationFailed => "incident_verification_failed",
            Template::IncidentCompleted => "incident_completed",
            Template::IncidentClosed => "incident_closed",
        }
    }

    /// Parses [`Template::as_str`]. Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Template::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| invalid(format!("unknown notification template '{s}'")))
    }

    /// The template of an incident history step: the action and the
    /// statuses before and after (`None` before = creation).
    pub fn for_change(action: &str, from: Option<&str>, to: Option<&str>) -> Option<Template> {
        match (action, from, to) {
            (_, None, Some("unaccepted")) => Some(Template::IncidentCreated),
            ("reject", _, Some("rejected")) => Some(Template::IncidentRejected),
            ("forward", _, _) => Some(Template::IncidentForwarded),
            ("resolve", _, Some("to_be_verified")) => Some(Template::IncidentToBeVerified),
            ("verify", _, Some("accepted")) => Some(Template::IncidentVerificationFailed),
            ("verify", _, Some("completed")) => Some(Template::IncidentCompleted),
            ("close", Some("rejected"), Some("closed")) => Some(Template::IncidentClosed),
            _ => None,
        }
    }

    /// The message of this template for an incident.
    pub fn render(self, i: &IncidentFacts, actor: &str) -> Message {
        let what = match self {
            Template::IncidentCreated => "created",
            Template::IncidentRejected => "rejected",
            Template::IncidentForwarded => "forwarded",
            Template::IncidentToBeVerified => "resolved, to be verified",
            Template::IncidentVerificationFailed => "failed verification",
            Template::IncidentCompleted => "completed",
            Template::IncidentClosed => "closed after rejection",
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let mut body = format!(
            "Incident {} ({}) was {what} by {actor}.\nOwner: {}\nApplication: {}  Region: {}  Source: {}  Category: {}",
            i.number,
            i.level,
            i.assignee,
            opt(&i.application),
            opt(&i.region),
            i.source,
            opt(&i.category)
        );
        if !i.description.trim().is_empty() {
            body.push_str("\n\n");
            body.push_str(i.description.trim());
        }
        Message {
            event: self.as_str().into(),
            subject: format!("[{}] {} {what}: {}", i.level, i.number, i.title),
            body,
            incident: i.reference(),
            link: None,
            actions: vec![],
        }
    }
}

/// What notification matching and templates see of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IncidentFacts {
    /// Record id; empty for facts of no incident.
    #[serde(default)]
    pub id: String,
    /// Number (`INC…`).
    pub number: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Title.
    pub title: String,
    /// `P1`..`P5`.
    pub level: String,
    /// Category.
    pub category: Option<String>,
    /// `forwarding_rule`, `manual` or `alarm_conversion`.
    pub source: String,
    /// Application.
    pub application: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Current owner.
    pub assignee: String,
    /// Forwarding rule that created it.
    pub rule_id: Option<String>,
}

impl IncidentFacts {
    /// Facts for a notification that is not about an incident (a script
    /// review, a parameter, a scheduled task): `owner` stands in for the
    /// ticket owner (the `owner` recipient); everything else is empty.
    pub fn not_an_incident(owner: &str) -> Self {
        IncidentFacts {
            id: String::new(),
            number: String::new(),
            description: String::new(),
            title: String::new(),
            level: String::new(),
            category: None,
            source: String::new(),
            application: None,
            region: None,
            assignee: owner.to_string(),
            rule_id: None,
        }
    }
}

/// Who to notify: the people on call for roles of a scenario (resolved at
/// send time, for the incident's application and region), or named users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    /// Roles of a scheduling scenario.
    Shift {
        /// Scenario id or name.
        scenario: String,
        /// Roles (≥ 1).
        roles: Vec<String>,
    },
    /// Named users.
    Individual {
        /// User names (≥ 1).
        users: Vec<String>,
    },
    /// The incident's current owner (assignee).
    Owner,
}

/// Validates a recipient list (1..=20 entries, none empty).
///
/// Errors: [`DomainError::Validation`].
pub fn validate_recipients(r: &[Recipient]) -> Result<(), DomainError> {
    if r.is_empty() || r.len() > 20 {
        return Err(invalid("give 1 to 20 recipients"));
    }
    for x in r {
        match x {
            Recipient::Shift { scenario, roles } => {
                if scenario.trim().is_empty() || roles.is_empty() {
                    return Err(invalid(
                        "a shift recipient names a scenario and at least one role",
                    ));
                }
            }
            Recipient::Individual { users } => {
                if users.is_empty() || users.iter().any(|u| u.trim().is_empty()) {
                    return Err(invalid("an individual recipient names at least one user"));
                }
            }
            Recipient::Owner => {}
        }
    }
    Ok(())
}

/// Validates channel names against [`CHANNELS`] (1..=9, no repeats).
///
/// Errors: [`DomainError::Validation`].
pub fn validate_channels(c: &[String]) -> Result<(), DomainError> {
    if c.is_empty() {
        return Err(invalid("choose at least one channel"));
    }
    let mut seen = std::collections::HashSet::new();
    for x in c {
        if !CHANNELS.contains(&x.as_str()) {
            return Err(invalid(format!(
                "unknown channel '{x}': use one of {}",
                CHANNELS.join(", ")
            )));
        }
        if !seen.insert(x) {
            return Err(invalid(format!("channel '{x}' is listed twice")));
        }
    }
    Ok(())
}

/// A notification rule (O3, ref. 11.3 table 11-1). Empty matchers match
/// anything; a set matcher matches when the incident's value is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRule {
    /// Name (1..=64 chars, unique per tenant).
    pub name: String,
    /// Type; only `incident` (incident notification) exists.
    #[serde(default = "incident_type", rename = "type")]
    pub kind: String,
    /// Templates (incident changes) that notify (≥ 1).
    pub templates: Vec<Template>,
    /// Scope: applications; empty = every application.
    #[serde(default)]
    pub applications: Vec<String>,
    /// Recipients.
    pub recipients: Vec<Recipient>,
    /// Levels (`P1`..`P5`).
    #[serde(default)]
    pub levels: Vec<String>,
    /// Incident categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Sources (`forwarding_rule`, `manual`, `alarm_conversion`).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Regions.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Channels.
    pub channels: Vec<String>,
}

impl crate::application::refs::AppRefs for NotificationRule {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.applications.iter_mut().collect()
    }
}

fn incident_type() -> String {
    "incident".into()
}

/// Incident sources a rule can match.
pub const SOURCES: &[&str] = &["forwarding_rule", "manual", "alarm_conversion"];

impl NotificationRule {
    /// Validates every field. Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("notification name must have 1 to 64 characters"));
        }
        if self.kind != "incident" {
            return Err(invalid("the only notification type is 'incident'"));
        }
        if self.templates.is_empty() {
            return Err(invalid("choose at least one template"));
        }
        if let Some(l) = self
            .levels
            .iter()
            .find(|l| crate::incident::IncidentLevel::parse(l).is_err())
        {
            return Err(invalid(format!("unknown level '{l}': use P1 to P5")));
        }
        if let Some(s) = self.sources.iter().find(|s| !SOURCES.contains(&s.as_str())) {
            return Err(invalid(format!(
                "unknown source '{s}': use one of {}",
                SOURCES.join(", ")
            )));
        }
        validate_recipients(&self.recipients)?;
        validate_channels(&self.channels)
    }

    /// Whether the rule applies to template `t` for incident `i`.
    pub fn matches(&self, t: Template, i: &IncidentFacts) -> bool {
        fn any(set: &[String], v: Option<&str>) -> bool {
            set.is_empty() || v.is_some_and(|v| set.iter().any(|x| x == v))
        }
        self.templates.contains(&t)
            && any(&self.applications, i.application.as_deref())
            && any(&self.levels, Some(&i.level))
            && any(&self.categories, i.category.as_deref())
            && any(&self.sources, Some(&i.source))
            && any(&self.regions, i.region.as_deref())
    }
}

/// One message to send: a person and a channel.
pub type PersonChannel = (String, String);

/// Deduplicates (person, channel) pairs gathered from several rules, in
/// first-seen order (ref. 11.3 "Notification deduplication").
pub fn dedup(pairs: impl IntoIterator<Item = PersonChannel>) -> Vec<PersonChannel> {
    let mut seen = std::collections::HashSet::new();
    pairs
        .into_iter()
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// State of a delivery in the queue (ref. 11.3 "notification records").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being sent under a lease).
    Pending,
    /// The channel accepted it.
    Delivered,
    /// Given up after [`MAX_ATTEMPTS`].
    Failed,
    /// Not sent: the person has no confirmed contact on the channel.
    Skipped,
}

impl DeliveryStatus {
    /// Every state.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Skipped,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }
}

/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: u32 = 10;

/// How long a claimed delivery is reserved for its sender, ms. The lease
/// end is the claim's fencing token: only the sender holding the current
/// lease records the attempt.
pub const SEND_LEASE_MS: i64 = 30_000;

/// Default bound on one send on any channel (connect, every SMTP reply,
/// the HTTP answer), ms.
pub const DEFAULT_SEND_TIMEOUT_MS: u64 = 20_000;

/// Longest send timeout allowed, ms: it must end well inside the lease,
/// so no second sender starts while the first still sends.
pub const MAX_SEND_TIMEOUT_MS: u64 = (SEND_LEASE_MS as u64) - 5_000;

/// Checks a send timeout (1 ms..=[`MAX_SEND_TIMEOUT_MS`]).
///
/// Errors: [`DomainError::Validation`] naming the bound.
pub fn check_send_timeout(ms: u64) -> Result<(), DomainError> {
    if ms == 0 || ms > MAX_SEND_TIMEOUT_MS {
        return Err(invalid(format!(
            "the send timeout must be 1..={MAX_SEND_TIMEOUT_MS} ms (shorter than the {SEND_LEASE_MS} ms delivery lease); {ms} given"
        )));
    }
    Ok(())
}

/// Delay before retry `attempt` (1-based, after that many failures), ms:
/// 1 s, 2 s, 4 s, … capped at 5 minutes.
pub fn retry_delay_ms(attempt: u32) -> i64 {
    (1000i64 << attempt.saturating_sub(1).min(20)).min(300_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_redacted_from_errors() {
        let url = "https://hooks.example.com/services/T000/B111/XXXXXXXXSECRET?token=abcdef123";
        let err = format!(
            "cannot reach {url}: error sending request for url (https://hooks.example.com/services/T000/B111/XXXXXXXXSECRET?token=abcdef123)"
        );
        let r = redact_target(&err, url);
        assert!(
            !r.contains("XXXXXXXXSECRET") && !r.contains("abcdef123"),
            "{r}"
        );
        assert!(r.contains("hooks.example.com"), "the host stays: {r}");
        // A URL the HTTP library re-wrote still loses its secret pieces.
        let r = redact_target("GET /services/T000/B111/XXXXXXXXSECRET/ failed", url);
        assert!(!r.contains("XXXXXXXXSECRET"), "{r}");
        let r = redact_target(
            "auth failed for robot:s3cr3tpass@",
            "https://robot:s3cr3tpass@chat.example/x",
        );
        assert!(!r.contains("s3cr3tpass"), "{r}");
        let r = redact_target(
            "550 <annabelle@example.com> rejected",
            "annabelle@example.com",
        );
        assert!(!r.contains("annabelle"), "{r}");
        let r = redact_target("21211 invalid To +86 138 0000 0000", "+8613800000000");
        assert_eq!(
            r, "21211 invalid To +86 138 0000 0000",
            "digits apart stay; short parts too"
        );
        assert_eq!(
            redact_target("to +8613800000000", "+8613800000000"),
            "to ***"
        );
    }

    fn m() -> Message {
        Message {
            event: "incident_created".into(),
            subject: "P1 INC1".into(),
            body: "db down".into(),
            incident: None,
            link: None,
            actions: vec![],
        }
    }

    #[test]
    fn an_incident_message_carries_its_fields_and_description() {
        let mut f = facts();
        f.description = "disk /var at 97%".into();
        let msg = Template::IncidentCreated.render(&f, "rule");
        assert!(msg.body.ends_with("disk /var at 97%"), "{}", msg.body);
        let v = render("webhook", &msg, 5).unwrap();
        assert_eq!(v["incident"]["id"], "inc-1");
        assert_eq!(v["incident"]["number"], f.number.as_str());
        assert_eq!(v["incident"]["level"], f.level.as_str());
        assert_eq!(v["incident"]["description"], "disk /var at 97%");
        let plain = render("webhook", &m(), 5).unwrap();
        assert!(plain.get("incident").is_none(), "{plain}");
        // With the console's address: a link under every text, and the
        // webhook's `incident.url`.
        let linked = Message {
            link: Some("https://coc.example/console/incidents/inc-1".into()),
            ..msg
        };
        let v = render("webhook", &linked, 5).unwrap();
        assert_eq!(
            v["incident"]["url"],
            "https://coc.example/console/incidents/inc-1"
        );
        for ch in ["slack", "email", "sms"] {
            let out = render(ch, &linked, 5).unwrap().to_string();
            assert!(
                out.contains("Open: https://coc.example/console/incidents/inc-1"),
                "{ch}: {out}"
            );
        }
    }

    #[test]
    fn formats() {
        assert_eq!(
            render("wecom", &m(), 0).unwrap()["text"]["content"],
            "P1 INC1\ndb down"
        );
        assert_eq!(render("dingtalk", &m(), 0).unwrap()["msgtype"], "text");
        assert_eq!(
            render("feishu", &m(), 0).unwrap()["content"]["text"],
            "P1 INC1\ndb down"
        );
        assert_eq!(
            render("slack", &m(), 0).unwrap()["text"],
            "P1 INC1\ndb down"
        );
        assert_eq!(render("webhook", &m(), 5).unwrap()["sent_at"], 5);
        assert!(render("pager", &m(), 0).is_err());
    }

    #[test]
    fn signature_round_trip() {
        let s = sign(b"k", b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert!(verify(b"k", b"{}", &s));
        assert!(!verify(b"other", b"{}", &s));
        assert!(!verify(b"k", b"{ }", &s));
        assert!(!verify(b"k", b"{}", "sha1=00"));
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn facts() -> IncidentFacts {
        IncidentFacts {
            id: "inc-1".into(),
            description: String::new(),
            number: "INC1".into(),
            title: "db down".into(),
            level: "P2".into(),
            category: Some("database".into()),
            source: "forwarding_rule".into(),
            application: Some("shop".into()),
            region: Some("r1".into()),
            assignee: "ann".into(),
            rule_id: None,
        }
    }

    fn rule() -> NotificationRule {
        serde_json::from_value(serde_json::json!({
            "name": "n", "templates": ["incident_created"],
            "recipients": [{"type": "individual", "users": ["ann"]}], "channels": ["email"]
        }))
        .unwrap()
    }

    #[test]
    fn empty_matchers_match_anything_and_sets_restrict() {
        let r = rule();
        r.validate().unwrap();
        assert!(r.matches(Template::IncidentCreated, &facts()));
        assert!(!r.matches(Template::IncidentClosed, &facts()));
        let mut r2 = r.clone();
        r2.levels = vec!["P1".into()];
        assert!(!r2.matches(Template::IncidentCreated, &facts()));
        r2.levels.push("P2".into());
        assert!(r2.matches(Template::IncidentCreated, &facts()));
        r2.regions = vec!["r2".into()];
        assert!(!r2.matches(Template::IncidentCreated, &facts()));
        let mut no_region = facts();
        no_region.region = None;
        assert!(
            !r2.matches(Template::IncidentCreated, &no_region),
            "a set matcher needs a value"
        );
        let mut r3 = r.clone();
        r3.applications = vec!["erp".into()];
        assert!(!r3.matches(Template::IncidentCreated, &facts()));
        r3.applications = vec!["shop".into()];
        r3.sources = vec!["manual".into()];
        assert!(!r3.matches(Template::IncidentCreated, &facts()));
        r3.categories = vec!["database".into()];
        r3.sources = vec!["forwarding_rule".into()];
        assert!(r3.matches(Template::IncidentCreated, &facts()));
    }

    #[test]
    fn rule_validation() {
        let mut r = rule();
        r.channels = vec!["pager".into()];
        assert!(r.validate().unwrap_err().to_string().contains("pager"));
        let mut r = rule();
        r.levels = vec!["P9".into()];
        assert!(r.validate().is_err());
        let mut r = rule();
        r.recipients.clear();
        assert!(r.validate().is_err());
        let mut r = rule();
        r.templates.clear();
        assert!(r.validate().is_err());
        let mut r = rule();
        r.channels = vec!["sms".into(), "sms".into()];
        assert!(r.validate().is_err());
        assert!(
            serde_json::from_value::<NotificationRule>(serde_json::json!({
                "name": "n", "templates": ["incident_exploded"], "recipients": [], "channels": []
            }))
            .is_err()
        );
    }

    #[test]
    fn templates_follow_the_incident_changes() {
        use Template as T;
        let t = |a, f, to| T::for_change(a, f, to);
        assert_eq!(
            t("create", None, Some("unaccepted")),
            Some(T::IncidentCreated)
        );
        assert_eq!(
            t("reject", Some("unaccepted"), Some("rejected")),
            Some(T::IncidentRejected)
        );
        assert_eq!(
            t("forward", Some("accepted"), Some("unaccepted")),
            Some(T::IncidentForwarded)
        );
        assert_eq!(
            t("resolve", Some("accepted"), Some("to_be_verified")),
            Some(T::IncidentToBeVerified)
        );
        assert_eq!(
            t("verify", Some("to_be_verified"), Some("accepted")),
            Some(T::IncidentVerificationFailed)
        );
        assert_eq!(
            t("verify", Some("to_be_verified"), Some("completed")),
            Some(T::IncidentCompleted)
        );
        assert_eq!(
            t("close", Some("rejected"), Some("closed")),
            Some(T::IncidentClosed)
        );
        assert_eq!(t("accept", Some("unaccepted"), Some("accepted")), None);
        assert_eq!(t("remark", Some("accepted"), Some("accepted")), None);
        for x in T::ALL {
            assert_eq!(T::parse(x.as_str()).unwrap(), x);
            let m = x.render(&facts(), "bob");
            assert!(
                m.subject.contains("INC1") && m.subject.contains("[P2]"),
                "{}",
                m.subject
            );
            assert!(m.body.contains("bob") && m.body.contains("shop"));
            assert_eq!(m.event, x.as_str());
        }
    }

    #[test]
    fn dedup_keeps_one_per_person_and_channel() {
        let p = |a: &str, c: &str| (a.to_string(), c.to_string());
        assert_eq!(
            dedup([
                p("ann", "email"),
                p("bob", "email"),
                p("ann", "email"),
                p("ann", "sms")
            ]),
            vec![p("ann", "email"), p("bob", "email"), p("ann", "sms")]
        );
    }

    #[test]
    fn backoff() {
        let d: Vec<i64> = (1..=12).map(retry_delay_ms).collect();
        assert_eq!(&d[..4], &[1000, 2000, 4000, 8000]);
        assert!(d.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*d.last().unwrap(), 300_000);
    }
}
