//! An application's topology (R4) drawn on the server as SVG: three
//! columns — the application, its hosts, the services they run or talk to
//! — with each node linking to its resource and a host's active alarms on
//! it. No script needed; it prints.

use std::fmt::Write;

use serde_json::Value;

/// Node box width, px.
const W: f64 = 230.0;
/// Node box height, px.
const H: f64 = 40.0;
/// From one row to the next, px.
const ROW: f64 = 56.0;
/// From one column to the next, px.
const COL: f64 = 300.0;

/// Text for SVG: `&`, `<`, `>`, `"` escaped.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The label cut to what a box holds.
fn fit(s: &str) -> String {
    const MAX: usize = 30;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX - 1).collect::<String>())
    }
}

/// The graph (`GET /api/v1/applications/{id}/topology`) as an inline SVG
/// figure; a sentence instead when the application has no host yet.
pub fn application(graph: &Value) -> String {
    let nodes = graph["nodes"].as_array().cloned().unwrap_or_default();
    if !nodes.iter().any(|n| n["kind"] == "host") {
        return "<section class=\"topology\"><h2>Topology</h2><p class=\"hint\">No host belongs to this application yet: put hosts into it (a host's <em>Change application</em>, or <code>coc resource assign</code>); their services and the services they talk to are then drawn here.</p></section>".into();
    }
    // Place each node: its layer is its column, its order in the layer
    // its row.
    let mut rows = [0usize; 3];
    let mut at: Vec<(String, f64, f64)> = Vec::with_capacity(nodes.len());
    for n in &nodes {
        let layer = n["layer"].as_u64().unwrap_or(2).min(2) as usize;
        let (x, y) = (10.0 + layer as f64 * COL, 10.0 + rows[layer] as f64 * ROW);
        rows[layer] += 1;
        at.push((n["id"].as_str().unwrap_or("").to_string(), x, y));
    }
    let place = |id: &str| {
        at.iter()
            .find(|(n, _, _)| n == id)
            .map(|(_, x, y)| (*x, *y))
    };
    let height = 20.0 + rows.iter().copied().max().unwrap_or(1) as f64 * ROW;
    let width = 20.0 + 2.0 * COL + W;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<section class=\"topology\"><h2>Topology</h2><figure><svg id=\"topology\" role=\"img\" aria-labelledby=\"topology-title\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width:{width}px\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"topology-title\">Topology: the application, its hosts, and the services they run and talk to</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5f6368\"/></marker></defs>"
    );
    for e in graph["edges"].as_array().into_iter().flatten() {
        let (Some((x1, y1)), Some((x2, y2))) = (
            place(e["from"].as_str().unwrap_or("")),
            place(e["to"].as_str().unwrap_or("")),
        ) else {
            continue;
        };
        let (sx, sy, tx, ty) = (x1 + W, y1 + H / 2.0, x2, y2 + H / 2.0);
        let mid = (sx + tx) / 2.0;
        let (style, what) = match e["kind"].as_str() {
            Some("depends_on") => ("stroke=\"#c5221f\" stroke-dasharray=\"6 4\"", "talks to"),
            Some("runs") => ("stroke=\"#9aa0a6\"", "runs"),
            _ => ("stroke=\"#1a73e8\"", "has"),
        };
        let label = e["label"]
            .as_str()
            .map(|l| format!(" ({})", xml(l)))
            .unwrap_or_default();
        let _ = write!(
            svg,
            "<path class=\"edge {kind}\" d=\"M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}\" fill=\"none\" stroke-width=\"1.5\" {style} marker-end=\"url(#arrow)\"><title>{what}{label}</title></path>",
            kind = xml(e["kind"].as_str().unwrap_or("")),
        );
    }
    for (n, (_, x, y)) in nodes.iter().zip(&at) {
        let kind = n["kind"].as_str().unwrap_or("service");
        let fill = match kind {
            "application" => "#e8f0fe",
            "host" => "#ffffff",
            "external" => "#f1f3f4",
            _ => "#e6f4ea",
        };
        let label = n["label"].as_str().unwrap_or("");
        let alarms = n["alarms"].as_u64().unwrap_or(0);
        let link = n["resource_id"]
            .as_str()
            .map(|r| format!("/console/resources/{}", super::urlencode(r)));
        if let Some(l) = &link {
            let _ = write!(svg, "<a href=\"{}\">", xml(l));
        }
        let stroke = if alarms > 0 { "#d93025" } else { "#80868b" };
        let _ = write!(
            svg,
            "<g class=\"node {kind}\"><title>{full}</title><rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"/><text x=\"{tx}\" y=\"{ty}\" font-size=\"13\" fill=\"#202124\">{text}</text>",
            kind = xml(kind),
            full = xml(label),
            tx = x + 10.0,
            ty = y + 25.0,
            text = xml(&fit(label)),
        );
        if alarms > 0 {
            let _ = write!(
                svg,
                "<text class=\"alarms\" x=\"{ax}\" y=\"{ay}\" font-size=\"12\" text-anchor=\"end\" fill=\"#d93025\">{alarms} alarm{s}</text>",
                ax = x + W - 8.0,
                ay = y + 14.0,
                s = if alarms == 1 { "" } else { "s" },
            );
        }
        svg.push_str("</g>");
        if link.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str("</svg><figcaption>Blue lines: the application's hosts (with their module); grey lines: the services a host runs; red dashes: a service a host's processes were seen talking to (hover a line for which). A red frame: active alarms on the host. Each box opens its host.</figcaption></figure></section>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_link_to_their_resource_and_labels_are_escaped() {
        let g = serde_json::json!({
            "nodes": [
                {"id": "app", "kind": "application", "label": "pay<ments>", "resource_id": null, "alarms": 0, "layer": 0},
                {"id": "host:h1", "kind": "host", "label": "web-1 (web)", "resource_id": "h1", "alarms": 2, "layer": 1},
                {"id": "svc:h2:5432", "kind": "service", "label": "postgresql :5432 @ db-1", "resource_id": "h2", "alarms": 0, "layer": 2}
            ],
            "edges": [
                {"from": "app", "to": "host:h1", "kind": "has", "label": "web"},
                {"from": "host:h1", "to": "svc:h2:5432", "kind": "depends_on", "label": "api, worker"}
            ]
        });
        let svg = application(&g);
        assert!(svg.contains("pay&lt;ments&gt;"), "{svg}");
        assert!(svg.contains("href=\"/console/resources/h1\""), "{svg}");
        assert!(svg.contains("href=\"/console/resources/h2\""), "{svg}");
        assert!(svg.contains("2 alarms"), "{svg}");
        assert!(svg.contains("talks to (api, worker)"), "{svg}");
        assert_eq!(svg.matches("<path class=\"edge").count(), 2);
        let empty = application(
            &serde_json::json!({"nodes": [{"id": "app", "kind": "application"}], "edges": []}),
        );
        assert!(empty.contains("No host belongs to this application yet"));
    }
}
