//! Scheduled O&M timing (X5, ref. 5.3): one-time, simple cycle and cron
//! triggers in an IANA time zone, a rule expiry, and the missed-run rule.
//!
//! - One-time: a local date and time.
//! - Simple cycle: every N minutes or hours (elapsed time from the start),
//!   or every N days at the start's local time of day (so a daily task
//!   stays at 02:00 local across DST changes).
//! - Cron: five fields (croner). A fixed local time that does not exist
//!   (spring forward) fires when the gap ends; one that exists twice (fall
//!   back) fires once, at its first occurrence; interval patterns follow
//!   real time.
//!
//! Missed runs: a run due while the server was down runs once at start if
//! it is at most [`GRACE_MS`] late; otherwise it is recorded as missed.
//! Either way the next run is computed from now, so a long outage never
//! causes a burst of runs.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use crate::oncall::resolve;

stored_enum! {
    /// What became of one due time of a scheduled task (ref. 5.3).
    ScheduledRunStatus {
        /// Its ticket was created.
        Started = "started",
        /// Due while COC was not running, past the grace: not run.
        Missed = "missed",
        /// The ticket could not be created (the reason is kept).
        NotStarted = "not_started",
    }
}

/// How late a missed run may still start, ms (15 minutes).
pub const GRACE_MS: i64 = 15 * 60_000;

/// Unit of a simple cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Minutes of elapsed time.
    Minutes,
    /// Hours of elapsed time.
    Hours,
    /// Days, at the same local time of day.
    Days,
}

/// When a scheduled task runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ScheduleTrigger)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Once, at a local date and time.
    Once {
        /// Local date and time.
        at: NaiveDateTime,
    },
    /// Every `every` units from `start` (local).
    Cycle {
        /// Period length (1..=10000).
        every: u32,
        /// Unit.
        unit: Unit,
        /// First run, local.
        start: NaiveDateTime,
    },
    /// A five-field cron expression.
    Cron {
        /// `minute hour day-of-month month day-of-week`.
        expr: String,
    },
}

/// A trigger in a zone, with an optional rule expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// IANA zone of local times and cron fields.
    #[schema(value_type = String, example = "UTC")]
    pub tz: Tz,
    /// The trigger.
    pub trigger: Trigger,
    /// No run after this instant (Unix ms).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// What to do about a run that was due at `due` when the scheduler looks
/// at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Run now.
    Run,
    /// Too late: record it as missed and do not run.
    Missed,
}

/// Where the check that a cron expression fires at all starts (2024-01-01
/// UTC, a fixed instant: the rule stays a pure function).
const CRON_CHECK_FROM_MS: i64 = 1_704_067_200_000;

/// The missed-run rule (see the module doc).
pub fn due(due_ms: i64, now_ms: i64) -> Due {
    if now_ms - due_ms <= GRACE_MS {
        Due::Run
    } else {
        Due::Missed
    }
}

impl Timing {
    /// Validates the trigger. Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        match &self.trigger {
            Trigger::Once { .. } => Ok(()),
            Trigger::Cycle { every, .. } => {
                if *every == 0 || *every > 10_000 {
                    Err(invalid("a cycle repeats every 1 to 10000 units"))
                } else {
                    Ok(())
                }
            }
            Trigger::Cron { expr } => {
                if expr.split_whitespace().count() != 5 {
                    return Err(invalid(
                        "a cron expression has five fields: minute hour day-of-month month day-of-week",
                    ));
                }
                let c = croner::Cron::from_str(expr)
                    .map_err(|e| invalid(format!("invalid cron expression '{expr}': {e}")))?;
                // Fields that never meet (30 February, 31 April …): no run
                // in a whole 28-year cycle of the calendar.
                let from = DateTime::<Utc>::from_timestamp_millis(CRON_CHECK_FROM_MS)
                    .unwrap_or_default()
                    .with_timezone(&self.tz);
                match c.find_next_occurrence(&from, false) {
                    Ok(t) if t.timestamp_millis() - CRON_CHECK_FROM_MS < 28 * 366 * 86_400_000 => {
                        Ok(())
                    }
                    _ => Err(invalid(format!(
                        "the cron expression '{expr}' never fires (its day, month and weekday never meet)"
                    ))),
                }
            }
        }
    }

    /// The first run strictly after `after_ms` (Unix ms), or `None` when
    /// there is none before the expiry (or the trigger is invalid).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?;
        let next = match &self.trigger {
            Trigger::Once { at } => {
                let t = resolve(self.tz, *at);
                (t > after).then_some(t)
            }
            Trigger::Cycle { every, unit, start } => {
                let first = resolve(self.tz, *start);
                if first > after {
                    Some(first)
                } else {
                    match unit {
                        Unit::Minutes | Unit::Hours => {
                            let p = i64::from(*every)
                                * if *unit == Unit::Minutes {
                                    60_000
                                } else {
                                    3_600_000
                                };
                            let k = (after_ms - first.timestamp_millis()) / p + 1;
                            DateTime::from_timestamp_millis(first.timestamp_millis() + k * p)
                        }
                        Unit::Days => {
                            let days = (after.with_timezone(&self.tz).date_naive() - start.date())
                                .num_days();
                            let mut k = (days / i64::from(*every)).max(0) * i64::from(*every);
                            loop {
                                let t = resolve(self.tz, *start + Duration::days(k));
                                if t > after {
                                    break Some(t);
                                }
                                k += i64::from(*every);
                            }
                        }
                    }
                }
            }
            Trigger::Cron { expr } => {
                let c = croner::Cron::from_str(expr).ok()?;
                c.find_next_occurrence(&after.with_timezone(&self.tz), false)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
        }?;
        let ms = next.timestamp_millis();
        match self.expires_at {
            Some(e) if ms > e => None,
            _ => Some(ms),
        }
    }
}

/// `tz`'s local date-time of an instant (for display).
pub fn local(tz: Tz, ms: i64) -> Option<NaiveDateTime> {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.naive_local())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, Timelike};
    use proptest::prelude::*;

    #[test]
    fn a_host_filter_selects_by_application_region_tags_and_agent() {
        let sel = HostSelector {
            application: Some("shop".into()),
            region: Some("eu-1".into()),
            tags: [("role".to_string(), "db".to_string())].into(),
            running_only: true,
        };
        let tags: std::collections::BTreeMap<String, String> =
            [("role".to_string(), "db".to_string())].into();
        let host = SelectedHost {
            tags: &tags,
            application: Some("shop"),
            region: Some("eu-1"),
            running: true,
        };
        assert!(sel.matches(host));
        assert!(!sel.matches(SelectedHost {
            application: Some("erp"),
            ..host
        }));
        assert!(!sel.matches(SelectedHost {
            application: None,
            ..host
        }));
        assert!(!sel.matches(SelectedHost {
            running: false,
            ..host
        }));
        assert!(!sel.matches(SelectedHost {
            region: Some("us-1"),
            ..host
        }));
        // A host without a region of its own falls back to its tag.
        let tagged: std::collections::BTreeMap<String, String> =
            [("role", "db"), ("region", "eu-1")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into();
        assert!(sel.matches(SelectedHost {
            tags: &tagged,
            region: None,
            ..host
        }));
        assert!(HostSelector::default().matches(SelectedHost {
            application: None,
            ..host
        }));
        // Its application is a reference the store rewrites (name ↔ id).
        let mut t: ScheduledTaskSpec = serde_json::from_value(serde_json::json!({
            "name": "t", "script": "s", "select": {"application": "shop"}, "reviewers": [],
            "timing": {"tz": "UTC", "trigger": {"type": "cycle", "every": 10, "unit": "minutes",
                "start": "2026-01-01T00:00:00"}}}))
        .unwrap_or_else(|e| panic!("{e}"));
        crate::application::refs::map_app_refs(&mut t, |r| Ok::<_, ()>(format!("id-of-{r}")))
            .unwrap();
        assert_eq!(t.select.unwrap().application.as_deref(), Some("id-of-shop"));
    }

    const ZONES: [Tz; 5] = [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Sydney,
        chrono_tz::America::Santiago,
        chrono_tz::Australia::Lord_Howe,
    ];

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn cron(tz: Tz, expr: &str) -> Timing {
        Timing {
            tz,
            trigger: Trigger::Cron { expr: expr.into() },
            expires_at: None,
        }
    }

    #[test]
    fn triggers_and_expiry() {
        let berlin = chrono_tz::Europe::Berlin;
        let once = Timing {
            tz: berlin,
            trigger: Trigger::Once {
                at: dt("2026-11-23 09:00"),
            },
            expires_at: None,
        };
        assert_eq!(
            once.next_after(ms("2026-11-22T00:00:00Z")),
            Some(ms("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            once.next_after(ms("2026-11-23T08:00:00Z")),
            None,
            "runs once"
        );
        let every = Timing {
            tz: berlin,
            trigger: Trigger::Cycle {
                every: 90,
                unit: Unit::Minutes,
                start: dt("2026-11-22 00:00"),
            },
            expires_at: Some(ms("2026-11-22T01:59:00Z")),
        };
        assert_eq!(
            every.next_after(ms("2026-11-21T23:00:00Z")),
            Some(ms("2026-11-22T00:30:00Z"))
        );
        assert_eq!(
            every.next_after(ms("2026-11-22T00:30:00Z")),
            None,
            "past the expiry"
        );
        let c = cron(berlin, "0 9 * * 1-5");
        assert_eq!(
            c.next_after(ms("2026-11-20T09:00:00Z")),
            Some(ms("2026-11-23T08:00:00Z")),
            "Friday → Monday"
        );
        assert!(cron(berlin, "61 * * * *").validate().is_err());
        assert!(cron(berlin, "* * * *").validate().is_err());
        assert!(cron(berlin, "*/5 * * * *").validate().is_ok());
        // Never: 30 February, 31 April. Rare but real: 29 February.
        assert!(cron(berlin, "0 0 30 2 *").validate().is_err());
        assert!(cron(berlin, "0 0 31 4 *").validate().is_err());
        assert!(cron(berlin, "0 12 29 2 *").validate().is_ok());
    }

    #[test]
    fn daily_cycles_keep_the_local_time_across_dst() {
        let t = Timing {
            tz: chrono_tz::Europe::Berlin,
            trigger: Trigger::Cycle {
                every: 1,
                unit: Unit::Days,
                start: dt("2026-03-27 02:30"),
            },
            expires_at: None,
        };
        // 29 March 02:30 does not exist in Berlin: it runs at 03:00 CEST.
        let runs: Vec<i64> = std::iter::successors(t.next_after(ms("2026-03-27T00:00:00Z")), |x| {
            t.next_after(*x)
        })
        .take(4)
        .collect();
        assert_eq!(
            runs,
            vec![
                ms("2026-03-27T01:30:00Z"),
                ms("2026-03-28T01:30:00Z"),
                ms("2026-03-29T01:00:00Z"),
                ms("2026-03-30T00:30:00Z"),
            ]
        );
    }

    #[test]
    fn the_missed_run_rule() {
        assert_eq!(due(1000, 1000 + GRACE_MS), Due::Run);
        assert_eq!(due(1000, 1001 + GRACE_MS), Due::Missed);
    }

    proptest! {
        /// A daily cron at a fixed local time fires exactly once on every
        /// local date, in zones with DST (incl. 30-minute Lord Howe), across
        /// the whole of 2026.
        #[test]
        fn daily_cron_fires_once_per_local_day(zone in 0usize..5, hour in 0u32..24, minute in 0u32..60) {
            let tz = ZONES[zone];
            let c = cron(tz, &format!("{minute} {hour} * * *"));
            let start = tz.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap().timestamp_millis() - 1;
            let mut t = start;
            let mut days = std::collections::BTreeMap::new();
            let mut exact = 0;
            for _ in 0..366 {
                let n = c.next_after(t).unwrap();
                prop_assert!(n > t);
                let local = tz.timestamp_millis_opt(n).unwrap();
                *days.entry(local.date_naive()).or_insert(0) += 1;
                // Away from transitions (June, December) it fires at
                // exactly the local time.
                if matches!(local.month(), 6 | 12) {
                    prop_assert_eq!((local.hour(), local.minute()), (hour, minute));
                    exact += 1;
                }
                t = n;
            }
            for d in NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().iter_days().take(365) {
                prop_assert_eq!(days.get(&d).copied(), Some(1), "{} in {}", d, tz);
            }
            prop_assert!(exact >= 60);
        }

        /// Minute cycles are strictly increasing and exactly one period
        /// apart in elapsed time, DST or not.
        #[test]
        fn interval_runs_are_increasing_and_regular(zone in 0usize..5, every in 1u32..180, offset_h in 0i64..8760) {
            let tz = ZONES[zone];
            let t = Timing {
                tz,
                trigger: Trigger::Cycle { every, unit: Unit::Minutes, start: dt("2026-01-01 00:00") },
                expires_at: None,
            };
            let from = ms("2026-01-01T00:00:00Z") + offset_h * 3_600_000;
            let a = t.next_after(from).unwrap();
            let b = t.next_after(a).unwrap();
            prop_assert!(a > from && b > a);
            prop_assert_eq!(b - a, i64::from(every) * 60_000, "elapsed-time cycles ignore DST");
        }
    }
}

/// Which hosts a scheduled run targets when it selects them by filter
/// ("select all"), resolved at each run. Empty filters match every host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSelector {
    /// Hosts that belong to this application (R6; by name here, by id
    /// when stored).
    #[serde(default)]
    pub application: Option<String>,
    /// Hosts in this region (the host's region, else its `region` tag).
    #[serde(default)]
    pub region: Option<String>,
    /// Hosts carrying all these tags.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Only hosts whose agent is running.
    #[serde(default)]
    pub running_only: bool,
}

/// What a [`HostSelector`] looks at on a host.
#[derive(Debug, Clone, Copy)]
pub struct SelectedHost<'a> {
    /// Its tags.
    pub tags: &'a std::collections::BTreeMap<String, String>,
    /// The application it belongs to, by name.
    pub application: Option<&'a str>,
    /// Its region.
    pub region: Option<&'a str>,
    /// Whether its agent is running.
    pub running: bool,
}

impl HostSelector {
    /// Whether host `h` is selected.
    pub fn matches(&self, h: SelectedHost<'_>) -> bool {
        let region = h.region.or(h.tags.get("region").map(String::as_str));
        (!self.running_only || h.running)
            && self
                .application
                .as_deref()
                .is_none_or(|a| h.application == Some(a))
            && self.region.as_deref().is_none_or(|r| region == Some(r))
            && self.tags.iter().all(|(k, v)| h.tags.get(k) == Some(v))
    }
}

/// A scheduled task (ref. 5.3.1): when, what (a script with parameters),
/// on which hosts, how (batches, suspension), who reviews it, and who
/// hears of the outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledTaskSpec {
    /// Name (1..=64 chars, unique per tenant).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// When.
    pub timing: Timing,
    /// Script id or name (or a `job`).
    #[serde(default)]
    pub script: String,
    /// Job id or name, instead of a script (X3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Parameter values (the script's, or the job's global parameters).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// Parameters from the parameter center.
    #[serde(default)]
    pub param_refs: std::collections::BTreeMap<String, crate::parameter::ParamRef>,
    /// Hosts chosen by hand…
    #[serde(default)]
    pub hosts: Vec<String>,
    /// …or selected by a filter at each run.
    #[serde(default)]
    pub select: Option<HostSelector>,
    /// Executing user.
    #[serde(default)]
    pub run_as: Option<String>,
    /// Timeout per host, seconds.
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Batch policy.
    #[serde(default)]
    pub batch_policy: crate::ticket::BatchPolicy,
    /// Suspension threshold: success rate in percent.
    #[serde(default)]
    pub success_rate_threshold: Option<f64>,
    /// Who must approve the task before it can be enabled.
    pub reviewers: Vec<crate::notify::Recipient>,
    /// Who hears of each run's outcome.
    #[serde(default)]
    pub recipients: Vec<crate::notify::Recipient>,
    /// Channels of the outcome notifications.
    #[serde(default)]
    pub channels: Vec<String>,
}

impl crate::application::refs::AppRefs for ScheduledTaskSpec {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.select
            .iter_mut()
            .flat_map(|s| s.application.iter_mut())
            .collect()
    }
}

impl ScheduledTaskSpec {
    /// Validates every field. Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("task name must have 1 to 64 characters"));
        }
        self.timing.validate()?;
        if self.hosts.is_empty() == self.select.is_none() {
            return Err(invalid(
                "choose the hosts by hand (hosts) or by a filter (select), not both",
            ));
        }
        match (self.script.trim().is_empty(), &self.job) {
            (true, None) => {
                return Err(invalid("a scheduled task runs a script or a job: name one"));
            }
            (false, Some(_)) => {
                return Err(invalid("a scheduled task runs a script or a job, not both"));
            }
            (true, Some(_))
                if !self.param_refs.is_empty()
                    || self.run_as.is_some()
                    || self.timeout_s.is_some() =>
            {
                return Err(invalid(
                    "param_refs, run_as and timeout_s belong to scripts; a job's tasks set their own",
                ));
            }
            _ => {}
        }
        if self.reviewers.is_empty() {
            return Err(invalid(
                "a scheduled task is reviewed before it runs: name its reviewers",
            ));
        }
        crate::notify::validate_recipients(&self.reviewers)?;
        if !self.channels.is_empty() || !self.recipients.is_empty() {
            crate::notify::validate_recipients(&self.recipients)?;
            crate::notify::validate_channels(&self.channels)?;
        }
        Ok(())
    }
}
