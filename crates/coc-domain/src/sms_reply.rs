//! Acknowledge and resolve by replying to the SMS (I7, ref. 7.1.3): the
//! reply code an incident SMS carries, how a reply is read, and the
//! gateway's inbound wire format (Twilio's: a form POST signed with
//! `X-Twilio-Signature`, answered with TwiML).
//!
//! A reply acts only when three things hold: the gateway's signature
//! (HMAC-SHA1 under the gateway's auth token), the sender's number being
//! the person's confirmed mobile the code was sent to, and the code being
//! one still valid for that number.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::action_link::LinkAction;

/// Digits of a reply code.
pub const CODE_DIGITS: usize = 4;

/// Longest reply read, bytes (an SMS is at most 1,600 characters).
pub const MAX_REPLY_LEN: usize = 1600;

/// The reply code for a random number (its last [`CODE_DIGITS`] decimal
/// digits, zero-padded).
pub fn code_from(n: u32) -> String {
    format!("{:04}", n % 10_000)
}

/// The line an SMS ends with: how to act by replying, for each action
/// offered (`Reply A4821 to acknowledge, R4821 to resolve.`).
pub fn instructions(code: &str, offered: &[LinkAction]) -> String {
    let parts: Vec<String> = offered
        .iter()
        .map(|a| format!("{}{code} to {}", letter(*a), a.as_str()))
        .collect();
    format!("Reply {}.", parts.join(", "))
}

fn letter(a: LinkAction) -> char {
    match a {
        LinkAction::Acknowledge => 'A',
        LinkAction::Resolve => 'R',
    }
}

/// The action and code a reply names: a letter (`A`/`ACK`/`acknowledge`,
/// `R`/`resolve`) and the digits, in either order, spaces and case free
/// (`A4821`, `a 4821`, `4821 r`, `ack 4821`); `None` for anything else.
pub fn parse_reply(body: &str) -> Option<(LinkAction, String)> {
    if body.len() > MAX_REPLY_LEN {
        return None;
    }
    let t: String = body
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.' && *c != '!')
        .collect();
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let word: String = t.chars().filter(|c| !c.is_ascii_digit()).collect();
    if digits.len() != CODE_DIGITS || !(t.starts_with(&digits) || t.ends_with(&digits)) {
        return None;
    }
    let action = match word.as_str() {
        "a" | "ack" | "acknowledge" => LinkAction::Acknowledge,
        "r" | "res" | "resolve" => LinkAction::Resolve,
        _ => return None,
    };
    Some((action, digits))
}

fn gateway_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut m = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes keys of any length");
    m.update(url.as_bytes());
    for (k, v) in sorted {
        m.update(k.as_bytes());
        m.update(v.as_bytes());
    }
    m
}

/// Twilio's request signature: base64 of HMAC-SHA1 under the auth token
/// over the full URL the gateway posted to followed by each form
/// parameter's name and value, sorted by name.
pub fn gateway_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let tag = gateway_mac(auth_token, url, params).finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(tag)
}

/// Whether `signature` is the gateway's signature of the request
/// (constant time).
pub fn verify_gateway(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    gateway_mac(auth_token, url, params)
        .verify_slice(&given)
        .is_ok()
}

/// The TwiML answer that sends `text` back to the sender.
pub fn reply_twiml(text: &str) -> String {
    let esc = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{esc}</Message></Response>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_in_the_forms_people_type() {
        for (text, want) in [
            ("A4821", Some((LinkAction::Acknowledge, "4821"))),
            (" a 4821 ", Some((LinkAction::Acknowledge, "4821"))),
            ("4821 R", Some((LinkAction::Resolve, "4821"))),
            ("ack 4821.", Some((LinkAction::Acknowledge, "4821"))),
            ("Resolve 0042", Some((LinkAction::Resolve, "0042"))),
            ("A482", None),
            ("A48211", None),
            ("X4821", None),
            ("A48x21", None),
            ("42A21", None),
            ("", None),
        ] {
            assert_eq!(
                parse_reply(text),
                want.map(|(a, c)| (a, c.to_string())),
                "{text:?}"
            );
        }
        assert_eq!(parse_reply(&"A".repeat(MAX_REPLY_LEN + 1)), None);
    }

    #[test]
    fn instructions_name_each_offered_action() {
        let all = [LinkAction::Acknowledge, LinkAction::Resolve];
        assert_eq!(
            instructions("0007", &all),
            "Reply A0007 to acknowledge, R0007 to resolve."
        );
        assert_eq!(code_from(123_456_789), "6789");
        assert_eq!(code_from(7), "0007");
        for a in all {
            let line = instructions("1234", &[a]);
            let typed = line.split_whitespace().nth(1).unwrap();
            assert_eq!(parse_reply(typed), Some((a, "1234".into())));
        }
    }

    /// The example of Twilio's security documentation
    /// ("Validating Requests are coming from Twilio").
    #[test]
    fn the_gateway_signature_matches_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let sig = gateway_signature("12345", url, &params);
        assert_eq!(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify_gateway("12345", url, &params, &sig));
        assert!(!verify_gateway("12346", url, &params, &sig));
        assert!(!verify_gateway(
            "12345",
            "https://mycompany.com/other",
            &params,
            &sig
        ));
        assert!(!verify_gateway("12345", url, &params[1..], &sig));
        assert!(!verify_gateway("12345", url, &params, "not base64!"));
    }

    #[test]
    fn the_answer_escapes_its_text() {
        assert_eq!(
            reply_twiml("a<b & c"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>a&lt;b &amp; c</Message></Response>"
        );
    }
}
