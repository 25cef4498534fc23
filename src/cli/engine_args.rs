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
    /// Tokio worker threads for the actor engine (the numbers never depend on it).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
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
            let run = vecsim_actors::run_actors(scenario, fleet, policies, refiner, args.threads.max(1), on_slot)?;
            if run.crashes > 0 {
                eprintln!("actors: {} RSU actor crash(es) restarted by the supervisor", run.crashes);
            }
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
