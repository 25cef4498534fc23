//! `vecsim scenario ...`

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub(crate) enum ScenarioCmd {
    /// Check a scenario file (keys, values, and that its trace loads); exit 2 if invalid.
    Validate {
        /// Scenario file or preset name.
        file: String,
    },
}

pub(super) fn scenario(cmd: ScenarioCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ScenarioCmd::Validate { file } => {
            let s = super::load_scenario(&file)?;
            let fleet = vecsim_core::mobility::load(&s, None).map_err(super::bad)?;
            println!(
                "{}: ok ({} RSUs, {} slots of {} s, {} vehicles)",
                vecsim::pipeline::resolve_scenario(&file).display(),
                s.rsu_count(),
                s.time.slots,
                s.time.slot_s,
                fleet.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
