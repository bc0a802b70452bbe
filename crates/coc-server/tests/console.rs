//! The web console over real HTTP: login by form, the overview, an
//! incident accepted from its page, a script ticket page, the CSRF check,
//! every module's New and Modify forms submitted field by field as a
//! browser would, refusals shown on the form, and a crawl of every page
//! reachable from the overview (each answers 200 with well-formed HTML,
//! and no internal link is broken). The headless Chromium tests are in
//! `browser.rs`.

use std::collections::{BTreeSet, VecDeque};

use serde_json::json;

use crate::harness::Harness;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Posts the login form as a browser does: the page first (its CSRF
/// value and cookie), then the form with what was typed.
pub async fn sign_in(h: &Harness, user: &str, password: &str, next: &str) -> reqwest::Response {
    let r = client()
        .get(format!("{}/console/login", h.url()))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("coc_login="))
        .expect("the login page sets its CSRF cookie");
    let html = r.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the login form carries a CSRF value")
        .to_string();
    client()
        .post(format!("{}/console/login", h.url()))
        .header("cookie", cookie)
        .form(&[
            ("username", user),
            ("password", password),
            ("next", next),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

/// Logs in through the form; returns the Cookie header value.
pub(crate) async fn login(h: &Harness) -> String {
    let r = sign_in(h, "admin", "admin-password-1", "/console/incidents").await;
    assert_eq!(r.status(), 303, "a successful login redirects");
    assert_eq!(r.headers()["location"], "/console/incidents");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(crate) async fn page(cookie: &str, url: &str) -> (u16, String) {
    let r = client()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Tags open and close in order (void elements aside), and the page has
/// the document skeleton.
fn well_formed(html: &str) -> Result<(), String> {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    if !html.starts_with("<!doctype html>") {
        return Err("no doctype".into());
    }
    for part in ["<html lang=", "<head>", "<title>", "<body", "<main"] {
        if !html.contains(part) {
            return Err(format!("missing {part}"));
        }
    }
    let mut stack: Vec<String> = vec![];
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let j = rest.find(&close).ok_or("unclosed script")?;
            rest = &rest[j + close.len()..];
            continue;
        }
        if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed {stack:?}"))
    }
}

/// Undoes askama's HTML escaping.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A tag's attributes: `name="value"` pairs and bare names (value "").
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut rest = tag.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '=' && *c != '/')
            .collect();
        if name.is_empty() {
            return out;
        }
        rest = &rest[name.len()..];
        if let Some(r) = rest.strip_prefix("=\"") {
            let end = r.find('"').unwrap();
            out.push((name, unescape(&r[..end])));
            rest = &r[end + 1..];
        } else {
            out.push((name, String::new()));
        }
    }
}

/// Sets each `(name, value)` in a form's fields as a user types them,
/// adding the fields a page's script would add (more rows).
pub(crate) fn set_fields(fields: &mut Vec<(String, String)>, values: &[(&str, &str)]) {
    for (name, value) in values {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value.to_string(),
            None => fields.push((name.to_string(), value.to_string())),
        }
    }
}

/// What a browser would submit for the page's first `class="fields"`
/// form as it stands: named inputs, checked boxes, the selected option
/// (or the first), and textareas.
pub(crate) fn form_values(html: &str) -> Vec<(String, String)> {
    values_after(html, "class=\"fields\">")
}

/// [`form_values`] of the form whose opening tag ends with `marker`.
fn values_after(html: &str, marker: &str) -> Vec<(String, String)> {
    let form = html
        .split(marker)
        .nth(1)
        .unwrap()
        .split("</form>")
        .next()
        .unwrap();
    let mut out = vec![];
    let mut select: Option<(String, Option<String>, Option<String>)> = None;
    let mut rest = form;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        let kind: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let attrs = attributes(tag);
        let get = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match kind.as_str() {
            "input" => {
                let Some(name) = get("name") else { continue };
                if get("type").as_deref() == Some("checkbox") {
                    if get("checked").is_some() {
                        out.push((name, get("value").unwrap_or_else(|| "on".into())));
                    }
                } else {
                    out.push((name, get("value").unwrap_or_default()));
                }
            }
            "textarea" => {
                let close = rest.find("</textarea>").unwrap();
                out.push((get("name").unwrap(), unescape(&rest[..close])));
            }
            "select" => select = Some((get("name").unwrap(), None, None)),
            "option" => {
                if let Some((_, first, chosen)) = select.as_mut() {
                    let close = rest.find("</option>").unwrap();
                    let v = get("value").unwrap_or_else(|| unescape(&rest[..close]));
                    if first.is_none() {
                        *first = Some(v.clone());
                    }
                    if get("selected").is_some() {
                        *chosen = Some(v);
                    }
                }
            }
            _ if tag == "/select" => {
                let (name, first, chosen) = select.take().unwrap();
                out.push((name, chosen.or(first).unwrap_or_default()));
            }
            _ => {}
        }
    }
    out
}

/// Sends a console form as a browser would; returns the status, the
/// Location header and the body.
pub(crate) async fn post_form(
    cookie: &str,
    url: &str,
    form: &[(String, String)],
) -> (u16, Option<String>, String) {
    let r = client()
        .post(url)
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (r.status().as_u16(), loc, r.text().await.unwrap())
}

/// Opens the form at `url`, sets `field` to `value` as a person would,
/// and sends it: the status, the Location header and the body.
async fn fill_and_send(
    cookie: &str,
    url: &str,
    field: &str,
    value: &str,
) -> (u16, Option<String>, String) {
    let (_, form) = page(cookie, url).await;
    post_form(cookie, url, &with(form_values(&form), field, value)).await
}

/// Replaces (or adds) one field of a collected form.
fn with(mut form: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    form.retain(|(k, _)| k != name);
    form.push((name.into(), value.into()));
    form
}

fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|l| l.starts_with('/'))
        .map(|l| l.replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn login_overview_incident_and_crawl() {
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let c = &h.client;
    // Without a session every page sends to the login form.
    let r = client()
        .get(format!("{}/console/incidents", h.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/console/login?next=/console/incidents"
    );
    // A login form posted without the page's CSRF value (from another
    // site) is refused, whatever the password.
    let forged = client()
        .post(format!("{}/console/login", h.url()))
        .form(&[("username", "admin"), ("password", "admin-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let bad = sign_in(&h, "admin", "wrong", "").await;
    assert_eq!(bad.status(), 401);
    assert!(bad.text().await.unwrap().contains("role=\"alert\""));
    // An incident from an ingested alarm, owned by admin.
    let integ = c
        .post(
            "/api/v1/integrations",
            &json!({"name": "prom", "type": "alertmanager"}),
        )
        .await
        .unwrap();
    c.post(
        "/api/v1/forwarding-rules",
        &json!({"name": "disk", "incident_level": "P2", "assignee": "admin",
            "conditions": [{"field": "alarmName", "op": "equals", "value": "DiskFull"}]}),
    )
    .await
    .unwrap();
    c.post_raw(
        &format!("/ingest/{}/api/v2/alerts", integ["key"].as_str().unwrap()),
        br#"[{"labels":{"alertname":"DiskFull","instance":"db-1:9100","severity":"critical"}}]"#
            .to_vec(),
    )
    .await
    .unwrap();
    let incs = c.get("/api/v1/incidents", &[]).await.unwrap();
    let inc = incs["items"][0]["id"].as_str().unwrap().to_string();
    // A script ticket on the agent.
    let sid = h.script("hello", "echo console-says-hi").await;
    let t = c
        .post(
            &format!("/api/v1/scripts/{sid}/execute"),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let tid = t["id"].as_str().unwrap().to_string();
    h.wait_ticket(&tid, |t| t["status"] == "successful").await;

    let cookie = login(&h).await;
    let (st, home) = page(&cookie, &format!("{}/console", h.url())).await;
    assert_eq!(st, 200);
    assert!(home.contains("Incidents waiting for me"), "{home}");
    assert!(
        home.contains("<td>(no region)</td><td>1</td><td>1</td>"),
        "{home}"
    );
    assert!(home.contains(&format!("/console/incidents/{inc}")));
    assert!(home.contains(&format!("/console/tickets/{tid}")));
    // The incident page: accept it (with the form's CSRF value).
    let (_, ip) = page(&cookie, &format!("{}/console/incidents/{inc}", h.url())).await;
    assert!(
        ip.contains("<dd id=\"incident-status\">unaccepted</dd>"),
        "{ip}"
    );
    let csrf = ip
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let forged = client()
        .post(format!("{}/console/incidents/{inc}/actions", h.url()))
        .header("cookie", &cookie)
        .form(&[("csrf", "nope"), ("action", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a form without the session's CSRF value"
    );
    let ok = client()
        .post(format!("{}/console/incidents/{inc}/actions", h.url()))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("action", "accept")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let (_, after) = page(
        &cookie,
        &format!("{}{}", h.url(), ok.headers()["location"].to_str().unwrap()),
    )
    .await;
    assert!(
        after.contains("<dd id=\"incident-status\">accepted</dd>"),
        "{after}"
    );
    assert!(after.contains("Done: accept."));
    let api = c
        .get(&format!("/api/v1/incidents/{inc}"), &[])
        .await
        .unwrap();
    assert_eq!(api["status"], "accepted");
    // The alarms page: convert the selected alarm to an incident, then
    // clear it — each through the page's one form, as a browser sends it.
    let alarm = c.get("/api/v1/alarms", &[]).await.unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/console/alarms/act", h.url());
    let (_, ap) = page(&cookie, &format!("{}/console/alarms", h.url())).await;
    let (st, _, t) = post_form(&cookie, &url, &with(form_values(&ap), "do", "clear")).await;
    assert_eq!(st, 422, "nothing selected");
    assert!(t.contains("select at least one alarm"), "{t}");
    let chosen = with(form_values(&ap), "ids", &alarm);
    let typed = with(chosen.clone(), "f.title", "Disk full on db-1");
    let typed = with(typed, "f.assignee", "admin");
    let (st, _, t) = post_form(&cookie, &url, &with(typed.clone(), "do", "convert")).await;
    assert_eq!(st, 422, "an incident needs a level");
    assert!(t.contains("Level is required"), "{t}");
    assert!(t.contains("Disk full on db-1"), "what was typed is kept");
    let typed = with(typed, "f.level", "P2");
    let (st, loc, t) = post_form(&cookie, &url, &with(typed, "do", "convert")).await;
    assert_eq!(st, 303, "{t}");
    let converted = loc.unwrap().rsplit('/').next().unwrap().to_string();
    let d = c
        .get(&format!("/api/v1/incidents/{converted}"), &[])
        .await
        .unwrap();
    assert_eq!(d["title"], "Disk full on db-1");
    let (st, _, t) = post_form(&cookie, &url, &with(chosen.clone(), "do", "clear")).await;
    assert_eq!(st, 422);
    assert!(t.contains("a remark is required"), "the API's message: {t}");
    let chosen = with(chosen, "remark", "disk extended");
    let (st, loc, _) = post_form(&cookie, &url, &with(chosen, "do", "clear")).await;
    assert_eq!(
        (st, loc.as_deref()),
        (303, Some("/console/alarms?done=clear"))
    );
    let a = c
        .get(&format!("/api/v1/alarms/{alarm}"), &[])
        .await
        .unwrap();
    assert_eq!(a["status"], "ok");
    // The ticket page shows each host's output.
    let (_, tp) = page(&cookie, &format!("{}/console/tickets/{tid}", h.url())).await;
    assert!(tp.contains("console-says-hi"));
    assert!(
        !tp.contains("action-pause"),
        "a finished ticket offers no action"
    );
    // A running ticket: forcibly end it from its page.
    let sleeper = h.script("sleeper", "echo zzz; sleep 30").await;
    let t2 = c
        .post(
            &format!("/api/v1/scripts/{sleeper}/execute"),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let t2 = t2["id"].as_str().unwrap().to_string();
    h.wait_ticket(&t2, |t| t["counts"]["executing"] == 1).await;
    let (_, rp) = page(&cookie, &format!("{}/console/tickets/{t2}", h.url())).await;
    assert!(rp.contains("id=\"action-pause\"") && rp.contains("id=\"action-forcibly_end\""));
    assert!(
        !rp.contains("id=\"action-continue\""),
        "not while executing"
    );
    let end = client()
        .post(format!("{}/console/tickets/{t2}/actions", h.url()))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("action", "forcibly_end")])
        .send()
        .await
        .unwrap();
    assert_eq!(end.status(), 303);
    let ended = c.get(&format!("/api/v1/tickets/{t2}"), &[]).await.unwrap();
    assert_eq!(ended["status"], "terminated");
    let (_, tl) = page(&cookie, &format!("{}/console/tickets", h.url())).await;
    assert!(tl.contains("Outcomes of the last 2 ticket(s)"), "{tl}");
    // One host of a running ticket, cancelled from its row.
    let t3 = c
        .post(
            &format!("/api/v1/scripts/{sleeper}/execute"),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let t3 = t3["id"].as_str().unwrap().to_string();
    let running = h.wait_ticket(&t3, |t| t["counts"]["executing"] == 1).await;
    let task = running["tasks"][0]["id"].as_str().unwrap().to_string();
    let (_, rp) = page(&cookie, &format!("{}/console/tickets/{t3}", h.url())).await;
    let row = rp.split(&format!("id=\"task-{task}\"")).nth(1).unwrap();
    assert!(
        row.contains(&format!("name=\"target\" value=\"{task}\"")),
        "{rp}"
    );
    let (st, _, t) = post_form(
        &cookie,
        &format!("{}/console/tickets/{t3}/actions", h.url()),
        &[
            ("csrf".into(), csrf.clone()),
            ("action".into(), "cancel".into()),
            ("target".into(), task.clone()),
        ],
    )
    .await;
    assert_eq!(st, 303, "{t}");
    let done = h.wait_ticket(&t3, |t| t["status"] != "executing").await;
    assert_eq!(done["tasks"][0]["status"], "cancelled", "{done}");
    let (_, rp) = page(&cookie, &format!("{}/console/tickets/{t3}", h.url())).await;
    assert!(
        !rp.contains("name=\"target\""),
        "nothing left to cancel: {rp}"
    );
    // A job ticket page shows each step's progress.
    c.post(
        "/api/v1/jobs",
        &json!({"name": "say-hi", "risk_level": "low", "steps": [
            {"name": "greet", "tasks": [{"name": "hello", "atom": {"type": "script", "script": "hello"}}]}]}),
    )
    .await
    .unwrap();
    let jt = c
        .post("/api/v1/jobs/say-hi/execute", &json!({"hosts": hosts}))
        .await
        .unwrap();
    let jt = jt["id"].as_str().unwrap().to_string();
    h.wait_job_ticket(&jt, |t| t["status"] == "successful")
        .await;
    let (_, jp) = page(&cookie, &format!("{}/console/job-tickets/{jt}", h.url())).await;
    assert!(
        jp.contains("1. greet") && jp.contains("<progress max=\"1\" value=\"1\">"),
        "{jp}"
    );
    assert!(jp.contains("console-says-hi"));
    // Clone: the same job on the same hosts, a new ticket.
    let (st, loc, t) = post_form(
        &cookie,
        &format!("{}/console/job-tickets/{jt}/actions", h.url()),
        &[
            ("csrf".into(), csrf.clone()),
            ("action".into(), "clone".into()),
        ],
    )
    .await;
    assert_eq!(st, 303, "{t}");
    let again = loc.unwrap().rsplit('/').next().unwrap().to_string();
    assert_ne!(again, jt);
    let cloned = c
        .get(&format!("/api/v1/job-tickets/{again}"), &[])
        .await
        .unwrap();
    assert_eq!(cloned["job_name"], "say-hi", "{cloned}");
    // A job that waits for approval: approved with a comment on the
    // ticket page, it runs on; the decision stays on the page.
    c.post(
        "/api/v1/jobs",
        &json!({"name": "gated", "risk_level": "low", "steps": [
            {"name": "gate", "tasks": [{"name": "ask-admin", "atom": {"type": "approval",
                "reviewers": [{"type": "individual", "users": ["admin"]}]}}]},
            {"name": "greet", "tasks": [{"name": "hello", "atom": {"type": "script", "script": "hello"}}]}]}),
    )
    .await
    .unwrap();
    let gt = c
        .post("/api/v1/jobs/gated/execute", &json!({"hosts": hosts}))
        .await
        .unwrap();
    let gt = gt["id"].as_str().unwrap().to_string();
    h.wait_job_ticket(&gt, |t| t["approvals"][0]["status"] == "pending")
        .await;
    // It waits for admin: a to-do on the overview, linking the ticket.
    let (_, ov) = page(&cookie, &format!("{}/console", h.url())).await;
    let todos = ov.split("id=\"todos\"").nth(1).expect("a to-do list");
    assert!(
        todos.contains(&format!(
            "<a href=\"/console/job-tickets/{gt}\">Approve</a> gated ("
        )),
        "{ov}"
    );
    let gurl = format!("{}/console/job-tickets/{gt}", h.url());
    let (_, gp) = page(&cookie, &gurl).await;
    assert!(gp.contains("id=\"approve-0-0\""), "{gp}");
    let (st, _, t) = post_form(
        &cookie,
        &format!("{gurl}/actions"),
        &[
            ("csrf".into(), csrf.clone()),
            ("step".into(), "0".into()),
            ("task".into(), "0".into()),
            ("comment".into(), "looks fine".into()),
            ("action".into(), "approve".into()),
        ],
    )
    .await;
    assert_eq!(st, 303, "{t}");
    h.wait_job_ticket(&gt, |t| t["status"] == "successful")
        .await;
    let (_, ov) = page(&cookie, &format!("{}/console", h.url())).await;
    assert!(ov.contains("No review or approval waits for you."), "{ov}");
    let (_, gp) = page(&cookie, &gurl).await;
    assert!(!gp.contains("id=\"approve-0-0\""), "{gp}");
    assert!(
        gp.contains("by admin at ") && gp.contains("— looks fine"),
        "{gp}"
    );
    // One host of a job ticket, cancelled from its row.
    c.post(
        "/api/v1/jobs",
        &json!({"name": "napper", "risk_level": "low", "steps": [
            {"name": "nap", "tasks": [{"name": "long-nap", "atom": {"type": "sleep", "seconds": 60}}]}]}),
    )
    .await
    .unwrap();
    let nt = c
        .post("/api/v1/jobs/napper/execute", &json!({"hosts": hosts}))
        .await
        .unwrap();
    let nt = nt["id"].as_str().unwrap().to_string();
    let nurl = format!("{}/console/job-tickets/{nt}", h.url());
    let mut np = String::new();
    for _ in 0..100 {
        np = page(&cookie, &nurl).await.1;
        if np.contains("name=\"target\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        np.contains(&format!("name=\"target\" value=\"{}\"", hosts[0])),
        "{np}"
    );
    let (st, _, t) = post_form(
        &cookie,
        &format!("{nurl}/actions"),
        &[
            ("csrf".into(), csrf.clone()),
            ("action".into(), "cancel".into()),
            ("target".into(), hosts[0].clone()),
        ],
    )
    .await;
    assert_eq!(st, 303, "{t}");
    h.wait_job_ticket(&nt, |t| t["counts"]["cancelled"] == 1)
        .await;
    // Alarms page with its SVG chart.
    let (_, al) = page(&cookie, &format!("{}/console/alarms", h.url())).await;
    assert!(al.contains("<svg class=\"chart\"") && al.contains("DiskFull"));
    // Each alarm has its page, with its history.
    let first = al
        .split("href=\"/console/alarms/")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("alarm rows link their page");
    let (st, ap) = page(&cookie, &format!("{}/console/alarms/{first}", h.url())).await;
    assert_eq!(st, 200, "{ap}");
    assert!(ap.contains("<h2>History</h2>"), "{ap}");
    // The audit trail downloads as JSON lines with the session.
    let (_, au) = page(&cookie, &format!("{}/console/audit", h.url())).await;
    assert!(au.contains("href=\"/api/v1/audit/export\""), "{au}");
    let (st, lines) = page(&cookie, &format!("{}/api/v1/audit/export", h.url())).await;
    assert_eq!(st, 200);
    assert!(
        lines.lines().count() > 3
            && lines
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{lines}"
    );
    // The overview's security panel counts the refused sign-in above.
    let (_, ov) = page(&cookie, &format!("{}/console", h.url())).await;
    let sec = ov
        .split("id=\"security\"")
        .nth(1)
        .expect("a security panel");
    assert!(sec.contains("<dt>Sign-ins refused</dt><dd>1</dd>"), "{sec}");
    assert!(sec.contains("admin — "), "{sec}");
    // A new job can start from a template.
    let (_, nj) = page(&cookie, &format!("{}/console/jobs/new", h.url())).await;
    let tpl = nj
        .split("href=\"/console/jobs/new?template=")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("template links");
    let (st, tf) = page(
        &cookie,
        &format!("{}/console/jobs/new?template={tpl}", h.url()),
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        tf.contains(&format!("name=\"f.name\" value=\"{tpl}\"")),
        "{tf}"
    );
    // The template's steps fill the task cards, the step named on its first.
    assert!(tf.contains("name=\"f.steps.0.@group\""), "{tf}");
    assert!(tf.contains("name=\"f.steps.0.atom.type\""), "{tf}");
    let (st, _) = page(
        &cookie,
        &format!("{}/console/jobs/new?template=nope", h.url()),
    )
    .await;
    assert_eq!(st, 404);
    // Crawl everything reachable from the overview.
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/console".to_string()]);
    while let Some(p) = queue.pop_front() {
        if !seen.insert(p.clone()) || seen.len() > 200 {
            continue;
        }
        let (st, body) = page(&cookie, &format!("{}{p}", h.url())).await;
        assert_eq!(st, 200, "{p}");
        if p.starts_with("/console/assets/") {
            continue;
        }
        well_formed(&body).unwrap_or_else(|e| panic!("{p}: {e}\n{body}"));
        for l in links(&body) {
            if l.starts_with("/console") && !seen.contains(&l) {
                queue.push_back(l);
            }
        }
    }
    for must in [
        "/console/incidents",
        "/console/alarms",
        "/console/scripts",
        "/console/tickets",
        "/console/job-tickets",
        "/console/assets/app.css",
    ] {
        assert!(seen.contains(must), "{must} not reachable: {seen:?}");
    }
    // (A module whose records another module's list shows is reached
    // from there.)
    for m in coc_server::console::modules::MODULES {
        let p = m.home();
        assert!(seen.contains(&p), "{p} is not in the navigation");
    }
    assert!(
        seen.iter().any(|p| p.starts_with("/console/resources/")),
        "a resource detail page was crawled: {seen:?}"
    );
    // Search and column choice on a generic list.
    let (_, r) = page(
        &cookie,
        &format!("{}/console/resources?q=zzz-none", h.url()),
    )
    .await;
    assert!(r.contains("Nothing matches"));
    let (_, r) = page(
        &cookie,
        &format!("{}/console/resources?col=name&col=os", h.url()),
    )
    .await;
    let head = r
        .split("<thead>")
        .nth(1)
        .unwrap()
        .split("</thead>")
        .next()
        .unwrap();
    assert_eq!(head.matches("<th").count(), 2, "{head}");
    // Every module's "New" form, filled with its example as a browser
    // submits it field by field, creates the record through the API.
    for m in coc_server::console::modules::MODULES
        .iter()
        .filter(|m| m.create.is_some() && m.example.is_some())
    {
        let url = format!("{}/console/{}/new", h.url(), m.slug);
        let (st, blank) = page(&cookie, &url).await;
        assert_eq!(st, 200, "{}", m.slug);
        assert!(blank.contains("id=\"example\""), "{}", m.slug);
        let (st, form) = page(&cookie, &format!("{url}?example")).await;
        assert_eq!(st, 200, "{}", m.slug);
        let (st, loc, text) = post_form(&cookie, &url, &form_values(&form)).await;
        if m.shown_once {
            // A secret is shown once, in the answer, never in an address.
            assert_eq!((st, loc), (200, None), "{}: {text}", m.slug);
            assert!(text.contains("shown once"), "{}: {text}", m.slug);
            continue;
        }
        assert_eq!(st, 303, "{}: {text}", m.slug);
        let (st, _) = page(&cookie, &format!("{}{}", h.url(), loc.unwrap())).await;
        assert_eq!(st, 200, "{} detail", m.slug);
    }
    // Every modifiable record saves through its Modify form unchanged:
    // the form holds every field of the definition.
    // (A cloud account has no example: its password is never filled in;
    // a desired state has none: its host is one of the tenant's.)
    c.put(
        &format!("/api/v1/drift/{}", hosts[0]),
        &serde_json::json!({"packages": [{"name": "coreutils"}], "files": [{"path": "/etc/hostname"}]}),
    )
    .await
    .unwrap();
    c.post(
        "/api/v1/cloud-accounts",
        &serde_json::json!({"name": "lab", "auth_url": "http://127.0.0.1:9", "username": "coc",
            "password": "s3cret", "project": "ops", "sync_minutes": 0}),
    )
    .await
    .unwrap();
    for m in coc_server::console::modules::MODULES
        .iter()
        .filter(|m| m.modify)
    {
        let list = c.get(m.list, &[]).await.unwrap();
        let Some(first) = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["system"] != true && r["common"] != true)
        else {
            panic!("{}: no record to modify", m.slug);
        };
        let id = first[m.key].as_str().unwrap().to_string();
        let api = m.detail.unwrap().replace("{id}", &id);
        let before = c.get(&api, &[]).await.unwrap();
        let url = format!("{}/console/{}/{id}/edit", h.url(), m.slug);
        let (st, form) = page(&cookie, &url).await;
        assert_eq!(st, 200, "{}", m.slug);
        let (st, _, text) = post_form(&cookie, &url, &form_values(&form)).await;
        assert_eq!(st, 303, "{}: {text}", m.slug);
        let after = c.get(&api, &[]).await.unwrap();
        for f in m.fields {
            let top = f.key.split('.').next().unwrap();
            assert_eq!(before[top], after[top], "{}: {top} changed", m.slug);
        }
    }
    // Who is on call: the shifts example puts admin on call around the
    // clock; a role the scenario lacks is refused with the API's message.
    let (st, oc) = page(
        &cookie,
        &format!(
            "{}/console/oncall?scenario=ops&role=oncall&at=2026-11-22T03%3A00",
            h.url()
        ),
    )
    .await;
    assert_eq!(st, 200, "{oc}");
    assert!(oc.contains("On call at 2026-11-22T03:00:00+00:00"), "{oc}");
    assert!(
        oc.contains("list=\"applications\"><datalist id=\"applications\">"),
        "the application is offered from the list: {oc}"
    );
    assert!(
        oc.contains("<li><a href=\"/console/engineers/admin\">admin</a></li>"),
        "{oc}"
    );
    let (st, oc) = page(
        &cookie,
        &format!("{}/console/oncall?scenario=ops&role=ghost", h.url()),
    )
    .await;
    assert_eq!(st, 422);
    assert!(oc.contains("id=\"form-error\""), "{oc}");
    assert!(oc.contains("value=\"ghost\""), "what was typed is kept");
    // Enabled from its page, the example SLA governs a new P1 incident:
    // the SLA records page charts its state.
    let sla = c.get("/api/v1/slas", &[]).await.unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "p1-response")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, sp) = page(&cookie, &format!("{}/console/slas/{sla}", h.url())).await;
    assert!(
        sp.contains("id=\"modify\""),
        "a disabled SLA is modified: {sp}"
    );
    let enable = [
        ("csrf".to_string(), csrf.clone()),
        ("op".into(), "enable".into()),
    ];
    let (st, _, _) = post_form(
        &cookie,
        &format!("{}/console/slas/{sla}/do", h.url()),
        &enable,
    )
    .await;
    assert_eq!(st, 303);
    // An enabled SLA is not modified: its page says so instead.
    let (_, sp) = page(&cookie, &format!("{}/console/slas/{sla}", h.url())).await;
    assert!(!sp.contains("id=\"modify\""), "{sp}");
    assert!(sp.contains("disable it first"), "{sp}");
    c.post(
        "/api/v1/incidents",
        &json!({"title": "site down", "level": "P1", "assignee": "admin"}),
    )
    .await
    .unwrap();
    // The SLA clock starts when the dispatcher handles the incident's
    // event: wait for its record before drawing the page.
    for _ in 0..100 {
        let r = c.get("/api/v1/sla-records", &[]).await.unwrap();
        if !r["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (st, sr) = page(&cookie, &format!("{}/console/sla-records", h.url())).await;
    assert_eq!(st, 200);
    assert!(
        sr.contains("aria-label=\"SLA state of 1 record(s)\""),
        "{sr}"
    );
    assert!(sr.contains("<title>1 normal</title>"), "{sr}");
    // A module's own operations, each through its form.
    let find = |list: serde_json::Value, key: &str, value: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[key] == value)
            .map(|r| r["id"].as_str().unwrap().to_string())
    };
    let op_url =
        |slug: &str, id: &str, op: &str| format!("{}/console/{slug}/{id}/op/{op}", h.url());
    let rules = c.get("/api/v1/forwarding-rules", &[]).await.unwrap();
    let disk = find(rules, "name", "disk").unwrap();
    let (_, rp) = page(
        &cookie,
        &format!("{}/console/forwarding-rules/{disk}", h.url()),
    )
    .await;
    let url = op_url("forwarding-rules", &disk, "copy");
    assert!(rp.contains(&format!(
        "href=\"/console/forwarding-rules/{disk}/op/copy\""
    )));
    let (st, form) = page(&cookie, &url).await;
    assert_eq!(st, 200);
    let (st, _, t) = post_form(&cookie, &url, &form_values(&form)).await;
    assert_eq!(st, 422, "a copy needs a name");
    assert!(t.contains("Name of the copy is required"), "{t}");
    let (st, loc, t) = post_form(
        &cookie,
        &url,
        &with(form_values(&form), "f.name", "disk-copy"),
    )
    .await;
    assert_eq!(st, 303, "{t}");
    let rules = c.get("/api/v1/forwarding-rules", &[]).await.unwrap();
    let copy = find(rules, "name", "disk-copy").expect("the copy exists");
    assert_eq!(loc.unwrap(), format!("/console/forwarding-rules/{copy}"));
    // Execute a job on the agent's host: its ticket page follows.
    let jobs = c.get("/api/v1/jobs", &[]).await.unwrap();
    let job = find(jobs, "name", "restart-web").unwrap();
    let url = op_url("jobs", &job, "execute");
    let (_, form) = page(&cookie, &url).await;
    // The registered hosts are offered as checkboxes; ticking one sends
    // its resource id.
    let pick = format!(
        "<input type=\"checkbox\" name=\"f.hosts\" value=\"{}\">",
        hosts[0]
    );
    assert!(form.contains(&pick), "{form}");
    let (st, _, t) = post_form(&cookie, &url, &form_values(&form)).await;
    assert_eq!(st, 422, "no host chosen: {t}");
    assert!(t.contains("role=\"alert\""), "{t}");
    let typed = with(form_values(&form), "f.hosts", &hosts[0]);
    let (st, loc, t) = post_form(
        &cookie,
        &url,
        &with(typed, "f.description", "from the console"),
    )
    .await;
    assert_eq!(st, 303, "{t}");
    let loc = loc.unwrap();
    assert!(loc.starts_with("/console/job-tickets/"), "{loc}");
    let jt = loc.rsplit('/').next().unwrap();
    let ticket = c
        .get(&format!("/api/v1/job-tickets/{jt}"), &[])
        .await
        .unwrap();
    assert_eq!(ticket["description"], "from the console");
    assert!(
        ticket
            .to_string()
            .contains(&format!("\"host_id\":\"{}\"", hosts[0])),
        "the ticket runs on the host ticked: {ticket}"
    );
    let (st, _) = page(&cookie, &format!("{}{loc}", h.url())).await;
    assert_eq!(st, 200);
    // The job's page lists its versions; a scheduled task's its runs.
    let (_, jp) = page(&cookie, &format!("{}/console/jobs/{job}", h.url())).await;
    assert!(jp.contains("<h2>Versions</h2>"), "{jp}");
    let tasks = c.get("/api/v1/scheduled-tasks", &[]).await.unwrap();
    let task = find(tasks, "name", "nightly-diagnose").unwrap();
    let (_, tp) = page(
        &cookie,
        &format!("{}/console/scheduled-tasks/{task}", h.url()),
    )
    .await;
    assert!(tp.contains("<h2>Execution records</h2>"), "{tp}");
    // A parameter's values are shown on request, never in the address.
    let params = c.get("/api/v1/parameters", &[]).await.unwrap();
    let param = find(params, "name", "db/host").unwrap();
    let (st, _, t) = post_form(
        &cookie,
        &op_url("parameters", &param, "decrypt"),
        &[("csrf".into(), csrf.clone())],
    )
    .await;
    assert_eq!(st, 200);
    assert!(t.contains("<td>10.0.0.5</td>"), "{t}");
    // Resetting an integration's access key shows the new key once; the
    // old one stops working.
    let integ_id = integ["id"].as_str().unwrap();
    let old_key = integ["key"].as_str().unwrap();
    let (st, _, t) = post_form(
        &cookie,
        &op_url("integrations", integ_id, "rotate-key"),
        &[("csrf".into(), csrf.clone())],
    )
    .await;
    assert_eq!(st, 200);
    let new_key = t
        .split("<dt>key</dt><dd>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert_ne!(new_key, old_key);
    assert!(
        c.post_raw(&format!("/ingest/{old_key}/api/v2/alerts"), b"[]".to_vec())
            .await
            .is_err()
    );
    // Record operations come from the API's route table.
    let rules = c.get("/api/v1/forwarding-rules", &[]).await.unwrap();
    let rule = rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "disk-full")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, rp) = page(
        &cookie,
        &format!("{}/console/forwarding-rules/{rule}", h.url()),
    )
    .await;
    for op in ["op-enable", "op-disable", "op-delete"] {
        assert!(rp.contains(op), "{op}");
    }
    assert!(!rp.contains("op-approve"), "rules are not reviewed");
    let op = |op: &'static str, path: String| {
        let csrf = csrf.clone();
        let cookie = cookie.clone();
        async move {
            client()
                .post(path)
                .header("cookie", cookie)
                .form(&[("csrf", csrf.as_str()), ("op", op)])
                .send()
                .await
                .unwrap()
        }
    };
    let r = op(
        "disable",
        format!("{}/console/forwarding-rules/{rule}/do", h.url()),
    )
    .await;
    assert_eq!(r.status(), 303);
    let got = c
        .get(&format!("/api/v1/forwarding-rules/{rule}"), &[])
        .await
        .unwrap();
    assert_eq!(got["enabled"], false);
    // The author of a scheduled task cannot approve it: the API's refusal.
    let tasks = c.get("/api/v1/scheduled-tasks", &[]).await.unwrap();
    let task = tasks["items"][0]["id"].as_str().unwrap().to_string();
    let r = op(
        "approve",
        format!("{}/console/scheduled-tasks/{task}/do", h.url()),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("author"));
    let r = op(
        "delete",
        format!("{}/console/forwarding-rules/{rule}/do", h.url()),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/forwarding-rules");
    let gone = c
        .get(&format!("/api/v1/forwarding-rules/{rule}"), &[])
        .await;
    assert!(gone.is_err());
    // A refusal shows the API's message and keeps what was typed.
    let url = format!("{}/console/parameters/new", h.url());
    let (_, form) = page(&cookie, &format!("{url}?example")).await;
    let typed = with(form_values(&form), "f.name", "bad name!");
    let typed = with(typed, "f.value", "kept-as-typed");
    let (st, _, t) = post_form(&cookie, &url, &typed).await;
    assert_eq!(st, 422);
    let err = t.split("id=\"form-error\">").nth(1).unwrap_or("");
    assert!(
        err.starts_with("parameter name"),
        "the API's message: {err}"
    );
    assert!(t.contains("kept-as-typed"), "what was typed is kept");
    // A required field left empty is named by its label.
    let (st, _, t) = post_form(&cookie, &url, &with(typed, "f.name", "")).await;
    assert_eq!(st, 422);
    let err = t.split("id=\"form-error\">").nth(1).unwrap_or("");
    assert!(err.starts_with("Name is required"), "{err}");
    // A value the form cannot read names its field, and nothing is sent.
    let url = format!("{}/console/jobs/new", h.url());
    let (_, form) = page(&cookie, &format!("{url}?example")).await;
    let jobs = c.get("/api/v1/jobs", &[]).await.unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    let typed = with(form_values(&form), "f.steps.0.atom.timeout_s", "five");
    let (st, _, t) = post_form(&cookie, &url, &typed).await;
    assert_eq!(st, 422);
    let err = t.split("id=\"form-error\">").nth(1).unwrap_or("");
    assert!(
        err.starts_with("Timeout (s): &#39;five&#39; is not a number"),
        "{err}"
    );
    assert!(t.contains("value=\"five\""), "what was typed is kept");
    let after = c.get("/api/v1/jobs", &[]).await.unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(jobs, after, "nothing was created");
    let (st, _) = page(&cookie, &format!("{}/console/no-such-module", h.url())).await;
    assert_eq!(st, 404);
    // An unknown record is a friendly 404 page.
    let (st, nf) = page(&cookie, &format!("{}/console/incidents/nope", h.url())).await;
    assert_eq!(st, 404);
    assert!(nf.contains("Not found"));
}

/// The CSRF value of a console page's forms.
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string()
}

/// The value shown for `name` in a record page's facts list.
fn fact(html: &str, name: &str) -> String {
    html.split(&format!("<dt>{name}</dt><dd>"))
        .nth(1)
        .and_then(|s| s.split("</dd>").next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn access_control_and_tags_from_the_console() {
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let c = &h.client;
    let cookie = login(&h).await;
    let url = |p: &str| format!("{}{p}", h.url());
    // A user made on the Users page signs in with the password given; a
    // password typed into a refused form is never drawn again.
    let new_user = url("/console/users/new");
    let (_, form) = page(&cookie, &new_user).await;
    assert!(form.contains("type=\"password\""), "{form}");
    let typed = with(form_values(&form), "f.name", "ann");
    let (st, _, t) = post_form(
        &cookie,
        &new_user,
        &with(typed.clone(), "f.password", "tiny-pw"),
    )
    .await;
    assert_eq!(st, 422, "{t}");
    assert!(t.contains("at least 8 characters"), "{t}");
    assert!(!t.contains("tiny-pw"), "the password is not drawn again");
    let (st, loc, t) = post_form(
        &cookie,
        &new_user,
        &with(typed, "f.password", "ann-password-1"),
    )
    .await;
    assert_eq!(st, 303, "{t}");
    let (_, up) = page(&cookie, &url(&loc.unwrap())).await;
    assert!(!up.contains("ann-password-1"));
    let ann = c.get("/api/v1/users/ann", &[]).await.unwrap();
    let ann_id = ann["id"].as_str().unwrap();
    let r = sign_in(&h, "ann", "ann-password-1", "").await;
    assert_eq!(r.status(), 303, "ann signs in");
    // A script admin wrote for ann to review: her to-do, decided from
    // the script's page.
    c.post(
        "/api/v1/policies/COC%20FullAccess/attach",
        &json!({"type": "user", "name": "ann"}),
    )
    .await
    .unwrap();
    let risky = c
        .post(
            "/api/v1/scripts",
            &json!({"name": "wipe-cache", "type": "shell", "content": "rm -rf /var/cache/app\nreboot\n",
                "risk_level": "high", "reviewers": [{"type": "individual", "users": ["ann"]}]}),
        )
        .await
        .unwrap();
    let sid = risky["id"].as_str().unwrap();
    let ann_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let (_, ov) = page(&ann_cookie, &url("/console")).await;
    assert!(
        ov.contains(&format!(
            "<a href=\"/console/scripts/{sid}\">Review script</a> wipe-cache"
        )),
        "{ov}"
    );
    let (_, sp) = page(&ann_cookie, &url(&format!("/console/scripts/{sid}"))).await;
    assert!(sp.contains("id=\"op-approve\""), "{sp}");
    assert!(sp.contains("<h2>High-risk commands</h2>"), "{sp}");
    assert!(
        sp.contains("<td>2</td>") && sp.contains("<code>reboot</code>"),
        "{sp}"
    );
    let approve = [
        ("csrf".to_string(), csrf_of(&sp)),
        ("op".into(), "approve".into()),
    ];
    let (st, loc, t) = post_form(
        &ann_cookie,
        &url(&format!("/console/scripts/{sid}/do")),
        &approve,
    )
    .await;
    assert_eq!(st, 303, "{t}");
    let (_, sp) = page(&ann_cookie, &url(&loc.unwrap())).await;
    assert!(
        sp.contains("Done: approve.") && !sp.contains("id=\"op-approve\""),
        "{sp}"
    );
    let (_, ov) = page(&ann_cookie, &url("/console")).await;
    assert!(ov.contains("No review or approval waits for you."), "{ov}");
    let (_, ov) = page(&cookie, &url("/console")).await;
    // (The script is offered by "Run a script"; the to-dos are one card.)
    let todos = ov
        .split("My to-dos")
        .nth(1)
        .and_then(|x| x.split("</section>").next())
        .unwrap_or_default();
    assert!(!todos.contains("wipe-cache"), "not admin's to-do: {todos}");
    c.post(
        "/api/v1/policies/COC%20FullAccess/detach",
        &json!({"type": "user", "name": "ann"}),
    )
    .await
    .unwrap();
    // Members are added to and removed from a group on its page.
    let sre = c
        .post("/api/v1/groups", &json!({"name": "sre"}))
        .await
        .unwrap();
    let gid = sre["id"].as_str().unwrap();
    let add = url(&format!("/console/groups/{gid}/op/add-member"));
    let (st, form) = page(&cookie, &add).await;
    assert_eq!(st, 200);
    let (st, loc, t) = post_form(&cookie, &add, &with(form_values(&form), "f.user", "ann")).await;
    assert_eq!(st, 303, "{t}");
    assert_eq!(loc.unwrap(), format!("/console/groups/{gid}"));
    let g = c.get(&format!("/api/v1/groups/{gid}"), &[]).await.unwrap();
    assert_eq!(g["members"], json!(["ann"]));
    // A policy attached to the group: the simulator says what ann may do.
    let pol = c
        .post(
            "/api/v1/policies",
            &json!({"name": "readers", "document": {"Version": "1.1",
                "Statement": [{"Effect": "Allow", "Action": ["coc:incident:list"]}]}}),
        )
        .await
        .unwrap();
    let pid = pol["id"].as_str().unwrap();
    // A column with few values is a filter of the list.
    let (_, pl) = page(&cookie, &url("/console/policies")).await;
    assert!(
        pl.contains("<select id=\"is.system\" name=\"is.system\">"),
        "{pl}"
    );
    let (_, pl) = page(&cookie, &url("/console/policies?is.system=no")).await;
    assert!(
        pl.contains(">readers</a>") && !pl.contains("COC FullAccess"),
        "{pl}"
    );
    assert!(pl.contains("<option selected>no</option>"), "{pl}");
    let (_, pl) = page(&cookie, &url("/console/policies?is.system=maybe")).await;
    assert!(pl.contains("Nothing matches the filters."), "{pl}");
    let attach = url(&format!("/console/policies/{pid}/op/attach"));
    let (_, form) = page(&cookie, &attach).await;
    let typed = with(with(form_values(&form), "f.type", "group"), "f.name", "sre");
    let (st, _, t) = post_form(&cookie, &attach, &typed).await;
    assert_eq!(st, 303, "{t}");
    let g = c.get(&format!("/api/v1/groups/{gid}"), &[]).await.unwrap();
    assert_eq!(g["policies"], json!(["readers"]));
    let sim = url(&format!("/console/users/{ann_id}/op/simulate"));
    let (_, form) = page(&cookie, &sim).await;
    assert!(
        form.contains("value=\"ann\""),
        "the user is filled in: {form}"
    );
    let (st, _, t) = post_form(
        &cookie,
        &sim,
        &with(form_values(&form), "f.action", "coc:incident:list"),
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert!(t.contains("allowed by statement 0 of policy"), "{t}");
    let (st, _, t) = post_form(
        &cookie,
        &sim,
        &with(form_values(&form), "f.action", "coc:incident:accept"),
    )
    .await;
    assert_eq!(st, 200, "{t}");
    assert!(t.contains("no statement allowed it"), "{t}");
    let detach = url(&format!("/console/policies/{pid}/op/detach"));
    let (st, _, t) = post_form(&cookie, &detach, &typed).await;
    assert_eq!(st, 303, "{t}");
    let remove = url(&format!("/console/groups/{gid}/op/remove-member"));
    let (st, _, t) = fill_and_send(&cookie, &remove, "f.user", "ann").await;
    assert_eq!(st, 303, "{t}");
    let g = c.get(&format!("/api/v1/groups/{gid}"), &[]).await.unwrap();
    assert_eq!(
        (g["members"].clone(), g["policies"].clone()),
        (json!([]), json!([]))
    );
    // An API token's secret is shown once; it works until revoked from
    // the token's page.
    let new_token = url("/console/tokens/new");
    let (st, loc, t) = fill_and_send(&cookie, &new_token, "f.name", "deploy").await;
    assert_eq!((st, loc), (200, None), "{t}");
    let secret = fact(&t, "secret");
    // No cache keeps a console page (this one holds a secret); the
    // assets may be cached.
    for (path, want) in [
        ("/console/tokens", "no-store"),
        ("/console/assets/app.css", "max-age=300"),
    ] {
        let r = client()
            .get(url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], want, "{path}");
    }
    assert!(secret.len() > 20, "{t}");
    let with_token = || async {
        reqwest::Client::new()
            .get(url("/api/v1/incidents"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(with_token().await, 200);
    let tokens = c.get("/api/v1/tokens", &[]).await.unwrap();
    let tid = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "deploy")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, tp) = page(&cookie, &url(&format!("/console/tokens/{tid}"))).await;
    assert_eq!(st, 200, "{tp}");
    assert!(!tp.contains(&secret), "the secret is not kept");
    assert!(tp.contains(">Revoke</button>"), "{tp}");
    let revoke = [
        ("csrf".to_string(), csrf_of(&tp)),
        ("op".into(), "delete".into()),
    ];
    let (st, _, t) = post_form(&cookie, &url(&format!("/console/tokens/{tid}/do")), &revoke).await;
    assert_eq!(st, 303, "{t}");
    assert_eq!(with_token().await, 401);
    let (st, _) = page(&cookie, &url("/console/tokens/no-such-token")).await;
    assert_eq!(st, 404);
    // An agent enrollment token: shown once, then only its last four.
    let new_enrollment = url("/console/agent-enrollments/new");
    let (st, _, t) = fill_and_send(&cookie, &new_enrollment, "f.name", "east").await;
    assert_eq!(st, 200, "{t}");
    let enrollment = fact(&t, "secret");
    assert!(enrollment.starts_with("coca_"), "{t}");
    let (_, list) = page(&cookie, &url("/console/agent-enrollments")).await;
    assert!(list.contains(&enrollment[enrollment.len() - 4..]), "{list}");
    assert!(!list.contains(&enrollment), "{list}");
    // A log-sharing grant, then revoked.
    let new_grant = url("/console/grants/new");
    let (_, form) = page(&cookie, &new_grant).await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let mut typed = form_values(&form);
    for (k, v) in [
        ("f.kind", "log_share"),
        ("f.grantee_tenant", "default"),
        ("f.grantee_user", "ann"),
        ("f.scope", "audit"),
        ("f.reason", "ticket 42"),
        ("f.expires_at", tomorrow.as_str()),
    ] {
        typed = with(typed, k, v);
    }
    let (st, loc, t) = post_form(&cookie, &new_grant, &typed).await;
    assert_eq!(st, 303, "{t}");
    let (st, gp) = page(&cookie, &url(&loc.clone().unwrap())).await;
    assert_eq!(st, 200, "{gp}");
    assert_eq!(fact(&gp, "reason"), "ticket 42");
    let revoke = [
        ("csrf".to_string(), csrf_of(&gp)),
        ("op".into(), "delete".into()),
    ];
    let (st, _, _) = post_form(&cookie, &url(&format!("{}/do", loc.unwrap())), &revoke).await;
    assert_eq!(st, 303);
    let grants = c.get("/api/v1/grants", &[]).await.unwrap();
    assert!(grants["items"][0]["revoked_at"].is_i64(), "{grants}");
    // A host's tags and enterprise project, edited on its page; the
    // forms start with the current values, and an emptied form clears.
    let host = &hosts[0];
    let host_api = format!("/api/v1/resources/{host}");
    let tags = url(&format!("/console/resources/{host}/op/tags"));
    let (st, _, t) = fill_and_send(&cookie, &tags, "f.tags", "env=prod\nteam=db").await;
    assert_eq!(st, 303, "{t}");
    let got = c.get(&host_api, &[]).await.unwrap();
    assert_eq!(got["tags"], json!({"env": "prod", "team": "db"}));
    let (_, form) = page(&cookie, &tags).await;
    assert!(form.contains("env=prod\nteam=db"), "{form}");
    let (st, _, _) = post_form(&cookie, &tags, &with(form_values(&form), "f.tags", "")).await;
    assert_eq!(st, 303);
    let got = c.get(&host_api, &[]).await.unwrap();
    assert_eq!(got["tags"], json!({}));
    let new_project = url("/console/enterprise-projects/new");
    let (_, form) = page(&cookie, &format!("{new_project}?example")).await;
    let (st, _, t) = post_form(&cookie, &new_project, &form_values(&form)).await;
    assert_eq!(st, 303, "{t}");
    let project = url(&format!("/console/resources/{host}/op/project"));
    let (st, _, t) = fill_and_send(&cookie, &project, "f.name", "payments").await;
    assert_eq!(st, 303, "{t}");
    let got = c.get(&host_api, &[]).await.unwrap();
    assert_eq!(got["enterprise_project"], "payments");
    let (_, form) = page(&cookie, &project).await;
    assert!(form.contains("value=\"payments\""), "{form}");
    let (st, _, t) = post_form(
        &cookie,
        &project,
        &with(form_values(&form), "f.name", "no-such-project"),
    )
    .await;
    assert_eq!(st, 404, "{t}");
    assert!(t.contains("role=\"alert\""), "{t}");
    // Its region; an emptied field clears it.
    let region = url(&format!("/console/resources/{host}/op/region"));
    let (st, _, t) = fill_and_send(&cookie, &region, "f.region", "eu-west-1").await;
    assert_eq!(st, 303, "{t}");
    assert_eq!(c.get(&host_api, &[]).await.unwrap()["region"], "eu-west-1");
    let (_, form) = page(&cookie, &region).await;
    assert!(form.contains("value=\"eu-west-1\""), "{form}");
    let (st, _, _) = post_form(&cookie, &region, &with(form_values(&form), "f.region", "")).await;
    assert_eq!(st, 303);
    assert_eq!(c.get(&host_api, &[]).await.unwrap()["region"], json!(null));
    // A job's tags, without a new version of the job.
    let job = c
        .post(
            "/api/v1/jobs",
            &json!({"name": "tagged", "risk_level": "low", "steps": [{"name": "wait", "tasks": [{"name": "pause",
                "atom": {"type": "sleep", "seconds": 1}}]}]}),
        )
        .await
        .unwrap();
    let jid = job["id"].as_str().unwrap();
    let jt = url(&format!("/console/jobs/{jid}/op/tags"));
    let (st, _, t) = fill_and_send(&cookie, &jt, "f.tags", "tier=1").await;
    assert_eq!(st, 303, "{t}");
    let got = c.get(&format!("/api/v1/jobs/{jid}"), &[]).await.unwrap();
    assert_eq!(
        (got["tags"].clone(), got["version"].clone()),
        (json!({"tier": "1"}), job["version"].clone())
    );
}

#[tokio::test]
async fn incident_page_offers_what_its_status_allows() {
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let c = &h.client;
    let cookie = login(&h).await;
    let inc = c
        .post(
            "/api/v1/incidents",
            &json!({"title": "queue stuck", "level": "P3", "assignee": "admin"}),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.post(
        "/api/v1/plans",
        &json!({"name": "diagnose", "body": {"type": "automation", "action": {"script": "OS-DIAGNOSE"}}}),
    )
    .await
    .unwrap();
    let url = format!("{}/console/incidents/{inc}", h.url());
    let act = format!("{url}/actions");
    let form = |html: &str, action: &str| values_after(html, &format!("id=\"form-{action}\">"));
    let shown = |html: &str| -> Vec<String> {
        html.split("id=\"form-")
            .skip(1)
            .map(|x| x.split('"').next().unwrap().to_string())
            .collect()
    };
    let status = || async {
        c.get(&format!("/api/v1/incidents/{inc}"), &[])
            .await
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (st, p) = page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert_eq!(shown(&p), ["accept", "reject", "forward", "remark", "plan"]);
    assert!(p.contains("No alarm is linked"), "{p}");
    // Refusals come back on their own form, as typed; nothing changes.
    let (st, _, t) = post_form(&cookie, &act, &form(&p, "reject")).await;
    assert_eq!(st, 422, "{t}");
    let refused = t.split("id=\"form-reject\">").nth(1).unwrap();
    assert!(
        refused.contains("role=\"alert\">Reason is required"),
        "{refused}"
    );
    let typed = with(form(&p, "forward"), "f.remark", "kept as typed");
    let (st, _, t) = post_form(&cookie, &act, &with(typed, "f.to", "admin")).await;
    assert_eq!(st, 422, "{t}");
    let refused = t.split("id=\"form-forward\">").nth(1).unwrap();
    assert!(refused.contains("already owned by admin"), "{refused}");
    assert!(refused.contains("value=\"kept as typed\""), "{refused}");
    assert_eq!(status().await, "unaccepted");
    // Accept with a remark: now the handling forms.
    let (st, loc, t) = post_form(
        &cookie,
        &act,
        &with(form(&p, "accept"), "f.remark", "on it"),
    )
    .await;
    assert_eq!(st, 303, "{t}");
    assert_eq!(
        loc.unwrap(),
        format!("/console/incidents/{inc}?done=accept")
    );
    let (_, p) = page(&cookie, &url).await;
    assert_eq!(
        shown(&p),
        ["forward", "change_level", "remark", "resolve", "plan"]
    );
    let typed = with(form(&p, "change_level"), "f.level", "P1");
    let (st, _, t) = post_form(
        &cookie,
        &act,
        &with(typed, "f.reason", "customers affected"),
    )
    .await;
    assert_eq!(st, 303, "{t}");
    // The response plan runs on the host ticked; its ticket page follows
    // and the incident's history links it.
    let typed = with(form(&p, "plan"), "f.hosts", &hosts[0]);
    let (st, loc, t) = post_form(&cookie, &act, &with(typed, "f.plan", "diagnose")).await;
    assert_eq!(st, 303, "{t}");
    let loc = loc.unwrap();
    assert!(loc.starts_with("/console/tickets/"), "{loc}");
    let (st, _) = page(&cookie, &format!("{}{loc}", h.url())).await;
    assert_eq!(st, 200);
    let (_, p) = page(&cookie, &url).await;
    assert!(
        p.contains("upgraded from P3 to P1: customers affected"),
        "{p}"
    );
    assert!(
        p.contains(&format!("(<a href=\"{loc}\">ticket</a>)")),
        "the plan's ticket is in the history: {p}"
    );
    // A plan that runs a job opens the job ticket, linked the same way.
    c.post(
        "/api/v1/jobs",
        &json!({"name": "short-nap", "risk_level": "low", "steps": [{"name": "wait",
            "tasks": [{"name": "pause", "atom": {"type": "sleep", "seconds": 1}}]}]}),
    )
    .await
    .unwrap();
    c.post(
        "/api/v1/plans",
        &json!({"name": "nap", "body": {"type": "automation", "action": {"job": "short-nap"}}}),
    )
    .await
    .unwrap();
    let typed = with(form(&p, "plan"), "f.hosts", &hosts[0]);
    let (st, loc, t) = post_form(&cookie, &act, &with(typed, "f.plan", "nap")).await;
    assert_eq!(st, 303, "{t}");
    let loc = loc.unwrap();
    assert!(loc.starts_with("/console/job-tickets/"), "{loc}");
    let (_, p) = page(&cookie, &url).await;
    assert!(
        p.contains(&format!("(<a href=\"{loc}\">ticket</a>)")),
        "{p}"
    );
    // Resolve; *Verification failed* sends it back, *passed* completes it:
    // two explicit buttons, no box to forget (issue 16, defect 4).
    let resolve = with(form(&p, "resolve"), "f.result", "restarted the consumer");
    let (st, _, t) = post_form(&cookie, &act, &resolve).await;
    assert_eq!(st, 303, "{t}");
    let (_, p) = page(&cookie, &url).await;
    assert_eq!(
        shown(&p),
        ["remark", "verify_passed", "verify_failed", "plan"]
    );
    let failed = with(form(&p, "verify_failed"), "f.remark", "lag is back");
    let (st, _, t) = post_form(&cookie, &act, &failed).await;
    assert_eq!(st, 303, "{t}");
    assert_eq!(status().await, "accepted");
    let (st, _, _) = post_form(&cookie, &act, &resolve).await;
    assert_eq!(st, 303);
    let (_, p) = page(&cookie, &url).await;
    let (st, _, t) = post_form(&cookie, &act, &form(&p, "verify_passed")).await;
    assert_eq!(st, 303, "{t}");
    assert_eq!(status().await, "completed");
    let (_, p) = page(&cookie, &url).await;
    assert!(shown(&p).is_empty(), "{p}");
    assert!(p.contains("Nothing more can be done"), "{p}");
    assert!(p.contains("verification failed") && p.contains("verification passed"));
    // An action the incident does not have is refused.
    let (st, _, _) = post_form(
        &cookie,
        &act,
        &[
            ("csrf".into(), csrf_of(&p)),
            ("action".into(), "explode".into()),
        ],
    )
    .await;
    assert_eq!(st, 400);
}

/// Issue 19 (P1): a patch baseline made in the console's form as a
/// browser sends it (CRLF in textareas, fields left empty): a custom list
/// and exceptions; an installation baseline without its approval rule is
/// refused on the form, and nothing is stored.
#[tokio::test]
async fn a_patch_baseline_is_made_from_the_form() {
    let h = Harness::start(0).await;
    let cookie = login(&h).await;
    let url = format!("{}/console/patch-baselines/new", h.url());
    let (st, form) = page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(form.contains("Custom: patches"), "{form}");
    let fields = form_values(&form);
    let mut custom = fields.clone();
    set_fields(
        &mut custom,
        &[
            ("f.name", " web-custom "),
            ("f.os", "debian"),
            ("f.products", "12, 13"),
            ("f.rules.type", "custom"),
            ("f.rules.patches.0.name", "curl*"),
            ("f.rules.patches.0.version", "7.88.1-10+deb12u5"),
            ("f.rejected", "openssl*\r\nlibssl*\r\n"),
            ("f.host_tags", "tier=web\r\n"),
        ],
    );
    let (st, loc, text) = post_form(&cookie, &url, &custom).await;
    assert_eq!(st, 303, "{text}");
    assert!(loc.unwrap().starts_with("/console/patch-baselines/"));
    let b = h
        .client
        .get("/api/v1/patch-baselines/web-custom", &[])
        .await
        .unwrap();
    assert_eq!(b["products"], json!(["12", "13"]), "{b}");
    assert_eq!(b["rejected"], json!(["openssl*", "libssl*"]), "{b}");
    assert_eq!(b["host_tags"], json!({"tier": "web"}), "{b}");
    assert_eq!(b["rules"]["patches"][0]["name"], "curl*", "{b}");
    let mut rules = fields.clone();
    set_fields(
        &mut rules,
        &[
            ("f.name", "no-rule"),
            ("f.os", "debian"),
            ("f.rules.type", "installation"),
        ],
    );
    let (st, _, text) = post_form(&cookie, &url, &rules).await;
    assert_eq!(st, 422, "the form again, with the error");
    assert!(text.contains("approval"), "{text}");
    assert!(
        h.client
            .get("/api/v1/patch-baselines/no-rule", &[])
            .await
            .is_err()
    );
}

/// Issue 19 (P2): the repair form as a browser sends it (a host ticked,
/// the baseline and the batch size left empty, reboot unticked) starts a
/// repair ticket and goes to it; a scan without a host is refused on the
/// form and starts nothing.
#[tokio::test]
async fn patch_work_is_started_from_the_forms() {
    let h = Harness::start(0).await;
    let host = crate::harness::fake_host(&h, "db-7").await;
    let cookie = login(&h).await;
    let url = format!("{}/console/patch-repairs/new", h.url());
    let (st, form) = page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(form.contains("Allow restart"), "{form}");
    let mut fields = form_values(&form);
    fields.push(("f.hosts".into(), host.clone()));
    let (st, loc, text) = post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    let loc = loc.unwrap();
    assert!(loc.starts_with("/console/job-tickets/"), "{loc}");
    let id = loc.trim_start_matches("/console/job-tickets/");
    let t = h
        .client
        .get(&format!("/api/v1/job-tickets/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(t["job_name"], "COC-Patch-Repair", "{t}");
    let before = h.client.get("/api/v1/job-tickets", &[]).await.unwrap();
    let url = format!("{}/console/patch-scans/new", h.url());
    let (_, form) = page(&cookie, &url).await;
    let (st, _, text) = post_form(&cookie, &url, &form_values(&form)).await;
    assert_eq!(st, 422, "{text}");
    assert!(text.contains("Hosts is required"), "{text}");
    let after = h.client.get("/api/v1/job-tickets", &[]).await.unwrap();
    assert_eq!(
        before["items"].as_array().unwrap().len(),
        after["items"].as_array().unwrap().len()
    );
}

/// Issue 19 (P4): the database operation form as a browser sends it (the
/// action chosen, a database ticked, batch fields left empty) starts a
/// ticket on the database's host and goes to it.
#[tokio::test]
async fn a_database_restart_is_started_from_the_form() {
    let h = Harness::start(0).await;
    let host = crate::harness::fake_host(&h, "db-host").await;
    let db = h
        .client
        .post(
            "/api/v1/resources",
            &json!({"type": "database", "name": "orders-db", "host": host,
                    "attributes": {"service": "postgresql@15-orders"}}),
        )
        .await
        .unwrap();
    let cookie = login(&h).await;
    let url = format!("{}/console/resource-operations/new", h.url());
    let (st, form) = page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(
        form.contains("orders-db"),
        "the database is offered: {form}"
    );
    let mut fields = form_values(&form);
    set_fields(&mut fields, &[("f.action", "restart")]);
    fields.push(("f.resources".into(), db["id"].as_str().unwrap().into()));
    let (st, loc, text) = post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    let loc = loc.unwrap();
    assert!(loc.starts_with("/console/tickets/"), "{loc}");
    let t = h
        .client
        .get(
            &format!(
                "/api/v1/tickets/{}",
                loc.trim_start_matches("/console/tickets/")
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(t["script_name"], "COC-SERVICE", "{t}");
    assert_eq!(t["tasks"][0]["host_id"], host.as_str(), "{t}");
}
