//! The dashboard's issue-list query: what lives in the page's URL (`/?status=…&level=…&page=2`),
//! parsed leniently (a bad value falls back to its default) and turned into a `Filter`; and
//! `query_pairs`, the one reader of URL query strings (the REST lists and ingest use it too).

use super::error_event::{Level, ParseEnumError, Source, word_enum};
use super::filter::{Filter, IssueSort, MAX_LIMIT, Page};
use super::issue::IssueStatus;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

word_enum!(
    /// The time range of the issue list (by last seen).
    Period { All => "all", Hour => "1h", Day => "24h", Week => "7d", Month => "30d", Custom => "custom" }
);

/// Page size of the issue list unless the URL says otherwise.
pub const PER_PAGE: i64 = 25;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssueQuery {
    /// A project's slug; `None`: every project the caller can see.
    pub project: Option<String>,
    /// `None`: every status.
    pub status: Option<IssueStatus>,
    pub level: Option<Level>,
    pub source: Option<Source>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub q: Option<String>,
    pub period: Period,
    /// Bounds of a custom period (RFC 3339 or `YYYY-MM-DD`).
    pub since: Option<String>,
    pub until: Option<String>,
    pub sort: IssueSort,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

impl Default for IssueQuery {
    fn default() -> Self {
        Self {
            project: None,
            status: Some(IssueStatus::Unresolved),
            level: None,
            source: None,
            environment: None,
            release: None,
            q: None,
            period: Period::All,
            since: None,
            until: None,
            sort: IssueSort::LastSeen,
            page: 1,
            per_page: PER_PAGE,
        }
    }
}

/// A bound of a custom period; `None` for anything unreadable or outside years 1970–9999.
fn parse_time(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            let day = if end_of_day { day.succ_opt()? } else { day };
            day.and_hms_opt(0, 0, 0)?.and_utc()
        }
    };
    (1970..=9999).contains(&t.year()).then_some(t)
}

impl IssueQuery {
    /// Reads a URL query string (with or without the leading `?`).
    pub fn from_query(query: &str) -> Self {
        let mut q = Self::default();
        for (k, v) in query_pairs(query) {
            let (k, v) = (k.as_str(), v.trim());
            let text = || (!v.is_empty()).then(|| v.to_owned());
            match k {
                "project" => q.project = text(),
                "status" => q.status = if v == "all" { None } else { v.parse().ok().or(q.status) },
                "level" => q.level = v.parse().ok(),
                "source" => q.source = v.parse().ok(),
                "environment" => q.environment = text(),
                "release" => q.release = text(),
                "q" => q.q = text(),
                "period" => q.period = v.parse().unwrap_or(Period::All),
                "since" => q.since = text(),
                "until" => q.until = text(),
                "sort" => q.sort = v.parse().unwrap_or_default(),
                "page" => q.page = v.parse().unwrap_or(1).max(1),
                "per_page" => q.per_page = v.parse().unwrap_or(PER_PAGE).clamp(1, MAX_LIMIT),
                _ => {}
            }
        }
        q
    }

    /// The query string of this query (without `?`), defaults left out.
    pub fn to_query(&self) -> String {
        let d = Self::default();
        let mut parts: Vec<String> = Vec::new();
        let mut add = |k: &str, v: &str| parts.push(format!("{k}={}", encode_query_value(v)));
        if let Some(p) = &self.project {
            add("project", p);
        }
        if self.status != d.status {
            add("status", self.status.map_or("all", |s| s.as_str()));
        }
        if let Some(l) = self.level {
            add("level", l.as_str());
        }
        if let Some(s) = self.source {
            add("source", s.as_str());
        }
        for (k, v) in [("environment", &self.environment), ("release", &self.release), ("q", &self.q)] {
            if let Some(v) = v {
                add(k, v);
            }
        }
        if self.period != Period::All {
            add("period", self.period.as_str());
        }
        if self.period == Period::Custom {
            for (k, v) in [("since", &self.since), ("until", &self.until)] {
                if let Some(v) = v {
                    add(k, v);
                }
            }
        }
        if self.sort != IssueSort::LastSeen {
            add("sort", self.sort.as_str());
        }
        if self.per_page != PER_PAGE {
            add("per_page", &self.per_page.to_string());
        }
        if self.page != 1 {
            add("page", &self.page.to_string());
        }
        parts.join("&")
    }

    /// The same query on another page.
    pub fn with_page(&self, page: i64) -> Self {
        Self { page: page.max(1), ..self.clone() }
    }

    /// The list filter at time `now`.
    pub fn filter(&self, now: DateTime<Utc>) -> Filter {
        let since = match self.period {
            Period::All => None,
            Period::Hour => Some(now - Duration::hours(1)),
            Period::Day => Some(now - Duration::hours(24)),
            Period::Week => Some(now - Duration::days(7)),
            Period::Month => Some(now - Duration::days(30)),
            Period::Custom => self.since.as_deref().and_then(|s| parse_time(s, false)),
        };
        let until = match self.period {
            Period::Custom => self.until.as_deref().and_then(|s| parse_time(s, true)),
            _ => None,
        };
        Filter {
            level: self.level,
            source: self.source,
            status: self.status,
            environment: self.environment.clone(),
            release: self.release.clone(),
            q: self.q.clone(),
            since,
            until,
            ..Filter::default()
        }
    }

    pub fn page(&self) -> Page {
        Page { limit: self.per_page, offset: (self.page - 1).saturating_mul(self.per_page) }
    }
}

/// The `name=value` pairs of a URL query string (with or without the leading `?`), both decoded
/// (`%XX` escapes and `+`; bytes that are not UTF-8 become U+FFFD), in order; empty segments are
/// skipped and a pair without `=` has an empty value.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

/// Decodes `%XX` escapes and `+` of a query name or value.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a query or form value (the inverse of `query_pairs`' decoding).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_show_unresolved_issues_by_last_seen() {
        let q = IssueQuery::from_query("");
        assert_eq!(q, IssueQuery::default());
        assert_eq!(q.to_query(), "");
        assert_eq!(q.filter(Utc::now()).status, Some(IssueStatus::Unresolved));
    }

    #[test]
    fn a_query_round_trips_through_the_url() {
        let q = IssueQuery::from_query(
            "?project=checkout-api&status=all&level=fatal&q=payment+100%25+failed&period=7d&sort=count&page=3",
        );
        assert_eq!(q.project.as_deref(), Some("checkout-api"));
        assert_eq!(q.status, None);
        assert_eq!(q.level, Some(Level::Fatal));
        assert_eq!(q.q.as_deref(), Some("payment 100% failed"));
        assert_eq!(q.page().offset, 50);
        assert_eq!(IssueQuery::from_query(&q.to_query()), q);
    }

    #[test]
    fn bad_values_fall_back_to_defaults() {
        let q = IssueQuery::from_query("level=loud&page=-4&per_page=99999&sort=x&period=never&status=bogus");
        assert_eq!(q.level, None);
        assert_eq!(q.page, 1);
        assert_eq!(q.per_page, MAX_LIMIT);
        assert_eq!(q.sort, IssueSort::LastSeen);
        assert_eq!(q.period, Period::All);
        assert_eq!(q.status, Some(IssueStatus::Unresolved));
        assert_eq!(decode("%zz%4"), "%zz%4");
        let pairs: Vec<_> = query_pairs("?a%20b=c+d&&flag&e=%C3%A9").collect();
        assert_eq!(
            pairs,
            [("a b".into(), "c d".into()), ("flag".into(), String::new()), ("e".into(), "é".into())]
                as [(String, String); 3]
        );
        assert_eq!(IssueQuery::from_query("period=custom&since=-5000-01-01").filter(Utc::now()).since, None);
    }

    #[test]
    fn periods_become_time_bounds() {
        let now = Utc::now();
        assert_eq!(IssueQuery::from_query("period=1h").filter(now).since, Some(now - Duration::hours(1)));
        let custom = IssueQuery::from_query("period=custom&since=2026-01-01&until=2026-01-31").filter(now);
        assert_eq!(custom.since.map(|t| t.to_rfc3339()), Some("2026-01-01T00:00:00+00:00".into()));
        assert_eq!(custom.until.map(|t| t.to_rfc3339()), Some("2026-02-01T00:00:00+00:00".into()));
    }
}
