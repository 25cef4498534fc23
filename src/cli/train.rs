//! `vecsim train`: train a learner (fed-maddpg, maddpg, masac) on a scenario, with a progress
//! bar, a learning-curve CSV, periodic checkpoints and exact resume.

use super::engine_args::EngineArgs;
use super::fault_args::FaultArgs;
use super::metrics_args::MetricsArgs;
use super::{bad, start_telemetry};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use vecsim::pipeline;
use vecsim_core::engine::RoundReport;
use vecsim_core::ids::RsuId;
use vecsim_core::observer::{Observer, RunInfo};
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;
use vecsim_core::report::{RunStats, SlotReport};
use vecsim_learn::learner::RewardSignal;
use vecsim_learn::train::{self as trainer, EpisodeRow, Progress, TrainConfig, TrainError, TrainObserver};
use vecsim_telemetry::Telemetry;

#[derive(Args, Debug, Clone)]
pub(crate) struct TrainArgs {
    /// Scenario file, or a preset name from `scenarios/`.
    pub scenario: String,
    /// Learner: fed-maddpg, maddpg or masac.
    #[arg(long, default_value_t = PolicyName::FedMaddpg)]
    pub policy: PolicyName,
    /// Episodes (iterations) to train; a resumed run continues up to this total.
    #[arg(long, default_value_t = 100)]
    pub episodes: u32,
    /// Seed of the learners and of the training traffic (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Slots per episode (default: the scenario's `time.slots`).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Checkpoint directory: written every `--checkpoint-every` episodes and at the end.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Episodes between checkpoints.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: u32,
    /// Continue exactly from the checkpoint in `--checkpoint DIR`.
    #[arg(long)]
    pub resume: bool,
    /// Learning-curve CSV (default: `curve.csv` in the checkpoint directory, else `./curve.csv`).
    #[arg(long)]
    pub curve: Option<PathBuf>,
    /// Train every episode on the scenario's own traffic instead of fresh traffic per episode.
    #[arg(long)]
    pub fixed_traffic: bool,
    /// What each RSU learns from: `marginal` (eq. 19, the paper) or `system` (F^t, cooperative).
    #[arg(long, value_enum, default_value_t = Reward::Marginal)]
    pub reward: Reward,
    /// Network backend: `gemm` (the project's fused f32 layers, fastest on the CPU) or `dfdx`
    /// (dfdx tensors and autodiff; on CUDA when built with `--features cuda`).
    #[arg(long, value_enum, default_value_t = BackendArg::Gemm)]
    pub backend: BackendArg,
    /// Run a round of gradient updates every N slots (Algorithm 1: 1). Larger values trade
    /// sample efficiency for speed on the CPU.
    #[arg(long, default_value_t = 1)]
    pub update_every: u32,
    /// Hidden layer widths of the actor, comma-separated (reference code: 256,256,256).
    #[arg(long, value_delimiter = ',', default_value = "256,256,256")]
    pub actor_hidden: Vec<usize>,
    /// Widths of the critic's per-task embedding layers, then of its head, as `EMBED/HEAD`
    /// (reference code 512-512-256: `512,512/256`).
    #[arg(long, default_value = "512,512/256")]
    pub critic_hidden: String,
    /// Which engine runs the episodes (`actors`: the RSU actors own the learners' policies and
    /// the VEC POOL actor averages their actor networks; `sequential`: a plain loop, rounds
    /// in-process; same curve, same checkpoint bytes), and the threads for the actor engine's
    /// tokio workers and the learners' matrix products.
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub faults: FaultArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackendArg {
    Gemm,
    Dfdx,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reward {
    Marginal,
    System,
}

/// Input errors (a checkpoint of another scenario, a truncated file...) exit with code 2.
fn train_error(e: TrainError) -> anyhow::Error {
    match e {
        TrainError::Io { .. } | TrainError::Engine(_) | TrainError::RoundMismatch { .. } => anyhow::Error::new(e),
        other => bad(other),
    }
}

/// What a training run shows as it goes: live metrics and pacing for every slot (telemetry),
/// a progress bar and training metrics for every episode.
struct TrainWatch {
    telemetry: Telemetry,
    bar: ProgressBar,
    last: Option<EpisodeRow>,
    round_dropouts: u64,
}

impl Observer for TrainWatch {
    fn episode_started(&mut self, info: &RunInfo) {
        self.telemetry.episode_started(info)
    }
    fn slot_closed(&mut self, report: &SlotReport, stats: &RunStats) {
        self.telemetry.slot_closed(report, stats)
    }
    fn rsu_restarted(&mut self, rsu: RsuId, slot: u32, stats: &RunStats) {
        self.telemetry.rsu_restarted(rsu, slot, stats)
    }
    fn round_closed(&mut self, round: &RoundReport) {
        self.telemetry.round_closed(round)
    }
    fn live_vehicles(&mut self, n: usize) {
        self.telemetry.live_vehicles(n)
    }
    fn episode_finished(&mut self, stats: &RunStats) {
        self.telemetry.episode_finished(stats)
    }
}

impl TrainObserver for TrainWatch {
    fn episode_closed(&mut self, p: &Progress<'_>) {
        let r = p.row;
        self.bar.set_position(r.episode);
        self.bar.set_message(format!(
            "reward {:.2}  completion {:.2} %  critic {:.4}  actor {:.4}  {:.0} update-steps/s  fed rounds {}",
            r.cumulative_reward,
            100.0 * r.completion_rate,
            r.critic_loss,
            r.actor_loss,
            p.update_steps_per_s,
            r.federated_round
        ));
        self.telemetry.record_training(r.episode, r.critic_loss, r.actor_loss, p.update_steps_per_s, r.federated_round);
        if let Some(round) = p.round {
            self.round_dropouts += round.skipped.len() as u64;
        }
        self.last = Some(r.clone());
    }
}

/// `512,512/256` → ([512, 512], [256]).
fn parse_critic(s: &str) -> Option<(Vec<usize>, Vec<usize>)> {
    let (e, h) = s.split_once('/')?;
    let widths = |x: &str| -> Option<Vec<usize>> {
        let v: Vec<usize> = x.split(',').map(|w| w.trim().parse().ok().filter(|&n| n > 0)).collect::<Option<_>>()?;
        (!v.is_empty()).then_some(v)
    };
    Some((widths(e)?, widths(h)?))
}

pub(super) fn train(a: TrainArgs, limits: &pipeline::Limits) -> anyhow::Result<ExitCode> {
    if !a.policy.is_learner() {
        return Err(bad(format!("`{}` is not a learner (expected fed-maddpg, maddpg or masac)", a.policy)));
    }
    if a.resume && a.checkpoint.is_none() {
        return Err(bad("--resume needs --checkpoint DIR"));
    }
    if a.episodes == 0 {
        return Err(bad("--episodes must be at least 1"));
    }
    let overrides = Overrides { seed: None, slots: a.slots, policy: Some(a.policy), faults: a.faults.fault.clone() };
    let s = pipeline::load_scenario(&a.scenario, &overrides)?;
    pipeline::check_memory(&s, None, limits)?;
    let seed = a.seed.unwrap_or(s.seed);

    let mut cfg = TrainConfig::new(a.policy.as_str(), a.episodes, seed);
    cfg.checkpoint = a.checkpoint.clone();
    cfg.checkpoint_every = a.checkpoint_every.max(1);
    cfg.resume = a.resume;
    cfg.vary_seed = !a.fixed_traffic;
    cfg.threads = a.engine.threads.max(1);
    cfg.options.reward = match a.reward {
        Reward::Marginal => RewardSignal::Marginal,
        Reward::System => RewardSignal::System,
    };
    cfg.options.backend = match a.backend {
        BackendArg::Gemm => vecsim_learn::Backend::Gemm,
        BackendArg::Dfdx => vecsim_learn::Backend::Dfdx,
    };
    if a.update_every == 0 {
        return Err(bad("--update-every must be at least 1"));
    }
    cfg.options.update_every = a.update_every;
    if a.actor_hidden.is_empty() || a.actor_hidden.contains(&0) {
        return Err(bad("--actor-hidden needs widths >= 1, e.g. 256,256,256"));
    }
    cfg.options.shape.actor_hidden = a.actor_hidden.clone();
    let (embed, head) = parse_critic(&a.critic_hidden).ok_or_else(|| {
        bad(format!("--critic-hidden `{}`: expected EMBED/HEAD widths like 512,512/256", a.critic_hidden))
    })?;
    cfg.options.shape.critic_embed = embed;
    cfg.options.shape.critic_head = head;
    let curve = a.curve.clone().unwrap_or_else(|| match &a.checkpoint {
        Some(dir) => dir.join("curve.csv"),
        None => PathBuf::from("curve.csv"),
    });
    if let Some(dir) = &a.checkpoint {
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create checkpoint directory {}: {e}", dir.display())))?;
    }
    cfg.curve_csv = Some(curve.clone());

    let mut engine = a.engine.build()?;
    let telemetry = start_telemetry(&a.metrics, &s, engine.name())?;
    let bar = ProgressBar::new(a.episodes as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} episode {pos}/{len}  {msg}")
            .expect("valid template"),
    );
    let mut watch = TrainWatch { telemetry, bar, last: None, round_dropouts: 0 };
    let outcome = trainer::train(&s, &cfg, &mut *engine, &mut watch).map_err(train_error)?;
    let TrainWatch { telemetry, bar, last, round_dropouts } = watch;
    bar.finish();
    if let Some(r) = last {
        println!(
            "trained {} on {}: {} episodes; last episode: cumulative reward {:.4}, completion rate {:.2} %, average realized potential {:.4}",
            a.policy,
            s.name,
            r.episode,
            r.cumulative_reward,
            100.0 * r.completion_rate,
            r.average_realized_potential
        );
    }
    if round_dropouts > 0 {
        println!("federated rounds: {round_dropouts} RSU round dropout(s)");
    }
    println!("learning curve: {}", curve.display());
    if let Some(dir) = &a.checkpoint {
        println!("checkpoint: {}/{}", dir.display(), trainer::CHECKPOINT_FILE);
    }
    drop(outcome);
    telemetry.linger();
    Ok(ExitCode::SUCCESS)
}
