//! How a task ends. Conservation (SPEC §2): every generated task ends in exactly one outcome.

use crate::ids::{RsuId, TaskId};
use serde::{Deserialize, Serialize};

/// Why a fault removed a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropCause {
    /// The vehicle was disconnected for the slot.
    VehicleDropout,
    /// The executing RSU was down.
    RsuDown,
    /// The upload or the wired migration message was lost.
    MessageLost,
    /// The process hosting the RSU that held the task was lost (`vecsim-cluster`: a node
    /// killed mid-run).
    NodeLost,
}

impl DropCause {
    /// Every cause, in report order.
    pub const ALL: [DropCause; 4] =
        [DropCause::VehicleDropout, DropCause::RsuDown, DropCause::MessageLost, DropCause::NodeLost];

    /// The cause's label in reports (`vehicle_dropout`, `rsu_down`, `message_lost`).
    pub fn name(self) -> &'static str {
        match self {
            DropCause::VehicleDropout => "vehicle_dropout",
            DropCause::RsuDown => "rsu_down",
            DropCause::MessageLost => "message_lost",
            DropCause::NodeLost => "node_lost",
        }
    }
}

/// The one outcome of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Service time `ψ_k ≤ t_k`.
    Completed,
    /// Executed, but `ψ_k > t_k`.
    MissedDeadline,
    /// The vehicle was in no RSU's range.
    Uncovered,
    /// Removed by an injected fault.
    Dropped(DropCause),
}

impl Outcome {
    /// Every outcome, in the order of [`Outcome::index`].
    pub const ALL: [Outcome; 7] = [
        Outcome::Completed,
        Outcome::MissedDeadline,
        Outcome::Uncovered,
        Outcome::Dropped(DropCause::VehicleDropout),
        Outcome::Dropped(DropCause::RsuDown),
        Outcome::Dropped(DropCause::MessageLost),
        Outcome::Dropped(DropCause::NodeLost),
    ];

    /// Position in [`Outcome::ALL`], for per-outcome counters.
    pub const fn index(self) -> usize {
        match self {
            Outcome::Completed => 0,
            Outcome::MissedDeadline => 1,
            Outcome::Uncovered => 2,
            Outcome::Dropped(DropCause::VehicleDropout) => 3,
            Outcome::Dropped(DropCause::RsuDown) => 4,
            Outcome::Dropped(DropCause::MessageLost) => 5,
            Outcome::Dropped(DropCause::NodeLost) => 6,
        }
    }

    /// The label used in reports and metrics (`dropped_<cause>` for drops).
    pub const fn label(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::MissedDeadline => "missed_deadline",
            Outcome::Uncovered => "uncovered",
            Outcome::Dropped(DropCause::VehicleDropout) => "dropped_vehicle_dropout",
            Outcome::Dropped(DropCause::RsuDown) => "dropped_rsu_down",
            Outcome::Dropped(DropCause::MessageLost) => "dropped_message_lost",
            Outcome::Dropped(DropCause::NodeLost) => "dropped_node_lost",
        }
    }
}

/// Everything known about one task at the end of its slot.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The task (slot it was generated in, vehicle that generated it).
    pub id: TaskId,
    /// The RSU the task was uploaded to (`None` if it never arrived at one).
    pub uploader: Option<RsuId>,
    /// The RSU that executed (or was to execute) it.
    pub executor: Option<RsuId>,
    /// Upload time `u`, seconds (including injected latency).
    pub upload_s: f64,
    /// Wired migration time `w`, seconds (including injected latency; 0 when local).
    pub wired_s: f64,
    /// Injected V2I latency included in `upload_s`, seconds (0 without faults).
    #[serde(default)]
    pub upload_extra_s: f64,
    /// Injected wired latency included in `wired_s`, seconds (0 without faults).
    #[serde(default)]
    pub wired_extra_s: f64,
    /// CPU frequency allocated, cycles/s.
    pub cpu_hz: f64,
    /// Execution time `x`, seconds.
    pub exec_s: f64,
    /// Service time `ψ_k = u + w + x`, seconds.
    pub service_s: f64,
    /// How the task ended.
    pub outcome: Outcome,
}

impl TaskResult {
    /// A task that ended before reaching an executing RSU.
    pub fn early(id: TaskId, uploader: Option<RsuId>, upload_s: f64, outcome: Outcome) -> TaskResult {
        TaskResult {
            id,
            uploader,
            executor: None,
            upload_s,
            wired_s: 0.0,
            upload_extra_s: 0.0,
            wired_extra_s: 0.0,
            cpu_hz: 0.0,
            exec_s: 0.0,
            service_s: f64::NAN,
            outcome,
        }
    }

    /// Whether the task met its deadline (`ψ_k ≤ t_k`).
    pub fn completed(&self) -> bool {
        self.outcome == Outcome::Completed
    }

    /// Whether the task ran on an executor (completed or missed): these have a service time.
    pub fn executed(&self) -> bool {
        matches!(self.outcome, Outcome::Completed | Outcome::MissedDeadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_label_follow_all() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(o.index(), i);
        }
        assert_eq!(Outcome::Dropped(DropCause::RsuDown).label(), format!("dropped_{}", DropCause::RsuDown.name()));
    }
}
