//! The OpenAPI 3.1 document, generated from the route tables
//! ([`super::routes`]) and the API's own types (their `utoipa::ToSchema`
//! derives): every operation with its path and query parameters, request
//! body, success answer and the `application/problem+json` error.

use serde_json::{Map, Value, json};
use utoipa::openapi::{RefOr, Schema};

use super::catalog::{Reply, Schemas};
use super::routes;

fn to_json(s: &RefOr<Schema>) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

/// The query parameters of an object schema (inline or referenced).
fn query_params(schema: &RefOr<Schema>, schemas: &Schemas) -> Vec<Value> {
    let resolved = match schema {
        RefOr::Ref(r) => {
            let name = r.ref_location.rsplit('/').next().unwrap_or_default();
            schemas
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| to_json(s))
        }
        RefOr::T(_) => Some(to_json(schema)),
    }
    .unwrap_or(Value::Null);
    let required: Vec<&str> = resolved["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    resolved["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, s)| {
                    let mut p = json!({"name": name, "in": "query",
                        "required": required.contains(&name.as_str()), "schema": s});
                    if let Some(d) = s.get("description") {
                        p["description"] = d.clone();
                    }
                    p
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Removes `additionalProperties: false` at every depth of `v`.
fn open_up(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("additionalProperties") == Some(&Value::Bool(false)) {
                o.remove("additionalProperties");
            }
            o.values_mut().for_each(open_up);
        }
        Value::Array(a) => a.iter_mut().for_each(open_up),
        _ => {}
    }
}

/// A type that `#[serde(flatten)]`s a `deny_unknown_fields` type (a
/// stored record around its spec) is an `allOf` of the two; the strict
/// part would refuse the record's own fields. Each part of an `allOf` is
/// made open (referenced parts are copied inline, opened), so the record
/// validates while the spec stays strict where it is a request body.
fn open_all_of(v: &mut Value, components: &Map<String, Value>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(parts)) = o.get_mut("allOf") {
                for part in parts.iter_mut() {
                    let target = part
                        .get("$ref")
                        .and_then(Value::as_str)
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        .and_then(|n| components.get(n));
                    if let Some(t) = target {
                        *part = t.clone();
                    }
                    open_up(part);
                }
            }
            o.values_mut().for_each(|x| open_all_of(x, components));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| open_all_of(x, components)),
        _ => {}
    }
}

/// Builds the document.
pub fn document() -> Value {
    let mut schemas: Schemas = Vec::new();
    let mut paths = Map::new();
    for r in routes() {
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                // Step and task indexes are numbers (from 0); ids and names text.
                let schema = match name {
                    "step" | "task" => json!({"type": "integer", "minimum": 0}),
                    _ => json!({"type": "string"}),
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if let Some(q) = r.query {
            let s = q(&mut schemas);
            params.extend(query_params(&s, &schemas));
        }
        let (status, ok) = match r.reply {
            Reply::Unspecified => ("200", json!({"description": "Success"})),
            Reply::Json(code, f) => (
                match code {
                    201 => "201",
                    _ => "200",
                },
                json!({"description": if code == 201 { "Created" } else { "Success" },
                    "content": {"application/json": {"schema": to_json(&f(&mut schemas))}}}),
            ),
            Reply::List(f) => (
                "200",
                json!({"description": "The list (one page)", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": to_json(&f(&mut schemas))},
                    "next_cursor": {"type": ["string", "null"],
                        "description": "Give as `cursor` for the next page; null on the last"}
                }}}}}),
            ),
            Reply::NoContent => ("204", json!({"description": "Done, no content"})),
            Reply::Media(m) => (
                "200",
                json!({"description": "Success", "content": {m: {"schema": {}}}}),
            ),
        };
        let mut responses = Map::new();
        responses.insert(status.into(), ok);
        responses.insert(
            "default".into(),
            json!({"description": "Error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
        );
        let mut op = json!({
            "tags": [r.tag],
            "summary": r.summary,
            "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if let Some(limit) = r.binary {
            op["requestBody"] = json!({"required": true, "description": format!("at most {limit} bytes"),
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
        }
        if let Some(b) = r.body {
            op["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": to_json(&b(&mut schemas))}}});
        }
        if r.auth {
            op["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_lowercase()] = op;
    }
    let mut components: Map<String, Value> = schemas
        .iter()
        .map(|(n, s)| (n.clone(), to_json(s)))
        .collect();
    let snapshot = components.clone();
    for c in components.values_mut() {
        open_all_of(c, &snapshot);
    }
    for p in paths.values_mut() {
        open_all_of(p, &snapshot);
    }
    components.insert(
        "Problem".into(),
        json!({"type": "object", "required": ["type", "title", "status", "code"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "code": {"type": "string",
                "description": "Stable error code (see the error table)"}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": "COC API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Cloud Operations Center: alarms, incidents, forwarding rules, scripts and tickets."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components
        }
    })
}
