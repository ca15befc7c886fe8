//! Small pieces the pages share.

pub mod event_view;

use crate::model::Level;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// A level as a coloured badge.
#[component]
pub fn LevelBadge(level: Level) -> impl IntoView {
    view! { <span class=format!("level level-{}", level.as_str())>{level.as_str()}</span> }
}

/// "3 min ago" relative to `now`, with the exact time on hover.
#[component]
pub fn Ago(at: DateTime<Utc>, now: DateTime<Utc>) -> impl IntoView {
    view! {
        <time datetime=at.to_rfc3339() title=at.format("%Y-%m-%d %H:%M:%S UTC").to_string()>
            {ago(at, now)}
        </time>
    }
}

pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        ..=9 => "just now".into(),
        10..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// A small bar chart of counts (oldest first), drawn as SVG.
#[component]
pub fn Trend(
    counts: Vec<i64>,
    #[prop(default = "Errors per hour, last 24 hours")] label: &'static str,
) -> impl IntoView {
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = counts.len().max(1) as f64;
    let width = 96.0;
    let height = 24.0;
    let bar = width / n;
    let total: i64 = counts.iter().sum();
    let bars = counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let h = if c == 0 { 1.0 } else { (c as f64 / max * height).max(2.0) };
            view! {
                <rect
                    x=format!("{:.2}", i as f64 * bar)
                    y=format!("{:.2}", height - h)
                    width=format!("{:.2}", (bar - 1.0).max(1.0))
                    height=format!("{h:.2}")
                    class=if c == 0 { "bar empty" } else { "bar" }
                ></rect>
            }
        })
        .collect_view();
    view! {
        <svg class="trend" viewBox=format!("0 0 {width} {height}") role="img" aria-label=format!("{label}: {total}")>
            {bars}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::ago;
    use chrono::{Duration, Utc};

    #[test]
    fn ago_reads_like_a_person_would_say_it() {
        let now = Utc::now();
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - Duration::seconds(42), now), "42 s ago");
        assert_eq!(ago(now - Duration::minutes(3), now), "3 min ago");
        assert_eq!(ago(now - Duration::hours(5), now), "5 h ago");
        assert_eq!(ago(now - Duration::days(2), now), "2 d ago");
    }
}
