//! Field-by-field forms of the console: a module declares its fields once
//! ([`Field`]); the same declaration fills a form from a record, renders
//! it, reads what was typed back and builds the JSON body the module's API
//! takes. The API stays the only judge of validity: a refusal comes back
//! on the form with the API's message and the values as typed.
//!
//! Form names are `f.<dotted key>`; a repeated group of fields
//! ([`Kind::Rows`]) names its cells `f.<key>.<row>.<sub key>`. A row whose
//! cells are all empty is left out, so a form offers two blank rows to add
//! to without any JavaScript. Rows grouped under a name ([`Kind::Grouped`]:
//! a job's steps, each with its tasks) are drawn as cards, one per item;
//! an item whose group name is empty belongs to the group above.

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value};

mod rows;

/// What kind of input a field is, and how its text becomes JSON.
pub enum Kind {
    /// One line of text → string; empty: left out.
    Text,
    /// A password → string; never filled in from a record or from what
    /// was typed before a refusal.
    Secret,
    /// Several lines of text → string.
    Long,
    /// A number (integer or decimal) → number.
    Number,
    /// One of these values (a select with an empty choice) → string.
    Choice(&'static [&'static str]),
    /// Free text with these suggestions (a datalist) → string.
    Suggest(&'static [&'static str]),
    /// A checkbox → `true`; unchecked: left out (the API's default).
    Check,
    /// Any of these values (checkboxes) → array of strings.
    Many(&'static [&'static str]),
    /// Any of the hosts registered with COC (checkboxes, offered by
    /// [`offer_hosts`]) → array of host resource ids.
    Hosts,
    /// One of the tenant's users (a select, offered by [`offer_users`])
    /// → user name; empty: left out.
    User,
    /// Values separated by commas or new lines → array of strings.
    List,
    /// Integers separated by commas → array of numbers.
    Numbers,
    /// `key=value` lines → object of strings.
    Map,
    /// A nested structure typed as JSON (a textarea).
    Json,
    /// An instant, typed in UTC (`YYYY-MM-DDTHH:MM`) → Unix ms.
    Time,
    /// A local date and time without zone (`YYYY-MM-DDTHH:MM[:SS]`) →
    /// `YYYY-MM-DDTHH:MM:SS`.
    Local,
    /// A repeated group of fields → array of objects. Its fields must not
    /// be [`Kind::Rows`] or [`Kind::Check`] (a row of only an unchecked box
    /// could not be told from a blank row).
    Rows(&'static [Field]),
    /// Rows keyed by their first cell, a name → object of name → the
    /// row's other fields (a script's parameter-center references).
    Keyed(&'static [Field]),
    /// Rows of keys and a value → nested objects: every field but the
    /// last is a key, the last the value; each row sets
    /// `{k1: {k2: … value}}` (who is on call per role and shift).
    Nested(&'static [Field]),
    /// Pairs, one per line (`a b` or `a, b`) → array of two-element
    /// arrays (cleared date ranges).
    Pairs,
    /// Items under a repeated group name (a job's tasks under their step)
    /// → array of groups, each `{<group key>: name, <items key>: [item…]}`.
    /// Each item is drawn as a card whose first input is the group's name;
    /// an empty name continues the group above.
    Grouped(&'static Grouping),
    /// A record of another section, chosen by name (a select offered by
    /// [`offer_records`]) → string; empty: left out.
    Pick(&'static Pick),
    /// Records of another section, any number (checkboxes offered by
    /// [`offer_records`]) → array of strings.
    PickMany(&'static Pick),
    /// A file sent as the binary body of a `POST` to this API path, the
    /// form's other fields in its query string (an agent build). The
    /// console's script sends it; never part of a JSON body.
    File(&'static str),
    /// Who is asked (ref. 11.3), as a comma-separated list: a user name,
    /// `role@scenario` for an on-call role, or `owner` → array of
    /// recipients (`individual`, `shift`, `owner`).
    People,
}

/// The shape of a [`Kind::Grouped`] field.
pub struct Grouping {
    /// The group's name member (`name`) and the label of its input.
    pub group: (&'static str, &'static str),
    /// The member holding each group's items (`tasks`).
    pub items: &'static str,
    /// What one item is called on its card (`Task`).
    pub item: &'static str,
    /// The fields of one item.
    pub fields: &'static [Field],
    /// The item field whose value decides which other fields apply
    /// (`atom.type`); empty: all always apply.
    pub switch: &'static str,
    /// Fields that apply only for some values of `switch`: (field key,
    /// the values separated by spaces). The page hides and disables the
    /// others, so a value typed for another choice is not sent.
    pub when: &'static [(&'static str, &'static str)],
}

/// Where a [`Kind::Pick`] finds its choices.
pub struct Pick {
    /// The API list that offers them (`/api/v1/scripts`).
    pub list: &'static str,
    /// The member of each record that is sent (`name`, `id`).
    pub value: &'static str,
    /// The member shown for it (`name`).
    pub shown: &'static str,
    /// The sibling field (same row or card) that the page fills with
    /// [`Pick::hint`]'s text when a record is chosen and the field is
    /// empty or still holds the previous record's text (`atom.params`).
    pub fills: &'static str,
    /// The text a chosen record offers its sibling (a script's parameter
    /// defaults as `NAME=value` lines).
    pub hint: Option<fn(&Value) -> String>,
}

/// The hidden key of a [`Kind::Grouped`] item's group name.
const GROUP: &str = "@group";
/// The key cell of a [`Kind::Keyed`] row.
const KEY: Field = f("@key", "Name", Kind::Text);

fn group_field(g: &Grouping) -> Field {
    f(GROUP, g.group.1, Kind::Text)
}

/// Reads a [`Kind::People`] list. Errors: an empty `role@` or `@scenario`.
fn people_of(label: &str, s: &str) -> Result<Value, String> {
    let mut out = vec![];
    let mut users = vec![];
    for x in s
        .split([',', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
    {
        if x == "owner" {
            out.push(serde_json::json!({"type": "owner"}));
        } else if let Some((role, scenario)) = x.split_once('@') {
            let (role, scenario) = (role.trim(), scenario.trim());
            if role.is_empty() || scenario.is_empty() {
                return Err(format!(
                    "{label}: write an on-call role as role@scenario, not '{x}'"
                ));
            }
            out.push(serde_json::json!({"type": "shift", "scenario": scenario, "roles": [role]}));
        } else {
            users.push(Value::String(x.into()));
        }
    }
    if !users.is_empty() {
        out.insert(0, serde_json::json!({"type": "individual", "users": users}));
    }
    Ok(Value::Array(out))
}

/// Writes recipients as a [`Kind::People`] list.
fn people_text(v: &[Value]) -> String {
    let mut out: Vec<String> = vec![];
    for r in v {
        match r["type"].as_str() {
            Some("owner") => out.push("owner".into()),
            Some("individual") => out.extend(r["users"].as_array().into_iter().flatten().map(text)),
            Some("shift") => out.extend(
                r["roles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|role| format!("{}@{}", text(role), text(&r["scenario"]))),
            ),
            _ => {}
        }
    }
    out.join(", ")
}

/// One field of a module's form.
pub struct Field {
    /// Dotted path of the value in the API's JSON (`timing.trigger.type`).
    pub key: &'static str,
    /// Label shown.
    pub label: &'static str,
    /// Input kind.
    pub kind: Kind,
    /// A hint shown under the input.
    pub help: &'static str,
}

/// A field with no hint.
pub const fn f(key: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        key,
        label,
        kind,
        help: "",
    }
}

/// A field with a hint.
pub const fn h(key: &'static str, label: &'static str, kind: Kind, help: &'static str) -> Field {
    Field {
        key,
        label,
        kind,
        help,
    }
}

/// Form values by name, in order; a name may repeat ([`Kind::Many`]).
pub type Raw = Vec<(String, String)>;

fn get<'a>(raw: &'a Raw, name: &str) -> &'a str {
    raw.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// How many rows of the group `name` the values hold (highest index + 1).
fn row_count(raw: &Raw, name: &str) -> usize {
    let prefix = format!("{name}.");
    raw.iter()
        .filter_map(|(n, _)| n.strip_prefix(&prefix)?.split('.').next()?.parse().ok())
        .map(|i: usize| i + 1)
        .max()
        .unwrap_or(0)
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |cur, p| &cur[p])
}

use super::text;

/// The form values of a record (or of an example definition).
pub fn fill(fields: &[Field], record: &Value) -> Raw {
    let mut raw = Raw::new();
    fill_into(fields, record, "f.", &mut raw);
    raw
}

fn fill_into(fields: &[Field], record: &Value, prefix: &str, raw: &mut Raw) {
    for fd in fields {
        let name = format!("{prefix}{}", fd.key);
        let x = at(record, fd.key);
        let one = match (&fd.kind, x) {
            (_, Value::Null) | (Kind::Secret | Kind::File(_), _) => None,
            (Kind::Rows(sub), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    fill_into(sub, item, &format!("{name}.{i}."), raw);
                }
                None
            }
            (Kind::Rows(_), _) => None,
            (Kind::Grouped(g), Value::Array(groups)) => {
                rows::fill_grouped(g, groups, &name, raw);
                None
            }
            (Kind::Grouped(_), _) => None,
            (Kind::Keyed(sub), Value::Object(o)) => {
                rows::fill_keyed(sub, o, &name, raw);
                None
            }
            (Kind::Keyed(_), _) => None,
            (Kind::Nested(sub), Value::Object(_)) => {
                rows::fill_nested(sub, x, &name, raw);
                None
            }
            (Kind::Nested(_), _) => None,
            (Kind::Pairs, Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|p| format!("{} {}", text(&p[0]), text(&p[1])))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            (Kind::Pairs, _) => None,
            (Kind::People, Value::Array(items)) => Some(people_text(items)),
            (Kind::Many(_) | Kind::Hosts | Kind::PickMany(_), Value::Array(items)) => {
                raw.extend(items.iter().map(|i| (name.clone(), text(i))));
                None
            }
            (Kind::Check, Value::Bool(b)) => b.then(|| "on".to_string()),
            (Kind::List | Kind::Numbers, Value::Array(items)) => {
                Some(items.iter().map(text).collect::<Vec<_>>().join(", "))
            }
            (Kind::Map, Value::Object(o)) => Some(
                o.iter()
                    .map(|(k, v)| format!("{k}={}", text(v)))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            (
                Kind::Map
                | Kind::Many(_)
                | Kind::PickMany(_)
                | Kind::Hosts
                | Kind::List
                | Kind::Numbers
                | Kind::Check
                | Kind::People,
                _,
            ) => None,
            (Kind::Json, x) => serde_json::to_string_pretty(x).ok(),
            // Whole minutes as typed; an instant with seconds keeps them,
            // so saving a record unchanged does not move it.
            (Kind::Time, x) => x.as_i64().and_then(|ms| {
                let t = DateTime::from_timestamp_millis(ms)?;
                let f = if ms % 60_000 == 0 {
                    "%Y-%m-%dT%H:%M"
                } else {
                    "%Y-%m-%dT%H:%M:%S%.3f"
                };
                Some(t.format(f).to_string())
            }),
            (_, x) => Some(text(x)),
        };
        if let Some(v) = one {
            raw.push((name, v));
        }
    }
}

/// Builds the API's JSON body from the form values. Errors: a one-line
/// message naming the field whose text cannot be read (a number that is
/// not one, JSON that does not parse, a time in the wrong shape).
pub fn build(fields: &[Field], raw: &Raw) -> Result<Value, String> {
    build_at(fields, raw, "f.").map(Value::Object)
}

/// [`build`] over `base`, a JSON object (what an emptied form sends, or
/// fixed members such as an action's name): the typed values replace the
/// base's. Errors: as [`build`].
pub fn build_over(fields: &[Field], raw: &Raw, base: &Value) -> Result<Value, String> {
    let mut body = base.as_object().cloned().unwrap_or_default();
    body.extend(build_at(fields, raw, "f.")?);
    Ok(Value::Object(body))
}

/// [`build`] for a chosen subset of a module's fields.
pub fn build_of(fields: &[&Field], raw: &Raw) -> Result<Value, String> {
    build_at(fields.iter().copied(), raw, "f.").map(Value::Object)
}

fn build_at<'a>(
    fields: impl IntoIterator<Item = &'a Field>,
    raw: &Raw,
    prefix: &str,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for fd in fields {
        let name = format!("{prefix}{}", fd.key);
        if let Some(v) = value_of(fd, raw, &name)? {
            set(&mut out, fd.key, v);
        }
    }
    Ok(out)
}

fn value_of(fd: &Field, raw: &Raw, name: &str) -> Result<Option<Value>, String> {
    let s = get(raw, name).trim();
    let label = fd.label;
    let strings = |s: &str| -> Vec<Value> {
        s.split([',', '\n'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| Value::String(x.into()))
            .collect()
    };
    Ok(match &fd.kind {
        Kind::Rows(sub) => rows::rows_value(sub, raw, name)?,
        Kind::Nested(sub) => rows::nested_value(sub, raw, name, label)?,
        Kind::Keyed(sub) => rows::keyed_value(sub, raw, name, label)?,
        Kind::Grouped(g) => rows::grouped_value(g, raw, name, label)?,
        // Only the console's script sends a file (as a request body).
        Kind::File(_) => {
            return Err(format!(
                "{label}: sending a file needs JavaScript in the browser (or the CLI: coc agent-build upload)"
            ));
        }
        Kind::Many(_) | Kind::Hosts | Kind::PickMany(_) => {
            let all: Vec<Value> = raw
                .iter()
                .filter(|(n, v)| n == name && !v.is_empty())
                .map(|(_, v)| Value::String(v.clone()))
                .collect();
            (!all.is_empty()).then_some(Value::Array(all))
        }
        _ if s.is_empty() => None,
        Kind::Check => Some(Value::Bool(true)),
        Kind::Number => Some(
            s.parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.parse::<f64>().map(Value::from))
                .map_err(|_| format!("{label}: '{s}' is not a number"))?,
        ),
        Kind::List => Some(Value::Array(strings(s))),
        Kind::Numbers => Some(Value::Array(
            strings(s)
                .iter()
                .map(|x| {
                    let x = x.as_str().unwrap_or_default();
                    x.parse::<u64>()
                        .map(Value::from)
                        .map_err(|_| format!("{label}: '{x}' is not a whole number"))
                })
                .collect::<Result<_, _>>()?,
        )),
        Kind::Map => {
            let mut m = Map::new();
            for line in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (k, v) = line.split_once('=').ok_or_else(|| {
                    format!("{label}: write each entry as key=value, not '{line}'")
                })?;
                m.insert(k.trim().into(), Value::String(v.trim().into()));
            }
            Some(Value::Object(m))
        }
        Kind::People => Some(people_of(label, s)?),
        Kind::Pairs => {
            let mut out = vec![];
            for line in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let parts: Vec<&str> = line
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|x| !x.is_empty())
                    .collect();
                let [a, b] = parts[..] else {
                    return Err(format!("{label}: write two values per line, not '{line}'"));
                };
                out.push(Value::Array(vec![
                    Value::String(a.into()),
                    Value::String(b.into()),
                ]));
            }
            Some(Value::Array(out))
        }
        Kind::Json => {
            Some(serde_json::from_str(s).map_err(|e| format!("{label}: not valid JSON: {e}"))?)
        }
        Kind::Time => Some(Value::from(
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                .map_err(|_| format!("{label}: write the time as YYYY-MM-DDTHH:MM (UTC)"))?
                .and_utc()
                .timestamp_millis(),
        )),
        Kind::Local => {
            let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| format!("{label}: write the time as YYYY-MM-DDTHH:MM"))?;
            Some(Value::String(t.format("%Y-%m-%dT%H:%M:%S").to_string()))
        }
        Kind::Text
        | Kind::Secret
        | Kind::Long
        | Kind::Choice(_)
        | Kind::Suggest(_)
        | Kind::User
        | Kind::Pick(_) => Some(Value::String(s.into())),
    })
}

/// Sets `v` at the dotted `path`, creating the objects on the way.
fn set(out: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            out.insert(path.into(), v);
        }
        Some((head, rest)) => {
            let child = out
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(m) = child {
                set(m, rest, v);
            }
        }
    }
}

/// One input as the form template draws it.
pub struct Input {
    /// Form name.
    pub name: String,
    /// HTML id (the name with dots as dashes).
    pub id: String,
    /// Label.
    pub label: &'static str,
    /// `text`, `secret`, `long`, `number`, `choice`, `suggest`, `check`, `many`,
    /// `hosts`, `user`, `pick`, `people`, `list`, `numbers`, `map`, `json`,
    /// `time`, `local`, `rows` or `grouped`.
    pub kind: &'static str,
    /// The value as typed.
    pub value: String,
    /// Choices: (value, chosen, what is shown).
    pub options: Vec<(String, bool, String)>,
    /// Hint.
    pub help: &'static str,
    /// Rows: the cells of each row (two blank rows at the end).
    pub rows: Vec<Vec<Input>>,
    /// Rows: the column labels.
    pub heads: Vec<&'static str>,
    /// A grouped item's cell: the values of its card's switch for which
    /// it applies, separated by spaces; empty: always.
    pub when: &'static str,
    /// A grouped item's cell that decides which of its card's cells apply.
    pub switch: bool,
    /// A pick: where its choices come from (offered by [`offer_records`]).
    pub pick: Option<&'static Pick>,
    /// A pick: per option, the text it offers its sibling [`Input::fills`].
    pub hints: Vec<String>,
    /// A pick: the form name of the sibling its choice fills; a file: the
    /// API path it is posted to; empty: none.
    pub fills: String,
    /// Grouped: what one item is called (`Task`).
    pub item: &'static str,
}

impl Input {
    /// The hint of the pick's `n`th option, or empty.
    pub fn hint_at(&self, n: &usize) -> &str {
        self.hints.get(*n).map_or("", String::as_str)
    }
}

/// A select's options before its choices are offered: the chosen value.
fn one_chosen(value: &str) -> Vec<(String, bool, String)> {
    all_chosen(&[value])
}

/// Checkboxes' options before their choices are offered: the chosen ones.
fn all_chosen(chosen: &[&str]) -> Vec<(String, bool, String)> {
    chosen
        .iter()
        .filter(|x| !x.is_empty())
        .map(|x| (x.to_string(), true, x.to_string()))
        .collect()
}

/// The inputs of a form holding `raw`.
pub fn inputs(fields: &[Field], raw: &Raw) -> Vec<Input> {
    inputs_at(fields, raw, "f.")
}

/// [`inputs`] for a chosen subset of a module's fields.
pub fn inputs_of(fields: &[&Field], raw: &Raw) -> Vec<Input> {
    inputs_at(fields.iter().copied(), raw, "f.")
}

fn inputs_at<'a>(
    fields: impl IntoIterator<Item = &'a Field>,
    raw: &Raw,
    prefix: &str,
) -> Vec<Input> {
    fields
        .into_iter()
        .map(|fd| {
            let mut pick = None;
            let mut fills = String::new();
            let mut item = "";
            let name = format!("{prefix}{}", fd.key);
            let value = match fd.kind {
                Kind::Secret => String::new(),
                _ => get(raw, &name).to_string(),
            };
            let chosen: Vec<&str> = raw
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            let (kind, options, rows, heads) = match &fd.kind {
                Kind::Text => ("text", vec![], vec![], vec![]),
                Kind::Secret => ("secret", vec![], vec![], vec![]),
                Kind::File(api) => {
                    fills = api.to_string();
                    ("file", vec![], vec![], vec![])
                }
                Kind::Long => ("long", vec![], vec![], vec![]),
                Kind::Number => ("number", vec![], vec![], vec![]),
                Kind::Choice(o) => (
                    "choice",
                    o.iter()
                        .map(|x| (x.to_string(), *x == value, x.to_string()))
                        .collect(),
                    vec![],
                    vec![],
                ),
                Kind::Suggest(o) => (
                    "suggest",
                    o.iter()
                        .map(|x| (x.to_string(), false, x.to_string()))
                        .collect(),
                    vec![],
                    vec![],
                ),
                Kind::Check => ("check", vec![], vec![], vec![]),
                Kind::Many(o) => (
                    "many",
                    o.iter()
                        .map(|x| (x.to_string(), chosen.contains(x), x.to_string()))
                        .collect(),
                    vec![],
                    vec![],
                ),
                // Until [`offer_hosts`]: the chosen ones.
                Kind::Hosts => ("hosts", all_chosen(&chosen), vec![], vec![]),
                // Until [`offer_users`]: the chosen one.
                Kind::User => ("user", one_chosen(&value), vec![], vec![]),
                // Until [`offer_records`]: the chosen one.
                Kind::Pick(p) => {
                    pick = Some(*p);
                    if !p.fills.is_empty() {
                        fills = format!("{prefix}{}", p.fills);
                    }
                    ("pick", one_chosen(&value), vec![], vec![])
                }
                // Until [`offer_records`]: the chosen ones.
                Kind::PickMany(p) => {
                    pick = Some(*p);
                    ("many", all_chosen(&chosen), vec![], vec![])
                }
                Kind::People => ("people", vec![], vec![], vec![]),
                Kind::List => ("list", vec![], vec![], vec![]),
                Kind::Numbers => ("numbers", vec![], vec![], vec![]),
                Kind::Map => ("map", vec![], vec![], vec![]),
                Kind::Json => ("json", vec![], vec![], vec![]),
                Kind::Time => ("time", vec![], vec![], vec![]),
                Kind::Local => ("local", vec![], vec![], vec![]),
                Kind::Rows(sub) | Kind::Nested(sub) => rows::table(sub.iter(), raw, &name),
                Kind::Pairs => ("pairs", vec![], vec![], vec![]),
                Kind::Keyed(sub) => {
                    rows::table(std::iter::once(&KEY).chain(sub.iter()), raw, &name)
                }
                Kind::Grouped(g) => {
                    item = g.item;
                    ("grouped", vec![], rows::cards(g, raw, &name), vec![])
                }
            };
            Input {
                id: name.replace('.', "-"),
                name,
                label: fd.label,
                kind,
                value,
                options,
                help: fd.help,
                rows,
                heads,
                when: "",
                switch: false,
                pick,
                hints: vec![],
                fills,
                item,
            }
        })
        .collect()
}

/// Offers the registered `hosts` — (resource id, what is shown) — to the
/// [`Kind::Hosts`] inputs, keeping their choices. A chosen id that is not
/// registered (any more) stays offered and chosen, marked so, rather than
/// being dropped silently.
pub fn offer_hosts(inputs: &mut [Input], hosts: &[(String, String)]) {
    for i in inputs.iter_mut().filter(|i| i.kind == "hosts") {
        let chosen: Vec<String> = i.options.drain(..).map(|o| o.0).collect();
        i.options = hosts
            .iter()
            .map(|(id, shown)| (id.clone(), chosen.contains(id), shown.clone()))
            .collect();
        for c in chosen {
            if !hosts.iter().any(|(id, _)| *id == c) {
                i.options
                    .push((c.clone(), true, format!("{c} (not registered)")));
            }
        }
    }
}

/// Offers the tenant's `users` to the [`Kind::User`] inputs (also in
/// rows), keeping their choice; a chosen name that is no user (any more)
/// stays offered, marked so.
pub fn offer_users(inputs: &mut [Input], users: &[String]) {
    for i in inputs.iter_mut() {
        for row in i.rows.iter_mut() {
            offer_users(row, users);
        }
        if i.kind != "user" {
            continue;
        }
        let chosen = i.value.clone();
        i.options = users
            .iter()
            .map(|u| (u.clone(), *u == chosen, u.clone()))
            .collect();
        if !chosen.is_empty() && !users.contains(&chosen) {
            i.options
                .push((chosen.clone(), true, format!("{chosen} (no such user)")));
        }
    }
}

/// The lists the [`Kind::Pick`] inputs (also in rows) choose from.
pub fn picks(inputs: &[Input]) -> Vec<&'static Pick> {
    let mut out: Vec<&'static Pick> = vec![];
    for i in inputs {
        for p in i
            .pick
            .into_iter()
            .chain(i.rows.iter().flat_map(|r| picks(r)))
        {
            if !out.iter().any(|x| std::ptr::eq(*x, p)) {
                out.push(p);
            }
        }
    }
    out
}

/// Offers the `records` of `pick`'s list (as the API answered them) to
/// the inputs that pick from it (also in rows), keeping their choice; a
/// chosen name that is no record (any more) stays offered, marked so.
pub fn offer_records(inputs: &mut [Input], pick: &'static Pick, records: &[Value]) {
    for i in inputs.iter_mut() {
        for row in i.rows.iter_mut() {
            offer_records(row, pick, records);
        }
        if !i.pick.is_some_and(|p| std::ptr::eq(p, pick)) {
            continue;
        }
        if i.kind == "many" {
            // Several: the chosen ones stay chosen, unknown ones marked.
            let chosen: Vec<String> = i.options.drain(..).filter(|o| o.1).map(|o| o.0).collect();
            i.options = records
                .iter()
                .map(|r| {
                    let v = text(&r[pick.value]);
                    (v.clone(), chosen.contains(&v), text(&r[pick.shown]))
                })
                .collect();
            for c in chosen {
                if !i.options.iter().any(|o| o.0 == c) {
                    i.options
                        .push((c.clone(), true, format!("{c} (not found)")));
                }
            }
            continue;
        }
        let chosen = i.value.clone();
        i.options = records
            .iter()
            .map(|r| {
                let v = text(&r[pick.value]);
                (v.clone(), v == chosen, text(&r[pick.shown]))
            })
            .collect();
        i.hints = match pick.hint {
            Some(h) => records.iter().map(h).collect(),
            None => vec![],
        };
        if !chosen.is_empty() && !i.options.iter().any(|o| o.0 == chosen) {
            i.options
                .push((chosen.clone(), true, format!("{chosen} (not found)")));
        }
    }
}

/// Whether any of the inputs (or their rows) picks a user.
pub fn picks_users<'a>(inputs: impl IntoIterator<Item = &'a Input>) -> bool {
    inputs
        .into_iter()
        .any(|i| i.kind == "user" || i.rows.iter().any(|r| picks_users(r.iter())))
}

/// Whether any of the inputs picks hosts (so the form needs the list of
/// registered hosts).
pub fn picks_hosts<'a>(inputs: impl IntoIterator<Item = &'a Input>) -> bool {
    inputs.into_iter().any(|i| i.kind == "hosts")
}

/// Values of a submitted form that belong to its fields (`f.…`).
pub fn submitted(form: &[(String, String)]) -> Raw {
    form.iter()
        .filter(|(n, _)| n.starts_with("f."))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RECIPIENT: &[Field] = &[
        f("type", "Type", Kind::Choice(&["owner", "individual"])),
        f("users", "Users", Kind::List),
    ];
    const FIELDS: &[Field] = &[
        f("name", "Name", Kind::Text),
        f("timing.trigger.type", "Trigger", Kind::Choice(&["cron"])),
        f("timing.trigger.expr", "Cron", Kind::Text),
        f("timing.expires_at", "Expires", Kind::Time),
        f("timing.start", "Start", Kind::Local),
        f("limit", "Limit", Kind::Number),
        f("rate", "Rate", Kind::Number),
        f("flag", "Flag", Kind::Check),
        f("off", "Off", Kind::Check),
        f(
            "channels",
            "Channels",
            Kind::Many(&["email", "sms", "voice"]),
        ),
        f("minutes", "Minutes", Kind::Numbers),
        f("tags", "Tags", Kind::Map),
        f("steps", "Steps", Kind::Json),
        f("who", "Who", Kind::Rows(RECIPIENT)),
        f("absent", "Absent", Kind::Text),
    ];

    #[test]
    fn a_record_survives_fill_then_build() {
        let rec = json!({
            "name": "nightly",
            "timing": {"trigger": {"type": "cron", "expr": "0 3 * * *"},
                       "expires_at": 1_790_000_040_000_i64, "start": "2026-11-22T03:00:00"},
            "limit": 5, "rate": 97.5, "flag": true, "off": false,
            "channels": ["email", "voice"], "minutes": [5, 60],
            "tags": {"env": "prod", "team": "db"},
            "steps": [{"name": "a", "tasks": []}],
            "who": [{"type": "owner"}, {"type": "individual", "users": ["ann", "bob"]}],
            "absent": null,
        });
        let raw = fill(FIELDS, &rec);
        let mut want = rec.clone();
        let o = want.as_object_mut().unwrap();
        o.remove("off");
        o.remove("absent");
        assert_eq!(build(FIELDS, &raw).unwrap(), want);
    }

    #[test]
    fn blank_rows_and_empty_fields_are_left_out() {
        let raw: Raw = vec![
            ("f.name".into(), "x".into()),
            ("f.who.0.type".into(), "".into()),
            ("f.who.0.users".into(), " ".into()),
            ("f.who.1.type".into(), "individual".into()),
            ("f.who.1.users".into(), "a,\nb".into()),
            ("f.channels".into(), "sms".into()),
            ("f.limit".into(), "".into()),
        ];
        assert_eq!(
            build(FIELDS, &raw).unwrap(),
            json!({"name": "x", "channels": ["sms"],
                   "who": [{"type": "individual", "users": ["a", "b"]}]})
        );
        // Two blank rows follow the filled ones.
        let drawn = inputs(FIELDS, &raw);
        let who = drawn.iter().find(|i| i.kind == "rows").unwrap();
        assert_eq!(who.rows.len(), 4);
        assert_eq!(who.rows[1][1].value, "a,\nb");
        assert_eq!(
            who.rows[1][0].options[1],
            ("individual".into(), true, "individual".into())
        );
        let ch = drawn.iter().find(|i| i.kind == "many").unwrap();
        let picked: Vec<(&str, bool)> = ch.options.iter().map(|o| (o.0.as_str(), o.1)).collect();
        assert_eq!(picked, [("email", false), ("sms", true), ("voice", false)]);
    }

    #[test]
    fn unreadable_text_names_its_field() {
        for (name, value, msg) in [
            ("f.limit", "five", "Limit: 'five' is not a number"),
            ("f.minutes", "5, x", "Minutes: 'x' is not a whole number"),
            ("f.tags", "env", "Tags: write each entry as key=value"),
            ("f.steps", "[", "Steps: not valid JSON"),
            ("f.timing.expires_at", "tomorrow", "Expires: write the time"),
            ("f.timing.start", "3am", "Start: write the time"),
        ] {
            let e = build(FIELDS, &vec![(name.into(), value.into())]).unwrap_err();
            assert!(e.starts_with(msg), "{name}: {e}");
        }
    }

    #[test]
    fn hosts_are_offered_with_the_chosen_ones_kept() {
        const PICK: &[Field] = &[f("hosts", "Hosts", Kind::Hosts)];
        let raw = fill(PICK, &json!({"hosts": ["h2", "gone"]}));
        let mut drawn = inputs(PICK, &raw);
        assert!(picks_hosts(&drawn));
        let registered = [("h1".into(), "web-1".into()), ("h2".into(), "db-1".into())];
        offer_hosts(&mut drawn, &registered);
        assert_eq!(
            drawn[0].options,
            vec![
                ("h1".into(), false, "web-1".into()),
                ("h2".into(), true, "db-1".into()),
                ("gone".into(), true, "gone (not registered)".into()),
            ]
        );
        // Checked boxes come back as repeated values: an array of ids.
        assert_eq!(build(PICK, &raw).unwrap(), json!({"hosts": ["h2", "gone"]}));
        assert_eq!(build(PICK, &Raw::new()).unwrap(), json!({}));
    }

    #[test]
    fn typed_values_go_over_the_base() {
        let base = json!({"tags": {}, "action": "tag"});
        assert_eq!(
            build_over(FIELDS, &Raw::new(), &base).unwrap(),
            base,
            "an emptied form sends the base"
        );
        let raw: Raw = vec![("f.tags".into(), "env=prod".into())];
        assert_eq!(
            build_over(FIELDS, &raw, &base).unwrap(),
            json!({"tags": {"env": "prod"}, "action": "tag"})
        );
    }

    #[test]
    fn a_secret_is_sent_but_never_drawn_again() {
        const LOGIN: &[Field] = &[f("password", "Password", Kind::Secret)];
        let typed: Raw = vec![("f.password".into(), "hunter22!".into())];
        assert_eq!(
            build(LOGIN, &typed).unwrap(),
            json!({"password": "hunter22!"})
        );
        assert_eq!(inputs(LOGIN, &typed)[0].value, "");
        assert!(fill(LOGIN, &json!({"password": "x"})).is_empty());
    }

    const TASK: &[Field] = &[
        f("name", "Task name", Kind::Text),
        f("atom.type", "Type", Kind::Choice(&["script", "sleep"])),
        f("atom.seconds", "Seconds", Kind::Number),
        f("atom.reviewers", "Approvers", Kind::People),
    ];
    const STEPS: Grouping = Grouping {
        group: ("name", "Step"),
        items: "tasks",
        item: "Task",
        fields: TASK,
        switch: "atom.type",
        when: &[("atom.seconds", "sleep")],
    };
    const JOB: &[Field] = &[f("steps", "Steps", Kind::Grouped(&STEPS))];

    #[test]
    fn nested_rows_and_pairs_survive_fill_then_build() {
        const WEEKLY: &[Field] = &[
            f("role", "Role", Kind::Text),
            f("day", "Day", Kind::Choice(&["0", "1"])),
            f("shift", "Shift", Kind::Text),
            f("people", "People", Kind::List),
        ];
        const FORM: &[Field] = &[
            f("weekly", "Weekly", Kind::Nested(WEEKLY)),
            f("cleared", "Cleared", Kind::Pairs),
        ];
        let rec = json!({
            "weekly": {"oncall": {"0": {"0": ["ann"], "1": ["bob", "cid"]}, "1": {"0": ["dan"]}},
                       "manager": {"0": {"0": ["eve"]}}},
            "cleared": [["2026-12-24", "2026-12-26"]],
        });
        let raw = fill(FORM, &rec);
        // Rows in key order: manager first.
        assert_eq!(get(&raw, "f.weekly.2.people"), "bob, cid");
        assert_eq!(get(&raw, "f.cleared"), "2026-12-24 2026-12-26");
        assert_eq!(build(FORM, &raw).unwrap(), rec);
        let drawn = inputs(FORM, &raw);
        assert_eq!(drawn[0].heads, ["Role", "Day", "Shift", "People"]);
        assert_eq!(drawn[0].rows.len(), 6);
        let half: Raw = vec![
            ("f.weekly.0.role".into(), "oncall".into()),
            ("f.weekly.0.people".into(), "ann".into()),
        ];
        assert_eq!(
            build(FORM, &half).unwrap_err(),
            "Weekly: row 1: fill in Day"
        );
        let bad: Raw = vec![("f.cleared".into(), "2026-12-24".into())];
        assert!(
            build(FORM, &bad)
                .unwrap_err()
                .starts_with("Cleared: write two values")
        );
    }

    #[test]
    fn keyed_rows_are_an_object_by_their_name() {
        const REF: &[Field] = &[
            f("name", "Parameter", Kind::Text),
            f("mode", "Read", Kind::Choice(&["latest"])),
        ];
        const FORM: &[Field] = &[f("refs", "References", Kind::Keyed(REF))];
        let rec = json!({"refs": {"DB": {"name": "db/host", "mode": "latest"}, "PORT": {"name": "db/port"}}});
        let raw = fill(FORM, &rec);
        assert_eq!(get(&raw, "f.refs.1.@key"), "PORT");
        assert_eq!(build(FORM, &raw).unwrap(), rec);
        let drawn = inputs(FORM, &raw);
        assert_eq!(drawn[0].heads, ["Name", "Parameter", "Read"]);
        assert_eq!(drawn[0].rows.len(), 4);
        let unnamed: Raw = vec![("f.refs.0.name".into(), "db/host".into())];
        assert_eq!(build(FORM, &unnamed).unwrap_err(), "References: name row 1");
    }

    #[test]
    fn grouped_items_survive_fill_then_build() {
        let rec = json!({"steps": [
            {"name": "prepare", "tasks": [
                {"name": "wait", "atom": {"type": "sleep", "seconds": 5}},
                {"name": "ask", "atom": {"type": "approval", "reviewers": [
                    {"type": "individual", "users": ["ann", "bob"]},
                    {"type": "shift", "scenario": "db", "roles": ["primary"]},
                    {"type": "owner"}]}}]},
            {"name": "run", "tasks": [{"name": "go", "atom": {"type": "script"}}]},
        ]});
        let raw = fill(JOB, &rec);
        // The step is named on its first task only.
        assert_eq!(get(&raw, "f.steps.0.@group"), "prepare");
        assert_eq!(get(&raw, "f.steps.1.@group"), "");
        assert_eq!(get(&raw, "f.steps.2.@group"), "run");
        assert_eq!(
            get(&raw, "f.steps.1.atom.reviewers"),
            "ann, bob, primary@db, owner"
        );
        assert_eq!(build(JOB, &raw).unwrap(), rec);
        // Cards: three filled, two blank; the switch and its dependants marked.
        let drawn = inputs(JOB, &raw);
        assert_eq!(drawn[0].kind, "grouped");
        assert_eq!(drawn[0].rows.len(), 5);
        let card = &drawn[0].rows[0];
        assert_eq!(card[0].name, "f.steps.0.@group");
        assert!(card[2].switch && !card[1].switch);
        assert_eq!(card[3].when, "sleep");
        assert_eq!(card[4].when, "");
    }

    #[test]
    fn grouped_items_need_a_first_group_name_and_blank_cards_are_left_out() {
        let raw: Raw = vec![
            ("f.steps.0.@group".into(), "only a name".into()),
            ("f.steps.1.name".into(), "first".into()),
            ("f.steps.1.atom.type".into(), "sleep".into()),
        ];
        let e = build(JOB, &raw).unwrap_err();
        assert_eq!(e, "Steps: name the step of task 2");
        let raw: Raw = vec![
            ("f.steps.0.@group".into(), "a".into()),
            ("f.steps.0.name".into(), "t1".into()),
            ("f.steps.1.@group".into(), "".into()),
            ("f.steps.1.name".into(), "".into()),
            ("f.steps.2.@group".into(), "a".into()),
            ("f.steps.2.name".into(), "t2".into()),
            ("f.steps.3.@group".into(), "b".into()),
            ("f.steps.3.name".into(), "t3".into()),
        ];
        assert_eq!(
            build(JOB, &raw).unwrap(),
            json!({"steps": [{"name": "a", "tasks": [{"name": "t1"}, {"name": "t2"}]},
                             {"name": "b", "tasks": [{"name": "t3"}]}]})
        );
        let e = build(
            JOB,
            &vec![("f.steps.0.atom.reviewers".into(), "ann, @db".into())],
        );
        assert_eq!(
            e.unwrap_err(),
            "Approvers: write an on-call role as role@scenario, not '@db'"
        );
    }

    #[test]
    fn picks_offer_records_by_name_with_their_hints() {
        fn first(v: &Value) -> String {
            v["params"][0].as_str().unwrap_or_default().into()
        }
        static SCRIPTS: Pick = Pick {
            list: "/api/v1/scripts",
            value: "name",
            shown: "name",
            fills: "params",
            hint: Some(first),
        };
        const ROW: &[Field] = &[f("script", "Script", Kind::Pick(&SCRIPTS))];
        const FORM: &[Field] = &[f("tasks", "Tasks", Kind::Rows(ROW))];
        let raw: Raw = vec![("f.tasks.0.script".into(), "gone".into())];
        let mut drawn = inputs(FORM, &raw);
        let found = picks(&drawn);
        assert_eq!(found.len(), 1);
        assert!(std::ptr::eq(found[0], &SCRIPTS));
        let records = [
            json!({"name": "cpu", "params": ["N=5"]}),
            json!({"name": "disk"}),
        ];
        offer_records(&mut drawn, &SCRIPTS, &records);
        let cell = &drawn[0].rows[0][0];
        assert_eq!(cell.fills, "f.tasks.0.params");
        assert_eq!(
            cell.options,
            vec![
                ("cpu".into(), false, "cpu".into()),
                ("disk".into(), false, "disk".into()),
                ("gone".into(), true, "gone (not found)".into()),
            ]
        );
        assert_eq!(cell.hint_at(&0), "N=5");
        assert_eq!(cell.hint_at(&2), "");
        // Several, kept by id and shown by name.
        static RULES: Pick = Pick {
            list: "/api/v1/forwarding-rules",
            value: "id",
            shown: "name",
            fills: "",
            hint: None,
        };
        const MANY: &[Field] = &[f("rules", "Rules", Kind::PickMany(&RULES))];
        let raw = fill(MANY, &json!({"rules": ["r2", "gone"]}));
        let mut drawn = inputs(MANY, &raw);
        let rules = [
            json!({"id": "r1", "name": "cpu"}),
            json!({"id": "r2", "name": "disk"}),
        ];
        offer_records(&mut drawn, &RULES, &rules);
        assert_eq!(
            drawn[0].options,
            vec![
                ("r1".into(), false, "cpu".into()),
                ("r2".into(), true, "disk".into()),
                ("gone".into(), true, "gone (not found)".into()),
            ]
        );
        assert_eq!(build(MANY, &raw).unwrap(), json!({"rules": ["r2", "gone"]}));
    }

    #[test]
    fn a_local_time_without_seconds_gets_them() {
        let raw: Raw = vec![("f.timing.start".into(), "2026-11-22T03:30".into())];
        assert_eq!(
            build(FIELDS, &raw).unwrap(),
            json!({"timing": {"start": "2026-11-22T03:30:00"}})
        );
    }
}
