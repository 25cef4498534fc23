//! Training episodes on the actor engine: the [`EpisodeRunner`] that `vecsim train --engine
//! actors` hands to [`vecsim_learn::train`].
//!
//! The learners' policies run inside the RSU actors, trained online from the slots they live
//! through; after the last slot the clock opens a VEC POOL round with the trainer's participant
//! set, the RSU actors send their policies' actor parameters (`Policy::export_params`), the pool
//! federated-averages them and the participants import the average. Same numbers as the
//! sequential engine with the in-process round (tested in `tests/e2e/train.rs`).

use crate::{run_actors_with, ActorOptions};
use std::sync::Arc;
use vecsim_core::clock::SlotClock;
use vecsim_core::mobility;
use vecsim_core::policy::Policy;
use vecsim_core::Scenario;
use vecsim_learn::train::{EpisodeRun, EpisodeRunner, PoolRound, RoundReport, TrainError};

/// Runs training episodes on the actor engine with `threads` tokio workers.
#[derive(Clone, Debug)]
pub struct ActorRunner {
    pub threads: usize,
}

impl ActorRunner {
    pub fn new(threads: usize) -> ActorRunner {
        ActorRunner { threads: threads.max(1) }
    }
}

impl EpisodeRunner for ActorRunner {
    fn name(&self) -> &str {
        "actors"
    }

    fn run(
        &mut self,
        scenario: &Scenario,
        policies: Vec<Box<dyn Policy>>,
        round: Option<PoolRound<'_>>,
    ) -> Result<EpisodeRun, TrainError> {
        let fleet = mobility::load(scenario, None)?;
        let slots = SlotClock::from_scenario(scenario).slots;
        let opts = ActorOptions {
            threads: self.threads,
            // One round, after the last slot.
            pool_every: round.map(|_| slots),
            params: None,
            pool_participants: round.map(|r| r.participants.to_vec()),
            weighted_fedavg: round.is_some_and(|r| r.weighted),
        };
        let run = run_actors_with(Arc::new(scenario.clone()), fleet, policies, None, &opts, &mut |_| {})
            .map_err(|e| TrainError::Engine(e.to_string()))?;
        if run.rounds.len() > 1 {
            return Err(TrainError::Engine(format!("{} VEC POOL rounds in one episode", run.rounds.len())));
        }
        let round =
            run.rounds.into_iter().next().map(|o| RoundReport { contributed: o.contributed, skipped: o.skipped });
        Ok(EpisodeRun { summary: run.stats.summary(), round })
    }
}
