//! `vecsim scenario ...`

use super::output::{heading, outln, warning};
use clap::Subcommand;
use std::process::ExitCode;
use vecsim::presets::PRESETS;

#[derive(Subcommand, Debug)]
pub(crate) enum ScenarioCmd {
    /// Check a scenario file (keys, values, and that its trace loads); exit 2 if invalid.
    Validate {
        /// Scenario file or preset name.
        file: String,
    },
    /// List the presets built into this binary: name, RSUs, slots and a one-line description.
    List,
}

pub(super) fn scenario(cmd: ScenarioCmd, limits: &vecsim::pipeline::Limits) -> anyhow::Result<ExitCode> {
    match cmd {
        ScenarioCmd::Validate { file } => {
            // Everything `run` would reject (keys, values, the policy name, the memory estimate,
            // the trace) is rejected here too.
            let s = super::load_scenario(&file)?;
            let fleet = vecsim::pipeline::load_fleet(&s, None, limits)?;
            for w in vecsim_core::mobility::trace_warnings(&fleet, &s.rsu_specs()) {
                warning!("{}: {w}", vecsim::pipeline::resolve_scenario(&file)?);
            }
            outln!(
                "{}: ok ({} RSUs, {} slots of {} s, {} vehicles)",
                vecsim::pipeline::resolve_scenario(&file)?,
                s.rsu_count(),
                s.time.slots,
                s.time.slot_s,
                fleet.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        ScenarioCmd::List => {
            let width = PRESETS.iter().map(|p| p.name.len()).max().unwrap_or(0);
            outln!("{}", heading(&format!("{:width$}  {:>5}  {:>5}  description", "preset", "RSUs", "slots")))?;
            for p in PRESETS {
                // A preset that does not load is a bug in this binary, not bad input.
                let s = p.load()?;
                outln!("{:width$}  {:>5}  {:>5}  {}", p.name, s.rsu_count(), s.time.slots, p.description())?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
