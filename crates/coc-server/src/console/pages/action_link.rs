//! Acknowledge and resolve from the notification (I7, ref. 7.1.3): the
//! page a signed link opens. It asks before acting (a mail scanner that
//! follows links changes nothing), then acts through the public API as the
//! link's person; no login is needed.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "act.html")]
pub(crate) struct ActPage {
    title: String,
    error: Option<String>,
    incident: Option<ActIncident>,
    message: Option<String>,
    /// The token for the confirmation form; empty: no form.
    token: String,
    button: String,
}

/// The incident as the page shows it.
pub(crate) struct ActIncident {
    id: String,
    number: String,
    title: String,
    level: String,
    status: String,
    assignee: String,
}

impl ActIncident {
    fn of(v: &Value) -> Self {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        ActIncident {
            id: s("id"),
            number: s("number"),
            title: s("title"),
            level: s("level"),
            status: s("status").replace('_', " "),
            assignee: s("assignee"),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ActToken {
    #[serde(default)]
    token: String,
}

fn refused(title: &str, p: Problem) -> Response {
    let page = ActPage {
        title: title.into(),
        error: Some(p.detail),
        incident: None,
        message: None,
        token: String::new(),
        button: String::new(),
    };
    (p.status, page).into_response()
}

fn verb(action: &str) -> &'static str {
    if action == "resolve" {
        "Resolve"
    } else {
        "Acknowledge"
    }
}

/// `GET /console/act?token=…`: what the link would do, with a button.
pub(crate) async fn act_page(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    Query(q): Query<ActToken>,
) -> Response {
    let body = json!({"token": q.token});
    let p = match call(
        &s,
        None,
        ip,
        Method::POST,
        "/api/v1/action-links/preview",
        Some(body),
        &HeaderMap::new(),
    )
    .await
    {
        Ok((_, p)) => p,
        Err(e) => return refused("This link cannot be used", e),
    };
    let action = p["action"].as_str().unwrap_or_default();
    let user = p["user"].as_str().unwrap_or_default();
    let i = ActIncident::of(&p["incident"]);
    let done = p["steps"].as_array().is_none_or(|a| a.is_empty());
    ActPage {
        title: format!("{} incident {}", verb(action), i.number),
        error: None,
        message: Some(if done {
            format!("Nothing to do: the incident is already {}.", i.status)
        } else {
            format!(
                "This link was sent to {user}. {} the incident as {user}?",
                verb(action)
            )
        }),
        incident: Some(i),
        token: if done { String::new() } else { q.token },
        button: format!("{} as {user}", verb(action)),
    }
    .into_response()
}

/// `POST /console/act`: follows the link, then shows the incident.
pub(crate) async fn act(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    Form(f): Form<ActToken>,
) -> Response {
    let r = match call(
        &s,
        None,
        ip,
        Method::POST,
        "/api/v1/action-links/follow",
        Some(json!({"token": f.token})),
        &HeaderMap::new(),
    )
    .await
    {
        Ok((_, r)) => r,
        Err(e) => return refused("The incident was not changed", e),
    };
    let i = ActIncident::of(&r["incident"]);
    let done: Vec<&str> = r["done"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    ActPage {
        title: format!("Incident {}", i.number),
        error: None,
        message: Some(if done.is_empty() {
            format!("Nothing to do: the incident is already {}.", i.status)
        } else {
            let said: Vec<&str> = done
                .iter()
                .map(|a| match *a {
                    "forward" => "taken over",
                    "accept" => "acknowledged",
                    "resolve" => "resolved",
                    other => other,
                })
                .collect();
            format!(
                "Done: {}. The incident is now {} (owner {}).",
                said.join(" and "),
                i.status,
                i.assignee
            )
        }),
        incident: Some(i),
        token: String::new(),
        button: String::new(),
    }
    .into_response()
}
