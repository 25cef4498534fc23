//! The [`LearnerSet`]: one [`RsuLearner`] per RSU of a scenario, each owned by its RSU while an
//! episode runs (see [`crate::rsu`] for what an RSU's learner holds and how centralised learners
//! exchange the joint record by message), and the builders of a set.

use crate::learner::{Kind, LearnerOptions};
use crate::rsu::{LossMeter, RsuLearner};
use crate::{Device, LearnError};
use serde::{Deserialize, Serialize};
use vecsim_core::learning::LearningConfig;
use vecsim_core::policy::Policy;
use vecsim_core::Scenario;

/// The learners of one scenario, one per RSU, owned here between episodes and by the RSUs
/// (their actors) during an episode: [`LearnerSet::into_policies`] hands them to an engine and
/// [`LearnerSet::from_policies`] takes them back from its output. Serialised whole into
/// checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LearnerSet {
    kind: Kind,
    learners: Vec<RsuLearner>,
}

impl LearnerSet {
    /// Fresh learners for every RSU of `scenario`: initial networks and random streams from
    /// `seed`, empty buffers.
    pub fn new(kind: Kind, scenario: &Scenario, seed: u64, opts: LearnerOptions) -> LearnerSet {
        let learners =
            (0..scenario.rsu_count()).map(|e| RsuLearner::new(kind, scenario, e, seed, opts.clone())).collect();
        LearnerSet { kind, learners }
    }

    /// Checks a loaded set against the scenario it is loaded for: one learner per RSU, in
    /// order, of one kind; every network, target, optimiser state and replay record of the
    /// size its options and the scenario give. The error names the field, e.g.
    /// `learners[2].agent.critic: 1200 parameters, the critic of its shape has 1569`. Without
    /// this, a checkpoint whose checksum was recomputed after an edit would panic later on a
    /// slice out of range.
    pub fn validate(&self, scenario: &Scenario) -> Result<(), String> {
        let rsus = scenario.rsu_count();
        if self.learners.len() != rsus {
            return Err(format!("learners: {} learners, the scenario has {rsus} RSUs", self.learners.len()));
        }
        for (e, l) in self.learners.iter().enumerate() {
            let f = |field: &str, m: String| format!("learners[{e}].{field}: {m}");
            if l.kind != self.kind {
                return Err(f("kind", format!("{} in a {} set", l.kind.name(), self.kind.name())));
            }
            if l.rsu != e || l.rsus != rsus {
                return Err(f("rsu", format!("RSU {} of {}, expected {e} of {rsus}", l.rsu, l.rsus)));
            }
            l.cfg.validate().map_err(|err| f("cfg", err.to_string()))?;
            // The scales divide every feature (the RSU layout, hence the scales, may follow the
            // seed: not compared with the scenario's).
            let s = &l.scales;
            if ![s.data_bits, s.cycles_per_bit, s.deadline_s, s.range_m, s.wired_m, s.cpu_hz, s.sqrt_work]
                .iter()
                .all(|v| v.is_finite() && *v > 0.0)
            {
                return Err(f("scales", "a feature scale that is not a finite number > 0".into()));
            }
            let (actor_n, critic_n) = l.opts.shape.param_counts(self.kind.central()).map_err(|m| f("opts.shape", m))?;
            let a = &l.agent;
            let (actor, phi, rho) = (&a.nets.actor, &a.nets.critic.phi, &a.nets.critic.rho);
            for (name, len, n) in [
                ("agent.actor", actor.params.len(), actor_n),
                ("agent.actor_target", actor.target.len(), actor_n),
                ("agent.critic", phi.params.len() + rho.params.len(), critic_n),
                ("agent.critic_target", phi.target.len() + rho.target.len(), critic_n),
            ] {
                if len != n {
                    return Err(f(name, format!("{len} parameters, its network's shape has {n}")));
                }
            }
            if !actor.fits() {
                return Err(f("agent.actor_opt", format!("moments not of {actor_n} parameters")));
            }
            // The parameters fit (above), so a misfit here is in the moments.
            if !phi.fits() || !rho.fits() {
                return Err(f("agent.critic_opt", format!("moments not of {critic_n} parameters")));
            }
            if !a.alpha_opt.fits(1) {
                return Err(f("agent.alpha_opt", "moments not of 1 parameter".into()));
            }
            let o = &l.opts;
            if o.updates_per_slot > LearnerOptions::MAX_UPDATES_PER_SLOT {
                return Err(f(
                    "opts.updates_per_slot",
                    format!("{} (at most {})", o.updates_per_slot, LearnerOptions::MAX_UPDATES_PER_SLOT),
                ));
            }
            for (name, v) in [("opts.gumbel_tau", o.gumbel_tau), ("opts.sac_init_alpha", o.sac_init_alpha)] {
                if !(v.is_finite() && v > 0.0) {
                    return Err(f(name, format!("{v}: expected a finite number > 0")));
                }
            }
            if !o.sac_target_entropy.is_finite() {
                return Err(f("opts.sac_target_entropy", "not a finite number".into()));
            }
            let covered = if self.kind.central() { rsus } else { 1 };
            l.replay.validate(covered).map_err(|m| format!("learners[{e}].{m}"))?;
        }
        Ok(())
    }

    /// Which learner this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Number of RSUs (one learner each).
    pub fn rsus(&self) -> usize {
        self.learners.len()
    }

    /// The learners, index = RSU id.
    pub fn learners(&self) -> &[RsuLearner] {
        &self.learners
    }

    /// The learners, index = RSU id, to change (tests, federated rounds, checkpoints).
    pub fn learners_mut(&mut self) -> &mut [RsuLearner] {
        &mut self.learners
    }

    /// Hands every RSU its learner, as the policy an engine runs (index = RSU id).
    pub fn into_policies(self) -> Vec<Box<dyn Policy>> {
        self.learners.into_iter().map(|l| Box::new(l) as Box<dyn Policy>).collect()
    }

    /// Takes the learners back from an engine's output (`EpisodeOutput::policies`).
    pub fn from_policies(policies: Vec<Box<dyn Policy>>) -> Result<LearnerSet, LearnError> {
        let learners = policies
            .into_iter()
            .enumerate()
            .map(|(e, p)| {
                let name = p.name();
                p.into_any().downcast::<RsuLearner>().map(|l| *l).map_err(|_| LearnError::NotALearner { rsu: e, name })
            })
            .collect::<Result<Vec<RsuLearner>, LearnError>>()?;
        let kind = learners.first().map_or(Kind::FedMaddpg, |l| l.kind);
        if learners.iter().enumerate().any(|(e, l)| l.kind != kind || l.rsu != e) {
            return Err(LearnError::Options("the policies are not one learner set in RSU order".into()));
        }
        Ok(LearnerSet { kind, learners })
    }

    /// Lends every RSU its learner for one episode (as [`LearnerSet::into_policies`]); the set
    /// is empty until [`LearnerSet::take_back`] gets them back.
    pub fn lend(&mut self) -> Vec<Box<dyn Policy>> {
        LearnerSet { kind: self.kind, learners: std::mem::take(&mut self.learners) }.into_policies()
    }

    /// Takes back the learners lent with [`LearnerSet::lend`] (an engine's output policies).
    pub fn take_back(&mut self, policies: Vec<Box<dyn Policy>>) -> Result<(), LearnError> {
        *self = LearnerSet::from_policies(policies)?;
        Ok(())
    }

    /// Runs the networks on `device` from now on ([`LearnerOptions::set_device`]; a checkpoint
    /// does not remember it).
    pub fn set_device(&mut self, device: Device) {
        self.learners.iter_mut().for_each(|l| l.opts.set_device(device));
    }

    /// Up to `threads` threads for each RSU's large matrix products from now on
    /// ([`LearnerOptions::threads`]; a checkpoint does not remember it).
    pub fn set_threads(&mut self, threads: usize) {
        self.learners.iter_mut().for_each(|l| l.set_threads(threads));
    }

    /// Training (exploration, replay, updates) or evaluation (greedy, nothing stored).
    pub fn set_training(&mut self, on: bool) {
        self.learners.iter_mut().for_each(|l| l.training = on);
    }

    /// Whether the learners train (as opposed to acting greedily).
    pub fn training(&self) -> bool {
        self.learners.first().is_some_and(|l| l.training)
    }

    /// Table III hyper-parameters of the learners.
    pub fn config(&self) -> Option<&LearningConfig> {
        self.learners.first().map(|l| &l.cfg)
    }

    /// Learner settings outside Table III.
    pub fn options(&self) -> Option<&LearnerOptions> {
        self.learners.first().map(|l| &l.opts)
    }

    /// Episodes trained on (every RSU's learner counts the same).
    pub fn episodes(&self) -> u64 {
        self.learners.first().map_or(0, |l| l.episodes)
    }

    /// Federated rounds held.
    pub fn fed_rounds(&self) -> u64 {
        self.learners.first().map_or(0, |l| l.fed_rounds)
    }

    /// Counts one more federated round (the trainer, after a round somebody took part in).
    pub fn count_fed_round(&mut self) {
        self.learners.iter_mut().for_each(|l| l.fed_rounds += 1);
    }

    /// Gradient updates done, all RSUs together.
    pub fn update_steps(&self) -> u64 {
        self.learners.iter().map(|l| l.agent.updates).sum()
    }

    /// Mean losses of every RSU's updates since the last call, and resets them.
    pub fn take_losses(&mut self) -> LossMeter {
        let mut m = LossMeter::default();
        for l in &mut self.learners {
            let s = l.take_losses();
            m.critic += s.critic;
            m.actor += s.actor;
            m.count += s.count;
        }
        if m.count > 0 {
            m.critic /= m.count as f64;
            m.actor /= m.count as f64;
        }
        m
    }

    /// One federated round (eq. 26–28) among the RSUs with `participants[e]`, done here rather
    /// than by the VEC POOL actor (tests compare the two): FedAvg of their actor parameters
    /// (weighted by decisions if configured), written back to them. Returns false when nobody
    /// took part (the round is skipped, nothing changes).
    pub fn federated_round(&mut self, participants: &[bool]) -> Result<bool, LearnError> {
        let takes_part = |e: usize| participants.get(e).copied().unwrap_or(false);
        let ups: Vec<(f64, &[f32])> = self
            .learners
            .iter()
            .filter(|l| takes_part(l.rsu))
            .map(|l| (if l.opts.weighted_fedavg { l.agent.samples as f64 } else { 1.0 }, l.agent.actor()))
            .collect();
        let Some(avg) = vecsim_core::fedavg::average(&ups)? else { return Ok(false) };
        for l in self.learners.iter_mut().filter(|l| takes_part(l.rsu)) {
            l.adopt_average(&avg);
        }
        self.count_fed_round();
        Ok(true)
    }
}

/// Builds the learner `name` (`fed-maddpg`, `maddpg`, `masac`) for a scenario with `rsus` RSUs,
/// default [`LearnerOptions`], Table III hyper-parameters from `scenario.learning`.
pub fn build_learner(name: &str, scenario: &Scenario, rsus: usize, seed: u64) -> Result<LearnerSet, LearnError> {
    build_learner_with(name, scenario, rsus, seed, LearnerOptions::default())
}

/// [`build_learner`] with explicit [`LearnerOptions`]; rejects empty hidden layer lists.
pub fn build_learner_with(
    name: &str,
    scenario: &Scenario,
    rsus: usize,
    seed: u64,
    opts: LearnerOptions,
) -> Result<LearnerSet, LearnError> {
    let kind = Kind::parse(name).ok_or_else(|| LearnError::UnknownPolicy(name.to_string()))?;
    if rsus != scenario.rsu_count() {
        return Err(LearnError::RsuCount { scenario: scenario.rsu_count(), asked: rsus });
    }
    if opts.shape.critic_embed.is_empty() || opts.shape.actor_hidden.is_empty() {
        return Err(LearnError::Options("hidden layer lists must not be empty".into()));
    }
    Ok(LearnerSet::new(kind, scenario, seed, opts))
}
