//! Training budgets — the one list (`vecsim train`, `experiment`, `sweep` and the benches all
//! read it): how long a learner trains, on which networks, and how Table III's schedule scales
//! down with it.
//!
//! Table III trains 6,100 iterations (episodes), averages the actors every `α_tg` = 500 of them
//! and moves the targets by `τ` every `t_tg` = 150 update steps. Run for a few dozen episodes,
//! those numbers mean no federated round and a target that never leaves its initial value. The
//! *scaled* budgets (`quick`, `standard`, `paper`) scale the schedule with the run instead,
//! keeping
//!
//! - `max_iterations : α_tg` (about 12 federated rounds per run), and
//! - the targets' time constant `t_tg / τ` as a fraction of the run's update steps
//!   (Table III: 15,000 of 1.83 M steps at one update per slot of a 300-slot episode, 0.8 %),
//!
//! while γ, ε, n-step and the replay capacity stay Table III's. What a short budget also changes
//! is the compute and the step size: fewer slots, an update round every few slots, narrower
//! networks, a minibatch of 64 and learning rates of 1e-3 (Table III's 1e-5 actor rate moves an
//! actor weight by at most about 0.01 in the 800 Adam steps of a quick run; measured in
//! docs/training.md). The *fixed* budgets (`smoke`, `small`, `medium`) keep Table III's learning
//! rates and τ and set `t_tg` outright; they are the experiments' historical profiles (with 1e-3
//! rates at `small`'s 12 × 60 slots every learner collapsed, docs/results.md). See
//! [`Budget::apply`].

use crate::learner::LearnerOptions;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use vecsim_core::learning::LearningConfig;

/// A training budget (`--budget` of `vecsim train`, `experiment` and `sweep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Budget {
    /// Tests and CI: 2 episodes of 5 slots, networks of width 8. Checks that the plumbing
    /// works; learns nothing.
    Smoke,
    /// The experiments' half-hour profile: 12 episodes of 60 slots, networks 32-32 and 64/32,
    /// Table III's learning rates.
    Small,
    /// A few minutes on a 2-core CPU: 40 episodes of 100 slots, updates every 5 slots, networks
    /// 64-64 (actor) and 128-64/64 (critic), minibatch 64, learning rates 1e-3 (the learning
    /// evidence of docs/training.md).
    Quick,
    /// Hours on a CPU: 200 episodes of 100 slots, networks 128-128 and 256/128, Table III's
    /// learning rates.
    Medium,
    /// About ten times `quick`'s episodes (25 times its update steps): 400 episodes of 100
    /// slots, updates every 2 slots, `quick`'s networks, minibatch and learning rates.
    Standard,
    /// Table III as written: 6,100 episodes of the scenario's slots, one update per slot, the
    /// reference networks (actor 256-256-256, critic 512-512/256). A GPU-scale budget.
    Paper,
}

/// How a budget sets the target-network schedule and the learning rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// [`schedule`]: α_tg, t_tg and τ scaled with the run; the learning rates (critic and
    /// actor) set to this value, or the scenario's when `None`.
    Scaled(Option<f64>),
    /// `t_tg` set to this many update steps; τ and the learning rates stay the scenario's;
    /// α_tg is Table III's scaled to the run ([`BudgetSpec::scaled_alpha`]).
    Fixed(u32),
}

/// What a budget sets: one row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetSpec {
    /// The command-line name.
    pub name: &'static str,
    /// What it is for, one line (listed in `--help` and docs/training.md).
    pub purpose: &'static str,
    /// Training episodes (iterations): `learning.max_iterations`.
    pub episodes: u32,
    /// Slots per training episode and per experiment evaluation run (`None`: the scenario's).
    pub slots: Option<u32>,
    /// A round of gradient updates every this many slots.
    pub update_every: u32,
    /// Actor hidden widths, critic embedding widths, critic head widths (`None`: the reference
    /// networks of [`LearnerOptions::default`]).
    pub networks: Option<(&'static [usize], &'static [usize], &'static [usize])>,
    /// Minibatch size (`None`: the scenario's).
    pub batch_size: Option<usize>,
    /// Replay capacity, transitions (`None`: the scenario's).
    pub replay_capacity: Option<usize>,
    /// The target and learning-rate schedule.
    pub schedule: Schedule,
    /// Evaluation traffic seeds of an experiment when `--seeds` is not given.
    pub traffic_seeds: u32,
    /// Learner seeds of an experiment when `--learner-seeds` is not given.
    pub learner_seeds: u32,
}

/// What [`Budget::apply`] asks of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetPlan {
    /// Episodes to train (`learning.max_iterations`).
    pub episodes: u32,
    /// Slots per episode (`None`: the scenario's).
    pub slots: Option<u32>,
}

const QUICK_NETS: (&[usize], &[usize], &[usize]) = (&[64, 64], &[128, 64], &[64]);

impl Budget {
    /// Every budget, smallest first, as listed to users.
    pub const ALL: [Budget; 6] =
        [Budget::Smoke, Budget::Small, Budget::Quick, Budget::Medium, Budget::Standard, Budget::Paper];

    /// The budget's row of the table.
    pub fn spec(self) -> BudgetSpec {
        let paper = LearningConfig::default();
        match self {
            Budget::Smoke => BudgetSpec {
                name: "smoke",
                purpose: "tests and CI: 2 episodes x 5 slots, width-8 networks; learns nothing",
                episodes: 2,
                slots: Some(5),
                update_every: 1,
                networks: Some((&[8], &[8], &[8])),
                batch_size: Some(8),
                replay_capacity: Some(2_000),
                schedule: Schedule::Fixed(5),
                traffic_seeds: 1,
                learner_seeds: 1,
            },
            Budget::Small => BudgetSpec {
                name: "small",
                purpose: "the experiments' half hour on 2 cores: 12 x 60 slots, 32-32 networks, Table III's rates",
                episodes: 12,
                slots: Some(60),
                update_every: 5,
                networks: Some((&[32, 32], &[64], &[32])),
                batch_size: Some(64),
                replay_capacity: Some(50_000),
                schedule: Schedule::Fixed(50),
                traffic_seeds: 3,
                learner_seeds: 2,
            },
            Budget::Quick => BudgetSpec {
                name: "quick",
                purpose: "minutes on a CPU: 40 x 100 slots, 64-64 networks, rates 1e-3 (the learning evidence)",
                episodes: 40,
                slots: Some(100),
                update_every: 5,
                networks: Some(QUICK_NETS),
                batch_size: Some(64),
                replay_capacity: None,
                schedule: Schedule::Scaled(Some(1e-3)),
                traffic_seeds: 3,
                learner_seeds: 3,
            },
            Budget::Medium => BudgetSpec {
                name: "medium",
                purpose: "hours on a CPU: 200 x 100 slots, 128-128 networks, Table III's rates",
                episodes: 200,
                slots: Some(100),
                update_every: 2,
                networks: Some((&[128, 128], &[256], &[128])),
                batch_size: Some(128),
                replay_capacity: Some(200_000),
                schedule: Schedule::Fixed(150),
                traffic_seeds: 5,
                learner_seeds: 3,
            },
            Budget::Standard => BudgetSpec {
                name: "standard",
                purpose: "ten times quick's episodes: 400 x 100 slots, quick's networks and rates",
                episodes: 400,
                slots: Some(100),
                update_every: 2,
                networks: Some(QUICK_NETS),
                batch_size: Some(64),
                replay_capacity: None,
                schedule: Schedule::Scaled(Some(1e-3)),
                traffic_seeds: 5,
                learner_seeds: 3,
            },
            Budget::Paper => BudgetSpec {
                name: "paper",
                purpose: "Table III: 6,100 episodes of the scenario's slots, reference networks (GPU-scale)",
                episodes: paper.max_iterations,
                slots: None,
                update_every: paper.update_every,
                networks: None,
                batch_size: None,
                replay_capacity: None,
                schedule: Schedule::Scaled(None),
                traffic_seeds: 5,
                learner_seeds: 3,
            },
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The budget called `name`, or `None`.
    pub fn parse(name: &str) -> Option<Budget> {
        Budget::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        Budget::ALL.map(Budget::name).join(", ")
    }

    /// Writes the budget's schedule into `cfg` and its network shape into `opts`; returns the
    /// episodes and slots it asks for. `scenario_slots` is the scenario's episode length (the
    /// `paper` budget's).
    pub fn apply(self, cfg: &mut LearningConfig, opts: &mut LearnerOptions, scenario_slots: u32) -> BudgetPlan {
        let b = self.spec();
        let slots = b.slots.unwrap_or(scenario_slots);
        match b.schedule {
            Schedule::Scaled(rate) => {
                schedule(cfg, b.episodes, slots, b.update_every);
                if let Some(lr) = rate {
                    cfg.critic_lr = lr;
                    cfg.actor_lr = lr;
                }
            }
            Schedule::Fixed(t_tg) => {
                cfg.max_iterations = b.episodes;
                cfg.update_every = b.update_every;
                cfg.target_update_every = t_tg;
                cfg.aggregation_period = b.scaled_alpha(LearningConfig::default().aggregation_period);
            }
        }
        if let Some(n) = b.batch_size {
            cfg.batch_size = n;
        }
        if let Some(n) = b.replay_capacity {
            cfg.replay_capacity = n;
        }
        if let Some((actor, embed, head)) = b.networks {
            opts.shape.actor_hidden = actor.to_vec();
            opts.shape.critic_embed = embed.to_vec();
            opts.shape.critic_head = head.to_vec();
        }
        BudgetPlan { episodes: b.episodes, slots: b.slots }
    }
}

impl BudgetSpec {
    /// Table III's α_tg-like period `alpha` (iterations of a 6,100-iteration run) scaled to this
    /// budget's training length, at least 1: `round(alpha · episodes / 6100)`.
    pub fn scaled_alpha(&self, alpha: u32) -> u32 {
        let paper = LearningConfig::default().max_iterations;
        let a = (alpha as f64 * self.episodes as f64 / paper as f64).round() as u32;
        a.max(1)
    }

    /// The σ of Fig. 7's Gaussian smoothing, in episodes: the paper smooths 610 points (one
    /// every 10 of 6,100 iterations) with σ = 10 points, i.e. 1.64 % of the run; the same
    /// fraction of this budget's run, at least 1 episode.
    pub fn smoothing_sigma(&self) -> f64 {
        (10.0 * self.episodes as f64 / 610.0).max(1.0)
    }

    /// One line for reports: `small: 12 training episodes × 60 slots, actor 32-32, ...`.
    pub fn describe(&self) -> String {
        let w = |v: &[usize]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("-");
        let nets = match self.networks {
            Some((a, e, h)) => format!("actor {}, critic {}/{}", w(a), w(e), w(h)),
            None => "the reference networks".into(),
        };
        let opt = |v: Option<usize>| v.map_or("the scenario's".to_string(), |n| n.to_string());
        let sched = match self.schedule {
            Schedule::Scaled(Some(lr)) => format!("Table III's schedule scaled to the run, learning rates {lr:e}"),
            Schedule::Scaled(None) => "Table III's schedule".into(),
            Schedule::Fixed(t) => format!("t_tg {t}, Table III's learning rates"),
        };
        format!(
            "{}: {} training episodes × {} slots, updates every {} slot(s), {nets}, batch {}, replay {}, {sched}",
            self.name,
            self.episodes,
            self.slots.map_or("the scenario's".to_string(), |s| s.to_string()),
            self.update_every,
            opt(self.batch_size),
            opt(self.replay_capacity),
        )
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown budget name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown budget `{name}`{} (budgets: {})", vecsim_core::suggest::hint(name, Budget::ALL.map(Budget::name)), Budget::names())]
pub struct UnknownBudget {
    /// What was given.
    pub name: String,
}

impl FromStr for Budget {
    type Err = UnknownBudget;

    fn from_str(s: &str) -> Result<Budget, UnknownBudget> {
        Budget::parse(s).ok_or_else(|| UnknownBudget { name: s.to_string() })
    }
}

/// Sets `max_iterations = episodes` and `update_every`, and scales `α_tg`, `t_tg` and `τ` with
/// the run as the module doc says, for `episodes` episodes of `slots_per_episode` slots with an
/// update round every `update_every` slots.
pub fn schedule(cfg: &mut LearningConfig, episodes: u32, slots_per_episode: u32, update_every: u32) {
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
        assert_eq!(cfg.replay_capacity, 1_000_000);
        assert_eq!(opts.shape.actor_hidden, [64, 64]);
        // Standard: 400·100/2 = 20000 steps; 0.82 % = 163.9 steps: t_tg = round(1.639) = 2
        // with τ 0.01; α_tg = 400/12.2 = 32.8 → 33.
        let mut cfg = LearningConfig::default();
        Budget::Standard.apply(&mut cfg, &mut opts, 300);
        assert_eq!((cfg.aggregation_period, cfg.target_update_every, cfg.tau), (33, 2, 0.01));
    }

    #[test]
    fn fixed_budgets_keep_table_iiis_rates_and_set_t_tg() {
        // Small: 12 episodes; α_tg = round(500 · 12 / 6100) = round(0.98) = 1; t_tg 50.
        let (mut cfg, mut opts) = (LearningConfig::default(), LearnerOptions::default());
        let plan = Budget::Small.apply(&mut cfg, &mut opts, 300);
        assert_eq!(plan, BudgetPlan { episodes: 12, slots: Some(60) });
        assert_eq!((cfg.max_iterations, cfg.update_every, cfg.target_update_every), (12, 5, 50));
        assert_eq!((cfg.aggregation_period, cfg.batch_size, cfg.replay_capacity), (1, 64, 50_000));
        assert_eq!((cfg.critic_lr, cfg.actor_lr, cfg.tau), (1e-4, 1e-5, 0.01));
        assert_eq!(
            (&opts.shape.actor_hidden[..], &opts.shape.critic_embed[..], &opts.shape.critic_head[..]),
            (&[32, 32][..], &[64][..], &[32][..])
        );
        // Medium: 200 episodes: α_tg = round(16.39) = 16.
        let mut cfg = LearningConfig::default();
        Budget::Medium.apply(&mut cfg, &mut opts, 300);
        assert_eq!((cfg.aggregation_period, cfg.target_update_every, cfg.batch_size), (16, 150, 128));
    }

    #[test]
    fn alpha_and_sigma_scale_with_the_run_length() {
        let p = Budget::Paper.spec();
        assert_eq!(p.scaled_alpha(500), 500);
        assert_eq!(p.scaled_alpha(50), 50);
        assert!((p.smoothing_sigma() - 100.0).abs() < 1e-9);
        let s = Budget::Small.spec();
        // 12 episodes: 50 → 0.1 → 1 (at least one), 900 → 1.77 → 2.
        assert_eq!(s.scaled_alpha(50), 1);
        assert_eq!(s.scaled_alpha(900), 2);
        assert_eq!(s.smoothing_sigma(), 1.0);
    }

    #[test]
    fn names_parse_back_and_a_typo_gets_a_suggestion() {
        for b in Budget::ALL {
            assert_eq!(b.name().parse::<Budget>(), Ok(b));
            assert!(!b.spec().purpose.is_empty());
        }
        assert_eq!(Budget::names(), "smoke, small, quick, medium, standard, paper");
        let e = "quik".parse::<Budget>().unwrap_err().to_string();
        assert!(e.contains("unknown budget `quik`") && e.contains("quick") && e.contains("smoke, small"), "{e}");
    }
}
