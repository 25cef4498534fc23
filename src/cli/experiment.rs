//! `vecsim experiment traffic|aggregation|capacity|convergence`: the paper's Fig. 4–7 (the
//! library's `vecsim::experiment`), with a progress bar and an ETA, then a table of means.

use super::bad;
use super::engine_args::parse_threads;
use super::output::{self, heading, note, outln, OutputError};
use super::train::{BackendArg, Reward};
use clap::Args;
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::process::ExitCode;
use vecsim::experiment::{self, Budget, ExperimentConfig, ExperimentError, ExperimentKind, ExperimentObserver, RunRow};
use vecsim::pipeline::Limits;

#[derive(Args, Debug, Clone)]
pub(crate) struct ExperimentArgs {
    /// traffic (Fig. 4), aggregation (Fig. 5), capacity (Fig. 6) or convergence (Fig. 7).
    pub experiment: ExperimentKind,
    /// Training budget, the same list as `vecsim train --budget` (same meaning): smoke (tests:
    /// 2 x 5 slots, width-8 networks), small (about half an hour for all four on 2 cores),
    /// quick (`vecsim train --budget quick`: 40 x 100 slots, 64-64 networks, rates 1e-3),
    /// medium, standard, or paper (Table III: 6,100 iterations of 300 slots, GPU-scale).
    #[arg(long, default_value = "small", value_parser = super::train::parse_budget)]
    pub budget: Budget,
    /// Evaluation traffic seeds per setting (default: the budget's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub seeds: Option<u32>,
    /// Training seeds per learner (default: the budget's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub learner_seeds: Option<u32>,
    /// Output directory: EXPERIMENT.csv, EXPERIMENT.png/.svg and training checkpoints under
    /// train/; runs already there are reused (default: results/BUDGET).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads for the learners' matrix products.
    #[arg(long, default_value_t = 1, value_parser = parse_threads)]
    pub threads: usize,
    /// What every learner learns from, as `vecsim train --reward`: `difference` (default),
    /// `marginal` (eq. 19, the paper) or `system` (F^t).
    #[arg(long, value_enum, default_value_t = Reward::Difference)]
    pub reward: Reward,
    /// Set one `[learning]` hyper-parameter of every learner, `KEY=VALUE`, repeatable, after the
    /// budget (as `vecsim train --learn`); the experiment's own variable (α_tg in
    /// `aggregation`) still wins.
    #[arg(long = "learn", value_name = "KEY=VALUE")]
    pub learn: Vec<String>,
    /// An update round every N slots (as `vecsim train --update-every`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub update_every: Option<u32>,
    /// Actor hidden widths of every learner (as `vecsim train --actor-hidden`; default: the
    /// budget's).
    #[arg(long, value_parser = super::bounds::parse_actor_hidden)]
    pub actor_hidden: Option<super::bounds::ActorWidths>,
    /// Critic widths `EMBED/HEAD` of every learner (as `vecsim train --critic-hidden`).
    #[arg(long, value_parser = super::bounds::parse_critic_hidden)]
    pub critic_hidden: Option<super::bounds::CriticWidths>,
    /// Network backend of every learner: `gemm` or `dfdx` (as `vecsim train --backend`).
    #[arg(long, value_enum, default_value_t = BackendArg::Gemm)]
    pub backend: BackendArg,
}

struct Bar {
    bar: ProgressBar,
}

impl ExperimentObserver for Bar {
    fn planned(&mut self, units: u64, todo: usize, reused: usize) {
        self.bar.set_length(units.max(1));
        if reused > 0 {
            self.bar.println(format!("reusing {reused} run(s) found in the output directory; {todo} to run"));
        }
    }
    fn working_on(&mut self, what: &str) {
        self.bar.set_message(what.to_string());
    }
    fn advanced(&mut self, units: u64) {
        self.bar.inc(units);
    }
    fn run_finished(&mut self, _row: &RunRow) {}
}

fn experiment_error(e: ExperimentError) -> anyhow::Error {
    if e.is_bad_input() {
        bad(vecsim::message::error_message(&e))
    } else {
        anyhow::Error::new(e)
    }
}

pub(super) fn experiment(a: ExperimentArgs, limits: &Limits) -> anyhow::Result<ExitCode> {
    let budget = a.budget;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from("results").join(budget.name()));
    let mut cfg = ExperimentConfig::new(a.experiment, budget, out);
    if let Some(n) = a.seeds {
        cfg.traffic_seeds = n;
    }
    if let Some(n) = a.learner_seeds {
        cfg.learner_seeds = n;
    }
    cfg.threads = a.threads;
    cfg.limits = *limits;
    let l = &mut cfg.learner;
    l.reward = a.reward.signal();
    l.learn = a.learn.clone();
    l.update_every = a.update_every;
    l.actor_hidden = a.actor_hidden.as_ref().map(|h| h.0.clone());
    l.critic_hidden = a.critic_hidden.as_ref().map(|c| (c.embed.clone(), c.head.clone()));
    l.backend = match a.backend {
        BackendArg::Gemm => vecsim_learn::Backend::Gemm,
        BackendArg::Dfdx => vecsim_learn::Backend::Dfdx,
    };
    // Every argument checked before the plan is printed: the learner options resolve.
    experiment::check(&cfg).map_err(experiment_error)?;
    note!("experiment {} — budget {}", cfg.kind, cfg.budget.spec().describe());
    note!(
        "{} traffic seed(s) ({}..={}), {} learner seed(s); output {}",
        cfg.traffic_seeds,
        experiment::EVAL_SEED_BASE + 1,
        experiment::EVAL_SEED_BASE + cfg.traffic_seeds as u64,
        cfg.learner_seeds,
        cfg.out.display()
    );
    let bar = output::progress_bar(
        1,
        "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {percent:>3}% ETA {eta}  {msg}",
    );
    let mut watch = Bar { bar };
    let result = experiment::run(&cfg, &mut watch);
    watch.bar.finish_and_clear();
    let out = result.map_err(experiment_error)?;
    print_table(&out.rows)?;
    note!("{} run(s): {} computed, {} reused, {:.1} s", out.rows.len(), out.computed, out.reused, out.wall_s);
    note!("wrote {}", out.csv.display());
    for f in &out.figures {
        note!("wrote {}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[RunRow]) -> Result<(), OutputError> {
    let settings = experiment_distinct(rows, |r| r.setting.clone());
    let policies = experiment_distinct(rows, |r| r.policy.clone());
    outln!(
        "{}",
        heading(&format!(
            "  {:<18} {:<12} {:>22} {:>24} {:>6}",
            "setting", "policy", "completion rate", "avg realized potential", "runs"
        ))
    )?;
    for s in &settings {
        for p in &policies {
            let sel: Vec<&RunRow> = rows.iter().filter(|r| &r.setting == s && &r.policy == p).collect();
            if sel.is_empty() {
                continue;
            }
            let rate: Vec<f64> = sel.iter().filter_map(|r| r.completion_rate).collect();
            let arp: Vec<f64> = sel.iter().map(|r| r.average_realized_potential).collect();
            let rate = vecsim::plot::MeanErr::of(&rate)
                .map_or(format!("{:>22}", "-"), |m| format!("{:>12.2} % ± {:>5.2}", 100.0 * m.mean, 100.0 * m.err));
            let arp = vecsim::plot::MeanErr::of(&arp)
                .map_or(format!("{:>24}", "-"), |m| format!("{:>14.3} ± {:>7.3}", m.mean, m.err));
            outln!("  {:<18} {:<12} {} {} {:>6}", s, p, rate, arp, sel.len())?;
        }
    }
    Ok(())
}

fn experiment_distinct(rows: &[RunRow], f: impl Fn(&RunRow) -> String) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        let x = f(r);
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}
