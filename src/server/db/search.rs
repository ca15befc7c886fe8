//! Text search over error messages (`q`): which words of the searched text the trigram index
//! should look up, judged from PostgreSQL's own statistics of the column.
//!
//! A search matches messages that contain the whole text (case-insensitive substring). The
//! trigram index finds candidates by intersecting the posting lists of every trigram of the text,
//! and a word that nearly every message contains ("order", "failed", "Error") has posting lists
//! as long as the table: reading them is most of the cost of a search, while they rule out almost
//! nothing. So a word found in a large share of the sampled messages is left out of the index
//! lookup; the other words find the candidates and the whole text is still checked on each.

use super::like_pattern;
use sqlx::{PgExecutor, Postgres, QueryBuilder};

/// Words in at least this share of the sampled messages are not looked up in the index.
const COMMON_SHARE: f64 = 0.3;

/// Trigrams need words of at least this many characters.
const MIN_WORD_CHARS: usize = 3;

/// A planned text search: the ILIKE pattern of the whole text, and the words (as patterns) the
/// index looks up instead when some words of the text are common.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextSearch {
    pattern: Option<String>,
    narrowing: Vec<String>,
}

impl TextSearch {
    /// No text search.
    pub fn none() -> Self {
        Self::default()
    }

    /// Plans the search for `q`: with two or more words, asks the statistics of
    /// `errors.message` (one small query on `pg_stats`) how common each word is.
    pub async fn plan(db: impl PgExecutor<'_>, q: Option<&str>) -> sqlx::Result<Self> {
        let Some(q) = q else { return Ok(Self::none()) };
        let words = words(q);
        let mut search = Self { pattern: Some(like_pattern(q)), narrowing: Vec::new() };
        if words.len() < 2 {
            return Ok(search);
        }
        let shares = word_shares(db, &words).await?;
        search.narrowing = narrowing_words(&words, &shares).iter().map(|w| like_pattern(w)).collect();
        Ok(search)
    }

    /// Whether common words of the text are left out of the index lookup.
    pub fn is_narrowed(&self) -> bool {
        !self.narrowing.is_empty()
    }

    /// The ILIKE pattern of the whole text, if there is a search.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_deref()
    }

    /// Appends the conditions that `column` (a message) contains the text.
    pub fn push_condition(&self, qb: &mut QueryBuilder<Postgres>, column: &str) {
        let Some(pattern) = &self.pattern else { return };
        if self.narrowing.is_empty() {
            qb.push(" AND ").push(column).push(" ILIKE ").push_bind(pattern.clone());
            return;
        }
        for word in &self.narrowing {
            qb.push(" AND ").push(column).push(" ILIKE ").push_bind(word.clone());
        }
        // `|| ''` keeps the whole text out of the index lookup: it is checked on the candidates.
        qb.push(" AND (").push(column).push(" || '') ILIKE ").push_bind(pattern.clone());
    }
}

/// The distinct lowercase words of `q` long enough to have trigrams, split where the trigram
/// index splits (at anything not a letter or digit).
fn words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in q.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if word.chars().count() >= MIN_WORD_CHARS && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Which of `words` to look up in the index, given the share of messages each appears in: the
/// uncommon ones, unless none is common (then the whole text is looked up, as it is no worse) or
/// all are (nothing narrows better than the whole text).
fn narrowing_words<'w>(words: &'w [String], shares: &[(String, f64)]) -> Vec<&'w String> {
    let share = |w: &String| shares.iter().find(|(s, _)| s == w).map(|(_, v)| *v);
    let uncommon: Vec<&String> = words.iter().filter(|w| share(w).is_some_and(|v| v < COMMON_SHARE)).collect();
    let common = words.iter().filter(|w| share(w).is_some_and(|v| v >= COMMON_SHARE)).count();
    if common == 0 || uncommon.is_empty() {
        return Vec::new();
    }
    uncommon
}

/// The estimated share of messages containing each word, from the column's most common values
/// and histogram (the sample ANALYZE keeps). No rows when the table has no statistics yet.
async fn word_shares(db: impl PgExecutor<'_>, words: &[String]) -> sqlx::Result<Vec<(String, f64)>> {
    sqlx::query_as(
        "SELECT w.word,
                (coalesce((SELECT sum(m.f) FROM unnest(s.most_common_vals::text::text[], s.most_common_freqs) AS m(v, f)
                           WHERE strpos(lower(m.v), w.word) > 0), 0)
                 + (1 - s.null_frac - coalesce((SELECT sum(f) FROM unnest(s.most_common_freqs) AS f), 0))
                   * coalesce((SELECT avg((strpos(lower(h), w.word) > 0)::int) FROM unnest(s.histogram_bounds::text::text[]) AS h), 0)
                )::float8
         FROM unnest($1::text[]) AS w(word)
         CROSS JOIN pg_stats s
         WHERE s.schemaname = current_schema() AND s.tablename = 'errors' AND s.attname = 'message'",
    )
    .bind(words)
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn words_are_split_where_trigrams_are_and_short_ones_dropped() {
        assert_eq!(words("Order #123456 failed: DB"), owned(&["order", "123456", "failed"]));
        assert_eq!(words("KeyError: 'user_id' user"), owned(&["keyerror", "user"]));
        assert_eq!(words("Ошибка заказа"), owned(&["ошибка", "заказа"]));
        assert!(words("a b 12").is_empty());
    }

    #[test]
    fn common_words_are_left_out_of_the_lookup_only_when_an_uncommon_one_remains() {
        let w = owned(&["order", "123456"]);
        let shares = vec![("order".to_owned(), 1.0), ("123456".to_owned(), 0.0)];
        assert_eq!(narrowing_words(&w, &shares), vec![&w[1]]);
        // Nothing common: the whole text narrows best.
        let shares = vec![("order".to_owned(), 0.1), ("123456".to_owned(), 0.0)];
        assert!(narrowing_words(&w, &shares).is_empty());
        // Everything common: the whole text again.
        let shares = vec![("order".to_owned(), 0.9), ("123456".to_owned(), 0.5)];
        assert!(narrowing_words(&w, &shares).is_empty());
        // No statistics yet.
        assert!(narrowing_words(&w, &[]).is_empty());
    }

    #[test]
    fn the_whole_text_is_checked_even_when_words_narrow_the_lookup() {
        let search = TextSearch { pattern: Some("%order 1234%".into()), narrowing: vec!["%1234%".into()] };
        let mut qb = QueryBuilder::new("SELECT 1 FROM errors e WHERE true");
        search.push_condition(&mut qb, "e.message");
        assert_eq!(
            qb.sql().as_str(),
            "SELECT 1 FROM errors e WHERE true AND e.message ILIKE $1 AND (e.message || '') ILIKE $2"
        );
        let mut qb = QueryBuilder::new("SELECT 1 FROM errors e WHERE true");
        TextSearch::none().push_condition(&mut qb, "e.message");
        assert_eq!(qb.sql().as_str(), "SELECT 1 FROM errors e WHERE true");
    }
}
