//! A user's to-dos (ref. 2.1, "your to-do tasks" on the overview): what
//! waits for their decision now — script, job and scheduled-task versions
//! waiting for their review, and job tickets waiting for their approval.
//! "Theirs" follows the same rule the decision itself checks: one of the
//! reviewers (by name, or on call for a listed shift role now) and, for a
//! review, not the author of the version.

use coc_domain::job::Atom;
use coc_domain::notify::{IncidentFacts, Recipient};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Store};

/// One thing waiting for a user's decision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Todo {
    /// `script_review`, `job_review`, `task_review` or `job_approval`.
    pub kind: String,
    /// The record the decision is made on: script, job, scheduled task or
    /// job ticket id.
    pub id: String,
    /// Its name (a job ticket's: the job's name and ticket number).
    pub name: String,
    /// What exactly: "version 3", or the approval's step and task
    /// ("step 2 · ask-admin").
    pub what: String,
    /// Waiting since, Unix ms (the version's modification, the approval's
    /// request).
    pub since: i64,
    /// For `job_approval`: the approval's step and task index (0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<i64>>)]
    pub step: Option<(i64, i64)>,
}

impl Store {
    /// The to-dos of `user` in `tenant`, oldest first.
    ///
    /// Errors: `Database` only; a record whose reviewers cannot be
    /// resolved now is left out.
    pub async fn todos(&self, tenant: &str, user: &str) -> Result<Vec<Todo>> {
        let facts = IncidentFacts::not_an_incident("");
        let now = self.now_utc();
        let mine = |reviewers: Vec<Recipient>| {
            let facts = &facts;
            async move {
                self.resolve_people(tenant, &reviewers, facts, now)
                    .await
                    .map(|people| people.iter().any(|p| p == user))
                    .unwrap_or(false)
            }
        };
        let mut out = vec![];
        let review = |kind: &str, id: &str, name: &str, what: String, since: i64| Todo {
            kind: kind.into(),
            id: id.into(),
            name: name.into(),
            what,
            since,
            step: None,
        };
        let version = |v: i64| format!("version {v}");
        for s in self.list_scripts(tenant).await? {
            let author = s.modified_by.as_deref().unwrap_or(&s.created_by);
            if s.review.status == "pending" && author != user && mine(s.spec.reviewers).await {
                let t = review(
                    "script_review",
                    &s.id,
                    &s.spec.name,
                    version(s.version),
                    s.updated_at,
                );
                out.push(t);
            }
        }
        for j in self.list_jobs(tenant, None, None).await? {
            let author = j.modified_by.as_deref().unwrap_or(&j.created_by);
            if j.review.status == "pending" && author != user && mine(j.spec.reviewers).await {
                out.push(review(
                    "job_review",
                    &j.id,
                    &j.spec.name,
                    version(j.version),
                    j.updated_at,
                ));
            }
        }
        for t in self.list_scheduled_tasks(tenant).await? {
            if t.review_status == "pending" && t.modified_by != user && mine(t.spec.reviewers).await
            {
                out.push(review(
                    "task_review",
                    &t.id,
                    &t.spec.name,
                    "review".into(),
                    t.updated_at,
                ));
            }
        }
        let waiting = sqlx::query(dynsql!(
            "SELECT DISTINCT ticket_id FROM job_approvals WHERE tenant_id = $1 AND status = {}",
            crate::sql_lit(coc_domain::jobticket::Approval::Pending.as_str())
        ))
        .bind(tenant)
        .fetch_all(self.reader())
        .await?;
        for row in waiting {
            let id: String = row.try_get("ticket_id")?;
            let Ok(d) = self.get_job_ticket(tenant, &id).await else {
                continue;
            };
            for a in d.approvals.iter().filter(|a| a.status == "pending") {
                let reviewers = match d
                    .job
                    .steps
                    .get(a.step as usize)
                    .and_then(|s| s.tasks.get(a.task as usize))
                    .map(|t| &t.atom)
                {
                    Some(Atom::Approval { reviewers, .. }) => reviewers.clone(),
                    _ => continue,
                };
                if mine(reviewers).await {
                    out.push(Todo {
                        kind: "job_approval".into(),
                        id: d.ticket.id.clone(),
                        name: format!("{} ({})", d.job.name, d.ticket.number),
                        what: format!("step {} · {}", a.step + 1, a.task_name),
                        since: a.requested_at,
                        step: Some((a.step, a.task)),
                    });
                }
            }
        }
        out.sort_by_key(|t| t.since);
        Ok(out)
    }
}
