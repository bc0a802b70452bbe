//! Emergency plans (S4) and executing them from an incident (I4). Plans
//! are named documents ([`crate::spec::Document`]); executing one creates a
//! script ticket linked to the incident and writes the step into the
//! incident's history — the executor adds the outcome when it finishes.

use coc_domain::plan::Plan;

use crate::spec::{Document, Kind};
use crate::ticket::{NewTicket, Ticket};
use crate::{Result, Store};

/// Storage of plans.
pub const PLANS: Kind = Kind {
    table: "plans",
    noun: "plan",
    enabled_on_create: true,
};

impl Document for Plan {
    const KIND: Kind = PLANS;
    fn name(&self) -> &str {
        &self.name
    }
    fn validate(&self) -> std::result::Result<(), coc_domain::DomainError> {
        Plan::validate(self)
    }
}

/// What to execute from an incident.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutePlan {
    /// Plan name; default: the plan the incident's forwarding rule offers.
    #[serde(default)]
    pub plan: Option<String>,
    /// Step of a document plan (1-based).
    #[serde(default)]
    pub step: Option<usize>,
    /// Target host ids.
    pub hosts: Vec<String>,
}

impl Store {
    /// Executes a plan (or one step of a document plan) for an incident
    /// as `actor`: a script ticket linked to the incident, and a history
    /// entry naming the plan, step and ticket.
    ///
    /// Errors: `NotFound` (incident, plan, script, host),
    /// `Domain(Validation)` (no plan bound and none given, a step without
    /// a script, bad parameters), `Domain(InvalidTransition)` (the script
    /// waits for review).
    pub async fn execute_plan(
        &self,
        tenant: &str,
        incident: &str,
        req: &ExecutePlan,
        actor: &str,
    ) -> Result<PlanTicket> {
        let inc = self.get_incident(tenant, incident).await?.incident;
        let name = req
            .plan
            .clone()
            .or_else(|| inc.plan.clone())
            .ok_or_else(|| {
                coc_domain::error::invalid(
                    "the incident's forwarding rule offers no plan: name one",
                )
            })?;
        let plan = self.doc_get::<Plan>(tenant, &name).await?;
        let action = plan.spec.action(req.step)?;
        let out = match &action.job {
            Some(job) => PlanTicket::Job(Box::new(
                self.create_job_ticket(
                    tenant,
                    job,
                    &crate::jobticket::NewJobTicket {
                        hosts: req.hosts.clone(),
                        params: action.params.clone(),
                        incident_id: Some(inc.id.clone()),
                        description: format!("plan '{}'", plan.spec.name),
                        ..Default::default()
                    },
                    actor,
                )
                .await?,
            )),
            None => {
                let script = self.get_script(tenant, &action.script).await?;
                PlanTicket::Script(Box::new(
                    self.create_ticket(
                        tenant,
                        &NewTicket {
                            script_id: script.id,
                            params: action.params.clone(),
                            hosts: req.hosts.clone(),
                            run_as: None,
                            timeout_s: None,
                            batch_policy: Default::default(),
                            batches: None,
                            threshold: None,
                            incident_id: Some(inc.id.clone()),
                            created_by: actor.to_string(),
                            param_refs: action.param_refs.clone(),
                        },
                    )
                    .await?,
                ))
            }
        };
        let mut tx = self.begin().await?;
        crate::incident::history(
            &mut tx,
            tenant,
            &inc.id,
            self.now(),
            actor,
            "execute_plan",
            Some(inc.status),
            Some(inc.status),
            &format!(
                "plan '{}'{} executed: {} ticket {} on {} host(s)",
                plan.spec.name,
                req.step.map(|s| format!(" step {s}")).unwrap_or_default(),
                out.kind(),
                out.number(),
                req.hosts.len()
            ),
            Some(out.id()),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// The ticket an executed plan created: a script ticket or a job ticket.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PlanTicket {
    /// A script ticket.
    Script(Box<Ticket>),
    /// A job ticket.
    Job(Box<crate::jobticket::JobTicketDetail>),
}

impl PlanTicket {
    /// Ticket id.
    pub fn id(&self) -> &str {
        match self {
            PlanTicket::Script(t) => &t.id,
            PlanTicket::Job(t) => &t.ticket.id,
        }
    }
    /// Ticket number.
    pub fn number(&self) -> &str {
        match self {
            PlanTicket::Script(t) => &t.number,
            PlanTicket::Job(t) => &t.ticket.number,
        }
    }
    /// `script` or `job`.
    pub fn kind(&self) -> &'static str {
        match self {
            PlanTicket::Script(_) => "script",
            PlanTicket::Job(_) => "job",
        }
    }
    /// The incident it works on.
    pub fn incident_id(&self) -> Option<&str> {
        match self {
            PlanTicket::Script(t) => t.incident_id.as_deref(),
            PlanTicket::Job(t) => t.ticket.incident_id.as_deref(),
        }
    }
}
