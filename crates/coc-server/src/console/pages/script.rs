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
    /// Why the last run was refused, shown on the run form.
    pub(crate) error: Option<String>,
    /// The run form as sent: hosts ticked, parameter values, batch policy.
    pub(crate) typed: RunForm,
}

/// The run form's values as the operator sent them, kept when a run is
/// refused.
#[derive(Default)]
pub(crate) struct RunForm {
    /// Host ids ticked.
    pub(crate) hosts: Vec<String>,
    /// Parameter values by name.
    pub(crate) params: std::collections::BTreeMap<String, String>,
    /// `auto` or `none`.
    pub(crate) batch_policy: String,
}

impl RunForm {
    fn ticked(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h == host)
    }

    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

pub(crate) async fn script(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let here = format!("/console/scripts/{id}");
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let flash = q.done.map(|a| format!("Done: {a}."));
    script_page(&s, &v, &id, flash, None, RunForm::default()).await
}

/// The script's page for `v`, with the run form as `typed` and `error`
/// (a refused run) on it.
async fn script_page(
    s: &AppState,
    v: &Visitor,
    id: &str,
    flash: Option<String>,
    error: Option<String>,
    typed: RunForm,
) -> Response {
    let d = match api(
        s,
        v,
        Method::GET,
        &format!("/api/v1/scripts/{}", urlencode(id)),
        None,
    )
    .await
    {
        Ok(d) => d,
        Err(p) => return error_page(v, p),
    };
    let hosts = registered_hosts(s, v).await;
    let status = form_status(&error);
    let page = ScriptPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash,
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
        error,
        typed,
    };
    (status, page).into_response()
}

/// A host's (or a cloud server's) name by its resource id, for the
/// visitor (the id itself for a host no longer registered).
pub(crate) async fn host_names(s: &AppState, v: &Visitor) -> impl Fn(&Value) -> String + use<> {
    let mut names: std::collections::HashMap<String, String> = registered_hosts(s, v)
        .await
        .into_iter()
        .map(|(id, name, _)| (id, name))
        .collect();
    // A power operation (P4) targets cloud servers without an agent too.
    let servers = api(
        s,
        v,
        Method::GET,
        "/api/v1/resources?type=cloud_server&limit=1000",
        None,
    )
    .await
    .map(|l| items(&l))
    .unwrap_or_default();
    for c in &servers {
        names
            .entry(text(&c["id"]))
            .or_insert_with(|| text(&c["name"]));
    }
    move |id: &Value| {
        let id = text(id);
        names.get(&id).cloned().unwrap_or(id)
    }
}

/// Fills the pickers among `inputs`: the registered hosts — "name (agent
/// status)" — for host pickers ([`forms::Kind::Hosts`]) and the tenant's
/// users for user pickers ([`forms::Kind::User`]), each only when the
/// form has one.
pub(crate) async fn offer_pickers(s: &AppState, v: &Visitor, inputs: &mut [forms::Input]) {
    if forms::picks_hosts(inputs.iter()) {
        let hosts: Vec<(String, String)> = registered_hosts(s, v)
            .await
            .into_iter()
            .map(|(id, name, status)| (id, format!("{name} ({status})")))
            .collect();
        forms::offer_hosts(inputs, &hosts);
    }
    if forms::picks_users(inputs.iter()) {
        let users = super::oncall::rotation::user_names(s, v).await;
        forms::offer_users(inputs, &users);
    }
    for pick in forms::picks(inputs) {
        // A list the visitor may not read offers nothing: the choice typed
        // before stays, marked as not found.
        let records = api(s, v, Method::GET, pick.list, None)
            .await
            .map(|l| items(&l))
            .unwrap_or_default();
        forms::offer_records(inputs, pick, &records);
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
    api(
        s,
        v,
        Method::GET,
        "/api/v1/resources?type=host&limit=1000",
        None,
    )
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
        // Refused (no host, a missing parameter…): the page again, the
        // reason on the form and everything as sent.
        Err(p) if p.status.is_client_error() && p.status != StatusCode::NOT_FOUND => {
            let typed = RunForm {
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                params: pairs
                    .iter()
                    .filter_map(|(k, x)| Some((k.strip_prefix("param.")?.to_string(), x.clone())))
                    .collect(),
                batch_policy: get("batch_policy").unwrap_or_default(),
            };
            script_page(&s, &v, &id, None, Some(p.detail), typed).await
        }
        Err(p) => error_page(&v, p),
    }
}
