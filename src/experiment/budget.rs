//! The compute budget of an experiment, in one place: how long the learners train, on which
//! networks, how long each evaluation runs, and how the paper's iteration counts (α_tg, the
//! smoothing of Fig. 7) scale down with it. Retune here when the learners change.

use std::fmt;
use std::str::FromStr;
use vecsim_core::Scenario;
use vecsim_learn::LearnerOptions;

/// The paper's training length, iterations (Table III, "Max-iterations").
pub const PAPER_ITERATIONS: u32 = 6100;
/// The paper's aggregation period α_tg, iterations (Table III).
pub const PAPER_ALPHA: u32 = 500;

/// A named compute budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// `quick`, `small`, `medium` or `paper`.
    pub name: &'static str,
    /// Training episodes (iterations) per learner.
    pub train_episodes: u32,
    /// Slots per training episode and per evaluation run (one iteration's length, so that the
    /// learning curves and the baselines' cumulative rewards are on the same scale).
    pub slots: u32,
    /// A round of gradient updates every this many slots.
    pub update_every: u32,
    /// Actor hidden widths.
    pub actor_hidden: Vec<usize>,
    /// Critic per-task embedding widths.
    pub critic_embed: Vec<usize>,
    /// Critic head widths.
    pub critic_head: Vec<usize>,
    /// Minibatch size.
    pub batch_size: usize,
    /// Replay capacity, transitions.
    pub replay_capacity: usize,
    /// Target-network update period, update steps.
    pub target_update_every: u32,
    /// Traffic seeds for evaluation when `--seeds` is not given.
    pub traffic_seeds: u32,
    /// Learner seeds when `--learner-seeds` is not given.
    pub learner_seeds: u32,
    /// Critic and actor learning rate with the trainer's short-budget schedule
    /// (`vecsim_learn::budget::schedule`); `None`: Table III's rates and `target_update_every`.
    pub learning_rate: Option<f64>,
}

impl Budget {
    /// Every profile, smallest first.
    pub fn all() -> [Budget; 5] {
        [Budget::quick(), Budget::small(), Budget::cpu(), Budget::medium(), Budget::paper()]
    }

    /// The trainer's `vecsim train --budget quick` profile (docs/training.md: the learning evidence): 40
    /// episodes of 100 slots, updates every 5 slots, networks 64-64 and 128-64/64, minibatch 64,
    /// learning rates 1e-3 with the trainer's schedule. Tens of seconds per training.
    pub fn cpu() -> Budget {
        Budget {
            name: "cpu",
            train_episodes: 40,
            slots: 100,
            update_every: 5,
            actor_hidden: vec![64, 64],
            critic_embed: vec![128, 64],
            critic_head: vec![64],
            batch_size: 64,
            replay_capacity: 1_000_000,
            target_update_every: 1,
            traffic_seeds: 3,
            learner_seeds: 3,
            learning_rate: Some(1e-3),
        }
    }

    /// Fits a CI run: two 5-slot episodes of tiny networks, one seed of each kind.
    pub fn quick() -> Budget {
        Budget {
            name: "quick",
            train_episodes: 2,
            slots: 5,
            update_every: 1,
            actor_hidden: vec![8],
            critic_embed: vec![8],
            critic_head: vec![8],
            batch_size: 8,
            replay_capacity: 2_000,
            target_update_every: 5,
            traffic_seeds: 1,
            learner_seeds: 1,
            learning_rate: None,
        }
    }

    /// About half an hour for all four experiments on a 2-core machine (docs/results.md).
    pub fn small() -> Budget {
        Budget {
            name: "small",
            train_episodes: 12,
            slots: 60,
            update_every: 5,
            actor_hidden: vec![32, 32],
            critic_embed: vec![64],
            critic_head: vec![32],
            batch_size: 64,
            replay_capacity: 50_000,
            target_update_every: 50,
            traffic_seeds: 3,
            learner_seeds: 2,
            learning_rate: None,
        }
    }

    /// Hours on a CPU.
    pub fn medium() -> Budget {
        Budget {
            name: "medium",
            train_episodes: 200,
            slots: 100,
            update_every: 2,
            actor_hidden: vec![128, 128],
            critic_embed: vec![256],
            critic_head: vec![128],
            batch_size: 128,
            replay_capacity: 200_000,
            target_update_every: 150,
            traffic_seeds: 5,
            learner_seeds: 3,
            learning_rate: None,
        }
    }

    /// Table III: 6,100 iterations of 300 slots, the reference networks (GPU-scale).
    pub fn paper() -> Budget {
        Budget {
            name: "paper",
            train_episodes: PAPER_ITERATIONS,
            slots: 300,
            update_every: 1,
            actor_hidden: vec![256, 256, 256],
            critic_embed: vec![512, 512],
            critic_head: vec![256],
            batch_size: 256,
            replay_capacity: 1_000_000,
            target_update_every: 150,
            traffic_seeds: 5,
            learner_seeds: 3,
            learning_rate: None,
        }
    }

    /// The paper's α_tg (iterations of a 6,100-iteration run) scaled to this budget's training
    /// length, at least 1: `round(alpha · train_episodes / 6100)`.
    pub fn scaled_alpha(&self, alpha: u32) -> u32 {
        let a = (alpha as f64 * self.train_episodes as f64 / PAPER_ITERATIONS as f64).round() as u32;
        a.max(1)
    }

    /// The σ of Fig. 7's Gaussian smoothing, in episodes: the paper smooths 610 points (one
    /// every 10 of 6,100 iterations) with σ = 10 points, i.e. 1.64 % of the run; the same
    /// fraction of this budget's run, at least 1 episode.
    pub fn smoothing_sigma(&self) -> f64 {
        (10.0 * self.train_episodes as f64 / 610.0).max(1.0)
    }

    /// The budget's learner settings (networks, update frequency).
    pub fn learner_options(&self) -> LearnerOptions {
        let mut o = LearnerOptions::default();
        o.shape.actor_hidden = self.actor_hidden.clone();
        o.shape.critic_embed = self.critic_embed.clone();
        o.shape.critic_head = self.critic_head.clone();
        o
    }

    /// Applies the budget to a scenario: slots per run, replay, batch, target period, and the
    /// aggregation period α_tg (already scaled).
    ///
    /// Without a `learning_rate`, Table III's rates and this budget's target period are kept
    /// (with 1e-3 rates at `small`'s 12 episodes of 60 slots every learner collapsed to 1–20 %
    /// completion, measured; see docs/results.md). With one, the trainer's short-budget schedule
    /// (`vecsim_learn::budget::schedule`: the targets' time constant as a fraction of the run)
    /// and that rate for critic and actor, as `vecsim train --budget quick` does.
    pub fn apply(&self, s: &mut Scenario, alpha: u32) {
        s.time.slots = self.slots;
        s.learning.batch_size = self.batch_size;
        s.learning.replay_capacity = self.replay_capacity;
        match self.learning_rate {
            Some(lr) => {
                vecsim_learn::budget::schedule(&mut s.learning, self.train_episodes, self.slots, self.update_every);
                s.learning.critic_lr = lr;
                s.learning.actor_lr = lr;
            }
            None => {
                s.learning.target_update_every = self.target_update_every;
                s.learning.update_every = self.update_every;
                s.learning.max_iterations = self.train_episodes;
            }
        }
        s.learning.aggregation_period = alpha.max(1);
    }

    /// One line for reports: `small: 12 episodes × 60 slots, actor 32-32, ...`.
    pub fn describe(&self) -> String {
        let w = |v: &[usize]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("-");
        format!(
            "{}: {} training episodes × {} slots, updates every {} slot(s), actor {}, critic {}/{}, batch {}, \
             replay {}, t_tg {}, α_tg {} (the paper's {} scaled)",
            self.name,
            self.train_episodes,
            self.slots,
            self.update_every,
            w(&self.actor_hidden),
            w(&self.critic_embed),
            w(&self.critic_head),
            self.batch_size,
            self.replay_capacity,
            self.target_update_every,
            self.scaled_alpha(PAPER_ALPHA),
            PAPER_ALPHA
        )
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(s: &str) -> Result<Budget, String> {
        Budget::all()
            .into_iter()
            .find(|b| b.name == s)
            .ok_or_else(|| format!("unknown budget `{s}` (expected quick, small, cpu, medium or paper)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_and_sigma_scale_with_the_run_length() {
        let p = Budget::paper();
        assert_eq!(p.scaled_alpha(500), 500);
        assert_eq!(p.scaled_alpha(50), 50);
        assert!((p.smoothing_sigma() - 100.0).abs() < 1e-9);
        let s = Budget::small();
        // 12 episodes: 50 → 0.1 → 1 (at least one), 900 → 1.77 → 2.
        assert_eq!(s.scaled_alpha(50), 1);
        assert_eq!(s.scaled_alpha(900), 2);
        assert_eq!(s.smoothing_sigma(), 1.0);
        for b in Budget::all() {
            assert_eq!(b.name.parse::<Budget>().unwrap(), b);
        }
        assert!("huge".parse::<Budget>().unwrap_err().contains("quick, small, cpu, medium or paper"));
    }
}
