//! On-call calendar subscriptions over HTTP (issue 16): a user's feed of
//! their own shifts and a scenario's feed, as iCalendar, revocable.

use serde_json::{Value, json};

use crate::harness::Harness;

/// The VEVENT blocks of an iCalendar text, unfolded.
fn events(ics: &str) -> Vec<String> {
    let unfolded = ics.replace("\r\n ", "");
    unfolded
        .split("BEGIN:VEVENT")
        .skip(1)
        .map(|e| e.split("END:VEVENT").next().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_calendar_subscription_lists_my_turns_and_can_be_revoked() {
    let h = Harness::start(0).await;
    h.users(&["ann", "bob", "cid"]).await;
    // A daily rotation from four days ago: turns are certain to fall in
    // the feed's window (a week back, eight weeks ahead).
    let start = (chrono::Utc::now() - chrono::Duration::days(4)).date_naive();
    h.client
        .post(
            "/api/v1/oncall/rotations",
            &json!({"scenario": "payments", "timezone": "Europe/Berlin", "name": "primary",
                "role": "oncall", "participants": ["ann", "bob", "cid"], "length": 1,
                "unit": "days", "handoff_time": "09:00:00", "start": start.to_string()}),
        )
        .await
        .unwrap();
    // The admin's own shifts: the admin is in none.
    let mine = h
        .client
        .post("/api/v1/oncall/feeds", &json!({}))
        .await
        .unwrap();
    let url = mine["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&h.url()), "{url}");
    let token = mine["token"].as_str().unwrap();
    assert!(url.ends_with(token));
    let listed = h.client.get("/api/v1/oncall/feeds", &[]).await.unwrap();
    assert!(
        !listed.to_string().contains(token),
        "the token is shown once"
    );
    let body = reqwest::get(&url).await.unwrap();
    assert_eq!(
        body.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = body.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(events(&ics).is_empty(), "{ics}");
    // The whole scenario: one event per daily turn, named, in UTC.
    let all = h
        .client
        .post(
            "/api/v1/oncall/feeds",
            &json!({"scenario": "payments", "role": "oncall"}),
        )
        .await
        .unwrap();
    let ics = reqwest::get(all["url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ev = events(&ics);
    assert!(ev.len() >= 60, "about 63 daily turns: {}", ev.len());
    assert!(
        ev.iter()
            .all(|e| e.contains("\r\nUID:") && e.contains("\r\nDTSTART:"))
    );
    assert!(
        ev[0].contains("SUMMARY:") && ev[0].contains("on call · payments oncall"),
        "{}",
        ev[0]
    );
    let dtstart = |e: &str| {
        e.lines()
            .find_map(|l| l.strip_prefix("DTSTART:"))
            .unwrap()
            .to_string()
    };
    // Handoffs at 09:00 Berlin: 07:00 or 08:00 UTC, never anything else.
    assert!(
        ev.iter().skip(1).all(|e| {
            let d = dtstart(e);
            d.ends_with("T070000Z") || d.ends_with("T080000Z")
        }),
        "{ics}"
    );
    // Revoked: the URL answers 404 and tells nothing.
    let id = all["id"].as_str().unwrap();
    let (st, _, v) = crate::harness::request(
        &h,
        "DELETE",
        &format!("/api/v1/oncall/feeds/{id}"),
        Some(crate::harness::ADMIN),
        None,
    )
    .await;
    assert_eq!(st, 204, "{v}");
    let gone = reqwest::get(all["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(gone.status(), 404);
    let text = gone.text().await.unwrap();
    assert!(!text.contains(all["token"].as_str().unwrap()), "{text}");
    let bad: Value = h
        .client
        .post(
            "/api/v1/oncall/feeds",
            &json!({"scenario": "payments", "role": "ghost"}),
        )
        .await
        .unwrap_err()
        .to_string()
        .into();
    assert!(bad.as_str().unwrap().contains("ghost"), "{bad}");
}

/// Issue 16: an application's own rotation (application dimension) — set
/// up, overridden, changed and removed through the API by its
/// application; its calendar and "who is on call" name its people, other
/// applications keep the global schedule, and a feed lists both.
#[tokio::test]
async fn an_application_has_its_own_rotation() {
    let h = Harness::start(0).await;
    h.users(&["ann", "bob", "cid", "dan", "eve"]).await;
    h.applications(&["checkout"]).await;
    let c = &h.client;
    let start = (chrono::Utc::now() - chrono::Duration::days(3)).date_naive();
    let rotation = |people: &[&str], application: Option<&str>| {
        json!({"scenario": "shop", "timezone": "UTC", "name": "primary", "role": "oncall",
            "participants": people, "length": 1, "unit": "weeks", "handoff_time": "09:00:00",
            "start": start.to_string(), "application": application})
    };
    c.post("/api/v1/oncall/rotations", &rotation(&["ann", "bob"], None))
        .await
        .unwrap();
    let sc = c
        .post(
            "/api/v1/oncall/rotations",
            &rotation(&["cid", "dan"], Some("checkout")),
        )
        .await
        .unwrap();
    assert_eq!(sc["dimension"], "application", "{sc}");
    let now = chrono::Utc::now().to_rfc3339();
    let who = |app: Option<&'static str>| {
        let mut q = vec![
            ("scenario", "shop".to_string()),
            ("role", "oncall".to_string()),
            ("at", now.clone()),
        ];
        if let Some(a) = app {
            q.push(("application", a.to_string()));
        }
        async move { c.get("/api/v1/oncall/who", &q).await.unwrap()["on_call"].clone() }
    };
    assert_eq!(who(None).await, json!(["ann"]));
    assert_eq!(who(Some("checkout")).await, json!(["cid"]));
    assert_eq!(who(Some("search")).await, json!(["ann"]));
    let cal = c
        .get(
            "/api/v1/oncall/calendar",
            &[
                ("scenario", "shop".to_string()),
                ("role", "oncall".to_string()),
                ("application", "checkout".to_string()),
                ("days", "14".to_string()),
            ],
        )
        .await
        .unwrap();
    let people: Vec<&str> = cal["slots"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["people"].as_array().unwrap().iter())
        .filter_map(Value::as_str)
        .collect();
    assert!(people.contains(&"cid") && people.contains(&"dan"), "{cal}");
    assert!(!people.contains(&"ann"), "{cal}");
    // An override of the application's schedule only.
    let from = chrono::Utc::now() - chrono::Duration::minutes(5);
    c.post(
        "/api/v1/oncall/scenarios/shop/overrides?application=checkout",
        &json!({"role": "oncall", "person": "eve", "covering": "cid",
            "from": from.to_rfc3339(), "until": (from + chrono::Duration::hours(1)).to_rfc3339()}),
    )
    .await
    .unwrap();
    assert_eq!(who(Some("checkout")).await, json!(["eve"]));
    assert_eq!(who(None).await, json!(["ann"]));
    // A feed of the scenario names the application's turns.
    let feed = c
        .post("/api/v1/oncall/feeds", &json!({"scenario": "shop"}))
        .await
        .unwrap();
    let ics = reqwest::get(feed["url"].as_str().unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ics = ics.replace("\r\n ", "");
    assert!(ics.contains("shop (checkout)"), "{ics}");
    // A schedule that is not there is refused; the application's goes.
    let e = c
        .delete("/api/v1/oncall/scenarios/shop/rotations/primary?application=search")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no schedule for 'search'"), "{e}");
    c.delete("/api/v1/oncall/scenarios/shop/rotations/primary?application=checkout")
        .await
        .unwrap();
    assert_eq!(who(None).await, json!(["ann"]));
}
