//! Watching a run as it happens, without touching it.
//!
//! Both engines (the sequential loop and the actor runtime) call an [`Observer`] at the same
//! points of the protocol: a slot closed, an RSU actor was restarted, a VEC POOL round closed,
//! the number of live vehicle entities changed, the episode ended. Telemetry (Prometheus
//! metrics, pacing), progress bars and tests implement it. An observer sees the engine's own
//! [`RunStats`] — the fold that also makes `summary.json` — so whatever it publishes agrees
//! with the summary by construction. Observers only read: nothing they do can change a number
//! of the run.
//!
//! Pacing (`--pace`) is asked of the engine by its observer ([`Observer::pace`]) and done by the
//! engine itself: it waits before opening a slot, so it never runs ahead of what it reports, and
//! it measures each slot's wall time itself ([`Observer::slot_timed`]), without that wait.

use crate::engine::RoundReport;
use crate::ids::RsuId;
use crate::report::{RunStats, SlotReport};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// The engine's own measure of slot `slot`'s wall time, in seconds: from opening it to
    /// being ready to open the next (its training and VEC POOL round included, the wait for
    /// the pace not). Called after that slot's [`Observer::slot_closed`].
    fn slot_timed(&mut self, _slot: u32, _wall_s: f64) {}

    /// The pace this observer wants (`--pace`): the engine waits before opening a slot that
    /// [`Pacer::wait`] says is not due, so a watcher sees every slot as it runs. Asked once per
    /// episode, before its first slot; the handle is shared, so a run of several episodes keeps
    /// one schedule across them. Pacing changes when slots run, never a number of the run.
    fn pace(&self) -> Option<Pacer> {
        None
    }
}

/// When the next slot may open under a pace: shared by the sequential loop (which sleeps) and
/// the actor engine's clock (which sets a timer). A handle: clones share one schedule, which
/// outlives an episode (the observer that hands it out keeps it for the whole run).
#[derive(Clone, Debug)]
pub struct Pacer {
    period: Duration,
    /// When the next slot may open (`None`: no slot opened yet).
    due: Arc<Mutex<Option<Instant>>>,
}

impl Pacer {
    /// Slots opened at most once per `period`.
    pub fn new(period: Duration) -> Pacer {
        Pacer { period, due: Arc::new(Mutex::new(None)) }
    }

    /// The shortest wall time between two slot openings.
    pub fn period(&self) -> Duration {
        self.period
    }

    fn due(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // The guarded value is a plain instant: a panic elsewhere cannot leave it half-written.
        self.due.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long to wait at `now` before opening the next slot (zero when it is due).
    pub fn wait(&self, now: Instant) -> Duration {
        self.due().map_or(Duration::ZERO, |d| d.saturating_duration_since(now))
    }

    /// A slot opens at `now` (after [`Pacer::wait`]): the next one is due a period after this
    /// one was due, so timer lateness does not accumulate; a slot a whole period late or more
    /// restarts the schedule from `now` rather than letting slots burst to catch up.
    pub fn opened(&self, now: Instant) {
        let p = self.period;
        let mut due = self.due();
        *due = Some(match *due {
            Some(d) if d + p > now => d + p,
            _ => now + p,
        });
    }
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
    fn slot_timed(&mut self, slot: u32, wall_s: f64) {
        self.0.slot_timed(slot, wall_s);
        self.1.slot_timed(slot, wall_s);
    }
    /// The slower of the two paces: both watchers keep up.
    fn pace(&self) -> Option<Pacer> {
        match (self.0.pace(), self.1.pace()) {
            (Some(a), Some(b)) => Some(if a.period >= b.period { a } else { b }),
            (a, b) => a.or(b),
        }
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
    fn slot_timed(&mut self, slot: u32, wall_s: f64) {
        (**self).slot_timed(slot, wall_s)
    }
    fn pace(&self) -> Option<Pacer> {
        (**self).pace()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_pacer_spaces_slot_openings_by_its_period_without_drift_or_bursts() {
        let t0 = Instant::now();
        let p = Pacer::new(100 * MS);
        assert_eq!(p.wait(t0), Duration::ZERO, "the first slot opens at once");
        p.opened(t0);
        // Slot 1 is due at 100 ms: 60 ms are left at 40 ms.
        assert_eq!(p.wait(t0 + 40 * MS), 60 * MS);
        // A timer 3 ms late opens slot 1 at 103 ms; slot 2 is still due at 200 ms, not 203.
        p.opened(t0 + 103 * MS);
        assert_eq!(p.wait(t0 + 150 * MS), 50 * MS);
        // A slot whose work took 350 ms: slot 2 opens at 550 ms, over a period late; slot 3 is
        // due a period later (650 ms), not at once to catch up.
        assert_eq!(p.wait(t0 + 550 * MS), Duration::ZERO);
        p.opened(t0 + 550 * MS);
        assert_eq!(p.wait(t0 + 550 * MS), 100 * MS);
        // A clone is the same schedule (the next episode's engine gets the observer's handle).
        let q = p.clone();
        assert_eq!(q.wait(t0 + 600 * MS), 50 * MS);
    }

    #[test]
    fn two_watchers_get_the_slower_pace_and_none_asks_for_none() {
        struct Paced(Option<Pacer>);
        impl Observer for Paced {
            fn pace(&self) -> Option<Pacer> {
                self.0.clone()
            }
        }
        let period = |o: &dyn Observer| o.pace().map(|p| p.period());
        let (fast, slow) = (Pacer::new(MS), Pacer::new(5 * MS));
        assert_eq!(period(&(Paced(Some(fast.clone())), Paced(Some(slow.clone())))), Some(5 * MS));
        assert_eq!(period(&(Paced(Some(slow)), Paced(Some(fast.clone())))), Some(5 * MS));
        assert_eq!(period(&(Paced(None), Paced(Some(fast)))), Some(MS));
        assert_eq!(period(&(NoObserver, Paced(None))), None);
    }
}
