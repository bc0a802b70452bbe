//! Incidents (I3): the list with filters, the incident page with its timeline and the action forms.

use crate::console::*;

#[derive(Template, WebTemplate)]
#[template(path = "incidents.html")]
pub(crate) struct Incidents {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) statuses: Vec<String>,
    pub(crate) levels: Vec<String>,
    pub(crate) status: String,
    pub(crate) level: String,
    pub(crate) rows: Vec<IncidentRow>,
    pub(crate) next: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) level: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) cursor: String,
    #[serde(default)]
    pub(crate) done: Option<String>,
    /// Alarms: `alarmSource`.
    #[serde(default)]
    pub(crate) source: String,
    /// Alarms: last seen within `1h`, `24h` or `7d`.
    #[serde(default)]
    pub(crate) within: String,
    /// Alarms: group rows by `name` or `resource`.
    #[serde(default)]
    pub(crate) group: String,
    /// Alarms: the resource's name or id contains.
    #[serde(default)]
    pub(crate) resource: String,
    /// Alarms: labels, `key=value, …`.
    #[serde(default)]
    pub(crate) labels: String,
    /// Alarms: last seen from / before (`YYYY-MM-DDTHH:MM`, UTC) when no
    /// `within` is chosen.
    #[serde(default)]
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) to: String,
}

pub(crate) async fn incidents(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let mut uri = "/api/v1/incidents?limit=50".to_string();
    for (k, x) in [
        ("status", &q.status),
        ("level", &q.level),
        ("cursor", &q.cursor),
    ] {
        if !x.is_empty() {
            uri.push_str(&format!("&{k}={}", urlencode(x)));
        }
    }
    let (v, list) = match page_data(&s, &headers, ip, "/console/incidents", &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    Incidents {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        statuses: [
            "unaccepted",
            "accepted",
            "rejected",
            "to_be_verified",
            "completed",
            "closed",
        ]
        .map(String::from)
        .to_vec(),
        levels: ["P1", "P2", "P3", "P4", "P5"].map(String::from).to_vec(),
        status: q.status,
        level: q.level,
        rows: items(&list).iter().map(incident_row).collect(),
        next: list["next_cursor"].as_str().map(String::from),
    }
    .into_response()
}

pub(crate) struct HistoryRow {
    pub(crate) at: String,
    pub(crate) action: String,
    pub(crate) actor: String,
    pub(crate) summary: String,
    /// The page of the ticket the entry started (script or job ticket).
    pub(crate) ticket: Option<String>,
}

/// One action form of the incident page.
pub(crate) struct ActionFormView {
    /// The API's action (also the button id).
    pub(crate) action: &'static str,
    pub(crate) label: &'static str,
    pub(crate) inputs: Vec<forms::Input>,
    /// The refusal of this form's last submission.
    pub(crate) error: Option<String>,
    /// The step the incident's status waits for (accept, record the
    /// handling result, verify): drawn as the primary button.
    pub(crate) primary: bool,
}

/// One fact of the incident's details: a label, its value, and where the
/// value leads (a forwarding rule, a plan), if anywhere.
pub(crate) struct Fact {
    pub(crate) label: &'static str,
    pub(crate) value: String,
    pub(crate) link: Option<String>,
    /// The element's id, for facts a test or a refresh reads.
    pub(crate) id: &'static str,
}

/// A duration for people (ms → `42 s`, `7 min 5 s`, `3 h 20 min`,
/// `2 d 4 h`).
pub(crate) fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec} s"),
        (0, 0, _) if sec == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {sec} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        (_, 0, _) => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "incident.html")]
pub(crate) struct IncidentPage {
    pub(crate) user: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<String>,
    pub(crate) i: IncidentRow,
    pub(crate) history: Vec<HistoryRow>,
    /// The forms of the actions allowed in the incident's status.
    pub(crate) ops: Vec<ActionFormView>,
    /// "Execute response plan", while the incident is not finished.
    pub(crate) plan: Option<ActionFormView>,
    /// The incident's alarms: (level, name, resource, status).
    pub(crate) alarms: Vec<AlarmRow>,
    /// How many alarms are linked (more than listed for a large group).
    pub(crate) alarm_count: i64,
    /// The escalation's state, if a policy escalates it.
    pub(crate) escalation: Option<String>,
    /// Details beside the timeline: level, owner, source rule, times …
    pub(crate) facts: Vec<Fact>,
    /// Tickets the incident started (repairs, plans): (number or id, link).
    pub(crate) tickets: Vec<(String, String)>,
}

/// A refused form on the incident page: which one, why, what was typed.
pub(crate) struct Refused {
    pub(crate) action: String,
    pub(crate) error: String,
    pub(crate) typed: forms::Raw,
}

pub(crate) async fn incident(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let here = format!("/console/incidents/{id}");
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let flash = q.done.map(|a| format!("Done: {}.", a.replace('_', " ")));
    incident_page(&s, &v, &id, flash, None).await
}

/// The incident page: facts, the forms of the actions its status allows
/// (ref. 7.1.3), response plan, alarms, escalation and the history as a
/// timeline. `refused` brings one form back with its message and values.
pub(crate) async fn incident_page(
    s: &AppState,
    v: &Visitor,
    id: &str,
    flash: Option<String>,
    refused: Option<Refused>,
) -> Response {
    let d = match api(
        s,
        v,
        Method::GET,
        &format!("/api/v1/incidents/{}", urlencode(id)),
        None,
    )
    .await
    {
        Ok(d) => d,
        Err(p) => return error_page(v, p),
    };
    let inc = if d["incident"].is_object() {
        &d["incident"]
    } else {
        &d
    };
    let status =
        coc_domain::incident::IncidentStatus::parse(inc["status"].as_str().unwrap_or("")).ok();
    let allowed = status
        .map(coc_domain::incident::allowed_actions)
        .unwrap_or_default();
    let form = |action: &'static str, label: &'static str, fields: &[forms::Field]| {
        let (typed, error) = match &refused {
            Some(r) if r.action == action => (r.typed.clone(), Some(r.error.clone())),
            _ => (forms::Raw::new(), None),
        };
        let mut inputs = forms::inputs(fields, &typed);
        for i in &mut inputs {
            i.id = format!("{action}-{}", i.id);
        }
        ActionFormView {
            action,
            label,
            inputs,
            error,
            primary: matches!(action, "accept" | "resolve" | "verify_passed"),
        }
    };
    let mut ops: Vec<ActionFormView> = modules::INCIDENT_OPS
        .iter()
        .filter(|o| allowed.contains(&o.action))
        .map(|o| form(o.form, o.label, o.fields))
        .collect();
    for o in &mut ops {
        offer_pickers(s, v, &mut o.inputs).await;
    }
    let mut plan = status
        .is_some_and(|st| !st.is_terminal())
        .then(|| form("plan", "Execute response plan", modules::RUN_PLAN));
    if let Some(p) = plan.as_mut() {
        offer_pickers(s, v, &mut p.inputs).await;
    }
    let escalation = api(
        s,
        v,
        Method::GET,
        &format!("/api/v1/incidents/{}/escalation", urlencode(id)),
        None,
    )
    .await
    .ok()
    .filter(|e| e.is_object())
    .map(|e| {
        format!(
            "{}: {} level(s) notified, next level {} at {}",
            text(&e["state"]),
            text(&e["fired"]),
            e["level"].as_i64().unwrap_or(0) + 1,
            when(&e["next_at"])
        )
    });
    let mut history = vec![];
    for h in d["history"].as_array().into_iter().flatten() {
        let ticket = match h["ticket_id"].as_str() {
            // A plan starts a script or a job ticket: the one that exists.
            Some(t) => {
                let t = urlencode(t);
                let script = format!("/api/v1/tickets/{t}");
                let kind = match api(s, v, Method::GET, &script, None).await {
                    Ok(_) => "tickets",
                    Err(_) => "job-tickets",
                };
                Some(format!("/console/{kind}/{t}"))
            }
            None => None,
        };
        history.push(HistoryRow {
            at: when(&h["at"]),
            action: text(&h["action"]),
            actor: text(&h["actor"]),
            summary: text(&h["summary"]),
            ticket,
        });
    }
    let mut tickets: Vec<(String, String)> = vec![];
    for h in &history {
        if let Some(t) = &h.ticket
            && !tickets.iter().any(|(_, l)| l == t)
        {
            let shown = t.rsplit('/').next().unwrap_or_default().to_string();
            tickets.push((shown, t.clone()));
        }
    }
    let rule = match inc["rule_id"].as_str() {
        Some(r) => api(
            s,
            v,
            Method::GET,
            &format!("/api/v1/forwarding-rules/{}", urlencode(r)),
            None,
        )
        .await
        .map(|x| text(&x["name"]))
        .unwrap_or_else(|_| r.to_string()),
        None => String::new(),
    };
    let facts = incident_facts(inc, &d["times"], &rule);
    // Each alarm's resource links to its host when one is registered.
    let raw_alarms: Vec<Value> = d["alarms"].as_array().cloned().unwrap_or_default();
    let hosts = if raw_alarms.is_empty() {
        vec![]
    } else {
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
    };
    let alarms: Vec<AlarmRow> = raw_alarms
        .iter()
        .map(|a| AlarmRow {
            host: hosts
                .iter()
                .find(|h| !alarms_of(h, std::slice::from_ref(a)).is_empty())
                .map(|h| text(&h["id"])),
            ..alarm_row(a)
        })
        .collect();
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = IncidentPage {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash,
        i: incident_row(inc),
        history,
        ops,
        plan,
        alarm_count: d["alarm_count"].as_i64().unwrap_or(alarms.len() as i64),
        alarms,
        escalation,
        facts,
        tickets,
    };
    (status, page).into_response()
}

/// The incident's details, with links to its source: the forwarding rule
/// that raised it and the emergency plan it offers.
fn incident_facts(inc: &Value, times: &Value, rule: &str) -> Vec<Fact> {
    let fact = |label, value: String, link: Option<String>, id| Fact {
        label,
        value,
        link,
        id,
    };
    let mut out = vec![
        fact("Status", text(&inc["status"]), None, "incident-status"),
        fact("Level", text(&inc["level"]), None, "incident-level"),
        fact("Owner", text(&inc["assignee"]), None, "incident-owner"),
        fact(
            "Created",
            when(&inc["created_at"]),
            None,
            "incident-created",
        ),
        fact("Created by", text(&inc["created_by"]), None, ""),
    ];
    let source = text(&inc["source"]);
    match inc["rule_id"].as_str() {
        Some(id) => out.push(fact(
            "Forwarding rule",
            rule.to_string(),
            Some(format!("/console/forwarding-rules/{}", urlencode(id))),
            "incident-rule",
        )),
        None if !source.is_empty() => out.push(fact("Source", source, None, "")),
        None => {}
    }
    for (label, key) in [
        ("Application", "application"),
        ("Region", "region"),
        ("Category", "category"),
    ] {
        if let Some(x) = inc[key].as_str().filter(|x| !x.is_empty()) {
            out.push(fact(label, x.to_string(), None, ""));
        }
    }
    if let Some(p) = inc["plan"].as_str().filter(|x| !x.is_empty()) {
        out.push(fact(
            "Emergency plan",
            p.to_string(),
            Some(format!("/console/plans/{}", urlencode(p))),
            "",
        ));
    }
    let took = |k: &str, none: &str| times[k].as_i64().map_or_else(|| none.to_string(), span);
    out.push(fact(
        "Time to acknowledge",
        took("acknowledge_ms", "not yet"),
        None,
        "incident-tta",
    ));
    out.push(fact(
        "Time to resolve",
        took("resolve_ms", "not yet"),
        None,
        "incident-ttr",
    ));
    out
}

/// `POST /console/incidents/{id}/actions`: one action's form (`action`
/// and its `f.` fields) through the API; back to the incident, or the
/// page again with that form refused, as typed. Nothing changes on a
/// refusal.
pub(crate) async fn incident_action(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/incidents/{id}");
    let v = match form_visitor(&s, &headers, ip, &here, &form_value(&form, "csrf")).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let action = form_value(&form, "action");
    let typed = forms::submitted(&form);
    // What the form is: its fields, the body they go over, the API path.
    let (fields, base, path) = if action == "plan" {
        (modules::RUN_PLAN, json!({"hosts": []}), "plan")
    } else {
        let Some(op) = modules::INCIDENT_OPS.iter().find(|o| o.form == action) else {
            return error_page(
                &v,
                Problem {
                    status: StatusCode::BAD_REQUEST,
                    detail: format!("'{action}' is not an incident action"),
                },
            );
        };
        let mut base: Value = serde_json::from_str(op.base).unwrap_or_else(|_| json!({}));
        base["action"] = json!(op.action);
        (op.fields, base, "actions")
    };
    let outcome = match forms::build_over(fields, &typed, &base) {
        Ok(body) => {
            let uri = format!("/api/v1/incidents/{}/{path}", urlencode(&id));
            api(&s, &v, Method::POST, &uri, Some(body))
                .await
                .map(|t| match path {
                    // A plan's ticket: a script or a job ticket.
                    "plan" => {
                        let kind = if t["job_name"].is_string() {
                            "job-tickets"
                        } else {
                            "tickets"
                        };
                        format!("/console/{kind}/{}", urlencode(&text(&t["id"])))
                    }
                    _ => format!("{here}?done={}", urlencode(&action)),
                })
        }
        Err(detail) => Err(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail,
        }),
    };
    match outcome {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(p) if p.status == StatusCode::NOT_FOUND && action != "plan" => error_page(&v, p),
        Err(p) => {
            let all: Vec<&forms::Field> = fields.iter().collect();
            let error = generic::required(&all, &p.detail).unwrap_or(p.detail);
            let refused = Refused {
                action,
                error,
                typed,
            };
            incident_page(&s, &v, &id, None, Some(refused)).await
        }
    }
}
