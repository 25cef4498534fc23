//! A learner's working form with its networks resident on a dfdx device for an episode
//! ([`vecsim_core::policy::Policy::into_working`] of an [`RsuLearner`] with the dfdx backend).
//!
//! The [`RsuLearner`] stays the `Send` source of truth between episodes (checkpoints, FedAvg
//! in-process, evaluation, the trainer); for the episode its networks, targets and Adam states
//! live on the RSU's device as [`ResidentNets`], built once when the episode starts and copied
//! back when it ends ([`Working::into_policy`]). In between, flat parameters leave the device
//! only when they are asked for: the actor a centralised learner shares after each slot, the
//! actor a VEC POOL round averages. A pool round's average is written onto the device in
//! place. The working form holds a dfdx device handle and gradient tapes, which are not `Send`:
//! it stays on the thread that made it (the actor engine pins each RSU's actor to one thread).

use crate::device::Device as RunDevice;
use crate::nets::{FlatNets, Nets, ResidentNets};
use crate::rsu::{downcast_shares, RsuLearner};
use std::sync::Arc;
use vecsim_core::ids::RsuId;
use vecsim_core::policy::{Feedback, Observation, Policy, Share, Working};

/// An [`RsuLearner`] with its networks resident on dfdx device `D`.
pub struct ResidentLearner<D: dfdx::tensor_ops::Device<f32>> {
    learner: RsuLearner,
    nets: ResidentNets<D>,
}

impl<D: dfdx::tensor_ops::Device<f32>> ResidentLearner<D> {
    /// `learner`'s networks built on `dev` (its flat vectors are empty until
    /// [`ResidentLearner::into_learner`]).
    pub fn new(mut learner: RsuLearner, dev: &D) -> ResidentLearner<D> {
        let flat = learner.take_flat();
        let nets = ResidentNets::new(&flat, dev);
        // The flat vectors would go stale while the networks train on the device: only the
        // shapes and buffers go back, so that nothing reads stale parameters by mistake, until
        // the copy back.
        let (actor, critic) = (Vec::new(), Vec::new());
        let (actor_target, critic_target) = (Vec::new(), Vec::new());
        let (actor_opt, critic_opt) = (Default::default(), Default::default());
        learner.put_flat(FlatNets { actor, actor_target, critic, critic_target, actor_opt, critic_opt, ..flat });
        ResidentLearner { learner, nets }
    }

    /// The learner with everything the networks learnt copied back into its flat vectors.
    pub fn into_learner(mut self) -> RsuLearner {
        let mut flat = self.learner.take_flat();
        self.nets.sync_into(&mut flat);
        self.learner.put_flat(flat);
        self.learner
    }

    /// One gradient update on the device ([`RsuLearner::update`]).
    pub fn update(&mut self) -> bool {
        self.learner.update_on(&mut self.nets)
    }

    /// The resident networks (their upload counters).
    pub fn nets(&self) -> &ResidentNets<D> {
        &self.nets
    }
}

impl<D: dfdx::tensor_ops::Device<f32>> Working for ResidentLearner<D> {
    fn name(&self) -> &'static str {
        self.learner.kind.name()
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        self.learner.decide_on(&mut self.nets, obs)
    }

    fn feedback(&mut self, fb: &Feedback) {
        self.learner.feedback_on(&mut self.nets, fb)
    }

    fn export_params(&self) -> Option<(u64, Vec<f32>)> {
        self.learner.kind.federated().then(|| (self.learner.agent.samples, self.nets.actor_params(false)))
    }

    fn import_params(&mut self, params: &[f32]) {
        if self.learner.kind.federated() && params.len() == self.learner.actor_net().num_params() {
            self.nets.set_actor_params(params);
        }
    }

    fn shares(&self) -> bool {
        self.learner.shares()
    }

    fn share(&mut self) -> Option<Share> {
        self.learner.share_on(&mut self.nets).map(|s| Arc::new(s) as Share)
    }

    fn receive(&mut self, shares: &[Option<Share>]) {
        let own = downcast_shares(shares);
        self.learner.receive_on(&mut self.nets, &own)
    }

    fn into_policy(self: Box<Self>) -> Box<dyn Policy> {
        Box::new(self.into_learner())
    }
}

/// `learner`'s working form on its run's device: its networks resident on this thread's dfdx
/// device handle. Panics for CUDA in a build without the `cuda` feature (the trainer and the
/// CLI check the device at start-up, [`RunDevice::check`]).
pub(crate) fn working(learner: RsuLearner) -> Box<dyn Working> {
    match learner.opts.device {
        RunDevice::Cpu => {
            let dev = crate::dfdx_backend::with_cpu(|d| d.clone());
            Box::new(ResidentLearner::new(learner, &dev))
        }
        #[cfg(feature = "cuda")]
        RunDevice::Cuda(n) => {
            let dev = crate::dfdx_backend::cuda_handle(n);
            Box::new(ResidentLearner::new(learner, &dev))
        }
        #[cfg(not(feature = "cuda"))]
        device @ RunDevice::Cuda(_) => panic!("{}", crate::device::DeviceError::NotBuilt(device)),
    }
}
