//! Command-line definitions and dispatch.

mod bench;
mod bench_cluster;
mod bench_learners;
mod bench_train;
mod bounds;
mod compare;
mod device_arg;
mod engine_args;
mod experiment;
mod fault_args;
mod metrics_args;
mod node;
pub(crate) mod output;
mod plot;
mod provenance;
mod run;
mod scenario_cmd;
mod slot_cmd;
mod summary;
mod sweep;
mod train;
pub(crate) mod version;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use output::{outln, ColorChoice};
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

/// `--checkpoint NAME[#TAG]=DIR` (compare, sweep): the label, the learner it names, the directory.
pub(crate) fn checkpoint_arg(c: &str) -> anyhow::Result<(String, vecsim_core::policy::PolicyName, PathBuf)> {
    let (label, dir) = c
        .split_once('=')
        .ok_or_else(|| bad(format!("--checkpoint `{c}`: expected NAME=DIR, e.g. fed-maddpg=runs/fed")))?;
    let name = label.split_once('#').map_or(label, |(n, _)| n);
    let policy: vecsim_core::policy::PolicyName = name.parse().map_err(|e| bad(format!("--checkpoint `{c}`: {e}")))?;
    if !policy.is_learner() {
        return Err(bad(format!("--checkpoint `{c}`: `{policy}` is not a learner")));
    }
    Ok((label.to_string(), policy, PathBuf::from(dir)))
}

/// The exit codes, shown after `--help` (and in docs/cli.md).
const EXIT_CODES: &str = "\
Exit codes:
  0    success, also when the reader of standard output goes away early (`vecsim ... | head`)
  1    the run failed: output not written (a full disk), a lost cluster node, a bench mismatch
  2    bad input: a flag, a file, a key, a value or an input/output path; the message names it
  101  a bug in vecsim (a panic); the message says where to report it
  130  `train` stopped by Ctrl-C or SIGTERM after finishing its episode (checkpointed; resumable)

Data (tables, --json, JSON, CSV) goes to standard output; progress, notes and logs to standard
error. Shell completions: `vecsim completions SHELL`; man page: `vecsim man`. See docs/cli.md.";

#[derive(Parser, Debug)]
#[command(
    name = "vecsim",
    about = "Actor-based simulator and trainer for Vehicular Edge Computing",
    disable_version_flag = true,
    after_help = EXIT_CODES
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the version, commit, features and dfdx/ractor versions (with -v: every build fact).
    #[arg(short = 'V', long)]
    pub version: bool,
    /// No progress bars, notes or "wrote FILE" lines on stderr (data, warnings and errors stay).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr (what was resolved, timings).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour tables and progress bars: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
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
    /// Sweep scenario keys over values (`--set KEY=A,B,C`, Cartesian) × policies × seeds, in
    /// parallel and resumable: one CSV (a row per run) and a figure.
    Sweep(sweep::SweepArgs),
    /// Draw figures (PNG and SVG) of slots.csv, curve.csv, compare --csv or experiment CSVs.
    Plot(plot::PlotArgs),
    /// Throughput benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// A worker node of a cluster run: hosts the RSU actors a coordinator (`vecsim run
    /// --cluster`, `vecsim train --cluster`) assigns to it, and the vehicles nearest to them.
    Node(node::NodeArgs),
    /// Print a shell completion script to stdout (bash, zsh, fish, elvish, powershell); see
    /// docs/cli.md for where to install it.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one page per subcommand into a directory.
    Man {
        /// Write vecsim.1, vecsim-run.1, ... into this directory instead (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print every build fact: version, commit, features, target, compiler, dependency versions.
    Version,
}

/// Set (to anything) to make `vecsim` panic once its flags are parsed: how the tests reach the
/// panic hook (a hidden subcommand would show in the completion scripts).
const PANIC_FOR_TEST: &str = "VECSIM_PANIC_FOR_TEST";

/// The clap definition, with the version line that `--version` prints (for the man page).
pub(crate) fn clap_command(color: ColorChoice) -> clap::Command {
    let color = match color {
        ColorChoice::Auto => clap::ColorChoice::Auto,
        ColorChoice::Always => clap::ColorChoice::Always,
        ColorChoice::Never => clap::ColorChoice::Never,
    };
    Cli::command().version(version::short()).color(color)
}

pub(crate) fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = clap_command(output::color_from_args(&args));
    let cli = match cmd.try_get_matches_from_mut(&args).and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => {
            // --help, or a usage error (exit 2). A closed stdout while printing help is not an
            // error worth a word.
            let _ = e.print();
            return Ok(ExitCode::from(e.exit_code().clamp(0, 255) as u8));
        }
    };
    output::init(cli.quiet, cli.verbose, cli.color);
    let limits = Limits { max_memory_gib: cli.max_memory };
    let Some(command) = cli.command else {
        if cli.version {
            if cli.verbose > 0 {
                output::out!("{}", version::full())?;
            } else {
                outln!("vecsim {}", version::short())?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        let e = cmd.error(clap::error::ErrorKind::MissingSubcommand, "a subcommand is needed (see --help)");
        let _ = e.print();
        return Ok(ExitCode::from(2));
    };
    if cli.version {
        return Err(bad("--version takes no subcommand (try `vecsim version`)"));
    }
    output::detail!("vecsim {}", version::short());
    if std::env::var_os(PANIC_FOR_TEST).is_some() {
        panic!("{PANIC_FOR_TEST} is set: a panic on purpose");
    }
    match command {
        Command::Run(a) => run::run(a, &limits),
        Command::Slot { file } => slot_cmd::slot(&file),
        Command::Scenario(c) => scenario_cmd::scenario(c, &limits),
        Command::Train(a) => train::train(a, &limits),
        Command::Compare(a) => compare::compare(a, &limits),
        Command::Bench(c) => bench::bench(c, &limits),
        Command::Experiment(a) => experiment::experiment(a, &limits),
        Command::Plot(a) => plot::plot(a),
        Command::Sweep(a) => sweep::sweep(a, &limits),
        Command::Node(a) => node::node(a),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut clap_command(ColorChoice::Never), "vecsim", &mut buf);
            output::out!("{}", String::from_utf8_lossy(&buf))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Version => {
            output::out!("{}", version::full())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `vecsim man`: the top page on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let cmd = clap_command(ColorChoice::Never);
    match dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            output::out!("{}", String::from_utf8_lossy(&buf))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| output::path_error("cannot create", dir, e))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| output::path_error("cannot write man pages into", dir, e))?;
            output::note!("wrote the man pages into {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
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
        output::note!("serving Prometheus metrics on http://{addr}/metrics");
    }
    Ok(t)
}
