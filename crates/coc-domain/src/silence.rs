//! Silences and maintenance windows (M3, ref. landscape "alarm
//! convergence"; the matcher language of Alertmanager).
//!
//! A silence is a set of label [`Matcher`]s (`=`, `!=`, `=~`, `!~`), a
//! start and an end (Unix ms UTC), a creator and a comment. A maintenance
//! window is a silence with a [`Weekly`] recurrence: between its start and
//! end it is in force only on the chosen weekdays between two local times
//! of a zone. An alarm whose labels match every matcher of a silence in
//! force is *silenced*: it is stored and marked, and it opens no incident
//! and sends no notification.
//!
//! Regular expressions are anchored at both ends, as in Alertmanager
//! (`job=~"node|api"` matches `node`, not `node2`). A label the alarm
//! lacks has the value `""`.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveTime, Timelike};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::alarm::NormalizedAlarm;
use crate::error::{DomainError, invalid};

/// Most matchers of one silence.
pub const MAX_MATCHERS: usize = 32;
/// Longest matcher value or regular expression, bytes.
pub const MAX_MATCHER_VALUE: usize = 1024;
/// Longest comment, characters.
pub const MAX_COMMENT: usize = 1000;
/// Largest compiled regular expression, bytes (regex crate size limit).
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// How a matcher compares a label value (written out rather than by
/// `stored_enum!`, so the API schema carries the operators themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MatchOp {
    /// `=`: equal.
    #[serde(rename = "=")]
    Equal,
    /// `!=`: not equal.
    #[serde(rename = "!=")]
    NotEqual,
    /// `=~`: the whole value matches the regular expression.
    #[serde(rename = "=~")]
    Regex,
    /// `!~`: the whole value does not match the regular expression.
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    /// The operator as written (`=`, `!=`, `=~`, `!~`).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher, `name op value` (`alertname="DiskFull"`,
/// `instance=~"web-.*"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison: `=`, `!=`, `=~` or `!~`.
    pub op: MatchOp,
    /// Value, or the regular expression for `=~`/`!~`.
    pub value: String,
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.name,
            self.op.as_str(),
            serde_json::Value::String(self.value.clone())
        )
    }
}

impl Matcher {
    /// Parses the Alertmanager text form: `name=value`, `name="value"`,
    /// `name!~"a|b"` (a quoted value takes `\"`, `\\` and `\n` escapes).
    ///
    /// Errors: [`DomainError::Validation`] for a missing operator, a bad
    /// label name, an unterminated quote, or a regular expression that
    /// does not compile.
    pub fn parse(text: &str) -> Result<Matcher, DomainError> {
        let s = text.trim();
        let end = s
            .find(['=', '!'])
            .ok_or_else(|| invalid(format!("matcher '{text}' has no operator (=, !=, =~, !~)")))?;
        let name = s[..end].trim().trim_matches('"').to_string();
        let rest = &s[end..];
        let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
            (MatchOp::Regex, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (MatchOp::Equal, v)
        } else {
            return Err(invalid(format!(
                "matcher '{text}' has no operator (=, !=, =~, !~)"
            )));
        };
        let value = unquote(value.trim())
            .ok_or_else(|| invalid(format!("matcher '{text}': unterminated quoted value")))?;
        let m = Matcher { name, op, value };
        m.validate()?;
        Ok(m)
    }

    /// Parses a list: `{a="b", c=~"d"}` or `a=b,c=~d` (commas inside
    /// quoted values are kept). An empty text is an empty list.
    ///
    /// Errors: as [`Matcher::parse`] for any item.
    pub fn parse_list(text: &str) -> Result<Vec<Matcher>, DomainError> {
        let s = text.trim();
        let s = s
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(s);
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut escaped = false;
        for c in s.chars() {
            if escaped {
                escaped = false;
            } else if c == '\\' && quoted {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
            } else if c == ',' && !quoted {
                if !cur.trim().is_empty() {
                    out.push(Matcher::parse(&cur)?);
                }
                cur.clear();
                continue;
            }
            cur.push(c);
        }
        if !cur.trim().is_empty() {
            out.push(Matcher::parse(&cur)?);
        }
        Ok(out)
    }

    /// Checks the name (`[A-Za-z_][A-Za-z0-9_]*`, ≤ 256 bytes), the value
    /// length (≤ [`MAX_MATCHER_VALUE`]) and that a regular expression
    /// compiles.
    ///
    /// Errors: [`DomainError::Validation`] naming the matcher.
    pub fn validate(&self) -> Result<(), DomainError> {
        let ok_name =
            !self.name.is_empty()
                && self.name.len() <= crate::alarm::MAX_NAME_LEN
                && self.name.chars().enumerate().all(|(i, c)| {
                    c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
                });
        if !ok_name {
            return Err(invalid(format!(
                "'{}' is not a label name (letters, digits and _, not starting with a digit)",
                self.name
            )));
        }
        if self.value.len() > MAX_MATCHER_VALUE {
            return Err(invalid(format!(
                "the value of matcher '{}' is {} bytes; at most {MAX_MATCHER_VALUE} are accepted",
                self.name,
                self.value.len()
            )));
        }
        self.compile().map(|_| ())
    }

    /// The matcher ready to test label sets.
    ///
    /// Errors: [`DomainError::Validation`] for a regular expression that
    /// does not compile.
    pub fn compile(&self) -> Result<Compiled, DomainError> {
        let pred = match self.op {
            MatchOp::Equal => Pred::Eq(self.value.clone()),
            MatchOp::NotEqual => Pred::Ne(self.value.clone()),
            MatchOp::Regex | MatchOp::NotRegex => {
                let re = regex::RegexBuilder::new(&format!("^(?:{})$", self.value))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        invalid(format!(
                            "matcher '{}': '{}' is not a regular expression: {}",
                            self.name,
                            self.value,
                            e.to_string().lines().last().unwrap_or("")
                        ))
                    })?;
                if self.op == MatchOp::Regex {
                    Pred::Re(re)
                } else {
                    Pred::NotRe(re)
                }
            }
        };
        Ok(Compiled {
            name: self.name.clone(),
            pred,
        })
    }
}

/// Unquotes `"…"` (with `\"`, `\\`, `\n`); an unquoted text is kept as is.
/// `None` for an unterminated quote.
fn unquote(s: &str) -> Option<String> {
    let Some(inner) = s.strip_prefix('"') else {
        return Some(s.to_string());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                o => out.push(o),
            },
            '"' => return chars.as_str().trim().is_empty().then_some(out),
            o => out.push(o),
        }
    }
    None
}

#[derive(Debug, Clone)]
enum Pred {
    Eq(String),
    Ne(String),
    Re(Regex),
    NotRe(Regex),
}

/// A compiled [`Matcher`].
#[derive(Debug, Clone)]
pub struct Compiled {
    name: String,
    pred: Pred,
}

impl Compiled {
    /// Whether the label set satisfies the matcher (a missing label is `""`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        match &self.pred {
            Pred::Eq(x) => v == x,
            Pred::Ne(x) => v != x,
            Pred::Re(r) => r.is_match(v),
            Pred::NotRe(r) => !r.is_match(v),
        }
    }
}

/// The label set silences and inhibition rules see for an alarm: its own
/// labels, plus `alertname`, `severity`, `resource_name`, `application`,
/// `region` and `namespace` from its fields where the labels lack them (so a
/// generic alarm can be silenced by name and resource too).
pub fn alarm_labels(a: &NormalizedAlarm) -> BTreeMap<String, String> {
    with_fields(
        a.labels.clone(),
        [
            ("alertname", Some(&a.alarm_name)),
            ("severity", Some(a.alarm_level.as_str())),
            ("resource_name", a.resource_name.as_deref()),
            ("application", a.application.as_deref()),
            ("region", a.region.as_deref()),
            ("namespace", a.namespace.as_deref()),
        ],
    )
}

/// `labels` with each `(name, value)` of `fields` added where the labels
/// lack that name (see [`alarm_labels`]; a stored alarm's fields are given
/// the same way).
pub fn with_fields(
    mut labels: BTreeMap<String, String>,
    fields: [(&str, Option<&str>); 6],
) -> BTreeMap<String, String> {
    for (k, v) in fields {
        if let Some(v) = v
            && !labels.contains_key(k)
        {
            labels.insert(k.to_string(), v.to_string());
        }
    }
    labels
}

/// A weekly maintenance window: in force on `days` from `start` to `end`
/// local time in `tz`. An `end` at or before `start` runs past midnight
/// into the next day (`22:00`–`02:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weekly {
    /// Weekdays the window opens on: `mon` … `sun`.
    #[serde(default)]
    pub days: Vec<String>,
    /// Opening time, `HH:MM` local.
    #[serde(default)]
    pub start: String,
    /// Closing time, `HH:MM` local.
    #[serde(default)]
    pub end: String,
    /// IANA time zone (`Europe/Berlin`); `UTC` when empty.
    #[serde(default)]
    pub tz: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn hhmm(s: &str, what: &str) -> Result<u32, DomainError> {
    let t = NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| invalid(format!("the window's {what} '{s}' is not HH:MM")))?;
    Ok(t.hour() * 60 + t.minute())
}

impl Weekly {
    fn zone(&self) -> Result<Tz, DomainError> {
        if self.tz.trim().is_empty() {
            return Ok(Tz::UTC);
        }
        self.tz
            .trim()
            .parse::<Tz>()
            .map_err(|_| invalid(format!("'{}' is not a time zone", self.tz)))
    }

    fn day_index(d: &str) -> Option<usize> {
        let d = d.trim().to_ascii_lowercase();
        DAYS.iter().position(|x| d.starts_with(x))
    }

    /// Checks days (at least one of `mon`…`sun`, full names accepted),
    /// times and the zone.
    ///
    /// Errors: [`DomainError::Validation`] naming the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.days.is_empty() {
            return Err(invalid("a weekly window needs at least one day"));
        }
        for d in &self.days {
            Weekly::day_index(d)
                .ok_or_else(|| invalid(format!("'{d}' is not a weekday (mon … sun)")))?;
        }
        hhmm(&self.start, "start")?;
        hhmm(&self.end, "end")?;
        self.zone()?;
        Ok(())
    }

    /// Whether the window is open at `now` (Unix ms UTC). An invalid
    /// window is never open.
    pub fn open_at(&self, now: i64) -> bool {
        let (Ok(tz), Ok(start), Ok(end)) = (
            self.zone(),
            hhmm(&self.start, "start"),
            hhmm(&self.end, "end"),
        ) else {
            return false;
        };
        let Some(utc) = chrono::DateTime::from_timestamp_millis(now) else {
            return false;
        };
        let local = utc.with_timezone(&tz);
        let day = local.weekday().num_days_from_monday() as usize;
        let minute = local.hour() * 60 + local.minute();
        let on = |d: usize| self.days.iter().any(|x| Weekly::day_index(x) == Some(d));
        if end > start {
            on(day) && minute >= start && minute < end
        } else {
            (on(day) && minute >= start) || (on((day + 6) % 7) && minute < end)
        }
    }
}

/// What a user gives to create or replace a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceSpec {
    /// Label matchers; an alarm must satisfy all of them.
    pub matchers: Vec<Matcher>,
    /// Start, Unix ms UTC.
    pub starts_at: i64,
    /// End, Unix ms UTC (after the start).
    pub ends_at: i64,
    /// Why (shown to everyone who sees a silenced alarm).
    pub comment: String,
    /// A maintenance window: in force only in these weekly hours between
    /// the start and the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<Weekly>,
}

/// Where a silence is in its life, at a given time (Alertmanager's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Its start is still ahead.
    Pending,
    /// Between its start and its end.
    Active,
    /// Its end has passed (or it was expired).
    Expired,
}

impl SilenceState {
    /// The state's name (`pending`, `active`, `expired`).
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl SilenceSpec {
    /// Checks a silence before it is stored at `now`: 1..=[`MAX_MATCHERS`]
    /// valid matchers, at least one of which does not match an empty value
    /// (a silence must not catch every alarm), an end after the start and
    /// after `now`, a comment of 1..=[`MAX_COMMENT`] characters, and a valid
    /// weekly window.
    ///
    /// Errors: [`DomainError::Validation`] naming the field.
    pub fn validate(&self, now: i64) -> Result<(), DomainError> {
        if self.matchers.is_empty() {
            return Err(invalid("a silence needs at least one matcher"));
        }
        if self.matchers.len() > MAX_MATCHERS {
            return Err(invalid(format!(
                "a silence has at most {MAX_MATCHERS} matchers"
            )));
        }
        let empty = BTreeMap::new();
        let mut all_match_empty = true;
        for m in &self.matchers {
            m.validate()?;
            if !m.compile()?.matches(&empty) {
                all_match_empty = false;
            }
        }
        if all_match_empty {
            return Err(invalid(
                "at least one matcher must not match an empty value (this silence would catch every alarm)",
            ));
        }
        if self.ends_at <= self.starts_at {
            return Err(invalid("ends_at must be after starts_at"));
        }
        if self.ends_at <= now {
            return Err(invalid("ends_at is in the past"));
        }
        let c = self.comment.trim().chars().count();
        if c == 0 || c > MAX_COMMENT {
            return Err(invalid(format!(
                "comment must be 1..={MAX_COMMENT} characters"
            )));
        }
        if let Some(w) = &self.weekly {
            w.validate()?;
        }
        Ok(())
    }

    /// The state at `now`.
    pub fn state(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether it mutes alarms at `now`: active and, for a maintenance
    /// window, inside its weekly hours.
    pub fn in_force(&self, now: i64) -> bool {
        self.state(now) == SilenceState::Active
            && self.weekly.as_ref().is_none_or(|w| w.open_at(now))
    }

    /// The times to store when it is expired at `now`: a pending silence
    /// ends before it starts (both at `now`), an active one ends at `now`.
    ///
    /// Errors: [`DomainError::InvalidTransition`] when already expired.
    pub fn expire(&self, now: i64) -> Result<(i64, i64), DomainError> {
        match self.state(now) {
            SilenceState::Expired => Err(DomainError::InvalidTransition(
                "the silence has already expired".into(),
            )),
            SilenceState::Pending => Ok((now, now)),
            SilenceState::Active => Ok((self.starts_at, now)),
        }
    }
}

/// A matcher as a form or a client gives it: the text form
/// (`alertname="Disk"`) or the parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MatcherInput {
    /// `name op value`, parsed by [`Matcher::parse`].
    Text(String),
    /// The parts.
    Parts(Matcher),
}

/// A new silence as a person gives it: matchers, an optional start (now
/// when absent), an end or a duration, a comment and an optional weekly
/// window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceInput {
    /// Matchers (text or parts); an alarm must satisfy all of them.
    pub matchers: Vec<MatcherInput>,
    /// Start, Unix ms UTC; now when absent.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// End, Unix ms UTC; or give `duration_minutes`.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Length from the start, minutes (when `ends_at` is absent).
    #[serde(default)]
    pub duration_minutes: Option<i64>,
    /// Why.
    pub comment: String,
    /// Weekly hours of a maintenance window.
    #[serde(default)]
    pub weekly: Option<Weekly>,
}

/// Parses matchers as given (text or parts), validated.
///
/// Errors: [`DomainError::Validation`] for a bad matcher.
pub fn parse_inputs(items: &[MatcherInput]) -> Result<Vec<Matcher>, DomainError> {
    items
        .iter()
        .map(|m| match m {
            MatcherInput::Text(t) => Matcher::parse(t),
            MatcherInput::Parts(m) => m.validate().map(|_| m.clone()),
        })
        .collect()
}

impl SilenceInput {
    /// The silence it describes at `now`, validated
    /// ([`SilenceSpec::validate`]).
    ///
    /// Errors: [`DomainError::Validation`] for a bad matcher, neither or
    /// both of `ends_at` and `duration_minutes`, or an invalid silence.
    pub fn resolve(&self, now: i64) -> Result<SilenceSpec, DomainError> {
        let matchers = parse_inputs(&self.matchers)?;
        let starts_at = self.starts_at.unwrap_or(now);
        let ends_at = match (self.ends_at, self.duration_minutes) {
            (Some(e), None) => e,
            (None, Some(d)) if d > 0 => starts_at.saturating_add(d.saturating_mul(60_000)),
            (None, Some(_)) => return Err(invalid("duration_minutes must be positive")),
            _ => return Err(invalid("give either ends_at or duration_minutes")),
        };
        let spec = SilenceSpec {
            matchers,
            starts_at,
            ends_at,
            comment: self.comment.clone(),
            weekly: self.weekly.clone().filter(|w| !w.days.is_empty()),
        };
        spec.validate(now)?;
        Ok(spec)
    }
}

/// A matcher of the Alertmanager API v2 (`isRegex`, `isEqual`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmMatcher {
    /// Label name.
    pub name: String,
    /// Value or regular expression.
    pub value: String,
    /// A regular expression.
    pub is_regex: bool,
    /// Equal (`=`, `=~`) rather than not equal (`!=`, `!~`); true when absent.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl From<&Matcher> for AmMatcher {
    fn from(m: &Matcher) -> Self {
        AmMatcher {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
            is_equal: matches!(m.op, MatchOp::Equal | MatchOp::Regex),
        }
    }
}

impl From<&AmMatcher> for Matcher {
    fn from(m: &AmMatcher) -> Self {
        let op = match (m.is_regex, m.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher {
            name: m.name.clone(),
            op,
            value: m.value.clone(),
        }
    }
}

/// `POST /api/v2/silences` of the Alertmanager API (what `amtool silence
/// add` sends); with an `id` it replaces that silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    /// The silence to replace.
    #[serde(default)]
    pub id: Option<String>,
    /// Matchers.
    pub matchers: Vec<AmMatcher>,
    /// Start, RFC 3339.
    pub starts_at: String,
    /// End, RFC 3339.
    pub ends_at: String,
    /// Creator.
    pub created_by: String,
    /// Comment.
    pub comment: String,
}

impl PostableSilence {
    /// The silence it describes at `now` (a start in the past becomes
    /// `now`, as in Alertmanager), validated.
    ///
    /// Errors: [`DomainError::Validation`] for a bad time, an empty
    /// creator, or an invalid silence.
    pub fn to_spec(&self, now: i64) -> Result<SilenceSpec, DomainError> {
        if self.created_by.trim().is_empty() {
            return Err(invalid("createdBy is required"));
        }
        let spec = SilenceSpec {
            matchers: self.matchers.iter().map(Matcher::from).collect(),
            starts_at: parse_time(&self.starts_at, "startsAt")?.max(now),
            ends_at: parse_time(&self.ends_at, "endsAt")?,
            comment: self.comment.clone(),
            weekly: None,
        };
        spec.validate(now)?;
        Ok(spec)
    }
}

/// Parses an RFC 3339 time to Unix ms.
///
/// Errors: [`DomainError::Validation`] naming `field`.
pub fn parse_time(s: &str, field: &str) -> Result<i64, DomainError> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| invalid(format!("{field} '{s}' is not an RFC 3339 time")))
}

/// Unix ms as RFC 3339 UTC with milliseconds (`2026-11-28T22:00:00.000Z`).
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Silences compiled once, to test many alarms (one ingest group).
#[derive(Debug, Clone, Default)]
pub struct SilenceSet {
    items: Vec<(String, std::sync::Arc<Vec<Compiled>>)>,
}

/// Compiles every matcher of a list.
///
/// Errors: [`DomainError::Validation`] for one that does not compile.
pub fn compile_all(matchers: &[Matcher]) -> Result<Vec<Compiled>, DomainError> {
    matchers.iter().map(Matcher::compile).collect()
}

impl SilenceSet {
    /// Compiles the silences of `(id, spec)` in force at `now`; others,
    /// and any that no longer compiles, are left out.
    pub fn in_force<'a>(
        silences: impl IntoIterator<Item = (&'a str, &'a SilenceSpec)>,
        now: i64,
    ) -> SilenceSet {
        SilenceSet::in_force_with(silences, now, |_, s| {
            compile_all(&s.matchers).ok().map(std::sync::Arc::new)
        })
    }

    /// As [`SilenceSet::in_force`], with the matchers of each silence in
    /// force compiled by `compiled` (which may keep them from an earlier
    /// call; `None` leaves the silence out).
    pub fn in_force_with<'a>(
        silences: impl IntoIterator<Item = (&'a str, &'a SilenceSpec)>,
        now: i64,
        mut compiled: impl FnMut(&str, &SilenceSpec) -> Option<std::sync::Arc<Vec<Compiled>>>,
    ) -> SilenceSet {
        let items = silences
            .into_iter()
            .filter(|(_, s)| s.in_force(now))
            .filter_map(|(id, s)| compiled(id, s).map(|c| (id.to_string(), c)))
            .collect();
        SilenceSet { items }
    }

    /// Whether no silence is in force.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The ids of the silences muting this label set, in the set's order.
    pub fn muting(&self, labels: &BTreeMap<String, String>) -> Vec<&str> {
        self.items
            .iter()
            .filter(|(_, ms)| ms.iter().all(|m| m.matches(labels)))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// Whether every matcher holds for `labels` (an empty list holds for all):
/// the filter of Alertmanager's `GET /api/v2/alerts?filter=…`.
///
/// Errors: [`DomainError::Validation`] for a matcher that does not compile.
pub fn all_match(
    matchers: &[Matcher],
    labels: &BTreeMap<String, String>,
) -> Result<bool, DomainError> {
    for m in matchers {
        if !m.compile()?.matches(labels) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn spec(m: &str, starts: i64, ends: i64) -> SilenceSpec {
        SilenceSpec {
            matchers: Matcher::parse_list(m).unwrap(),
            starts_at: starts,
            ends_at: ends,
            comment: "maintenance".into(),
            weekly: None,
        }
    }

    #[test]
    fn parses_the_alertmanager_forms() {
        let m = Matcher::parse(r#"alertname="Disk \"full\"""#).unwrap();
        assert_eq!(m.op, MatchOp::Equal);
        assert_eq!(m.value, "Disk \"full\"");
        assert_eq!(Matcher::parse("job=~node|api").unwrap().op, MatchOp::Regex);
        assert_eq!(Matcher::parse("job!~x").unwrap().op, MatchOp::NotRegex);
        assert_eq!(Matcher::parse("job!=x").unwrap().op, MatchOp::NotEqual);
        let l = Matcher::parse_list(r#"{alertname="A,B", job=~"n.*"}"#).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].value, "A,B");
        assert_eq!(l[1].to_string(), r#"job=~"n.*""#);
        assert!(Matcher::parse("nooperator").is_err());
        assert!(Matcher::parse("1bad=x").is_err());
        assert!(Matcher::parse("a=~(").is_err());
        assert!(Matcher::parse(r#"a="open"#).is_err());
    }

    #[test]
    fn regex_is_anchored_and_missing_labels_are_empty() {
        let m = Matcher::parse("job=~node|api").unwrap().compile().unwrap();
        assert!(m.matches(&labels(&[("job", "node")])));
        assert!(!m.matches(&labels(&[("job", "node2")])));
        let ne = Matcher::parse("team!=db").unwrap().compile().unwrap();
        assert!(ne.matches(&labels(&[])));
        let empty = Matcher::parse(r#"team="""#).unwrap().compile().unwrap();
        assert!(empty.matches(&labels(&[("job", "x")])));
        assert!(!empty.matches(&labels(&[("team", "x")])));
    }

    #[test]
    fn validation_refuses_silences_that_catch_everything_or_are_over() {
        assert!(spec("team!=db", 0, 10).validate(0).is_err());
        assert!(spec("a=~.*", 0, 10).validate(0).is_err());
        assert!(spec("a=b", 0, 10).validate(0).is_ok());
        assert!(spec("a=b", 10, 10).validate(0).is_err());
        assert!(spec("a=b", 0, 10).validate(10).is_err());
        let mut s = spec("a=b", 0, 10);
        s.comment = "  ".into();
        assert!(s.validate(0).is_err());
    }

    #[test]
    fn states_and_expiry() {
        let s = spec("a=b", 100, 200);
        assert_eq!(s.state(50), SilenceState::Pending);
        assert_eq!(s.state(100), SilenceState::Active);
        assert_eq!(s.state(200), SilenceState::Expired);
        assert_eq!(s.expire(50).unwrap(), (50, 50));
        assert_eq!(s.expire(150).unwrap(), (100, 150));
        assert!(s.expire(250).is_err());
        assert!(!s.in_force(50) && s.in_force(150) && !s.in_force(200));
    }

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn weekly_window_in_a_zone_across_midnight_and_dst() {
        let w = Weekly {
            days: vec!["sat".into()],
            start: "22:00".into(),
            end: "02:00".into(),
            tz: "Europe/Berlin".into(),
        };
        w.validate().unwrap();
        // Saturday 2026-03-28 22:30 Berlin = 21:30 UTC (CET).
        assert!(w.open_at(at("2026-03-28T21:30:00Z")));
        // Sunday 01:30 Berlin (still CET before the 02:00 switch) = 00:30 UTC.
        assert!(w.open_at(at("2026-03-29T00:30:00Z")));
        // Sunday 03:30 CEST = 01:30 UTC: closed.
        assert!(!w.open_at(at("2026-03-29T01:30:00Z")));
        // Saturday 21:30 Berlin: before the window.
        assert!(!w.open_at(at("2026-03-28T20:30:00Z")));
        // Friday night is not in the window.
        assert!(!w.open_at(at("2026-03-27T22:30:00Z")));
        let mut s = spec("a=b", 0, at("2027-01-01T00:00:00Z"));
        s.weekly = Some(w);
        assert!(s.in_force(at("2026-03-28T21:30:00Z")));
        assert!(!s.in_force(at("2026-03-27T21:30:00Z")));
        let bad = Weekly {
            days: vec!["someday".into()],
            start: "25:00".into(),
            end: "x".into(),
            tz: "Mars/Base".into(),
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn alarm_labels_fill_in_fields() {
        let a = crate::alarm::from_labels(
            labels(&[("alertname", "Disk"), ("instance", "web-1:9100")]),
            BTreeMap::new(),
            crate::alarm::AlarmStatus::Alarm,
            0,
            None,
            "Prometheus",
        )
        .unwrap();
        let l = alarm_labels(&a);
        assert_eq!(l["alertname"], "Disk");
        assert_eq!(l["resource_name"], "web-1:9100");
        assert!(l.contains_key("severity"));
    }

    #[test]
    fn input_takes_text_or_parts_and_a_duration() {
        let i: SilenceInput = serde_json::from_value(serde_json::json!({
            "matchers": ["alertname=Disk", {"name": "job", "op": "=~", "value": "node.*"}],
            "duration_minutes": 60,
            "comment": "disk swap"
        }))
        .unwrap();
        let s = i.resolve(1000).unwrap();
        assert_eq!((s.starts_at, s.ends_at), (1000, 1000 + 3_600_000));
        assert_eq!(s.matchers[1].op, MatchOp::Regex);
        let mut both = i.clone();
        both.ends_at = Some(5000);
        assert!(both.resolve(1000).is_err());
        let mut neither = i;
        neither.duration_minutes = None;
        assert!(neither.resolve(1000).is_err());
    }

    #[test]
    fn alertmanager_matchers_round_trip() {
        for t in ["a=b", "a!=b", "a=~b.*", "a!~b"] {
            let m = Matcher::parse(t).unwrap();
            assert_eq!(Matcher::from(&AmMatcher::from(&m)), m);
        }
        let p: PostableSilence = serde_json::from_value(serde_json::json!({
            "matchers": [{"name": "alertname", "value": "Disk", "isRegex": false}],
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "2026-01-01T02:00:00.000Z",
            "createdBy": "ops",
            "comment": "swap"
        }))
        .unwrap();
        let now = parse_time("2026-01-01T01:00:00Z", "t").unwrap();
        let s = p.to_spec(now).unwrap();
        assert_eq!(s.starts_at, now);
        assert_eq!(s.matchers[0].op, MatchOp::Equal);
        assert_eq!(format_time(s.ends_at), "2026-01-01T02:00:00.000Z");
        let mut bad = p;
        bad.created_by = "".into();
        assert!(bad.to_spec(now).is_err());
    }

    proptest! {
        /// The silences muting an alarm do not depend on the order the
        /// silences were created in (as a set), nor on the order alarms
        /// arrive in.
        #[test]
        fn muting_is_order_independent(
            values in proptest::collection::vec("[ab]{1,2}", 1..6),
            alarms in proptest::collection::vec("[ab]{1,2}", 1..10),
        ) {
            let specs: Vec<(String, SilenceSpec)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("s{i}"), spec(&format!("job=~\"{v}.*\""), 0, 100)))
                .collect();
            let fwd = SilenceSet::in_force(specs.iter().map(|(i, s)| (i.as_str(), s)), 50);
            let rev = SilenceSet::in_force(specs.iter().rev().map(|(i, s)| (i.as_str(), s)), 50);
            let outcome = |set: &SilenceSet, order: &mut dyn Iterator<Item = &String>| {
                let mut r: Vec<(String, Vec<String>)> = order
                    .map(|a| {
                        let mut ids: Vec<String> =
                            set.muting(&labels(&[("job", a)])).into_iter().map(String::from).collect();
                        ids.sort();
                        (a.clone(), ids)
                    })
                    .collect();
                r.sort();
                r
            };
            prop_assert_eq!(
                outcome(&fwd, &mut alarms.iter()),
                outcome(&rev, &mut alarms.iter().rev())
            );
        }
    }
}
