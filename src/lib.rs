//! # vecsim
//!
//! The library behind the `vecsim` command line: one [`pipeline`] that every front end (run,
//! train, compare, bench, experiments, your own code) goes through — scenario and overrides →
//! policies → engine → observers → report — and the [`presets`] compiled into the binary. The
//! model, the actor runtime, the learners and the telemetry are their own crates, re-exported
//! here so that one dependency is enough:
//!
//! - [`core`] (`vecsim-core`): the pure, synchronous, deterministic model, the [`Engine`]
//!   trait and the sequential engine;
//! - [`actors`] (`vecsim-actors`): the ractor runtime, an [`Engine`] too;
//! - [`learn`] (`vecsim-learn`): Fed-MADDPG, MADDPG, MASAC and the trainer;
//! - [`telemetry`] (`vecsim-telemetry`): Prometheus metrics and pacing, as an observer.
//!
//! [`Engine`]: vecsim_core::Engine

pub mod env;
pub mod experiment;
pub use vecsim_core::message;
pub mod pipeline;
pub mod plot;
pub mod presets;
pub mod sweep;
pub mod training;
pub mod training_bench;

pub use vecsim_actors as actors;
pub use vecsim_core as core;
pub use vecsim_learn as learn;
pub use vecsim_telemetry as telemetry;
