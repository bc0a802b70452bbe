//! Repeated groups of fields ([`Kind::Rows`], [`Kind::Keyed`],
//! [`Kind::Nested`], [`Kind::Grouped`]): how a record fills their rows and
//! how typed rows become JSON. Form names are `f.<key>.<row>.<sub key>`.

use serde_json::{Map, Value};

use super::{
    Field, GROUP, Grouping, Input, KEY, Raw, build_at, fill_into, get, group_field, inputs_at,
    row_count, text,
};

/// What a table of rows draws: its kind, no options, its rows (the typed
/// ones and two blank ones) and its column heads.
pub(super) type Table = (
    &'static str,
    Vec<(String, bool, String)>,
    Vec<Vec<Input>>,
    Vec<&'static str>,
);

/// The inputs of a table of `cells` under `name`: every typed row, then
/// two blank ones to add to.
pub(super) fn table<'a>(
    cells: impl Iterator<Item = &'a Field> + Clone,
    raw: &Raw,
    name: &str,
) -> Table {
    let n = row_count(raw, name) + 2;
    (
        "rows",
        vec![],
        (0..n)
            .map(|i| inputs_at(cells.clone(), raw, &format!("{name}.{i}.")))
            .collect(),
        cells.map(|s| s.label).collect(),
    )
}

/// The cards of a grouped field: each the group's name, then the item's
/// fields, marked with the switch and the values each field applies to.
pub(super) fn cards(g: &Grouping, raw: &Raw, name: &str) -> Vec<Vec<Input>> {
    let gf = group_field(g);
    let n = row_count(raw, name) + 2;
    (0..n)
        .map(|i| {
            let cells = std::iter::once(&gf).chain(g.fields.iter());
            let mut row = inputs_at(cells.clone(), raw, &format!("{name}.{i}."));
            for (cell, fd) in row.iter_mut().zip(cells) {
                cell.switch = !g.switch.is_empty() && fd.key == g.switch;
                cell.when = g
                    .when
                    .iter()
                    .find(|(k, _)| *k == fd.key)
                    .map_or("", |(_, w)| w);
            }
            row
        })
        .collect()
}

/// Fills one card per item of every group, the group's name on its first.
pub(super) fn fill_grouped(g: &Grouping, groups: &[Value], name: &str, raw: &mut Raw) {
    let mut i = 0;
    for grp in groups {
        let items = grp[g.items].as_array().into_iter().flatten();
        for (j, item) in items.enumerate() {
            let prefix = format!("{name}.{i}.");
            if j == 0 {
                raw.push((format!("{prefix}{GROUP}"), text(&grp[g.group.0])));
            }
            fill_into(g.fields, item, &prefix, raw);
            i += 1;
        }
    }
}

/// Fills one row per member of `o`, its name in the key cell.
pub(super) fn fill_keyed(sub: &[Field], o: &Map<String, Value>, name: &str, raw: &mut Raw) {
    for (i, (k, item)) in o.iter().enumerate() {
        let prefix = format!("{name}.{i}.");
        raw.push((format!("{prefix}{}", KEY.key), k.clone()));
        fill_into(sub, item, &prefix, raw);
    }
}

/// Fills one row per leaf of the nested objects `x`: its keys, its value.
pub(super) fn fill_nested(sub: &[Field], x: &Value, name: &str, raw: &mut Raw) {
    let (keys, last) = sub.split_at(sub.len().saturating_sub(1));
    let mut leaves = vec![];
    nested_leaves(x, keys.len(), &mut vec![], &mut leaves);
    for (i, (path, leaf)) in leaves.into_iter().enumerate() {
        let prefix = format!("{name}.{i}.");
        for (k, fd) in path.iter().zip(keys) {
            raw.push((format!("{prefix}{}", fd.key), k.clone()));
        }
        if let Some(v) = last.first() {
            let mut one = Map::new();
            one.insert(v.key.to_string(), leaf.clone());
            fill_into(last, &Value::Object(one), &prefix, raw);
        }
    }
}

/// Typed rows → array of objects; blank rows are left out.
pub(super) fn rows_value(sub: &[Field], raw: &Raw, name: &str) -> Result<Option<Value>, String> {
    let mut rows = vec![];
    for i in 0..row_count(raw, name) {
        let row = build_at(sub.iter(), raw, &format!("{name}.{i}."))?;
        if !row.is_empty() {
            rows.push(Value::Object(row));
        }
    }
    Ok((!rows.is_empty()).then_some(Value::Array(rows)))
}

/// Typed rows of keys and a value → nested objects. Errors: a row with a
/// value but a key left empty.
pub(super) fn nested_value(
    sub: &[Field],
    raw: &Raw,
    name: &str,
    label: &str,
) -> Result<Option<Value>, String> {
    let (keys, last) = sub.split_at(sub.len().saturating_sub(1));
    let mut out = Map::new();
    for i in 0..row_count(raw, name) {
        let prefix = format!("{name}.{i}.");
        let path: Vec<&str> = keys
            .iter()
            .map(|k| get(raw, &format!("{prefix}{}", k.key)).trim())
            .collect();
        let mut leaf = build_at(last.iter(), raw, &prefix)?;
        let value = last.first().and_then(|v| leaf.remove(v.key));
        if path.iter().all(|k| k.is_empty()) && value.is_none() {
            continue;
        }
        if let Some(k) = keys.iter().zip(&path).find(|(_, p)| p.is_empty()) {
            return Err(format!("{label}: row {}: fill in {}", i + 1, k.0.label));
        }
        let mut at = &mut out;
        for (depth, k) in path.iter().enumerate() {
            if depth + 1 == path.len() {
                at.insert(k.to_string(), value.clone().unwrap_or(Value::Array(vec![])));
                break;
            }
            let child = at
                .entry(k.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            let Value::Object(m) = child else {
                unreachable!()
            };
            at = m;
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// Typed named rows → object by name. Errors: a filled row without a name.
pub(super) fn keyed_value(
    sub: &[Field],
    raw: &Raw,
    name: &str,
    label: &str,
) -> Result<Option<Value>, String> {
    let mut out = Map::new();
    for i in 0..row_count(raw, name) {
        let prefix = format!("{name}.{i}.");
        let row = build_at(sub.iter(), raw, &prefix)?;
        let key = get(raw, &format!("{prefix}{}", KEY.key)).trim();
        match (key.is_empty(), row.is_empty()) {
            (true, true) => {}
            (true, false) => return Err(format!("{label}: name row {}", i + 1)),
            (false, _) => {
                out.insert(key.into(), Value::Object(row));
            }
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// Typed cards → groups of items; an empty group name continues the group
/// above. Errors: the first filled card without a group name.
pub(super) fn grouped_value(
    g: &Grouping,
    raw: &Raw,
    name: &str,
    label: &str,
) -> Result<Option<Value>, String> {
    let mut groups: Vec<Map<String, Value>> = vec![];
    for i in 0..row_count(raw, name) {
        let prefix = format!("{name}.{i}.");
        let item = build_at(g.fields.iter(), raw, &prefix)?;
        if item.is_empty() {
            continue;
        }
        let typed = get(raw, &format!("{prefix}{GROUP}")).trim();
        let same = typed.is_empty() || groups.last().is_some_and(|x| x[g.group.0] == typed);
        if !same || groups.is_empty() {
            if typed.is_empty() {
                return Err(format!(
                    "{label}: name the {} of {} {}",
                    g.group.1.to_lowercase(),
                    g.item.to_lowercase(),
                    i + 1
                ));
            }
            let mut grp = Map::new();
            grp.insert(g.group.0.into(), Value::String(typed.into()));
            grp.insert(g.items.into(), Value::Array(vec![]));
            groups.push(grp);
        }
        if let Some(Value::Array(items)) = groups.last_mut().and_then(|x| x.get_mut(g.items)) {
            items.push(Value::Object(item));
        }
    }
    Ok((!groups.is_empty()).then(|| Value::Array(groups.into_iter().map(Value::Object).collect())))
}

/// The leaves of `v` at `depth` levels of objects: (keys, leaf), in
/// key order.
fn nested_leaves<'a>(
    v: &'a Value,
    depth: usize,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, &'a Value)>,
) {
    if depth == 0 {
        out.push((path.clone(), v));
        return;
    }
    for (k, child) in v.as_object().into_iter().flatten() {
        path.push(k.clone());
        nested_leaves(child, depth - 1, path, out);
        path.pop();
    }
}
