//! The audit trail (A5, ref. chapter 12): one append-only record per
//! mutating call, login and notable token use, with the trace names of
//! ref. table 12-1 where one exists. Nothing updates or deletes records.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Arg, Filter, Page, Paged, Result, Store, json_col};

/// One audit record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Id (time-ordered).
    pub id: String,
    /// When, Unix ms.
    pub at: i64,
    /// Trace name (`createTicket`, `executeJobScript`, …).
    pub trace: String,
    /// Catalog action (`coc:incident:accept`), or `login` etc.
    pub action: String,
    /// Who.
    pub user_name: String,
    /// Caller address.
    pub source_ip: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Resource type (`incident`, `script`, …).
    pub resource_type: String,
    /// Resource id, if the path names one.
    pub resource_id: Option<String>,
    /// Request summary with secrets redacted (JSON).
    pub request: serde_json::Value,
    /// HTTP status of the answer.
    pub status: i64,
    /// `success` or `failure`.
    pub result: String,
}

/// A record to append (id and time are assigned).
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    /// Trace name.
    pub trace: String,
    /// Action.
    pub action: String,
    /// Who.
    pub user_name: String,
    /// Caller address.
    pub source_ip: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Resource type.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Redacted request summary.
    pub request: serde_json::Value,
    /// HTTP status.
    pub status: i64,
}

/// Filters of the audit search.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// User name.
    pub user: Option<String>,
    /// Trace name.
    pub trace: Option<String>,
    /// Resource type.
    pub resource_type: Option<String>,
    /// Resource id.
    pub resource_id: Option<String>,
    /// at ≥ since, Unix ms.
    pub since: Option<i64>,
    /// at < until, Unix ms.
    pub until: Option<i64>,
}

const COLS: &str = "id, at, trace, action, user_name, source_ip, method, path, resource_type, resource_id, request, status, result";

fn row(r: &AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        trace: r.try_get("trace")?,
        action: r.try_get("action")?,
        user_name: r.try_get("user_name")?,
        source_ip: r.try_get("source_ip")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        resource_type: r.try_get("resource_type")?,
        resource_id: r.try_get("resource_id")?,
        request: json_col(r, "request"),
        status: r.try_get("status")?,
        result: r.try_get("result")?,
    })
}

/// Keys whose values are replaced by `******` in request summaries.
pub const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "token",
    "key",
    "params",
    "content",
    "authorization",
    // Parameter values, contact addresses and channel targets (robot URLs
    // carry keys).
    "value",
    "contacts",
    "target",
    "address",
];

/// Replaces secret-looking values (by key, recursively) with `******`.
pub fn redact(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let lk = k.to_ascii_lowercase();
                    if SECRET_KEYS.iter().any(|s| lk.contains(s)) {
                        (k.clone(), Value::String(crate::secret::MASK.into()))
                    } else {
                        (k.clone(), redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

impl Store {
    /// Appends a record (the request summary is redacted again here).
    pub async fn append_audit(&self, tenant: &str, a: &NewAudit) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(dynsql!(
            "INSERT INTO audit_log ({COLS}, tenant_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
        ))
        .bind(crate::new_id())
        .bind(self.now())
        .bind(&a.trace)
        .bind(&a.action)
        .bind(&a.user_name)
        .bind(a.source_ip.as_deref())
        .bind(&a.method)
        .bind(&a.path)
        .bind(&a.resource_type)
        .bind(a.resource_id.as_deref())
        .bind(serde_json::to_string(&redact(&a.request)).unwrap_or_default())
        .bind(a.status)
        .bind(if (200..400).contains(&a.status) { "success" } else { "failure" })
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Searches the audit trail, newest first, keyset-paged.
    pub async fn list_audit(
        &self,
        tenant: &str,
        f: &AuditFilter,
        page: &Page,
    ) -> Result<Paged<AuditRecord>> {
        let mut w = Filter::new(tenant);
        for (col, v) in [
            ("user_name", &f.user),
            ("trace", &f.trace),
            ("resource_type", &f.resource_type),
            ("resource_id", &f.resource_id),
        ] {
            if let Some(v) = v {
                w.push(&format!("{col} = ?"), Arg::S(v.clone()));
            }
        }
        if let Some(t) = f.since {
            w.push("at >= ?", Arg::I(t));
        }
        if let Some(t) = f.until {
            w.push("at < ?", Arg::I(t));
        }
        self.fetch_page(COLS, "audit_log", w, page, row, |a| a.id.clone())
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction_by_key() {
        let v = serde_json::json!({"name": "x", "password": "pw", "nested": [{"api_key": "k", "ok": 1}], "params": {"A": "1"}});
        let r = super::redact(&v);
        assert_eq!(r["password"], "******");
        assert_eq!(r["nested"][0]["api_key"], "******");
        assert_eq!(r["nested"][0]["ok"], 1);
        assert_eq!(r["params"], "******");
        assert_eq!(r["name"], "x");
    }
}
