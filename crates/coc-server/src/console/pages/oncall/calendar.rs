//! The on-call calendar (O2): four weeks, Monday first, of who is on call
//! for a scenario's role, in the scenario's zone, from
//! `GET /api/v1/oncall/calendar`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use coc_domain::oncall::{Tz, resolve};

use crate::console::*;

/// One person's stretch inside a day cell.
#[derive(Clone)]
pub(crate) struct Stretch {
    pub(crate) who: String,
    /// "09:00–" / "–09:00" / "all day" / "09:00–17:00", local.
    pub(crate) hours: String,
    /// The whole slot in UTC (shown on hover).
    pub(crate) utc: String,
}

/// One day of the grid.
#[derive(Clone)]
pub(crate) struct Day {
    pub(crate) date: String,
    /// "Mon 19 Oct" style label.
    pub(crate) label: String,
    pub(crate) today: bool,
    pub(crate) stretches: Vec<Stretch>,
}

#[derive(Template, WebTemplate)]
#[template(path = "calendar.html")]
pub(crate) struct CalendarPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) scenario: String,
    pub(crate) role: String,
    pub(crate) roles: Vec<String>,
    pub(crate) zone: String,
    pub(crate) weeks: Vec<Vec<Day>>,
    /// `?from=` of the previous and next four weeks.
    pub(crate) earlier: String,
    pub(crate) later: String,
    pub(crate) now: Vec<String>,
    /// This calendar's address (scenario and role).
    pub(crate) link: String,
    /// The scenario's name, URL-encoded.
    pub(crate) sq: String,
}

/// Query of the calendar page.
#[derive(Deserialize, Default)]
pub(crate) struct CalendarQuery {
    #[serde(default)]
    pub(crate) scenario: String,
    #[serde(default)]
    pub(crate) role: String,
    /// A local date in the first week; empty: this week.
    #[serde(default)]
    pub(crate) from: String,
    /// An application's own schedule; empty: the global one.
    #[serde(default)]
    pub(crate) application: String,
}

/// The grid of `days` local dates from `first` filled with `slots`.
fn grid(zone: Tz, first: NaiveDate, slots: &[Value], today: NaiveDate) -> Vec<Vec<Day>> {
    let at = |v: &Value| {
        v.as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut days = Vec::new();
    for i in 0..28 {
        let d = first + Duration::days(i);
        let start = resolve(zone, d.and_time(NaiveTime::MIN));
        let end = resolve(zone, (d + Duration::days(1)).and_time(NaiveTime::MIN));
        let mut stretches = Vec::new();
        for s in slots {
            let (Some(a), Some(b)) = (at(&s["start"]), at(&s["end"])) else {
                continue;
            };
            let people: Vec<String> = items_of(&s["people"]);
            if b <= start || a >= end || people.is_empty() {
                continue;
            }
            let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%H:%M").to_string();
            let hours = match (a > start, b < end) {
                (false, false) => "all day".to_string(),
                (true, false) => format!("{}–", local(a)),
                (false, true) => format!("–{}", local(b)),
                (true, true) => format!("{}–{}", local(a), local(b)),
            };
            stretches.push(Stretch {
                who: people.join(", "),
                hours,
                utc: format!(
                    "{} – {} UTC",
                    a.format("%Y-%m-%d %H:%M"),
                    b.format("%Y-%m-%d %H:%M")
                ),
            });
        }
        days.push(Day {
            date: d.to_string(),
            label: d.format("%a %-d %b").to_string(),
            today: d == today,
            stretches,
        });
    }
    days.chunks(7).map(|w| w.to_vec()).collect()
}

fn items_of(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().map(text).collect()
}

/// `GET /console/oncall/calendar?scenario=&role=&from=`.
pub(crate) async fn calendar(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<CalendarQuery>,
) -> Response {
    let here = format!(
        "/console/oncall/calendar?scenario={}&role={}",
        urlencode(&q.scenario),
        urlencode(&q.role)
    );
    let (v, sc) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &format!(
            "/api/v1/oncall/scenarios/{}",
            urlencode(&q.scenario).replace('/', "%2F")
        ),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    // An application's own schedule, when asked for and there.
    let app = q.application.trim();
    let schedule = sc["applications"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| !app.is_empty() && a["application"] == app)
        .map_or(&sc["schedule"], |a| &a["schedule"]);
    let of_app = if app.is_empty() {
        String::new()
    } else {
        format!("&application={}", urlencode(app))
    };
    let zone: Tz = text(&schedule["tz"]).parse().unwrap_or_default();
    let roles = items_of(&sc["roles"]);
    let role = if q.role.is_empty() {
        roles.first().cloned().unwrap_or_default()
    } else {
        q.role.clone()
    };
    let now = s.store.now_utc();
    let today = now.with_timezone(&zone).date_naive();
    let anchor = NaiveDate::parse_from_str(&q.from, "%Y-%m-%d").unwrap_or(today);
    let first = anchor - Duration::days(i64::from(anchor.weekday().num_days_from_monday()));
    let from = resolve(zone, first.and_time(NaiveTime::MIN));
    let uri = format!(
        "/api/v1/oncall/calendar?scenario={}&role={}&from={}&days=29{of_app}",
        urlencode(&text(&sc["id"])),
        urlencode(&role),
        urlencode(&from.to_rfc3339())
    );
    let cal = match api(&s, &v, Method::GET, &uri, None).await {
        Ok(c) => c,
        Err(p) => return error_page(&v, p),
    };
    let who_now = format!(
        "/api/v1/oncall/who?scenario={}&role={}{of_app}",
        urlencode(&text(&sc["id"])),
        urlencode(&role)
    );
    let now_people = api(&s, &v, Method::GET, &who_now, None)
        .await
        .map(|x| items_of(&x["on_call"]))
        .unwrap_or_default();
    let slots = cal["slots"].as_array().cloned().unwrap_or_default();
    let sq = urlencode(&text(&sc["name"]));
    let link = format!(
        "/console/oncall/calendar?scenario={sq}&role={}{of_app}",
        urlencode(&role)
    );
    CalendarPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        scenario: if app.is_empty() {
            text(&sc["name"])
        } else {
            format!("{} ({app})", text(&sc["name"]))
        },
        role,
        roles,
        zone: zone.name().to_string(),
        weeks: grid(zone, first, &slots, today),
        earlier: (first - Duration::days(28)).to_string(),
        later: (first + Duration::days(28)).to_string(),
        now: now_people,
        link,
        sq,
    }
    .into_response()
}
