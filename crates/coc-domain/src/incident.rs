//! Incident lifecycle (I3), ref. 7.1.1 and figure 7-1.
//!
//! ```text
//! unaccepted --accept--> accepted --resolve--> to_be_verified --verify ok--> completed
//!     |  ^                 |   ^                      |
//!     |  |                 |   +----verify failed-----+
//!   reject  resubmit    forward (to unaccepted, new owner)
//!     v  |
//!   rejected --close--> closed
//! ```
//! Upgrade/downgrade only once accepted (ref. 7.1.3.5). Remarks in any open
//! state. Every applied action becomes one history entry.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// Incident level P1 (most severe) to P5, ref. 7.1.2.
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
pub enum IncidentLevel {
    /// Core functions unavailable for all customers.
    P1,
    /// Core functions affected for some customers.
    P2,
    /// Non-core functions report errors.
    P3,
    /// Non-core functions degraded.
    P4,
    /// Consultation or request.
    P5,
}

impl IncidentLevel {
    /// `P1`..`P5`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentLevel::P1 => "P1",
            IncidentLevel::P2 => "P2",
            IncidentLevel::P3 => "P3",
            IncidentLevel::P4 => "P4",
            IncidentLevel::P5 => "P5",
        }
    }

    /// Parses `P1`..`P5` (case-insensitive).
    ///
    /// Errors: [`DomainError::Validation`] otherwise.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.to_ascii_uppercase().as_str() {
            "P1" => Ok(IncidentLevel::P1),
            "P2" => Ok(IncidentLevel::P2),
            "P3" => Ok(IncidentLevel::P3),
            "P4" => Ok(IncidentLevel::P4),
            "P5" => Ok(IncidentLevel::P5),
            _ => Err(invalid(format!(
                "unknown incident level '{s}': expected P1..P5"
            ))),
        }
    }
}

/// Incident state, ref. 7.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Created or forwarded; waits for its owner.
    Unaccepted,
    /// The owner works on it.
    Accepted,
    /// Refused by the owner; the creator closes or resubmits.
    Rejected,
    /// Resolved, waiting for verification.
    ToBeVerified,
    /// Verified: done.
    Completed,
    /// Closed after rejection: done.
    Closed,
}

impl IncidentStatus {
    /// Snake-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Unaccepted => "unaccepted",
            IncidentStatus::Accepted => "accepted",
            IncidentStatus::Rejected => "rejected",
            IncidentStatus::ToBeVerified => "to_be_verified",
            IncidentStatus::Completed => "completed",
            IncidentStatus::Closed => "closed",
        }
    }

    /// Parses a stored name.
    ///
    /// Errors: [`DomainError::Validation`] for unknown names.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Ok(match s {
            "unaccepted" => IncidentStatus::Unaccepted,
            "accepted" => IncidentStatus::Accepted,
            "rejected" => IncidentStatus::Rejected,
            "to_be_verified" => IncidentStatus::ToBeVerified,
            "completed" => IncidentStatus::Completed,
            "closed" => IncidentStatus::Closed,
            _ => return Err(invalid(format!("unknown incident status '{s}'"))),
        })
    }

    /// Completed and closed incidents take no further action.
    pub fn is_terminal(self) -> bool {
        matches!(self, IncidentStatus::Completed | IncidentStatus::Closed)
    }

    /// All states, for exhaustive tests and filters.
    pub const ALL: [IncidentStatus; 6] = [
        IncidentStatus::Unaccepted,
        IncidentStatus::Accepted,
        IncidentStatus::Rejected,
        IncidentStatus::ToBeVerified,
        IncidentStatus::Completed,
        IncidentStatus::Closed,
    ];
}

/// An operator action on an incident, as posted to
/// `POST /api/v1/incidents/{id}/actions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum IncidentAction {
    /// Take the incident (ref. 7.1.3.4).
    Accept {
        /// Optional note.
        #[serde(default)]
        remark: Option<String>,
    },
    /// Refuse it with a reason (ref. 7.1.3.1).
    Reject {
        /// Why (required).
        reason: String,
    },
    /// Resubmit a rejected incident, optionally with new content (7.1.3.2).
    Resubmit {
        /// New title.
        #[serde(default)]
        title: Option<String>,
        /// New description.
        #[serde(default)]
        description: Option<String>,
    },
    /// Close a rejected incident.
    Close {
        /// Optional note.
        #[serde(default)]
        remark: Option<String>,
    },
    /// Hand the incident to another owner (7.1.3.3); it waits for them.
    Forward {
        /// New owner.
        to: String,
        /// Why.
        #[serde(default)]
        remark: Option<String>,
    },
    /// Change the level, only once accepted (7.1.3.5).
    ChangeLevel {
        /// New level.
        level: IncidentLevel,
        /// Why (required).
        reason: String,
    },
    /// Add a remark (7.1.3.6).
    Remark {
        /// Text (required).
        text: String,
    },
    /// Record the handling result (7.1.3.8): to be verified.
    Resolve {
        /// What was done (required).
        result: String,
    },
    /// Verification (7.1.3.9): passed → completed, failed → accepted again.
    Verify {
        /// Whether the fix holds.
        passed: bool,
        /// Note.
        #[serde(default)]
        remark: Option<String>,
    },
}

impl IncidentAction {
    /// Stable name of the action as written to the history.
    pub fn name(&self) -> &'static str {
        match self {
            IncidentAction::Accept { .. } => "accept",
            IncidentAction::Reject { .. } => "reject",
            IncidentAction::Resubmit { .. } => "resubmit",
            IncidentAction::Close { .. } => "close",
            IncidentAction::Forward { .. } => "forward",
            IncidentAction::ChangeLevel { .. } => "change_level",
            IncidentAction::Remark { .. } => "remark",
            IncidentAction::Resolve { .. } => "resolve",
            IncidentAction::Verify { .. } => "verify",
        }
    }
}

/// The part of an incident an action can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentState {
    /// Current status.
    pub status: IncidentStatus,
    /// Current level.
    pub level: IncidentLevel,
    /// Current owner.
    pub assignee: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
}

/// Longest free text (reason, remark, result) accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

fn text(what: &str, s: &str) -> Result<(), DomainError> {
    if s.trim().is_empty() {
        return Err(invalid(format!("{what} is required")));
    }
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(format!(
            "{what} is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

fn opt_text(what: &str, s: &Option<String>) -> Result<(), DomainError> {
    match s {
        Some(s) if s.chars().count() > MAX_TEXT_CHARS => Err(invalid(format!(
            "{what} is longer than {MAX_TEXT_CHARS} characters"
        ))),
        _ => Ok(()),
    }
}

/// `summary`, and `: remark` when a remark was given.
fn with_remark(summary: String, remark: &Option<String>) -> String {
    match remark.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => format!("{summary}: {r}"),
        _ => summary,
    }
}

/// Applies `action` to `state`, returning the new state and a one-line
/// summary for the history.
///
/// Errors: [`DomainError::InvalidTransition`] when the action is not allowed
/// in the current status (the message names both), or
/// [`DomainError::Validation`] for missing or oversized text.
pub fn apply(
    state: &IncidentState,
    action: &IncidentAction,
) -> Result<(IncidentState, String), DomainError> {
    use IncidentAction as A;
    use IncidentStatus as S;
    let refuse = || {
        DomainError::InvalidTransition(format!(
            "cannot {} an incident that is {}",
            action.name().replace('_', " "),
            state.status.as_str().replace('_', " ")
        ))
    };
    let mut next = state.clone();
    let summary = match (state.status, action) {
        (S::Unaccepted, A::Accept { remark }) => {
            opt_text("remark", remark)?;
            next.status = S::Accepted;
            with_remark(format!("accepted (owner {})", state.assignee), remark)
        }
        (S::Unaccepted, A::Reject { reason }) => {
            text("reason", reason)?;
            next.status = S::Rejected;
            format!("rejected: {reason}")
        }
        (S::Rejected, A::Resubmit { title, description }) => {
            opt_text("description", description)?;
            if let Some(t) = title {
                text("title", t)?;
                next.title = t.clone();
            }
            if let Some(d) = description {
                next.description = d.clone();
            }
            next.status = S::Unaccepted;
            "resubmitted".to_string()
        }
        (S::Rejected, A::Close { remark }) => {
            opt_text("remark", remark)?;
            next.status = S::Closed;
            match remark {
                Some(r) => format!("closed: {r}"),
                None => "closed".into(),
            }
        }
        (S::Unaccepted | S::Accepted, A::Forward { to, remark }) => {
            text("new owner", to)?;
            opt_text("remark", remark)?;
            if *to == state.assignee {
                return Err(invalid(format!("the incident is already owned by {to}")));
            }
            next.assignee = to.clone();
            next.status = S::Unaccepted;
            with_remark(format!("forwarded from {} to {to}", state.assignee), remark)
        }
        (S::Accepted, A::ChangeLevel { level, reason }) => {
            text("reason", reason)?;
            if *level == state.level {
                return Err(invalid(format!(
                    "the incident is already {}",
                    level.as_str()
                )));
            }
            next.level = *level;
            let verb = if *level < state.level {
                "upgraded"
            } else {
                "downgraded"
            };
            format!(
                "{verb} from {} to {}: {reason}",
                state.level.as_str(),
                level.as_str()
            )
        }
        (s, A::Remark { text: t }) if !s.is_terminal() => {
            text("remark", t)?;
            format!("remark: {t}")
        }
        (S::Accepted, A::Resolve { result }) => {
            text("result", result)?;
            next.status = S::ToBeVerified;
            format!("resolved: {result}")
        }
        (S::ToBeVerified, A::Verify { passed, remark }) => {
            opt_text("remark", remark)?;
            next.status = if *passed { S::Completed } else { S::Accepted };
            let r = remark
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            if *passed {
                format!("verification passed{r}")
            } else {
                format!("verification failed{r}")
            }
        }
        _ => return Err(refuse()),
    };
    Ok((next, summary))
}

/// The names of the actions [`apply`] allows in `status` (ref. 7.1.3),
/// in the order an operator meets them: what a page offers. Found by
/// trying each action with well-formed content, so the rule stays in
/// [`apply`] alone.
pub fn allowed_actions(status: IncidentStatus) -> Vec<&'static str> {
    let state = IncidentState {
        status,
        level: IncidentLevel::P3,
        assignee: "owner".into(),
        title: "t".into(),
        description: String::new(),
    };
    let x = || "x".to_string();
    [
        IncidentAction::Accept { remark: None },
        IncidentAction::Reject { reason: x() },
        IncidentAction::Forward {
            to: "someone-else".into(),
            remark: None,
        },
        IncidentAction::ChangeLevel {
            level: IncidentLevel::P1,
            reason: x(),
        },
        IncidentAction::Remark { text: x() },
        IncidentAction::Resolve { result: x() },
        IncidentAction::Verify {
            passed: true,
            remark: None,
        },
        IncidentAction::Resubmit {
            title: None,
            description: None,
        },
        IncidentAction::Close { remark: None },
    ]
    .iter()
    .filter(|a| apply(&state, a).is_ok())
    .map(IncidentAction::name)
    .collect()
}

/// How long an incident took (ms): to be acknowledged — created until
/// its owner first accepted it — and to be resolved — created until the
/// resolution that stands (its last move to `to_be_verified`, while the
/// incident is waiting for verification or completed). A reopened or
/// closed-after-rejection incident has no time to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResponseTimes {
    /// Time to acknowledge, ms; none while nobody accepted it.
    pub acknowledge_ms: Option<i64>,
    /// Time to resolve, ms; none while it is not resolved.
    pub resolve_ms: Option<i64>,
}

/// [`ResponseTimes`] of an incident created at `created_at_ms` (Unix ms),
/// now in `status`, from its status changes `(at ms, new status)` in the
/// order they happened.
pub fn response_times(
    created_at_ms: i64,
    status: IncidentStatus,
    changes: &[(i64, IncidentStatus)],
) -> ResponseTimes {
    let since = |at: i64| (at - created_at_ms).max(0);
    let acknowledge_ms = changes
        .iter()
        .find(|(_, to)| *to == IncidentStatus::Accepted)
        .map(|(at, _)| since(*at));
    let resolved = matches!(
        status,
        IncidentStatus::ToBeVerified | IncidentStatus::Completed
    );
    let resolve_ms = changes
        .iter()
        .rev()
        .find(|(_, to)| *to == IncidentStatus::ToBeVerified)
        .filter(|_| resolved)
        .map(|(at, _)| since(*at));
    ResponseTimes {
        acknowledge_ms,
        resolve_ms,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn response_times_count_the_first_acceptance_and_the_resolution_that_stands() {
        use IncidentStatus::*;
        let t0 = 1_000_000;
        // Accepted after 5 min, resolved after 20, sent back, resolved
        // again after 50 and verified: 5 and 50 minutes.
        let changes = [
            (t0 + 300_000, Accepted),
            (t0 + 1_200_000, ToBeVerified),
            (t0 + 1_500_000, Accepted),
            (t0 + 3_000_000, ToBeVerified),
            (t0 + 3_100_000, Completed),
        ];
        let r = response_times(t0, Completed, &changes);
        assert_eq!(r.acknowledge_ms, Some(300_000));
        assert_eq!(r.resolve_ms, Some(3_000_000));
        // Sent back and not resolved again: no time to resolve.
        let r = response_times(t0, Accepted, &changes[..3]);
        assert_eq!((r.acknowledge_ms, r.resolve_ms), (Some(300_000), None));
        // Nobody accepted it yet.
        assert_eq!(
            response_times(t0, Unaccepted, &[]),
            ResponseTimes::default()
        );
        // Rejected and closed: acknowledged never, resolved never.
        let r = response_times(
            t0,
            Closed,
            &[(t0 + 60_000, Rejected), (t0 + 90_000, Closed)],
        );
        assert_eq!(r, ResponseTimes::default());
    }

    use super::*;
    use IncidentStatus as S;

    #[test]
    fn accept_and_forward_keep_their_remark_in_the_history() {
        let st = st(IncidentStatus::Unaccepted);
        let (_, s) = apply(
            &st,
            &IncidentAction::Accept {
                remark: Some("on it".into()),
            },
        )
        .unwrap();
        assert!(s.ends_with(": on it"), "{s}");
        let (_, s) = apply(
            &st,
            &IncidentAction::Forward {
                to: "bob".into(),
                remark: Some("db team".into()),
            },
        )
        .unwrap();
        assert!(s.contains("to bob: db team"), "{s}");
        let (_, s) = apply(&st, &IncidentAction::Accept { remark: None }).unwrap();
        assert!(!s.contains(':'), "{s}");
    }

    #[test]
    fn each_status_offers_its_actions() {
        assert_eq!(
            allowed_actions(S::Unaccepted),
            ["accept", "reject", "forward", "remark"]
        );
        assert_eq!(
            allowed_actions(S::Accepted),
            ["forward", "change_level", "remark", "resolve"]
        );
        assert_eq!(allowed_actions(S::ToBeVerified), ["remark", "verify"]);
        assert_eq!(
            allowed_actions(S::Rejected),
            ["remark", "resubmit", "close"]
        );
        assert!(allowed_actions(S::Completed).is_empty());
        assert!(allowed_actions(S::Closed).is_empty());
    }

    fn st(status: IncidentStatus) -> IncidentState {
        IncidentState {
            status,
            level: IncidentLevel::P3,
            assignee: "alice".into(),
            title: "t".into(),
            description: "d".into(),
        }
    }

    fn actions() -> Vec<IncidentAction> {
        vec![
            IncidentAction::Accept { remark: None },
            IncidentAction::Reject {
                reason: "dup".into(),
            },
            IncidentAction::Resubmit {
                title: None,
                description: None,
            },
            IncidentAction::Close { remark: None },
            IncidentAction::Forward {
                to: "bob".into(),
                remark: None,
            },
            IncidentAction::ChangeLevel {
                level: IncidentLevel::P1,
                reason: "worse".into(),
            },
            IncidentAction::Remark {
                text: "note".into(),
            },
            IncidentAction::Resolve {
                result: "restarted".into(),
            },
            IncidentAction::Verify {
                passed: true,
                remark: None,
            },
            IncidentAction::Verify {
                passed: false,
                remark: None,
            },
        ]
    }

    /// The full table of figure 7-1: (from, action index) → to; anything not
    /// listed must be refused as an invalid transition.
    fn expected(from: IncidentStatus, a: usize) -> Option<IncidentStatus> {
        match (from, a) {
            (S::Unaccepted, 0) => Some(S::Accepted),
            (S::Unaccepted, 1) => Some(S::Rejected),
            (S::Rejected, 2) => Some(S::Unaccepted),
            (S::Rejected, 3) => Some(S::Closed),
            (S::Unaccepted | S::Accepted, 4) => Some(S::Unaccepted),
            (S::Accepted, 5) => Some(S::Accepted),
            (s, 6) if !s.is_terminal() => Some(s),
            (S::Accepted, 7) => Some(S::ToBeVerified),
            (S::ToBeVerified, 8) => Some(S::Completed),
            (S::ToBeVerified, 9) => Some(S::Accepted),
            _ => None,
        }
    }

    #[test]
    fn every_transition_allowed_or_refused() {
        for from in IncidentStatus::ALL {
            for (i, a) in actions().iter().enumerate() {
                let r = apply(&st(from), a);
                match expected(from, i) {
                    Some(to) => assert_eq!(r.unwrap().0.status, to, "{from:?} {a:?}"),
                    None => assert!(
                        matches!(r, Err(DomainError::InvalidTransition(_))),
                        "{from:?} {a:?} should be refused, got {r:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn forward_changes_owner_and_level_change_direction() {
        let (n, s) = apply(
            &st(S::Accepted),
            &IncidentAction::Forward {
                to: "bob".into(),
                remark: None,
            },
        )
        .unwrap();
        assert_eq!(n.assignee, "bob");
        assert!(s.contains("alice") && s.contains("bob"));
        let (n, s) = apply(
            &st(S::Accepted),
            &IncidentAction::ChangeLevel {
                level: IncidentLevel::P1,
                reason: "r".into(),
            },
        )
        .unwrap();
        assert_eq!(n.level, IncidentLevel::P1);
        assert!(s.starts_with("upgraded"));
        let (_, s) = apply(
            &st(S::Accepted),
            &IncidentAction::ChangeLevel {
                level: IncidentLevel::P5,
                reason: "r".into(),
            },
        )
        .unwrap();
        assert!(s.starts_with("downgraded"));
    }

    #[test]
    fn validation_errors() {
        assert!(matches!(
            apply(
                &st(S::Unaccepted),
                &IncidentAction::Reject { reason: " ".into() }
            ),
            Err(DomainError::Validation(_))
        ));
        assert!(
            apply(
                &st(S::Accepted),
                &IncidentAction::Forward {
                    to: "alice".into(),
                    remark: None
                }
            )
            .is_err()
        );
        assert!(
            apply(
                &st(S::Accepted),
                &IncidentAction::ChangeLevel {
                    level: IncidentLevel::P3,
                    reason: "r".into()
                }
            )
            .is_err()
        );
        let resub = IncidentAction::Resubmit {
            title: Some("new".into()),
            description: Some("nd".into()),
        };
        let (n, _) = apply(&st(S::Rejected), &resub).unwrap();
        assert_eq!((n.title.as_str(), n.description.as_str()), ("new", "nd"));
    }

    #[test]
    fn action_json_shape() {
        let a: IncidentAction = serde_json::from_str(r#"{"action":"forward","to":"bob"}"#).unwrap();
        assert_eq!(
            a,
            IncidentAction::Forward {
                to: "bob".into(),
                remark: None
            }
        );
        assert!(serde_json::from_str::<IncidentAction>(r#"{"action":"accept","x":1}"#).is_err());
        assert!(serde_json::from_str::<IncidentAction>(r#"{"action":"fly"}"#).is_err());
    }
}
