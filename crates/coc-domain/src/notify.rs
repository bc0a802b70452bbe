//! Notification channels (O4): the wire formats of each channel, the
//! webhook signature, and the retry schedule of the delivery queue.
//!
//! Formats (`Message` → JSON body):
//! - `webhook`: `{"event","subject","body","sent_at"}`, signed with
//!   HMAC-SHA256 over the exact body: header `X-COC-Signature:
//!   sha256=<hex>` (the GitHub convention).
//! - `wecom`, `dingtalk`: `{"msgtype":"text","text":{"content":…}}`.
//! - `feishu`: `{"msg_type":"text","content":{"text":…}}`.
//! - `slack`, `teams`: `{"text":…}`.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{DomainError, invalid};

/// Channel kinds that deliver over HTTP.
pub const HTTP_CHANNELS: &[&str] = &["webhook", "wecom", "dingtalk", "feishu", "slack", "teams"];

/// A notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Event name (`incident_created`, `test`, …).
    pub event: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
}

/// The JSON body a channel expects for `m`, sent at `sent_at_ms`.
///
/// Errors: [`DomainError::Validation`] for an unknown channel.
pub fn render(
    channel: &str,
    m: &Message,
    sent_at_ms: i64,
) -> Result<serde_json::Value, DomainError> {
    let text = format!("{}\n{}", m.subject, m.body);
    Ok(match channel {
        "webhook" => {
            serde_json::json!({"event": m.event, "subject": m.subject, "body": m.body, "sent_at": sent_at_ms})
        }
        "wecom" | "dingtalk" => serde_json::json!({"msgtype": "text", "text": {"content": text}}),
        "feishu" => serde_json::json!({"msg_type": "text", "content": {"text": text}}),
        "slack" | "teams" => serde_json::json!({"text": text}),
        other => {
            return Err(invalid(format!(
                "unknown channel '{other}': use one of {}",
                HTTP_CHANNELS.join(", ")
            )));
        }
    })
}

/// `sha256=<hex>` HMAC-SHA256 of `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC of `body` (constant time).
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(h) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = hex::decode(h) else {
        return false;
    };
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// Attempts before a delivery is given up as failed.
pub const MAX_ATTEMPTS: u32 = 10;

/// Delay before retry `attempt` (1-based, after that many failures), ms:
/// 1 s, 2 s, 4 s, … capped at 5 minutes.
pub fn retry_delay_ms(attempt: u32) -> i64 {
    (1000i64 << attempt.saturating_sub(1).min(20)).min(300_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Message {
        Message {
            event: "incident_created".into(),
            subject: "P1 INC1".into(),
            body: "db down".into(),
        }
    }

    #[test]
    fn formats() {
        assert_eq!(
            render("wecom", &m(), 0).unwrap()["text"]["content"],
            "P1 INC1\ndb down"
        );
        assert_eq!(render("dingtalk", &m(), 0).unwrap()["msgtype"], "text");
        assert_eq!(
            render("feishu", &m(), 0).unwrap()["content"]["text"],
            "P1 INC1\ndb down"
        );
        assert_eq!(
            render("slack", &m(), 0).unwrap()["text"],
            "P1 INC1\ndb down"
        );
        assert_eq!(render("webhook", &m(), 5).unwrap()["sent_at"], 5);
        assert!(render("pager", &m(), 0).is_err());
    }

    #[test]
    fn signature_round_trip() {
        let s = sign(b"k", b"{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert!(verify(b"k", b"{}", &s));
        assert!(!verify(b"other", b"{}", &s));
        assert!(!verify(b"k", b"{ }", &s));
        assert!(!verify(b"k", b"{}", "sha1=00"));
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff() {
        let d: Vec<i64> = (1..=12).map(retry_delay_ms).collect();
        assert_eq!(&d[..4], &[1000, 2000, 4000, 8000]);
        assert!(d.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*d.last().unwrap(), 300_000);
    }
}
