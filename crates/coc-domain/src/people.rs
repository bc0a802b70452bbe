//! O&M engineers and their contact channels (O1, ref. 11.1).
//!
//! An engineer (a user of the tenant) has at most one address per contact
//! channel. `mobile` (used for SMS and voice) and `email` need the person
//! to confirm a subscription — a link sent to the address — before COC
//! uses them; an unconfirmed subscription expires after
//! [`SUBSCRIPTION_TTL_MS`] and can be sent again. Robot and webhook
//! addresses are usable at once.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// Contact channels an engineer profile can hold.
pub const CONTACT_CHANNELS: &[&str] = &[
    "mobile", "email", "wecom", "dingtalk", "feishu", "slack", "teams", "webhook",
];

/// How long a subscription confirmation stays valid: 48 hours, in ms.
pub const SUBSCRIPTION_TTL_MS: i64 = 48 * 3600 * 1000;

/// State of a contact's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Sent, waiting for the person to confirm (until it expires).
    Pending,
    /// Confirmed (or a channel that needs no confirmation): usable.
    Confirmed,
    /// Not confirmed within 48 hours; subscribe again.
    Expired,
}

impl SubscriptionStatus {
    /// `pending`, `confirmed` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Confirmed => "confirmed",
            SubscriptionStatus::Expired => "expired",
        }
    }

    /// The status of a stored subscription at `now_ms`: a pending one past
    /// its `expires_at_ms` is expired.
    pub fn at(stored: &str, expires_at_ms: Option<i64>, now_ms: i64) -> Self {
        match stored {
            "confirmed" => SubscriptionStatus::Confirmed,
            "pending" if expires_at_ms.is_some_and(|e| now_ms < e) => SubscriptionStatus::Pending,
            _ => SubscriptionStatus::Expired,
        }
    }
}

/// Whether addresses of `channel` must be confirmed before use.
pub fn needs_confirmation(channel: &str) -> bool {
    matches!(channel, "mobile" | "email")
}

/// The contact channel that carries notification channel `channel`
/// (`sms` and `voice` use `mobile`; the others are themselves).
pub fn contact_channel(channel: &str) -> &str {
    match channel {
        "sms" | "voice" => "mobile",
        other => other,
    }
}

/// Validates an address for a contact channel: an email address, a
/// mobile number in E.164 form (`+8613800000000`), or an http(s) URL.
///
/// Errors: [`DomainError::Validation`] naming the channel.
pub fn validate_address(channel: &str, address: &str) -> Result<(), DomainError> {
    let a = address.trim();
    let ok = match channel {
        "email" => {
            let mut parts = a.splitn(2, '@');
            let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
                && a.len() <= 254
        }
        "mobile" => {
            let digits = a.strip_prefix('+').unwrap_or("");
            (7..=15).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit())
                && !digits.starts_with('0')
        }
        "wecom" | "dingtalk" | "feishu" | "slack" | "teams" | "webhook" => {
            (a.starts_with("https://") || a.starts_with("http://")) && a.len() <= 2048
        }
        other => {
            return Err(invalid(format!(
                "unknown contact channel '{other}': use one of {}",
                CONTACT_CHANNELS.join(", ")
            )));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(match channel {
            "email" => format!("'{a}' is not an email address"),
            "mobile" => "a mobile number is written in E.164 form, e.g. +8613800000000".into(),
            c => format!("the {c} address must be an http(s) URL"),
        }))
    }
}

/// The address as shown in lists: `a***@example.com`, `+86*******0000`,
/// or a URL cut to its scheme and host (robot URLs carry keys).
pub fn mask(channel: &str, address: &str) -> String {
    match channel {
        "email" => match address.split_once('@') {
            Some((l, d)) => format!("{}***@{d}", l.chars().next().unwrap_or('*')),
            None => "***".into(),
        },
        "mobile" => {
            let n = address.chars().count();
            address
                .chars()
                .enumerate()
                .map(|(i, c)| if i < 3 || i + 4 >= n { c } else { '*' })
                .collect()
        }
        _ => {
            let rest = address.split_once("://").map(|x| x.1).unwrap_or("");
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            // Never the user info (`user:password@`).
            let host = authority.rsplit_once('@').map_or(authority, |x| x.1);
            let scheme = address.split("://").next().unwrap_or("https");
            format!("{scheme}://{host}/***")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        validate_address("email", "ann@example.com").unwrap();
        for bad in [
            "ann",
            "ann@",
            "@x.org",
            "a b@x.org",
            "ann@localhost",
            "a@x.",
        ] {
            assert!(validate_address("email", bad).is_err(), "{bad}");
        }
        validate_address("mobile", "+8613800000000").unwrap();
        for bad in ["13800000000", "+0123456789", "+12", "+86 138"] {
            assert!(validate_address("mobile", bad).is_err(), "{bad}");
        }
        validate_address("slack", "https://hooks.slack.com/services/T/B/x").unwrap();
        assert!(validate_address("slack", "ftp://x").is_err());
        assert!(validate_address("pager", "x").is_err());
    }

    #[test]
    fn masking_hides_the_secret_parts() {
        assert_eq!(mask("email", "ann@example.com"), "a***@example.com");
        assert_eq!(mask("mobile", "+8613812345678"), "+86*******5678");
        assert_eq!(
            mask(
                "wecom",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET"
            ),
            "https://qyapi.weixin.qq.com/***"
        );
    }

    #[test]
    fn subscription_expiry() {
        assert_eq!(
            SubscriptionStatus::at("pending", Some(10), 9),
            SubscriptionStatus::Pending
        );
        assert_eq!(
            SubscriptionStatus::at("pending", Some(10), 10),
            SubscriptionStatus::Expired
        );
        assert_eq!(
            SubscriptionStatus::at("confirmed", None, 99),
            SubscriptionStatus::Confirmed
        );
        assert!(needs_confirmation("email") && needs_confirmation("mobile"));
        assert!(!needs_confirmation("slack"));
        assert_eq!(contact_channel("voice"), "mobile");
        assert_eq!(contact_channel("email"), "email");
    }
}
