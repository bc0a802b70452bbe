//! Shift schedules (O2, ref. 11.2): who is on call for a role at an
//! instant, computed in the schedule's IANA time zone.
//!
//! A schedule has shifts (start and end wall-clock times; an end at or
//! before the start crosses midnight), a mode — `fixed` (the same people
//! every day) or `rotating` (people per weekday, Monday–Sunday) — explicit
//! assignments for single dates that take precedence, cleared date ranges,
//! and overrides (someone covers someone else for a UTC interval).
//!
//! ## Daylight saving
//! Each shift instance (a local date and a shift) is turned into a UTC
//! interval `[start, end)`. A wall-clock time that does not exist (the
//! spring-forward gap) resolves to the first instant after the gap; one
//! that exists twice (fall-back) resolves to its first occurrence. Adjacent
//! shifts share the same boundary time, so they share the same resolved
//! instant: shifts that tile the day cover every instant exactly once —
//! no gap and no double shift — across every transition (property-tested).

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

pub mod calendar;
pub mod rotation;

/// IANA time zones (re-exported so other crates name zones as the domain does).
pub use chrono_tz::Tz;
pub use rotation::{ParticipantChange, Rotation, TurnUnit, Window};

/// One shift of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shift {
    /// Name (`day`, `night`).
    pub name: String,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time; at or before `start` means the next day.
    pub end: NaiveTime,
}

/// Scheduling mode (ref. 11.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The same people every day.
    Fixed,
    /// People per weekday, Monday–Sunday.
    Rotating,
}

/// Someone covering for someone else during `[from, until)` (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Override {
    /// Role.
    pub role: String,
    /// The person who covers.
    pub person: String,
    /// The person covered (replaced); `None` adds `person` to whoever is on call.
    pub covering: Option<String>,
    /// Start, UTC.
    pub from: DateTime<Utc>,
    /// End, UTC (exclusive).
    pub until: DateTime<Utc>,
}

/// A shift schedule of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Schedule {
    /// IANA zone the shift times are in.
    #[schema(value_type = String, example = "UTC")]
    pub tz: Tz,
    /// Mode.
    pub mode: Mode,
    /// Shifts of a day.
    #[serde(default)]
    pub shifts: Vec<Shift>,
    /// Fixed mode: role → shift index → people.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, Vec<String>>>)]
    #[serde(default)]
    pub fixed: BTreeMap<String, BTreeMap<usize, Vec<String>>>,
    /// Rotating mode: role → weekday (0 = Monday) → shift index → people.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>>)]
    #[serde(default)]
    pub weekly: BTreeMap<String, BTreeMap<u8, BTreeMap<usize, Vec<String>>>>,
    /// Explicit assignments: role → local date → shift index → people.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, BTreeMap<String, Vec<String>>>>)]
    #[serde(default)]
    pub dated: BTreeMap<String, BTreeMap<NaiveDate, BTreeMap<usize, Vec<String>>>>,
    /// Cleared local date ranges (inclusive): nobody from the regular plan.
    #[schema(value_type = Vec<Vec<String>>)]
    #[serde(default)]
    pub cleared: Vec<(NaiveDate, NaiveDate)>,
    /// Overrides.
    #[serde(default)]
    pub overrides: Vec<Override>,
    /// On-call rotations (layers, in order: a later one covers an earlier
    /// one of its role for its hours). A role with rotations is staffed
    /// by them wherever they cover; the shift plan fills the rest.
    #[serde(default)]
    pub rotations: Vec<Rotation>,
}

/// A shift instance: which shift of which local date, and its UTC interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Local date the shift starts on.
    pub date: NaiveDate,
    /// Shift index.
    pub shift: usize,
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// End, UTC (exclusive).
    pub end: DateTime<Utc>,
}

/// Resolves a local wall-clock time in `tz` to UTC: a time in a DST gap
/// becomes the first instant after the gap, an ambiguous one its first
/// occurrence.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            // Walk forward minute by minute to the first valid local time
            // (gaps are at most a few hours): that is where the gap ends.
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

impl Schedule {
    /// Validates shifts, indexes and overrides.
    ///
    /// Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.shifts.is_empty() || self.shifts.len() > 12 {
            return Err(invalid("a schedule has 1 to 12 shifts a day"));
        }
        let n = self.shifts.len();
        let bad_index = self.fixed.values().any(|m| m.keys().any(|&i| i >= n))
            || self
                .weekly
                .values()
                .any(|w| w.iter().any(|(d, m)| *d > 6 || m.keys().any(|&i| i >= n)))
            || self
                .dated
                .values()
                .any(|d| d.values().any(|m| m.keys().any(|&i| i >= n)));
        if bad_index {
            return Err(invalid(
                "an assignment names a shift or weekday that does not exist",
            ));
        }
        if self.overrides.iter().any(|o| o.until <= o.from) {
            return Err(invalid("an override must end after it starts"));
        }
        if self.cleared.iter().any(|(a, b)| b < a) {
            return Err(invalid("a cleared range must not end before it starts"));
        }
        if self.rotations.len() > rotation::MAX_ROTATIONS {
            return Err(invalid("a schedule has at most 20 rotations"));
        }
        let mut names = std::collections::HashSet::new();
        for r in &self.rotations {
            r.validate()?;
            if !names.insert(r.name.trim()) {
                return Err(invalid(format!("two rotations are named '{}'", r.name)));
            }
        }
        Ok(())
    }

    /// The UTC interval of shift `i` starting on local date `date`.
    pub fn instance(&self, date: NaiveDate, i: usize) -> Instance {
        let s = &self.shifts[i];
        let end_date = if s.end <= s.start {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        Instance {
            date,
            shift: i,
            start: resolve(self.tz, date.and_time(s.start)),
            end: resolve(self.tz, end_date.and_time(s.end)),
        }
    }

    /// Every shift instance containing `at` (for shifts that tile the day,
    /// exactly one).
    pub fn instances_at(&self, at: DateTime<Utc>) -> Vec<Instance> {
        let local = at.with_timezone(&self.tz).date_naive();
        let mut out = Vec::new();
        for d in [local.pred_opt(), Some(local), local.succ_opt()]
            .into_iter()
            .flatten()
        {
            for i in 0..self.shifts.len() {
                let inst = self.instance(d, i);
                if inst.start <= at && at < inst.end {
                    out.push(inst);
                }
            }
        }
        out
    }

    fn planned(&self, role: &str, inst: &Instance) -> Vec<String> {
        if let Some(p) = self
            .dated
            .get(role)
            .and_then(|d| d.get(&inst.date))
            .and_then(|m| m.get(&inst.shift))
        {
            return p.clone();
        }
        if self
            .cleared
            .iter()
            .any(|(a, b)| *a <= inst.date && inst.date <= *b)
        {
            return vec![];
        }
        let p = match self.mode {
            Mode::Fixed => self.fixed.get(role).and_then(|m| m.get(&inst.shift)),
            Mode::Rotating => {
                let wd = inst.date.weekday().num_days_from_monday() as u8;
                self.weekly
                    .get(role)
                    .and_then(|w| w.get(&wd))
                    .and_then(|m| m.get(&inst.shift))
            }
        };
        p.cloned().unwrap_or_default()
    }

    /// Who is on call for `role` at `at`, with overrides applied; sorted,
    /// no duplicates. In order: an explicit assignment of the shift
    /// instance containing `at`; else the role's rotations where they
    /// cover `at` ([`rotation::layers_at`]); else the shift plan.
    pub fn on_call(&self, role: &str, at: DateTime<Utc>) -> Vec<String> {
        let instances = self.instances_at(at);
        let explicit = instances.iter().find_map(|i| {
            self.dated
                .get(role)
                .and_then(|d| d.get(&i.date))
                .and_then(|m| m.get(&i.shift))
                .cloned()
        });
        let local = at.with_timezone(&self.tz).date_naive();
        let cleared = self.cleared.iter().any(|(a, b)| *a <= local && local <= *b);
        let layers = || {
            rotation::layers_at(
                self.tz,
                self.rotations.iter().filter(|r| r.role == role),
                cleared,
                at,
            )
        };
        let mut people: Vec<String> = match explicit.or_else(layers) {
            Some(p) => p,
            None => instances
                .iter()
                .flat_map(|i| self.planned(role, i))
                .collect(),
        };
        for o in self
            .overrides
            .iter()
            .filter(|o| o.role == role && o.from <= at && at < o.until)
        {
            match &o.covering {
                Some(c) => {
                    if let Some(slot) = people.iter_mut().find(|p| *p == c) {
                        *slot = o.person.clone();
                    }
                }
                None => people.push(o.person.clone()),
            }
        }
        people.sort();
        people.dedup();
        people
    }
}

/// Monday-first weekday index (0..=6).
pub fn weekday_index(w: Weekday) -> u8 {
    w.num_days_from_monday() as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn day_night(tz: Tz) -> Schedule {
        let mut fixed = BTreeMap::new();
        let mut ops = BTreeMap::new();
        ops.insert(0, vec!["ann".to_string()]);
        ops.insert(1, vec!["bob".to_string()]);
        fixed.insert("ops".to_string(), ops);
        Schedule {
            tz,
            mode: Mode::Fixed,
            shifts: vec![
                Shift {
                    name: "day".into(),
                    start: t(8, 0),
                    end: t(20, 0),
                },
                Shift {
                    name: "night".into(),
                    start: t(20, 0),
                    end: t(8, 0),
                },
            ],
            fixed,
            weekly: BTreeMap::new(),
            dated: BTreeMap::new(),
            cleared: vec![],
            overrides: vec![],
            rotations: vec![],
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fixed_day_and_night_across_midnight() {
        let s = day_night(chrono_tz::Europe::Berlin);
        s.validate().unwrap();
        assert_eq!(s.on_call("ops", utc("2026-06-10T10:00:00Z")), vec!["ann"]); // 12:00 local
        assert_eq!(s.on_call("ops", utc("2026-06-10T22:30:00Z")), vec!["bob"]); // 00:30 local
        assert_eq!(s.on_call("ops", utc("2026-06-10T05:59:59Z")), vec!["bob"]); // 07:59:59
        assert_eq!(s.on_call("ops", utc("2026-06-10T06:00:00Z")), vec!["ann"]); // 08:00
        assert!(s.on_call("dev", utc("2026-06-10T06:00:00Z")).is_empty());
    }

    #[test]
    fn rotating_dated_cleared_and_overrides() {
        let mut s = day_night(chrono_tz::America::New_York);
        s.mode = Mode::Rotating;
        let mut week = BTreeMap::new();
        for d in 0..7u8 {
            let mut m = BTreeMap::new();
            m.insert(0, vec![format!("day-{d}")]);
            m.insert(1, vec![format!("night-{d}")]);
            week.insert(d, m);
        }
        s.weekly.insert("ops".into(), week);
        // 2026-11-23 is a Monday; 12:00 New York = 17:00 UTC.
        assert_eq!(s.on_call("ops", utc("2026-11-23T17:00:00Z")), vec!["day-0"]);
        // Monday 02:00 local belongs to Sunday's night shift.
        assert_eq!(
            s.on_call("ops", utc("2026-11-23T07:00:00Z")),
            vec!["night-6"]
        );
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        s.cleared.push((d, d));
        assert!(
            s.on_call("ops", utc("2026-11-23T17:00:00Z")).is_empty(),
            "cleared"
        );
        assert_eq!(
            s.on_call("ops", utc("2026-11-23T07:00:00Z")),
            vec!["night-6"],
            "Sunday's shift is not cleared"
        );
        let mut day = BTreeMap::new();
        day.insert(0usize, vec!["carol".to_string()]);
        s.dated.entry("ops".into()).or_default().insert(d, day);
        assert_eq!(
            s.on_call("ops", utc("2026-11-23T17:00:00Z")),
            vec!["carol"],
            "explicit beats cleared"
        );
        s.overrides.push(Override {
            role: "ops".into(),
            person: "dave".into(),
            covering: Some("carol".into()),
            from: utc("2026-11-23T16:00:00Z"),
            until: utc("2026-11-23T18:00:00Z"),
        });
        assert_eq!(s.on_call("ops", utc("2026-11-23T17:00:00Z")), vec!["dave"]);
        assert_eq!(
            s.on_call("ops", utc("2026-11-23T18:00:00Z")),
            vec!["carol"],
            "override ended"
        );
        s.overrides.push(Override {
            role: "ops".into(),
            person: "erin".into(),
            covering: None,
            from: utc("2026-11-23T16:00:00Z"),
            until: utc("2026-11-23T18:00:00Z"),
        });
        assert_eq!(
            s.on_call("ops", utc("2026-11-23T17:00:00Z")),
            vec!["dave", "erin"]
        );
        s.overrides[0].until = s.overrides[0].from;
        assert!(s.validate().is_err());
    }

    #[test]
    fn dst_gap_and_overlap_are_resolved_consistently() {
        // Berlin 2026-03-29: 02:00 → 03:00. A shift starting at 02:30 starts at 03:00 local.
        let tz = chrono_tz::Europe::Berlin;
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_time(t(2, 30));
        assert_eq!(resolve(tz, gap), utc("2026-03-29T01:00:00Z"));
        // Berlin 2026-10-25: 03:00 → 02:00. 02:30 happens twice; the first is 00:30 UTC.
        let twice = NaiveDate::from_ymd_opt(2026, 10, 25)
            .unwrap()
            .and_time(t(2, 30));
        assert_eq!(resolve(tz, twice), utc("2026-10-25T00:30:00Z"));
        // A night shift spanning the fall-back night lasts 13 hours.
        let s = day_night(tz);
        let inst = s.instance(NaiveDate::from_ymd_opt(2026, 10, 24).unwrap(), 1);
        assert_eq!(inst.end - inst.start, Duration::hours(13));
        let inst = s.instance(NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(), 1);
        assert_eq!(inst.end - inst.start, Duration::hours(11));
    }

    const ZONES: [Tz; 5] = [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Sydney,
        chrono_tz::America::Santiago,
        chrono_tz::Australia::Lord_Howe,
    ];

    /// Transition instants of 2026 in the zones above (± a day is scanned).
    const TRANSITIONS: [&str; 10] = [
        "2026-03-29T01:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-03-08T07:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-04-04T16:00:00Z",
        "2026-10-03T16:00:00Z",
        "2026-04-05T03:00:00Z",
        "2026-09-06T04:00:00Z",
        "2026-04-04T15:00:00Z",
        "2026-10-03T15:30:00Z",
    ];

    proptest! {
        /// Shifts that tile the day (random split points, any of them in a
        /// DST gap or overlap) cover every instant around every transition
        /// exactly once: no gap, no double shift.
        #[test]
        fn tiling_shifts_cover_every_instant_once(
            zone in 0usize..ZONES.len(),
            transition in 0usize..TRANSITIONS.len(),
            cuts in prop::collection::btree_set(0u32..(24 * 4), 1..5),
            offset_min in -(36 * 60i64)..(36 * 60i64),
        ) {
            let cuts: Vec<u32> = cuts.into_iter().collect();
            let mut shifts = Vec::new();
            for (k, &c) in cuts.iter().enumerate() {
                let next = cuts[(k + 1) % cuts.len()];
                shifts.push(Shift { name: format!("s{k}"), start: t(c / 4, (c % 4) * 15), end: t(next / 4, (next % 4) * 15) });
            }
            let mut s = day_night(ZONES[zone]);
            s.shifts = shifts;
            s.fixed.clear();
            let at = utc(TRANSITIONS[transition]) + Duration::minutes(offset_min);
            let found = s.instances_at(at);
            prop_assert_eq!(found.len(), 1, "{} at {}: {:?}", ZONES[zone], at, found);
        }
    }
}

/// A shift chosen where a person is expected (incident assignee,
/// reviewers, recipients): whoever is on call for `role` of `scenario`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftRef {
    /// Scenario id or name.
    pub scenario: String,
    /// Role.
    pub role: String,
}

/// Scheduling dimension of a scenario (ref. 11.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// One schedule for every application.
    #[default]
    Global,
    /// Schedules per application and (optionally) region.
    Application,
}

/// The schedule of one application in an application-dimension scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSchedule {
    /// Application.
    pub application: String,
    /// Regions it applies to; empty: every region without its own entry.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The schedule.
    pub schedule: Schedule,
}

/// A scheduling scenario (ref. 11.2.2): roles and schedules, global or
/// per application and region (the dimension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name (1..=64 chars, unique per tenant).
    pub name: String,
    /// Global (default) or per application.
    #[serde(default)]
    pub dimension: Dimension,
    /// Roles of the scenario (`oncall`, `duty manager`, …).
    pub roles: Vec<String>,
    /// The global schedule; in the application dimension, the default for
    /// an application and region without an entry in `applications`.
    pub schedule: Schedule,
    /// Application dimension: schedules per application and region.
    #[serde(default)]
    pub applications: Vec<AppSchedule>,
}

impl crate::application::refs::AppRefs for Scenario {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.applications
            .iter_mut()
            .map(|a| &mut a.application)
            .collect()
    }
}

impl Scenario {
    /// Validates name, roles (1..=20, unique), that assignments name known
    /// roles, and the schedule.
    ///
    /// Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("scenario name must have 1 to 64 characters"));
        }
        if self.roles.is_empty() || self.roles.len() > 20 {
            return Err(invalid("a scenario has 1 to 20 roles"));
        }
        let mut seen = std::collections::HashSet::new();
        if self
            .roles
            .iter()
            .any(|r| r.trim().is_empty() || !seen.insert(r))
        {
            return Err(invalid("role names must be non-empty and unique"));
        }
        if self.dimension == Dimension::Global && !self.applications.is_empty() {
            return Err(invalid(
                "a global scenario has no per-application schedules; use dimension 'application'",
            ));
        }
        let mut keys = std::collections::HashSet::new();
        for a in &self.applications {
            if a.application.trim().is_empty() {
                return Err(invalid("an application schedule needs an application"));
            }
            let regions: Vec<&str> = if a.regions.is_empty() {
                vec![""]
            } else {
                a.regions.iter().map(String::as_str).collect()
            };
            for r in regions {
                if !keys.insert((a.application.as_str(), r)) {
                    return Err(invalid(format!(
                        "application '{}' has two schedules for region '{}'",
                        a.application,
                        if r.is_empty() { "(any)" } else { r }
                    )));
                }
            }
        }
        for s in self.schedules() {
            let unknown = s
                .fixed
                .keys()
                .chain(s.weekly.keys())
                .chain(s.dated.keys())
                .chain(s.overrides.iter().map(|o| &o.role))
                .chain(s.rotations.iter().map(|r| &r.role))
                .find(|r| !self.roles.contains(r));
            if let Some(r) = unknown {
                return Err(invalid(format!("role '{r}' is not a role of the scenario")));
            }
            s.validate()?;
        }
        Ok(())
    }

    /// Every schedule of the scenario: the global one, then per application.
    pub fn schedules(&self) -> impl Iterator<Item = &Schedule> {
        std::iter::once(&self.schedule).chain(self.applications.iter().map(|a| &a.schedule))
    }

    /// The schedule that applies to `application` in `region`: in the
    /// application dimension the entry naming the application and region,
    /// else the application's entry without regions, else the default
    /// schedule; in the global dimension always the global schedule.
    pub fn schedule_for(&self, application: Option<&str>, region: Option<&str>) -> &Schedule {
        if self.dimension == Dimension::Global {
            return &self.schedule;
        }
        let Some(app) = application else {
            return &self.schedule;
        };
        let of_app = || self.applications.iter().filter(|a| a.application == app);
        of_app()
            .find(|a| region.is_some_and(|r| a.regions.iter().any(|x| x == r)))
            .or_else(|| of_app().find(|a| a.regions.is_empty()))
            .map(|a| &a.schedule)
            .unwrap_or(&self.schedule)
    }

    /// Who is on call for `role` of this scenario, for `application` in
    /// `region`, at `at` (the one lookup every feature uses, ref. 11.2).
    ///
    /// Errors: [`DomainError::Validation`] for a role the scenario does not have.
    pub fn on_call(
        &self,
        role: &str,
        application: Option<&str>,
        region: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, DomainError> {
        if !self.roles.iter().any(|r| r == role) {
            return Err(invalid(format!(
                "scenario '{}' has no role '{role}'",
                self.name
            )));
        }
        Ok(self.schedule_for(application, region).on_call(role, at))
    }

    /// A new global scenario staffed by rotations: role `role`, one
    /// all-day shift with nobody planned, in zone `tz`. Add rotations with
    /// [`Scenario::put_rotation`].
    pub fn for_rotations(name: &str, role: &str, tz: Tz) -> Scenario {
        Scenario {
            name: name.trim().to_string(),
            dimension: Dimension::Global,
            roles: vec![role.trim().to_string()],
            schedule: Schedule {
                tz,
                mode: Mode::Fixed,
                shifts: vec![Shift {
                    name: "all day".into(),
                    start: NaiveTime::MIN,
                    end: NaiveTime::MIN,
                }],
                fixed: BTreeMap::new(),
                weekly: BTreeMap::new(),
                dated: BTreeMap::new(),
                cleared: vec![],
                overrides: vec![],
                rotations: vec![],
            },
            applications: vec![],
        }
    }

    /// The schedule of `application` — its entry for every region — to
    /// edit; a new entry starts from the global schedule's zone and shifts
    /// with nobody planned, and the scenario takes the application
    /// dimension (applications without an entry keep the global
    /// schedule). None: the global schedule.
    pub fn schedule_mut(&mut self, application: Option<&str>) -> &mut Schedule {
        let Some(app) = application.map(str::trim).filter(|a| !a.is_empty()) else {
            return &mut self.schedule;
        };
        self.dimension = Dimension::Application;
        let i = match self
            .applications
            .iter()
            .position(|a| a.application == app && a.regions.is_empty())
        {
            Some(i) => i,
            None => {
                let mut schedule = Scenario::for_rotations("", "", self.schedule.tz).schedule;
                schedule.shifts = self.schedule.shifts.clone();
                self.applications.push(AppSchedule {
                    application: app.to_string(),
                    regions: vec![],
                    schedule,
                });
                self.applications.len() - 1
            }
        };
        &mut self.applications[i].schedule
    }

    /// Every schedule with what it is for: none for the global one, the
    /// application (and its regions) for the others.
    pub fn labelled_schedules(&self) -> Vec<(Option<String>, &Schedule)> {
        let mut out = vec![(None, &self.schedule)];
        for a in &self.applications {
            let label = if a.regions.is_empty() {
                a.application.clone()
            } else {
                format!("{} ({})", a.application, a.regions.join(", "))
            };
            out.push((Some(label), &a.schedule));
        }
        out
    }

    /// Adds rotation `r` to the schedule of `application` (none: the
    /// global one), or replaces the one of the same name there (keeping
    /// its layer position); adds its role to the scenario when new; then
    /// validates the whole scenario.
    ///
    /// Errors: [`DomainError::Validation`]; the scenario is then unchanged.
    pub fn put_rotation(
        &mut self,
        application: Option<&str>,
        r: Rotation,
    ) -> Result<(), DomainError> {
        let mut next = self.clone();
        if !next.roles.contains(&r.role) {
            next.roles.push(r.role.clone());
        }
        let rs = &mut next.schedule_mut(application).rotations;
        match rs.iter_mut().find(|x| x.name.trim() == r.name.trim()) {
            Some(x) => *x = r,
            None => rs.push(r),
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Removes the rotation named `name` from the schedule of
    /// `application` (none: the global one).
    ///
    /// Errors: [`DomainError::Validation`] when there is none.
    pub fn remove_rotation(
        &mut self,
        application: Option<&str>,
        name: &str,
    ) -> Result<(), DomainError> {
        if application.is_some() && !self.has_schedule(application) {
            return Err(invalid(format!(
                "scenario '{}' has no schedule for '{}'",
                self.name,
                application.unwrap_or_default()
            )));
        }
        let rs = &mut self.schedule_mut(application).rotations;
        let before = rs.len();
        rs.retain(|r| r.name.trim() != name.trim());
        if rs.len() == before {
            return Err(invalid(format!(
                "scenario '{}' has no rotation '{name}'",
                self.name
            )));
        }
        Ok(())
    }

    /// Whether `application` has a schedule of its own (none: the global
    /// one, always).
    fn has_schedule(&self, application: Option<&str>) -> bool {
        application.is_none_or(|app| {
            self.applications
                .iter()
                .any(|a| a.application == app.trim() && a.regions.is_empty())
        })
    }

    /// The scenario's local date at `now` (in its schedule's zone).
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.schedule.tz).date_naive()
    }

    /// Changes who takes part in the rotation `name` from the local date
    /// `change.from` on (a person joins, leaves or the order changes). The
    /// turn running on that date is not cut: the new list starts with the
    /// first turn that begins on or after it. A change from the same date
    /// replaces the earlier one; changes stay in date order. `today` is
    /// the scenario's local date now: the past is not rewritten.
    ///
    /// Errors: [`DomainError::Validation`] — no such rotation, a date
    /// before `today` or not after the rotation's start, an empty list;
    /// the scenario is then unchanged.
    pub fn change_participants(
        &mut self,
        application: Option<&str>,
        name: &str,
        change: ParticipantChange,
        today: NaiveDate,
    ) -> Result<(), DomainError> {
        if change.from < today {
            return Err(invalid(format!(
                "a participant change starts today ({today}) or later, not {}",
                change.from
            )));
        }
        if !self.has_schedule(application) {
            return Err(invalid(format!(
                "scenario '{}' has no schedule for '{}'",
                self.name,
                application.unwrap_or_default()
            )));
        }
        let mut next = self.clone();
        let Some(r) = next
            .schedule_mut(application)
            .rotations
            .iter_mut()
            .find(|r| r.name.trim() == name.trim())
        else {
            return Err(invalid(format!(
                "scenario '{}' has no rotation '{name}'",
                self.name
            )));
        };
        r.changes.retain(|c| c.from != change.from);
        r.changes.push(change);
        r.changes.sort_by_key(|c| c.from);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Adds an override to the schedule of `application` (none: the global
    /// one) — someone covers, or joins, whoever is on call for a role over
    /// a UTC span — then validates.
    ///
    /// Errors: [`DomainError::Validation`] (unknown role, empty span); the
    /// scenario is then unchanged.
    pub fn add_override(
        &mut self,
        application: Option<&str>,
        o: Override,
    ) -> Result<(), DomainError> {
        let mut next = self.clone();
        next.schedule_mut(application).overrides.push(o);
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Every user name the scenario puts on call anywhere (plans,
    /// rotations, overrides), sorted, no duplicates: what must exist.
    pub fn people(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in self.schedules() {
            let plans = s
                .fixed
                .values()
                .flat_map(|m| m.values())
                .chain(
                    s.weekly
                        .values()
                        .flat_map(|w| w.values().flat_map(|m| m.values())),
                )
                .chain(
                    s.dated
                        .values()
                        .flat_map(|d| d.values().flat_map(|m| m.values())),
                );
            v.extend(plans.flatten().cloned());
            for r in &s.rotations {
                v.extend(r.participants.iter().cloned());
                v.extend(
                    r.changes
                        .iter()
                        .flat_map(|c| c.participants.iter().cloned()),
                );
            }
            for o in &s.overrides {
                v.push(o.person.clone());
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// Clears the regular plan on local dates `from..=to`, never before
    /// `today`: shifts already past stay as they were.
    ///
    /// Errors: [`DomainError::Validation`] when `to` is before `from` or
    /// the whole range is in the past.
    pub fn clear(
        &mut self,
        from: NaiveDate,
        to: NaiveDate,
        today: NaiveDate,
    ) -> Result<(), DomainError> {
        if to < from {
            return Err(invalid("the range ends before it starts"));
        }
        if to < today {
            return Err(invalid(
                "the whole range is in the past; expired shifts stay",
            ));
        }
        let from = from.max(today);
        let all = std::iter::once(&mut self.schedule)
            .chain(self.applications.iter_mut().map(|a| &mut a.schedule));
        for s in all {
            s.cleared.push((from, to));
            for dates in s.dated.values_mut() {
                dates.retain(|d, _| *d < from || *d > to);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod scenario_tests {
    use super::*;

    fn scenario() -> Scenario {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        let mut fixed = BTreeMap::new();
        let mut m = BTreeMap::new();
        m.insert(0usize, vec!["ann".to_string()]);
        fixed.insert("oncall".to_string(), m);
        Scenario {
            name: "shop".into(),
            dimension: Dimension::Global,
            applications: vec![],
            roles: vec!["oncall".into()],
            schedule: Schedule {
                tz: chrono_tz::UTC,
                mode: Mode::Fixed,
                shifts: vec![Shift {
                    name: "all".into(),
                    start: t(0),
                    end: t(0),
                }],
                fixed,
                weekly: BTreeMap::new(),
                dated: BTreeMap::new(),
                cleared: vec![],
                overrides: vec![],
                rotations: vec![],
            },
        }
    }

    #[test]
    fn validation_and_json_round_trip() {
        let s = scenario();
        s.validate().unwrap();
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"tz\":\"UTC\""), "{j}");
        assert_eq!(serde_json::from_str::<Scenario>(&j).unwrap(), s);
        let mut bad = s.clone();
        bad.schedule.fixed.insert("ghost".into(), BTreeMap::new());
        assert!(bad.validate().unwrap_err().to_string().contains("ghost"));
        let mut bad = s.clone();
        bad.applications.push(AppSchedule {
            application: "shop".into(),
            regions: vec![],
            schedule: s.schedule.clone(),
        });
        assert!(bad.validate().unwrap_err().to_string().contains("global"));
        let mut bad = s;
        bad.roles.push("oncall".into());
        assert!(bad.validate().is_err());
    }

    #[test]
    fn application_dimension_picks_the_most_specific_schedule() {
        let mut s = scenario();
        s.dimension = Dimension::Application;
        let with = |who: &str| {
            let mut sch = s.schedule.clone();
            sch.fixed
                .get_mut("oncall")
                .unwrap()
                .insert(0, vec![who.into()]);
            sch
        };
        s.applications = vec![
            AppSchedule {
                application: "shop".into(),
                regions: vec!["r1".into(), "r2".into()],
                schedule: with("rita"),
            },
            AppSchedule {
                application: "shop".into(),
                regions: vec![],
                schedule: with("any"),
            },
            AppSchedule {
                application: "erp".into(),
                regions: vec![],
                schedule: with("erin"),
            },
        ];
        s.validate().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let who = |a: Option<&str>, r: Option<&str>| s.on_call("oncall", a, r, at).unwrap();
        assert_eq!(who(Some("shop"), Some("r2")), vec!["rita"]);
        assert_eq!(who(Some("shop"), Some("r9")), vec!["any"]);
        assert_eq!(who(Some("shop"), None), vec!["any"]);
        assert_eq!(who(Some("erp"), Some("r1")), vec!["erin"]);
        assert_eq!(
            who(Some("crm"), Some("r1")),
            vec!["ann"],
            "default schedule"
        );
        assert_eq!(who(None, None), vec!["ann"]);
        assert!(s.on_call("ghost", None, None, at).is_err());
        let mut dup = s.clone();
        dup.applications[1].regions = vec!["r2".into()];
        assert!(dup.validate().unwrap_err().to_string().contains("r2"));
        let mut global = s.clone();
        global.dimension = Dimension::Global;
        global.applications.clear();
        assert_eq!(
            global
                .on_call("oncall", Some("shop"), Some("r1"), at)
                .unwrap(),
            vec!["ann"]
        );
    }

    #[test]
    fn an_applications_rotation_staffs_its_own_schedule() {
        use super::calendar::{FeedScope, feed, handoffs};
        let berlin = chrono_tz::Europe::Berlin;
        let mut s = Scenario::for_rotations("payments", "oncall", berlin);
        let weekly = super::rotation::tests::weekly;
        s.put_rotation(None, weekly(&["ann", "bob"])).unwrap();
        s.put_rotation(Some("checkout"), weekly(&["cid", "dan"]))
            .unwrap();
        assert_eq!(s.dimension, Dimension::Application);
        assert_eq!(s.applications.len(), 1);
        let at = |m, d, h| {
            berlin
                .with_ymd_and_hms(2026, m, d, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let who = |s: &Scenario, app: Option<&str>| {
            s.on_call("oncall", app, None, at(10, 21, 12)).unwrap()
        };
        assert_eq!(who(&s, None), ["ann"]);
        assert_eq!(who(&s, Some("checkout")), ["cid"]);
        assert_eq!(
            who(&s, Some("search")),
            ["ann"],
            "no schedule of its own: the global one"
        );
        // Feeds and handoff notices cover both schedules, told apart.
        let entries = feed(
            std::slice::from_ref(&s),
            &FeedScope {
                scenario: None,
                role: None,
                person: None,
            },
            at(10, 20, 0),
            at(10, 22, 0),
        );
        let apps: Vec<Option<&str>> = entries.iter().map(|e| e.application.as_deref()).collect();
        assert!(
            apps.contains(&None) && apps.contains(&Some("checkout")),
            "{apps:?}"
        );
        let h = handoffs(&s, at(10, 26, 8), at(10, 26, 10));
        let got: Vec<(String, &str)> = h.iter().map(|h| (h.key(), h.person.as_str())).collect();
        assert!(got.contains(&("oncall".to_string(), "bob")), "{got:?}");
        assert!(
            got.contains(&("oncall (checkout)".to_string(), "dan")),
            "{got:?}"
        );
        let notice = h.iter().find(|h| h.person == "dan").unwrap().message();
        assert!(
            notice.body.contains("of payments (checkout)"),
            "{}",
            notice.body
        );
        // Changing an application's schedule needs it to exist.
        let before = s.clone();
        assert!(s.remove_rotation(Some("search"), "primary").is_err());
        assert_eq!(s, before);
        s.remove_rotation(Some("checkout"), "primary").unwrap();
        assert_eq!(who(&s, Some("checkout")), Vec::<String>::new());
        assert_eq!(who(&s, None), ["ann"]);
    }

    #[test]
    fn participants_change_from_a_date_without_cutting_the_running_turn() {
        let mut s = Scenario::for_rotations("payments", "oncall", chrono_tz::Europe::Berlin);
        s.put_rotation(None, super::rotation::tests::weekly(&["ann", "bob", "cid"]))
            .unwrap();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let berlin = |m, day, h| {
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, m, day, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // Turns start Mondays 09:00: Oct 19 ann, Oct 26 bob, Nov 2 cid.
        assert_eq!(
            s.on_call("oncall", None, None, berlin(10, 28, 12)).unwrap(),
            ["bob"]
        );
        // From Wednesday Oct 28, dan replaces bob: bob's running turn stays,
        // the next turn (Nov 2) is the new list's.
        let change = |from, who: &[&str]| ParticipantChange {
            from,
            participants: who.iter().map(|p| p.to_string()).collect(),
        };
        s.change_participants(
            None,
            "primary",
            change(d(10, 28), &["ann", "dan", "cid"]),
            d(10, 27),
        )
        .unwrap();
        assert_eq!(
            s.on_call("oncall", None, None, berlin(10, 29, 12)).unwrap(),
            ["bob"]
        );
        let later = s.on_call("oncall", None, None, berlin(11, 3, 12)).unwrap();
        assert_ne!(later, ["bob"], "bob left the rotation");
        assert_eq!(s.people(), ["ann", "bob", "cid", "dan"]);
        // The same date replaces; another date is kept in order.
        s.change_participants(None, "primary", change(d(11, 20), &["eve"]), d(10, 27))
            .unwrap();
        s.change_participants(
            None,
            "primary",
            change(d(10, 28), &["ann", "cid"]),
            d(10, 27),
        )
        .unwrap();
        let r = &s.schedule.rotations[0];
        assert_eq!(r.changes.len(), 2);
        assert_eq!(r.changes[0].participants, ["ann", "cid"]);
        assert_eq!(r.changes[1].from, d(11, 20));
        // Refused, and nothing changes: the past, no such rotation, nobody.
        let before = s.clone();
        assert!(
            s.change_participants(None, "primary", change(d(10, 20), &["ann"]), d(10, 27))
                .is_err()
        );
        assert!(
            s.change_participants(None, "ghost", change(d(12, 1), &["ann"]), d(10, 27))
                .is_err()
        );
        assert!(
            s.change_participants(None, "primary", change(d(12, 1), &[]), d(10, 27))
                .is_err()
        );
        assert_eq!(s, before);
    }

    #[test]
    fn rotations_are_put_replaced_and_removed_whole() {
        let mut s = Scenario::for_rotations("payments", "primary", chrono_tz::Europe::Berlin);
        let r = super::rotation::tests::weekly(&["ann", "bob", "cid"]);
        s.put_rotation(
            None,
            Rotation {
                role: "primary".into(),
                ..r.clone()
            },
        )
        .unwrap();
        s.validate().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 10, 27, 12, 0, 0).unwrap();
        assert_eq!(s.on_call("primary", None, None, at).unwrap(), ["bob"]);
        // The same name replaces; a new role joins the scenario.
        s.put_rotation(
            None,
            Rotation {
                participants: vec!["dan".into()],
                ..r.clone()
            },
        )
        .unwrap();
        assert_eq!(s.roles, ["primary", "oncall"]);
        assert_eq!(s.schedule.rotations.len(), 1);
        assert_eq!(s.on_call("oncall", None, None, at).unwrap(), ["dan"]);
        assert_eq!(
            s.on_call("primary", None, None, at).unwrap(),
            Vec::<String>::new()
        );
        let before = s.clone();
        assert!(
            s.put_rotation(
                None,
                Rotation {
                    length: 0,
                    ..r.clone()
                }
            )
            .is_err()
        );
        assert_eq!(s, before, "a refused rotation changes nothing");
        assert_eq!(s.people(), ["dan"]);
        s.add_override(
            None,
            Override {
                role: "oncall".into(),
                person: "eve".into(),
                covering: Some("dan".into()),
                from: at,
                until: at + Duration::hours(1),
            },
        )
        .unwrap();
        assert_eq!(s.on_call("oncall", None, None, at).unwrap(), ["eve"]);
        assert!(
            s.add_override(
                None,
                Override {
                    role: "ghost".into(),
                    person: "eve".into(),
                    covering: None,
                    from: at,
                    until: at + Duration::hours(1),
                }
            )
            .is_err()
        );
        assert_eq!(s.people(), ["dan", "eve"]);
        s.remove_rotation(None, &r.name).unwrap();
        assert!(s.remove_rotation(None, &r.name).is_err());
    }

    #[test]
    fn clearing_keeps_the_past() {
        let mut s = scenario();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let at = |m, day| d(m, day).and_hms_opt(12, 0, 0).unwrap().and_utc();
        s.clear(d(11, 20), d(11, 25), d(11, 22)).unwrap();
        assert_eq!(
            s.schedule.on_call("oncall", at(11, 21)),
            vec!["ann"],
            "past dates stay"
        );
        assert!(s.schedule.on_call("oncall", at(11, 23)).is_empty());
        assert_eq!(s.schedule.on_call("oncall", at(11, 26)), vec!["ann"]);
        assert!(s.clear(d(11, 1), d(11, 5), d(11, 22)).is_err());
        assert!(s.clear(d(11, 30), d(11, 29), d(11, 22)).is_err());
    }
}
