//! What `/metrics` reports, in the Prometheus (OpenMetrics) text format, counted per relay
//! (the registry lives in the store, not in a process-wide recorder). **No label carries an
//! id, an address, a handle or a name**: every label value comes from a fixed set written
//! here or in the code (a route template such as `/api/links/{id}`, an HTTP method from a
//! fixed list, a status code, an audit action's dotted name, an outcome), never from a request.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::audit::{AuditAction, Outcome};

/// The relay's counters, histograms and gauges.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    events: Family<EventLabels, Counter>,
    chunk_bytes_stored: Counter,
    chunk_bytes_served: Counter,
    sweeps: Family<OutcomeLabels, Counter>,
    database_bytes: Gauge,
    disk_free_bytes: Gauge,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Request latency buckets, seconds: from a cached asset to a slow 1 MiB chunk.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

/// An HTTP method as a label: one of the methods the relay answers, or `other`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sealpost");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer's head, by method and route template",
            latency.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Audited events by action and outcome: send.create, send.open (success, or denied \
             for a wrong one-time password), auth.login, guard.ip_blocked, stripe.webhook, ... \
             (refusals the audit log summarises are each counted here)",
            events.clone(),
        );
        let chunk_bytes_stored = Counter::default();
        registry.register(
            "chunk_bytes_stored",
            "Ciphertext bytes of chunks stored (uploads)",
            chunk_bytes_stored.clone(),
        );
        let chunk_bytes_served = Counter::default();
        registry.register(
            "chunk_bytes_served",
            "Ciphertext bytes of chunks read to be served (downloads)",
            chunk_bytes_served.clone(),
        );
        let sweeps = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "retention_sweeps",
            "Runs of the hourly retention sweep, by outcome (ok, or failed when any part failed)",
            sweeps.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register(
            "database_bytes",
            "Size of the database on disk",
            database_bytes.clone(),
        );
        let disk_free_bytes = Gauge::default();
        registry.register(
            "disk_free_bytes",
            "Free space on the data directory's disk, for the relay's user",
            disk_free_bytes.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            events,
            chunk_bytes_stored,
            chunk_bytes_served,
            sweeps,
            database_bytes,
            disk_free_bytes,
        }
    }

    /// One answered request: `route` is the matched route template (never the path).
    pub fn request(&self, method: &'static str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// One audited event.
    pub fn event(&self, action: AuditAction, outcome: Outcome) {
        let outcome = match outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        };
        self.events
            .get_or_create(&EventLabels {
                action: action.as_str(),
                outcome,
            })
            .inc();
    }

    pub fn chunk_stored(&self, bytes: usize) {
        self.chunk_bytes_stored.inc_by(bytes as u64);
    }

    pub fn chunk_served(&self, bytes: usize) {
        self.chunk_bytes_served.inc_by(bytes as u64);
    }

    /// One retention sweep, `ok` or not.
    pub fn sweep(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.sweeps.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The text to serve, with the storage gauges set to what was just measured.
    pub fn render(&self, database_bytes: u64, disk_free_bytes: u64) -> String {
        self.database_bytes
            .set(i64::try_from(database_bytes).unwrap_or(i64::MAX));
        self.disk_free_bytes
            .set(i64::try_from(disk_free_bytes).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_fixed_list_share_one_label() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("X-ANYTHING-AN-ATTACKER-SENDS"), "other");
    }
}
