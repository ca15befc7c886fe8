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

/// Events over time: hourly for the last 24 hours or daily for the last 30 days, as SVG bars.
#[component]
pub fn EventsChart(hourly: Vec<i64>, daily: Vec<i64>) -> impl IntoView {
    let daily_view = RwSignal::new(false);
    let chart = move || {
        let (counts, unit, start) = if daily_view.get() {
            (daily.clone(), "day", "30 days ago")
        } else {
            (hourly.clone(), "hour", "24 hours ago")
        };
        let max = counts.iter().copied().max().unwrap_or(0);
        let total: i64 = counts.iter().sum();
        let (w, h) = (600.0, 120.0);
        let bar = w / counts.len().max(1) as f64;
        let scale = if max == 0 { 0.0 } else { (h - 4.0) / max as f64 };
        let bars = counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let bh = if *c == 0 { 1.0 } else { (*c as f64 * scale).max(2.0) };
                view! {
                    <rect x=format!("{:.1}", i as f64 * bar + 1.0) y=format!("{:.1}", h - bh) width=format!("{:.1}", (bar - 2.0).max(1.0)) height=format!("{bh:.1}") class=if *c == 0 { "bar empty" } else { "bar" }>
                        <title>{format!("{c} events")}</title>
                    </rect>
                }
            })
            .collect_view();
        view! {
            <svg class="chart" viewBox=format!("0 0 {w} {h}") preserveAspectRatio="none" role="img" aria-label=format!("{total} events, per {unit}, peak {max}")>
                {bars}
            </svg>
            <div class="chart-axis"><span>{start}</span><span>{format!("peak {max} per {unit} · {total} in all")}</span><span>"now"</span></div>
        }
    };
    view! {
        <section class="events-chart">
            <div class="chart-head">
                <h3>"Events over time"</h3>
                <span class="toggle" role="group" aria-label="Time range">
                    <button type="button" aria-pressed=move || (!daily_view.get()).to_string() on:click=move |_| daily_view.set(false)>"24 h"</button>
                    <button type="button" aria-pressed=move || daily_view.get().to_string() on:click=move |_| daily_view.set(true)>"30 d"</button>
                </span>
            </div>
            {chart}
        </section>
    }
}

/// Tag facets: each tag's most common values and their share of the events.
#[component]
pub fn Facets(facets: Vec<crate::model::TagFacet>) -> impl IntoView {
    (!facets.is_empty()).then(|| {
        view! {
            <section class="facets">
                <h3>"Tags"</h3>
                <div class="facet-grid">
                    {facets.into_iter().map(|f| {
                        let total = f.total.max(1) as f64;
                        let name = f.key.strip_prefix("tag:").unwrap_or(&f.key).to_owned();
                        view! {
                            <div class="facet" data-facet=f.key.clone()>
                                <h4>{name}</h4>
                                <ul>
                                    {f.values.into_iter().map(|(value, n)| {
                                        let share = n as f64 / total * 100.0;
                                        view! {
                                            <li>
                                                <span class="facet-bar" style=format!("width: {share:.0}%")></span>
                                                <span class="facet-value">{value}</span>
                                                <span class="facet-share">{format!("{share:.0}%")}</span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </div>
                        }
                    }).collect_view()}
                </div>
            </section>
        }
    })
}
