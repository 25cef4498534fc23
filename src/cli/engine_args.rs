//! `--engine` and `--threads`: which engine drives a run.

use clap::Args;
use vecsim::pipeline::EngineKind;
use vecsim_core::Engine;

#[derive(Args, Debug, Clone)]
pub(crate) struct EngineArgs {
    /// Which engine drives the model: `actors` (one ractor actor per vehicle, RSU and the VEC
    /// POOL) or `sequential` (the same model as a plain loop). Same numbers, byte for byte.
    #[arg(long, default_value_t = EngineKind::Actors)]
    pub engine: EngineKind,
    /// Tokio worker threads for the actor engine (the numbers never depend on it).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

impl EngineArgs {
    /// The engine asked for.
    pub(crate) fn build(&self) -> Box<dyn Engine> {
        self.engine.build(self.threads)
    }
}
