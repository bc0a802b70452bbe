//! Console login (A1): password login that starts an HttpOnly session
//! cookie, logout, and the CSRF check for cookie-authenticated writes.
//!
//! `POST /api/v1/login` `{"username","password","tenant"?}` sets
//! `coc_session` (HttpOnly, SameSite=Strict) and `coc_csrf` (readable by
//! the console's script). A mutating request authenticated by the cookie
//! must echo `coc_csrf` in the `X-CSRF-Token` header (double submit; the
//! value is derived from the session secret, so nothing else is stored).
//! Every login, failed or not, is audited.
//!
//! Sign-ins are throttled per user name and per source address
//! ([`coc_domain::login`]): past a few failures, both are locked for
//! exponentially longer times and answered 429 with `Retry-After`, without
//! the password being looked at. Unknown user names take as long as known
//! ones.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use coc_domain::login::retry_after_s;
use coc_store::audit::NewAudit;
use coc_store::login::LoginKeys;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::api::catalog::{RouteDoc, route};
use crate::error::ApiError;
use crate::extract::ApiJson;

/// Session lifetime: 12 hours.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "coc_session";
/// Name of the CSRF cookie.
pub const CSRF_COOKIE: &str = "coc_csrf";
/// Header that must echo the CSRF cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Body of `POST /api/v1/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Tenant (default `default`).
    #[serde(default)]
    pub tenant: Option<String>,
}

/// Answer of a login; the session itself travels in an HttpOnly cookie.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    /// The user's name.
    pub user: String,
    /// The tenant logged into.
    pub tenant: String,
    /// The value to echo in `x-csrf-token` on writes.
    pub csrf_token: String,
    /// When the session ends, Unix ms.
    pub expires_at: i64,
}

/// The CSRF token that belongs to a session secret.
pub fn csrf_of(session: &str) -> String {
    hex::encode(&Sha256::digest(format!("csrf:{session}").as_bytes())[..16])
}

/// The value of cookie `name` in the request headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The routes this module serves, with what the guard checks and what
/// the OpenAPI document says of them.
pub const ROUTES: &[RouteDoc] = &[
    route!(
        "POST",
        "/api/v1/login",
        "session",
        "Log in with user name and password: session cookie and CSRF token",
        public,
        body = Login,
        ok = LoginAnswer
    ),
    route!(
        "POST",
        "/api/v1/logout",
        "session",
        "End the session of the cookie",
        public,
        no_content
    ),
];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
}

fn set_cookie(r: &mut Response, v: String) {
    if let Ok(h) = HeaderValue::from_str(&v) {
        r.headers_mut().append(header::SET_COOKIE, h);
    }
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Login>,
) -> Response {
    // Over TLS, or behind a TLS proxy, the cookies are marked Secure.
    let secure = if s.tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            == Some("https")
    {
        "; Secure"
    } else {
        ""
    };
    let tenant = b
        .tenant
        .clone()
        .unwrap_or_else(|| coc_domain::DEFAULT_TENANT.to_string());
    let ip = addr.ip().to_string();
    let audit = |trace: &str, status: i64, locked_s: Option<i64>| NewAudit {
        trace: trace.into(),
        action: "login".into(),
        user_name: b.username.clone(),
        source_ip: Some(ip.clone()),
        method: "POST".into(),
        path: "/api/v1/login".into(),
        resource_type: "session".into(),
        resource_id: None,
        request: serde_json::json!({"username": b.username, "tenant": tenant, "locked_s": locked_s}),
        status,
    };
    if b.username.len() > 256 || b.password.len() > 1024 || tenant.len() > 64 {
        return ApiError::new(
            crate::error::ErrorCode::ValidationFailed,
            "user name, password or tenant is too long",
        )
        .into_response();
    }
    let keys = LoginKeys {
        tenant: tenant.clone(),
        user: b.username.clone(),
        source: Some(ip.clone()),
    };
    // A few checks at a time per server: a burst of parallel guesses cannot
    // all pass the throttle before the first failures are recorded.
    let Ok(_turn) = s.logins.acquire().await else {
        return ApiError::new(
            crate::error::ErrorCode::Unavailable,
            "the server is shutting down",
        )
        .into_response();
    };
    let now = s.store.now();
    match s.store.login_wait(&keys, now).await {
        Ok(Some(ms)) => {
            let secs = retry_after_s(ms);
            let _ = s
                .store
                .append_audit(&tenant, &audit("loginThrottled", 429, Some(secs)))
                .await;
            return ApiError::new(
                crate::error::ErrorCode::TooManyRequests,
                format!("too many failed sign-ins; try again in {secs} s"),
            )
            .retry_after(secs);
        }
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    let user = match s
        .store
        .verify_password(&tenant, &b.username, &b.password)
        .await
    {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(user) = user else {
        let locked = s
            .store
            .login_failed(&keys, s.store.now())
            .await
            .ok()
            .flatten()
            .map(retry_after_s);
        let _ = s
            .store
            .append_audit(&tenant, &audit("login", 401, locked))
            .await;
        return ApiError::new(
            crate::error::ErrorCode::InvalidCredentials,
            "user name or password is wrong",
        )
        .into_response();
    };
    if let Err(e) = s.store.login_succeeded(&keys).await {
        return ApiError::from(e).into_response();
    }
    let (secret, expires_at) = match s
        .store
        .create_session(&tenant, &user.id, SESSION_TTL_MS)
        .await
    {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let _ = s
        .store
        .append_audit(&tenant, &audit("login", 200, None))
        .await;
    let csrf = csrf_of(&secret);
    let max_age = SESSION_TTL_MS / 1000;
    let mut r = (
        StatusCode::OK,
        Json(LoginAnswer {
            user: user.name,
            tenant,
            csrf_token: csrf.clone(),
            expires_at,
        }),
    )
        .into_response();
    set_cookie(
        &mut r,
        format!(
            "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
        ),
    );
    set_cookie(
        &mut r,
        format!("{CSRF_COOKIE}={csrf}; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"),
    );
    r
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = s.store.revoke_secret(secret).await
    {
        return ApiError::from(e).into_response();
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    set_cookie(
        &mut r,
        format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    set_cookie(
        &mut r,
        format!("{CSRF_COOKIE}=; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_csrf() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; coc_session=cocs_x; b=2"),
        );
        assert_eq!(cookie(&h, "coc_session"), Some("cocs_x"));
        assert_eq!(cookie(&h, "nope"), None);
        assert_eq!(csrf_of("s1"), csrf_of("s1"));
        assert_ne!(csrf_of("s1"), csrf_of("s2"));
        assert_eq!(csrf_of("s1").len(), 32);
    }
}
