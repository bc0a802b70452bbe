//! Parameter center (X6, ref. 6): text and encrypted parameters per
//! region, with deletion on expiry, pre-deletion and "unmodified for too
//! long" notifications (validated by the rules of ref. 6.2), and tags.
//!
//! Scripts and jobs take a parameter as a fixed value, as the value at
//! ticket creation ([`RefMode::AtCreation`]) or as the latest value in the
//! environment, resolved when the work is dispatched ([`RefMode::Latest`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};
use crate::notify::{Recipient, validate_channels, validate_recipients};

/// Longest value, bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Most tags per parameter.
pub const MAX_TAGS: usize = 20;

/// Parameter type, fixed after creation (ref. 6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Plain text, shown as is.
    Text,
    /// Encrypted at rest, masked everywhere; decrypted only with
    /// `coc:parameter:decrypt`.
    Encrypted,
}

/// What a user sends to create or modify a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    /// Name: 1..=128 of letters, digits, `_`, `-`, `.`, `/` (fixed).
    pub name: String,
    /// Region (fixed).
    pub region: String,
    /// Type (fixed).
    #[serde(rename = "type")]
    pub kind: ParamKind,
    /// Enterprise project (fixed).
    #[serde(default)]
    pub enterprise_project: Option<String>,
    /// The value (≤ 4096 bytes). `******` on modify keeps the stored value.
    pub value: String,
    /// Description (≤ 256 chars).
    #[serde(default)]
    pub description: String,
    /// Delete the parameter at this instant (Unix ms), if set.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Notify this many minutes before the deletion (each ≥ 1).
    #[serde(default)]
    pub pre_deletion_minutes: Vec<u32>,
    /// Notify when the value has not changed for this many minutes.
    #[serde(default)]
    pub unmodified_minutes: Vec<u32>,
    /// Who gets the notifications.
    #[serde(default)]
    pub recipients: Vec<Recipient>,
    /// Channels of the notifications.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Tags (≤ 20).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// How a script or job takes a parameter from the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefMode {
    /// The value when the ticket is created.
    AtCreation,
    /// The latest value in the environment, read when the work is
    /// dispatched.
    Latest,
}

/// A reference to a parameter of the center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamRef {
    /// Region.
    pub region: String,
    /// Name.
    pub name: String,
    /// When the value is read.
    pub mode: RefMode,
}

impl ParameterSpec {
    /// Validates the fields and the notification rules of ref. 6.2 at
    /// `now_ms` (the creation or modification time).
    ///
    /// Errors: [`DomainError::Validation`] naming the rule.
    pub fn validate(&self, now_ms: i64) -> Result<(), DomainError> {
        let n = self.name.chars().count();
        if n == 0
            || n > 128
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        {
            return Err(invalid(
                "parameter name: 1 to 128 of letters, digits, '_', '-', '.', '/'",
            ));
        }
        if self.region.trim().is_empty() || self.region.len() > 64 {
            return Err(invalid(
                "a parameter belongs to a region (1 to 64 characters)",
            ));
        }
        if self.value.is_empty() || self.value.len() > MAX_VALUE_BYTES {
            return Err(invalid(format!(
                "the value has 1 to {MAX_VALUE_BYTES} bytes"
            )));
        }
        if self.description.chars().count() > 256 {
            return Err(invalid("description is longer than 256 characters"));
        }
        if self.tags.len() > MAX_TAGS {
            return Err(invalid(format!("at most {MAX_TAGS} tags")));
        }
        if self
            .tags
            .keys()
            .any(|k| k.trim().is_empty() || k.len() > 128)
            || self.tags.values().any(|v| v.len() > 255)
        {
            return Err(invalid(
                "tag keys have 1 to 128 characters, values at most 255",
            ));
        }
        if self
            .pre_deletion_minutes
            .iter()
            .chain(&self.unmodified_minutes)
            .any(|m| *m == 0)
        {
            return Err(invalid("notification times are at least 1 minute"));
        }
        match self.expires_at {
            Some(e) if e <= now_ms => {
                return Err(invalid("the deletion time must be in the future"));
            }
            None if !self.pre_deletion_minutes.is_empty() => {
                return Err(invalid("pre-deletion notifications need a deletion time"));
            }
            _ => {}
        }
        if let Some(e) = self.expires_at {
            // 6.2.1: before the deletion, after the creation/modification.
            if self
                .pre_deletion_minutes
                .iter()
                .any(|m| e - i64::from(*m) * 60_000 <= now_ms)
            {
                return Err(invalid(
                    "a pre-deletion notification must come after now and before the deletion",
                ));
            }
            // 6.2.2: not later than the deletion.
            if self
                .unmodified_minutes
                .iter()
                .any(|m| now_ms + i64::from(*m) * 60_000 > e)
            {
                return Err(invalid(
                    "an unmodified notification cannot come after the deletion time",
                ));
            }
        }
        let notifies = !self.pre_deletion_minutes.is_empty() || !self.unmodified_minutes.is_empty();
        if notifies {
            validate_recipients(&self.recipients)?;
            validate_channels(&self.channels)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;
    const MIN: i64 = 60_000;

    fn spec() -> ParameterSpec {
        ParameterSpec {
            name: "db/password".into(),
            region: "eu-1".into(),
            kind: ParamKind::Encrypted,
            enterprise_project: None,
            value: "s3cret".into(),
            description: String::new(),
            expires_at: Some(NOW + 60 * MIN),
            pre_deletion_minutes: vec![10],
            unmodified_minutes: vec![30],
            recipients: vec![Recipient::Owner],
            channels: vec!["email".into()],
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn notification_rules_of_6_2() {
        spec().validate(NOW).unwrap();
        let bad = |f: &dyn Fn(&mut ParameterSpec)| {
            let mut s = spec();
            f(&mut s);
            s.validate(NOW).unwrap_err().to_string()
        };
        assert!(bad(&|s| s.pre_deletion_minutes = vec![60]).contains("pre-deletion"));
        assert!(bad(&|s| s.pre_deletion_minutes = vec![61]).contains("pre-deletion"));
        assert!(bad(&|s| s.unmodified_minutes = vec![61]).contains("unmodified"));
        assert!(bad(&|s| s.expires_at = Some(NOW)).contains("future"));
        assert!(bad(&|s| s.expires_at = None).contains("deletion time"));
        assert!(bad(&|s| s.unmodified_minutes = vec![0]).contains("1 minute"));
        assert!(bad(&|s| s.channels.clear()).contains("channel"));
        assert!(bad(&|s| s.name = "has space".into()).contains("name"));
        assert!(bad(&|s| s.value = "x".repeat(MAX_VALUE_BYTES + 1)).contains("bytes"));
        assert!(
            bad(&|s| {
                for i in 0..21 {
                    s.tags.insert(format!("k{i}"), "v".into());
                }
            })
            .contains("tags")
        );
        let mut ok = spec();
        ok.expires_at = None;
        ok.pre_deletion_minutes.clear();
        ok.unmodified_minutes = vec![525_600];
        ok.validate(NOW).unwrap();
    }
}
