//! API errors as `application/problem+json` (RFC 9457) with stable codes.
//!
//! One table ([`ApiError::status_and_title`]) maps every code to its HTTP
//! status, so a code always means the same thing wherever it appears.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coc_store::StoreError;
use serde::Serialize;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Stable machine code, e.g. `invalid_transition`.
    pub code: &'static str,
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
    /// A new error with `code` (one of the table's) and `detail`.
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
        }
    }

    /// The status and title of each code.
    pub fn status_and_title(code: &str) -> (StatusCode, &'static str) {
        match code {
            "malformed_json" => (StatusCode::BAD_REQUEST, "Malformed JSON"),
            "bad_query" => (StatusCode::BAD_REQUEST, "Invalid query parameters"),
            "wrong_integration_type" => (
                StatusCode::BAD_REQUEST,
                "Format not accepted by this integration",
            ),
            "unauthorized" => (StatusCode::UNAUTHORIZED, "Authentication required"),
            "invalid_integration_key" => (StatusCode::UNAUTHORIZED, "Unknown integration key"),
            "integration_disabled" => (StatusCode::FORBIDDEN, "Integration disabled"),
            "forbidden" => (StatusCode::FORBIDDEN, "Not allowed by policy"),
            "csrf_failed" => (StatusCode::FORBIDDEN, "Missing or wrong CSRF token"),
            "invalid_credentials" => (StatusCode::UNAUTHORIZED, "Login failed"),
            "not_found" => (StatusCode::NOT_FOUND, "Not found"),
            "method_not_allowed" => (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
            "conflict" => (StatusCode::CONFLICT, "Conflict"),
            "invalid_transition" => (
                StatusCode::CONFLICT,
                "Action not allowed in the current state",
            ),
            "payload_too_large" => (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
            "unsupported_media_type" => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
            }
            "invalid_body" => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Request body does not match the schema",
            ),
            "validation_failed" => (StatusCode::UNPROCESSABLE_ENTITY, "Validation failed"),
            "too_many_requests" => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            "unavailable" => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }

    /// HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        Self::status_and_title(self.code).0
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
        let (status, title) = Self::status_and_title(self.code);
        let body = serde_json::to_vec(&Problem {
            kind: format!("/problems/{}", self.code),
            title,
            status: status.as_u16(),
            detail: &self.detail,
            code: self.code,
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
            StoreError::NotFound { .. } => ApiError::new("not_found", e.to_string()),
            StoreError::Conflict(m) => ApiError::new("conflict", m.clone()),
            StoreError::Domain(d) => ApiError::new(
                match d.code() {
                    "invalid_transition" => "invalid_transition",
                    _ => "validation_failed",
                },
                d.to_string(),
            ),
            StoreError::WriterGone => ApiError::new("unavailable", "the server is shutting down"),
            StoreError::Secret(err) => {
                tracing::error!(error = %err, "secret not readable");
                ApiError::new("internal", err.to_string())
            }
            StoreError::Db(err) => {
                tracing::error!(error = %err, "database error");
                ApiError::new(
                    "internal",
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
