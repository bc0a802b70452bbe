//! API errors as `application/problem+json` (RFC 9457) with stable codes.
//!
//! One table ([`ErrorCode`]) maps every code to its HTTP status and title,
//! so a code always means the same thing wherever it appears.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coc_store::StoreError;
use serde::Serialize;

/// Every problem code the API answers with: its stable name, HTTP status
/// and title — one table, no fallback, so a code always means the same
/// thing wherever it appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Malformed JSON.
    MalformedJson,
    /// Invalid query parameters.
    BadQuery,
    /// A path parameter of the wrong form (a step index that is no number).
    BadPath,
    /// Format not accepted by this integration.
    WrongIntegrationType,
    /// Authentication required.
    Unauthorized,
    /// Unknown integration key.
    InvalidIntegrationKey,
    /// Integration disabled.
    IntegrationDisabled,
    /// Not allowed by policy.
    Forbidden,
    /// Missing or wrong CSRF token.
    CsrfFailed,
    /// Login failed.
    InvalidCredentials,
    /// Not found.
    NotFound,
    /// Method not allowed.
    MethodNotAllowed,
    /// Conflict.
    Conflict,
    /// Action not allowed in the current state.
    InvalidTransition,
    /// Request body too large.
    PayloadTooLarge,
    /// Unsupported media type.
    UnsupportedMediaType,
    /// Request body does not match the schema.
    InvalidBody,
    /// Validation failed.
    ValidationFailed,
    /// Too many requests.
    TooManyRequests,
    /// Service unavailable.
    Unavailable,
    /// Internal error.
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::MalformedJson,
        ErrorCode::BadQuery,
        ErrorCode::BadPath,
        ErrorCode::WrongIntegrationType,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidIntegrationKey,
        ErrorCode::IntegrationDisabled,
        ErrorCode::Forbidden,
        ErrorCode::CsrfFailed,
        ErrorCode::InvalidCredentials,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::InvalidTransition,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidBody,
        ErrorCode::ValidationFailed,
        ErrorCode::TooManyRequests,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The stable machine name, e.g. `invalid_transition`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::BadQuery => "bad_query",
            ErrorCode::BadPath => "bad_path",
            ErrorCode::WrongIntegrationType => "wrong_integration_type",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::InvalidIntegrationKey => "invalid_integration_key",
            ErrorCode::IntegrationDisabled => "integration_disabled",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status and the title.
    pub fn status_and_title(self) -> (StatusCode, &'static str) {
        match self {
            ErrorCode::MalformedJson => (StatusCode::BAD_REQUEST, "Malformed JSON"),
            ErrorCode::BadQuery => (StatusCode::BAD_REQUEST, "Invalid query parameters"),
            ErrorCode::BadPath => (StatusCode::BAD_REQUEST, "Invalid path parameters"),
            ErrorCode::WrongIntegrationType => (
                StatusCode::BAD_REQUEST,
                "Format not accepted by this integration",
            ),
            ErrorCode::Unauthorized => (StatusCode::UNAUTHORIZED, "Authentication required"),
            ErrorCode::InvalidIntegrationKey => {
                (StatusCode::UNAUTHORIZED, "Unknown integration key")
            }
            ErrorCode::IntegrationDisabled => (StatusCode::FORBIDDEN, "Integration disabled"),
            ErrorCode::Forbidden => (StatusCode::FORBIDDEN, "Not allowed by policy"),
            ErrorCode::CsrfFailed => (StatusCode::FORBIDDEN, "Missing or wrong CSRF token"),
            ErrorCode::InvalidCredentials => (StatusCode::UNAUTHORIZED, "Login failed"),
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            ErrorCode::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
            ErrorCode::Conflict => (StatusCode::CONFLICT, "Conflict"),
            ErrorCode::InvalidTransition => (
                StatusCode::CONFLICT,
                "Action not allowed in the current state",
            ),
            ErrorCode::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
            ErrorCode::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
            }
            ErrorCode::InvalidBody => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Request body does not match the schema",
            ),
            ErrorCode::ValidationFailed => (StatusCode::UNPROCESSABLE_ENTITY, "Validation failed"),
            ErrorCode::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            ErrorCode::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            ErrorCode::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }
}

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Stable code.
    pub code: ErrorCode,
    /// Human explanation, safe to show (never contains secrets).
    pub detail: String,
}

/// The problem document sent on the wire.
#[derive(Debug, Serialize)]
pub struct Problem<'a> {
    /// `/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the code.
    pub title: &'a str,
    /// HTTP status.
    pub status: u16,
    /// Explanation for this occurrence.
    pub detail: &'a str,
    /// The stable code.
    pub code: &'a str,
}

impl ApiError {
    /// A new error with `code` and `detail`.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
        }
    }

    /// HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.code.status_and_title().0
    }
}

impl ApiError {
    /// The answer with a `Retry-After` header of `seconds` (429, 503).
    pub fn retry_after(self, seconds: i64) -> Response {
        let mut r = self.into_response();
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = self.code.status_and_title();
        let body = serde_json::to_vec(&Problem {
            kind: format!("/problems/{}", self.code.as_str()),
            title,
            status: status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
        })
        .unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => {
                ApiError::new(crate::error::ErrorCode::NotFound, e.to_string())
            }
            StoreError::Conflict(m) => ApiError::new(crate::error::ErrorCode::Conflict, m.clone()),
            StoreError::Domain(d) => ApiError::new(
                match d {
                    coc_domain::DomainError::InvalidTransition(_) => ErrorCode::InvalidTransition,
                    coc_domain::DomainError::Validation(_) => ErrorCode::ValidationFailed,
                },
                d.to_string(),
            ),
            StoreError::WriterGone => ApiError::new(
                crate::error::ErrorCode::Unavailable,
                "the server is shutting down",
            ),
            StoreError::Secret(err) => {
                tracing::error!(error = %err, "secret not readable");
                ApiError::new(crate::error::ErrorCode::Internal, err.to_string())
            }
            StoreError::Db(err) => {
                tracing::error!(error = %err, "database error");
                ApiError::new(
                    crate::error::ErrorCode::Internal,
                    "the database failed; the change was not applied",
                )
            }
        }
    }
}

impl From<coc_domain::DomainError> for ApiError {
    fn from(e: coc_domain::DomainError) -> Self {
        ApiError::from(StoreError::Domain(e))
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_and_answers_its_own_status() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "duplicate code names");
        for c in ErrorCode::ALL {
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            let (status, title) = c.status_and_title();
            assert!(!title.is_empty());
            assert_eq!(
                status == StatusCode::INTERNAL_SERVER_ERROR,
                *c == ErrorCode::Internal,
                "{c:?}: only `internal` is a 500"
            );
            let r = ApiError::new(*c, "x").into_response();
            assert_eq!(r.status(), status);
        }
    }
}
