//! `vecsim scenario ...`

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ScenarioCmd {
    /// Check a scenario file (keys, values, and that its trace loads); exit 2 if invalid.
    Validate {
        /// Scenario file or preset name.
        file: String,
    },
}

pub fn scenario(cmd: ScenarioCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ScenarioCmd::Validate { file } => {
            // Everything `run` would reject (keys, values, the policy name, the memory estimate,
            // the trace) is rejected here too.
            let s = super::load_scenario(&file)?;
            let fleet = super::load_fleet(&s, None)?;
            for w in vecsim_core::mobility::trace_warnings(&fleet, &s.rsu_specs()) {
                eprintln!("warning: {}: {w}", super::resolve_scenario(&file).display());
            }
            println!(
                "{}: ok ({} RSUs, {} slots of {} s, {} vehicles)",
                super::resolve_scenario(&file).display(),
                s.rsu_count(),
                s.time.slots,
                s.time.slot_s,
                fleet.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
