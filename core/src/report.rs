//! What a run reports: one row per slot (`slots.csv`) and a summary (`summary.json`).
//!
//! Both are pure functions of the slot results, so two engines that compute the same slots
//! write byte-identical files. Nothing here reads a clock.

use crate::ids::RsuId;
use crate::outcome::{DropCause, Outcome, TaskResult};
use crate::slot::SlotScore;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Everything one slot produced.
#[derive(Clone, Debug)]
pub struct SlotReport {
    pub slot: u32,
    /// Vehicles present in the scenario during the slot.
    pub vehicles: u32,
    /// Every task generated in the slot, sorted by task id, each with its one outcome.
    pub results: Vec<TaskResult>,
    pub score: SlotScore,
}

/// Counts of task outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub total: u64,
    /// Tasks credited to an uploading RSU (`Σ |K_e^t|`): the completion-rate denominator.
    pub uploaded: u64,
    pub completed: u64,
    pub missed_deadline: u64,
    pub uncovered: u64,
    pub dropped_vehicle_dropout: u64,
    pub dropped_rsu_down: u64,
    pub dropped_message_lost: u64,
    /// Tasks sent to an RSU other than their uploader.
    pub migrations: u64,
}

impl OutcomeCounts {
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
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped_vehicle_dropout + self.dropped_rsu_down + self.dropped_message_lost
    }

    /// Conservation: every task has exactly one outcome.
    pub fn conserved(&self) -> bool {
        self.completed + self.missed_deadline + self.uncovered + self.dropped() == self.total
    }
}

/// Per-RSU totals over the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RsuTotals {
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
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// HDR histogram of durations with 1 µs resolution and 3 significant digits, up to 1000 s.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram(Histogram::new_with_bounds(1, 1_000_000_000, 3).expect("valid histogram bounds"))
    }
}

impl LatencyHistogram {
    /// Records a duration in seconds (non-finite values are not durations and are skipped).
    pub fn record_s(&mut self, s: f64) {
        if s.is_finite() && s >= 0.0 {
            self.0.saturating_record((s * 1e6).round().max(1.0) as u64);
        }
    }

    pub fn percentiles(&self) -> Percentiles {
        let h = &self.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        let s = |us: u64| us as f64 / 1e6;
        Percentiles {
            count: h.len(),
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
    pub scenario: String,
    pub policy: String,
    pub seed: u64,
    pub slots: u32,
    /// Σ over slots of vehicles present.
    pub vehicle_slots: u64,
    /// Most vehicles present in one slot.
    pub peak_vehicles: u32,
    pub tasks_total: u64,
    pub tasks_uploaded: u64,
    pub tasks_completed: u64,
    pub tasks_missed_deadline: u64,
    pub tasks_uncovered: u64,
    pub tasks_dropped: u64,
    pub dropped_by_cause: DroppedByCause,
    /// completed / uploaded tasks over the window (task-weighted).
    pub completion_rate: f64,
    /// `Σ_t F^t`.
    pub cumulative_reward: f64,
    /// `Σ_e Σ_t r_e^t / E`.
    pub average_realized_potential: f64,
    /// Mean over slots of the mean per-RSU completion rate (RSUs without uploads left out).
    pub mean_rsu_completion_rate: f64,
    pub migrations: u64,
    pub service_time_s: Percentiles,
    pub per_rsu: Vec<RsuTotals>,
}

/// Dropped tasks by cause.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DroppedByCause {
    pub vehicle_dropout: u64,
    pub rsu_down: u64,
    pub message_lost: u64,
}

/// Accumulates slot reports into a [`Summary`] and the `slots.csv` text.
#[derive(Clone, Debug)]
pub struct RunStats {
    scenario: String,
    policy: String,
    seed: u64,
    slots: u32,
    counts: OutcomeCounts,
    per_rsu: Vec<RsuTotals>,
    cumulative_reward: f64,
    reward_total: f64,
    rate_mean_sum: f64,
    rate_mean_slots: u32,
    vehicle_slots: u64,
    peak_vehicles: u32,
    service: LatencyHistogram,
    csv: String,
}

/// Header of `slots.csv`.
pub const SLOTS_CSV_HEADER: &str = "slot,vehicles,tasks,uploaded,completed,missed_deadline,uncovered,dropped_vehicle_dropout,dropped_rsu_down,dropped_message_lost,migrations,completion_rate,potential,reward_sum\n";

impl RunStats {
    pub fn new(scenario: &str, policy: &str, seed: u64, rsus: usize) -> RunStats {
        RunStats {
            scenario: scenario.to_string(),
            policy: policy.to_string(),
            seed,
            slots: 0,
            counts: OutcomeCounts::default(),
            per_rsu: (0..rsus).map(|e| RsuTotals { rsu: RsuId(e as u32), ..Default::default() }).collect(),
            cumulative_reward: 0.0,
            reward_total: 0.0,
            rate_mean_sum: 0.0,
            rate_mean_slots: 0,
            vehicle_slots: 0,
            peak_vehicles: 0,
            service: LatencyHistogram::default(),
            csv: SLOTS_CSV_HEADER.to_string(),
        }
    }

    /// Folds one slot in (slots must come in order).
    pub fn add(&mut self, r: &SlotReport) {
        let mut c = OutcomeCounts::default();
        for t in &r.results {
            c.add(t);
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
        let rate = if c.uploaded > 0 { (c.completed as f64 / c.uploaded as f64).to_string() } else { String::new() };
        let _ = writeln!(
            self.csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.slot,
            r.vehicles,
            c.total,
            c.uploaded,
            c.completed,
            c.missed_deadline,
            c.uncovered,
            c.dropped_vehicle_dropout,
            c.dropped_rsu_down,
            c.dropped_message_lost,
            c.migrations,
            rate,
            r.score.potential,
            reward_sum
        );
        let t = &mut self.counts;
        t.total += c.total;
        t.uploaded += c.uploaded;
        t.completed += c.completed;
        t.missed_deadline += c.missed_deadline;
        t.uncovered += c.uncovered;
        t.dropped_vehicle_dropout += c.dropped_vehicle_dropout;
        t.dropped_rsu_down += c.dropped_rsu_down;
        t.dropped_message_lost += c.dropped_message_lost;
        t.migrations += c.migrations;
    }

    pub fn counts(&self) -> OutcomeCounts {
        self.counts
    }

    /// The `slots.csv` text so far.
    pub fn slots_csv(&self) -> &str {
        &self.csv
    }

    pub fn service_histogram(&self) -> &LatencyHistogram {
        &self.service
    }

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
            },
            completion_rate: if c.uploaded > 0 { c.completed as f64 / c.uploaded as f64 } else { 0.0 },
            cumulative_reward: self.cumulative_reward,
            average_realized_potential: self.reward_total / e,
            mean_rsu_completion_rate: if self.rate_mean_slots > 0 { self.rate_mean_sum / self.rate_mean_slots as f64 } else { 0.0 },
            migrations: c.migrations,
            service_time_s: self.service.percentiles(),
            per_rsu: self
                .per_rsu
                .iter()
                .map(|t| RsuTotals { completion_rate: (t.uploaded > 0).then(|| t.completed as f64 / t.uploaded as f64), ..t.clone() })
                .collect(),
        }
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
}
