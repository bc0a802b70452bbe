//! Scheduling scenarios (O2, ref. 11.2): stored as JSON documents, queried
//! with the one "who is on call" function of [`coc_domain::oncall`].

use chrono::{DateTime, NaiveDate, Utc};
use coc_domain::oncall::Tz;
use coc_domain::oncall::calendar::Slot;
use coc_domain::oncall::{Override, Rotation, Scenario};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::application::AppIndex;
use crate::{Result, Store, StoreError, is_unique_violation};

pub mod feed;
pub mod handoff;

/// A stored scenario.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct StoredScenario {
    /// Id.
    pub id: String,
    /// The scenario.
    #[serde(flatten)]
    pub scenario: Scenario,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// A stored scenario, its applications named through `ix`.
fn row(r: &AnyRow, ix: &AppIndex) -> Result<StoredScenario> {
    let mut scenario: Scenario = serde_json::from_str(&r.try_get::<String, _>("spec")?)
        .map_err(|e| StoreError::Conflict(format!("stored scenario is unreadable: {e}")))?;
    ix.to_names(&mut scenario);
    Ok(StoredScenario {
        id: r.try_get("id")?,
        scenario,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn dup(name: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("a scenario named '{name}' already exists"))
        } else {
            e.into()
        }
    }
}

impl Store {
    /// Creates a scenario. Errors: `Domain(Validation)` (also for a person
    /// who is no user or an application that does not exist), `Conflict`.
    pub async fn create_scenario(&self, tenant: &str, s: &Scenario) -> Result<StoredScenario> {
        s.validate()?;
        let tx = self.begin().await?;
        self.save_scenario_in(tx, tenant, None, s).await
    }

    /// Replaces a scenario. Errors: `Domain(Validation)` (also for a
    /// person who is no user or an application that does not exist),
    /// `Conflict`, `NotFound`.
    pub async fn update_scenario(
        &self,
        tenant: &str,
        id: &str,
        s: &Scenario,
    ) -> Result<StoredScenario> {
        s.validate()?;
        let mut tx = self.begin().await?;
        let cur = scenario_in(&mut tx, tenant, id)
            .await?
            .ok_or_else(|| StoreError::not_found("scenario", id))?;
        self.save_scenario_in(tx, tenant, Some(cur.id), s).await
    }

    /// One scenario by id or name. Errors: `NotFound`.
    pub async fn get_scenario(&self, tenant: &str, id_or_name: &str) -> Result<StoredScenario> {
        let r = sqlx::query(
            "SELECT id, spec, created_at, updated_at FROM oncall_scenarios WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
        )
        .bind(tenant)
        .bind(id_or_name)
        .fetch_optional(self.reader())
        .await?;
        let ix = self.app_index(tenant).await?;
        r.as_ref()
            .map(|r| row(r, &ix))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("scenario", id_or_name))
    }

    /// All scenarios of a tenant, by name.
    pub async fn list_scenarios(&self, tenant: &str) -> Result<Vec<StoredScenario>> {
        let rows = sqlx::query("SELECT id, spec, created_at, updated_at FROM oncall_scenarios WHERE tenant_id = $1 ORDER BY name")
            .bind(tenant)
            .fetch_all(self.reader())
            .await?;
        let ix = self.app_index(tenant).await?;
        rows.iter().map(|r| row(r, &ix)).collect()
    }

    /// Deletes a scenario. Errors: `NotFound`.
    pub async fn delete_scenario(&self, tenant: &str, id: &str) -> Result<()> {
        let cur = self.get_scenario(tenant, id).await?;
        self.write_one(
            sqlx::query("DELETE FROM oncall_scenarios WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(cur.id.clone()),
            "scenario",
            &cur.id,
        )
        .await
    }

    /// Clears a date range of a scenario (dates before today stay).
    /// Errors: `NotFound`, `Domain(Validation)`.
    pub async fn clear_scenario(
        &self,
        tenant: &str,
        id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<StoredScenario> {
        let mut cur = self.get_scenario(tenant, id).await?;
        let today = self
            .now_utc()
            .with_timezone(&cur.scenario.schedule.tz)
            .date_naive();
        cur.scenario.clear(from, to, today)?;
        self.update_scenario(tenant, &cur.id, &cur.scenario).await
    }

    /// Puts rotation `r` into scenario `scenario` (id or name) — adding
    /// it, or replacing the one of the same name — in one transaction.
    /// A scenario that does not exist is created by that name, in zone
    /// `tz` (UTC when none), staffed by rotations alone
    /// ([`Scenario::for_rotations`]). With `application`, the rotation
    /// goes into that application's schedule. Every participant must be a
    /// user.
    ///
    /// Errors: `Domain(Validation)` (the rotation, unknown users),
    /// `Conflict`.
    pub async fn put_rotation(
        &self,
        tenant: &str,
        scenario: &str,
        application: Option<&str>,
        tz: Option<Tz>,
        r: Rotation,
    ) -> Result<StoredScenario> {
        let mut tx = self.begin().await?;
        let cur = scenario_in(&mut tx, tenant, scenario).await?;
        let mut sc = match &cur {
            Some(c) => c.scenario.clone(),
            None => Scenario::for_rotations(scenario, &r.role, tz.unwrap_or(Tz::UTC)),
        };
        sc.put_rotation(application, r)?;
        self.save_scenario_in(tx, tenant, cur.map(|c| c.id), &sc)
            .await
    }

    /// Removes the rotation named `name` from `scenario` (the schedule of
    /// `application`, or the global one).
    /// Errors: `NotFound`, `Domain(Validation)` when it has none.
    pub async fn remove_rotation(
        &self,
        tenant: &str,
        scenario: &str,
        application: Option<&str>,
        name: &str,
    ) -> Result<StoredScenario> {
        self.edit_scenario(tenant, scenario, |sc| sc.remove_rotation(application, name))
            .await
    }

    /// Changes the participants of `scenario`'s rotation `rotation` from
    /// a local date on (today in the scenario's zone or later); everyone
    /// named must be a user. Errors: `NotFound`, `Domain(Validation)`.
    pub async fn change_participants(
        &self,
        tenant: &str,
        scenario: &str,
        application: Option<&str>,
        rotation: &str,
        change: coc_domain::oncall::ParticipantChange,
    ) -> Result<StoredScenario> {
        let now = self.now_utc();
        self.edit_scenario(tenant, scenario, |sc| {
            let today = sc.local_date(now);
            sc.change_participants(application, rotation, change, today)
        })
        .await
    }

    /// Adds an override to `scenario` (the schedule of `application`, or
    /// the global one); the person must be a user.
    /// Errors: `NotFound`, `Domain(Validation)`.
    pub async fn add_override(
        &self,
        tenant: &str,
        scenario: &str,
        application: Option<&str>,
        o: Override,
    ) -> Result<StoredScenario> {
        self.edit_scenario(tenant, scenario, |sc| sc.add_override(application, o))
            .await
    }

    /// Loads `scenario`, lets the domain change it with `edit`, and saves
    /// it, in one transaction. Errors: `NotFound`, what `edit` refuses.
    async fn edit_scenario(
        &self,
        tenant: &str,
        scenario: &str,
        edit: impl FnOnce(&mut Scenario) -> std::result::Result<(), coc_domain::error::DomainError>,
    ) -> Result<StoredScenario> {
        let mut tx = self.begin().await?;
        let cur = scenario_in(&mut tx, tenant, scenario)
            .await?
            .ok_or_else(|| StoreError::not_found("scenario", scenario))?;
        let mut sc = cur.scenario.clone();
        edit(&mut sc)?;
        self.save_scenario_in(tx, tenant, Some(cur.id), &sc).await
    }

    /// Writes `sc` (a new scenario when `id` is none) in `tx` after
    /// checking that everyone it names is a user and every application it
    /// names exists (stored by id), and commits.
    async fn save_scenario_in(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        tenant: &str,
        id: Option<String>,
        sc: &Scenario,
    ) -> Result<StoredScenario> {
        crate::access::require_users(&mut tx, tenant, &sc.people()).await?;
        let mut stored = sc.clone();
        AppIndex::load(&mut tx, tenant).await?.to_ids(&mut stored)?;
        let now = self.now();
        let spec = serde_json::to_string(&stored).unwrap_or_default();
        let id = match id {
            Some(id) => {
                sqlx::query(
                    "UPDATE oncall_scenarios SET name = $1, spec = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5",
                )
                .bind(sc.name.trim())
                .bind(&spec)
                .bind(now)
                .bind(tenant)
                .bind(&id)
                .execute(&mut *tx)
                .await
                .map_err(dup(sc.name.trim()))?;
                id
            }
            None => {
                let id = crate::new_id();
                sqlx::query(
                    "INSERT INTO oncall_scenarios (id, tenant_id, name, spec, created_at, updated_at) \
                     VALUES ($1,$2,$3,$4,$5,$5)",
                )
                .bind(&id)
                .bind(tenant)
                .bind(sc.name.trim())
                .bind(&spec)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(dup(sc.name.trim()))?;
                id
            }
        };
        let out = scenario_in(&mut tx, tenant, &id)
            .await?
            .ok_or_else(|| StoreError::not_found("scenario", &id))?;
        tx.commit().await?;
        Ok(out)
    }

    /// Who is on call for `role` of `scenario` over `[from, until)`, in
    /// the schedule that applies to `scope` (application, region; none:
    /// the global one) ([`coc_domain::oncall::Schedule::slots`]).
    ///
    /// Errors: `NotFound`; `Domain(Validation)` for a role the scenario
    /// does not have or a span longer than a year.
    pub async fn calendar(
        &self,
        tenant: &str,
        scenario: &str,
        role: &str,
        scope: (Option<&str>, Option<&str>),
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(StoredScenario, Vec<Slot>)> {
        let s = self.get_scenario(tenant, scenario).await?;
        if !s.scenario.roles.iter().any(|r| r == role) {
            return Err(coc_domain::error::invalid(format!(
                "scenario '{}' has no role '{role}'",
                s.scenario.name
            ))
            .into());
        }
        let slots = s
            .scenario
            .schedule_for(scope.0, scope.1)
            .slots(role, from, until)?;
        Ok((s, slots))
    }

    /// Who is on call in scenario `scenario` for `role`, for `application`
    /// in `region`, at `at` ([`Scenario::on_call`]).
    ///
    /// Errors: `NotFound` for the scenario, `Domain(Validation)` for a role
    /// the scenario does not have.
    pub async fn on_call(
        &self,
        tenant: &str,
        scenario: &str,
        role: &str,
        scope: (Option<&str>, Option<&str>),
        at: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        let s = self.get_scenario(tenant, scenario).await?;
        Ok(s.scenario.on_call(role, scope.0, scope.1, at)?)
    }
}

/// The first person on call for `shift` at `at_ms` for an application and
/// region, read on `conn` (inside a transaction). `None` when the scenario
/// or role does not exist or nobody is on call.
pub(crate) async fn first_on_call(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    shift: &coc_domain::oncall::ShiftRef,
    scope: (Option<&str>, Option<&str>),
    at_ms: i64,
) -> Result<Option<String>> {
    let spec: Option<String> = sqlx::query_scalar(
        "SELECT spec FROM oncall_scenarios WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
    )
    .bind(tenant)
    .bind(&shift.scenario)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(mut sc) = spec.and_then(|s| serde_json::from_str::<Scenario>(&s).ok()) else {
        return Ok(None);
    };
    AppIndex::load(conn, tenant).await?.to_names(&mut sc);
    let at = DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or_default();
    Ok(sc
        .on_call(&shift.role, scope.0, scope.1, at)
        .ok()
        .and_then(|p| p.into_iter().next()))
}

/// One scenario by id or name, read on `conn`.
async fn scenario_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    id_or_name: &str,
) -> Result<Option<StoredScenario>> {
    let r = sqlx::query(
        "SELECT id, spec, created_at, updated_at FROM oncall_scenarios WHERE tenant_id = $1 AND (id = $2 OR name = $2)",
    )
    .bind(tenant)
    .bind(id_or_name)
    .fetch_optional(&mut *conn)
    .await?;
    let ix = AppIndex::load(conn, tenant).await?;
    r.as_ref().map(|r| row(r, &ix)).transpose()
}
