//! The console in a real browser: headless Chromium driven over the W3C
//! WebDriver protocol by chromedriver (Debian packages `chromium` and
//! `chromium-driver`, installed by `.ci/run`). Log in, see the incident an
//! ingested alarm created, accept it, run a script on the local agent and
//! watch its output arrive live, and save screenshots of the overview and
//! of the ticket page under `target/test-artifacts/`. A second session,
//! with JavaScript off, uses only the keyboard: log in, follow the skip
//! link, and fill in and send a New form.
//!
//! Without chromedriver the test is skipped with a notice, except with
//! `CI=true`, where it fails.
//!
//! The client is a few WebDriver calls over reqwest (already a
//! dependency); the protocol is plain JSON over HTTP.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::Harness;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(cmd: &str) -> Option<String> {
    std::env::var("PATH").ok()?.split(':').find_map(|d| {
        let p = std::path::Path::new(d).join(cmd);
        p.exists().then(|| p.to_string_lossy().to_string())
    })
}

impl Driver {
    /// A headless Chromium session; `js: false` turns JavaScript off
    /// (Chromium's content setting), as a user without scripts has it.
    async fn start(js: bool) -> Option<Driver> {
        coc_client::install_crypto();
        let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromedriver and chromium are required in CI"
            );
            eprintln!("SKIPPED browser test: chromedriver or chromium not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut d = Driver {
            child,
            http,
            base,
            session: String::new(),
        };
        for _ in 0..100 {
            if let Ok(r) = d.http.get(format!("{}/status", d.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let prefs = if js {
            json!({})
        } else {
            json!({"profile.managed_default_content_settings.javascript": 2})
        };
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "prefs": prefs, "args": ["--headless=new",
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1440,900"]}}}});
        let v = d.call("POST", "/session", Some(caps)).await;
        d.session = v["sessionId"].as_str().expect("a session").to_string();
        Some(d)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// A WebDriver call; the protocol's error as `Err`.
    async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let rb = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let v: Value = rb.send().await.unwrap().json().await.unwrap();
        if v["value"]["error"].is_null() {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].clone())
        }
    }

    /// The text of `css`, or `None` while the page is changing (no such
    /// element, stale element).
    async fn try_text(&self, css: &str) -> Option<String> {
        let v = self
            .try_call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        let e = v[ELEMENT].as_str()?.to_string();
        let t = self
            .try_call("GET", &format!("/element/{e}/text"), None)
            .await
            .ok()?;
        Some(t.as_str().unwrap_or("").to_string())
    }

    async fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn el(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    /// Asserts that the page at a 390 px wide window (a phone) needs no
    /// sideways scrolling, saving a screenshot as `name`; the window is
    /// 1440×900 again afterwards.
    async fn fits_a_phone(&self, name: &str) {
        self.window(390, 844).await;
        self.screenshot(name).await;
        let wide = self
            .call(
                "POST",
                "/execute/sync",
                Some(json!({"script": "return document.documentElement.scrollWidth > window.innerWidth", "args": []})),
            )
            .await;
        self.window(1440, 900).await;
        assert_eq!(wide, json!(false), "{name}: no sideways scroll at 390 px");
    }

    /// The text of the element at `css` now.
    async fn el_text(&self, css: &str) -> String {
        self.try_text(css).await.unwrap_or_default()
    }

    async fn type_in(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.el(css).await;
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})))
            .await;
    }

    /// Presses keys as a keyboard does (WebDriver actions): each char of
    /// `keys` down and up, WebDriver key codes included (`\u{E004}` Tab,
    /// `\u{E007}` Enter).
    async fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                let k = k.to_string();
                [
                    json!({"type": "keyDown", "value": k}),
                    json!({"type": "keyUp", "value": k}),
                ]
            })
            .collect();
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    /// The `id` (or, without one, the text) of the focused element.
    async fn focused(&self) -> String {
        let v = self.call("GET", "/element/active", None).await;
        let e = v[ELEMENT].as_str().unwrap().to_string();
        let id = self
            .call("GET", &format!("/element/{e}/attribute/id"), None)
            .await;
        match id.as_str() {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => self
                .call("GET", &format!("/element/{e}/text"), None)
                .await
                .as_str()
                .unwrap_or("")
                .to_string(),
        }
    }

    /// Presses Tab until the element with `id` has the focus (≤ `most`
    /// presses); fails when it never does.
    async fn tab_to(&self, id: &str, most: usize) {
        for _ in 0..most {
            if self.focused().await == id {
                return;
            }
            self.press("\u{E004}").await;
        }
        panic!("#{id} is not reachable with Tab");
    }

    async fn displayed(&self, css: &str) -> bool {
        let e = self.el(css).await;
        self.call("GET", &format!("/element/{e}/displayed"), None)
            .await
            .as_bool()
            .unwrap()
    }

    /// Picks the option labelled `label` of the `<select>` at `css` with
    /// the keyboard, as a person does: focus it, type the label.
    async fn choose(&self, css: &str, label: &str) {
        let e = self.el(css).await;
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": label })),
        )
        .await;
        let got = self
            .call(
                "POST",
                "/execute/sync",
                Some(json!({"script": "const s = document.querySelector(arguments[0]); return s.options[s.selectedIndex].text;", "args": [css]})),
            )
            .await;
        assert_eq!(got, label, "{css} shows {label}");
    }

    /// Sets a date or time input's value as its picker does (typing into
    /// them depends on the browser's locale).
    async fn pick(&self, css: &str, value: &str) {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "const e = document.querySelector(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('change', {bubbles: true}));", "args": [css, value]})),
        )
        .await;
    }

    /// Resizes the window (CSS pixels).
    async fn window(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Signs in as the harness's admin at `base` and waits for the overview.
    async fn log_in(&self, base: &str) {
        self.go(&format!("{base}/console/login")).await;
        self.type_in("#username", "admin").await;
        self.type_in("#password", "admin-password-1").await;
        self.click("button[type=submit]").await;
        self.wait_text("h1", |t| t == "Overview").await;
    }

    async fn source(&self) -> String {
        self.call("GET", "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Waits (≤ 20 s) until `css`'s text satisfies `pred`; returns it.
    async fn wait_text(&self, css: &str, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let t = self.try_text(css).await.unwrap_or_default();
            if pred(&t) {
                return t;
            }
            assert!(Instant::now() < end, "{css} never matched; last: {t:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current value of the input at `css` (what is typed, not the
    /// page's source).
    async fn value(&self, css: &str) -> String {
        let e = self.el(css).await;
        self.call("GET", &format!("/element/{e}/property/value"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (≤ 20 s) until the value of the input at `css` is `want`.
    async fn wait_value(&self, css: &str, want: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.value(css).await;
            if v == want {
                return;
            }
            assert!(Instant::now() < end, "{css} is {v:?}, not {want:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        let b64 = self.call("GET", "/screenshot", None).await;
        let png = decode_base64(b64.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, png).unwrap();
        p
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_flow_in_headless_chromium() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    h.wait_hosts(1).await;
    let c = &h.client;
    let integ = c
        .post(
            "/api/v1/integrations",
            &json!({"name": "prom", "type": "alertmanager"}),
        )
        .await
        .unwrap();
    c.post(
        "/api/v1/forwarding-rules",
        &json!({"name": "cpu", "incident_level": "P1", "assignee": "admin",
            "conditions": [{"field": "alarmName", "op": "equals", "value": "HighCpu"}]}),
    )
    .await
    .unwrap();
    c.post_raw(
        &format!("/ingest/{}/api/v2/alerts", integ["key"].as_str().unwrap()),
        br#"[{"labels":{"alertname":"HighCpu","instance":"web-1:9100","severity":"critical"}}]"#
            .to_vec(),
    )
    .await
    .unwrap();
    let inc = c.get("/api/v1/incidents", &[]).await.unwrap()["items"][0].clone();
    let sid = h
        .script("slow-hello", "echo first-line; sleep 2; echo second-line")
        .await;
    let host_name = c
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap()["items"][0]["hostname"]
        .as_str()
        .unwrap()
        .to_string();

    // Log in.
    d.go(&format!("{}/console", h.url())).await;
    assert!(
        d.url().await.contains("/console/login"),
        "sent to the login page"
    );
    d.type_in("#username", "admin").await;
    d.type_in("#password", "admin-password-1").await;
    d.click("button[type=submit]").await;
    d.wait_text("h1", |t| t == "Overview").await;
    let home = d.source().await;
    assert!(
        home.contains(inc["number"].as_str().unwrap()),
        "the incident waits for me"
    );
    assert!(home.contains("data-js=\"on\""), "the script ran");
    assert!(d.displayed("[data-action=refresh]").await);
    let shot = d.screenshot("overview.png").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    // Open the incident from the overview and accept it.
    d.click(&format!(
        "a[href='/console/incidents/{}']",
        inc["id"].as_str().unwrap()
    ))
    .await;
    d.wait_text("#incident-status", |t| t == "unaccepted").await;
    // The action bar: each action opens its form.
    assert!(
        !d.displayed("#accept").await,
        "forms stay closed until asked"
    );
    d.click("#act-accept > summary").await;
    d.click("#accept").await;
    d.wait_text("#incident-status", |t| t == "accepted").await;
    assert!(d.source().await.contains("Done: accept."));
    // The forwarding rule that raised it is named and linked.
    assert_eq!(d.el_text("#incident-rule").await, "cpu");
    d.screenshot("incident.png").await;
    d.fits_a_phone("incident-alarms-phone.png").await;

    // Run a script on the local agent and watch the output arrive.
    d.go(&format!("{}/console/scripts/{sid}", h.url())).await;
    d.click("input[name=host]").await;
    d.click("#run-button").await;
    // The ticket page follows (the script page's heading names the
    // script too: wait for the ticket's status instead).
    d.wait_text("#ticket-status", |t| !t.is_empty()).await;
    assert!(d.url().await.contains("/console/tickets/"));
    assert!(
        d.try_text("h1")
            .await
            .unwrap_or_default()
            .contains("slow-hello")
    );
    d.wait_text(".out", |t| t.contains("first-line")).await;
    d.wait_text(".out", |t| t.contains("second-line")).await;
    d.wait_text("#ticket-status", |t| t == "successful").await;
    // The finished ticket's actions follow without a reload: no Pause.
    d.wait_text("#ticket-actions", |t| !t.contains("Pause"))
        .await;
    let row = d.wait_text("#tasks tbody", |t| !t.is_empty()).await;
    assert!(row.contains(&host_name), "rows name the host: {row}");
    d.screenshot("ticket.png").await;

    // A job ticket streams too: its run's output arrives; the approval a
    // later step asks for appears without a reload and is decided on the
    // page; the last step's rows are added as it starts.
    c.post(
        "/api/v1/jobs",
        &json!({"name": "three-steps", "risk_level": "low", "steps": [
            {"name": "first", "tasks": [{"name": "slow", "atom": {"type": "script", "script": "slow-hello"}}]},
            {"name": "gate", "tasks": [{"name": "ask-admin", "atom": {"type": "approval",
                "reviewers": [{"type": "individual", "users": ["admin"]}]}}]},
            {"name": "third", "tasks": [{"name": "again", "atom": {"type": "script", "script": "slow-hello"}}]}]}),
    )
    .await
    .unwrap();
    let host = h.wait_hosts(1).await[0].clone();
    let jt = c
        .post(
            "/api/v1/jobs/three-steps/execute",
            &json!({"hosts": [host]}),
        )
        .await
        .unwrap();
    d.go(&format!(
        "{}/console/job-tickets/{}",
        h.url(),
        jt["id"].as_str().unwrap()
    ))
    .await;
    d.wait_text("#tasks", |t| t.contains("first-line")).await;
    d.wait_text("#progress", |t| t.contains("step 2 · ask-admin pending"))
        .await;
    d.click("#approve-1-0").await;
    d.wait_text("#ticket-status", |t| t == "successful").await;
    let rows = d
        .wait_text("#tasks", |t| t.matches("second-line").count() == 2)
        .await;
    assert!(rows.contains("step 3"), "{rows}");
    d.wait_text("#steps", |t| t.contains("3. third successful"))
        .await;
    assert!(
        d.try_text("#approvals")
            .await
            .unwrap_or_default()
            .contains("by admin at"),
        "the decision stays on the page"
    );
    d.call("DELETE", "", None).await;
}

/// Without JavaScript and with the keyboard only: log in, skip to the
/// content, read the overview, and fill in and send a New form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_without_javascript() {
    let Some(d) = Driver::start(false).await else {
        return;
    };
    let h = Harness::start(0).await;
    d.go(&format!("{}/console", h.url())).await;
    d.tab_to("username", 10).await;
    d.press("admin").await;
    d.press("\u{E004}").await;
    assert_eq!(d.focused().await, "password");
    d.press("admin-password-1\u{E007}").await;
    d.wait_text("h1", |t| t == "Overview").await;
    let home = d.source().await;
    assert!(!home.contains("data-js"), "no script ran");
    assert!(
        !d.displayed("[data-action=refresh]").await,
        "a control that needs the script is hidden without it"
    );
    // The first Tab reaches the skip link; Enter follows it.
    d.press("\u{E004}").await;
    assert_eq!(d.focused().await, "Skip to content");
    d.press("\u{E007}").await;
    assert!(d.url().await.ends_with("#main"));
    // A New form, filled with its example, sent with Enter on its button.
    d.go(&format!("{}/console/parameters/new", h.url())).await;
    d.tab_to("example", 80).await;
    d.press("\u{E007}").await;
    d.wait_text("h1", |t| t.starts_with("New")).await;
    assert!(d.url().await.ends_with("?example"));
    d.tab_to("f-name", 80).await;
    // Tab selects the field's text: End keeps it and appends.
    d.press("\u{E010}/keyboard").await;
    d.tab_to("save", 80).await;
    d.press("\u{E007}").await;
    d.wait_text("h1", |t| t == "db/host/keyboard").await;
    let c = &h.client;
    let params = c.get("/api/v1/parameters", &[]).await.unwrap();
    assert!(
        params["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "db/host/keyboard" && p["value"] == "10.0.0.5"),
        "{params}"
    );
    d.call("DELETE", "", None).await;
}

/// Issue 16, defect 1: a shell script typed into the console's form — the
/// browser sends its textarea with CRLF line ends — is stored with LF and
/// runs: `head -n "$N"` gets `6`, not `6\r`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_saved_in_the_console_runs() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    h.wait_hosts(1).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/scripts/new", h.url())).await;
    d.type_in("[name='f.name']", "sixth-line").await;
    d.click("#f-type option:nth-child(2)").await;
    d.click("#f-risk_level option:nth-child(2)").await;
    d.type_in(
        "[name='f.content']",
        "N=6\nseq 1 10 | head -n \"$N\" | tail -n 1\necho done",
    )
    .await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("sixth-line")).await;
    let stored = h
        .client
        .get("/api/v1/scripts/sixth-line", &[])
        .await
        .unwrap();
    let content = stored["content"].as_str().unwrap();
    assert_eq!(
        content, "N=6\nseq 1 10 | head -n \"$N\" | tail -n 1\necho done",
        "stored with LF"
    );
    d.go(&format!(
        "{}/console/scripts/{}",
        h.url(),
        stored["id"].as_str().unwrap()
    ))
    .await;
    d.click("input[name=host]").await;
    d.click("#run-button").await;
    d.wait_text("#ticket-status", |t| t == "successful" || t == "failed")
        .await;
    // The page shows the run's output (streamed, then as stored) …
    d.wait_text(".out", |t| t.contains("done")).await;
    // … and the API has it whole once the ticket ended.
    let url = d.url().await;
    let tid = url.rsplit('/').next().unwrap().to_string();
    let ticket = h
        .client
        .get(&format!("/api/v1/tickets/{tid}"), &[])
        .await
        .unwrap();
    let out = ticket["tasks"][0]["output"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(ticket["status"], "successful", "{ticket}");
    assert!(out.contains("done"), "{out}");
    assert!(out.lines().any(|l| l.trim() == "6"), "{out}");
    assert!(!out.contains("invalid number"), "{out}");
    d.screenshot("script-saved-in-console.png").await;
    d.call("DELETE", "", None).await;
}

/// The first 64-hex-digit word of `text` (an integration key).
fn hex_key(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .map(str::to_string)
}

/// A generic integration's field mapping from the console: the form's
/// field=pointer lines (typed as a person types them, submitted with CRLF)
/// make the sender's own JSON an alarm; Modify changes the mapping. The
/// integration answers senders once their alarms are logged
/// (`acknowledge: received`, chosen in the form's select).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_mapping_is_made_and_modified_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/integrations/new", h.url())).await;
    d.type_in("[name='f.name']", "shop-webhook").await;
    d.choose("#f-type", "generic").await;
    d.type_in("#f-mapping-items", "/alerts").await;
    d.type_in(
        "#f-mapping-fields",
        "alarmName=/title\nalarmLevel=/priority\nresourceName=/host",
    )
    .await;
    d.type_in("#f-mapping-levels", "P1=critical\nP2=major")
        .await;
    d.choose("#f-acknowledge", "received").await;
    d.screenshot("integration-mapping-form.png").await;
    d.click("#save").await;
    let page = d.wait_text("main", |t| t.contains("shown once")).await;
    let key = hex_key(&page).expect("the key is on the page");
    let body = br#"{"alerts": [{"title": "Checkout slow", "priority": "P2", "host": "shop-01"}]}"#;
    h.client
        .post_raw(&format!("/ingest/{key}/generic"), body.to_vec())
        .await
        .unwrap();
    // Answered once logged: the alarm is applied right behind.
    let alarms = h
        .wait_until("/api/v1/alarms", "the mapped alarm", |v| {
            v["items"].as_array().is_some_and(|i| i.len() == 1)
        })
        .await;
    assert_eq!(alarms["items"][0]["name"], "Checkout slow");
    assert_eq!(alarms["items"][0]["level"], "Major");
    assert_eq!(alarms["items"][0]["resource_name"], "shop-01");
    let listed = h.client.get("/api/v1/integrations", &[]).await.unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();
    d.go(&format!("{}/console/integrations/{id}/edit", h.url()))
        .await;
    let fields = d.el_text("#f-mapping-fields").await;
    assert!(fields.contains("alarmName=/title"), "{fields}");
    let e = d.el("#f-mapping-fields").await;
    d.call("POST", &format!("/element/{e}/clear"), Some(json!({})))
        .await;
    d.type_in("#f-mapping-fields", "alarmName=/summary").await;
    d.click("#save").await;
    d.wait_text("main", |t| t.contains("/summary")).await;
    d.screenshot("integration-mapping-record.png").await;
    let got = h
        .client
        .get(&format!("/api/v1/integrations/{id}"), &[])
        .await
        .unwrap();
    assert_eq!(
        got["mapping"]["fields"],
        serde_json::json!({"alarmName": "/summary"})
    );
    assert_eq!(
        got["mapping"]["levels"]["P2"], "major",
        "unchanged lines stay"
    );
    assert_eq!(got["acknowledge"], "received", "chosen in the form, kept");
}
/// Handling an alarm from its page (I1): *Run a script on its host*, a
/// script picked by name (its parameters offered), lands on the ticket,
/// which runs on the alarm's host through the real agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_is_handled_from_its_page() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    h.wait_hosts(1).await;
    let hosts = h
        .client
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap();
    let hostname = hosts["items"][0]["hostname"].as_str().unwrap().to_string();
    h.script("restart", "echo \"restarting $SERVICE\"").await;
    let key = h.alertmanager_key().await;
    let body =
        json!([{"labels": {"alertname": "ServiceDown", "instance": format!("{hostname}:9100")}}]);
    h.client
        .post_raw(
            &format!("/ingest/{key}/api/v2/alerts"),
            serde_json::to_vec(&body).unwrap(),
        )
        .await
        .unwrap();
    let alarms = h.client.get("/api/v1/alarms", &[]).await.unwrap();
    let id = alarms["items"][0]["id"].as_str().unwrap().to_string();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/alarms/{id}", h.url())).await;
    d.click(&format!("a[href='/console/alarms/{id}/op/handle-script']"))
        .await;
    d.choose("#f-script", "restart").await;
    d.wait_value("#f-params", "SERVICE=nginx").await;
    d.screenshot("alarm-handle-form.png").await;
    d.click("#save").await;
    let status = d
        .wait_text("#ticket-status", |t| t == "successful" || t == "failed")
        .await;
    assert_eq!(status, "successful");
    d.screenshot("alarm-handled-ticket.png").await;
    let history = h
        .client
        .get(&format!("/api/v1/alarms/{id}/history"), &[])
        .await
        .unwrap();
    assert_eq!(
        history.as_array().unwrap().last().unwrap()["kind"],
        "handled"
    );
}

/// Issue 16, defect 3: an integration created in the console shows its
/// key once (and the key works); *Reset access key* first asks on a page
/// of its own, then shows the new key once, and the old one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_key_is_shown_once_and_reset_asks_first() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/integrations/new", h.url())).await;
    d.type_in("[name='f.name']", "prometheus").await;
    d.click("#f-type option:nth-child(2)").await;
    d.click("#save").await;
    let page = d.wait_text("main", |t| t.contains("shown once")).await;
    let key = hex_key(&page).expect("the key is on the page");
    let alert = br#"[{"labels":{"alertname":"KeyCheck","instance":"web-1:9100"}}]"#.to_vec();
    let ingest = |k: String| {
        let c = h.client.clone();
        let body = alert.clone();
        async move {
            c.post_raw(&format!("/ingest/{k}/api/v2/alerts"), body)
                .await
                .is_ok()
        }
    };
    assert!(ingest(key.clone()).await, "the shown key is the key");
    // The setup page: ingest URLs and snippets to paste, with the key.
    let yml = d.try_text("#prometheus-yml").await.unwrap();
    assert!(
        yml.contains(&format!("path_prefix: /ingest/{key}")),
        "{yml}"
    );
    let am = d.try_text("#alertmanager-yml").await.unwrap();
    assert!(
        am.contains(&format!("{}/ingest/{key}/alertmanager", h.url())),
        "{am}"
    );
    // The snippet is a configuration real Prometheus accepts.
    if let Some(promtool) = find("promtool") {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("prometheus.yml");
        std::fs::write(&f, format!("{yml}\n")).unwrap();
        let out = std::process::Command::new(promtool)
            .args(["check", "config"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is needed in CI"
        );
    }
    d.screenshot("integration-key.png").await;
    // Send test alarm: it arrives like a real one.
    d.click("#send-test").await;
    d.wait_text("main", |t| t.contains("accepted")).await;
    let alarms = h
        .client
        .get("/api/v1/alarms", &[("limit", "10".into())])
        .await
        .unwrap();
    assert!(alarms.to_string().contains("COCTestAlarm"), "{alarms}");

    let id = h.client.get("/api/v1/integrations", &[]).await.unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.go(&format!("{}/console/integrations/{id}", h.url()))
        .await;
    let facts = d.wait_text("main", |t| t.contains("prometheus")).await;
    assert!(facts.to_lowercase().contains("last alarm"), "{facts}");
    d.click(&format!(
        "a[href='/console/integrations/{id}/op/rotate-key']"
    ))
    .await;
    let ask = d.wait_text("main", |t| t.contains("refused")).await;
    assert!(ask.contains("shown once"), "{ask}");
    assert!(ingest(key.clone()).await, "asking changed nothing");
    d.click("main form button[type=submit]").await;
    let page = d
        .wait_text("main", |t| t.contains("shown once") && hex_key(t).is_some())
        .await;
    let new_key = hex_key(&page).unwrap();
    assert_ne!(new_key, key);
    assert!(!ingest(key).await, "the old key is refused");
    assert!(ingest(new_key).await, "the new key works");
    d.call("DELETE", "", None).await;
}

/// Issue 16, defect 4: accept with a remark, record the handling result,
/// and press *Verification passed* — the incident completes (no box to
/// tick), and both remarks stand in its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_flow_keeps_remarks_and_verification_passes_by_its_button() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let inc = h
        .client
        .post(
            "/api/v1/incidents",
            &json!({"title": "queue lag", "level": "P2", "assignee": "admin"}),
        )
        .await
        .unwrap();
    let id = inc["id"].as_str().unwrap().to_string();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/incidents/{id}", h.url())).await;
    d.wait_text("#incident-status", |t| t == "unaccepted").await;
    assert_eq!(d.el_text("#incident-tta").await, "not yet");
    d.click("#act-accept > summary").await;
    d.type_in("#accept-f-remark", "looking at the consumer")
        .await;
    d.click("#accept").await;
    d.wait_text("#incident-status", |t| t == "accepted").await;
    // Time to acknowledge is counted; time to resolve not yet.
    let tta = d.el_text("#incident-tta").await;
    assert!(tta.ends_with(" s") || tta.contains("min"), "{tta}");
    assert_eq!(d.el_text("#incident-ttr").await, "not yet");
    d.click("#act-resolve > summary").await;
    d.type_in("#resolve-f-result", "restarted the consumer")
        .await;
    d.click("#resolve").await;
    d.wait_text("#incident-status", |t| t == "to_be_verified")
        .await;
    assert!(
        d.displayed("#act-verify_passed > summary").await
            && d.displayed("#act-verify_failed > summary").await,
        "both outcomes are offered"
    );
    assert_ne!(d.el_text("#incident-ttr").await, "not yet");
    d.click("#act-verify_passed > summary").await;
    d.type_in("#verify_passed-f-remark", "lag stays at zero")
        .await;
    d.click("#verify_passed").await;
    d.wait_text("#incident-status", |t| t == "completed").await;
    let history = d
        .wait_text(".timeline", |t| t.contains("verification"))
        .await;
    assert!(history.contains("looking at the consumer"), "{history}");
    assert!(history.contains("lag stays at zero"), "{history}");
    d.screenshot("incident-verified.png").await;
    d.fits_a_phone("incident-phone.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 16, defect 5: an alarm's page shows its history (the API answers
/// it as a bare list) and first and last seen as dates, not Unix ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_page_shows_its_history_and_dates() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let c = &h.client;
    let key = &h.alertmanager_key().await;
    // Sent three times, as Prometheus resends: one alarm, three
    // original alarms (ref. 7.2.2).
    for pct in [91, 95, 97] {
        c.post_raw(
            &format!("/ingest/{key}/api/v2/alerts"),
            format!(
                r#"[{{"labels":{{"alertname":"DiskFull","instance":"db-1:9100"}},"annotations":{{"description":"disk at {pct}%"}}}}]"#
            )
            .into_bytes(),
        )
        .await
        .unwrap();
    }
    let alarm = c.get("/api/v1/alarms", &[]).await.unwrap()["items"][0].clone();
    assert_eq!(alarm["occurrences"], 3);
    let history = c
        .get(
            &format!("/api/v1/alarms/{}/history", alarm["id"].as_str().unwrap()),
            &[],
        )
        .await
        .unwrap();
    assert!(!history.as_array().unwrap().is_empty());
    d.log_in(&h.url()).await;
    d.go(&format!(
        "{}/console/alarms/{}",
        h.url(),
        alarm["id"].as_str().unwrap()
    ))
    .await;
    let main = d.wait_text("main", |t| t.contains("DiskFull")).await;
    assert!(!main.contains("None yet"), "history is shown: {main}");
    let first_seen = alarm["first_seen"].as_i64().unwrap().to_string();
    assert!(!main.contains(&first_seen), "no Unix ms: {main}");
    assert!(main.contains("UTC"), "{main}");
    let original = main
        .split("Original alarms")
        .nth(1)
        .unwrap_or_else(|| panic!("no original alarms: {main}"));
    let (p97, p95, p91) = (
        original.find("disk at 97%").unwrap(),
        original.find("disk at 95%").unwrap(),
        original.find("disk at 91%").unwrap(),
    );
    assert!(p97 < p95 && p95 < p91, "newest first: {original}");
    d.screenshot("alarm.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 16, defect 6: a run sent without a host stays on the script's
/// page with the reason on the form and what was typed kept; with a host
/// it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_script_run_keeps_the_form_and_says_why() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    h.wait_hosts(1).await;
    let s = h
        .client
        .post(
            "/api/v1/scripts",
            &json!({"name": "greet", "type": "shell", "risk_level": "low",
                "content": "echo \"hello $WHO\"", "params": [{"name": "WHO"}]}),
        )
        .await
        .unwrap();
    let sid = s["id"].as_str().unwrap();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/scripts/{sid}", h.url())).await;
    d.type_in("#p-WHO", "team").await;
    d.click("#run-button").await;
    let why = d.wait_text("#run-error", |t| !t.is_empty()).await;
    assert!(why.contains("host"), "{why}");
    assert!(d.url().await.contains(&format!("/console/scripts/{sid}")));
    let kept = d
        .call(
            "GET",
            &format!("/element/{}/property/value", d.el("#p-WHO").await),
            None,
        )
        .await;
    assert_eq!(kept, "team", "the typed value is kept");
    d.screenshot("script-run-refused.png").await;
    d.click("input[name=host]").await;
    d.click("#run-button").await;
    d.wait_text("#ticket-status", |t| t == "successful").await;
    d.wait_text(".out", |t| t.contains("hello team")).await;
    d.call("DELETE", "", None).await;
}

/// A script ticket's page opened while a later batch's host has no run
/// yet: that host's row takes its run's live output (it used to get a
/// second row, and the first stayed empty — seen in CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_page_opened_before_a_batch_starts_shows_its_output() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(2).await;
    let hosts = h.wait_hosts(2).await;
    let sid = h
        .script("slow-hello", "sleep 1; echo hello-from-the-host")
        .await;
    d.log_in(&h.url()).await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{sid}/execute"),
            &json!({"hosts": hosts, "batch_policy": "manual",
                "batches": [[hosts[0]], [hosts[1]]]}),
        )
        .await
        .unwrap();
    let tid = t["id"].as_str().unwrap();
    d.go(&format!("{}/console/tickets/{tid}", h.url())).await;
    let before = d.source().await;
    assert_eq!(before.matches("data-host=").count(), 2, "one row per host");
    d.wait_text("#ticket-status", |t| t == "successful").await;
    for n in [1, 2] {
        d.wait_text(&format!("#tasks tbody tr:nth-child({n}) .out"), |t| {
            t.contains("hello-from-the-host")
        })
        .await;
    }
    assert!(
        d.try_text("#tasks tbody tr:nth-child(3)").await.is_none(),
        "no second row for a host"
    );
    d.call("DELETE", "", None).await;
}

/// Issue 16: a weekly rotation of three people is set up in one form; the
/// calendar shows the handoffs at Monday 09:00 Berlin time on both sides
/// of the change to winter time, and "who is on call" agrees at 10
/// instants over four weeks. An unknown name typed into the form is
/// refused on the form, as typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_rotation_of_three_is_set_up_in_one_form() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    for u in ["ann", "bob", "cid"] {
        h.client
            .post("/api/v1/users", &json!({"name": u}))
            .await
            .unwrap();
    }
    d.window(1440, 900).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/oncall", h.url())).await;
    d.click("#new-rotation").await;
    d.wait_text("h1", |t| t == "New on-call rotation").await;
    d.type_in("#scenario", "payments").await;
    d.choose("#timezone", "Europe/Berlin").await;
    d.choose("#participant-1", "ann").await;
    d.choose("#participant-2", "bob").await;
    d.choose("#participant-3", "cid").await;
    d.pick("#start", "2026-10-14").await;
    // Defaults: 1 week, Monday, 09:00.
    d.screenshot("rotation-form-1440.png").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t == "payments · oncall").await;
    d.go(&format!(
        "{}/console/oncall/calendar?scenario=payments&role=oncall&from=2026-10-19",
        h.url()
    ))
    .await;
    let day = |date: &str| format!("#calendar td[data-date='{date}']");
    let first = d.wait_text(&day("2026-10-19"), |t| t.contains("ann")).await;
    assert!(first.contains("ann 09:00–"), "{first}");
    let handoff = d.try_text(&day("2026-10-26")).await.unwrap();
    assert!(
        handoff.contains("ann –09:00") && handoff.contains("bob 09:00–"),
        "{handoff}"
    );
    let mid = d.try_text(&day("2026-10-29")).await.unwrap();
    assert!(mid.contains("bob all day"), "{mid}");
    let third = d.try_text(&day("2026-11-02")).await.unwrap();
    assert!(third.contains("cid 09:00–"), "{third}");
    d.screenshot("rotation-calendar-1440.png").await;
    d.window(390, 844).await;
    d.screenshot("rotation-calendar-390.png").await;
    let wide = d
        .call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return document.documentElement.scrollWidth > window.innerWidth;", "args": []})),
        )
        .await;
    assert_eq!(
        wide, false,
        "the calendar does not scroll sideways at 390 px"
    );
    d.window(1440, 900).await;
    // Subscribe: a calendar app's URL, shown once, serving the turns.
    d.click("#subscribe").await;
    d.wait_text("h1", |t| t.starts_with("Calendar subscription"))
        .await;
    let url = d
        .call(
            "GET",
            &format!("/element/{}/property/value", d.el("#feed-url").await),
            None,
        )
        .await;
    let url = url.as_str().unwrap();
    assert!(url.starts_with(&h.url()), "{url}");
    let ics = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(ics.contains("BEGIN:VEVENT"), "{ics}");
    let expect = [
        ("2026-10-19T06:59:00Z", None),
        ("2026-10-19T07:00:00Z", Some("ann")),
        ("2026-10-25T00:30:00Z", Some("ann")),
        ("2026-10-25T01:30:00Z", Some("ann")),
        ("2026-10-26T07:59:00Z", Some("ann")),
        ("2026-10-26T08:00:00Z", Some("bob")),
        ("2026-11-01T12:00:00Z", Some("bob")),
        ("2026-11-02T08:00:00Z", Some("cid")),
        ("2026-11-09T07:59:00Z", Some("cid")),
        ("2026-11-09T08:00:00Z", Some("ann")),
    ];
    for (at, who) in expect {
        let v = h
            .client
            .get(
                "/api/v1/oncall/who",
                &[
                    ("scenario", "payments".into()),
                    ("role", "oncall".into()),
                    ("at", at.into()),
                ],
            )
            .await
            .unwrap();
        let got: Vec<&str> = v["on_call"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(got, who.into_iter().collect::<Vec<_>>(), "at {at}");
    }
    // The overview says who is on call now (someone: the rotation goes on).
    d.go(&format!("{}/console", h.url())).await;
    let now = d
        .wait_text("#oncall-now", |t| t.contains("payments · oncall"))
        .await;
    assert!(
        ["ann", "bob", "cid"].iter().any(|p| now.contains(p)),
        "{now}"
    );
    // On a phone the navigation is a menu behind one button.
    d.window(390, 844).await;
    assert!(!d.displayed("#main-nav").await, "collapsed");
    d.click(".menu-button").await;
    assert!(d.displayed("#main-nav").await, "opened");
    d.window(1440, 900).await;
    // Where a person is named, the forms offer the users to pick from.
    d.go(&format!("{}/console/forwarding-rules/new", h.url()))
        .await;
    let form = d.source().await;
    for u in ["ann", "bob", "cid", "admin"] {
        assert!(
            form.contains(&format!("<option value=\"{u}\">{u}</option>")),
            "{u}"
        );
    }
    // The on-call page lists the rotation.
    d.go(&format!("{}/console/oncall", h.url())).await;
    let rot = d.wait_text("#rotations", |t| t.contains("primary")).await;
    assert!(rot.contains("ann → bob → cid"), "{rot}");
    assert!(
        rot.contains("1 week · handoff Mon 09:00 · Europe/Berlin"),
        "{rot}"
    );
    // A refused form stays, as typed: a second rotation with nobody.
    d.click("#new-rotation").await;
    d.type_in("#scenario", "payments").await;
    let name = d.el("#name").await;
    d.call("POST", &format!("/element/{name}/clear"), Some(json!({})))
        .await;
    d.type_in("#name", "secondary").await;
    d.click("#save").await;
    let why = d.wait_text("#form-error", |t| !t.is_empty()).await;
    assert!(why.contains("participant"), "{why}");
    let kept = d
        .call(
            "GET",
            &format!("/element/{}/property/value", d.el("#name").await),
            None,
        )
        .await;
    assert_eq!(kept, "secondary");
    d.call("DELETE", "", None).await;
}

/// Issue 16: a two-step job built from the form — steps and tasks as
/// cards, a script chosen by name with its parameter defaults filled in,
/// a task added with "Add a task" — is saved as the job document, opens
/// again for editing as typed, and runs on two real agents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_step_job_is_built_from_the_form_and_runs() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(2).await;
    h.wait_hosts(2).await;
    h.client
        .post(
            "/api/v1/scripts",
            &json!({"name": "greet", "type": "shell", "risk_level": "low",
                    "content": "echo \"hello $WHO\"",
                    "params": [{"name": "WHO", "default": "world"}]}),
        )
        .await
        .unwrap();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/jobs/new", h.url())).await;
    d.type_in("[name='f.name']", "two-steps").await;
    d.choose("#f-risk_level", "low").await;
    // Task 1, step "prepare": the script by name; its default comes along.
    d.type_in("#f-steps-0-\\@group", "prepare").await;
    d.type_in("#f-steps-0-name", "say-hello").await;
    d.choose("#f-steps-0-atom-type", "script").await;
    assert!(
        !d.displayed("#f-steps-0-atom-seconds").await,
        "a sleep's field is hidden for a script"
    );
    d.choose("#f-steps-0-atom-script", "greet").await;
    d.wait_value("#f-steps-0-atom-params", "WHO=world").await;
    // Task 2 starts step "finish": a sleep.
    d.type_in("#f-steps-1-\\@group", "finish").await;
    d.type_in("#f-steps-1-name", "pause").await;
    d.choose("#f-steps-1-atom-type", "sleep").await;
    assert!(!d.displayed("#f-steps-1-atom-script").await);
    d.type_in("#f-steps-1-atom-seconds", "1").await;
    // Task 3, added with the button: the same step (its name left empty),
    // the script with a value typed over the default.
    d.click("[data-add-item='f-steps']").await;
    d.type_in("#f-steps-2-name", "say-bye").await;
    d.choose("#f-steps-2-atom-type", "script").await;
    d.choose("#f-steps-2-atom-script", "greet").await;
    d.wait_value("#f-steps-2-atom-params", "WHO=world").await;
    let e = d.el("#f-steps-2-atom-params").await;
    d.call("POST", &format!("/element/{e}/clear"), Some(json!({})))
        .await;
    d.type_in("#f-steps-2-atom-params", "WHO=team").await;
    d.choose("#f-steps-2-on_failure", "continue").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("two-steps")).await;
    let job = h.client.get("/api/v1/jobs/two-steps", &[]).await.unwrap();
    assert_eq!(
        job["steps"],
        json!([
            {"name": "prepare", "tasks": [{"name": "say-hello", "description": "", "on_failure": "stop",
                "atom": {"type": "script", "script": "greet", "params": {"WHO": "world"}, "run_as": null, "timeout_s": null}}]},
            {"name": "finish", "tasks": [
                {"name": "pause", "description": "", "on_failure": "stop", "atom": {"type": "sleep", "seconds": 1}},
                {"name": "say-bye", "description": "", "on_failure": "continue",
                 "atom": {"type": "script", "script": "greet", "params": {"WHO": "team"}, "run_as": null, "timeout_s": null}}]}
        ]),
        "{job}"
    );
    let id = job["id"].as_str().unwrap().to_string();
    // Editing shows the cards as they were typed: the step named once.
    d.go(&format!("{}/console/jobs/{id}/edit", h.url())).await;
    assert_eq!(d.value("#f-steps-1-\\@group").await, "finish");
    assert_eq!(d.value("#f-steps-2-\\@group").await, "");
    assert_eq!(d.value("#f-steps-2-atom-params").await, "WHO=team");
    assert!(!d.displayed("#f-steps-1-atom-script").await);
    d.window(1440, 900).await;
    d.call(
        "POST",
        "/execute/sync",
        Some(json!({"script": "document.getElementById('f-steps').scrollIntoView()", "args": []})),
    )
    .await;
    d.screenshot("job-builder.png").await;
    d.fits_a_phone("job-builder-phone.png").await;
    // Run it on both hosts from the job's Execute form.
    d.go(&format!("{}/console/jobs/{id}/op/execute", h.url()))
        .await;
    let boxes = d
        .call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": "input[name='f.hosts']"})),
        )
        .await;
    for b in boxes.as_array().unwrap() {
        let e = b[ELEMENT].as_str().unwrap();
        d.call("POST", &format!("/element/{e}/click"), Some(json!({})))
            .await;
    }
    d.click("#save").await;
    d.wait_text("#ticket-status", |t| t == "successful" || t == "failed")
        .await;
    let url = d.url().await;
    let tid = url.rsplit('/').next().unwrap().to_string();
    let t = h
        .wait_job_ticket(&tid, |t| t["status"] == "successful")
        .await;
    let outputs: Vec<String> = t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["hosts"].as_array().unwrap().iter())
        .flat_map(|h| h["runs"].as_array().unwrap().iter())
        .map(|r| r["output"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        outputs.iter().filter(|o| o.contains("hello world")).count(),
        2,
        "{outputs:?}"
    );
    assert_eq!(
        outputs.iter().filter(|o| o.contains("hello team")).count(),
        2,
        "{outputs:?}"
    );
    d.wait_text("#tasks", |t| t.contains("hello team")).await;
    d.call("DELETE", "", None).await;
}

/// Issue 16: the alarm list filters by level and time, groups by name,
/// selects a whole group with one box, converts it to one incident, and
/// then shows that incident's number beside each of its alarms; it fits a
/// phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_are_filtered_grouped_selected_by_group_and_show_their_incident() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let c = &h.client;
    let key = &h.alertmanager_key().await;
    let web1 = crate::harness::fake_host(&h, "web-1").await;
    let alerts: Vec<Value> = ["web-1", "web-2", "web-3"]
        .iter()
        .map(|host| json!({"labels": {"alertname": "HighLatency", "severity": "critical", "instance": host}}))
        .chain(std::iter::once(
            json!({"labels": {"alertname": "DiskFull", "severity": "warning", "instance": "db-1"}}),
        ))
        .collect();
    c.post_raw(
        &format!("/ingest/{key}/api/v2/alerts"),
        serde_json::to_vec(&alerts).unwrap(),
    )
    .await
    .unwrap();
    let listed = c.get("/api/v1/alarms", &[]).await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 4, "{listed}");
    let level_of = |name: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["level"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (latency, disk) = (level_of("HighLatency"), level_of("DiskFull"));
    assert_ne!(latency, disk);
    d.log_in(&h.url()).await;
    // Level filter: only the latency alarms.
    d.go(&format!(
        "{}/console/alarms?level={latency}&within=1h",
        h.url()
    ))
    .await;
    let shown = d
        .wait_text("#alarm-list", |t| t.contains("HighLatency"))
        .await;
    assert!(!shown.contains("DiskFull"), "{shown}");
    // Resource and labels, typed in the filter form.
    d.go(&format!("{}/console/alarms", h.url())).await;
    d.type_in("#resource", "WEB-2").await;
    d.type_in("#labels", "alertname=HighLatency, severity=critical")
        .await;
    d.click(".filters button[type=submit]").await;
    // The unfiltered list also shows web-2: wait for the filtered page
    // (no DiskFull) before judging it.
    let one = d
        .wait_text("#alarm-list", |t| {
            t.contains("web-2") && !t.contains("DiskFull")
        })
        .await;
    assert!(!one.contains("web-1"), "{one}");
    // Grouped by name: the bigger group first, with its count; a group
    // folds under its heading.
    d.go(&format!("{}/console/alarms?group=name", h.url()))
        .await;
    let heads = d.wait_text("#alarm-list", |t| t.contains("3 alarms")).await;
    assert!(
        heads.find("HighLatency") < heads.find("DiskFull"),
        "{heads}"
    );
    d.click("tbody.group:first-of-type [data-collapse]").await;
    assert!(
        !d.displayed("tbody.group:first-of-type tr:nth-child(2)")
            .await
    );
    d.click("tbody.group:first-of-type [data-collapse]").await;
    assert!(
        d.displayed("tbody.group:first-of-type tr:nth-child(2)")
            .await
    );
    d.click("tbody.group:first-of-type [data-select-group]")
        .await;
    let checked = d
        .call(
            "POST",
            "/execute/sync",
            Some(json!({"script": "return document.querySelectorAll('input[name=ids]:checked').length", "args": []})),
        )
        .await;
    assert_eq!(checked, json!(3), "the group's three alarms are selected");
    d.type_in("#f-title", "latency on the web tier").await;
    d.choose("#f-level", "P2").await;
    d.choose("#f-assignee", "admin").await;
    d.click("#convert").await;
    d.wait_text("#incident-status", |t| t == "unaccepted").await;
    let number = d.el_text("h1").await;
    let number = number.split_whitespace().next().unwrap().to_string();
    assert!(number.starts_with("INC"), "{number}");
    // The registered host an alarm is about is linked from the incident.
    assert_eq!(
        d.el_text(&format!("#alarms a[href='/console/resources/{web1}']"))
            .await,
        "web-1"
    );
    // Back on the list, each converted alarm names its incident.
    d.go(&format!("{}/console/alarms?group=name", h.url()))
        .await;
    let list = d.wait_text("#alarm-list", |t| t.contains(&number)).await;
    assert_eq!(list.matches(&number).count(), 3, "{list}");
    let api = c.get("/api/v1/alarms", &[]).await.unwrap();
    let linked = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["incident"]["number"] == number.as_str())
        .count();
    assert_eq!(linked, 3, "{api}");
    d.window(1440, 900).await;
    d.screenshot("alarms-grouped.png").await;
    d.fits_a_phone("alarms-phone.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 16: a new team's overview lists what is left to set up (done
/// steps ticked, the rest linked); "Run a script" opens the chosen
/// script's run form; recent tickets hold job tickets too; the overview
/// and a job ticket's page fit a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_guides_a_new_team_and_opens_run_forms() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    d.log_in(&h.url()).await;
    let setup = d
        .wait_text("#getting-started", |t| t.contains("Getting started"))
        .await;
    assert!(setup.contains("✓ Connect a host"), "{setup}");
    assert!(
        d.displayed("#getting-started a[href='/console/scripts']")
            .await,
        "no script has run yet: {setup}"
    );
    assert!(
        d.displayed("#getting-started a[href='/console/integrations/new']")
            .await,
        "{setup}"
    );
    h.script("say-hi", "echo hi-from-overview").await;
    h.client
        .post(
            "/api/v1/jobs",
            &json!({"name": "hi-job", "risk_level": "low",
                    "steps": [{"name": "one", "tasks": [{"name": "say", "atom": {"type": "script", "script": "say-hi"}}]}]}),
        )
        .await
        .unwrap();
    let t = h
        .client
        .post("/api/v1/jobs/hi-job/execute", &json!({"hosts": hosts}))
        .await
        .unwrap();
    h.wait_job_ticket(t["id"].as_str().unwrap(), |t| t["status"] == "successful")
        .await;
    d.go(&format!("{}/console", h.url())).await;
    let recent = d.wait_text("#recent-tickets", |t| t.contains("JOB")).await;
    assert!(recent.contains("hi-job"), "{recent}");
    d.fits_a_phone("overview-phone.png").await;
    d.screenshot("overview-getting-started.png").await;
    d.choose("#open-script", "say-hi").await;
    d.click("#run-script button").await;
    d.wait_text("h1", |t| t.contains("say-hi")).await;
    assert!(d.url().await.ends_with("#run"), "{}", d.url().await);
    assert!(d.displayed("#run-button").await);
    // A job ticket's page on a phone.
    d.go(&format!(
        "{}/console/job-tickets/{}",
        h.url(),
        t["id"].as_str().unwrap()
    ))
    .await;
    d.wait_text("#ticket-status", |t| t == "successful").await;
    d.fits_a_phone("job-ticket-phone.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 16: a rotation's participants change from a date on, from the
/// on-call page — the form holds the current list in order; a person is
/// swapped; the turn running then is kept and the next is the new
/// list's; a date in the past is refused on the form, as typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotations_participants_change_from_a_date_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    h.users(&["ann", "bob", "cid", "dan"]).await;
    let today = chrono::Utc::now().date_naive();
    let start = today - chrono::Duration::days(10);
    h.client
        .post(
            "/api/v1/oncall/rotations",
            &json!({"scenario": "payments", "timezone": "UTC", "name": "primary",
                "role": "oncall", "participants": ["ann", "bob", "cid"], "length": 1,
                "unit": "days", "handoff_time": "09:00:00", "start": start.to_string()}),
        )
        .await
        .unwrap();
    let who = |at: chrono::DateTime<chrono::Utc>| {
        let c = &h.client;
        async move {
            c.get(
                "/api/v1/oncall/who",
                &[
                    ("scenario", "payments".to_string()),
                    ("role", "oncall".to_string()),
                    ("at", at.to_rfc3339()),
                ],
            )
            .await
            .unwrap()["on_call"]
                .clone()
        }
    };
    let noon = |day: chrono::NaiveDate| day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let from = today + chrono::Duration::days(2);
    let running = who(noon(from)).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/oncall", h.url())).await;
    d.click("a[aria-label='Change the participants of primary']")
        .await;
    d.wait_text("h1", |t| t.starts_with("Change participants"))
        .await;
    assert_eq!(d.value("#participant-1").await, "ann");
    assert_eq!(d.value("#participant-3").await, "cid");
    // A date in the past is refused; the form keeps what was chosen.
    d.pick("#from", &(today - chrono::Duration::days(3)).to_string())
        .await;
    d.choose("#participant-2", "dan").await;
    d.click("#save").await;
    let e = d.wait_text("#form-error", |t| !t.is_empty()).await;
    assert!(e.contains("today"), "{e}");
    assert_eq!(d.value("#participant-2").await, "dan");
    d.pick("#from", &from.to_string()).await;
    d.click("#save").await;
    // The form's own heading names the scenario too: wait for the page
    // the save leads to, not the form still showing.
    d.wait_text("h1", |t| {
        t.contains("payments") && !t.starts_with("Change participants")
    })
    .await;
    // The turn running at noon on that day (it began at 09:00) is kept;
    // from the next handoff on, the new list: bob never comes back.
    assert_eq!(who(noon(from)).await, running);
    let mut later = vec![];
    for k in 1..=6 {
        later.push(who(noon(from + chrono::Duration::days(k))).await);
    }
    assert!(!later.contains(&json!(["bob"])), "{later:?}");
    assert!(later.contains(&json!(["dan"])), "{later:?}");
    d.go(&format!(
        "{}/console/oncall/rotations/change?scenario=payments&name=primary",
        h.url()
    ))
    .await;
    let planned = d.wait_text("#planned", |t| !t.is_empty()).await;
    assert!(
        planned.contains(&format!("from {from}: ann, dan, cid")),
        "{planned}"
    );
    d.fits_a_phone("rotation-change-phone.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 16: a shift plan (ref. 11.2.1) is set up without JSON — zone,
/// two shifts of a day, who is on call per role and shift as rows — and
/// "who is on call" agrees on both sides of the shift change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_shift_plan_is_set_up_from_the_form() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    h.users(&["ann", "bob"]).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/shifts/new", h.url())).await;
    d.type_in("#f-name", "front-desk").await;
    d.choose("#f-dimension", "global").await;
    d.type_in("#f-roles", "oncall").await;
    d.type_in("#f-schedule-tz", "Europe/Berlin").await;
    d.choose("#f-schedule-mode", "fixed").await;
    for (i, (name, start, end)) in [
        ("day", "08:00:00", "20:00:00"),
        ("night", "20:00:00", "08:00:00"),
    ]
    .iter()
    .enumerate()
    {
        d.type_in(&format!("#f-schedule-shifts-{i}-name"), name)
            .await;
        d.type_in(&format!("#f-schedule-shifts-{i}-start"), start)
            .await;
        d.type_in(&format!("#f-schedule-shifts-{i}-end"), end).await;
    }
    for (i, (shift, who)) in [("0", "ann"), ("1", "bob")].iter().enumerate() {
        d.type_in(&format!("#f-schedule-fixed-{i}-role"), "oncall")
            .await;
        d.type_in(&format!("#f-schedule-fixed-{i}-shift"), shift)
            .await;
        d.type_in(&format!("#f-schedule-fixed-{i}-people"), who)
            .await;
    }
    // The stored form of rotations starts empty.
    let e = d.el("#f-schedule-rotations").await;
    d.call("POST", &format!("/element/{e}/clear"), Some(json!({})))
        .await;
    d.type_in("#f-schedule-rotations", "[]").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("front-desk")).await;
    let who = |at: &'static str| {
        let c = &h.client;
        async move {
            c.get(
                "/api/v1/oncall/who",
                &[
                    ("scenario", "front-desk".to_string()),
                    ("role", "oncall".to_string()),
                    ("at", at.to_string()),
                ],
            )
            .await
            .unwrap()["on_call"]
                .clone()
        }
    };
    // 19:59 and 20:00 Berlin (UTC+1 in December).
    assert_eq!(who("2026-12-01T18:59:00Z").await, json!(["ann"]));
    assert_eq!(who("2026-12-01T19:00:00Z").await, json!(["bob"]));
    d.call("DELETE", "", None).await;
}

/// Issue 16: *Forcibly end* asks first — dismissed, the ticket runs on;
/// accepted, it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forcibly_ending_a_ticket_asks_first() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let hosts = h.wait_hosts(1).await;
    let sid = h.script("long-wait", "sleep 30; echo never").await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{sid}/execute"),
            &json!({"hosts": hosts}),
        )
        .await
        .unwrap();
    let tid = t["id"].as_str().unwrap().to_string();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/tickets/{tid}", h.url())).await;
    d.wait_text("#ticket-status", |t| t == "executing").await;
    d.click("#action-forcibly_end").await;
    let asked = d.call("GET", "/alert/text", None).await;
    assert!(
        asked.as_str().unwrap_or_default().contains("cancelled"),
        "{asked}"
    );
    d.call("POST", "/alert/dismiss", Some(json!({}))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = h
        .client
        .get(&format!("/api/v1/tickets/{tid}"), &[])
        .await
        .unwrap();
    assert_eq!(now["status"], "executing", "dismissed: it runs on");
    d.click("#action-forcibly_end").await;
    d.call("POST", "/alert/accept", Some(json!({}))).await;
    h.wait_ticket(&tid, |t| t["status"] != "executing").await;
    d.call("DELETE", "", None).await;
}

/// Issue 16: an application's own rotation from the console — the New
/// rotation form names the application; its calendar is the
/// application's, the on-call page lists it beside the scenario's, and
/// its participants change from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_gets_its_own_rotation_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    h.users(&["ann", "bob", "cid", "dan"]).await;
    h.applications(&["checkout", "search"]).await;
    let start = (chrono::Utc::now() - chrono::Duration::days(2)).date_naive();
    h.client
        .post(
            "/api/v1/oncall/rotations",
            &json!({"scenario": "shop", "timezone": "UTC", "name": "primary",
                "role": "oncall", "participants": ["ann", "bob"], "length": 1,
                "unit": "days", "handoff_time": "00:00:00", "start": start.to_string()}),
        )
        .await
        .unwrap();
    d.log_in(&h.url()).await;
    d.go(&format!(
        "{}/console/oncall/rotations/new?scenario=shop",
        h.url()
    ))
    .await;
    d.choose("#participant-1", "cid").await;
    d.choose("#participant-2", "dan").await;
    d.choose("#unit", "days").await;
    d.pick("#handoff_time", "00:00").await;
    d.pick("#start", &start.to_string()).await;
    d.click("details summary").await;
    d.choose("#application", "checkout").await;
    d.screenshot("rotation-application.png").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("shop (checkout)")).await;
    let cal = d.wait_text("main", |t| t.contains("cid")).await;
    assert!(
        !cal.contains("ann"),
        "the application's own calendar: {cal}"
    );
    let who = |app: &'static str| {
        let c = &h.client;
        async move {
            c.get(
                "/api/v1/oncall/who",
                &[
                    ("scenario", "shop".to_string()),
                    ("role", "oncall".to_string()),
                    ("application", app.to_string()),
                ],
            )
            .await
            .unwrap()["on_call"]
                .clone()
        }
    };
    let theirs = who("checkout").await;
    assert!(
        theirs == json!(["cid"]) || theirs == json!(["dan"]),
        "{theirs}"
    );
    let others = who("search").await;
    assert!(
        others == json!(["ann"]) || others == json!(["bob"]),
        "{others}"
    );
    d.go(&format!("{}/console/oncall", h.url())).await;
    let list = d
        .wait_text("#rotations", |t| t.contains("(checkout)"))
        .await;
    assert!(
        list.contains("cid → dan") && list.contains("ann → bob"),
        "{list}"
    );
    d.click("#rotations tr:nth-child(2) a[aria-label^='Change the participants']")
        .await;
    d.wait_text("h1", |t| t.contains("checkout")).await;
    assert_eq!(d.value("#participant-1").await, "cid");
    d.call("DELETE", "", None).await;
}

/// Opens the New silence form and types the matchers of a silence of
/// DiskFull on the web tier (`alertname="DiskFull"`, `instance=~"web-.*"`).
async fn new_web_disk_silence(d: &Driver, h: &Harness) {
    d.go(&format!("{}/console/silences/new", h.url())).await;
    d.type_in("#f-matchers-0-name", "alertname").await;
    d.choose("#f-matchers-0-op", "=").await;
    d.type_in("#f-matchers-0-value", "DiskFull").await;
    d.type_in("#f-matchers-1-name", "instance").await;
    d.choose("#f-matchers-1-op", "=~").await;
    d.type_in("#f-matchers-1-value", "web-.*").await;
}

/// Issue 17: a silence is set up from the form — two matcher rows, a
/// duration, a two-line comment — and the alarm it mutes shows as
/// silenced in the alarm list, linked to it, with no incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_made_in_the_console_mutes_an_alarm() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    h.client
        .post(
            "/api/v1/forwarding-rules",
            &json!({"name": "disk", "conditions": [{"field": "alarmName", "op": "equals", "value": "DiskFull"}],
                    "incident_level": "P2", "assignee": "admin"}),
        )
        .await
        .unwrap();
    d.log_in(&h.url()).await;
    new_web_disk_silence(&d, &h).await;
    d.type_in("#f-duration_minutes", "90").await;
    d.type_in("#f-comment", "disk swap\nweb tier only").await;
    d.screenshot("silence-new.png").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("alertname")).await;
    d.screenshot("silence-record.png").await;
    let list = h.client.get("/api/v1/silences", &[]).await.unwrap();
    let sil = &list["items"][0];
    assert_eq!(
        sil["matchers_text"],
        "{alertname=\"DiskFull\", instance=~\"web-.*\"}"
    );
    assert_eq!(sil["comment"], "disk swap\r\nweb tier only");
    assert_eq!(sil["in_force"], true);
    let ends = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = json!([
        {"labels": {"alertname": "DiskFull", "instance": "web-1"}, "endsAt": ends},
        {"labels": {"alertname": "DiskFull", "instance": "db-1"}, "endsAt": ends}
    ]);
    h.client
        .post(&format!("/ingest/{key}/api/v2/alerts"), &body)
        .await
        .unwrap();
    d.go(&format!("{}/console/alarms", h.url())).await;
    let rows = d.el_text("#alarm-list").await;
    assert!(rows.contains("silenced"), "{rows}");
    d.screenshot("alarms-silenced.png").await;
    // The muted alarm's row links to the silence; the other has an incident.
    let id = sil["id"].as_str().unwrap();
    let src = d.source().await;
    assert!(
        src.contains(&format!("href=\"/console/silences/{id}\"")),
        "{src}"
    );
    assert!(src.contains("/console/incidents/"), "{src}");
    d.go(&format!("{}/console/silences/{id}", h.url())).await;
    d.wait_text("h1", |t| t.contains("alertname")).await;
    d.click(&format!("a[href='/console/silences/{id}/op/expire']"))
        .await;
    let ask = d.wait_text("main", |t| t.contains("ends now")).await;
    assert!(ask.contains("notify again"), "{ask}");
    d.screenshot("silence-expire-ask.png").await;
    assert_eq!(
        h.client
            .get(&format!("/api/v1/silences/{id}"), &[])
            .await
            .unwrap()["state"],
        "active",
        "asking changed nothing"
    );
    d.click("main form button[type=submit]").await;
    d.wait_text("main", |t| t.contains("expired")).await;
    d.screenshot("silence-expired.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 17: the page an acknowledge link opens, without a session: it
/// shows the incident and asks; the button acts as the link's person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledge_link_asks_then_acts_without_a_login() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    h.users(&["ann"]).await;
    let inc = h
        .client
        .post(
            "/api/v1/incidents",
            &json!({"title": "checkout errors", "level": "P1", "assignee": "ann"}),
        )
        .await
        .unwrap();
    let number = inc["number"].as_str().unwrap().to_string();
    // The link a notification to admin would carry (the harness' key).
    let key = crate::harness::keyring().derive("coc action links v1");
    let token = coc_domain::action_link::sign(
        &key,
        &coc_domain::action_link::ActionLink {
            tenant: coc_domain::DEFAULT_TENANT.into(),
            incident_id: inc["id"].as_str().unwrap().into(),
            user: "admin".into(),
            action: coc_domain::action_link::LinkAction::Acknowledge,
            expires_at: coc_store::now_ms() + 60_000,
        },
    );
    d.go(&format!("{}/console/act?token={token}", h.url()))
        .await;
    let ask = d
        .wait_text("main", |t| t.contains("Acknowledge as admin"))
        .await;
    assert!(
        ask.contains("checkout errors") && ask.contains("unaccepted"),
        "{ask}"
    );
    d.screenshot("action-link-ask.png").await;
    d.click("main form button[type=submit]").await;
    let done = d.wait_text("main", |t| t.contains("Done")).await;
    assert!(done.contains("The incident is now accepted"), "{done}");
    d.screenshot("action-link-done.png").await;
    let now = h
        .client
        .get(&format!("/api/v1/incidents/{number}"), &[])
        .await
        .unwrap();
    assert_eq!(
        (now["status"].as_str(), now["assignee"].as_str()),
        (Some("accepted"), Some("admin"))
    );
    // An altered link says so and changes nothing.
    d.go(&format!("{}/console/act?token={}0", h.url(), token))
        .await;
    let bad = d.wait_text("main", |t| t.contains("not a valid")).await;
    assert!(bad.contains("This link cannot be used"), "{bad}");
    d.call("DELETE", "", None).await;
}

/// Issue 17 (B3): a silence and a forwarding rule are replayed from their
/// forms before saving: the form stays as typed, the page says what they
/// would have done over the stored alarms, and nothing is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_and_a_rule_are_replayed_from_their_forms_before_saving() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let key = h.alertmanager_key().await;
    let body = json!([
        {"labels": {"alertname": "DiskFull", "instance": "web-1"}},
        {"labels": {"alertname": "DiskFull", "instance": "web-2"}},
        {"labels": {"alertname": "DiskFull", "instance": "db-1"}}
    ]);
    h.client
        .post(&format!("/ingest/{key}/api/v2/alerts"), &body)
        .await
        .unwrap();
    d.log_in(&h.url()).await;
    new_web_disk_silence(&d, &h).await;
    d.type_in("#f-comment", "web tier").await;
    d.click("#replay").await;
    let said = d
        .wait_text("#replay-result", |t| t.contains("would have muted"))
        .await;
    assert!(
        said.contains("Over the 3 alarms of the last 7 days"),
        "{said}"
    );
    assert!(said.contains("would have muted 2"), "{said}");
    assert!(said.contains("web-1") && !said.contains("db-1"), "{said}");
    assert_eq!(
        d.value("#f-matchers-1-value").await,
        "web-.*",
        "kept as typed"
    );
    d.screenshot("silence-replay.png").await;
    assert!(
        h.client.get("/api/v1/silences", &[]).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing saved"
    );
    d.type_in("#f-duration_minutes", "60").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("alertname")).await;
    // A forwarding rule: what incidents it would have opened.
    d.go(&format!("{}/console/forwarding-rules/new?example", h.url()))
        .await;
    d.wait_value("#f-name", "disk-full").await;
    d.click("#replay").await;
    let said = d
        .wait_text("#replay-result", |t| t.contains("would have opened"))
        .await;
    assert!(said.contains("matches 3"), "{said}");
    d.screenshot("rule-replay.png").await;
    // A notification rule: whom it would have told (no incident yet).
    d.go(&format!(
        "{}/console/notification-rules/new?example",
        h.url()
    ))
    .await;
    d.wait_value("#f-name", "p1-owner").await;
    d.click("#replay").await;
    let said = d
        .wait_text("#replay-result", |t| t.contains("would have sent"))
        .await;
    assert!(
        said.contains("matches 0 and would have sent 0 messages"),
        "{said}"
    );
    assert!(
        h.client.get("/api/v1/forwarding-rules", &[]).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing saved"
    );
    d.call("DELETE", "", None).await;
}

/// Issue 18 (R6): an application is made in the console as a person does
/// it — the owner chosen from the users, two module rows, regions on two
/// lines, a two-line description — and its record and the list show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_is_made_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    h.users(&["ann"]).await;
    h.client
        .post("/api/v1/enterprise-projects", &json!({"name": "finance"}))
        .await
        .unwrap();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/applications/new", h.url())).await;
    d.type_in("#f-name", "payments").await;
    d.type_in("#f-description", "Card payments\nand refunds")
        .await;
    d.choose("#f-owner", "ann").await;
    d.choose("#f-enterprise_project", "finance").await;
    d.type_in("#f-modules-0-name", "web").await;
    d.type_in("#f-modules-1-name", "db").await;
    d.type_in("#f-modules-1-description", "PostgreSQL 16").await;
    d.type_in("#f-regions", "eu-west-1, cn-north-4").await;
    d.screenshot("application-new.png").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("payments")).await;
    d.screenshot("application-record.png").await;
    let record = d.el_text("main").await;
    assert!(record.contains("db — PostgreSQL 16"), "{record}");
    let a = h
        .client
        .get("/api/v1/applications/payments", &[])
        .await
        .unwrap();
    assert_eq!(a["owner"], "ann");
    assert_eq!(a["enterprise_project"], "finance");
    assert_eq!(a["description"], "Card payments\nand refunds");
    assert_eq!(a["regions"], json!(["eu-west-1", "cn-north-4"]));
    assert_eq!(a["modules"][1]["description"], "PostgreSQL 16");
    d.go(&format!("{}/console/applications", h.url())).await;
    let list = d.el_text("main").await;
    assert!(list.contains("web, db"), "{list}");
    d.screenshot("application-list.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 18 (R2, R4): a host's page lists the services its agent found
/// on it and the dependencies it observed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_page_shows_its_services_and_dependencies() {
    if !crate::harness::postgres_running() {
        return;
    }
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    // The chromedriver session itself connects to ports of this host.
    for _ in 0..100 {
        let v = h
            .client
            .get(&format!("/api/v1/resources/{host}/services"), &[])
            .await
            .unwrap();
        if v["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources/{host}", h.url())).await;
    let main = d.wait_text("main", |t| t.contains("postgresql")).await;
    assert!(main.contains("Services found on it"), "{main}");
    assert!(main.contains("database"), "{main}");
    d.call(
        "POST",
        "/execute/sync",
        Some(json!({"script": "window.scrollTo(0, document.body.scrollHeight);", "args": []})),
    )
    .await;
    d.screenshot("host-services.png").await;
    // Its application's page draws the topology, the host linked.
    let app = h
        .client
        .post(
            "/api/v1/applications",
            &json!({"name": "payments", "modules": [{"name": "api"}]}),
        )
        .await
        .unwrap();
    h.client
        .put(
            &format!("/api/v1/resources/{host}/application"),
            &json!({"application": "payments", "module": "api"}),
        )
        .await
        .unwrap();
    d.go(&format!(
        "{}/console/applications/{}",
        h.url(),
        app["id"].as_str().unwrap()
    ))
    .await;
    let main = d.wait_text("main", |t| t.contains("Topology")).await;
    assert!(main.contains("postgresql :5432"), "{main}");
    d.call(
        "POST",
        "/execute/sync",
        Some(
            json!({"script": "document.getElementById('topology').scrollIntoView();", "args": []}),
        ),
    )
    .await;
    d.screenshot("application-topology.png").await;
    d.click(&format!("#topology a[href='/console/resources/{host}']"))
        .await;
    d.wait_text("main", |t| t.contains("Services found on it"))
        .await;
    d.call("DELETE", "", None).await;
}

/// The resource list (R1) in Chromium: a load balancer registered from
/// the New form the list offers (type chosen, fields typed as lines), then
/// the list filtered on the server by type, its record page, and the
/// host's page listing the services its agent found as resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_is_registered_and_the_resource_list_filtered_by_type() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("#new").await;
    d.wait_text("main", |t| t.contains("Fields")).await;
    d.choose("#f-type", "load_balancer").await;
    d.type_in("[name='f.name']", "edge-lb").await;
    d.type_in("#f-region", "eu-west-1").await;
    d.type_in(
        "#f-attributes",
        "address=203.0.113.10\nlisteners=80,443\nalgorithm=least_connections\nbackends=4",
    )
    .await;
    d.screenshot("resource-new-form.png").await;
    d.click("#save").await;
    let page = d
        .wait_text("main", |t| t.contains("least_connections"))
        .await;
    assert!(
        page.contains("edge-lb") && page.contains("load_balancer"),
        "{page}"
    );
    d.screenshot("resource-record.png").await;
    let lb = h
        .client
        .get("/api/v1/resources/edge-lb", &[])
        .await
        .unwrap();
    assert_eq!(lb["attributes"]["backends"], "4");
    assert_eq!(lb["region"], "eu-west-1");
    // The list, filtered to load balancers by the API.
    d.go(&format!("{}/console/resources", h.url())).await;
    d.choose("#is\\.type", "load_balancer").await;
    d.click("form.filters button[type=submit]").await;
    // Waits for the filtered list itself: the unfiltered page shows
    // edge-lb too.
    let main = d
        .wait_text("main", |t| {
            t.contains("edge-lb")
                && t.contains("By type: load_balancer (1)")
                && !t.contains("By type: database")
        })
        .await;
    assert!(
        main.contains("203.0.113.10") || main.contains("eu-west-1"),
        "{main}"
    );
    // The counts of what the filters select (a sort chosen too).
    assert!(main.contains("By type: load_balancer (1)"), "{main}");
    d.screenshot("resource-list-filtered.png").await;
    // The host's page lists what its agent found there as resources.
    d.go(&format!("{}/console/resources/{host}", h.url())).await;
    d.wait_text("main", |t| t.contains("Resources on it")).await;
    d.screenshot("resource-host-page.png").await;
}

/// Issue 18 (R2): a cloud account is added in the console — the password
/// typed into a password field — and synchronized from its page; its
/// servers are then in the resource list.
#[tokio::test]
async fn a_cloud_account_is_added_and_synchronized_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let cloud = crate::cloud::fake_cloud().await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/cloud-accounts/new", h.url()))
        .await;
    d.type_in("#f-name", "lab").await;
    d.choose("#f-provider", "openstack").await;
    d.type_in("#f-auth_url", &format!("{}/identity", cloud.base))
        .await;
    d.type_in("#f-username", "coc").await;
    d.type_in("#f-password", "s3cret").await;
    d.type_in("#f-project", "ops").await;
    d.type_in("#f-sync_minutes", "0").await;
    d.screenshot("cloud-account-new.png").await;
    d.click("#save").await;
    d.wait_text("h1", |t| t.contains("lab")).await;
    let id = h
        .client
        .get("/api/v1/cloud-accounts/lab", &[])
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.screenshot("cloud-account-record.png").await;
    // A button that posts at once: nothing to fill in.
    d.click(&format!(
        "form[action='/console/cloud-accounts/{id}/op/sync'] button"
    ))
    .await;
    let done = d.wait_text("main", |t| t.contains("added")).await;
    assert!(done.contains('4'), "{done}");
    d.screenshot("cloud-account-synchronized.png").await;
    d.go(&format!(
        "{}/console/resources?is.type=cloud_server",
        h.url()
    ))
    .await;
    let list = d.wait_text("main", |t| t.contains("web-01")).await;
    assert!(
        list.contains("batch-01") && !list.contains("s3cret"),
        "{list}"
    );
    assert!(list.contains("10.0.0.11"), "a server's addresses: {list}");
    d.screenshot("cloud-servers.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 18 (R5): a desired state is set in the console — the host picked
/// by name, a package row, a service, a file row — the real agent
/// reports, a change of the file shows as drift on the record page, and
/// "Accept current state" takes its new hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_set_seen_and_accepted_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, "worker_processes 1;\n").unwrap();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/drift/new", h.url())).await;
    d.choose("[name='f.host']", &name).await;
    d.type_in("[name='f.packages.0.name']", "coreutils").await;
    d.type_in("[name='f.packages.0.version']", "0.1-not-installed")
        .await;
    d.type_in("[name='f.services']", "no-such-service-coc")
        .await;
    d.type_in("[name='f.files.0.path']", &conf.to_string_lossy())
        .await;
    d.screenshot("drift-new.png").await;
    d.click("#save").await;
    d.wait_text("main", |t| t.contains("Accept current state"))
        .await;
    // The first report (the file's baseline) before the file changes.
    let record = format!("/api/v1/drift/{host}");
    h.wait_until(&record, "the first report", |v| v["status"] == "drifted")
        .await;
    std::fs::write(&conf, "worker_processes 4;\n").unwrap();
    // The agent notices within seconds; the record page then lists it.
    h.wait_until(&record, "the file's drift", |v| {
        v["differences"].as_array().is_some_and(|a| a.len() == 3)
    })
    .await;
    d.go(&format!("{}/console/drift/{host}", h.url())).await;
    let shown = d.wait_text("main", |t| t.contains("Differences")).await;
    let row = shown
        .lines()
        .find(|l| l.starts_with("file") && !l.starts_with("files") && l.contains("nginx.conf"))
        .unwrap_or_default()
        .to_string();
    assert!(row.contains("sha256"), "the file's drift as a row: {shown}");
    d.call(
        "POST",
        "/execute/sync",
        Some(json!({"script": "[...document.querySelectorAll('h2')].find(h => h.textContent === 'Differences').scrollIntoView()", "args": []})),
    )
    .await;
    d.screenshot("drift-record.png").await;
    d.click(&format!(
        "form[action='/console/drift/{host}/op/accept'] button"
    ))
    .await;
    d.wait_text("main", |t| t.contains("Accept current state"))
        .await;
    let after = h
        .client
        .get(&format!("/api/v1/drift/{host}"), &[])
        .await
        .unwrap();
    let items: Vec<&str> = after["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["item"].as_str())
        .collect();
    assert!(!items.iter().any(|i| i.ends_with("nginx.conf")), "{after}");
    assert!(items.contains(&"no-such-service-coc"), "{after}");
    d.go(&format!("{}/console/drift", h.url())).await;
    let list = d.wait_text("main", |t| t.contains(&name)).await;
    assert!(list.contains("drifted"), "{list}");
    d.screenshot("drift-list.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 18 (R3): "Install agents" in the console — the installation
/// host picked by name, a target row signing in by password — goes to the
/// installation's ticket; nothing listens on the target's port here, so
/// the ticket shows that target failed, and never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_is_started_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let via = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&via).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("a[href='/console/agent-installs/new']").await;
    d.wait_text("h1", |t| t.contains("Install agents")).await;
    d.choose("[name='f.installation_host']", &name).await;
    d.type_in("[name='f.targets.0.address']", "127.0.0.1").await;
    d.type_in("[name='f.targets.0.port']", &closed.to_string())
        .await;
    d.choose("[name='f.targets.0.auth']", "password").await;
    d.type_in("[name='f.targets.0.password']", "Pw-never-shown-42")
        .await;
    d.screenshot("agent-install-new.png").await;
    d.click("#save").await;
    let page = d
        .wait_text("main", |t| t.contains("COC-AGENT-INSTALL"))
        .await;
    assert!(!page.contains("Pw-never-shown-42"), "{page}");
    let mut shown = String::new();
    for _ in 0..60 {
        d.go(&d.url().await).await;
        shown = d.wait_text("main", |_| true).await;
        if shown.contains("failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(shown.contains("signing in to root@127.0.0.1"), "{shown}");
    assert!(!shown.contains("Pw-never-shown-42"), "{shown}");
    d.screenshot("agent-install-ticket.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 18 (R3): an agent build is uploaded from a file in the console
/// (the console's script sends it to the API as the body), then "Upgrade
/// agents" — the host ticked, the build picked by version — goes to the
/// job ticket; the agent inside the server cannot replace itself, so its
/// task fails saying so, and nothing of the host changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_is_uploaded_and_an_upgrade_started_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("coc-agent-3.0.0");
    std::fs::write(&file, "#!/bin/sh\nexec sleep 600\n").unwrap();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("a[href='/console/agent-builds']").await;
    d.wait_text("h1", |t| t.contains("Agent builds")).await;
    d.go(&format!("{}/console/agent-builds/new", h.url())).await;
    // Without a file the form says so and sends nothing.
    d.type_in("[name='f.version']", "3.0.0").await;
    d.click("#save").await;
    let e = d.wait_text("#form-error", |t| !t.is_empty()).await;
    assert!(e.contains("choose a file"), "{e}");
    d.type_in("[name='f.file']", file.to_str().unwrap()).await;
    d.type_in("[name='f.note']", "sleeps only").await;
    d.screenshot("agent-build-new.png").await;
    d.click("#save").await;
    let page = d
        .wait_text("main", |t| t.contains("3.0.0") && t.contains("sleeps only"))
        .await;
    let builds = h
        .wait_until("/api/v1/agent-builds", "builds", |_| true)
        .await;
    let b = &builds["items"][0];
    assert_eq!(b["version"], "3.0.0", "{builds}");
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!(b["size_bytes"], size, "{builds}");
    assert!(page.contains(b["sha256"].as_str().unwrap()), "{page}");
    assert_eq!(d.el_text("h1").await.trim(), "3.0.0");
    d.screenshot("agent-build.png").await;
    // The same version again: the API's refusal is shown on the form.
    d.go(&format!("{}/console/agent-builds/new", h.url())).await;
    d.type_in("[name='f.file']", file.to_str().unwrap()).await;
    d.type_in("[name='f.version']", "3.0.0").await;
    d.click("#save").await;
    let e = d.wait_text("#form-error", |t| !t.is_empty()).await;
    assert!(e.contains("already exists"), "{e}");

    d.go(&format!("{}/console/agent-upgrades/new", h.url()))
        .await;
    d.wait_text("h1", |t| t.contains("Upgrade agents")).await;
    d.click(&format!("input[name='f.hosts'][value='{host}']"))
        .await;
    d.choose("[name='f.build']", "3.0.0").await;
    d.type_in("[name='f.rollback_after_s']", "30").await;
    d.screenshot("agent-upgrade-new.png").await;
    d.click("#save").await;
    d.wait_text("#ticket-status", |t| t == "failed").await;
    let shown = d
        .wait_text("main", |t| t.contains("cannot replace itself"))
        .await;
    assert!(shown.contains("COC-Agent-Upgrade"), "{shown}");
    d.screenshot("agent-upgrade-ticket.png").await;
    let after = h
        .wait_until(&format!("/api/v1/resources/{host}"), "host", |_| true)
        .await;
    assert_eq!(after["status"], "running", "{after}");
    d.call("DELETE", "", None).await;
}

/// Issue 19 (P1): the patch baseline list offers the defaults; the New
/// form filled with its example saves the baseline, which shows its
/// rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_baseline_is_made_in_the_console() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("a[href='/console/patch-baselines']").await;
    let list = d
        .wait_text("main", |t| t.contains("COC-Debian-Default"))
        .await;
    assert!(list.contains("COC-Ubuntu-Default"), "{list}");
    d.screenshot("patch-baselines.png").await;
    d.go(&format!("{}/console/patch-baselines/new", h.url()))
        .await;
    d.click("#example").await;
    d.wait_value("[name='f.name']", "web-security").await;
    d.screenshot("patch-baseline-new.png").await;
    d.click("#save").await;
    let page = d
        .wait_text("main", |t| {
            t.contains("web-security") && t.contains("openssl*")
        })
        .await;
    assert!(page.contains("after_days"), "{page}");
    d.screenshot("patch-baseline.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 19 (P2, P3): after a scan of the host (a job of the patch_scan
/// atom; this machine's lists are not refreshed), the compliance report
/// shows it with its baseline and chart, its page lists its patches, and
/// the repair form (host ticked, baseline left to the host's) goes to a
/// repair ticket that ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_compliance_and_repair_in_the_console() {
    let apt = std::process::Command::new("sh")
        .args(["-c", "command -v apt-get"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !apt {
        return;
    }
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    let t = h.scan_patches_locally(&host).await;
    assert_eq!(t["status"], "successful", "{t:#}");
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("a[href='/console/patch-compliance']").await;
    let list = d.wait_text("main", |t| t.contains(&name)).await;
    assert!(list.contains("Patch compliance of 1 host(s)"), "{list}");
    assert!(list.contains("COC-"), "{list}");
    d.screenshot("patch-compliance.png").await;
    d.go(&format!("{}/console/patch-compliance/{host}", h.url()))
        .await;
    let page = d.wait_text("main", |t| t.contains("apt")).await;
    assert!(
        page.contains("installed_other") || page.contains("installed"),
        "{page}"
    );
    d.screenshot("patch-host.png").await;
    d.go(&format!("{}/console/patch-repairs/new", h.url()))
        .await;
    d.wait_text("h1", |t| t.contains("Repair patches")).await;
    d.click(&format!("input[name='f.hosts'][value='{host}']"))
        .await;
    d.screenshot("patch-repair-new.png").await;
    d.click("#save").await;
    d.wait_text("#ticket-status", |t| t == "successful").await;
    let shown = d
        .wait_text("main", |t| t.contains("nothing to install"))
        .await;
    assert!(shown.contains("COC-Patch-Repair"), "{shown}");
    d.screenshot("patch-repair-ticket.png").await;
    d.call("DELETE", "", None).await;
}

/// Issue 19 (P4): a host operation is started from its form as a new user
/// does it — the action chosen, a cloud server ticked by name — and its
/// job ticket page shows the server stopped by its provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_server_is_stopped_from_the_host_operation_form() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(0).await;
    let cloud = crate::cloud::fake_cloud().await;
    h.client
        .post(
            "/api/v1/cloud-accounts",
            &crate::cloud::account(&cloud, "lab", "s3cret", 0),
        )
        .await
        .unwrap();
    crate::cloud::sync(&h).await;
    let server = h
        .client
        .get("/api/v1/resources", &[("q", "web-02".into())])
        .await
        .unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("a[href='/console/host-operations/new']").await;
    d.wait_text("h1", |t| {
        t.contains("Start, stop, restart or reinstall hosts")
    })
    .await;
    d.choose("#f-action", "stop").await;
    d.click(&format!("input[name='f.cloud_servers'][value='{server}']"))
        .await;
    d.screenshot("host-operation-new.png").await;
    d.click("#save").await;
    d.wait_text("#ticket-status", |t| t == "successful").await;
    let shown = d.wait_text("main", |t| t.contains("SHUTOFF")).await;
    assert!(shown.contains("COC-Host-Power"), "{shown}");
    assert!(shown.contains("web-02"), "the server by name: {shown}");
    d.screenshot("host-operation-ticket.png").await;
    assert_eq!(*cloud.actions.lock().unwrap(), ["os-stop web-02"]);
    d.call("DELETE", "", None).await;
}

/// Issue 19 (M7): a health check is started from its form as a new user
/// does it — the host ticked, the thresholds left empty — its report page
/// fills in as the probe reports, and the exported HTML report opens in
/// the browser on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_check_is_run_from_the_console_and_its_report_exported() {
    let Some(d) = Driver::start(true).await else {
        return;
    };
    let h = Harness::start(1).await;
    let host = h.wait_hosts(1).await.remove(0);
    let name = h.hostname(&host).await;
    d.log_in(&h.url()).await;
    d.go(&format!("{}/console/resources", h.url())).await;
    d.click("a[href='/console/health-checks']").await;
    d.click("a[href='/console/health-checks/new']").await;
    d.wait_text("h1", |t| t.contains("New — Health checks"))
        .await;
    d.click(&format!("input[name='f.hosts'][value='{host}']"))
        .await;
    d.screenshot("health-check-new.png").await;
    d.click("#save").await;
    d.wait_text("#health-status", |t| t == "successful").await;
    let page = d.wait_text("main", |t| t.contains("disk /")).await;
    assert!(
        page.contains(&name) && page.contains("database latency"),
        "{page}"
    );
    assert!(page.contains("HTML report"), "{page}");
    d.screenshot("health-check-report.png").await;
    let id = d.url().await.rsplit('/').next().unwrap().to_string();
    let html = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/health-checks/{id}/export?format=html",
            h.url()
        ))
        .bearer_auth(crate::harness::ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("health-report.html");
    std::fs::write(&file, html).unwrap();
    d.go(&format!(
        "file://{}",
        file.canonicalize().unwrap().display()
    ))
    .await;
    let shown = d
        .wait_text("h1", |t| t.starts_with("Health check JOB"))
        .await;
    assert!(!shown.is_empty());
    let body = d.el_text("body").await;
    assert!(
        body.contains(&name) && body.contains("agent version"),
        "{body}"
    );
    d.screenshot("health-report-file.png").await;
    d.call("DELETE", "", None).await;
}
