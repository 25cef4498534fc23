//! The paper's experiments (§V-B, Fig. 4–7) as runs of the simulator, with a CSV of every run,
//! figures (PNG and SVG) and resume.
//!
//! Each experiment is a list of [`Setting`]s (a scenario each), the policies to run in every
//! setting, and a figure drawn from the rows. Baselines are evaluated on every traffic seed;
//! learners are trained with the project's trainer ([`vecsim_learn::train::train`], sequential
//! engine) once per (setting, learner, learner seed) and then evaluated greedily on the same
//! held-out traffic seeds as the baselines ([`EVAL_SEED_BASE`]` + 1..`). How long they train is
//! the [`Budget`]'s business — the same list of budgets as `vecsim train` and `vecsim sweep`
//! ([`vecsim_learn::budget`]) — and every training is set up by [`crate::training`], as
//! `vecsim train` sets one up: `experiment --budget quick` trains exactly as
//! `train --budget quick` does. The learner options ([`ExperimentConfig::learner`]: reward,
//! `[learning]` keys, networks, backend) apply to every learner of the experiment, after the
//! budget; the experiment's own variable (α_tg of Fig. 5) comes last.
//!
//! Resume: every finished run is appended to `OUT/EXPERIMENT.csv` at once; a second invocation
//! with the same `--out` and the same learner options reuses the rows there and computes only
//! the missing ones (other learner options are refused: `OUT/EXPERIMENT-learner.txt` records
//! them). Training is checkpointed under `OUT/train/` (keyed by the training scenario with its
//! resolved hyper-parameters, the learner, its seed and its options; `run.toml` in each), so an
//! interrupted training continues and experiments sharing a training (the traffic experiment
//! and the convergence experiment) train once.

pub mod aggregation;
pub mod capacity;
pub mod convergence;
pub mod runs;
pub mod traffic;

pub use runs::RunRow;
pub use vecsim_learn::Budget;

use crate::pipeline::{self, Limits, PipelineError};
use crate::plot::{Figure, PlotError, Table};
use crate::training::{TrainSpec, TrainingError};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;
use vecsim_core::learning::LearningConfig;
use vecsim_core::observer::{NoObserver, Observer};
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;
use vecsim_core::{Scenario, Sequential};
use vecsim_learn::train::{self as trainer, Progress, TrainError, TrainObserver};

/// Evaluation traffic seeds are `EVAL_SEED_BASE + 1 ..= EVAL_SEED_BASE + N`: held out from
/// training, whose episodes draw their traffic from hashed `(learner seed, episode)` seeds.
pub const EVAL_SEED_BASE: u64 = 100;

/// Progress units of one slot of a training episode, relative to one slot of an evaluation run
/// (for the ETA only).
const TRAIN_SLOT_UNITS: u64 = 20;

/// Why an experiment could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// A scenario could not be loaded or run.
    #[error(transparent)]
    Pipeline(Box<PipelineError>),
    /// Training a learner failed.
    #[error("training {what}")]
    Train {
        /// Which training.
        what: String,
        /// Why.
        #[source]
        source: Box<TrainError>,
    },
    /// The output directory holds runs of another budget or experiment, or a runs file that is
    /// not one.
    #[error("{}: {message}", path.display())]
    Runs {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Drawing or reading a figure's data failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// The learner options do not apply (a bad `--learn KEY=VALUE`).
    #[error(transparent)]
    Setup(Box<TrainingError>),
    /// A seed count of 0.
    #[error("{flag} must be at least 1")]
    Count {
        /// The flag.
        flag: &'static str,
    },
}

impl From<PipelineError> for ExperimentError {
    fn from(e: PipelineError) -> ExperimentError {
        ExperimentError::Pipeline(Box::new(e))
    }
}

impl ExperimentError {
    /// Whether the error is in the user's input (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            ExperimentError::Pipeline(p) => p.is_bad_input(),
            ExperimentError::Runs { .. } | ExperimentError::Count { .. } => true,
            ExperimentError::Setup(e) => !matches!(**e, TrainingError::Io { .. } | TrainingError::Train(_)),
            ExperimentError::Plot(p) => p.is_bad_input(),
            // A damaged or foreign checkpoint in the output directory is bad input; a failure
            // of the training itself is not.
            ExperimentError::Train { source, .. } => matches!(
                **source,
                TrainError::Checkpoint(ref c) if !matches!(c, vecsim_learn::checkpoint::CheckpointError::Io { .. })
            ),
            ExperimentError::Io { .. } => false,
        }
    }
}

/// The four experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExperimentKind {
    /// Fig. 4: completion rate and average realized potential per traffic window.
    Traffic,
    /// Fig. 5: Fed-MADDPG's completion rate against the aggregation period α_tg.
    Aggregation,
    /// Fig. 6: completion rate and realized potential against RSU CPU ranges.
    Capacity,
    /// Fig. 7: cumulative reward per training iteration, smoothed, with a band over seeds.
    Convergence,
}

impl ExperimentKind {
    /// All four.
    pub const ALL: [ExperimentKind; 4] =
        [ExperimentKind::Traffic, ExperimentKind::Aggregation, ExperimentKind::Capacity, ExperimentKind::Convergence];

    /// The experiment's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentKind::Traffic => "traffic",
            ExperimentKind::Aggregation => "aggregation",
            ExperimentKind::Capacity => "capacity",
            ExperimentKind::Convergence => "convergence",
        }
    }

    fn plan(self, budget: &Budget) -> Result<Plan, ExperimentError> {
        match self {
            ExperimentKind::Traffic => traffic::plan(budget),
            ExperimentKind::Aggregation => aggregation::plan(budget),
            ExperimentKind::Capacity => capacity::plan(budget),
            ExperimentKind::Convergence => convergence::plan(budget),
        }
    }
}

impl fmt::Display for ExperimentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExperimentKind {
    type Err = String;

    fn from_str(s: &str) -> Result<ExperimentKind, String> {
        ExperimentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown experiment `{s}` (expected traffic, aggregation, capacity or convergence)"))
    }
}

/// One setting of an experiment: a scenario (the budget already applied) and where it goes on
/// the figure.
#[derive(Clone, Debug)]
pub struct Setting {
    /// Unique name, e.g. `noon`, `noon alpha=500`.
    pub name: String,
    /// The traffic window it uses.
    pub window: String,
    /// Its value on the figure's x axis.
    pub x: f64,
    /// The scenario, with the budget's slots and learning settings.
    pub scenario: Scenario,
}

/// What an experiment runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The settings.
    pub settings: Vec<Setting>,
    /// Baselines evaluated in every setting (reference lines included).
    pub baselines: Vec<PolicyName>,
    /// Learners trained and evaluated in every setting.
    pub learners: Vec<PolicyName>,
}

/// The paper's traffic windows, lightest first, as (short name, preset).
pub const WINDOWS: [(&str, &str); 3] =
    [("evening", "paper-evening"), ("morning", "paper-morning"), ("noon", "paper-noon")];

/// Table III's aggregation period α_tg, iterations of its 6,100 (the experiments scale it to
/// the budget's run).
pub fn paper_alpha() -> u32 {
    LearningConfig::default().aggregation_period
}

/// Slots of one training episode and one evaluation run at `budget` (the paper's windows are
/// 300-slot scenarios, the `paper` budget's length).
pub fn slots_of(budget: Budget) -> u32 {
    budget.spec().slots.unwrap_or(LearningConfig::PAPER_SLOTS)
}

/// A preset with the budget applied as `vecsim train --budget` applies it (slots, learning
/// settings), then α_tg scaled from `paper_alpha`.
pub fn budget_scenario(preset: &str, budget: &Budget, paper_alpha: u32) -> Result<Scenario, ExperimentError> {
    let s = pipeline::load_scenario(preset, &Overrides::default())?;
    let mut spec = TrainSpec::new(s.policy, Some(*budget));
    spec.learn.push(format!("aggregation_period={}", budget.spec().scaled_alpha(paper_alpha)));
    let mut r = spec.resolve(s.clone(), preset).map_err(|e| ExperimentError::Setup(Box::new(e)))?;
    r.scenario.policy = s.policy;
    Ok(r.scenario)
}

/// What to run and where.
#[derive(Clone, Debug)]
pub struct ExperimentConfig {
    /// Which experiment.
    pub kind: ExperimentKind,
    /// The compute budget.
    pub budget: Budget,
    /// Evaluation traffic seeds per setting.
    pub traffic_seeds: u32,
    /// Training seeds per learner.
    pub learner_seeds: u32,
    /// Output directory (CSV, figures, training checkpoints).
    pub out: PathBuf,
    /// Threads for the learners' matrix products.
    pub threads: usize,
    /// Memory limit of every scenario.
    pub limits: Limits,
    /// The learners' options (reward, `--learn` keys, networks, backend; `vecsim train`'s
    /// flags), applied to every learner after the budget. Its `policy` and `budget` are
    /// ignored: each learner of the plan at [`ExperimentConfig::budget`].
    pub learner: TrainSpec,
}

impl ExperimentConfig {
    /// `kind` at `budget` with the budget's default seed counts, into `out`, one thread.
    pub fn new(kind: ExperimentKind, budget: Budget, out: PathBuf) -> ExperimentConfig {
        ExperimentConfig {
            kind,
            traffic_seeds: budget.spec().traffic_seeds,
            learner_seeds: budget.spec().learner_seeds,
            learner: TrainSpec::new(PolicyName::FedMaddpg, Some(budget)),
            budget,
            out,
            threads: 1,
            limits: Limits::default(),
        }
    }

    /// The runs CSV: `OUT/EXPERIMENT.csv`.
    pub fn csv_path(&self) -> PathBuf {
        self.out.join(format!("{}.csv", self.kind))
    }

    /// The record of the learner options: `OUT/EXPERIMENT-learner.txt`.
    pub fn learner_path(&self) -> PathBuf {
        self.out.join(format!("{}-learner.txt", self.kind))
    }

    /// The learner options as recorded in [`ExperimentConfig::learner_path`]: everything of
    /// [`ExperimentConfig::learner`] that changes a trained learner.
    pub fn learner_text(&self) -> String {
        let l = &self.learner;
        format!(
            "learn = {:?}\nupdate_every = {:?}\nactor_hidden = {:?}\ncritic_hidden = {:?}\nreward = {}\nbackend = {}\n",
            l.learn,
            l.update_every,
            l.actor_hidden,
            l.critic_hidden,
            l.reward.name(),
            l.backend.name()
        )
    }

    /// The training of learner `policy` in setting `s`: the experiment's learner options at
    /// its budget, then the setting's α_tg.
    pub fn training_spec(&self, s: &Setting, policy: PolicyName) -> TrainSpec {
        let mut spec = self.learner.clone();
        spec.policy = policy;
        spec.budget = Some(self.budget);
        spec.slots = None;
        spec.episodes = None;
        spec.pretrain = None;
        spec.learn.push(format!("aggregation_period={}", s.scenario.learning.aggregation_period));
        spec
    }

    /// The figure's stem: `OUT/EXPERIMENT` (`.png`, `.svg`).
    pub fn figure_stem(&self) -> PathBuf {
        self.out.join(self.kind.as_str())
    }
}

/// Watches an experiment: the plan, progress in work units (for an ETA), each finished run.
pub trait ExperimentObserver {
    /// The experiment is about to start: `units` of work for `todo` runs; `reused` runs were
    /// found in the output directory.
    fn planned(&mut self, _units: u64, _todo: usize, _reused: usize) {}
    /// Work on `what` begins (a label for the progress display).
    fn working_on(&mut self, _what: &str) {}
    /// `units` of work were done.
    fn advanced(&mut self, _units: u64) {}
    /// A run finished (its row is on disk).
    fn run_finished(&mut self, _row: &RunRow) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl ExperimentObserver for Quiet {}

/// A learner trained in one setting: where its checkpoint and learning curve are.
#[derive(Clone, Debug)]
pub struct Training {
    /// The setting's name.
    pub setting: String,
    /// The learner.
    pub policy: String,
    /// Its seed.
    pub learner_seed: u64,
    /// Its checkpoint directory (`learner.ckpt`, `curve.csv`).
    pub dir: PathBuf,
}

impl Training {
    /// Its learning curve file.
    pub fn curve_path(&self) -> PathBuf {
        self.dir.join("curve.csv")
    }
}

/// What an experiment produced.
#[derive(Debug)]
pub struct ExperimentOutput {
    /// Every run of the plan, in plan order (reused and new).
    pub rows: Vec<RunRow>,
    /// The learners' trainings.
    pub trainings: Vec<Training>,
    /// The runs CSV.
    pub csv: PathBuf,
    /// The figure files (PNG, SVG).
    pub figures: Vec<PathBuf>,
    /// Runs found in the output directory and reused.
    pub reused: usize,
    /// Runs computed now.
    pub computed: usize,
    /// Wall time of this invocation, seconds.
    pub wall_s: f64,
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}

/// 64-bit FNV-1a of text (stable across builds and platforms).
fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The checkpoint directory of a training: `OUT/train/SCENARIO-LEARNER-lSEED-HASH`, the hash
/// covering the training scenario (its environment, slots and every resolved `[learning]` key,
/// α_tg included) and the learner's options (networks, reward, backend), so that trainings
/// are shared exactly when they are the same (the traffic and convergence experiments'
/// trainings; aggregation periods that scale to the same α_tg; the capacity experiment's
/// 3–10 GHz and the traffic experiment's noon).
fn training_dir(out: &Path, setting: &Setting, spec: &TrainSpec, seed: u64) -> Result<PathBuf, ExperimentError> {
    let r = spec.resolve(setting.scenario.clone(), &setting.name).map_err(|e| ExperimentError::Setup(Box::new(e)))?;
    let o = &r.options;
    let key = format!(
        "{}|{}|{}|{}|{:?}|{:?}|{}|{}|{}",
        r.scenario.hash(),
        r.scenario.time.slots,
        spec.policy,
        seed,
        r.scenario.learning,
        o.shape,
        o.reward.name(),
        o.backend.name(),
        r.episodes
    );
    let name = slug(&setting.scenario.name);
    Ok(out.join("train").join(format!("{name}-{}-l{seed}-{:08x}", spec.policy, fnv(&key) as u32)))
}

struct TrainWatch<'a> {
    obs: &'a mut dyn ExperimentObserver,
    units: u64,
}

impl Observer for TrainWatch<'_> {}

impl TrainObserver for TrainWatch<'_> {
    fn episode_closed(&mut self, _p: &Progress<'_>) {
        self.obs.advanced(self.units);
    }
}

#[allow(clippy::too_many_arguments)]
fn row_of(
    cfg: &ExperimentConfig,
    setting: &Setting,
    policy: PolicyName,
    learner_seed: Option<u64>,
    traffic_seed: u64,
    sum: &vecsim_core::report::Summary,
    train: (u32, f64),
    wall_s: f64,
) -> RunRow {
    RunRow {
        experiment: cfg.kind.to_string(),
        budget: cfg.budget.name().to_string(),
        setting: setting.name.clone(),
        window: setting.window.clone(),
        x: setting.x,
        policy: policy.to_string(),
        learner_seed,
        traffic_seed,
        slots: sum.slots,
        completion_rate: sum.completion_rate,
        cumulative_reward: sum.cumulative_reward,
        average_realized_potential: sum.average_realized_potential,
        migrations: sum.migrations,
        train_episodes: train.0,
        train_s: train.1,
        wall_s,
    }
}

/// The evaluation scenario of a setting on one traffic seed: the setting's RSU layout, the
/// seed's traffic.
fn eval_scenario(setting: &Setting, policy: PolicyName, seed: u64) -> Scenario {
    let mut s = setting.scenario.pinned_layout();
    s.seed = seed;
    s.policy = policy;
    s
}

/// Checks every setting of `cfg` before any work: the seed counts, the plan, and the learner
/// options resolved for every setting and learner (a bad `--learn` is named now, not after the
/// baselines ran). [`run`] calls it first.
pub fn check(cfg: &ExperimentConfig) -> Result<Plan, ExperimentError> {
    if cfg.traffic_seeds == 0 {
        return Err(ExperimentError::Count { flag: "--seeds" });
    }
    if cfg.learner_seeds == 0 {
        return Err(ExperimentError::Count { flag: "--learner-seeds" });
    }
    let plan = cfg.kind.plan(&cfg.budget)?;
    for s in &plan.settings {
        for &p in &plan.learners {
            cfg.training_spec(s, p)
                .resolve(s.scenario.clone(), &s.name)
                .map_err(|e| ExperimentError::Setup(Box::new(e)))?;
        }
    }
    Ok(plan)
}

/// Runs (or resumes) an experiment, then draws its figure.
pub fn run(cfg: &ExperimentConfig, obs: &mut dyn ExperimentObserver) -> Result<ExperimentOutput, ExperimentError> {
    let plan = check(cfg)?;
    let started = Instant::now();
    std::fs::create_dir_all(&cfg.out).map_err(|source| ExperimentError::Io { path: cfg.out.clone(), source })?;
    let csv = cfg.csv_path();
    let existing = runs::load(&csv)?;
    if let Some(r) = existing.iter().find(|r| r.budget != cfg.budget.name() || r.experiment != cfg.kind.as_str()) {
        return Err(ExperimentError::Runs {
            path: csv,
            message: format!(
                "holds runs of `{} --budget {}`, not `{} --budget {}`; give another --out",
                r.experiment,
                r.budget,
                cfg.kind,
                cfg.budget.name()
            ),
        });
    }
    // The learner options of the rows there: the same, or refused (their rows would be
    // another learner's).
    let learner_path = cfg.learner_path();
    let learner_text = cfg.learner_text();
    match std::fs::read_to_string(&learner_path) {
        Ok(old) if old != learner_text => {
            return Err(ExperimentError::Runs {
                path: learner_path,
                message: format!(
                    "the runs here were made with other learner options ({}); give another --out, or the same options",
                    old.trim().replace('\n', "; ")
                ),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            vecsim_core::atomic::write(&learner_path, learner_text.as_bytes())
                .map_err(|source| ExperimentError::Io { path: learner_path.clone(), source })?;
        }
        Err(source) => return Err(ExperimentError::Io { path: learner_path, source }),
    }
    let mut done: HashMap<runs::RunKey, RunRow> = existing.into_iter().map(|r| (r.key(), r)).collect();
    let seeds: Vec<u64> = (1..=cfg.traffic_seeds as u64).map(|k| EVAL_SEED_BASE + k).collect();
    let lseeds: Vec<u64> = (1..=cfg.learner_seeds as u64).collect();
    let key = |s: &Setting, p: PolicyName, l: Option<u64>, t: u64| (s.name.clone(), p.to_string(), l, t);

    // Plan the work: what is missing, and how much work it is.
    let b = cfg.budget;
    let (b_slots, b_episodes) = (slots_of(b), b.spec().episodes);
    let (mut units, mut todo, mut total) = (0u64, 0usize, 0usize);
    for s in &plan.settings {
        for &p in &plan.baselines {
            for &t in &seeds {
                total += 1;
                if !done.contains_key(&key(s, p, None, t)) {
                    todo += 1;
                    units += b_slots as u64;
                }
            }
        }
        for &p in &plan.learners {
            for &l in &lseeds {
                let missing = seeds.iter().filter(|&&t| !done.contains_key(&key(s, p, Some(l), t))).count();
                total += seeds.len();
                todo += missing;
                let dir = training_dir(&cfg.out, s, &cfg.training_spec(s, p), l)?;
                let need_curve = cfg.kind == ExperimentKind::Convergence && !dir.join("curve.csv").exists();
                if missing > 0 || need_curve {
                    units += (b_episodes as u64) * b_slots as u64 * TRAIN_SLOT_UNITS;
                    units += missing as u64 * b_slots as u64;
                }
            }
        }
    }
    obs.planned(units, todo, total - todo);

    let mut engine = Sequential;
    let mut trainings = Vec::new();
    let mut computed = 0usize;
    for s in &plan.settings {
        for &p in &plan.baselines {
            for &t in &seeds {
                if done.contains_key(&key(s, p, None, t)) {
                    continue;
                }
                obs.working_on(&format!("{} {p} seed {t}", s.name));
                let e = eval_scenario(s, p, t);
                let t0 = Instant::now();
                let policies = pipeline::build_policies(&e, None)?;
                let fleet = pipeline::load_fleet(&e, None, &cfg.limits)?;
                let out = pipeline::run_episode(e, fleet, policies, &mut engine, &mut NoObserver)?;
                let row = row_of(cfg, s, p, None, t, &out.stats.summary(), (0, 0.0), t0.elapsed().as_secs_f64());
                runs::append(&csv, &row)?;
                obs.advanced(b_slots as u64);
                obs.run_finished(&row);
                done.insert(row.key(), row);
                computed += 1;
            }
        }
        for &p in &plan.learners {
            for &l in &lseeds {
                let dir = training_dir(&cfg.out, s, &cfg.training_spec(s, p), l)?;
                trainings.push(Training {
                    setting: s.name.clone(),
                    policy: p.to_string(),
                    learner_seed: l,
                    dir: dir.clone(),
                });
                let missing: Vec<u64> =
                    seeds.iter().copied().filter(|&t| !done.contains_key(&key(s, p, Some(l), t))).collect();
                let need_curve = cfg.kind == ExperimentKind::Convergence && !dir.join("curve.csv").exists();
                if missing.is_empty() && !need_curve {
                    continue;
                }
                let what = format!("{} {p} learner seed {l}", s.name);
                obs.working_on(&format!("training {what}"));
                let (mut set, train_s) = train_one(cfg, s, p, l, &dir, obs).map_err(|e| match e {
                    TrainingError::Train(source) => {
                        ExperimentError::Train { what: format!("{what} ({})", dir.display()), source: Box::new(source) }
                    }
                    other => ExperimentError::Setup(Box::new(other)),
                })?;
                for t in missing {
                    obs.working_on(&format!("{} {p} learner seed {l} traffic seed {t}", s.name));
                    let e = eval_scenario(s, p, t);
                    pipeline::check_memory(&e, None, &cfg.limits)?;
                    let t0 = Instant::now();
                    let sum = trainer::evaluate(&e, &mut set).map_err(|source| ExperimentError::Train {
                        what: format!("evaluating {what}"),
                        source: Box::new(source),
                    })?;
                    let row = row_of(cfg, s, p, Some(l), t, &sum, (b_episodes, train_s), t0.elapsed().as_secs_f64());
                    runs::append(&csv, &row)?;
                    obs.advanced(b_slots as u64);
                    obs.run_finished(&row);
                    done.insert(row.key(), row);
                    computed += 1;
                }
            }
        }
    }

    // Every row of the plan, in plan order.
    let mut rows = Vec::new();
    for s in &plan.settings {
        for &p in &plan.baselines {
            for &t in &seeds {
                rows.extend(done.get(&key(s, p, None, t)).cloned());
            }
        }
        for &p in &plan.learners {
            for &l in &lseeds {
                for &t in &seeds {
                    rows.extend(done.get(&key(s, p, Some(l), t)).cloned());
                }
            }
        }
    }
    let fig = figure(cfg.kind, &cfg.budget, &rows, &trainings)?;
    let figures = fig.render(&cfg.figure_stem())?.to_vec();
    Ok(ExperimentOutput {
        reused: rows.len() - computed,
        computed,
        rows,
        trainings,
        csv,
        figures,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// The experiment's figure from its rows (and, for convergence, its trainings' curves).
pub fn figure(
    kind: ExperimentKind,
    budget: &Budget,
    rows: &[RunRow],
    trainings: &[Training],
) -> Result<Figure, ExperimentError> {
    Ok(match kind {
        ExperimentKind::Traffic => traffic::figure(budget, rows),
        ExperimentKind::Aggregation => aggregation::figure(budget, rows),
        ExperimentKind::Capacity => capacity::figure(budget, rows),
        ExperimentKind::Convergence => {
            let mut curves = Vec::new();
            for t in trainings {
                let path = t.curve_path();
                if path.exists() {
                    curves.push((t.clone(), Table::read(&path)?));
                }
            }
            convergence::figure(budget, rows, &curves)?
        }
    })
}

/// Trains one learner in one setting (resuming its checkpoint if there is one), set up by
/// [`crate::training`] as `vecsim train` sets one up; returns it and the training's wall time
/// in seconds (summed over interrupted attempts).
fn train_one(
    cfg: &ExperimentConfig,
    s: &Setting,
    p: PolicyName,
    seed: u64,
    dir: &Path,
    obs: &mut dyn ExperimentObserver,
) -> Result<(vecsim_learn::LearnerSet, f64), TrainingError> {
    let resolved = cfg.training_spec(s, p).resolve(s.scenario.clone(), &s.name)?;
    let mut tc = resolved.train_config(seed);
    tc.checkpoint = Some(dir.to_path_buf());
    tc.checkpoint_every = 5;
    tc.resume = dir.join(trainer::CHECKPOINT_FILE).exists();
    tc.curve_csv = Some(dir.join("curve.csv"));
    tc.threads = cfg.threads.max(1);
    let time_file = dir.join("train_s.txt");
    let before: f64 = if tc.resume {
        std::fs::read_to_string(&time_file).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0.0)
    } else {
        0.0
    };
    let t0 = Instant::now();
    let mut watch = TrainWatch { obs, units: slots_of(cfg.budget) as u64 * TRAIN_SLOT_UNITS };
    let outcome = resolved.train(&tc, false, &mut Sequential, &mut watch)?;
    let total = before + t0.elapsed().as_secs_f64();
    std::fs::write(&time_file, format!("{total:.3}\n"))
        .map_err(|source| TrainingError::Io { path: time_file, source })?;
    Ok((outcome.set, total))
}

/// Mean and sample standard deviation of a metric over the rows of one (setting, policy).
pub(crate) fn stat(
    rows: &[RunRow],
    setting: &str,
    policy: &str,
    metric: impl Fn(&RunRow) -> Option<f64>,
) -> Option<crate::plot::MeanErr> {
    let v: Vec<f64> = rows.iter().filter(|r| r.setting == setting && r.policy == policy).filter_map(metric).collect();
    crate::plot::MeanErr::of(&v)
}

/// The distinct values of `f` over `rows`, in first-seen order.
pub(crate) fn distinct(rows: &[RunRow], f: impl Fn(&RunRow) -> String) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        let x = f(r);
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// A runs CSV's figure, for `vecsim plot`: the experiment and budget are read from its rows
/// (convergence curves are looked up in the `train/` folder beside the CSV).
pub fn figure_from_csv(t: &Table) -> Result<Figure, ExperimentError> {
    let rows = runs::rows_of(t)?;
    let first = rows.first().ok_or_else(|| PlotError::Empty { path: t.path.clone() })?;
    let kind: ExperimentKind =
        first.experiment.parse().map_err(|message| ExperimentError::Runs { path: t.path.clone(), message })?;
    let budget: Budget = first.budget.parse().map_err(|e: vecsim_learn::budget::UnknownBudget| {
        ExperimentError::Runs { path: t.path.clone(), message: e.to_string() }
    })?;
    let mut trainings = Vec::new();
    if kind == ExperimentKind::Convergence {
        let train = t.path.parent().unwrap_or(Path::new(".")).join("train");
        let plan = kind.plan(&budget)?;
        let lseeds = distinct(&rows, |r| r.learner_seed.map_or(String::new(), |s| s.to_string()));
        for s in &plan.settings {
            for &p in &plan.learners {
                for l in lseeds.iter().filter_map(|l| l.parse::<u64>().ok()) {
                    let dir = find_training(&train, s, p, l).unwrap_or_else(|| train.join("missing"));
                    debug_assert!(dir.starts_with(&train));
                    trainings.push(Training { setting: s.name.clone(), policy: p.to_string(), learner_seed: l, dir });
                }
            }
        }
    }
    figure(kind, &budget, &rows, &trainings)
}

/// One setting per traffic window (x = 0, 1, 2), each at the budget with the paper's α_tg
/// (scaled): Fig. 4's and Fig. 7's settings.
pub(crate) fn window_settings(budget: &Budget) -> Result<Vec<Setting>, ExperimentError> {
    WINDOWS
        .iter()
        .enumerate()
        .map(|(i, (w, preset))| {
            Ok(Setting {
                name: w.to_string(),
                window: w.to_string(),
                x: i as f64,
                scenario: budget_scenario(preset, budget, paper_alpha())?,
            })
        })
        .collect()
}

/// The training directory under `train` of learner `policy` with seed `seed` in setting `s`,
/// found by its `run.toml` (`vecsim plot` does not know the learner options the experiment
/// ran with): the one whose scenario, policy, seed and α_tg match.
fn find_training(train: &Path, s: &Setting, policy: PolicyName, seed: u64) -> Option<PathBuf> {
    let prefix = format!("{}-{policy}-l{seed}-", slug(&s.scenario.name));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(train)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
        .collect();
    dirs.sort();
    let alpha = format!("aggregation_period = {}", s.scenario.learning.aggregation_period);
    dirs.into_iter().find(|d| {
        std::fs::read_to_string(d.join(crate::training::RUN_FILE)).is_ok_and(|t| t.lines().any(|l| l == alpha))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vecsim_learn::LearnerOptions;

    /// `experiment --budget B` trains exactly as `train --budget B` (the same resolved
    /// `[learning]` section, slots and networks), for every budget of the one list.
    #[test]
    fn an_experiments_training_is_trains_at_the_same_budget() {
        for budget in Budget::ALL {
            let cfg = ExperimentConfig::new(ExperimentKind::Traffic, budget, PathBuf::from("unused"));
            let plan = check(&cfg).unwrap();
            let s = &plan.settings[0];
            let exp = cfg.training_spec(s, PolicyName::Maddpg).resolve(s.scenario.clone(), &s.name).unwrap();
            let preset = pipeline::load_scenario(WINDOWS[0].1, &Overrides::default()).unwrap();
            let train = TrainSpec::new(PolicyName::Maddpg, Some(budget)).resolve(preset, WINDOWS[0].1).unwrap();
            assert_eq!(exp.scenario.learning, train.scenario.learning, "{budget}");
            assert_eq!(exp.scenario.time.slots, train.scenario.time.slots, "{budget}");
            assert_eq!((exp.episodes, &exp.options), (train.episodes, &train.options), "{budget}");
        }
        // quick is 40 x 100 slots with 64-64 actors; smoke is the tiny test budget.
        let mut opts = LearnerOptions::default();
        let mut l = LearningConfig::default();
        assert_eq!(Budget::Quick.apply(&mut l, &mut opts, 300).slots, Some(100));
        assert_eq!((l.max_iterations, &opts.shape.actor_hidden[..]), (40, &[64, 64][..]));
        assert_eq!(Budget::Smoke.spec().episodes, 2);
    }

    #[test]
    fn a_bad_learn_key_is_refused_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ExperimentConfig::new(ExperimentKind::Convergence, Budget::Smoke, dir.path().join("x"));
        cfg.learner.learn = vec!["gamma=2".into()];
        let e = check(&cfg).unwrap_err();
        assert!(e.is_bad_input());
        assert!(crate::message::error_message(&e).contains("gamma"), "{e}");
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn experiment_figures_label_their_axes_in_words() {
        let head = "experiment,budget,setting,window,x,policy,learner_seed,traffic_seed,slots,completion_rate,\
                    cumulative_reward,average_realized_potential,migrations,train_episodes,train_s,wall_s\n";
        for rows in [
            "traffic,small,evening,evening,0,orl,,101,60,0.5,10,1.25,0,0,0,0\n\
             traffic,small,evening,evening,0,fed-maddpg,1,101,60,0.25,5,0.625,0,12,1,1\n",
            "aggregation,small,evening alpha=900,evening,900,fed-maddpg,1,101,60,0.25,5,0.625,0,12,1,1\n",
            "capacity,small,1-4 GHz,noon,1,orl,,101,60,0.5,10,1.25,0,0,0,0\n",
        ] {
            let t = Table::parse(Path::new("results/x.csv"), &format!("{head}{rows}")).unwrap();
            let fig = figure_from_csv(&t).unwrap();
            for p in &fig.panels {
                let crate::plot::Panel::Bars(b) = p else { panic!("bars") };
                for text in [&b.x_label, &b.y_label] {
                    assert!(!text.contains(['_', '^']), "`{text}` reads as markup ({})", fig.title);
                }
            }
            assert!(!fig.title.contains('_'), "{}", fig.title);
        }
    }
}
