//! Query-string parsing for the list endpoints, with a 422 naming the field for a bad value.

use super::error::ApiError;
use crate::model::{Filter, IssueSort, MAX_LIMIT, Page};
use chrono::{DateTime, Utc};
use std::str::FromStr;

/// A parsed query string: the filter, the page and (for issues) the sort.
pub struct ListQuery {
    pub filter: Filter,
    pub page: Page,
    pub sort: IssueSort,
    /// The normalised query, used as the cache key.
    pub canonical: String,
}

fn parse<T: FromStr>(field: &'static str, raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::invalid(field, format!("{raw:?} is not {what}")))
}

fn parse_time(field: &'static str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(field, format!("{raw:?} is not an RFC 3339 time")))
}

fn parse_word<T: FromStr<Err = crate::model::ParseEnumError>>(field: &'static str, raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|e: crate::model::ParseEnumError| ApiError::invalid(field, e.to_string()))
}

/// The static name of a known parameter (for error messages).
fn field_name(name: &str) -> &'static str {
    const NAMES: [&str; 13] = [
        "limit",
        "offset",
        "level",
        "source",
        "status",
        "sort",
        "resolved",
        "issue_id",
        "environment",
        "release",
        "q",
        "since",
        "until",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("query")
}

impl ListQuery {
    /// Parses `limit, offset, level, source, resolved, status, issue_id, environment, release,
    /// q, since, until, sort`; empty values count as absent, unknown names are ignored.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut filter = Filter::default();
        let mut page = Page::default();
        let mut sort = IssueSort::default();
        for (name, value) in crate::model::query_pairs(raw.unwrap_or("")) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if value.contains('\0') {
                return Err(ApiError::invalid(field_name(&name), "must not contain NUL characters"));
            }
            match name.as_str() {
                "limit" => {
                    page.limit = parse("limit", value, "an integer")?;
                    if !(1..=MAX_LIMIT).contains(&page.limit) {
                        return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
                    }
                }
                "offset" => {
                    page.offset = parse("offset", value, "an integer")?;
                    if page.offset < 0 {
                        return Err(ApiError::invalid("offset", "must not be negative"));
                    }
                }
                "level" => filter.level = Some(parse_word("level", value)?),
                "source" => filter.source = Some(parse_word("source", value)?),
                "status" => filter.status = Some(parse_word("status", value)?),
                "sort" => sort = parse_word("sort", value)?,
                "resolved" => {
                    filter.resolved = Some(match value {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(ApiError::invalid("resolved", "must be true or false")),
                    })
                }
                "issue_id" => filter.issue_id = Some(parse("issue_id", value, "an integer")?),
                "environment" => filter.environment = Some(value.to_owned()),
                "release" => filter.release = Some(value.to_owned()),
                "q" => filter.q = Some(value.to_owned()),
                "since" => filter.since = Some(parse_time("since", value)?),
                "until" => filter.until = Some(parse_time("until", value)?),
                _ => {}
            }
        }
        let canonical = serde_json::to_string(&(&filter, page, sort.as_str()))
            .map_err(|e| ApiError::Internal(super::super::error::ServerError::Encode(e)))?;
        Ok(Self { filter, page, sort, canonical })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_outside_range_names_the_field() {
        for bad in ["0", "501", "-1", "ten"] {
            let q = format!("limit={bad}");
            match ListQuery::parse(Some(&q)) {
                Err(ApiError::Invalid { field, .. }) => assert_eq!(field, "limit"),
                _ => panic!("limit={bad} was accepted"),
            }
        }
        assert_eq!(ListQuery::parse(Some("limit=500")).unwrap().page.limit, 500);
    }

    #[test]
    fn empty_values_are_ignored_and_words_are_checked() {
        let q = ListQuery::parse(Some("level=&source=frontend&resolved=false")).unwrap();
        assert_eq!(q.filter.level, None);
        assert_eq!(q.filter.source, Some(crate::model::Source::Frontend));
        assert_eq!(q.filter.resolved, Some(false));
        assert!(matches!(ListQuery::parse(Some("level=loud")), Err(ApiError::Invalid { field: "level", .. })));
        assert!(matches!(ListQuery::parse(Some("since=yesterday")), Err(ApiError::Invalid { field: "since", .. })));
    }
}
