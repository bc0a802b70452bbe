//! # coc-domain — the rules of COC
//!
//! Pure product logic: no IO, no async, no SQL. Every other crate builds on
//! these types; each module follows a chapter of `coc-user-guide.txt`:
//!
//! | module | feature | ref. |
//! | --- | --- | --- |
//! | [`access`] | A2/A3 policies, action catalog, evaluator | 1.1, 1.2 |
//! | [`agent`] | R3 agent identity: enrollment tokens, bound keys, admission | 3.1 |
//! | [`alarm`] | M2 normalized alarms, fingerprints, ingest formats | 7.4.2, 7.2 |
//! | [`pagerduty`] | M1 the PagerDuty Events API v2 as an ingest format | — |
//! | [`heartbeat`] | M1 heartbeat monitors (dead man's switch) | — |
//! | [`login`] | A1 sign-in throttling per user name and source address | 13.1 |
//! | [`egress`] | outbound destinations of HTTP atoms and webhooks: allow and deny lists | — |
//! | [`silence`] | M3 silences and maintenance windows: label matchers, weekly windows | landscape |
//! | [`inhibition`] | M3 inhibition rules: a firing source alarm mutes its targets | landscape |
//! | [`rule`] | I2 forwarding-rule conditions and matching | 7.4.2 |
//! | [`incident`] | I3 incident lifecycle (figure 7-1) | 7.1 |
//! | [`script`] | X1 scripts and typed input parameters | 5.1 |
//! | [`risk`] | X1 high-risk command rules and verification | 5.1.1 |
//! | [`jobticket`] | X4/X7/X8 the job-ticket engine: step, operator actions, retry, outcome | 5.2.4, 10.1.2 |
//! | [`ticket`] | X2/X7 batch planning, suspension threshold, ticket state | 5.1.3, 10.1.1 |
//! | [`notify`] | O3/O4 notification rules, templates, channel formats, signature, retries | 11.3 |
//! | [`parameter`] | X6 parameter center: types, expiry and notification rules | 6 |
//! | [`plan`] | S4/I4 emergency plans (automation, document) | 9.2, 7.1.3.8 |
//! | [`people`] | O1 engineers' contact channels and subscriptions | 11.1 |
//! | [`escalation`] | I7 escalation policies | 7.1 |
//! | [`sms_reply`] | I7 acknowledge and resolve by replying to the SMS; the gateway's inbound format | 7.1.3 |
//! | [`action_link`] | I7 signed, expiring acknowledge and resolve links in notifications | 7.1.3 |
//! | [`schedule`] | X5 scheduled O&M timing: once, cycle, cron, expiry, missed runs | 5.3 |
//! | [`sla`] | O5 SLAs: priority, effective time, pre-warning and breach | 11.5 |
//! | [`oncall`] | O2 shift schedules, on-call lookup across DST | 11.2 |
//! | [`resource`] | R1 hosts and agent status | 3.1 |
//!
//! Times are Unix milliseconds in UTC (`i64`) throughout.

#![warn(missing_docs)]

/// Declares a state enum stored by name: the variants with their stored
/// names, `as_str`, `parse` and `ALL` (for status sets in queries).
macro_rules! stored_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $v),+
        }
        impl $name {
            /// Every state.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// Stored name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            /// Parses a stored name.
            ///
            /// Errors: [`crate::DomainError::Validation`] for an unknown name.
            pub fn parse(s: &str) -> Result<Self, crate::DomainError> {
                match s {
                    $($s => Ok($name::$v),)+
                    _ => Err(crate::DomainError::Validation(format!(
                        "unknown {} '{s}'", stringify!($name)
                    ))),
                }
            }
        }
    };
}

pub mod access;
pub mod action_link;
pub mod agent;
pub mod agent_install;
pub mod agent_upgrade;
pub mod alarm;
pub mod application;
pub mod cloud;
pub mod convergence;
pub mod discovery;
pub mod drift;
pub mod egress;
pub mod error;
pub mod escalation;
pub mod health;
pub mod heartbeat;
pub mod id;
pub mod incident;
pub mod inhibition;
pub mod job;
pub mod jobticket;
pub mod login;
pub mod mapping;
pub mod notify;
pub mod oncall;
pub mod pagerduty;
pub mod parameter;
pub mod patch;
pub mod people;
pub mod plan;
pub mod replay;
pub mod resource;
pub mod resource_op;
pub mod risk;
pub mod rule;
pub mod schedule;
pub mod script;
pub mod silence;
pub mod sla;
pub mod sms_reply;
pub mod ticket;
pub mod topology;

pub use error::DomainError;

/// The tenant every record belongs to until multi-tenancy (A4) arrives.
pub const DEFAULT_TENANT: &str = "default";
