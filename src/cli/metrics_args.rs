//! `--metrics-addr`, `--serve-after`, `--pace`: the flags of `vecsim_telemetry`.

use clap::Args;
use vecsim_telemetry::TelemetryConfig;

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct MetricsArgs {
    /// Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9100) while the run lasts.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Keep serving metrics for this many seconds after the run ends (needs --metrics-addr;
    /// 0 to 604800, a week).
    #[arg(long, value_name = "SECONDS", requires = "metrics_addr", value_parser = super::bounds::parse_serve_after)]
    pub serve_after: Option<f64>,
    /// Slow the run down to at most this many slots per wall-clock second, to watch it live.
    /// The engine waits before opening each slot (so the metrics show where it is); pacing
    /// never changes a result. 0.001 to 1e6.
    #[arg(long, value_name = "SLOTS_PER_SECOND", value_parser = super::bounds::parse_pace)]
    pub pace: Option<f64>,
}

impl MetricsArgs {
    /// The telemetry configuration, with the address resolved.
    pub(crate) fn config(&self) -> Result<TelemetryConfig, vecsim_telemetry::TelemetryError> {
        let addr = self.metrics_addr.as_deref().map(vecsim_telemetry::exporter::resolve).transpose()?;
        Ok(TelemetryConfig { addr, serve_after_s: self.serve_after, pace_slots_per_s: self.pace })
    }
}
