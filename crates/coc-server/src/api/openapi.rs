//! The OpenAPI 3.1 document, generated from [`super::ROUTES`].

use serde_json::{Map, Value, json};

use super::ROUTES;

/// Builds the document: one operation per route with its tag, summary,
/// path parameters, security, and the problem+json error response.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "tags": [r.tag],
            "summary": r.summary,
            "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-', '.'], "_")),
            "parameters": params,
            "responses": {
                "200": {"description": "Success (201 for creations, 204 for deletions)"},
                "default": {"description": "Error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            }
        });
        if r.auth {
            op["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "COC API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Cloud Operations Center: alarms, incidents, forwarding rules, scripts and tickets."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {"type": "object", "required": ["type", "title", "status", "code"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "code": {"type": "string"}}}}
        }
    })
}
