//! # vecsim-telemetry
//!
//! Watching vecsim runs live: a Prometheus exporter ([`exporter`]), the catalogue of every
//! metric vecsim exports ([`catalogue`]), and [`Telemetry`], an engine
//! [`Observer`](vecsim_core::observer::Observer) that publishes them from the engine's own
//! statistics, paces the run and measures slot wall time.
//!
//! Every metric goes through the `metrics` facade, so whichever recorder is installed receives
//! it: the Prometheus exporter ([`exporter::install`]), a local recorder in tests, or none (then
//! recording is a no-op). Label cardinality is bounded: the RSU (`rsu0`..`rsu{E-1}`, or `none`
//! for tasks that never reached an RSU), the task outcome (6 values), the fault kind (a fixed
//! list) and, once per process, the run's identity in `vecsim_run_info`.
//!
//! Wall time is read here only; nothing read here feeds back into the model, so pacing and
//! metrics never change a number of the run.

pub mod catalogue;
pub mod exporter;
mod telemetry;
#[cfg(test)]
mod tests;

pub use telemetry::{latency_table, Telemetry, TelemetryConfig};

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The metrics address could not be parsed or resolved.
    #[error("--metrics-addr `{addr}`: expected HOST:PORT")]
    Address {
        /// What was given.
        addr: String,
        /// Why it does not resolve.
        #[source]
        source: std::io::Error,
    },
    /// The address resolves to nothing.
    #[error("--metrics-addr `{0}`: resolves to no address")]
    NoAddress(String),
    /// The exporter could not be installed (the port is taken, or another recorder is set).
    #[error("cannot serve metrics on {addr}")]
    Install {
        /// Where it should have listened.
        addr: std::net::SocketAddr,
        /// The exporter's error.
        #[source]
        source: metrics_exporter_prometheus::BuildError,
    },
    /// `--pace` or `--serve-after` outside its range (the sleep it asks for is not a
    /// representable duration, or a pace of zero).
    #[error("{flag} {value}: expected {range}")]
    Range {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: f64,
        /// What is accepted.
        range: String,
    },
}
