//! Uniformly random executing RSU: the floor the learners must beat.

use super::{Observation, Policy};
use crate::ids::RsuId;
use crate::rng::{self, Domain, SimRng};
use rand::Rng;

/// Picks an available RSU uniformly for each task, from the RSU's own stream.
#[derive(Clone, Debug)]
pub struct RandomPolicy {
    rng: SimRng,
}

impl RandomPolicy {
    /// The policy of RSU `rsu`, drawing from its own `(seed, rsu)` policy stream.
    pub fn new(seed: u64, rsu: RsuId) -> Self {
        RandomPolicy { rng: rng::stream(seed, Domain::Policy, rsu.0 as u64) }
    }
}

impl Policy for RandomPolicy {
    fn name(&self) -> &'static str {
        "random"
    }

    fn decide(&mut self, obs: &Observation<'_>) -> Vec<RsuId> {
        let avail: Vec<RsuId> = obs.candidates.iter().filter(|c| c.available).map(|c| c.rsu).collect();
        if avail.is_empty() {
            return vec![obs.rsu; obs.tasks.len()];
        }
        obs.tasks.iter().map(|_| avail[self.rng.gen_range(0..avail.len())]).collect()
    }
}
