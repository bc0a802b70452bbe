//! Agent identity (issue 14, R3): the host takeover with the enrollment
//! token is refused, tokens are limited, identities are revoked,
//! re-enrolled and deleted. An impostor speaks the wire protocol itself
//! with its own key, as an attacker with a stolen token would.

use coc_proto::{AgentMessage, Facts, PROTOCOL_VERSION, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{ADMIN, Harness};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A hand-driven agent with its own key pair.
pub struct RawAgent {
    key: Ed25519KeyPair,
    /// Public key, hex.
    pub public: String,
    /// The agent id it claims.
    pub agent_id: String,
    /// The protocol version it says it speaks.
    pub version: u32,
}

/// How the raw agent proves its key.
#[derive(Clone, Copy, PartialEq)]
pub enum Proof {
    /// Signs the challenge with its own key.
    Honest,
    /// Claims `public` but signs with another key.
    Forged,
}

impl RawAgent {
    pub fn new(agent_id: &str) -> RawAgent {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        RawAgent {
            public: hex::encode(key.public_key().as_ref()),
            key,
            agent_id: agent_id.into(),
            version: PROTOCOL_VERSION,
        }
    }

    /// Connects to `url` with `token`; the open link and its host id, or
    /// the server's refusal.
    pub async fn connect(
        &self,
        url: &str,
        token: Option<&str>,
        proof: Proof,
    ) -> Result<(String, Ws), String> {
        let ws_url = format!("{}/api/v1/agent/connect", url.replace("http://", "ws://"));
        let mut req = ws_url.into_client_request().unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| e.to_string())?;
        let facts = Facts {
            agent_id: self.agent_id.clone(),
            hostname: format!("evil-{}", self.agent_id),
            ips: vec!["10.66.66.66".into()],
            os: "Impostor OS".into(),
            arch: "x86_64".into(),
            cpu_cores: 1,
            memory_bytes: 1,
            agent_version: "0".into(),
            boot_id: "b".into(),
            proxy: None,
            proxy_listen: None,
            agent_sha256: String::new(),
        };
        send(
            &mut ws,
            &AgentMessage::Hello {
                version: self.version,
                facts: Box::new(facts),
                public_key: self.public.clone(),
            },
        )
        .await;
        let nonce = match next(&mut ws).await {
            ServerMessage::Challenge { nonce } => nonce,
            ServerMessage::Refused { reason } => return Err(reason),
            other => panic!("unexpected {other:?}"),
        };
        let msg = coc_proto::proof_message(&nonce, &self.agent_id, &self.public);
        let signature = match proof {
            Proof::Honest => hex::encode(self.key.sign(&msg).as_ref()),
            Proof::Forged => hex::encode(RawAgent::new("x").key.sign(&msg).as_ref()),
        };
        send(&mut ws, &AgentMessage::Proof { signature }).await;
        match next(&mut ws).await {
            ServerMessage::Welcome { host_id, .. } => Ok((host_id, ws)),
            ServerMessage::Refused { reason } => Err(reason),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The same, with another agent's public key claimed.
    pub fn claiming_key(mut self, public: &str) -> RawAgent {
        self.public = public.into();
        self
    }
}

async fn send(ws: &mut Ws, m: &AgentMessage) {
    ws.send(Message::Text(serde_json::to_string(m).unwrap().into()))
        .await
        .unwrap();
}

/// The next server message (5 s at most).
pub async fn next(ws: &mut Ws) -> ServerMessage {
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s");
        match m {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

async fn host(h: &Harness, id: &str) -> Value {
    h.client
        .get(&format!("/api/v1/resources/{id}"), &[])
        .await
        .unwrap()
}

#[tokio::test]
async fn an_impostor_with_the_enrollment_token_cannot_take_over_a_host() {
    let h = Harness::start(1).await;
    let ids = h.wait_hosts(1).await;
    let victim = host(&h, &ids[0]).await;
    let agent_id = victim["agent_id"].as_str().unwrap();
    assert_eq!(victim["agent_identity"], "active");
    // The victim's public key: an attacker may have seen it on the wire.
    let victim_key = {
        let pkcs8 = std::fs::read(h.dir.path().join("agent-0/agent.key")).unwrap();
        let k = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        hex::encode(k.public_key().as_ref())
    };

    // The hijack of issue 14: a valid enrollment token (uses left) and the
    // victim's agent id.
    let e = RawAgent::new(agent_id)
        .connect(&h.url(), Some(&h.agent_token), Proof::Honest)
        .await
        .unwrap_err();
    assert!(e.contains("already enrolled"), "{e}");
    // The admin API token is no enrollment token.
    let e = RawAgent::new(agent_id)
        .connect(&h.url(), Some(ADMIN), Proof::Honest)
        .await
        .unwrap_err();
    assert!(e.contains("not valid"), "{e}");
    // The victim's key without its private half.
    let e = RawAgent::new(agent_id)
        .claiming_key(&victim_key)
        .connect(&h.url(), Some(&h.agent_token), Proof::Forged)
        .await
        .unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    // No token, a new key.
    let e = RawAgent::new(agent_id)
        .connect(&h.url(), None, Proof::Honest)
        .await
        .unwrap_err();
    assert!(e.contains("not enrolled"), "{e}");

    // Nothing about the host changed, and no host was added.
    let after = host(&h, &ids[0]).await;
    assert_eq!(after["hostname"], victim["hostname"]);
    assert_eq!(after["ips"], victim["ips"]);
    assert_eq!(
        after["agent_key_fingerprint"],
        victim["agent_key_fingerprint"]
    );
    let all = h
        .client
        .get("/api/v1/resources", &[("type", "host".into())])
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // The victim keeps its tasks, with their secrets.
    let script = h
        .client
        .post(
            "/api/v1/scripts",
            &json!({"name": "whoami", "type": "shell", "risk_level": "low",
                "content": "echo \"real agent, password length ${#PASSWORD}\"",
                "params": [{"name": "PASSWORD", "sensitive": true}]}),
        )
        .await
        .unwrap();
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{}/execute", script["id"].as_str().unwrap()),
            &json!({"hosts": ids, "params": {"PASSWORD": "s3cret-pw"}}),
        )
        .await
        .unwrap();
    let t = h
        .wait_ticket(t["id"].as_str().unwrap(), |t| t["status"] == "successful")
        .await;
    let out = t["tasks"][0]["output"].as_str().unwrap();
    assert!(out.contains("real agent, password length 9"), "{out}");

    // The refused claims are in the victim's tenant's audit trail.
    let audit = h
        .client
        .get("/api/v1/audit", &[("trace", "refuseAgent".into())])
        .await
        .unwrap();
    let refused: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["resource_id"] == ids[0].as_str())
        .collect();
    assert!(refused.len() >= 2, "{audit:#}");
}

#[tokio::test]
async fn enrollment_tokens_are_limited_and_identities_revocable() {
    let h = Harness::start(0).await;
    let c = &h.client;
    let token = |uses: i64| async move {
        let e = c
            .post(
                "/api/v1/agent-enrollments",
                &json!({"name": "rack-7", "max_uses": uses, "expires_in_hours": 2}),
            )
            .await
            .unwrap();
        (
            e["id"].as_str().unwrap().to_string(),
            e["secret"].as_str().unwrap().to_string(),
        )
    };
    let (tid, once) = token(1).await;
    let a1 = RawAgent::new("agent-one");
    let (host1, ws) = a1
        .connect(&h.url(), Some(&once), Proof::Honest)
        .await
        .unwrap();
    drop(ws);
    let e = c
        .get(&format!("/api/v1/agent-enrollments/{tid}"), &[])
        .await
        .unwrap();
    assert_eq!(
        (e["uses"].as_i64(), e["state"].as_str()),
        (Some(1), Some("used_up"))
    );
    assert!(e.get("secret").is_none());
    // A one-time token enrolls one host.
    let err = RawAgent::new("agent-two")
        .connect(&h.url(), Some(&once), Proof::Honest)
        .await
        .unwrap_err();
    assert!(err.contains("as many hosts"), "{err}");
    // The enrolled agent comes back with its key alone.
    let (again, mut live) = a1.connect(&h.url(), None, Proof::Honest).await.unwrap();
    assert_eq!(again, host1);

    // Revoking cuts the live connection and refuses the key.
    let v = c
        .post(
            &format!("/api/v1/resources/{host1}/agent/revoke"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(v["agent_identity"], "revoked");
    match next(&mut live).await {
        ServerMessage::Refused { reason } => assert!(reason.contains("revoked"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let err = a1.connect(&h.url(), None, Proof::Honest).await.unwrap_err();
    assert!(err.contains("revoked"), "{err}");
    let (_, fresh) = token(1).await;
    let err = RawAgent::new("agent-one")
        .connect(&h.url(), Some(&fresh), Proof::Honest)
        .await
        .unwrap_err();
    assert!(err.contains("revoked"), "{err}");

    // Re-enrollment: the old key is forgotten; a new key with a token
    // binds to the same host.
    let v = c
        .post(
            &format!("/api/v1/resources/{host1}/agent/reenroll"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(v["agent_identity"], "open");
    assert!(v["agent_key_fingerprint"].is_null());
    let err = a1.connect(&h.url(), None, Proof::Honest).await.unwrap_err();
    assert!(err.contains("not enrolled"), "{err}");
    let a1b = RawAgent::new("agent-one");
    let (rebound, ws) = a1b
        .connect(&h.url(), Some(&fresh), Proof::Honest)
        .await
        .unwrap();
    assert_eq!(rebound, host1, "the same host, with its history");
    drop(ws);
    assert_eq!(host(&h, &host1).await["agent_identity"], "active");

    // Deleting the host cuts its agent off; its key is unknown then.
    let (_, mut live) = a1b.connect(&h.url(), None, Proof::Honest).await.unwrap();
    c.delete(&format!("/api/v1/resources/{host1}"))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut live).await,
        ServerMessage::Refused { .. }
    ));
    let err = a1b
        .connect(&h.url(), None, Proof::Honest)
        .await
        .unwrap_err();
    assert!(err.contains("not enrolled"), "{err}");
    let gone = c
        .get(&format!("/api/v1/resources/{host1}"), &[])
        .await
        .unwrap_err();
    assert!(gone.to_string().contains("not_found"), "{gone}");

    // Bad settings are refused with the field named.
    for (body, field) in [
        (json!({"name": "x", "max_uses": 0}), "max_uses"),
        (
            json!({"name": "x", "expires_in_hours": 10000}),
            "expires_in_hours",
        ),
        (json!({"name": ""}), "name"),
    ] {
        let e = c
            .post("/api/v1/agent-enrollments", &body)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(field) && e.to_string().contains("422"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn a_host_with_work_pending_is_not_deleted() {
    let h = Harness::start(0).await;
    let fake = crate::harness::fake_host(&h, "busy-1").await;
    let script = h.script("hold", "sleep 1").await;
    let t = h
        .client
        .post(
            &format!("/api/v1/scripts/{script}/execute"),
            &json!({"hosts": [fake]}),
        )
        .await
        .unwrap();
    let e = h
        .client
        .delete(&format!("/api/v1/resources/{fake}"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("pending or running"), "{e}");
    h.client
        .post(
            &format!("/api/v1/tickets/{}/actions", t["id"].as_str().unwrap()),
            &json!({"action": "forcibly_end"}),
        )
        .await
        .unwrap();
    h.client
        .delete(&format!("/api/v1/resources/{fake}"))
        .await
        .unwrap();
}

/// The console's "Install agents" form as a browser posts it (R3): the
/// installation host picked by name, a target row with a key typed with
/// CRLF and the port and login left empty, a blank row; it goes to the
/// installation's ticket, whose task runs on the installation host and
/// fails there (nothing listens on that port) without showing the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_is_started_from_the_console_form() {
    let h = Harness::start(1).await;
    let via = h.wait_hosts(1).await.remove(0);
    let via_name = h.hostname(&via).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cookie = crate::console::login(&h).await;
    let url = format!("{}/console/agent-installs/new", h.url());
    let (st, form) = crate::console::page(&cookie, &url).await;
    assert_eq!(st, 200);
    assert!(form.contains("type=\"password\""), "{form}");
    let mut fields = crate::console::form_values(&form);
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\r\nc2VjcmV0LWtleS1ieXRlcw==\r\n-----END OPENSSH PRIVATE KEY-----\r\n";
    let port = closed.to_string();
    crate::console::set_fields(
        &mut fields,
        &[
            ("f.installation_host", via_name.as_str()),
            ("f.targets.0.address", "127.0.0.1"),
            ("f.targets.0.port", port.as_str()),
            ("f.targets.0.login", ""),
            ("f.targets.0.auth", "key"),
            ("f.targets.0.password", ""),
            ("f.targets.0.private_key", key),
            ("f.targets.1.address", ""),
            ("f.targets.1.port", ""),
            ("f.targets.1.login", ""),
            ("f.targets.1.auth", ""),
            ("f.targets.1.password", ""),
            ("f.targets.1.private_key", ""),
            ("f.server", ""),
            ("f.proxy", ""),
            ("f.install_dir", ""),
            ("f.batch_size", ""),
            ("f.success_rate_threshold", ""),
        ],
    );
    let (st, loc, text) = crate::console::post_form(&cookie, &url, &fields).await;
    assert_eq!(st, 303, "{text}");
    let loc = loc.unwrap();
    let ticket = loc
        .strip_prefix("/console/tickets/")
        .expect(&loc)
        .to_string();
    let mut t = Value::Null;
    for _ in 0..200 {
        t = h
            .client
            .get(&format!("/api/v1/tickets/{ticket}"), &[])
            .await
            .unwrap();
        if t["status"] != "executing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["script_name"], "COC-AGENT-INSTALL");
    let out = t["tasks"][0]["output"].as_str().unwrap_or_default();
    assert!(
        out.contains(&format!("signing in to root@127.0.0.1:{closed} (key)")),
        "{t}"
    );
    let (_, page) = crate::console::page(&cookie, &format!("{}{loc}", h.url())).await;
    for secret in ["c2VjcmV0LWtleS1ieXRlcw", "coca_"] {
        assert!(
            !page.contains(secret) && !t.to_string().contains(secret),
            "{secret} shown"
        );
    }
    // The target became a host, waiting for its agent.
    let made = t["tasks"][0]["host_id"].as_str().unwrap();
    let host = h
        .client
        .get(&format!("/api/v1/resources/{made}"), &[])
        .await
        .unwrap();
    assert_eq!(host["hostname"], "127.0.0.1");
    assert_eq!(host["agent_identity"], "open");
    // Table 3-1: its installation failed, and the list's filter finds it.
    assert_eq!(host["agent_status"], "install_failed", "{host}");
    let failed = h
        .client
        .get(
            "/api/v1/resources",
            &[("status", "install_failed".to_string())],
        )
        .await
        .unwrap();
    let ids: Vec<&str> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, vec![made], "{failed}");
}

/// An agent of the previous protocol (2, before patch work) is still
/// admitted, so it can be upgraded; a patch task for it fails at once,
/// saying why, instead of waiting out its timeout. A protocol older than
/// that is refused.
#[tokio::test]
async fn an_agent_older_than_patch_work_gets_its_patch_task_failed_at_once() {
    let h = Harness::start(0).await;
    let mut old = RawAgent::new("old-agent-0001");
    old.version = coc_proto::OLDEST_PROTOCOL_VERSION;
    let (host_id, _ws) = old
        .connect(&h.url(), Some(&h.agent_token), Proof::Honest)
        .await
        .unwrap();
    let t = h
        .client
        .post("/api/v1/patch-scans", &json!({"hosts": [host_id]}))
        .await
        .unwrap();
    let done = h
        .wait_job_ticket(t["id"].as_str().unwrap(), |t| t["status"] == "failed")
        .await;
    assert!(
        done.to_string().contains("too old for patch work"),
        "{done:#}"
    );
    let mut older = RawAgent::new("old-agent-0002");
    older.version = coc_proto::OLDEST_PROTOCOL_VERSION - 1;
    let e = older
        .connect(&h.url(), Some(&h.agent_token), Proof::Honest)
        .await
        .unwrap_err();
    assert!(e.contains("not supported"), "{e}");
}
