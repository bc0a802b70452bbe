//! Scripts (X1): the list, a script's page and the run form.

use crate::console::*;

pub(crate) struct ScriptRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) risk: String,
    pub(crate) version: String,
    pub(crate) review: String,
    pub(crate) system: String,
}

pub(crate) fn script_row(x: &Value) -> ScriptRow {
    ScriptRow {
        id: text(&x["id"]),
        name: text(&x["name"]),
        kind: text(&x["type"]),
        risk: text(&x["risk_level"]),
        version: text(&x["version"]),
        review: text(&x["review"]["status"]).replace('_', " "),
        system: if x["system"] == true { "yes" } else { "" }.into(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "scripts.html")]
pub(crate) struct Scripts {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) rows: Vec<ScriptRow>,
}

pub(crate) async fn scripts(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let v = match visitor(&s, &headers, ip, "/console/scripts").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match api(&s, &v, Method::GET, "/api/v1/scripts", None).await {
        Ok(l) => Scripts {
            user: v.user.clone(),
            csrf: v.csrf.clone(),
            flash: None,
            rows: items(&l).iter().map(script_row).collect(),
        }
        .into_response(),
        Err(p) => error_page(&v, p),
    }
}

/// `GET` and `POST /console/{slug}/new` for a section whose list and
/// record pages are the console's own (scripts, incidents): its New form
/// is the module's, declared in [`modules::MODULES`].
pub(crate) fn own_new(slug: &'static str) -> axum::routing::MethodRouter<AppState> {
    get(
        move |st: State<AppState>,
              ip: ConnectInfo<SocketAddr>,
              headers: HeaderMap,
              q: Query<Vec<(String, String)>>| {
            generic::new_form(st, ip, headers, Path(slug.into()), q)
        },
    )
    .post(
        move |st: State<AppState>,
              ip: ConnectInfo<SocketAddr>,
              headers: HeaderMap,
              form: Form<Vec<(String, String)>>| {
            generic::create(st, ip, headers, Path(slug.into()), form)
        },
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "script.html")]
pub(crate) struct ScriptPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) x: ScriptRow,
    pub(crate) content: String,
    pub(crate) params: Vec<String>,
    /// (id, name, agent status)
    pub(crate) hosts: Vec<(String, String, String)>,
    /// High-risk commands found in the content (ref. 5.1.1): (line, rule
    /// name, the line).
    pub(crate) findings: Vec<(String, String, String)>,
}

pub(crate) async fn script(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let here = format!("/console/scripts/{id}");
    let (v, d) = match page_data(
        &s,
        &headers,
        ip,
        &here,
        &format!("/api/v1/scripts/{}", urlencode(&id)),
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let hosts = registered_hosts(&s, &v).await;
    ScriptPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: q.done.map(|a| format!("Done: {a}.")),
        x: script_row(&d),
        content: text(&d["content"]),
        params: d["params"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| text(&p["name"]))
            .collect(),
        hosts,
        findings: d["high_risk_findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (text(&f["line"]), text(&f["name"]), text(&f["text"])))
            .collect(),
    }
    .into_response()
}

/// A host's name by its resource id, for the visitor (the id itself for
/// a host no longer registered).
pub(crate) async fn host_names(s: &AppState, v: &Visitor) -> impl Fn(&Value) -> String + use<> {
    let names: std::collections::HashMap<String, String> = registered_hosts(s, v)
        .await
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    move |id: &Value| {
        let id = text(id);
        names.get(&id).cloned().unwrap_or(id)
    }
}

/// Offers the registered hosts — "name (agent status)" — to the host
/// pickers among `inputs` ([`forms::Kind::Hosts`]), if there are any.
pub(crate) async fn offer_hosts(s: &AppState, v: &Visitor, inputs: &mut [forms::Input]) {
    if forms::picks_hosts(inputs.iter()) {
        let hosts: Vec<(String, String)> = registered_hosts(s, v)
            .await
            .into_iter()
            .map(|(id, name, status)| (id, format!("{name} ({status})")))
            .collect();
        forms::offer_hosts(inputs, &hosts);
    }
}

/// The first value of `name` in a submitted form, or empty.
pub(crate) fn form_value(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, x)| x.clone())
        .unwrap_or_default()
}

/// The hosts registered with COC, as (resource id, host name, agent
/// status), for the visitor; none when the visitor may not list them.
pub(crate) async fn registered_hosts(s: &AppState, v: &Visitor) -> Vec<(String, String, String)> {
    api(s, v, Method::GET, "/api/v1/resources?limit=1000", None)
        .await
        .map(|l| items(&l))
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                text(&h["id"]),
                text(&h["hostname"]),
                text(&h["agent_status"]),
            )
        })
        .collect()
}

pub(crate) async fn run_script(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/scripts/{id}");
    // Repeated fields (`host`) need the pairs, not a map.
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, x)| x.clone());
    let csrf = get("csrf").unwrap_or_default();
    let v = match form_visitor(&s, &headers, ip, &here, &csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let hosts: Vec<&String> = pairs
        .iter()
        .filter(|(k, _)| k == "host")
        .map(|(_, x)| x)
        .collect();
    let params: serde_json::Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, x)| Some((k.strip_prefix("param.")?.to_string(), x)))
        .filter(|(_, x)| !x.is_empty())
        .map(|(k, x)| (k, json!(x)))
        .collect();
    let body = json!({"hosts": hosts, "params": params,
        "batch_policy": get("batch_policy").unwrap_or_else(|| "auto".into())});
    match api(
        &s,
        &v,
        Method::POST,
        &format!("/api/v1/scripts/{}/execute", urlencode(&id)),
        Some(body),
    )
    .await
    {
        Ok(t) => Redirect::to(&format!("/console/tickets/{}", text(&t["id"]))).into_response(),
        Err(p) => error_page(&v, p),
    }
}
