//! Acknowledge and resolve from the notification (I7, ref. 7.1.3): the
//! store signs the links a person's incident notification carries and
//! follows them. What a link does is decided by
//! [`coc_domain::action_link`]; the permission check is the server's.

use coc_domain::action_link::{self, ActionLink, LINK_TTL_MS};
use coc_domain::incident::{IncidentState, IncidentStatus};
use coc_domain::notify::{Message, MessageAction};

use crate::incident::IncidentDetail;
use crate::{Result, Store};

/// Path of the page a link opens (the console's confirmation page; the
/// token follows as `?token=`).
pub const LINK_PATH: &str = "/console/act";

/// What the delivery log shows instead of a link: it is a credential.
const NOT_KEPT: &str = "(link sent to the recipient, not kept)";

/// What following a link did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Followed {
    /// The incident afterwards.
    pub incident: IncidentDetail,
    /// The incident actions taken, in order (`forward`, `accept`,
    /// `resolve`); empty when it was already done.
    pub done: Vec<String>,
}

impl Store {
    fn link_key(&self) -> Vec<u8> {
        self.keyring().derive("coc action links v1")
    }

    /// `m` as sent to `user` (with signed links for what the incident in
    /// `status` still allows) and as the delivery log keeps it (the same
    /// links replaced by a placeholder); `None` when no link applies —
    /// no public URL, SMS or voice, or nothing left to do.
    pub(crate) fn with_action_links(
        &self,
        m: &Message,
        tenant: &str,
        user: &str,
        channel: &str,
        status: Option<IncidentStatus>,
        now: i64,
    ) -> Option<(Message, Message)> {
        let incident = m.incident.as_ref()?;
        let base = self.public_url.get()?;
        if matches!(channel, "sms" | "voice") {
            return None;
        }
        let offered = action_link::offered(status?);
        if offered.is_empty() {
            return None;
        }
        let key = self.link_key();
        let (mut sent, mut kept) = (m.clone(), m.clone());
        for action in offered {
            let token = action_link::sign(
                &key,
                &ActionLink {
                    tenant: tenant.into(),
                    incident_id: incident.id.clone(),
                    user: user.into(),
                    action,
                    expires_at: now + LINK_TTL_MS,
                },
            );
            sent.actions.push(MessageAction {
                action,
                url: format!("{base}{LINK_PATH}?token={token}"),
            });
            kept.actions.push(MessageAction {
                action,
                url: NOT_KEPT.into(),
            });
        }
        Some((sent, kept))
    }

    /// The claims of a link token, checked now.
    ///
    /// Errors: `Domain(Validation)` for a token that is not ours, altered,
    /// or expired.
    pub fn read_action_link(&self, token: &str) -> Result<ActionLink> {
        Ok(action_link::verify(&self.link_key(), token, self.now())?)
    }

    /// What following `link` would do now (the actions, empty when done),
    /// with the incident.
    ///
    /// Errors: `NotFound` for an incident deleted since;
    /// `Domain(InvalidTransition)` for a rejected or closed one.
    pub async fn preview_action_link(
        &self,
        link: &ActionLink,
    ) -> Result<(IncidentDetail, Vec<String>)> {
        let d = self.get_incident(&link.tenant, &link.incident_id).await?;
        let steps = action_link::steps(&state_of(&d), link.action, &link.user)?;
        Ok((d, steps.iter().map(|s| s.name().to_string()).collect()))
    }

    /// Follows `link` as its person: takes the actions
    /// [`action_link::steps`] names, each as an incident action by the
    /// person (written to the incident history). Following it again
    /// changes nothing.
    ///
    /// Errors: as [`Store::preview_action_link`]; `Conflict` when the
    /// incident changed meanwhile.
    pub async fn follow_action_link(&self, link: &ActionLink) -> Result<Followed> {
        let d = self.get_incident(&link.tenant, &link.incident_id).await?;
        let steps = action_link::steps(&state_of(&d), link.action, &link.user)?;
        let mut incident = d;
        for s in &steps {
            incident = self
                .incident_action(&link.tenant, &link.incident_id, s, &link.user)
                .await?;
        }
        Ok(Followed {
            incident,
            done: steps.iter().map(|s| s.name().to_string()).collect(),
        })
    }
}

fn state_of(d: &IncidentDetail) -> IncidentState {
    IncidentState {
        status: d.incident.status,
        level: d.incident.level,
        assignee: d.incident.assignee.clone(),
        title: d.incident.title.clone(),
        description: d.incident.description.clone(),
    }
}
