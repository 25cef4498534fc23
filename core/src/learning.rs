//! The `[learning]` section of a scenario: hyper-parameters of the learners (Table III).

use crate::error::ScenarioError;
use serde::{Deserialize, Serialize};

/// Learner hyper-parameters. Defaults are the paper's Table III.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearningConfig {
    /// Replay buffer capacity, transitions.
    pub replay_capacity: usize,
    /// Minibatch size `M`.
    pub batch_size: usize,
    /// Discount `γ`.
    pub gamma: f64,
    /// Exploration probability `ε`.
    pub epsilon: f64,
    /// Critic learning rate.
    pub critic_lr: f64,
    /// Actor learning rate.
    pub actor_lr: f64,
    /// Target-network update period `t_tg`, update steps.
    pub target_update_every: u32,
    /// Soft-update rate `τ`.
    pub tau: f64,
    /// Federated aggregation period `α_tg`, iterations.
    pub aggregation_period: u32,
    /// Maximum training iterations (episodes).
    pub max_iterations: u32,
    /// n of the n-step TD target (eq. 21).
    pub n_step: u32,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            replay_capacity: 1_000_000,
            batch_size: 256,
            gamma: 0.99,
            epsilon: 0.5,
            critic_lr: 1e-4,
            actor_lr: 1e-5,
            target_update_every: 150,
            tau: 0.01,
            aggregation_period: 500,
            max_iterations: 6100,
            n_step: 1,
        }
    }
}

impl LearningConfig {
    pub(crate) fn validate(&self) -> Result<(), ScenarioError> {
        let prob = |k: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ScenarioError::invalid(k, format!("must be in [0, 1], got {v}")))
            }
        };
        prob("learning.gamma", self.gamma)?;
        prob("learning.epsilon", self.epsilon)?;
        prob("learning.tau", self.tau)?;
        if self.batch_size == 0 {
            return Err(ScenarioError::invalid("learning.batch_size", "must be at least 1"));
        }
        if self.replay_capacity < self.batch_size {
            return Err(ScenarioError::invalid("learning.replay_capacity", "must be at least learning.batch_size"));
        }
        if !(self.critic_lr > 0.0 && self.critic_lr.is_finite()) {
            return Err(ScenarioError::invalid("learning.critic_lr", "must be > 0"));
        }
        if !(self.actor_lr > 0.0 && self.actor_lr.is_finite()) {
            return Err(ScenarioError::invalid("learning.actor_lr", "must be > 0"));
        }
        if self.n_step == 0 {
            return Err(ScenarioError::invalid("learning.n_step", "must be at least 1"));
        }
        if self.aggregation_period == 0 {
            return Err(ScenarioError::invalid("learning.aggregation_period", "must be at least 1"));
        }
        Ok(())
    }
}
