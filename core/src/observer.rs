//! Watching a run as it happens, without touching it.
//!
//! Both engines (the sequential loop and the actor runtime) call an [`Observer`] at the same
//! points of the protocol: a slot closed, an RSU actor was restarted, a VEC POOL round closed,
//! the number of live vehicle entities changed, the episode ended. Telemetry (Prometheus
//! metrics, pacing), progress bars and tests implement it. An observer sees the engine's own
//! [`RunStats`] — the fold that also makes `summary.json` — so whatever it publishes agrees
//! with the summary by construction. Observers only read: nothing they do can change a number
//! of the run (they may sleep, which is how pacing works).

use crate::engine::RoundReport;
use crate::ids::RsuId;
use crate::report::{RunStats, SlotReport};

/// What is being run, told once per episode before its first slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// Scenario name.
    pub scenario: String,
    /// Policy name (`orl`, `fed-maddpg`, ...).
    pub policy: String,
    /// Master seed of the episode's traffic.
    pub seed: u64,
    /// Engine name (`actors`, `sequential`).
    pub engine: &'static str,
    /// Number of RSUs.
    pub rsus: usize,
}

impl RunInfo {
    /// What running `scenario` (its name, policy, seed and RSUs) on `engine` is.
    pub fn of(scenario: &crate::Scenario, engine: &'static str) -> RunInfo {
        RunInfo {
            scenario: scenario.name.clone(),
            policy: scenario.policy.to_string(),
            seed: scenario.seed,
            engine,
            rsus: scenario.rsu_count(),
        }
    }
}

/// Receives the events of a run. Every method has an empty default.
pub trait Observer {
    /// An episode is about to run its first slot.
    fn episode_started(&mut self, _info: &RunInfo) {}

    /// Slot `report.slot` closed; `stats` already includes it.
    fn slot_closed(&mut self, _report: &SlotReport, _stats: &RunStats) {}

    /// The supervisor restarted a crashed RSU actor, which redoes `slot`; `stats` already
    /// counts the crash.
    fn rsu_restarted(&mut self, _rsu: RsuId, _slot: u32, _stats: &RunStats) {}

    /// A VEC POOL round closed.
    fn round_closed(&mut self, _round: &RoundReport) {}

    /// Live vehicle entities: vehicle actors on the actor engine, vehicles held by the loop on
    /// the sequential one. Reported after each slot's first phase.
    fn live_vehicles(&mut self, _n: usize) {}

    /// The episode ended; `stats` is final.
    fn episode_finished(&mut self, _stats: &RunStats) {}
}

/// Observes nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// Calls a closure for every closed slot (the common case of a caller that only wants the
/// slot reports).
pub struct OnSlot<F>(pub F);

impl<F: FnMut(&SlotReport)> Observer for OnSlot<F> {
    fn slot_closed(&mut self, report: &SlotReport, _stats: &RunStats) {
        (self.0)(report)
    }
}

/// Two observers, called in order.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn episode_started(&mut self, info: &RunInfo) {
        self.0.episode_started(info);
        self.1.episode_started(info);
    }
    fn slot_closed(&mut self, report: &SlotReport, stats: &RunStats) {
        self.0.slot_closed(report, stats);
        self.1.slot_closed(report, stats);
    }
    fn rsu_restarted(&mut self, rsu: RsuId, slot: u32, stats: &RunStats) {
        self.0.rsu_restarted(rsu, slot, stats);
        self.1.rsu_restarted(rsu, slot, stats);
    }
    fn round_closed(&mut self, round: &RoundReport) {
        self.0.round_closed(round);
        self.1.round_closed(round);
    }
    fn live_vehicles(&mut self, n: usize) {
        self.0.live_vehicles(n);
        self.1.live_vehicles(n);
    }
    fn episode_finished(&mut self, stats: &RunStats) {
        self.0.episode_finished(stats);
        self.1.episode_finished(stats);
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn episode_started(&mut self, info: &RunInfo) {
        (**self).episode_started(info)
    }
    fn slot_closed(&mut self, report: &SlotReport, stats: &RunStats) {
        (**self).slot_closed(report, stats)
    }
    fn rsu_restarted(&mut self, rsu: RsuId, slot: u32, stats: &RunStats) {
        (**self).rsu_restarted(rsu, slot, stats)
    }
    fn round_closed(&mut self, round: &RoundReport) {
        (**self).round_closed(round)
    }
    fn live_vehicles(&mut self, n: usize) {
        (**self).live_vehicles(n)
    }
    fn episode_finished(&mut self, stats: &RunStats) {
        (**self).episode_finished(stats)
    }
}
