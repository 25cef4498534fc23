//! Which engine drives a run, and the loop that drives it.

use clap::{Args, ValueEnum};
use std::sync::Arc;
use vecsim_core::mobility::Fleet;
use vecsim_core::policy::{JointRefiner, Policy};
use vecsim_core::report::{RunStats, SlotReport};
use vecsim_core::{Engine, Scenario};

#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Which engine drives the model.
    #[arg(long, value_enum, default_value_t = EngineKind::Actors)]
    pub engine: EngineKind,
    /// Tokio worker threads for the actor engine, 1 to 1024 (the numbers never depend on it).
    #[arg(long, default_value_t = 2, value_parser = parse_threads)]
    pub threads: usize,
}

/// The most worker threads `--threads` accepts.
pub const MAX_THREADS: usize = 1024;

/// `--threads N`: 1 ≤ N ≤ [`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} threads: expected 1 to {MAX_THREADS}")),
        Err(_) => Err(format!("`{s}` is not a thread count (expected 1 to {MAX_THREADS})")),
    }
}

/// Asks the OS for `n` worker threads before the actor engine starts, so that a refusal (a
/// thread or memory limit) is a clear input error rather than a failure inside the runtime.
pub fn check_threads(n: usize) -> anyhow::Result<()> {
    vecsim_actors::probe_threads(n)
        .map_err(|e| super::bad(format!("--threads {n}: cannot start {n} worker threads ({e}); use fewer")))
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// One actor per vehicle, RSU and the VEC POOL, advanced by a clock actor (ractor).
    Actors,
    /// The same model as a plain loop.
    Sequential,
}

/// Runs one episode; `on_slot` sees every slot report as it closes (telemetry, pacing).
pub fn drive(
    args: &EngineArgs,
    scenario: Arc<Scenario>,
    fleet: Fleet,
    policies: Vec<Box<dyn Policy>>,
    refiner: Option<Box<dyn JointRefiner>>,
    on_slot: &mut dyn FnMut(&SlotReport),
) -> anyhow::Result<(RunStats, Vec<Box<dyn Policy>>)> {
    match args.engine {
        EngineKind::Actors => {
            check_threads(args.threads)?;
            let run = vecsim_actors::run_actors(scenario, fleet, policies, refiner, args.threads.max(1), on_slot)?;
            // Each injected crash was reported as it happened, in one line (see
            // `vecsim_actors::install_crash_hook`); the summary counts them.
            Ok((run.stats, run.policies))
        }
        EngineKind::Sequential => {
            let mut engine = Engine::new(scenario, fleet, policies, refiner);
            while !engine.finished() {
                let r = engine.step();
                on_slot(&r);
            }
            let stats = engine.stats().clone();
            Ok((stats, engine.into_policies()))
        }
    }
}
