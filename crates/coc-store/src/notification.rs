//! Notification rules (O3, ref. 11.3) and the dispatcher that turns
//! incident changes into deliveries.
//!
//! Every incident history step that has a template (created, rejected,
//! forwarded, to be verified, verification failed, completed, closed) also
//! writes an `incident_events` row in the same transaction — an outbox.
//! [`Store::dispatch_incident_events`] takes new events, matches the
//! enabled rules, resolves recipients (shift roles on call at that moment
//! for the incident's application and region, individuals, the owner),
//! deduplicates (person, channel) across rules, and in one transaction
//! queues the deliveries and marks the event done: an event is notified
//! exactly once even if the server dies in between. The same step starts
//! (or restarts, on forwarding) the incident's escalation.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use coc_domain::escalation::EscalationPolicy;
use coc_domain::notify::{IncidentFacts, Message, NotificationRule, Recipient, Template, dedup};
use coc_domain::people::{SubscriptionStatus, contact_channel};
use sqlx::Row;

use crate::notify::{Due, NewDelivery, insert_delivery};
use crate::spec::{Kind, Stored};
use crate::{Result, Store};

/// What one dispatch did.
#[derive(Debug, Default)]
pub struct Dispatched {
    /// Events processed.
    pub events: usize,
    /// Deliveries queued with a lease, for the caller to send at once
    /// (the queue poller sends them only if the lease runs out).
    pub ready: Vec<Due>,
}

/// Storage of notification rules.
pub const RULES: Kind = Kind {
    table: "notification_rules",
    noun: "notification rule",
    enabled_on_create: true,
};

/// A stored notification rule.
pub type StoredRule = Stored<NotificationRule>;

impl crate::spec::Document for NotificationRule {
    const KIND: Kind = RULES;
    fn name(&self) -> &str {
        &self.name
    }
    fn validate(&self) -> std::result::Result<(), coc_domain::DomainError> {
        NotificationRule::validate(self)
    }
}

impl Store {
    /// The people `recipients` name at `at`, for an incident's application
    /// and region, in order without repeats. A scenario or role that no
    /// longer exists is logged and skipped.
    pub(crate) async fn resolve_people(
        &self,
        tenant: &str,
        recipients: &[Recipient],
        i: &IncidentFacts,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let mut out: Vec<String> = vec![];
        let mut push = |p: String| {
            if !p.is_empty() && !out.contains(&p) {
                out.push(p);
            }
        };
        for r in recipients {
            match r {
                Recipient::Individual { users } => users.iter().cloned().for_each(&mut push),
                Recipient::Owner => push(i.assignee.clone()),
                Recipient::Shift { scenario, roles } => {
                    for role in roles {
                        let scope = (i.application.as_deref(), i.region.as_deref());
                        match self.on_call(tenant, scenario, role, scope, at).await {
                            Ok(people) => people.into_iter().for_each(&mut push),
                            Err(e) => {
                                tracing::warn!(scenario = %scenario, role = %role, error = %e,
                                "notification recipient skipped")
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Queues `m` for each (person, channel) pair in `tx`: to the person's
    /// confirmed contact, or as a `skipped` delivery saying why not. With
    /// `lease`, returns the queued ones (leased) for the caller to send
    /// at once.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn deliver_to_people(
        &self,
        tx: &mut sqlx::AnyConnection,
        tenant: &str,
        pairs: &[(String, String)],
        m: &Message,
        incident_id: Option<&str>,
        now: i64,
        lease: bool,
    ) -> Result<Vec<Due>> {
        let mut ready = vec![];
        // What the incident still allows decides the links it carries.
        let status = match incident_id {
            Some(id) => {
                sqlx::query_scalar::<_, String>("SELECT status FROM incidents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .and_then(|s| coc_domain::incident::IncidentStatus::parse(&s).ok())
            }
            None => None,
        };
        for (person, channel) in pairs {
            let cc = contact_channel(channel);
            let found = self.contact_with_status(tx, tenant, person, cc).await?;
            let (target, address, skipped) = match &found {
                Some((c, SubscriptionStatus::Confirmed)) => {
                    (c.masked.clone(), Some(c.address.as_str()), None)
                }
                Some((c, st)) => (
                    c.masked.clone(),
                    None,
                    Some(format!("the {cc} subscription is {}", st.as_str())),
                ),
                None => (
                    String::new(),
                    None,
                    Some(format!("{person} has no {cc} contact")),
                ),
            };
            // Acting from the message: signed links (the log keeps a
            // placeholder), or on SMS a reply code.
            let linked = match (&skipped, channel.as_str(), address) {
                (None, "sms", Some(mobile)) => self
                    .with_sms_reply(tx, m, tenant, person, mobile, status, now)
                    .await?
                    .map(|sent| (sent.clone(), sent)),
                (None, _, _) => self.with_action_links(m, tenant, person, channel, status, now),
                _ => None,
            };
            let (id, body) = insert_delivery(
                self,
                tx,
                NewDelivery {
                    tenant,
                    channel,
                    target: &target,
                    address,
                    secret: None,
                    message: linked.as_ref().map_or(m, |(sent, _)| sent),
                    redacted: linked.as_ref().map(|(_, kept)| kept),
                    recipient: Some(person),
                    incident_id,
                    skipped: skipped.as_deref(),
                    lease,
                    now,
                },
            )
            .await?;
            if let (true, None, Some(a)) = (lease, &skipped, address) {
                ready.push(Due {
                    id,
                    channel: channel.clone(),
                    target: a.to_string(),
                    body,
                    secret: None,
                    attempts: 0,
                    lease: now + crate::notify::SEND_LEASE_MS,
                });
            }
        }
        Ok(ready)
    }

    /// Processes up to `limit` new incident events as of `now` (see the
    /// module doc), each in its own transaction. An event that fails is
    /// retried on later calls and given up after [`MAX_EVENT_ATTEMPTS`].
    ///
    /// Errors: a store error reading the events; the next call retries.
    pub async fn dispatch_incident_events(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Dispatched> {
        let events = sqlx::query(dynsql!(
            "SELECT {EVENT_COLS} FROM incident_events WHERE done = 0 ORDER BY at, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        let mut caches = Caches::default();
        let mut ready = self.take_ready();
        for e in &events {
            let mut tx = self.begin().await?;
            match self.process_event(&mut tx, e, &mut caches, now).await {
                Ok(Some(mut mine)) => {
                    tx.commit().await?;
                    ready.append(&mut mine);
                }
                Ok(None) => {}
                Err(err) => {
                    drop(tx);
                    self.event_failed(e, &err).await?;
                }
            }
        }
        Ok(Dispatched {
            events: events.len(),
            ready,
        })
    }

    /// Processes the events of incidents just created inside the ingest
    /// transaction `tx`, so their notifications commit with them (one
    /// commit less between an alarm and its notification). It runs in a
    /// savepoint: if anything fails, that part is rolled back, logged, and
    /// left to the dispatcher — ingest never fails because of it.
    pub(crate) async fn dispatch_in_ingest(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        incidents: &[String],
    ) -> Vec<Due> {
        if incidents.is_empty() {
            return vec![];
        }
        let now = self.now_utc();
        let attempt = async {
            let mut sp = sqlx::Connection::begin(&mut **tx).await?;
            let marks: Vec<String> = (1..=incidents.len()).map(|i| format!("${i}")).collect();
            let sql = dynsql!(
                "SELECT {EVENT_COLS} FROM incident_events WHERE done = 0 AND incident_id IN ({}) ORDER BY at, id",
                marks.join(",")
            );
            let mut q = sqlx::query(sql);
            for i in incidents {
                q = q.bind(i.as_str());
            }
            let events = q.fetch_all(&mut *sp).await?;
            let mut caches = Caches::default();
            let mut ready = vec![];
            for e in &events {
                if let Some(mut mine) = self.process_event(&mut sp, e, &mut caches, now).await? {
                    ready.append(&mut mine);
                }
            }
            sp.commit().await?;
            Result::<Vec<Due>>::Ok(ready)
        };
        match attempt.await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "notifications of new incidents are left to the dispatcher");
                vec![]
            }
        }
    }

    /// Counts a failed attempt at an event; after [`MAX_EVENT_ATTEMPTS`]
    /// the event is given up (`done = 2`, logged) so the events behind it
    /// are not held up by one that cannot be processed.
    async fn event_failed(&self, e: &sqlx::any::AnyRow, err: &crate::StoreError) -> Result<()> {
        let id: String = e.try_get("id")?;
        let attempts: i64 = sqlx::query_scalar(
            "UPDATE incident_events SET attempts = attempts + 1 WHERE id = $1 AND done = 0 RETURNING attempts",
        )
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(0);
        if attempts >= MAX_EVENT_ATTEMPTS {
            sqlx::query("UPDATE incident_events SET done = 2 WHERE id = $1 AND done = 0")
                .bind(&id)
                .execute(&self.pool)
                .await?;
            tracing::error!(event = %id, attempts, error = %err,
                "incident event given up: no notification, SLA or escalation for this change");
        } else {
            tracing::warn!(event = %id, attempts, error = %err, "incident event failed; retried");
        }
        Ok(())
    }

    /// Deliveries queued (leased) inside ingest commits, for the dispatcher
    /// worker to send at once.
    pub fn take_ready(&self) -> Vec<Due> {
        std::mem::take(&mut *self.ready.lock().expect("ready deliveries"))
    }

    /// One event in `conn` (a transaction): claims it, moves SLA records,
    /// queues the notifications of matching rules (deduplicated per person
    /// and channel) and starts escalation. `None` when another worker
    /// claimed it first.
    async fn process_event(
        &self,
        conn: &mut sqlx::AnyConnection,
        e: &sqlx::any::AnyRow,
        caches: &mut Caches,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Due>>> {
        let (id, tenant, incident, event, actor): (String, String, String, String, String) = (
            e.try_get("id")?,
            e.try_get("tenant_id")?,
            e.try_get("incident_id")?,
            e.try_get("event")?,
            e.try_get("actor")?,
        );
        let claimed = sqlx::query("UPDATE incident_events SET done = 1 WHERE id = $1 AND done = 0")
            .bind(&id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if claimed == 0 {
            return Ok(None);
        }
        let Some(f) = incident_facts(&mut *conn, &tenant, &incident).await? else {
            return Ok(Some(vec![]));
        };
        let (from, to): (Option<String>, Option<String>) =
            (e.try_get("from_status")?, e.try_get("to_status")?);
        if from != to {
            let at: i64 = e.try_get("at")?;
            self.sla_transition(
                conn,
                &tenant,
                &incident,
                &f,
                (from.as_deref(), to.as_deref()),
                at,
            )
            .await?;
        }
        let Ok(t) = Template::parse(&event) else {
            return Ok(Some(vec![]));
        };
        if !caches.rules.contains_key(&tenant) {
            let r = self.doc_enabled::<NotificationRule>(&tenant).await?;
            caches.rules.insert(tenant.clone(), r);
        }
        let mut pairs = vec![];
        for r in &caches.rules[&tenant] {
            if r.spec.matches(t, &f) {
                for p in self
                    .resolve_people(&tenant, &r.spec.recipients, &f, now)
                    .await?
                {
                    for c in &r.spec.channels {
                        pairs.push((p.clone(), c.clone()));
                    }
                }
            }
        }
        let m = t.render(&f, &actor);
        let ready = self
            .deliver_to_people(
                conn,
                &tenant,
                &dedup(pairs),
                &m,
                Some(&incident),
                now.timestamp_millis(),
                true,
            )
            .await?;
        if matches!(t, Template::IncidentCreated | Template::IncidentForwarded) {
            if !caches.policies.contains_key(&tenant) {
                let p = self.enabled_escalation_policies(&tenant).await?;
                caches.policies.insert(tenant.clone(), p);
            }
            self.start_escalation(conn, &tenant, &incident, &f, &caches.policies[&tenant], now)
                .await?;
        }
        Ok(Some(ready))
    }

    /// What rules and templates see of an incident; `None` if it is gone.
    pub(crate) async fn incident_facts(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<IncidentFacts>> {
        let mut conn = self.reader().acquire().await?;
        incident_facts(&mut conn, tenant, id).await
    }
}

/// Attempts at an incident event before it is given up.
pub const MAX_EVENT_ATTEMPTS: i64 = 5;

const EVENT_COLS: &str = "id, tenant_id, incident_id, event, actor, from_status, to_status, at";

/// Rules and policies read once per dispatch, per tenant.
#[derive(Default)]
struct Caches {
    rules: HashMap<String, Vec<StoredRule>>,
    policies: HashMap<String, Vec<(String, EscalationPolicy)>>,
}

/// [`Store::incident_facts`] on a given connection (sees its uncommitted
/// writes).
async fn incident_facts(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    id: &str,
) -> Result<Option<IncidentFacts>> {
    let r = sqlx::query(
        "SELECT id, number, title, description, level, category, source, region, assignee, rule_id, \
         (SELECT a.name FROM applications a WHERE a.id = incidents.application_id) AS application \
         FROM incidents WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    r.map(|r| {
        Ok(IncidentFacts {
            id: r.try_get("id")?,
            number: r.try_get("number")?,
            description: r.try_get("description")?,
            title: r.try_get("title")?,
            level: r.try_get("level")?,
            category: r.try_get("category")?,
            source: r.try_get("source")?,
            application: r.try_get("application")?,
            region: r.try_get("region")?,
            assignee: r.try_get("assignee")?,
            rule_id: r.try_get("rule_id")?,
        })
    })
    .transpose()
}
