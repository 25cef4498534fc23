//! Command-line definitions and dispatch.

mod bench;
mod bench_cluster;
mod bench_train;
mod bounds;
mod compare;
mod device_arg;
mod engine_args;
mod experiment;
mod fault_args;
mod metrics_args;
mod node;
mod plot;
mod run;
mod scenario_cmd;
mod slot_cmd;
mod summary;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vecsim::pipeline::Limits;
use vecsim_core::Scenario;

/// An error in what the user gave us (a file, a flag): exit code 2.
#[derive(Debug)]
pub(crate) struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Wraps any error as bad input.
pub(crate) fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(e.to_string()))
}

#[derive(Parser, Debug)]
#[command(name = "vecsim", version, about = "Actor-based simulator and trainer for Vehicular Edge Computing")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Refuse scenarios whose estimated memory (from their vehicles, RSUs and slots, before
    /// anything is allocated) exceeds this many GiB.
    #[arg(long, global = true, value_name = "GIB", default_value_t = Limits::DEFAULT_MAX_MEMORY_GIB, value_parser = parse_gib)]
    pub max_memory: f64,
}

fn parse_gib(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a memory size in GiB (a finite number > 0)")),
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
    /// Run one of the paper's experiments (Fig. 4–7): a CSV of every run, a PNG and an SVG figure.
    Experiment(experiment::ExperimentArgs),
    /// Draw figures (PNG and SVG) of slots.csv, curve.csv, compare --csv or experiment CSVs.
    Plot(plot::PlotArgs),
    /// Throughput benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// A worker node of a cluster run: hosts the RSU actors a coordinator (`vecsim run
    /// --cluster`, `vecsim train --cluster`) assigns to it, and the vehicles nearest to them.
    Node(node::NodeArgs),
}

pub(crate) fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let limits = Limits { max_memory_gib: cli.max_memory };
    match cli.command {
        Command::Run(a) => run::run(a, &limits),
        Command::Slot { file } => slot_cmd::slot(&file),
        Command::Scenario(c) => scenario_cmd::scenario(c, &limits),
        Command::Train(a) => train::train(a, &limits),
        Command::Compare(a) => compare::compare(a, &limits),
        Command::Bench(c) => bench::bench(c, &limits),
        Command::Experiment(a) => experiment::experiment(a, &limits),
        Command::Plot(a) => plot::plot(a),
        Command::Node(a) => node::node(a),
    }
}

/// Loads a scenario by path or preset name, with no overrides.
pub(crate) fn load_scenario(arg: &str) -> anyhow::Result<Scenario> {
    Ok(vecsim::pipeline::load_scenario(arg, &Default::default())?)
}

/// Starts telemetry for a run: `--metrics-addr` etc.; a bad address is bad input.
pub(crate) fn start_telemetry(
    args: &metrics_args::MetricsArgs,
    s: &Scenario,
    engine: &'static str,
) -> anyhow::Result<vecsim_telemetry::Telemetry> {
    let config = args.config().map_err(bad)?;
    let t = vecsim_telemetry::Telemetry::start(config, &vecsim_core::observer::RunInfo::of(s, engine))?;
    if let Some(addr) = t.addr() {
        eprintln!("serving Prometheus metrics on http://{addr}/metrics");
    }
    Ok(t)
}
