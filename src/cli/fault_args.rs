//! `--fault KEY=VALUE`: fault-plan overrides on the command line (parsed and applied by
//! `vecsim_core::overrides`, so every command accepts the same keys with the same messages).

use clap::Args;

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct FaultArgs {
    /// Fault injection, repeatable: `vehicle_dropout=P`, `round_dropout=P`,
    /// `loss.{upload,wired,pool}=P`, `latency.{upload,wired,pool}=fixed:S|uniform:MIN:MAX|exponential:MEAN|none`,
    /// `rsu_outage=RSU:FROM:TO` (slots, inclusive), `crash_rsu=RSU:SLOT`, or `none` to clear the
    /// scenario's plan. P is a probability in [0, 1]; S, MIN, MAX and MEAN are seconds of
    /// simulated time; each key is also a key of a scenario's `[faults]` section.
    #[arg(long = "fault", value_name = "KEY=VALUE")]
    pub fault: Vec<String>,
}
