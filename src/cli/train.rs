//! `vecsim train`: train a learner (fed-maddpg, maddpg, masac) on a scenario, with a progress
//! bar, a learning-curve CSV, periodic checkpoints and exact resume.

use super::engine_args::EngineArgs;
use super::fault_args::FaultArgs;
use super::metrics_args::MetricsArgs;
use super::output::{self, detail, note, outln, warning};
use super::{bad, start_telemetry};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use vecsim::pipeline;
use vecsim::training::{TrainSpec, TrainingError};
use vecsim_core::engine::RoundReport;
use vecsim_core::ids::RsuId;
use vecsim_core::observer::{Observer, RunInfo};
use vecsim_core::overrides::Overrides;
use vecsim_core::policy::PolicyName;
use vecsim_core::report::{RunStats, SlotReport};
use vecsim_learn::train::{self as trainer, EpisodeRow, Progress, TrainError, TrainObserver};
use vecsim_learn::RewardSignal;
use vecsim_learn::{Budget, PretrainSpec};
use vecsim_telemetry::Telemetry;

#[derive(Args, Debug, Clone)]
pub(crate) struct TrainArgs {
    /// Scenario file, or a preset name from `scenarios/`.
    pub scenario: String,
    /// Learner: fed-maddpg, maddpg or masac (masac is a Gumbel-softmax variant of discrete SAC:
    /// one centralised critic, straight-through actor gradient, exact categorical entropy; not
    /// the canonical twin-critic, exact-expectation algorithm).
    #[arg(long, default_value_t = PolicyName::FedMaddpg)]
    pub policy: PolicyName,
    /// Episodes (iterations) to train; a resumed run continues up to this total (default: the
    /// budget's, which is `learning.max_iterations`). 0 only with `--pretrain`: the cloned
    /// actors alone.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub episodes: Option<u32>,
    /// Training budget, one list shared with `experiment` and `sweep`: `smoke` (tests: 2 x 5
    /// slots, width-8 networks), `small` (12 x 60, 32-32), `quick` (a few minutes on a CPU:
    /// 40 episodes x 100 slots, 64-64 networks, learning rates 1e-3), `medium` (200 x 100,
    /// 128-128), `standard` (400 x 100, quick's networks) or `paper` (Table III: 6,100 episodes
    /// of the scenario's slots; a GPU-scale run). quick, standard and paper keep Table III's
    /// ratios (iterations : α_tg, and the targets' time constant against the run's update
    /// steps); smoke, small and medium keep its learning rates. `--learn`, `--update-every`,
    /// `--slots`, `--episodes` and the network widths given explicitly win over the budget.
    /// Without it: the scenario's `[learning]` section as written (Table III where it says
    /// nothing) and the reference networks. The resolved values go to `run.toml` in the
    /// checkpoint directory.
    #[arg(long, value_parser = parse_budget)]
    pub budget: Option<Budget>,
    /// Set one `[learning]` hyper-parameter, `KEY=VALUE`, repeatable, applied in order after the
    /// budget (keys: replay_capacity, batch_size, gamma, epsilon, epsilon_final, epsilon_decay,
    /// critic_lr, actor_lr, target_update_every, tau, aggregation_period, max_iterations,
    /// n_step, update_every; beyond the paper: tasks_in_turn=true|false, default true, each RSU
    /// decides its tasks one after another, seeing what it already sent where; fed_mix=β in
    /// (0, 1], default 0.25, the share of a federated round's average a fed-maddpg actor takes;
    /// rsus_in_turn=true|false, default true, the RSUs decide one after another, each seeing
    /// what the RSUs before it declared; turn_rounds=1..8, default 1 (2 with --pretrain), from
    /// the second round on every RSU decides again seeing every other RSU's latest declaration;
    /// local_prior=B in [0, 20] logits, default 2 (0 with --pretrain), added to the score of
    /// keeping a task at its uploading RSU, so an untrained actor starts as orl; the paper's
    /// algorithms: tasks_in_turn=false, fed_mix=1, rsus_in_turn=false, local_prior=0).
    #[arg(long = "learn", value_name = "KEY=VALUE")]
    pub learn: Vec<String>,
    /// Seed of the learners and of the training traffic (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Slots per episode (default: the budget's, else the scenario's `time.slots`).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Checkpoint directory: written every `--checkpoint-every` episodes and at the end
    /// (default: `runs/POLICY-SCENARIO-seedSEED`, printed).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Episodes between checkpoints.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub checkpoint_every: u32,
    /// Continue exactly from the checkpoint in `--checkpoint DIR`.
    #[arg(long)]
    pub resume: bool,
    /// Overwrite an existing checkpoint in the directory (without it, training refuses to).
    #[arg(long)]
    pub force: bool,
    /// Leave the replay buffers out of the checkpoints: much smaller files, fine for
    /// evaluation; a `--resume` from them restarts with empty buffers (not exact).
    #[arg(long)]
    pub lean_checkpoints: bool,
    /// Learning-curve CSV (default: `curve.csv` in the checkpoint directory).
    #[arg(long)]
    pub curve: Option<PathBuf>,
    /// Greedy evaluation on held-out traffic after episodes N, 2N, ..., recorded in the curve
    /// (0: never).
    #[arg(long, default_value_t = 5)]
    pub eval_every: u32,
    /// Held-out traffic seeds of each greedy evaluation (1 to 1000).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub eval_seeds: u32,
    /// Train every episode on the scenario's own traffic instead of fresh traffic per episode.
    #[arg(long)]
    pub fixed_traffic: bool,
    /// What each RSU learns from: `marginal` (eq. 19, the paper: credit to the executing RSU),
    /// `difference` (F − F' without the RSU's uploads: credit to the deciding RSU) or `system`
    /// (F^t, cooperative). The reported metrics are the paper's whichever trains.
    #[arg(long, value_enum, default_value_t = Reward::Difference)]
    pub reward: Reward,
    /// Network backend: `gemm` (the project's fused f32 layers, fastest on the CPU) or `dfdx`
    /// (dfdx tensors and autodiff; on CUDA when built with `--features cuda`).
    #[arg(long, value_enum, default_value_t = BackendArg::Gemm)]
    pub backend: BackendArg,
    /// Where the networks run: `cpu`, or `cuda` / `cuda:N` (the dfdx backend on that GPU; needs
    /// a build with `--features cuda`). Not saved in the checkpoint.
    #[arg(long, default_value = "cpu", value_parser = super::device_arg::parse_device)]
    pub device: vecsim_learn::Device,
    /// Run a round of gradient updates every N slots (Algorithm 1: 1); same as
    /// `--learn update_every=N`.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub update_every: Option<u32>,
    /// Hidden layer widths of the actor, comma-separated (reference code: 256,256,256; default:
    /// the budget's). 1 to 8 layers of 1 to 4096 units.
    #[arg(long, value_parser = super::bounds::parse_actor_hidden)]
    pub actor_hidden: Option<super::bounds::ActorWidths>,
    /// Widths of the critic's per-task embedding layers, then of its head, as `EMBED/HEAD`
    /// (reference code 512-512-256: `512,512/256`; default: the budget's). 1 to 8 layers of
    /// 1 to 4096 units each side.
    #[arg(long, value_parser = super::bounds::parse_critic_hidden)]
    pub critic_hidden: Option<super::bounds::CriticWidths>,
    /// Which engine runs the episodes (`actors`: the RSU actors own the learners' policies and
    /// the VEC POOL actor averages their actor networks; `sequential`: a plain loop, rounds
    /// in-process; same curve, same checkpoint bytes), and the threads for the actor engine's
    /// tokio workers and the learners' matrix products.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Train with the RSUs on the worker nodes of this cluster file (as `vecsim run --cluster`):
    /// each RSU's learner travels to its node for every episode and comes back after the
    /// episode's last slot and its VEC POOL round; the vehicles live on the nodes too; this
    /// process runs the clock, the VEC POOL and the trainer. The centralised learners (maddpg,
    /// masac) exchange every slot's joint record through this process. Same curve and
    /// checkpoint bytes as one process.
    #[arg(long, value_name = "CLUSTER.toml")]
    pub cluster: Option<PathBuf>,
    /// Accept a weak cookie file (readable by other users, or a secret under 16 bytes) with a
    /// warning, instead of refusing it.
    #[arg(long, requires = "cluster")]
    pub insecure: bool,
    /// BEYOND THE PAPER: `br-ne[:EPISODES]` clones the best-response oracle into every RSU's
    /// actor before the first episode (supervised on br-ne's decisions over EPISODES episodes of
    /// training traffic, default 30, each task labelled with every executor the oracle's slot
    /// accepts for it; same observation and network; execution stays decentralised, in two
    /// rounds of turns unless `--learn turn_rounds` says otherwise), then trains as usual and
    /// ends with the best of the clone and the
    /// evaluated episodes on validation traffic (`--keep-best`; `--keep-last` for the last
    /// episode's actors). With `--episodes 0`: the cloned actors alone (the
    /// imitation ceiling). `orm[:EPISODES]` clones `orm` instead (a diagnosis: how well the
    /// actor expresses a function of its own observation).
    #[arg(long, value_name = "br-ne[:EPISODES]")]
    pub pretrain: Option<String>,
    /// End with the actors of the best greedy evaluation on validation traffic (the curve's
    /// held-out seeds, `--eval-seeds`, never the traffic `compare` uses), evaluated before the
    /// first episode and every `--eval-every` episodes (needs it above 0); the checkpoint keeps
    /// the last ones too, so `--resume` continues exactly. The default (since session 11):
    /// fine-tuning then never ends below the clone, nor training from scratch below the
    /// untrained actor, which the local prior makes decide as orl, as validation measures it.
    #[arg(long, conflicts_with = "keep_last")]
    pub keep_best: bool,
    /// End with the last episode's actors (the default before session 11).
    #[arg(long)]
    pub keep_last: bool,
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
    Difference,
}

impl Reward {
    pub(crate) fn signal(self) -> RewardSignal {
        match self {
            Reward::Marginal => RewardSignal::Marginal,
            Reward::System => RewardSignal::System,
            Reward::Difference => RewardSignal::Difference,
        }
    }
}

/// `--budget NAME`: one of the budgets of `vecsim_learn::Budget` (the one list), with a
/// suggestion for a typo.
pub(crate) fn parse_budget(s: &str) -> Result<Budget, String> {
    s.parse::<Budget>().map_err(|e| e.to_string())
}

/// Input errors (a bad `--learn`, a checkpoint of another scenario, a truncated file...) exit
/// with code 2.
pub(crate) fn training_error(e: TrainingError) -> anyhow::Error {
    match e {
        TrainingError::Train(TrainError::Io { .. } | TrainError::Engine(_) | TrainError::RoundMismatch { .. })
        | TrainingError::Io { .. } => anyhow::Error::new(e),
        other => bad(vecsim::message::error_message(&other)),
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
    fn slot_timed(&mut self, slot: u32, wall_s: f64) {
        self.telemetry.slot_timed(slot, wall_s)
    }
    fn pace(&self) -> Option<vecsim_core::observer::Pacer> {
        self.telemetry.pace()
    }
    fn episode_finished(&mut self, stats: &RunStats) {
        self.telemetry.episode_finished(stats)
    }
}

impl TrainObserver for TrainWatch {
    fn episode_closed(&mut self, p: &Progress<'_>) {
        let r = p.row;
        self.bar.set_position(r.episode);
        let line = format!(
            "reward {:.2}  completion {:.2} %  critic {:.4}  actor {:.4}  {:.0} update-steps/s  fed rounds {}",
            r.cumulative_reward,
            100.0 * r.completion_rate,
            r.critic_loss,
            r.actor_loss,
            p.update_steps_per_s,
            r.federated_round
        );
        if self.bar.is_hidden() {
            // No terminal (nohup, a batch scheduler, CI logs): one line per episode instead.
            note!("episode {}/{}: {line}", r.episode, p.total_episodes);
        }
        self.bar.set_message(line);
        self.telemetry.record_training(r.episode, r.critic_loss, r.actor_loss, r.update_steps, r.federated_round);
        if let Some(round) = p.round {
            self.round_dropouts += round.skipped.len() as u64;
        }
        self.last = Some(r.clone());
    }
}

pub(super) fn train(a: TrainArgs, limits: &pipeline::Limits) -> anyhow::Result<ExitCode> {
    if !a.policy.is_learner() {
        return Err(bad(format!("`{}` is not a learner (expected fed-maddpg, maddpg or masac)", a.policy)));
    }
    let cluster = match &a.cluster {
        None => None,
        Some(_) if a.device != vecsim_learn::Device::Cpu => {
            return Err(bad(format!(
                "--cluster with --device {}: the nodes run their RSUs' learners on their own CPUs (the device is not part of what travels to them); drop --device or train without --cluster",
                a.device
            )));
        }
        Some(file) => {
            let cfg = vecsim_cluster::ClusterConfig::load(file, a.insecure)
                .map_err(|e| bad(vecsim::message::error_message(&e)))?;
            for w in &cfg.warnings {
                eprintln!("warning: {w}");
            }
            Some(cfg)
        }
    };
    let overrides = Overrides { seed: None, slots: None, policy: Some(a.policy), faults: a.faults.fault.clone() };
    let base = pipeline::load_scenario(&a.scenario, &overrides)?;
    let seed = a.seed.unwrap_or(base.seed);
    let dir = a.checkpoint.clone().unwrap_or_else(|| vecsim::training::default_dir(a.policy, &base.name, seed));
    let spec = TrainSpec {
        policy: a.policy,
        budget: a.budget,
        learn: a.learn.clone(),
        update_every: a.update_every,
        slots: a.slots,
        episodes: a.episodes,
        actor_hidden: a.actor_hidden.as_ref().map(|h| h.0.clone()),
        critic_hidden: a.critic_hidden.as_ref().map(|c| (c.embed.clone(), c.head.clone())),
        reward: a.reward.signal(),
        backend: match a.backend {
            BackendArg::Gemm => vecsim_learn::Backend::Gemm,
            BackendArg::Dfdx => vecsim_learn::Backend::Dfdx,
        },
        pretrain: match &a.pretrain {
            None => None,
            Some(p) => Some(PretrainSpec::parse(p).map_err(|e| bad(format!("--pretrain {e}")))?),
        },
        keep_best: match (a.keep_best, a.keep_last) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        resumes_cloned: if a.resume && a.pretrain.is_none() { vecsim::training::run_cloned(&dir) } else { None },
    };
    let resolved = spec.resolve(base, &a.scenario).map_err(training_error)?;
    let s = &resolved.scenario;
    let episodes = resolved.episodes;
    let mut cfg = resolved.train_config(seed);
    cfg.checkpoint_every = a.checkpoint_every.max(1);
    cfg.resume = a.resume;
    cfg.vary_seed = !a.fixed_traffic;
    cfg.threads = a.engine.threads;
    cfg.eval_every = a.eval_every;
    if a.keep_best && a.eval_every == 0 {
        return Err(bad("--keep-best selects among the --eval-every evaluations: give --eval-every N above 0"));
    }
    // Without evaluations there is nothing to keep (`--pretrain --eval-every 0`): say so in
    // run.toml, whose command line would otherwise ask for --keep-best with --eval-every 0.
    cfg.keep_best &= a.eval_every > 0;
    cfg.eval_seeds = a.eval_seeds.max(1);
    cfg.save_replay = !a.lean_checkpoints;
    a.device.check().map_err(|e| bad(e.to_string()))?;
    cfg.options.set_device(a.device);
    let kind = vecsim_learn::Kind::parse(a.policy.as_str()).expect("checked to be a learner above");
    let records = u64::from(episodes) * u64::from(s.time.slots);
    let learner_bytes = cfg.options.memory_bytes(kind, s.rsu_count(), &s.learning, records);
    pipeline::check_memory_with(s, None, learner_bytes, limits)?;
    cfg.checkpoint_cap = limits.checkpoint_cap();
    // The plan, before any work: what a run without --budget is (Table III's networks and
    // episodes are hours on a CPU) is not a surprise.
    let l = &s.learning;
    note!(
        "plan: {episodes} episode(s) x {} slots on {} ({} RSUs); actor {:?}, critic {:?}/{:?}; batch {}, an update round every {} slot(s){}",
        s.time.slots,
        s.name,
        s.rsu_count(),
        cfg.options.shape.actor_hidden,
        cfg.options.shape.critic_embed,
        cfg.options.shape.critic_head,
        l.batch_size,
        l.update_every.max(1),
        if a.budget.is_none() && !a.resume {
            " (no --budget: the scenario's [learning] section and Table III's networks; --budget quick takes minutes on a CPU)"
        } else {
            ""
        }
    );
    // Never lose a model: a default run directory (`dir`, above), and no silent overwrite.
    let ckpt = dir.join(trainer::CHECKPOINT_FILE);
    vecsim::training::prepare_dir(&dir, a.resume, a.force).map_err(training_error)?;
    note!("run directory: {}", dir.display());
    cfg.checkpoint = Some(dir.clone());
    let curve = a.curve.clone().unwrap_or_else(|| dir.join("curve.csv"));
    cfg.curve_csv = Some(curve.clone());

    let mut engine: Box<dyn vecsim_core::Engine> = match cluster {
        None => a.engine.build()?,
        // The learners travel to the nodes for every episode and back.
        Some(c) => {
            Box::new(vecsim_cluster::Cluster::new(c, a.engine.threads).with_policy_codec(pipeline::learner_codec()))
        }
    };
    let telemetry = start_telemetry(&a.metrics, s, engine.name())?;
    detail!(
        "train: {} on {} ({} RSUs, {} slots per episode), seed {seed}, {episodes} episodes, engine {}",
        a.policy,
        s.name,
        s.rsu_count(),
        s.time.slots,
        engine.name()
    );
    let bar = output::progress_bar(
        episodes as u64,
        "{spinner:.green} [{elapsed_precise}, eta {eta}] {bar:30.cyan/blue} episode {pos}/{len}  {msg}",
    );
    // Ctrl-C or SIGTERM: finish the episode, write the curve and a checkpoint, say how to resume;
    // a second one ends the process at once.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(|e| anyhow::anyhow!("cannot install the signal handler: {e}"))?;
    }
    cfg.stop = Some(Arc::clone(&stop));
    let mut watch = TrainWatch { telemetry, bar, last: None, round_dropouts: 0 };
    let outcome = resolved.train(&cfg, true, &mut *engine, &mut watch).map_err(training_error)?;
    let TrainWatch { telemetry, bar, last, round_dropouts } = watch;
    bar.finish();
    if !bar.is_hidden() {
        // indicatif leaves the cursor at the end of the finished bar: the next line starts anew.
        output::write_err(format_args!("\n"));
    }
    if outcome.resumed_without_replay {
        warning!("the checkpoint held no replay buffers (--lean-checkpoints): training went on with empty buffers, not exactly as an uninterrupted run");
    }
    if let Some(p) = &outcome.pretrain {
        outln!(
            "pretrained (beyond the paper) by cloning {t}: {} episodes, {} slots, {} task decisions ({t} completion {:.2} %), {} steps; cross-entropy {:.4}, agreement with {t} {:.2} %",
            p.spec.episodes,
            p.slots,
            p.tasks,
            100.0 * p.oracle_completion,
            p.steps,
            p.loss,
            100.0 * p.agreement,
            t = p.spec.teacher.name()
        )?;
    }
    if let Some(k) = &outcome.kept {
        let last = match outcome.curve.last().and_then(|r| r.eval) {
            Some(e) => format!("the last episode's {:.2} %", 100.0 * e.completion_rate),
            None => "the last episode was not evaluated".to_string(),
        };
        outln!(
            "kept the actors of episode {} of {} (validation completion {:.2} %; {last})",
            k.episode,
            outcome.curve.len(),
            100.0 * k.completion_rate,
        )?;
    }
    if outcome.episodes_run == 0 && (a.resume || cfg.pretrain.is_none()) {
        note!(
            "nothing left to do: {} already holds {} episodes (asked for {episodes}; raise --episodes to continue)",
            dir.display(),
            outcome.curve.len()
        );
    }
    if last.as_ref().is_some_and(|r| r.update_steps == 0) {
        warning!(
            "no update step ran: the replay buffers never held a minibatch of {} decisions (raise --episodes or --slots, or lower --learn batch_size)",
            s.learning.batch_size
        );
    }
    if let Some(r) = last {
        outln!(
            "trained {} on {}: {} episodes; last episode: cumulative reward {:.4}, completion rate {:.2} %, average realized potential {:.4}",
            a.policy,
            s.name,
            r.episode,
            r.cumulative_reward,
            100.0 * r.completion_rate,
            r.average_realized_potential
        )?;
    }
    if round_dropouts > 0 {
        outln!("federated rounds: {round_dropouts} RSU round dropout(s)")?;
    }
    outln!("learning curve: {}", curve.display())?;
    outln!("checkpoint: {}", ckpt.display())?;
    if outcome.interrupted {
        warning!(
            "interrupted after episode {} of {episodes}: the curve and the checkpoint hold it; continue with `vecsim train {} --policy {} --checkpoint {} --resume` (and the same flags)",
            outcome.curve.len(),
            a.scenario,
            a.policy,
            dir.display()
        );
        drop(outcome);
        telemetry.linger();
        return Ok(ExitCode::from(130));
    }
    drop(outcome);
    telemetry.linger();
    Ok(ExitCode::SUCCESS)
}
