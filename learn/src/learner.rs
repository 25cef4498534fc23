//! What a learner is: [`Kind`], [`LearnerOptions`], [`RewardSignal`]. The learners themselves:
//! [`crate::rsu::RsuLearner`] (one RSU's), [`crate::set::LearnerSet`] (one per RSU).

use crate::device::Device;
use crate::net::Backend;
use crate::nets::NetShape;
use serde::{Deserialize, Serialize};
use vecsim_core::learning::LearningConfig;

/// Which learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Local actor and critic per RSU, FedAvg of actors at the VEC POOL.
    FedMaddpg,
    /// Actor per RSU, centralised critics over all RSUs' observations and actions.
    Maddpg,
    /// Discrete soft actor-critic per RSU with centralised critics and learned temperature, in a
    /// Gumbel-softmax variant: one critic, straight-through actor gradient, exact categorical
    /// entropy (not the canonical twin-critic, exact-expectation discrete SAC; see `masac.rs`).
    Masac,
}

impl Kind {
    /// Every learner, in the order they are listed to users.
    pub const ALL: [Kind; 3] = [Kind::FedMaddpg, Kind::Maddpg, Kind::Masac];

    /// The learner called `name` (`fed-maddpg`, `maddpg`, `masac`), or `None`.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "fed-maddpg" => Some(Kind::FedMaddpg),
            "maddpg" => Some(Kind::Maddpg),
            "masac" => Some(Kind::Masac),
            _ => None,
        }
    }

    /// The policy name, as [`Kind::parse`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::FedMaddpg => "fed-maddpg",
            Kind::Maddpg => "maddpg",
            Kind::Masac => "masac",
        }
    }

    /// Whether its critics are centralised over all RSUs (one joint replay buffer).
    pub fn central(self) -> bool {
        !matches!(self, Kind::FedMaddpg)
    }

    /// Whether its actors are averaged at the VEC POOL (Fed-MADDPG only).
    pub fn federated(self) -> bool {
        matches!(self, Kind::FedMaddpg)
    }
}

/// Whether `name` is one of the learners of this crate.
pub fn is_learner(name: &str) -> bool {
    Kind::parse(name).is_some()
}

/// Learner settings that are not in the scenario's `[learning]` table (Table III).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerOptions {
    /// Hidden layer sizes of the actor and critic networks.
    pub shape: NetShape,
    /// Update rounds (one gradient step per agent each) after every `learning.update_every`
    /// slots. Algorithm 1 does one per slot.
    pub updates_per_slot: u32,
    /// Weight FedAvg by each RSU's number of decisions instead of equally (eq. 27).
    pub weighted_fedavg: bool,
    /// Gumbel-softmax temperature of the actor step.
    pub gumbel_tau: f32,
    /// MASAC: initial temperature α and target entropy as a fraction of `ln(#available RSUs)`.
    pub sac_init_alpha: f32,
    /// MASAC: target entropy per task, as a fraction of `ln(#available RSUs)`.
    pub sac_target_entropy: f32,
    /// What each RSU learns from.
    pub reward: RewardSignal,
    /// What runs the networks: the gemm layers (default, fastest on the CPU) or dfdx. Same
    /// parameters, same layout; see `docs/learning.md`.
    pub backend: Backend,
    /// Where the dfdx backend runs: the CPU, or a CUDA device in a build with the `cuda`
    /// feature. A property of the run: not saved in checkpoints.
    #[serde(skip)]
    pub device: Device,
    /// Threads each RSU's gemm matrix products may use (`LearnerSet::set_threads`; the
    /// trainer gives each RSU its share of `--threads`). A property of the run: not saved, and
    /// never a number's worth of difference (see [`crate::mlp::matmul`]).
    #[serde(skip, default = "one_thread")]
    pub threads: usize,
}

fn one_thread() -> usize {
    1
}

impl LearnerOptions {
    /// Most update rounds per slot a loaded checkpoint may ask for (the default is 1).
    pub const MAX_UPDATES_PER_SLOT: u32 = 1000;

    /// Rows of network input per replayed sample assumed by [`LearnerOptions::memory_bytes`]:
    /// tasks × candidates of a busy RSU's slot.
    pub const ROWS_PER_SAMPLE: f64 = 64.0;
    /// Bytes per replay record and covered RSU assumed by [`LearnerOptions::memory_bytes`]:
    /// a few tasks' and candidates' features, actions and reward.
    pub const BYTES_PER_RECORD: f64 = 512.0;

    /// Upper estimate of what the learners of a training run hold, bytes: per RSU, seven f32
    /// copies of each network's parameters (the network, its target, Adam's two moments, a
    /// gradient, the copy lent to peers or the pool, and a resident copy), the minibatch
    /// activations and their gradients (`batch × ROWS_PER_SAMPLE` rows through every layer),
    /// and `records` replay records (at most the replay capacity) of every RSU. A shape that cannot be
    /// counted is `f64::INFINITY`.
    pub fn memory_bytes(&self, kind: Kind, rsus: usize, cfg: &LearningConfig, records: u64) -> f64 {
        let Ok((actor, critic)) = self.shape.param_counts(kind.central()) else { return f64::INFINITY };
        let widths: usize =
            self.shape.actor_hidden.iter().chain(&self.shape.critic_embed).chain(&self.shape.critic_head).sum();
        let params = 7.0 * 4.0 * (actor as f64 + critic as f64);
        let acts = 2.0 * 4.0 * cfg.batch_size as f64 * Self::ROWS_PER_SAMPLE * widths as f64;
        let held = records.min(cfg.replay_capacity as u64) as f64;
        let n = rsus as f64;
        // A joint record's observations are shared by every RSU's copy of the buffer; the
        // action lists and rewards are not (32 B per covered RSU and copy).
        let replay = if kind.central() {
            held * n * (Self::BYTES_PER_RECORD + 32.0 * n)
        } else {
            held * n * Self::BYTES_PER_RECORD
        };
        n * (params + acts) + replay
    }
}

/// The reward an RSU's learner maximises. The reported metrics (completion rate, cumulative
/// reward `Σ F^t`, average realized potential `Σ r_e / E` with eq. 19's `r_e`) keep their paper
/// definitions whichever signal trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RewardSignal {
    /// `r_e^t = F^t − F^t_{−e}` (eq. 19), the paper's choice: `F_{−e}` counts the tasks RSU `e`
    /// *executes* as failed, so a completed task is credited to its executor.
    Marginal,
    /// The system reward `F^t` (eq. 18), shared by every RSU (fully cooperative extension).
    System,
    /// The difference reward `F^t − F'^t_{−e}` with the tasks *uploaded at* `e` absent and the
    /// executors' allocations recomputed without them: credits the RSU that decided. The
    /// default: it trains best of the three (measured; README, "Does it learn?").
    #[default]
    Difference,
}

impl RewardSignal {
    /// Every signal, in the order they are listed to users.
    pub const ALL: [RewardSignal; 3] = [RewardSignal::Marginal, RewardSignal::System, RewardSignal::Difference];

    /// The command-line name (`marginal`, `system`, `difference`).
    pub fn name(self) -> &'static str {
        match self {
            RewardSignal::Marginal => "marginal",
            RewardSignal::System => "system",
            RewardSignal::Difference => "difference",
        }
    }

    /// The signal called `name`, or `None`.
    pub fn parse(name: &str) -> Option<RewardSignal> {
        RewardSignal::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl LearnerOptions {
    /// Runs the networks on `device`: a CUDA device means the dfdx backend (the gemm layers
    /// run on the CPU only); the CPU keeps the backend chosen.
    pub fn set_device(&mut self, device: Device) {
        self.device = device;
        if device != Device::Cpu {
            self.backend = Backend::Dfdx;
        }
    }
}

impl Default for LearnerOptions {
    fn default() -> Self {
        LearnerOptions {
            shape: NetShape::default(),
            updates_per_slot: 1,
            weighted_fedavg: false,
            gumbel_tau: 1.0,
            sac_init_alpha: 0.05,
            sac_target_entropy: 0.5,
            reward: RewardSignal::Difference,
            backend: Backend::Gemm,
            device: Device::Cpu,
            threads: 1,
        }
    }
}
