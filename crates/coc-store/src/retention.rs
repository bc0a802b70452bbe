//! Alarm retention (M2): alarms that turned `ok` longer ago than the
//! retention age ([`coc_domain::alarm::Retention`]) are deleted with their
//! history, a small batch per transaction so ingest never waits long.
//! Firing alarms and alarms linked to an incident stay.

use coc_domain::alarm::{AlarmStatus, Retention};
use sqlx::Row;

use crate::{Backend, Result, Store};

/// Most alarms deleted in one transaction.
pub const RETENTION_BATCH: i64 = 500;

impl Store {
    /// Deletes up to [`RETENTION_BATCH`] expired alarms of `tenant`
    /// (oldest first) with their history and inhibition-source rows, in
    /// one transaction. Returns how many were deleted: fewer than the
    /// batch means none are left.
    ///
    /// Errors: [`crate::StoreError::Db`]; nothing is deleted.
    pub async fn delete_expired_alarms(
        &self,
        tenant: &str,
        retention: Retention,
        now: i64,
    ) -> Result<usize> {
        let Some(cutoff) = retention.cutoff(now) else {
            return Ok(0);
        };
        // SQLite: the ingest writer's map forgets the deleted rows; it is
        // taken before the transaction, as the writer takes it.
        let mut keys = match self.backend {
            Backend::Sqlite => Some(self.alarm_keys.lock().await),
            Backend::Postgres => None,
        };
        let place = match self.backend {
            Backend::Sqlite => "rowid",
            Backend::Postgres => "0",
        };
        let mut tx = self.begin().await?;
        // Oldest first along (tenant, status, id).
        let rows = sqlx::query(dynsql!(
            "SELECT id, fingerprint, {place} AS r FROM alarms a \
             WHERE a.tenant_id = $1 AND a.status = $2 AND a.last_seen < $3 \
             AND NOT EXISTS (SELECT 1 FROM incident_alarms ia WHERE ia.alarm_id = a.id) \
             ORDER BY a.id LIMIT $4"
        ))
        .bind(tenant)
        .bind(AlarmStatus::Ok.as_str())
        .bind(cutoff)
        .bind(RETENTION_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut gone = Vec::with_capacity(rows.len());
        for r in &rows {
            ids.push(r.try_get::<String, _>("id")?);
            gone.push((
                r.try_get::<String, _>("fingerprint")?,
                r.try_get::<i64, _>("r")?,
            ));
        }
        let list = (0..ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        for table in ["alarm_events", "alarm_occurrences", "inhibition_sources"] {
            let mut q = sqlx::query(dynsql!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND alarm_id IN ({list})"
            ))
            .bind(tenant);
            for id in &ids {
                q = q.bind(id.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        let mut q = sqlx::query(dynsql!(
            "DELETE FROM alarms WHERE tenant_id = $1 AND id IN ({list})"
        ))
        .bind(tenant);
        for id in &ids {
            q = q.bind(id.as_str());
        }
        let n = q.execute(&mut *tx).await?.rows_affected() as usize;
        tx.commit().await?;
        if let Some(k) = keys.as_deref_mut() {
            k.remove(tenant, &gone);
        }
        Ok(n)
    }
}
