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
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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
    /// Refuse scenarios whose estimated memory (from their vehicles, RSUs and slots, before
    /// anything is allocated) exceeds this many GiB.
    #[arg(long, global = true, value_name = "GIB", default_value_t = DEFAULT_MAX_MEMORY_GIB, value_parser = parse_gib)]
    pub max_memory: f64,
}

/// The default of `--max-memory`, GiB.
pub const DEFAULT_MAX_MEMORY_GIB: f64 = 16.0;

/// The `--max-memory` of this process (set once in [`main`]).
static MAX_MEMORY_GIB: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

fn parse_gib(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a memory size in GiB (a finite number > 0)")),
    }
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
    let _ = MAX_MEMORY_GIB.set(cli.max_memory);
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Slot { file } => slot_cmd::slot(&file),
        Command::Scenario(c) => scenario_cmd::scenario(c),
        Command::Train(a) => train::train(a),
        Command::Compare(a) => compare::compare(a),
        Command::Bench(c) => bench::bench(c),
    }
}

/// Finds a scenario: an existing path, or a preset name under `scenarios/` (in the current
/// directory, or in the source tree this binary was built from).
pub fn resolve_scenario(arg: &str) -> PathBuf {
    let p = PathBuf::from(arg);
    if p.exists() {
        return p;
    }
    let name = if arg.ends_with(".toml") { arg.to_string() } else { format!("{arg}.toml") };
    for base in [PathBuf::from("scenarios"), Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")] {
        let c = base.join(&name);
        if c.exists() {
            return c;
        }
    }
    p
}

/// Refuses a scenario whose estimated memory is above `--max-memory` (bad input, exit 2), before
/// anything big is allocated; `trace` is a `--trace` override.
pub fn check_memory(s: &Scenario, trace: Option<&Path>) -> anyhow::Result<()> {
    let limit = *MAX_MEMORY_GIB.get().unwrap_or(&DEFAULT_MAX_MEMORY_GIB);
    let m = s.memory_estimate(trace);
    if m.gib() > limit {
        let size = if m.gib() >= 1.0 { format!("{:.1} GiB", m.gib()) } else { format!("{:.1} MiB", m.gib() * 1024.0) };
        return Err(bad(format!(
            "scenario `{}` needs an estimated {size} of memory ({}), above the limit of {limit} GiB: \
             shrink it, or raise the limit with --max-memory GIB (e.g. --max-memory {})",
            s.name,
            m.breakdown(),
            m.gib().ceil()
        )));
    }
    Ok(())
}

/// Checks the memory estimate ([`check_memory`]), then loads the scenario's fleet; errors are
/// bad input.
pub fn load_fleet(s: &Scenario, trace: Option<&Path>) -> anyhow::Result<vecsim_core::mobility::Fleet> {
    check_memory(s, trace)?;
    vecsim_core::mobility::load(s, trace).map_err(bad)
}

/// Loads a scenario by path or preset name; errors are bad input.
pub fn load_scenario(arg: &str) -> anyhow::Result<Scenario> {
    Scenario::load(&resolve_scenario(arg)).map_err(bad)
}
