//! Applications (R6; ref. 3 "Application and Resource Management"): the
//! unit alarms, incidents, schedules, SLAs and changes hang on. An
//! application has an owner, its modules (the parts it is built of: a web
//! tier, a database …) and the regions it runs in; resources are grouped
//! by application → module, region and enterprise project.
//!
//! This module decides what a valid application is; the store keeps them
//! and checks that the owner is a known person.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, invalid};

pub mod refs;
pub use refs::{AppRefs, map_app_refs};

/// Most modules an application has.
pub const MAX_MODULES: usize = 50;
/// Most regions an application runs in.
pub const MAX_REGIONS: usize = 50;
/// Longest name of an application, a module or a region (characters).
pub const MAX_NAME: usize = 64;
/// Longest description (characters).
pub const MAX_DESCRIPTION: usize = 500;

/// One module of an application (a part it is built of).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppModule {
    /// Name, unique within the application (ignoring case), 1 to 64
    /// characters.
    pub name: String,
    /// What it is, at most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An application as given and as stored (R6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSpec {
    /// Name, unique per tenant, 1 to 64 characters.
    pub name: String,
    /// What it does, at most 500 characters (CRLF is stored as LF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The person who owns it (a user name), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The enterprise project it belongs to (a grouping of resources and
    /// budgets, ref. 3.1.1), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_project: Option<String>,
    /// Its modules, at most 50.
    #[serde(default)]
    pub modules: Vec<AppModule>,
    /// The regions it runs in, at most 50, each once.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A name: trimmed, 1 to [`MAX_NAME`] characters, no control characters.
fn name(what: &str, v: &str) -> Result<String, DomainError> {
    let t = v.trim();
    let n = t.chars().count();
    if n == 0 || n > MAX_NAME {
        return Err(invalid(format!(
            "{what} must have 1 to {MAX_NAME} characters"
        )));
    }
    if t.chars().any(char::is_control) {
        return Err(invalid(format!("{what} '{t}' has a control character")));
    }
    Ok(t.to_string())
}

/// An optional text: trimmed, empty is none, CRLF as LF, at most `max`
/// characters.
fn text(what: &str, v: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    let Some(t) = v.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let t = crate::script::with_lf(t);
    if t.chars().count() > max {
        return Err(invalid(format!("{what} takes at most {max} characters")));
    }
    Ok(Some(t))
}

impl ApplicationSpec {
    /// The application as it is stored: names and texts trimmed, empty
    /// optional texts dropped, CRLF as LF.
    ///
    /// Errors: [`DomainError::Validation`] for a name out of 1..=64
    /// characters, a description over 500, more than 50 modules or
    /// regions, or a module or region given twice (ignoring case).
    pub fn normalized(&self) -> Result<ApplicationSpec, DomainError> {
        if self.modules.len() > MAX_MODULES {
            return Err(invalid(format!(
                "an application has at most {MAX_MODULES} modules"
            )));
        }
        if self.regions.len() > MAX_REGIONS {
            return Err(invalid(format!(
                "an application runs in at most {MAX_REGIONS} regions"
            )));
        }
        let mut modules: Vec<AppModule> = Vec::with_capacity(self.modules.len());
        for m in &self.modules {
            let n = name("a module's name", &m.name)?;
            if modules.iter().any(|o| o.name.eq_ignore_ascii_case(&n)) {
                return Err(invalid(format!("module '{n}' is given twice")));
            }
            modules.push(AppModule {
                name: n,
                description: text(
                    "a module's description",
                    m.description.as_deref(),
                    MAX_DESCRIPTION,
                )?,
            });
        }
        let mut regions: Vec<String> = Vec::with_capacity(self.regions.len());
        for r in &self.regions {
            let r = name("a region", r)?;
            if regions.iter().any(|o| o.eq_ignore_ascii_case(&r)) {
                return Err(invalid(format!("region '{r}' is given twice")));
            }
            regions.push(r);
        }
        Ok(ApplicationSpec {
            name: name("name", &self.name)?,
            description: text("description", self.description.as_deref(), MAX_DESCRIPTION)?,
            owner: text("owner", self.owner.as_deref(), MAX_NAME)?,
            enterprise_project: text(
                "enterprise_project",
                self.enterprise_project.as_deref(),
                MAX_NAME,
            )?,
            modules,
            regions,
        })
    }

    /// Whether `module` is one of its modules (ignoring case).
    pub fn has_module(&self, module: &str) -> bool {
        self.module_named(module).is_some()
    }

    /// The name of its module called `module` (ignoring case), as the
    /// application spells it.
    pub fn module_named(&self, module: &str) -> Option<&str> {
        self.modules
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(module.trim()))
            .map(|m| m.name.as_str())
    }

    /// Its modules' names, in order.
    pub fn module_names(&self) -> Vec<&str> {
        self.modules.iter().map(|m| m.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Result<ApplicationSpec, String> {
        let s: ApplicationSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
        s.normalized().map_err(|e| e.to_string())
    }

    #[test]
    fn a_form_as_a_browser_sends_it_is_trimmed_and_stored_with_lf() {
        let s = spec(serde_json::json!({
            "name": "  payments ", "description": "card payments\r\nand refunds\r\n",
            "owner": "", "enterprise_project": " ", "modules": [{"name": "web", "description": ""},
            {"name": " db "}], "regions": ["eu-west-1", "cn-north-4 "]}))
        .unwrap();
        assert_eq!(s.name, "payments");
        assert_eq!(s.description.as_deref(), Some("card payments\nand refunds"));
        assert_eq!((&s.owner, &s.enterprise_project), (&None, &None));
        assert_eq!(s.modules[0].description, None);
        assert_eq!(s.modules[1].name, "db");
        assert_eq!(s.regions, vec!["eu-west-1", "cn-north-4"]);
        assert!(s.has_module("DB"));
        assert_eq!(s.module_named(" DB"), Some("db"));
        assert_eq!(s.module_names(), vec!["web", "db"]);
        assert!(!s.has_module("cache"));
    }

    #[test]
    fn bad_applications_are_refused_with_the_reason() {
        for (v, why) in [
            (serde_json::json!({"name": " "}), "name must have 1 to 64"),
            (
                serde_json::json!({"name": "x".repeat(65)}),
                "name must have 1 to 64",
            ),
            (serde_json::json!({"name": "a\u{7}b"}), "control character"),
            (
                serde_json::json!({"name": "a", "modules": [{"name": "web"}, {"name": "WEB"}]}),
                "module 'WEB' is given twice",
            ),
            (
                serde_json::json!({"name": "a", "regions": ["r1", "R1"]}),
                "region 'R1' is given twice",
            ),
            (
                serde_json::json!({"name": "a", "description": "d".repeat(501)}),
                "at most 500",
            ),
            (
                serde_json::json!({"name": "a", "regions": (0..51).map(|i| format!("r{i}")).collect::<Vec<_>>()}),
                "at most 50 regions",
            ),
            (
                serde_json::json!({"name": "a", "colour": "red"}),
                "unknown field",
            ),
        ] {
            let e = spec(v.clone()).unwrap_err();
            assert!(e.contains(why), "{v}: {e}");
        }
    }
}
