//! The agent link over TLS (issue 14): a real `coc server` serving HTTPS
//! with a certificate from a private CA, a real `coc agent` trusting that
//! CA (`--ca-cert`) enrolls and runs a script; an agent trusting another
//! CA never connects (and so never sends its token); the console's
//! answers carry HSTS and `Secure` cookies; the data dir, the database
//! and the agent's state are private to their user.

use std::time::Duration;

use serde_json::json;

use crate::support::{Env, me};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_connect_over_tls_and_a_wrong_ca_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let ours = coc_server::tls::dev_certificates(&certs.path().join("ours"), &[]).unwrap();
    let theirs = coc_server::tls::dev_certificates(&certs.path().join("theirs"), &[]).unwrap();
    let env = Env::tls(&ours.cert, &ours.key, &ours.ca);
    let _server = env.server(None).await;
    assert!(env.url().starts_with("https://"));

    // Plain HTTP on the TLS port gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/readyz", env.port))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");

    let enrollment = env
        .call(
            "POST",
            "/api/v1/agent-enrollments",
            Some(json!({"name": "tls", "max_uses": 2})),
        )
        .await;
    let token = enrollment["secret"].as_str().unwrap().to_string();
    let eid = enrollment["id"].as_str().unwrap().to_string();

    // The wrong CA: the agent refuses the server before sending anything.
    let theirs_ca = theirs.ca.display().to_string();
    let _wrong = env.agent_with(1, &token, &["--ca-cert", &theirs_ca]);
    // The right one.
    let ours_ca = ours.ca.display().to_string();
    let _right = env.agent_with(0, &token, &["--ca-cert", &ours_ca]);
    let hosts = env.hosts(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = env.call("GET", "/api/v1/resources?type=host", None).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all:#}");
    let log = env.agent_log(1);
    assert!(
        log.contains("UnknownIssuer") || log.contains("invalid peer certificate"),
        "{log}"
    );
    // Only the agent that reached the server spent a use of the token.
    let e = env
        .call("GET", &format!("/api/v1/agent-enrollments/{eid}"), None)
        .await;
    assert_eq!(e["uses"], 1, "{e:#}");

    // Work reaches the agent and its output comes back over TLS.
    let script = env
        .call(
            "POST",
            "/api/v1/scripts",
            Some(
                json!({"name": "tls-hello", "type": "shell", "risk_level": "low",
                "content": "echo \"over tls: $GREETING\"",
                "params": [{"name": "GREETING"}]}),
            ),
        )
        .await;
    let t = env
        .call(
            "POST",
            &format!("/api/v1/scripts/{}/execute", script["id"].as_str().unwrap()),
            Some(json!({"hosts": hosts, "run_as": me(), "params": {"GREETING": "hello"}})),
        )
        .await;
    let t = env
        .wait(
            &format!("/api/v1/tickets/{}", t["id"].as_str().unwrap()),
            "the script ran",
            |t| t["status"] == "successful",
        )
        .await;
    let out = t["tasks"][0]["output"].as_str().unwrap_or_default();
    assert!(out.contains("over tls: hello"), "{t:#}");

    // Over TLS: HSTS on every answer, Secure session cookies.
    let r = env
        .http
        .post(format!("{}/api/v1/login", env.url()))
        .json(&json!({"username": "admin", "password": "durable-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("strict-transport-security"));
    let cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );

    // Private files: the data dir and database, the agent's key and spool.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let d = env.dir.path();
    assert_eq!(mode(d), 0o700);
    for f in ["coc.db", "coc.db-wal", "coc.db-shm"] {
        assert_eq!(mode(&d.join(f)), 0o600, "{f}");
    }
    let agent = d.join("agent-0");
    assert_eq!(mode(&agent), 0o700);
    assert_eq!(mode(&agent.join("agent.key")), 0o600);
    assert_eq!(mode(&agent.join("spool")), 0o700);
    assert_eq!(mode(&agent.join("spool/results")), 0o700);
}
