//! Live metrics for Prometheus (`--metrics-addr`), pacing (`--pace`), and end-of-run latency
//! percentiles.

use clap::Args;
use vecsim_core::report::{RunStats, SlotReport};
use vecsim_core::Scenario;

#[derive(Args, Debug, Clone, Default)]
pub struct MetricsArgs {}

/// The telemetry of one run.
pub struct Telemetry {}

impl Telemetry {
    pub fn start(_args: &MetricsArgs, _scenario: &Scenario) -> anyhow::Result<Telemetry> {
        Ok(Telemetry {})
    }

    /// Called as each slot closes.
    pub fn on_slot(&mut self, _report: &SlotReport) {}

    /// Called once after the run.
    pub fn finish(self, _stats: &RunStats) -> anyhow::Result<()> {
        Ok(())
    }
}
