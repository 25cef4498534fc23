//! Command-line definitions and dispatch.

mod bench;
mod bench_train;
mod compare;
mod engine_args;
mod fault_args;
mod run;
mod scenario_cmd;
mod slot_cmd;
mod summary;
mod telemetry;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vecsim::presets::{self, Preset};
use vecsim_core::Scenario;

/// An error in what the user gave us (a file, a flag): exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Wraps any error as bad input.
pub fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(e.to_string()))
}

#[derive(Parser, Debug)]
#[command(name = "vecsim", version, about = "Actor-based simulator and trainer for Vehicular Edge Computing")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario with a policy and report the paper's metrics.
    Run(run::RunArgs),
    /// Evaluate one explicit slot given as JSON (a file, or - for stdin) and print its outcome.
    Slot {
        /// JSON file describing the slot, or `-` for standard input.
        file: PathBuf,
    },
    /// Scenario files.
    #[command(subcommand)]
    Scenario(scenario_cmd::ScenarioCmd),
    /// Compare policies on one scenario over several seeds (mean ± standard deviation).
    Compare(compare::CompareArgs),
    /// Train a learner (fed-maddpg, maddpg, masac) on a scenario.
    Train(train::TrainArgs),
    /// Throughput benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

pub fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Slot { file } => slot_cmd::slot(&file),
        Command::Scenario(c) => scenario_cmd::scenario(c),
        Command::Train(a) => train::train(a),
        Command::Compare(a) => compare::compare(a),
        Command::Bench(c) => bench::bench(c),
    }
}

/// What a scenario argument names: a file (an existing path wins) or an embedded preset.
pub enum ScenarioRef {
    File(PathBuf),
    Preset(&'static Preset),
}

impl std::fmt::Display for ScenarioRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScenarioRef::File(p) => write!(f, "{}", p.display()),
            ScenarioRef::Preset(p) => f.write_str(&p.origin()),
        }
    }
}

/// Finds a scenario: an existing path, else a preset compiled into the binary (see
/// [`vecsim::presets`]), so that preset names work from any directory. Neither is bad input.
pub fn resolve_scenario(arg: &str) -> anyhow::Result<ScenarioRef> {
    let p = PathBuf::from(arg);
    if p.exists() {
        return Ok(ScenarioRef::File(p));
    }
    if let Some(preset) = presets::find(arg) {
        return Ok(ScenarioRef::Preset(preset));
    }
    if arg.contains(std::path::MAIN_SEPARATOR) || arg.contains('/') {
        // Plainly a path: reading it reports the missing file.
        return Ok(ScenarioRef::File(p));
    }
    Err(bad(format!("no scenario file {arg} and no preset of that name (presets: {})", presets::names())))
}

/// Loads a scenario by path or preset name; errors are bad input.
pub fn load_scenario(arg: &str) -> anyhow::Result<Scenario> {
    match resolve_scenario(arg)? {
        ScenarioRef::File(p) => Scenario::load(&p).map_err(bad),
        ScenarioRef::Preset(preset) => preset.load().map_err(bad),
    }
}
