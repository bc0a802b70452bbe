//! Charts rendered on the server as SVG (issue 6): no script needed to
//! see them, and they print.

use std::fmt::Write;

/// Alarm levels in the order they are stacked, with their colours.
const LEVELS: [(&str, &str); 4] = [
    ("Critical", "#d93025"),
    ("Major", "#f29900"),
    ("Minor", "#1a73e8"),
    ("Suggestion", "#80868b"),
];

/// Alarm volume per hour over the last `hours` hours before `now_ms`
/// (Unix ms), stacked by level, as an inline SVG bar chart. `points` are
/// (time, level) pairs; times outside the window are ignored.
pub fn volume_by_level(points: &[(i64, String)], now_ms: i64, hours: usize) -> String {
    let hours = hours.max(1);
    let start = now_ms - hours as i64 * 3_600_000;
    let mut buckets = vec![[0u32; 4]; hours];
    for (t, level) in points {
        if *t < start || *t > now_ms {
            continue;
        }
        let b = (((t - start) / 3_600_000) as usize).min(hours - 1);
        let l = LEVELS.iter().position(|(n, _)| n == level).unwrap_or(3);
        buckets[b][l] += 1;
    }
    let max = buckets
        .iter()
        .map(|b| b.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, pad) = (720.0f64, 160.0f64, 24.0f64);
    let bw = (w - pad) / hours as f64;
    let mut svg = String::new();
    let total: u32 = buckets.iter().flatten().sum();
    let _ = write!(
        svg,
        "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {}\" width=\"100%\" \
         aria-label=\"Alarm volume per hour over the last {hours} hours: {total} alarm(s)\">",
        h + pad
    );
    for (i, b) in buckets.iter().enumerate() {
        let mut y = h;
        for (l, n) in b.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let bh = f64::from(*n) / f64::from(max) * (h - 10.0);
            y -= bh;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {}</title></rect>",
                pad + i as f64 * bw,
                (bw - 2.0).max(1.0),
                LEVELS[l].1,
                n,
                LEVELS[l].0
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{pad}\" y=\"{}\">-{hours} h</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">now</text>\
         <text x=\"0\" y=\"12\">{max}</text></svg><figcaption>Alarms per hour by level: ",
        h + 16.0,
        w,
        h + 16.0
    );
    let legend: Vec<String> = LEVELS
        .iter()
        .map(|(n, c)| format!("{} {n}", swatch(c)))
        .collect();
    let _ = write!(svg, "{}</figcaption></figure>", legend.join(" "));
    svg
}

/// Ticket outcomes as one stacked horizontal bar with a legend: how many
/// of `statuses` are successful, failed, terminated, abnormal, running.
pub fn outcomes(statuses: &[String]) -> String {
    const KINDS: [(&str, &str); 6] = [
        ("successful", "#188038"),
        ("failed", "#d93025"),
        ("abnormal", "#f29900"),
        ("terminated", "#80868b"),
        ("paused", "#9334e6"),
        ("executing", "#1a73e8"),
    ];
    shares(
        &format!("Outcomes of the last {} ticket(s)", statuses.len()),
        &KINDS,
        statuses,
    )
}

/// SLA state of the listed SLA records (ref. 11.5): how many are normal,
/// pre-warned and broken, as one stacked bar with a legend.
pub fn sla_states(states: &[String]) -> String {
    const KINDS: [(&str, &str); 3] = [
        ("normal", "#188038"),
        ("pre_warned", "#f29900"),
        ("has_broken", "#d93025"),
    ];
    shares(
        &format!("SLA state of {} record(s)", states.len()),
        &KINDS,
        states,
    )
}

/// Patch compliance of the listed hosts (ref. 4.2.4): how many are
/// compliant, non-compliant and unknown (never scanned, no baseline).
pub fn patch_compliance(states: &[String]) -> String {
    const KINDS: [(&str, &str); 3] = [
        ("compliant", "#188038"),
        ("non_compliant", "#d93025"),
        ("unknown", "#80868b"),
    ];
    shares(
        &format!("Patch compliance of {} host(s)", states.len()),
        &KINDS,
        states,
    )
}

/// A host's patches by compliance state (ref. 4.2.4).
pub fn patch_states(states: &[String]) -> String {
    const KINDS: [(&str, &str); 6] = [
        ("failed", "#d93025"),
        ("missing", "#f29900"),
        ("installed_pending_reboot", "#9334e6"),
        ("installed_rejected", "#80868b"),
        ("installed", "#188038"),
        ("installed_other", "#1a73e8"),
    ];
    shares(
        &format!("{} patch(es) by state", states.len()),
        &KINDS,
        states,
    )
}

/// How `values` divide among `kinds` ((value, colour) in stacking order),
/// as one horizontal bar 720 units wide with `caption` and a legend of
/// the kinds present. Empty when there are no values.
fn shares(caption: &str, kinds: &[(&str, &str)], values: &[String]) -> String {
    let total = values.len();
    if total == 0 {
        return String::new();
    }
    let (w, h) = (720.0f64, 28.0f64);
    let mut svg = format!(
        "<figure><svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
         aria-label=\"{caption}\">"
    );
    let mut x = 0.0;
    let mut legend = vec![];
    for (k, c) in kinds {
        let n = values.iter().filter(|s| s.as_str() == *k).count();
        if n == 0 {
            continue;
        }
        let bw = n as f64 / total as f64 * w;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"0\" width=\"{bw:.1}\" height=\"{h}\" fill=\"{c}\"><title>{n} {k}</title></rect>"
        );
        x += bw;
        legend.push(format!("{} {} {n}", swatch(c), k.replace('_', " ")));
    }
    let _ = write!(
        svg,
        "</svg><figcaption>{caption}: {}</figcaption></figure>",
        legend.join(" · ")
    );
    svg
}

/// A legend's colour sample: a small SVG square (presentation attributes,
/// so the content security policy needs no inline styles).
fn swatch(colour: &str) -> String {
    format!(
        "<svg class=\"swatch\" width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"{colour}\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn outcome_bar_adds_up() {
        let s: Vec<String> = ["successful", "successful", "failed", "executing"]
            .map(String::from)
            .to_vec();
        let svg = super::outcomes(&s);
        assert!(svg.contains("<title>2 successful</title>"));
        assert!(svg.contains("width=\"360.0\""), "half the bar: {svg}");
        assert!(svg.contains("last 4 ticket(s)"));
        assert_eq!(super::outcomes(&[]), "");
    }

    #[test]
    fn sla_states_divide_the_bar() {
        let s: Vec<String> = ["normal", "has_broken", "has_broken", "pre_warned"]
            .map(String::from)
            .to_vec();
        let svg = super::sla_states(&s);
        assert!(svg.contains("<title>2 has_broken</title>"), "{svg}");
        assert!(
            svg.contains("width=\"360.0\""),
            "half the bar is broken: {svg}"
        );
        assert!(svg.contains("pre warned 1"), "{svg}");
        assert!(svg.contains("SLA state of 4 record(s)"));
    }

    use super::*;

    #[test]
    fn bars_stack_by_level_within_the_window() {
        let now = 100 * 3_600_000;
        let pts = vec![
            (now - 1_000, "Critical".to_string()),
            (now - 2_000, "Major".to_string()),
            (now - 2 * 3_600_000, "Major".to_string()),
            (now - 48 * 3_600_000, "Major".to_string()),
        ];
        let svg = volume_by_level(&pts, now, 24);
        assert!(svg.contains("3 alarm(s)"), "the old one is outside: {svg}");
        // Three bars, and a colour sample per level in the legend.
        assert_eq!(svg.matches("<rect").count(), 3 + LEVELS.len());
        assert!(svg.contains("<title>1 Critical</title>"));
        assert!(svg.starts_with("<figure><svg"));
    }
}
