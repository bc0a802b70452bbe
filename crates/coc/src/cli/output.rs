//! Printing API results as text tables or JSON.

use serde_json::Value;

use super::Format;

/// Prints `v` as pretty JSON, or as a table of `cols` over `v.items` (or
/// `v` itself when it is a list), or as `key: value` lines for an object.
pub fn print(fmt: Format, v: &Value, cols: &[&str]) {
    if fmt == Format::Json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .or_else(|| v.as_array());
    match items {
        Some(items) => {
            table(items, cols);
            if let Some(c) = v.get("next_cursor").and_then(Value::as_str) {
                println!("(more: --cursor {c})");
            }
        }
        None => object(v, cols),
    }
}

const TIME_COLS: &[&str] = &[
    "at",
    "first_seen",
    "last_seen",
    "last_heartbeat",
    "started_at",
    "finished_at",
];

fn cell_for(col: &str, v: &Value) -> String {
    let is_time = col.ends_with("_at") || col.ends_with("_until") || TIME_COLS.contains(&col);
    match v.as_i64() {
        Some(ms) if is_time && ms > 1_000_000_000_000 => {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| ms.to_string())
        }
        _ => cell(v),
    }
}

/// A value as a table cell: text as is; a list of plain values joined by
/// commas; a map of plain values as `key=value` pairs; anything deeper as
/// JSON.
fn cell(v: &Value) -> String {
    let plain = |v: &Value| !v.is_array() && !v.is_object();
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.iter().all(plain) => {
            let parts: Vec<String> = a.iter().map(cell).collect();
            parts.join(", ")
        }
        Value::Object(m) if m.values().all(plain) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", cell(v))).collect();
            parts.join(", ")
        }
        other => other.to_string(),
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(v, |acc, k| acc.get(k).unwrap_or(&Value::Null))
}

/// A simple aligned table.
pub fn table(items: &[Value], cols: &[&str]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|it| cols.iter().map(|c| cell_for(c, lookup(it, c))).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].chars().count().min(48))
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let last = cols.len().saturating_sub(1);
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let c: String = if i == last {
                    c.clone()
                } else {
                    c.chars().take(48).collect()
                };
                format!("{c:<w$}")
            })
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(cols.iter().map(|c| heading(c)).collect());
    for r in rows {
        line(r);
    }
    if items.is_empty() {
        println!("(none)");
    }
}

/// A column's heading in words: `resource_name` → `RESOURCE NAME`, a
/// nested member by its owner when it is the owner's number, name or id
/// (`incident.number` → `INCIDENT`), else by itself (`counts.total` →
/// `TOTAL`).
fn heading(col: &str) -> String {
    let parts: Vec<&str> = col.split('.').collect();
    let word = match parts.as_slice() {
        [owner, .., "number" | "name" | "id"] => owner,
        [.., last] => last,
        [] => col,
    };
    word.replace('_', " ").to_uppercase()
}

fn object(v: &Value, cols: &[&str]) {
    for c in cols {
        println!("{c}: {}", cell_for(c, lookup(v, c)));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn headings_are_words() {
        for (col, want) in [
            ("resource_name", "RESOURCE NAME"),
            ("incident.number", "INCIDENT"),
            ("counts.total", "TOTAL"),
            ("id", "ID"),
        ] {
            assert_eq!(super::heading(col), want);
        }
    }
}
