//! The training driver: episodes of a scenario with the learners' policies, federated rounds at
//! the VEC POOL, a learning-curve CSV, periodic checkpoints and exact resume.
//!
//! Episodes run on any [`Engine`] (the sequential loop, or the actor runtime where the VEC POOL
//! actor averages the RSU actors' networks by message), which holds the VEC POOL round after an
//! episode's last slot when one is due. The trainer decides who takes part in each round, from
//! its own checkpointed per-RSU fault streams, and counts rounds and round dropouts itself, so
//! every engine gives the same curve and the same checkpoint bytes. A [`TrainObserver`] sees
//! every slot of every episode (live metrics, pacing) and every finished episode.
//!
//! An iteration is one episode (Table III). Each training episode draws fresh traffic from a
//! seed derived from `(training seed, episode)` (`vary_seed`), so the learners do not memorise one
//! task sequence; evaluation (`vecsim run --checkpoint`) uses the scenario's own seed.
//! Everything random is seeded and part of the checkpoint, so training 2k episodes straight and
//! k, save, load, k more give bit-identical weights and curves.

use crate::checkpoint::{self, CheckpointError};
use crate::learner::LearnerOptions;
use crate::pretrain::{PretrainReport, PretrainSpec};
use crate::set::LearnerSet;
use crate::{build_learner_with, Kind, LearnError};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use vecsim_core::codec;
use vecsim_core::engine::{Engine, EngineError, Episode, RoundReport, RoundRequest};
use vecsim_core::fault::PoolFate;
use vecsim_core::mobility;
use vecsim_core::observer::{NoObserver, Observer};
use vecsim_core::policy::PolicySet;
use vecsim_core::report::Summary;
use vecsim_core::rng::{self, Domain, SimRng};
use vecsim_core::{Scenario, ScenarioError, Sequential};

/// The checkpoint file inside a checkpoint directory.
pub const CHECKPOINT_FILE: &str = "learner.ckpt";
/// Header of the learning-curve CSV.
pub const CURVE_HEADER: &str = "episode,cumulative_reward,completion_rate,average_realized_potential,critic_loss,actor_loss,federated_round,epsilon,eval_completion_rate,eval_cumulative_reward\n";

/// Held-out traffic seeds of the greedy evaluations in the curve (`eval_seed(0..eval_seeds)`).
/// They do not depend on the training seed, so every run is evaluated on the same traffic, and
/// they are drawn from their own stream, apart from every training episode's traffic.
pub fn eval_seed(i: u64) -> u64 {
    let mut r = rng::stream(0xE7A1, Domain::Mobility, 0x4E1D_0000_0000_0000 | i);
    rand::Rng::gen(&mut r)
}

/// Why a training run, checkpoint load or evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Building or updating the learners failed.
    #[error(transparent)]
    Learn(#[from] LearnError),
    /// Writing or reading the checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The scenario (or its mobility source) could not be loaded.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("checkpoint holds a `{found}` learner, `{asked}` was asked for")]
    /// The checkpoint was trained by another learner than the one asked for.
    WrongLearner {
        /// Learner name stored in the checkpoint.
        found: String,
        /// Learner name asked for.
        asked: String,
    },
    /// `--resume` with a setting that differs from the checkpoint's run: continuing would not
    /// be the run it claims to be.
    #[error(
        "--resume with a changed {flag}: the checkpoint's run has {key} = {was}, this command asks for {key} = {now}; \
         resume with the run's own flags (see run-options.txt in the checkpoint directory), or train into another --checkpoint DIR"
    )]
    ResumeChanged {
        /// The flag(s) that set it.
        flag: &'static str,
        /// The recorded setting.
        key: &'static str,
        /// Its value in the checkpoint's run.
        was: String,
        /// Its value now.
        now: String,
    },
    /// Another live process trains into the same checkpoint directory.
    #[error(transparent)]
    Locked(#[from] vecsim_core::atomic::LockError),
    /// `resume` was set without a checkpoint directory.
    #[error("--resume needs --checkpoint DIR")]
    ResumeWithoutCheckpoint,
    /// Writing the learning-curve CSV (or creating its directory) failed.
    #[error("{}", path.display())]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The engine failed to run an episode.
    #[error("episode engine")]
    Engine(#[from] EngineError),
    #[error("the VEC POOL round took {got:?} and skipped {skipped:?}; the trainer asked for {asked:?}")]
    /// The engine's VEC POOL round did not take exactly the RSUs the trainer asked for.
    RoundMismatch {
        /// RSU ids whose parameters the round averaged.
        got: Vec<u32>,
        /// RSU ids the round skipped.
        skipped: Vec<u32>,
        /// RSU ids the trainer asked to take part.
        asked: Vec<u32>,
    },
}

/// Watches a training run: every slot of every episode (through [`Observer`]) and every
/// finished episode.
pub trait TrainObserver: Observer {
    /// An episode finished; its curve row is written.
    fn episode_closed(&mut self, _progress: &Progress<'_>) {}
}

impl TrainObserver for NoObserver {}

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
    /// Episodes between checkpoints.
    pub checkpoint_every: u32,
    /// Continue from the checkpoint in `checkpoint`.
    pub resume: bool,
    /// Learning-curve CSV path (rewritten whole after each episode, resumed curves included).
    pub curve_csv: Option<PathBuf>,
    /// Fresh traffic per episode (see the module doc).
    pub vary_seed: bool,
    /// Threads for the learners: the actor engine trains RSUs in parallel on its workers, and
    /// whatever it leaves of these goes to each RSU's large matrix products.
    pub threads: usize,
    /// Learner settings outside Table III.
    pub options: LearnerOptions,
    /// Greedy evaluation after episodes K, 2K, 3K, ... (K = this), recorded in the curve; 0:
    /// never.
    pub eval_every: u32,
    /// Held-out traffic seeds of each evaluation ([`eval_seed`]`(0..eval_seeds)`).
    pub eval_seeds: u32,
    /// Keep the replay buffers in checkpoints. Exact resume needs them; evaluation does not, and
    /// without them a long run does not rewrite gigabytes at every checkpoint.
    pub save_replay: bool,
    /// Largest checkpoint file a resume reads, bytes (from `--max-memory`).
    pub checkpoint_cap: u64,
    /// Beyond the paper: clone the `br-ne` oracle into the fresh actors before the first episode
    /// ([`crate::pretrain`]); ignored on resume (the checkpoint holds the cloned learners).
    pub pretrain: Option<PretrainSpec>,
    /// Model selection on validation traffic: the actors are evaluated greedily before the
    /// first episode (after cloning) and at every curve evaluation (`eval_every`; nothing is
    /// selected without it), on the curve's held-out seeds ([`eval_seed`], never the traffic
    /// `compare` evaluates on); the run hands back the actors of the best of these ([`Kept`]).
    pub keep_best: bool,
    /// Set (e.g. by a SIGINT handler) to stop after the current episode: it finishes, the curve
    /// and a checkpoint are written, and [`TrainOutcome::interrupted`] says so.
    pub stop: Option<Arc<AtomicBool>>,
}

impl TrainConfig {
    /// `episodes` of `policy` from `seed`: no checkpoint or curve file, fresh traffic per episode,
    /// 2 threads, default [`LearnerOptions`].
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
            eval_every: 0,
            eval_seeds: 3,
            save_replay: true,
            checkpoint_cap: checkpoint::DEFAULT_CAP,
            pretrain: None,
            keep_best: false,
            stop: None,
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
    /// Task completion rate over the episode (completed / covered tasks).
    pub completion_rate: f64,
    /// `Σ_e Σ_t r_e^t / E` over the episode.
    pub average_realized_potential: f64,
    /// Mean losses of the episode's update steps (0 before the first update).
    pub critic_loss: f64,
    /// Mean actor loss of the episode's update steps (0 before the first update).
    pub actor_loss: f64,
    /// Federated rounds held so far.
    pub federated_round: u64,
    /// Gradient update steps (all agents) so far.
    pub update_steps: u64,
    /// Exploration probability `ε` the episode ran with (fed-maddpg, maddpg; MASAC samples its
    /// policy instead and records 0).
    pub epsilon: f64,
    /// Greedy evaluation after the episode on the held-out traffic seeds, if one was due.
    pub eval: Option<EvalPoint>,
}

/// A greedy evaluation of the learners on the held-out traffic seeds (means over the seeds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    /// Mean completion rate (NaN-free: seeds without covered tasks are left out).
    pub completion_rate: f64,
    /// Mean cumulative reward `Σ_t F^t`.
    pub cumulative_reward: f64,
}

impl EpisodeRow {
    /// The row as a line of the curve CSV ([`CURVE_HEADER`]'s columns, newline-terminated).
    pub fn csv_line(&self) -> String {
        let (ec, er) = match &self.eval {
            Some(e) => (e.completion_rate.to_string(), e.cumulative_reward.to_string()),
            None => (String::new(), String::new()),
        };
        format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            self.episode,
            self.cumulative_reward,
            self.completion_rate,
            self.average_realized_potential,
            self.critic_loss,
            self.actor_loss,
            self.federated_round,
            self.epsilon,
            ec,
            er
        )
    }
}

/// Progress reported after each episode (for the CLI's progress bar).
#[derive(Clone, Debug)]
pub struct Progress<'a> {
    /// The episode's curve row.
    pub row: &'a EpisodeRow,
    /// The episode's summary (`faults.round_dropouts`: RSUs that missed this episode's round).
    pub summary: &'a Summary,
    /// This episode's VEC POOL round, if one was due.
    pub round: Option<&'a RoundReport>,
    /// Episodes the run is going to (the configured total).
    pub total_episodes: u32,
    /// Update steps per second of wall time over this episode (not part of any result).
    pub update_steps_per_s: f64,
}

/// The trainer's own state, saved beside the learners'.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainProgress {
    /// Learner name (`fed-maddpg`, `maddpg`, `masac`).
    pub policy: String,
    /// Training seed (learners and traffic).
    pub seed: u64,
    /// Training episodes completed.
    pub episodes_done: u64,
    /// One stream per RSU for federated-round faults (`faults.round_dropout`, `loss.pool`).
    pub pool_rngs: Vec<SimRng>,
    /// Learning-curve rows so far, one per episode.
    pub curve: Vec<EpisodeRow>,
    /// Whether the checkpoint holds the replay buffers (exact resume) or left them out.
    pub replay_saved: bool,
    /// The `br-ne` cloning the run started with (`--pretrain`, beyond the paper), if any.
    pub pretrain: Option<PretrainReport>,
    /// The best actors so far on validation traffic ([`TrainConfig::keep_best`]).
    pub best: Option<Kept>,
}

/// The actors of the best validation evaluation of a [`TrainConfig::keep_best`] run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// After this many episodes (0: before the first, the cloned or initial actors).
    pub episode: u64,
    /// Their mean greedy completion rate on the validation seeds.
    pub completion_rate: f64,
    /// Each RSU's actor parameters (index = RSU id).
    pub(crate) actors: Vec<Vec<f32>>,
}

impl Kept {
    /// Keeps `set`'s actors if `eval` beats `best` (the earliest of equals stays; an
    /// evaluation without a rate never wins).
    fn consider(best: &mut Option<Kept>, episode: u64, eval: &EvalPoint, set: &LearnerSet) {
        let rate = eval.completion_rate;
        if rate.is_nan() || best.as_ref().is_some_and(|b| b.completion_rate >= rate) {
            return;
        }
        let actors = set.learners().iter().map(|l| l.agent.actor().to_vec()).collect();
        *best = Some(Kept { episode, completion_rate: rate, actors });
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    state: LearnerSet,
    progress: TrainProgress,
}

/// Saves learners and trainer progress into `dir`. A centralised learner's RSUs hold identical
/// copies of the joint buffer: it is saved once (with RSU 0's learner) and shared again on load.
pub fn save_checkpoint(
    dir: &Path,
    scenario: &Scenario,
    set: &mut LearnerSet,
    progress: &TrainProgress,
) -> Result<(), TrainError> {
    let central = set.kind().central();
    // Leave out the buffers not to be saved: swap in empty ones of the same shape meanwhile.
    let mut kept = Vec::new();
    for (e, l) in set.learners_mut().iter_mut().enumerate() {
        if !progress.replay_saved || (central && e > 0) {
            let empty = crate::replay::Replay::new(l.replay.capacity(), l.replay.covered());
            kept.push((e, std::mem::replace(&mut l.replay, empty)));
        }
    }
    let payload = codec::encode(&SavedRef { state: set, progress });
    for (e, r) in kept {
        set.learners_mut()[e].replay = r;
    }
    let payload = payload.map_err(|e| CheckpointError::Decode { path: dir.to_path_buf(), source: e })?;
    checkpoint::write(&dir.join(CHECKPOINT_FILE), scenario.hash(), &payload)?;
    Ok(())
}

#[derive(Serialize)]
struct SavedRef<'a> {
    state: &'a LearnerSet,
    progress: &'a TrainProgress,
}

/// Loads learners and trainer progress from `dir`, refusing a checkpoint of another scenario.
pub fn load_checkpoint(dir: &Path, scenario: &Scenario) -> Result<(LearnerSet, TrainProgress), TrainError> {
    load_checkpoint_within(dir, scenario, checkpoint::DEFAULT_CAP)
}

/// [`load_checkpoint`], refusing a file of more than `cap` bytes; every shape and length is
/// checked against the scenario ([`LearnerSet::validate`]) before anything uses it.
pub fn load_checkpoint_within(
    dir: &Path,
    scenario: &Scenario,
    cap: u64,
) -> Result<(LearnerSet, TrainProgress), TrainError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = checkpoint::read(&path, scenario.hash(), cap)?;
    let mut saved: Saved =
        codec::decode(&bytes).map_err(|source| CheckpointError::Decode { path: path.clone(), source })?;
    if saved.state.kind().central() {
        let learners = saved.state.learners_mut();
        if let Some((first, rest)) = learners.split_first_mut() {
            for l in rest {
                l.replay = first.replay.clone();
            }
        }
    }
    let invalid = |field: String| TrainError::Checkpoint(CheckpointError::Invalid { path: path.clone(), field });
    saved.state.validate(scenario).map_err(invalid)?;
    let p = &saved.progress;
    let rsus = scenario.rsu_count();
    if p.policy != saved.state.kind().name() {
        return Err(invalid(format!("progress.policy: `{}` for a {} set", p.policy, saved.state.kind().name())));
    }
    if p.pool_rngs.len() != rsus {
        return Err(invalid(format!("progress.pool_rngs: {} streams for {rsus} RSUs", p.pool_rngs.len())));
    }
    if p.curve.len() as u64 != p.episodes_done {
        return Err(invalid(format!("progress.curve: {} rows for {} episodes done", p.curve.len(), p.episodes_done)));
    }
    if let Some(b) = &p.best {
        let lens = saved.state.learners().iter().map(|l| l.agent.actor().len());
        if b.actors.len() != rsus || b.actors.iter().zip(lens).any(|(a, n)| a.len() != n) {
            return Err(invalid("progress.best.actors: not one actor of the set's shape per RSU".into()));
        }
        if b.episode > p.episodes_done {
            return Err(invalid(format!("progress.best.episode: {} of {} episodes done", b.episode, p.episodes_done)));
        }
    }
    Ok((saved.state, saved.progress))
}

/// The trained policies of a checkpoint, in evaluation mode (greedy, no learning), for
/// `vecsim run --policy NAME --checkpoint DIR`. One policy per RSU: `set.into_policies()`.
pub fn load_policies(dir: &Path, scenario: &Scenario, policy: &str) -> Result<LearnerSet, TrainError> {
    load_policies_within(dir, scenario, policy, checkpoint::DEFAULT_CAP)
}

/// [`load_policies`], refusing a checkpoint file of more than `cap` bytes.
pub fn load_policies_within(dir: &Path, scenario: &Scenario, policy: &str, cap: u64) -> Result<LearnerSet, TrainError> {
    let (mut set, progress) = load_checkpoint_within(dir, scenario, cap)?;
    if let Some(k) = &progress.best {
        k.apply(&mut set);
    }
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

/// Runs one episode of `scenario` (with its own seed) with the set's learners on the
/// sequential engine, and takes them back; returns the summary.
pub fn run_episode(scenario: &Scenario, set: &mut LearnerSet) -> Result<Summary, TrainError> {
    let fleet = mobility::load(scenario, None)?;
    let episode = Episode {
        scenario: Arc::new(scenario.clone()),
        fleet,
        policies: PolicySet::new(set.lend()),
        round: None,
        observer: &mut NoObserver,
    };
    let out = Sequential.run(episode)?;
    set.take_back(out.policies)?;
    Ok(out.stats.summary())
}

/// Greedy evaluation on the held-out traffic seeds ([`eval_seed`]`(0..seeds)`) on the layout of
/// `scenario`; the learners' training mode and counters are left as they were.
pub fn evaluate_heldout(scenario: &Scenario, set: &mut LearnerSet, seeds: u32) -> Result<EvalPoint, TrainError> {
    let layout = scenario.pinned_layout();
    let (mut rate, mut rated, mut reward) = (0.0, 0u32, 0.0);
    for i in 0..seeds.max(1) as u64 {
        let mut sc = layout.clone();
        sc.seed = eval_seed(i);
        let s = evaluate(&sc, set)?;
        if let Some(r) = s.completion_rate {
            rate += r;
            rated += 1;
        }
        reward += s.cumulative_reward;
    }
    Ok(EvalPoint {
        completion_rate: if rated > 0 { rate / rated as f64 } else { f64::NAN },
        cumulative_reward: reward / seeds.max(1) as f64,
    })
}

/// Evaluates the set greedily on the scenario as written (its seed); training mode is restored.
pub fn evaluate(scenario: &Scenario, set: &mut LearnerSet) -> Result<Summary, TrainError> {
    let was = set.training();
    set.set_training(false);
    let r = run_episode(scenario, set);
    set.set_training(was);
    r
}

/// What a finished training run hands back.
pub struct TrainOutcome {
    /// The trained learners (with [`TrainConfig::keep_best`], the kept actors; the checkpoint
    /// holds the last ones, with the kept ones beside them).
    pub set: LearnerSet,
    /// The learning curve, one row per episode (resumed rows included).
    pub curve: Vec<EpisodeRow>,
    /// Episodes this call trained (0: a resumed run that had nothing left to do).
    pub episodes_run: u64,
    /// The run resumed from a checkpoint without replay buffers (`save_replay` off when it was
    /// written): it continued with empty buffers, so not exactly as an uninterrupted run.
    pub resumed_without_replay: bool,
    /// The run's `br-ne` cloning (`--pretrain`, beyond the paper), if any.
    pub pretrain: Option<PretrainReport>,
    /// [`TrainConfig::keep_best`]: the evaluation whose actors the run ended with.
    pub kept: Option<Kept>,
    /// The run stopped early at [`TrainConfig::stop`], after a whole episode and a checkpoint.
    pub interrupted: bool,
}

/// Trains `cfg.policy` on `scenario`, running the episodes on `engine`; `observer` sees every
/// slot and every episode's row as it closes.
pub fn train(
    scenario: &Scenario,
    cfg: &TrainConfig,
    engine: &mut dyn Engine,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, TrainError> {
    let rsus = scenario.rsu_count();
    // One writer per checkpoint directory: a second training into it is refused, naming the
    // first; the lock goes when this run ends (or is taken over once its process is dead).
    let _lock = cfg.checkpoint.as_deref().map(vecsim_core::atomic::DirLock::acquire).transpose()?;
    let (mut set, mut progress) = if cfg.resume {
        let dir = cfg.checkpoint.as_ref().ok_or(TrainError::ResumeWithoutCheckpoint)?;
        crate::run_record::check(dir, scenario, cfg)?;
        let (set, p) = load_checkpoint_within(dir, scenario, cfg.checkpoint_cap)?;
        if p.policy != cfg.policy {
            return Err(TrainError::WrongLearner { found: p.policy, asked: cfg.policy.clone() });
        }
        (set, p)
    } else {
        if let Some(dir) = &cfg.checkpoint {
            std::fs::create_dir_all(dir).map_err(|source| TrainError::Io { path: dir.clone(), source })?;
            crate::run_record::write(dir, scenario, cfg)?;
        }
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
                replay_saved: cfg.save_replay,
                pretrain: None,
                best: None,
            },
        )
    };
    // RSUs train in parallel on the actor engine's workers; each RSU's matrix products get the
    // threads left over (results never depend on either).
    set.set_threads((cfg.threads / engine.parallelism().max(1)).max(1));
    if let (false, Some(spec)) = (cfg.resume, cfg.pretrain) {
        progress.pretrain = Some(crate::pretrain::pretrain(scenario, &mut set, cfg.seed, spec)?);
    }
    // The device is the run's, not the checkpoint's.
    set.set_device(cfg.options.device);
    // A resumed run that was keeping its best goes on keeping it. The candidates are the
    // curve's evaluations (none without `eval_every`), so a run extended later sees the
    // same ones as a straight run.
    let keep_best = (cfg.keep_best || progress.best.is_some()) && cfg.eval_every > 0;
    if keep_best && progress.episodes_done == 0 && progress.best.is_none() {
        let eval = evaluate_heldout(scenario, &mut set, cfg.eval_seeds)?;
        Kept::consider(&mut progress.best, 0, &eval, &set);
    }
    if let (false, Some(_), Some(dir)) = (cfg.resume, cfg.pretrain, &cfg.checkpoint) {
        // Cloned (and evaluated) before the first episode and checkpointed at once: a run
        // resumed from here continues exactly as an uninterrupted one.
        save_checkpoint(dir, scenario, &mut set, &progress)?;
    }
    let resumed_without_replay = cfg.resume && !progress.replay_saved;
    progress.replay_saved = cfg.save_replay;
    let start = progress.episodes_done;
    let mut interrupted = false;
    set.set_training(true);
    // The schedule of the learners' own configuration (a resumed run keeps its checkpoint's).
    let period = set.config().map_or(1, |c| c.aggregation_period.max(1)) as u64;
    let layout = scenario.pinned_layout();
    while progress.episodes_done < cfg.episodes as u64 {
        let ep = progress.episodes_done;
        // Fresh traffic per episode, on the RSU layout of the scenario's own seed.
        let mut sc = layout.clone();
        if cfg.vary_seed {
            sc.seed = episode_seed(progress.seed, ep);
        }
        let steps_before = set.update_steps();
        let epsilon = match set.config() {
            Some(c) if set.kind() != Kind::Masac => c.epsilon_at(set.episodes()),
            _ => 0.0,
        };
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
        let weighted = set.options().is_some_and(|o| o.weighted_fedavg);
        let asked = participants.map(|p| RoundRequest { participants: p, weighted });
        let fleet = mobility::load(&sc, None)?;
        let out = engine.run(Episode {
            scenario: Arc::new(sc),
            fleet,
            policies: PolicySet::new(set.lend()),
            round: asked.clone(),
            observer: &mut *observer,
        })?;
        set.take_back(out.policies)?;
        let round = match (asked, out.round) {
            (Some(r), Some(got)) => {
                let want = RoundReport::of(&r.participants);
                if got != want {
                    return Err(TrainError::RoundMismatch {
                        got: got.contributed,
                        skipped: got.skipped,
                        asked: want.contributed,
                    });
                }
                // A round counts when somebody took part.
                if !got.contributed.is_empty() {
                    set.count_fed_round();
                }
                Some(got)
            }
            (None, None) => None,
            (Some(_), None) => {
                let message = "a VEC POOL round was asked for, none held".to_string();
                return Err(EngineError::Failed { engine: engine.name(), message }.into());
            }
            (None, Some(_)) => {
                let message = "a VEC POOL round was held unasked".to_string();
                return Err(EngineError::Failed { engine: engine.name(), message }.into());
            }
        };
        let mut summary = out.stats.summary();
        // Round dropouts are the trainer's count on both paths.
        summary.faults.round_dropouts = round.as_ref().map_or(0, |r| r.skipped.len() as u64);
        let wall = t0.elapsed().as_secs_f64();
        let last = progress.episodes_done + 1 == cfg.episodes as u64;
        // Episodes K, 2K, ... (not "the last": a resumed run must write the same curve).
        let eval_due = cfg.eval_every > 0 && (ep + 1) % cfg.eval_every as u64 == 0;
        let eval = if eval_due { Some(evaluate_heldout(scenario, &mut set, cfg.eval_seeds)?) } else { None };
        if let (true, Some(e)) = (keep_best, &eval) {
            Kept::consider(&mut progress.best, ep + 1, e, &set);
        }
        let (losses, fed, steps) = (set.take_losses(), set.fed_rounds(), set.update_steps());
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
            epsilon,
            eval,
        };
        progress.curve.push(row.clone());
        progress.episodes_done += 1;
        let stop = cfg.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        if let Some(path) = &cfg.curve_csv {
            write_curve(path, &progress.curve)?;
        }
        if let Some(dir) = &cfg.checkpoint {
            // Asked to stop: the checkpoint holds exactly the curve's episodes, so --resume
            // continues as if nothing had happened.
            if last || stop || progress.episodes_done % cfg.checkpoint_every.max(1) as u64 == 0 {
                save_checkpoint(dir, scenario, &mut set, &progress)?;
            }
        }
        let rate = if wall > 0.0 { (steps - steps_before) as f64 / wall } else { 0.0 };
        observer.episode_closed(&Progress {
            row: &row,
            summary: &summary,
            round: round.as_ref(),
            total_episodes: cfg.episodes,
            update_steps_per_s: rate,
        });
        if stop && !last {
            interrupted = true;
            break;
        }
    }
    // The checkpoint holds the last state (a resumed run continues exactly); what the run
    // hands back, and what evaluation loads from the checkpoint, are the kept actors.
    if let Some(k) = &progress.best {
        k.apply(&mut set);
    }
    Ok(TrainOutcome {
        set,
        curve: progress.curve,
        episodes_run: progress.episodes_done - start,
        resumed_without_replay,
        pretrain: progress.pretrain,
        kept: progress.best,
        interrupted,
    })
}

impl Kept {
    /// Writes the kept actors over `set`'s (critics, targets and optimiser states stay).
    fn apply(&self, set: &mut LearnerSet) {
        for (l, a) in set.learners_mut().iter_mut().zip(&self.actors) {
            l.set_actor_params(a);
        }
    }
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
    vecsim_core::atomic::write(path, s.as_bytes()).map_err(|source| TrainError::Io { path: path.to_path_buf(), source })
}
