//! Acknowledge and resolve from the notification itself (I7, ref. 7.1.3.4
//! and 7.1.3.8): the signed, expiring links an incident notification to a
//! person carries, and what following one does to the incident.
//!
//! A link names one tenant, one incident, one person and one action, and
//! ends at a time; it is signed with HMAC-SHA256 (128 bits kept) under a
//! key only the server holds. Token shape: `<hex of the JSON claims>.<hex
//! of the MAC>`. The person's permissions are checked again when the link
//! is followed, so a link never grants more than its person has.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{DomainError, invalid};
use crate::incident::{IncidentAction, IncidentState, IncidentStatus};

/// How long a link stays valid after it is sent, ms (24 hours).
pub const LINK_TTL_MS: i64 = 24 * 3600 * 1000;

/// Longest token accepted, bytes (a token is ~300).
pub const MAX_TOKEN_LEN: usize = 2048;

/// Bytes of the HMAC kept in a token.
const MAC_LEN: usize = 16;

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    /// Take the incident: it becomes the person's and accepted.
    Acknowledge,
    /// Record it resolved: it waits for verification.
    Resolve,
}

impl LinkAction {
    /// Stable name (`acknowledge`, `resolve`).
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "acknowledge",
            LinkAction::Resolve => "resolve",
        }
    }

    /// The label a message shows before the link.
    pub fn label(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "Acknowledge",
            LinkAction::Resolve => "Resolve",
        }
    }

    /// The access-catalog verb checked for the person
    /// (`coc:incident:<verb>`).
    pub fn permission(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "accept",
            LinkAction::Resolve => "resolve",
        }
    }
}

/// What a link says (its claims).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionLink {
    /// Tenant of the incident and the person.
    #[serde(rename = "t")]
    pub tenant: String,
    /// Incident id.
    #[serde(rename = "i")]
    pub incident_id: String,
    /// The person it was sent to (user name); the action is theirs.
    #[serde(rename = "u")]
    pub user: String,
    /// What it does.
    #[serde(rename = "a")]
    pub action: LinkAction,
    /// End of validity, Unix ms.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

fn mac(key: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(b"coc-action-link-v1\n");
    m.update(payload);
    m
}

/// The token of `link` under `key`.
pub fn sign(key: &[u8], link: &ActionLink) -> String {
    let payload = serde_json::to_vec(link).unwrap_or_default();
    let tag = mac(key, &payload).finalize().into_bytes();
    format!("{}.{}", hex::encode(&payload), hex::encode(&tag[..MAC_LEN]))
}

/// The claims of `token` if `key` signed it and it has not ended at
/// `now_ms`.
///
/// Errors: [`DomainError::Validation`] — "not a valid link" for anything
/// malformed, too long or wrongly signed (one message: a forger learns
/// nothing), "expired" with the end time otherwise.
pub fn verify(key: &[u8], token: &str, now_ms: i64) -> Result<ActionLink, DomainError> {
    let bad = || invalid("this is not a valid COC link (copy the whole link from the message)");
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad());
    }
    let (p, t) = token.trim().split_once('.').ok_or_else(bad)?;
    let payload = hex::decode(p).map_err(|_| bad())?;
    let tag = hex::decode(t).map_err(|_| bad())?;
    if tag.len() != MAC_LEN {
        return Err(bad());
    }
    mac(key, &payload)
        .verify_truncated_left(&tag)
        .map_err(|_| bad())?;
    let link: ActionLink = serde_json::from_slice(&payload).map_err(|_| bad())?;
    if now_ms >= link.expires_at {
        let at = chrono::DateTime::from_timestamp_millis(link.expires_at)
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        return Err(invalid(format!(
            "this link expired at {at}; open the incident in the console instead"
        )));
    }
    Ok(link)
}

/// The links a notification about an incident in `status` offers: both
/// while it waits for its owner, resolve once accepted, none after.
pub fn offered(status: IncidentStatus) -> Vec<LinkAction> {
    match status {
        IncidentStatus::Unaccepted => vec![LinkAction::Acknowledge, LinkAction::Resolve],
        IncidentStatus::Accepted => vec![LinkAction::Resolve],
        _ => vec![],
    }
}

/// The incident actions that following a `action` link of `user` takes
/// on an incident in `state`, in order; empty when it is already done
/// (acknowledged, resolved or completed): following a link twice changes
/// nothing.
///
/// - The person takes the incident first when it is someone else's
///   (forwarded to them), as an on-call engineer acknowledging a page
///   expects.
/// - Resolving an incident nobody accepted accepts it first.
///
/// Errors: [`DomainError::InvalidTransition`] for a rejected or closed
/// incident.
pub fn steps(
    state: &IncidentState,
    action: LinkAction,
    user: &str,
) -> Result<Vec<IncidentAction>, DomainError> {
    use IncidentStatus as S;
    let from = |what: &str| Some(format!("{what} from the notification"));
    let take = |out: &mut Vec<IncidentAction>| {
        if state.assignee != user {
            out.push(IncidentAction::Forward {
                to: user.to_string(),
                remark: from("taken"),
            });
        }
        out.push(IncidentAction::Accept {
            remark: from("acknowledged"),
        });
    };
    let mut out = vec![];
    match (state.status, action) {
        (S::Rejected | S::Closed, _) => {
            return Err(DomainError::InvalidTransition(format!(
                "the incident is {}: it cannot be {}d from a link",
                state.status.as_str(),
                action.as_str()
            )));
        }
        (S::Unaccepted, _) => {
            take(&mut out);
            if action == LinkAction::Resolve {
                out.push(IncidentAction::Resolve {
                    result: "resolved from the notification".into(),
                });
            }
        }
        (S::Accepted, LinkAction::Resolve) => out.push(IncidentAction::Resolve {
            result: "resolved from the notification".into(),
        }),
        (S::Accepted | S::ToBeVerified | S::Completed, _) => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{IncidentLevel, apply};

    fn link(action: LinkAction) -> ActionLink {
        ActionLink {
            tenant: "t1".into(),
            incident_id: "inc-1".into(),
            user: "alice".into(),
            action,
            expires_at: 1_000,
        }
    }

    fn state(status: IncidentStatus, assignee: &str) -> IncidentState {
        IncidentState {
            status,
            level: IncidentLevel::P2,
            assignee: assignee.into(),
            title: "t".into(),
            description: String::new(),
        }
    }

    #[test]
    fn a_signed_link_verifies_until_it_ends_and_only_under_its_key() {
        let l = link(LinkAction::Resolve);
        let t = sign(b"key", &l);
        assert_eq!(verify(b"key", &t, 999).unwrap(), l);
        let e = verify(b"key", &t, 1_000).unwrap_err().to_string();
        assert!(e.contains("expired at 1970-01-01 00:00 UTC"), "{e}");
        for wrong in [
            verify(b"other", &t, 0),
            verify(b"key", &t.replace('.', ""), 0),
            verify(b"key", &format!("{t}00"), 0),
            verify(b"key", "zz.zz", 0),
            verify(b"key", &"a".repeat(MAX_TOKEN_LEN + 1), 0),
        ] {
            assert!(wrong.unwrap_err().to_string().contains("not a valid"));
        }
    }

    #[test]
    fn changing_any_claim_breaks_the_signature() {
        let t = sign(b"key", &link(LinkAction::Acknowledge));
        let (p, tag) = t.split_once('.').unwrap();
        let claims = String::from_utf8(hex::decode(p).unwrap()).unwrap();
        for (from, to) in [
            ("alice", "mallory"),
            ("acknowledge", "resolve"),
            ("1000", "9999"),
            ("inc-1", "inc-2"),
        ] {
            let forged = format!("{}.{tag}", hex::encode(claims.replace(from, to)));
            assert!(verify(b"key", &forged, 0).is_err(), "{from} → {to}");
        }
    }

    #[test]
    fn steps_take_the_incident_then_act_and_stop_when_done() {
        let run = |st: IncidentState, a: LinkAction| -> IncidentState {
            steps(&st, a, "alice")
                .unwrap()
                .iter()
                .fold(st, |s, x| apply(&s, x).unwrap().0)
        };
        let ack = run(
            state(IncidentStatus::Unaccepted, "bob"),
            LinkAction::Acknowledge,
        );
        assert_eq!(
            (ack.status, ack.assignee.as_str()),
            (IncidentStatus::Accepted, "alice")
        );
        let res = run(
            state(IncidentStatus::Unaccepted, "alice"),
            LinkAction::Resolve,
        );
        assert_eq!(res.status, IncidentStatus::ToBeVerified);
        // Twice: nothing more to do.
        assert!(
            steps(&ack, LinkAction::Acknowledge, "alice")
                .unwrap()
                .is_empty()
        );
        assert!(
            steps(&res, LinkAction::Resolve, "alice")
                .unwrap()
                .is_empty()
        );
        assert!(
            steps(&res, LinkAction::Acknowledge, "alice")
                .unwrap()
                .is_empty()
        );
        // Accepted by someone else: resolving keeps their ownership.
        let other = run(state(IncidentStatus::Accepted, "bob"), LinkAction::Resolve);
        assert_eq!(
            (other.status, other.assignee.as_str()),
            (IncidentStatus::ToBeVerified, "bob")
        );
        for s in [IncidentStatus::Rejected, IncidentStatus::Closed] {
            let e = steps(&state(s, "alice"), LinkAction::Resolve, "alice").unwrap_err();
            assert_eq!(e.code(), "invalid_transition");
        }
    }

    #[test]
    fn offered_links_follow_the_status() {
        assert_eq!(offered(IncidentStatus::Unaccepted).len(), 2);
        assert_eq!(offered(IncidentStatus::Accepted), vec![LinkAction::Resolve]);
        for s in [
            IncidentStatus::ToBeVerified,
            IncidentStatus::Completed,
            IncidentStatus::Rejected,
            IncidentStatus::Closed,
        ] {
            assert!(offered(s).is_empty());
        }
    }
}
