//! Incident escalation (I7, ref. 7.1): if an incident is not accepted in
//! time, notify the next level, up to K levels, optionally repeating.
//!
//! A policy applies to incidents of some forwarding rules or some
//! applications, or to every incident when it names neither; the most
//! specific enabled policy wins (rule over application over default, then
//! by name). Escalation starts when an incident is created or forwarded
//! (it waits for a new owner) and stops as soon as it is accepted, rejected
//! or otherwise leaves `unaccepted`.
//!
//! Level `i` fires `after_seconds` after the previous level fired (level 0:
//! after the start). After the last level the policy starts again at level
//! 0 up to `repeat` more rounds.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// Whether an incident in `status` keeps its escalation running: only
/// while nobody has accepted it (ref. 7.1, I7). Leaving `unaccepted`
/// stops it at once.
pub fn keeps_running(status: crate::incident::IncidentStatus) -> bool {
    status == crate::incident::IncidentStatus::Unaccepted
}

stored_enum! {
    /// State of an incident's escalation (ref. 7.1, I7).
    EscalationState {
        /// Levels fire at their times.
        Running = "running",
        /// The incident was accepted or finished: no more levels fire.
        Stopped = "stopped",
        /// Every level fired.
        Exhausted = "exhausted",
    }
}
use crate::notify::{IncidentFacts, Recipient, validate_channels, validate_recipients};

/// Most levels of a policy (K).
pub const MAX_LEVELS: usize = 5;
/// Most extra rounds.
pub const MAX_REPEAT: u32 = 5;
/// Longest wait of a level: 7 days, in seconds.
pub const MAX_WAIT_S: u32 = 7 * 86_400;

/// One level: who is notified when the incident is still not accepted
/// `after_seconds` after the previous step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// Wait before this level fires, seconds (1..=604800).
    pub after_seconds: u32,
    /// Who to notify.
    pub recipients: Vec<Recipient>,
    /// Channels.
    pub channels: Vec<String>,
    /// What the level does besides notifying: `notify` (default) or
    /// `reassign` — the first person it reaches who is not the owner (the
    /// next role's on-call) becomes the incident's owner.
    #[serde(default)]
    pub action: LevelAction,
}

/// What an escalation level does (I7). Written out rather than through
/// `stored_enum!`, whose renames the OpenAPI schema would not show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LevelAction {
    /// Notify its recipients.
    #[default]
    Notify,
    /// Notify them and make the first of them who is not the owner the
    /// incident's owner.
    Reassign,
}

impl LevelAction {
    /// The names a policy uses.
    pub const NAMES: &'static [&'static str] = &["notify", "reassign"];
}

impl EscalationLevel {
    /// The incident's new owner when this level fires, reaching `people`
    /// (in the order the recipients name them) while `owner` owns it:
    /// for a `reassign` level the first of them who is not the owner;
    /// `None` otherwise or when nobody else is reached.
    pub fn new_owner<'a>(&self, people: &'a [String], owner: &str) -> Option<&'a str> {
        if self.action != LevelAction::Reassign {
            return None;
        }
        people.iter().map(String::as_str).find(|p| *p != owner)
    }
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    /// Name (1..=64 chars, unique per tenant).
    pub name: String,
    /// Forwarding rule ids whose incidents it covers.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Applications whose incidents it covers.
    #[serde(default)]
    pub applications: Vec<String>,
    /// Levels (1..=5).
    pub levels: Vec<EscalationLevel>,
    /// Extra rounds after the last level (0..=5).
    #[serde(default)]
    pub repeat: u32,
}

impl crate::application::refs::AppRefs for EscalationPolicy {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.applications.iter_mut().collect()
    }
}

/// Where a running escalation is: the next level to fire, and the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Index of the next level.
    pub level: usize,
    /// Round (0 = first pass).
    pub round: u32,
}

impl EscalationPolicy {
    /// Validates name, levels, waits, recipients and channels.
    ///
    /// Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("policy name must have 1 to 64 characters"));
        }
        if self.levels.is_empty() || self.levels.len() > MAX_LEVELS {
            return Err(invalid(format!("a policy has 1 to {MAX_LEVELS} levels")));
        }
        if self.repeat > MAX_REPEAT {
            return Err(invalid(format!("repeat is at most {MAX_REPEAT}")));
        }
        for (i, l) in self.levels.iter().enumerate() {
            if l.after_seconds == 0 || l.after_seconds > MAX_WAIT_S {
                return Err(invalid(format!(
                    "level {}: after_seconds must be 1 to {MAX_WAIT_S}",
                    i + 1
                )));
            }
            validate_recipients(&l.recipients)
                .and_then(|_| validate_channels(&l.channels))
                .map_err(|e| invalid(format!("level {}: {e}", i + 1)))?;
        }
        Ok(())
    }

    /// How specifically the policy covers incident `i`: 3 by rule, 2 by
    /// application, 1 as default (names neither), `None` not at all.
    pub fn specificity(&self, i: &IncidentFacts) -> Option<u8> {
        if i.rule_id.as_ref().is_some_and(|r| self.rules.contains(r)) {
            return Some(3);
        }
        if i.application
            .as_ref()
            .is_some_and(|a| self.applications.contains(a))
        {
            return Some(2);
        }
        (self.rules.is_empty() && self.applications.is_empty()).then_some(1)
    }

    /// When the first level fires for an escalation started at `start_ms`.
    pub fn first_due(&self, start_ms: i64) -> (Progress, i64) {
        (
            Progress { level: 0, round: 0 },
            start_ms + i64::from(self.levels[0].after_seconds) * 1000,
        )
    }

    /// After level `p.level` fired at `fired_ms`: the next step and when it
    /// is due, or `None` when the policy is exhausted.
    pub fn after_fire(&self, p: Progress, fired_ms: i64) -> Option<(Progress, i64)> {
        let next = if p.level + 1 < self.levels.len() {
            Progress {
                level: p.level + 1,
                round: p.round,
            }
        } else if p.round < self.repeat {
            Progress {
                level: 0,
                round: p.round + 1,
            }
        } else {
            return None;
        };
        Some((
            next,
            fired_ms + i64::from(self.levels[next.level].after_seconds) * 1000,
        ))
    }
}

/// The policy that covers `i` among `(id, policy)` pairs: most specific,
/// then first by name. `None` when none covers it.
pub fn pick<'a>(
    policies: &'a [(String, EscalationPolicy)],
    i: &IncidentFacts,
) -> Option<&'a (String, EscalationPolicy)> {
    policies
        .iter()
        .filter_map(|p| p.1.specificity(i).map(|s| (s, p)))
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.1.name.cmp(&a.1.1.name)))
        .map(|x| x.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, waits: &[u32], repeat: u32) -> EscalationPolicy {
        EscalationPolicy {
            name: name.into(),
            rules: vec![],
            applications: vec![],
            levels: waits
                .iter()
                .map(|w| EscalationLevel {
                    after_seconds: *w,
                    recipients: vec![Recipient::Owner],
                    channels: vec!["email".into()],
                    action: LevelAction::Notify,
                })
                .collect(),
            repeat,
        }
    }

    #[test]
    fn a_reassigning_level_hands_the_incident_to_the_first_other_person() {
        let mut l = policy("p", &[60], 0).levels.remove(0);
        let people = vec!["ann".to_string(), "bob".to_string()];
        assert_eq!(l.new_owner(&people, "ann"), None, "notify only");
        l.action = LevelAction::Reassign;
        assert_eq!(l.new_owner(&people, "ann"), Some("bob"));
        assert_eq!(l.new_owner(&people, "cat"), Some("ann"));
        assert_eq!(l.new_owner(&["ann".to_string()], "ann"), None);
        assert_eq!(l.new_owner(&[], "ann"), None);
        let v: EscalationLevel = serde_json::from_value(serde_json::json!({
            "after_seconds": 5, "recipients": [{"type": "owner"}], "channels": ["email"]}))
        .unwrap();
        assert_eq!(v.action, LevelAction::Notify, "the default");
    }

    fn facts(app: Option<&str>, rule: Option<&str>) -> IncidentFacts {
        IncidentFacts {
            id: "inc-1".into(),
            description: String::new(),
            number: "INC1".into(),
            title: "t".into(),
            level: "P1".into(),
            category: None,
            source: "manual".into(),
            application: app.map(Into::into),
            region: None,
            assignee: "ann".into(),
            rule_id: rule.map(Into::into),
        }
    }

    #[test]
    fn steps_through_levels_then_repeats_then_stops() {
        let p = policy("p", &[60, 120], 1);
        p.validate().unwrap();
        let (s0, t0) = p.first_due(0);
        assert_eq!((s0.level, s0.round, t0), (0, 0, 60_000));
        let (s1, t1) = p.after_fire(s0, 61_000).unwrap();
        assert_eq!((s1.level, s1.round, t1), (1, 0, 181_000));
        let (s2, t2) = p.after_fire(s1, 181_000).unwrap();
        assert_eq!((s2.level, s2.round, t2), (0, 1, 241_000));
        let (s3, _) = p.after_fire(s2, 241_000).unwrap();
        assert_eq!((s3.level, s3.round), (1, 1));
        assert!(p.after_fire(s3, 400_000).is_none());
        // Fired count over the whole run = levels × (repeat + 1).
        let mut fired = 1;
        let mut st = p.first_due(0).0;
        while let Some((n, _)) = p.after_fire(st, 0) {
            st = n;
            fired += 1;
        }
        assert_eq!(fired, 4);
    }

    #[test]
    fn validation() {
        assert!(policy("p", &[], 0).validate().is_err());
        assert!(policy("p", &[0], 0).validate().is_err());
        assert!(policy("p", &[MAX_WAIT_S + 1], 0).validate().is_err());
        assert!(policy("p", &[1; 6], 0).validate().is_err());
        assert!(policy("p", &[1], 6).validate().is_err());
        let mut p = policy("p", &[1], 0);
        p.levels[0].channels = vec!["fax".into()];
        assert!(p.validate().unwrap_err().to_string().starts_with("level 1"));
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let mut by_rule = policy("by-rule", &[1], 0);
        by_rule.rules = vec!["r1".into()];
        let mut by_app = policy("by-app", &[1], 0);
        by_app.applications = vec!["shop".into()];
        let default = policy("default", &[1], 0);
        let all = vec![
            ("1".to_string(), default.clone()),
            ("2".to_string(), by_app.clone()),
            ("3".to_string(), by_rule.clone()),
        ];
        let name = |f: &IncidentFacts| pick(&all, f).map(|p| p.1.name.clone());
        assert_eq!(
            name(&facts(Some("shop"), Some("r1"))).as_deref(),
            Some("by-rule")
        );
        assert_eq!(
            name(&facts(Some("shop"), Some("r2"))).as_deref(),
            Some("by-app")
        );
        assert_eq!(name(&facts(Some("erp"), None)).as_deref(), Some("default"));
        let only_app = vec![("2".to_string(), by_app)];
        assert!(pick(&only_app, &facts(Some("erp"), None)).is_none());
        let two_defaults = vec![
            ("a".to_string(), policy("zeta", &[1], 0)),
            ("b".to_string(), policy("alpha", &[1], 0)),
        ];
        assert_eq!(
            pick(&two_defaults, &facts(None, None)).unwrap().1.name,
            "alpha"
        );
    }
}
