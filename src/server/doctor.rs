//! Checks of a deployment, each answered in plain words: `faultline doctor` prints them, `/health`
//! lists their warnings. PostgreSQL and Redis reachable and their versions, the migrations, Redis
//! persistence, PostgreSQL durability, free disk, the public URL, the SMTP relay, and secrets still
//! at their development defaults.

use super::config::DEV_API_KEY;
use super::db;
use super::queue::Persistence;
use super::state::AppState;
use serde::Serialize;
use std::time::Duration;

/// How grave a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    /// Works, but would lose data or fail a user in some case.
    Warning,
    /// Does not work.
    Problem,
}

/// One check's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A short name of what was checked (`postgres`, `redis_persistence`, …).
    pub check: &'static str,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Self { check, severity: Severity::Ok, message: message.into() }
    }
    fn warning(check: &'static str, message: impl Into<String>) -> Self {
        Self { check, severity: Severity::Warning, message: message.into() }
    }
    fn problem(check: &'static str, message: impl Into<String>) -> Self {
        Self { check, severity: Severity::Problem, message: message.into() }
    }
}

/// The development default of `FAULTLINE_ADMIN_PASSWORD`, as `.env.example` suggests it.
pub const DEV_ADMIN_PASSWORD: &str = "choose-a-long-password";

/// How long each check may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the checks may reach out over the network (the public URL, the SMTP relay).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Only this process's own services and settings (every `/health`).
    Local,
    /// Also what lies beyond them (`faultline doctor`, and `/health` every few minutes).
    Network,
}

/// Runs every check.
pub async fn examine(state: &AppState, reach: Reach) -> Vec<Finding> {
    let mut out = Vec::new();
    let pg_up = postgres(state, &mut out).await;
    redis(state, &mut out).await;
    if pg_up {
        migrations(state, &mut out).await;
        durability(state, &mut out).await;
        disk(state, &mut out).await;
        dev_key_in_database(state, &mut out).await;
    }
    spool_disk(state, &mut out).await;
    secrets(state, &mut out);
    public_url_setting(&state.settings.public_url, &mut out);
    if reach == Reach::Network {
        out.push(public_url_reachable(&state.settings.public_url).await);
        out.push(smtp(state).await);
    }
    out
}

/// Where the database is, without its password.
fn database_place(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}, database {}",
            u.host_str().unwrap_or("local socket"),
            u.port().unwrap_or(5432),
            u.path().trim_start_matches('/')
        ),
        Err(_) => "DATABASE_URL".into(),
    }
}

/// Where Redis is, without its password.
fn redis_place(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}:{}", u.host_str().unwrap_or("local socket"), u.port().unwrap_or(6379)),
        Err(_) => "REDIS_URL".into(),
    }
}

async fn postgres(state: &AppState, out: &mut Vec<Finding>) -> bool {
    let place = database_place(state.settings.database_url.expose());
    match tokio::time::timeout(TIMEOUT, db::deployment::server_version(&state.db)).await {
        Ok(Ok(version)) => {
            let short = version.split_whitespace().next().unwrap_or(&version).to_owned();
            out.push(Finding::ok("postgres", format!("PostgreSQL {short} answers ({place})")));
            true
        }
        Ok(Err(e)) => {
            out.push(Finding::problem("postgres", format!("PostgreSQL cannot be reached ({place}): {e}")));
            false
        }
        Err(_) => {
            out.push(Finding::problem("postgres", format!("PostgreSQL did not answer within 5 s ({place})")));
            false
        }
    }
}

async fn redis(state: &AppState, out: &mut Vec<Finding>) {
    let place = redis_place(state.settings.redis_url.expose());
    let facts = match tokio::time::timeout(TIMEOUT, state.queue.redis_facts()).await {
        Ok(Ok(facts)) => facts,
        Ok(Err(e)) => return out.push(Finding::problem("redis", format!("Redis cannot be reached ({place}): {e}"))),
        Err(_) => return out.push(Finding::problem("redis", format!("Redis did not answer within 5 s ({place})"))),
    };
    let version = facts.version.as_deref().unwrap_or("(version not told)");
    out.push(Finding::ok("redis", format!("Redis {version} answers ({place})")));
    out.push(redis_persistence(facts.persistence));
}

/// What Redis's persistence means for the queue.
fn redis_persistence(p: Option<Persistence>) -> Finding {
    const CHECK: &str = "redis_persistence";
    match p {
        Some(Persistence { append_only: true, .. }) => {
            Finding::ok(CHECK, "Redis logs every write (appendonly yes): the queue survives a restart")
        }
        Some(Persistence { append_only: false, snapshots: true }) => Finding::warning(
            CHECK,
            "Redis keeps only snapshots (appendonly no): a Redis crash loses the events queued since the last \
             snapshot. Set appendonly yes",
        ),
        Some(Persistence { append_only: false, snapshots: false }) => Finding::warning(
            CHECK,
            "Redis keeps nothing on disk (appendonly no, no save points): a Redis restart loses every queued \
             event. Set appendonly yes",
        ),
        None => Finding::warning(
            CHECK,
            "Redis does not say how it keeps its data (CONFIG is disabled): make sure appendonly is yes, or a \
             Redis restart may lose queued events",
        ),
    }
}

async fn migrations(state: &AppState, out: &mut Vec<Finding>) {
    let known: Vec<i64> =
        db::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect();
    match db::deployment::applied_migrations(&state.db).await {
        Ok(applied) => out.push(migration_state(&known, applied.as_deref())),
        Err(e) => out.push(Finding::problem("migrations", format!("could not read the applied migrations: {e}"))),
    }
}

/// Compares the migrations this binary has with those the database recorded.
fn migration_state(known: &[i64], applied: Option<&[(i64, bool)]>) -> Finding {
    const CHECK: &str = "migrations";
    let Some(applied) = applied else {
        return Finding::warning(CHECK, "the database is empty: the server applies its migrations when it starts");
    };
    if let Some((v, _)) = applied.iter().find(|(_, ok)| !ok) {
        return Finding::problem(
            CHECK,
            format!("migration {v} failed halfway: the server will not start until it is repaired"),
        );
    }
    let newer: Vec<i64> = applied.iter().map(|(v, _)| *v).filter(|v| !known.contains(v)).collect();
    if !newer.is_empty() {
        return Finding::warning(
            CHECK,
            format!(
                "the database has {} migration(s) this binary does not know ({}): a newer faultline ran on it",
                newer.len(),
                newer.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let missing = known.iter().filter(|v| !applied.iter().any(|(a, _)| a == *v)).count();
    if missing > 0 {
        return Finding::warning(
            CHECK,
            format!(
                "{missing} of {} migrations are not applied yet: the server applies them when it starts",
                known.len()
            ),
        );
    }
    Finding::ok(CHECK, format!("all {} migrations are applied", known.len()))
}

async fn durability(state: &AppState, out: &mut Vec<Finding>) {
    match db::deployment::durability(&state.db).await {
        Ok((fsync, commit)) => out.extend(durability_findings(&fsync, &commit)),
        Err(e) => out
            .push(Finding::warning("postgres_durability", format!("could not read fsync and synchronous_commit: {e}"))),
    }
}

/// What `fsync` and `synchronous_commit` mean for accepted errors.
fn durability_findings(fsync: &str, synchronous_commit: &str) -> Vec<Finding> {
    const CHECK: &str = "postgres_durability";
    let mut out = Vec::new();
    if fsync == "off" {
        out.push(Finding::warning(
            CHECK,
            "PostgreSQL runs with fsync = off: a power cut or OS crash can lose stored errors or corrupt the \
             database. Set fsync = on",
        ));
    }
    if synchronous_commit == "off" {
        out.push(Finding::warning(
            CHECK,
            "PostgreSQL runs with synchronous_commit = off: the worker takes events off the queue once PostgreSQL \
             says they are stored, so a PostgreSQL crash can lose the last ones. Set synchronous_commit = on",
        ));
    }
    if out.is_empty() {
        out.push(Finding::ok(CHECK, "PostgreSQL flushes every commit (fsync and synchronous_commit on)"));
    }
    out
}

async fn disk(state: &AppState, out: &mut Vec<Finding>) {
    let min = state.settings.min_free_disk;
    out.push(match super::retention::free_disk(state).await {
        None => Finding::ok(
            "disk",
            "PostgreSQL's disk is not visible from here (another machine, or a role that may not read \
             data_directory): watch its free space yourself",
        ),
        Some(free) if free < min.0 => Finding::problem(
            "disk",
            format!(
                "PostgreSQL's disk has {} free, under FAULTLINE_MIN_FREE_DISK ({min}): ingest refuses events",
                crate::model::format_bytes(free)
            ),
        ),
        Some(free) if free < min.0.saturating_mul(4).max(4 << 30) => Finding::warning(
            "disk",
            format!(
                "PostgreSQL's disk has only {} free: at FAULTLINE_MIN_FREE_DISK ({min}) ingest refuses events; \
                 set FAULTLINE_MAX_STORAGE or a shorter retention",
                crate::model::format_bytes(free)
            ),
        ),
        Some(free) => Finding::ok("disk", format!("PostgreSQL's disk has {} free", crate::model::format_bytes(free))),
    });
}

async fn spool_disk(state: &AppState, out: &mut Vec<Finding>) {
    let Some(dir) = state.settings.spool_dir.clone().filter(|_| state.settings.spool_max_bytes > 0) else {
        return;
    };
    let max = state.settings.spool_max_bytes;
    // The spool's directory may not exist yet: its nearest existing parent holds it then.
    let free = tokio::task::spawn_blocking(move || {
        dir.ancestors().find(|p| p.exists()).and_then(super::retention::free_space)
    })
    .await
    .ok()
    .flatten();
    if let Some(free) = free.filter(|f| *f < max) {
        out.push(Finding::warning(
            "spool",
            format!(
                "the spool's disk has {} free, less than FAULTLINE_SPOOL_MAX_BYTES ({}): while Redis is down, \
                 ingest may fail before the spool is full",
                crate::model::format_bytes(free),
                crate::model::format_bytes(max)
            ),
        ));
    }
}

async fn dev_key_in_database(state: &AppState, out: &mut Vec<Finding>) {
    if state.settings.uses_dev_api_key() {
        return; // said by `secrets`
    }
    if let Ok(Some(project)) = db::api_keys::find_project(&state.db, &db::api_keys::hash(DEV_API_KEY)).await {
        out.push(Finding::warning(
            "dev_api_key",
            format!(
                "the development API key {DEV_API_KEY:?} still works for project {project}: revoke it in the \
                 project's settings (API keys)"
            ),
        ));
    }
}

fn secrets(state: &AppState, out: &mut Vec<Finding>) {
    let s = &state.settings;
    if s.uses_dev_api_key() {
        out.push(Finding::warning(
            "dev_api_key",
            format!(
                "FAULTLINE_API_KEY is the development default {DEV_API_KEY:?}: anyone who knows it can send and read \
                 errors. Set your own key and revoke this one"
            ),
        ));
    }
    if s.admin_password.as_ref().is_some_and(|p| p.expose() == DEV_ADMIN_PASSWORD) {
        out.push(Finding::warning(
            "dev_admin_password",
            "FAULTLINE_ADMIN_PASSWORD is still the example from .env.example: set a password of your own",
        ));
    }
    if s.metrics_token.as_ref().is_some_and(|t| t.expose().len() < 16) {
        out.push(Finding::warning(
            "metrics_token",
            "FAULTLINE_METRICS_TOKEN is shorter than 16 characters: easy to guess",
        ));
    }
}

/// Whether the public URL is one SDKs elsewhere can reach at all.
fn public_url_setting(public_url: &str, out: &mut Vec<Finding>) {
    let host = url::Url::parse(public_url).ok().and_then(|u| u.host_str().map(str::to_owned));
    match host {
        None => out.push(Finding::problem("public_url", format!("FAULTLINE_PUBLIC_URL {public_url:?} is not a URL"))),
        Some(h) if h == "localhost" || h.starts_with("127.") || h == "[::1]" => out.push(Finding::warning(
            "public_url",
            format!(
                "FAULTLINE_PUBLIC_URL is {public_url}: DSNs and links in alerts point at this machine, which SDKs and \
                 people elsewhere cannot reach. Set it to the address they use"
            ),
        )),
        Some(_) => {}
    }
}

/// Whether `GET <public URL>/health/live` answers from here.
async fn public_url_reachable(public_url: &str) -> Finding {
    const CHECK: &str = "public_url_reachable";
    let client = match super::alerts::http::client(true) {
        Ok(c) => c,
        Err(e) => return Finding::warning(CHECK, format!("could not make an HTTP client: {e}")),
    };
    let url = format!("{}/health/live", public_url.trim_end_matches('/'));
    match tokio::time::timeout(TIMEOUT, client.get(&url).send()).await {
        Ok(Ok(res)) if res.status().is_success() => Finding::ok(CHECK, format!("{public_url} answers")),
        Ok(Ok(res)) => {
            Finding::warning(CHECK, format!("{url} answers HTTP {}: is it faultline?", res.status().as_u16()))
        }
        Ok(Err(e)) => Finding::warning(CHECK, format!("{public_url} cannot be reached from here: {e}")),
        Err(_) => Finding::warning(CHECK, format!("{public_url} did not answer within 5 s")),
    }
}

async fn smtp(state: &AppState) -> Finding {
    const CHECK: &str = "smtp";
    let Some(mailer) = state.alerts.mailer() else {
        return Finding::ok(
            CHECK,
            "email is off (no FAULTLINE_SMTP_URL): email alerts and password resets are not sent",
        );
    };
    match tokio::time::timeout(Duration::from_secs(15), mailer.check()).await {
        Ok(Ok(())) => Finding::ok(CHECK, "the SMTP relay answers"),
        Ok(Err(e)) => Finding::problem(CHECK, format!("the SMTP relay cannot be reached: {e}")),
        Err(_) => Finding::problem(CHECK, "the SMTP relay did not answer within 15 s"),
    }
}

/// The findings as `faultline doctor` prints them, and whether any is a problem.
pub fn report(findings: &[Finding]) -> (String, bool) {
    use std::fmt::Write;
    let mut text = String::from("faultline doctor: checking this deployment\n\n");
    for f in findings {
        let word = match f.severity {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Problem => "PROBLEM",
        };
        let _ = writeln!(text, "  {word:<8} {}", f.message);
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (warnings, problems) = (count(Severity::Warning), count(Severity::Problem));
    let _ = writeln!(text, "\n{problems} problem(s), {warnings} warning(s).");
    (text, problems > 0)
}

/// How long `/health` reuses the local checks (load balancers ask every few seconds).
const LOCAL_FRESH: Duration = Duration::from_secs(15);

/// The checks `/health` shows: the local ones, made again when older than 15 s, and those of the
/// public URL and SMTP relay, made every ten minutes by `watch`.
#[derive(Default)]
pub struct Checks {
    local: std::sync::Mutex<Option<(std::time::Instant, Vec<Finding>)>>,
    network: std::sync::Mutex<Vec<Finding>>,
}

impl Checks {
    /// Every finding for `/health`.
    pub async fn for_health(&self, state: &AppState) -> Vec<Finding> {
        let cached = self
            .local
            .lock()
            .ok()
            .and_then(|l| l.as_ref().filter(|(at, _)| at.elapsed() < LOCAL_FRESH).map(|(_, f)| f.clone()));
        let mut all = match cached {
            Some(f) => f,
            None => {
                let f = examine(state, Reach::Local).await;
                if let Ok(mut l) = self.local.lock() {
                    *l = Some((std::time::Instant::now(), f.clone()));
                }
                f
            }
        };
        all.extend(self.network.lock().map(|n| n.clone()).unwrap_or_default());
        all
    }

    fn set_network(&self, findings: Vec<Finding>) {
        if let Ok(mut n) = self.network.lock() {
            *n = findings;
        }
    }
}

/// How often the server checks its public URL and SMTP relay for `/health`.
const REACH_INTERVAL: Duration = Duration::from_secs(600);

/// Checks the public URL and the SMTP relay a little after the start, then every ten minutes.
pub async fn watch(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(20);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let found = vec![public_url_reachable(&state.settings.public_url).await, smtp(&state).await];
        state.checks.set_network(found);
        wait = REACH_INTERVAL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_without_an_append_only_log_is_a_warning() {
        let p = |append_only, snapshots| Some(Persistence { append_only, snapshots });
        assert_eq!(redis_persistence(p(true, false)).severity, Severity::Ok);
        assert_eq!(redis_persistence(p(false, true)).severity, Severity::Warning);
        assert!(redis_persistence(p(false, false)).message.contains("loses every queued event"));
        assert_eq!(redis_persistence(None).severity, Severity::Warning);
    }

    #[test]
    fn fsync_or_synchronous_commit_off_is_a_warning() {
        assert_eq!(
            durability_findings("on", "on"),
            vec![Finding::ok("postgres_durability", durability_findings("on", "on")[0].message.clone())]
        );
        let off = durability_findings("off", "off");
        assert_eq!(off.len(), 2);
        assert!(off.iter().all(|f| f.severity == Severity::Warning));
        assert!(off[0].message.contains("fsync = off") && off[1].message.contains("synchronous_commit = off"));
        assert_eq!(durability_findings("on", "local")[0].severity, Severity::Ok);
    }

    #[test]
    fn migrations_missing_failed_or_newer_are_told_apart() {
        let known = [1, 2, 3];
        assert_eq!(migration_state(&known, Some(&[(1, true), (2, true), (3, true)])).severity, Severity::Ok);
        let missing = migration_state(&known, Some(&[(1, true)]));
        assert!(missing.message.starts_with("2 of 3 migrations"), "{missing:?}");
        assert_eq!(migration_state(&known, Some(&[(1, true), (2, false)])).severity, Severity::Problem);
        assert!(
            migration_state(&known, Some(&[(1, true), (2, true), (3, true), (4, true)]))
                .message
                .contains("newer faultline")
        );
        assert_eq!(migration_state(&known, None).severity, Severity::Warning);
    }

    #[test]
    fn a_public_url_on_this_machine_is_a_warning() {
        let mut out = Vec::new();
        public_url_setting("http://127.0.0.1:3000", &mut out);
        public_url_setting("https://errors.example.com", &mut out);
        public_url_setting("not a url", &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!((out[0].check, out[0].severity), ("public_url", Severity::Warning));
        assert_eq!(out[1].severity, Severity::Problem);
    }

    #[test]
    fn places_never_show_passwords() {
        assert_eq!(database_place("postgres://u:hunter2@db.internal:6432/ft"), "db.internal:6432, database ft");
        assert_eq!(redis_place("redis://:hunter2@cache:6380"), "cache:6380");
    }
}
