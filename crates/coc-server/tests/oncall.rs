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
