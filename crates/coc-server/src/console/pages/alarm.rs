//! The alarm center (M2): list, chart, clear and convert to an incident.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "alarms.html")]
pub(crate) struct Alarms {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) status: String,
    pub(crate) name: String,
    pub(crate) level: String,
    pub(crate) source: String,
    pub(crate) within: String,
    pub(crate) group: String,
    pub(crate) resource: String,
    pub(crate) labels: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) chart: String,
    /// The rows, in groups (one unnamed group when not grouping).
    pub(crate) groups: Vec<AlarmGroup>,
    /// How many alarms the page shows.
    pub(crate) count: usize,
    /// The next page's address, when there is one.
    pub(crate) next: Option<String>,
    /// The fields of "Convert to incident".
    pub(crate) incident: Vec<forms::Input>,
    pub(crate) error: Option<String>,
}

/// Alarms under one group heading (a name or a resource).
pub(crate) struct AlarmGroup {
    /// The heading; empty when the page is not grouped.
    pub(crate) key: String,
    pub(crate) rows: Vec<AlarmRow>,
}

/// The "last seen within" choices: (value, ms).
const WITHIN: &[(&str, i64)] = &[("1h", 3_600_000), ("24h", 86_400_000), ("7d", 604_800_000)];

/// The API query of the alarms page's filters (`cursor` included).
fn alarm_query(q: &ListQuery, now: i64) -> String {
    let mut uri = "/api/v1/alarms?limit=200".to_string();
    let utc = |t: &str| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M")
            .map(|t| t.and_utc().timestamp_millis().to_string())
            .unwrap_or_default()
    };
    let since = WITHIN
        .iter()
        .find(|(w, _)| *w == q.within)
        .map(|(_, ms)| (now - ms).to_string())
        .unwrap_or_else(|| utc(&q.from));
    let until = if q.within.is_empty() {
        utc(&q.to)
    } else {
        String::new()
    };
    for (k, x) in [
        ("status", &q.status),
        ("name", &q.name),
        ("level", &q.level),
        ("source", &q.source),
        ("resource", &q.resource),
        ("labels", &q.labels),
        ("since", &since),
        ("until", &until),
        ("cursor", &q.cursor),
    ] {
        if !x.is_empty() {
            uri.push_str(&format!("&{k}={}", urlencode(x)));
        }
    }
    uri
}

/// The console address of the same filters on the page after `cursor`.
fn next_page(q: &ListQuery, cursor: &str) -> String {
    let mut uri = "/console/alarms?".to_string();
    for (k, x) in [
        ("status", &q.status),
        ("name", &q.name),
        ("level", &q.level),
        ("source", &q.source),
        ("within", &q.within),
        ("group", &q.group),
        ("resource", &q.resource),
        ("labels", &q.labels),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if !x.is_empty() {
            uri.push_str(&format!("{k}={}&", urlencode(x)));
        }
    }
    uri.push_str(&format!("cursor={}", urlencode(cursor)));
    uri
}

/// Rows in groups by `by` (`name` or `resource`), largest group first,
/// then by name; one unnamed group otherwise.
fn grouped(rows: Vec<AlarmRow>, by: &str) -> Vec<AlarmGroup> {
    let key = |r: &AlarmRow| match by {
        "name" => Some(r.name.clone()),
        "resource" => Some(r.resource.clone()),
        _ => None,
    };
    if rows.first().and_then(key).is_none() {
        return vec![AlarmGroup {
            key: String::new(),
            rows,
        }];
    }
    let mut groups: Vec<AlarmGroup> = vec![];
    for r in rows {
        let k = key(&r).unwrap_or_default();
        match groups.iter_mut().find(|g| g.key == k) {
            Some(g) => g.rows.push(r),
            None => groups.push(AlarmGroup {
                key: k,
                rows: vec![r],
            }),
        }
    }
    groups.sort_by(|a, b| b.rows.len().cmp(&a.rows.len()).then(a.key.cmp(&b.key)));
    groups
}

pub(crate) async fn alarms(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let uri = alarm_query(&q, s.store.now());
    let (v, list) = match page_data(&s, &headers, ip, "/console/alarms", &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let flash = match q.done.as_deref() {
        Some("clear") => Some("The selected alarms are cleared.".to_string()),
        _ => None,
    };
    let mut page = alarms_page(&v, &list, q, flash, None, &forms::Raw::new(), s.store.now());
    offer_pickers(&s, &v, &mut page.incident).await;
    page.into_response()
}

/// The alarms page over an API list, with the convert form as typed.
pub(crate) fn alarms_page(
    v: &Visitor,
    list: &Value,
    q: ListQuery,
    flash: Option<String>,
    error: Option<String>,
    typed: &forms::Raw,
    now: i64,
) -> Alarms {
    let all = items(list);
    let points: Vec<(i64, String)> = all
        .iter()
        .filter_map(|a| Some((a["last_seen"].as_i64()?, text(&a["level"]))))
        .collect();
    let next = list["next_cursor"].as_str().map(|c| next_page(&q, c));
    Alarms {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash,
        chart: chart::volume_by_level(&points, now, 24),
        count: all.len(),
        groups: grouped(all.iter().map(alarm_row).collect(), &q.group),
        next,
        status: q.status,
        name: q.name,
        level: q.level,
        source: q.source,
        within: q.within,
        group: q.group,
        resource: q.resource,
        labels: q.labels,
        from: q.from,
        to: q.to,
        incident: forms::inputs(modules::INCIDENT, typed),
        error,
    }
}

/// `POST /console/alarms/act`: clear the selected alarms (with a remark)
/// or convert them to one incident (ref. 6.2.1), through the API. A
/// refusal shows the alarms again with the API's message and the
/// incident fields as typed; nothing is changed.
pub(crate) async fn alarm_act(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let value = |k: &str| form_value(&form, k);
    let here = "/console/alarms";
    let v = match form_visitor(&s, &headers, ip, here, &value("csrf")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ids: Vec<String> = form
        .iter()
        .filter(|(n, _)| n == "ids")
        .map(|(_, x)| x.clone())
        .collect();
    let typed = forms::submitted(&form);
    let outcome = if ids.is_empty() {
        Err(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: "select at least one alarm".into(),
        })
    } else if value("do") == "clear" {
        let body = serde_json::json!({"ids": ids, "remark": value("remark")});
        api(&s, &v, Method::POST, "/api/v1/alarms/clear", Some(body))
            .await
            .map(|_| "/console/alarms?done=clear".to_string())
    } else {
        match forms::build(modules::INCIDENT, &typed) {
            Ok(incident) => {
                let body = serde_json::json!({"alarm_ids": ids, "incident": incident});
                api(&s, &v, Method::POST, "/api/v1/alarms/convert", Some(body))
                    .await
                    .map(|d| format!("/console/incidents/{}", urlencode(&text(&d["id"]))))
            }
            Err(detail) => Err(Problem {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                detail,
            }),
        }
    };
    match outcome {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(p) => match api(&s, &v, Method::GET, "/api/v1/alarms?limit=200", None).await {
            Ok(list) => {
                let fields: Vec<&forms::Field> = modules::INCIDENT.iter().collect();
                let msg = generic::required(&fields, &p.detail).unwrap_or(p.detail);
                let q = ListQuery::default();
                let mut page = alarms_page(&v, &list, q, None, Some(msg), &typed, s.store.now());
                offer_pickers(&s, &v, &mut page.incident).await;
                (p.status, page).into_response()
            }
            Err(p) => error_page(&v, p),
        },
    }
}
