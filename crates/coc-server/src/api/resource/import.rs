//! Importing an inventory file (R2, static sync): CSV or YAML read into
//! resource definitions here; what each row does is decided by the store
//! and the domain ([`coc_store::Store::import_resources`]).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::{Extension, Json};
use coc_domain::resource::catalog::{ResourceSpec, ResourceType};
use coc_store::access::Principal;
use coc_store::resource::catalog::ImportReport;
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiJson;
use crate::guard::Checked;

/// Body of `POST /api/v1/resources/import`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    /// `csv` or `yaml`.
    pub format: String,
    /// The file's text (at most the API's 1 MiB body).
    pub content: String,
    /// Only say what each row would do; write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The CSV columns that are not fields of a type.
const CSV_COLUMNS: [&str; 8] = [
    "type",
    "name",
    "host",
    "application",
    "module",
    "region",
    "enterprise_project",
    "tags",
];

/// `k=v;k=v` as a map (empty parts skipped).
fn pairs(v: &str) -> Result<BTreeMap<String, String>, String> {
    v.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("tag '{p}' is not key=value"))
        })
        .collect()
}

/// The rows of a CSV file with a header row: `type` and `name` columns,
/// optionally `host`, `application`, `module`, `region`,
/// `enterprise_project` (or `project`), `tags` (`k=v;k=v`); every other
/// column is a field of the row's type. Empty cells are left out. Rows
/// are numbered by their line.
///
/// Errors: `validation_failed` when the header is unreadable or lacks
/// `type` or `name`.
fn csv_rows(text: &str) -> ApiResult<Vec<(usize, Result<ResourceSpec, String>)>> {
    let bad = |m: String| ApiError::new(ErrorCode::ValidationFailed, m);
    // Line ends as a spreadsheet saves them (CRLF) are read as LF: the
    // reader's line numbers count LF, and a cell's own line breaks are
    // stored as LF.
    let text = text.replace("\r\n", "\n");
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let head: Vec<String> = r
        .headers()
        .map_err(|e| bad(format!("the header row: {e}")))?
        .iter()
        .map(|h| {
            let h = h.trim().to_ascii_lowercase();
            if h == "project" {
                "enterprise_project".to_string()
            } else {
                h
            }
        })
        .collect();
    for need in ["type", "name"] {
        if !head.iter().any(|h| h == need) {
            return Err(bad(format!(
                "the header row has no '{need}' column (it has {})",
                head.join(", ")
            )));
        }
    }
    let mut out = vec![];
    let mut rec = csv::StringRecord::new();
    loop {
        // The reader stands where the next record starts: its line.
        let line = r.position().line() as usize;
        match r.read_record(&mut rec) {
            Ok(false) => break,
            Err(e) => {
                out.push((line, Err(e.to_string())));
                // A broken record ends the reading of the file.
                break;
            }
            Ok(true) => {
                let cells: Vec<(&str, &str)> = head
                    .iter()
                    .map(String::as_str)
                    .zip(rec.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                out.push((line, spec_of_cells(&cells)));
            }
        }
    }
    Ok(out)
}

/// One CSV row as a definition.
fn spec_of_cells(cells: &[(&str, &str)]) -> Result<ResourceSpec, String> {
    let get = |k: &str| {
        cells
            .iter()
            .find(|(h, _)| *h == k)
            .map(|(_, v)| v.to_string())
    };
    let t = get("type").ok_or("no type")?;
    let resource_type = ResourceType::parse(&t).ok_or_else(|| {
        let names: Vec<&str> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
        format!("type '{t}': use {}", names.join(", "))
    })?;
    Ok(ResourceSpec {
        resource_type,
        name: get("name").ok_or("no name")?,
        host: get("host"),
        application: get("application"),
        module: get("module"),
        region: get("region"),
        enterprise_project: get("enterprise_project"),
        tags: get("tags")
            .map(|t| pairs(&t))
            .transpose()?
            .unwrap_or_default(),
        attributes: cells
            .iter()
            .filter(|(h, _)| !CSV_COLUMNS.contains(h))
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect(),
    })
}

/// A YAML scalar as the text a field holds (`5432` → `"5432"`).
fn as_text(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        other => other.clone(),
    }
}

/// The items of a YAML file: a list of definitions, or `resources:` with
/// one. Numbers and booleans in `attributes` and `tags` are taken as
/// their text. Items are numbered from 1.
///
/// Errors: `validation_failed` for a file that is not YAML or not such a
/// list.
fn yaml_rows(text: &str) -> ApiResult<Vec<(usize, Result<ResourceSpec, String>)>> {
    let bad = |m: String| ApiError::new(ErrorCode::ValidationFailed, m);
    let doc: Value = yaml_serde::from_str(text).map_err(|e| bad(format!("YAML: {e}")))?;
    let items = match doc {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("resources") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(bad(
                    "the YAML file is a list of resources, or has one under 'resources:'".into(),
                ));
            }
        },
        _ => return Err(bad("the YAML file is a list of resources".into())),
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            for k in ["attributes", "tags"] {
                if let Some(Value::Object(m)) = item.get_mut(k) {
                    for v in m.values_mut() {
                        *v = as_text(v);
                    }
                }
            }
            (
                i + 1,
                serde_json::from_value::<ResourceSpec>(item).map_err(|e| e.to_string()),
            )
        })
        .collect())
}

/// `POST /api/v1/resources/import`: a dry run answers what each row
/// would do; a real import answers what it did, or is refused whole (422,
/// the refused rows named) when a row is.
pub(super) async fn import(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(c): Extension<Checked>,
    ApiJson(b): ApiJson<ImportFile>,
) -> ApiResult<Json<ImportReport>> {
    let rows = match b.format.trim().to_ascii_lowercase().as_str() {
        "csv" => csv_rows(&b.content)?,
        "yaml" | "yml" => yaml_rows(&b.content)?,
        f => {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
                format!("format '{f}': use csv or yaml"),
            ));
        }
    };
    // Each row goes where the caller may create (A3): its project and tags.
    for (_, r) in &rows {
        if let Ok(spec) = r {
            c.require(
                "resource:*",
                &super::attributes::as_refs(&super::attributes::tagged(
                    spec.enterprise_project.as_deref(),
                    &spec.tags,
                )),
            )?;
        }
    }
    let report = s
        .store
        .import_resources(&p.tenant, rows, b.dry_run, s.heartbeat_ms as i64)
        .await?;
    if !b.dry_run && report.refused > 0 {
        // Nothing was written: say which rows and why (the first ten).
        let why: Vec<String> = report
            .rows
            .iter()
            .filter(|r| r.reason.is_some())
            .take(10)
            .map(|r| {
                format!(
                    "row {}{}: {}",
                    r.row,
                    r.name
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    r.reason.as_deref().unwrap_or_default()
                )
            })
            .collect();
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            format!(
                "nothing imported: {} of {} rows refused — {}",
                report.refused,
                report.rows.len(),
                why.join("; ")
            ),
        ));
    }
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_take_fields_from_other_columns() {
        let text = "type,name,host,application,module,region,project,tags,engine,port\r\n\
                    database,orders-db,db-1,shop,db,eu-west-1,,tier=gold;team=pay,postgresql,5432\r\n\
                    vm,x,,,,,,,,\r\n\
                    cache,sessions,,,,,,bad-tag,redis,\r\n";
        let rows = csv_rows(text).unwrap();
        assert_eq!(rows.len(), 3);
        let (line, first) = &rows[0];
        assert_eq!(*line, 2);
        let s = first.as_ref().unwrap();
        assert_eq!(s.resource_type, ResourceType::Database);
        assert_eq!(s.host.as_deref(), Some("db-1"));
        assert_eq!(s.enterprise_project, None);
        assert_eq!(s.tags.get("team").map(String::as_str), Some("pay"));
        assert_eq!(s.attributes.get("port").map(String::as_str), Some("5432"));
        assert!(!s.attributes.contains_key("region"));
        assert!(rows[1].1.as_ref().unwrap_err().contains("type 'vm'"));
        assert!(rows[2].1.as_ref().unwrap_err().contains("not key=value"));
        assert!(csv_rows("kind,name\nx,y\n").is_err());
    }

    #[test]
    fn yaml_items_take_numbers_as_text() {
        let text = "resources:\n  - type: cache\n    name: sessions\n    attributes:\n      engine: redis\n      port: 6379\n  - type: cache\n    nme: typo\n";
        let rows = yaml_rows(text).unwrap();
        let s = rows[0].1.as_ref().unwrap();
        assert_eq!(s.attributes.get("port").map(String::as_str), Some("6379"));
        assert!(rows[1].1.as_ref().unwrap_err().contains("nme"));
        assert!(yaml_rows("just text").is_err());
        assert!(yaml_rows("- [unclosed").is_err());
    }
}
