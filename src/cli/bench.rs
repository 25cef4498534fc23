//! `vecsim bench engine SCENARIO`: throughput of the actor engine, of the sequential engine,
//! and of the bare runtime (the floor), in one run.

use super::output::outln;
use clap::Subcommand;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use vecsim::pipeline;
use vecsim_actors::ActorOptions;
use vecsim_core::engine::SequentialRun;
use vecsim_core::observer::OnSlot;
use vecsim_core::overrides::Overrides;

#[derive(Subcommand, Debug)]
pub(crate) enum BenchCmd {
    /// Vehicle-slots per second of the actor engine, the sequential engine and bare ractor
    /// actors exchanging the same number of messages (the floor), plus memory per vehicle actor.
    Engine {
        /// Scenario file or preset name (e.g. `large-10k`).
        scenario: String,
        /// Number of slots (default: the scenario's).
        #[arg(long)]
        slots: Option<u32>,
        /// Tokio worker threads for the actor engine and the floor (1 to 1024).
        #[arg(long, default_value_t = 2, value_parser = super::engine_args::parse_threads)]
        threads: usize,
    },
    /// Vehicle-slots per second of one process and of the same run with its RSUs on local
    /// `vecsim node` processes (started and stopped by the bench), with a check that both
    /// reports are identical.
    Cluster {
        /// Scenario file or preset name (e.g. `large-10k`).
        scenario: String,
        /// Number of slots (default: the scenario's).
        #[arg(long)]
        slots: Option<u32>,
        /// Local node processes.
        #[arg(long, default_value_t = 3, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
        nodes: usize,
        /// Tokio worker threads per process (1 to 1024).
        #[arg(long, default_value_t = 2, value_parser = super::engine_args::parse_threads)]
        threads: usize,
    },
    /// Wall time of one training run on the actor engine at each thread count, measured in one
    /// run, with the speed-up and a check that the curves and the trained learners are
    /// byte-identical. Table III's networks and schedule (the `paper` budget), a short episode
    /// and a small minibatch so that the updates start early.
    Training {
        /// Scenario file or preset name.
        #[arg(default_value = "paper-evening")]
        scenario: String,
        /// Learner: fed-maddpg, maddpg or masac.
        #[arg(long, default_value = "fed-maddpg")]
        policy: String,
        /// Episodes per run.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        episodes: u32,
        /// Slots per episode.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        slots: u32,
        /// Minibatch size (Table III: 256).
        #[arg(long, default_value_t = 32, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
        batch: usize,
        /// Worker-thread counts to compare, comma-separated; the first is the reference.
        #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = super::engine_args::parse_threads)]
        threads: Vec<usize>,
        /// Where the networks run: `cpu` (the gemm layers), or `cuda` / `cuda:N` (the dfdx
        /// backend on that GPU; needs a build with `--features cuda`).
        #[arg(long, default_value = "cpu", value_parser = super::device_arg::parse_device)]
        device: vecsim_learn::Device,
    },
    /// Slots/s and update-steps/s of each learner training a few episodes of a budget, measured
    /// in one run, and the projected wall time of the whole budget (and of `standard`).
    Learners {
        /// Scenario file or preset name.
        #[arg(default_value = "paper-evening")]
        scenario: String,
        /// Learners to time, comma-separated (fed-maddpg, maddpg, masac).
        #[arg(long, value_delimiter = ',', default_value = "fed-maddpg,maddpg,masac")]
        policies: Vec<String>,
        /// Budget whose networks and schedule are timed: quick, standard or paper.
        #[arg(long, default_value = "standard")]
        budget: String,
        /// Episodes timed per learner (the first is reported apart: it fills the replay buffers).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        episodes: u32,
        /// Slots per episode (default: the budget's, else the scenario's).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        slots: Option<u32>,
        /// Seed of the learners and the training traffic.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        engine: super::engine_args::EngineArgs,
    },
    /// Update-steps/s of one full MADDPG update of every agent with the anchor's shapes, on the
    /// learners' own layers, optimiser and update routine (optionally beside the dfdx backend and
    /// the PyTorch anchor, measured in the same run).
    TrainStep {
        /// Observation features per agent (1 to 1024).
        #[arg(long, default_value_t = 64, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
        obs: usize,
        /// Actions per agent (1 to 1024).
        #[arg(long, default_value_t = 72, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
        act: usize,
        /// Agents (1 to 64).
        #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
        agents: usize,
        /// Minibatch size (1 to 8192).
        #[arg(long, default_value_t = 256, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=8192))]
        batch: usize,
        /// Timed update steps (after 3 warm-up steps).
        #[arg(long, default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
        steps: usize,
        /// Also time the dfdx backend.
        #[arg(long)]
        dfdx: bool,
        /// Where the dfdx backend runs: `cpu`, or `cuda` / `cuda:N` (implies `--dfdx`; needs a
        /// build with `--features cuda`). The gemm layers always run on the CPU.
        #[arg(long, default_value = "cpu", value_parser = super::device_arg::parse_device)]
        device: vecsim_learn::Device,
        /// A Python with torch installed: runs the PyTorch anchor in the same invocation.
        #[arg(long)]
        torch: Option<String>,
        /// The PyTorch anchor script; default: `benches/maddpg_step_torch.py` of the source tree
        /// this binary was built from (the anchor ships with the repository, not the binary).
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/maddpg_step_torch.py"))]
        anchor: std::path::PathBuf,
    },
}

pub(super) fn bench(cmd: BenchCmd, limits: &pipeline::Limits) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCmd::Engine { scenario, slots, threads } => engine(&scenario, slots, threads, limits),
        BenchCmd::Cluster { scenario, slots, nodes, threads } => {
            super::bench_cluster::cluster(&scenario, slots, nodes.max(1), threads, limits)
        }
        BenchCmd::Training { scenario, policy, episodes, slots, batch, threads, device } => {
            training(&scenario, &policy, (episodes, slots, batch), &threads, device, limits)
        }
        BenchCmd::Learners { scenario, policies, budget, episodes, slots, seed, engine } => {
            super::bench_learners::learners(&scenario, &policies, &budget, (episodes, slots, seed), &engine, limits)
        }
        BenchCmd::TrainStep { obs, act, agents, batch, steps, dfdx, device, torch, anchor } => {
            super::bench_train::train_step(
                obs,
                act,
                agents,
                batch,
                steps,
                (dfdx || device != vecsim_learn::Device::Cpu).then_some(device),
                torch.as_deref().map(|p| (p, anchor.as_path())),
            )
        }
    }
}

/// Resident set size of this process, bytes (Linux; 0 elsewhere).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn engine(name: &str, slots: Option<u32>, threads: usize, limits: &pipeline::Limits) -> anyhow::Result<ExitCode> {
    let s = pipeline::load_scenario(name, &Overrides { slots, ..Default::default() })?;
    let fleet = pipeline::load_fleet(&s, None, limits)?;
    pipeline::EngineKind::Actors.build(threads)?;
    let s = Arc::new(s);
    let slots = s.time.slots;

    // The actor engine first, on a fresh heap, sampling RSS as slots close.
    let policies = pipeline::build_policies(&s, None)?;
    let fleet_a = fleet.clone();
    let rss0 = rss_bytes();
    let mut rss_peak = rss0;
    // Steady state: from the close of slot 0 (which spawns the initial fleet) to the last.
    let mut first: Option<(Instant, u64)> = None;
    let mut last = (Instant::now(), 0u64);
    let mut seen = 0u64;
    let t0 = Instant::now();
    let opts = ActorOptions { threads, ..Default::default() };
    let mut watch = OnSlot(|rep: &vecsim_core::report::SlotReport| {
        rss_peak = rss_peak.max(rss_bytes());
        seen += rep.vehicles as u64;
        let now = Instant::now();
        if first.is_none() {
            first = Some((now, seen));
        }
        last = (now, seen);
    });
    let run = vecsim_actors::run_actors(s.clone(), fleet_a, policies, &opts, &mut watch)?;
    let actors_s = t0.elapsed().as_secs_f64();
    let vs = run.stats.summary().vehicle_slots;
    let (f_at, f_vs) = first.unwrap_or((t0, 0));
    let steady_s = (last.0 - f_at).as_secs_f64();
    let steady_vs = (last.1 - f_vs) as f64;

    // The sequential engine.
    let policies = pipeline::build_policies(&s, None)?;
    let t0 = Instant::now();
    let (seq_stats, _) = SequentialRun::new(s.clone(), fleet, policies)?.run()?;
    let seq_s = t0.elapsed().as_secs_f64();
    anyhow::ensure!(seq_stats.summary() == run.stats.summary(), "the engines disagree on {name}");

    // The floor: as many bare actors as vehicle actors at the peak, the same messages per slot.
    let floor_actors = run.peak_live_vehicles.max(1);
    let per_slot = run.messages / slots.max(1) as u64;
    // The floor runs on the same runtime configuration as the actor engine.
    let rt = vecsim_actors::runtime(threads)?;
    let floor_s = rt.block_on(vecsim_actors::floor::floor(floor_actors, per_slot, slots)).as_secs_f64();
    let floor_vs = floor_actors as f64 * slots as f64;

    let rate = |n: f64, secs: f64| n / secs.max(1e-9);
    let (ra, rs, rf) = (rate(vs as f64, actors_s), rate(vs as f64, seq_s), rate(floor_vs, floor_s));
    let per_actor = (rss_peak.saturating_sub(rss0)) as f64 / run.peak_live_vehicles.max(1) as f64;
    outln!(
        "bench engine {}: {slots} slots, {} RSUs, {vs} vehicle-slots, peak {} live vehicle actors, {threads} worker threads",
        s.name,
        s.rsu_count(),
        run.peak_live_vehicles
    )?;
    let rsteady = rate(steady_vs, steady_s);
    outln!(
        "  actors      {rsteady:>12.0} vehicle-slots/s  (slots 1.., {steady_s:.2} s; whole run with spawning {ra:.0}/s in {actors_s:.2} s; {:.2} messages per vehicle-slot)",
        run.messages as f64 / vs.max(1) as f64
    )?;
    outln!("  sequential  {rs:>12.0} vehicle-slots/s  ({seq_s:.2} s)")?;
    outln!(
        "  floor       {rf:>12.0} vehicle-slots/s  ({floor_s:.2} s: {floor_actors} bare ractor actors, {per_slot} messages per slot, empty handlers)"
    )?;
    outln!("  actors/floor {:.2}   actors/sequential {:.2}", rsteady / rf, rsteady / rs)?;
    outln!(
        "  memory      RSS +{:.1} MiB at the peak = {:.2} KiB per live vehicle actor (RSS before the run {:.1} MiB)",
        (rss_peak.saturating_sub(rss0)) as f64 / 1048576.0,
        per_actor / 1024.0,
        rss0 as f64 / 1048576.0
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `vecsim bench training`: see [`vecsim::training_bench`].
fn training(
    scenario: &str,
    policy: &str,
    (episodes, slots, batch): (u32, u32, usize),
    threads: &[usize],
    device: vecsim_learn::Device,
    limits: &pipeline::Limits,
) -> anyhow::Result<ExitCode> {
    device.check().map_err(|e| super::bad(e.to_string()))?;
    let name: vecsim_core::policy::PolicyName =
        policy.parse().map_err(|e| super::bad(format!("--policy {policy}: {e}")))?;
    if !name.is_learner() {
        return Err(super::bad(format!("--policy `{policy}` is not a learner (expected fed-maddpg, maddpg or masac)")));
    }
    if episodes == 0 || slots == 0 || batch == 0 || threads.is_empty() {
        return Err(super::bad("bench training: --episodes, --slots, --batch and --threads must be at least 1"));
    }
    let overrides = Overrides { policy: Some(name), ..Overrides::default() };
    let mut s = pipeline::load_scenario(scenario, &overrides)?;
    let mut cfg = vecsim_learn::TrainConfig::new(policy, episodes, s.seed);
    vecsim_learn::Budget::Paper.apply(&mut s.learning, &mut cfg.options, s.time.slots);
    s.learning.set("batch_size", &batch.to_string()).map_err(|e| super::bad(format!("--batch {batch}: {e}")))?;
    Overrides { slots: Some(slots), ..Overrides::default() }
        .apply(&mut s)
        .map_err(|e| super::bad(format!("--slots: {e}")))?;
    pipeline::check_memory(&s, None, limits)?;
    cfg.eval_every = 0;
    cfg.options.set_device(device);
    outln!(
        "bench training: {policy} on {} ({} RSUs), {episodes} episode(s) of {slots} slots, Table III networks and schedule, batch {batch}, actor engine, networks on {device} ({})",
        s.name,
        s.rsu_count(),
        cfg.options.backend.name()
    )?;
    let runs = vecsim::training_bench::train_with_threads(&s, &cfg, threads)?;
    let base = &runs[0];
    let mut identical = true;
    for r in &runs {
        let same = r.curve == base.curve && r.learners == base.learners;
        identical &= same;
        outln!(
            "  threads {:>3}  {:>8.2} s  {:>8.1} update-steps/s  speed-up {:.2}x  {}",
            r.threads,
            r.wall_s,
            r.update_steps as f64 / r.wall_s.max(1e-9),
            base.wall_s / r.wall_s.max(1e-9),
            if same { "identical" } else { "DIFFERS from the first run" }
        )?;
    }
    Ok(if identical { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
