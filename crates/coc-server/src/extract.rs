//! Extractors that turn every malformed request into a problem+json error:
//! [`ApiJson`] for bodies, [`ApiQuery`] for query strings and [`ApiPath`]
//! for path parameters.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; malformed JSON → 400 `malformed_json`, a shape error
/// (unknown or missing field, wrong type) → 422 `invalid_body`, too large →
/// 413 `payload_too_large`, wrong content type → 415, text with a NUL
/// character or a negative time or duration → 422 `validation_failed`
/// ([`check_body`]).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let v = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(e) => return Err(json_rejection(e)),
        };
        check_body(&v, "")?;
        serde_json::from_value(v).map(ApiJson).map_err(|e| {
            ApiError::new(
                crate::error::ErrorCode::InvalidBody,
                format!("Failed to deserialize the JSON body into the target type: {e}"),
            )
        })
    }
}

/// Whether a field holds a time (Unix ms) or a duration by its name:
/// `…_at`, `…_ms`, `…_s`, `…_seconds`, `…_minutes`, `…_hours`, `…_days`,
/// `time`, `at`, `since`, `until`, `timeout…`.
fn is_time_field(key: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "_at", "_ms", "_s", "_seconds", "_minutes", "_hours", "_days",
    ];
    SUFFIXES.iter().any(|s| key.ends_with(s))
        || matches!(key, "time" | "at" | "since" | "until")
        || key.starts_with("timeout")
}

/// Refuses what no COC field accepts, wherever it is in a body: a NUL
/// character in any text or name (PostgreSQL cannot store it; it truncates
/// C strings in scripts), and a negative number in a time or duration
/// field ([`is_time_field`]). `path` names the place in errors (`steps[1].name`).
///
/// Errors: `validation_failed` naming the field.
pub fn check_body(v: &serde_json::Value, path: &str) -> Result<(), ApiError> {
    use serde_json::Value;
    let nul = |at: &str| {
        ApiError::new(
            crate::error::ErrorCode::ValidationFailed,
            format!(
                "{} contains a NUL character",
                if at.is_empty() { "the body" } else { at }
            ),
        )
    };
    match v {
        Value::String(s) if s.contains('\0') => Err(nul(path)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_body(x, &format!("{path}[{i}]"))),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                return Err(nul(&at));
            }
            if is_time_field(k) && x.as_f64().is_some_and(|n| n < 0.0) {
                return Err(ApiError::new(
                    crate::error::ErrorCode::ValidationFailed,
                    format!("{at} must not be negative"),
                ));
            }
            check_body(x, &at)
        }),
        _ => Ok(()),
    }
}

/// Maps axum's JSON rejection to our codes.
pub fn json_rejection(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::new(crate::error::ErrorCode::MalformedJson, e.body_text())
        }
        JsonRejection::JsonDataError(e) => {
            ApiError::new(crate::error::ErrorCode::InvalidBody, e.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            crate::error::ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ),
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::new(crate::error::ErrorCode::PayloadTooLarge, e.body_text())
        }
        other => ApiError::new(crate::error::ErrorCode::MalformedJson, other.body_text()),
    }
}

/// Query parameters; anything unparsable → 400 `bad_query`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(query_rejection(e)),
        }
    }
}

/// Path parameters; one of the wrong form (text where a step index is a
/// number) → 400 `bad_path`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::new(
                crate::error::ErrorCode::BadPath,
                e.body_text(),
            )),
        }
    }
}

fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::new(crate::error::ErrorCode::BadQuery, e.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_and_negative_times_are_refused() {
        assert!(
            check_body(
                &json!({"name": "ok", "timeout_s": 5, "steps": [{"n": 1}]}),
                ""
            )
            .is_ok()
        );
        let e = check_body(&json!({"steps": [{"name": "a\u{0}b"}]}), "").unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::ValidationFailed);
        assert!(e.detail.contains("steps[0].name"), "{}", e.detail);
        assert!(check_body(&json!({"a\u{0}": 1}), "").is_err());
        let e = check_body(&json!({"expires_at": -1}), "").unwrap_err();
        assert!(e.detail.contains("expires_at must not be negative"));
        for k in ["timeout_s", "target_minutes", "time", "since", "window_ms"] {
            assert!(check_body(&json!({ k: -5 }), "").is_err(), "{k}");
        }
        // Other numbers may be negative (a threshold, an offset).
        assert!(check_body(&json!({"threshold": -1, "delta": -3}), "").is_ok());
    }
}
