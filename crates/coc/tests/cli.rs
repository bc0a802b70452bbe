//! The CLI against a real `coc server` (issue 16): scripts written on
//! Windows (CRLF) are flagged by `coc script verify`, stored with LF, and
//! `coc script update` changes a script by name; on-call rotations are set
//! up, asked and listed by name.

use std::process::Command;

use crate::support::{ADMIN, Env};

/// Runs `coc ARGS…` against the env's server; (success, stdout + stderr).
fn coc(env: &Env, args: &[&str]) -> (bool, String) {
    coc_with(env, args, &[])
}

/// `coc` with these environment variables set: whether it succeeded, and
/// what it printed (stdout then stderr).
fn coc_with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coc"))
        .args(["--server", &env.url(), "--token", ADMIN])
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .expect("coc runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A real `coc agent` joined to the env's server: its process, its
/// host's id and host name.
async fn one_agent(env: &Env) -> (crate::support::Proc, String, String) {
    let token = env.enrollment().await;
    let agent = env.agent(0, &token);
    let id = env.hosts(1).await.remove(0);
    let host = env
        .call("GET", &format!("/api/v1/resources/{id}"), None)
        .await;
    let name = host["hostname"].as_str().unwrap().to_string();
    (agent, id, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_line_ends_are_flagged_and_stored_as_lf_and_update_takes_a_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let crlf = env.dir.path().join("top.sh");
    std::fs::write(&crlf, "N=6\r\nseq 1 10 | head -n \"$N\"\r\n").unwrap();
    let f = crlf.to_str().unwrap();

    let (ok, out) = coc(&env, &["script", "verify", "--file", f]);
    assert!(ok, "{out}");
    assert!(out.contains("low_risk"), "{out}");
    assert!(
        out.contains("warning: line(s) 1, 2 end with a carriage return"),
        "{out}"
    );

    let (ok, out) = coc(&env, &["script", "create", "--name", "top", "--file", f]);
    assert!(ok, "{out}");
    let (_, shown) = coc(&env, &["--output", "json", "script", "show", "top"]);
    let v: serde_json::Value = serde_json::from_str(&shown).expect(&shown);
    assert_eq!(v["content"], "N=6\nseq 1 10 | head -n \"$N\"\n");
    assert_eq!(v["version"], 1);

    let lf = env.dir.path().join("top2.sh");
    std::fs::write(&lf, "echo updated\n").unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "script",
            "update",
            "top",
            "--file",
            lf.to_str().unwrap(),
            "--description",
            "now shorter",
        ],
    );
    assert!(ok, "{out}");
    let (_, shown) = coc(&env, &["--output", "json", "script", "show", "top"]);
    let v: serde_json::Value = serde_json::from_str(&shown).expect(&shown);
    assert_eq!(
        (&v["content"], &v["description"], &v["version"], &v["type"]),
        (
            &serde_json::json!("echo updated\n"),
            &serde_json::json!("now shorter"),
            &serde_json::json!(2),
            &serde_json::json!("shell")
        )
    );
    let (ok, out) = coc(&env, &["script", "update", "no-such-script", "--file", f]);
    assert!(!ok && out.lines().count() <= 2, "one line: {out}");
}

/// One command sets up a weekly rotation of three in Berlin; `coc oncall
/// who` names the right person at 10 instants over four weeks, across the
/// change to winter time (25 October 2026); unknown users are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_rotation_is_set_up_and_asked_from_the_cli() {
    let env = Env::new();
    let _server = env.server(None).await;
    let http = reqwest::Client::new();
    for u in ["ann", "bob", "cid"] {
        let r = http
            .post(format!("{}/api/v1/users", env.url()))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"name": u}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let add = |people: &str| {
        coc(
            &env,
            &[
                "oncall",
                "rotation",
                "add",
                "--scenario",
                "payments",
                "--timezone",
                "Europe/Berlin",
                "--participants",
                people,
                "--handoff-day",
                "mon",
                "--handoff-time",
                "09:00",
                "--start",
                "2026-10-14",
            ],
        )
    };
    let (ok, out) = add("ann,bob,mallory");
    assert!(!ok, "{out}");
    assert!(out.contains("mallory") && out.lines().count() <= 2, "{out}");
    let (ok, out) = add("ann,bob,cid");
    assert!(ok, "{out}");
    // (instant, who): Berlin is UTC+2 until 25 Oct 01:00 UTC, then UTC+1.
    let expect = [
        ("2026-10-19T06:59:00Z", "(nobody)"), // 08:59 before the first handoff
        ("2026-10-19T07:00:00Z", "ann"),      // Mon 09:00 CEST
        ("2026-10-25T00:30:00Z", "ann"),      // 02:30 CEST, the first of two
        ("2026-10-25T01:30:00Z", "ann"),      // 02:30 CET, the second
        ("2026-10-26T07:59:00Z", "ann"),      // Mon 08:59 CET
        ("2026-10-26T08:00:00Z", "bob"),      // Mon 09:00 CET
        ("2026-11-01T12:00:00Z", "bob"),
        ("2026-11-02T08:00:00Z", "cid"),
        ("2026-11-09T07:59:00Z", "cid"),
        ("2026-11-09T08:00:00Z", "ann"),
    ];
    for (at, who) in expect {
        let (ok, out) = coc(
            &env,
            &[
                "oncall",
                "who",
                "--scenario",
                "payments",
                "--role",
                "oncall",
                "--at",
                at,
            ],
        );
        assert!(ok, "{out}");
        assert_eq!(out.trim(), who, "at {at}");
    }
    let (ok, out) = coc(
        &env,
        &[
            "oncall",
            "calendar",
            "--scenario",
            "payments",
            "--role",
            "oncall",
            "--from",
            "2026-10-19T00:00:00Z",
            "--days",
            "21",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Mon 2026-10-26 09:00  "),
        "local handoff: {out}"
    );
    let rows: Vec<&str> = out
        .lines()
        .skip(2)
        .map(|l| l.rsplit("  ").next().unwrap_or("").trim())
        .collect();
    assert_eq!(rows, ["(nobody)", "ann", "bob", "cid"], "{out}");
    // Someone covers bob for an afternoon, in Berlin time.
    let (ok, out) = coc(
        &env,
        &[
            "oncall",
            "override",
            "--scenario",
            "payments",
            "--role",
            "oncall",
            "--person",
            "cid",
            "--covering",
            "bob",
            "--from",
            "2026-10-27T13:00",
            "--until",
            "2026-10-27T18:00",
        ],
    );
    assert!(ok, "{out}");
    let (_, out) = coc(
        &env,
        &[
            "oncall",
            "who",
            "--scenario",
            "payments",
            "--role",
            "oncall",
            "--at",
            "2026-10-27T12:00:00Z",
        ],
    );
    assert_eq!(out.trim(), "cid");
    // A calendar subscription of the scenario: a URL a calendar app reads.
    let (ok, out) = coc(
        &env,
        &["oncall", "feed", "create", "--scenario", "payments"],
    );
    assert!(ok, "{out}");
    let url = out.lines().next().unwrap().trim().to_string();
    let ics = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        ics.contains("BEGIN:VEVENT") && ics.contains("on call · payments oncall"),
        "{ics}"
    );
    let (ok, out) = coc(&env, &["oncall", "feed", "list"]);
    assert!(
        ok && out.contains("payments") && !out.contains(url.rsplit('/').next().unwrap()),
        "{out}"
    );
    // Participants change from a future date on: cid leaves. (A past
    // date and an unknown person are refused in one line.)
    let future = (chrono::Utc::now() + chrono::Duration::days(30))
        .date_naive()
        .to_string();
    let change = |from: &str, people: &str| {
        coc(
            &env,
            &[
                "oncall",
                "rotation",
                "change",
                "payments",
                "primary",
                "--from",
                from,
                "--participants",
                people,
            ],
        )
    };
    let (ok, out) = change("2026-01-05", "ann,bob");
    assert!(
        !ok && out.contains("today") && out.trim().lines().count() == 1,
        "{out}"
    );
    let (ok, out) = change(&future, "ann,mallory");
    assert!(!ok && out.contains("mallory"), "{out}");
    let (ok, out) = change(&future, "ann,bob");
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("takes ann, bob from {future}")),
        "{out}"
    );
    let (ok, out) = coc(
        &env,
        &["oncall", "rotation", "remove", "payments", "primary"],
    );
    assert!(ok, "{out}");
    let (_, out) = coc(
        &env,
        &[
            "oncall",
            "who",
            "--scenario",
            "payments",
            "--role",
            "oncall",
            "--at",
            "2026-11-02T08:00:00Z",
        ],
    );
    assert_eq!(out.trim(), "(nobody)");
}

/// `coc dev` prints the two exports that let the CLI work from any
/// directory; the token stays in its file (`COC_TOKEN_FILE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coc_dev_prints_the_exports_and_the_cli_reads_the_token_file() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let mut dev = Command::new(env!("CARGO_BIN_EXE_coc"))
        .current_dir(dir.path())
        .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("COC_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = dev.stdout.take().unwrap();
    let line = std::io::BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.trim_start().starts_with("export COC_SERVER="))
        .expect("an export line");
    let _dev = crate::support::Proc(dev);
    let vars: Vec<(String, String)> = line
        .trim()
        .trim_start_matches("export ")
        .split(' ')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(
        vars[0],
        ("COC_SERVER".to_string(), format!("http://127.0.0.1:{port}"))
    );
    assert_eq!(vars[1].0, "COC_TOKEN_FILE");
    let token = std::fs::read_to_string(&vars[1].1).unwrap();
    assert!(
        !line.contains(token.trim()),
        "the token itself is not printed"
    );
    // From another directory, with only the two variables.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_coc"))
        .current_dir(elsewhere.path())
        .env_remove("COC_TOKEN")
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["oncall", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `coc script run --follow` labels each line of output with the host's
/// name, prints it once (the summary after it has none), and numbers
/// batches from 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_labels_output_by_host_name_and_prints_it_once() {
    let env = Env::new();
    let _server = env.server(None).await;
    let token = env.enrollment().await;
    let _agent = env.agent(0, &token);
    let mut hosts = vec![];
    for _ in 0..120 {
        let v = env.call("GET", "/api/v1/resources?type=host", None).await;
        hosts = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["agent_status"] == "running")
            .filter_map(|h| h["id"].as_str().map(String::from))
            .collect();
        if !hosts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(!hosts.is_empty(), "agent: {}", env.agent_log(0));
    let hosts_v = env.call("GET", "/api/v1/resources?type=host", None).await;
    let name = hosts_v["items"][0]["hostname"]
        .as_str()
        .unwrap()
        .to_string();
    let f = env.dir.path().join("hello.sh");
    std::fs::write(&f, "echo hello-once\n").unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "script",
            "create",
            "--name",
            "hello",
            "--file",
            f.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let id = {
        let (_, shown) = coc(&env, &["--output", "json", "script", "show", "hello"]);
        let v: serde_json::Value = serde_json::from_str(&shown).expect(&shown);
        v["id"].as_str().unwrap().to_string()
    };
    let (ok, out) = coc(
        &env,
        &["script", "run", &id, "--host", &hosts[0], "--follow"],
    );
    assert!(ok, "{out}");
    assert!(out.contains(&format!("[{name}] hello-once")), "{out}");
    assert_eq!(out.matches("hello-once").count(), 1, "printed once: {out}");
    let row = out
        .lines()
        .find(|l| l.starts_with(&name) && l.contains("successful"))
        .unwrap_or_else(|| panic!("a row for {name}: {out}"));
    assert_eq!(row.split_whitespace().nth(1), Some("1"), "batch 1: {out}");
}

/// Issue 16: names everywhere in the CLI — a script run and a job run
/// take the script, the job and the hosts by name; `--follow` on a job
/// labels each line of output with its host's name and task, prints it
/// once, and the summary numbers steps and batches from 1; `job-ticket
/// show` prints each run's output; an unknown host name is refused in
/// one line and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_hosts_are_given_by_name_and_follow_labels_output() {
    let env = Env::new();
    let _server = env.server(None).await;
    let token = env.enrollment().await;
    let _agent = env.agent(0, &token);
    let mut name = String::new();
    for _ in 0..120 {
        let v = env.call("GET", "/api/v1/resources?type=host", None).await;
        if let Some(h) = v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["agent_status"] == "running")
        {
            name = h["hostname"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(!name.is_empty(), "agent: {}", env.agent_log(0));
    let f = env.dir.path().join("greet.sh");
    std::fs::write(&f, "echo \"hello-$WHO\"\n").unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "script",
            "create",
            "--name",
            "greet",
            "--param",
            "WHO:string:default=cli",
            "--file",
            f.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = coc(
        &env,
        &["script", "run", "greet", "--host", &name, "--follow"],
    );
    assert!(ok, "{out}");
    assert!(out.contains(&format!("[{name}] hello-cli")), "{out}");
    let job = env.dir.path().join("job.json");
    std::fs::write(
        &job,
        serde_json::json!({"name": "two-greetings", "risk_level": "low",
            "params": [{"name": "WHO", "value": "job"}],
            "steps": [
                {"name": "first", "tasks": [{"name": "say", "atom": {"type": "script", "script": "greet", "params": {"WHO": "{{WHO}}"}}}]},
                {"name": "second", "tasks": [{"name": "again", "atom": {"type": "script", "script": "greet", "params": {"WHO": "again"}}}]}
            ]})
        .to_string(),
    )
    .unwrap();
    let (ok, out) = coc(&env, &["job", "create", "--file", job.to_str().unwrap()]);
    assert!(ok, "{out}");
    let before = job_tickets(&env).await;
    let (ok, out) = coc(
        &env,
        &["job", "run", "two-greetings", "--host", "no-such-host"],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("no host is named 'no-such-host'"), "{out}");
    assert_eq!(out.trim().lines().count(), 1, "one line: {out}");
    assert_eq!(job_tickets(&env).await, before, "nothing was created");
    let (ok, out) = coc(
        &env,
        &["job", "run", "two-greetings", "--host", &name, "--follow"],
    );
    assert!(ok, "{out}");
    assert!(out.contains(&format!("[{name} say] hello-job")), "{out}");
    assert!(
        out.contains(&format!("[{name} again] hello-again")),
        "{out}"
    );
    assert_eq!(out.matches("hello-job").count(), 1, "printed once: {out}");
    for (step, task) in [("1", "say"), ("2", "again")] {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().nth(3) == Some(task))
            .unwrap_or_else(|| panic!("a row for {task}: {out}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[..3], [step, "1", name.as_str()], "{row}");
        assert!(row.contains("successful"), "{row}");
    }
    let (_, listed) = coc(&env, &["--output", "json", "job-ticket", "list"]);
    let v: serde_json::Value = serde_json::from_str(&listed).expect(&listed);
    let number = v["items"][0]["number"].as_str().unwrap().to_string();
    let (ok, shown) = coc(&env, &["job-ticket", "show", &number]);
    assert!(ok, "{shown}");
    assert!(
        shown.contains(&format!("--- step 2 · {name} · again ---\nhello-again")),
        "{shown}"
    );
}

/// How many job tickets the env's server holds.
async fn job_tickets(env: &Env) -> usize {
    env.call("GET", "/api/v1/job-tickets", None).await["items"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Issue 16: the help speaks the user's words: no catalogue codes
/// (`(X3)`, `ref. 10.1.2`) in any command's help.
#[test]
fn help_has_no_feature_codes() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_coc"))
            .args(args)
            .arg("--help")
            .output()
            .expect("coc runs");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let top = help(&[]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 20, "{top}");
    let code = regex_lite(&top);
    assert!(code.is_none(), "coc --help: {code:?}");
    for c in &commands {
        let text = help(&[c]);
        assert!(text.contains("Usage: coc"), "{c}: {text}");
        assert!(
            regex_lite(&text).is_none(),
            "coc {c} --help: {:?}",
            regex_lite(&text)
        );
    }
}

/// The first catalogue code in `text`: `(A1`, `, X4)` or `ref. 1`.
fn regex_lite(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    for i in 0..chars.len().saturating_sub(2) {
        let lead = chars[i] == '(' || (chars[i] == ' ' && i > 0 && chars[i - 1] == ',');
        let code = lead && chars[i + 1].is_ascii_uppercase() && chars[i + 2].is_ascii_digit();
        let rest: String = chars[i..(i + 12).min(chars.len())].iter().collect();
        if code || rest.starts_with("ref. ") {
            return Some(rest);
        }
    }
    None
}

/// Issue 17: silences and inhibition rules from the CLI — matchers typed
/// as a shell passes them, a maintenance window, listing and expiring;
/// inhibition rules by name; a bad matcher is one line, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_and_inhibition_rules_from_the_cli() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (ok, out) = coc(
        &env,
        &[
            "silence",
            "add",
            "alertname=DiskFull",
            "instance=~\"web-.*\"",
            "--duration",
            "2h",
            "--comment",
            "disk swap",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        s["matchers_text"],
        "{alertname=\"DiskFull\", instance=~\"web-.*\"}"
    );
    assert_eq!(
        s["ends_at"].as_i64().unwrap() - s["starts_at"].as_i64().unwrap(),
        7_200_000
    );
    let id = s["id"].as_str().unwrap().to_string();
    let (ok, out) = coc(
        &env,
        &[
            "silence",
            "add",
            "job=backup",
            "--duration",
            "30d",
            "--comment",
            "patch night",
            "--weekly",
            "sat,sun",
            "--from",
            "22:00",
            "--to",
            "02:00",
            "--tz",
            "Europe/Berlin",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["silence", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("disk swap") && out.contains("patch night"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["silence", "expire", &id]);
    assert!(ok && out.contains("expired"), "{out}");
    let (ok, out) = coc(&env, &["silence", "list"]);
    assert!(ok && !out.contains("disk swap"), "{out}");
    let (ok, out) = coc(
        &env,
        &[
            "silence",
            "add",
            "a=~(",
            "--duration",
            "1h",
            "--comment",
            "x",
        ],
    );
    assert!(!ok, "{out}");
    assert_eq!(out.trim().lines().count(), 1, "one line: {out}");
    assert!(out.contains("regular expression"), "{out}");

    let (ok, out) = coc(
        &env,
        &[
            "inhibition",
            "add",
            "node-down",
            "--source",
            "alertname=NodeDown",
            "--target",
            "alertname!=NodeDown",
            "--equal",
            "instance",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["inhibition", "show", "node-down"]);
    assert!(
        ok && out.contains("alertname=\"NodeDown\"") && out.contains("instance"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["inhibition", "delete", "node-down"]);
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["inhibition", "list"]);
    assert!(ok && !out.contains("node-down"), "{out}");
}

/// A generic integration with a field mapping, created and changed from the
/// CLI by name: the sender's own JSON is taken in, `update` replaces the
/// mapping and renames, `--no-mapping` removes it; a bad entry is one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_mapping_is_set_and_changed_from_the_cli_by_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (ok, out) = coc(
        &env,
        &[
            "integration",
            "create",
            "shop",
            "--type",
            "generic",
            "--items",
            "/alerts",
            "--map",
            "alarmName=/title",
            "--map",
            "alarmLevel=/priority",
            "--map",
            "resourceName=/host/name",
            "--level",
            "P1=critical",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let body = serde_json::json!({"alerts": [{"title": "Checkout slow", "priority": "P1",
        "host": {"name": "shop-01"}}]});
    let r = env
        .http
        .post(format!("{}/ingest/{key}/generic", env.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let alarms = env.call("GET", "/api/v1/alarms", None).await;
    assert_eq!(alarms["items"][0]["name"], "Checkout slow");
    assert_eq!(alarms["items"][0]["level"], "Critical");
    assert_eq!(alarms["items"][0]["resource_name"], "shop-01");
    let (ok, out) = coc(
        &env,
        &[
            "integration",
            "update",
            "shop",
            "--name",
            "shop-web",
            "--map",
            "alarmName=/summary",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "shop-web");
    assert_eq!(
        v["mapping"]["fields"],
        serde_json::json!({"alarmName": "/summary"})
    );
    let (ok, out) = coc(
        &env,
        &["integration", "update", "shop-web", "--map", "title=/x"],
    );
    assert!(!ok);
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    assert!(out.contains("unknown field 'title'"), "{out}");
    let (ok, out) = coc(
        &env,
        &[
            "integration",
            "update",
            "shop-web",
            "--no-mapping",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("mapping").is_none(), "{v}");
    // Answered once logged (decision 0031), by name; not for PagerDuty.
    let (ok, out) = coc(
        &env,
        &[
            "integration",
            "update",
            "shop-web",
            "--acknowledge",
            "received",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["acknowledge"], "received", "{v}");
    let (ok, out) = coc(
        &env,
        &[
            "integration",
            "create",
            "pd",
            "--type",
            "pagerduty",
            "--acknowledge",
            "received",
        ],
    );
    assert!(!ok && out.trim().lines().count() == 1, "{out}");
    assert!(out.contains("'received' is for"), "{out}");
    let (ok, out) = coc(&env, &["integration", "show", "no-such"]);
    assert!(
        !ok && out.contains("no integration named 'no-such'"),
        "{out}"
    );
}

/// A converging forwarding rule from a JSON file, then shown, changed and
/// disabled by its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converging_rule_is_managed_by_name_from_the_cli() {
    let env = Env::new();
    let _server = env.server(None).await;
    env.call(
        "POST",
        "/api/v1/users",
        Some(serde_json::json!({"name": "alice"})),
    )
    .await;
    let file = env.dir.path().join("rule.json");
    let rule = |window: u32| {
        serde_json::json!({"name": "hosts", "incident_level": "P3", "assignee": "alice",
            "converge": {"by": ["resource"], "window_minutes": window}, "after_minutes": 5})
        .to_string()
    };
    std::fs::write(&file, rule(10)).unwrap();
    let f = file.to_str().unwrap();
    let (ok, out) = coc(&env, &["rule", "create", "-f", f]);
    assert!(ok, "{out}");
    std::fs::write(&file, rule(30)).unwrap();
    let (ok, out) = coc(&env, &["rule", "update", "hosts", "-f", f]);
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["rule", "disable", "hosts"]);
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["rule", "show", "hosts", "-o", "json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["converge"]["window_minutes"], 30);
    assert_eq!(v["after_minutes"], 5);
    assert_eq!(v["enabled"], false);
    let (ok, out) = coc(&env, &["rule", "show", "nope"]);
    assert!(
        !ok && out.contains("no forwarding rule named 'nope'"),
        "{out}"
    );
}

/// Replay before enabling (B3): a rule and a silence not saved yet are run
/// against the stored alarms, from the CLI: what the rule would have
/// matched and opened (grouped when it converges), what the silence would
/// have muted; nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_and_a_silence_are_replayed_before_they_are_saved() {
    let env = Env::new();
    let _server = env.server(None).await;
    let integ = env
        .call(
            "POST",
            "/api/v1/integrations",
            Some(serde_json::json!({"name": "prom", "type": "alertmanager"})),
        )
        .await;
    let alerts: Vec<serde_json::Value> = [
        ("DiskFull", "db-1:9100"),
        ("DiskFull", "db-2:9100"),
        ("HighCPU", "db-1:9100"),
        ("HighCPU", "web-1:9100"),
    ]
    .iter()
    .map(|(n, i)| serde_json::json!({"labels": {"alertname": n, "instance": i}}))
    .collect();
    let r = env
        .http
        .post(format!(
            "{}/ingest/{}/api/v2/alerts",
            env.url(),
            integ["key"].as_str().unwrap()
        ))
        .json(&alerts)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let file = env.dir.path().join("rule.json");
    std::fs::write(
        &file,
        serde_json::json!({"name": "db", "incident_level": "P2", "assignee": "nobody-yet",
            "conditions": [{"field": "resourceName", "op": "contains", "value": "db-"}],
            "converge": {"by": ["resource"]}})
        .to_string(),
    )
    .unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "rule",
            "replay",
            "-f",
            file.to_str().unwrap(),
            "--days",
            "1",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            v["alarms"].as_i64(),
            v["matched"].as_i64(),
            v["incidents"].as_i64()
        ),
        (Some(4), Some(3), Some(2)),
        "{v}"
    );
    assert_eq!(v["sample"][0]["alarms"], 2);
    let (ok, out) = coc(
        &env,
        &[
            "silence",
            "replay",
            "alertname=HighCPU",
            "instance=~\"db-.*|web-.*\"",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["silenced"], 2, "{v}");
    let (ok, out) = coc(&env, &["silence", "replay", "alertname=X", "--days", "90"]);
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("days must be 1 to 30"),
        "{out}"
    );
    let rules = env.call("GET", "/api/v1/forwarding-rules", None).await;
    assert_eq!(rules["items"].as_array().unwrap().len(), 0, "nothing saved");
    let silences = env.call("GET", "/api/v1/silences", None).await;
    assert_eq!(
        silences["items"].as_array().unwrap().len(),
        0,
        "nothing saved"
    );
}

/// Original alarms (I1) and a notification rule's replay (B3) from the
/// CLI: an alarm received twice lists both occurrences, newest first; a
/// notification rule not saved yet is replayed over an incident opened
/// just before and names who it would have told; nothing is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarms_occurrences_and_a_notification_replay_from_the_cli() {
    let env = Env::new();
    let _server = env.server(None).await;
    let integ = env
        .call(
            "POST",
            "/api/v1/integrations",
            Some(serde_json::json!({"name": "prom", "type": "alertmanager"})),
        )
        .await;
    let url = format!(
        "{}/ingest/{}/api/v2/alerts",
        env.url(),
        integ["key"].as_str().unwrap()
    );
    for summary in ["disk at 91%", "disk at 97%"] {
        let r = env
            .http
            .post(&url)
            .json(
                &serde_json::json!([{"labels": {"alertname": "DiskFull", "instance": "db-1:9100"},
                "annotations": {"summary": summary}}]),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let alarms = env.call("GET", "/api/v1/alarms", None).await;
    let id = alarms["items"][0]["id"].as_str().unwrap().to_string();
    let (ok, out) = coc(&env, &["alarm", "occurrences", &id, "-o", "json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = v.as_array().expect("a list of occurrences");
    assert_eq!(items.len(), 2, "{v}");
    assert_eq!(items[0]["number"], 2, "newest first: {v}");
    assert_eq!(items[0]["description"], "disk at 97%", "{v}");
    let (ok, out) = coc(&env, &["alarm", "occurrences", "no-such-alarm"]);
    assert!(!ok && out.trim().lines().count() == 1, "{out}");

    env.call(
        "POST",
        "/api/v1/incidents",
        Some(serde_json::json!({"title": "payments down", "level": "P1", "assignee": "admin"})),
    )
    .await;
    let file = env.dir.path().join("notify.json");
    std::fs::write(
        &file,
        serde_json::json!({"name": "p1 to owner", "templates": ["incident_created"], "levels": ["P1"],
            "recipients": [{"type": "owner"}], "channels": ["email"]})
        .to_string(),
    )
    .unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "notification",
            "replay",
            "-f",
            file.to_str().unwrap(),
            "--days",
            "1",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["matched"].as_i64(), v["messages"].as_i64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(
        v["sample"][0]["people"],
        serde_json::json!(["admin"]),
        "{v}"
    );
    let (ok, out) = coc(
        &env,
        &[
            "notification",
            "replay",
            "-f",
            file.to_str().unwrap(),
            "--days",
            "0",
        ],
    );
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("days must be 1 to 30"),
        "{out}"
    );
    let rules = env.call("GET", "/api/v1/notification-rules", None).await;
    assert_eq!(rules["items"].as_array().unwrap().len(), 0, "nothing saved");
}

/// Applications (R6) from the CLI, by name: added with an owner, modules
/// and regions, changed (renamed, a module added: the description of the
/// one kept stays), listed with module names, refused in one line when
/// the owner is no user, deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_managed_by_name_from_the_cli() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (ok, out) = coc(
        &env,
        &[
            "application",
            "add",
            "payments",
            "--owner",
            "admin",
            "--module",
            "web",
            "--region",
            "eu-west-1,cn-north-4",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["regions"], serde_json::json!(["eu-west-1", "cn-north-4"]));
    env.call(
        "PUT",
        "/api/v1/applications/payments",
        Some(serde_json::json!({"name": "payments", "owner": "admin",
            "modules": [{"name": "web", "description": "nginx"}], "regions": ["eu-west-1"]})),
    )
    .await;
    let (ok, out) = coc(
        &env,
        &[
            "application",
            "update",
            "payments",
            "--rename",
            "pay",
            "--module",
            "web,db",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "pay");
    assert_eq!(
        v["modules"],
        serde_json::json!([{"name": "web", "description": "nginx"}, {"name": "db"}])
    );
    assert_eq!(v["owner"], "admin", "what was not given stays");
    let (ok, out) = coc(&env, &["application", "list"]);
    assert!(
        ok && out.contains("web, db") && out.contains("pay"),
        "{out}"
    );
    let (ok, out) = coc(
        &env,
        &["application", "add", "billing", "--owner", "nobody"],
    );
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("owner 'nobody' is no user"),
        "{out}"
    );
    // A host is put into it by names.
    let token = env.enrollment().await;
    let _agent = env.agent_with(0, &token, &["--discovery-interval", "0"]);
    let id = env.hosts(1).await.remove(0);
    let (ok, out) = coc(
        &env,
        &[
            "resource",
            "assign",
            &id,
            "--application",
            "pay",
            "--module",
            "db",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["application"].as_str(), v["module"].as_str()),
        (Some("pay"), Some("db"))
    );
    let (ok, out) = coc(
        &env,
        &[
            "resource",
            "list",
            "--application",
            "pay",
            "--module",
            "DB",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    let (ok, out) = coc(&env, &["resource", "list", "--status", "down"]);
    assert!(
        !ok && out.contains("use running, abnormal, offline, vanished or unmonitored"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["application", "delete", "pay"]);
    assert!(!ok && out.contains("belong to this application"), "{out}");
    let (ok, out) = coc(&env, &["resource", "assign", &id, "--none"]);
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["application", "delete", "pay"]);
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["application", "show", "pay"]);
    assert!(!ok && out.contains("does not exist"), "{out}");
    // An incident names an application that exists, and follows its rename.
    let new_incident = |app: &'static str| {
        [
            "incident",
            "create",
            "--title",
            "checkout slow",
            "--assignee",
            "admin",
            "--application",
            app,
            "-o",
            "json",
        ]
    };
    let (ok, out) = coc(&env, &new_incident("shop"));
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("application 'shop' does not exist"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["application", "add", "shop"]);
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &new_incident("shop"));
    assert!(ok, "{out}");
    let number = serde_json::from_str::<serde_json::Value>(&out).unwrap()["number"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, out) = coc(
        &env,
        &["application", "update", "shop", "--rename", "webshop"],
    );
    assert!(ok, "{out}");
    let (ok, out) = coc(&env, &["incident", "show", &number, "-o", "json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["application"], "webshop");
    let (ok, out) = coc(&env, &["application", "delete", "webshop"]);
    assert!(!ok && out.contains("1 incident(s)"), "{out}");
}

/// Discovery from the CLI by host name (R2, R4): the real `coc agent`
/// reports what its host listens on; `coc resource services <name>` lists
/// the PostgreSQL server running here, and with `--discovery-interval 0`
/// nothing is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_services_are_listed_by_its_name() {
    if std::net::TcpStream::connect(("127.0.0.1", 5432)).is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PostgreSQL is not running (CI)"
        );
        return;
    }
    let env = Env::new();
    let _server = env.server(None).await;
    let (_agent, id, name) = one_agent(&env).await;
    env.wait(
        &format!("/api/v1/resources/{id}/services"),
        "PostgreSQL found",
        |v| {
            v["items"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s["kind"] == "postgresql"))
        },
    )
    .await;
    let (ok, out) = coc(&env, &["resource", "services", &name]);
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("postgresql"))
        .unwrap_or_default();
    assert!(line.contains("5432") && line.contains("database"), "{out}");
    let (ok, out) = coc(&env, &["resource", "dependencies", &name, "-o", "json"]);
    assert!(ok && out.contains("\"items\""), "{out}");
    // What the agent found is in the inventory, on the host, by name.
    let (ok, out) = coc(
        &env,
        &["resource", "list", "--host", &name, "--type", "database"],
    );
    assert!(
        ok && out.contains(&format!("postgresql@{name}:5432")),
        "{out}"
    );
    // A cache registered by hand on it, changed and removed by name.
    let (ok, out) = coc(&env, &["resource", "types"]);
    assert!(
        ok && out.contains("load_balancer") && out.contains("listeners"),
        "{out}"
    );
    let (ok, out) = coc(
        &env,
        &[
            "resource",
            "add",
            "cache",
            "sessions",
            "--host",
            &name,
            "--field",
            "engine=redis",
            "--field",
            "port=6380",
            "--tag",
            "tier=gold",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = coc(
        &env,
        &["resource", "add", "cache", "bad", "--field", "nodes=3"],
    );
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("no field 'nodes'"),
        "{out}"
    );
    let (ok, out) = coc(
        &env,
        &[
            "resource",
            "update",
            "sessions",
            "--field",
            "version=7",
            "--field",
            "port=",
            "--region",
            "eu-west",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["attributes"],
        serde_json::json!({"engine": "redis", "version": "7"})
    );
    assert_eq!(
        (v["region"].as_str(), v["host"].as_str()),
        (Some("eu-west"), Some(name.as_str()))
    );
    assert_eq!(v["tags"]["tier"], "gold", "what was not given stays");
    let (ok, out) = coc(&env, &["resource", "region", &name, "eu-north"]);
    assert!(ok && out.contains("eu-north"), "{out}");
    let (ok, out) = coc(
        &env,
        &["resource", "list", "--region", "eu-north", "--type", "host"],
    );
    assert!(ok && out.contains(&name), "{out}");
    let (ok, out) = coc(&env, &["resource", "delete", "sessions"]);
    assert!(ok && out.contains("deleted cache sessions"), "{out}");
    let (ok, out) = coc(&env, &["resource", "show", "sessions"]);
    assert!(!ok && out.contains("does not exist"), "{out}");
    // An inventory file: a dry run, then the import, by file name.
    let file = env.dir.path().join("inventory.csv");
    std::fs::write(
        &file,
        format!("type,name,host,engine,port\r\ndatabase,billing-db,{name},postgresql,5433\r\nload_balancer,edge,,,\r\n"),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (ok, out) = coc(&env, &["resource", "import", path, "--dry-run"]);
    assert!(
        ok && out.contains("dry run, nothing imported: 2 created") && out.contains("billing-db"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["resource", "show", "billing-db"]);
    assert!(!ok, "{out}");
    let (ok, out) = coc(&env, &["resource", "import", path]);
    assert!(ok && out.contains("imported: 2 created"), "{out}");
    let (ok, out) = coc(&env, &["resource", "show", "billing-db", "-o", "json"]);
    assert!(ok && out.contains("\"port\": \"5433\""), "{out}");
    std::fs::write(&file, "type,name,engine\nvm,x,\n").unwrap();
    let (ok, out) = coc(&env, &["resource", "import", path]);
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("row 2: type 'vm'"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["resource", "services", "no-such-host"]);
    assert!(
        !ok && out.contains("no host is called 'no-such-host'"),
        "{out}"
    );
    // Discovery off: a second agent's host reports nothing. That agent is
    // the slim `coc-agent` binary (decision 0021): it joins the same way.
    let _quiet = env.slim_agent(1, &env.enrollment().await, &["--discovery-interval", "0"]);
    let ids = env.hosts(2).await;
    let other = ids.iter().find(|h| **h != id).unwrap();
    let slim = env
        .call("GET", &format!("/api/v1/resources/{other}"), None)
        .await;
    assert_eq!(slim["agent_status"], "running", "{slim}");
    assert_eq!(slim["agent_identity"], "active", "{slim}");
    assert!(slim["os"].as_str().is_some_and(|o| !o.is_empty()), "{slim}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let v = env
        .call("GET", &format!("/api/v1/resources/{other}/services"), None)
        .await;
    assert_eq!(v["items"], serde_json::json!([]), "{v}");
}

/// Cloud accounts from the CLI by name (R2): the password from an
/// environment variable (never a command-line value) and never printed;
/// a synchronization that cannot reach the identity service fails in one
/// line and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_accounts_are_managed_by_name_from_the_cli() {
    let env = Env::new();
    let _server = env.server(None).await;
    let with_password = |args: &[&str]| coc_with(&env, args, &[("COC_CLOUD_PASSWORD", "s3cret")]);
    let add = [
        "cloud",
        "add",
        "lab",
        "--auth-url",
        "http://127.0.0.1:9",
        "--username",
        "coc",
        "--project",
        "ops",
        "--sync-minutes",
        "0",
        "-o",
        "json",
    ];
    let (ok, out) = coc(&env, &add);
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("password is required"),
        "{out}"
    );
    let (ok, out) = with_password(&add);
    assert!(ok, "{out}");
    assert!(!out.contains("s3cret"), "{out}");
    let (ok, out) = coc(&env, &["cloud", "list"]);
    assert!(
        ok && out.contains("lab") && out.contains("http://127.0.0.1:9"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["cloud", "sync", "lab"]);
    assert!(
        !ok && out.trim().lines().count() == 1
            && out.contains("synchronizing 'lab' failed: identity service unreachable"),
        "{out}"
    );
    let (ok, out) = coc(
        &env,
        &[
            "cloud",
            "update",
            "lab",
            "--sync-minutes",
            "15",
            "--region",
            "RegionOne",
            "-o",
            "json",
        ],
    );
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["sync_minutes"].as_u64(), v["regions"][0].as_str()),
        (Some(15), Some("RegionOne"))
    );
    assert!(
        v["last_outcome"].as_str().unwrap().starts_with("failed:"),
        "{v}"
    );
    let (ok, out) = coc(&env, &["cloud", "delete", "lab"]);
    assert!(ok && out.contains("deleted lab"), "{out}");
    let (ok, out) = coc(&env, &["cloud", "show", "lab"]);
    assert!(!ok && out.contains("does not exist"), "{out}");
}

/// Drift from the CLI by host name (R5): a desired state set with
/// `--package`, `--service` and `--file`, the real agent's report shown
/// as differences, a changed file noticed, the current state accepted,
/// the desired state cleared; bad input is one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_set_shown_and_accepted_by_host_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (_agent, id, name) = one_agent(&env).await;
    let conf = env.dir.path().join("app.conf");
    std::fs::write(&conf, "a=1\n").unwrap();
    let file = conf.to_str().unwrap();
    let (ok, out) = coc(&env, &["drift", "set", &name, "--file", "relative/path"]);
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("absolute"),
        "{out}"
    );
    let (ok, out) = coc(
        &env,
        &[
            "drift",
            "set",
            &name,
            "--file",
            file,
            "--service",
            "no-such-service-coc",
            "--interval",
            "30",
        ],
    );
    assert!(ok && out.contains(&name), "{out}");
    env.wait(&format!("/api/v1/drift/{id}"), "the first report", |v| {
        v["status"] == "drifted"
    })
    .await;
    let (ok, out) = coc(&env, &["drift", "show", &name]);
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("no-such-service-coc"))
        .unwrap_or_default();
    assert!(
        line.contains("running") && line.contains("stopped"),
        "{out}"
    );
    std::fs::write(&conf, "a=2\n").unwrap();
    env.wait(&format!("/api/v1/drift/{id}"), "the file's drift", |v| {
        v["differences"].as_array().is_some_and(|d| d.len() == 2)
    })
    .await;
    let (ok, out) = coc(&env, &["drift", "list"]);
    assert!(
        ok && out.contains("drifted") && out.contains(&name),
        "{out}"
    );
    // Accepted: the new hash is the baseline; the service stays drift.
    let (ok, out) = coc(&env, &["drift", "accept", &name, "-o", "json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["differences"].as_array().unwrap().len(), 1, "{v}");
    let (ok, out) = coc(&env, &["drift", "clear", &name]);
    assert!(ok && out.contains("cleared"), "{out}");
    let (ok, out) = coc(&env, &["drift", "show", &name]);
    assert!(!ok && out.contains("does not exist"), "{out}");
}

/// A network namespace with a veth link to this one (deleted on drop):
/// its side is `10.213.<n>.2`, ours `10.213.<n>.1`; it cannot reach this
/// namespace's loopback.
struct Netns {
    name: String,
    ours: String,
}

impl Netns {
    fn create() -> Option<Netns> {
        let n: u8 = rand::random_range(1..250);
        let name = format!("cocpx{n}");
        let (ours, theirs) = (format!("vpx{n}a"), format!("vpx{n}b"));
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        let steps: Vec<Vec<String>> = [
            format!("ip netns add {name}"),
            format!("ip link add {ours} type veth peer name {theirs}"),
            format!("ip link set {theirs} netns {name}"),
            format!("ip addr add 10.213.{n}.1/30 dev {ours}"),
            format!("ip link set {ours} up"),
            format!("ip netns exec {name} ip addr add 10.213.{n}.2/30 dev {theirs}"),
            format!("ip netns exec {name} ip link set {theirs} up"),
            format!("ip netns exec {name} ip link set lo up"),
        ]
        .iter()
        .map(|s| s.split(' ').map(String::from).collect())
        .collect();
        let ns = Netns {
            name,
            ours: format!("10.213.{n}.1"),
        };
        for s in steps {
            let ok = Command::new(&s[0])
                .args(&s[1..])
                .status()
                .is_ok_and(|st| st.success());
            if !ok {
                return None;
            }
        }
        Some(ns)
    }

    /// `cmd` run inside the namespace, under its own host name.
    fn command(&self, hostname: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, "unshare", "--uts", "sh", "-c"])
            .arg(format!("hostname {hostname} && exec \"$0\" \"$@\""))
            .arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Proxy mode (R3): a host in a network namespace that cannot reach the
/// server joins through a proxy agent (`--proxy-listen`), by its own key,
/// and runs a script from the CLI by its name; its TLS-free link here is
/// a plain TCP relay, so what it sends reaches the server unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_cannot_reach_the_server_joins_through_a_proxy_agent() {
    let Some(ns) = Netns::create() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "network namespaces are needed in CI (root, iproute2)"
        );
        eprintln!("SKIPPED: cannot create a network namespace");
        return;
    };
    let env = Env::new();
    let _server = env.server(None).await;
    let port = env.url().rsplit(':').next().unwrap().to_string();
    // From inside, the server's address is unreachable.
    let direct = ns
        .command("probe", "bash")
        .args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")])
        .status()
        .unwrap();
    assert!(
        !direct.success(),
        "the namespace reaches the server directly"
    );
    let relay_port = std::net::TcpListener::bind((ns.ours.as_str(), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("{}:{relay_port}", ns.ours);
    let _proxy = env.slim_agent(
        0,
        &env.enrollment().await,
        &["--proxy-listen", &listen, "--discovery-interval", "0"],
    );
    env.hosts(1).await;
    let _behind = env.spawn_agent(
        ns.command("behind-proxy", env!("CARGO_BIN_EXE_coc-agent")),
        1,
        &env.enrollment().await,
        &[env.url()],
        &["--proxy", &listen, "--discovery-interval", "0"],
    );
    env.hosts(2).await;
    let (ok, out) = coc(&env, &["resource", "list", "--type", "host"]);
    let line = out
        .lines()
        .find(|l| l.contains("behind-proxy"))
        .unwrap_or_default();
    assert!(
        ok && line.contains("running"),
        "{out}\n{}",
        env.agent_log(1)
    );
    // The server knows who goes through whom.
    let hosts = env.call("GET", "/api/v1/resources?type=host", None).await;
    let items = hosts["items"].as_array().unwrap();
    let by = |n: &str| items.iter().find(|h| h["hostname"] == n).cloned().unwrap();
    let behind = by("behind-proxy");
    assert_eq!(behind["proxy"], listen.as_str(), "{behind}");
    let proxy = items
        .iter()
        .find(|h| h["hostname"] != "behind-proxy")
        .unwrap();
    assert_eq!(proxy["proxy_listen"], listen.as_str(), "{proxy}");
    assert!(proxy["proxy"].is_null());
    let f = env.dir.path().join("where.sh");
    std::fs::write(&f, "echo \"from-$(hostname)\"\n").unwrap();
    let (ok, out) = coc(
        &env,
        &[
            "script",
            "create",
            "--name",
            "where",
            "--file",
            f.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = coc(
        &env,
        &[
            "script",
            "run",
            "where",
            "--host",
            "behind-proxy",
            "--follow",
        ],
    );
    assert!(
        ok && out.contains("[behind-proxy] from-behind-proxy"),
        "{out}"
    );
}

/// A real OpenSSH server on a loopback port with its own host key and
/// configuration, accepting root with one key (`client_key` in its
/// directory) and other users with their password (killed on drop).
struct Sshd {
    child: std::process::Child,
    port: u16,
}

impl Sshd {
    fn start(dir: &std::path::Path) -> Option<Sshd> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let keygen = |name: &str| {
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(name))
                .status()
                .is_ok_and(|s| s.success())
        };
        if !keygen("host_key") || !keygen("client_key") {
            return None;
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication yes\nKbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\n",
                d = dir.display()
            ),
        )
        .ok()?;
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).ok()?)
            .spawn()
            .ok()?;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Sshd { child, port });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The systemd unit an installation writes, made as the install script
/// makes it (its `sed` puts the command in), is one systemd accepts
/// (`systemd-analyze verify`, offline); a broken command is refused, so
/// the check can fail.
#[test]
fn the_unit_an_installation_writes_is_valid_for_systemd() {
    use coc_domain::agent_install::{UNIT_COMMAND, systemd_unit};
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(!ci, "systemd-analyze (Debian systemd) is needed in CI");
        eprintln!("SKIPPED: no systemd-analyze");
        return;
    }
    assert!(
        coc_domain::agent_install::SCRIPT.contains("sed \\\"s|@COMMAND@|\\$CMD|\\\""),
        "the script substitutes the command as this test does"
    );
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("coc-agent.service");
    let write = |cmd: &str| {
        let out = Command::new("sh")
            .args([
                "-c",
                "printf '%s' \"$UNIT\" | sed \"s|@COMMAND@|$CMD|\" > \"$OUT\"",
            ])
            .env("UNIT", systemd_unit(UNIT_COMMAND))
            .env("CMD", cmd)
            .env("OUT", &unit)
            .status()
            .unwrap();
        assert!(out.success());
    };
    let verify = || {
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&unit)
            .output()
            .unwrap()
    };
    let exe = env!("CARGO_BIN_EXE_coc-agent");
    write(&format!(
        "{exe} agent --server https://coc.example:8080,https://coc-2.example:8080 \
         --token-file /opt/coc-agent/state/enroll.token --state-dir /opt/coc-agent/state --proxy 10.0.0.9:7443"
    ));
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!("ExecStart={exe} agent --server")),
        "{text}"
    );
    let out = verify();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    write("coc-agent --server https://coc.example:8080");
    assert!(!verify().status.success(), "a relative command is refused");
}

fn sha256_of(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Agent upgrade (R3) of the agent installed in `install_dir`: to the
/// slim build (uploaded by version from the CLI), fetched over the agent's
/// own link, checked and swapped in, the host then reporting its SHA-256;
/// then to a build that never connects, which is rolled back after the
/// deadline, the task failing and the host back on the slim build.
async fn upgrade_and_roll_back(env: &Env, host: &str, install_dir: &std::path::Path) {
    let slim = std::path::Path::new(env!("CARGO_BIN_EXE_coc-agent"));
    let slim_sum = sha256_of(slim);
    let upload = |file: &std::path::Path, version: &str| {
        coc(
            env,
            &[
                "agent-build",
                "upload",
                file.to_str().unwrap(),
                "--version",
                version,
            ],
        )
    };
    let (ok, out) = coc(
        env,
        &[
            "agent-build",
            "upload",
            slim.to_str().unwrap(),
            "--version",
            "2.0.0",
            "--note",
            "slim",
        ],
    );
    assert!(
        ok && out.contains("2.0.0") && out.contains(&slim_sum),
        "{out}"
    );
    // The same version twice, and a file that is no executable: refused.
    let (ok, out) = upload(slim, "2.0.0");
    assert!(!ok && out.contains("already exists"), "{out}");
    let text = env.dir.path().join("notes.txt");
    std::fs::write(&text, "not a program\n").unwrap();
    let (ok, out) = upload(&text, "x");
    assert!(!ok && out.contains("executable"), "{out}");
    // Both hosts are this machine (the same host name): by id.
    let hostname = host;
    let (ok, out) = coc(
        env,
        &["agent-upgrade", hostname, "--build", "2.0.0", "--follow"],
    );
    assert!(
        ok,
        "{out}\n{}",
        std::fs::read_to_string(install_dir.join("agent.log")).unwrap_or_default()
    );
    let h = env
        .wait(
            &format!("/api/v1/resources/{host}"),
            "the upgraded agent",
            |h| h["agent_sha256"] == slim_sum.as_str() && h["agent_status"] == "running",
        )
        .await;
    assert_eq!(h["status"], "running", "{h}");
    assert_eq!(sha256_of(&install_dir.join("coc-agent")), slim_sum);
    assert!(
        install_dir.join("coc-agent.prev").exists(),
        "the old build is kept"
    );
    let (_, out) = coc(env, &["agent-build", "list"]);
    assert!(
        out.lines()
            .any(|l| l.contains("2.0.0") && l.contains(" 1 ")),
        "{out}"
    );

    // A build that starts but never connects: rolled back after 10 s.
    let broken = env.dir.path().join("broken-agent");
    std::fs::write(&broken, "#!/bin/sh\nexec sleep 600\n").unwrap();
    let (ok, out) = upload(&broken, "2.1.0-broken");
    assert!(ok, "{out}");
    let (ok, out) = coc(
        env,
        &[
            "--output",
            "json",
            "agent-upgrade",
            hostname,
            "--build",
            "2.1.0-broken",
            "--rollback-after",
            "10",
        ],
    );
    assert!(ok, "{out}");
    let t: serde_json::Value = serde_json::from_str(&out).expect(&out);
    let ticket = format!("/api/v1/job-tickets/{}", t["id"].as_str().unwrap());
    // While it runs the host shows as upgrading.
    env.wait(&format!("/api/v1/resources/{host}"), "upgrading", |h| {
        h["status"] == "upgrading"
    })
    .await;
    let done = env
        .wait(&ticket, "the rollback", |t| {
            t["status"] != "executing" && t["status"] != "waiting"
        })
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done.to_string()
            .contains("rolled back to the previous build"),
        "{done}"
    );
    let h = env
        .wait(
            &format!("/api/v1/resources/{host}"),
            "the old build back",
            |h| h["agent_sha256"] == slim_sum.as_str() && h["agent_status"] == "running",
        )
        .await;
    assert_eq!(h["status"], "running", "{h}");
    assert_eq!(sha256_of(&install_dir.join("coc-agent")), slim_sum);
}

/// Kills the agents started from `dir` (an installation starts them
/// detached, as a host without systemd would).
struct Installed(std::path::PathBuf);

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(self.0.join("coc-agent"))
            .status();
    }
}

/// A local user with a password, removed on drop.
struct LocalUser(String);

impl LocalUser {
    fn create(password: &str) -> Option<LocalUser> {
        let name = format!("cocin{}", rand::random_range(1000..9999));
        let made = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            return None;
        }
        let user = LocalUser(name);
        let mut c = Command::new("chpasswd")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        use std::io::Write;
        writeln!(c.stdin.take()?, "{}:{password}", user.0).ok()?;
        c.wait().ok()?.success().then_some(user)
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        let _ = Command::new("pkill").args(["-u", &self.0]).status();
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

/// Agent installation (R3) over a real sshd: the installation host's
/// agent signs in with a key, copies its own binary, writes the new
/// agent's id and one-time token and starts it; the installed agent
/// connects and binds the host made for the target. The key and the token
/// never appear in the ticket's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_is_installed_over_ssh_from_an_installation_host() {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let env = Env::new();
    let ssh_dir = env.dir.path().join("ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    let Some(sshd) = root.then(|| Sshd::start(&ssh_dir)).flatten() else {
        assert!(!ci, "sshd (openssh-server) and root are needed in CI");
        eprintln!("SKIPPED: no sshd or not root");
        return;
    };
    let _server = env.server(None).await;
    let (_via, via_id, via_name) = one_agent(&env).await;
    let install_dir = env.dir.path().join("opt-coc-agent");
    let _installed = Installed(install_dir.clone());
    // Bad input changes nothing.
    let bad = env
        .http
        .post(format!("{}/api/v1/agent-installs", env.url()))
        .bearer_auth(crate::support::ADMIN)
        .json(&serde_json::json!({"installation_host": via_id,
            "targets": [{"address": "127.0.0.1;reboot", "password": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    // By key, from the CLI, by the installation host's name.
    let key_file = ssh_dir.join("client_key");
    let (ok, out) = coc(
        &env,
        &[
            "agent-install",
            "--via",
            &via_name,
            "--target",
            &format!("root@127.0.0.1:{}", sshd.port),
            "--key-file",
            key_file.to_str().unwrap(),
            "--install-dir",
            install_dir.to_str().unwrap(),
            "--server",
            &env.url(),
            "--follow",
        ],
    );
    assert!(
        ok,
        "{out}\nsshd: {}",
        std::fs::read_to_string(ssh_dir.join("sshd.log")).unwrap_or_default()
    );
    assert!(out.contains("[127.0.0.1] installed on 127.0.0.1"), "{out}");
    assert!(
        !out.contains("PRIVATE KEY") && !out.contains("coca_"),
        "{out}"
    );
    let made = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("127.0.0.1 "))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{out}"))
    };
    let new_host = made(&out);
    // The installed agent binds the host made for it.
    let host = env
        .wait(
            &format!("/api/v1/resources/{new_host}"),
            "the new agent",
            |h| h["agent_status"] == "running",
        )
        .await;
    assert_eq!(host["agent_identity"], "active", "{host}");
    // It runs the installation host's build, and says which.
    let sum = Command::new("sha256sum")
        .arg(env!("CARGO_BIN_EXE_coc"))
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    let sum = sum.split_whitespace().next().unwrap_or_default();
    assert_eq!(host["agent_sha256"], sum, "{host}");
    assert!(install_dir.join("coc-agent").exists());
    assert!(install_dir.join("state/agent.key").exists());
    upgrade_and_roll_back(&env, &new_host, &install_dir).await;
    // An agent not installed by COC is not removed (the installation
    // host's runs from the build directory, its state elsewhere).
    let (ok, out) = coc(&env, &["agent-uninstall", &via_id, "--follow"]);
    assert!(!ok && out.contains("was not installed by COC"), "{out}");
    assert!(std::path::Path::new(env!("CARGO_BIN_EXE_coc")).exists());
    // The installed one removes itself: its directory and its process.
    let (ok, out) = coc(&env, &["agent-uninstall", &new_host, "--follow"]);
    assert!(ok && out.contains("in 3 seconds"), "{out}");
    let pattern = install_dir.join("coc-agent");
    let mut gone = false;
    // 3 s after its report, and more on a busy machine.
    for _ in 0..600 {
        let running = Command::new("pgrep")
            .arg("-f")
            .arg(&pattern)
            .status()
            .is_ok_and(|s| s.success());
        if !running && !install_dir.exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if !gone {
        let ps = Command::new("pgrep").arg("-af").arg(&pattern).output();
        let ps = ps.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let left: Vec<_> = std::fs::read_dir(&install_dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        panic!(
            "the agent in {} is still there: processes {ps:?}, files {left:?}\n{}",
            install_dir.display(),
            std::fs::read_to_string(install_dir.join("agent.log")).unwrap_or_default()
        );
    }
    // By password, as another user, from an environment variable.
    let password = "Install-pw-7";
    let Some(user) = LocalUser::create(password) else {
        assert!(!ci, "useradd and chpasswd are needed in CI");
        return;
    };
    // (The test's own directory is private to root: the user's is not.)
    let open = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let user_dir = open.path().join("user-agent");
    std::fs::create_dir_all(&user_dir).unwrap();
    let _ = Command::new("chown").arg(&user.0).arg(&user_dir).status();
    let _installed_too = Installed(user_dir.clone());
    let (ok, out) = coc_with(
        &env,
        &[
            "agent-install",
            "--via",
            &via_name,
            "--target",
            &format!("{}@127.0.0.1:{}", user.0, sshd.port),
            "--password-env",
            "INSTALL_PASSWORD",
            "--install-dir",
            user_dir.to_str().unwrap(),
            "--server",
            &env.url(),
            "--follow",
        ],
        &[("INSTALL_PASSWORD", password)],
    );
    assert!(ok, "{out}");
    assert!(!out.contains(password), "{out}");
    let second = made(&out);
    env.wait(
        &format!("/api/v1/resources/{second}"),
        "the user's agent",
        |h| h["agent_status"] == "running",
    )
    .await;
    // A wrong password fails that target, and says so.
    let (ok, out) = coc_with(
        &env,
        &[
            "agent-install",
            "--via",
            &via_name,
            "--target",
            &format!("{}@127.0.0.1:{}", user.0, sshd.port),
            "--password-env",
            "INSTALL_PASSWORD",
            "--install-dir",
            user_dir.to_str().unwrap(),
            "--follow",
        ],
        &[("INSTALL_PASSWORD", "wrong")],
    );
    assert!(!ok && out.contains("is failed"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
}

/// Issue 19 (P1): patch baselines from the CLI by name — the defaults
/// listed, one created from a file, shown and disabled by its name, bad
/// input refused in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_baselines_are_managed_by_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (ok, out) = coc(&env, &["patch-baseline", "list"]);
    assert!(
        ok && out.contains("COC-Debian-Default") && out.contains("installation"),
        "{out}"
    );
    let file = env.dir.path().join("web.json");
    std::fs::write(
        &file,
        r#"{"name": "web-security", "os": "debian", "products": ["12"],
            "rules": {"type": "installation", "classifications": ["security"],
                      "approval": {"type": "after_days", "days": 3}},
            "rejected": ["openssl*"]}"#,
    )
    .unwrap();
    let (ok, out) = coc(
        &env,
        &["patch-baseline", "create", "-f", file.to_str().unwrap()],
    );
    assert!(ok && out.contains("web-security"), "{out}");
    let (ok, out) = coc(&env, &["patch-baseline", "show", "web-security"]);
    assert!(ok && out.contains("\"openssl*\""), "{out}");
    let (ok, out) = coc(&env, &["patch-baseline", "disable", "web-security"]);
    assert!(ok, "{out}");
    let (_, out) = coc(&env, &["patch-baseline", "list", "--name", "web"]);
    assert!(out.contains("false"), "{out}");
    std::fs::write(
        &file,
        r#"{"name": "bad", "os": "debian", "rules": {"type": "custom", "patches": []}}"#,
    )
    .unwrap();
    let (ok, out) = coc(
        &env,
        &["patch-baseline", "create", "-f", file.to_str().unwrap()],
    );
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("1 to 1000"),
        "{out}"
    );
}

/// `coc patch` by host name (P2, P3): a host never scanned says so, a
/// rollback before any scan fails saying why, an unknown baseline is one
/// line; after a scan (a job of the patch_scan atom that does not refresh
/// this machine's lists) the host shows its baseline and the compliance
/// report lists it, also as CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_are_scanned_and_reported_by_host_name() {
    let apt = Command::new("sh")
        .args(["-c", "command -v apt-get"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !apt {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI machines have apt"
        );
        return;
    }
    let env = Env::new();
    let _server = env.server(None).await;
    let (_agent, id, name) = one_agent(&env).await;
    let (ok, out) = coc(&env, &["patch", "show", &name]);
    assert!(ok && out.contains("never scanned"), "{out}");
    let (ok, out) = coc(&env, &["patch", "repair", &name, "--baseline", "nope"]);
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("nope"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["patch", "rollback", &name, "--follow"]);
    assert!(!ok && out.contains("scan it first"), "{out}");
    let job = env
        .call(
            "POST",
            "/api/v1/jobs",
            Some(
                serde_json::json!({"name": "scan-local", "risk_level": "low",
                "steps": [{"name": "scan", "tasks": [
                    {"name": "scan", "atom": {"type": "patch_scan", "skip_refresh": true}}]}]}),
            ),
        )
        .await;
    let t = env
        .call(
            "POST",
            &format!("/api/v1/jobs/{}/execute", job["id"].as_str().unwrap()),
            Some(serde_json::json!({"hosts": [id]})),
        )
        .await;
    let done = env
        .wait(
            &format!("/api/v1/job-tickets/{}", t["id"].as_str().unwrap()),
            "the scan",
            |v| v["status"] != "executing" && v["status"] != "pending",
        )
        .await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let (ok, out) = coc(&env, &["patch", "show", &name]);
    assert!(ok && out.contains("latest scan succeeded"), "{out}");
    assert!(out.contains("baseline COC-"), "{out}");
    let (ok, out) = coc(&env, &["patch", "compliance"]);
    assert!(ok && out.contains(&name), "{out}");
    assert!(out.contains("1 compliant, 0 non-compliant"), "{out}");
    let (ok, out) = coc(&env, &["patch", "compliance", "--csv"]);
    assert!(ok && out.starts_with("host_id,host,os,baseline,"), "{out}");
    assert!(out.lines().nth(1).unwrap().contains(",compliant,"), "{out}");
}

/// `coc resource-op` and `coc host-op` by name (P4): a resource that is
/// no database is one line; a database whose service is not on its host
/// fails its host and `--follow` says what the service manager said; a
/// host that is no cloud server cannot be started, and `--follow` says
/// why; a change of OS without an image, and an unknown host, are one
/// line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_hosts_are_operated_by_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (_agent, id, name) = one_agent(&env).await;
    let (ok, out) = coc(&env, &["host-op", "start", &name, "--follow"]);
    assert!(!ok && out.contains("is no cloud server"), "{out}");
    assert!(out.contains("start started: job ticket"), "{out}");
    for (args, why) in [
        (vec!["host-op", "change-os", name.as_str()], "image"),
        (vec!["host-op", "stop", "no-such-host"], "no-such-host"),
    ] {
        let (ok, out) = coc(&env, &args);
        assert!(
            !ok && out.trim().lines().count() == 1 && out.contains(why),
            "{args:?}: {out}"
        );
    }
    env.call(
        "POST",
        "/api/v1/resources",
        Some(serde_json::json!({"type": "cache", "name": "sessions"})),
    )
    .await;
    env.call(
        "POST",
        "/api/v1/resources",
        Some(
            serde_json::json!({"type": "database", "name": "orders-db", "host": id,
            "attributes": {"service": "no-such-service-coc"}}),
        ),
    )
    .await;
    let (ok, out) = coc(&env, &["resource-op", "restart", "sessions"]);
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("only databases"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["resource-op", "restart", "orders-db", "--follow"]);
    assert!(!ok, "{out}");
    // `service NAME restart` without systemd, `systemctl restart NAME` with.
    assert!(
        out.contains("service no-such-service-coc restart")
            || out.contains("systemctl restart no-such-service-coc"),
        "{out}"
    );
}

/// `coc health-check` by host name (M7): a bad threshold is one line; a
/// check followed to its end prints its verdict and the items that do not
/// pass; it is listed, shown by number and exported as a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_is_health_checked_by_name() {
    let env = Env::new();
    let _server = env.server(None).await;
    let (_agent, _id, name) = one_agent(&env).await;
    let (ok, out) = coc(
        &env,
        &["health-check", "run", &name, "--threshold", "disk=80"],
    );
    assert!(
        !ok && out.trim().lines().count() == 1 && out.contains("KEY=WARN,FAIL"),
        "{out}"
    );
    // Thresholds no machine reaches: nothing fails, whatever the load.
    let (ok, out) = coc(
        &env,
        &[
            "health-check",
            "run",
            &name,
            "--threshold",
            "disk_pct=100,100",
            "--threshold",
            "memory_pct=100,100",
            "--threshold",
            "load_per_cpu=1000,1000",
            "--threshold",
            "cert_days=0,0",
            "--follow",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("health check JOB") && out.contains(" started"),
        "{out}"
    );
    let number = out
        .split_whitespace()
        .find(|w| w.starts_with("JOB"))
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    // Never scanned for patches: a warning, shown with its scope.
    assert!(
        out.contains(&name) && out.contains("patch compliance") && out.contains("warn"),
        "{out}"
    );
    let (ok, out) = coc(&env, &["health-check", "list"]);
    assert!(ok && out.contains(&number), "{out}");
    let (ok, out) = coc(&env, &["health-check", "show", &number]);
    assert!(
        ok && out.contains(&format!("health check {number}: ")),
        "{out}"
    );
    let file = env.dir.path().join("report.csv");
    let (ok, out) = coc(
        &env,
        &[
            "health-check",
            "export",
            &number,
            "--format",
            "csv",
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(
        csv.starts_with("scope,item,value,threshold,verdict\n"),
        "{csv}"
    );
    assert!(csv.contains(&format!("{name},memory,")), "{csv}");
}
