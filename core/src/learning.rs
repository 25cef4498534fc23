//! The `[learning]` section of a scenario: hyper-parameters of the learners (Table III).

use crate::error::ScenarioError;
use serde::{Deserialize, Serialize};

/// Learner hyper-parameters. Defaults are the paper's Table III, except the three choices
/// beyond the paper that measured better (`tasks_in_turn`, `fed_mix`, `rsus_in_turn`;
/// `docs/learning.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearningConfig {
    /// Replay buffer capacity, transitions.
    pub replay_capacity: usize,
    /// Minibatch size `M`.
    pub batch_size: usize,
    /// Discount `γ`.
    pub gamma: f64,
    /// Exploration probability `ε` at the start of training (Table III: 0.5).
    pub epsilon: f64,
    /// Exploration probability at the end of the decay (extension; Table III keeps `ε` fixed).
    pub epsilon_final: f64,
    /// Fraction of `max_iterations` over which `ε` falls linearly from `epsilon` to
    /// `epsilon_final` (0: `ε` stays `epsilon`).
    pub epsilon_decay: f64,
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
    /// Slots between update rounds (Algorithm 1: 1, one update per slot).
    pub update_every: u32,
    /// Beyond the paper (default on; off gives the paper's form): an RSU's actor decides its tasks in turn, in upload
    /// order, each seeing the load the RSU has already sent to every candidate in this slot
    /// (orm's within-slot accumulation), instead of scoring every (task, candidate) pair
    /// independently from the same slot summary. See `docs/learning.md`.
    pub tasks_in_turn: bool,
    /// Beyond the paper: how much of the VEC POOL's average a Fed-MADDPG RSU takes in a
    /// federated round, `β` in `θ_e ← (1 − β)·θ_e + β·θ̄` (1: eq. 28, the average replaces the
    /// actor). Below 1 each RSU keeps part of what it learnt for its own CPU and traffic; see
    /// `docs/learning.md` (six RSUs of 1–10 GHz: with 1 the average taught two of three seeds
    /// to migrate nothing). RL rounds only: cloning's per-epoch average (`--pretrain`) still
    /// replaces each actor, so every RSU starts RL from the same clone.
    pub fed_mix: f64,
    /// Beyond the paper (default on; off gives the paper's form): the RSUs decide in turn, in id order, each declaring
    /// what it sends where to the RSUs after it (actor messages through the clock,
    /// `vecsim_core::policy::intent`); an RSU's actor sees each candidate's load with the
    /// declarations before it carried out. See `docs/learning.md`.
    pub rsus_in_turn: bool,
    /// Beyond the paper: with `rsus_in_turn`, the rounds of turns per slot, 1 to 8. From the
    /// second round on every RSU decides again seeing every other RSU's latest declaration, so
    /// an RSU early in the order learns what the RSUs after it plan; the last round is carried
    /// out ([`crate::policy::intent::rounds`]). Unset: 1, or 2 when `vecsim train --pretrain`
    /// clones the oracle (the trainer resolves it, and `run.toml` records the number; see
    /// [`LearningConfig::rounds`] and `docs/learning.md`).
    pub turn_rounds: Option<u32>,
    /// Beyond the paper: a fixed bonus, in logits, that every actor adds to the score of
    /// keeping a task at its uploading RSU, so an untrained actor decides as `orl` does and RL
    /// learns where moving a task beats keeping it (a residual on `orl`). Without it the
    /// untrained actor's greedy pick is one arbitrary candidate for every task of every RSU,
    /// and under overload that herding completes nothing from the first episode. 0 gives the
    /// paper's actor. Unset: [`LearningConfig::DEFAULT_LOCAL_PRIOR`], except that `vecsim train
    /// --pretrain` resolves it to 0 (a clone starts from the oracle's decisions already);
    /// `run.toml` records the value. See [`LearningConfig::prior`] and `docs/learning.md`.
    pub local_prior: Option<f64>,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            replay_capacity: 1_000_000,
            batch_size: 256,
            gamma: 0.99,
            epsilon: 0.5,
            epsilon_final: 0.05,
            epsilon_decay: 0.5,
            critic_lr: 1e-4,
            actor_lr: 1e-5,
            target_update_every: 150,
            tau: 0.01,
            aggregation_period: 500,
            max_iterations: 6100,
            n_step: 1,
            update_every: 1,
            tasks_in_turn: true,
            fed_mix: 0.25,
            rsus_in_turn: true,
            turn_rounds: None,
            local_prior: None,
        }
    }
}

/// The keys of `[learning]`, as `--learn KEY=VALUE` accepts them.
pub const LEARNING_KEYS: [&str; 19] = [
    "replay_capacity",
    "batch_size",
    "gamma",
    "epsilon",
    "epsilon_final",
    "epsilon_decay",
    "critic_lr",
    "actor_lr",
    "target_update_every",
    "tau",
    "aggregation_period",
    "max_iterations",
    "n_step",
    "update_every",
    "tasks_in_turn",
    "fed_mix",
    "rsus_in_turn",
    "turn_rounds",
    "local_prior",
];

impl LearningConfig {
    /// Slots per iteration of the paper's training (300 slots of 0.1 s: Table III's episodes).
    pub const PAPER_SLOTS: u32 = 300;

    /// `ε` after `episodes` completed training episodes: linear from `epsilon` to
    /// `epsilon_final` over `epsilon_decay · max_iterations` episodes, then constant.
    pub fn epsilon_at(&self, episodes: u64) -> f64 {
        let span = self.epsilon_decay * self.max_iterations as f64;
        if span <= 0.0 {
            return self.epsilon;
        }
        let f = (episodes as f64 / span).min(1.0);
        self.epsilon + (self.epsilon_final - self.epsilon) * f
    }

    /// Rounds of turns per slot: `turn_rounds`, 1 when unset.
    pub fn rounds(&self) -> u32 {
        self.turn_rounds.unwrap_or(1)
    }

    /// The bonus, in logits, an actor adds to keeping a task: `local_prior`, or
    /// [`LearningConfig::DEFAULT_LOCAL_PRIOR`] when unset.
    pub fn prior(&self) -> f64 {
        self.local_prior.unwrap_or(Self::DEFAULT_LOCAL_PRIOR)
    }

    /// Sets one key from its command-line text (`--learn KEY=VALUE`), then validates the whole
    /// section. Errors name the key; on an error `self` is unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ScenarioError> {
        let mut next = self.clone();
        next.set_unchecked(key, value)?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    fn set_unchecked(&mut self, key: &str, value: &str) -> Result<(), ScenarioError> {
        let name = format!("learning.{key}");
        let int = |v: &str| -> Result<u64, ScenarioError> {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ScenarioError::invalid(&name, format!("expected a whole number, got `{v}`")))
        };
        let real = |v: &str| -> Result<f64, ScenarioError> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| ScenarioError::invalid(&name, format!("expected a number, got `{v}`")))
        };
        let flag = |v: &str| -> Result<bool, ScenarioError> {
            match v.trim() {
                "true" | "1" | "on" => Ok(true),
                "false" | "0" | "off" => Ok(false),
                _ => Err(ScenarioError::invalid(&name, format!("expected true or false, got `{v}`"))),
            }
        };
        let small = |v: &str| -> Result<u32, ScenarioError> {
            u32::try_from(int(v)?).map_err(|_| ScenarioError::invalid(&name, format!("`{v}` is too large")))
        };
        match key {
            "replay_capacity" => self.replay_capacity = int(value)? as usize,
            "batch_size" => self.batch_size = int(value)? as usize,
            "gamma" => self.gamma = real(value)?,
            "epsilon" => self.epsilon = real(value)?,
            "epsilon_final" => self.epsilon_final = real(value)?,
            "epsilon_decay" => self.epsilon_decay = real(value)?,
            "critic_lr" => self.critic_lr = real(value)?,
            "actor_lr" => self.actor_lr = real(value)?,
            "target_update_every" => self.target_update_every = small(value)?,
            "tau" => self.tau = real(value)?,
            "aggregation_period" => self.aggregation_period = small(value)?,
            "max_iterations" => self.max_iterations = small(value)?,
            "n_step" => self.n_step = small(value)?,
            "update_every" => self.update_every = small(value)?,
            "tasks_in_turn" => self.tasks_in_turn = flag(value)?,
            "fed_mix" => self.fed_mix = real(value)?,
            "rsus_in_turn" => self.rsus_in_turn = flag(value)?,
            "turn_rounds" => self.turn_rounds = Some(small(value)?),
            "local_prior" => self.local_prior = Some(real(value)?),
            _ => {
                return Err(ScenarioError::invalid(
                    &name,
                    format!("unknown key (expected one of {})", LEARNING_KEYS.join(", ")),
                ))
            }
        }
        Ok(())
    }

    /// Largest minibatch accepted (Table III: 256); a batch is allocated whole for each update.
    pub const MAX_BATCH_SIZE: usize = 1 << 16;
    /// Most rounds of turns accepted (each costs every RSU one more decision per slot).
    pub const MAX_TURN_ROUNDS: u32 = 8;
    /// Largest `local_prior` accepted, logits: at 20 a move needs a score e^20 times the
    /// keep's, more than any training run here reaches.
    pub const MAX_LOCAL_PRIOR: f64 = 20.0;
    /// `local_prior` when the key is unset and the run does not clone the oracle: chosen on
    /// the development scenarios (`docs/learning.md`).
    pub const DEFAULT_LOCAL_PRIOR: f64 = 2.0;
    /// Longest n-step return accepted (Table III: 1).
    pub const MAX_N_STEP: u32 = 10_000;

    /// Checks every value; the error names the key (`learning.batch_size`...).
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let prob = |k: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ScenarioError::invalid(k, format!("must be in [0, 1], got {v}")))
            }
        };
        prob("learning.gamma", self.gamma)?;
        prob("learning.epsilon", self.epsilon)?;
        prob("learning.epsilon_final", self.epsilon_final)?;
        prob("learning.epsilon_decay", self.epsilon_decay)?;
        prob("learning.tau", self.tau)?;
        if !(self.fed_mix > 0.0 && self.fed_mix <= 1.0) {
            return Err(ScenarioError::invalid(
                "learning.fed_mix",
                format!("must be in (0, 1] (1: the average replaces the actor), got {}", self.fed_mix),
            ));
        }
        if self.batch_size == 0 || self.batch_size > Self::MAX_BATCH_SIZE {
            return Err(ScenarioError::invalid(
                "learning.batch_size",
                format!("must be 1 to {}, got {}", Self::MAX_BATCH_SIZE, self.batch_size),
            ));
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
        if self.n_step == 0 || self.n_step > Self::MAX_N_STEP {
            return Err(ScenarioError::invalid(
                "learning.n_step",
                format!("must be 1 to {}, got {}", Self::MAX_N_STEP, self.n_step),
            ));
        }
        if self.update_every == 0 {
            return Err(ScenarioError::invalid("learning.update_every", "must be at least 1"));
        }
        if self.target_update_every == 0 {
            return Err(ScenarioError::invalid("learning.target_update_every", "must be at least 1"));
        }
        if self.max_iterations == 0 {
            return Err(ScenarioError::invalid("learning.max_iterations", "must be at least 1"));
        }
        if let Some(r) = self.turn_rounds.filter(|r| !(1..=Self::MAX_TURN_ROUNDS).contains(r)) {
            return Err(ScenarioError::invalid(
                "learning.turn_rounds",
                format!("must be 1 to {}, got {r}", Self::MAX_TURN_ROUNDS),
            ));
        }
        if self.aggregation_period == 0 {
            return Err(ScenarioError::invalid("learning.aggregation_period", "must be at least 1"));
        }
        if let Some(b) = self.local_prior.filter(|b| !(0.0..=Self::MAX_LOCAL_PRIOR).contains(b)) {
            return Err(ScenarioError::invalid(
                "learning.local_prior",
                format!("must be 0 to {} (logits), got {b}", Self::MAX_LOCAL_PRIOR),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_decays_linearly_then_stays() {
        let c = LearningConfig {
            max_iterations: 100,
            epsilon: 0.5,
            epsilon_final: 0.1,
            epsilon_decay: 0.4,
            ..Default::default()
        };
        // Over 0.4 · 100 = 40 episodes: 0.5 → 0.1, i.e. −0.01 per episode.
        assert_eq!(c.epsilon_at(0), 0.5);
        assert!((c.epsilon_at(10) - 0.4).abs() < 1e-12);
        assert!((c.epsilon_at(40) - 0.1).abs() < 1e-12);
        assert!((c.epsilon_at(1000) - 0.1).abs() < 1e-12);
        let fixed = LearningConfig { epsilon_decay: 0.0, ..c };
        assert_eq!(fixed.epsilon_at(50), 0.5);
    }

    #[test]
    fn set_parses_validates_and_names_the_key() {
        let mut c = LearningConfig::default();
        c.set("tau", "0.2").unwrap();
        c.set("aggregation_period", "7").unwrap();
        assert_eq!((c.tau, c.aggregation_period), (0.2, 7));
        c.set("tasks_in_turn", "on").unwrap();
        assert!(c.tasks_in_turn);
        for (k, v) in [
            ("tasks_in_turn", "yes please"),
            ("rsus_in_turn", "2"),
            ("turn_rounds", "0"),
            ("turn_rounds", "9"),
            ("local_prior", "-1"),
            ("local_prior", "21"),
            ("local_prior", "NaN"),
            ("fed_mix", "0"),
            ("fed_mix", "1.5"),
            ("tau", "2"),
            ("tau", "x"),
            ("n_step", "0"),
            ("batch_size", "-1"),
            ("nope", "1"),
        ] {
            let before = c.clone();
            let e = c.set(k, v).unwrap_err().to_string();
            assert!(e.contains(&format!("learning.{k}")), "{e}");
            assert_eq!(c, before, "a rejected value changes nothing");
        }
        // Every listed key is settable.
        for k in LEARNING_KEYS {
            let mut d = LearningConfig::default();
            let v = if matches!(
                k,
                "gamma" | "epsilon" | "epsilon_final" | "epsilon_decay" | "tau" | "fed_mix" | "local_prior"
            ) {
                "0.5"
            } else if matches!(k, "tasks_in_turn" | "rsus_in_turn") {
                "true"
            } else if k == "turn_rounds" {
                "2"
            } else {
                "300"
            };
            d.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }
}
