//! Deliveries round (O4): sends due deliveries of the queue — HTTP channels
//! (webhook, robots), email over SMTP (lettre) and SMS/voice through the
//! Twilio-compatible gateway — all of a round concurrently, so one channel
//! that is down never holds up the others, nor incident handling, which
//! only enqueues. Webhook bodies carry `X-COC-Signature` when the delivery
//! has a secret, and every HTTP attempt `Idempotency-Key: <delivery id>`. Each attempt is recorded; failures are retried with
//! backoff.
//!
//! Loop: its own, woken by [`coc_store::Store::deliveries`] (a delivery
//! was queued or an attempt ended) or every 500 ms.
//!
//! Once per message: a sender first claims the delivery, which leases it
//! for [`coc_domain::notify::SEND_LEASE_MS`]; every send is bounded by the
//! send timeout (default 20 s, at most 25 s), so it ends inside its lease
//! and no second sender starts while the first still sends; and the
//! attempt is recorded only under the lease it was sent with (the lease
//! end is the fencing token), so a sender that outlived its lease changes
//! nothing. Across replicas the claim is one conditional UPDATE, so one
//! replica sends each attempt. An email
//! keeps one `Message-ID` (`<delivery id@sender domain>`) on every attempt,
//! so a mail system can drop the copy a retry after a timeout may make.
//! A sender that dies after sending and before recording leaves the
//! delivery to be sent again once its lease ends: at least once, with the
//! same `Message-ID` / `Idempotency-Key`, never lost.

use std::time::Duration;

use coc_store::notify::Due;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::{AppState, NotifyConfig};

/// What the notifier sends with.
pub struct Senders {
    http: reqwest::Client,
    egress: std::sync::Arc<coc_domain::egress::Egress>,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    cfg: std::sync::Arc<NotifyConfig>,
    timeout: Duration,
}

impl Senders {
    /// Builds the HTTP client (under the egress policy) and the SMTP
    /// transport from the settings.
    ///
    /// Errors: the HTTP client cannot start, the SMTP URL is invalid (the
    /// message names the problem, never the password), or the send
    /// timeout is out of range.
    pub fn new(
        cfg: std::sync::Arc<NotifyConfig>,
        egress: std::sync::Arc<coc_domain::egress::Egress>,
    ) -> Result<Self, String> {
        let ms = cfg
            .send_timeout_ms
            .unwrap_or(coc_domain::notify::DEFAULT_SEND_TIMEOUT_MS);
        coc_domain::notify::check_send_timeout(ms).map_err(|e| e.to_string())?;
        let timeout = Duration::from_millis(ms);
        let http = crate::egress::client(egress.clone(), Some(timeout))
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let smtp = match &cfg.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| {
                        format!("invalid SMTP URL: {}", e.to_string().replace(url, "***"))
                    })?
                    .timeout(Some(timeout))
                    .build(),
            ),
            None => None,
        };
        Ok(Senders {
            http,
            egress,
            smtp,
            cfg,
            timeout,
        })
    }
}

/// Runs forever with `senders` (shared with the dispatcher, which sends
/// fresh incident notifications itself without waiting for a poll).
pub async fn run(state: AppState, senders: std::sync::Arc<Senders>) {
    let inflight = InFlight::default();
    loop {
        crate::metrics::round("deliveries", round(&state, &senders, &inflight)).await;
        tokio::select! {
            _ = state.store.deliveries.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Sends one claimed delivery in its own task and records the attempt;
/// `done` runs afterwards.
pub fn spawn_send(
    state: &AppState,
    s: &std::sync::Arc<Senders>,
    d: Due,
    done: impl FnOnce() + Send + 'static,
) {
    let (state, s) = (state.clone(), s.clone());
    tokio::spawn(async move {
        // Bounded inside the lease, whatever the channel does.
        let sent = tokio::time::timeout(s.timeout, send(&s, &d)).await;
        let err = sent.unwrap_or_else(|_| {
            Some(format!(
                "timed out after {} ms: the channel did not answer (the message may have \
                 arrived; it is retried)",
                s.timeout.as_millis()
            ))
        });
        // No error keeps a piece of the target (a robot's key, an address):
        // not the delivery log, not the server's log.
        let err = err.map(|e| coc_domain::notify::redact_target(&e, &d.target));
        if let Some(e) = &err {
            tracing::info!(delivery = %d.id, attempt = d.attempts + 1, error = %e, "delivery failed");
        }
        crate::crash_point("after_send");
        let now = state.store.now();
        let recorded = state
            .store
            .record_attempt(&d.id, d.lease, err.as_deref(), now)
            .await;
        let outcome = match (&recorded, &err) {
            (Ok(false), _) => "fenced",
            (_, None) => "delivered",
            (_, Some(_)) => "failed",
        };
        metrics::counter!(crate::metrics::DELIVERIES_SENT, "channel" => d.channel.clone(), "outcome" => outcome)
            .increment(1);
        match recorded {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(delivery = %d.id, "the delivery's lease was lost before its attempt was recorded")
            }
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "cannot record a delivery attempt")
            }
        }
        done();
        state.store.deliveries.notify_one();
    });
}

fn field<'a>(body: &'a serde_json::Value, k: &str) -> &'a str {
    body.get(k).and_then(|v| v.as_str()).unwrap_or("")
}

async fn send(s: &Senders, d: &Due) -> Option<String> {
    match d.channel.as_str() {
        "email" => send_email(s, d).await,
        "sms" | "voice" => send_sms(s, d).await,
        _ => send_http(s, d).await,
    }
}

async fn send_http(s: &Senders, d: &Due) -> Option<String> {
    let url = match reqwest::Url::parse(&d.target) {
        Ok(u) => u,
        Err(e) => return Some(format!("not a URL: {e}")),
    };
    if let Err(e) = crate::egress::check_url(&s.egress, &url) {
        return Some(e);
    }
    let mut rb = s
        .http
        .post(url)
        .header("content-type", "application/json")
        // The same on every attempt: a receiver that saw a message whose
        // attempt was cut (a timeout, a replica that died after sending)
        // can tell the retry is the same message.
        .header("idempotency-key", &d.id)
        .body(d.body.clone());
    if let Some(secret) = &d.secret {
        rb = rb.header(
            "x-coc-signature",
            coc_domain::notify::sign(secret.as_bytes(), d.body.as_bytes()),
        );
    }
    match rb.send().await {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Some(format!(
            "cannot reach {}: {}",
            coc_domain::people::mask(&d.channel, &d.target),
            crate::egress::describe(&e.without_url())
        )),
    }
}

async fn send_email(s: &Senders, d: &Due) -> Option<String> {
    let Some(smtp) = &s.smtp else {
        return Some("SMTP is not configured (coc server --smtp-url)".into());
    };
    let body: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
    let from = if s.cfg.smtp_from.is_empty() {
        "COC <coc@localhost>"
    } else {
        s.cfg.smtp_from.as_str()
    };
    let msg = (|| -> Result<lettre::Message, String> {
        lettre::Message::builder()
            .from(
                from.parse()
                    .map_err(|e| format!("bad sender '{from}': {e}"))?,
            )
            .to(d
                .target
                .parse()
                .map_err(|e| format!("bad recipient: {e}"))?)
            .subject(field(&body, "subject"))
            .message_id(Some(message_id(&d.id, from)))
            .header(ContentType::TEXT_PLAIN)
            .body(field(&body, "body").to_string())
            .map_err(|e| format!("cannot build the email: {e}"))
    })();
    match msg {
        Ok(m) => smtp.send(m).await.err().map(|e| format!("SMTP: {e}")),
        Err(e) => Some(e),
    }
}

/// The `Message-ID` of a delivery's email: the same on every attempt.
fn message_id(delivery: &str, from: &str) -> String {
    let addr = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'));
    let domain = addr
        .rsplit_once('@')
        .map(|(_, d)| d.trim())
        .filter(|d| !d.is_empty())
        .unwrap_or("localhost");
    format!("<{delivery}@{domain}>")
}

async fn send_sms(s: &Senders, d: &Due) -> Option<String> {
    let Some(g) = &s.cfg.sms else {
        return Some("no SMS/voice gateway is configured (coc server --sms-gateway-url)".into());
    };
    let body: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
    let text = field(&body, "text");
    let base = g.base_url.trim_end_matches('/');
    let (url, form) = if d.channel == "voice" {
        let twiml = format!(
            "<Response><Say>{}</Say></Response>",
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        );
        (
            format!("{base}/2010-04-01/Accounts/{}/Calls.json", g.account_sid),
            vec![
                ("To", d.target.clone()),
                ("From", g.from.clone()),
                ("Twiml", twiml),
            ],
        )
    } else {
        (
            format!("{base}/2010-04-01/Accounts/{}/Messages.json", g.account_sid),
            vec![
                ("To", d.target.clone()),
                ("From", g.from.clone()),
                ("Body", text.to_string()),
            ],
        )
    };
    if let Ok(u) = reqwest::Url::parse(&url)
        && let Err(e) = crate::egress::check_url(&s.egress, &u)
    {
        return Some(e);
    }
    match s
        .http
        .post(&url)
        .basic_auth(&g.account_sid, Some(&g.auth_token))
        .form(&form)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("gateway answered HTTP {}", r.status().as_u16())),
        Err(e) => Some(format!(
            "cannot reach the gateway: {}",
            crate::egress::describe(&e.without_url())
        )),
    }
}

/// Delivery ids being sent right now (not picked again until recorded).
type InFlight = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// One round: starts a send task for every due delivery not already in
/// flight and returns at once — a slow or dead channel (up to the send
/// timeout) never delays the deliveries behind it.
///
/// Errors: a store error reading the queue; the next round retries.
pub async fn round(
    state: &AppState,
    s: &std::sync::Arc<Senders>,
    inflight: &InFlight,
) -> Result<(), coc_store::StoreError> {
    let due = state.store.due_deliveries(200).await?;
    for mut d in due {
        if !inflight.lock().expect("in-flight set").insert(d.id.clone()) {
            continue;
        }
        // The list may be stale (a send finished since): claim it first.
        let now = state.store.now();
        let claimed = state.store.claim_delivery(&d.id, now).await;
        let Ok(Some(lease)) = claimed else {
            inflight.lock().expect("in-flight set").remove(&d.id);
            claimed?;
            continue;
        };
        d.lease = lease;
        let (inflight, id) = (inflight.clone(), d.id.clone());
        spawn_send(state, s, d, move || {
            inflight.lock().expect("in-flight set").remove(&id);
        });
    }
    Ok(())
}
