//! Extractors that turn every malformed request into a problem+json error:
//! [`ApiJson`] for bodies and [`ApiQuery`] for query strings.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; malformed JSON → 400 `malformed_json`, a shape error
/// (unknown or missing field, wrong type) → 422 `invalid_body`, too large →
/// 413 `payload_too_large`, wrong content type → 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

/// Maps axum's JSON rejection to our codes.
pub fn json_rejection(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::JsonSyntaxError(e) => ApiError::new("malformed_json", e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::new("invalid_body", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            "unsupported_media_type",
            "send the body as application/json",
        ),
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::new("payload_too_large", e.body_text())
        }
        other => ApiError::new("malformed_json", other.body_text()),
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

fn query_rejection(e: QueryRejection) -> ApiError {
    ApiError::new("bad_query", e.body_text())
}
