//! # vecsim-learn
//!
//! The learning layer: Fed-MADDPG, MADDPG and MASAC policies for the RSUs of a
//! [`vecsim_core::Scenario`], federated averaging for the VEC POOL, checkpoints, the training
//! driver and the update-step benchmark. Pure, synchronous and deterministic like the core.

pub mod adam;
pub mod bench;
pub mod budget;
pub mod checkpoint;
pub mod device;
pub mod dfdx_backend;
pub mod features;
pub mod gumbel;
mod in_turn;
pub mod learner;
pub mod mlp;
pub mod net;
pub mod nets;
pub mod pretrain;
pub mod replay;
pub mod resident;
pub mod rsu;
pub mod run_record;
pub mod train;

#[cfg(test)]
mod learning_tests;
pub mod maddpg;
pub mod masac;
#[cfg(test)]
mod tests;

pub use bench::{bench_train_step, bench_train_step_dfdx};
pub use budget::Budget;
pub use device::{Device, DeviceError};
pub use learner::{build_learner, build_learner_with, is_learner, Kind, LearnerOptions, LearnerSet, RewardSignal};
pub use mlp::Backend;
pub use pretrain::{PretrainReport, PretrainSpec};
pub use rsu::{RsuLearner, SlotShare};
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
