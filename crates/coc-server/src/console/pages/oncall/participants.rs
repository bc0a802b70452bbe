//! Changing a rotation's participants from a date on (O2): someone joins,
//! leaves, or the order changes. One form with user pickers in order,
//! filled with the list in force on the chosen date; the API keeps the
//! turn running on that date and refuses the past.

use crate::console::*;

use super::of_application;
use super::rotation::{PICKERS, user_names};

/// The form's values as typed (kept when the API refuses).
#[derive(Default, Clone)]
pub(crate) struct ChangeForm {
    pub(crate) scenario: String,
    /// The application whose schedule holds the rotation; empty: global.
    pub(crate) application: String,
    pub(crate) name: String,
    /// `YYYY-MM-DD`, the scenario's zone.
    pub(crate) from: String,
    /// Participants in order; blanks are left out.
    pub(crate) participants: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "rotation_change.html")]
pub(crate) struct ChangePage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) f: ChangeForm,
    pub(crate) users: Vec<String>,
    /// The changes already planned: (from, participants).
    pub(crate) planned: Vec<(String, String)>,
    pub(crate) error: Option<String>,
}

/// The rotation `name` of a scenario record (as the API answers it), in
/// the schedule of `application` (empty: the global one).
fn rotation_of<'a>(sc: &'a Value, application: &str, name: &str) -> Option<&'a Value> {
    let schedule = if application.is_empty() {
        &sc["schedule"]
    } else {
        &sc["applications"]
            .as_array()?
            .iter()
            .find(|a| a["application"] == application)?["schedule"]
    };
    schedule["rotations"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().map(text).collect()
}

async fn page(s: &AppState, v: &Visitor, mut f: ChangeForm, error: Option<String>) -> Response {
    let uri = format!(
        "/api/v1/oncall/scenarios/{}",
        urlencode(&f.scenario).replace('/', "%2F")
    );
    let sc = match api(s, v, Method::GET, &uri, None).await {
        Ok(sc) => sc,
        Err(p) => return error_page(v, p),
    };
    let Some(r) = rotation_of(&sc, &f.application, &f.name) else {
        return error_page(
            v,
            Problem {
                status: StatusCode::NOT_FOUND,
                detail: format!("scenario '{}' has no rotation '{}'", f.scenario, f.name),
            },
        );
    };
    let planned: Vec<(String, String)> = r["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (text(&c["from"]), strings(&c["participants"]).join(", ")))
        .collect();
    if f.participants.is_empty() {
        // The list in force last: the latest planned change, else the
        // rotation's own.
        f.participants = r["changes"]
            .as_array()
            .and_then(|c| c.last())
            .map(|c| strings(&c["participants"]))
            .unwrap_or_else(|| strings(&r["participants"]));
    }
    let want =
        (f.participants.len() + 2).clamp(PICKERS.min(4), PICKERS.max(f.participants.len() + 2));
    f.participants.resize(want, String::new());
    let status = form_status(&error);
    let page = ChangePage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        users: user_names(s, v).await,
        planned,
        f,
        error,
    };
    (status, page).into_response()
}

/// `GET /console/oncall/rotations/change?scenario=&name=`.
pub(crate) async fn change_form(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console/oncall").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = ChangeForm {
        scenario: q.get("scenario").cloned().unwrap_or_default(),
        application: q.get("application").cloned().unwrap_or_default(),
        name: q.get("name").cloned().unwrap_or_default(),
        from: q.get("from").cloned().unwrap_or_default(),
        participants: vec![],
    };
    page(&s, &v, f, None).await
}

/// `POST /console/oncall/rotations/change`: through the API; back to the
/// role's calendar, or the form again, as typed, with the API's reason.
pub(crate) async fn save_change(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, x)| x.trim().to_string())
            .unwrap_or_default()
    };
    let v = match form_visitor(&s, &headers, ip, "/console/oncall", &get("csrf")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = ChangeForm {
        scenario: get("scenario"),
        application: get("application"),
        name: get("name"),
        from: get("from"),
        participants: pairs
            .iter()
            .filter(|(n, x)| n == "participant" && !x.trim().is_empty())
            .map(|(_, x)| x.trim().to_string())
            .collect(),
    };
    if f.from.is_empty() {
        return page(
            &s,
            &v,
            f,
            Some("From: choose the first day of the new list".into()),
        )
        .await;
    }
    if f.participants.is_empty() {
        return page(
            &s,
            &v,
            f,
            Some("Participants: choose at least one person".into()),
        )
        .await;
    }
    let uri = format!(
        "/api/v1/oncall/scenarios/{}/rotations/{}/changes{}",
        urlencode(&f.scenario).replace('/', "%2F"),
        urlencode(&f.name).replace('/', "%2F"),
        of_application(&f.application)
    );
    let body = serde_json::json!({"from": f.from, "participants": f.participants});
    match api(&s, &v, Method::POST, &uri, Some(body)).await {
        Ok(sc) => {
            let role = rotation_of(&sc, &f.application, &f.name)
                .map(|r| text(&r["role"]))
                .unwrap_or_else(|| "oncall".into());
            Redirect::to(&format!(
                "/console/oncall/calendar?scenario={}&role={}&from={}&application={}",
                urlencode(&f.scenario),
                urlencode(&role),
                urlencode(&f.from),
                urlencode(&f.application)
            ))
            .into_response()
        }
        Err(p) if p.status.is_client_error() => page(&s, &v, f, Some(p.detail)).await,
        Err(p) => error_page(&v, p),
    }
}
