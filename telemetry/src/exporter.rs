//! The Prometheus exporter: configured once per process, serving `/metrics` over HTTP.

use crate::catalogue::{Kind, METRICS, SERVICE_TIME, SERVICE_TIME_BUCKETS, SLOT_WALL_TIME, SLOT_WALL_TIME_BUCKETS};
use crate::TelemetryError;
use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::net::{SocketAddr, ToSocketAddrs};

/// The exporter configuration: explicit buckets make both histograms real Prometheus
/// histograms (`_bucket`/`_sum`/`_count`) instead of summaries.
pub fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(SERVICE_TIME.to_string()), SERVICE_TIME_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(SLOT_WALL_TIME.to_string()), SLOT_WALL_TIME_BUCKETS))
        .expect("the bucket lists are constant and non-empty")
}

/// Resolves `HOST:PORT`.
pub fn resolve(addr: &str) -> Result<SocketAddr, TelemetryError> {
    let mut it = addr.to_socket_addrs().map_err(|source| TelemetryError::Address { addr: addr.to_string(), source })?;
    it.next().ok_or_else(|| TelemetryError::NoAddress(addr.to_string()))
}

/// Installs the Prometheus exporter as the process's global recorder, serving on `addr` from a
/// background thread, and describes every metric. The global recorder can be set only once per
/// process: a second install is an error.
pub fn install(addr: SocketAddr) -> Result<(), TelemetryError> {
    builder().with_http_listener(addr).install().map_err(|source| TelemetryError::Install { addr, source })?;
    describe_all();
    Ok(())
}

/// Sends the `# HELP` text of every metric to the current recorder.
pub fn describe_all() {
    for m in METRICS {
        match m.kind {
            Kind::Counter => describe_counter!(m.name, m.help),
            Kind::Gauge => describe_gauge!(m.name, m.help),
            Kind::Histogram => describe_histogram!(m.name, m.help),
        }
    }
}
