//! Emergency plans (S4, ref. 9.2) and response plans inside incidents (I4,
//! ref. 7.1.3.8): an automation plan runs a script or a job with preset
//! parameters; a document plan is ordered steps of text, each optionally
//! bound to a script or a job. Forwarding rules and incidents reference a plan by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

/// A script or a job with preset parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanAction {
    /// Script id or name (or a `job`).
    #[serde(default)]
    pub script: String,
    /// Job id or name, instead of a script (X3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Preset parameter values (the script's, or the job's global
    /// parameters).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Parameters from the parameter center.
    #[serde(default)]
    pub param_refs: BTreeMap<String, crate::parameter::ParamRef>,
}

/// One step of a document plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// Title.
    pub title: String,
    /// What to do (≤ 4000 chars).
    #[serde(default)]
    pub text: String,
    /// The script this step runs, if any.
    #[serde(default)]
    pub action: Option<PlanAction>,
}

/// How a plan handles the fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanBody {
    /// Run a script.
    Automation {
        /// The script and its parameters.
        action: PlanAction,
    },
    /// Follow steps.
    Document {
        /// Steps in order (1..=50).
        steps: Vec<PlanStep>,
    },
}

/// An emergency plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Name (1..=64 chars, unique per tenant).
    pub name: String,
    /// Summary.
    #[serde(default)]
    pub summary: String,
    /// Application it belongs to.
    #[serde(default)]
    pub application: Option<String>,
    /// Expected recovery duration, minutes.
    #[serde(default)]
    pub recovery_minutes: Option<u32>,
    /// Automation or document.
    pub body: PlanBody,
}

impl crate::application::refs::AppRefs for Plan {
    fn app_refs(&mut self) -> Vec<&mut String> {
        self.application.iter_mut().collect()
    }
}

impl PlanAction {
    /// Exactly one of a script and a job; a job takes no parameter-center
    /// references (its global parameters name their own).
    ///
    /// Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        match (self.script.trim().is_empty(), &self.job) {
            (true, None) => Err(invalid("a plan action runs a script or a job: name one")),
            (false, Some(_)) => Err(invalid("a plan action runs a script or a job, not both")),
            (true, Some(_)) if !self.param_refs.is_empty() => Err(invalid(
                "param_refs belong to scripts; a job's global parameters name their parameter-center source",
            )),
            _ => Ok(()),
        }
    }
}

impl Plan {
    /// Validates name, steps and texts. Errors: [`DomainError::Validation`].
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if n == 0 || n > 64 {
            return Err(invalid("plan name must have 1 to 64 characters"));
        }
        if self.summary.chars().count() > 1000 {
            return Err(invalid("summary is longer than 1000 characters"));
        }
        let actions: Vec<&PlanAction> = match &self.body {
            PlanBody::Automation { action } => vec![action],
            PlanBody::Document { steps } => {
                steps.iter().filter_map(|s| s.action.as_ref()).collect()
            }
        };
        for a in actions {
            a.validate()?;
        }
        if let PlanBody::Document { steps } = &self.body {
            if steps.is_empty() || steps.len() > 50 {
                return Err(invalid("a document plan has 1 to 50 steps"));
            }
            for (i, s) in steps.iter().enumerate() {
                if s.title.trim().is_empty() || s.text.chars().count() > 4000 {
                    return Err(invalid(format!(
                        "step {}: a title is required and the text has at most 4000 characters",
                        i + 1
                    )));
                }
            }
        }
        Ok(())
    }

    /// The action of `step` (document plans, 1-based) or of the plan.
    ///
    /// Errors: [`DomainError::Validation`] when there is no such action.
    pub fn action(&self, step: Option<usize>) -> Result<&PlanAction, DomainError> {
        match (&self.body, step) {
            (PlanBody::Automation { action }, None) => Ok(action),
            (PlanBody::Automation { .. }, Some(_)) => {
                Err(invalid("an automation plan has no steps"))
            }
            (PlanBody::Document { .. }, None) => Err(invalid(
                "a document plan runs step by step: give the step to execute",
            )),
            (PlanBody::Document { steps }, Some(i)) => steps
                .get(i.wrapping_sub(1))
                .ok_or_else(|| invalid(format!("the plan has no step {i}")))?
                .action
                .as_ref()
                .ok_or_else(|| invalid(format!("step {i} is bound to no script or job"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Plan {
        serde_json::from_value(serde_json::json!({
            "name": "db-failover", "body": {"type": "document", "steps": [
                {"title": "Check replication", "text": "…"},
                {"title": "Promote replica", "action": {"script": "promote", "params": {"NODE": "db-2"}}}]}}))
        .unwrap()
    }

    #[test]
    fn steps_and_actions() {
        let p = doc();
        p.validate().unwrap();
        assert_eq!(p.action(Some(2)).unwrap().script, "promote");
        assert!(
            p.action(Some(1))
                .unwrap_err()
                .to_string()
                .contains("no script")
        );
        assert!(p.action(Some(3)).is_err());
        assert!(p.action(Some(0)).is_err());
        assert!(p.action(None).is_err());
        let auto: Plan = serde_json::from_value(serde_json::json!({
            "name": "restart", "body": {"type": "automation", "action": {"script": "restart-web"}}}))
        .unwrap();
        assert_eq!(auto.action(None).unwrap().script, "restart-web");
        assert!(auto.action(Some(1)).is_err());
        let mut empty = doc();
        empty.body = PlanBody::Document { steps: vec![] };
        assert!(empty.validate().is_err());
    }
}
