//! Field-by-field forms of the console: a module declares its fields once
//! ([`Field`]); the same declaration fills a form from a record, renders
//! it, reads what was typed back and builds the JSON body the module's API
//! takes. The API stays the only judge of validity: a refusal comes back
//! on the form with the API's message and the values as typed.
//!
//! Form names are `f.<dotted key>`; a repeated group of fields
//! ([`Kind::Rows`]) names its cells `f.<key>.<row>.<sub key>`. A row whose
//! cells are all empty is left out, so a form offers two blank rows to add
//! to without any JavaScript.

use chrono::{DateTime, NaiveDateTime};
use serde_json::{Map, Value};

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
            (_, Value::Null) | (Kind::Secret, _) => None,
            (Kind::Rows(sub), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    fill_into(sub, item, &format!("{name}.{i}."), raw);
                }
                None
            }
            (Kind::Rows(_), _) => None,
            (Kind::Many(_) | Kind::Hosts, Value::Array(items)) => {
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
                Kind::Map | Kind::Many(_) | Kind::Hosts | Kind::List | Kind::Numbers | Kind::Check,
                _,
            ) => None,
            (Kind::Json, x) => serde_json::to_string_pretty(x).ok(),
            (Kind::Time, x) => x
                .as_i64()
                .and_then(DateTime::from_timestamp_millis)
                .map(|t| t.format("%Y-%m-%dT%H:%M").to_string()),
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
        Kind::Rows(sub) => {
            let mut rows = vec![];
            for i in 0..row_count(raw, name) {
                let row = build_at(sub.iter(), raw, &format!("{name}.{i}."))?;
                if !row.is_empty() {
                    rows.push(Value::Object(row));
                }
            }
            (!rows.is_empty()).then_some(Value::Array(rows))
        }
        Kind::Many(_) | Kind::Hosts => {
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
        Kind::Json => {
            Some(serde_json::from_str(s).map_err(|e| format!("{label}: not valid JSON: {e}"))?)
        }
        Kind::Time => Some(Value::from(
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
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
        | Kind::User => Some(Value::String(s.into())),
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
    /// `hosts`, `list`, `numbers`, `map`, `json`, `time`, `local` or
    /// `rows`.
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
                Kind::Hosts => (
                    "hosts",
                    chosen
                        .iter()
                        .filter(|x| !x.is_empty())
                        .map(|x| (x.to_string(), true, x.to_string()))
                        .collect(),
                    vec![],
                    vec![],
                ),
                // Until [`offer_users`]: the chosen one.
                Kind::User => (
                    "user",
                    (!value.is_empty())
                        .then(|| (value.clone(), true, value.clone()))
                        .into_iter()
                        .collect(),
                    vec![],
                    vec![],
                ),
                Kind::List => ("list", vec![], vec![], vec![]),
                Kind::Numbers => ("numbers", vec![], vec![], vec![]),
                Kind::Map => ("map", vec![], vec![], vec![]),
                Kind::Json => ("json", vec![], vec![], vec![]),
                Kind::Time => ("time", vec![], vec![], vec![]),
                Kind::Local => ("local", vec![], vec![], vec![]),
                Kind::Rows(sub) => {
                    let n = row_count(raw, &name) + 2;
                    (
                        "rows",
                        vec![],
                        (0..n)
                            .map(|i| inputs_at(sub.iter(), raw, &format!("{name}.{i}.")))
                            .collect(),
                        sub.iter().map(|s| s.label).collect(),
                    )
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

    #[test]
    fn a_local_time_without_seconds_gets_them() {
        let raw: Raw = vec![("f.timing.start".into(), "2026-11-22T03:30".into())];
        assert_eq!(
            build(FIELDS, &raw).unwrap(),
            json!({"timing": {"start": "2026-11-22T03:30:00"}})
        );
    }
}
