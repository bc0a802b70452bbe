//! Wake-ups of the engine's loops and relays to agents, across replicas
//! (D3). In one process a [`Wake`] is a [`Notify`]. Over PostgreSQL,
//! after [`Store::listen`], every wake-up is also sent as `NOTIFY` on its
//! channel and every replica listening wakes the same loop, so no replica
//! waits a polling interval for work another created. Sends coalesce:
//! many wake-ups before the sender runs make one `NOTIFY`.
//!
//! Agent relay: a replica that has a command for an agent connected to
//! another replica sends `NOTIFY coc_agent, '<host id>'`
//! ([`Store::relay`]); every replica receives it on [`Store::relayed`], and
//! the one holding that agent's connection sends it what it should be
//! running (the runs are in the database; the agent ignores ids it knows).

use std::sync::Arc;

use sqlx::Executor;
use tokio::sync::{Notify, broadcast};

use crate::{Backend, Result, Store};

/// Channel of agent relays.
const AGENT_CHANNEL: &str = "coc_agent";

/// One loop's wake-up.
#[derive(Debug)]
pub struct Wake {
    local: Notify,
    channel: &'static str,
    outbox: Arc<Notify>,
}

impl Wake {
    /// A wake-up that `NOTIFY`s `channel` once the store listens.
    pub(crate) fn new(channel: &'static str) -> Arc<Self> {
        Arc::new(Wake {
            local: Notify::new(),
            channel,
            outbox: Arc::new(Notify::new()),
        })
    }

    /// Wakes the loop here and, over PostgreSQL, on every replica.
    pub fn notify_one(&self) {
        self.local.notify_one();
        self.outbox.notify_one();
    }

    /// Completes at the next wake-up (a stored one counts).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.local.notified()
    }
}

impl Store {
    /// Over PostgreSQL: starts sending this process's wake-ups as
    /// `NOTIFY` and listening for every replica's (a dedicated connection
    /// that reconnects by itself). Does nothing on SQLite, which serves
    /// one process. Call once per process (the server does at start).
    ///
    /// Errors: the listening connection cannot be opened.
    pub async fn listen(&self) -> Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let wakes = [
            self.work.clone(),
            self.events.clone(),
            self.deliveries.clone(),
        ];
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        let mut channels: Vec<&str> = wakes.iter().map(|w| w.channel).collect();
        channels.push(AGENT_CHANNEL);
        listener.listen_all(channels).await?;
        for w in &wakes {
            let (w, pool) = (w.clone(), self.pool.clone());
            tokio::spawn(async move {
                let sql = format!("NOTIFY {}", w.channel);
                loop {
                    w.outbox.notified().await;
                    if let Err(e) = pool.execute(sqlx::AssertSqlSafe(sql.clone())).await {
                        tracing::warn!(channel = w.channel, error = %e, "NOTIFY failed");
                    }
                }
            });
        }
        let relayed = self.relayed.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(n) if n.channel() == AGENT_CHANNEL => {
                        if let Some(r) = Relay::parse(n.payload()) {
                            let _ = relayed.send(r);
                        }
                    }
                    Ok(n) => {
                        if let Some(w) = wakes.iter().find(|w| w.channel == n.channel()) {
                            // Here only: re-sending would echo forever.
                            w.local.notify_one();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        tracing::info!("wake-ups shared with the other replicas (LISTEN/NOTIFY)");
        Ok(())
    }

    /// Asks the replica holding a host's agent connection to act
    /// (PostgreSQL; nothing on SQLite, where there is one process).
    ///
    /// Errors: a store error.
    pub async fn relay(&self, r: &Relay) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(AGENT_CHANNEL)
                .bind(r.to_payload())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Relays received from every replica ([`Store::relay`]).
    pub fn relayed(&self) -> broadcast::Receiver<Relay> {
        self.relayed.subscribe()
    }

    /// Hosts with runs waiting for their agent (sent or to send), for the
    /// periodic re-send of the relay round.
    ///
    /// Errors: a store error.
    pub async fn hosts_with_agent_runs(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(dynsql!(
            "SELECT DISTINCT host_id FROM job_runs WHERE status = {} AND phase = 'agent'",
            crate::sql_lit(coc_domain::jobticket::RunStatus::Executing.as_str())
        ))
        .fetch_all(self.reader())
        .await?)
    }
}

/// What a replica asks the replica holding an agent's connection to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relay {
    /// Send the host's agent the runs it should be running.
    Runs {
        /// Host resource id.
        host_id: String,
    },
    /// Send the host's agent its drift watch (R5) again: its desired
    /// state changed.
    Watch {
        /// Host resource id.
        host_id: String,
    },
    /// Tell the host's agent to stop a run.
    Cancel {
        /// Host resource id.
        host_id: String,
        /// Run id.
        run_id: String,
    },
}

impl Relay {
    /// `runs <host>`, `watch <host>` or `cancel <host> <run>` (ids hold no
    /// spaces).
    fn to_payload(&self) -> String {
        match self {
            Relay::Runs { host_id } => format!("runs {host_id}"),
            Relay::Watch { host_id } => format!("watch {host_id}"),
            Relay::Cancel { host_id, run_id } => format!("cancel {host_id} {run_id}"),
        }
    }

    fn parse(p: &str) -> Option<Self> {
        let mut w = p.split(' ');
        match (w.next()?, w.next()?, w.next()) {
            ("runs", h, None) => Some(Relay::Runs {
                host_id: h.to_string(),
            }),
            ("watch", h, None) => Some(Relay::Watch {
                host_id: h.to_string(),
            }),
            ("cancel", h, Some(r)) => Some(Relay::Cancel {
                host_id: h.to_string(),
                run_id: r.to_string(),
            }),
            _ => None,
        }
    }
}
