//! `vecsim sweep`: scenario keys over lists of values × policies × seeds, in parallel and
//! resumable, into one CSV and a figure (the library's `vecsim::sweep`; this file parses the
//! flags and prints).

use super::bad;
use super::output::note;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use vecsim::pipeline::Limits;
use vecsim::sweep::{self, SweepConfig, SweepError, SweepObserver, TrafficSeeds};
use vecsim_core::policy::PolicyName;
use vecsim_learn::Budget;
use vecsim_learn::RewardSignal;

#[derive(Args, Debug, Clone)]
pub(crate) struct SweepArgs {
    /// Scenario file, or a preset name (e.g. `paper-noon`).
    pub scenario: String,
    /// A scenario key (dotted TOML path, e.g. `rsus.cpu_ghz`, `tasks.request_rate`,
    /// `learning.gamma`) and the values to sweep it over, `KEY=A,B,C`; repeatable, every
    /// combination is a setting. Values are TOML (`0.9`, `[1,4]`, `"uniform"`; a bare word is a
    /// string) separated by commas or semicolons outside brackets: `rsus.cpu_ghz=[1,4];[3,10]`.
    #[arg(long = "set", value_name = "KEY=A,B,C")]
    pub set: Vec<String>,
    /// Baselines to run in every setting, comma-separated (default: orl,orm,random,br-ne when
    /// no learner is given, none otherwise).
    #[arg(long, value_delimiter = ',')]
    pub policies: Option<Vec<PolicyName>>,
    /// Learners to train in every setting (fed-maddpg, maddpg, masac), comma-separated; needs
    /// `--budget`. Trained once per setting and learner seed under OUT/train/.
    #[arg(long, value_delimiter = ',')]
    pub train: Vec<PolicyName>,
    /// Training budget of `--train`, as `vecsim train --budget`: smoke, small, quick, medium,
    /// standard or paper (networks, episodes, slots per training episode, schedule);
    /// `--set learning.KEY=...` wins over it.
    #[arg(long, value_parser = super::train::parse_budget)]
    pub budget: Option<Budget>,
    /// Learner seeds (1..=N) of every learner in `--train`.
    #[arg(long, default_value_t = 1)]
    pub learner_seeds: u32,
    /// What the learners of `--train` learn from: `difference` (credit to the deciding RSU),
    /// `marginal` (eq. 19, the paper) or `system` (F^t), as `vecsim train --reward`.
    #[arg(long, default_value = "difference", value_parser = parse_reward)]
    pub reward: RewardSignal,
    /// Trained learner checkpoints, `NAME=DIR` or `NAME#TAG=DIR`, repeatable; run greedily in
    /// every setting (the setting must be the environment the learner was trained for).
    #[arg(long, value_name = "NAME=DIR")]
    pub checkpoint: Vec<String>,
    /// Traffic seeds: the scenario's `seed` and the N − 1 after it.
    #[arg(long, default_value_t = 3, conflicts_with = "seed_list")]
    pub seeds: u64,
    /// Traffic seeds given explicitly, comma-separated (instead of `--seeds`).
    #[arg(long, value_delimiter = ',', value_name = "SEED,...")]
    pub seed_list: Vec<u64>,
    /// Slots of every evaluation run (default: the setting's `time.slots`).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Runs at once (threads); the CSV is the same byte for byte whatever this is.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Output directory: sweep.csv, sweep.png/.svg, sweep-plan.txt, train/. Running the same
    /// command again computes only the missing rows; another sweep there is refused.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_reward(s: &str) -> Result<RewardSignal, String> {
    RewardSignal::parse(s).ok_or_else(|| format!("unknown reward `{s}` (expected marginal, system or difference)"))
}

/// Prints one line per finished training and run on stderr (works on a terminal and in logs).
struct Lines {
    todo: AtomicUsize,
    done: AtomicUsize,
}

impl SweepObserver for Lines {
    fn planned(&self, todo: usize, trainings: usize, reused: usize) {
        self.todo.store(todo, Ordering::SeqCst);
        note!("{todo} run(s) to compute, {trainings} training(s), {reused} reused from the output directory");
    }
    fn trained(&self, what: &str) {
        note!("trained {what}");
    }
    fn run_finished(&self, row: &str) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        note!("[{n}/{}] {row}", self.todo.load(Ordering::SeqCst));
    }
}

pub(super) fn sweep(a: SweepArgs, limits: &Limits) -> anyhow::Result<ExitCode> {
    let sets = a.set.iter().map(|s| sweep::parse_set(s)).collect::<Result<Vec<_>, _>>().map_err(bad)?;
    let checkpoints = a.checkpoint.iter().map(|c| super::checkpoint_arg(c)).collect::<anyhow::Result<Vec<_>>>()?;
    let baselines = match a.policies {
        Some(p) => p,
        None if a.train.is_empty() && checkpoints.is_empty() => {
            vec![PolicyName::Orl, PolicyName::Orm, PolicyName::Random, PolicyName::BrNe]
        }
        None => Vec::new(),
    };
    let cfg = SweepConfig {
        scenario: a.scenario,
        sets,
        baselines,
        checkpoints,
        train: a.train,
        budget: a.budget,
        learner_seeds: a.learner_seeds,
        reward: a.reward,
        traffic_seeds: if a.seed_list.is_empty() {
            TrafficSeeds::Count(a.seeds)
        } else {
            TrafficSeeds::List(a.seed_list)
        },
        slots: a.slots,
        jobs: a.jobs,
        out: a.out,
        limits: *limits,
    };
    let obs = Lines { todo: AtomicUsize::new(0), done: AtomicUsize::new(0) };
    let out = sweep::run(&cfg, &obs).map_err(|e: SweepError| {
        if e.is_bad_input() {
            bad(vecsim::message::error_message(&e))
        } else {
            e.into()
        }
    })?;
    note!("{} rows ({} computed, {} reused): {}", out.rows.len(), out.computed, out.reused, out.csv.display());
    for f in &out.figures {
        note!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
