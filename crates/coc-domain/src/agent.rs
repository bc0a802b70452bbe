//! Agent identity and enrollment (R3, ref. 3.1; ARCHITECTURE "Agent
//! protocol"): who may speak for a host.
//!
//! An agent holds a key pair made on its host. The first connection
//! presents an enrollment token (limited uses, an expiry) and binds the
//! agent's public key to a new host; every later connection proves
//! possession of that key by signing the server's challenge, and the token
//! no longer matters. A token alone can never claim an existing host: a
//! host whose key is lost (re-installed agent) is opened for re-enrollment
//! by an operator, for a limited time. A revoked identity is refused until
//! an operator opens re-enrollment or deletes the host.
//!
//! [`admit`] is the whole decision; the store loads its inputs and applies
//! the answer in one transaction.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// State of a host's agent identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityState {
    /// No key bound (a host registered before agent keys existed): only an
    /// operator can open it for enrollment.
    None,
    /// A key is bound; connections must prove it.
    Active,
    /// Refused: the bound key no longer identifies the host.
    Revoked,
    /// Open for re-enrollment until a deadline: the next agent with this
    /// agent id and a valid enrollment token binds its key.
    Open,
}

impl IdentityState {
    /// Every state.
    pub const ALL: [IdentityState; 4] = [
        IdentityState::None,
        IdentityState::Active,
        IdentityState::Revoked,
        IdentityState::Open,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityState::None => "none",
            IdentityState::Active => "active",
            IdentityState::Revoked => "revoked",
            IdentityState::Open => "open",
        }
    }

    /// Parses a stored name; unknown names read as [`IdentityState::None`]
    /// (the safe side: nothing is admitted without an operator).
    pub fn parse(s: &str) -> IdentityState {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .unwrap_or(IdentityState::None)
    }
}

/// A host as identity decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHost {
    /// Resource id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// The agent id the host was registered with.
    pub agent_id: String,
    /// Identity state.
    pub state: IdentityState,
    /// End of the re-enrollment window (Unix ms), when [`IdentityState::Open`].
    pub open_until: Option<i64>,
}

/// An enrollment token as identity decisions see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Id.
    pub id: String,
    /// Tenant agents enroll into.
    pub tenant: String,
    /// Hosts it may still enroll: `max_uses - uses`.
    pub max_uses: i64,
    /// Hosts enrolled with it so far.
    pub uses: i64,
    /// Unix ms after which it is refused.
    pub expires_at: i64,
    /// Revoked by an operator.
    pub revoked: bool,
}

/// Most hosts one enrollment token may enroll.
pub const MAX_ENROLLMENT_USES: i64 = 10_000;
/// Longest validity of an enrollment token, hours (30 days).
pub const MAX_ENROLLMENT_HOURS: i64 = 720;
/// Validity of an enrollment token when none is given, hours.
pub const DEFAULT_ENROLLMENT_HOURS: i64 = 24;
/// How long a host stays open for re-enrollment, ms (24 h).
pub const REENROLL_WINDOW_MS: i64 = 24 * 3_600_000;

/// A short, shareable fingerprint of an agent's public key: the first 16
/// hex characters of its SHA-256.
pub fn key_fingerprint(public_key_hex: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(public_key_hex.as_bytes()))[..16].to_string()
}

/// Checks the settings of a new enrollment token: 1 to 64 characters of
/// name, 1 to [`MAX_ENROLLMENT_USES`] uses, 1 to [`MAX_ENROLLMENT_HOURS`]
/// hours. Returns the trimmed name.
///
/// Errors: `Validation` naming the field.
pub fn validate_enrollment(name: &str, max_uses: i64, hours: i64) -> Result<String, DomainError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name must have 1 to 64 characters, none of them control characters",
        ));
    }
    if !(1..=MAX_ENROLLMENT_USES).contains(&max_uses) {
        return Err(invalid(format!(
            "max_uses must be 1 to {MAX_ENROLLMENT_USES}"
        )));
    }
    if !(1..=MAX_ENROLLMENT_HOURS).contains(&hours) {
        return Err(invalid(format!(
            "expires_in_hours must be 1 to {MAX_ENROLLMENT_HOURS}"
        )));
    }
    Ok(name.to_string())
}

/// Whether a token may enroll one more host at `now`; `Err` says why not.
pub fn token_usable(t: &EnrollmentToken, now: i64) -> Result<(), Refusal> {
    if t.revoked {
        Err(Refusal::TokenRevoked)
    } else if now >= t.expires_at {
        Err(Refusal::TokenExpired)
    } else if t.uses >= t.max_uses {
        Err(Refusal::TokenUsedUp)
    } else {
        Ok(())
    }
}

/// Why a connection is refused. The text goes to the agent and the log;
/// it never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The key is bound to a host whose identity was revoked.
    Revoked,
    /// The key is bound to a host registered under another agent id.
    AgentIdMismatch,
    /// The key is unknown and no enrollment token was sent.
    NotEnrolled,
    /// The token is unknown.
    TokenUnknown,
    /// The token was revoked.
    TokenRevoked,
    /// The token's time ran out.
    TokenExpired,
    /// The token enrolled as many hosts as it may.
    TokenUsedUp,
    /// The agent id belongs to a host with an identity: a token cannot
    /// claim it.
    HostClaimed,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Revoked => {
                "this agent's identity was revoked; an operator must allow re-enrollment (coc resource reenroll) or delete the host"
            }
            Refusal::AgentIdMismatch => "this key belongs to a host with another agent id",
            Refusal::NotEnrolled => {
                "this agent is not enrolled: start it once with an enrollment token (coc enrollment create)"
            }
            Refusal::TokenUnknown => "the enrollment token is not valid",
            Refusal::TokenRevoked => "the enrollment token was revoked",
            Refusal::TokenExpired => "the enrollment token has expired",
            Refusal::TokenUsedUp => "the enrollment token has enrolled as many hosts as it may",
            Refusal::HostClaimed => {
                "a host with this agent id is already enrolled with another key; an operator must allow re-enrollment (coc resource reenroll) or delete it"
            }
        })
    }
}

/// What a connection that proved its key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The key identifies this host: it connects as it.
    Known {
        /// Resource id.
        host_id: String,
        /// Its tenant.
        tenant: String,
    },
    /// A new host in the token's tenant, bound to the key; one use of the
    /// token is spent.
    Enroll {
        /// Tenant.
        tenant: String,
        /// The token spent.
        enrollment_id: String,
    },
    /// The key is bound to an existing host opened for re-enrollment; one
    /// use of the token is spent.
    Rebind {
        /// Resource id.
        host_id: String,
        /// Its tenant.
        tenant: String,
        /// The token spent.
        enrollment_id: String,
    },
    /// Refused.
    Refused(Refusal),
}

/// Decides an agent connection that has proved possession of its key.
///
/// - `by_key`: the host this key is bound to, if any;
/// - `token`: the enrollment token sent with the connection, if one was
///   sent: `Some(None)` when it matched no token;
/// - `claimed`: the host with `agent_id` in the token's tenant, if any;
/// - `agent_id`: the agent id the agent says it has.
///
/// A bound key wins over any token (a token is never needed again and
/// never spent again). An unknown key needs a usable token; it then
/// creates a host, or rebinds one an operator opened for re-enrollment
/// whose window is still open, and never takes over any other host.
pub fn admit(
    by_key: Option<&AgentHost>,
    token: Option<Option<&EnrollmentToken>>,
    claimed: Option<&AgentHost>,
    agent_id: &str,
    now: i64,
) -> Admission {
    if let Some(h) = by_key {
        return match h.state {
            IdentityState::Revoked => Admission::Refused(Refusal::Revoked),
            _ if h.agent_id != agent_id => Admission::Refused(Refusal::AgentIdMismatch),
            _ => Admission::Known {
                host_id: h.id.clone(),
                tenant: h.tenant.clone(),
            },
        };
    }
    let t = match token {
        None => return Admission::Refused(Refusal::NotEnrolled),
        Some(None) => return Admission::Refused(Refusal::TokenUnknown),
        Some(Some(t)) => t,
    };
    if let Err(r) = token_usable(t, now) {
        return Admission::Refused(r);
    }
    match claimed {
        None => Admission::Enroll {
            tenant: t.tenant.clone(),
            enrollment_id: t.id.clone(),
        },
        Some(h)
            if h.tenant == t.tenant
                && h.state == IdentityState::Open
                && h.open_until.is_some_and(|u| now < u) =>
        {
            Admission::Rebind {
                host_id: h.id.clone(),
                tenant: h.tenant.clone(),
                enrollment_id: t.id.clone(),
            }
        }
        Some(h) if h.state == IdentityState::Revoked => Admission::Refused(Refusal::Revoked),
        Some(_) => Admission::Refused(Refusal::HostClaimed),
    }
}

/// An operator's action on a host's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAction {
    /// Refuse the bound key from now on (a stolen or decommissioned host).
    Revoke,
    /// Forget the bound key and let the next agent with this agent id and a
    /// valid token bind its key, within [`REENROLL_WINDOW_MS`].
    Reenroll,
}

/// The identity after an operator's action: (state, open until).
/// Revoking is allowed in every state (idempotent); re-enrollment too.
pub fn apply_identity_action(action: IdentityAction, now: i64) -> (IdentityState, Option<i64>) {
    match action {
        IdentityAction::Revoke => (IdentityState::Revoked, None),
        IdentityAction::Reenroll => (IdentityState::Open, Some(now + REENROLL_WINDOW_MS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(state: IdentityState) -> AgentHost {
        AgentHost {
            id: "h1".into(),
            tenant: "t".into(),
            agent_id: "a1".into(),
            state,
            open_until: (state == IdentityState::Open).then_some(1_000),
        }
    }

    fn token() -> EnrollmentToken {
        EnrollmentToken {
            id: "e1".into(),
            tenant: "t".into(),
            max_uses: 2,
            uses: 0,
            expires_at: 10_000,
            revoked: false,
        }
    }

    #[test]
    fn a_bound_key_connects_as_its_host_without_a_token() {
        let h = host(IdentityState::Active);
        assert_eq!(
            admit(Some(&h), None, None, "a1", 0),
            Admission::Known {
                host_id: "h1".into(),
                tenant: "t".into()
            }
        );
    }

    #[test]
    fn a_token_never_claims_an_enrolled_host() {
        // The hijack of issue 14: a valid token and a victim's agent id.
        let t = token();
        for state in [
            IdentityState::Active,
            IdentityState::None,
            IdentityState::Revoked,
        ] {
            let victim = host(state);
            let a = admit(None, Some(Some(&t)), Some(&victim), "a1", 0);
            assert!(matches!(a, Admission::Refused(_)), "{state:?}: {a:?}");
        }
        // An open window that has passed is closed.
        let open = host(IdentityState::Open);
        assert_eq!(
            admit(None, Some(Some(&t)), Some(&open), "a1", 1_000),
            Admission::Refused(Refusal::HostClaimed)
        );
    }

    #[test]
    fn an_open_host_is_rebound_within_its_window() {
        let t = token();
        let open = host(IdentityState::Open);
        assert_eq!(
            admit(None, Some(Some(&t)), Some(&open), "a1", 999),
            Admission::Rebind {
                host_id: "h1".into(),
                tenant: "t".into(),
                enrollment_id: "e1".into()
            }
        );
    }

    #[test]
    fn revoked_keys_are_refused() {
        let h = host(IdentityState::Revoked);
        assert_eq!(
            admit(Some(&h), Some(Some(&token())), None, "a1", 0),
            Admission::Refused(Refusal::Revoked)
        );
    }

    #[test]
    fn a_key_speaks_only_for_its_own_agent_id() {
        let h = host(IdentityState::Active);
        assert_eq!(
            admit(Some(&h), None, None, "other", 0),
            Admission::Refused(Refusal::AgentIdMismatch)
        );
    }

    #[test]
    fn tokens_are_limited() {
        let mut t = token();
        assert!(matches!(
            admit(None, Some(Some(&t)), None, "new", 0),
            Admission::Enroll { .. }
        ));
        t.uses = 2;
        assert_eq!(
            admit(None, Some(Some(&t)), None, "new", 0),
            Admission::Refused(Refusal::TokenUsedUp)
        );
        t.uses = 0;
        assert_eq!(
            admit(None, Some(Some(&t)), None, "new", 10_000),
            Admission::Refused(Refusal::TokenExpired)
        );
        t.revoked = true;
        assert_eq!(
            admit(None, Some(Some(&t)), None, "new", 0),
            Admission::Refused(Refusal::TokenRevoked)
        );
        assert_eq!(
            admit(None, Some(None), None, "new", 0),
            Admission::Refused(Refusal::TokenUnknown)
        );
        assert_eq!(
            admit(None, None, None, "new", 0),
            Admission::Refused(Refusal::NotEnrolled)
        );
    }

    #[test]
    fn enrollment_settings_are_bounded() {
        assert_eq!(validate_enrollment(" east ", 1, 24).unwrap(), "east");
        assert!(validate_enrollment("", 1, 24).is_err());
        assert!(validate_enrollment("a\0b", 1, 24).is_err());
        assert!(validate_enrollment("x", 0, 24).is_err());
        assert!(validate_enrollment("x", MAX_ENROLLMENT_USES + 1, 24).is_err());
        assert!(validate_enrollment("x", 1, 0).is_err());
        assert!(validate_enrollment("x", 1, MAX_ENROLLMENT_HOURS + 1).is_err());
    }

    #[test]
    fn operator_actions() {
        assert_eq!(
            apply_identity_action(IdentityAction::Reenroll, 5),
            (IdentityState::Open, Some(5 + REENROLL_WINDOW_MS))
        );
        assert_eq!(
            apply_identity_action(IdentityAction::Revoke, 5),
            (IdentityState::Revoked, None)
        );
        for s in IdentityState::ALL {
            assert_eq!(IdentityState::parse(s.as_str()), s);
        }
    }
}
