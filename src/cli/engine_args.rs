//! `--engine` and `--threads`: which engine drives a run.

use clap::Args;
use vecsim::pipeline::{check_threads, EngineKind, PipelineError, MAX_THREADS};
use vecsim_core::Engine;

#[derive(Args, Debug, Clone)]
pub(crate) struct EngineArgs {
    /// Which engine drives the model: `actors` (one ractor actor per vehicle, RSU and the VEC
    /// POOL) or `sequential` (the same model as a plain loop). Same numbers, byte for byte.
    #[arg(long, default_value_t = EngineKind::Actors)]
    pub engine: EngineKind,
    /// Tokio worker threads for the actor engine, 1 to 1024 (the numbers never depend on it).
    #[arg(long, default_value_t = 2, value_parser = parse_threads)]
    pub threads: usize,
}

/// `--threads N`: a number that the library's [`check_threads`] accepts.
pub(crate) fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) => check_threads(n).map_err(|e| e.to_string()),
        Err(_) => Err(format!("`{s}` is not a thread count (expected 1 to {MAX_THREADS})")),
    }
}

impl EngineArgs {
    /// The engine asked for.
    pub(crate) fn build(&self) -> Result<Box<dyn Engine>, PipelineError> {
        self.engine.build(self.threads)
    }
}
