//! What a run reports: one row per slot (`slots.csv`) and a summary (`summary.json`).
//!
//! Both are pure functions of the slot results, so two engines that compute the same slots
//! write byte-identical files. Nothing here reads a clock.

use crate::fault::FaultPlan;
use crate::ids::RsuId;
use crate::outcome::{DropCause, Outcome, TaskResult};
use crate::slot::SlotScore;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Everything one slot produced.
#[derive(Clone, Debug)]
pub struct SlotReport {
    /// The slot `t`.
    pub slot: u32,
    /// Vehicles present in the scenario during the slot.
    pub vehicles: u32,
    /// Every task generated in the slot, sorted by task id, each with its one outcome.
    pub results: Vec<TaskResult>,
    /// Per-RSU completion rates, potential `F^t` and rewards `r_e^t` of the slot.
    pub score: SlotScore,
    /// Whether the slot's joint refiner (the `br-ne` oracle) stopped at its pass limit without
    /// reaching an equilibrium (always false without a refiner).
    pub unconverged: bool,
}

/// Counts of task outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    /// Tasks generated (every outcome).
    pub total: u64,
    /// Tasks credited to an uploading RSU (`Σ |K_e^t|`): the completion-rate denominator.
    pub uploaded: u64,
    /// Tasks that met their deadline (`ψ_k ≤ t_k`).
    pub completed: u64,
    /// Tasks executed but past their deadline (`ψ_k > t_k`).
    pub missed_deadline: u64,
    /// Tasks whose vehicle was in no RSU's range.
    pub uncovered: u64,
    /// Tasks dropped because their vehicle was disconnected for the slot.
    pub dropped_vehicle_dropout: u64,
    /// Tasks dropped because their executing RSU was down.
    pub dropped_rsu_down: u64,
    /// Tasks dropped because their upload or migration message was lost.
    pub dropped_message_lost: u64,
    /// Tasks dropped because the process hosting their RSU was lost (`vecsim-cluster`).
    #[serde(default)]
    pub dropped_node_lost: u64,
    /// Tasks sent to an RSU other than their uploader.
    pub migrations: u64,
}

impl OutcomeCounts {
    /// Counts one task result (its outcome, whether it was uploaded and migrated).
    pub fn add(&mut self, r: &TaskResult) {
        self.total += 1;
        if r.uploader.is_some() {
            self.uploaded += 1;
        }
        if let (Some(u), Some(e)) = (r.uploader, r.executor) {
            if u != e {
                self.migrations += 1;
            }
        }
        match r.outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::MissedDeadline => self.missed_deadline += 1,
            Outcome::Uncovered => self.uncovered += 1,
            Outcome::Dropped(DropCause::VehicleDropout) => self.dropped_vehicle_dropout += 1,
            Outcome::Dropped(DropCause::RsuDown) => self.dropped_rsu_down += 1,
            Outcome::Dropped(DropCause::MessageLost) => self.dropped_message_lost += 1,
            Outcome::Dropped(DropCause::NodeLost) => self.dropped_node_lost += 1,
        }
    }

    /// The count of one outcome.
    pub fn of(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Completed => self.completed,
            Outcome::MissedDeadline => self.missed_deadline,
            Outcome::Uncovered => self.uncovered,
            Outcome::Dropped(DropCause::VehicleDropout) => self.dropped_vehicle_dropout,
            Outcome::Dropped(DropCause::RsuDown) => self.dropped_rsu_down,
            Outcome::Dropped(DropCause::MessageLost) => self.dropped_message_lost,
            Outcome::Dropped(DropCause::NodeLost) => self.dropped_node_lost,
        }
    }

    /// Tasks dropped by a fault, all causes.
    pub fn dropped(&self) -> u64 {
        self.dropped_vehicle_dropout + self.dropped_rsu_down + self.dropped_message_lost + self.dropped_node_lost
    }

    /// Conservation: every task has exactly one outcome.
    pub fn conserved(&self) -> bool {
        self.completed + self.missed_deadline + self.uncovered + self.dropped() == self.total
    }
}

/// Per-RSU totals over the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RsuTotals {
    /// The RSU.
    pub rsu: RsuId,
    /// Tasks uploaded to it.
    pub uploaded: u64,
    /// Of those, completed (wherever they ran).
    pub completed: u64,
    /// Task-weighted completion rate, `None` with no uploads.
    pub completion_rate: Option<f64>,
    /// `Σ_t r_e^t`.
    pub reward: f64,
    /// Tasks it executed (local and migrated in).
    pub executed: u64,
}

/// Percentiles of a latency distribution, seconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Durations in the histogram (the percentiles are over these).
    pub count: u64,
    /// Durations above the histogram's range ([`LatencyHistogram::MAX_S`]) or not finite
    /// (a task that got no CPU never finishes): counted here, left out of the percentiles.
    #[serde(default)]
    pub out_of_range: u64,
    /// Median, seconds.
    pub p50: f64,
    /// 90th percentile, seconds.
    pub p90: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// Largest, seconds.
    pub max: f64,
    /// Mean, seconds.
    pub mean: f64,
}

/// HDR histogram of durations with 1 µs resolution and 3 significant digits, up to
/// [`LatencyHistogram::MAX_S`]; longer and infinite durations are counted apart.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Histogram<u64>, u64);

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram(Histogram::new_with_bounds(1, 1_000_000_000, 3).expect("valid histogram bounds"), 0)
    }
}

impl LatencyHistogram {
    /// The longest duration the histogram holds, seconds.
    pub const MAX_S: f64 = 1000.0;

    /// Records a duration in seconds. One above [`Self::MAX_S`], infinite or NaN is not
    /// clamped or skipped silently: it is counted in [`Percentiles::out_of_range`].
    pub fn record_s(&mut self, s: f64) {
        if s.is_finite() && (0.0..=Self::MAX_S).contains(&s) {
            self.0.saturating_record((s * 1e6).round().max(1.0) as u64);
        } else {
            self.1 += 1;
        }
    }

    /// Durations counted out of range so far.
    pub fn out_of_range(&self) -> u64 {
        self.1
    }

    /// p50/p90/p99, max and mean of the recorded durations, seconds (all 0 when empty).
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.0;
        if h.is_empty() {
            return Percentiles { out_of_range: self.1, ..Percentiles::default() };
        }
        let s = |us: u64| us as f64 / 1e6;
        Percentiles {
            count: h.len(),
            out_of_range: self.1,
            p50: s(h.value_at_quantile(0.5)),
            p90: s(h.value_at_quantile(0.9)),
            p99: s(h.value_at_quantile(0.99)),
            max: s(h.max()),
            mean: h.mean() / 1e6,
        }
    }
}

/// The run summary written to `summary.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Policy name (e.g. `orl`, `fed-maddpg`).
    pub policy: String,
    /// Seed of the run.
    pub seed: u64,
    /// Slots `T` simulated.
    pub slots: u32,
    /// Σ over slots of vehicles present.
    pub vehicle_slots: u64,
    /// Most vehicles present in one slot.
    pub peak_vehicles: u32,
    /// Tasks generated.
    pub tasks_total: u64,
    /// Tasks credited to an uploading RSU: the completion-rate denominator.
    pub tasks_uploaded: u64,
    /// Tasks that met their deadline.
    pub tasks_completed: u64,
    /// Tasks executed past their deadline.
    pub tasks_missed_deadline: u64,
    /// Tasks whose vehicle was in no RSU's range.
    pub tasks_uncovered: u64,
    /// Tasks dropped by a fault, all causes.
    pub tasks_dropped: u64,
    /// `tasks_dropped` split by cause.
    pub dropped_by_cause: DroppedByCause,
    /// Injected faults by kind (SPEC §6).
    #[serde(default)]
    pub faults: FaultCounts,
    /// completed / uploaded tasks over the window (task-weighted); `null` when no task was
    /// uploaded (a run with no covered task has no rate, as an RSU without uploads has none).
    pub completion_rate: Option<f64>,
    /// `Σ_t F^t`.
    pub cumulative_reward: f64,
    /// `Σ_e Σ_t r_e^t / E`.
    pub average_realized_potential: f64,
    /// Mean over slots of the mean per-RSU completion rate (RSUs without uploads left out);
    /// `null` when no slot had an upload.
    pub mean_rsu_completion_rate: Option<f64>,
    /// Tasks executed at an RSU other than their uploader (wired migrations).
    pub migrations: u64,
    /// Slots in which the `br-ne` oracle's best-response dynamics stopped at its pass limit
    /// without reaching an equilibrium (0 for every other policy).
    #[serde(default)]
    pub brne_unconverged_slots: u64,
    /// Service time `ψ_k` percentiles of executed tasks, seconds.
    pub service_time_s: Percentiles,
    /// Totals per RSU, by id.
    pub per_rsu: Vec<RsuTotals>,
}

/// Dropped tasks by cause.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DroppedByCause {
    /// Tasks whose vehicle was disconnected for the slot.
    pub vehicle_dropout: u64,
    /// Tasks whose executing RSU was down.
    pub rsu_down: u64,
    /// Tasks whose upload or migration message was lost.
    pub message_lost: u64,
    /// Tasks held by a cluster node that was lost (`vecsim-cluster`); written only when not 0,
    /// so that reports of runs without a cluster are unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub node_lost: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Injected faults by kind, over a slot or a run (SPEC §6: nothing is lost without a count).
///
/// Everything but `rsu_outage_slots`, `crashes` and `round_dropouts` is derived from the task
/// results alone, so every engine that produces the same results reports the same counts.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultCounts {
    /// Tasks whose vehicle was disconnected for the slot (= `dropped_by_cause.vehicle_dropout`).
    pub vehicle_dropouts: u64,
    /// V2I uploads lost (tasks dropped with cause `message_lost` before reaching an RSU).
    pub uploads_lost: u64,
    /// Wired migrations lost (tasks dropped with cause `message_lost` on the wire).
    pub migrations_lost: u64,
    /// Uploads that arrived with injected latency > 0.
    pub uploads_delayed: u64,
    /// Total injected V2I latency, seconds of simulated time.
    pub upload_latency_s: f64,
    /// Wired migrations that arrived with injected latency > 0.
    pub migrations_delayed: u64,
    /// Total injected wired latency, seconds of simulated time.
    pub wired_latency_s: f64,
    /// `Σ_t` (RSUs down in slot t), from the outage windows.
    pub rsu_outage_slots: u64,
    /// Tasks that failed at a down executing RSU (= `dropped_by_cause.rsu_down`).
    pub tasks_rsu_down: u64,
    /// RSU actor crashes injected and recovered by a supervisor (actor engine only).
    pub crashes: u64,
    /// RSUs that missed a federated round (training only).
    pub round_dropouts: u64,
}

impl FaultCounts {
    /// Counts the faults one task result shows.
    pub fn add_result(&mut self, r: &TaskResult) {
        match r.outcome {
            Outcome::Dropped(DropCause::VehicleDropout) => self.vehicle_dropouts += 1,
            Outcome::Dropped(DropCause::RsuDown) => self.tasks_rsu_down += 1,
            // A lost upload never reached an executor; a lost migration was on its way to one.
            Outcome::Dropped(DropCause::MessageLost) if r.executor.is_none() => self.uploads_lost += 1,
            Outcome::Dropped(DropCause::MessageLost) => self.migrations_lost += 1,
            _ => {}
        }
        if r.upload_extra_s > 0.0 {
            self.uploads_delayed += 1;
            self.upload_latency_s += r.upload_extra_s;
        }
        if r.wired_extra_s > 0.0 {
            self.migrations_delayed += 1;
            self.wired_latency_s += r.wired_extra_s;
        }
    }

    /// The faults shown by a slot's results (everything but outages, crashes and rounds).
    pub fn of_results(results: &[TaskResult]) -> FaultCounts {
        let mut c = FaultCounts::default();
        for r in results {
            c.add_result(r);
        }
        c
    }

    /// Adds another count in (field by field).
    pub fn merge(&mut self, o: &FaultCounts) {
        self.vehicle_dropouts += o.vehicle_dropouts;
        self.uploads_lost += o.uploads_lost;
        self.migrations_lost += o.migrations_lost;
        self.uploads_delayed += o.uploads_delayed;
        self.upload_latency_s += o.upload_latency_s;
        self.migrations_delayed += o.migrations_delayed;
        self.wired_latency_s += o.wired_latency_s;
        self.rsu_outage_slots += o.rsu_outage_slots;
        self.tasks_rsu_down += o.tasks_rsu_down;
        self.crashes += o.crashes;
        self.round_dropouts += o.round_dropouts;
    }

    /// `(kind, count)` for every counted kind, in a fixed order (telemetry labels).
    pub fn by_kind(&self) -> [(&'static str, u64); 9] {
        [
            ("vehicle_dropout", self.vehicle_dropouts),
            ("upload_lost", self.uploads_lost),
            ("migration_lost", self.migrations_lost),
            ("upload_delayed", self.uploads_delayed),
            ("migration_delayed", self.migrations_delayed),
            ("rsu_outage_slot", self.rsu_outage_slots),
            ("task_rsu_down", self.tasks_rsu_down),
            ("crash", self.crashes),
            ("round_dropout", self.round_dropouts),
        ]
    }
}

/// Accumulates slot reports into a [`Summary`] and the `slots.csv` text.
#[derive(Clone, Debug)]
pub struct RunStats {
    scenario: String,
    policy: String,
    seed: u64,
    slots: u32,
    counts: OutcomeCounts,
    /// Outcome counts by uploading RSU; the last row holds tasks that never reached an RSU.
    by_uploader: Vec<OutcomeCounts>,
    per_rsu: Vec<RsuTotals>,
    cumulative_reward: f64,
    reward_total: f64,
    rate_mean_sum: f64,
    rate_mean_slots: u32,
    vehicle_slots: u64,
    peak_vehicles: u32,
    service: LatencyHistogram,
    /// Outage windows of the fault plan (for `rsu_outage_slots`); see [`RunStats::with_faults`].
    plan: FaultPlan,
    /// RSUs down for good because the process hosting them was lost (a cluster node): an
    /// outage in every slot from the one first reported with them lost.
    lost: Vec<bool>,
    faults: FaultCounts,
    /// Crashes recorded since the last slot was added (they go into that slot's row).
    pending_crashes: u64,
    unconverged: u64,
    csv: String,
}

/// Header of `slots.csv`.
pub const SLOTS_CSV_HEADER: &str = "slot,vehicles,tasks,uploaded,completed,missed_deadline,uncovered,dropped_vehicle_dropout,dropped_rsu_down,dropped_message_lost,migrations,completion_rate,potential,reward_sum,rsus_down,uploads_lost,migrations_lost,uploads_delayed,migrations_delayed,upload_latency_s,wired_latency_s,crashes\n";

impl RunStats {
    /// Empty stats for a run of `scenario` with `policy` and `seed` over `rsus` RSUs.
    pub fn new(scenario: &str, policy: &str, seed: u64, rsus: usize) -> RunStats {
        RunStats {
            scenario: scenario.to_string(),
            policy: policy.to_string(),
            seed,
            slots: 0,
            counts: OutcomeCounts::default(),
            by_uploader: vec![OutcomeCounts::default(); rsus + 1],
            per_rsu: (0..rsus).map(|e| RsuTotals { rsu: RsuId(e as u32), ..Default::default() }).collect(),
            cumulative_reward: 0.0,
            reward_total: 0.0,
            rate_mean_sum: 0.0,
            rate_mean_slots: 0,
            vehicle_slots: 0,
            peak_vehicles: 0,
            service: LatencyHistogram::default(),
            plan: FaultPlan::default(),
            lost: vec![false; rsus],
            faults: FaultCounts::default(),
            pending_crashes: 0,
            unconverged: 0,
            csv: SLOTS_CSV_HEADER.to_string(),
        }
    }

    /// Tells the statistics which fault plan the run injects, so each slot counts the RSUs
    /// its outage windows take down. Every engine must call it (the sequential one does in
    /// `Engine::new`), or `rsu_outage_slots` stays 0.
    pub fn with_faults(mut self, plan: &FaultPlan) -> RunStats {
        self.plan = plan.clone();
        self
    }

    /// Marks RSUs whose hosting process (a cluster node) was lost: they count as down, in
    /// `rsus_down` and `faults.rsu_outage_slots`, in the next slot added and every one after.
    pub fn record_lost_rsus(&mut self, rsus: &[u32]) {
        for &e in rsus {
            if let Some(l) = self.lost.get_mut(e as usize) {
                *l = true;
            }
        }
    }

    /// Counts one injected actor crash (the actor engine calls it when a supervisor restarts a
    /// crashed RSU actor). It goes into the `crashes` column of the next slot added, i.e. the
    /// slot being redone, and into the total at once.
    pub fn record_crash(&mut self) {
        self.pending_crashes += 1;
        self.faults.crashes += 1;
    }

    /// Counts RSUs that missed a federated round.
    pub fn record_round_dropouts(&mut self, n: u64) {
        self.faults.round_dropouts += n;
    }

    /// Faults counted so far, by kind.
    pub fn fault_counts(&self) -> FaultCounts {
        self.faults
    }

    /// Folds one slot in (slots must come in order).
    pub fn add(&mut self, r: &SlotReport) {
        let mut c = OutcomeCounts::default();
        let mut f = FaultCounts::default();
        let none_row = self.by_uploader.len() - 1;
        for t in &r.results {
            c.add(t);
            self.by_uploader[t.uploader.map_or(none_row, |u| u.index())].add(t);
            f.add_result(t);
            if t.executed() {
                self.service.record_s(t.service_s);
            }
            if let Some(e) = t.executor {
                if t.executed() {
                    self.per_rsu[e.index()].executed += 1;
                }
            }
        }
        let reward_sum: f64 = r.score.rewards.iter().sum();
        for (e, tot) in self.per_rsu.iter_mut().enumerate() {
            tot.uploaded += r.score.uploaded[e] as u64;
            tot.completed += r.score.completed[e] as u64;
            tot.reward += r.score.rewards[e];
        }
        let rates: Vec<f64> = r.score.rates.iter().flatten().copied().collect();
        if !rates.is_empty() {
            self.rate_mean_sum += rates.iter().sum::<f64>() / rates.len() as f64;
            self.rate_mean_slots += 1;
        }
        self.cumulative_reward += r.score.potential;
        self.reward_total += reward_sum;
        self.vehicle_slots += r.vehicles as u64;
        self.peak_vehicles = self.peak_vehicles.max(r.vehicles);
        self.slots += 1;
        self.unconverged += r.unconverged as u64;
        let rate = if c.uploaded > 0 { (c.completed as f64 / c.uploaded as f64).to_string() } else { String::new() };
        let down = (0..self.per_rsu.len())
            .filter(|&e| !self.plan.rsu_up(RsuId(e as u32), r.slot) || self.lost.get(e).copied().unwrap_or(false))
            .count() as u32;
        f.rsu_outage_slots = down as u64;
        let crashes = std::mem::take(&mut self.pending_crashes);
        let _ = writeln!(
            self.csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.slot,
            r.vehicles,
            c.total,
            c.uploaded,
            c.completed,
            c.missed_deadline,
            c.uncovered,
            c.dropped_vehicle_dropout,
            // A lost cluster node's RSUs are down: its tasks count here (summary.json splits
            // them out as `node_lost`; no column was added, so that files keep their bytes).
            c.dropped_rsu_down + c.dropped_node_lost,
            c.dropped_message_lost,
            c.migrations,
            rate,
            no_neg_zero(r.score.potential),
            no_neg_zero(reward_sum),
            down,
            f.uploads_lost,
            f.migrations_lost,
            f.uploads_delayed,
            f.migrations_delayed,
            no_neg_zero(f.upload_latency_s),
            no_neg_zero(f.wired_latency_s),
            crashes
        );
        self.faults.merge(&f);
        let t = &mut self.counts;
        t.total += c.total;
        t.uploaded += c.uploaded;
        t.completed += c.completed;
        t.missed_deadline += c.missed_deadline;
        t.uncovered += c.uncovered;
        t.dropped_vehicle_dropout += c.dropped_vehicle_dropout;
        t.dropped_rsu_down += c.dropped_rsu_down;
        t.dropped_message_lost += c.dropped_message_lost;
        t.dropped_node_lost += c.dropped_node_lost;
        t.migrations += c.migrations;
    }

    /// Outcome counts over the slots added so far.
    pub fn counts(&self) -> OutcomeCounts {
        self.counts
    }

    /// Outcome counts by uploading RSU (index = RSU id), then one row for the tasks that never
    /// reached an RSU (uncovered, or dropped before their upload arrived).
    pub fn counts_by_uploader(&self) -> &[OutcomeCounts] {
        &self.by_uploader
    }

    /// Per-RSU totals so far (completion rates are filled in by [`RunStats::summary`]).
    pub fn per_rsu(&self) -> &[RsuTotals] {
        &self.per_rsu
    }

    /// `Σ_t F^t` so far.
    pub fn cumulative_reward(&self) -> f64 {
        self.cumulative_reward
    }

    /// Slots folded in so far.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Slots so far in which the `br-ne` oracle stopped at its pass limit.
    pub fn brne_unconverged_slots(&self) -> u64 {
        self.unconverged
    }

    /// The `slots.csv` text so far.
    pub fn slots_csv(&self) -> &str {
        &self.csv
    }

    /// Histogram of the service times `ψ_k` of executed tasks so far, seconds.
    pub fn service_histogram(&self) -> &LatencyHistogram {
        &self.service
    }

    /// The run summary of the slots added so far (what `summary.json` holds).
    pub fn summary(&self) -> Summary {
        let c = &self.counts;
        let e = self.per_rsu.len().max(1) as f64;
        Summary {
            scenario: self.scenario.clone(),
            policy: self.policy.clone(),
            seed: self.seed,
            slots: self.slots,
            vehicle_slots: self.vehicle_slots,
            peak_vehicles: self.peak_vehicles,
            tasks_total: c.total,
            tasks_uploaded: c.uploaded,
            tasks_completed: c.completed,
            tasks_missed_deadline: c.missed_deadline,
            tasks_uncovered: c.uncovered,
            tasks_dropped: c.dropped(),
            dropped_by_cause: DroppedByCause {
                vehicle_dropout: c.dropped_vehicle_dropout,
                rsu_down: c.dropped_rsu_down,
                message_lost: c.dropped_message_lost,
                node_lost: c.dropped_node_lost,
            },
            faults: self.faults,
            completion_rate: (c.uploaded > 0).then(|| c.completed as f64 / c.uploaded as f64),
            cumulative_reward: no_neg_zero(self.cumulative_reward),
            average_realized_potential: no_neg_zero(self.reward_total / e),
            mean_rsu_completion_rate: (self.rate_mean_slots > 0)
                .then(|| self.rate_mean_sum / self.rate_mean_slots as f64),
            migrations: c.migrations,
            brne_unconverged_slots: self.unconverged,
            service_time_s: self.service.percentiles(),
            per_rsu: self
                .per_rsu
                .iter()
                .map(|t| RsuTotals {
                    completion_rate: (t.uploaded > 0).then(|| t.completed as f64 / t.uploaded as f64),
                    ..t.clone()
                })
                .collect(),
        }
    }
}

/// `x` with a negative zero turned into `0` (an empty `f64` sum is `-0.0`, which would print
/// as `-0`); every other value unchanged.
pub fn no_neg_zero(x: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x
    }
}

impl Summary {
    /// The exact bytes of `summary.json`.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("summary serialises");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_by_hand() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=100 {
            h.record_s(ms as f64 / 1000.0);
        }
        let p = h.percentiles();
        assert_eq!(p.count, 100);
        // HDR reports the top of the value's bucket: within 3 significant digits (0.1 %).
        let near = |got: f64, want: f64| (got - want).abs() <= want * 1e-3;
        assert!(near(p.p50, 0.050), "{}", p.p50);
        assert!(near(p.p90, 0.090), "{}", p.p90);
        assert!(near(p.p99, 0.099), "{}", p.p99);
        assert!(near(p.max, 0.100), "{}", p.max);
        assert!((p.mean - 0.0505).abs() < 1e-4);
    }

    /// Issue 10, item 4: durations past 1000 s and infinite ones are counted, not clamped or
    /// dropped silently.
    #[test]
    fn histogram_counts_what_it_cannot_hold() {
        let mut h = LatencyHistogram::default();
        for s in [0.5, 2000.0, f64::INFINITY, f64::NAN, 1000.0] {
            h.record_s(s);
        }
        let p = h.percentiles();
        assert_eq!((p.count, p.out_of_range), (2, 3));
        assert!((p.max - 1000.0).abs() <= 1.0, "{}", p.max);
        let mut only_inf = LatencyHistogram::default();
        only_inf.record_s(f64::INFINITY);
        assert_eq!(only_inf.percentiles(), Percentiles { out_of_range: 1, ..Percentiles::default() });
    }

    /// Issue 10, items 4 and 5: a run without tasks has no completion rate (null, not 0), its
    /// rows print no `-0`, and unconverged br-ne slots are counted.
    #[test]
    fn empty_runs_have_no_rate_and_no_negative_zero() {
        let mut st = RunStats::new("t", "br-ne", 1, 2);
        let empty = |slot, unconverged| SlotReport {
            slot,
            vehicles: 0,
            results: Vec::new(),
            score: crate::slot::score(&[], 2),
            unconverged,
        };
        st.add(&empty(0, false));
        st.add(&empty(1, true));
        st.add(&empty(2, true));
        let sum = st.summary();
        assert_eq!(sum.completion_rate, None);
        assert_eq!(sum.mean_rsu_completion_rate, None);
        assert_eq!(sum.brne_unconverged_slots, 2);
        let json = sum.to_json();
        assert!(json.contains("\"completion_rate\": null"), "{json}");
        assert!(json.contains("\"brne_unconverged_slots\": 2"), "{json}");
        assert!(!json.contains("-0"), "{json}");
        // slot,vehicles,tasks,uploaded,completed,...,completion_rate (empty),potential,reward_sum,...
        let row = st.slots_csv().lines().nth(1).unwrap();
        assert_eq!(row, "0,0,0,0,0,0,0,0,0,0,0,,0,0,0,0,0,0,0,0,0,0");
        assert!(!st.slots_csv().contains("-0"));
    }
}
