//! How the engines run a learner: the [`Policy`] of an [`RsuLearner`], and its working form
//! for an episode ([`Policy::into_working`]): the learner itself with the gemm backend; with the
//! dfdx backend the same learner with its networks resident on a dfdx device
//! ([`ResidentLearner`]).
//!
//! The [`RsuLearner`] stays the `Send` source of truth between episodes (checkpoints, FedAvg
//! in-process, evaluation, the trainer); for the episode its networks, targets and Adam states
//! live on the RSU's device as [`ResidentMlp`]s, built once when the episode starts and copied
//! back when it ends ([`Working::into_policy`]; the learner's code is the same, generic over
//! [`Net`]). In between, flat parameters leave the device
//! only when they are asked for: the actor a centralised learner shares after each slot, the
//! actor a VEC POOL round averages. A pool round's average is written onto the device in
//! place. The working form holds a dfdx device handle and gradient tapes, which are not `Send`:
//! it stays on the thread that made it (the actor engine pins each RSU's actor to one thread).

use crate::device::Device as RunDevice;
use crate::dfdx_backend::ResidentMlp;
use crate::net::Backend;
use crate::net::{FlatNet, Net};
use crate::rsu::{RsuLearner, SlotShare};
use std::sync::Arc;
use vecsim_core::ids::RsuId;
use vecsim_core::policy::{Feedback, Observation, Policy, Share, Working};

/// An [`RsuLearner`] with its networks resident on dfdx device `D`.
pub(crate) type ResidentLearner<D> = RsuLearner<ResidentMlp<D>>;

impl RsuLearner {
    /// This learner with its networks built on `dev` (once: parameters, targets and Adam
    /// moments; [`RsuLearner::into_flat`] copies them back).
    pub fn resident_on<D: dfdx::tensor_ops::Device<f32>>(self, dev: &D) -> ResidentLearner<D> {
        self.map_nets(|n| ResidentMlp::new(&n.shape, &n.params, &n.target, &n.opt, dev))
    }
}

impl<D: dfdx::tensor_ops::Device<f32>> ResidentLearner<D> {
    /// The learner with everything the networks learnt copied back into flat vectors.
    pub fn into_flat(self) -> RsuLearner {
        self.map_nets(|mut n| FlatNet::new(n.shape().clone(), n.params(), n.target_params(), n.adam()))
    }

    /// Full parameter sets copied onto the device for the learner's own networks (each of
    /// actor, `φ`, `ρ`: 2 when built, 1 per FedAvg import); never per pass.
    pub fn uploads(&self) -> u64 {
        let n = &self.agent.nets;
        n.actor.uploads() + n.critic.phi.uploads() + n.critic.rho.uploads()
    }
}

impl<D: dfdx::tensor_ops::Device<f32>> Working for ResidentLearner<D> {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        self.decide_slot(obs)
    }

    fn feedback(&mut self, fb: &Feedback) {
        self.feedback_slot(fb)
    }

    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        self.export_actor()
    }

    fn import_params(&mut self, params: &[f32]) {
        self.import_actor(params)
    }

    fn shares(&self) -> bool {
        self.kind.central() && self.training
    }

    fn share(&mut self) -> Option<Share> {
        self.share_slot().map(|s| Arc::new(s) as Share)
    }

    fn receive(&mut self, shares: &[Option<Share>]) {
        let own = downcast_shares(shares);
        self.receive_slot(&own)
    }

    fn into_policy(self: Box<Self>) -> Box<dyn Policy> {
        Box::new(self.into_flat())
    }
}

impl Policy for RsuLearner {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        debug_assert_eq!(obs.rsu.index(), self.rsu);
        self.decide_slot(obs)
    }

    fn feedback(&mut self, fb: &Feedback) {
        self.feedback_slot(fb)
    }

    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        self.export_actor()
    }

    fn import_params(&mut self, params: &[f32]) {
        self.import_actor(params)
    }

    fn shares(&self) -> bool {
        self.kind.central() && self.training
    }

    fn decides_in_turn(&self) -> bool {
        self.cfg.rsus_in_turn
    }

    fn turn_rounds(&self) -> u32 {
        self.cfg.rounds()
    }

    fn share(&mut self) -> Option<Share> {
        self.share_slot().map(|s| Arc::new(s) as Share)
    }

    fn receive(&mut self, shares: &[Option<Share>]) {
        let own = downcast_shares(shares);
        self.receive_slot(&own)
    }

    /// With the dfdx backend: the networks resident on the learner's device for the episode
    /// ([`ResidentLearner`]); with the gemm layers, the learner itself.
    fn into_working(self: Box<Self>) -> Box<dyn Working> {
        match self.opts.backend {
            Backend::Gemm => Box::new(self as Box<dyn Policy>),
            Backend::Dfdx => working(*self),
        }
    }
}

/// The learners' own shares among `shares` (a share of another type counts as none).
pub(crate) fn downcast_shares(shares: &[Option<Share>]) -> Vec<Option<&SlotShare>> {
    shares.iter().map(|s| s.as_ref().and_then(|s| s.downcast_ref::<SlotShare>())).collect()
}

/// `learner`'s working form on its run's device: its networks resident on this thread's dfdx
/// device handle. Panics for CUDA in a build without the `cuda` feature (the trainer and the
/// CLI check the device at start-up, [`RunDevice::check`]).
pub(crate) fn working(learner: RsuLearner) -> Box<dyn Working> {
    match learner.opts.device {
        RunDevice::Cpu => {
            let dev = crate::dfdx_backend::with_cpu(|d| d.clone());
            Box::new(learner.resident_on(&dev))
        }
        #[cfg(feature = "cuda")]
        RunDevice::Cuda(n) => {
            let dev = crate::dfdx_backend::cuda_handle(n);
            Box::new(learner.resident_on(&dev))
        }
        #[cfg(not(feature = "cuda"))]
        device @ RunDevice::Cuda(_) => panic!("{}", crate::device::DeviceError::NotBuilt(device)),
    }
}
