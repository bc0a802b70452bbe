//! On-call rotations from a form (O2): one form sets up a rotation — and
//! its scenario when new — with user pickers in order, the turn's length,
//! the handoff weekday and local time; another adds an override. Both
//! call the API and stay on the form, as typed, when it refuses.

use crate::console::*;

use super::of_application;

/// How many participant pickers the form offers (more: the CLI or API).
pub(crate) const PICKERS: usize = 8;

/// Weekdays as the API names them, with their labels.
pub(crate) const WEEKDAYS: [(&str, &str); 7] = [
    ("Mon", "Monday"),
    ("Tue", "Tuesday"),
    ("Wed", "Wednesday"),
    ("Thu", "Thursday"),
    ("Fri", "Friday"),
    ("Sat", "Saturday"),
    ("Sun", "Sunday"),
];

/// The rotation form's values as typed (kept when the API refuses).
#[derive(Default, Clone)]
pub(crate) struct RotationForm {
    pub(crate) scenario: String,
    /// An application's own schedule; empty: the global one.
    pub(crate) application: String,
    pub(crate) timezone: String,
    pub(crate) role: String,
    pub(crate) name: String,
    /// One per picker; empty: not chosen.
    pub(crate) participants: Vec<String>,
    pub(crate) length: String,
    pub(crate) unit: String,
    pub(crate) handoff_day: String,
    pub(crate) handoff_time: String,
    pub(crate) start: String,
    pub(crate) until: String,
    pub(crate) hours_from: String,
    pub(crate) hours_to: String,
    pub(crate) temporary: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "rotation_new.html")]
pub(crate) struct RotationPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) f: RotationForm,
    pub(crate) users: Vec<String>,
    pub(crate) scenarios: Vec<String>,
    pub(crate) applications: Vec<String>,
    pub(crate) zones: Vec<String>,
    pub(crate) weekdays: Vec<(String, String)>,
    pub(crate) error: Option<String>,
}

/// User names of the tenant, sorted (the pickers' choices).
pub(crate) async fn user_names(s: &AppState, v: &Visitor) -> Vec<String> {
    let mut u: Vec<String> = api(s, v, Method::GET, "/api/v1/users?limit=1000", None)
        .await
        .map(|l| items(&l).iter().map(|x| text(&x["name"])).collect())
        .unwrap_or_default();
    u.sort();
    u
}

/// Scenario names, as listed.
pub(crate) async fn scenario_names(s: &AppState, v: &Visitor) -> Vec<String> {
    record_names(s, v, "/api/v1/oncall/scenarios").await
}

/// Application names (R6), as listed: a rotation or override picks the
/// application whose own schedule it changes.
pub(crate) async fn application_names(s: &AppState, v: &Visitor) -> Vec<String> {
    record_names(s, v, "/api/v1/applications").await
}

/// The `name` of each record an API list answers, in its order.
async fn record_names(s: &AppState, v: &Visitor, list: &str) -> Vec<String> {
    api(s, v, Method::GET, list, None)
        .await
        .map(|l| items(&l).iter().map(|x| text(&x["name"])).collect())
        .unwrap_or_default()
}

async fn rotation_page(
    s: &AppState,
    v: &Visitor,
    f: RotationForm,
    error: Option<String>,
) -> Response {
    let status = form_status(&error);
    let mut zones: Vec<String> = crate::console::modules::ZONES
        .iter()
        .map(|z| z.to_string())
        .collect();
    if !f.timezone.is_empty() && !zones.contains(&f.timezone) {
        zones.push(f.timezone.clone());
    }
    let page = RotationPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        users: user_names(s, v).await,
        scenarios: scenario_names(s, v).await,
        applications: application_names(s, v).await,
        zones,
        weekdays: WEEKDAYS
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        f,
        error,
    };
    (status, page).into_response()
}

/// `GET /console/oncall/rotations/new`: the form, with a weekly turn
/// handed off on Mondays at 09:00 from today (`?scenario=` preselects).
pub(crate) async fn new_rotation(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console/oncall/rotations/new").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = RotationForm {
        scenario: q.get("scenario").cloned().unwrap_or_default(),
        timezone: "UTC".into(),
        role: "oncall".into(),
        name: "primary".into(),
        participants: vec![String::new(); PICKERS],
        length: "1".into(),
        unit: "weeks".into(),
        handoff_day: "Mon".into(),
        handoff_time: "09:00".into(),
        start: s.store.now_utc().date_naive().to_string(),
        ..RotationForm::default()
    };
    rotation_page(&s, &v, f, None).await
}

/// What the form sent, as typed.
fn typed(pairs: &[(String, String)]) -> RotationForm {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, x)| x.trim().to_string())
            .unwrap_or_default()
    };
    let mut participants: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "participant")
        .map(|(_, x)| x.trim().to_string())
        .collect();
    participants.resize(PICKERS.max(participants.len()), String::new());
    RotationForm {
        scenario: get("scenario"),
        application: get("application"),
        timezone: get("timezone"),
        role: get("role"),
        name: get("name"),
        participants,
        length: get("length"),
        unit: get("unit"),
        handoff_day: get("handoff_day"),
        handoff_time: get("handoff_time"),
        start: get("start"),
        until: get("until"),
        hours_from: get("hours_from"),
        hours_to: get("hours_to"),
        temporary: !get("temporary").is_empty(),
    }
}

/// `HH:MM` (a time input) as the API's `HH:MM:SS`.
fn hms(t: &str) -> String {
    if t.matches(':').count() == 1 {
        format!("{t}:00")
    } else {
        t.to_string()
    }
}

/// The API body of a rotation form, or what to fix first.
fn body_of(f: &RotationForm) -> Result<Value, String> {
    if f.scenario.is_empty() {
        return Err("Name the scenario (a new name creates one).".into());
    }
    let people: Vec<&String> = f.participants.iter().filter(|p| !p.is_empty()).collect();
    if people.is_empty() {
        return Err("Choose at least one participant.".into());
    }
    let length: u32 = f
        .length
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or("The turn length is a whole number of days or weeks, 1 or more.")?;
    if f.start.is_empty() {
        return Err("Choose the first date.".into());
    }
    if f.handoff_time.is_empty() {
        return Err("Choose the handoff time.".into());
    }
    let window = match (f.hours_from.is_empty(), f.hours_to.is_empty()) {
        (true, true) => Value::Null,
        (false, false) => json!({"start": hms(&f.hours_from), "end": hms(&f.hours_to)}),
        _ => return Err("Give both ends of the daily hours, or neither.".into()),
    };
    let weekly = f.unit == "weeks";
    Ok(json!({
        "scenario": f.scenario,
        "timezone": (!f.timezone.is_empty()).then_some(&f.timezone),
        "name": if f.name.is_empty() { "primary" } else { &f.name },
        "role": if f.role.is_empty() { "oncall" } else { &f.role },
        "participants": people,
        "length": length,
        "unit": f.unit,
        "handoff_day": (weekly && !f.handoff_day.is_empty()).then_some(&f.handoff_day),
        "handoff_time": hms(&f.handoff_time),
        "start": f.start,
        "until": (!f.until.is_empty()).then_some(&f.until),
        "window": window,
        "temporary": f.temporary,
        "application": (!f.application.is_empty()).then_some(&f.application),
    }))
}

/// `POST /console/oncall/rotations/new`: saves the rotation through the
/// API and shows its calendar; a refusal keeps the form as typed.
pub(crate) async fn save_rotation(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, x)| x.clone())
        .unwrap_or_default();
    let v = match form_visitor(&s, &headers, ip, "/console/oncall/rotations/new", &csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = typed(&pairs);
    let body = match body_of(&f) {
        Ok(b) => b,
        Err(e) => return rotation_page(&s, &v, f, Some(e)).await,
    };
    match api(&s, &v, Method::POST, "/api/v1/oncall/rotations", Some(body)).await {
        Ok(sc) => Redirect::to(&format!(
            "/console/oncall/calendar?scenario={}&role={}&application={}",
            urlencode(&text(&sc["name"])),
            urlencode(if f.role.is_empty() { "oncall" } else { &f.role }),
            urlencode(&f.application)
        ))
        .into_response(),
        Err(p) if p.status.is_client_error() => rotation_page(&s, &v, f, Some(p.detail)).await,
        Err(p) => error_page(&v, p),
    }
}

/// `POST /console/oncall/rotations/remove` (`scenario`, `name`).
pub(crate) async fn remove_rotation(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let v = match form_visitor(&s, &headers, ip, "/console/oncall", &get("csrf")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let uri = format!(
        "/api/v1/oncall/scenarios/{}/rotations/{}{}",
        urlencode(&get("scenario")).replace('/', "%2F"),
        urlencode(&get("name")).replace('/', "%2F"),
        of_application(&get("application"))
    );
    match api(&s, &v, Method::DELETE, &uri, None).await {
        Ok(_) => Redirect::to("/console/oncall").into_response(),
        Err(p) => error_page(&v, p),
    }
}

/// The override form's values as typed.
#[derive(Default, Clone)]
pub(crate) struct OverrideForm {
    pub(crate) scenario: String,
    /// An application's own schedule; empty: the global one.
    pub(crate) application: String,
    pub(crate) role: String,
    pub(crate) person: String,
    pub(crate) covering: String,
    /// `YYYY-MM-DDTHH:MM`, the scenario's zone.
    pub(crate) from: String,
    pub(crate) until: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "override_new.html")]
pub(crate) struct OverridePage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) f: OverrideForm,
    pub(crate) users: Vec<String>,
    pub(crate) scenarios: Vec<String>,
    pub(crate) applications: Vec<String>,
    pub(crate) error: Option<String>,
}

async fn override_page(
    s: &AppState,
    v: &Visitor,
    f: OverrideForm,
    error: Option<String>,
) -> Response {
    let status = form_status(&error);
    let page = OverridePage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        users: user_names(s, v).await,
        scenarios: scenario_names(s, v).await,
        applications: application_names(s, v).await,
        f,
        error,
    };
    (status, page).into_response()
}

/// `GET /console/oncall/overrides/new` (`?scenario=&role=` preselect).
pub(crate) async fn new_override(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console/oncall/overrides/new").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = OverrideForm {
        scenario: q.get("scenario").cloned().unwrap_or_default(),
        application: q.get("application").cloned().unwrap_or_default(),
        role: q.get("role").cloned().unwrap_or_else(|| "oncall".into()),
        ..OverrideForm::default()
    };
    override_page(&s, &v, f, None).await
}

/// `POST /console/oncall/overrides/new`: local times are read in the
/// scenario's zone.
pub(crate) async fn save_override(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(m): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let get = |k: &str| m.get(k).map(|x| x.trim().to_string()).unwrap_or_default();
    let v = match form_visitor(
        &s,
        &headers,
        ip,
        "/console/oncall/overrides/new",
        &get("csrf"),
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let f = OverrideForm {
        scenario: get("scenario"),
        application: get("application"),
        role: get("role"),
        person: get("person"),
        covering: get("covering"),
        from: get("from"),
        until: get("until"),
    };
    let sc = match api(
        &s,
        &v,
        Method::GET,
        &format!(
            "/api/v1/oncall/scenarios/{}",
            urlencode(&f.scenario).replace('/', "%2F")
        ),
        None,
    )
    .await
    {
        Ok(sc) => sc,
        Err(p) => return override_page(&s, &v, f, Some(p.detail)).await,
    };
    let zone: coc_domain::oncall::Tz = text(&sc["schedule"]["tz"]).parse().unwrap_or_default();
    let local = |t: &str| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
            .map(|x| coc_domain::oncall::resolve(zone, x).to_rfc3339())
            .map_err(|_| format!("Write the times as date and time ({}).", zone.name()))
    };
    let (from, until) = match (local(&f.from), local(&f.until)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return override_page(&s, &v, f, Some(e)).await,
    };
    if f.person.is_empty() {
        return override_page(&s, &v, f, Some("Choose who covers.".into())).await;
    }
    let body = json!({"role": f.role, "person": f.person,
        "covering": (!f.covering.is_empty()).then_some(&f.covering),
        "from": from, "until": until});
    let uri = format!(
        "/api/v1/oncall/scenarios/{}/overrides{}",
        urlencode(&text(&sc["id"])),
        of_application(&f.application)
    );
    match api(&s, &v, Method::POST, &uri, Some(body)).await {
        Ok(_) => Redirect::to(&format!(
            "/console/oncall/calendar?scenario={}&role={}&application={}",
            urlencode(&f.scenario),
            urlencode(&f.role),
            urlencode(&f.application)
        ))
        .into_response(),
        Err(p) if p.status.is_client_error() => override_page(&s, &v, f, Some(p.detail)).await,
        Err(p) => error_page(&v, p),
    }
}
