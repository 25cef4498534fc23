//! Engines: what runs an episode of a scenario with a set of policies.
//!
//! vecsim has two engines, one contract. [`Sequential`] runs the slot protocol as a plain loop;
//! `vecsim-actors` runs it as messages between ractor actors. Both implement [`Engine`]: they
//! take an [`Episode`] (scenario, mobility, policies, an optional VEC POOL round, an
//! [`Observer`]) and return an [`EpisodeOutput`] with byte-identical statistics. Callers (the
//! command line's run pipeline, the trainer, benchmarks, experiments) pick an engine and never
//! care which one it is.

mod sequential;

pub use sequential::{ClosedSlot, OpenSlot, SequentialRun, SpawnSchedule};

use crate::ids::RsuId;
use crate::mobility::Fleet;
use crate::observer::Observer;
use crate::policy::{Policy, PolicySet};
use crate::report::RunStats;
use crate::Scenario;
use std::sync::Arc;
use std::time::Instant;

/// A VEC POOL round to hold after an episode's last slot (federated learning, eq. 26–28).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundRequest {
    /// `participants[e]`: whether RSU e takes part (the others skip the round and keep their
    /// parameters).
    pub participants: Vec<bool>,
    /// Weight each contribution by its sample count instead of equally (with equal weights
    /// when every count is 0: [`crate::fedavg::average`]).
    pub weighted: bool,
}

/// Who took part in a VEC POOL round, by RSU id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// RSUs whose parameters were averaged (and replaced by the average).
    pub contributed: Vec<u32>,
    /// RSUs that missed the round (they keep their own parameters).
    pub skipped: Vec<u32>,
}

impl RoundReport {
    /// The report of a round in which exactly the `participants` that federate took part.
    pub fn of(participants: &[bool]) -> RoundReport {
        let mut r = RoundReport::default();
        for (e, &p) in participants.iter().enumerate() {
            if p {
                r.contributed.push(e as u32);
            } else {
                r.skipped.push(e as u32);
            }
        }
        r
    }
}

/// One episode to run.
pub struct Episode<'a> {
    /// The scenario, with the seed of this episode's traffic.
    pub scenario: Arc<Scenario>,
    /// Its vehicles' paths (`mobility::load`).
    pub fleet: Fleet,
    /// One policy per RSU.
    pub policies: PolicySet,
    /// A VEC POOL round after the last slot: every participant contributes
    /// `Policy::export_params`, the pool averages them in RSU-id order
    /// ([`crate::fedavg::average`]) and every participant imports the average.
    pub round: Option<RoundRequest>,
    /// Sees the run as it happens.
    pub observer: &'a mut dyn Observer,
}

/// What an episode produced.
pub struct EpisodeOutput {
    /// The statistics (`summary.json`, `slots.csv`).
    pub stats: RunStats,
    /// The policies, back from the engine (a trainer reuses them).
    pub policies: Vec<Box<dyn Policy>>,
    /// The round held after the last slot, when one was asked for.
    pub round: Option<RoundReport>,
}

impl std::fmt::Debug for EpisodeOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.policies.iter().map(|p| p.name()).collect();
        f.debug_struct("EpisodeOutput")
            .field("stats", &self.stats)
            .field("policies", &names)
            .field("round", &self.round)
            .finish()
    }
}

/// Why an engine could not run an episode. Bad input is caught before (scenario validation);
/// these are misuse by the caller and failures of the runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The policy set does not have one policy per RSU.
    #[error("{got} policies for {rsus} RSUs: an engine needs one policy per RSU")]
    PolicyCount {
        /// Policies given.
        got: usize,
        /// RSUs in the scenario.
        rsus: usize,
    },
    /// A round request whose participant list does not have one flag per RSU.
    #[error("a VEC POOL round with {got} participant flags for {rsus} RSUs")]
    RoundParticipants {
        /// Flags given.
        got: usize,
        /// RSUs in the scenario.
        rsus: usize,
    },
    /// A policy answered with the wrong number of decisions or an RSU that does not exist.
    #[error("policy {policy} at RSU {rsu}: {message}")]
    BadDecision {
        /// The policy's name.
        policy: &'static str,
        /// The deciding RSU.
        rsu: RsuId,
        /// What was wrong.
        message: String,
    },
    /// A slot was asked for after the episode's last one.
    #[error("the episode's {slots} slots have all run")]
    Finished {
        /// Slots `T` of the episode.
        slots: u32,
    },
    /// The VEC POOL could not average a round.
    #[error("VEC POOL round: {0}")]
    FedAvg(#[from] crate::fedavg::FedAvgError),
    /// The runtime could not be started (threads, ...).
    #[error("cannot start the engine's runtime")]
    Runtime(#[source] std::io::Error),
    /// The runtime failed during the run (an actor failed beyond what supervision restarts).
    #[error("the {engine} engine failed: {message}")]
    Failed {
        /// Engine name.
        engine: &'static str,
        /// What failed.
        message: String,
    },
}

/// Runs episodes. `Send` so that a caller may move it to the thread that drives it.
pub trait Engine: Send {
    /// A short name for messages and metrics labels (`actors`, `sequential`).
    fn name(&self) -> &'static str;

    /// Runs every slot of `episode`, then its VEC POOL round if one was asked for.
    fn run(&mut self, episode: Episode<'_>) -> Result<EpisodeOutput, EngineError>;

    /// How many RSUs' policies may run at once (their learners' update steps included): 1 for
    /// a plain loop, the worker threads for the actor engine. A trainer gives each RSU's matrix
    /// products the threads left over.
    fn parallelism(&self) -> usize {
        1
    }
}

/// Checks a policy's answer: one decision per task, each an RSU of the scenario.
pub fn check_decisions(
    policy: &'static str,
    rsu: RsuId,
    tasks: usize,
    rsus: usize,
    d: &[RsuId],
) -> Result<(), EngineError> {
    if d.len() != tasks {
        let message = format!("returned {} decisions for {tasks} tasks", d.len());
        return Err(EngineError::BadDecision { policy, rsu, message });
    }
    if let Some(bad) = d.iter().find(|x| x.index() >= rsus) {
        let message = format!("chose {bad}, but the scenario has {rsus} RSUs");
        return Err(EngineError::BadDecision { policy, rsu, message });
    }
    Ok(())
}

/// Checks that an episode's inputs fit its scenario (both engines call it first).
pub fn check_episode(
    scenario: &Scenario,
    policies: &PolicySet,
    round: Option<&RoundRequest>,
) -> Result<(), EngineError> {
    let rsus = scenario.rsu_count();
    if policies.per_rsu.len() != rsus {
        return Err(EngineError::PolicyCount { got: policies.per_rsu.len(), rsus });
    }
    if let Some(r) = round {
        if r.participants.len() != rsus {
            return Err(EngineError::RoundParticipants { got: r.participants.len(), rsus });
        }
    }
    Ok(())
}

/// The VEC POOL round held in-process: every participant whose policy federates contributes
/// its parameters, [`crate::fedavg::average`] averages them in RSU-id order and they all import
/// the average. The actor engine's VEC POOL actor computes the same numbers by message.
pub fn hold_round(policies: &mut [Box<dyn Policy>], round: &RoundRequest) -> Result<RoundReport, EngineError> {
    let mut report = RoundReport::default();
    let mut items: Vec<(f64, Vec<f32>)> = Vec::new();
    for (e, p) in policies.iter().enumerate() {
        match (round.participants[e], p.export_params()) {
            (true, Some((samples, params))) => {
                report.contributed.push(e as u32);
                items.push((if round.weighted { samples as f64 } else { 1.0 }, params));
            }
            _ => report.skipped.push(e as u32),
        }
    }
    let refs: Vec<(f64, &[f32])> = items.iter().map(|(w, p)| (*w, p.as_slice())).collect();
    if let Some(avg) = crate::fedavg::average(&refs)? {
        for &e in &report.contributed {
            policies[e as usize].import_params(&avg);
        }
    }
    Ok(report)
}

/// The sequential engine: the slot protocol as a plain loop on the calling thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequential;

impl Engine for Sequential {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn run(&mut self, ep: Episode<'_>) -> Result<EpisodeOutput, EngineError> {
        check_episode(&ep.scenario, &ep.policies, ep.round.as_ref())?;
        ep.observer.episode_started(&crate::observer::RunInfo::of(&ep.scenario, self.name()));
        let mut run = SequentialRun::new(ep.scenario, ep.fleet, ep.policies)?;
        // The loop waits for the pace before opening a slot, so that it never runs ahead of
        // what its observer has been shown.
        let pacer = ep.observer.pace();
        while !run.finished() {
            let opened = match &pacer {
                Some(p) => {
                    std::thread::sleep(p.wait(Instant::now()));
                    let now = Instant::now();
                    p.opened(now);
                    now
                }
                None => Instant::now(),
            };
            let report = run.step()?;
            let wall_s = opened.elapsed().as_secs_f64();
            ep.observer.live_vehicles(run.live_vehicles());
            ep.observer.slot_closed(&report, run.stats());
            ep.observer.slot_timed(report.slot, wall_s);
        }
        let (mut stats, mut policies) = run.into_parts();
        let round = match &ep.round {
            Some(r) => {
                let report = hold_round(&mut policies, r)?;
                stats.record_round_dropouts(report.skipped.len() as u64);
                ep.observer.round_closed(&report);
                Some(report)
            }
            None => None,
        };
        ep.observer.episode_finished(&stats);
        Ok(EpisodeOutput { stats, policies, round })
    }
}
