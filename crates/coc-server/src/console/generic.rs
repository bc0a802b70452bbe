//! The generic console engine: a list (search, filters, column choice,
//! paging), a record view, forms to create, modify and operate on records,
//! all read from and written to each module's API as declared in
//! [`super::modules::MODULES`].

use std::net::SocketAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::Method;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::forms::{self};
use super::modules::*;
use super::{
    Problem, api, error_page, form_visitor, items, page_data, text, urlencode, visitor, when,
};
use crate::AppState;

fn module(slug: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.slug == slug)
}

/// A size in bytes for people: `512 B`, `1.5 KB`, `15.6 GB` (units of
/// 1024).
pub(crate) fn size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The value at path `parts` under `v`; through an array, the value of
/// each element (`modules.name` → every module's name).
fn pick(v: &Value, parts: &[&str]) -> Value {
    match (v, parts) {
        (_, []) => v.clone(),
        (Value::Array(a), _) => Value::Array(a.iter().map(|e| pick(e, parts)).collect()),
        (_, [first, rest @ ..]) => pick(&v[*first], rest),
    }
}

/// A JSON value at a dotted path, as text for a cell (times — `…_at`,
/// `…_seen`, `at`, `since`, `until`, Unix ms — as UTC; sizes — `…_bytes`
/// — in KB, MB, GB; through an array, its elements' values). Paths joined
/// by `|` are tried in turn, the first that is not empty shown (a host's
/// `ips`, else a cloud server's `attributes.addresses`).
fn cell(v: &Value, path: &str) -> String {
    if let Some((first, rest)) = path.split_once('|') {
        let c = cell(v, first);
        return if c.is_empty() { cell(v, rest) } else { c };
    }
    let parts: Vec<&str> = path.split('.').collect();
    let picked = pick(v, &parts);
    let cur = &picked;
    let leaf = path.rsplit('.').next().unwrap_or(path);
    let time = leaf.ends_with("_at")
        || leaf.ends_with("_seen")
        || leaf.ends_with("_since")
        || matches!(leaf, "at" | "last_heartbeat" | "since" | "until");
    if time && cur.is_i64() {
        return when(cur);
    }
    if let (true, Some(n)) = (leaf.ends_with("_bytes"), cur.as_i64()) {
        return size(n);
    }
    match cur {
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Object(_) => cur.to_string(),
        other => text(other),
    }
}

pub(super) struct Row {
    cells: Vec<String>,
    link: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "table.html")]
struct Table {
    user: String,
    csrf: String,
    flash: Option<String>,
    title: String,
    base: String,
    q: String,
    /// (key, label, shown)
    all_cols: Vec<(String, String, bool)>,
    cols: Vec<String>,
    rows: Vec<Row>,
    next: Option<String>,
    can_create: bool,
    /// Where the New link goes.
    new_at: String,
    /// The module's chart of the records, or empty.
    chart: String,
    /// Filters on the default columns with few values: (query name
    /// `is.<key>`, label, (value, chosen)).
    filters: Vec<Filter>,
    /// A filter is chosen.
    filtering: bool,
    /// A download of the whole list: (API path, label).
    export: Option<(String, String)>,
    /// More pages the list links to: (path, label).
    also: &'static [(&'static str, &'static str)],
    /// The orders offered: (value, label, chosen).
    sorts: Vec<(&'static str, &'static str, bool)>,
    /// Counts for what the filters select: (label, [(value, count, link
    /// that filters by it)]).
    groups: Vec<(&'static str, Vec<GroupCell>)>,
}

/// One value of a group count: (value, count, link that filters by it).
type GroupCell = (String, u64, String);

/// A list filter: (query name `is.<key>`, label, (value, chosen)).
type Filter = (String, String, Vec<(String, bool)>);

/// The most distinct values a column may have to be offered as a filter.
const FILTER_VALUES: usize = 12;

/// Filters for a list: each default column but the first (times aside)
/// whose cells
/// take 2 to [`FILTER_VALUES`] distinct values over `all`, with the value
/// chosen in `query` (`is.<key>=<value>`) marked — and kept even when no
/// record has it now.
fn filters_of(m: &Module, all: &[Value], query: &[(String, String)]) -> Vec<Filter> {
    let chosen = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|c| !c.is_empty())
    };
    let page_values = |k: &str| {
        let mut values: Vec<String> = all
            .iter()
            .map(|r| cell(r, k))
            .filter(|c| !c.is_empty())
            .collect();
        values.sort();
        values.dedup();
        values
    };
    let filter = |name: String, label: &str, mut values: Vec<String>| {
        let c = chosen(&name);
        if let Some(c) = c.filter(|c| !values.iter().any(|v| v == c)) {
            values.push(c.to_string());
        }
        let options = values.into_iter().map(|v| {
            let on = c == Some(v.as_str());
            (v, on)
        });
        (name, label.to_string(), options.collect())
    };
    // Filters the API applies: every one, with its fixed values or the
    // page's.
    let label_of = |k: &'static str| -> &'static str {
        m.columns
            .iter()
            .find(|(c, _)| *c == k)
            .map_or(k, |(_, l)| *l)
    };
    let mut out: Vec<Filter> = m
        .server_filters
        .iter()
        .map(|(k, _, fixed)| {
            let values = if fixed.is_empty() {
                page_values(k)
            } else {
                fixed.iter().map(|v| v.to_string()).collect()
            };
            filter(format!("is.{k}"), label_of(k), values)
        })
        .collect();
    // The first column names the record: search finds it.
    out.extend(
        m.columns
            .iter()
            .skip(1)
            .filter(|(k, _)| !k.ends_with("_at") && *k != "last_heartbeat")
            .filter(|(k, _)| !m.server_filters.iter().any(|(s, _, _)| s == k))
            .filter_map(|(k, label)| {
                let values = page_values(k);
                let extra =
                    chosen(&format!("is.{k}")).is_some_and(|c| !values.iter().any(|v| v == c));
                (2..=FILTER_VALUES)
                    .contains(&(values.len() + usize::from(extra)))
                    .then(|| filter(format!("is.{k}"), label, values))
            }),
    );
    out
}

/// The API list query a console list asks with: the module's list path
/// with the filters and the search the API applies, and — when `ordered`
/// — the chosen order.
fn list_uri(m: &Module, query: &[(String, String)], base: &str, ordered: bool) -> String {
    let mut uri = base.to_string();
    let mut add = |k: &str, v: &str| {
        uri.push(if uri.contains('?') { '&' } else { '?' });
        uri.push_str(&format!("{k}={}", urlencode(v)));
    };
    for (n, v) in query.iter().filter(|(_, v)| !v.is_empty()) {
        if let Some(k) = n.strip_prefix("is.")
            && let Some((_, param, _)) = m.server_filters.iter().find(|(c, _, _)| *c == k)
        {
            add(param, v);
        }
        if n == "q"
            && let Some(param) = m.server_search
        {
            add(param, v);
        }
        if ordered && n == "sort" && m.sorts.iter().any(|(s, _)| s == v) {
            add("sort", v);
        }
    }
    uri
}

/// `GET /console/{module}`: `q` searches the shown cells, `col` (repeat)
/// chooses the columns, `cursor` pages.
pub(super) async fn list(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/{slug}");
    let Some(m) = module(&slug) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let cursor = get("cursor");
    let mut uri = list_uri(m, &query, m.list, true);
    if !cursor.is_empty() {
        let sep = if uri.contains('?') { '&' } else { '?' };
        uri.push_str(&format!("{sep}cursor={}", urlencode(&cursor)));
    }
    let (v, d) = match page_data(&s, &headers, ip, &here, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let chosen: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "col")
        .map(|(_, c)| c.clone())
        .collect();
    let all = items(&d);
    let chart = m.summary.map(|f| f(&all)).unwrap_or_default();
    // Every default column, then any other scalar field of the records.
    let mut all_cols: Vec<(String, String)> = m
        .columns
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    // (Records of a list may differ in kind: hosts and databases.)
    for r in &all {
        let Value::Object(fields) = r else { continue };
        for (k, x) in fields {
            if !x.is_object() && !all_cols.iter().any(|(c, _)| c == k) {
                all_cols.push((k.clone(), k.replace('_', " ")));
            }
        }
    }
    let shown: Vec<(String, String)> = if chosen.is_empty() {
        all_cols[..m.columns.len()].to_vec()
    } else {
        all_cols
            .iter()
            .filter(|(k, _)| chosen.contains(k))
            .cloned()
            .collect()
    };
    let q = get("q");
    let needle = q.to_lowercase();
    let filters = filters_of(m, &all, &query);
    let wanted: Vec<(&str, &str)> = query
        .iter()
        .filter_map(|(n, v)| Some((n.strip_prefix("is.")?, v.as_str())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    // What the API filtered is not filtered again here.
    let here_only: Vec<&(&str, &str)> = wanted
        .iter()
        .filter(|(k, _)| !m.server_filters.iter().any(|(c, _, _)| c == k))
        .collect();
    let needle = if m.server_search.is_some() {
        String::new()
    } else {
        needle
    };
    let rows: Vec<Row> = all
        .iter()
        .filter(|r| here_only.iter().all(|(k, v)| cell(r, k) == *v))
        .map(|r| Row {
            cells: shown.iter().map(|(k, _)| cell(r, k)).collect(),
            link: m.detail.map(|_| {
                let slug = match m.others {
                    Some((theirs, other)) if theirs(r) => other,
                    _ => m.slug,
                };
                format!("/console/{slug}/{}", urlencode(&text(&r[m.key])))
            }),
        })
        .filter(|r| needle.is_empty() || r.cells.iter().any(|c| c.to_lowercase().contains(&needle)))
        .collect();
    // The counts of what the filters select, each value a link that adds
    // its filter.
    let mut groups = Vec::with_capacity(m.groups.len());
    for (path, label, key) in m.groups {
        // (Counts have no order.)
        let Ok(x) = api(&s, &v, Method::GET, &list_uri(m, &query, path, false), None).await else {
            continue;
        };
        let kept: String = query
            .iter()
            .filter(|(n, _)| n != "cursor" && *n != format!("is.{key}"))
            .map(|(n, val)| format!("&{}={}", urlencode(n), urlencode(val)))
            .collect();
        let values = x["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let value = g["value"].as_str().map(str::to_string);
                let link = value
                    .as_ref()
                    .map(|val| format!("/console/{}?is.{key}={}{kept}", m.slug, urlencode(val)))
                    .unwrap_or_default();
                (
                    value.unwrap_or_else(|| "(none)".into()),
                    g["count"].as_u64().unwrap_or(0),
                    link,
                )
            })
            .collect();
        groups.push((*label, values));
    }
    let new_at = match (m.create, m.others) {
        (Some(_), _) => Some(format!("/console/{}/new", m.slug)),
        (None, Some((_, other))) => module(other)
            .filter(|o| o.create.is_some())
            .map(|_| format!("/console/{other}/new")),
        (None, None) => None,
    };
    let next = d["next_cursor"].as_str().map(|c| {
        let cols: String = chosen
            .iter()
            .map(|c| format!("&col={}", urlencode(c)))
            .chain(
                wanted
                    .iter()
                    .map(|(k, v)| format!("&is.{k}={}", urlencode(v))),
            )
            .chain(
                Some(get("sort"))
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("&sort={}", urlencode(&s))),
            )
            .collect();
        format!(
            "/console/{}?q={}{cols}&cursor={}",
            m.slug,
            urlencode(&q),
            urlencode(c)
        )
    });
    Table {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: None,
        title: m.title.into(),
        base: here,
        q,
        all_cols: all_cols
            .into_iter()
            .map(|(k, l)| {
                let on = shown.iter().any(|(s, _)| *s == k);
                (k, l, on)
            })
            .collect(),
        cols: shown.into_iter().map(|(_, l)| l).collect(),
        rows,
        next,
        can_create: new_at.is_some(),
        new_at: new_at.unwrap_or_default(),
        chart,
        filtering: !wanted.is_empty(),
        // The download holds what the list shows: the same filters.
        export: m
            .export
            .map(|(p, l)| (list_uri(m, &query, p, true), l.to_string())),
        also: m.also,
        groups,
        sorts: {
            let chosen = get("sort");
            m.sorts
                .iter()
                .enumerate()
                .map(|(i, (v, l))| (*v, *l, chosen == *v || (i == 0 && chosen.is_empty())))
                .collect()
        },
        filters,
    }
    .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "record.html")]
struct Record {
    user: String,
    csrf: String,
    flash: Option<String>,
    title: String,
    section: String,
    back: String,
    /// (field, value, preformatted)
    fields: Vec<(String, String, bool)>,
    /// (operation, button label) the module's API offers on a record.
    actions: Vec<(String, String)>,
    action_url: String,
    /// The modify form, where records can be modified here.
    edit: Option<String>,
    /// Why this record is not modified now (where others are).
    locked: Option<String>,
    /// The module's own operations: (label, URL, posts at once).
    ops: Vec<(String, String, bool)>,
    /// A list belonging to the record (or an operation's answer):
    /// heading, column heads, rows.
    tables: Vec<ItemTable>,
    /// The record as the API answers it (the advanced view); none for a
    /// secret shown once.
    /// The module's drawing of the record (trusted HTML with SVG), or
    /// empty.
    drawing: String,
    json: Option<String>,
}

/// A list of API items as a table: heading, column heads, rows.
struct ItemTable {
    heading: String,
    heads: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl ItemTable {
    /// The items' scalar fields (the first item's keys, at most 8) as
    /// columns, one row per item: what names an item first (name, type,
    /// status), and ids left out when the item has a name.
    fn of(heading: &str, items: &[Value]) -> Self {
        const FIRST: [&str; 7] = [
            "name", "type", "kind", "item", "status", "expected", "actual",
        ];
        let first = items.first().and_then(Value::as_object);
        let named = first.is_some_and(|o| o.contains_key("name"));
        let mut keys: Vec<String> = first
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, _)| k.clone())
            .filter(|k| !named || (k != "id" && !k.ends_with("_id")))
            .collect();
        keys.sort_by_key(|k| FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()));
        keys.truncate(8);
        ItemTable {
            heading: heading.into(),
            heads: keys.iter().map(|k| k.replace('_', " ")).collect(),
            rows: items
                .iter()
                .map(|i| keys.iter().map(|k| cell(i, k)).collect())
                .collect(),
        }
    }
}

/// A record's fields for the facts list: (name, shown value,
/// preformatted); and its lists of flat objects (a drifted host's
/// differences, a desired state's packages), which are drawn as tables.
fn facts(d: &Value) -> (Vec<(String, String, bool)>, Vec<ItemTable>) {
    let flat = |o: &Value| {
        o.as_object()
            .is_some_and(|m| m.values().all(|v| !v.is_object() && !v.is_array()))
    };
    let rows = |x: &Value| {
        x.as_array()
            .filter(|a| !a.is_empty() && a.iter().all(flat))
            .is_some()
            && named_lines(x).is_none()
    };
    let tables = d
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, x)| rows(x))
        .map(|(k, x)| {
            let mut heading = k.replace('_', " ");
            heading[..1].make_ascii_uppercase();
            ItemTable::of(
                &heading,
                x.as_array().map(Vec::as_slice).unwrap_or_default(),
            )
        })
        .collect();
    let facts = d
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, x)| !rows(x))
        .map(|(k, x)| {
            if let Some(lines) = named_lines(x) {
                return (k.replace('_', " "), lines, true);
            }
            // A map of plain values, or of small lists and maps of them (a
            // resource's fields, a patch report): `key = value` lines.
            if let Some(m) = x.as_object().filter(|m| m.values().all(|v| depth(v) <= 2)) {
                let lines: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{} = {}", k.replace('_', " "), compact(k, v)))
                    .collect();
                return (k.replace('_', " "), lines.join("\n"), true);
            }
            let pre = x.is_object() || x.as_array().is_some_and(|a| a.iter().any(Value::is_object));
            let shown = if pre {
                serde_json::to_string_pretty(x).unwrap_or_default()
            } else {
                cell(d, k)
            };
            (k.replace('_', " "), shown, pre)
        })
        .collect();
    (facts, tables)
}

/// How deep `v` nests: 0 for a plain value, 1 for a list or map of plain
/// values, and so on.
fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// `v` on one line: a map as `key: value, …`, a list as its items joined
/// (an item map's values side by side), empty ones as `none`, a time
/// (`…_at` in Unix ms) as UTC.
fn compact(key: &str, v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "none".into(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| format!("{k}: {}", compact(k, x)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::Object(o) => o
                    .values()
                    .map(|y| compact("", y))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => compact("", x),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Number(_) if key.ends_with("_at") => when(v),
        Value::Null => "none".into(),
        _ => text(v),
    }
}

/// A list of named things (objects of a `name` and an optional
/// `description`, as an application's modules) as one line each,
/// `name — description`; `None` for anything else.
fn named_lines(x: &Value) -> Option<String> {
    let items = x.as_array().filter(|a| !a.is_empty())?;
    let lines: Option<Vec<String>> = items
        .iter()
        .map(|i| {
            let o = i.as_object()?;
            let name = o.get("name")?.as_str()?;
            if o.keys().any(|k| k != "name" && k != "description") {
                return None;
            }
            Some(match o.get("description").and_then(Value::as_str) {
                Some(d) => format!("{name} — {d}"),
                None => name.to_string(),
            })
        })
        .collect();
    lines.map(|l| l.join("\n"))
}

/// The record operations a module's API offers, found in the route table:
/// enable, disable, review (approve or reject) and delete.
fn actions_for(m: &Module) -> Vec<(String, String)> {
    let Some(detail) = m.detail else {
        return vec![];
    };
    let has = has_route;
    let mut out = vec![];
    for (op, label) in [("enable", "Enable"), ("disable", "Disable")] {
        if has("POST", &format!("{detail}/{op}")) {
            out.push((op.to_string(), label.to_string()));
        }
    }
    if has("POST", &format!("{detail}/review")) {
        out.push(("approve".into(), "Approve".into()));
        out.push(("reject".into(), "Reject".into()));
    }
    if has("DELETE", detail) {
        let label = if m.revokes { "Revoke" } else { "Delete" };
        out.push(("delete".into(), label.into()));
    }
    out
}

/// Whether the API has this route (`method`, path with `{param}`s).
fn has_route(method: &str, path: &str) -> bool {
    crate::api::routes()
        .iter()
        .any(|r| r.method == method && r.path == path)
}

/// A module's record by its key: the API's detail, or — for records the
/// API only lists (tokens, grants) — the list's item. Errors: the API's
/// problem, or 404 when the list has no such record.
async fn record_of(
    s: &AppState,
    v: &super::Visitor,
    m: &Module,
    detail: &str,
    id: &str,
) -> Result<Value, Problem> {
    if has_route("GET", detail) {
        let uri = detail.replace("{id}", &urlencode(id));
        return api(s, v, Method::GET, &uri, None).await;
    }
    let list = api(s, v, Method::GET, m.list, None).await?;
    items(&list)
        .into_iter()
        .find(|r| text(&r[m.key]) == id)
        .ok_or_else(|| Problem {
            status: StatusCode::NOT_FOUND,
            detail: format!("there is no record {id} in {}", m.title),
        })
}

/// `GET /console/{module}/{id}`: every field of the record.
pub(super) async fn detail(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let id_for_url = id.clone();
    let done = q
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, op)| format!("Done: {op}."));
    let here = format!("/console/{slug}/{id}");
    let Some((m, path)) = module(&slug).and_then(|m| Some((m, m.detail?))) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let d = match record_of(&s, &v, m, path, &id).await {
        Ok(d) => d,
        Err(p) => return error_page(&v, p),
    };
    let title = [
        "name",
        "hostname",
        "host",
        "user",
        "number",
        "matchers_text",
        "version",
    ]
    .iter()
    .map(|k| text(&d[*k]))
    .find(|t| !t.is_empty())
    .unwrap_or(id);
    let (fields, mut tables) = facts(&d);
    let lock = m
        .locked
        .iter()
        .find(|(k, _)| d[*k] == Value::Bool(true))
        .map(|(_, why)| *why);
    for (heading, path) in m.related {
        let path = path.replace("{id}", &urlencode(&id_for_url));
        match api(&s, &v, Method::GET, &path, None).await {
            // A list answer (`{"items": […]}`) or a bare array (an
            // alarm's history).
            Ok(x) => tables.push(ItemTable::of(
                heading,
                x["items"]
                    .as_array()
                    .or_else(|| x.as_array())
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            )),
            Err(p) => return error_page(&v, p),
        }
    }
    let drawing = match m.drawing {
        None => String::new(),
        Some((path, draw)) => {
            let path = path.replace("{id}", &urlencode(&id_for_url));
            match api(&s, &v, Method::GET, &path, None).await {
                Ok(x) => draw(&x),
                Err(p) => return error_page(&v, p),
            }
        }
    };
    let ops = m
        .ops
        .iter()
        .map(|o| {
            let url = format!("/console/{}/{}/op/{}", m.slug, urlencode(&id_for_url), o.op);
            (
                o.label.to_string(),
                url,
                o.fields.is_empty() && o.confirm.is_none(),
            )
        })
        .collect();
    Record {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: done,
        title,
        section: m.title.into(),
        back: m.home(),
        fields,
        actions: actions_for(m),
        action_url: format!("/console/{}/{}/do", m.slug, urlencode(&id_for_url)),
        edit: (m.modify && lock.is_none())
            .then(|| format!("/console/{}/{}/edit", m.slug, urlencode(&id_for_url))),
        locked: lock.filter(|_| m.modify).map(str::to_string),
        ops,
        tables,
        drawing,
        json: serde_json::to_string_pretty(&d).ok(),
    }
    .into_response()
}

/// The module and operation of an op URL.
fn op_of(slug: &str, op: &str) -> Option<(&'static Module, &'static Op)> {
    let m = module(slug)?;
    Some((m, m.ops.iter().find(|o| o.op == op)?))
}

/// `GET /console/{module}/{id}/op/{op}`: an operation's form.
pub(super) async fn op_form(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id, op)): Path<(String, String, String)>,
) -> Response {
    let here = format!("/console/{slug}/{id}/op/{op}");
    let Some((m, o)) = op_of(&slug, &op) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let record = format!("/console/{}/{}", m.slug, urlencode(&id));
    let mut raw = forms::Raw::new();
    let mut named = id.clone();
    if let Some(detail) = m.detail {
        let d = match record_of(&s, &v, m, detail, &id).await {
            Ok(d) => d,
            Err(p) => return error_page(&v, p),
        };
        named = record_name(&d, &id);
        if !o.prefill.is_empty() {
            let mut now = serde_json::Map::new();
            for (key, path) in o.prefill {
                let x = path.split('.').fold(&d, |cur, p| &cur[p]);
                now.insert(key.to_string(), x.clone());
            }
            raw = forms::fill(o.fields, &Value::Object(now));
        }
    }
    let mut page = NewPage::new(&v, m, format!("{}: {named}", o.label), here, record);
    page.button = o.label.into();
    page.note = o.confirm.map(str::to_string);
    page.inputs = forms::inputs(o.fields, &raw);
    page.offer_pickers(&s, &v).await;
    page.into_response()
}

/// What a record is called on an operation's page: its name or title
/// (with the resource an alarm is on), else its id.
fn record_name(d: &Value, id: &str) -> String {
    let name = d["name"].as_str().or(d["title"].as_str()).unwrap_or(id);
    match d["resource_name"].as_str() {
        Some(r) => format!("{name} on {r}"),
        None => name.to_string(),
    }
}

/// `POST /console/{module}/{id}/op/{op}`: the operation through the API;
/// then the resulting record, or the answer shown once; a refusal brings
/// the form back with the API's message.
pub(super) async fn op_submit(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id, op)): Path<(String, String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/{slug}/{id}/op/{op}");
    let Some((m, o)) = op_of(&slug, &op) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &csrf_of(&form)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let record = format!("/console/{}/{}", m.slug, urlencode(&id));
    let mut page = NewPage::new(&v, m, format!("{} {id}", o.label), here, record.clone());
    page.button = o.label.into();
    page.note = o.confirm.map(str::to_string);
    let raw = forms::submitted(&form);
    let fields: Vec<&forms::Field> = o.fields.iter().collect();
    let mut uri = o.api.replace("{id}", &urlencode(&id));
    let base = serde_json::from_str(o.base).unwrap_or_default();
    let body = forms::build_over(o.fields, &raw, &base).map(|mut body| {
        // Other `{field}`s of the path take their value out of the body.
        if let Some(members) = body.as_object_mut() {
            members.retain(|k, x| {
                let slot = format!("{{{k}}}");
                let in_path = uri.contains(&slot);
                if in_path {
                    uri = uri.replace(&slot, &urlencode(&text(x)));
                }
                !in_path
            });
        }
        body
    });
    let method = Method::from_bytes(o.method.as_bytes()).unwrap_or(Method::POST);
    let answer = match submit(&s, &v, page, &fields, &raw, body, method, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match o.then {
        Then::Record(slug, key) => Redirect::to(&format!(
            "/console/{slug}/{}",
            urlencode(&text(&answer[key]))
        ))
        .into_response(),
        Then::Show => shown_once(&v, m, format!("{} {id}", o.label), record, &answer),
    }
}

/// An answer shown once, on a page of its own (decrypted values, a new
/// access key or API token): never in a URL, not kept anywhere.
fn shown_once(
    v: &super::Visitor,
    m: &Module,
    title: String,
    back: String,
    answer: &Value,
) -> Response {
    let items = answer["items"].as_array();
    let (fields, tables) = match items {
        Some(i) => (vec![], vec![ItemTable::of("Values", i)]),
        None => facts(answer),
    };
    Record {
        user: v.user.clone(),
        csrf: v.csrf.clone(),
        flash: Some(format!(
            "{title}: shown once; nothing of it is kept in this page's address."
        )),
        title,
        section: m.title.into(),
        back,
        fields,
        actions: vec![],
        action_url: String::new(),
        edit: None,
        locked: None,
        ops: vec![],
        json: None,
        drawing: String::new(),
        tables,
    }
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct OpForm {
    csrf: String,
    op: String,
}

/// `POST /console/{module}/{id}/do`: enable, disable, approve, reject or
/// delete through the API; back to the record (or the list after delete).
pub(super) async fn operate(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Form(f): Form<OpForm>,
) -> Response {
    let here = format!("/console/{slug}/{id}");
    let Some((m, detail)) = module(&slug).and_then(|m| Some((m, m.detail?))) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !actions_for(m).iter().any(|(op, _)| *op == f.op) {
        return error_page(
            &v,
            Problem {
                status: StatusCode::BAD_REQUEST,
                detail: format!("{} cannot be done here", f.op),
            },
        );
    }
    let path = detail.replace("{id}", &urlencode(&id));
    let (method, uri, body) = match f.op.as_str() {
        "approve" | "reject" => (
            Method::POST,
            format!("{path}/review"),
            Some(serde_json::json!({"approve": f.op == "approve"})),
        ),
        "delete" => (Method::DELETE, path.clone(), None),
        op => (Method::POST, format!("{path}/{op}"), None),
    };
    match api(&s, &v, method, &uri, body).await {
        Ok(_) if f.op == "delete" => Redirect::to(&m.home()).into_response(),
        Ok(_) => Redirect::to(&format!("{here}?done={}", urlencode(&f.op))).into_response(),
        Err(p) => error_page(&v, p),
    }
}

async fn not_found(s: &AppState, headers: &HeaderMap, ip: SocketAddr, here: &str) -> Response {
    match visitor(s, headers, ip, here).await {
        Ok(v) => error_page(
            &v,
            Problem {
                status: StatusCode::NOT_FOUND,
                detail: format!("there is no page {here}"),
            },
        ),
        Err(r) => r,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "new.html")]
struct NewPage {
    user: String,
    csrf: String,
    flash: Option<String>,
    section: String,
    back: String,
    heading: String,
    action: String,
    button: String,
    inputs: Vec<forms::Input>,
    /// The "fill in an example" link of a New form.
    example: Option<String>,
    /// Templates a New form can start from: (link, name).
    templates: Vec<(String, String)>,
    error: Option<String>,
    /// What the operation does, for those asking a confirmation.
    note: Option<String>,
    /// Days the replay control offers (forms of modules that replay over
    /// stored alarms).
    replay_days: Option<String>,
    /// The replay control's legend, help and button (forms of modules
    /// that replay or try what is typed).
    replay_text: Option<(&'static str, &'static str, &'static str)>,
    /// What a replay found: the sentence and the examples.
    replayed: Option<(String, ItemTable)>,
}

impl NewPage {
    fn new(v: &super::Visitor, m: &Module, heading: String, action: String, back: String) -> Self {
        let button = if heading == "New" { "Create" } else { "Save" };
        NewPage {
            user: v.user.clone(),
            csrf: v.csrf.clone(),
            flash: None,
            section: m.title.into(),
            back,
            heading,
            action,
            button: button.into(),
            inputs: vec![],
            example: None,
            templates: vec![],
            error: None,
            note: None,
            replay_days: m
                .replay
                .as_ref()
                .filter(|r| r.days.is_ok())
                .map(|_| "7".into()),
            replay_text: m.replay.as_ref().map(|r| r.text),
            replayed: None,
        }
    }

    /// Fills the form's host and user pickers, if it has any
    /// ([`super::offer_pickers`]).
    async fn offer_pickers(&mut self, s: &AppState, v: &super::Visitor) {
        super::offer_pickers(s, v, &mut self.inputs).await;
    }
}

/// The field of a create path's `{placeholder}`, if it has one: it goes
/// into the path, not the body, and is not modified afterwards.
fn path_field(m: &Module) -> Option<&'static str> {
    let c = m.create?;
    let (_, rest) = c.split_once('{')?;
    rest.split_once('}').map(|(k, _)| k)
}

/// The fields of a module's Modify form: all but the create path's.
fn modify_fields(m: &Module) -> Vec<&'static forms::Field> {
    m.fields
        .iter()
        .filter(|f| Some(f.key) != path_field(m))
        .collect()
}

/// `GET /console/{module}/new`: the module's form, empty or (with
/// `?example`) filled with an example definition.
pub(super) async fn new_form(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/{slug}/new");
    let Some(m) = module(&slug).filter(|m| m.create.is_some()) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match visitor(&s, &headers, ip, &here).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let template = q.iter().find(|(k, _)| k == "template").map(|(_, t)| t);
    let templates = match m.templates {
        Some(path) => match api(&s, &v, Method::GET, path, None).await {
            Ok(list) => items(&list),
            Err(p) => return error_page(&v, p),
        },
        None => vec![],
    };
    let raw = match (m.example, template) {
        (_, Some(t)) => match templates.iter().find(|x| text(&x["name"]) == *t) {
            Some(x) => forms::fill(m.fields, x),
            None => {
                return error_page(
                    &v,
                    Problem {
                        status: StatusCode::NOT_FOUND,
                        detail: format!("there is no template '{t}'"),
                    },
                );
            }
        },
        (Some(x), None) if q.iter().any(|(k, _)| k == "example") => {
            forms::fill(m.fields, &serde_json::from_str(x).unwrap_or_default())
        }
        _ => forms::Raw::new(),
    };
    let mut page = NewPage::new(&v, m, "New".into(), here.clone(), m.home());
    page.inputs = forms::inputs(m.fields, &raw);
    page.example = m.example.map(|_| format!("{here}?example"));
    page.templates = templates
        .iter()
        .map(|x| {
            let name = text(&x["name"]);
            (format!("{here}?template={}", urlencode(&name)), name)
        })
        .collect();
    page.offer_pickers(&s, &v).await;
    page.into_response()
}

/// `POST /console/{module}/new`: creates through the API; on a refusal the
/// form comes back with the API's message and the values as typed.
pub(super) async fn create(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/{slug}/new");
    let Some((m, create)) = module(&slug).and_then(|m| Some((m, m.create?))) else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &csrf_of(&form)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let page = NewPage::new(&v, m, "New".into(), here, m.home());
    let raw = forms::submitted(&form);
    let fields: Vec<&forms::Field> = m.fields.iter().collect();
    if let Some(r) = replay(&s, &v, m, page, &fields, &raw, &form).await {
        return r;
    }
    let page = NewPage::new(&v, m, "New".into(), here_of(m), m.home());
    let (method, uri, body) = match forms::build(m.fields, &raw) {
        Ok(mut body) => match path_field(m) {
            Some(k) => {
                let key = body
                    .as_object_mut()
                    .and_then(|o| o.remove(k))
                    .map(|x| text(&x))
                    .unwrap_or_default();
                let uri = create.replace(&format!("{{{k}}}"), &urlencode(&key));
                (Method::PUT, uri, Ok(body))
            }
            None => (Method::POST, create.to_string(), Ok(body)),
        },
        Err(e) => (Method::POST, String::new(), Err(e)),
    };
    match submit(&s, &v, page, &fields, &raw, body, method, &uri).await {
        Ok(created) if m.slug == "integrations" => {
            super::pages::integration::setup_page(&s, &v, &created)
        }
        Ok(created) if m.shown_once => shown_once(
            &v,
            m,
            format!("New {}", text(&created["name"])),
            m.home(),
            &created,
        ),
        Ok(created) if m.created.is_some() => {
            let (to, key) = m.created.unwrap_or_default();
            Redirect::to(&format!("{to}/{}", urlencode(&cell(&created, key)))).into_response()
        }
        Ok(created) => {
            let id = text(&created[m.key]);
            match m.detail {
                Some(_) if !id.is_empty() => {
                    Redirect::to(&format!("/console/{}/{}", m.slug, urlencode(&id))).into_response()
                }
                _ => Redirect::to(&m.home()).into_response(),
            }
        }
        Err(r) => r,
    }
}

/// The CSRF value of a submitted form.
fn csrf_of(form: &[(String, String)]) -> String {
    super::form_value(form, "csrf")
}

/// `GET /console/{module}/{id}/edit`: the record's fields to modify.
pub(super) async fn edit_form(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
) -> Response {
    let here = format!("/console/{slug}/{id}/edit");
    let Some((m, detail)) = module(&slug)
        .filter(|m| m.modify)
        .and_then(|m| Some((m, m.detail?)))
    else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let uri = detail.replace("{id}", &urlencode(&id));
    let (v, d) = match page_data(&s, &headers, ip, &here, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let title = ["name", "user"]
        .iter()
        .map(|k| text(&d[*k]))
        .find(|t| !t.is_empty())
        .unwrap_or_else(|| id.clone());
    let mut page = NewPage::new(
        &v,
        m,
        format!("Modify {title}"),
        here,
        format!("/console/{}/{}", m.slug, urlencode(&id)),
    );
    let raw = forms::fill(m.fields, &d);
    page.inputs = forms::inputs_of(&modify_fields(m), &raw);
    page.offer_pickers(&s, &v).await;
    page.into_response()
}

/// `POST /console/{module}/{id}/edit`: modifies through the API; a
/// refusal brings the form back with the API's message.
pub(super) async fn save(
    State(s): State<AppState>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let here = format!("/console/{slug}/{id}/edit");
    let Some((m, detail)) = module(&slug)
        .filter(|m| m.modify)
        .and_then(|m| Some((m, m.detail?)))
    else {
        return not_found(&s, &headers, ip, &here).await;
    };
    let v = match form_visitor(&s, &headers, ip, &here, &csrf_of(&form)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let record = format!("/console/{}/{}", m.slug, urlencode(&id));
    let page = NewPage::new(&v, m, "Modify".into(), here.clone(), record.clone());
    let raw = forms::submitted(&form);
    let fields = modify_fields(m);
    if let Some(r) = replay(&s, &v, m, page, &fields, &raw, &form).await {
        return r;
    }
    let page = NewPage::new(&v, m, "Modify".into(), here, record.clone());
    let body = forms::build_of(&fields, &raw);
    let uri = detail.replace("{id}", &urlencode(&id));
    match submit(&s, &v, page, &fields, &raw, body, Method::PUT, &uri).await {
        Ok(_) => Redirect::to(&format!("{record}?done=modify")).into_response(),
        Err(r) => r,
    }
}

/// The New form's own address.
fn here_of(m: &Module) -> String {
    format!("/console/{}/new", m.slug)
}

/// When the form was sent with its replay button (B3): runs what is typed
/// over the stored alarms of the days asked instead of saving it, and
/// answers the same form, as typed, with what it would have done above
/// it (or why it cannot). `None`: the form was sent to be saved.
#[allow(clippy::too_many_arguments)]
async fn replay(
    s: &AppState,
    v: &super::Visitor,
    m: &Module,
    mut page: NewPage,
    fields: &[&forms::Field],
    raw: &forms::Raw,
    form: &[(String, String)],
) -> Option<Response> {
    let r = m.replay.as_ref()?;
    form.iter().find(|(k, _)| k == "replay")?;
    let days_text = super::form_value(form, "replay_days");
    let days: u32 = days_text.trim().parse().unwrap_or(7);
    page.inputs = forms::inputs_of(fields, raw);
    if r.days.is_ok() {
        page.replay_days = Some(days.to_string());
    }
    let answer = match forms::build_of(fields, raw) {
        Err(e) => Err(e),
        Ok(def) => {
            let mut body = match r.pick_wrap {
                Some(k) => serde_json::json!({ k: def }),
                None => Value::Object(
                    r.pick
                        .iter()
                        .filter(|k| !def[**k].is_null())
                        .map(|k| (k.to_string(), def[*k].clone()))
                        .collect(),
                ),
            };
            match r.days {
                Ok(()) => body["days"] = serde_json::json!(days),
                Err(flag) => body[flag] = Value::Bool(true),
            }
            api(s, v, Method::POST, r.path, Some(body))
                .await
                .map_err(|p| required(fields, &p.detail).unwrap_or(p.detail))
        }
    };
    let status = match answer {
        Ok(x) => {
            let sample = x[r.rows.0]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            page.replayed = Some(((r.summary)(&x, days), ItemTable::of(r.rows.1, sample)));
            StatusCode::OK
        }
        Err(e) => {
            page.error = Some(e);
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    page.offer_pickers(s, v).await;
    Some((status, page).into_response())
}

/// Sends a form's body to the API (`method` on `uri`). On a refusal — a
/// value that cannot be read, or the API's problem — the form comes back
/// with the message and the values as typed.
#[allow(clippy::too_many_arguments)]
async fn submit(
    s: &AppState,
    v: &super::Visitor,
    page: NewPage,
    fields: &[&forms::Field],
    raw: &forms::Raw,
    body: Result<Value, String>,
    method: Method,
    uri: &str,
) -> Result<Value, Response> {
    let (status, msg) = match body {
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, e),
        Ok(body) => match api(s, v, method, uri, Some(body)).await {
            Ok(x) => return Ok(x),
            Err(p) => (p.status, required(fields, &p.detail).unwrap_or(p.detail)),
        },
    };
    let mut page = page;
    page.inputs = forms::inputs_of(fields, raw);
    page.error = Some(msg);
    page.offer_pickers(s, v).await;
    Err((status, page).into_response())
}

/// The console's wording of the API's "missing field `x`" (a field left
/// empty that the API needs): "<label> is required", when `x` is one of
/// the form's fields.
pub(super) fn required(fields: &[&forms::Field], detail: &str) -> Option<String> {
    let (_, rest) = detail.split_once("missing field `")?;
    let (key, _) = rest.split_once('`')?;
    let all = fields.iter().flat_map(|f| match &f.kind {
        forms::Kind::Rows(sub) => sub.iter().chain(std::iter::once(*f)).collect::<Vec<_>>(),
        _ => vec![*f],
    });
    all.into_iter()
        .find(|f| f.key.rsplit('.').next() == Some(key))
        .map(|f| format!("{} is required", f.label))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_say_them() {
        for (b, want) in [
            (512, "512 B"),
            (1536, "1.5 KB"),
            (16 * 1024 * 1024 * 1024_i64, "16.0 GB"),
            (3 * 1024 * 1024 + 1024 * 300, "3.3 MB"),
        ] {
            assert_eq!(super::size(b), want);
        }
        assert_eq!(
            super::cell(
                &serde_json::json!({"memory_bytes": 8_589_934_592_i64}),
                "memory_bytes"
            ),
            "8.0 GB"
        );
    }
}
