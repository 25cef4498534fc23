//! Training budgets: the paper's (Table III) and short ones that keep its schedule's ratios.
//!
//! Table III trains 6,100 iterations (episodes), averages the actors every `α_tg` = 500 of them
//! and moves the targets by `τ` every `t_tg` = 150 update steps. Run for a few dozen episodes,
//! those numbers mean no federated round and a target that never leaves its initial value. A
//! budget scales the schedule with the run instead, keeping
//!
//! - `max_iterations : α_tg` (about 12 federated rounds per run), and
//! - the targets' time constant `t_tg / τ` as a fraction of the run's update steps
//!   (Table III: 15,000 of 1.83 M steps at one update per slot of a 300-slot episode, 0.8 %),
//!
//! while γ, ε, n-step and the replay capacity stay Table III's. What a short budget also changes
//! is the compute and the step size: fewer slots, an update round every few slots, narrower
//! networks, a minibatch of 64 and learning rates of 1e-3 (Table III's 1e-5 actor rate moves an
//! actor weight by at most about 0.01 in the 800 Adam steps of a quick run; measured in the
//! README's "Hyper-parameters and budgets"). See [`Budget::apply`].

use crate::learner::LearnerOptions;
use serde::{Deserialize, Serialize};
use vecsim_core::learning::LearningConfig;

/// A training budget (`vecsim train --budget`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Budget {
    /// A few minutes on a 2-core CPU: 40 episodes of 100 slots, updates every 5 slots, networks
    /// 64-64 (actor) and 128-64/64 (critic), minibatch 64, learning rates 1e-3.
    Quick,
    /// About ten times `quick`'s episodes (25 times its update steps): 400 episodes of 100
    /// slots, updates every 2 slots, `quick`'s networks, minibatch and learning rates.
    Standard,
    /// Table III as written: 6,100 episodes of the scenario's slots, one update per slot, the
    /// reference networks (actor 256-256-256, critic 512-512/256). A GPU-scale budget.
    Paper,
}

/// What a budget sets.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetPlan {
    /// Episodes to train (`learning.max_iterations`).
    pub episodes: u32,
    /// Slots per episode (`None`: the scenario's).
    pub slots: Option<u32>,
}

impl Budget {
    /// Every budget, in the order they are listed to users.
    pub const ALL: [Budget; 3] = [Budget::Quick, Budget::Standard, Budget::Paper];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Quick => "quick",
            Budget::Standard => "standard",
            Budget::Paper => "paper",
        }
    }

    /// The budget called `name`, or `None`.
    pub fn parse(name: &str) -> Option<Budget> {
        Budget::ALL.into_iter().find(|b| b.name() == name)
    }

    /// (episodes, slots per episode, slots per update round).
    fn sizes(self) -> (u32, Option<u32>, u32) {
        match self {
            Budget::Quick => (40, Some(100), 5),
            Budget::Standard => (400, Some(100), 2),
            Budget::Paper => (6100, None, 1),
        }
    }

    /// Writes the budget's schedule into `cfg` and its network shape into `opts`; returns the
    /// episodes and slots it asks for. `scenario_slots` is the scenario's episode length.
    pub fn apply(self, cfg: &mut LearningConfig, opts: &mut LearnerOptions, scenario_slots: u32) -> BudgetPlan {
        let (episodes, slots, every) = self.sizes();
        schedule(cfg, episodes, slots.unwrap_or(scenario_slots), every);
        if self != Budget::Paper {
            opts.shape.actor_hidden = vec![64, 64];
            opts.shape.critic_embed = vec![128, 64];
            opts.shape.critic_head = vec![64];
            cfg.batch_size = 64;
            cfg.critic_lr = 1e-3;
            cfg.actor_lr = 1e-3;
        }
        BudgetPlan { episodes, slots }
    }
}

/// Sets `max_iterations = episodes` and `update_every`, and scales `α_tg`, `t_tg` and `τ` with
/// the run as the module doc says, for `episodes` episodes of `slots_per_episode` slots with an
/// update round every `update_every` slots.
pub fn schedule(cfg: &mut LearningConfig, episodes: u32, slots_per_episode: u32, update_every: u32) {
    {
        let paper = LearningConfig::default();
        let (every, slots_per_ep) = (update_every.max(1), slots_per_episode.max(1));
        cfg.max_iterations = episodes;
        cfg.update_every = every;
        // max_iterations : α_tg as in Table III (6100 : 500).
        let ratio = paper.max_iterations as f64 / paper.aggregation_period as f64;
        cfg.aggregation_period = ((episodes as f64 / ratio).round() as u32).max(1);
        // The targets' time constant t_tg/τ, as a fraction of all update steps, as in Table III
        // (150/0.01 of 6100·300 steps); τ stays Table III's unless t_tg would drop below 1.
        let paper_frac = (paper.target_update_every as f64 / paper.tau)
            / (paper.max_iterations as f64 * LearningConfig::PAPER_SLOTS as f64);
        let steps = episodes as f64 * (slots_per_ep as f64 / every as f64);
        let horizon = paper_frac * steps; // update steps of one time constant
        let t_tg = (horizon * paper.tau).round();
        if t_tg >= 1.0 {
            cfg.target_update_every = t_tg as u32;
            cfg.tau = paper.tau;
        } else {
            cfg.target_update_every = 1;
            cfg.tau = (1.0 / horizon.max(1.0)).min(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_keep_the_papers_ratios() {
        let mut opts = LearnerOptions::default();
        // Paper: Table III untouched.
        let mut cfg = LearningConfig::default();
        let plan = Budget::Paper.apply(&mut cfg, &mut opts, 300);
        assert_eq!(cfg, LearningConfig::default());
        assert_eq!(plan, BudgetPlan { episodes: 6100, slots: None });
        assert_eq!(opts, LearnerOptions::default());
        // Quick: 40 episodes of 100 slots, an update round every 5 slots: 800 steps per agent.
        // α_tg = 40 / 12.2 = 3.28 → 3 (13 rounds). Time constant 0.82 % of 800 steps = 6.56
        // steps: t_tg = 1, τ = 1/6.56 = 0.1525.
        let mut cfg = LearningConfig::default();
        let plan = Budget::Quick.apply(&mut cfg, &mut opts, 300);
        assert_eq!(plan, BudgetPlan { episodes: 40, slots: Some(100) });
        assert_eq!((cfg.max_iterations, cfg.aggregation_period, cfg.target_update_every), (40, 3, 1));
        assert!((cfg.tau - 1.0 / (15000.0 / 1_830_000.0 * 800.0)).abs() < 1e-12, "{}", cfg.tau);
        assert_eq!((cfg.gamma, cfg.critic_lr, cfg.actor_lr, cfg.batch_size), (0.99, 1e-3, 1e-3, 64));
        assert_eq!(opts.shape.actor_hidden, [64, 64]);
        // Standard: 400 episodes, 50 slots... 400·100/2 = 20000 steps; 0.82 % = 163.9 steps:
        // t_tg = round(1.639) = 2 with τ 0.01; α_tg = 400/12.2 = 32.8 → 33.
        let mut cfg = LearningConfig::default();
        Budget::Standard.apply(&mut cfg, &mut opts, 300);
        assert_eq!((cfg.aggregation_period, cfg.target_update_every, cfg.tau), (33, 2, 0.01));
    }
}
