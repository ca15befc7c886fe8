//! Retention and the storage budget: the sweep that drops whole days past the retention, deletes
//! a project's errors past its own shorter one, keeps each issue to its limit, ages resolved
//! issues out and drops the oldest days while the database is over its budget; and whether ingest
//! must refuse events because the database cannot take more.
//!
//! Every process checks the database's room every `FAULTLINE_RETENTION_INTERVAL_SECS`; one at a
//! time (under an advisory lock) sweeps.

use super::db::storage::{self, Rows};
use super::error::ServerError;
use super::state::AppState;
use crate::model::{ProjectId, RemovalReason};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use std::sync::{Mutex, RwLock};

/// The advisory lock the sweeping process holds.
const SWEEP_LOCK: i64 = 0x6661_756c_7472_6574; // "faultret"
/// Rows deleted per transaction by a removal of single rows.
const CHUNK: i64 = 5_000;

/// What ingest and `/health` read: why the database cannot take more, if it cannot.
#[derive(Default)]
pub struct Storage {
    refusing: RwLock<Option<String>>,
    /// When the last sweep looked at the issues' limits (issues seen since are looked at next).
    limits_checked: Mutex<Option<DateTime<Utc>>>,
}

impl Storage {
    /// Why ingest refuses events now (`None`: it does not).
    pub fn refusing(&self) -> Option<String> {
        self.refusing.read().map_or(None, |r| r.clone())
    }

    /// Sets why ingest refuses events (`None`: it accepts them); the room check calls it.
    pub fn set_refusing(&self, why: Option<String>) {
        if let Ok(mut r) = self.refusing.write() {
            if *r != why {
                match &why {
                    Some(w) => tracing::error!(reason = %w, "the database cannot take more: ingest refuses events"),
                    None if r.is_some() => tracing::info!("the database has room again: ingest accepts events"),
                    None => {}
                }
            }
            *r = why;
        }
    }
}

/// What one sweep removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Days dropped for the retention, and for the budget.
    pub expired_days: Vec<NaiveDate>,
    pub budget_days: Vec<NaiveDate>,
    /// Single errors deleted (a project's shorter retention, the per-issue limit).
    pub rows: i64,
    /// Resolved issues aged out.
    pub issues: i64,
}

/// Sweeps, then checks the room, every interval, until shutdown.
pub async fn run(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "retention sweep failed; trying again at the next interval");
        }
        tokio::select! {
            _ = tokio::time::sleep(state.settings.retention_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One round: sweeps if no other process is sweeping, then checks the room.
async fn tick(state: &AppState) -> Result<(), ServerError> {
    let mut conn = state.db.acquire().await?;
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(SWEEP_LOCK).fetch_one(&mut *conn).await?;
    if locked {
        let swept = sweep(state, state.clock.wall()).await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(SWEEP_LOCK).execute(&mut *conn).await?;
        let swept = swept?;
        if swept != Sweep::default() {
            tracing::info!(
                expired_days = swept.expired_days.len(),
                budget_days = swept.budget_days.len(),
                rows = swept.rows,
                issues = swept.issues,
                "retention sweep removed old data"
            );
        }
    } else {
        check(state).await?;
    }
    Ok(())
}

/// The retention every project has: its own, or the server's.
fn effective(own: &[(ProjectId, i32)], project: ProjectId, default: u32) -> u32 {
    own.iter().find(|(p, _)| *p == project).map_or(default, |(_, d)| u32::try_from(*d).unwrap_or(default))
}

/// Removes what retention, the limits and the budget call for at `now`, then checks the room.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> Result<Sweep, ServerError> {
    let s = &state.settings;
    let db = &state.db;
    let mut out = Sweep::default();
    let today = now.date_naive();
    storage::ensure_partitions(db, &[today, today + TimeDelta::days(1), today + TimeDelta::days(2)]).await?;

    // Whole days older than every project keeps go at once.
    let own = storage::project_retention(db).await?;
    let longest = own.iter().filter_map(|(_, d)| u32::try_from(*d).ok()).fold(s.retention_days, u32::max);
    let cutoff = (now - TimeDelta::days(i64::from(longest))).date_naive();
    for p in storage::partitions(db).await?.iter().filter(|p| p.day < cutoff) {
        let n = storage::drop_partition(db, p, RemovalReason::Retention).await?;
        state.metrics.removed(RemovalReason::Retention.as_str(), n);
        out.expired_days.push(p.day);
    }

    // Projects that keep less than the longest lose their older errors row by row.
    if !own.is_empty() {
        let projects = storage::per_project(db).await?;
        for project in projects.iter().map(|p| p.id) {
            let days = effective(&own, project, s.retention_days);
            if days >= longest {
                continue;
            }
            let before = now - TimeDelta::days(i64::from(days));
            let n = remove_all(db, Rows::Before(project, before), i64::MAX).await?;
            if n > 0 {
                storage::log(db, RemovalReason::Project, Some(project), n, 0).await?;
                state.metrics.removed(RemovalReason::Project.as_str(), n);
                out.rows += n;
            }
        }
    }

    // Each issue keeps its newest errors up to the limit (issues seen since the last look).
    if s.max_events_per_issue > 0 {
        let since = state.storage.limits_checked.lock().ok().and_then(|l| *l).unwrap_or(DateTime::UNIX_EPOCH);
        let checked_at = Utc::now();
        let mut by_project: std::collections::BTreeMap<ProjectId, i64> = Default::default();
        for (issue, project, excess) in storage::over_limit(db, since, s.max_events_per_issue).await? {
            let n = remove_all(db, Rows::OldestOf(issue), excess).await?;
            *by_project.entry(project).or_default() += n;
            out.rows += n;
        }
        for (project, n) in by_project {
            storage::log(db, RemovalReason::Limit, Some(project), n, 0).await?;
            state.metrics.removed(RemovalReason::Limit.as_str(), n);
        }
        if let Ok(mut l) = state.storage.limits_checked.lock() {
            // A little overlap, for issues whose errors were being stored while we looked.
            *l = Some(checked_at - TimeDelta::minutes(5));
        }
    }

    // Over the budget: the oldest days go, every project's alike, until it fits; today stays.
    if let Some(max) = s.max_storage {
        let max = i64::try_from(max.0).unwrap_or(i64::MAX);
        while storage::database_size(db).await? > max {
            let parts = storage::partitions(db).await?;
            let Some(oldest) = parts.iter().find(|p| p.day < today) else { break };
            let n = storage::drop_partition(db, oldest, RemovalReason::Budget).await?;
            state.metrics.removed(RemovalReason::Budget.as_str(), n);
            out.budget_days.push(oldest.day);
        }
    }
    // Resolved issues whose errors have all gone, unseen for long enough, go last.
    if let Some(days) = s.resolved_issue_days {
        out.issues = storage::age_out_resolved(db, now - TimeDelta::days(i64::from(days))).await?;
        state.metrics.removed_issues(out.issues);
    }
    storage::prune_removals(db, now - TimeDelta::days(90)).await?;
    check(state).await?;
    Ok(out)
}

/// Deletes what `which` selects, at most `max` errors, a chunk per transaction.
async fn remove_all(db: &sqlx::PgPool, which: Rows, max: i64) -> sqlx::Result<i64> {
    let mut removed = 0;
    while removed < max {
        let n = storage::delete_rows(db, which, CHUNK.min(max - removed)).await?;
        removed += n;
        if n == 0 {
            break;
        }
    }
    Ok(removed)
}

/// Sets whether ingest refuses events: the budget cannot be met (over it with nothing older than
/// today left to drop), or PostgreSQL's disk, where this process can see it, has less free space
/// than `FAULTLINE_MIN_FREE_DISK`.
pub async fn check(state: &AppState) -> Result<(), ServerError> {
    let s = &state.settings;
    let mut why = None;
    if let Some(max) = s.max_storage {
        let size = u64::try_from(storage::database_size(&state.db).await?).unwrap_or(0);
        if size > max.0 {
            let today = state.clock.wall().date_naive();
            let droppable = storage::partitions(&state.db).await?.iter().any(|p| p.day < today);
            if !droppable {
                why = Some(format!(
                    "the database ({}) is over FAULTLINE_MAX_STORAGE ({max}) with nothing older than today left to remove",
                    crate::model::format_bytes(size)
                ));
            }
        }
    }
    if why.is_none()
        && let Some(free) = free_disk(state).await
        && free < s.min_free_disk.0
    {
        why = Some(format!(
            "PostgreSQL's disk has {} free, under FAULTLINE_MIN_FREE_DISK ({})",
            crate::model::format_bytes(free),
            s.min_free_disk
        ));
    }
    state.storage.set_refusing(why);
    Ok(())
}

/// Free space on the disk of PostgreSQL's data directory, when this process can see that
/// directory (PostgreSQL on the same machine, and a role allowed to read the setting).
pub async fn free_disk(state: &AppState) -> Option<u64> {
    let dir = storage::data_directory(&state.db).await?;
    tokio::task::spawn_blocking(move || free_space(std::path::Path::new(&dir))).await.ok().flatten()
}

/// Free bytes on the file system holding `path` (`None` when it is not there).
pub fn free_space(path: &std::path::Path) -> Option<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: all-zero bytes are a valid `statvfs` to be filled in.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `stat` a valid out-pointer for the call.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &raw mut stat) };
    (rc == 0).then(|| stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// What the database holds and what went: every project's share, or (with `only`) one project's.
pub async fn report(state: &AppState, only: Option<ProjectId>) -> Result<crate::model::StorageReport, ServerError> {
    use crate::model::{ProjectStorage, StorageReport};
    let s = &state.settings;
    let db = &state.db;
    let (parts, size, holdings, removals, free) = tokio::join!(
        storage::partitions(db),
        storage::database_size(db),
        storage::per_project(db),
        storage::removals(db, only, 20),
        free_disk(state),
    );
    let (parts, holdings, removals) = (parts?, holdings?, removals?);
    let errors_bytes: i64 = parts.iter().map(|p| p.bytes).sum();
    let all_errors: i64 = holdings.iter().map(|h| h.errors).sum();
    let share = |n: i64| -> u64 {
        if all_errors == 0 {
            return 0;
        }
        let bytes = i128::from(errors_bytes) * i128::from(n) / i128::from(all_errors);
        u64::try_from(bytes).unwrap_or(0)
    };
    let projects: Vec<ProjectStorage> = holdings
        .into_iter()
        .filter(|h| only.is_none_or(|p| p == h.id))
        .map(|h| ProjectStorage {
            id: h.id,
            bytes: share(h.errors),
            errors: h.errors,
            oldest: h.oldest,
            retention_days: h.retention_days.and_then(|d| u32::try_from(d).ok()).unwrap_or(s.retention_days),
            own_retention: h.retention_days.is_some(),
            name: h.name,
        })
        .collect();
    Ok(StorageReport {
        database_bytes: u64::try_from(size?).unwrap_or(0),
        errors_bytes: u64::try_from(errors_bytes).unwrap_or(0),
        max_storage: s.max_storage.map(|b| b.0),
        free_disk: free,
        retention_days: s.retention_days,
        max_events_per_issue: s.max_events_per_issue,
        oldest: projects.iter().filter_map(|p| p.oldest).min(),
        refusing: state.storage.refusing(),
        projects,
        removals,
    })
}
