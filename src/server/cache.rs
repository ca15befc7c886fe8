//! The Redis cache of list and stats answers, invalidated per project by a generation counter.
//!
//! A cached answer's key holds the project's generation at the time it was read. Every change
//! (a stored batch, a status change, a delete) increments the generation after its commit, so
//! any read that starts after the change uses a new key and never sees the state before it, even
//! if a slower reader writes an old answer under the old generation later.

use super::error::ServerError;
use crate::model::ProjectId;
use deadpool_redis::redis;
use std::time::Duration;

#[derive(Clone)]
pub struct Cache {
    pool: deadpool_redis::Pool,
    prefix: String,
    ttl: Duration,
}

/// Where a cached answer lives: the project's generation when it was looked up, and the key.
pub struct Slot {
    key: String,
}

impl Cache {
    pub fn new(pool: deadpool_redis::Pool, prefix: &str, ttl: Duration) -> Self {
        Self { pool, prefix: format!("{prefix}:cache"), ttl }
    }

    fn gen_key(&self, project: ProjectId) -> String {
        format!("{}:{}:gen", self.prefix, project)
    }

    /// Looks up `what` (e.g. `stats` or a list's query) over `projects` (one, or the several an
    /// All projects list covers): the cached bytes, if any, and the slot to store a fresh answer
    /// in. The key holds every project's generation, so a change to any of them makes it stale.
    pub async fn lookup(&self, projects: &[ProjectId], what: &str) -> Result<(Option<Vec<u8>>, Slot), ServerError> {
        let mut conn = self.pool.get().await?;
        let gen_keys: Vec<String> = projects.iter().map(|p| self.gen_key(*p)).collect();
        let generations: Vec<Option<u64>> = if gen_keys.is_empty() {
            Vec::new()
        } else {
            redis::cmd("MGET").arg(&gen_keys).query_async(&mut conn).await?
        };
        let join = |parts: Vec<String>| parts.join(".");
        let key = format!(
            "{}:{}:{}:{}",
            self.prefix,
            join(projects.iter().map(ToString::to_string).collect()),
            join(generations.iter().map(|g| g.unwrap_or(0).to_string()).collect()),
            what
        );
        let hit: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        Ok((hit, Slot { key }))
    }

    pub async fn store(&self, slot: &Slot, body: &[u8]) -> Result<(), ServerError> {
        let mut conn = self.pool.get().await?;
        let _: () = redis::cmd("SET")
            .arg(&slot.key)
            .arg(body)
            .arg("PX")
            .arg(self.ttl.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Makes every cached answer of these projects stale.
    pub async fn invalidate(&self, projects: &[ProjectId]) -> Result<(), ServerError> {
        if projects.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.get().await?;
        let mut pipe = redis::pipe();
        for p in projects {
            pipe.cmd("INCR").arg(self.gen_key(*p)).ignore();
        }
        let _: () = pipe.query_async(&mut conn).await?;
        Ok(())
    }

    /// `what` of `projects` as a typed value (the dashboard's reads): from the cache when it
    /// holds it for the projects' current data, else computed and stored. A cache that cannot be
    /// reached, or an entry that no longer decodes, is skipped.
    pub async fn get_or_compute<T, E, Fut>(
        &self,
        projects: &[ProjectId],
        what: &str,
        compute: impl FnOnce() -> Fut,
    ) -> Result<T, E>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let lookup = self.lookup(projects, what).await;
        if let Ok((Some(bytes), _)) = &lookup
            && let Ok(value) = serde_json::from_slice(bytes)
        {
            return Ok(value);
        }
        let value = compute().await?;
        if let Ok((_, slot)) = &lookup
            && let Ok(bytes) = serde_json::to_vec(&value)
            && let Err(e) = self.store(slot, &bytes).await
        {
            tracing::warn!(error = %e, "could not cache an answer");
        }
        Ok(value)
    }
}
