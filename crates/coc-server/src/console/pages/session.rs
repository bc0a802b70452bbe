//! Sign-in and sign-out (A1): the login form with its own CSRF value, throttled like the API.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) error: Option<String>,
    pub(crate) next: String,
    pub(crate) username: String,
    /// The form's CSRF value, also in the `coc_login` cookie.
    pub(crate) csrf: String,
}

/// Cookie holding the login form's CSRF value (double submit: a form
/// posted from another site carries neither, SameSite=Strict).
pub(crate) const LOGIN_COOKIE: &str = "coc_login";

impl LoginPage {
    /// The page with a fresh CSRF value, and the cookie that holds it.
    fn answer(mut self, status: StatusCode) -> Response {
        self.csrf = hex::encode(rand::random::<[u8; 16]>());
        let cookie = format!(
            "{LOGIN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/console/login; Max-Age=3600",
            self.csrf
        );
        let mut r = (status, self).into_response();
        if let Ok(v) = cookie.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    pub(crate) next: Option<String>,
}

/// Only a console path may be the target after login.
pub(crate) fn safe_next(n: Option<&str>) -> String {
    match n {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") => n.to_string(),
        _ => "/console".into(),
    }
}

pub(crate) async fn login_page(Query(q): Query<NextQuery>) -> Response {
    LoginPage {
        error: None,
        next: safe_next(q.next.as_deref()),
        username: String::new(),
        csrf: String::new(),
    }
    .answer(StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    pub(crate) username: String,
    pub(crate) password: String,
    #[serde(default)]
    pub(crate) tenant: String,
    #[serde(default)]
    pub(crate) next: String,
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) async fn login(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let sent = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if f.csrf.is_empty() || sent.len() != f.csrf.len() || sent != f.csrf {
        return LoginPage {
            error: Some(
                "The sign-in form expired or came from another site; sign in again.".into(),
            ),
            next: safe_next(Some(&f.next)),
            username: f.username,
            csrf: String::new(),
        }
        .answer(StatusCode::FORBIDDEN);
    }
    let mut body = json!({"username": f.username, "password": f.password});
    if !f.tenant.trim().is_empty() {
        body["tenant"] = json!(f.tenant.trim());
    }
    let mut extra = HeaderMap::new();
    if let Some(p) = headers.get("x-forwarded-proto") {
        extra.insert("x-forwarded-proto", p.clone());
    }
    match call(
        &s,
        None,
        ip,
        Method::POST,
        "/api/v1/login",
        Some(body),
        &extra,
    )
    .await
    {
        Ok((h, _)) => {
            let mut r = Redirect::to(&safe_next(Some(&f.next))).into_response();
            for c in h.get_all(header::SET_COOKIE) {
                r.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            r
        }
        Err(p) => {
            let status = if p.status == StatusCode::TOO_MANY_REQUESTS {
                p.status
            } else {
                StatusCode::UNAUTHORIZED
            };
            LoginPage {
                error: Some(p.detail),
                next: safe_next(Some(&f.next)),
                username: f.username,
                csrf: String::new(),
            }
            .answer(status)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

pub(crate) async fn logout(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && f.csrf == csrf_of(token)
    {
        let mut extra = HeaderMap::new();
        if let Ok(v) = format!("{SESSION_COOKIE}={token}").parse() {
            extra.insert(header::COOKIE, v);
        }
        if let Ok(v) = csrf_of(token).parse() {
            extra.insert(crate::session::CSRF_HEADER, v);
        }
        if let Ok((h, _)) = call(&s, None, ip, Method::POST, "/api/v1/logout", None, &extra).await {
            let mut r = Redirect::to("/console/login").into_response();
            for c in h.get_all(header::SET_COOKIE) {
                r.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            return r;
        }
    }
    Redirect::to("/console/login").into_response()
}
