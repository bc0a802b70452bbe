//! Patch management (issue 19): patch baselines (P1) as named documents
//! of a tenant ([`crate::spec::Document`]), and the default baselines
//! every tenant starts with; the hosts' scan and repair results and their
//! compliance ([`host`]). Which patches a baseline approves is
//! [`coc_domain::patch`]'s.

use coc_domain::patch::{BaselineSpec, default_baselines};

pub mod host;

use crate::spec::{Document, Kind};
use crate::{Result, Store};

/// Storage of patch baselines.
pub const PATCH_BASELINES: Kind = Kind {
    table: "patch_baselines",
    noun: "patch baseline",
    enabled_on_create: true,
};

impl Document for BaselineSpec {
    const KIND: Kind = PATCH_BASELINES;
    fn name(&self) -> &str {
        &self.name
    }
    fn validate(&self) -> std::result::Result<(), coc_domain::DomainError> {
        BaselineSpec::normalized(self).map(|_| ())
    }
    fn normalized(&self) -> std::result::Result<Self, coc_domain::DomainError> {
        BaselineSpec::normalized(self)
    }
}

impl Store {
    /// Adds the default baselines (one per OS family COC scans) to a
    /// tenant that lacks them (idempotent; a deleted one comes back only
    /// with a new tenant).
    ///
    /// Errors: a store error.
    pub async fn ensure_default_baselines(&self, tenant: &str) -> Result<()> {
        for b in default_baselines() {
            if self
                .spec_get::<BaselineSpec>(PATCH_BASELINES, tenant, &b.name)
                .await
                .is_err()
            {
                match self.spec_create(PATCH_BASELINES, tenant, &b.name, &b).await {
                    Ok(_) | Err(crate::StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}
