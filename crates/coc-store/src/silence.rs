//! Silences and maintenance windows (M3): stored [`SilenceSpec`]s with
//! their creator. The rules — matching, states, weekly windows — are
//! [`coc_domain::silence`]'s; ingest ([`crate::ingest`]) loads the silences
//! in force once per group and marks the alarms they mute.

use coc_domain::silence::{Matcher, SilenceSet, SilenceSpec, SilenceState, Weekly};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{Result, Store, StoreError};

/// Most silences listed at once (newest first); older expired ones stay
/// stored and can be read by id.
pub const MAX_LISTED: i64 = 1000;

/// A stored silence, with its state at the time it was read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Silence {
    /// Record id.
    pub id: String,
    /// Label matchers; an alarm must satisfy all of them.
    pub matchers: Vec<Matcher>,
    /// The matchers as text, `{alertname="Disk", job=~"node.*"}`.
    pub matchers_text: String,
    /// Start, Unix ms UTC.
    pub starts_at: i64,
    /// End, Unix ms UTC.
    pub ends_at: i64,
    /// The weekly hours of a maintenance window (absent: all the time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<Weekly>,
    /// Why.
    pub comment: String,
    /// Who created it (a user name, or `<name> via <integration>` from the
    /// Alertmanager API).
    pub created_by: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// `pending`, `active` or `expired` when read.
    pub state: SilenceState,
    /// Whether it mutes alarms now (active, and inside its weekly hours).
    pub in_force: bool,
}

impl Silence {
    /// Its rule part.
    pub fn spec(&self) -> SilenceSpec {
        SilenceSpec {
            matchers: self.matchers.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            comment: self.comment.clone(),
            weekly: self.weekly.clone(),
        }
    }
}

const COLS: &str =
    "id, matchers, starts_at, ends_at, weekly, comment, created_by, created_at, updated_at";

fn row(r: &AnyRow, now: i64) -> Result<Silence> {
    let matchers: String = r.try_get("matchers")?;
    let weekly: Option<String> = r.try_get("weekly")?;
    let bad = |e: serde_json::Error| StoreError::Conflict(format!("stored silence: {e}"));
    let matchers: Vec<Matcher> = serde_json::from_str(&matchers).map_err(bad)?;
    let text: Vec<String> = matchers.iter().map(ToString::to_string).collect();
    let mut s = Silence {
        id: r.try_get("id")?,
        matchers_text: format!("{{{}}}", text.join(", ")),
        matchers,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        weekly: weekly
            .map(|w| serde_json::from_str(&w))
            .transpose()
            .map_err(bad)?,
        comment: r.try_get("comment")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        state: SilenceState::Pending,
        in_force: false,
    };
    let spec = s.spec();
    s.state = spec.state(now);
    s.in_force = spec.in_force(now);
    Ok(s)
}

fn weekly_json(spec: &SilenceSpec) -> Option<String> {
    spec.weekly
        .as_ref()
        .map(|w| serde_json::to_string(w).unwrap_or_default())
}

impl Store {
    /// Stores a new silence after [`SilenceSpec::validate`] at the current
    /// time.
    ///
    /// Errors: `Domain(Validation)` for a bad silence (nothing stored).
    pub async fn create_silence(
        &self,
        tenant: &str,
        spec: &SilenceSpec,
        created_by: &str,
    ) -> Result<Silence> {
        let now = self.now();
        spec.validate(now)?;
        let id = crate::new_id();
        sqlx::query(
            "INSERT INTO silences (id, tenant_id, matchers, starts_at, ends_at, weekly, comment, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(serde_json::to_string(&spec.matchers).unwrap_or_default())
        .bind(spec.starts_at)
        .bind(spec.ends_at)
        .bind(weekly_json(spec))
        .bind(spec.comment.trim())
        .bind(created_by)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.get_silence(tenant, &id).await
    }

    /// Replaces a silence that has not expired (same id).
    ///
    /// Errors: `NotFound`; `Domain(InvalidTransition)` for an expired
    /// silence; `Domain(Validation)` for a bad one.
    pub async fn replace_silence(
        &self,
        tenant: &str,
        id: &str,
        spec: &SilenceSpec,
    ) -> Result<Silence> {
        let now = self.now();
        let old = self.get_silence(tenant, id).await?;
        if old.state == SilenceState::Expired {
            return Err(coc_domain::DomainError::InvalidTransition(
                "an expired silence cannot be changed; create a new one".into(),
            )
            .into());
        }
        spec.validate(now)?;
        sqlx::query(
            "UPDATE silences SET matchers = $1, starts_at = $2, ends_at = $3, weekly = $4, \
             comment = $5, updated_at = $6 WHERE tenant_id = $7 AND id = $8",
        )
        .bind(serde_json::to_string(&spec.matchers).unwrap_or_default())
        .bind(spec.starts_at)
        .bind(spec.ends_at)
        .bind(weekly_json(spec))
        .bind(spec.comment.trim())
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.get_silence(tenant, id).await
    }

    /// Ends a silence now ([`SilenceSpec::expire`]).
    ///
    /// Errors: `NotFound`; `Domain(InvalidTransition)` when already expired.
    pub async fn expire_silence(&self, tenant: &str, id: &str) -> Result<Silence> {
        let now = self.now();
        let old = self.get_silence(tenant, id).await?;
        let (starts, ends) = old.spec().expire(now)?;
        sqlx::query(
            "UPDATE silences SET starts_at = $1, ends_at = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(starts)
        .bind(ends)
        .bind(now)
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.get_silence(tenant, id).await
    }

    /// One silence. Errors: `NotFound`.
    pub async fn get_silence(&self, tenant: &str, id: &str) -> Result<Silence> {
        let now = self.now();
        let r = sqlx::query(dynsql!(
            "SELECT {COLS} FROM silences WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| row(&r, now))
            .transpose()?
            .ok_or_else(|| StoreError::not_found("silence", id))
    }

    /// The tenant's silences, newest first: those not expired, then the
    /// expired ones (`expired = true` includes them), at most
    /// [`MAX_LISTED`].
    pub async fn list_silences(&self, tenant: &str, expired: bool) -> Result<Vec<Silence>> {
        let now = self.now();
        let ends_after = if expired { i64::MIN } else { now };
        let rows = sqlx::query(dynsql!(
            "SELECT {COLS} FROM silences WHERE tenant_id = $1 AND ends_at > $2 \
             ORDER BY created_at DESC, id DESC LIMIT {MAX_LISTED}"
        ))
        .bind(tenant)
        .bind(ends_after)
        .fetch_all(self.reader())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| row(r, now))
            .collect::<Result<Vec<_>>>()?;
        // Not expired first, keeping newest first within each part.
        out.sort_by_key(|s| s.state == SilenceState::Expired);
        Ok(out)
    }

    /// The silences in force at `now`, compiled (one indexed query).
    pub async fn silences_in_force(&self, tenant: &str, now: i64) -> Result<SilenceSet> {
        in_force(self.reader(), tenant, now).await
    }
}

/// Compiled matchers of silences by their text: compiling their
/// regular expressions for every ingest group would cost more than the
/// group (a thousand single-alarm requests a second with twenty silences
/// saturated the writer).
static COMPILED: crate::Compiled<Vec<coc_domain::silence::Compiled>> = crate::Compiled::new();

fn compile(rows: &[AnyRow], now: i64) -> Result<SilenceSet> {
    let all = rows
        .iter()
        .map(|r| row(r, now))
        .collect::<Result<Vec<_>>>()?;
    let specs: Vec<(&Silence, SilenceSpec)> = all.iter().map(|s| (s, s.spec())).collect();
    Ok(SilenceSet::in_force_with(
        specs.iter().map(|(s, spec)| (s.id.as_str(), spec)),
        now,
        |_, spec| {
            COMPILED.get(format!("{:?}", spec.matchers), || {
                coc_domain::silence::compile_all(&spec.matchers).ok()
            })
        },
    ))
}

/// [`Store::silences_in_force`] on any executor (an ingest transaction).
pub(crate) async fn in_force<'e, E: sqlx::Executor<'e, Database = Any>>(
    ex: E,
    tenant: &str,
    now: i64,
) -> Result<SilenceSet> {
    let rows = sqlx::query(dynsql!(
        "SELECT {COLS} FROM silences WHERE tenant_id = $1 AND ends_at > $2 AND starts_at <= $2"
    ))
    .bind(tenant)
    .bind(now)
    .fetch_all(ex)
    .await?;
    compile(&rows, now)
}
