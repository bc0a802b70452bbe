//! On-call rotations (O2, beyond ref. 11.2's per-weekday schedules): the
//! participants of a role take turns of a fixed length, handing off at a
//! local time (and, for weekly turns, on a weekday) in the schedule's
//! zone. Several rotations of one role are layers: a later layer covers
//! an earlier one for its hours. A temporary rotation replaces the
//! normal ones (and the shift plan) for its span, e.g. a holiday week.
//!
//! ## Turns
//! Turn `k` (from 0) of a rotation starts at `anchor + k·L` days at the
//! handoff time and ends where turn `k+1` starts, where `L` is the turn's
//! length in days and `anchor` the start date — moved forward to the
//! handoff weekday for weekly turns. Each boundary is a local wall-clock
//! time resolved with [`super::resolve`], so consecutive turns share it:
//! every instant from the first handoff on is in exactly one turn, and a
//! handoff happens at the handoff time across daylight-saving changes
//! (at the first instant after a gap when the time does not exist).
//!
//! ## Who takes turn `k`
//! `participants[k mod n]`, where the participant list is the latest
//! [`ParticipantChange`] dated on or before the turn's first local date
//! (the original list before any): people join or leave from a future
//! date without cutting the turn running then.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::resolve;
use crate::error::{DomainError, invalid};

/// Most rotations (layers, temporary ones included) in one schedule.
pub const MAX_ROTATIONS: usize = 20;
/// Most participants of one rotation (and of one change).
pub const MAX_PARTICIPANTS: usize = 50;
/// Longest turn, days.
pub const MAX_TURN_DAYS: u32 = 366;

/// The unit of a turn's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurnUnit {
    /// Turns of whole days.
    Days,
    /// Turns of whole weeks.
    Weeks,
}

impl TurnUnit {
    /// Parses `days` or `weeks`.
    ///
    /// Errors: [`DomainError::Validation`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.trim() {
            "days" | "day" => Ok(Self::Days),
            "weeks" | "week" => Ok(Self::Weeks),
            o => Err(invalid(format!("turn unit '{o}' is not 'days' or 'weeks'"))),
        }
    }
}

/// The daily hours a layer covers (local; an end at or before the start
/// is on the next day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time.
    pub end: NaiveTime,
}

/// From a local date on, the rotation's participants are these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantChange {
    /// The first local date of the first turn with the new list.
    pub from: NaiveDate,
    /// Participants in order (user names).
    pub participants: Vec<String>,
}

/// One on-call rotation (a layer of a role's schedule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    /// Name (1..=64 characters, unique in the schedule).
    pub name: String,
    /// The scenario role it staffs.
    pub role: String,
    /// Participants in order (user names).
    pub participants: Vec<String>,
    /// Turn length in `unit`s (1 or more; at most 366 days).
    pub length: u32,
    /// Days or weeks.
    pub unit: TurnUnit,
    /// Local time of the handoff.
    pub handoff_time: NaiveTime,
    /// Weekly turns: the weekday of the handoff (the first turn starts on
    /// the first such day on or after `start`); none: `start`'s weekday.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "Mon")]
    pub handoff_day: Option<Weekday>,
    /// First local date.
    pub start: NaiveDate,
    /// The local date the rotation stops, at the handoff time (exclusive);
    /// none: it goes on.
    #[serde(default)]
    pub until: Option<NaiveDate>,
    /// The hours of each day this layer covers; none: all day.
    #[serde(default)]
    pub window: Option<Window>,
    /// Participant lists from future dates, oldest first.
    #[serde(default)]
    pub changes: Vec<ParticipantChange>,
    /// A temporary rotation: during its span it replaces every normal
    /// rotation and the shift plan of its role.
    #[serde(default)]
    pub temporary: bool,
}

/// One turn: who, and its UTC interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Turn number from 0.
    pub index: i64,
    /// Who takes it.
    pub person: String,
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// End, UTC (exclusive).
    pub end: DateTime<Utc>,
}

fn people_ok(p: &[String]) -> bool {
    !p.is_empty() && p.len() <= MAX_PARTICIPANTS && p.iter().all(|x| !x.trim().is_empty())
}

impl Rotation {
    /// Validates name, participants (1..=50), length, weekday, dates and
    /// changes (in date order, each from a date after `start`).
    ///
    /// Errors: [`DomainError::Validation`] naming the rotation.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |why: &str| Err(invalid(format!("rotation '{}': {why}", self.name)));
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("a rotation's name has 1 to 64 characters"));
        }
        if !people_ok(&self.participants) {
            return bad("it needs 1 to 50 participants, none of them blank");
        }
        if self.length == 0 || self.turn_days() > i64::from(MAX_TURN_DAYS) {
            return bad("a turn lasts 1 day to 366 days");
        }
        if self.handoff_day.is_some() && self.unit == TurnUnit::Days {
            return bad("a handoff weekday is for weekly turns");
        }
        if self.until.is_some_and(|u| u <= self.start) {
            return bad("it must stop after it starts");
        }
        if self.window.is_some_and(|w| w.start == w.end) {
            return bad("its daily hours must not start and end at the same time");
        }
        let mut last = self.start;
        for c in &self.changes {
            if c.from <= last {
                return bad("participant changes are dated after the start, in order");
            }
            if !people_ok(&c.participants) {
                return bad("a participant change needs 1 to 50 participants");
            }
            last = c.from;
        }
        Ok(())
    }

    /// A turn's length in days.
    pub fn turn_days(&self) -> i64 {
        i64::from(self.length)
            * match self.unit {
                TurnUnit::Days => 1,
                TurnUnit::Weeks => 7,
            }
    }

    /// The local date of the first handoff.
    pub fn anchor(&self) -> NaiveDate {
        match self.handoff_day {
            Some(wd) if self.unit == TurnUnit::Weeks => {
                let ahead = (i64::from(wd.num_days_from_monday())
                    - i64::from(self.start.weekday().num_days_from_monday()))
                .rem_euclid(7);
                self.start + Duration::days(ahead)
            }
            _ => self.start,
        }
    }

    /// The UTC instant of the handoff on local date `d`.
    fn handoff(&self, tz: Tz, d: NaiveDate) -> DateTime<Utc> {
        resolve(tz, d.and_time(self.handoff_time))
    }

    /// When the rotation begins and (if it does) stops, UTC.
    pub fn span(&self, tz: Tz) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        (
            self.handoff(tz, self.anchor()),
            self.until.map(|u| self.handoff(tz, u)),
        )
    }

    /// Whether `at` is inside the rotation's span (its hours aside).
    pub fn spans(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        let (from, until) = self.span(tz);
        from <= at && until.is_none_or(|u| at < u)
    }

    /// The participants of the turn starting on local date `d`.
    fn list_on(&self, d: NaiveDate) -> &[String] {
        self.changes
            .iter()
            .rev()
            .find(|c| c.from <= d)
            .map_or(&self.participants[..], |c| &c.participants[..])
    }

    /// Turn `k` (from 0), its interval cut at `until`.
    pub fn turn(&self, tz: Tz, k: i64) -> Turn {
        let first = self.anchor() + Duration::days(k * self.turn_days());
        let next = first + Duration::days(self.turn_days());
        let list = self.list_on(first);
        let mut end = self.handoff(tz, next);
        if let Some(u) = self.span(tz).1 {
            end = end.min(u);
        }
        Turn {
            index: k,
            person: list[(k as usize) % list.len()].clone(),
            start: self.handoff(tz, first),
            end,
        }
    }

    /// The turn containing `at` (its hours aside); none before the first
    /// handoff or after the end.
    pub fn turn_at(&self, tz: Tz, at: DateTime<Utc>) -> Option<Turn> {
        if !self.spans(tz, at) {
            return None;
        }
        let local = at.with_timezone(&tz).date_naive();
        let k0 = (local - self.anchor())
            .num_days()
            .div_euclid(self.turn_days());
        (k0 - 1..=k0 + 1)
            .filter(|k| *k >= 0)
            .map(|k| self.turn(tz, k))
            .find(|t| t.start <= at && at < t.end)
    }

    /// Whether `at` is inside this layer's daily hours (always, without
    /// a window).
    pub fn in_hours(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        let Some(w) = self.window else {
            return true;
        };
        let local = at.with_timezone(&tz).date_naive();
        [local.pred_opt(), Some(local)]
            .into_iter()
            .flatten()
            .any(|d| {
                let (s, e) = window_on(tz, w, d);
                s <= at && at < e
            })
    }

    /// Who this layer puts on call at `at`, if it covers it.
    pub fn who(&self, tz: Tz, at: DateTime<Utc>) -> Option<String> {
        if !self.in_hours(tz, at) {
            return None;
        }
        self.turn_at(tz, at).map(|t| t.person)
    }

    /// Every instant in local date `d`'s neighbourhood where this layer's
    /// answer may change: the handoff and the window's edges.
    pub fn edges_on(&self, tz: Tz, d: NaiveDate) -> Vec<DateTime<Utc>> {
        let mut v = vec![self.handoff(tz, d)];
        if let Some(w) = self.window {
            let (s, e) = window_on(tz, w, d);
            v.extend([s, e]);
        }
        v
    }
}

/// The UTC interval of window `w` starting on local date `d`.
fn window_on(tz: Tz, w: Window, d: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let end_day = if w.end <= w.start {
        d.succ_opt().unwrap_or(d)
    } else {
        d
    };
    (
        resolve(tz, d.and_time(w.start)),
        resolve(tz, end_day.and_time(w.end)),
    )
}

/// Who the layers of one role put on call at `at` (`rotations` in layer
/// order, all of one role; `cleared`: whether the regular plan is cleared
/// on `at`'s local date). `None`: no layer covers `at` (the shift plan
/// decides). A temporary rotation whose span holds `at` replaces the
/// normal ones: then only temporary layers answer, and `Some(vec![])`
/// when none of them covers the hour.
pub fn layers_at<'a>(
    tz: Tz,
    rotations: impl Iterator<Item = &'a Rotation> + Clone,
    cleared: bool,
    at: DateTime<Utc>,
) -> Option<Vec<String>> {
    let temporary = rotations.clone().any(|r| r.temporary && r.spans(tz, at));
    let covering = rotations
        .filter(|r| r.temporary == temporary)
        .filter_map(|r| r.who(tz, at))
        .last();
    match covering {
        Some(p) if temporary || !cleared => Some(vec![p]),
        _ if temporary => Some(vec![]),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    pub(crate) fn weekly(people: &[&str]) -> Rotation {
        Rotation {
            name: "primary".into(),
            role: "oncall".into(),
            participants: people.iter().map(|p| p.to_string()).collect(),
            length: 1,
            unit: TurnUnit::Weeks,
            handoff_time: t(9, 0),
            handoff_day: Some(Weekday::Mon),
            start: d(2026, 10, 14),
            until: None,
            window: None,
            changes: vec![],
            temporary: false,
        }
    }

    fn local(tz: Tz, y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, day, h, min, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_weekly_rotation_of_three_hands_off_on_monday_at_nine_across_dst() {
        let tz = chrono_tz::Europe::Berlin;
        let r = weekly(&["ann", "bob", "cid"]);
        r.validate().unwrap();
        // Start Wednesday 2026-10-14: the first handoff is Monday the 19th.
        assert_eq!(r.anchor(), d(2026, 10, 19));
        assert_eq!(r.who(tz, local(tz, 2026, 10, 19, 8, 59)), None);
        assert_eq!(r.who(tz, local(tz, 2026, 10, 19, 9, 0)).unwrap(), "ann");
        // Berlin leaves summer time on 2026-10-25 (Sunday): ann's week
        // lasts an hour longer and bob starts at 09:00 local, 08:00 UTC.
        let turn = r.turn(tz, 0);
        assert_eq!(turn.end - turn.start, Duration::hours(7 * 24 + 1));
        assert_eq!(
            turn.end,
            Utc.with_ymd_and_hms(2026, 10, 26, 8, 0, 0).unwrap()
        );
        assert_eq!(r.who(tz, local(tz, 2026, 10, 26, 8, 59)).unwrap(), "ann");
        assert_eq!(r.who(tz, local(tz, 2026, 10, 26, 9, 0)).unwrap(), "bob");
        assert_eq!(r.who(tz, local(tz, 2026, 11, 2, 9, 0)).unwrap(), "cid");
        assert_eq!(r.who(tz, local(tz, 2026, 11, 9, 9, 0)).unwrap(), "ann");
        // 23 weeks after the first handoff, across the spring change too.
        assert_eq!(r.who(tz, local(tz, 2027, 3, 29, 10, 0)).unwrap(), "cid");
    }

    #[test]
    fn changes_take_effect_from_the_first_turn_on_their_date() {
        let tz = chrono_tz::UTC;
        let mut r = weekly(&["ann", "bob", "cid"]);
        r.changes.push(ParticipantChange {
            from: d(2026, 10, 28),
            participants: vec!["ann".into(), "bob".into(), "cid".into(), "dan".into()],
        });
        r.validate().unwrap();
        // Turn 1 (from the 26th) started before the change: bob keeps it.
        assert_eq!(r.who(tz, local(tz, 2026, 10, 30, 12, 0)).unwrap(), "bob");
        // Turn 2 starts on 2 November, after the change: list[2].
        assert_eq!(r.who(tz, local(tz, 2026, 11, 2, 12, 0)).unwrap(), "cid");
        assert_eq!(r.who(tz, local(tz, 2026, 11, 9, 12, 0)).unwrap(), "dan");
        let mut bad = r.clone();
        bad.changes[0].from = d(2026, 10, 1);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn layers_temporary_spans_windows_and_validation() {
        let tz = chrono_tz::UTC;
        let base = weekly(&["ann", "bob"]);
        let mut day = weekly(&["dora"]);
        day.name = "business hours".into();
        day.window = Some(Window {
            start: t(9, 0),
            end: t(17, 0),
        });
        let mut holiday = weekly(&["hal"]);
        holiday.name = "holiday".into();
        holiday.temporary = true;
        holiday.start = d(2026, 12, 21);
        holiday.until = Some(d(2026, 12, 28));
        holiday.window = Some(Window {
            start: t(0, 0),
            end: t(12, 0),
        });
        let all = [base.clone(), day.clone(), holiday.clone()];
        let at = |m, dd, h| local(tz, 2026, m, dd, h, 0);
        let who = |x| layers_at(tz, all.iter(), false, x);
        assert_eq!(
            who(at(11, 4, 12)).unwrap(),
            ["dora"],
            "the later layer's hours"
        );
        assert_eq!(
            who(at(11, 4, 20)).unwrap(),
            ["ann"],
            "the base layer outside them"
        );
        assert_eq!(who(at(12, 22, 10)).unwrap(), ["hal"], "temporary replaces");
        assert!(
            who(at(12, 22, 13)).unwrap().is_empty(),
            "even outside its hours"
        );
        assert_eq!(who(at(12, 28, 10)).unwrap(), ["dora"], "after its span");
        assert_eq!(
            layers_at(tz, all.iter(), true, at(11, 4, 12)),
            None,
            "cleared"
        );
        assert_eq!(layers_at(tz, [].iter(), false, at(11, 4, 12)), None);
        for broken in [
            Rotation {
                participants: vec![],
                ..base.clone()
            },
            Rotation {
                length: 0,
                ..base.clone()
            },
            Rotation {
                length: 53,
                ..base.clone()
            },
            Rotation {
                unit: TurnUnit::Days,
                ..base.clone()
            },
            Rotation {
                until: Some(base.start),
                ..base.clone()
            },
            Rotation {
                name: " ".into(),
                ..base.clone()
            },
        ] {
            assert!(broken.validate().is_err(), "{broken:?}");
        }
        assert_eq!(TurnUnit::parse("weeks").unwrap(), TurnUnit::Weeks);
        assert!(TurnUnit::parse("months").is_err());
    }

    const ZONES: [Tz; 5] = [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Sydney,
        chrono_tz::America::Santiago,
        chrono_tz::Australia::Lord_Howe,
    ];

    fn any_rotation() -> impl Strategy<Value = (Tz, Rotation)> {
        (
            0usize..ZONES.len(),
            1u32..=3,
            prop::bool::ANY,
            0u32..(24 * 4),
            prop::option::of(0u32..7),
            0i64..400,
            1usize..5,
        )
            .prop_map(|(z, length, weeks, q, wd, start, n)| {
                let unit = if weeks {
                    TurnUnit::Weeks
                } else {
                    TurnUnit::Days
                };
                let people: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
                (
                    ZONES[z],
                    Rotation {
                        name: "r".into(),
                        role: "oncall".into(),
                        participants: people,
                        length,
                        unit,
                        handoff_time: t(q / 4, (q % 4) * 15),
                        handoff_day: wd
                            .filter(|_| weeks)
                            .map(|w| Weekday::try_from(w as u8).unwrap()),
                        start: d(2025, 12, 1) + Duration::days(start),
                        until: None,
                        window: None,
                        changes: vec![],
                        temporary: false,
                    },
                )
            })
    }

    proptest! {
        /// Every instant from the first handoff on is in exactly one turn,
        /// around every daylight-saving change of 2026–2027.
        #[test]
        fn every_instant_is_covered_exactly_once(
            (tz, r) in any_rotation(),
            minutes in 0i64..(800 * 24 * 60),
        ) {
            r.validate().unwrap();
            let (first, _) = r.span(tz);
            let at = first + Duration::minutes(minutes);
            let local = at.with_timezone(&tz).date_naive();
            let k0 = (local - r.anchor()).num_days().div_euclid(r.turn_days());
            let holding: Vec<i64> = (k0 - 3..=k0 + 3)
                .filter(|k| *k >= 0)
                .filter(|k| { let x = r.turn(tz, *k); x.start <= at && at < x.end })
                .collect();
            prop_assert_eq!(holding.len(), 1, "{} {:?} at {}", tz, r, at);
            let t = r.turn_at(tz, at).unwrap();
            prop_assert_eq!(t.index, holding[0]);
            prop_assert_eq!(&t.person, &r.participants[(t.index as usize) % r.participants.len()]);
        }

        /// Each handoff is at the handoff time, local — or, when that time
        /// does not exist that day, at the first instant after the gap —
        /// and on the handoff weekday for weekly turns.
        #[test]
        fn handoffs_are_at_the_local_time_across_dst((tz, r) in any_rotation(), k in 0i64..120) {
            let turn = r.turn(tz, k);
            let at = turn.start.with_timezone(&tz);
            let day = r.anchor() + Duration::days(k * r.turn_days());
            if let Some(wd) = r.handoff_day {
                prop_assert_eq!(day.weekday(), wd);
            }
            let exists = tz.from_local_datetime(&day.and_time(r.handoff_time)).earliest().is_some();
            if exists {
                prop_assert_eq!(at.date_naive(), day);
                prop_assert_eq!(at.time(), r.handoff_time);
            } else {
                // In a gap: the clock jumped past the handoff time (a
                // midnight handoff in Santiago's gap is at 01:00, the
                // minute before it is 23:59 of the day before).
                let wanted = day.and_time(r.handoff_time);
                prop_assert!(at.naive_local() > wanted, "{} {}", at, wanted);
                let before = turn.start - Duration::minutes(1);
                prop_assert!(before.with_timezone(&tz).naive_local() < wanted);
            }
            prop_assert_eq!(turn.end, r.turn(tz, k + 1).start);
        }
    }
}
