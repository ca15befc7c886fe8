//! Prometheus metrics: what this process counts as it works (requests by route and status, events
//! taken in and refused, the worker's batches, alert deliveries, retention's removals) and what
//! `GET /metrics` measures when it is scraped (the queue, the connection pools, memory). Encoded
//! by `prometheus-client` in the Prometheus text format; each `AppState` has its own registry.

use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// Where an event came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Sentry's `/api/{project}/envelope/` (and envelopes sent to `/store/`).
    Envelope,
    /// Sentry's `/api/{project}/store/` with one JSON event.
    Store,
    /// The REST API's `POST /api/errors`.
    Rest,
}

impl Endpoint {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Envelope => "envelope",
            Self::Store => "store",
            Self::Rest => "rest",
        }
    }

    /// The ingest endpoint a matched route is, if it is one.
    fn of_route(route: &str, method: &Method) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        match route {
            "/api/{project_id}/envelope/" | "/api/{project_id}/envelope" => Some(Self::Envelope),
            "/api/{project_id}/store/" | "/api/{project_id}/store" => Some(Self::Store),
            "/api/errors" => Some(Self::Rest),
            _ => None,
        }
    }
}

/// Put on an error answer by the ingest and REST error types: the code clients read, so the
/// request metrics can count a refused event by its reason.
#[derive(Clone, Copy, Debug)]
pub struct Refusal(pub &'static str);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    channel: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds from half a millisecond to about 16 s.
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Seconds from 10 ms to about 40 s.
fn delivery_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

/// What a delivery came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; tried again later.
    Retry,
    /// Failed for good.
    Failed,
}

impl DeliveryOutcome {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry => "retry",
            Self::Failed => "failed",
        }
    }
}

/// This process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Histograms<RouteLabel>,
    accepted: Family<EndpointLabel, Counter>,
    rejected: Family<ReasonLabel, Counter>,
    throttled: Family<ReasonLabel, Counter>,
    stored: Counter,
    batch_entries: Histogram,
    batch_duration: Histogram,
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_duration: Histograms<ChannelLabel>,
    removed_errors: Family<ReasonLabel, Counter>,
    removed_issues: Counter,
    up: Family<ServiceLabel, Gauge>,
    queue_length: Gauge,
    queue_pending: Gauge,
    queue_oldest: Gauge<f64, AtomicU64>,
    db_connections: Family<StateLabel, Gauge>,
    db_max: Gauge,
    redis_connections: Family<StateLabel, Gauge>,
    memory: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers a new metric (no unit) and answers it.
fn add<M: prometheus_client::registry::Metric + Clone + Default>(r: &mut Registry, name: &str, help: &str) -> M {
    let metric = M::default();
    r.register(name, help, metric.clone());
    metric
}

/// Registers `metric`, measured in seconds, and answers it.
fn add_in<M: prometheus_client::registry::Metric + Clone>(r: &mut Registry, name: &str, help: &str, metric: M) -> M {
    r.register_with_unit(name, help, Unit::Seconds, metric.clone());
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::default();
        let requests =
            add(&mut r, "faultline_http_requests", "HTTP requests answered, by matched route, method and status");
        let request_duration = add_in(
            &mut r,
            "faultline_http_request_duration",
            "Time to answer an HTTP request, by matched route",
            Family::new_with_constructor(request_buckets as fn() -> Histogram),
        );
        let accepted = add(&mut r, "faultline_events_accepted", "Events queued, by the endpoint they came in at");
        let rejected = add(
            &mut r,
            "faultline_events_rejected",
            "Event requests refused as invalid, unauthorised or too large, or while a service was down, by reason",
        );
        let throttled = add(
            &mut r,
            "faultline_events_rate_limited",
            "Event requests answered 429 or 503 to slow the sender (rate limit, full queue, spool or database, overload), by reason",
        );
        let stored = add(&mut r, "faultline_events_stored", "Errors the worker stored in PostgreSQL");
        let batch_entries = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        r.register("faultline_worker_batch_entries", "Queue entries per stored batch", batch_entries.clone());
        let batch_duration = add_in(
            &mut r,
            "faultline_worker_batch_duration",
            "Time to store and acknowledge one batch",
            Histogram::new(exponential_buckets(0.001, 2.0, 15)),
        );
        let deliveries =
            add(&mut r, "faultline_alert_deliveries", "Alert delivery attempts, by channel kind and outcome");
        let delivery_duration = add_in(
            &mut r,
            "faultline_alert_delivery_duration",
            "Time a receiver took to answer a delivery, by channel kind",
            Family::new_with_constructor(delivery_buckets as fn() -> Histogram),
        );
        let removed_errors = add(
            &mut r,
            "faultline_retention_removed_errors",
            "Stored errors removed by retention, the per-issue limit or the storage budget, by reason",
        );
        let removed_issues = add(
            &mut r,
            "faultline_retention_removed_issues",
            "Resolved issues aged out (FAULTLINE_RESOLVED_ISSUE_DAYS)",
        );
        let up =
            add(&mut r, "faultline_service_up", "Whether PostgreSQL and Redis answered at this scrape (1) or not (0)");
        let queue_length =
            add(&mut r, "faultline_queue_length", "Entries on the queue not yet stored (waiting or being stored)");
        let queue_pending =
            add(&mut r, "faultline_queue_pending", "Entries a worker has taken and not yet acknowledged");
        let queue_oldest = add_in(
            &mut r,
            "faultline_queue_oldest_age",
            "Age of the oldest entry not yet stored (0 when the queue is empty)",
            Gauge::<f64, AtomicU64>::default(),
        );
        let db_connections =
            add(&mut r, "faultline_db_pool_connections", "PostgreSQL connections of this process, in use or idle");
        let db_max = add(&mut r, "faultline_db_pool_max_connections", "FAULTLINE_DB_MAX_CONNECTIONS");
        let redis_connections = add(
            &mut r,
            "faultline_redis_pool_connections",
            "Redis pool connections in use and idle, and requests waiting for one",
        );
        let memory = Gauge::default();
        r.register_with_unit("process_resident_memory", "Resident memory of this process", Unit::Bytes, memory.clone());
        let build = Family::<VersionLabel, Gauge>::default();
        build.get_or_create(&VersionLabel { version: env!("CARGO_PKG_VERSION") }).set(1);
        r.register("faultline_build_info", "The running version (always 1)", build);
        Self {
            registry: r,
            requests,
            request_duration,
            accepted,
            rejected,
            throttled,
            stored,
            batch_entries,
            batch_duration,
            deliveries,
            delivery_duration,
            removed_errors,
            removed_issues,
            up,
            queue_length,
            queue_pending,
            queue_oldest,
            db_connections,
            db_max,
            redis_connections,
            memory,
        }
    }

    /// One event queued.
    pub fn accepted(&self, endpoint: Endpoint) {
        self.accepted.get_or_create(&EndpointLabel { endpoint: endpoint.as_str() }).inc();
    }

    /// One answered request; `refusal` is the error code of an error answer.
    fn request(
        &self,
        route: Option<&str>,
        method: &Method,
        status: StatusCode,
        took: Duration,
        refusal: Option<Refusal>,
    ) {
        let route_name = route.unwrap_or("unmatched");
        let labels =
            RequestLabels { route: route_name.to_owned(), method: method_word(method), status: status.as_u16() };
        self.requests.get_or_create(&labels).inc();
        self.request_duration.get_or_create(&RouteLabel { route: labels.route }).observe(took.as_secs_f64());
        let is_ingest = route.is_some_and(|r| Endpoint::of_route(r, method).is_some());
        if let (true, Some(Refusal(reason))) = (is_ingest, refusal) {
            let throttled = status == StatusCode::TOO_MANY_REQUESTS || reason == "overloaded";
            let family = if throttled { &self.throttled } else { &self.rejected };
            family.get_or_create(&ReasonLabel { reason }).inc();
        }
    }

    /// One batch stored and acknowledged: its entries, the errors it stored, how long it took.
    pub fn batch(&self, entries: usize, stored: usize, took: Duration) {
        self.batch_entries.observe(entries as f64);
        self.batch_duration.observe(took.as_secs_f64());
        self.stored.inc_by(stored as u64);
    }

    /// One alert delivery attempt.
    pub fn delivery(&self, channel: &'static str, outcome: DeliveryOutcome, took: Duration) {
        self.deliveries.get_or_create(&DeliveryLabels { channel, outcome: outcome.as_str() }).inc();
        self.delivery_duration.get_or_create(&ChannelLabel { channel }).observe(took.as_secs_f64());
    }

    /// Errors removed by retention, a limit or the budget (`reason` as the removals log says it).
    pub fn removed(&self, reason: &'static str, errors: i64) {
        if let Ok(n) = u64::try_from(errors) {
            self.removed_errors.get_or_create(&ReasonLabel { reason }).inc_by(n);
        }
    }

    /// Resolved issues aged out.
    pub fn removed_issues(&self, issues: i64) {
        if let Ok(n) = u64::try_from(issues) {
            self.removed_issues.inc_by(n);
        }
    }

    /// The text exposition after setting what is measured at scrape time.
    fn render(&self, now: &Scrape) -> Result<String, std::fmt::Error> {
        let set = |g: &Gauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
        self.up.get_or_create(&ServiceLabel { service: "postgres" }).set(i64::from(now.postgres_up));
        self.up.get_or_create(&ServiceLabel { service: "redis" }).set(i64::from(now.queue.is_some()));
        if let Some(q) = &now.queue {
            set(&self.queue_length, q.length);
            set(&self.queue_pending, q.pending);
            self.queue_oldest.set(q.oldest.map_or(0.0, |d| d.as_secs_f64()));
        }
        let (size, idle, max) = now.db_pool;
        set(&self.db_connections.get_or_create(&StateLabel { state: "idle" }), idle as u64);
        set(
            &self.db_connections.get_or_create(&StateLabel { state: "in_use" }),
            u64::from(size).saturating_sub(idle as u64),
        );
        set(&self.db_max, u64::from(max));
        let redis = now.redis_pool;
        set(&self.redis_connections.get_or_create(&StateLabel { state: "idle" }), redis.available as u64);
        set(
            &self.redis_connections.get_or_create(&StateLabel { state: "in_use" }),
            redis.size.saturating_sub(redis.available) as u64,
        );
        set(&self.redis_connections.get_or_create(&StateLabel { state: "waiting" }), redis.waiting as u64);
        if let Some(rss) = now.resident_bytes {
            set(&self.memory, rss);
        }
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The method as a label: the standard ones by name, anything else as `other` (a client picks it).
fn method_word(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The queue as a scrape found it.
struct QueueNow {
    length: u64,
    pending: u64,
    oldest: Option<Duration>,
}

/// What a scrape measures.
struct Scrape {
    postgres_up: bool,
    /// `None` when Redis did not answer.
    queue: Option<QueueNow>,
    /// Connections open, idle, at most.
    db_pool: (u32, usize, u32),
    redis_pool: deadpool_redis::Status,
    resident_bytes: Option<u64>,
}

/// Counts every request by its matched route (the route pattern, never the path: ids and keys stay
/// out of the labels), method and status, and times it; refused events by reason.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let started = Instant::now();
    let res = next.run(req).await;
    let refusal = res.extensions().get::<Refusal>().copied();
    metrics.request(route.as_ref().map(MatchedPath::as_str), &method, res.status(), started.elapsed(), refusal);
    res
}

/// How long each scrape-time measurement may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics`: 404 unless `FAULTLINE_METRICS_TOKEN` is set, then 401 without
/// `Authorization: Bearer <token>`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.settings.metrics_token else {
        return (StatusCode::NOT_FOUND, "metrics are off: set FAULTLINE_METRICS_TOKEN\n").into_response();
    };
    if !bearer_matches(&headers, token.expose()) {
        let mut res =
            (StatusCode::UNAUTHORIZED, "send Authorization: Bearer <FAULTLINE_METRICS_TOKEN>\n").into_response();
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"metrics\""));
        return res;
    }
    let (pg, length, pending, oldest) = tokio::join!(
        tokio::time::timeout(SCRAPE_TIMEOUT, super::db::ping(&state.db)),
        tokio::time::timeout(SCRAPE_TIMEOUT, state.queue.depth()),
        tokio::time::timeout(SCRAPE_TIMEOUT, state.queue.pending()),
        tokio::time::timeout(SCRAPE_TIMEOUT, state.queue.oldest_age()),
    );
    let queue = match (length, pending, oldest) {
        (Ok(Ok(length)), Ok(Ok(pending)), Ok(Ok(oldest))) => Some(QueueNow { length, pending, oldest }),
        _ => None,
    };
    let now = Scrape {
        postgres_up: matches!(pg, Ok(Ok(()))),
        queue,
        db_pool: (state.db.size(), state.db.num_idle(), state.db.options().get_max_connections()),
        redis_pool: state.redis.status(),
        resident_bytes: resident_bytes(),
    };
    match state.metrics.render(&now) {
        Ok(text) => {
            let mut res = text.into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(prometheus_client::encoding::prometheus_text::CONTENT_TYPE),
            );
            res
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "could not encode the metrics\n").into_response(),
    }
}

/// Whether `Authorization` carries `Bearer <token>` (compared by digest, so the time taken says
/// nothing about how much of it was right).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    given.is_some_and(|g| Sha256::digest(g.as_bytes()) == Sha256::digest(token.as_bytes()))
}

/// This process's resident memory, from `/proc/self/statm` (Linux).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape_of(m: &Metrics) -> String {
        let now = Scrape {
            postgres_up: true,
            queue: Some(QueueNow { length: 7, pending: 2, oldest: Some(Duration::from_millis(1500)) }),
            db_pool: (5, 3, 16),
            redis_pool: deadpool_redis::Status { max_size: 32, size: 4, available: 1, waiting: 0 },
            resident_bytes: Some(1 << 20),
        };
        m.render(&now).expect("encodes")
    }

    #[test]
    fn families_follow_prometheus_names_with_their_units_and_totals() {
        let m = Metrics::new();
        m.accepted(Endpoint::Envelope);
        m.request(
            Some("/api/{project_id}/envelope/"),
            &Method::POST,
            StatusCode::TOO_MANY_REQUESTS,
            Duration::from_millis(3),
            Some(Refusal("rate_limited")),
        );
        m.request(
            Some("/api/errors"),
            &Method::POST,
            StatusCode::UNPROCESSABLE_ENTITY,
            Duration::ZERO,
            Some(Refusal("invalid_field")),
        );
        // A refusal on a route that takes no events is not an event refused.
        m.request(
            Some("/api/issues"),
            &Method::GET,
            StatusCode::UNAUTHORIZED,
            Duration::ZERO,
            Some(Refusal("unauthorized")),
        );
        m.batch(3, 2, Duration::from_millis(20));
        let text = scrape_of(&m);
        for line in [
            "# TYPE faultline_events_accepted_total counter",
            "faultline_events_accepted_total{endpoint=\"envelope\"} 1",
            "faultline_events_rate_limited_total{reason=\"rate_limited\"} 1",
            "faultline_events_rejected_total{reason=\"invalid_field\"} 1",
            "faultline_http_requests_total{route=\"/api/issues\",method=\"GET\",status=\"401\"} 1",
            "# TYPE faultline_worker_batch_duration_seconds histogram",
            "faultline_worker_batch_duration_seconds_count 1",
            "faultline_events_stored_total 2",
            "faultline_queue_length 7",
            "faultline_queue_pending 2",
            "faultline_queue_oldest_age_seconds 1.5",
            "faultline_db_pool_connections{state=\"in_use\"} 2",
            "faultline_redis_pool_connections{state=\"in_use\"} 3",
            "process_resident_memory_bytes 1048576",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("reason=\"unauthorized\""), "{text}");
    }

    #[test]
    fn the_grafana_dashboard_queries_only_families_the_server_exports() {
        let m = Metrics::new();
        m.accepted(Endpoint::Rest);
        m.request(
            Some("/api/errors"),
            &Method::POST,
            StatusCode::BAD_REQUEST,
            Duration::ZERO,
            Some(Refusal("malformed_json")),
        );
        m.request(
            Some("/api/errors"),
            &Method::POST,
            StatusCode::TOO_MANY_REQUESTS,
            Duration::ZERO,
            Some(Refusal("queue_full")),
        );
        m.batch(1, 1, Duration::ZERO);
        m.delivery("slack", DeliveryOutcome::Delivered, Duration::ZERO);
        m.removed("retention", 1);
        m.removed_issues(1);
        let text = scrape_of(&m);
        let exported: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        let dashboard = include_str!("../../docs/grafana-dashboard.json");
        let mut queried = Vec::new();
        for (at, _) in dashboard.match_indices("faultline_").chain(dashboard.match_indices("process_")) {
            let name: String = dashboard[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let family =
                ["_bucket", "_sum", "_count"].iter().fold(name.as_str(), |n, s| n.strip_suffix(s).unwrap_or(n));
            queried.push(family.to_owned());
        }
        assert!(queried.len() > 20, "{queried:?}");
        for family in &queried {
            assert!(
                exported.contains(&family.as_str()),
                "the dashboard queries {family}, which is not exported: {exported:?}"
            );
        }
        // And every family shows on the dashboard.
        for family in &exported {
            assert!(queried.iter().any(|q| q == family), "{family} is on no panel");
        }
    }

    #[test]
    fn only_the_configured_bearer_token_opens_the_metrics() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).expect("header"));
            h
        };
        assert!(bearer_matches(&with("Bearer s3cret-token"), "s3cret-token"));
        assert!(!bearer_matches(&with("Bearer s3cret-toke"), "s3cret-token"));
        assert!(!bearer_matches(&with("Basic s3cret-token"), "s3cret-token"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret-token"));
    }
}
