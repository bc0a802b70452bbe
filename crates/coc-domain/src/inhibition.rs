//! Inhibition rules (M3, Alertmanager's `inhibit_rules`): while an alarm
//! matching a rule's *source* matchers is firing, alarms matching its
//! *target* matchers with the same values of the `equal` labels are
//! inhibited — stored and marked, with no incident and no notification
//! (a `NodeDown` inhibits the `DiskFull`, `HighLoad`… of the same
//! `instance`). An alarm matching both source and target does not inhibit
//! itself. Label sets are those of [`crate::silence::alarm_labels`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use crate::silence::{Compiled, Matcher, MatcherInput, parse_inputs};

/// Most matchers on either side, and most `equal` labels.
pub const MAX_ITEMS: usize = 32;

/// An inhibition rule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InhibitionRule {
    /// Name, unique per tenant.
    pub name: String,
    /// What the inhibiting alarm matches.
    pub source: Vec<Matcher>,
    /// What the inhibited alarms match.
    pub target: Vec<Matcher>,
    /// Labels whose values must be equal on both (none: any source
    /// inhibits every target).
    #[serde(default)]
    pub equal: Vec<String>,
}

/// An inhibition rule as a person gives it (matchers as text or parts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InhibitionInput {
    /// Name, 1..=64 characters.
    pub name: String,
    /// Source matchers.
    pub source: Vec<MatcherInput>,
    /// Target matchers.
    pub target: Vec<MatcherInput>,
    /// Labels that must be equal.
    #[serde(default)]
    pub equal: Vec<String>,
}

impl InhibitionInput {
    /// The rule it describes, validated.
    ///
    /// Errors: [`DomainError::Validation`] naming the field.
    pub fn resolve(&self) -> Result<InhibitionRule, DomainError> {
        let r = InhibitionRule {
            name: self.name.trim().to_string(),
            source: parse_inputs(&self.source)?,
            target: parse_inputs(&self.target)?,
            equal: self
                .equal
                .iter()
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect(),
        };
        r.validate()?;
        Ok(r)
    }
}

impl InhibitionRule {
    /// Checks the name (1..=64 characters), 1..=[`MAX_ITEMS`] valid
    /// matchers on each side, at most [`MAX_ITEMS`] `equal` labels, each a
    /// label name.
    ///
    /// Errors: [`DomainError::Validation`] naming the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("name must have 1 to 64 characters"));
        }
        for (side, ms) in [("source", &self.source), ("target", &self.target)] {
            if ms.is_empty() || ms.len() > MAX_ITEMS {
                return Err(invalid(format!("{side} needs 1 to {MAX_ITEMS} matchers")));
            }
            for m in ms {
                m.validate()?;
            }
        }
        if self.equal.len() > MAX_ITEMS {
            return Err(invalid(format!("equal takes at most {MAX_ITEMS} labels")));
        }
        for e in &self.equal {
            Matcher {
                name: e.clone(),
                op: crate::silence::MatchOp::Equal,
                value: String::new(),
            }
            .validate()
            .map_err(|_| invalid(format!("equal: '{e}' is not a label name")))?;
        }
        Ok(())
    }
}

/// The values of the `equal` labels of `labels`, in the rule's order,
/// joined by a unit separator (a missing label is `""`): a source and a
/// target with one key have equal values.
pub fn equal_key(equal: &[String], labels: &BTreeMap<String, String>) -> String {
    equal
        .iter()
        .map(|e| labels.get(e).map_or("", String::as_str))
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// A rule's source and target matchers, compiled.
pub type CompiledSides = (Vec<Compiled>, Vec<Compiled>);

/// One rule compiled: id, source and target, equal labels.
type CompiledRule = (String, std::sync::Arc<CompiledSides>, Vec<String>);

/// Compiles a rule's matchers; `None` when one no longer compiles.
pub fn compile_sides(r: &InhibitionRule) -> Option<CompiledSides> {
    let c = |ms: &[Matcher]| {
        ms.iter()
            .map(Matcher::compile)
            .collect::<Result<Vec<_>, _>>()
    };
    Some((c(&r.source).ok()?, c(&r.target).ok()?))
}

/// Rules compiled once, to test many alarms (one ingest group).
#[derive(Debug, Clone, Default)]
pub struct InhibitionSet {
    rules: Vec<CompiledRule>,
}

fn all(ms: &[Compiled], l: &BTreeMap<String, String>) -> bool {
    ms.iter().all(|m| m.matches(l))
}

impl InhibitionSet {
    /// Compiles `(id, rule)`s; a rule that no longer compiles is left out.
    pub fn new<'a>(rules: impl IntoIterator<Item = (&'a str, &'a InhibitionRule)>) -> Self {
        InhibitionSet::new_with(rules, |_, r| compile_sides(r).map(std::sync::Arc::new))
    }

    /// As [`InhibitionSet::new`], with each rule compiled by `compiled`
    /// (which may keep it from an earlier call).
    pub fn new_with<'a>(
        rules: impl IntoIterator<Item = (&'a str, &'a InhibitionRule)>,
        mut compiled: impl FnMut(&str, &InhibitionRule) -> Option<std::sync::Arc<CompiledSides>>,
    ) -> Self {
        let rules = rules
            .into_iter()
            .filter_map(|(id, r)| Some((id.to_string(), compiled(id, r)?, r.equal.clone())))
            .collect();
        InhibitionSet { rules }
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether some rule's target matches `labels` (only then are the
    /// firing alarms worth reading).
    pub fn targets(&self, labels: &BTreeMap<String, String>) -> bool {
        self.rules.iter().any(|(_, c, _)| all(&c.1, labels))
    }

    /// The rules for which an alarm of `labels` is an inhibiting source
    /// (matches the source, is no target of that rule), each with the
    /// alarm's [`equal_key`] for that rule: what ingest records so later
    /// targets find it.
    pub fn sources(&self, labels: &BTreeMap<String, String>) -> Vec<(&str, String)> {
        self.rules
            .iter()
            .filter(|(_, c, _)| all(&c.0, labels) && !all(&c.1, labels))
            .map(|(id, _, equal)| (id.as_str(), equal_key(equal, labels)))
            .collect()
    }

    /// The rules whose target an alarm of `labels` is, each with its
    /// [`equal_key`]: a firing source of that rule with the same key
    /// inhibits it.
    pub fn target_keys(&self, labels: &BTreeMap<String, String>) -> Vec<(&str, String)> {
        self.rules
            .iter()
            .filter(|(_, c, _)| all(&c.1, labels))
            .map(|(id, _, equal)| (id.as_str(), equal_key(equal, labels)))
            .collect()
    }

    /// The first rule (in the set's order) under which one of `firing`
    /// inhibits the alarm of `labels`: the firing alarm matches the source,
    /// is not itself a target of that rule, and has the same values of the
    /// `equal` labels (a missing label is `""`).
    pub fn inhibited_by<'s>(
        &'s self,
        labels: &BTreeMap<String, String>,
        firing: &[BTreeMap<String, String>],
    ) -> Option<&'s str> {
        let get = |l: &BTreeMap<String, String>, k: &str| l.get(k).cloned().unwrap_or_default();
        self.rules
            .iter()
            .find(|(_, c, equal)| {
                let (src, tgt) = (&c.0, &c.1);
                all(tgt, labels)
                    && firing.iter().any(|f| {
                        all(src, f)
                            && !all(tgt, f)
                            && equal.iter().all(|e| get(f, e) == get(labels, e))
                    })
            })
            .map(|(id, ..)| id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn l(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rule() -> InhibitionRule {
        InhibitionInput {
            name: "node-down".into(),
            source: vec![MatcherInput::Text("alertname=NodeDown".into())],
            target: vec![MatcherInput::Text("severity=~warning|critical".into())],
            equal: vec!["instance".into()],
        }
        .resolve()
        .unwrap()
    }

    #[test]
    fn a_firing_source_inhibits_targets_of_the_same_instance_only() {
        let r = rule();
        let set = InhibitionSet::new([("r1", &r)]);
        let down = l(&[("alertname", "NodeDown"), ("instance", "web-1")]);
        let disk = l(&[
            ("alertname", "DiskFull"),
            ("instance", "web-1"),
            ("severity", "warning"),
        ]);
        let other = l(&[
            ("alertname", "DiskFull"),
            ("instance", "web-2"),
            ("severity", "warning"),
        ]);
        assert!(set.targets(&disk));
        assert_eq!(
            set.inhibited_by(&disk, std::slice::from_ref(&down)),
            Some("r1")
        );
        assert_eq!(set.inhibited_by(&other, std::slice::from_ref(&down)), None);
        assert_eq!(set.inhibited_by(&disk, &[]), None);
        // What ingest records and looks up: the same key on both sides.
        assert_eq!(set.sources(&down), vec![("r1", "web-1".to_string())]);
        assert_eq!(set.target_keys(&disk), vec![("r1", "web-1".to_string())]);
        assert_eq!(set.target_keys(&other), vec![("r1", "web-2".to_string())]);
        assert!(set.sources(&disk).is_empty());
        // A NodeDown that is itself a target does not inhibit itself.
        let both = l(&[
            ("alertname", "NodeDown"),
            ("instance", "web-1"),
            ("severity", "critical"),
        ]);
        assert_eq!(set.inhibited_by(&both, std::slice::from_ref(&both)), None);
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut r = rule();
        r.source.clear();
        assert!(r.validate().is_err());
        let mut r = rule();
        r.equal = vec!["1x".into()];
        assert!(r.validate().is_err());
        let mut r = rule();
        r.name = String::new();
        assert!(r.validate().is_err());
    }

    proptest! {
        /// Whether an alarm is inhibited does not depend on the order the
        /// firing alarms arrived in.
        #[test]
        fn order_of_arrival_does_not_matter(
            firing in proptest::collection::vec(("(NodeDown|Other)", "web-[12]"), 0..8),
            target in "web-[12]",
        ) {
            let r = rule();
            let set = InhibitionSet::new([("r1", &r)]);
            let f: Vec<_> = firing.iter().map(|(a, i)| l(&[("alertname", a), ("instance", i)])).collect();
            let mut rev = f.clone();
            rev.reverse();
            let t = l(&[("alertname", "DiskFull"), ("instance", &target), ("severity", "warning")]);
            prop_assert_eq!(set.inhibited_by(&t, &f), set.inhibited_by(&t, &rev));
            let expected = firing.iter().any(|(a, i)| a == "NodeDown" && *i == target);
            prop_assert_eq!(set.inhibited_by(&t, &f).is_some(), expected);
        }
    }
}
