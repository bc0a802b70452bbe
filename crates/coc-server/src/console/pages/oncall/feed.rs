//! Calendar subscriptions from the console (O2): *Subscribe* on a
//! calendar (the scenario's role) or on the on-call page (my shifts)
//! creates a secret iCalendar URL through the API and shows it once.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "feed_created.html")]
pub(crate) struct FeedCreatedPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    /// What it lists ("my shifts", "payments · oncall").
    pub(crate) what: String,
    pub(crate) url: String,
}

/// `POST /console/oncall/feeds` (`scenario`, `role`; both empty: my
/// shifts).
pub(crate) async fn create_feed(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let get = |k: &str| {
        f.get(k)
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
    };
    let v = match form_visitor(
        &s,
        &headers,
        ip,
        "/console/oncall",
        &get("csrf").unwrap_or_default(),
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (scenario, role) = (get("scenario"), get("role"));
    let what = match (&scenario, &role) {
        (Some(sc), Some(r)) => format!("{sc} · {r}"),
        (Some(sc), None) => sc.clone(),
        _ => "my shifts".to_string(),
    };
    match api(
        &s,
        &v,
        Method::POST,
        "/api/v1/oncall/feeds",
        Some(json!({"scenario": scenario, "role": role})),
    )
    .await
    {
        Ok(x) => FeedCreatedPage {
            user: v.user.clone(),
            csrf: v.csrf.clone(),
            flash: None,
            what,
            url: text(&x["url"]),
        }
        .into_response(),
        Err(p) => error_page(&v, p),
    }
}
