//! What the server reports about itself: request counts and latencies by operation and
//! outcome, connections, TLS failures, and the PostgreSQL pool, all in [`crate::metrics`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::metrics::{self, Counter, Gauge, Histogram, LATENCY_BUCKETS};
use crate::storage::Storage;

/// The three outcomes requests are counted under, by HTTP status.
const OUTCOMES: [&str; 3] = ["ok", "client_error", "server_error"];

fn outcome_index(status: u16) -> usize {
    match status {
        0..=399 => 0,
        400..=499 => 1,
        _ => 2,
    }
}

/// The series of one operation, one per outcome, looked up once and then kept.
struct OperationSeries {
    requests: [Counter; 3],
    latency: [Histogram; 3],
}

/// Handles on the server's own series.
pub(crate) struct ServerMetrics {
    by_operation: RwLock<HashMap<String, OperationSeries>>,
    in_flight: Gauge,
    connections_open: Gauge,
    connections_total: Counter,
    tls_failures: Counter,
}

impl ServerMetrics {
    /// Registers the server's series in the global registry (or finds them, for a second server
    /// in the same process).
    pub(crate) fn new() -> ServerMetrics {
        let registry = metrics::global();
        registry
            .gauge(
                "dynamo_pg_build_info",
                "The running version (always 1).",
                &[("version", env!("CARGO_PKG_VERSION"))],
            )
            .set(1.0);
        registry.gauge_fn(
            "dynamo_pg_process_cpu_seconds",
            "CPU time (user and system) the server process has used since it started.",
            &[],
            process_cpu_seconds,
        );
        ServerMetrics {
            by_operation: RwLock::new(HashMap::new()),
            in_flight: registry.gauge(
                "dynamo_pg_requests_in_flight",
                "API requests being processed now.",
                &[],
            ),
            connections_open: registry.gauge(
                "dynamo_pg_http_connections_open",
                "Client connections open now.",
                &[],
            ),
            connections_total: registry.counter(
                "dynamo_pg_http_connections_total",
                "Client connections accepted since start.",
                &[],
            ),
            tls_failures: registry.counter(
                "dynamo_pg_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                &[],
            ),
        }
    }

    /// Counts a connection as open until the guard is dropped.
    pub(crate) fn connection_opened(&self) -> GaugeGuard {
        self.connections_total.inc();
        GaugeGuard::new(&self.connections_open)
    }

    /// Counts an API request as in flight until the guard is dropped.
    pub(crate) fn request_started(&self) -> GaugeGuard {
        GaugeGuard::new(&self.in_flight)
    }

    /// The API requests in progress now (what busy polling looks at).
    pub(crate) fn in_flight(&self) -> Gauge {
        self.in_flight.clone()
    }

    /// Counts a TLS handshake that failed or timed out.
    pub(crate) fn tls_handshake_failed(&self) {
        self.tls_failures.inc();
    }

    /// Records one finished API request. `operation` must come from a bounded set (known
    /// operation names, or `unknown`): each value is a series for the life of the process.
    pub(crate) fn record(&self, operation: &str, status: u16, elapsed: Duration) {
        let i = outcome_index(status);
        if let Ok(map) = self.by_operation.read() {
            if let Some(series) = map.get(operation) {
                series.requests[i].inc();
                series.latency[i].observe(elapsed.as_secs_f64());
                return;
            }
        }
        let series = operation_series(operation);
        series.requests[i].inc();
        series.latency[i].observe(elapsed.as_secs_f64());
        if let Ok(mut map) = self.by_operation.write() {
            map.entry(operation.to_string()).or_insert(series);
        }
    }
}

/// The process's CPU time so far, all threads: what busy polling (`busy_poll`) spends shows
/// here, and an idle server's stays flat.
fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn operation_series(operation: &str) -> OperationSeries {
    let registry = metrics::global();
    let requests = OUTCOMES.map(|outcome| {
        registry.counter(
            "dynamo_pg_requests_total",
            "API requests answered, by operation and outcome (ok, client_error = 4xx, server_error = 5xx).",
            &[("operation", operation), ("outcome", outcome)],
        )
    });
    let latency = OUTCOMES.map(|outcome| {
        registry.histogram(
            "dynamo_pg_request_duration_seconds",
            "Time from a request's headers to its response, by operation and outcome.",
            &[("operation", operation), ("outcome", outcome)],
            LATENCY_BUCKETS,
        )
    });
    OperationSeries { requests, latency }
}

/// Adds one to a gauge for as long as it lives.
pub(crate) struct GaugeGuard(Gauge);

impl GaugeGuard {
    fn new(gauge: &Gauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Reads one figure from the pool's status.
type PoolFigure = fn(&deadpool_postgres::Status) -> usize;

/// The PostgreSQL pool's figures, read at each scrape. The registry outlives the server, so the
/// gauges hold the storage weakly: once the server is done they read 0 and keep no connection
/// open (the embedded PostgreSQL is stopped right after).
pub(crate) fn register_pool_gauges(storage: &Arc<Storage>) {
    let registry = metrics::global();
    let gauges: [(&str, &str, PoolFigure); 4] = [
        (
            "dynamo_pg_db_pool_max_connections",
            "Largest number of PostgreSQL connections the request pool may open.",
            |st| st.max_size,
        ),
        (
            "dynamo_pg_db_pool_connections",
            "PostgreSQL connections the request pool has open.",
            |st| st.size,
        ),
        (
            "dynamo_pg_db_pool_connections_in_use",
            "PostgreSQL connections checked out by requests now.",
            |st| st.size.saturating_sub(st.available),
        ),
        (
            "dynamo_pg_db_pool_waiting",
            "Requests waiting for a PostgreSQL connection now.",
            |st| st.waiting,
        ),
    ];
    for (name, help, read) in gauges {
        let weak: Weak<Storage> = Arc::downgrade(storage);
        registry.gauge_fn(name, help, &[], move || {
            weak.upgrade()
                .map(|s| read(&s.pool_status()) as f64)
                .unwrap_or(0.0)
        });
    }
}
