//! SLA management (O5, ref. 11.5): which SLA governs a ticket, how long a
//! ticket has been in a status within the SLA's effective time, and when
//! it pre-warns and breaks.
//!
//! An SLA has a trigger type (incident, alarm, to-do), levels,
//! applications ("some" or all), one rule per status type with a target
//! (≤ 7 days), an optional pre-warning before the target, notification
//! objects and channels, and an effective time: 7×24 or weekly windows in
//! an IANA zone. Only durations inside the effective time count.
//!
//! Priority when several enabled SLAs match a ticket: custom over common,
//! then some applications over all applications, then by name. Custom SLAs
//! of the same trigger whose levels overlap and whose application scope is
//! the same kind (both all, or both some with an application in common)
//! cannot coexist.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use crate::notify::{Recipient, validate_channels, validate_recipients};
use crate::oncall::{resolve, weekday_index};

/// Longest SLA target: 7 days, in minutes.
pub const MAX_TARGET_MIN: u32 = 7 * 24 * 60;

/// What kind of ticket an SLA governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = SlaTrigger)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Incident tickets (levels P1–P5).
    Incident,
    /// Alarms (levels Critical, Major, Minor, Suggestion).
    Alarm,
    /// To-do tasks (levels Critical, Major, Minor, Suggestion).
    Todo,
}

impl Trigger {
    /// `incident`, `alarm`, `todo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Incident => "incident",
            Trigger::Alarm => "alarm",
            Trigger::Todo => "todo",
        }
    }

    /// Status types an SLA rule can target: incident `unaccepted` (not
    /// yet accepted), `accepted` (processing), `to_be_verified`; alarm
    /// `alarm` (in alarm); to-do `pending`, `processing`.
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Trigger::Incident => &["unaccepted", "accepted", "to_be_verified"],
            Trigger::Alarm => &["alarm"],
            Trigger::Todo => &["pending", "processing"],
        }
    }

    /// Levels of this trigger's tickets.
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Trigger::Incident => &["P1", "P2", "P3", "P4", "P5"],
            _ => &["Critical", "Major", "Minor", "Suggestion"],
        }
    }
}

/// The rule of one status type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    /// Status type (see [`Trigger::statuses`]).
    pub status: String,
    /// Target: the longest time in the status, minutes (1..=10080).
    pub target_minutes: u32,
    /// Pre-warn this many minutes before the target (less than it).
    #[serde(default)]
    pub prewarn_minutes: Option<u32>,
    /// Notification objects; default: the ticket owner.
    #[serde(default = "owner")]
    pub recipients: Vec<Recipient>,
    /// Channels; empty: no notification.
    #[serde(default)]
    pub channels: Vec<String>,
}

fn owner() -> Vec<Recipient> {
    vec![Recipient::Owner]
}

/// One weekly window of effective time, local to the SLA's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Weekdays, 0 = Monday … 6 = Sunday.
    pub days: Vec<u8>,
    /// Local start.
    pub start: NaiveTime,
    /// Local end (after `start`; split an overnight window in two).
    pub end: NaiveTime,
}

/// When SLA time runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effective {
    /// 7 days × 24 hours.
    #[default]
    Always,
    /// Only inside these weekly windows.
    Windows {
        /// IANA zone of the windows.
        #[schema(value_type = String, example = "UTC")]
        tz: Tz,
        /// Windows (1..=14).
        windows: Vec<Window>,
    },
}

/// An SLA (custom or common).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// Name: 3..=100 letters, digits, `-`, `_`.
    pub name: String,
    /// Description (≤ 1000 chars).
    #[serde(default)]
    pub description: String,
    /// Trigger type.
    pub trigger: Trigger,
    /// Levels it covers (≥ 1).
    pub levels: Vec<String>,
    /// Some applications; empty: all applications.
    #[serde(default)]
    pub applications: Vec<String>,
    /// One rule per status type (≥ 1).
    pub rules: Vec<SlaRule>,
    /// Effective time (default 7×24).
    #[serde(default)]
    pub effective: Effective,
    /// A common SLA preset by COC (only enabled or disabled by tenants).
    #[serde(default)]
    pub common: bool,
}

impl crate::application::refs::AppRefs for Sla {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.applications.iter_mut().collect()
    }
}

impl Sla {
    /// Validates every field. Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.chars().count();
        if !(3..=100).contains(&n)
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "SLA name: 3 to 100 letters, digits, hyphens (-) and underscores (_)",
            ));
        }
        if self.description.chars().count() > 1000 {
            return Err(invalid("description is longer than 1000 characters"));
        }
        let levels = self.trigger.levels();
        if self.levels.is_empty() {
            return Err(invalid("select at least one level"));
        }
        if let Some(l) = self.levels.iter().find(|l| !levels.contains(&l.as_str())) {
            return Err(invalid(format!(
                "level '{l}' is not a {} level: use {}",
                self.trigger.as_str(),
                levels.join(", ")
            )));
        }
        if self.rules.is_empty() {
            return Err(invalid("an SLA has at least one rule"));
        }
        let statuses = self.trigger.statuses();
        let mut seen = std::collections::HashSet::new();
        for r in &self.rules {
            if !statuses.contains(&r.status.as_str()) {
                return Err(invalid(format!(
                    "status type '{}' does not exist for {}: use {}",
                    r.status,
                    self.trigger.as_str(),
                    statuses.join(", ")
                )));
            }
            if !seen.insert(&r.status) {
                return Err(invalid(format!("status type '{}' has two rules", r.status)));
            }
            if r.target_minutes == 0 || r.target_minutes > MAX_TARGET_MIN {
                return Err(invalid(format!(
                    "{}: the target is 1 to {MAX_TARGET_MIN} minutes (7 days)",
                    r.status
                )));
            }
            if r.prewarn_minutes
                .is_some_and(|p| p == 0 || p >= r.target_minutes)
            {
                return Err(invalid(format!(
                    "{}: the pre-warning comes 1 minute to less than the target before it",
                    r.status
                )));
            }
            if !r.channels.is_empty() {
                validate_channels(&r.channels)?;
                validate_recipients(&r.recipients)?;
            }
        }
        if let Effective::Windows { windows, .. } = &self.effective {
            if windows.is_empty() || windows.len() > 14 {
                return Err(invalid("effective time has 1 to 14 windows"));
            }
            for w in windows {
                if w.days.is_empty() || w.days.iter().any(|d| *d > 6) {
                    return Err(invalid("window days are 0 (Monday) to 6 (Sunday)"));
                }
                if w.end <= w.start {
                    return Err(invalid(
                        "a window ends after it starts; split an overnight window in two",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether this SLA and `other` may not coexist (see the module doc).
    pub fn conflicts(&self, other: &Sla) -> bool {
        self.trigger == other.trigger
            && self.common == other.common
            && self.levels.iter().any(|l| other.levels.contains(l))
            && self.applications.is_empty() == other.applications.is_empty()
            && (self.applications.is_empty()
                || self
                    .applications
                    .iter()
                    .any(|a| other.applications.contains(a)))
    }

    /// Whether it covers a ticket of `trigger` with `level` in `application`.
    pub fn covers(&self, trigger: Trigger, level: &str, application: Option<&str>) -> bool {
        self.trigger == trigger
            && self.levels.iter().any(|l| l == level)
            && (self.applications.is_empty()
                || application.is_some_and(|a| self.applications.iter().any(|x| x == a)))
    }

    fn rank(&self) -> u8 {
        u8::from(!self.common) * 2 + u8::from(!self.applications.is_empty())
    }

    /// The rule of a status type, if any.
    pub fn rule(&self, status: &str) -> Option<&SlaRule> {
        self.rules.iter().find(|r| r.status == status)
    }
}

/// The SLA among `(id, sla)` that governs a ticket: highest priority,
/// then first by name; `None` when none covers it.
pub fn pick<'a>(
    slas: &'a [(String, Sla)],
    trigger: Trigger,
    level: &str,
    application: Option<&str>,
) -> Option<&'a (String, Sla)> {
    slas.iter()
        .filter(|s| s.1.covers(trigger, level, application))
        .max_by(|a, b| {
            a.1.rank()
                .cmp(&b.1.rank())
                .then_with(|| b.1.name.cmp(&a.1.name))
        })
}

/// SLA state of one status record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// Within the target.
    Normal,
    /// Past the pre-warning point.
    PreWarned,
    /// Past the target.
    HasBroken,
}

impl SlaState {
    /// `normal`, `pre_warned`, `has_broken`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Normal => "normal",
            SlaState::PreWarned => "pre_warned",
            SlaState::HasBroken => "has_broken",
        }
    }

    /// The state after `elapsed_ms` of effective time in a status with
    /// `rule`.
    pub fn after(rule: &SlaRule, elapsed_ms: i64) -> SlaState {
        let target = i64::from(rule.target_minutes) * 60_000;
        let warn = rule.prewarn_minutes.map(|p| target - i64::from(p) * 60_000);
        if elapsed_ms >= target {
            SlaState::HasBroken
        } else if warn.is_some_and(|w| elapsed_ms >= w) {
            SlaState::PreWarned
        } else {
            SlaState::Normal
        }
    }
}

/// Effective intervals `[start, end)` (Unix ms) of the local dates
/// `from..=to`, in order.
fn intervals(tz: Tz, windows: &[Window], from: NaiveDate, to: NaiveDate) -> Vec<(i64, i64)> {
    let mut out = vec![];
    let mut d = from;
    while d <= to {
        let wd = weekday_index(d.weekday());
        for w in windows.iter().filter(|w| w.days.contains(&wd)) {
            let s = resolve(tz, d.and_time(w.start)).timestamp_millis();
            let e = resolve(tz, d.and_time(w.end)).timestamp_millis();
            if e > s {
                out.push((s, e));
            }
        }
        d += Duration::days(1);
    }
    out.sort();
    out
}

fn local_date(tz: Tz, ms: i64) -> NaiveDate {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_else(|| DateTime::<Utc>::UNIX_EPOCH.date_naive())
}

impl Effective {
    /// Effective milliseconds in `[from, to)` (Unix ms); 0 when `to ≤ from`.
    pub fn effective_ms(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        match self {
            Effective::Always => to - from,
            Effective::Windows { tz, windows } => {
                let a = local_date(*tz, from) - Duration::days(1);
                let b = local_date(*tz, to) + Duration::days(1);
                intervals(*tz, windows, a, b)
                    .into_iter()
                    .map(|(s, e)| (e.min(to) - s.max(from)).max(0))
                    .sum()
            }
        }
    }

    /// The instant (Unix ms) at which `need_ms` of effective time has
    /// passed since `from`; `from` itself when `need_ms ≤ 0`. Looks at most
    /// 400 days ahead (`None` beyond).
    pub fn deadline(&self, from: i64, need_ms: i64) -> Option<i64> {
        if need_ms <= 0 {
            return Some(from);
        }
        match self {
            Effective::Always => Some(from + need_ms),
            Effective::Windows { tz, windows } => {
                let start = local_date(*tz, from) - Duration::days(1);
                let mut left = need_ms;
                for chunk in 0..14 {
                    let a = start + Duration::days(chunk * 30);
                    let b = a + Duration::days(29);
                    for (s, e) in intervals(*tz, windows, a, b) {
                        let s = s.max(from);
                        if e <= s {
                            continue;
                        }
                        if e - s >= left {
                            return Some(s + left);
                        }
                        left -= e - s;
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sla(name: &str, levels: &[&str], apps: &[&str]) -> Sla {
        Sla {
            name: name.into(),
            description: String::new(),
            trigger: Trigger::Incident,
            levels: levels.iter().map(|s| s.to_string()).collect(),
            applications: apps.iter().map(|s| s.to_string()).collect(),
            rules: vec![SlaRule {
                status: "unaccepted".into(),
                target_minutes: 30,
                prewarn_minutes: Some(10),
                recipients: owner(),
                channels: vec!["email".into()],
            }],
            effective: Effective::Always,
            common: false,
        }
    }

    #[test]
    fn validation() {
        sla("p1-sla", &["P1"], &[]).validate().unwrap();
        let bad = |f: &dyn Fn(&mut Sla)| {
            let mut s = sla("p1-sla", &["P1"], &[]);
            f(&mut s);
            s.validate().is_err()
        };
        assert!(bad(&|s| s.name = "ab".into()));
        assert!(bad(&|s| s.name = "has space".into()));
        assert!(bad(&|s| s.levels = vec!["Critical".into()]));
        assert!(bad(&|s| s.levels.clear()));
        assert!(bad(&|s| s.rules[0].status = "alarm".into()));
        assert!(bad(&|s| s.rules[0].target_minutes = MAX_TARGET_MIN + 1));
        assert!(bad(&|s| s.rules[0].prewarn_minutes = Some(30)));
        assert!(bad(&|s| s.rules.push(s.rules[0].clone())));
        assert!(bad(&|s| s.rules[0].channels = vec!["fax".into()]));
        assert!(bad(&|s| {
            s.effective = Effective::Windows {
                tz: chrono_tz::UTC,
                windows: vec![Window {
                    days: vec![0],
                    start: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                }],
            }
        }));
        let mut alarm = sla("alarm-sla", &["Critical"], &[]);
        alarm.trigger = Trigger::Alarm;
        alarm.rules[0].status = "alarm".into();
        alarm.validate().unwrap();
    }

    #[test]
    fn priority_custom_over_common_some_over_all() {
        let mut common = sla("common", &["P1", "P2"], &[]);
        common.common = true;
        let all = sla("all-apps", &["P1"], &[]);
        let some = sla("shop-only", &["P1"], &["shop"]);
        let v = vec![
            ("1".to_string(), common),
            ("2".to_string(), all),
            ("3".to_string(), some),
        ];
        let name = |lvl: &str, app: Option<&str>| {
            pick(&v, Trigger::Incident, lvl, app).map(|s| s.1.name.clone())
        };
        assert_eq!(name("P1", Some("shop")).as_deref(), Some("shop-only"));
        assert_eq!(name("P1", Some("erp")).as_deref(), Some("all-apps"));
        assert_eq!(name("P2", Some("shop")).as_deref(), Some("common"));
        assert_eq!(name("P3", None), None);
        assert_eq!(pick(&v, Trigger::Alarm, "P1", None), None);
    }

    #[test]
    fn conflicts_need_the_same_scope_kind() {
        let a = sla("a-sla", &["P1", "P2"], &[]);
        assert!(a.conflicts(&sla("b-sla", &["P2"], &[])));
        assert!(!a.conflicts(&sla("b-sla", &["P3"], &[])));
        assert!(
            !a.conflicts(&sla("b-sla", &["P1"], &["shop"])),
            "some vs all"
        );
        let s = sla("s-sla", &["P1"], &["shop", "erp"]);
        assert!(s.conflicts(&sla("t-sla", &["P1"], &["erp"])));
        assert!(!s.conflicts(&sla("t-sla", &["P1"], &["crm"])));
    }

    #[test]
    fn states_follow_the_elapsed_time() {
        let r = &sla("x-sla", &["P1"], &[]).rules[0];
        let min = 60_000;
        assert_eq!(SlaState::after(r, 19 * min), SlaState::Normal);
        assert_eq!(SlaState::after(r, 20 * min), SlaState::PreWarned);
        assert_eq!(SlaState::after(r, 30 * min), SlaState::HasBroken);
    }

    fn office(tz: Tz) -> Effective {
        Effective::Windows {
            tz,
            windows: vec![Window {
                days: vec![0, 1, 2, 3, 4],
                start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            }],
        }
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn office_hours_count_only_inside_the_windows() {
        let e = office(chrono_tz::Europe::Berlin);
        let h = 3_600_000;
        // Friday 2026-11-20 16:00 Berlin (15:00Z) to Monday 10:00 (09:00Z):
        // 1 h Friday + 1 h Monday.
        let (f, m) = (ms("2026-11-20T15:00:00Z"), ms("2026-11-23T09:00:00Z"));
        assert_eq!(e.effective_ms(f, m), 2 * h);
        assert_eq!(e.deadline(f, 2 * h), Some(m));
        assert_eq!(e.deadline(f, h), Some(ms("2026-11-20T16:00:00Z")));
        // An instant outside the windows waits for the next one.
        assert_eq!(
            e.deadline(ms("2026-11-21T12:00:00Z"), 1),
            Some(ms("2026-11-23T08:00:00Z") + 1)
        );
        assert_eq!(Effective::Always.deadline(5, 10), Some(15));
        assert_eq!(Effective::Always.effective_ms(5, 3), 0);
        // Across the spring-forward in Berlin (2026-03-29, Sunday) a
        // Monday window is still 8 hours.
        assert_eq!(
            e.effective_ms(ms("2026-03-28T00:00:00Z"), ms("2026-03-31T00:00:00Z")),
            8 * h
        );
    }

    proptest! {
        /// `deadline` inverts `effective_ms`: the time counted up to the
        /// deadline is exactly what was asked, in several zones across DST.
        #[test]
        fn deadline_inverts_effective_time(
            zone in 0usize..4,
            start_h in 0i64..(24 * 400),
            need_min in 1i64..(7 * 24 * 60),
        ) {
            let tz = [chrono_tz::Europe::Berlin, chrono_tz::America::New_York,
                      chrono_tz::Australia::Sydney, chrono_tz::UTC][zone];
            let e = office(tz);
            let from = ms("2026-01-01T00:00:00Z") + start_h * 3_600_000 + 17 * 60_000;
            let need = need_min * 60_000;
            let d = e.deadline(from, need).unwrap();
            prop_assert_eq!(e.effective_ms(from, d), need);
            prop_assert!(e.effective_ms(from, d - 1) < need);
        }
    }
}
