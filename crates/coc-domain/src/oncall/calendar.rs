//! The on-call calendar (O2): who is on call for a role over a span, as
//! consecutive intervals — what the 4-week calendar, the iCalendar feed
//! and handoff notices show. Derived from [`Schedule::on_call`] at every
//! instant where the answer may change, so it can never disagree with
//! "who is on call now".

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Scenario, Schedule, resolve};
use crate::error::{DomainError, invalid};

/// Longest span one calendar covers, days.
pub const MAX_SPAN_DAYS: i64 = 366;

/// Who is on call for `[start, end)` (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Slot {
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// End, UTC (exclusive).
    pub end: DateTime<Utc>,
    /// Who is on call (sorted; empty: nobody).
    pub people: Vec<String>,
}

impl Schedule {
    /// Every instant in `[from, until)` where who is on call for `role`
    /// may change, with `from` first; sorted, no duplicates.
    fn edges(&self, role: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let first = from.with_timezone(&self.tz).date_naive() - Duration::days(2);
        let last = until.with_timezone(&self.tz).date_naive() + Duration::days(2);
        let mut v = vec![from];
        let mut d = first;
        while d <= last {
            v.push(resolve(self.tz, d.and_time(NaiveTime::MIN)));
            for i in 0..self.shifts.len() {
                let inst = self.instance(d, i);
                v.extend([inst.start, inst.end]);
            }
            for r in self.rotations.iter().filter(|r| r.role == role) {
                v.extend(r.edges_on(self.tz, d));
            }
            d += Duration::days(1);
        }
        for o in self.overrides.iter().filter(|o| o.role == role) {
            v.extend([o.from, o.until]);
        }
        v.retain(|t| from <= *t && *t < until);
        v.sort();
        v.dedup();
        v
    }

    /// Who is on call for `role` over `[from, until)`: consecutive slots,
    /// neighbours with the same people merged, nobody included as an
    /// empty list.
    ///
    /// Errors: [`DomainError::Validation`] when `until` is not after
    /// `from` or the span is longer than [`MAX_SPAN_DAYS`].
    pub fn slots(
        &self,
        role: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Slot>, DomainError> {
        if until <= from {
            return Err(invalid("the calendar must end after it starts"));
        }
        if until - from > Duration::days(MAX_SPAN_DAYS) {
            return Err(invalid("a calendar covers at most 366 days"));
        }
        let edges = self.edges(role, from, until);
        let mut out: Vec<Slot> = Vec::new();
        for (i, at) in edges.iter().enumerate() {
            let end = edges.get(i + 1).copied().unwrap_or(until);
            let people = self.on_call(role, *at);
            match out.last_mut() {
                Some(last) if last.people == people => last.end = end,
                _ => out.push(Slot {
                    start: *at,
                    end,
                    people,
                }),
            }
        }
        Ok(out)
    }
}

/// What a calendar subscription (iCalendar feed) lists: one person's
/// shifts across scenarios, or a whole scenario (one role or all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedScope {
    /// A scenario (by name); none: every scenario.
    #[serde(default)]
    pub scenario: Option<String>,
    /// A role of it; none: every role.
    #[serde(default)]
    pub role: Option<String>,
    /// Only this person's shifts; none: everyone's.
    #[serde(default)]
    pub person: Option<String>,
}

/// One event of a feed: who is on call for a scenario's role over a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Scenario name.
    pub scenario: String,
    /// Role.
    pub role: String,
    /// The application whose schedule it comes from; none: the global one.
    pub application: Option<String>,
    /// The slot (people non-empty).
    pub slot: Slot,
}

/// The entries of `scope` over `[from, until)` from the scenarios'
/// global schedules, by start: slots with nobody are left out, and for a
/// person only the slots they are in.
pub fn feed(
    scenarios: &[Scenario],
    scope: &FeedScope,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<FeedEntry> {
    let mut out = Vec::new();
    for sc in scenarios
        .iter()
        .filter(|s| scope.scenario.as_ref().is_none_or(|n| *n == s.name))
    {
        let roles = sc
            .roles
            .iter()
            .filter(|r| scope.role.as_ref().is_none_or(|x| x == *r));
        for role in roles {
            for (application, schedule) in sc.labelled_schedules() {
                let Ok(slots) = schedule.slots(role, from, until) else {
                    continue;
                };
                out.extend(
                    slots
                        .into_iter()
                        .filter(|x| !x.people.is_empty())
                        .filter(|x| scope.person.as_ref().is_none_or(|p| x.people.contains(p)))
                        .map(|slot| FeedEntry {
                            scenario: sc.name.clone(),
                            role: role.clone(),
                            application: application.clone(),
                            slot,
                        }),
                );
            }
        }
    }
    out.sort_by_key(|e| e.slot.start);
    out
}

/// Someone coming on call: what a handoff notice tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    /// Scenario name.
    pub scenario: String,
    /// Role.
    pub role: String,
    /// The application whose schedule it is; none: the global one.
    pub application: Option<String>,
    /// That schedule's zone (the notice's local times).
    pub tz: super::Tz,
    /// Who comes on call.
    pub person: String,
    /// When their stretch starts, UTC.
    pub start: DateTime<Utc>,
    /// When it ends (looked up to [`HANDOFF_HORIZON_DAYS`] ahead), UTC.
    pub end: DateTime<Utc>,
}

/// How far ahead a handoff's end is looked up, days.
pub const HANDOFF_HORIZON_DAYS: i64 = 35;

/// Everyone who comes on call for a role of `sc` (in any of its
/// schedules: the global one and each application's) at
/// an instant in `(after, upto]`: people in a slot starting then who
/// were not in the slot before, with the end of their unbroken stretch.
pub fn handoffs(sc: &Scenario, after: DateTime<Utc>, upto: DateTime<Utc>) -> Vec<Handoff> {
    let mut out = Vec::new();
    if upto <= after {
        return out;
    }
    let horizon = upto + Duration::days(HANDOFF_HORIZON_DAYS);
    for (role, (application, schedule)) in sc
        .roles
        .iter()
        .flat_map(|r| sc.labelled_schedules().into_iter().map(move |x| (r, x)))
    {
        let Ok(slots) = schedule.slots(role, after, horizon) else {
            continue;
        };
        for (i, slot) in slots.iter().enumerate().skip(1) {
            if slot.start > upto {
                break;
            }
            for p in slot
                .people
                .iter()
                .filter(|p| !slots[i - 1].people.contains(p))
            {
                let end = slots[i..]
                    .iter()
                    .take_while(|x| x.people.contains(p))
                    .last()
                    .map_or(slot.end, |x| x.end);
                out.push(Handoff {
                    scenario: sc.name.clone(),
                    role: role.clone(),
                    application: application.clone(),
                    tz: schedule.tz,
                    person: p.clone(),
                    start: slot.start,
                    end,
                });
            }
        }
    }
    out.sort_by_key(|h| h.start);
    out
}

impl Handoff {
    /// What tells this handoff from others of the scenario at the same
    /// start for the same person: the role, with the application when it
    /// comes from an application's schedule (`oncall (checkout)`).
    pub fn key(&self) -> String {
        match &self.application {
            Some(a) => format!("{} ({a})", self.role),
            None => self.role.clone(),
        }
    }

    /// The notice: "You are on call for oncall of payments from Mon 26 Oct
    /// 09:00 to Mon 2 Nov 09:00 (Europe/Berlin)"; an application's schedule
    /// is named after the scenario ("payments (checkout)").
    pub fn message(&self) -> crate::notify::Message {
        let tz = self.tz;
        let of = match &self.application {
            Some(a) => format!("{} ({a})", self.scenario),
            None => self.scenario.clone(),
        };
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%a %-d %b %H:%M").to_string();
        crate::notify::Message {
            event: "oncall_handoff".into(),
            subject: format!("[on call] {of} · {} from {}", self.role, local(self.start)),
            body: format!(
                "You are on call for {} of {of} from {} to {} ({}).",
                self.role,
                local(self.start),
                local(self.end),
                tz.name()
            ),
            incident: None,
            link: None,
            actions: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::{Mode, Override, Shift, rotation::tests::weekly};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn schedule(tz: chrono_tz::Tz) -> Schedule {
        let mut fixed = BTreeMap::new();
        fixed.insert(
            "oncall".to_string(),
            BTreeMap::from([(0usize, vec!["night-owl".to_string()])]),
        );
        Schedule {
            tz,
            mode: Mode::Fixed,
            shifts: vec![Shift {
                name: "all day".into(),
                start: NaiveTime::MIN,
                end: NaiveTime::MIN,
            }],
            fixed,
            weekly: BTreeMap::new(),
            dated: BTreeMap::new(),
            cleared: vec![],
            overrides: vec![],
            rotations: vec![weekly(&["ann", "bob", "cid"])],
        }
    }

    #[test]
    fn four_weeks_of_a_weekly_rotation_with_an_override() {
        let tz = chrono_tz::Europe::Berlin;
        let mut s = schedule(tz);
        s.overrides.push(Override {
            role: "oncall".into(),
            person: "dan".into(),
            covering: Some("bob".into()),
            from: Utc.with_ymd_and_hms(2026, 10, 27, 12, 0, 0).unwrap(),
            until: Utc.with_ymd_and_hms(2026, 10, 28, 12, 0, 0).unwrap(),
        });
        s.validate().unwrap();
        let from = Utc.with_ymd_and_hms(2026, 10, 12, 0, 0, 0).unwrap();
        let slots = s.slots("oncall", from, from + Duration::days(29)).unwrap();
        let who: Vec<String> = slots.iter().map(|x| x.people.join("+")).collect();
        assert_eq!(who, ["night-owl", "ann", "bob", "dan", "bob", "cid", "ann"]);
        // Consecutive, from `from` to the end.
        assert_eq!(slots[0].start, from);
        assert!(slots.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(slots.last().unwrap().end, from + Duration::days(29));
        // Handoff to bob: Monday 09:00 Berlin after the change to winter time.
        assert_eq!(
            slots[2].start,
            Utc.with_ymd_and_hms(2026, 10, 26, 8, 0, 0).unwrap()
        );
        assert!(s.slots("oncall", from, from).is_err());
        assert!(s.slots("oncall", from, from + Duration::days(400)).is_err());
    }

    #[test]
    fn a_persons_feed_holds_only_their_turns() {
        let s = schedule(chrono_tz::Europe::Berlin);
        let sc = Scenario {
            name: "payments".into(),
            dimension: Default::default(),
            roles: vec!["oncall".into()],
            schedule: s,
            applications: vec![],
        };
        let from = Utc.with_ymd_and_hms(2026, 10, 19, 0, 0, 0).unwrap();
        let scope = FeedScope {
            scenario: None,
            role: None,
            person: Some("bob".into()),
        };
        let e = feed(
            std::slice::from_ref(&sc),
            &scope,
            from,
            from + Duration::days(28),
        );
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].slot.start,
            Utc.with_ymd_and_hms(2026, 10, 26, 8, 0, 0).unwrap()
        );
        assert_eq!(
            e[0].slot.end,
            Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
        );
        let all = feed(
            &[sc],
            &FeedScope {
                person: None,
                ..scope
            },
            from,
            from + Duration::days(28),
        );
        let who: Vec<String> = all.iter().map(|x| x.slot.people.join("+")).collect();
        assert_eq!(who, ["night-owl", "ann", "bob", "cid", "ann"]);
    }

    #[test]
    fn handoffs_name_who_comes_on_and_until_when() {
        let sc = Scenario {
            name: "payments".into(),
            dimension: Default::default(),
            roles: vec!["oncall".into()],
            schedule: schedule(chrono_tz::Europe::Berlin),
            applications: vec![],
        };
        // bob takes over on Monday 26 Oct at 09:00 CET (08:00 UTC).
        let at = Utc.with_ymd_and_hms(2026, 10, 26, 8, 0, 0).unwrap();
        let h = handoffs(&sc, at - Duration::minutes(10), at + Duration::minutes(15));
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!((h[0].person.as_str(), h[0].start), ("bob", at));
        assert_eq!(
            h[0].end,
            Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
        );
        let m = h[0].message();
        assert_eq!(
            m.body,
            "You are on call for oncall of payments from Mon 26 Oct 09:00 to Mon 2 Nov 09:00 (Europe/Berlin)."
        );
        // Nobody comes on in a window without a handoff; the window's
        // start is exclusive.
        assert!(handoffs(&sc, at, at + Duration::hours(5)).is_empty());
        assert!(handoffs(&sc, at, at).is_empty());
    }

    proptest! {
        /// The calendar agrees with "who is on call" at every instant.
        #[test]
        fn slots_agree_with_on_call(start_h in 0i64..(24 * 60), probe in 0i64..(21 * 24 * 60)) {
            let tz = chrono_tz::America::New_York;
            let s = schedule(tz);
            let from = Utc.with_ymd_and_hms(2026, 10, 20, 0, 0, 0).unwrap() + Duration::hours(start_h);
            let slots = s.slots("oncall", from, from + Duration::days(21)).unwrap();
            let at = from + Duration::minutes(probe);
            let slot = slots.iter().find(|x| x.start <= at && at < x.end).unwrap();
            prop_assert_eq!(&slot.people, &s.on_call("oncall", at));
        }
    }
}
