//! Acknowledge and resolve by replying to the SMS (I7, ref. 7.1.3): the
//! SMS gateway's inbound webhook. Point the gateway's "a message comes
//! in" webhook at `<public URL>/api/v1/sms/replies`; it posts the reply
//! as Twilio does (form `From`, `To`, `Body`, …, signed with
//! `X-Twilio-Signature` under the gateway's auth token). A reply
//! (`A4821`, `R4821`) from the number a code was sent to acts as that
//! person ([`super::action_link::act`]); the answer is TwiML whose
//! message the gateway sends back.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use coc_domain::sms_reply::{parse_reply, reply_twiml, verify_gateway};

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// Path of the inbound webhook.
pub const REPLY_PATH: &str = "/api/v1/sms/replies";

/// Largest inbound request, bytes (Twilio's are ~1 KiB).
const MAX_BODY: usize = 16 * 1024;

/// Most form fields read from one inbound request (Twilio sends ~20).
const MAX_FIELDS: usize = 64;

/// The routes this module serves.
pub const ROUTES: &[RouteDoc] = &[route!(
    "POST",
    "/api/v1/sms/replies",
    "incident",
    "The SMS gateway's inbound webhook (Twilio format, signed with X-Twilio-Signature): a reply A<code> or R<code> acknowledges or resolves the incident the code was sent about, as its person; answered with TwiML",
    public,
    media = "text/xml"
)];

/// The public route.
pub(super) fn public_router() -> Router<AppState> {
    Router::new().route(
        REPLY_PATH,
        post(reply).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
    )
}

fn twiml(text: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        reply_twiml(text),
    )
        .into_response()
}

async fn reply(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("an inbound SMS request is limited to {MAX_BODY} bytes"),
        )
        .into_response();
    };
    // The form as the gateway sent it; anything else fails the signature.
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
        .take(MAX_FIELDS + 1)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let Some(gw) = s.notify.sms.as_ref() else {
        return ApiError::new(ErrorCode::NotFound, "no SMS gateway is configured").into_response();
    };
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if fields.len() > MAX_FIELDS
        || !verify_gateway(&gw.auth_token, &s.link(REPLY_PATH), &fields, signature)
    {
        return ApiError::new(
            ErrorCode::Forbidden,
            "the request is not signed by the SMS gateway (X-Twilio-Signature over the public URL)",
        )
        .into_response();
    }
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let Some((action, code)) = parse_reply(field("Body")) else {
        return twiml(
            "COC: reply A<code> to acknowledge or R<code> to resolve, with the code from the message.",
        );
    };
    let link = match s.store.sms_reply(field("From"), &code, action).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            return twiml(&format!(
                "COC: code {code} is not valid for this number (expired or unknown)."
            ));
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let ip = addr.ip().to_string();
    match super::action_link::act(&s, &link, &ip, ("SMS reply", REPLY_PATH)).await {
        Ok(f) => {
            let i = &f.incident.incident;
            let status = i.status.as_str().replace('_', " ");
            twiml(&if f.done.is_empty() {
                format!("COC: {} is already {status}.", i.number)
            } else {
                format!("COC: {} is now {status} ({}).", i.number, link.user)
            })
        }
        Err(e) => twiml(&format!("COC: not done: {}", e.detail)),
    }
}
