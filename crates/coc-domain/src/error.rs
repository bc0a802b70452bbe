//! Domain errors. The server maps each variant to a stable problem code.

/// An error raised by a domain rule.
///
/// Each variant carries a human message; [`DomainError::code`] gives the
/// stable machine code used in `application/problem+json` responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Input failed validation (a field is missing, too long, malformed).
    #[error("{0}")]
    Validation(String),
    /// The requested action is not allowed in the record's current state
    /// (e.g. upgrading an incident that is not accepted, ref. 7.1.3.5).
    #[error("{0}")]
    InvalidTransition(String),
}

impl DomainError {
    /// Stable machine code: `validation_failed` or `invalid_transition`.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Validation(_) => "validation_failed",
            DomainError::InvalidTransition(_) => "invalid_transition",
        }
    }
}

/// Shorthand to build a [`DomainError::Validation`].
pub fn invalid(msg: impl Into<String>) -> DomainError {
    DomainError::Validation(msg.into())
}
