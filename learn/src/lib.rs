//! # vecsim-learn
//!
//! The learning layer: Fed-MADDPG, MADDPG and MASAC policies for the RSUs of a
//! [`vecsim_core::Scenario`], federated averaging for the VEC POOL, checkpoints, the training
//! driver and the update-step benchmark. Pure, synchronous and deterministic like the core.

//!
//! The public API is what this page re-exports, plus three modules: [`train`] (the training
//! driver: [`train()`], checkpoints, evaluation), [`budget`] (training budgets) and
//! [`checkpoint`] (the checkpoint file format and its errors). Everything else is internal;
//! `docs/learning.md` describes it ("Network layer": `net.rs` defines a network).

mod adam;
mod bench;
pub mod budget;
pub mod checkpoint;
mod device;
mod dfdx_backend;
mod features;
mod gumbel;
mod in_turn;
mod learner;
mod maddpg;
mod masac;
mod mlp;
mod net;
mod nets;
mod pretrain;
mod replay;
mod resident;
mod rsu;
mod run_record;
mod set;
pub mod train;

#[cfg(test)]
mod learning_tests;
#[cfg(test)]
mod tests;

/// Update-steps/s of `vecsim bench train-step` (the learners' own networks, gemm or dfdx).
pub use bench::{bench_train_step, bench_train_step_dfdx};
pub use budget::Budget;
/// Where the dfdx backend runs, and why a device cannot be used.
pub use device::{Device, DeviceError};
/// What a learner is.
pub use learner::{is_learner, Kind, LearnerOptions, RewardSignal};
/// Which implementation runs the networks (gemm layers or dfdx).
pub use net::Backend;
/// The network widths of a learner.
pub use nets::NetShape;
/// Cloning an oracle's decisions before RL (`--pretrain`).
pub use pretrain::{PretrainReport, PretrainSpec, TURN_ROUNDS as PRETRAIN_TURN_ROUNDS};
/// One RSU's learner, its state and what it shares with the others each slot.
pub use rsu::{Agent, LossMeter, RsuLearner, SlotShare};
/// The learners of one scenario, one per RSU.
pub use set::{build_learner, build_learner_with, LearnerSet};
pub use train::{evaluate, load_policies, train, TrainConfig, TrainError, TrainObserver};

/// Everything that can go wrong in the learning layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    #[error("unknown learner `{0}` (expected fed-maddpg, maddpg or masac)")]
    /// The policy name is not a learner of this crate.
    UnknownPolicy(String),
    #[error("the scenario has {scenario} RSUs, {asked} were asked for")]
    /// The RSU count asked for differs from the scenario's.
    RsuCount {
        /// RSUs in the scenario.
        scenario: usize,
        /// RSUs asked for.
        asked: usize,
    },
    #[error("invalid learner options: {0}")]
    /// [`LearnerOptions`] that cannot build networks.
    Options(String),
    #[error("RSU {rsu}'s policy `{name}` is not a learner of this crate")]
    /// [`LearnerSet::from_policies`] was given a policy that is not an [`RsuLearner`].
    NotALearner {
        /// The RSU.
        rsu: usize,
        /// Its policy's name.
        name: &'static str,
    },
    #[error(transparent)]
    /// A federated average failed.
    FedAvg(#[from] vecsim_core::fedavg::FedAvgError),
}
