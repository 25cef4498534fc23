//! The training driver: episodes of a scenario with the learners' policies, federated rounds at
//! the VEC POOL, a learning-curve CSV, periodic checkpoints and exact resume.
//!
//! Episodes run on the sequential engine, with the VEC POOL round held in-process
//! ([`LearnerSet::federated_round`]), unless [`TrainConfig::runner`] names another engine: an
//! [`EpisodeRunner`] (the actor engine's lives in `vecsim-actors`, which depends on this crate,
//! not the other way round). Either way the trainer decides who takes part in each round, from
//! its own checkpointed per-RSU fault streams, and counts rounds and round dropouts itself, so
//! both paths give the same curve and the same checkpoint bytes.
//!
//! An iteration is one episode (Table III). Each training episode draws fresh traffic from a
//! seed derived from `(training seed, episode)` (`vary_seed`), so the learners do not memorise one
//! task sequence; evaluation (`vecsim run --checkpoint`) uses the scenario's own seed.
//! Everything random is seeded and part of the checkpoint, so training 2k episodes straight and
//! k, save, load, k more give bit-identical weights and curves.

use crate::checkpoint::{self, CheckpointError};
use crate::codec;
use crate::learner::{LearnerOptions, LearnerSet, State};
use crate::{build_learner_with, Kind, LearnError};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vecsim_core::fault::PoolFate;
use vecsim_core::mobility;
use vecsim_core::policy::Policy;
use vecsim_core::report::Summary;
use vecsim_core::rng::{self, Domain, SimRng};
use vecsim_core::{Engine, Scenario, ScenarioError};

/// The checkpoint file inside a checkpoint directory.
pub const CHECKPOINT_FILE: &str = "learner.ckpt";
/// Header of the learning-curve CSV.
pub const CURVE_HEADER: &str =
    "episode,cumulative_reward,completion_rate,average_realized_potential,critic_loss,actor_loss,federated_round\n";

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Learn(#[from] LearnError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("checkpoint holds a `{found}` learner, `{asked}` was asked for")]
    WrongLearner { found: String, asked: String },
    #[error("--resume needs --checkpoint DIR")]
    ResumeWithoutCheckpoint,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("episode engine: {0}")]
    Engine(String),
}

/// The VEC POOL round a runner holds after an episode's last slot.
#[derive(Clone, Copy, Debug)]
pub struct PoolRound<'a> {
    /// `participants[e]`: whether RSU e takes part (drawn by the trainer; the others skip).
    pub participants: &'a [bool],
    /// Weight each contribution by its sample count (`LearnerOptions::weighted_fedavg`), with
    /// equal weights when every participant's count is 0, as [`State::federated_round`] does.
    pub weighted: bool,
}

/// Who took part in a VEC POOL round, by RSU id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// RSUs whose parameters were averaged (and replaced by the average).
    pub contributed: Vec<u32>,
    /// RSUs that missed the round (they keep their own parameters).
    pub skipped: Vec<u32>,
}

/// What a runner hands back for one episode.
#[derive(Clone, Debug)]
pub struct EpisodeRun {
    pub summary: Summary,
    /// The round held after the last slot, when one was asked for.
    pub round: Option<RoundReport>,
}

/// Runs training episodes on an engine other than the built-in sequential one.
pub trait EpisodeRunner: Send {
    /// A short name (`actors`), for messages.
    fn name(&self) -> &str;

    /// Runs one episode of `scenario` (with its own seed) with `policies` (one per RSU, index =
    /// RSU id; they share the learners' state, so their training is the learners'). With
    /// `round`, holds a VEC POOL round after the last slot: every participant contributes
    /// `Policy::export_params`, the pool averages them with [`crate::fedavg::fed_avg`] in RSU-id
    /// order with the weights of [`PoolRound::weighted`], and every participant imports the
    /// average (`Policy::import_params`); the others keep theirs.
    fn run(
        &mut self,
        scenario: &Scenario,
        policies: Vec<Box<dyn Policy>>,
        round: Option<PoolRound<'_>>,
    ) -> Result<EpisodeRun, TrainError>;
}

/// A shareable [`EpisodeRunner`] for [`TrainConfig::runner`].
#[derive(Clone)]
pub struct Runner(Arc<Mutex<dyn EpisodeRunner>>);

impl Runner {
    pub fn new(r: impl EpisodeRunner + 'static) -> Runner {
        Runner(Arc::new(Mutex::new(r)))
    }

    fn run(
        &self,
        scenario: &Scenario,
        policies: Vec<Box<dyn Policy>>,
        round: Option<PoolRound<'_>>,
    ) -> Result<EpisodeRun, TrainError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).run(scenario, policies, round)
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        write!(f, "Runner({})", r.name())
    }
}

/// What `vecsim train` asks for.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// `fed-maddpg`, `maddpg` or `masac`.
    pub policy: String,
    /// Total episodes (a resumed run continues up to this count).
    pub episodes: u32,
    /// Seed of the learners and of the training traffic.
    pub seed: u64,
    /// Checkpoint directory (written every `checkpoint_every` episodes and at the end).
    pub checkpoint: Option<PathBuf>,
    pub checkpoint_every: u32,
    /// Continue from the checkpoint in `checkpoint`.
    pub resume: bool,
    /// Learning-curve CSV path (rewritten whole after each episode, resumed curves included).
    pub curve_csv: Option<PathBuf>,
    /// Fresh traffic per episode (see the module doc).
    pub vary_seed: bool,
    /// Threads for large matrix products.
    pub threads: usize,
    pub options: LearnerOptions,
    /// The engine episodes run on; `None`: the sequential engine, with VEC POOL rounds held
    /// in-process ([`LearnerSet::federated_round`]).
    pub runner: Option<Runner>,
}

impl TrainConfig {
    pub fn new(policy: &str, episodes: u32, seed: u64) -> TrainConfig {
        TrainConfig {
            policy: policy.to_string(),
            episodes,
            seed,
            checkpoint: None,
            checkpoint_every: 10,
            resume: false,
            curve_csv: None,
            vary_seed: true,
            threads: 2,
            options: LearnerOptions::default(),
            runner: None,
        }
    }
}

/// One row of the learning curve (one episode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRow {
    /// 1-based episode number.
    pub episode: u64,
    /// `Σ_t F^t`.
    pub cumulative_reward: f64,
    pub completion_rate: f64,
    pub average_realized_potential: f64,
    /// Mean losses of the episode's update steps (0 before the first update).
    pub critic_loss: f64,
    pub actor_loss: f64,
    /// Federated rounds held so far.
    pub federated_round: u64,
    /// Gradient update steps (all agents) so far.
    pub update_steps: u64,
}

impl EpisodeRow {
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{},{}\n",
            self.episode,
            self.cumulative_reward,
            self.completion_rate,
            self.average_realized_potential,
            self.critic_loss,
            self.actor_loss,
            self.federated_round
        )
    }
}

/// Progress reported after each episode (for the CLI's progress bar).
#[derive(Clone, Debug)]
pub struct Progress<'a> {
    pub row: &'a EpisodeRow,
    /// The episode's summary (`faults.round_dropouts`: RSUs that missed this episode's round).
    pub summary: &'a Summary,
    /// This episode's VEC POOL round, if one was due.
    pub round: Option<&'a RoundReport>,
    pub total_episodes: u32,
    /// Update steps per second of wall time over this episode (not part of any result).
    pub update_steps_per_s: f64,
}

/// The trainer's own state, saved beside the learners'.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainProgress {
    pub policy: String,
    pub seed: u64,
    pub episodes_done: u64,
    /// One stream per RSU for federated-round faults (`faults.round_dropout`, `loss.pool`).
    pub pool_rngs: Vec<SimRng>,
    pub curve: Vec<EpisodeRow>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    state: State,
    progress: TrainProgress,
}

/// Saves learners and trainer progress into `dir`.
pub fn save_checkpoint(
    dir: &Path,
    scenario: &Scenario,
    set: &LearnerSet,
    progress: &TrainProgress,
) -> Result<(), TrainError> {
    let payload = set.with_state(|s| codec::encode(&SavedRef { state: s, progress }));
    let payload = payload.map_err(|e| CheckpointError::Decode { path: dir.to_path_buf(), source: e })?;
    checkpoint::write(&dir.join(CHECKPOINT_FILE), scenario.hash(), &payload)?;
    Ok(())
}

#[derive(Serialize)]
struct SavedRef<'a> {
    state: &'a State,
    progress: &'a TrainProgress,
}

/// Loads learners and trainer progress from `dir`, refusing a checkpoint of another scenario.
pub fn load_checkpoint(dir: &Path, scenario: &Scenario) -> Result<(LearnerSet, TrainProgress), TrainError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = checkpoint::read(&path, scenario.hash())?;
    let saved: Saved = codec::decode(&bytes).map_err(|source| CheckpointError::Decode { path, source })?;
    Ok((LearnerSet::from_state(saved.state), saved.progress))
}

/// The trained policies of a checkpoint, in evaluation mode (greedy, no learning), for
/// `vecsim run --policy NAME --checkpoint DIR`. One policy per RSU: `set.policies()`.
pub fn load_policies(dir: &Path, scenario: &Scenario, policy: &str) -> Result<LearnerSet, TrainError> {
    let (set, _) = load_checkpoint(dir, scenario)?;
    if set.kind().name() != policy {
        return Err(TrainError::WrongLearner { found: set.kind().name().into(), asked: policy.into() });
    }
    set.set_training(false);
    Ok(set)
}

/// The traffic seed of training episode `episode` (0-based).
pub fn episode_seed(seed: u64, episode: u64) -> u64 {
    let mut r = rng::stream(seed, Domain::Mobility, episode ^ 0x7EA1_0000_0000_0000);
    rand::Rng::gen(&mut r)
}

/// Runs one episode of `scenario` (with its own seed) with the set's policies; returns the summary.
pub fn run_episode(scenario: &Scenario, set: &LearnerSet) -> Result<Summary, TrainError> {
    let fleet = mobility::load(scenario, None)?;
    let engine = Engine::new(Arc::new(scenario.clone()), fleet, set.policies(), None);
    let (stats, _) = engine.run();
    Ok(stats.summary())
}

/// Evaluates the set greedily on the scenario as written (its seed); training mode is restored.
pub fn evaluate(scenario: &Scenario, set: &LearnerSet) -> Result<Summary, TrainError> {
    let was = set.with_state(|s| s.training);
    set.set_training(false);
    let r = run_episode(scenario, set);
    set.set_training(was);
    r
}

/// What a finished training run hands back.
pub struct TrainOutcome {
    pub set: LearnerSet,
    pub curve: Vec<EpisodeRow>,
}

/// Trains `cfg.policy` on `scenario`; `on_episode` sees every episode's row as it closes.
pub fn train(
    scenario: &Scenario,
    cfg: &TrainConfig,
    on_episode: &mut dyn FnMut(&Progress<'_>),
) -> Result<TrainOutcome, TrainError> {
    crate::mlp::set_threads(cfg.threads);
    let rsus = scenario.rsu_count();
    let (set, mut progress) = if cfg.resume {
        let dir = cfg.checkpoint.as_ref().ok_or(TrainError::ResumeWithoutCheckpoint)?;
        let (set, p) = load_checkpoint(dir, scenario)?;
        if p.policy != cfg.policy {
            return Err(TrainError::WrongLearner { found: p.policy, asked: cfg.policy.clone() });
        }
        (set, p)
    } else {
        let set = build_learner_with(&cfg.policy, scenario, rsus, cfg.seed, cfg.options.clone())?;
        let pool_rngs = (0..rsus).map(|e| rng::stream(cfg.seed, Domain::FaultPool, e as u64)).collect();
        (
            set,
            TrainProgress {
                policy: cfg.policy.clone(),
                seed: cfg.seed,
                episodes_done: 0,
                pool_rngs,
                curve: Vec::new(),
            },
        )
    };
    set.set_training(true);
    let period = scenario.learning.aggregation_period.max(1) as u64;
    let layout = scenario.pinned_layout();
    while progress.episodes_done < cfg.episodes as u64 {
        let ep = progress.episodes_done;
        // Fresh traffic per episode, on the RSU layout of the scenario's own seed.
        let mut sc = layout.clone();
        if cfg.vary_seed {
            sc.seed = episode_seed(progress.seed, ep);
        }
        let steps_before = set.with_state(|s| s.agents.iter().map(|a| a.updates).sum::<u64>());
        let t0 = Instant::now();
        // VEC POOL round every α_tg episodes (fed-maddpg only); RSUs missing it keep their actor.
        // The trainer draws who takes part from its own streams, whichever engine runs.
        let participants: Option<Vec<bool>> = (set.kind() == Kind::FedMaddpg && (ep + 1) % period == 0).then(|| {
            progress
                .pool_rngs
                .iter_mut()
                .map(|r| matches!(scenario.faults.pool_round(r), PoolFate::Delivered { .. }))
                .collect()
        });
        let asked = participants.as_deref().map(|p| PoolRound { participants: p, weighted: set_weighted(&set) });
        let (mut summary, round) = match &cfg.runner {
            None => {
                let summary = run_episode(&sc, &set)?;
                let round = match asked {
                    Some(r) => {
                        set.federated_round(r.participants)?;
                        Some(round_report(r.participants))
                    }
                    None => None,
                };
                (summary, round)
            }
            Some(runner) => {
                let run = runner.run(&sc, set.policies(), asked)?;
                let round = match (asked, run.round) {
                    (Some(r), Some(got)) => {
                        let want = round_report(r.participants);
                        if got != want {
                            return Err(TrainError::Engine(format!(
                                "the VEC POOL round took {:?} and skipped {:?}; the trainer asked for {:?}",
                                got.contributed, got.skipped, want.contributed
                            )));
                        }
                        // The in-process round counts itself; a runner's is counted here, on
                        // the same condition (somebody took part).
                        if !got.contributed.is_empty() {
                            set.with_state(|s| s.fed_rounds += 1);
                        }
                        Some(got)
                    }
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(TrainError::Engine("a VEC POOL round was asked for, none held".into()))
                    }
                    (None, Some(_)) => return Err(TrainError::Engine("a VEC POOL round was held unasked".into())),
                };
                (run.summary, round)
            }
        };
        // Round dropouts are the trainer's count on both paths.
        summary.faults.round_dropouts = round.as_ref().map_or(0, |r| r.skipped.len() as u64);
        let wall = t0.elapsed().as_secs_f64();
        let (losses, fed, steps) =
            set.with_state(|s| (s.take_losses(), s.fed_rounds, s.agents.iter().map(|a| a.updates).sum::<u64>()));
        let row = EpisodeRow {
            episode: ep + 1,
            cumulative_reward: summary.cumulative_reward,
            // An episode with no covered task has no rate: NaN in the curve, not a fake 0.
            completion_rate: summary.completion_rate.unwrap_or(f64::NAN),
            average_realized_potential: summary.average_realized_potential,
            critic_loss: losses.critic,
            actor_loss: losses.actor,
            federated_round: fed,
            update_steps: steps,
        };
        progress.curve.push(row.clone());
        progress.episodes_done += 1;
        if let Some(path) = &cfg.curve_csv {
            write_curve(path, &progress.curve)?;
        }
        let last = progress.episodes_done == cfg.episodes as u64;
        if let Some(dir) = &cfg.checkpoint {
            if last || progress.episodes_done % cfg.checkpoint_every.max(1) as u64 == 0 {
                save_checkpoint(dir, scenario, &set, &progress)?;
            }
        }
        let rate = if wall > 0.0 { (steps - steps_before) as f64 / wall } else { 0.0 };
        on_episode(&Progress {
            row: &row,
            summary: &summary,
            round: round.as_ref(),
            total_episodes: cfg.episodes,
            update_steps_per_s: rate,
        });
    }
    Ok(TrainOutcome { set, curve: progress.curve })
}

fn set_weighted(set: &LearnerSet) -> bool {
    set.with_state(|s| s.opts.weighted_fedavg)
}

/// The round the trainer asked for, as a runner must report it.
fn round_report(participants: &[bool]) -> RoundReport {
    let mut r = RoundReport::default();
    for (e, &p) in participants.iter().enumerate() {
        if p {
            r.contributed.push(e as u32);
        } else {
            r.skipped.push(e as u32);
        }
    }
    r
}

/// Writes the whole learning curve as CSV.
pub fn write_curve(path: &Path, curve: &[EpisodeRow]) -> Result<(), TrainError> {
    let mut s = String::from(CURVE_HEADER);
    for r in curve {
        let _ = write!(s, "{}", r.csv_line());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| TrainError::Io { path: dir.to_path_buf(), source })?;
    }
    std::fs::write(path, s).map_err(|source| TrainError::Io { path: path.to_path_buf(), source })
}
