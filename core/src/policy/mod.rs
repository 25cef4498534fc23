//! Policies: who decides the executing RSU `a_e^t` of each uploaded task.
//!
//! A policy instance belongs to one RSU (the RSU actor owns it). Each slot it sees that RSU's
//! [`Observation`] — its own uploaded tasks and a public view of every candidate RSU — and
//! returns one executing RSU per task. After the slot it receives [`Feedback`] (learners train
//! on it). The best-response oracle `br-ne` additionally needs the whole slot; it is a
//! [`JointRefiner`] run once per slot over everyone's proposals.

mod brne;
pub mod intent;
mod name;
mod orl;
mod orm;
mod random;

pub use brne::BestResponse;
pub use name::{PolicyName, UnknownPolicy};
pub use orl::Orl;
pub use orm::{Orm, OrmInTurn};
pub use random::RandomPolicy;

use crate::ids::RsuId;
use crate::slot::SlotProblem;
use crate::task::UploadedTask;
use serde::{Deserialize, Serialize};

/// What an RSU knows publicly about one candidate executing RSU (itself included) at decision
/// time. No private state of other RSUs is in here: Fed-MADDPG's privacy claim rests on it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The candidate executing RSU.
    pub rsu: RsuId,
    /// Wired distance from the deciding RSU, metres (0 for itself).
    pub distance_m: f64,
    /// CPU frequency free for new work this slot, cycles/s (`c_e` minus carried-over work).
    pub free_cpu_hz: f64,
    /// Load uploaded to this RSU this slot: `Σ sqrt(d_k c_k)` over its uploads, sqrt(cycles).
    /// This is what the KKT allocator's denominator would be if every RSU ran its uploads locally.
    pub uploaded_load: f64,
    /// Number of tasks uploaded to this RSU this slot.
    pub uploaded_tasks: u32,
    /// False while the RSU is down (fault injection); policies must not pick it.
    pub available: bool,
    /// What the RSUs that decided before this one declared about this candidate (zero unless
    /// the RSUs decide in turn; [`intent`]).
    pub declared: intent::Declared,
}

/// One RSU's view of a slot.
#[derive(Clone, Debug)]
pub struct Observation<'a> {
    /// The deciding (uploading) RSU.
    pub rsu: RsuId,
    /// Current slot `t`.
    pub slot: u32,
    /// Slot length, seconds.
    pub slot_s: f64,
    /// The tasks uploaded to this RSU, sorted by task id.
    pub tasks: &'a [UploadedTask],
    /// Every RSU of the scenario, by id (index = RSU id).
    pub candidates: &'a [Candidate],
    /// Wired link parameters, to predict migration delays.
    pub wired: crate::wired::WiredLink,
    /// The allocator executing RSUs will use.
    pub allocator: crate::allocation::AllocatorKind,
}

/// What one RSU learns after the slot closed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Feedback {
    /// The RSU this feedback is for.
    pub rsu: RsuId,
    /// The slot `t` that just closed.
    pub slot: u32,
    /// `r_e^t = F^t − F^t_{−e}` (eq. 19).
    pub reward: f64,
    /// System reward `F^t` (eq. 18).
    pub potential: f64,
    /// Difference reward `F^t − F'^t_{−e}`: the slot re-evaluated without the tasks uploaded at
    /// `e` (see [`crate::slot::difference_rewards`]).
    pub difference: f64,
    /// `ψ_e^t`, `None` when the RSU had no uploads.
    pub completion_rate: Option<f64>,
    /// Whether this is the last slot of the episode.
    pub done: bool,
}

/// What one RSU's policy hands the others after a slot, for centralised training (maddpg,
/// masac): opaque to the engines, which only carry it. In one process it is shared, not copied:
/// every RSU receives the same `Arc`s.
pub type Share = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// Lets the owner of a boxed [`Policy`] take the concrete policy back from an engine (a trainer
/// gets its learners back after an episode). Implemented for every `Policy`; nothing to write.
pub trait IntoAny {
    /// The policy as `Any`, for `Box::downcast`.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;

    /// The policy as a `Box<dyn Policy>` (what [`Policy::into_working`]'s default needs: a
    /// default method cannot coerce `Box<Self>` itself, `Self` may be unsized there).
    fn into_boxed_policy(self: Box<Self>) -> Box<dyn Policy>;
}

impl<P: Policy + 'static> IntoAny for P {
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }

    fn into_boxed_policy(self: Box<Self>) -> Box<dyn Policy> {
        self
    }
}

/// A scheduling policy for one RSU.
///
/// The slot's calls, in order: `decide` (only when the RSU has uploads), `feedback`; then, in a
/// run where some policy [`Policy::shares`], `share` on every RSU and `receive` on every RSU
/// with all shares by RSU id. A policy owns whatever it learns from: engines call these methods
/// from the RSU's own actor, so RSUs train in parallel.
pub trait Policy: Send + IntoAny {
    /// The name used on the command line.
    fn name(&self) -> &'static str;

    /// Executing RSU for each task in `obs.tasks`, in the same order.
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId>;

    /// Called once per slot after outcomes are known. Default: nothing to learn.
    fn feedback(&mut self, _fb: &Feedback) {}

    /// Federated learning at the VEC POOL (eq. 26): this RSU's policy-network parameters, flat,
    /// with its sample count (the weight of the weighted FedAvg option). `None` for policies
    /// that do not federate (everything but `fed-maddpg`).
    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        None
    }

    /// Federated learning at the VEC POOL (eq. 28): replaces the policy-network parameters with
    /// the pool's average. Ignored by policies that do not federate.
    fn import_params(&mut self, _params: &[f32]) {}

    /// Whether this policy takes part in the exchange after every slot ([`Policy::share`],
    /// [`Policy::receive`]): centralised learners while they train. Asked once per episode,
    /// before its first slot. Default: no.
    fn shares(&self) -> bool {
        false
    }

    /// Whether the RSUs decide in turn, each seeing what the RSUs before it declared
    /// ([`intent`]): engines then ask the RSUs one after another, in id order. Asked once per
    /// episode, before its first slot. Default: no.
    fn decides_in_turn(&self) -> bool {
        false
    }

    /// Rounds of turns when deciding in turn ([`intent::rounds`]): from the second round on,
    /// every RSU decides again, in id order, seeing the latest declaration of every other RSU
    /// (those after it from the round before); the last round's decisions are carried out.
    /// Asked once per episode, with [`Policy::decides_in_turn`]. Default: 1.
    fn turn_rounds(&self) -> u32 {
        1
    }

    /// Centralised training: this RSU's part of the slot's joint record (its observation,
    /// actions, reward, and what the others' critics need of its policy), taken after
    /// `feedback`. Default: nothing.
    fn share(&mut self) -> Option<Share> {
        None
    }

    /// Centralised training: every RSU's share of the slot, index = RSU id (`None` where an RSU
    /// shared nothing). Learners train here, each in its own RSU's actor. Default: nothing.
    fn receive(&mut self, _shares: &[Option<Share>]) {}

    /// The form this policy works in for one episode: engines call it before the episode's
    /// first slot, on the one thread that then makes every call of the episode (the actor
    /// engine pins each RSU's actor to a thread for that reason), and turn it back with
    /// [`Working::into_policy`] after the episode's last call. A working form need not be
    /// `Send`: a learner keeps its networks resident on its device there (dfdx tensors, a
    /// device handle, gradient tapes), where this `Send` form holds them as flat vectors.
    /// Default: the policy is its own working form.
    fn into_working(self: Box<Self>) -> Box<dyn Working> {
        Box::new(self.into_boxed_policy())
    }
}

/// A policy in its working form for one episode ([`Policy::into_working`]): the slot's calls of
/// [`Policy`], on one thread, with no `Send` bound. Engines make every call of an episode on
/// the working form and give the policy back with [`Working::into_policy`].
pub trait Working {
    /// [`Policy::name`].
    fn name(&self) -> &'static str;
    /// [`Policy::decide`].
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId>;
    /// [`Policy::feedback`].
    fn feedback(&mut self, fb: &Feedback);
    /// [`Policy::export_params`] (a resident form reads its parameters off its device).
    fn export_params(&self) -> Option<(u64, Vec<f32>)>;
    /// [`Policy::import_params`] (a resident form writes them onto its device).
    fn import_params(&mut self, params: &[f32]);
    /// [`Policy::shares`].
    fn shares(&self) -> bool;
    /// [`Policy::share`].
    fn share(&mut self) -> Option<Share>;
    /// [`Policy::receive`].
    fn receive(&mut self, shares: &[Option<Share>]);
    /// The `Send` policy again, with everything learnt during the episode (a resident form
    /// copies its device state back into flat vectors here).
    fn into_policy(self: Box<Self>) -> Box<dyn Policy>;
}

/// A policy that is its own working form (the default of [`Policy::into_working`]).
impl Working for Box<dyn Policy> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        (**self).decide(obs)
    }
    fn feedback(&mut self, fb: &Feedback) {
        (**self).feedback(fb)
    }
    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        (**self).export_params()
    }
    fn import_params(&mut self, params: &[f32]) {
        (**self).import_params(params)
    }
    fn shares(&self) -> bool {
        (**self).shares()
    }
    fn share(&mut self) -> Option<Share> {
        (**self).share()
    }
    fn receive(&mut self, shares: &[Option<Share>]) {
        (**self).receive(shares)
    }
    fn into_policy(self: Box<Self>) -> Box<dyn Policy> {
        *self
    }
}

/// Joint post-processing of all RSUs' decisions in a slot (only the `br-ne` oracle needs it).
pub trait JointRefiner: Send + Sync {
    /// Rewrites `decisions[e][i]`, the executing RSU of the i-th task uploaded to RSU e.
    /// Returns whether the refinement converged (reached its fixed point rather than an
    /// iteration limit); an unconverged slot is counted in the run summary.
    fn refine(&self, problem: &SlotProblem<'_>, decisions: &mut [Vec<RsuId>]) -> bool;
}

/// One policy per RSU (index = RSU id), and the joint refiner of `br-ne` if any: what an
/// engine runs.
pub struct PolicySet {
    /// `per_rsu[e]` decides for RSU e.
    pub per_rsu: Vec<Box<dyn Policy>>,
    /// Joint post-processing of every RSU's decisions (`br-ne` only).
    pub refiner: Option<Box<dyn JointRefiner>>,
}

impl PolicySet {
    /// A set without a joint refiner.
    pub fn new(per_rsu: Vec<Box<dyn Policy>>) -> PolicySet {
        PolicySet { per_rsu, refiner: None }
    }

    /// One instance of baseline `b` per RSU (each with its own seeded stream), plus `br-ne`'s
    /// refiner.
    pub fn baseline(b: Baseline, rsus: usize, seed: u64) -> PolicySet {
        PolicySet { per_rsu: (0..rsus as u32).map(|e| b.build(RsuId(e), seed)).collect(), refiner: b.refiner() }
    }
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.per_rsu.iter().map(|p| p.name()).collect();
        f.debug_struct("PolicySet").field("per_rsu", &names).field("refiner", &self.refiner.is_some()).finish()
    }
}

/// The baseline policies built into the core. Learners live in `vecsim-learn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    /// `orl`: every task runs at its uploading RSU.
    Orl,
    /// `orm`: greedy migration to the lowest predicted service time.
    Orm,
    /// `random`: uniformly random available executing RSU.
    Random,
    /// `br-ne`: best-response dynamics to a pure Nash equilibrium (oracle).
    BrNe,
    /// `orm-in-turn` (beyond the paper): ORM with the RSUs deciding in turn.
    OrmInTurn,
}

impl Baseline {
    /// Every baseline, in report order.
    pub const ALL: [Baseline; 5] =
        [Baseline::Orl, Baseline::Orm, Baseline::Random, Baseline::BrNe, Baseline::OrmInTurn];

    /// The baseline named `name` on the command line (`orl`, `orm`, `random`, `br-ne`,
    /// `orm-in-turn`), if any.
    pub fn parse(name: &str) -> Option<Baseline> {
        match name {
            "orl" => Some(Baseline::Orl),
            "orm" => Some(Baseline::Orm),
            "random" => Some(Baseline::Random),
            "br-ne" => Some(Baseline::BrNe),
            "orm-in-turn" => Some(Baseline::OrmInTurn),
            _ => None,
        }
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Orl => "orl",
            Baseline::Orm => "orm",
            Baseline::Random => "random",
            Baseline::BrNe => "br-ne",
            Baseline::OrmInTurn => "orm-in-turn",
        }
    }

    /// The per-RSU policy for `rsu`. `br-ne` proposes ORM decisions that its refiner improves.
    pub fn build(self, rsu: RsuId, seed: u64) -> Box<dyn Policy> {
        match self {
            Baseline::Orl => Box::new(Orl),
            Baseline::Orm => Box::new(Orm),
            Baseline::Random => Box::new(RandomPolicy::new(seed, rsu)),
            Baseline::BrNe => Box::new(Orm),
            Baseline::OrmInTurn => Box::new(OrmInTurn),
        }
    }

    /// The joint refiner, if the policy has one.
    pub fn refiner(self) -> Option<Box<dyn JointRefiner>> {
        match self {
            Baseline::BrNe => Some(Box::new(BestResponse::default())),
            _ => None,
        }
    }
}
