//! Resource allocation at an executing RSU (problem P3, eq. 12): how its CPU frequency `c_e'` is
//! split among the tasks `A_e'` it executes in a slot.
//!
//! The default is the true KKT solution of P3 ([`crate::kkt`]); the paper's printed eq. (15) is
//! not a solution of its own problem (see docs/model.md), so it is not offered.

use crate::kkt;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The allocators a scenario can choose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocatorKind {
    /// `c_k' = c_e · sqrt(d_k c_k) / Σ sqrt(d_j c_j)`: minimises total execution time.
    #[default]
    Kkt,
    /// `c_k' = c_e / |A|`.
    Equal,
    /// `c_k' ∝ d_k c_k`: every task finishes at the same instant.
    Proportional,
    /// Extension: give each task exactly what it needs to meet its deadline, smallest need first,
    /// then share what is left by KKT. Maximises the number of deadlines met at one RSU.
    Deadline,
}

impl FromStr for AllocatorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kkt" => Ok(Self::Kkt),
            "equal" => Ok(Self::Equal),
            "proportional" => Ok(Self::Proportional),
            "deadline" => Ok(Self::Deadline),
            other => Err(format!("unknown allocator `{other}` (expected kkt, equal, proportional or deadline)")),
        }
    }
}

impl AllocatorKind {
    /// The allocator's name as written in scenario files and reports (`kkt`, `equal`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Kkt => "kkt",
            Self::Equal => "equal",
            Self::Proportional => "proportional",
            Self::Deadline => "deadline",
        }
    }
}

/// What an allocator needs to know about one task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Demand {
    /// Total work `d_k · c_k`, CPU cycles.
    pub work_cycles: f64,
    /// Time left for execution once the task has arrived: `t_k − u − w`, seconds (may be ≤ 0).
    pub slack_s: f64,
}

/// Splits `capacity_hz` among `demands`; returns the CPU frequency (cycles/s) of each task in
/// the same order. The shares never sum to more than `capacity_hz`.
pub fn allocate(kind: AllocatorKind, capacity_hz: f64, demands: &[Demand]) -> Vec<f64> {
    if demands.is_empty() {
        return Vec::new();
    }
    let capacity_hz = capacity_hz.max(0.0);
    match kind {
        AllocatorKind::Kkt => kkt::kkt(capacity_hz, demands),
        AllocatorKind::Equal => vec![capacity_hz / demands.len() as f64; demands.len()],
        AllocatorKind::Proportional => {
            let total: f64 = demands.iter().map(|d| d.work_cycles).sum();
            demands.iter().map(|d| kkt::share(capacity_hz, d.work_cycles, total)).collect()
        }
        AllocatorKind::Deadline => kkt::deadline_first(capacity_hz, demands),
    }
}

/// Execution time `x = d_k c_k / c_k'` (eq. 3), seconds; infinite with no CPU.
pub fn exec_time_s(work_cycles: f64, cpu_hz: f64) -> f64 {
    if cpu_hz > 0.0 {
        work_cycles / cpu_hz
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(w: f64) -> Demand {
        Demand { work_cycles: w, slack_s: 1.0 }
    }

    #[test]
    fn equal_and_proportional_by_hand() {
        let ds = [d(1e8), d(3e8)];
        assert_eq!(allocate(AllocatorKind::Equal, 4e9, &ds), vec![2e9, 2e9]);
        assert_eq!(allocate(AllocatorKind::Proportional, 4e9, &ds), vec![1e9, 3e9]);
        // Proportional: both finish at the same time, 0.1 s.
        let p = allocate(AllocatorKind::Proportional, 4e9, &ds);
        assert!((exec_time_s(1e8, p[0]) - 0.1).abs() < 1e-12);
        assert!((exec_time_s(3e8, p[1]) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn empty_and_zero_capacity() {
        assert!(allocate(AllocatorKind::Kkt, 1e9, &[]).is_empty());
        let a = allocate(AllocatorKind::Kkt, 0.0, &[d(1.0)]);
        assert_eq!(exec_time_s(1.0, a[0]), f64::INFINITY);
    }
}
