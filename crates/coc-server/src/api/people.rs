//! O&M engineers API (O1, ref. 11.1): profiles with contact channels, the
//! subscription confirmation link (public: the person opening it has no
//! COC login), and sending a subscription again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use coc_store::access::Principal;
use coc_store::people::{Engineer, EngineerUpdate};
use serde::Deserialize;

use super::catalog::{RouteDoc, route};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};

/// Body of `POST /api/v1/engineers/{user}/subscribe`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Channels (`email`, `mobile`) to send again; empty: every
    /// unconfirmed one.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// Query of the confirmation link.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// The one-time token from the message.
    pub token: String,
}

/// Path of the confirmation link, served without login.
pub const CONFIRM_PATH: &str = "/api/v1/subscriptions/confirm";

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "GET",
        "/api/v1/engineers",
        "engineer",
        "List O&M engineers with their contact channels (ref. 11.1)",
        EngineerList,
        list = coc_store::people::Engineer
    ),
    route!(
        "GET",
        "/api/v1/engineers/{user}",
        "engineer",
        "Show an engineer profile",
        EngineerGet,
        ok = coc_store::people::Engineer
    ),
    route!(
        "PUT",
        "/api/v1/engineers/{user}",
        "engineer",
        "Set alias and contact channels; email and mobile get a confirmation link",
        EngineerUpdate,
        body = EngineerUpdate,
        ok = coc_store::people::Engineer
    ),
    route!(
        "DELETE",
        "/api/v1/engineers/{user}",
        "engineer",
        "Remove an engineer profile and its contacts",
        EngineerDelete,
        no_content
    ),
    route!(
        "POST",
        "/api/v1/engineers/{user}/subscribe",
        "engineer",
        "Send subscription confirmations again (fresh 48-hour links)",
        EngineerSubscribe,
        body = Subscribe,
        ok = coc_store::people::Engineer
    ),
    route!(
        "GET",
        "/api/v1/subscriptions/confirm",
        "engineer",
        "Confirm a subscription (the link sent to the person; no login)",
        public,
        query = Confirm,
        media = "text/html"
    ),
];

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/engineers", get(list))
        .route(
            "/api/v1/engineers/{user}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/engineers/{user}/subscribe", post(subscribe))
}

/// The public confirmation route.
pub(super) fn public_router() -> Router<AppState> {
    Router::new().route(CONFIRM_PATH, get(confirm))
}

async fn list(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(super::listing(
        s.store.list_engineers(&p.tenant).await?,
    )))
}

async fn show(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(user): Path<String>,
) -> ApiResult<Json<Engineer>> {
    Ok(Json(s.store.get_engineer(&p.tenant, &user).await?))
}

async fn update(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(user): Path<String>,
    ApiJson(b): ApiJson<EngineerUpdate>,
) -> ApiResult<Json<Engineer>> {
    let link = s.link(CONFIRM_PATH);
    Ok(Json(
        s.store.set_engineer(&p.tenant, &user, &b, &link).await?,
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(user): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_engineer(&p.tenant, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn subscribe(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(user): Path<String>,
    ApiJson(b): ApiJson<Subscribe>,
) -> ApiResult<Json<Engineer>> {
    let link = s.link(CONFIRM_PATH);
    Ok(Json(
        s.store
            .resubscribe(&p.tenant, &user, &b.channels, &link)
            .await?,
    ))
}

async fn confirm(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<Confirm>,
) -> ApiResult<Html<String>> {
    let c = s.store.confirm_subscription(&q.token).await?;
    let (user, channel) = (c.user, c.channel);
    let title = if c.already {
        "Subscription already confirmed"
    } else {
        tracing::info!(user = %user, channel = %channel, "subscription confirmed");
        "Subscription confirmed"
    };
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>COC will send notifications for <b>{}</b> on this {}.</p></body></html>",
        html_escape(&user),
        if channel == "mobile" {
            "number"
        } else {
            "address"
        }
    )))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
